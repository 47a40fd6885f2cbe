"""Run every benchmark in bench/ with --json and print one table (`make bench`).

Usage: python bench/run_all.py [--quick] [--device cuda] [--threads N] [--only NAME,...]
                               [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["ensemble", "minimal_ratio", "hessian", "sensitivity", "cnn", "compile", "diagnose",
           "tables", "surface"]


# per-case fields worth a column of the table, when a script reports them
NOTES = ["vs_jax", "baseline_reached", "trainlab_reached", "baseline_peak_mib",
         "trainlab_peak_mib", "top5_max_rel_diff", "max_rel_diff", "baseline_accuracy",
         "trainlab_accuracy", "baseline_fraction_of_fp32_peak",
         "trainlab_fraction_of_fp32_peak", "compile_s", "break_even_steps",
         "trainlab_max_rel_diff", "baseline_max_rel_diff", "rows_per_s"]


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--only", default="")
    p.add_argument("--out", default="", help="also write every script's JSON to this file")
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
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)
    print("| benchmark | size | baseline (s) | trainlab (s) | ratio | also measured |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for c in r["cases"]:
            size = ", ".join(f"{k}={v}" for k, v in c["size"].items())
            extra = "; ".join(f"{k} {_short(c[k])}" for k in NOTES if k in c)
            print(f"| {r['name']} | {size} | {c['baseline_s']:.3f} | {c['trainlab_s']:.3f} | "
                  f"{c['ratio']}× | {extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
