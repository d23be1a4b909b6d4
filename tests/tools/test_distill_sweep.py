"""distill_sweep.py: options change existing config keys only, every sweep point derives a config with its
options set, each point is paired with the KD run of the same shared settings, and ``--collect`` writes the
table from finished runs without training."""
import importlib
import math

import pytest
from mmengine.config import Config

from .test_distill_study_collect import _fake_run


def _mods():  # tests/conftest.py puts tools/analysis_tools on sys.path
    return importlib.import_module('distill_study'), importlib.import_module('distill_sweep')


def test_apply_options_existing_keys_only():
    study, _ = _mods()
    cfg = Config(dict(model=dict(losses=dict(loss_kd=dict(temperature=4.0)))))
    study.apply_options(cfg, {'model.losses.loss_kd.temperature': 2.0}, 'kd.py')
    assert cfg.model.losses.loss_kd.temperature == 2.0
    with pytest.raises(KeyError, match=r"kd\.py: option model\.losses\.loss_clkd\.beta: "
                                       r"'model\.losses\.loss_clkd' is not in the config"):
        study.apply_options(cfg, {'model.losses.loss_clkd.beta': 0.0}, 'kd.py')
    assert study.options_slug({'model.losses.loss_clkd.nu': 0.0, 'model.losses.loss_clkd.beta': 0.0}) == \
        'loss_clkd.beta=0.0,loss_clkd.nu=0.0'
    assert study.options_slug({}) == ''


def test_every_point_derives_its_config(tmp_path):
    study, sweep = _mods()
    src = study.REAL['font-glyphs100']
    root = str(tmp_path)
    teachers, runs = sweep.plan(list(sweep.SWEEPS))
    assert len(runs) == len(set((m, t, tuple(sorted(o.items()))) for m, t, o in runs))  # each run once
    assert all(set(o) <= set(sweep.SHARED) for m, t, o in runs if m == 'KD')
    # derive one run per (method, option keys) — every key of every sweep — and TRG with every teacher (its
    # projector's dims)
    picked = {}
    for m, t, o in runs:
        picked.setdefault((m, tuple(sorted(o)), t if m == 'TRG (+KD)' else None), (m, t, o))
    for m, t, o in picked.values():
        spec = study.teacher_spec(root, *t)
        path = study.real_config(study.METHODS[m], src, root, 'resnet8x0.25', 30, spec, o)
        cfg = Config.fromfile(path)
        for key, value in o.items():
            node = cfg
            for part in key.split('.'):
                node = node[part]
            assert node == value, (m, key)
        assert cfg.model.teacher.checkpoint == spec['checkpoint']
        trg = cfg.model.losses.get('loss_trg')
        if trg is not None:  # the projector follows the teacher's width (resnet32x4: 256)
            assert trg.teacher_dim == {'resnet32x4': 256, 'resnet8x0.5': 32}.get(t[0], 64)
    # a batch-size point is paired with KD at the same batch size; a CLKD-only option with plain KD
    assert sweep.kd_reference({'train_dataloader.batch_size': 32, 'model.losses.loss_clkd.beta': 0.0}) == \
        {'train_dataloader.batch_size': 32}


def test_collect_pairs_with_kd_of_the_same_settings(tmp_path, monkeypatch):
    study, sweep = _mods()
    monkeypatch.setattr(sweep, 'train', lambda *a, **k: pytest.fail('--collect must not train'))
    monkeypatch.setattr(sweep, 'test_top1', lambda *a, **k: pytest.fail('--collect must not test'))
    out = tmp_path / 'study'
    root = str(out / 'font-glyphs100')
    spec = study.teacher_spec(root, 'resnet32', 30)
    _fake_run(spec['dir'], val=92.5, test=92.0)
    kd = study.METHODS['KD']
    clkd = study.METHODS['CLKD']
    b32 = {'train_dataloader.batch_size': 32}
    for s, (k, k32, c32) in enumerate([(80.0, 70.0, 72.0), (81.0, 71.0, 74.0), (82.0, 72.0, 73.0)]):
        _fake_run(study.real_run_dir(kd, root, 'resnet8x0.25', 30, spec, s), val=k, test=k - 1)
        _fake_run(study.real_run_dir(kd, root, 'resnet8x0.25', 30, spec, s, b32), val=k32, test=k32 - 1)
        _fake_run(study.real_run_dir(clkd, root, 'resnet8x0.25', 30, spec, s, b32), val=c32, test=c32 - 1)
    monkeypatch.chdir(tmp_path)
    args = ['--seeds', '0', '1', '2', '--sweeps', 'batch', '--out-dir', str(out), '--collect']
    assert sweep.main(args) == 0
    text = open(out / 'font-glyphs100_sweep.md').read()
    # CLKD at batch 32 minus KD at batch 32: 2, 3, 1 -> mean 2, sd 1
    half = 4.302653 / math.sqrt(3)
    ci = f'+2.00 [{2 - half:+.2f}, {2 + half:+.2f}], 3/3'
    row = f'| CLKD | batch_size 32 | 73.00 ± 1.00 (n = 3) | {ci} | 72.00 | {ci} |'
    assert '| resnet32 30e (92.50 / 92.00) ' + row in text
    assert '| KD | batch_size 32 | 71.00 ± 1.00 (n = 3) | — | 70.00 | — |' in text
    assert '| CLKD | as shipped | not run |' in text  # CLKD at the shipped batch size did not run
    assert '9 run(s) not finished' in text  # CLKD at 64, KD and CLKD at 256: 3 seeds each
