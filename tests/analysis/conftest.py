"""Fixtures of the analysis tests: finished runs written as mmengine and the study runner leave them."""
import json
import os
import os.path as osp

import pytest


def write_run(path, val, test=None, seconds=10.0, loss=1.0):
    """A finished training run in ``path``: ``run.json``, one ``vis_data/scalars.json`` (a training record,
    then val top-1 ``val``), and with ``test`` the test dump ``test/<time>/<time>.json``."""
    os.makedirs(osp.join(path, '20260101_000000', 'vis_data'))
    with open(osp.join(path, '20260101_000000', 'vis_data', 'scalars.json'), 'w') as f:
        f.write(json.dumps(dict(loss=loss, step=1)) + '\n')
        f.write(json.dumps({'accuracy/top1': val, 'step': 30}) + '\n')
    with open(osp.join(path, 'run.json'), 'w') as f:
        json.dump(dict(args=[], config_digest=None, seconds=seconds), f)
    if test is not None:
        os.makedirs(osp.join(path, 'test', '20260101_000100'))
        with open(osp.join(path, 'test', '20260101_000100', '20260101_000100.json'), 'w') as f:
            json.dump({'accuracy/top1': test, 'data_time': 0.01}, f)


@pytest.fixture(scope='session')
def fake_run():
    return write_run
