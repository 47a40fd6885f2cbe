"""The experiment registry: one decorator per experiment, found by id.

An experiment module in `trainlab/experiments/` registers itself with
`@experiment("id", config=Config, presets=PRESETS, purpose=..., chapter=...)` on its
`run(cfg, ctx)` function. The command line and the API look experiments up here and
never import them one by one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from trainlab.errors import BadInput

CHAPTERS = ("basics", "deep vs shallow", "optimization", "generalization", "sweeps")


@dataclass(frozen=True)
class Experiment:
    """What the registry knows of one experiment."""

    id: str
    purpose: str
    chapter: str
    config: type
    presets: dict[str, dict]
    run: Callable
    question: str = ""
    what_to_look_at: str = ""
    headline: tuple[str, ...] = ()
    sweep_space: dict = field(default_factory=dict)
    sweep_objective: str = ""
    sweep_direction: str = "minimize"


_REGISTRY: dict[str, Experiment] = {}
_LOADED = False


def experiment(exp_id: str, *, config: type, purpose: str, chapter: str,
               presets: dict[str, dict] | None = None, question: str = "",
               what_to_look_at: str = "", headline: tuple[str, ...] = (),
               sweep_space: dict | None = None, sweep_objective: str = "",
               sweep_direction: str = "minimize") -> Callable:
    """Register `run(cfg, ctx) -> summary` as experiment `exp_id`."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r} for {exp_id}")

    def decorate(run: Callable) -> Callable:
        if exp_id in _REGISTRY and _REGISTRY[exp_id].run is not run:
            raise ValueError(f"experiment {exp_id!r} registered twice")
        _REGISTRY[exp_id] = Experiment(
            id=exp_id, purpose=purpose, chapter=chapter, config=config,
            presets=presets or {}, run=run, question=question,
            what_to_look_at=what_to_look_at, headline=headline,
            sweep_space=sweep_space or {}, sweep_objective=sweep_objective,
            sweep_direction=sweep_direction)
        return run

    return decorate


def load_all() -> None:
    """Import every module of `trainlab.experiments` so that each registers itself."""
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("trainlab.experiments")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"trainlab.experiments.{info.name}")
    _LOADED = True


def get(exp_id: str) -> Experiment:
    """The experiment with this id; BadInput listing the known ids otherwise."""
    load_all()
    if exp_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise BadInput(f"unknown experiment '{exp_id}' (known: {known})")
    return _REGISTRY[exp_id]


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in chapter order then by id."""
    load_all()
    order = {c: i for i, c in enumerate(CHAPTERS)}
    return sorted(_REGISTRY.values(), key=lambda e: (order[e.chapter], e.id))
