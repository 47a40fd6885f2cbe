"""`trainlab suite`: run every registered experiment, then build the runs index.

Experiments run one after another in this process, or in K worker processes
(`--workers K`, one thread each; `trainlab.suite_workers`). A failed experiment does
not stop the others; the suite then ends with exit code 3 and names the failures.
Ctrl-C stops the whole suite at once (exit 130). `--resume` continues an earlier suite
in the same runs folder: an experiment whose newest run of the same config completed is
kept, an interrupted or killed one is resumed from its checkpoints, any other is run
again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from trainlab.errors import BadInput
from trainlab.registry import all_experiments, get

EXIT_INTERRUPTED = 130
# states a resumed suite continues from the checkpoints (a kill -9 leaves "running")
RESUMABLE = ("interrupted", "running")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `trainlab suite`."""
    p.add_argument("--preset", default="quick", help="smoke | quick | full (default: quick)")
    p.add_argument("--only", default="", help="comma-separated experiment ids to run")
    p.add_argument("--skip", default="", help="comma-separated experiment ids to skip")
    p.add_argument("--runs-dir", default="runs", help="parent of run folders (default: ./runs)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    p.add_argument("--seed", type=int, default=None, help="seed for every experiment")
    p.add_argument("--seeds", default=None, metavar="N",
                   help="replicates per experiment (default: each preset's)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument("--resume", action="store_true",
                   help="continue an earlier suite in --runs-dir: keep the experiments that "
                   "completed, resume the interrupted ones, run the others")
    p.set_defaults(func=main)


def _select(only: str, skip: str) -> list[str]:
    ids = [e.id for e in all_experiments()]
    chosen = [s.strip() for s in only.split(",") if s.strip()] or ids
    skipped = {s.strip() for s in skip.split(",") if s.strip()}
    for exp_id in list(chosen) + list(skipped):
        get(exp_id)  # BadInput for an unknown id
    return [i for i in chosen if i not in skipped]


def previous_run(exp_id: str, args: argparse.Namespace) -> tuple[Path, str] | None:
    """The newest run of `exp_id` in the runs folder with the config this suite would run,
    and its state; None when there is none."""
    from trainlab.config import resolve, to_dict
    from trainlab.replicates import parse_count
    from trainlab.run_folder import read_json

    exp = get(exp_id)
    want = to_dict(resolve(exp.config, exp.presets, args.preset, None, None, args.seed))
    count = None if args.seeds is None else parse_count(args.seeds)
    root = Path(args.runs_dir) / exp_id
    folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    # folder names start with a UTC timestamp: name order is age order
    for folder in sorted(folders, reverse=True):
        try:
            saved, status = read_json(folder / "config.json"), read_json(folder / "status.json")
        except BadInput:
            continue  # not a run folder, or one cut before its first files
        if saved.get("preset") != args.preset or saved.get("config") != want:
            continue
        if count is not None and len(saved.get("seeds") or [saved.get("seed")]) != count:
            continue
        return folder, str(status.get("state"))
    return None


def _plan(exp_id: str, args: argparse.Namespace) -> tuple[str, Path | None]:
    """("run", None), ("keep", folder) or ("resume", folder)."""
    if not args.resume:
        return "run", None
    found = previous_run(exp_id, args)
    if found is None:
        return "run", None
    folder, state = found
    if state == "completed":
        return "keep", folder
    return ("resume", folder) if state in RESUMABLE else ("run", None)


def _run_inline(exp_id: str, args: argparse.Namespace) -> tuple[str, int, float, str]:
    from trainlab.runner import execute, resume

    t0 = time.perf_counter()
    action, folder = _plan(exp_id, args)
    if action == "keep":
        return exp_id, 0, 0.0, f"{folder} (kept)"
    try:
        if action == "resume":
            out = resume(folder, device=None if args.device == "auto" else args.device,
                         quiet=True)
        else:
            out = execute(exp_id, preset=args.preset, seed=args.seed, device=args.device,
                          runs_dir=args.runs_dir, quiet=True, seeds=args.seeds)
        return exp_id, out.exit_code, time.perf_counter() - t0, str(out.path)
    except BadInput as exc:
        return exp_id, 2, time.perf_counter() - t0, str(exc)


def _command(exp_id: str, args: argparse.Namespace) -> list[str] | str:
    """The `trainlab` arguments that run (or resume) one experiment in a worker, or the
    line to print when it is kept."""
    action, folder = _plan(exp_id, args)
    if action == "keep":
        return f"{folder} (kept)"
    if action == "resume":
        return ["resume", str(folder)] + ([] if args.device == "auto"
                                          else ["--device", args.device])
    cmd = ["run", exp_id, "--preset", args.preset, "--runs-dir", args.runs_dir,
           "--device", args.device]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.seeds is not None:
        cmd += ["--seeds", str(args.seeds)]
    return cmd


def _line(res: tuple[str, int, float, str]) -> None:
    print(f"  {res[0]:<16} exit {res[1]}  {res[2]:6.1f} s  {res[3]}", file=sys.stderr)


def _run_all(ids: list[str], args: argparse.Namespace) -> list[tuple[str, int, float, str]]:
    results = []
    if args.workers == 1:
        for exp_id in ids:
            results.append(_run_inline(exp_id, args))
            _line(results[-1])
            if results[-1][1] == EXIT_INTERRUPTED:
                break  # Ctrl-C inside a run stops the suite, not just that run
        return results
    from trainlab.suite_workers import SuiteWorkers

    return SuiteWorkers(args.workers).run_all(ids, lambda i: _command(i, args), _line)


def _verdict_line(results: list[tuple[str, int, float, str]]) -> str:
    """`claims: reproduced 30, not_reproduced 0, inconclusive 2` over the completed runs."""
    from trainlab.claims import counts
    from trainlab.run_folder import read_json

    claims = []
    for _, code, _, where in results:
        path = Path(where.removesuffix(" (kept)")) / "summary.json"
        if code == 0 and path.exists():
            claims += read_json(path).get("claims") or []
    n = counts(claims)
    return ("trainlab suite: claims: " + ", ".join(f"{k} {v}" for k, v in n.items())
            + "".join(f"; not reproduced: {c['id']}" for c in claims
                      if c.get("verdict") == "not_reproduced"))


def main(args: argparse.Namespace) -> int:
    """Run the suite; 0 when every experiment completed, 130 when interrupted, else 3."""
    from trainlab.config import check_seed
    from trainlab.run_folder import ensure_writable_dir

    ids = _select(args.only, args.skip)
    if args.workers < 1:
        raise BadInput("--workers must be at least 1")
    count = 1
    if args.seeds is not None:
        from trainlab.replicates import parse_count

        count = parse_count(args.seeds)
    if args.seed is not None:
        check_seed(args.seed, count=count)
    ensure_writable_dir(args.runs_dir)
    t0 = time.perf_counter()
    print(f"trainlab suite: {len(ids)} experiments, preset {args.preset}", file=sys.stderr)
    results = _run_all(ids, args)
    from trainlab.report.site import write_index

    index = write_index(args.runs_dir)
    if any(r[1] == EXIT_INTERRUPTED for r in results):
        print(f"trainlab suite: interrupted after {time.perf_counter() - t0:.1f} s; "
              "continue with: trainlab suite --resume (same options)", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [r[0] for r in results if r[1] != 0]
    print(f"trainlab suite: {len(results) - len(failed)}/{len(results)} completed in "
          f"{time.perf_counter() - t0:.1f} s" + (f"; failed: {', '.join(failed)}" if failed
                                                 else ""), file=sys.stderr)
    print(_verdict_line(results), file=sys.stderr)
    print(index.resolve())
    return 3 if failed else 0
