"""`trainlab sweep EXP`: hyperparameter search with Optuna (docs/DESIGN.md §6).

    trainlab sweep EXP --sampler grid|random|tpe|ga --trials N [--space FILE.toml]
        [--storage URL] [--study NAME] [--workers K] [--objective KEY]
        [--direction minimize|maximize] [--population P] [--crossover NAME]
        [--mutation-prob X] [--pruner none|median|halving] [--prune-on SPLIT/METRIC]
        [--preset P] [--set k=v ...] [--config FILE] [--seed N] [--device D]
        [--runs-dir DIR] [--out DIR]

Storage: in memory (default), `journal:PATH` (processes on one host),
`postgresql://USER:PASSWORD@HOST:PORT/DB` or `sqlite:///PATH` (many hosts: run the same
command on each), or `env:VAR` to read any of these from an environment variable.
`--trials N` is the number of finished (complete or pruned) trials the study must
reach across all workers. The sweep folder (`RUNS_DIR/sweeps/<study>/` or `--out`)
is printed as the last line of stdout. The work is done by `trainlab.sweeps`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from pathlib import Path

from trainlab.config import parse_sets, resolve
from trainlab.errors import BadInput
from trainlab.registry import get

SAMPLERS = ("grid", "random", "tpe", "ga")
DEFAULT_TRIALS = 20
MAX_GRID_POINTS = 100_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `trainlab sweep` (called by `trainlab.cli.build_parser`)."""
    p.add_argument("experiment")
    p.add_argument("--sampler", default="tpe", choices=SAMPLERS,
                   help="grid | random | tpe | ga (NSGA-II genetic algorithm); default tpe")
    p.add_argument("--trials", type=int, default=None,
                   help="finished trials the study must reach across all workers "
                        f"(default {DEFAULT_TRIALS}; grid: every point)")
    p.add_argument("--space", metavar="FILE.toml", help="search space (default: the "
                   "experiment's, else one derived from its lr/batch_size/... fields)")
    p.add_argument("--storage", metavar="URL", help="journal:PATH, postgresql://…, "
                   "sqlite:///PATH or env:VAR (default: in memory)")
    p.add_argument("--study", metavar="NAME", help="study name (shared storage: every "
                   "worker and host uses the same name)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this host")
    p.add_argument("--objective", metavar="KEY", help="dotted key of summary.json to optimise")
    p.add_argument("--direction", choices=("minimize", "maximize"))
    p.add_argument("--population", type=int, default=30, help="ga: individuals per "
                   "generation (default 30)")
    p.add_argument("--crossover", default="uniform", help="ga: uniform | blxalpha | sbx | "
                   "vsbx | undx | spx (default uniform)")
    p.add_argument("--mutation-prob", type=float, default=None, help="ga: probability of "
                   "mutating each parameter (default 1/number of parameters)")
    p.add_argument("--pruner", default="none", choices=("none", "median", "halving"),
                   help="stop unpromising trials early (default none)")
    p.add_argument("--prune-on", metavar="SPLIT/METRIC", help="metric the pruner watches "
                   "each epoch (default: from the objective, e.g. test_loss -> test/loss)")
    p.add_argument("--preset", default="full", help="smoke | quick | full (default: full)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="fixed config value for every trial; repeatable")
    p.add_argument("--config", dest="config_file", metavar="FILE.toml", help="config file")
    p.add_argument("--seed", type=int, help="seed of the sampler and of every trial's run")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument("--runs-dir", default="runs", help="parent of sweeps/ (default: ./runs)")
    p.add_argument("--out", help="exact sweep folder")
    p.add_argument("--heartbeat-interval", type=int, default=5, help="seconds between "
                   "heartbeats of a running trial (shared storage; default 5)")
    p.add_argument("--grace-period", type=int, default=15, help="seconds without heartbeat "
                   "after which a trial is failed (default 15)")
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=main)


def _storage_text(text: str | None) -> str | None:
    if text and text.startswith("env:"):
        name = text[4:]
        if not os.environ.get(name):
            raise BadInput(f"--storage {text}: environment variable {name} is not set")
        return os.environ[name]
    return text


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "study"


def _check_numbers(args) -> None:
    if args.trials is not None and args.trials < 1:
        raise BadInput(f"--trials {args.trials}: must be at least 1")
    if args.workers < 1:
        raise BadInput(f"--workers {args.workers}: must be at least 1")
    if args.population < 2:
        raise BadInput(f"--population {args.population}: must be at least 2")
    if args.heartbeat_interval < 1:
        raise BadInput("--heartbeat-interval: must be at least 1 second")
    if args.grace_period <= args.heartbeat_interval:
        raise BadInput("--grace-period: must be longer than --heartbeat-interval")


def prepare(args):
    """Check everything, open the storage and the study, make the sweep folder."""
    from trainlab.sweeps.storage import import_optuna, open_storage, parse_storage

    import_optuna()
    from trainlab.runs import atomic_write_json, read_json, utc_now
    from trainlab.sweeps import engine, space

    _check_numbers(args)
    exp = get(args.experiment)
    user_sets = parse_sets(args.sets)
    ga_default = None
    if args.space:
        tables, source, fixed = space.read_space_file(args.space), str(args.space), {}
    else:
        tables, source, fixed = space.default_space(exp, args.sampler)
        if args.sampler == "ga" and source.endswith("genetic-algorithm exercise"):
            ga_default = space.GA_DEFAULTS[exp.id]
    params = space.build_space(tables, exp, source)
    both = sorted(set(user_sets) & {p.key for p in params})
    if both:
        raise BadInput(f"--set {both[0]}: the key is also in the search space")
    sets = {**fixed, **user_sets}
    resolve(exp.config, exp.presets, args.preset, args.config_file, sets, args.seed)
    space.check_values(params, exp, args.preset, args.config_file, sets, args.seed)

    objective = args.objective or (ga_default or {}).get("objective") or exp.sweep_objective
    if not objective:
        raise BadInput(f"experiment {exp.id} declares no sweep objective: give --objective "
                       "KEY (a dotted key of its summary.json, e.g. runs.0.final_loss)")
    direction = (args.direction or (ga_default or {}).get("direction")
                 or exp.sweep_direction or "minimize")
    prune_on = None
    if args.pruner != "none":
        text = args.prune_on
        if text is None:
            m = re.fullmatch(r"(train|val|test)_(\w+)", objective)
            if m is None:
                raise BadInput(f"--pruner {args.pruner}: give --prune-on SPLIT/METRIC (the "
                               f"objective {objective} names no split)")
            text = f"{m.group(1)}/{m.group(2)}"
        if text.count("/") != 1 or not all(text.split("/")):
            raise BadInput(f"--prune-on {text}: expected SPLIT/METRIC, e.g. val/loss")
        prune_on = tuple(text.split("/"))

    spec = parse_storage(_storage_text(args.storage))
    if args.workers > 1 and not spec.shared:
        raise BadInput(f"--workers {args.workers}: several workers need a shared storage: "
                       "--storage journal:PATH (one host) or postgresql://… (many hosts)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    study_name = args.study or (f"{exp.id}-{args.sampler}" if spec.shared
                                else f"{exp.id}-{args.sampler}-{stamp}")
    sweep_dir = Path(args.out) if args.out else Path(args.runs_dir) / "sweeps" / _safe(study_name)
    s = engine.Settings(
        exp=exp, sampler=args.sampler, target=0, params=params, space_source=source,
        objective=objective, direction=direction, preset=args.preset,
        config_file=args.config_file, sets=sets, seed=args.seed, device=args.device,
        storage=spec, study_name=study_name, sweep_dir=sweep_dir, workers=args.workers,
        worker_index=args.worker_index, population=args.population, crossover=args.crossover,
        mutation_prob=args.mutation_prob, pruner=args.pruner, prune_on=prune_on,
        heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period)
    if args.sampler == "grid":
        size = s.grid_size()
        if size > MAX_GRID_POINTS:
            raise BadInput(f"the grid has {size} points (at most {MAX_GRID_POINTS}): give "
                           "fewer values (grid, n or step) per parameter")
        s.target = min(args.trials or size, size)
    else:
        s.target = args.trials or DEFAULT_TRIALS

    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        old = sweep_dir / "sweep.json"
        same = False
        if spec.shared and old.is_file():
            try:
                info = read_json(old)
                same = info.get("study") == study_name and info.get("storage") == spec.shown
            except BadInput:
                same = False
        if not same:
            raise BadInput(f"{sweep_dir}: exists and is not an empty folder (nor the folder "
                           f"of study {study_name!r} in this storage); choose --out or --study")
    storage = open_storage(spec, args.heartbeat_interval, args.grace_period)
    study = engine.open_study(s, storage)
    (sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
    if args.worker_index is None:
        atomic_write_json(sweep_dir / "sweep.json", {
            "experiment": exp.id, "study": study_name, "storage": spec.shown,
            "sampler": args.sampler, "trials": s.target, "objective": objective,
            "direction": direction, "space_source": source,
            "space": {p.key: p.as_table() for p in params}, "preset": args.preset,
            "sets": sets, "seed": args.seed, "workers": args.workers,
            "population": args.population if args.sampler == "ga" else None,
            "crossover": args.crossover if args.sampler == "ga" else None,
            "mutation_prob": args.mutation_prob, "pruner": args.pruner,
            "prune_on": "/".join(prune_on) if prune_on else None,
            "heartbeat_interval": args.heartbeat_interval, "grace_period": args.grace_period,
            "created": utc_now()})
    return s, study, storage


def child_argv(args, s) -> list[str]:
    """The command line of one worker process (same sweep, one worker, no report)."""
    argv = ["sweep", s.exp.id, "--sampler", s.sampler, "--trials", str(s.target),
            "--storage", "env:TRAINLAB_SWEEP_STORAGE", "--study", s.study_name,
            "--out", str(s.sweep_dir.resolve()), "--workers", "1", "--no-report",
            "--objective", s.objective, "--direction", s.direction,
            "--population", str(s.population), "--crossover", s.crossover,
            "--pruner", s.pruner, "--preset", s.preset, "--device", s.device,
            "--heartbeat-interval", str(s.heartbeat_interval),
            "--grace-period", str(s.grace_period)]
    if args.space:
        argv += ["--space", str(Path(args.space).resolve())]
    if args.config_file:
        argv += ["--config", str(Path(args.config_file).resolve())]
    if args.mutation_prob is not None:
        argv += ["--mutation-prob", repr(args.mutation_prob)]
    if s.prune_on:
        argv += ["--prune-on", "/".join(s.prune_on)]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    for item in args.sets:
        argv += ["--set", item]
    return argv


def main(args) -> int:
    """Entry of `trainlab sweep`; returns the exit code."""
    from trainlab.sweeps import engine, workers
    from trainlab.sweeps.report import write_report
    from trainlab.sweeps.storage import Liveness

    s, study, storage = prepare(args)
    code, why = 0, ""
    if s.workers > 1:
        os.environ["TRAINLAB_SWEEP_STORAGE"] = _storage_text(args.storage) or ""
        rcs, logs = workers.run_workers(s, study, child_argv(args, s))
        errors = [workers.last_error_line(log) for log, rc in zip(logs, rcs, strict=True)
                  if rc == 2]
        if errors and len(errors) == len(rcs) and errors[0]:
            raise BadInput(errors[0])
        killed = [i for i, rc in enumerate(rcs) if rc not in (0, 3)]
        if killed:
            print(f"trainlab sweep: worker(s) {', '.join(map(str, killed))} ended with "
                  f"{', '.join(str(rcs[i]) for i in killed)} (see {s.sweep_dir}/workers/)",
                  file=sys.stderr)
    else:
        liveness = Liveness(storage, s.heartbeat_interval, s.grace_period)
        try:
            why = engine.work(s, study, liveness)
        except KeyboardInterrupt:
            if not args.no_report:
                write_report(s, study, s.sweep_dir)
            raise
    finished = engine.counts(study.get_trials(deepcopy=False))["finished"]
    if finished < s.target:
        code = 3
        print(f"trainlab sweep: {finished} of {s.target} trials finished"
              + (f" ({why})" if why else ""), file=sys.stderr)
    if not args.no_report:
        write_report(s, study, s.sweep_dir)
        if not args.out:
            from trainlab.report.site import write_index

            write_index(args.runs_dir)
    print(s.sweep_dir)
    return code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise BadInput(f"sweep: {message}")


def run_sweep(exp: str, sampler: str = "tpe", trials: int | None = None,
              sets: dict | None = None, **options) -> Path:
    """Run a sweep from Python, like `trainlab sweep`; returns the sweep folder.

    Options are the command's, with underscores: `space="space.toml"`,
    `storage="journal:runs/s.journal"`, `objective="test_loss"`, `preset="smoke"`,
    `population=12`, `runs_dir=...`. `sets` are config overrides (`--set k=v`).
    Raises `BadInput` for bad input and `RunFailed` when the study missed its target.
    """
    import contextlib
    import io
    import json

    from trainlab.errors import RunFailed

    argv = [exp, "--sampler", sampler]
    if trials is not None:
        argv += ["--trials", str(trials)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    for key, value in (sets or {}).items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    parser = _Parser(prog="trainlab sweep")
    add_arguments(parser)
    args = parser.parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    lines = out.getvalue().strip().splitlines()
    if code != 0 or not lines:
        raise RunFailed(f"sweep {exp} ended with exit code {code}")
    return Path(lines[-1])


class _CallableModule(type(sys)):
    """`trainlab.sweep(...)` stays the API function even after `import trainlab.sweep`
    has made the package attribute this module."""

    def __call__(self, *args, **kwargs):
        return run_sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
