"""E small MLPs trained by the engine vs the plain way (a DataLoader loop per model).

Task (issue 4/8): MLP 1-10-10-1 on sin(x)+x**2, 1,000 points, Adam lr 1e-3, batch 100.
The plain way trains the E models one after another, each through its own
`DataLoader(shuffle=True)` and `torch.optim.Adam`. trainlab trains them as one ensemble
with `trainlab.train.fit`. Both run the same number of epochs in this process, on the
same number of threads (default 1, `--threads N`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed  # noqa: E402

from trainlab.models import mlp  # noqa: E402
from trainlab.train import Split, fit  # noqa: E402


def make_data(n: int = 1000, device: str = "cpu"):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    return x.to(device), (torch.sin(x) + x ** 2).to(device)


def plain(E: int, epochs: int, x, y) -> None:
    """One model after another, each with a DataLoader and torch.optim.Adam."""
    for e in range(E):
        torch.manual_seed(e)
        model = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),
                              nn.Linear(10, 1)).to(x.device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True)
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()


def engine(E: int, epochs: int, x, y) -> None:
    model = mlp([10, 10], 1, 1, seeds=list(range(E))).to(x.device)
    fit(model, Split(x, y), epochs=epochs, batch_size=100, loss="mse", optimizer="adam",
        lr=1e-3, progress=False)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    # Both sides get the same thread count; one thread is the plain loop's best setting
    # for a model this small (and what the engine picks by itself for such steps).
    torch.set_num_threads(args.threads or 1)
    x, y = make_data(device=args.device)
    sizes = [1, 10] if args.quick else [1, 10, 100]
    epochs = 2 if args.quick else 5
    engine(2, 1, x, y)  # warm-up of both sides (first-call costs are not per-step costs)
    plain(1, 1, x, y)
    cases = []
    for E in sizes:
        base = timed(lambda E=E: plain(E, epochs, x, y))
        ours = timed(lambda E=E: engine(E, epochs, x, y), repeat=3)
        steps = E * epochs * 10
        cases.append({"size": {"E": E}, "baseline_s": round(base, 4), "trainlab_s": round(ours, 4),
                      "baseline_ms_per_model_step": round(1e3 * base / steps, 4),
                      "trainlab_ms_per_model_step": round(1e3 * ours / steps, 4)})
    emit("ensemble", cases, {"epochs": epochs, "points": 1000, "batch": 100, "optimizer": "adam",
                             "model": "1-10-10-1", "device": args.device}, args.json)


if __name__ == "__main__":
    main()
