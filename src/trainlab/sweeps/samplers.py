"""Optuna samplers of `--sampler grid|random|tpe|ga` (imports Optuna: load it lazily).

The grid is not Optuna's GridSampler, which may hand the same point to two workers
that ask at the same moment. Here a fresh trial's grid point follows from its trial
number, which the storage hands out atomically: the k-th fresh trial of the study
(trials queued as retries of dead workers' trials do not count) gets the k-th point
of a seeded permutation of the grid. A retry carries the parameters of the trial it
replaces, so every point is run once, and again only when its first run died.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import optuna
from optuna.samplers import BaseSampler
from optuna.samplers.nsgaii import (
    BLXAlphaCrossover,
    SBXCrossover,
    SPXCrossover,
    UNDXCrossover,
    UniformCrossover,
    VSBXCrossover,
)

from trainlab.errors import BadInput

CROSSOVERS = {"uniform": UniformCrossover, "blxalpha": BLXAlphaCrossover, "sbx": SBXCrossover,
              "vsbx": VSBXCrossover, "undx": UNDXCrossover, "spx": SPXCrossover}
GA_GENERATION_KEY = "NSGAIISampler:generation"


class GridExhausted(Exception):
    """A fresh trial arrived after every grid point was handed out (a race between workers)."""


def is_fresh(trial) -> bool:
    """A trial that draws its own parameters (not a retry, not an enqueued point)."""
    return "failed_trial" not in trial.system_attrs and "fixed_params" not in trial.system_attrs


def grid_points(params, seed: int | None) -> list[dict[str, Any]]:
    """Every point of the grid, in the (seeded) order the trials visit them."""
    keys = [p.key for p in params]
    points = [dict(zip(keys, combo, strict=True))
              for combo in itertools.product(*(p.grid_values() for p in params))]
    random.Random(0 if seed is None else seed).shuffle(points)
    return points


class GridPointSampler(BaseSampler):
    """Hands the k-th fresh trial the k-th grid point (see the module docstring)."""

    def __init__(self, points: list[dict[str, Any]]):
        self.points = points
        self._cache: dict[int, int] = {}

    def index_of(self, study, trial) -> int:
        if trial.number not in self._cache:
            self._cache[trial.number] = sum(
                1 for t in study.get_trials(deepcopy=False)
                if t.number < trial.number and is_fresh(t))
        return self._cache[trial.number]

    def fresh_count(self, trials) -> int:
        return sum(1 for t in trials if is_fresh(t))

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        index = self.index_of(study, trial)
        if index >= len(self.points):
            raise GridExhausted(f"grid exhausted: trial {trial.number} came after all "
                                f"{len(self.points)} points were handed out")
        return self.points[index][param_name]


def make_sampler(name: str, *, seed: int | None, params, population: int,
                 crossover: str, mutation_prob: float | None, shared: bool,
                 grid_seed: int | None):
    """The sampler for `--sampler NAME` (BadInput for impossible GA settings)."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        # constant_liar: running trials of other workers count as bad, so that parallel
        # workers do not all pick the same promising point.
        return optuna.samplers.TPESampler(seed=seed, constant_liar=shared)
    if name == "grid":
        return GridPointSampler(grid_points(params, grid_seed))
    if name == "ga":
        if crossover not in CROSSOVERS:
            raise BadInput(f"--crossover {crossover}: choose from {', '.join(CROSSOVERS)}")
        cross = CROSSOVERS[crossover]()
        if population < max(2, cross.n_parents):
            raise BadInput(f"--population {population}: crossover {crossover} needs at least "
                           f"{max(2, cross.n_parents)} individuals")
        if mutation_prob is not None and not 0.0 <= mutation_prob <= 1.0:
            raise BadInput(f"--mutation-prob {mutation_prob}: must be in [0, 1]")
        return optuna.samplers.NSGAIISampler(population_size=population, crossover=cross,
                                             mutation_prob=mutation_prob, seed=seed)
    raise BadInput(f"--sampler {name}: choose from grid, random, tpe, ga")


def make_pruner(name: str):
    """`--pruner none|median|halving`."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    raise BadInput(f"--pruner {name}: choose from none, median, halving")
