"""The experiment registry: one decorator per experiment, found by id.

An experiment module `trainlab/experiments/<id with _>.py` registers itself with
`@experiment("id", config=Config, presets=PRESETS, purpose=..., chapter=..., ...)` on its
`run(cfg, ctx)` function; everything the lab knows of an experiment (prose, references,
the summary keys it guarantees) is an argument of that decorator. The command line and
the API look experiments up here and never import them one by one: `get(id)` imports
the one module named after the id, `all_experiments()` imports them all.

Summary keys are dotted paths into `summary.json`: `"a"` (a top-level key), `"a.b"` (key
`b` of the dict `a`), `"a[].b"` (key `b` of every item of the list `a`), and a trailing
`{b, c}` groups sibling keys: `"runs[].{lr, final_loss}"`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from trainlab.errors import BadInput

CHAPTERS = ("basics", "deep vs shallow", "optimization", "generalization", "sweeps")
DIRECTIONS = ("minimize", "maximize")
PACKAGE = "trainlab.experiments"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = re.compile(rf"{_NAME}(\[\])?")


def expand_summary_keys(keys: tuple[str, ...]) -> list[str]:
    """`("a", "b[].{c, d}")` -> `["a", "b[].c", "b[].d"]`; ValueError for a malformed key."""
    leaves = []
    for key in keys:
        head, brace, group = key.partition("{")
        if brace:
            if not group.endswith("}") or not head.endswith("."):
                raise ValueError(f"summary key {key!r}: a group is written 'path.{{a, b}}'")
            names = [n.strip() for n in group[:-1].split(",")]
            if not all(_STEP.fullmatch(n) for n in names):
                raise ValueError(f"summary key {key!r}: a group holds plain names")
            paths = [head + n for n in names]
        else:
            paths = [key]
        for path in paths:
            if not all(_STEP.fullmatch(step) for step in path.split(".")):
                raise ValueError(f"summary key {key!r}: expected name, name[] or "
                                 "name.{a, b} steps separated by dots")
            leaves.append(path)
    return leaves


def _missing(value: Any, steps: list[str], where: str) -> Iterator[str]:
    step, rest = steps[0], steps[1:]
    name, is_list = step.removesuffix("[]"), step.endswith("[]")
    here = f"{where}.{name}" if where else name
    if not isinstance(value, dict) or name not in value:
        yield here
        return
    value = value[name]
    if is_list:
        if not isinstance(value, list):
            yield f"{here} (not a list)"
            return
        for i, item in enumerate(value):
            if rest:
                yield from _missing(item, rest, f"{here}[{i}]")
    elif rest:
        yield from _missing(value, rest, here)


def missing_summary_keys(summary: Any, keys: tuple[str, ...]) -> list[str]:
    """The required keys (see the module docstring) that `summary` lacks, as concrete paths.

    `missing_summary_keys({"runs": [{"lr": 1}]}, ("runs[].{lr, loss}",))` is
    `["runs[0].loss"]`; an empty list means the summary has every key.
    """
    out: list[str] = []
    for path in expand_summary_keys(keys):
        out.extend(_missing(summary, path.split("."), ""))
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Sweep:
    """What `trainlab sweep EXP` does with no --objective, --space or --set.

    `objectives` maps every summary.json number a sweep may optimise (dotted key, `#`
    for a list index: `runs.#.final_loss`) to its direction; `objective` is one of
    them. `space` holds the TOML tables of the default search space (dotted config keys)
    and `sets` config values fixed with it.
    """

    objective: str
    objectives: dict[str, str]
    space: dict[str, dict]
    sets: dict = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction_of(self.objective) is None:
            raise ValueError(f"sweep objective {self.objective!r} is not in its objectives")
        bad = sorted(k for k, d in self.objectives.items() if d not in DIRECTIONS)
        if bad:
            raise ValueError(f"sweep objectives {bad}: direction must be minimize or maximize")
        if not self.space:
            raise ValueError("a sweep needs a default space")

    @property
    def direction(self) -> str:
        """The direction of the default objective."""
        return self.direction_of(self.objective) or "minimize"

    def direction_of(self, key: str) -> str | None:
        """The direction of summary key `key` (`runs.2.final_loss` matches `runs.#.final_loss`);
        None when it is not one of the objectives."""
        parts = key.split(".")
        for pattern, direction in self.objectives.items():
            want = pattern.split(".")
            if len(want) == len(parts) and all(
                    w == p or (w == "#" and p.isdigit()) for w, p in zip(want, parts, strict=True)):
                return direction
        return None


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
    references: tuple[str, ...] = ()
    summary_keys: tuple[str, ...] = ()
    sweep: Sweep | None = None
    headline_help: dict[str, str] = field(default_factory=dict)

    def missing_keys(self, summary: Any) -> list[str]:
        """The guaranteed `summary_keys` that this summary lacks (see `missing_summary_keys`)."""
        return missing_summary_keys(summary, self.summary_keys)


_REGISTRY: dict[str, Experiment] = {}
_LOADED = False


def experiment(exp_id: str, *, config: type, purpose: str, chapter: str,
               presets: dict[str, dict] | None = None, question: str = "",
               what_to_look_at: str = "", headline: tuple[str, ...] = (),
               references: tuple[str, ...] = (), summary_keys: tuple[str, ...] = (),
               sweep: Sweep | None = None,
               headline_help: dict[str, str] | None = None) -> Callable:
    """Register `run(cfg, ctx) -> summary` as experiment `exp_id`.

    `summary_keys` are the keys every completed summary has (the runner checks them; see
    the module docstring for the notation); `references` are markdown lines for the docs;
    `sweep` the defaults of `trainlab sweep` (the experiment's `SWEEP` block);
    `headline_help` one-line explanations of headline keys (the index's tooltips; keys
    without one get a generic text from their words).
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r} for {exp_id}")
    expand_summary_keys(tuple(summary_keys))  # a malformed key fails at import time

    def decorate(run: Callable) -> Callable:
        if exp_id in _REGISTRY and _REGISTRY[exp_id].run is not run:
            raise ValueError(f"experiment {exp_id!r} registered twice")
        _REGISTRY[exp_id] = Experiment(
            id=exp_id, purpose=purpose, chapter=chapter, config=config,
            presets=presets or {}, run=run, question=question,
            what_to_look_at=what_to_look_at, headline=tuple(headline),
            references=tuple(references), summary_keys=tuple(summary_keys),
            sweep=sweep, headline_help=dict(headline_help or {}))
        return run

    return decorate


def unregister(exp_id: str) -> None:
    """Forget experiment `exp_id` (for experiments that tests register themselves)."""
    _REGISTRY.pop(exp_id, None)


def module_name(exp_id: str) -> str:
    """`"deep-vs-shallow"` -> `"trainlab.experiments.deep_vs_shallow"` (the naming rule)."""
    return f"{PACKAGE}.{exp_id.replace('-', '_')}"


def load_all() -> None:
    """Import every module of `trainlab.experiments` so that each registers itself."""
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module(PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{PACKAGE}.{info.name}")
    _LOADED = True


def known_ids() -> list[str]:
    """The ids of the built-in experiments, from their module names (nothing is imported)."""
    package = importlib.util.find_spec(PACKAGE)
    paths = package.submodule_search_locations if package else []
    return sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(paths)
                  if not info.name.startswith("_"))


def _load_one(exp_id: str) -> None:
    # Only a well-formed id names a module; anything else ("../x", "a.b") is left to the
    # error message below. An experiment module that fails to import raises here.
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", exp_id):
        return
    name = module_name(exp_id)
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)


def get(exp_id: str) -> Experiment:
    """The experiment with this id (importing only its module); BadInput otherwise."""
    if exp_id not in _REGISTRY:
        _load_one(exp_id)
    if exp_id not in _REGISTRY:
        load_all()
        known = ", ".join(sorted(_REGISTRY))
        raise BadInput(f"unknown experiment '{exp_id}' (known: {known})")
    return _REGISTRY[exp_id]


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in chapter order then by id."""
    load_all()
    order = {c: i for i, c in enumerate(CHAPTERS)}
    return sorted(_REGISTRY.values(), key=lambda e: (order[e.chapter], e.id))
