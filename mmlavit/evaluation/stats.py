"""Summary statistics of the studies and of :class:`~mmlavit.evaluation.FewShotMetric`: mean ± std over seeds,
mean ± 95 % interval (Student t over seeds, or the normal 1.96 · std / √n that few-shot papers report over
episodes), and paired differences (each run minus its partner with the same seed or episode).

Plain numpy and :mod:`math` (the t quantile is computed here), so that the metric does not need scipy. A NaN
value makes the results NaN: nothing is dropped silently."""
import math
from typing import Hashable, Mapping, NamedTuple, Sequence, Tuple

import numpy as np


class Summary(NamedTuple):
    """``mean``, sample ``std`` (ddof 1; 0 for one value) and ``n``."""
    mean: float
    std: float
    n: int


class Interval(NamedTuple):
    """``mean`` with its two-sided interval ``[lo, hi]`` over ``n`` values; ``wins``: values above 0 (for
    paired differences: the pairs the first run wins). ``lo``/``hi`` are NaN for a single value."""
    mean: float
    lo: float
    hi: float
    n: int
    wins: int


def mean_std(values: Sequence[float]) -> Summary:
    """Mean and sample standard deviation (ddof 1; 0 for a single value) of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        raise ValueError('mean_std: no values')
    return Summary(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz)."""
    if x <= 0.0 or x >= 1.0:
        return min(max(x, 0.0), 1.0)
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below the mean: use the symmetry
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) +
                     b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f't_quantile: p must be in (0, 1), got {p}')
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return (lo + hi) / 2


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of ``values`` (e.g. paired differences over seeds) with its two-sided ``level`` Student-t
    interval on n - 1 degrees of freedom; ``wins``: values above 0."""
    v = np.asarray(values, dtype=np.float64)
    s = mean_std(v)
    wins = int((v > 0).sum())
    if s.n < 2:
        return Interval(s.mean, float('nan'), float('nan'), s.n, wins)
    half = t_quantile(0.5 + level / 2, s.n - 1) * s.std / math.sqrt(s.n)
    return Interval(s.mean, s.mean - half, s.mean + half, s.n, wins)


def mean_ci95(values: Sequence[float]) -> Tuple[float, float]:
    """``(mean, 1.96 · std / √n)`` with the sample std (ddof 1): the normal 95 % interval few-shot papers
    report over test episodes. Fewer than two values: the half-width is NaN (and the mean NaN for none)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()) if len(v) else float('nan'), float('nan')
    return float(v.mean()), float(1.96 * v.std(ddof=1) / math.sqrt(len(v)))


def paired(runs: Mapping[Hashable, float], reference: Mapping[Hashable, float],
           level: float = 0.95) -> Interval:
    """``runs[k] - reference[k]`` over the keys both have (seeds, in ``runs``' order), as a
    :func:`t_interval`; ``wins``: pairs where ``runs`` is above. Raises when no key is shared."""
    keys = [k for k in runs if k in reference]
    if not keys:
        raise ValueError(f'paired: no shared keys (runs {list(runs)}, reference {list(reference)})')
    return t_interval([runs[k] - reference[k] for k in keys], level)
