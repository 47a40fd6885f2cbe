"""Minimal ratio of N small MLPs: the plain way against `trainlab run minimal-ratio`'s work.

The task (the minimal-ratio exercise): N trainings of a 1-10-10-1 ReLU MLP on 200 points
of sin(5πx)/(5πx); a loss phase (Adam, lr 0.01, batch 20, 50 epochs, MSE); a second
phase that drives the gradient norm down; then all 141 Hessian eigenvalues (float64)
and the minimal ratio of every run.

- baseline, the plain way: one model after another, `torch.utils.data.DataLoader`
  batches, 50 epochs of Adam, then 200 plain gradient-norm steps (Adam, lr 1e-3, on the
  full-batch ‖∇L‖², by double backward), then `torch.func.hessian` + `eigvalsh`;
- trainlab: the experiment's own functions, all N runs as one ensemble: `loss_phase`
  (`trainlab.train.fit`), `critical_phase` (batched Newton steps of
  `trainlab.diagnostics.critical.find_critical`, each run stopping once ‖∇L‖ < 1e-3) and the
  eigenvalues of the closed-form Hessians.

Both sides run in this process with the same number of torch threads (default 1: the
tensors are tiny, and on a shared 2-core machine a second OpenMP thread only spins).
Each case also reports how many runs ended with ‖∇L‖ < 1e-3.
Usage: ``python bench/minimal_ratio.py [--quick] [--json] [--threads N]`` (default 1).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402

from trainlab.data import sample_function  # noqa: E402
from trainlab.diagnostics import flatten_params, make_loss_fn, minimal_ratio  # noqa: E402
from trainlab.experiments.minimal_ratio import (  # noqa: E402
    Config,
    critical_phase,
    loss_phase,
    ratios,
)

SIZES = {"full": [100], "quick": [10]}
GRAD_STEPS, GRAD_LR = 200, 1e-3

warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")


def plain_run(seed: int, x: torch.Tensor, y: torch.Tensor, cfg: Config) -> tuple[float, float]:
    """One run the plain way; returns (final full-batch ‖∇L‖, minimal ratio)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    dims = [1, *cfg.widths, 1]
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=cfg.batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    mse = nn.MSELoss()
    for _ in range(cfg.epochs):
        for xb, yb in loader:
            opt.zero_grad()
            mse(model(xb), yb).backward()
            opt.step()
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=GRAD_LR)
    for _ in range(GRAD_STEPS):
        grads = torch.autograd.grad(mse(model(x), y), params, create_graph=True)
        opt.zero_grad()
        sum(g.pow(2).sum() for g in grads).backward()
        opt.step()
    grads = torch.autograd.grad(mse(model(x), y), params)
    norm = float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads)))
    f = make_loss_fn(model, "mse", x, y)
    hess = torch.func.hessian(f)(flatten_params(model).double())
    return norm, minimal_ratio(torch.linalg.eigvalsh(hess), tol=cfg.ratio_tol)


def trainlab_runs(x: torch.Tensor, y: torch.Tensor, cfg: Config) -> tuple[list, list]:
    """All runs as one ensemble, exactly as `trainlab run minimal-ratio` does them."""
    model = loss_phase(cfg, x, y)
    res = critical_phase(cfg, model, x, y)
    return res.grad_norm.tolist(), ratios(res.eigenvalues, cfg.ratio_tol)


def run_case(n: int) -> dict:
    cfg = Config(runs=n)
    x, y = sample_function(cfg.target, cfg.n_points, seed=cfg.seed)
    t0 = time.perf_counter()
    c0 = time.process_time()
    plain = [plain_run(cfg.seed + r, x, y, cfg) for r in range(n)]
    base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    c0 = time.process_time()
    norms, mr = trainlab_runs(x, y, cfg)
    tl_s, tl_cpu = time.perf_counter() - t0, time.process_time() - c0
    base_norms = [p[0] for p in plain]
    return {"size": {"N": n, "P": sum(a * b + b for a, b in zip([1, *cfg.widths],
                                                              [*cfg.widths, 1], strict=True))},
            "baseline_s": round(base_s, 3), "trainlab_s": round(tl_s, 3),
            "baseline_cpu_s": round(base_cpu, 3), "trainlab_cpu_s": round(tl_cpu, 3),
            "threshold": cfg.threshold,
            "baseline_reached": sum(v < cfg.threshold for v in base_norms),
            "trainlab_reached": sum(v < cfg.threshold for v in norms),
            "baseline_median_grad_norm": float(np.median(base_norms)),
            "trainlab_median_grad_norm": float(np.median(norms)),
            "baseline_mean_minimal_ratio": float(np.mean([p[1] for p in plain])),
            "trainlab_mean_minimal_ratio": float(np.mean(mr))}


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(args.threads or 1)
    cases = [run_case(n) for n in SIZES["quick" if args.quick else "full"]]
    cfg = Config()
    emit("minimal-ratio", cases, {
        "task": f"1-{'-'.join(map(str, cfg.widths))}-1 {cfg.activation} MLP on "
                f"{cfg.n_points} points of {cfg.target}",
        "loss_phase": f"Adam lr {cfg.lr}, batch {cfg.batch_size}, {cfg.epochs} epochs",
        "baseline": f"DataLoader loop per model, then {GRAD_STEPS} Adam steps (lr "
                    f"{GRAD_LR}) on the full-batch ||grad L||^2, torch.func.hessian",
        "trainlab": f"one ensemble: fit, then find_critical (tol {cfg.threshold}, at "
                    f"most {cfg.max_iters} Newton iterations), closed-form Hessians",
        "quick": args.quick}, args.json)


if __name__ == "__main__":
    main()
