"""Statistics over replicates: t intervals, bootstrap intervals, Spearman, two-sample tests.

Every interval here is a 95 % interval computed by `scipy.stats`: Student's t for the
mean of a handful of replicate values (`describe`), the bootstrap for a statistic of
pooled samples (`bootstrap_interval`, `spearman_interval`), Welch's t test for the
difference of two means (`welch`). The bootstrap is seeded so that a summary is the
same every time it is computed (a resumed run must give the identical `summary.json`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20170101


def _finite(values: Sequence) -> np.ndarray:
    """The finite numbers of `values` (None, NaN and inf dropped), as float64."""
    out = [float(v) for v in values
           if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return np.asarray(out, dtype=float)


def t_interval(values: Sequence) -> list[float] | None:
    """95 % Student-t interval of the mean of `values` (n >= 2), else None.

    Equal values give the point interval [v, v] (a zero standard error).
    """
    from scipy import stats

    v = _finite(values)
    if len(v) < 2:
        return None
    mean, sem = float(v.mean()), float(stats.sem(v))
    if sem == 0:
        return [mean, mean]
    lo, hi = stats.t.interval(LEVEL, len(v) - 1, loc=mean, scale=sem)
    return [float(lo), float(hi)]


def describe(values: Sequence) -> dict:
    """`{mean, std, n, ci95}` of the finite numbers in `values` (std: ddof=1).

    n = 0 gives mean None; n = 1 gives std and ci95 None (one replicate has no spread).
    """
    v = _finite(values)
    if len(v) == 0:
        return {"mean": None, "std": None, "n": 0, "ci95": None}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
            "n": int(len(v)), "ci95": t_interval(v)}


def bootstrap_interval(samples: Sequence | tuple[Sequence, ...],
                       statistic: Callable, paired: bool = False) -> list[float] | None:
    """95 % BCa bootstrap interval of `statistic` over pooled samples, or None.

    samples: one sequence, or a tuple of equally long sequences resampled together
    (`paired=True`, e.g. the (x, y) pairs of a correlation). `statistic(*arrays, axis)`
    must be vectorized over `axis`. None when fewer than 3 samples or when the
    bootstrap distribution is degenerate.
    """
    from scipy import stats

    data = tuple(np.asarray(s, dtype=float) for s in samples) if paired else \
        (np.asarray(samples, dtype=float),)
    if len(data[0]) < 3:
        return None
    with np.errstate(all="ignore"):
        try:
            res = stats.bootstrap(data, statistic, paired=paired, vectorized=True,
                                  confidence_level=LEVEL, n_resamples=BOOTSTRAP_RESAMPLES,
                                  method="BCa", rng=np.random.default_rng(BOOTSTRAP_SEED))
        except (ValueError, FloatingPointError):
            return None
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [lo, hi]


def spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rank correlation along `axis` (average ranks for ties), vectorized.

    NaN where either side is constant.
    """
    from scipy import stats

    rx, ry = stats.rankdata(x, axis=axis), stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        return (rx * ry).sum(axis) / np.sqrt((rx * rx).sum(axis) * (ry * ry).sum(axis))


def spearman_interval(x: Sequence, y: Sequence) -> tuple[float | None, list[float] | None]:
    """Spearman's ρ of pairs (x, y) and its 95 % paired bootstrap interval."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    rho = float(stats.spearmanr(x, y).statistic)
    return rho, bootstrap_interval((x, y), spearman, paired=True)


def welch(a: Sequence, b: Sequence) -> dict:
    """Difference of means b − a, its 95 % Welch interval, and the Welch t test's p value.

    Needs two finite values on each side; otherwise the interval and p are None.
    """
    from scipy import stats

    va, vb = _finite(a), _finite(b)
    diff = float(vb.mean() - va.mean()) if len(va) and len(vb) else None
    if len(va) < 2 or len(vb) < 2:
        return {"difference": diff, "ci95": None, "p_value": None}
    if va.std() == 0 and vb.std() == 0:  # no spread on either side: the difference is exact
        return {"difference": diff, "ci95": [diff, diff],
                "p_value": 1.0 if diff == 0 else 0.0}
    res = stats.ttest_ind(vb, va, equal_var=False)
    ci = res.confidence_interval(LEVEL)
    return {"difference": diff, "ci95": [float(ci.low), float(ci.high)],
            "p_value": float(res.pvalue)}


VERDICTS = ("reproduced", "not_reproduced", "inconclusive")


def verdict(ci95: Sequence[float] | None, threshold: float, direction: str) -> str:
    """`reproduced` when the interval lies wholly on the claim's side of `threshold`.

    direction ">": the claim says the statistic exceeds the threshold; "<": it is below.
    `not_reproduced` when the interval lies wholly on the other side, `inconclusive`
    otherwise (the interval touches or straddles the threshold, or there is none).
    """
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', not {direction!r}")
    if ci95 is None or any(v is None or not math.isfinite(v) for v in ci95):
        return "inconclusive"
    lo, hi = float(ci95[0]), float(ci95[1])
    above, below = lo > threshold, hi < threshold
    if direction == ">":
        return "reproduced" if above else "not_reproduced" if below else "inconclusive"
    return "reproduced" if below else "not_reproduced" if above else "inconclusive"


def mean_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % Student-t band of curves `values` (T, R) over their R replicates.

    Returns mean, low, high, each (T,); with R = 1 the band is the curve itself.
    """
    from scipy import stats

    v = np.asarray(values, dtype=float)
    mean = v.mean(axis=1)
    if v.shape[1] < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + LEVEL / 2, v.shape[1] - 1) * stats.sem(v, axis=1)
    return mean, mean - half, mean + half
