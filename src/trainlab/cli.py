"""The `trainlab` command line (see docs/DESIGN.md §1).

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, no traceback);
3 the run failed; 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
from pathlib import Path

from trainlab import __version__
from trainlab.config import PRESETS, add_run_arguments, describe_fields, parse_sets
from trainlab.errors import BadInput
from trainlab.registry import all_experiments, get, known_ids
from trainlab.report.format import fmt

EXIT_BAD_INPUT = 2
EXIT_CODES = ("exit codes: 0 success; 2 bad usage or bad input (one line on stderr, nothing "
              "written); 3 the run failed (status.json says why); 130 interrupted")
# a destination that cannot be written at all is bad input; a full disk is a failure
_UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        # main() prints "trainlab: error: ", so only the subcommand is named here
        command = self.prog.removeprefix("trainlab").strip()
        raise BadInput(f"{command}: {message}" if command else message)


_KEEP_HELP = ("keep every checkpoint of a completed run (default: drop the .prev copies "
              "and the optimizer states, which only resume needs)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    add_run_arguments(
        p, preset="smoke | quick | full (default: full)",
        sets="override a config field (dotted keys, JSON values); repeatable",
        config="config file",
        seed="random seed (default: the experiment's own, the `seed` field of trainlab show EXP)",
        seeds="replicates: N runs with seeds seed, seed+1, … (default: the preset's)",
        runs_dir="parent of run folders (default: ./runs)")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trainlab", description="The classic experiments of a first "
                     "deep-learning course, one command each.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"trainlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lst = sub.add_parser("list", help="list the experiments")
    lst.add_argument("--markdown", action="store_true", help="as the README's markdown table")
    ids = ", ".join(known_ids())
    show = sub.add_parser("show", help="describe an experiment, its config and presets")
    show.add_argument("experiment", help=f"experiment id, one of: {ids}")
    run = sub.add_parser("run", help="run an experiment", epilog=EXIT_CODES)
    run.add_argument("experiment", help=f"experiment id, one of: {ids}")
    _add_run_options(run)
    run.add_argument("--out", help="exact run folder (must not exist or be empty)")
    run.add_argument("--keep-checkpoints", action="store_true", help=_KEEP_HELP)
    res = sub.add_parser("resume", help="continue an interrupted run", epilog=EXIT_CODES)
    res.add_argument("run_dir", help="the run folder to continue (runs/EXP/STAMP)")
    res.add_argument("--device", default=None, help="auto | cpu | cuda (default: the run's "
                     "own device, cpu when that is not available)")
    res.add_argument("--json", action="store_true", help="print summary.json to stdout")
    res.add_argument("--keep-checkpoints", action="store_true", help=_KEEP_HELP)
    cmp = sub.add_parser("compare", help="runs of one experiment side by side, with tests")
    cmp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                     help="two or more run folders of the same experiment")
    cmp.add_argument("--out", default="compare", help="folder of compare.html/.md "
                     "(default: ./compare)")
    rep = sub.add_parser("report", help="(re)build RUNS_DIR/index.html")
    rep.add_argument("runs_dir", nargs="?", default="runs",
                     help="folder holding the run folders (default: runs)")
    from trainlab.suite import add_arguments as add_suite

    add_suite(sub.add_parser("suite", help="run every experiment, then report"))
    from trainlab.diagnosis.command import add_arguments as add_diagnose

    add_diagnose(sub.add_parser("diagnose", help="every diagnostic on your own model "
                                "(SPEC.py: model(), data(), loss)"))
    from trainlab.sweeps.command import add_arguments as add_sweep

    add_sweep(sub.add_parser("sweep", help="hyperparameter search with Optuna"))
    from trainlab.watch import add_arguments as add_watch

    add_watch(sub.add_parser("watch", help="serve RUNS_DIR on 127.0.0.1 while runs train "
                             "(the index and reports reload themselves)"))
    return parser


def _cmd_list(markdown: bool = False) -> int:
    if markdown:
        from trainlab.docs import experiments_markdown

        print(experiments_markdown())
        return 0
    exps = all_experiments()
    width = max(len(e.id) for e in exps) if exps else 0
    for e in exps:
        print(f"{e.id:<{width}}  {e.purpose}")
    return 0


def _cmd_show(exp_id: str) -> int:
    exp = get(exp_id)
    print(f"{exp.id} — {exp.purpose}\nchapter: {exp.chapter}\n")
    if exp.question:
        print(exp.question.strip() + "\n")
    accepted = getattr(sys.modules.get(exp.run.__module__), "INPUT_FORMAT", "")
    if accepted:  # experiments that read the user's files say what they accept
        print("input files:\n" + "".join(f"  {line}\n" for line in accepted.splitlines()))
    print("config fields:")
    for row in describe_fields(exp.config):
        kind = row["type"] + (f", {row['range']}" if row["range"] else "")
        default = '""' if row["default"] == "" else fmt(row["default"])  # visible when empty
        print(f"  {row['key']} ({kind}, default {default})\n      {row['help']}")
    print("\npresets:")
    for name in PRESETS:
        over = exp.presets.get(name, {})
        text = ", ".join(f"{k}={json.dumps(v)}" for k, v in over.items()) or "(defaults)"
        print(f"  {name}: {text}")
    _show_replicates(exp)
    if exp.sweep is not None:
        _show_sweep(exp.sweep)
    return 0


def _show_replicates(exp) -> None:
    """Default replicates per preset, how they train, and the claims with verdicts."""
    from trainlab.replicates import claims_of, spec

    rep = spec(exp)
    how = "one ensemble" if rep.ensemble else "one after another"
    counts = ", ".join(f"{name} {rep.default(name)}" for name in PRESETS)
    print(f"\nreplicates (--seeds N overrides): {counts}; trained as {how}")
    claims = claims_of(exp)
    if claims:
        print("claims (summary.json `claims`, each with a verdict):")
    for claim in claims:
        print(f"  {claim.id}: {claim.statement}\n      statistic: {claim.statistic} "
              f"{claim.direction} {claim.threshold:g} ({claim.source})")


def _show_sweep(sweep) -> None:
    """The declared defaults of `trainlab sweep EXP` (objective, objectives, space)."""
    print(f"\nsweep (trainlab sweep): objective {sweep.objective} ({sweep.direction})")
    others = ", ".join(f"{k} ({d})" for k, d in sweep.objectives.items() if k != sweep.objective)
    print(f"  other objectives (# = list index): {others or '-'}")
    print(f"  space: {', '.join(sweep.space)}")
    if sweep.sets:
        print("  fixed: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sweep.sets.items()))


def _finish(outcome, as_json: bool) -> int:
    from trainlab.run_folder import to_json

    if as_json:
        if outcome.summary is not None:
            print(to_json(outcome.summary))
        print(outcome.path, file=sys.stderr)
    else:
        print(outcome.path)
    if outcome.state != "completed":
        print(f"trainlab: run {outcome.state}: {outcome.reason}", file=sys.stderr)
    elif outcome.reason:  # resume of a completed run: say that nothing was done
        print(f"trainlab: {outcome.reason}", file=sys.stderr)
    return outcome.exit_code


def _cmd_report(runs_dir: str) -> int:
    from trainlab.report.site import write_index
    from trainlab.run_folder import cannot_write

    if not Path(runs_dir).is_dir():
        raise BadInput(f"{runs_dir}: no such runs folder")
    try:
        print(write_index(runs_dir))
    except OSError as exc:  # a read-only or full runs folder
        raise BadInput(cannot_write(exc)) from None
    return 0


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        if not argv:  # a bare `trainlab`: the usage and the commands, not an error line
            print(parser.format_help(), end="", file=sys.stderr)
            return EXIT_BAD_INPUT
        args = parser.parse_args(argv)
        if args.command == "list":
            return _cmd_list(args.markdown)
        if args.command == "show":
            return _cmd_show(args.experiment)
        if args.command == "run":
            from trainlab.runner import execute

            outcome = execute(args.experiment, preset=args.preset, sets=parse_sets(args.sets),
                              config_file=args.config_file, seed=args.seed, device=args.device,
                              out=args.out, runs_dir=args.runs_dir, quiet=args.json,
                              seeds=args.seeds, keep_checkpoints=args.keep_checkpoints)
            return _finish(outcome, args.json)
        if args.command == "diagnose":
            from trainlab.diagnosis.command import from_args

            return _finish(from_args(args), args.json)
        if args.command == "resume":
            from trainlab.runner import resume

            return _finish(resume(args.run_dir, device=args.device, quiet=args.json,
                                  keep_checkpoints=args.keep_checkpoints), args.json)
        if args.command == "compare":
            from trainlab.compare import compare

            folder, table = compare(args.run_dirs, args.out)
            for i, d in enumerate(args.run_dirs, 1):
                print(f"run {i}: {d}")
            print(table)
            print(folder / "compare.html")
            return 0
        if args.command == "report":
            return _cmd_report(args.runs_dir)
        return args.func(args)
    except BadInput as exc:
        print(f"trainlab: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # runs handle their own; this is a destination outside a run
        from trainlab.run_folder import cannot_write

        print(f"trainlab: error: {cannot_write(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.errno in _UNWRITABLE else 3
    except BrokenPipeError:  # `trainlab show mnist | head`: the reader went away
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        return 0


if __name__ == "__main__":
    sys.exit(main())
