"""weight-pca: where do the weights go? PCA of the weights of 8 trainings along the way.

The exercise ("visualize the optimization process"): train the same MNIST MLP 8 times,
record the parameters every k epochs, and project all recorded points of all runs onto
the first two principal components of the whole set ("joint" PCA), once for the whole
model and once for the first layer only, with the loss written at every point. Li et
al. (NeurIPS 2018, "Visualizing the loss landscape of neural nets") add a second view:
the PCA of one run's own trajectory θ_t − θ_final, whose first two components hold
40–90 % of the path. The 8 seeds train as one ensemble; a callback copies the stacked
parameters at epoch 0 and every k epochs. The snapshots are saved as `weights.npz`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.diagnostics import ParamSnapshots, trajectory_pca, weight_pca
from trainlab.errors import BadInput
from trainlab.experiments._common import EnsembleOptimizerName, standardized_mnist
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.runs import atomic_write_bytes
from trainlab.train import Split, fit

QUESTION = ("Do eight trainings of the same network travel to the same place in "
            "weight space, and how many directions does one training path need?")

WHAT_TO_LOOK_AT = ("- Joint PCA: every run starts somewhere else (random init) and "
                   "moves away from the others; no two runs meet, although they "
                   "reach the same loss.\n"
                   "- Layer 1 alone (most of the parameters) looks the same; the "
                   "top components each hold only about 1/runs of the variance, "
                   "one direction per run.\n"
                   "- Trajectory PCA: two components hold most of each path "
                   "(Li et al. report 40-90 %), so the path is nearly planar.")

REFERENCES = (
    "Li, Xu, Taylor, Studer, Goldstein 2018, *Visualizing the Loss Landscape of Neural Nets*",
)


@dataclass
class Config(BaseConfig):
    runs: int = option(8, "trainings (seeds), trained as one ensemble")
    widths: list[int] = option([64, 64], "hidden widths of the MNIST MLP")
    epochs: int = option(30, "training epochs")
    record_every: int = option(3, "record the parameters every k epochs (and at epoch 0)",
                               positive=True)
    batch_size: int = option(64, "minibatch size")
    optimizer: EnsembleOptimizerName = option("adam", "optimizer")
    lr: float = option(1e-3, "learning rate")
    n_components: int = option(2, "principal components reported (at least 2)")
    max_train: int = option(0, "MNIST training images used (0 = all 4,000)", minimum=0)

    def validate(self) -> None:
        if self.n_components < 2:
            raise BadInput("config key 'n_components': at least 2")
        if self.runs < 2:
            raise BadInput("config key 'runs': a joint PCA needs at least 2 runs")
        if self.record_every > self.epochs:
            raise BadInput("config key 'record_every': must be at most 'epochs'")


PRESETS = {
    "smoke": {"runs": 3, "widths": [16], "epochs": 4, "record_every": 2, "max_train": 600},
    "quick": {"epochs": 6, "record_every": 1, "max_train": 2000},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="test_accuracy",
    objectives={
        "test_accuracy": "maximize",
        "explained_variance_ratio.#": "maximize",
        "trajectory_explained_variance_ratio.#": "maximize",
    },
    space={
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
    },
    note="The training settings with the best test accuracy.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=2, full=2)


def _top2(summary: dict) -> list[float] | None:
    """Top-2 share of every run's own trajectory PCA; None when the trajectory has so few
    snapshots that two components explain 40 % by construction."""
    if summary["snapshots_per_run"] - 1 <= 5:
        return None
    return [sum(r[:2]) for r in summary["trajectory_explained_variance_ratio_per_run"]]


CLAIMS = (
    Claim("trajectory-is-low-dimensional",
          "An optimization trajectory lies close to a low-dimensional space: the first two "
          "PCA directions of θₜ − θ_final explain over 40 % of its variation.",
          "Li et al. 2018, Visualizing the loss landscape of neural nets",
          "explained variance of the first two trajectory components, every run",
          threshold=0.4, direction=">", samples=_top2),
)


def load_mnist(cfg: Config, device):
    return [t.reshape(len(t), -1).to(device) if t.is_floating_point() else t.to(device)
            for t in standardized_mnist(cfg.seed, cfg.max_train)]


@experiment("weight-pca", config=Config, presets=PRESETS, sweep=SWEEP, chapter="optimization",
            purpose="PCA of the weights of 8 MNIST trainings recorded every k epochs: joint "
                    "(whole model and layer 1) and per trajectory (Li et al. 2018)",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("explained_variance_ratio",
                          "layer1_explained_variance_ratio",
                          "trajectory_explained_variance_ratio",
                          "runs",
                          "snapshots_per_run"),
            headline=("explained_variance_ratio", "trajectory_explained_variance_ratio"),
            headline_help={
                "explained_variance_ratio": "share of the variance of all recorded weights "
                                            "of all runs on each top principal component "
                                            "(joint PCA, whole model)",
                "trajectory_explained_variance_ratio": "share of the variance of one run's "
                                                       "path θ_t − θ_final on each top "
                                                       "component (mean over runs)"})
def run(cfg: Config, ctx) -> dict:
    x, y, xt, yt = load_mnist(cfg, ctx.device)
    seeds = [cfg.seed + 1000 * r for r in range(cfg.runs)]
    model = mlp(cfg.widths, 784, 10, seeds).to(ctx.device)
    rec = ParamSnapshots(every=cfg.record_every)
    rec.take(0, model)
    names = [f"seed{s}" for s in seeds]
    result = fit(model, Split(x, y), epochs=cfg.epochs, batch_size=cfg.batch_size,
                 loss="cross_entropy", optim=OptimSpec(cfg.optimizer, cfg.lr),
                 evals={"train": Split(x, y), "test": Split(xt, yt)}, eval_at_start=True,
                 ctx=ctx, name="train", member_names=names, callbacks=[rec])
    snaps = rec.stacked().double()  # (R, T, P)
    R, T, _ = snaps.shape
    n1 = model.layers[0].weight[0].numel() + model.layers[0].bias[0].numel()
    k = min(cfg.n_components, R * T)
    joint = weight_pca(snaps, k)
    layer1 = weight_pca(snaps[..., :n1], k)
    trajs = [trajectory_pca(snaps[r], min(k, T)) for r in range(R)]
    traj_ratio = torch.stack([t.explained_variance_ratio for t in trajs]).mean(0)
    hist = result.history
    at = [hist.epochs.index(e) for e in rec.epochs]
    losses = hist.series("train", "loss")[at]  # (T, R)
    buf = io.BytesIO()
    np.savez(buf, snapshots=snaps.float().numpy(), epochs=np.asarray(rec.epochs),
             layer1_size=n1, train_loss=losses.T)
    atomic_write_bytes(ctx.path / "weights.npz", buf.getvalue())

    def pct(v):
        return ", ".join(f"{100 * float(a):.1f} %" for a in v)

    lines = [f"joint PCA, whole model ({snaps.shape[-1]} parameters): "
             f"{pct(joint.explained_variance_ratio)}",
             f"joint PCA, layer 1 ({n1} parameters): {pct(layer1.explained_variance_ratio)}",
             f"trajectory PCA (mean over {R} runs): {pct(traj_ratio)}"]
    for line in lines:
        ctx.echo(line)
    ctx.preformatted("\n".join(lines), title="Explained variance of the top components")
    ctx.table([{"run": names[r], "final train loss": float(hist.final("train", "loss")[r]),
                "test accuracy": float(hist.final("test", "accuracy")[r]),
                "trajectory PC1+PC2": float(trajs[r].explained_variance_ratio[:2].sum())}
               for r in range(R)], title="Runs")
    _plot_joint(ctx, joint, layer1, losses, rec.epochs, names)
    _plot_trajectories(ctx, trajs, losses, names)
    return {"explained_variance_ratio": joint.explained_variance_ratio.tolist(),
            "layer1_explained_variance_ratio": layer1.explained_variance_ratio.tolist(),
            "trajectory_explained_variance_ratio": traj_ratio.tolist(),
            "trajectory_explained_variance_ratio_per_run":
                [t.explained_variance_ratio.tolist() for t in trajs],
            "runs": R, "snapshots_per_run": T, "record_epochs": list(rec.epochs),
            "params": int(snaps.shape[-1]), "layer1_params": int(n1),
            "test_accuracy": float(np.mean(hist.final("test", "accuracy")))}


def _plot_joint(ctx, joint, layer1, losses, epochs, names) -> None:
    fig, axes = new_figure(ncols=2, width=6.2, height=5.2)
    for ax, res, title in ((axes[0, 0], joint, "whole model"), (axes[0, 1], layer1, "layer 1")):
        proj = res.projections.numpy()  # (R, T, k)
        for r, name in enumerate(names):
            ax.plot(proj[r, :, 0], proj[r, :, 1], "-o", ms=3, lw=0.8, color=f"C{r % 10}",
                    label=name)
            for t in range(proj.shape[1]):
                ax.annotate(f"{losses[t, r]:.2f}", proj[r, t, :2], fontsize=5,
                            xytext=(2, 2), textcoords="offset points", color=f"C{r % 10}")
        ev = res.explained_variance_ratio
        ax.set_xlabel(f"PC1 ({100 * float(ev[0]):.1f} %)")
        ax.set_ylabel(f"PC2 ({100 * float(ev[1]):.1f} %)")
        ax.set_title(f"joint PCA, {title}")
        ax.grid(alpha=0.3)
    axes[0, 1].legend(fontsize="x-small")
    ctx.figure(fig, "joint-pca",
               f"All runs' parameters at epochs {epochs[0]}–{epochs[-1]} (every "
               f"{epochs[1] - epochs[0]}) projected on the first two principal components of "
               "the whole set; one colour per run, the training loss written at every point.")


def _plot_trajectories(ctx, trajs, losses, names) -> None:
    cols = min(4, len(trajs))
    rows = -(-len(trajs) // cols)
    fig, axes = new_figure(ncols=cols, nrows=rows, width=3.2, height=3.0)
    for ax in axes.flat:
        ax.set_visible(False)
    for r, (tr, ax) in enumerate(zip(trajs, axes.flat, strict=False)):
        ax.set_visible(True)
        p = tr.projections.numpy()
        ax.plot(p[:, 0], p[:, 1], "-o", ms=3, color=f"C{r % 10}")
        ax.plot([0], [0], "k*", ms=8)
        ax.annotate(f"{losses[0, r]:.2f}", p[0, :2], fontsize=6)
        ev = tr.explained_variance_ratio
        ax.set_title(f"{names[r]}: {100 * float(ev[:2].sum()):.0f} % in 2 PCs", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    ctx.figure(fig, "trajectory-pca",
               "Each run's own path θ_t − θ_final in the plane of its first two principal "
               "components (Li et al. 2018); the star is the final point, the number the "
               "initial loss.")
