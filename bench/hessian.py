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
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed_result  # noqa: E402

from trainlab.diagnostics import flatten_params, lanczos_top_k, make_loss_fn  # noqa: E402

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


def run_case(width: int, args: argparse.Namespace) -> dict:
    f, theta = problem(width)
    lanczos_top(f, theta)  # warm-up
    trainlab_s, top = timed_result(lambda: lanczos_top(f, theta), args.repeats, args.clock)
    baseline_s, exact = timed_result(lambda: dense_top(f, theta), 1, args.clock)
    case = {
        "size": {"P": theta.numel(), "N": N, "k": K},
        "baseline_s": round(baseline_s, 4),
        "trainlab_s": round(trainlab_s, 4),
        "top5_max_rel_diff": float(((top - exact.double()).abs() / exact.abs().double()).max()),
    }
    if not args.no_memory:
        case["baseline_peak_mib"] = round(peak_mib("dense", width, torch.get_num_threads()), 1)
        case["trainlab_peak_mib"] = round(peak_mib("lanczos", width, torch.get_num_threads()),
                                          1)
    return case


def main() -> None:
    p = parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--no-memory", action="store_true", help="skip the subprocess runs")
    p.add_argument("--worker", choices=sorted(METHODS), help=argparse.SUPPRESS)
    p.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        worker(args.worker, args.width)
        return
    widths = SIZES["quick" if args.quick else "full"]
    cases = [run_case(w, args) for w in widths]
    emit("hessian", cases, {
        "task": f"top-{K} Hessian eigenvalues, MSE, tanh MLP {IN}-h-h-1, float32",
        "widths": widths, "N": N,
        "lanczos": "lanczos_top_k defaults (iters<=100, tol=1e-5, float64 recurrence)",
        "baseline": "torch.func.hessian + torch.linalg.eigvalsh",
        "clock": args.clock, "repeats": args.repeats, "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
