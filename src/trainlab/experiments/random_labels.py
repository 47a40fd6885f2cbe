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
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from trainlab.config import BaseConfig, option
from trainlab.data import corrupt_labels
from trainlab.errors import BadInput
from trainlab.experiments._classification import DataConfig, MLPConfig, load_data, validate_data
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import experiment
from trainlab.report.plots import new_figure
from trainlab.runs import atomic_write_bytes
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
    data: DataConfig = option(DataConfig(), "the images")
    label_noise: float = option(1.0, "fraction of training labels replaced by random classes "
                                "for the second model (1 = fully random labels)", minimum=0.0)
    epochs: int = option(60, "training epochs")
    batch_size: int = option(64, "minibatch size")
    optimizer: Literal["sgd", "momentum", "nesterov", "adam", "adagrad", "rmsprop"] = option(
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


def epochs_to_fit(epochs: list[int], accuracy: np.ndarray, threshold: float) -> int | None:
    """First epoch whose train accuracy is at least `threshold`; None if none is."""
    for ep, acc in zip(epochs, accuracy, strict=True):
        if ep > 0 and acc >= threshold:
            return int(ep)
    return None


def _save_labels(ctx, true: torch.Tensor, used: torch.Tensor, mask: torch.Tensor) -> None:
    buf = io.BytesIO()
    np.savez(buf, true=true.cpu().numpy(), random=used.cpu().numpy(),
             relabelled=mask.cpu().numpy())
    atomic_write_bytes(ctx.path / "labels.npz", buf.getvalue())


@experiment("random-labels", config=Config, presets=PRESETS, chapter="generalization",
            purpose="Fit one MLP to true and to random labels: memorization without "
                    "generalization (Zhang et al. 2017)",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("true.{train_accuracy, test_accuracy, epochs_to_fit}",
                          "random.{train_accuracy, test_accuracy, epochs_to_fit}"),
            headline=("true_epochs_to_fit", "random_epochs_to_fit", "random_train_accuracy",
                      "random_test_accuracy"))
def run(cfg: Config, ctx) -> dict:
    dev = ctx.device
    (xtr, ytr, xte, yte), classes = load_data(cfg, dev)
    y_rand, mask = corrupt_labels(ytr, cfg.label_noise, classes, seed=cfg.seed + 1)
    _save_labels(ctx, ytr, y_rand, mask)
    changed = float((y_rand != ytr).float().mean())
    model = mlp(cfg.model.widths, xtr.shape[1], classes, seeds=[cfg.seed, cfg.seed],
                activation=cfg.model.activation).to(dev)
    x2 = xtr.unsqueeze(0).expand(2, *xtr.shape)
    y2 = torch.stack([ytr, y_rand])
    names = ["true", "random"]
    result = fit(model, Split(x2, y2, per_member=True), epochs=cfg.epochs,
                 batch_size=cfg.batch_size, loss="cross_entropy",
                 optim=OptimSpec(cfg.optimizer, cfg.lr, momentum=cfg.momentum,
                                 weight_decay=cfg.weight_decay),
                 evals={"train": Split(x2, y2, per_member=True), "test": Split(xte, yte)},
                 eval_at_start=True, ctx=ctx, name="train", member_names=names)
    h = result.history
    summary: dict = {}
    for e, name in enumerate(names):
        summary[name] = {
            "train_accuracy": float(h.final("train", "accuracy")[e]),
            "test_accuracy": float(h.final("test", "accuracy")[e]),
            "train_loss": float(h.final("train", "loss")[e]),
            "test_loss": float(h.final("test", "loss")[e]),
            "epochs_to_fit": epochs_to_fit(h.epochs, h.series("train", "accuracy")[:, e],
                                           cfg.fit_threshold)}
    summary.update(label_noise=cfg.label_noise, labels_changed_fraction=changed,
                   chance_accuracy=1.0 / classes, fit_threshold=cfg.fit_threshold,
                   params=model.params_per_member(), n_train=len(xtr), epochs=cfg.epochs)
    for name in names:
        summary[f"{name}_epochs_to_fit"] = summary[name]["epochs_to_fit"]
    summary["random_train_accuracy"] = summary["random"]["train_accuracy"]
    summary["random_test_accuracy"] = summary["random"]["test_accuracy"]

    rows = [{"labels": n, **{k: summary[n][k] for k in ("train_accuracy", "test_accuracy",
                                                        "train_loss", "test_loss",
                                                        "epochs_to_fit")}} for n in names]
    ctx.table(rows, title="True against random labels",
              caption=f"epochs_to_fit: first epoch with train accuracy ≥ {cfg.fit_threshold:g} "
                      "(empty: never within the run).")
    ctx.text(f"{len(xtr)} training images, {model.params_per_member():,} parameters per "
             f"network. The second network's labels: a fraction {cfg.label_noise:g} redrawn "
             f"uniformly from {classes} classes, so {100 * changed:.1f} % of them differ from "
             f"the true labels. Chance accuracy is {100 / classes:.0f} %.")
    for r in rows:
        ctx.echo(f"{r['labels']:>6}: train acc {r['train_accuracy']:.3f}  test acc "
                 f"{r['test_accuracy']:.3f}  epochs to fit {r['epochs_to_fit']}")
    _plot(ctx, h, names, classes, cfg.fit_threshold)
    return summary


def _plot(ctx, h, names, classes, threshold) -> None:
    fig, axes = new_figure(ncols=2, width=5.4, height=3.8)
    for e, name in enumerate(names):
        for split, style in (("train", "-"), ("test", "--")):
            for ax, metric in zip(axes[0], ("loss", "accuracy"), strict=True):
                ax.plot(h.epochs, h.series(split, metric)[:, e], color=f"C{3 * e}", ls=style,
                        label=f"{name} labels, {split}")
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
               "true (blue) and on random (red) labels.")
