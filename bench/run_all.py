"""Run every benchmark in bench/ with --json and print one table (`make bench`).

Usage: python bench/run_all.py [--quick] [--device cuda] [--threads N] [--only NAME,...]
                               [--out results.json]

Exit code 1 when a benchmark failed (the table has the others); 2 for --device cuda
without a CUDA device.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["ensemble", "minimal_ratio", "hessian", "sensitivity", "cnn", "compile", "diagnose",
           "tables", "surface", "live", "replicates"]
# The scripts with a GPU path (made with `_common.parser(..., cuda=True)`); with
# --device cuda the others are skipped, as they would measure the CPU under that name.
CUDA_SCRIPTS = {"ensemble", "cnn", "compile"}


# per-case fields worth a column of the table, when a script reports them
NOTES = ["vs_jax", "baseline_reached", "trainlab_reached", "baseline_peak_mib",
         "trainlab_peak_mib", "top5_max_rel_diff", "max_rel_diff", "baseline_accuracy",
         "trainlab_accuracy", "baseline_fraction_of_fp32_peak",
         "trainlab_fraction_of_fp32_peak", "compile_s", "break_even_steps",
         "trainlab_max_rel_diff", "baseline_max_rel_diff", "rows_per_s", "overhead",
         "writes"]


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cuda runs the scripts with a GPU path and skips the others "
                   "(default: cpu)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--only", default="")
    p.add_argument("--out", default="", help="also write every script's JSON to this file")
    args = p.parse_args()
    if args.device == "cuda" and not _cuda_available():
        p.exit(2, f"{p.prog}: error: --device cuda: no CUDA device is available\n")
    only = [s for s in args.only.split(",") if s]
    results, failed = [], []
    for name in SCRIPTS:
        script = HERE / f"{name}.py"
        if (only and name not in only) or not script.exists():
            continue
        if args.device == "cuda" and name not in CUDA_SCRIPTS:
            print(f"skipping {name}: it measures the CPU only", file=sys.stderr)
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        proc = subprocess.run(_command(script, args), capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"  {name} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            failed.append(name)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)
    _print_table(results)
    if failed:  # the table above has the others; the exit code says not all ran
        print(f"run_all: {len(failed)} benchmark(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


def _cuda_available() -> bool:
    import torch  # only for --device cuda: the plain CPU run imports torch in the scripts

    return torch.cuda.is_available()


def _command(script: Path, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, str(script), "--json", "--device", args.device]
    if args.quick:
        cmd.append("--quick")
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


def _print_table(results: list[dict]) -> None:
    print("| benchmark | device | size | baseline (s) | trainlab (s) | ratio | also measured |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        device = r["settings"].get("device", "cpu")
        for c in r["cases"]:
            size = ", ".join(f"{k}={v}" for k, v in c["size"].items())
            extra = "; ".join(f"{k} {_short(c[k])}" for k in NOTES if k in c)
            print(f"| {r['name']} | {device} | {size} | {c['baseline_s']:.3f} | "
                  f"{c['trainlab_s']:.3f} | {c['ratio']}× | {extra} |")


if __name__ == "__main__":
    sys.exit(main())
