"""Shared fixtures. ``tests/`` is not a package (mmsegmentation's wheel installs a top-level ``tests``);
pytest runs with ``--import-mode=importlib`` (setup.cfg)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The analysis tools import their helpers (experiments, model_analysis) as siblings, as they do when run
# as scripts.
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


def run_tool(args, cwd=ROOT, timeout=900, env=None):
    """Run a repository script with this interpreter; returns the CompletedProcess (text)."""
    e = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    e.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=e)


@pytest.fixture(scope='session')
def tool():
    return run_tool


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_coco
    root = str(tmp_path_factory.mktemp('coco'))
    make_coco(root, num_train=8, num_val=4, seed=1)
    return root


@pytest.fixture(scope='session')
def ade_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_ade20k
    root = str(tmp_path_factory.mktemp('ade'))
    make_ade20k(root, num_train=8, num_val=4, seed=1)
    return root


@pytest.fixture(scope='session')
def cls_root(tmp_path_factory):
    from mmlavit.datasets.synthetic import make_imagenet
    root = str(tmp_path_factory.mktemp('cls'))
    make_imagenet(root, num_classes=4, train_per_class=8, val_per_class=4, seed=1)
    return root
