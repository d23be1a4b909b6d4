"""mmlavit.analysis.distill / distill_sweep (the studies behind distill_study.py and distill_sweep.py):
options change existing config keys only, every sweep point derives its config, and ``collect`` writes the
tables from finished runs (nothing trained) with per-seed numbers and paired t-intervals."""
import math

import pytest
from mmengine.config import Config

from mmlavit.analysis import distill, distill_sweep
from mmlavit.analysis.study import Study

T2 = 4.302653  # t(0.975, 2 degrees of freedom)


def test_apply_options_existing_keys_only():
    cfg = Config(dict(model=dict(losses=dict(loss_kd=dict(temperature=4.0)))))
    distill.apply_options(cfg, {'model.losses.loss_kd.temperature': 2.0}, 'kd.py')
    assert cfg.model.losses.loss_kd.temperature == 2.0
    with pytest.raises(KeyError, match=r"kd\.py: option model\.losses\.loss_clkd\.beta: "
                                       r"'model\.losses\.loss_clkd' is not in the config"):
        distill.apply_options(cfg, {'model.losses.loss_clkd.beta': 0.0}, 'kd.py')
    assert distill.options_slug({'model.losses.loss_clkd.nu': 0.0, 'model.losses.loss_clkd.beta': 0.0}) == \
        'loss_clkd.beta=0.0,loss_clkd.nu=0.0'
    assert distill.options_slug({}) == ''


def test_every_sweep_point_derives_its_config(tmp_path):
    src = distill.REAL['font-glyphs100']
    root = str(tmp_path)
    teachers, runs = distill_sweep.plan(list(distill_sweep.SWEEPS))
    assert len(runs) == len(set((m, t, tuple(sorted(o.items()))) for m, t, o in runs))  # each run once
    assert all(set(o) <= set(distill_sweep.SHARED) for m, t, o in runs if m == 'KD')
    # derive one run per (method, option keys) — every key of every sweep — and TRG with every teacher (its
    # projector's dims)
    picked = {}
    for m, t, o in runs:
        picked.setdefault((m, tuple(sorted(o)), t if m == 'TRG (+KD)' else None), (m, t, o))
    for m, t, o in picked.values():
        spec = distill.teacher_spec(root, *t)
        run = distill.real_run(distill.METHODS[m], src, root, 'resnet8x0.25', 30, spec, 0, o)
        assert run.needs == (spec['dir'],) and run.test.checkpoint == 'epoch_30.pth'
        cfg = Config.fromfile(run.config)
        for key, value in o.items():
            node = cfg
            for part in key.split('.'):
                node = node[part]
            assert node == value, (m, key)
        assert cfg.model.teacher.checkpoint == spec['checkpoint']
        assert cfg.test_dataloader.dataset.data_prefix == 'test' and cfg.model.student.head.num_classes == 100
        trg = cfg.model.losses.get('loss_trg')
        if trg is not None:  # the projector follows the teacher's width (resnet32x4: 256)
            assert trg.teacher_dim == {'resnet32x4': 256, 'resnet8x0.5': 32}.get(t[0], 64)
    # a batch-size point is paired with KD at the same batch size; a CLKD-only option with plain KD
    point = {'train_dataloader.batch_size': 32, 'model.losses.loss_clkd.beta': 0.0}
    assert distill_sweep.kd_reference(point) == {'train_dataloader.batch_size': 32}


def test_methods_study_collect_reads_back_without_training(tmp_path, monkeypatch, fake_run):
    monkeypatch.setattr('mmlavit.analysis.study.Study._execute',
                        lambda *a, **k: pytest.fail('collect must not train'))
    out = tmp_path / 'study'
    root = out / 'font-glyphs100'
    fake_run(str(root / 'teacher_resnet32_e30'), val=80.0, test=78.5)
    alone = {0: 60.0, 1: 61.0, 2: 62.0}
    kd = {0: 63.0, 1: 65.0, 2: 67.0}  # KD - alone: 3, 4, 5
    trg = {0: 64.0, 1: 66.0}  # seed 2 did not finish; TRG - KD: 1, 1
    for s, v in alone.items():
        fake_run(str(root / 'resnet8x0.25_e30' / f'none_s{s}'), val=v + 1, test=v)
    for s, v in kd.items():
        fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / f'kd_s{s}'), val=v + 1, test=v)
    for s, v in trg.items():
        fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / f'trg_s{s}'), val=v + 1, test=v)
    # a run that trained but was never tested does not count as finished
    fake_run(str(root / 'teacher_resnet32_e30-resnet8x0.25_e30' / 'trg_s2'), val=70.0)
    monkeypatch.chdir(tmp_path)  # no data/ here: collect does not need the data
    lines = distill.study_methods(Study(collect=True), 'font-glyphs100', [0, 1, 2],
                                  ['student alone', 'KD', 'TRG (+KD)'], str(out))
    table = '\n'.join(lines)
    assert 'test top-1 78.50 %, val 80.00 %' in table
    assert '| student alone | 61.00 ± 1.00 (n = 3) | 60.0, 61.0, 62.0 | 62.00 | 10 |' in table
    assert '| KD | 65.00 ± 2.00 (n = 3) | 63.0, 65.0, 67.0 |' in table
    assert '| TRG (+KD) | 65.00 ± 1.41 (n = 2) | 64.0, 66.0, – |' in table
    half = T2 / math.sqrt(3)  # KD - alone: mean 4, sd 1
    assert f'| KD − student alone | +4.00 | [{4 - half:+.2f}, {4 + half:+.2f}] | 3 / 3 |' in table
    assert '| TRG (+KD) − KD | +1.00 | [+1.00, +1.00] | 2 / 2 |' in table  # identical differences: sd 0
    assert 'Not finished (1, under ' in table
    assert 'font-glyphs100/teacher_resnet32_e30-resnet8x0.25_e30/trg_s2' in table


def test_sweep_collect_pairs_with_kd_of_the_same_settings(tmp_path, monkeypatch, fake_run):
    monkeypatch.setattr('mmlavit.analysis.study.Study._execute',
                        lambda *a, **k: pytest.fail('collect must not train'))
    root = str(tmp_path / 'study' / 'font-glyphs100')
    spec = distill.teacher_spec(root, 'resnet32', 30)
    fake_run(spec['dir'], val=92.5, test=92.0)
    kd, clkd = distill.METHODS['KD'], distill.METHODS['CLKD']
    b32 = {'train_dataloader.batch_size': 32}
    for s, (k, k32, c32) in enumerate([(80.0, 70.0, 72.0), (81.0, 71.0, 74.0), (82.0, 72.0, 73.0)]):
        fake_run(distill.real_run_dir(kd, root, 'resnet8x0.25', 30, spec, s), val=k, test=k - 1)
        fake_run(distill.real_run_dir(kd, root, 'resnet8x0.25', 30, spec, s, b32), val=k32, test=k32 - 1)
        fake_run(distill.real_run_dir(clkd, root, 'resnet8x0.25', 30, spec, s, b32), val=c32, test=c32 - 1)
    monkeypatch.chdir(tmp_path)
    lines = distill_sweep.sweep(Study(collect=True), distill.REAL['font-glyphs100'], root, 'resnet8x0.25', 30,
                                [0, 1, 2], ['batch'])
    text = '\n'.join(lines)
    # CLKD at batch 32 minus KD at batch 32: 2, 3, 1 -> mean 2, sd 1
    half = T2 / math.sqrt(3)
    ci = f'+2.00 [{2 - half:+.2f}, {2 + half:+.2f}], 3/3'
    row = f'| CLKD | batch_size 32 | 73.00 ± 1.00 (n = 3) | {ci} | 72.00 | {ci} |'
    assert '| resnet32 30e (92.50 / 92.00) ' + row in text
    assert '| KD | batch_size 32 | 71.00 ± 1.00 (n = 3) | — | 70.00 | — |' in text
    assert '| CLKD | as shipped | not run |' in text  # CLKD at the shipped batch size did not run
    assert '9 run(s) not finished' in text  # CLKD at 64, KD and CLKD at 256: 3 seeds each
    with pytest.raises(ValueError, match='not a teacher of --sweeps batch'):
        distill_sweep.sweep(Study(collect=True), {}, root, 'resnet8x0.25', 30, [0], ['batch'],
                            [('resnet32x4', 30)])
