"""trainlab.stats against closed forms and independent scipy calls."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from trainlab import stats

# Student-t 97.5 % quantiles (closed-form for df = 1 and 2; df = 4 from the CDF below)
T975_DF1 = math.tan(math.pi * 0.475)          # Cauchy quantile
T975_DF2 = 0.95 * math.sqrt(2 / (1 - 0.95 ** 2))  # t(2) quantile: q·sqrt(2/(1-q²)) at q=0.95


def _t_cdf_df4(t: float) -> float:
    # closed form of the Student-t CDF with 4 degrees of freedom
    x = t / math.sqrt(t * t + 4)
    return 0.5 + 0.75 * x * (1 - x * x / 3)


def test_t_interval_matches_closed_form_quantiles():
    for values, q in (([1.0, 3.0], T975_DF1), ([2.0, 4.0, 9.0], T975_DF2)):
        v = np.asarray(values)
        half = q * v.std(ddof=1) / math.sqrt(len(v))
        lo, hi = stats.t_interval(values)
        assert lo == pytest.approx(v.mean() - half, rel=1e-9)
        assert hi == pytest.approx(v.mean() + half, rel=1e-9)
    v = [0.3, 0.9, 1.4, 2.0, 2.2]
    lo, hi = stats.t_interval(v)
    q = (hi - np.mean(v)) / (np.std(v, ddof=1) / math.sqrt(5))
    assert _t_cdf_df4(q) == pytest.approx(0.975, abs=1e-12)
    assert lo == pytest.approx(2 * np.mean(v) - hi, rel=1e-12)


def test_describe_edge_cases():
    assert stats.describe([]) == {"mean": None, "std": None, "n": 0, "ci95": None}
    assert stats.describe([2.5]) == {"mean": 2.5, "std": None, "n": 1, "ci95": None}
    d = stats.describe([1.0, None, float("nan"), 3.0, True])  # only 1 and 3 count
    assert d["n"] == 2 and d["mean"] == 2.0 and d["std"] == pytest.approx(math.sqrt(2))
    assert stats.describe([4, 4, 4])["ci95"] == [4.0, 4.0]


@pytest.mark.parametrize("ci,direction,expected", [
    ([0.96, 0.99], ">", "reproduced"), ([0.90, 0.94], ">", "not_reproduced"),
    ([0.94, 0.96], ">", "inconclusive"), ([0.95, 0.97], ">", "inconclusive"),
    ([0.90, 0.94], "<", "reproduced"), ([0.96, 0.99], "<", "not_reproduced"),
    (None, ">", "inconclusive"), ([None, None], "<", "inconclusive")])
def test_verdict(ci, direction, expected):
    assert stats.verdict(ci, 0.95, direction) == expected


def test_vectorized_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, size=(7, 40)).astype(float)
    y = x + rng.normal(size=(7, 40))
    got = stats.spearman(x, y, axis=-1)
    want = [sps.spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_spearman_interval_covers_and_is_reproducible():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = -x + 0.5 * rng.normal(size=300)
    rho, ci = stats.spearman_interval(x, y)
    assert rho == pytest.approx(sps.spearmanr(x, y).statistic)
    assert ci[0] < rho < ci[1] < 0
    assert stats.spearman_interval(x, y) == (rho, ci)  # seeded: the same every time
    assert stats.spearman_interval([1, 2, 3], [5, 5, 5]) == (None, None)


def test_bootstrap_mean_interval_close_to_normal_theory():
    rng = np.random.default_rng(2)
    v = rng.normal(3.0, 2.0, size=2000)
    lo, hi = stats.bootstrap_interval(v, lambda a, axis: a.mean(axis=axis))
    half = 1.959964 * v.std(ddof=1) / math.sqrt(len(v))
    assert lo == pytest.approx(v.mean() - half, abs=0.15 * half)
    assert hi == pytest.approx(v.mean() + half, abs=0.15 * half)
    assert stats.bootstrap_interval([1.0, 2.0], np.mean) is None


def test_welch_matches_the_welch_satterthwaite_formula():
    a, b = np.array([1.0, 2.0, 4.0, 3.5]), np.array([5.0, 7.5, 6.0])
    res = stats.welch(a, b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    se = math.sqrt(va + vb)
    diff = b.mean() - a.mean()
    q = sps.t.ppf(0.975, df)
    assert res["difference"] == pytest.approx(diff)
    assert res["ci95"] == pytest.approx([diff - q * se, diff + q * se], rel=1e-9)
    assert res["p_value"] == pytest.approx(2 * sps.t.sf(diff / se, df), rel=1e-9)
    assert stats.welch([1.0], [2.0, 3.0])["ci95"] is None
    assert stats.welch([1.0, 1.0], [2.0, 2.0])["ci95"] == [1.0, 1.0]


def test_mean_band_is_the_t_interval_of_each_row():
    v = np.array([[1.0, 2.0, 4.0], [0.5, 0.5, 0.5], [3.0, -1.0, 2.0]])
    mean, lo, hi = stats.mean_band(v)
    for i, row in enumerate(v):
        assert mean[i] == pytest.approx(row.mean())
        assert [lo[i], hi[i]] == pytest.approx(stats.t_interval(row))
    one = np.array([[1.5], [2.5]])
    for arr in stats.mean_band(one):
        np.testing.assert_array_equal(arr, one[:, 0])
