"""Confidence intervals of stochastic estimates: Student's t over independent samples.

A stochastic diagnostic (Hutchinson probes, SLQ start vectors, sharpness restarts, data
batches, evaluation examples) averages ``n`` independent samples; its 95 % interval is
``mean ± t_{0.975, n-1} · s / sqrt(n)`` (`scipy.stats.t`), which is exact for Gaussian
samples and close to it for the sums of many terms these diagnostics average.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from trainlab.errors import BadInput


class Estimate(NamedTuple):
    """A mean of ``n`` samples with its ``level`` t-interval ``(lo, hi)`` and sample std."""

    value: float
    ci95: tuple[float, float]
    n: int
    std: float

    def as_dict(self) -> dict:
        """``{"value", "ci95": [lo, hi], "n", "std"}`` (NaN bounds when ``n < 2``)."""
        return {"value": self.value, "ci95": list(self.ci95), "n": self.n, "std": self.std}


def t_quantile(level: float, dof: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom."""
    try:
        from scipy.stats import t
    except ImportError:
        raise BadInput("confidence intervals need scipy: pip install scipy") from None
    return float(t.ppf(0.5 + level / 2, dof))


def t_interval(samples: Tensor | Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of ``samples`` (shape ``(n,)``) with its t-interval of confidence ``level``.

    With one sample the interval is ``(nan, nan)``: one draw says nothing about spread.
    """
    x = torch.as_tensor(samples, dtype=torch.float64).reshape(-1)
    n = x.numel()
    if n == 0:
        raise BadInput("an interval needs at least one sample")
    if not 0 < level < 1:
        raise BadInput(f"confidence level must be in (0, 1), got {level}")
    mean = float(x.mean())
    if n < 2:
        return Estimate(mean, (math.nan, math.nan), 1, math.nan)
    std = float(x.std(unbiased=True))
    half = t_quantile(level, n - 1) * std / math.sqrt(n)
    return Estimate(mean, (mean - half, mean + half), n, std)
