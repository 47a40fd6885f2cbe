"""numpy-mlp: the from-scratch NumPy MLP — gradient check, L1/L2 λ sweep, SGD vs momentum.

The exercise wrote a sigmoid-hidden-layer MLP in NumPy with backpropagation by hand,
added L1 (sub-gradient λ·sign(W)) and L2 (gradient 2λW) penalties, and trained it with
SGD and with momentum. This experiment uses `trainlab.numpy_nn` (the hand-written
network) and does not touch `trainlab.train`:

1. gradient check: the hand-written gradients against central finite differences and
   against torch autograd on the same weights, without penalty, with L1 and with L2;
2. λ sweep: a small training set (100 of scikit-learn's 8×8 digits) is overfitted
   without a penalty; L1 and L2 terms of growing λ trade training loss for test loss;
3. SGD against momentum (μ = 0.9) at the same learning rate from the same start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import load_dataset
from trainlab.errors import BadInput
from trainlab.experiments._common import DatasetName
from trainlab.numpy_nn import (
    SGD,
    Momentum,
    finite_difference_grads,
    init_params,
    loss_and_grads,
    max_relative_error,
    train,
)
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import lambda_sweep_figure, new_figure

QUESTION = ("Are hand-written backpropagation gradients right, what do L1 and L2 "
            "penalties do to an overfitting network, and how much does momentum "
            "speed up SGD?")

WHAT_TO_LOOK_AT = ("- The gradient check: relative errors near 1e-9 (finite "
                   "differences) and 1e-15 (autograd) mean the backward pass is "
                   "right; a bug shows as errors near 1.\n"
                   "- λ = 0: training loss near 0, test loss rising after its "
                   "minimum — overfitting. A moderate λ lowers the test loss; "
                   "a large one underfits (both losses high).\n"
                   "- Momentum reaches in a few epochs the loss SGD reaches in many.")

REFERENCES = (
    "Karpathy, *micrograd* (backprop on a page)",
)


@dataclass
class DataConfig:
    name: DatasetName = option(
        "digits", "built-in dataset (8×8 digits, the MNIST 5k subset, Fashion-MNIST)")
    n_train: int = option(100, "training images (few, so that the network overfits)",
                          positive=True)


@dataclass
class Config(BaseConfig):
    data: DataConfig = option(DataConfig(), "the images")
    hidden: int = option(100, "sigmoid hidden units", positive=True)
    lr: float = option(0.3, "SGD learning rate of the λ sweep")
    batch_size: int = option(10, "minibatch size")
    epochs: int = option(400, "training epochs of the λ sweep")
    l1_lambdas: list[float] = option([0.0, 1e-4, 1e-3, 1e-2], "λ of the L1 penalty λ·Σ|W|",
                                     minimum=0.0)
    l2_lambdas: list[float] = option([0.0, 1e-4, 1e-3, 1e-2], "λ of the L2 penalty λ·ΣW²",
                                     minimum=0.0)
    momentum: float = option(0.9, "momentum μ of the SGD-vs-momentum comparison", minimum=0.0)
    momentum_lr: float = option(0.03, "learning rate of both runs of that comparison",
                                positive=True)
    momentum_epochs: int = option(100, "epochs of that comparison", positive=True)
    grad_check_lambda: float = option(0.05, "λ of the penalised gradient checks", minimum=0.0)
    grad_check_eps: float = option(1e-6, "step of the central finite differences",
                                   positive=True)

    def validate(self) -> None:
        if self.momentum >= 1:
            raise BadInput("config key 'momentum': must be < 1")


PRESETS = {
    "smoke": {"epochs": 5, "momentum_epochs": 5, "data": {"n_train": 50}, "l1_lambdas": [0.0, 1e-2],
              "l2_lambdas": [0.0, 1e-2]},
    "quick": {"epochs": 40, "momentum_epochs": 10},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="momentum.momentum_loss",
    objectives={
        "momentum.momentum_loss": "minimize",
        "momentum.sgd_loss": "minimize",
        "lambda_sweep.#.test_loss": "minimize",
        "lambda_sweep.#.min_test_loss": "minimize",
        "grad_check_max_rel_error": "minimize",
    },
    space={
        "momentum": {"type": "float", "low": 0.0, "high": 0.99},
        "momentum_lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True},
    },
    note="The momentum and rate that train the NumPy MLP furthest.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)


def _near_zero_gain(summary: dict) -> float:
    """Fraction of near-zero weights at the largest L1 λ minus at λ = 0."""
    l1 = sorted((r for r in summary["lambda_sweep"] if r["penalty"] == "l1"),
                key=lambda r: r["lambda"])
    return l1[-1]["near_zero_weights"] - l1[0]["near_zero_weights"]


CLAIMS = (
    Claim("momentum-trains-faster",
          "SGD with momentum reaches a lower training loss than plain SGD in the same "
          "number of epochs.", "Polyak 1964; Sutskever et al. 2013",
          "log10(momentum loss ÷ SGD loss)", threshold=0.0, direction="<",
          value=lambda s: math.log10(s["momentum"]["momentum_loss"] / s["momentum"]["sgd_loss"])),
    Claim("l1-sparsifies",
          "An L1 penalty drives weights to zero: the largest λ leaves more near-zero weights "
          "than no penalty.", "Tibshirani 1996 (the lasso)",
          "near-zero weight fraction at the largest L1 λ − at λ = 0", threshold=0.0,
          direction=">", value=_near_zero_gain),
)


def load(cfg: Config):
    """Flattened, standardized float64 train (first n_train of a seeded shuffle) and test."""
    ds = load_dataset(cfg.data.name, seed=cfg.seed)
    if cfg.data.n_train > ds.n_train:
        raise BadInput(f"config key 'data.n_train': the data has {ds.n_train} training images")
    keep = np.random.default_rng(cfg.seed).permutation(ds.n_train)[:cfg.data.n_train]
    x = ds.x_train.flatten(1).double().numpy()[keep]
    xt = ds.x_test.flatten(1).double().numpy()
    mu, sd = x.mean(), x.std()
    return (x - mu) / sd, ds.y_train.numpy()[keep], (xt - mu) / sd, ds.y_test.numpy(), ds


def torch_loss_and_grads(params, x, y, penalty, lam):
    """The oracle: the same network, loss and penalty in torch float64, by autograd."""
    ts = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
          for W, b in params]
    h = torch.tensor(x)
    for i, (W, b) in enumerate(ts):
        h = h @ W + b
        if i < len(ts) - 1:
            h = torch.sigmoid(h)
    value = F.cross_entropy(h, torch.tensor(y))
    if penalty == "l1":
        value = value + lam * sum(W.abs().sum() for W, _ in ts)
    elif penalty == "l2":
        value = value + lam * sum((W ** 2).sum() for W, _ in ts)
    value.backward()
    return value.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in ts]


def grad_check(cfg: Config) -> list[dict]:
    """Hand-written vs finite-difference vs autograd gradients on a small sigmoid MLP.

    A 6-5-4 network on 8 random inputs keeps every gradient entry well above the
    finite differences' rounding error (~1e-10), so the entry-wise relative error is
    meaningful; weights are kept away from 0, the kink of |W|.
    """
    rng = np.random.default_rng(cfg.seed)
    params = init_params([6, 5, 4], seed=cfg.seed)
    for W, b in params:
        W[np.abs(W) < 0.1] = np.copysign(0.1, W[np.abs(W) < 0.1])
        b[:] = rng.normal(0.0, 0.3, size=b.shape)
    x, y = rng.normal(size=(8, 6)), rng.integers(0, 4, size=8)
    rows = []
    for pen in (None, "l1", "l2"):
        lam = cfg.grad_check_lambda if pen else 0.0
        value, grads = loss_and_grads(params, x, y, "cross_entropy", pen, lam)
        fd = finite_difference_grads(
            lambda p, pen=pen, lam=lam: loss_and_grads(p, x, y, "cross_entropy", pen, lam)[0],
            params, cfg.grad_check_eps)
        tval, tgrads = torch_loss_and_grads(params, x, y, pen, lam)
        rows.append({"penalty": pen or "none", "lambda": lam, "loss": value,
                     "vs_finite_differences": max_relative_error(grads, fd),
                     "vs_autograd": max_relative_error(grads, tgrads),
                     "loss_diff_autograd": abs(value - tval)})
    return rows


@experiment("numpy-mlp", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="A from-scratch NumPy MLP: gradient check against finite differences and "
                    "autograd, L1/L2 λ sweep, SGD vs momentum",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("grad_check_max_rel_error",
                          "lambda_sweep[].{penalty, lambda, train_loss, test_loss}",
                          "momentum.{sgd_loss, momentum_loss, epochs}"),
            headline=("grad_check_max_rel_error", "momentum.sgd_loss", "momentum.momentum_loss"))
def run(cfg: Config, ctx) -> dict:
    checks = grad_check(cfg)
    worst = max(max(r["vs_finite_differences"], r["vs_autograd"]) for r in checks)
    ctx.table(checks, title="Gradient check",
              caption="Maximum entry-wise relative error |a−b|/(|a|+|b|) of the hand-written "
                      "gradients, on a 6-5-4 sigmoid MLP with 8 random inputs.")
    ctx.echo(f"gradient check: max relative error {worst:.2e}")
    x, y, xt, yt, ds = load(cfg)
    widths = [x.shape[1], cfg.hidden, ds.num_classes]
    ctx.text(f"Data: {ds.description}; the first {len(x)} training images of a seeded shuffle, "
             f"{len(xt)} test images. Network {'-'.join(map(str, widths))}, sigmoid hidden "
             f"layer, softmax cross-entropy; SGD lr {cfg.lr:g}, batch {cfg.batch_size}, "
             f"{cfg.epochs} epochs. Penalties act on the weights, not the biases.")
    sweep, curves = [], {}
    for pen in ("l1", "l2"):
        for lam in getattr(cfg, f"{pen}_lambdas"):
            params = init_params(widths, seed=cfg.seed)
            h = train(params, x, y, cfg.epochs, cfg.batch_size, SGD(cfg.lr),
                      loss="cross_entropy", penalty=pen, lam=lam, seed=cfg.seed,
                      x_test=xt, y_test=yt)
            curves[(pen, lam)] = h
            weights = np.concatenate([W.ravel() for W, _ in params])
            sweep.append({"penalty": pen, "lambda": lam, "train_loss": h["train_loss"][-1],
                          "test_loss": h["test_loss"][-1], "min_test_loss": min(h["test_loss"]),
                          "weight_norm": float(np.linalg.norm(weights)),
                          "l1_norm": float(np.abs(weights).sum()),
                          "near_zero_weights": float(np.mean(np.abs(weights) < 1e-2))})
    ctx.table(sweep, title="λ sweep", caption="Final data losses (no penalty) after training; "
              "weight_norm is √ΣW², l1_norm Σ|W|, near_zero_weights the fraction of weights "
              "with |W| < 0.01. With plain SGD the L1 sub-gradient λ·sign(W) makes small "
              "weights hop around 0 (steps of lr·λ) rather than land on exactly 0.")
    mom = {}
    for label, opt in (("sgd", SGD(cfg.momentum_lr)),
                       ("momentum", Momentum(cfg.momentum_lr, cfg.momentum))):
        params = init_params(widths, seed=cfg.seed)
        mom[label] = train(params, x, y, cfg.momentum_epochs, cfg.batch_size, opt,
                           loss="cross_entropy", seed=cfg.seed)["train_loss"]
    momentum = {"sgd_loss": mom["sgd"][-1], "momentum_loss": mom["momentum"][-1],
                "epochs": cfg.momentum_epochs, "lr": cfg.momentum_lr, "momentum": cfg.momentum}
    ctx.echo(f"after {cfg.momentum_epochs} epochs: SGD loss {momentum['sgd_loss']:.4f}, "
             f"momentum loss {momentum['momentum_loss']:.4f}")
    _plot(ctx, cfg, curves, mom)
    base = next((r for r in sweep if r["lambda"] == 0), None)
    best = min(sweep, key=lambda r: r["test_loss"])
    ctx.text(f"Gradients agree with finite differences and autograd to {worst:.1e}. Lowest "
             f"final test loss: {best['penalty']} with λ = {best['lambda']:g} "
             f"({best['test_loss']:.4f}" + (f"; without a penalty {base['test_loss']:.4f})."
                                            if base else ").")
             + f" After {cfg.momentum_epochs} epochs at lr {cfg.momentum_lr:g} the training "
             f"loss is {momentum['sgd_loss']:.4f} with SGD and {momentum['momentum_loss']:.4f} "
             f"with momentum {cfg.momentum:g}.", title="Result")
    return {"grad_check_max_rel_error": worst, "grad_check": checks, "lambda_sweep": sweep,
            "momentum": momentum}


def _plot(ctx, cfg: Config, curves: dict, mom: dict) -> None:
    panels = {pen: [(lam, curves[(pen, lam)]["epoch"], curves[(pen, lam)]["test_loss"],
                     curves[(pen, lam)]["train_loss"]) for lam in getattr(cfg, f"{pen}_lambdas")]
              for pen in ("l1", "l2")}
    fig = lambda_sweep_figure(panels, "test loss", "training loss (log)")
    ctx.figure(fig, "lambda-sweep", "Test (top, zoomed on its minimum) and training (bottom) "
               "data loss of the NumPy MLP for every λ: without a penalty the training loss "
               "goes to 0 while the test loss rises again after its minimum (overfitting).")
    fig, axes = new_figure()
    ax = axes[0, 0]
    for label, losses in mom.items():
        ax.plot(range(1, len(losses) + 1), losses, marker="o", ms=2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"SGD vs momentum {cfg.momentum:g}, lr {cfg.momentum_lr:g}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ctx.figure(fig, "momentum", "Training loss of plain SGD and of SGD with momentum from "
               "the same initial weights and the same minibatches.")
