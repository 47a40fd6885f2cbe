"""Published claims an experiment tests, and their verdict over the replicates of a run.

An experiment module declares, in its `CLAIMS` block, a tuple of `Claim`s and its
default number of replicates per preset (`REPLICATES = Replicates(quick=3, full=5)`).
A claim names a statistic computed from each replicate's summary and a threshold on
the claim's side of which the statistic must lie:

- `value(summary) -> float`: one number per replicate; the claim's value is their mean
  and its interval the 95 % Student-t interval over the replicates (n = replicates);
- `samples(summary) -> list | (list, list)`: observations pooled over the replicates
  (the runs of minimal-ratio, for instance); the value is their mean (Student-t
  interval), median or Spearman correlation (`estimator`; 95 % bootstrap intervals),
  n = observations.

`exact=True` marks a statistic that involves no random choice at all (a grid search
with exact derivatives): its interval is the point itself, so one replicate decides.

Verdict (`stats.verdict`): reproduced when the interval lies wholly on the claim's side
of the threshold, not_reproduced when wholly on the other side, inconclusive otherwise.
A claim must be able to fail: one that holds by construction is not a claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trainlab import stats

ESTIMATORS = ("mean", "median", "spearman")


@dataclass(frozen=True)
class Claim:
    """One published claim, the statistic that tests it and its threshold."""

    id: str
    statement: str
    source: str
    statistic: str
    threshold: float
    direction: str = ">"
    value: Callable[[dict], float | None] | None = None
    samples: Callable[[dict], Sequence] | None = None
    estimator: str = "mean"
    exact: bool = False

    def __post_init__(self) -> None:
        if (self.value is None) == (self.samples is None):
            raise ValueError(f"claim {self.id}: give exactly one of value= or samples=")
        if self.direction not in (">", "<"):
            raise ValueError(f"claim {self.id}: direction must be '>' or '<'")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"claim {self.id}: estimator must be one of {ESTIMATORS}")


@dataclass(frozen=True)
class Replicates:
    """Default replicates of an experiment per preset, and how they train.

    ensemble: the module defines `run_seeds(cfg, ctx, seeds) -> [summary per seed]`,
    which trains all replicates as members of the same ensembles (and `run` is
    `run_seeds` with one seed); otherwise the replicates run one after another.
    replicate_bytes: name of a module function `(cfg) -> int` estimating the memory one
    replicate adds to the ensemble, checked before a run starts.
    """

    smoke: int = 1
    quick: int = 1
    full: int = 1
    ensemble: bool = False
    replicate_bytes: str = ""

    def default(self, preset: str) -> int:
        """The default number of replicates at `preset`."""
        return int(getattr(self, preset, 1))


def lookup(summary: dict | None, key: str):
    """`summary["a"]["b"]` for key "a.b" (list items by index); None where missing."""
    value = summary
    for part in key.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(
                part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _safe(fn: Callable, summary: dict):
    # A replicate whose summary lacks what the statistic needs (a diverged model, a
    # point that was never reached) contributes no value instead of failing the run.
    try:
        return fn(summary)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, StopIteration):
        return None


def replicate_values(claim: Claim, summaries: list[dict]) -> list:
    """What each replicate contributes: its value (`value=` claims; None where undefined)
    or its samples (`samples=` claims; a list, or an (x, y) pair of lists, or None)."""
    return [_safe(claim.value if claim.value is not None else claim.samples, s)
            for s in summaries]


def _per_replicate(claim: Claim, summaries: list[dict]) -> tuple[float | None, list | None, int]:
    values = replicate_values(claim, summaries)
    d = stats.describe(values)
    if claim.exact and d["n"]:
        return d["mean"], [d["mean"], d["mean"]], d["n"]
    return d["mean"], d["ci95"], d["n"]


def _pooled(claim: Claim, summaries: list[dict]) -> tuple[float | None, list | None, int]:
    parts = [p for p in replicate_values(claim, summaries) if p is not None]
    if claim.estimator == "spearman":
        x = [float(v) for p in parts for v in p[0]]
        y = [float(v) for p in parts for v in p[1]]
        rho, ci = stats.spearman_interval(x, y)
        return rho, ci, len(x)
    values = stats._finite([v for p in parts for v in p])
    if len(values) == 0:
        return None, None, 0
    if claim.estimator == "mean":
        return float(values.mean()), stats.t_interval(values), int(len(values))
    ci = stats.bootstrap_interval(values, lambda v, axis: np.median(v, axis=axis))
    return float(np.median(values)), ci, int(len(values))


def evaluate(claim: Claim, summaries: list[dict]) -> dict:
    """`{id, statement, source, statistic, value, ci95, n, threshold, verdict}` of a claim."""
    value, ci, n = (_per_replicate if claim.value is not None else _pooled)(claim, summaries)
    return {"id": claim.id, "statement": claim.statement, "source": claim.source,
            "statistic": claim.statistic, "value": value, "ci95": ci, "n": n,
            "threshold": claim.threshold, "direction": claim.direction,
            "verdict": stats.verdict(ci, claim.threshold, claim.direction)}


def evaluate_all(claims: Sequence[Claim], summaries: list[dict]) -> list[dict]:
    """Every claim's verdict over the replicate summaries, in declaration order."""
    return [evaluate(c, summaries) for c in claims]


def counts(claims: Sequence[dict]) -> dict[str, int]:
    """How many claims got each verdict: `{"reproduced": k, ...}`."""
    return {v: sum(c.get("verdict") == v for c in claims) for v in stats.VERDICTS}
