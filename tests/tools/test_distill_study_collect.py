"""distill_study.py --collect: the table, per-seed numbers and paired t-intervals from fabricated finished
runs (nothing is trained)."""
import importlib
import json
import math
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load():  # tests/conftest.py puts tools/analysis_tools on sys.path (the study imports its siblings)
    return importlib.import_module('distill_study')


def _fake_run(path, val, test, seconds=10.0):
    os.makedirs(osp.join(path, '20260101_000000', 'vis_data'))
    with open(osp.join(path, '20260101_000000', 'vis_data', 'scalars.json'), 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=1)) + '\n')
        f.write(json.dumps({'accuracy/top1': val, 'step': 30}) + '\n')
    with open(osp.join(path, 'run.json'), 'w') as f:
        json.dump(dict(args=[], config_digest=None, seconds=seconds), f)
    if test is not None:
        with open(osp.join(path, 'test_metrics.json'), 'w') as f:
            json.dump({'accuracy/top1': test}, f)


def test_t_interval():
    mod = _load()
    d = mod.t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2) = 4.3027
    half = 4.302653 / math.sqrt(3)
    assert d['mean'] == 2.0 and d['n'] == 3 and d['above'] == 3
    assert d['lo'] == pytest.approx(2 - half, abs=1e-4) and d['hi'] == pytest.approx(2 + half, abs=1e-4)
    one = mod.t_interval([0.5])
    assert one['mean'] == 0.5 and math.isnan(one['lo'])


def test_collect_reads_back_without_training(tmp_path, monkeypatch, capsys):
    mod = _load()
    monkeypatch.setattr(mod, 'train', lambda *a, **k: pytest.fail('--collect must not train'))
    out = tmp_path / 'study'
    root = out / 'font-glyphs100'
    _fake_run(str(root / 'teacher_resnet32_e30'), val=80.0, test=78.5)
    alone = {0: 60.0, 1: 61.0, 2: 62.0}
    kd = {0: 63.0, 1: 65.0, 2: 67.0}  # KD - alone: 3, 4, 5
    trg = {0: 64.0, 1: 66.0}  # seed 2 did not finish; TRG - KD: 1, 1
    for s, v in alone.items():
        _fake_run(str(root / 'resnet8x0.25_e30' / f'none_s{s}'), val=v + 1, test=v)
    for s, v in kd.items():
        _fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / f'kd_s{s}'), val=v + 1, test=v)
    for s, v in trg.items():
        _fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / f'trg_s{s}'), val=v + 1, test=v)
    # a run that trained but was never tested does not count as finished
    _fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / 'trg_s2'), val=70.0, test=None)
    monkeypatch.chdir(tmp_path)  # no data/ here: --collect does not need the data
    assert mod.main(['--data', 'font-glyphs100', '--seeds', '0', '1', '2', '--out-dir', str(out), '--collect',
                     '--methods', 'student alone', 'KD', 'TRG (+KD)']) == 0
    table = open(out / 'font-glyphs100_none-kd-trg.md').read()
    assert 'test top-1 78.50 %, val 80.00 %' in table
    assert '| student alone | 61.00 ± 1.00 (n = 3) | 60.0, 61.0, 62.0 | 62.00 | 10 |' in table
    assert '| KD | 65.00 ± 2.00 (n = 3) | 63.0, 65.0, 67.0 |' in table
    assert '| TRG (+KD) | 65.00 ± 1.41 (n = 2) | 64.0, 66.0, – |' in table
    half = 4.302653 / math.sqrt(3)  # KD - alone: mean 4, sd 1
    assert f'| KD − student alone | +4.00 | [{4 - half:+.2f}, {4 + half:+.2f}] | 3 / 3 |' in table
    assert '| TRG (+KD) − KD | +1.00 | [+1.00, +1.00] | 2 / 2 |' in table  # identical differences: sd 0
    assert 'Not finished (1, under ' in table
    assert 'font-glyphs100/teacher_resnet32_e30-resnet8x0.25_e30/trg_s2' in table
