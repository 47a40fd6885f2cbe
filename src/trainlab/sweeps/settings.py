"""The typed settings of a sweep, checked before any folder or trial exists, and `run_sweep`.

`Settings.from_options("polyfit", sampler="tpe", trials=20, ...)` takes Python values
(the command line parses its strings first, `trainlab.sweep` passes its keywords as
they are) and refuses bad input with one line: the objective must be one of the
numbers the experiment declares in its `SWEEP` block, the space's keys must be config
keys and every bound must be a value the config accepts. `run_sweep(settings)` opens
the study, runs the trials (in this process, or in `workers` processes on this host),
writes the report and returns a `SweepResult`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab.config import resolve, to_dict
from trainlab.errors import BadInput
from trainlab.registry import DIRECTIONS, Experiment, get
from trainlab.replicates import parse_count
from trainlab.replicates import spec as replicates_of
from trainlab.sweeps import space as sp
from trainlab.sweeps.storage import StorageSpec, parse_storage

SAMPLERS = ("grid", "random", "tpe", "ga")
PRUNERS = ("none", "median", "halving")
DEFAULT_TRIALS = 20
MAX_GRID_POINTS = 100_000


@dataclass
class Settings:
    """Everything a worker needs, checked before any folder exists."""

    exp: Experiment
    sampler: str
    target: int
    params: list[sp.Param]
    space_source: str
    objective: str
    direction: str
    preset: str
    config_file: str | None
    sets: dict
    seed: int | None
    device: str
    storage: StorageSpec
    study_name: str
    sweep_dir: Path
    workers: int = 1
    worker_index: int | None = None
    population: int = 30
    crossover: str = "uniform"
    mutation_prob: float | None = None
    pruner: str = "none"
    prune_on: tuple[str, str] | None = None
    heartbeat_interval: int = 5
    grace_period: int = 15
    seeds: int = 1  # replicates per trial; the trial's value is their mean
    runs_dir: Path | None = None  # rebuild RUNS_DIR/index.html after the sweep
    base_config: dict = field(default_factory=dict)  # the config every trial starts from

    @classmethod
    def from_options(cls, exp_id: str, *, sampler: str = "tpe", trials: int | None = None,
                     space: str | Path | dict | None = None, objective: str | None = None,
                     direction: str | None = None, storage: str | None = None,
                     study: str | None = None, workers: int = 1, preset: str = "full",
                     sets: dict[str, Any] | None = None, config_file: str | Path | None = None,
                     seed: int | None = None, device: str = "auto",
                     runs_dir: str | Path = "runs", out: str | Path | None = None,
                     population: int = 30, crossover: str = "uniform",
                     mutation_prob: float | None = None, pruner: str = "none",
                     prune_on: str | None = None, heartbeat_interval: int = 5,
                     grace_period: int = 15, worker_index: int | None = None,
                     seeds: int | str | None = None) -> Settings:
        """Check every option (BadInput, one line) and build the settings; writes nothing.

        `space` is a TOML file or its tables as a dict (`{"lr": {"type": "float", ...}}`);
        None takes the experiment's declared space and its fixed `sets`. `sets` are config
        values fixed for every trial (dotted keys). `storage` is None (in memory),
        `journal:PATH`, `postgresql://…`, `sqlite:///…` or `env:VAR`. `seeds`: replicates
        per trial (None: the preset's); the trial's value is the mean over them.
        """
        _check_choices(sampler, pruner, direction)
        n_seeds = None if seeds is None else parse_count(seeds, "--seeds")
        _check_numbers(trials, workers, population, heartbeat_interval, grace_period,
                       mutation_prob)
        exp = get(exp_id)
        params, source, all_sets = _space_and_sets(exp, space, dict(sets or {}))
        base = resolve(exp.config, exp.presets, preset, config_file, all_sets, seed)
        sp.check_values(params, exp, preset, config_file, all_sets, seed)
        n_seeds = replicates_of(exp).default(preset) if n_seeds is None else n_seeds
        objective, direction = _objective(exp, objective, direction)
        spec = parse_storage(_storage_text(storage))
        if workers > 1 and not spec.shared:
            raise BadInput(f"--workers {workers}: several workers need a shared storage: "
                           "--storage journal:PATH (one host) or postgresql://… (many hosts)")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        study_name = study or (f"{exp.id}-{sampler}" if spec.shared
                               else f"{exp.id}-{sampler}-{stamp}")
        sweep_dir = Path(out) if out else Path(runs_dir) / "sweeps" / _safe(study_name)
        s = cls(exp=exp, sampler=sampler, target=0, params=params, space_source=source,
                objective=objective, direction=direction, preset=preset,
                config_file=str(config_file) if config_file else None, sets=all_sets,
                seed=seed, device=device, storage=spec, study_name=study_name,
                sweep_dir=sweep_dir, workers=workers, worker_index=worker_index,
                population=population, crossover=crossover, mutation_prob=mutation_prob,
                pruner=pruner, prune_on=_prune_on(pruner, prune_on, objective),
                heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                seeds=n_seeds, runs_dir=None if out else Path(runs_dir), base_config=to_dict(base))
        s.target = _target(s, trials)
        _check_folder(s)
        return s

    def meta(self) -> dict:
        """What a study must agree on for a worker to join it (kept in the study)."""
        return {"experiment": self.exp.id, "objective": self.objective,
                "sampler": self.sampler, "space": {p.key: p.as_table() for p in self.params},
                "fixed": self.fixed()}

    def fixed(self) -> dict:
        """The settings every trial shares: preset, --set values, seed, replicates and the
        config they give (so that a config file with the same content on another host
        agrees). A trial's value is a mean over `seeds` replicates: trials of different
        counts are not comparable, so a worker with another --seeds may not join."""
        return {"preset": self.preset, "sets": self.sets, "seed": self.seed,
                "seeds": self.seeds, "config": self.base_config}

    def grid_size(self) -> int:
        """How many points the grid sampler visits."""
        size = 1
        for p in self.params:
            size *= len(p.grid_values())
        return size

    def sampler_seed(self) -> int | None:
        """The sampler's seed: distinct per worker, so that workers do not draw alike."""
        import socket

        if self.seed is None:
            return None
        if self.worker_index is not None:
            # modulo: Optuna's samplers take NumPy seeds (0 .. 2**32 - 1)
            return (self.seed * 1_000 + self.worker_index + 1) % 2**32
        if self.storage.shared:  # several hosts may run this same command
            return (self.seed * 1_000_003 + os.getpid() * 7_919
                    + hash(socket.gethostname()) % 1_000_000) % 2**31
        return self.seed


# ------------------------------------------------------------------ checks


def _check_choices(sampler: str, pruner: str, direction: str | None) -> None:
    if sampler not in SAMPLERS:
        raise BadInput(f"--sampler {sampler}: choose from {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise BadInput(f"--pruner {pruner}: choose from {', '.join(PRUNERS)}")
    if direction is not None and direction not in DIRECTIONS:
        raise BadInput(f"--direction {direction}: choose minimize or maximize")


def _check_numbers(trials, workers, population, heartbeat_interval, grace_period,
                   mutation_prob) -> None:
    checks = [(trials is not None and trials < 1, f"--trials {trials}: must be at least 1"),
              (workers < 1, f"--workers {workers}: must be at least 1"),
              (population < 2, f"--population {population}: must be at least 2"),
              (heartbeat_interval < 1, "--heartbeat-interval: must be at least 1 second"),
              (grace_period <= heartbeat_interval,
               "--grace-period: must be longer than --heartbeat-interval"),
              (mutation_prob is not None and not (math.isfinite(mutation_prob)
                                                  and 0.0 <= mutation_prob <= 1.0),
               f"--mutation-prob {mutation_prob}: must be in [0, 1]")]
    for bad, message in checks:
        if bad:
            raise BadInput(message)


def _storage_text(text: str | None) -> str | None:
    if text and text.startswith("env:"):
        name = text[4:]
        if not os.environ.get(name):
            raise BadInput(f"--storage {text}: environment variable {name} is not set")
        return os.environ[name]
    return text


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "study"


def _space_and_sets(exp: Experiment, space, sets: dict) -> tuple[list, str, dict]:
    """The parsed space, where it comes from, and every fixed config value."""
    fixed: dict = {}
    if space is None:
        tables, source, fixed = sp.default_space(exp)
    elif isinstance(space, dict):
        tables, source = sp.flatten_space(space, "", "space"), "the given space"
    else:
        tables, source = sp.read_space_file(space), str(space)
    params = sp.build_space(tables, exp, source)
    both = sorted(set(sets) & {p.key for p in params})
    if both:
        raise BadInput(f"--set {both[0]}: the key is also in the search space")
    return params, source, {**fixed, **sets}


def _objective(exp: Experiment, objective: str | None,
               direction: str | None) -> tuple[str, str]:
    """The objective key and its direction: the experiment's declared ones by default."""
    declared = exp.sweep
    if objective is None:
        if declared is None:
            raise BadInput(f"experiment {exp.id} declares no sweep objective: give "
                           "--objective KEY (a dotted key of its summary.json)")
        objective = declared.objective
    if not objective or objective.strip() != objective:
        raise BadInput(f"--objective {objective!r}: give a dotted key of summary.json")
    known = declared.direction_of(objective) if declared is not None else None
    if declared is not None and known is None:
        keys = ", ".join(declared.objectives)
        raise BadInput(f"--objective {objective}: not a number of {exp.id}'s summary that a "
                       f"sweep can optimise (# is a list index): {keys}")
    return objective, direction or known or "minimize"


def _prune_on(pruner: str, text: str | None, objective: str) -> tuple[str, str] | None:
    if pruner == "none":
        return None
    if text is None:
        # `cv_val_loss_mean` -> cv/val_loss_mean: curvefit's per-fold rows (DESIGN §6)
        m = re.fullmatch(r"(train|val|test|cv)_(\w+)", objective)
        if m is None:
            raise BadInput(f"--pruner {pruner}: give --prune-on SPLIT/METRIC (the "
                           f"objective {objective} names no split)")
        text = f"{m.group(1)}/{m.group(2)}"
    if text.count("/") != 1 or not all(text.split("/")):
        raise BadInput(f"--prune-on {text}: expected SPLIT/METRIC, e.g. val/loss")
    split, metric = text.split("/")
    return split, metric


def _target(s: Settings, trials: int | None) -> int:
    if s.sampler != "grid":
        return trials or DEFAULT_TRIALS
    size = s.grid_size()
    if size > MAX_GRID_POINTS:
        raise BadInput(f"the grid has {size} points (at most {MAX_GRID_POINTS}): give "
                       "fewer values (grid, n or step) per parameter")
    return min(trials or size, size)


def _check_folder(s: Settings) -> None:
    """The sweep folder must be new, empty, or this same shared study's folder."""
    from trainlab.run_folder import read_json

    d = s.sweep_dir
    if not d.exists() or (d.is_dir() and not any(d.iterdir())):
        return
    old = d / "sweep.json"
    same = False
    if s.storage.shared and old.is_file():
        try:
            info = read_json(old)
            same = info.get("study") == s.study_name and info.get("storage") == s.storage.shown
        except BadInput:
            same = False
    if not same:
        raise BadInput(f"{d}: exists and is not an empty folder (nor the folder of study "
                       f"{s.study_name!r} in this storage); choose --out or --study")


# ------------------------------------------------------------------ running


@dataclass
class SweepResult:
    """How a sweep ended: its folder, finished trials against the target, the exit code."""

    path: Path
    finished: int
    target: int
    exit_code: int
    why: str = ""


def _sweep_json(s: Settings) -> dict:
    from trainlab.run_folder import utc_now

    return {"experiment": s.exp.id, "study": s.study_name, "storage": s.storage.shown,
            "sampler": s.sampler, "trials": s.target, "objective": s.objective,
            "direction": s.direction, "space_source": s.space_source,
            "space": {p.key: p.as_table() for p in s.params}, "preset": s.preset,
            "sets": s.sets, "config_file": s.config_file, "seed": s.seed,
            "seeds": s.seeds, "workers": s.workers,
            "population": s.population if s.sampler == "ga" else None,
            "crossover": s.crossover if s.sampler == "ga" else None,
            "mutation_prob": s.mutation_prob, "pruner": s.pruner,
            "prune_on": "/".join(s.prune_on) if s.prune_on else None,
            "heartbeat_interval": s.heartbeat_interval, "grace_period": s.grace_period,
            "created": utc_now()}


def open_sweep(s: Settings):
    """Open the storage and the study (BadInput if it cannot), then make the folder."""
    from trainlab.run_folder import atomic_write_json
    from trainlab.sweeps.storage import import_optuna, open_storage

    import_optuna()
    from trainlab.sweeps import engine

    storage = open_storage(s.storage, s.heartbeat_interval, s.grace_period)
    study = engine.open_study(s, storage)
    (s.sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
    if s.worker_index is None:
        atomic_write_json(s.sweep_dir / "sweep.json", _sweep_json(s))
    return study, storage


REPORTS = ("page", "tables", "none")


def run_sweep(s: Settings, *, report: str = "page", echo: bool = True) -> SweepResult:
    """Run the study to its target and write the sweep folder; returns how it ended.

    `report`: `page` writes trials.csv, best.json, figures and report.html; `tables`
    only the first two; `none` nothing (a worker process: its parent reports). With
    `s.workers > 1` the trials run in worker processes on this host (the storage URL,
    password included, reaches them through their environment only). An interrupt
    (Ctrl-C) still writes the report of the trials so far before it propagates.
    """
    if report not in REPORTS:
        raise BadInput(f"report={report!r}: choose from {', '.join(REPORTS)}")
    from trainlab.sweeps import engine, workers
    from trainlab.sweeps.report import closing_line, write_report
    from trainlab.sweeps.storage import Liveness

    study, storage = open_sweep(s)
    why = ""
    try:
        if s.workers > 1:
            workers.run_workers(s, study)
        else:
            why = engine.work(s, study, Liveness(storage, s.heartbeat_interval,
                                                 s.grace_period), echo=echo)
    except KeyboardInterrupt:
        if report != "none":
            write_report(s, study, s.sweep_dir, full=report == "page")
        raise
    finished = engine.counts(study.get_trials(deepcopy=False))["finished"]
    code = 0 if finished >= s.target else 3
    if code and echo:
        print(f"trainlab sweep: {finished} of {s.target} trials finished"
              + (f" ({why})" if why else ""), file=sys.stderr)
    if report != "none":
        write_report(s, study, s.sweep_dir, full=report == "page")
        if s.runs_dir is not None and report == "page":
            from trainlab.report.site import write_index

            write_index(s.runs_dir)
        if echo:
            print(closing_line(s, study), file=sys.stderr)
    return SweepResult(s.sweep_dir, finished, s.target, code, why)
