"""param-count: train and test loss and accuracy against the number of parameters.

The exercise ("can the number of parameters explain generalization?") trains ten or
more networks of one shape and growing width on MNIST, from about 1.5k to 18k
parameters and beyond, and plots their final train and test loss and accuracy against
the parameter count on a log axis. Train loss keeps falling as the networks grow; test
loss falls with it at first, then flattens or rises again once the network can fit the
training set, while test accuracy saturates: more parameters do not by themselves make a
network generalize worse.

Every width is one MLP `in -> width -> classes` (or `len(depth)` hidden layers of that
width); its `runs` seeds train together as one ensemble, one fit per width (shapes differ
between widths). Points are the mean over seeds, bars their min-max range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.errors import BadInput
from trainlab.experiments._common import (
    ActivationName,
    EnsembleOptimizerName,
    ImageData,
    load_data,
    validate_data,
)
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.train import Split, fit

QUESTION = ("Does a network with more parameters fit the training set better, and "
            "does it generalize worse?")

WHAT_TO_LOOK_AT = ("- Train loss falls steadily with the parameter count; the "
                   "widest networks fit the training set almost perfectly.\n"
                   "- Test loss falls too at first, then levels off or rises while "
                   "test accuracy keeps its plateau: the gap between train and "
                   "test grows, yet the big networks do not generalize worse in "
                   "accuracy (Zhang et al. 2017; Neyshabur et al. 2015).\n"
                   "- The smallest networks (≈1.6k parameters) are limited by "
                   "capacity: train and test stay close together.")

REFERENCES = (
    "Belkin et al. 2019, *Reconciling modern machine learning practice and the bias-variance "
    "trade-off*",
)


@dataclass
class Config(BaseConfig):
    data: ImageData = option(ImageData(), "the images")
    widths: list[int] = option([2, 3, 4, 6, 8, 12, 16, 23, 32, 64, 128, 256],
                               "hidden widths compared (784·w + w + 10·w + 10 parameters "
                               "with one hidden layer on MNIST)")
    depth: int = option(1, "hidden layers, all of the same width", positive=True)
    activation: ActivationName = option("relu", "hidden activation")
    runs: int = option(2, "seeds per width (trained as one ensemble)")
    epochs: int = option(30, "training epochs")
    batch_size: int = option(64, "minibatch size")
    optimizer: EnsembleOptimizerName = option("adam", "optimizer")
    lr: float = option(1e-3, "learning rate")
    momentum: float = option(0.0, "momentum of sgd", minimum=0.0)
    eval_every: int = option(5, "evaluate train and test every this many epochs", positive=True)
    normalize: bool = option(True, "standardize pixels with the training mean and std")

    def validate(self) -> None:
        if not self.widths:
            raise BadInput("config key 'widths': give at least one width")
        if self.momentum >= 1:
            raise BadInput("config key 'momentum': must be < 1")
        validate_data(self.data)


PRESETS = {
    "smoke": {"widths": [2, 8, 32], "runs": 1, "epochs": 2, "eval_every": 1,
              "data": {"max_train": 500, "max_test": 200}},
    "quick": {"widths": [2, 4, 8, 16, 32, 64, 128], "runs": 1, "epochs": 10,
              "data": {"max_train": 2000}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="best_test_accuracy",
    objectives={
        "best_test_accuracy": "maximize",
        "models.#.test_accuracy": "maximize",
        "models.#.test_loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
    },
    note="The training settings with the best test accuracy of any width.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)


def _widest_vs_best(summary: dict) -> float:
    """Test accuracy of the widest network minus the best of the narrower ones."""
    by_size = sorted(summary["models"], key=lambda m: m["params"])
    return by_size[-1]["test_accuracy"] - max(m["test_accuracy"] for m in by_size[:-1])


CLAIMS = (
    Claim("train-loss-falls-with-size",
          "Train loss falls as the parameter count grows.",
          "Zhang et al. 2017; Neyshabur et al. 2015",
          "Spearman ρ(parameters, train loss) over widths × replicates", threshold=0.0,
          direction="<", estimator="spearman",
          samples=lambda s: ([m["params"] for m in s["models"]],
                             [m["train_loss"] for m in s["models"]])),
    Claim("bigger-does-not-generalize-worse",
          "More parameters do not by themselves hurt generalization: the widest network's "
          "test accuracy is within one point of the best narrower one.",
          "Neyshabur et al. 2015, In search of the real inductive bias",
          "test accuracy of the widest − best of the narrower (fraction)", threshold=-0.01,
          direction=">", value=_widest_vs_best),
)


METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


@experiment("param-count", config=Config, presets=PRESETS, sweep=SWEEP, chapter="generalization",
            purpose="Train and test loss and accuracy of 10+ MLP widths against their "
                    "parameter count",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("models[].{params, train_loss, test_loss}",
                          "models[].{train_accuracy, test_accuracy}"),
            headline=("best_test_accuracy", "best_params", "largest_params"))
def run(cfg: Config, ctx) -> dict:
    dev = ctx.device
    (xtr, ytr, xte, yte), classes = load_data(cfg, dev)
    seeds = [cfg.seed + 1000 * r for r in range(cfg.runs)]  # replicates s, s+1, … stay disjoint
    train, test = Split(xtr, ytr), Split(xte, yte)
    models = []
    for width in cfg.widths:
        model = mlp([width] * cfg.depth, xtr.shape[1], classes, seeds,
                    activation=cfg.activation).to(dev)
        result = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                     loss="cross_entropy",
                     optim=OptimSpec(cfg.optimizer, cfg.lr, momentum=cfg.momentum),
                     evals={"train": train, "test": test},
                     eval_every=cfg.eval_every, ctx=ctx, name=f"width-{width}",
                     member_names=[f"w{width}-seed{s}" for s in seeds])
        h = result.history
        row: dict = {"width": width, "params": model.params_per_member()}
        for key in METRICS:
            split, metric = key.split("_")
            vals = h.final(split, metric)
            row[key] = float(np.mean(vals))
            row[f"{key}_min"], row[f"{key}_max"] = float(np.min(vals)), float(np.max(vals))
        models.append(row)
        ctx.echo(f"width {width:>5} params {row['params']:>8,}: train loss "
                 f"{row['train_loss']:.4f} test loss {row['test_loss']:.4f} test acc "
                 f"{row['test_accuracy']:.4f}")

    ctx.table([{k: m[k] for k in ("width", "params", *METRICS)} for m in models],
              title="Final metrics per width",
              caption=f"Mean over {cfg.runs} seed(s) after {cfg.epochs} epochs.")
    _plot(ctx, models, cfg.runs)
    best = max(models, key=lambda m: m["test_accuracy"])
    return {"models": models, "best_test_accuracy": best["test_accuracy"],
            "best_params": best["params"], "largest_params": models[-1]["params"],
            "runs": cfg.runs, "epochs": cfg.epochs, "n_train": len(xtr)}


def _plot(ctx, models, runs) -> None:
    order = sorted(models, key=lambda m: m["params"])
    p = np.array([m["params"] for m in order], dtype=float)
    fig, axes = new_figure(ncols=2, width=5.4, height=3.8)
    for ax, metric, label in ((axes[0, 0], "loss", "cross-entropy loss"),
                              (axes[0, 1], "accuracy", "accuracy")):
        for split, marker in (("train", "o"), ("test", "s")):
            key = f"{split}_{metric}"
            y = np.array([m[key] for m in order])
            lo = y - np.array([m[f"{key}_min"] for m in order])
            hi = np.array([m[f"{key}_max"] for m in order]) - y
            ax.errorbar(p, y, yerr=[lo, hi] if runs > 1 else None, marker=marker, ms=4,
                        capsize=2, label=split)
        ax.set_xscale("log")
        if metric == "loss":
            ax.set_yscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    axes[0, 0].set_title("Loss against model size")
    axes[0, 1].set_title("Accuracy against model size")
    ctx.figure(fig, "params", "Final train and test loss (log) and accuracy of every width "
               "against its parameter count (log x); bars: range over seeds.")
