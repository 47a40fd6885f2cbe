"""Top-5 Hessian eigenvalues: trainlab's Lanczos against a dense `torch.func.hessian`.

The task: the 5 largest Hessian eigenvalues of an MSE loss of a tanh MLP on N = 1,024
random inputs (float32), at P ~ 1.2k and P ~ 4.4k parameters.

- baseline: ``torch.func.hessian(f)(theta)`` (forward-over-reverse, the whole P x P
  matrix) then ``torch.linalg.eigvalsh``;
- trainlab: `trainlab.diagnostics.lanczos_top_k` (Hessian-vector products by double
  backward, Lanczos with full reorthogonalisation, no dense matrix).

Times are measured in this process (best of ``--repeats`` for Lanczos, one dense run per
size because it takes seconds). Peak memory: tracemalloc does not see torch's allocations,
so each method also runs once in a fresh subprocess that reports the growth of its peak
resident set size (``ru_maxrss`` after minus before the computation); ``--no-memory``
skips that. On a machine shared with other jobs, ``--threads 1 --clock cpu`` times this
process's CPU seconds on one thread, which other jobs disturb far less than wall time.
Usage: ``python bench/hessian.py [--quick] [--json] [--threads 1 --clock cpu]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from trainlab.diagnostics import flatten_params, lanczos_top_k, make_loss_fn

IN, N, K = 10, 1024, 5
SIZES = {"full": [29, 60], "quick": [12, 24]}  # hidden width h: P = IN*h + h + h*h + h + h + 1

# torch.func.hessian loads torch's forward-AD decompositions through torch.jit.script
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")


def problem(width: int):
    """The flat MSE loss of an IN-h-h-1 tanh MLP on N seeded random points, and its weights."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(IN, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1)
    )
    x = torch.randn(N, IN)
    y = torch.sin(x.sum(1, keepdim=True))
    return make_loss_fn(model, "mse", x, y), flatten_params(model)


def dense_top(f, theta) -> torch.Tensor:
    p = theta.numel()
    h = torch.func.hessian(f)(theta).reshape(p, p)
    return torch.linalg.eigvalsh(h).flip(0)[:K]


def lanczos_top(f, theta) -> torch.Tensor:
    return lanczos_top_k(f, theta, k=K)


METHODS = {"dense": dense_top, "lanczos": lanczos_top}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def worker(method: str, width: int) -> None:
    """Run one method once and print its peak-RSS growth (MiB) and its top-5 as JSON.

    On Linux the peak (VmHWM) is reset first (``/proc/self/clear_refs``), so the growth is
    peak-during-computation minus resident-before; elsewhere ``ru_maxrss`` deltas are used,
    which miss memory reused from an earlier, higher peak (for example the imports').
    """
    f, theta = problem(width)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _status_kib("VmRSS")
        top = METHODS[method](f, theta)
        after = _status_kib("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        top = METHODS[method](f, theta)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mib": (after - before) / 1024, "top": top.tolist()}))


def peak_mib(method: str, width: int, threads: int) -> float:
    cmd = [sys.executable, __file__, "--worker", method, "--width", str(width)]
    cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mib"]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = CLOCKS["wall"]


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = CLOCK()
        out = fn()
        best = min(best, CLOCK() - start)
    return best, out


def run_case(width: int, repeats: int, memory: bool) -> dict:
    f, theta = problem(width)
    lanczos_top(f, theta)  # warm-up
    trainlab_s, top = timed(lambda: lanczos_top(f, theta), repeats)
    baseline_s, exact = timed(lambda: dense_top(f, theta), 1)
    case = {
        "size": {"P": theta.numel(), "N": N, "k": K},
        "baseline_s": baseline_s,
        "trainlab_s": trainlab_s,
        "ratio": baseline_s / trainlab_s,
        "top5_max_rel_diff": float(((top - exact.double()).abs() / exact.abs().double()).max()),
    }
    if memory:
        case["baseline_peak_mib"] = peak_mib("dense", width, torch.get_num_threads())
        case["trainlab_peak_mib"] = peak_mib("lanczos", width, torch.get_num_threads())
    return case


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="Lanczos timings, best kept")
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess runs")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default), or this process's CPU time: steadier on a shared machine, "
        "meaningful with --threads 1 (idle OpenMP threads spin and count as CPU time)",
    )
    parser.add_argument("--worker", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        worker(args.worker, args.width)
        return
    widths = SIZES["quick" if args.quick else "full"]
    cases = [run_case(w, args.repeats, not args.no_memory) for w in widths]
    result = {
        "name": "hessian",
        "cases": cases,
        "settings": {
            "task": f"top-{K} Hessian eigenvalues, MSE, tanh MLP {IN}-h-h-1, float32",
            "widths": widths,
            "N": N,
            "lanczos": "lanczos_top_k defaults (iters<=100, tol=1e-5, float64 recurrence)",
            "baseline": "torch.func.hessian + torch.linalg.eigvalsh",
            "threads": torch.get_num_threads(),
            "clock": args.clock,
            "repeats": args.repeats,
            "quick": args.quick,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['name']}: {result['settings']['task']}, N={N}")
    print(
        f"{'P':>6} {'dense s':>9} {'lanczos s':>10} {'ratio':>8} {'rel diff':>9} "
        f"{'dense MiB':>10} {'lanczos MiB':>12}"
    )
    for c in cases:
        mem = (
            f"{c['baseline_peak_mib']:>10.0f} {c['trainlab_peak_mib']:>12.0f}"
            if "baseline_peak_mib" in c
            else ""
        )
        print(
            f"{c['size']['P']:>6} {c['baseline_s']:>9.3f} {c['trainlab_s']:>10.4f} "
            f"{c['ratio']:>8.1f} {c['top5_max_rel_diff']:>9.1e} {mem}"
        )


if __name__ == "__main__":
    main()
