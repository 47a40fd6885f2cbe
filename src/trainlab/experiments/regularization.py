"""regularization: an MLP that overfits a small training set, tamed by explicit L1/L2 terms.

The exercise added the penalty to the loss by hand — `loss + λ·Σ|θ|` (L1) or
`loss + λ·Σθ²` (L2), summed over all parameters — instead of using the optimizer's
`weight_decay`. An MLP (784-256-10, ReLU) trained on only 500 MNIST digits fits them
perfectly and its test loss climbs again: it overfits. For each penalty the λ values
train as one ensemble (same initial weights and batches, one λ per member, λ = 0 being
the unregularised reference), and the train and test loss curves show how a moderate λ
keeps the test loss low while a large one underfits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import load_dataset, standardize
from trainlab.errors import BadInput
from trainlab.experiments._common import (
    ActivationName,
    EnsembleOptimizerName,
    ImageSource,
    validate_data,
)
from trainlab.losses import Penalty
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import lambda_sweep_figure, new_figure
from trainlab.train import Split, fit

QUESTION = ("How does an explicit L1 or L2 penalty in the loss change the gap "
            "between training and test loss of an MLP that overfits?")

WHAT_TO_LOOK_AT = ("- λ = 0: the training loss goes to ~0 and the test loss, after "
                   "a minimum, rises again — overfitting.\n"
                   "- A moderate λ keeps the test loss near its minimum; the "
                   "training loss stays higher.\n"
                   "- A large λ underfits: both losses stay high.\n"
                   "- The weight norms shrink as λ grows; L1 pushes many weights "
                   "to (nearly) zero, L2 shrinks all of them.")

REFERENCES = (
    "Goodfellow, Bengio, Courville, *Deep Learning*, §7.1 (L1 and L2)",
)


@dataclass
class DataConfig(ImageSource):
    """The `data` section: a fixed, small number of training images."""

    n_train: int = option(500, "training images (a small set, so that the model overfits)",
                          positive=True)
    max_test: int = option(0, "use at most this many test images (0 = all)", minimum=0)


@dataclass
class Config(BaseConfig):
    data: DataConfig = option(DataConfig(), "the images")
    widths: list[int] = option([256], "hidden widths of the MLP")
    activation: ActivationName = option("relu", "hidden activation")
    penalties: list[Literal["l1", "l2"]] = option(["l1", "l2"], "penalties compared")
    l1_lambdas: list[float] = option([0.0, 1e-4, 1e-3, 1e-2],
                                     "λ of the L1 term λ·Σ|θ| (0 = no penalty)", minimum=0.0)
    l2_lambdas: list[float] = option([0.0, 1e-3, 1e-2, 1e-1],
                                     "λ of the L2 term λ·Σθ² (0 = no penalty)", minimum=0.0)
    weights_only: bool = option(False, "penalise the weights only (false: all parameters, "
                                "biases included, as in the exercise)")
    optimizer: EnsembleOptimizerName = option("momentum", "optimizer")
    lr: float = option(0.02, "learning rate")
    momentum: float = option(0.9, "momentum (for optimizer = momentum)", minimum=0.0)
    batch_size: int = option(50, "minibatch size")
    epochs: int = option(200, "training epochs")

    def validate(self) -> None:
        if not self.penalties:
            raise BadInput("config key 'penalties': give l1, l2 or both")
        for p in self.penalties:
            if not getattr(self, f"{p}_lambdas"):
                raise BadInput(f"config key '{p}_lambdas': give at least one λ")
        if self.momentum >= 1:
            raise BadInput("config key 'momentum': must be < 1")
        validate_data(self.data)


PRESETS = {
    "smoke": {"epochs": 4, "l1_lambdas": [0.0, 1e-3], "l2_lambdas": [0.0, 1e-1],
              "data": {"n_train": 200, "max_test": 200}},
    "quick": {"epochs": 25},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="best_test_loss",
    objectives={
        "best_test_loss": "minimize",
        "unregularized_test_loss": "minimize",
        "results.#.test_accuracy": "maximize",
        "results.#.test_loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "momentum": {"type": "float", "low": 0.0, "high": 0.99},
        "batch_size": {"type": "int", "low": 10, "high": 200, "log": True},
    },
    note="The training settings with the lowest test loss of any penalty.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)


def _penalty_gain(summary: dict) -> float:
    """Unregularized test loss minus the lowest test loss of any λ > 0."""
    penalized = [r["test_loss"] for r in summary["results"]
                 if r["lambda"] > 0 and not r["diverged"]]
    return summary["unregularized_test_loss"] - min(penalized)


CLAIMS = (
    Claim("penalty-lowers-test-loss",
          "An L1 or L2 penalty lowers the test loss of an MLP that overfits a small "
          "training set.", "Krogh & Hertz 1992; Goodfellow et al. 2016, §7.1",
          "unregularized test loss − lowest penalized test loss", threshold=0.0,
          direction=">", value=_penalty_gain),
)


def load_data(cfg: Config, device: torch.device) -> tuple[Split, Split, str]:
    """A small training set and the test set, flattened and standardized, on `device`."""
    ds = load_dataset(cfg.data.name, root=cfg.data.root or None, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.data.n_train > ds.n_train:
        raise BadInput(f"config key 'data.n_train': the data has {ds.n_train} training images")
    tr = torch.randperm(ds.n_train, generator=gen)[:cfg.data.n_train]
    te = torch.randperm(ds.n_test, generator=gen)[:cfg.data.max_test or ds.n_test]
    _, _, (xtr, xte) = standardize(ds.x_train[tr].flatten(1), ds.x_test[te].flatten(1),
                                   per_feature=False)
    return (Split(xtr.to(device), ds.y_train[tr].to(device)),
            Split(xte.to(device), ds.y_test[te].to(device)), ds.description)


def norms(model) -> tuple[np.ndarray, np.ndarray]:
    """(E,) L2 norm √Σθ² and L1 norm Σ|θ| of every member's parameters."""
    flat = model.flat_parameters().cpu().double()
    return flat.norm(dim=1).numpy(), flat.abs().sum(1).numpy()


@experiment("regularization", config=Config, presets=PRESETS, sweep=SWEEP, chapter="generalization",
            purpose="An MLP on 500 MNIST digits with explicit L1/L2 penalty terms: "
                    "overfitting vs regularised, train and test curves over a λ sweep",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("results[].{penalty, lambda, train_loss, test_loss}",),
            headline=("best_penalty", "best_lambda", "best_test_loss", "unregularized_test_loss"))
def run(cfg: Config, ctx) -> dict:
    train, test, description = load_data(cfg, ctx.device)
    ctx.text(f"Data: {description}; {len(train)} training images (on purpose few), "
             f"{len(test)} test images. MLP {train.x.shape[1]}-"
             f"{'-'.join(map(str, cfg.widths))}-10 ({cfg.activation}), {cfg.optimizer} lr "
             f"{cfg.lr:g}, batch {cfg.batch_size}, {cfg.epochs} epochs; cross-entropy plus "
             f"λ × penalty over {'the weights' if cfg.weights_only else 'all parameters'}.")
    results, runs = [], {}
    for pen in cfg.penalties:
        lams = getattr(cfg, f"{pen}_lambdas")
        model = mlp(cfg.widths, train.x.shape[1], 10, seeds=[cfg.seed] * len(lams),
                    activation=cfg.activation).to(ctx.device)
        res = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                  loss="cross_entropy",
                  optim=OptimSpec(cfg.optimizer, cfg.lr, momentum=cfg.momentum),
                  penalty=Penalty(pen, lams, weights_only=cfg.weights_only),
                  evals={"train": train, "test": test}, eval_at_start=True,
                  on_diverge="mask", ctx=ctx, name=pen,
                  member_names=[f"{pen} λ={lam:g}" for lam in lams])
        runs[pen] = (lams, res.history)
        l2, l1 = norms(model)
        h = res.history
        for e, lam in enumerate(lams):
            test_curve = h.series("test", "loss")[:, e]
            results.append({
                "penalty": pen, "lambda": lam, "diverged": res.diverged[e],
                "train_loss": float(h.final("train", "loss")[e]),
                "test_loss": float(h.final("test", "loss")[e]),
                "min_test_loss": float(np.nanmin(test_curve)),
                "train_accuracy": float(h.final("train", "accuracy")[e]),
                "test_accuracy": float(h.final("test", "accuracy")[e]),
                "weight_norm": float(l2[e]), "l1_norm": float(l1[e])})
    for r in results:
        ctx.echo(f"{r['penalty']} λ={r['lambda']:<8g} train loss {r['train_loss']:.4f}  "
                 f"test loss {r['test_loss']:.4f}  test acc {r['test_accuracy']:.3f}  "
                 f"‖θ‖ {r['weight_norm']:.2f}")
    ctx.table(results, title="Final losses per penalty and λ",
              columns=["penalty", "lambda", "train_loss", "test_loss", "min_test_loss",
                       "train_accuracy", "test_accuracy", "weight_norm", "l1_norm"],
              caption="Losses are the cross-entropy without the penalty term; "
                      "min_test_loss is the lowest test loss seen during training.")
    _plot(ctx, cfg, runs, results)
    ok = [r for r in results if not r["diverged"]]
    best = min(ok, key=lambda r: r["test_loss"])
    base = [r for r in ok if r["lambda"] == 0]
    summary = {"results": results, "best_penalty": best["penalty"],
               "best_lambda": best["lambda"], "best_test_loss": best["test_loss"],
               "unregularized_test_loss": base[0]["test_loss"] if base else None,
               "epochs": cfg.epochs, "n_train": len(train)}
    ctx.text(f"Lowest final test loss: {best['penalty']} with λ = {best['lambda']:g} "
             f"({best['test_loss']:.4f})"
             + (f", against {base[0]['test_loss']:.4f} without a penalty." if base else "."),
             title="Result")
    return summary


def _plot(ctx, cfg: Config, runs: dict, results: list[dict]) -> None:
    panels = {pen: [(lam, h.epochs, h.series("test", "loss")[:, e],
                     h.series("train", "loss")[:, e]) for e, lam in enumerate(lams)]
              for pen, (lams, h) in runs.items()}
    fig = lambda_sweep_figure(panels, "test cross-entropy", "training cross-entropy (log)")
    ctx.figure(fig, "curves", "Test (top, zoomed on its minimum) and training (bottom) loss "
               "per epoch, one colour per λ; the penalty term itself is not included.")
    fig, axes = new_figure(ncols=2, width=5.0)
    for i, pen in enumerate(runs):
        rows = [r for r in results if r["penalty"] == pen and r["lambda"] > 0]
        zero = [r for r in results if r["penalty"] == pen and r["lambda"] == 0]
        lam = [r["lambda"] for r in rows]
        for key, style in (("train_loss", ":"), ("test_loss", "-")):
            axes[0, 0].plot(lam, [r[key] for r in rows], style, marker="o", color=f"C{i}",
                            label=f"{pen} {key.split('_')[0]}")
            if zero and i == 0:
                axes[0, 0].axhline(zero[0][key], ls=style, color="0.6", lw=0.8)
        norm = "l1_norm" if pen == "l1" else "weight_norm"  # the norm each penalty shrinks
        ref = zero[0][norm] if zero else 1.0
        axes[0, 1].plot(lam, [r[norm] / ref for r in rows], marker="o", color=f"C{i}",
                        label=f"{pen}: {'Σ|θ|' if pen == 'l1' else '‖θ‖₂'}")
    axes[0, 0].set_ylabel("final cross-entropy")
    axes[0, 0].set_yscale("log")
    axes[0, 1].set_ylabel("norm after training / norm at λ = 0")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("λ")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    ctx.figure(fig, "lambda", "Final train (dotted) and test (solid) loss against λ (grey "
               "lines: λ = 0), and the norm each penalty acts on (Σ|θ| for L1, ‖θ‖₂ for L2) "
               "relative to the unregularised model.")
