"""`trainlab suite`: run every registered experiment, then build the runs index.

Experiments run one after another in this process, or in K worker processes
(`--workers K`, one thread each). A failed experiment does not stop the others; the
suite then ends with exit code 3 and names the failures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trainlab.errors import BadInput
from trainlab.registry import all_experiments, get


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
    p.set_defaults(func=main)


def _select(only: str, skip: str) -> list[str]:
    ids = [e.id for e in all_experiments()]
    chosen = [s.strip() for s in only.split(",") if s.strip()] or ids
    skipped = {s.strip() for s in skip.split(",") if s.strip()}
    for exp_id in list(chosen) + list(skipped):
        get(exp_id)  # BadInput for an unknown id
    return [i for i in chosen if i not in skipped]


def _run_subprocess(exp_id: str, args: argparse.Namespace) -> tuple[str, int, float, str]:
    cmd = [sys.executable, "-m", "trainlab", "run", exp_id, "--preset", args.preset,
           "--runs-dir", args.runs_dir, "--device", args.device]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.seeds is not None:
        cmd += ["--seeds", str(args.seeds)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TRAINLAB_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    out_lines = (proc.stdout or "").strip().splitlines()
    err_lines = (proc.stderr or "").strip().splitlines()
    where = out_lines[-1] if out_lines else (err_lines[-1] if err_lines else "")
    return exp_id, proc.returncode, time.perf_counter() - t0, where


def _run_inline(exp_id: str, args: argparse.Namespace) -> tuple[str, int, float, str]:
    from trainlab.runner import execute

    t0 = time.perf_counter()
    try:
        out = execute(exp_id, preset=args.preset, seed=args.seed, device=args.device,
                      runs_dir=args.runs_dir, quiet=True, seeds=args.seeds)
        return exp_id, out.exit_code, time.perf_counter() - t0, str(out.path)
    except BadInput as exc:
        return exp_id, 2, time.perf_counter() - t0, str(exc)


def main(args: argparse.Namespace) -> int:
    """Run the suite; returns 0 when every experiment completed, else 3."""
    ids = _select(args.only, args.skip)
    if args.workers < 1:
        raise BadInput("--workers must be at least 1")
    if args.seeds is not None:
        from trainlab.replicates import parse_count

        parse_count(args.seeds)
    Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = []
    print(f"trainlab suite: {len(ids)} experiments, preset {args.preset}", file=sys.stderr)
    if args.workers == 1:
        for exp_id in ids:
            res = _run_inline(exp_id, args)
            results.append(res)
            print(f"  {res[0]:<16} exit {res[1]}  {res[2]:6.1f} s  {res[3]}", file=sys.stderr)
    else:
        with ThreadPoolExecutor(args.workers) as pool:
            for res in pool.map(lambda i: _run_subprocess(i, args), ids):
                results.append(res)
                print(f"  {res[0]:<16} exit {res[1]}  {res[2]:6.1f} s  {res[3]}",
                      file=sys.stderr)
    from trainlab.report.site import write_index

    index = write_index(args.runs_dir)
    failed = [r[0] for r in results if r[1] != 0]
    print(f"trainlab suite: {len(results) - len(failed)}/{len(results)} completed in "
          f"{time.perf_counter() - t0:.1f} s" + (f"; failed: {', '.join(failed)}" if failed
                                                 else ""), file=sys.stderr)
    print(index.resolve())
    return 3 if failed else 0
