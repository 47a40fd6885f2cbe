"""The loss around and between solutions: Keskar sharpness, interpolation, trajectory PCA."""

from __future__ import annotations

import numpy as np
import torch

from trainlab.diagnostics import sharpness as keskar_sharpness
from trainlab.diagnostics import trajectory_pca
from trainlab.diagnostics.intervals import t_interval
from trainlab.report.plots import new_figure

from .figures import figure_with_data
from .probe import buffers_of, flat_of
from .registry import diagnostic


@diagnostic("sharpness", title="Keskar sharpness")
def sharpness(probe, cfg, ctx) -> dict:
    """Keskar et al.'s ``phi`` over restarts: the mean with its interval, and the largest."""
    values = []
    for r in range(cfg.sharpness_restarts):
        start = "corner" if r == 0 else "random"
        values.append(keskar_sharpness(probe.loss_fn, probe.theta, epsilon=cfg.epsilon,
                                       steps=cfg.sharpness_steps, start=start,
                                       seed=cfg.seed + r))
    est = t_interval(values)
    fig, ax = new_figure()
    ax[0, 0].bar(range(len(values)), values)
    ax[0, 0].set_xlabel("restart (0 = gradient-sign corner)")
    ax[0, 0].set_ylabel("φ (%)")
    figure_with_data(ctx, fig, "sharpness", f"Keskar sharpness (ε = {cfg.epsilon:g}) found "
                     "by each restart of projected sign-gradient ascent.",
                     {"restart": range(len(values)), "sharpness": values})
    ctx.text(f"Keskar sharpness φ = 100·(max f(θ+δ) − f(θ))/(1 + f(θ)) over the box "
             f"|δᵢ| ≤ ε(|θᵢ| + 1), ε = {cfg.epsilon:g}, by {cfg.sharpness_steps} steps of "
             f"projected sign-gradient ascent from {cfg.sharpness_restarts} box corners. Each "
             "restart gives a lower bound of the box maximum: `value` is their mean with a "
             "95 % interval, `max` the best lower bound.", title="Sharpness")
    return {"sharpness": {**est.as_dict(), "max": max(values), "epsilon": cfg.epsilon,
                          "restarts": cfg.sharpness_restarts}}


def _needs_compare(probe, cfg) -> str | None:
    return None if probe.compare is not None else "needs --compare FILE (a second checkpoint)"


def _accuracy(probe, theta, buffers, split) -> float:
    from trainlab.diagnostics import unflatten_like

    x, y = split
    with torch.no_grad():
        out = torch.func.functional_call(probe.model, (unflatten_like(probe.model, theta),
                                                       buffers), (x,))
    return float((out.argmax(1) == y).double().mean())


@diagnostic("interpolation", title="Interpolation between two checkpoints",
            needs=_needs_compare)
def interpolation(probe, cfg, ctx) -> dict:
    """Loss (and accuracy) along ``(1 - α) θ₁ + α θ₂`` for α evenly in [-1, 2].

    Floating buffers (BatchNorm statistics) follow α clamped to [0, 1], so both
    endpoints are exactly the two checkpoints and extrapolation never makes a running
    variance negative.
    """
    theta1, theta2 = probe.theta, flat_of(probe, probe.compare)
    b1, b2 = buffers_of(probe, None), buffers_of(probe, probe.compare)
    alphas = np.linspace(-1.0, 2.0, cfg.alphas)
    alphas[np.argmin(np.abs(alphas))], alphas[np.argmin(np.abs(alphas - 1))] = 0.0, 1.0
    rows = []
    for a in alphas.tolist():
        theta = theta1 if a == 0.0 else theta2 if a == 1.0 else (1 - a) * theta1 + a * theta2
        c = min(max(a, 0.0), 1.0)
        bufs = {k: ((1 - c) * v + c * b2[k]) if v.is_floating_point() else
                (b2[k] if c == 1.0 else v) for k, v in b1.items()}
        row = {"alpha": a, "train_loss": probe.loss_at(theta, probe.train, bufs),
               "eval_loss": probe.loss_at(theta, probe.eval, bufs)}
        if probe.classification:
            row["train_accuracy"] = _accuracy(probe, theta, bufs, probe.train)
            row["eval_accuracy"] = _accuracy(probe, theta, bufs, probe.eval)
        rows.append(row)
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    fig, ax = new_figure()
    ax[0, 0].plot(cols["alpha"], cols["train_loss"], label="train")
    ax[0, 0].plot(cols["alpha"], cols["eval_loss"], label=probe.eval_name)
    for a in (0.0, 1.0):
        ax[0, 0].axvline(a, color="grey", lw=0.8, ls=":")
    ax[0, 0].set_xlabel("α  (0: this model, 1: --compare)")
    ax[0, 0].set_ylabel("loss")
    ax[0, 0].set_yscale("log" if min(cols["train_loss"] + cols["eval_loss"]) > 0 else "linear")
    ax[0, 0].legend(fontsize="small")
    figure_with_data(ctx, fig, "interpolation", "Loss along the line through the two "
                     "checkpoints, extrapolated to α ∈ [−1, 2].", cols)
    return {"interpolation": cols}


def _needs_trajectory(probe, cfg) -> str | None:
    return None if probe.trajectory else "needs --trajectory DIR (a folder of checkpoints)"


@diagnostic("trajectory", title="Trajectory PCA", needs=_needs_trajectory)
def trajectory(probe, cfg, ctx) -> dict:
    """PCA of ``θ_t − θ_final`` over the trajectory's checkpoints (Li et al. 2018)."""
    snaps = torch.stack([flat_of(probe, s) for s in probe.trajectory]).double().cpu()
    k = min(cfg.pca_components, snaps.shape[0] - 1)
    pca = trajectory_pca(snaps, n_components=k)
    proj = pca.projections.numpy()
    losses = [probe.loss_at(flat_of(probe, s), probe.train, buffers_of(probe, s))
              for s in probe.trajectory]
    fig, ax = new_figure()
    ys = proj[:, 1] if k > 1 else np.zeros(len(proj))
    ax[0, 0].plot(proj[:, 0], ys, "-o", ms=3)
    ax[0, 0].plot([0], [0], "r*", ms=10, label="final")
    ax[0, 0].set_xlabel(f"PC1 ({100 * float(pca.explained_variance_ratio[0]):.1f} %)")
    if k > 1:
        ax[0, 0].set_ylabel(f"PC2 ({100 * float(pca.explained_variance_ratio[1]):.1f} %)")
    ax[0, 0].legend(fontsize="small")
    figure_with_data(ctx, fig, "trajectory", "The checkpoints of --trajectory projected on "
                     "the top principal components of θ_t − θ_final.",
                     {"checkpoint": probe.trajectory_names, "pc1": proj[:, 0].tolist(),
                      "pc2": ys.tolist(), "train_loss": losses})
    return {"trajectory_explained_variance_ratio": pca.explained_variance_ratio.tolist(),
            "trajectory_checkpoints": len(probe.trajectory)}
