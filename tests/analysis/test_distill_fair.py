"""The fair protocol (distill_study.py --protocol fair): every method tries the same number of settings, the
parity arm's configs get the grid's values on the right keys (a missing key is an error naming the config),
the choice is made on val, and collect pairs each tuned method's test with the tuned KD's."""
import math

import pytest
from mmengine.config import Config

from mmlavit.analysis import distill, distill_fair
from mmlavit.analysis.study import Study

CE = 'model.student_loss_weight'
L = 'model.losses.'


def _get(cfg, key):
    for part in key.split('.'):
        cfg = cfg[part]
    return cfg


def test_every_method_tries_the_same_settings_count():
    assert distill_fair.check_budget() == 8
    assert set(distill_fair.PARITY) == {'KD', 'DKD', 'CLKD', 'TRG (+KD)'}
    for m in distill_fair.PARITY:
        points = distill_fair.parity_points(m)
        assert len({tuple(sorted(p.items())) for p in points}) == 8  # distinct settings
        assert sorted({p[CE] for p in points}) == [0.1, 1.0]  # the same CE weights for every method
    axis = distill_fair.axis
    with pytest.raises(ValueError, match='same number of settings'):
        distill_fair.check_budget({'KD': [axis(CE, 0.1, 1.0)], 'DKD': [axis(CE, 0.1)]})
    with pytest.raises(ValueError, match='same values for every method'):
        distill_fair.check_budget({'KD': [axis(CE, 0.1, 1.0)], 'DKD': [axis(CE, 0.5, 1.0)]})


def test_parity_configs_get_the_grid_values(tmp_path):
    """Which keys each method's parity points set, and that the derived configs carry them (the first and
    the last point of each grid: every key at both of its values)."""
    keys = {'KD': {CE, L + 'loss_kd.loss_weight', L + 'loss_kd.temperature'},
            'DKD': {CE, L + 'loss_dkd.alpha', L + 'loss_dkd.beta', L + 'loss_dkd.temperature'},
            'CLKD': {CE, L + 'loss_clkd.loss_weight', L + 'loss_clkd.logit_scale'},
            'TRG (+KD)': {CE, L + 'loss_trg.alpha', L + 'loss_trg.beta', L + 'loss_trg.gamma',
                          L + 'loss_kd.temperature'}}
    src = distill.REAL['font-glyphs100']
    root = str(tmp_path)
    teacher = distill.teacher_spec(root, 'resnet32', 30)
    # each axis' first key: the CE weight, the loss weight (DKD: α, with β at 8 α), the third knob
    first = {'KD': (0.1, 0.9, 4.0), 'DKD': (0.1, 1.0, 4.0), 'CLKD': (0.1, 4.0, 1.0),
             'TRG (+KD)': (0.1, 4.0, 4.0)}
    last = {'KD': (1.0, 3.6, 2.0), 'DKD': (1.0, 4.0, 2.0), 'CLKD': (1.0, 1.0, 'student_norm'),
            'TRG (+KD)': (1.0, 1.0, 2.0)}
    dirs = set()
    for m, want in keys.items():
        points = distill_fair.parity_points(m)
        assert all(set(p) == want for p in points), m
        for p, values in ((points[0], first[m]), (points[-1], last[m])):
            run = distill.real_run(distill.METHODS[m], src, root, 'resnet8x0.25', 30, teacher, 0, p)
            cfg = Config.fromfile(run.config)
            for k, v in p.items():
                assert _get(cfg, k) == v, (m, k)
            axes = distill_fair.PARITY[m]
            assert tuple(_get(cfg, next(iter(ax[0]))) for ax in axes) == values, m
            if m == 'TRG (+KD)':  # α = β = γ move together
                assert cfg.model.losses.loss_trg.alpha == cfg.model.losses.loss_trg.beta == \
                    cfg.model.losses.loss_trg.gamma
            if m == 'DKD':  # so do DKD's α and β (its configs carry no loss_weight)
                assert cfg.model.losses.loss_dkd.beta == 8 * cfg.model.losses.loss_dkd.alpha
            dirs.add(run.work_dir)
    assert len(dirs) == 8  # every setting its own run folder
    # a key the method's config lacks is an error naming the config it was derived from
    with pytest.raises(KeyError, match=r'configs/distill/kd/kd_resnet32-resnet8x0\.5_digits\.py .*'
                                       r'model\.losses\.loss_clkd'):
        distill.real_config(distill.METHODS['KD'], src, root, 'resnet8x0.25', 30, teacher,
                            distill_fair.parity_points('CLKD')[0])


def test_choose_on_val():
    val = {0: {0: 80.0, 1: 82.0}, 1: {0: 81.0, 1: 81.0}, 2: {0: 83.0, 1: 79.0}}  # means 81, 81, 81
    assert distill_fair.choose(val, 3, [0, 1]) == 0  # a tie: the first in grid order
    val[1][1] = 81.5
    assert distill_fair.choose(val, 3, [0, 1]) == 1
    del val[2][1]
    assert distill_fair.choose(val, 3, [0, 1]) is None  # not every setting finished


def test_collect_compares_tuned_methods_with_tuned_kd(tmp_path, monkeypatch, fake_run):
    monkeypatch.setattr('mmlavit.analysis.study.Study._execute',
                        lambda *a, **k: pytest.fail('collect must not train'))
    grid = {'KD': [distill_fair.axis(CE, 0.1, 1.0)], 'CLKD': [distill_fair.axis(CE, 0.1, 1.0)]}
    src = distill.REAL['font-glyphs100']
    root = str(tmp_path / 'font-glyphs100')
    teacher = distill.teacher_spec(root, 'resnet32', 30)
    fake_run(teacher['dir'], val=92.0, test=91.0)

    def run_dir(m, s, options=None):
        return distill.real_run_dir(distill.METHODS[m], root, 'resnet8x0.25', 30, teacher, s, options)
    for s in (0, 1, 2):  # published: KD 80, 81, 82 on test; CLKD 1 above on every seed
        fake_run(run_dir('KD', s), val=70.0, test=80.0 + s)
        fake_run(run_dir('CLKD', s), val=70.0, test=81.0 + s)
    # tuning on seeds 0, 1: KD is best at CE 1.0 (val 75 vs 71), CLKD at CE 0.1 (val 76 vs 72)
    for s in (0, 1):
        for m, ce, v in (('KD', 0.1, 71.0), ('KD', 1.0, 75.0), ('CLKD', 0.1, 76.0), ('CLKD', 1.0, 72.0)):
            fake_run(run_dir(m, s, {CE: ce}), val=v, test={'KD': 84.0, 'CLKD': 85.0}[m] + s * (m == 'CLKD'))
    # the chosen settings on seed 2 (CLKD's run of seed 2 did not finish)
    fake_run(run_dir('KD', 2, {CE: 1.0}), val=75.0, test=84.0)
    monkeypatch.chdir(tmp_path)
    lines = distill_fair.fair_study(Study(collect=True), 'font-glyphs100', src, root, 'resnet8x0.25', 30,
                                    [0, 1, 2], [0, 1], grid=grid)
    text = '\n'.join(lines)
    assert '2 settings per method tried on val (seeds 0, 1)' in text and 'test 91.00 %, val 92.00 %' in text
    assert '| KD | 81.00 ± 1.00 (n = 3) | 80.0, 81.0, 82.0 | 70.00 | — |' in text
    assert '| CLKD | 82.00 ± 1.00 (n = 3) | 81.0, 82.0, 83.0 | 70.00 | +1.00 [+1.00, +1.00], 3/3 |' in text
    assert '| DKD | not run |' in text  # published methods without runs
    assert '| KD | student_loss_weight 1 | 75.00 | 84.00 ± 0.00 (n = 3) | 84.0, 84.0, 84.0 | — |' in text
    # tuned CLKD − tuned KD on seeds 0, 1: 85 − 84 = 1, 86 − 84 = 2 -> mean 1.5, sd 0.707, t(0.975, 1) 12.706
    half = 12.706205 * math.sqrt(0.5) / math.sqrt(2)
    assert (f'| CLKD | student_loss_weight 0.1 | 76.00 | 85.50 ± 0.71 (n = 2) | 85.0, 86.0, – | '
            f'+1.50 [{1.5 - half:+.2f}, {1.5 + half:+.2f}], 2/2 |') in text
    assert '| KD | student_loss_weight 1 (chosen) | 75.00 ± 0.00 (n = 2) |' in text
    assert '| CLKD | student_loss_weight 1 | 72.00 ± 0.00 (n = 2) |' in text
    assert 'run(s) not finished' in text and 'clkd_s2' in text
