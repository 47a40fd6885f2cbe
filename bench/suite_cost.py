"""Wall time and peak memory of every experiment at one preset, each in its own process.

Runs `python -m trainlab run ID --preset P` for each registered experiment, one after
another, and reads the child's peak resident set size from `os.wait4` (Linux reports
`ru_maxrss` in KiB). With `--workers K` it times `trainlab suite --preset P --workers K`
instead, as one command (the suite budgets are for that), with each experiment's seconds
as the suite printed them (`peak_rss_mib` is then the suite's largest child). Prints a
table, or one JSON object with `--json`; the issue's limits (DESIGN §8) are 3 min for
`--preset quick`, 20 min for `--preset full`, and no experiment above 4 GiB. Not a ratio
benchmark, so `make bench` does not run it: `make bench-suite` (full preset, 2 workers)
or `python bench/suite_cost.py --preset quick --workers 2`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

from trainlab.registry import all_experiments


def run_one(exp_id: str, preset: str, runs_dir: str) -> dict:
    """One experiment in a child process: exit code, seconds, peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "trainlab", "run", exp_id, "--preset", preset,
           "--runs-dir", runs_dir]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, MPLBACKEND="Agg"))
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"experiment": exp_id, "exit": proc.returncode,
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "error": stderr.strip().splitlines()[-1] if proc.returncode and stderr.strip()
            else None}


SUITE_LINE = re.compile(r"^\s+(?P<id>\S+)\s+exit (?P<exit>-?\d+)\s+(?P<s>[\d.]+) s")


def run_suite(preset: str, workers: int, only: str, runs_dir: str) -> tuple[list[dict], float]:
    """`trainlab suite` as one child: each experiment's row (as it printed) and the wall time."""
    cmd = [sys.executable, "-m", "trainlab", "suite", "--preset", preset, "--workers",
           str(workers), "--runs-dir", runs_dir] + (["--only", only] if only else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = [{"experiment": m["id"], "exit": int(m["exit"]), "seconds": float(m["s"])}
            for m in map(SUITE_LINE.match, proc.stderr.splitlines()) if m]
    for row in rows:
        row["peak_rss_mib"] = round(peak, 1)
    if proc.returncode and not rows:
        rows = [{"experiment": "suite", "exit": proc.returncode, "seconds": round(wall, 1),
                 "peak_rss_mib": round(peak, 1),
                 "error": (proc.stderr.strip().splitlines() or [""])[-1]}]
    return rows, wall


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="full", help="smoke | quick | full (default: full)")
    p.add_argument("--only", default="", help="comma-separated experiment ids")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--workers", type=int, default=0, help="time `trainlab suite --workers K` "
                   "as one command instead (default 0: each experiment alone)")
    p.add_argument("--runs-dir", default="", help="keep the run folders here (default: a "
                   "temporary folder, removed at the end)")
    args = p.parse_args()
    only = {s for s in args.only.split(",") if s}
    ids = [e.id for e in all_experiments() if not only or e.id in only]
    rows, wall = [], None
    with tempfile.TemporaryDirectory(prefix="trainlab-suite-bench-") as tmp:
        runs_dir = args.runs_dir or tmp
        if args.workers:
            rows, wall = run_suite(args.preset, args.workers, args.only, runs_dir)
            ids = []
        for exp_id in ids:
            row = run_one(exp_id, args.preset, runs_dir)
            rows.append(row)
            if not args.json:
                print(f"{exp_id:<18} exit {row['exit']}  {row['seconds']:7.1f} s  "
                      f"peak RSS {row['peak_rss_mib']:7.1f} MiB", flush=True)
    total = round(wall if wall is not None else sum(r["seconds"] for r in rows), 1)
    result = {"name": "suite", "preset": args.preset, "workers": args.workers or None,
              "cases": rows, "total_s": total,
              "max_peak_rss_mib": max(r["peak_rss_mib"] for r in rows),
              "versions": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    if args.json:
        print(json.dumps(result))
    else:
        for row in rows if args.workers else []:
            print(f"{row['experiment']:<18} exit {row['exit']}  {row['seconds']:7.1f} s")
        print(f"total {total:.1f} s ({total / 60:.1f} min); largest peak RSS "
              f"{result['max_peak_rss_mib']:.0f} MiB")
    return 0 if all(r["exit"] == 0 for r in rows) else 3


if __name__ == "__main__":
    sys.exit(main())
