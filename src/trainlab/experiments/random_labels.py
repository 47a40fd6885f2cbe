"""random-labels: the same network fitted to true and to random labels (Zhang et al. 2017).

"Understanding deep learning requires rethinking generalization" (ICLR 2017) showed that
a network big enough to learn MNIST or CIFAR-10 also fits the same images with labels
drawn at random: training accuracy reaches ≈100 %, test accuracy stays at chance
(10 %), and fitting takes several times longer. Capacity alone therefore cannot explain
why networks generalize on real labels.

Here one MLP architecture with one initialization trains as an ensemble of two members
with per-member targets: member 0 on the true labels, member 1 on labels of which a
fraction `label_noise` (default 1, all) is replaced by uniformly random classes
(`trainlab.data.corrupt_labels`). Both see the same images in the same batch order.
SGD with momentum 0.9 is the default (docs/DESIGN.md §4): with Adam the fitted random
labels can be partly forgotten later. The labels used are saved in `labels.npz`.

Replicates (`--seeds N`) join the same ensemble: 2·N members, each seed's pair on that
seed's data subset, labels and initialization (`run_seeds`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import corrupt_labels
from trainlab.errors import BadInput
from trainlab.experiments._common import (
    EnsembleOptimizerName,
    ImageData,
    MLPConfig,
    load_data,
    validate_data,
)
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.runs import atomic_write_bytes
from trainlab.stats import mean_band
from trainlab.train import Split, fit

QUESTION = ("Can the same network fit labels that carry no information about the "
            "images, and what happens to its test accuracy and training time?")

WHAT_TO_LOOK_AT = ("- Train accuracy: Zhang et al. (2017) found that random labels "
                   "are fitted to ≈100 %, only later than the true labels "
                   "(`epochs_to_fit`).\n"
                   "- Test accuracy on random labels stays at chance (≈10 % for "
                   "10 classes): nothing learned transfers.\n"
                   "- The random-label train loss stays high for a while, then "
                   "drops once the network starts memorizing example by example.")

REFERENCES = (
    "Zhang, Bengio, Hardt, Recht, Vinyals 2017, *Understanding deep learning requires rethinking "
    "generalization*",
)


@dataclass
class ModelConfig(MLPConfig):
    """The `model` section: a plain MLP, with this experiment's default widths."""

    widths: list[int] = option([512], "hidden widths of the MLP")


@dataclass
class Config(BaseConfig):
    model: ModelConfig = option(ModelConfig(), "the network (one architecture for both)")
    data: ImageData = option(ImageData(), "the images")
    label_noise: float = option(1.0, "fraction of training labels replaced by random classes "
                                "for the second model (1 = fully random labels)", minimum=0.0)
    epochs: int = option(60, "training epochs")
    batch_size: int = option(64, "minibatch size")
    optimizer: EnsembleOptimizerName = option(
        "sgd", "optimizer (SGD with momentum: Adam can forget fitted random labels)")
    lr: float = option(0.05, "learning rate")
    momentum: float = option(0.9, "momentum of sgd", minimum=0.0)
    weight_decay: float = option(0.0, "L2 weight decay added to the gradient", minimum=0.0)
    fit_threshold: float = option(0.99, "train accuracy that counts as 'fitted' "
                                  "(epochs_to_fit = first epoch reaching it)", positive=True)
    normalize: bool = option(True, "standardize pixels with the training mean and std")

    def validate(self) -> None:
        if self.label_noise > 1:
            raise BadInput("config key 'label_noise': must be <= 1")
        if self.fit_threshold > 1:
            raise BadInput("config key 'fit_threshold': must be <= 1")
        if self.momentum >= 1:
            raise BadInput("config key 'momentum': must be < 1")
        validate_data(self.data)


PRESETS = {
    "smoke": {"epochs": 3, "model": {"widths": [32]}, "batch_size": 128,
              "data": {"max_train": 500, "max_test": 200}},
    "quick": {"epochs": 30, "model": {"widths": [256]}, "data": {"max_train": 1000}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="random_train_accuracy",
    objectives={
        "random_train_accuracy": "maximize",
        "random_test_accuracy": "maximize",
        "true.test_accuracy": "maximize",
        "true.train_accuracy": "maximize",
        "random.train_loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True},
        "momentum": {"type": "float", "low": 0.0, "high": 0.99},
        "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
    },
    note="How to memorise random labels fastest.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=5, full=5, ensemble=True,
                        replicate_bytes="replicate_bytes")
ZHANG = "Zhang et al. 2017, Understanding deep learning requires rethinking generalization"
CLAIMS = (
    Claim("memorizes-random-labels",
          "The network fits labels drawn at random: train accuracy on them reaches ≈100 %.",
          ZHANG, "train accuracy on the random labels", threshold=0.95, direction=">",
          value=lambda s: s["random"]["train_accuracy"]),
    Claim("random-labels-fit-slower",
          "Random labels take longer to fit than the true ones (a small constant factor).",
          ZHANG, "epochs to fit random labels ÷ epochs to fit true labels", threshold=1.0,
          direction=">",
          value=lambda s: s["random"]["epochs_to_fit"] / s["true"]["epochs_to_fit"]),
)


def epochs_to_fit(epochs: list[int], accuracy: np.ndarray, threshold: float) -> int | None:
    """First epoch whose train accuracy is at least `threshold`; None if none is."""
    for ep, acc in zip(epochs, accuracy, strict=True):
        if ep > 0 and acc >= threshold:
            return int(ep)
    return None


def _save_labels(ctx, labels: dict[int, tuple]) -> None:
    buf = io.BytesIO()
    if len(labels) == 1:  # one replicate: the file as it always was
        true, used, mask = next(iter(labels.values()))
        arrays = {"true": true, "random": used, "relabelled": mask}
    else:
        arrays = {f"{k}_seed{s}": t for s, ts in labels.items()
                  for k, t in zip(("true", "random", "relabelled"), ts, strict=True)}
    np.savez(buf, **{k: t.cpu().numpy() for k, t in arrays.items()})
    atomic_write_bytes(ctx.path / "labels.npz", buf.getvalue())


def replicate_bytes(cfg: Config) -> int:
    """Memory one replicate adds when replicates train as one ensemble (an upper bound):
    its two members' copies of the images (float32) and four copies of their parameters
    (weights, gradients, momentum, a spare)."""
    n = (cfg.data.max_train or 60_000) + (cfg.data.max_test or 10_000)
    sizes = [784, *cfg.model.widths, 10]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 2 * 4 * (n * 784 + 4 * params)


def _replicate_data(cfg: Config, seeds: list[int], dev):
    """Per-member train and test splits: member 2k on seed k's true labels, 2k+1 on its
    random ones. One seed keeps today's shared test split (the numbers stay identical)."""
    xs, ys, xts, yts, labels = [], [], [], [], {}
    for seed in seeds:
        (xtr, ytr, xte, yte), classes = load_data(replace(cfg, seed=seed), dev)
        y_rand, mask = corrupt_labels(ytr, cfg.label_noise, classes, seed=seed + 1)
        labels[seed] = (ytr, y_rand, mask)
        xs += [xtr, xtr]
        ys += [ytr, y_rand]
        xts += [xte, xte]
        yts += [yte, yte]
    if len(seeds) == 1:
        x2 = xs[0].unsqueeze(0).expand(2, *xs[0].shape)
        train, test = Split(x2, torch.stack(ys), per_member=True), Split(xts[0], yts[0])
    else:
        train = Split(torch.stack(xs), torch.stack(ys), per_member=True)
        test = Split(torch.stack(xts), torch.stack(yts), per_member=True)
    return train, test, labels, classes


@experiment("random-labels", config=Config, presets=PRESETS, sweep=SWEEP, chapter="generalization",
            purpose="Fit one MLP to true and to random labels: memorization without "
                    "generalization (Zhang et al. 2017)",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("true.{train_accuracy, test_accuracy, epochs_to_fit}",
                          "random.{train_accuracy, test_accuracy, epochs_to_fit}"),
            headline=("true_epochs_to_fit", "random_epochs_to_fit", "random_train_accuracy",
                      "random_test_accuracy"))
def run(cfg: Config, ctx) -> dict:
    return run_seeds(cfg, ctx, [cfg.seed])[0]


def _member_summary(cfg, h, e: int) -> dict:
    return {"train_accuracy": float(h.final("train", "accuracy")[e]),
            "test_accuracy": float(h.final("test", "accuracy")[e]),
            "train_loss": float(h.final("train", "loss")[e]),
            "test_loss": float(h.final("test", "loss")[e]),
            "epochs_to_fit": epochs_to_fit(h.epochs, h.series("train", "accuracy")[:, e],
                                           cfg.fit_threshold)}


def run_seeds(cfg: Config, ctx, seeds: list[int]) -> list[dict]:
    """One summary per replicate seed; all replicates train as one ensemble of 2·len(seeds)
    members (each seed's true-label and random-label networks start from that seed)."""
    dev = ctx.device
    train, test, labels, classes = _replicate_data(cfg, seeds, dev)
    _save_labels(ctx, labels)
    names = ["true", "random"]
    members = names if len(seeds) == 1 else [f"{n}/seed{s}" for s in seeds for n in names]
    model = mlp(cfg.model.widths, train.x.shape[-1], classes,
                seeds=[s for s in seeds for _ in names],
                activation=cfg.model.activation).to(dev)
    result = fit(model, train, epochs=cfg.epochs,
                 batch_size=cfg.batch_size, loss="cross_entropy",
                 optim=OptimSpec(cfg.optimizer, cfg.lr, momentum=cfg.momentum,
                                 weight_decay=cfg.weight_decay),
                 evals={"train": train, "test": test},
                 eval_at_start=True, ctx=ctx, name="train", member_names=members)
    h = result.history
    summaries = []
    for k, seed in enumerate(seeds):
        ytr, y_rand, _ = labels[seed]
        summary: dict = {n: _member_summary(cfg, h, 2 * k + e) for e, n in enumerate(names)}
        summary.update(label_noise=cfg.label_noise,
                       labels_changed_fraction=float((y_rand != ytr).float().mean()),
                       chance_accuracy=1.0 / classes, fit_threshold=cfg.fit_threshold,
                       params=model.params_per_member(), n_train=len(train), epochs=cfg.epochs)
        for name in names:
            summary[f"{name}_epochs_to_fit"] = summary[name]["epochs_to_fit"]
        summary["random_train_accuracy"] = summary["random"]["train_accuracy"]
        summary["random_test_accuracy"] = summary["random"]["test_accuracy"]
        summaries.append(summary)
    _report(cfg, ctx, summaries, model.params_per_member(), len(train), classes)
    _plot(ctx, h, names, len(seeds), classes, cfg.fit_threshold)
    return summaries


def _report(cfg, ctx, summaries: list[dict], params: int, n_train: int, classes: int) -> None:
    keys = ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "epochs_to_fit")
    rows = [{"labels": n, **{k: s[n][k] for k in keys}} for s in summaries[:1]
            for n in ("true", "random")]
    many = len(summaries) > 1
    ctx.table(rows, title="True against random labels" + (" (first replicate)" if many else ""),
              caption=f"epochs_to_fit: first epoch with train accuracy ≥ {cfg.fit_threshold:g} "
                      "(empty: never within the run).")
    changed = float(np.mean([s["labels_changed_fraction"] for s in summaries]))
    ctx.text(f"{n_train} training images, {params:,} parameters per "
             f"network. The second network's labels: a fraction {cfg.label_noise:g} redrawn "
             f"uniformly from {classes} classes, so {100 * changed:.1f} % of them differ from "
             f"the true labels. Chance accuracy is {100 / classes:.0f} %."
             + (f" {len(summaries)} replicates, trained as one ensemble." if many else ""))
    for s in summaries:
        for n in ("true", "random"):
            r = s[n]
            ctx.echo(f"{n:>6}: train acc {r['train_accuracy']:.3f}  test acc "
                     f"{r['test_accuracy']:.3f}  epochs to fit {r['epochs_to_fit']}")


def _plot(ctx, h, names, replicates, classes, threshold) -> None:
    fig, axes = new_figure(ncols=2, width=5.4, height=3.8)
    for e, name in enumerate(names):
        for split, style in (("train", "-"), ("test", "--")):
            for ax, metric in zip(axes[0], ("loss", "accuracy"), strict=True):
                # members e, e+2, e+4, …: this label kind in every replicate
                mean, lo, hi = mean_band(h.series(split, metric)[:, e::2])
                ax.plot(h.epochs, mean, color=f"C{3 * e}", ls=style,
                        label=f"{name} labels, {split}")
                if replicates > 1:
                    ax.fill_between(h.epochs, lo, hi, color=f"C{3 * e}", alpha=0.2, lw=0)
    axes[0, 1].axhline(1.0 / classes, color="0.5", ls=":", lw=1, label="chance")
    axes[0, 1].axhline(threshold, color="0.5", ls="-.", lw=0.8, label="fit threshold")
    axes[0, 0].set(yscale="log", ylabel="cross-entropy loss", title="Loss")
    axes[0, 1].set(ylim=(0, 1.02), ylabel="accuracy", title="Accuracy")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    ctx.figure(fig, "curves",
               "Train (solid) and test (dashed) loss and accuracy per epoch of the network on "
               "true (blue) and on random (red) labels"
               + (f": mean of {replicates} replicates, shaded: its 95 % t interval."
                  if replicates > 1 else "."))
