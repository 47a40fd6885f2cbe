"""Run every benchmark in bench/ with --json and print one table (`make bench`).

Usage: python bench/run_all.py [--quick] [--device cuda] [--threads N] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["ensemble", "minimal_ratio", "hessian", "sensitivity", "cnn", "compile"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--only", default="")
    args = p.parse_args()
    only = [s for s in args.only.split(",") if s]
    results = []
    for name in SCRIPTS:
        script = HERE / f"{name}.py"
        if (only and name not in only) or not script.exists():
            continue
        cmd = [sys.executable, str(script), "--json"]
        if args.device != "cpu":
            cmd += ["--device", args.device]
        if args.quick:
            cmd.append("--quick")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"running {name} …", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"  {name} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("| benchmark | size | baseline (s) | trainlab (s) | ratio |")
    print("|---|---|---|---|---|")
    for r in results:
        for c in r["cases"]:
            size = ", ".join(f"{k}={v}" for k, v in c["size"].items())
            print(f"| {r['name']} | {size} | {c['baseline_s']:.3f} | {c['trainlab_s']:.3f} | "
                  f"{c['ratio']}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
