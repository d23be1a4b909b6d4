"""mmlavit.evaluation.stats against hand-computed values (scipy only as the reference for the t quantile)."""
import math

import pytest

from mmlavit.evaluation import stats


def test_mean_std_by_hand():
    s = stats.mean_std([1.0, 2.0, 3.0, 4.0])  # mean 2.5; squares of deviations 5 over 3
    assert (s.mean, s.n) == (2.5, 4) and s.std == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert stats.mean_std([7.0]) == (7.0, 0.0, 1)
    with pytest.raises(ValueError, match='no values'):
        stats.mean_std([])


def test_t_quantile_matches_scipy():
    scipy_stats = pytest.importorskip('scipy.stats')
    assert stats.t_quantile(0.975, 2) == pytest.approx(4.302653, abs=1e-6)  # the table value
    assert stats.t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)
    for df in (1, 2, 3, 4, 9, 29, 599, 1e6):
        for p in (0.025, 0.6, 0.975, 0.995):
            assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9, abs=1e-12)
            assert stats.t_cdf(stats.t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)
    with pytest.raises(ValueError, match=r'p must be in \(0, 1\)'):
        stats.t_quantile(1.0, 3)


def test_t_interval_by_hand():
    d = stats.t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2) = 4.302653
    half = 4.302653 / math.sqrt(3)
    assert (d.mean, d.n, d.wins) == (2.0, 3, 3)
    assert d.lo == pytest.approx(2 - half, abs=1e-5) and d.hi == pytest.approx(2 + half, abs=1e-5)
    one = stats.t_interval([0.5])
    assert one.mean == 0.5 and one.n == 1 and math.isnan(one.lo) and math.isnan(one.hi)
    same = stats.t_interval([1.0, 1.0])  # no spread: a zero-width interval
    assert (same.lo, same.hi, same.wins) == (1.0, 1.0, 2)
    d90 = stats.t_interval([1.0, 2.0, 3.0], level=0.9)  # t(0.95, 2) = 2.919986
    assert d90.hi == pytest.approx(2 + 2.919986 / math.sqrt(3), abs=1e-5)


def test_mean_ci95_is_the_normal_episode_interval():
    mean, ci = stats.mean_ci95([50.0, 70.0])  # sd 14.142: 1.96 · 14.142 / √2 = 19.6
    assert mean == 60.0 and ci == pytest.approx(19.6, rel=1e-12)
    assert all(math.isnan(v) for v in stats.mean_ci95([0.5, float('nan')]))  # nothing dropped
    assert stats.mean_ci95([3.0])[0] == 3.0 and math.isnan(stats.mean_ci95([3.0])[1])
    assert all(math.isnan(v) for v in stats.mean_ci95([]))


def test_paired_differences_over_shared_keys():
    runs = {0: 64.0, 1: 66.0, 2: 70.0}
    ref = {1: 65.0, 0: 63.0}  # seed 2 has no partner
    d = stats.paired(runs, ref)  # differences 1, 1
    assert (d.mean, d.lo, d.hi, d.n, d.wins) == (1.0, 1.0, 1.0, 2, 2)
    d = stats.paired({0: 1.0, 1: 3.0, 2: 2.0}, {0: 2.0, 1: 1.0, 2: 2.0})  # -1, +2, 0: one win
    assert d.wins == 1 and d.mean == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match='no shared keys'):
        stats.paired({0: 1.0}, {1: 1.0})


def test_fewshot_metric_uses_this_module():
    from mmlavit.evaluation import fewshot_metric
    assert fewshot_metric.mean_ci95 is stats.mean_ci95
