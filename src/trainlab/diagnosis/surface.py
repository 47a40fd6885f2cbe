"""The loss surface around the user's model (Li et al. 2018), run with ``--only surface``.

Train and evaluation loss on a grid of two filter-normalized random directions around
the checkpoint, as contours and an interactive 3-D view, with 1-D slices; with
``--trajectory``, also the plane of the trajectory's top two principal components with
the path projected on it and the share of its variance the plane holds. Grid points are
evaluated as one `torch.func.vmap` over chunks of weight vectors
(`diagnostics.surface.functional_loss`); a model that vmap cannot trace is evaluated one
point at a time, with the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from trainlab.diagnostics import unflatten_like
from trainlab.diagnostics.surface import (
    functional_loss,
    loss_surface,
    pca_plane,
    points_loss,
    random_directions,
)
from trainlab.report.contours import contour_figure
from trainlab.report.surface3d import Surface3D, site_asset

from .figures import figure_with_data
from .probe import flat_of
from .registry import diagnostic

MAX_NUMBERS = 2 ** 24  # weight vectors of one chunk: chunk * P numbers


def _loss_of_points(probe, split):
    """``(C, P) -> (C,)`` on ``split``: vmapped, or point by point if vmap cannot trace."""
    x, y = split
    batched = functional_loss(probe.model, probe.criterion, x, y)
    state = {"vmap": True}

    def one_by_one(thetas):
        bufs = dict(probe.model.named_buffers())
        with torch.no_grad():
            return torch.stack([probe.criterion(torch.func.functional_call(
                probe.model, (unflatten_like(probe.model, t), bufs), (x,)), y) for t in thetas])

    def f(thetas):
        if state["vmap"]:
            try:
                return batched(thetas)
            except Exception:  # noqa: BLE001 - untraceable model code: fall back, same numbers
                state["vmap"] = False
        return one_by_one(thetas)

    return f


def _grid(probe, split, origin, dirs, xs, ys) -> np.ndarray:
    chunk = max(1, min(256, MAX_NUMBERS // max(1, probe.params)))
    f = points_loss(_loss_of_points(probe, split), origin, dirs)
    return loss_surface(f, xs, ys, chunk=chunk).numpy()


def _long(xs, ys, **grids) -> dict:
    """Grid columns for the figure's CSV: one row per (alpha, beta)."""
    b, a = np.meshgrid(np.asarray(ys), np.asarray(xs), indexing="ij")
    return {"alpha": a.ravel().tolist(), "beta": b.ravel().tolist(),
            **{k: np.asarray(v).ravel().tolist() for k, v in grids.items()}}


def _trajectory_plane(probe, cfg, ctx, script) -> dict:
    snaps = torch.stack([flat_of(probe, s) for s in probe.trajectory]).double().cpu()
    plane = pca_plane(snaps, probe.theta.double().cpu())
    path = plane.paths[0].numpy()
    lo, hi = path.min(0), path.max(0)
    pad = 0.15 * (hi - lo) + 1e-6
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], cfg.surface_grid)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], cfg.surface_grid)
    dirs = plane.directions.to(probe.theta)
    grid = _grid(probe, probe.train, probe.theta, dirs, xs, ys)
    ratio = plane.explained_variance_ratio
    labels = (f"PC1 ({100 * float(ratio[0]):.1f} %)", f"PC2 ({100 * float(ratio[1]):.1f} %)")
    fig = contour_figure(xs, ys, {"train loss on the PCA plane": grid}, paths={"path": path},
                         xlabel=labels[0], ylabel=labels[1], width=6.0, height=4.8)
    figure_with_data(ctx, fig, "surface-pca",
                     f"The --trajectory checkpoints projected on their top two principal "
                     f"components ({100 * plane.explained_variance:.1f} % of the path's "
                     "variance); colours: the train loss on that plane through this model.",
                     _long(xs, ys, train_loss=grid))
    on_plane = points_loss(_loss_of_points(probe, probe.train), probe.theta, dirs)(
        torch.from_numpy(path).to(probe.theta)).cpu().numpy()
    ctx.report.add(Surface3D("diagnose-pca", xs.tolist(), ys.tolist(), {"train": grid.tolist()},
                             script=script, labels=(*labels, "train loss"), log_z=True,
                             paths={"path": np.column_stack([path, on_plane]).tolist()},
                             title="PCA plane in 3-D"))
    return {"explained_variance": plane.explained_variance, "path": path.tolist(),
            "pca_alphas": xs.tolist(), "pca_betas": ys.tolist(),
            "pca_train_loss_grid": grid.tolist()}


@diagnostic("surface", title="Loss surface (Li et al. 2018)", default=False)
def surface(probe, cfg, ctx) -> dict:
    """Train and evaluation loss around the model on filter-normalized random directions."""
    shapes = [p.shape for p in probe.model.parameters()]
    dirs = random_directions(probe.theta, shapes, 2, seed=cfg.seed)
    xs = np.linspace(-cfg.surface_span, cfg.surface_span, cfg.surface_grid)
    train = _grid(probe, probe.train, probe.theta, dirs, xs, xs)
    evaluation = _grid(probe, probe.eval, probe.theta, dirs, xs, xs)
    script = site_asset(ctx.path, ctx.exp_id)
    fig = contour_figure(xs, xs, {"train loss": train, f"{probe.eval_name} loss": evaluation},
                         xlabel="δ (filter-normalized)", ylabel="η (filter-normalized)")
    figure_with_data(ctx, fig, "surface", "Loss on θ + δ·d₁ + η·d₂ around this model, d₁ and "
                     "d₂ Gaussian directions with every filter (conv output channel, linear "
                     "row) scaled to the norm of the model's filter, biases and BatchNorm "
                     "parameters not moved; one log colour scale.",
                     _long(xs, xs, train_loss=train, eval_loss=evaluation))
    ctx.report.add(Surface3D("diagnose-random", xs.tolist(), xs.tolist(),
                             {"train": train.tolist(), probe.eval_name: evaluation.tolist()},
                             script=script, labels=("δ", "η", "loss"), log_z=True,
                             caption="Drag to rotate, scroll to zoom.",
                             title="Loss surface in 3-D"))
    mid = len(xs) // 2
    out = {"grid": cfg.surface_grid, "span": cfg.surface_span, "alphas": xs.tolist(),
           "train_loss_grid": train.tolist(), "eval_loss_grid": evaluation.tolist(),
           "slices": {"direction1": train[mid].tolist(), "direction2": train[:, mid].tolist()}}
    if probe.trajectory:
        out.update(_trajectory_plane(probe, cfg, ctx, script))
    return {"surface": out}
