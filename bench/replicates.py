"""Replicates as one ensemble against separate single-seed runs, in one process.

An MLP-family experiment (polyfit: a linear neuron on polynomial features, three
learning rates) run with `--seeds 10` trains its 10 replicates as extra members of one
ensemble (`run_seeds`); the plain way is 10 runs with seeds s…s+9, one after another.
Both go through the same `trainlab.runner.execute` (folders, figures and reports
included) in this process; each replicate of the ensemble run is checked against its
separate run (largest relative difference of its coefficient errors).

    python bench/replicates.py [--json] [--quick] [--replicates N] [--preset P]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402

from trainlab.runner import execute  # noqa: E402


def _errors(summary: dict) -> np.ndarray:
    return np.array([r["max_abs_coeff_error"] for r in summary["runs"]])


def measure(exp: str, preset: str, n: int, seed: int, root: Path) -> dict:
    """Times of n separate runs and of one n-replicate run, and how far they differ."""
    t0 = time.perf_counter()
    separate = [execute(exp, preset=preset, seed=seed + k, seeds=1, out=root / f"one-{k}",
                        progress=False, quiet=True).summary for k in range(n)]
    baseline = time.perf_counter() - t0
    t0 = time.perf_counter()
    together = execute(exp, preset=preset, seed=seed, seeds=n, out=root / "all",
                       progress=False, quiet=True).summary
    ours = time.perf_counter() - t0
    diff = max(float(np.max(np.abs(_errors(r["summary"]) - _errors(s)) / np.abs(_errors(s))))
               for r, s in zip(together["replicates"], separate, strict=True))
    return {"size": {"E": n}, "baseline_s": round(baseline, 3), "trainlab_s": round(ours, 3),
            "max_rel_diff_of_replicates": diff}


def main() -> None:
    p = parser("replicates in one ensemble vs separate single-seed runs")
    p.add_argument("--replicates", type=int, default=10, help="replicates (default 10)")
    p.add_argument("--preset", default="full", help="preset of the runs (default: full)")
    args = p.parse_args()
    preset = "smoke" if args.quick else args.preset
    with tempfile.TemporaryDirectory(prefix="bench-replicates-") as tmp:
        execute("polyfit", preset="smoke", seeds=1, out=Path(tmp) / "warm", progress=False,
                quiet=True)  # imports and first-call costs out of both timings
        case = measure("polyfit", preset, args.replicates, 2020, Path(tmp))
    emit("replicates", [case], {"experiment": "polyfit", "preset": preset,
                                "replicates": args.replicates}, args.json)


if __name__ == "__main__":
    main()
