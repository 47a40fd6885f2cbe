"""`trainlab sweep EXP`: hyperparameter search with Optuna (docs/DESIGN.md §6).

    trainlab sweep EXP [--sampler grid|random|tpe|ga] [--trials N] [--space FILE.toml]
        [--storage URL] [--study NAME] [--workers K] [--objective KEY]
        [--direction minimize|maximize] [--population P] [--crossover NAME]
        [--mutation-prob X] [--pruner none|median|halving] [--prune-on SPLIT/METRIC]
        [--preset P] [--set k=v ...] [--config FILE] [--seed N] [--seeds N] [--device D]
        [--runs-dir DIR] [--out DIR]

The options become `trainlab.sweeps.settings.Settings` (the same typed settings that
`trainlab.sweep(...)` builds), and `run_sweep` does the work. The sweep folder
(`RUNS_DIR/sweeps/<study>/` or `--out`) is printed as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json

from trainlab.config import add_run_arguments, parse_sets
from trainlab.errors import BadInput

SAMPLERS = ("grid", "random", "tpe", "ga")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `trainlab sweep` (called by `trainlab.cli.build_parser`)."""
    p.add_argument("experiment", help="experiment id (trainlab list)")
    p.add_argument("--sampler", default="tpe", choices=SAMPLERS,
                   help="grid | random | tpe | ga (NSGA-II genetic algorithm); default tpe")
    p.add_argument("--trials", type=int, default=None,
                   help="finished trials the study must reach across all workers "
                        "(default 20; grid: every point)")
    p.add_argument("--space", metavar="FILE.toml", help="search space (default: the "
                   "experiment's declared space and fixed values; see trainlab show EXP)")
    p.add_argument("--storage", metavar="URL", help="journal:PATH, postgresql://…, "
                   "sqlite:///PATH or env:VAR (default: in memory)")
    p.add_argument("--study", metavar="NAME", help="study name; every worker and host of "
                   "one sweep uses the same (default: EXP-SAMPLER with a shared storage, "
                   "EXP-SAMPLER-TIMESTAMP in memory)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this host "
                   "(default 1; more need a shared --storage)")
    p.add_argument("--objective", metavar="KEY", help="dotted key of summary.json to "
                   "optimise (default: the experiment's declared objective; see trainlab "
                   "show EXP for the others)")
    p.add_argument("--direction", choices=("minimize", "maximize"),
                   help="minimize | maximize (default: the declared direction of the "
                        "objective, else minimize)")
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
    add_run_arguments(
        p, preset="preset of every trial: smoke | quick | full (default: full)",
        sets="fixed config value for every trial; repeatable",
        config="config file of every trial",
        seed="seed of the sampler and of every trial's run (default: the experiment's)",
        seeds="replicates per trial (seeds seed, seed+1, …; default: the preset's); the "
              "trial's value is their mean",
        runs_dir="parent of sweeps/ (default: ./runs)")
    p.add_argument("--out", help="exact sweep folder")
    p.add_argument("--heartbeat-interval", type=int, default=5, help="seconds between "
                   "heartbeats of a running trial (shared storage; default 5)")
    p.add_argument("--grace-period", type=int, default=15, help="seconds without heartbeat "
                   "after which a trial is failed (default 15)")
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--space-json", default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=main)


def settings_from_args(args):
    """The typed settings of a parsed `trainlab sweep` command line."""
    from trainlab.sweeps.settings import Settings

    space = args.space
    if args.space_json is not None:  # a worker process: the parent's parsed space
        try:
            space = json.loads(args.space_json)
        except ValueError:
            raise BadInput("--space-json: not JSON") from None
    return Settings.from_options(
        args.experiment, sampler=args.sampler, trials=args.trials, space=space,
        objective=args.objective, direction=args.direction, storage=args.storage,
        study=args.study, workers=args.workers, preset=args.preset,
        sets=parse_sets(args.sets), config_file=args.config_file, seed=args.seed,
        device=args.device, runs_dir=args.runs_dir, out=args.out,
        population=args.population, crossover=args.crossover,
        mutation_prob=args.mutation_prob, pruner=args.pruner, prune_on=args.prune_on,
        heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period,
        worker_index=args.worker_index, seeds=args.seeds)


def main(args) -> int:
    """Entry of `trainlab sweep`; prints the sweep folder and returns the exit code."""
    from trainlab.sweeps.settings import run_sweep

    result = run_sweep(settings_from_args(args), report="none" if args.no_report else "page")
    print(result.path)
    return result.exit_code
