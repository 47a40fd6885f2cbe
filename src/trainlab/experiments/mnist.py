"""mnist: classify handwritten digits with an MLP or a CNN, and look inside the network.

The KAIST exercise followed pytorch/examples' `mnist/main.py`: a CNN conv32-conv64-
maxpool-dropout(0.25)-fc128-dropout(0.5)-fc10 trained with Adadelta (lr 1.0), a StepLR
schedule with γ = 0.7 per epoch and minibatches of 64 for 14 epochs. Here it runs on the
5,000-digit MNIST subset (4,000 train / 1,000 test) by default, or on Fashion-MNIST,
scikit-learn's 8×8 digits or the full IDX files (`data.root`). After every epoch the
train and test loss and accuracy are measured and the weight histograms recorded; at the
end come the confusion matrix and the activation maps of the first convolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator
from torch import nn

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import standardize
from trainlab.diagnostics import WeightHistograms, activation_maps
from trainlab.errors import BadInput
from trainlab.experiments._common import (
    ActivationName,
    ImageData,
    OptimizerName,
    load_subsets,
    validate_data,
)
from trainlab.models import Ensemble, mlp_spec, pytorch_examples_cnn_spec, small_cnn_spec
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.train import Split, fit

QUESTION = ("How well does a small CNN classify handwritten digits, how does it "
            "learn over the epochs, and what do its first filters respond to?")

WHAT_TO_LOOK_AT = ("- The curves: the test accuracy is high after one epoch and "
                   "levels off within a few, as StepLR shrinks the rate by 0.7 per "
                   "epoch; the training loss keeps falling (memorisation).\n"
                   "- The gap between train and test error: how much the model "
                   "overfits despite dropout.\n"
                   "- The confusion matrix: which digits are mistaken for which "
                   "(4↔9, 3↔5, 7↔2 are classic).\n"
                   "- The activation maps: first-layer filters are edge and stroke "
                   "detectors.\n"
                   "- The weight histograms: how far the weights move from their "
                   "uniform initialisation.")

REFERENCES = (
    "pytorch/examples `mnist/main.py` (the CNN, Adadelta lr 1.0, StepLR γ 0.7)",
    "LeCun et al. 1998, *Gradient-based learning applied to document recognition*",
)

INPUT_FORMAT = """\
data.root: a folder with the four standard MNIST IDX files, gzipped or not, directly in
it or in raw/ or MNIST/raw/ (torchvision's layout):
    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
Images 28x28 unsigned bytes, labels 0..9. Without data.root: the built-in data.
"""


@dataclass
class ModelConfig:
    name: Literal["pytorch-examples-cnn", "cnn", "mlp"] = option(
        "pytorch-examples-cnn", "architecture: the pytorch/examples CNN, a small CNN or an MLP")
    widths: list[int] = option([256, 128], "hidden widths of the mlp")
    activation: ActivationName = option("relu", "hidden activation of the mlp")
    channels: list[int] = option([16, 32], "channels of the small cnn's conv-relu-maxpool "
                                 "blocks", positive=True)
    hidden: int = option(64, "fully connected width after the small cnn's convolutions "
                         "(0 = none)", minimum=0)


@dataclass
class Config(BaseConfig):
    seed: int = option(1, "random seed (pytorch/examples uses 1)")
    model: ModelConfig = option(ModelConfig(), "the network")
    data: ImageData = option(ImageData(), "the images")
    epochs: int = option(14, "training epochs")
    batch_size: int = option(64, "minibatch size")
    optimizer: OptimizerName = option("adadelta", "optimizer")
    lr: float = option(1.0, "learning rate (1.0 for Adadelta as in pytorch/examples)")
    momentum: float = option(0.0, "momentum of sgd (momentum/nesterov default to 0.9)",
                             minimum=0.0)
    weight_decay: float = option(0.0, "L2 weight decay added to the gradient", minimum=0.0)
    lr_schedule: Literal["step", "none", "onecycle"] = option(
        "step", "learning-rate schedule (step: StepLR, factor gamma after every epoch)")
    gamma: float = option(0.7, "StepLR factor per step", positive=True)
    step_size: int = option(1, "epochs per StepLR step (pytorch/examples: 1)", positive=True)
    normalize: bool = option(True, "standardize pixels with the training mean and std "
                             "(0.1307, 0.3081 for MNIST, as in pytorch/examples)")
    precision: Literal["fp32", "bf16"] = option(
        "fp32", "fp32, or bf16: mixed precision (bfloat16 autocast, channels-last convolutions, "
        "float32 weights); ~1.8x faster on CPUs with AVX512-BF16 or AMX, slower without")
    hist_bins: int = option(40, "bins of the weight histograms", positive=True)
    image_index: int = option(0, "test image whose activation maps are drawn", minimum=0)

    def validate(self) -> None:
        if self.momentum >= 1:
            raise BadInput("config key 'momentum': must be < 1")
        validate_data(self.data)
        if self.data.max_test and self.image_index >= self.data.max_test:
            raise BadInput("config key 'image_index': must be < data.max_test")


PRESETS = {
    "smoke": {"epochs": 2, "model": {"name": "cnn", "channels": [8, 16], "hidden": 0},
              "data": {"max_train": 1000}},
    # quick trains on the claim's 4,000-image subset (3 of full's 14 epochs). On 2,000
    # images it lost the claim: test error 4.0-5.5 % over seeds 1-3, 4.87 [2.99, 6.75]
    # inconclusive where full reproduces it; on 4,000: 2.9-3.8 %, 3.47 [2.24, 4.69]
    # (2026-12-02; the full preset is unchanged; about 17 s more a quick run).
    "quick": {"epochs": 3},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="test_loss",
    objectives={
        "test_loss": "minimize",
        "train_loss": "minimize",
        "test_error": "minimize",
        "train_error": "minimize",
        "test_accuracy": "maximize",
        "train_accuracy": "maximize",
    },
    space={
        "batch_size": {"type": "int", "low": 10, "high": 128},
        "lr": {"type": "float", "low": 1e-8, "high": 1.0, "log": True},
        "gamma": {"type": "float", "low": 0.01, "high": 1.0},
        "weight_decay": {"type": "float", "low": 1e-7, "high": 1e-4, "log": True},
    },
    sets={"epochs": 1},
    note=("The genetic-algorithm exercise: population 30, 28 generations; batch size in "
          "[10, 128], lr in [1e-8, 1], gamma in [0, 1] (the config wants gamma > 0, so "
          "0.01), weight decay in [1e-7, 1e-4]; fitness = test loss after one epoch."),
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)

CLAIMS = (
    Claim("cnn-under-5-percent",
          "The CNN classifies MNIST digits with a test error under 5 % (here trained on the "
          "4,000-image subset).",
          "LeCun et al. 1998; pytorch/examples mnist",
          "test error (%)", threshold=5.0, direction="<",
          value=lambda s: s["test_error"]),
)


def load_data(cfg: Config, device: torch.device):
    """The dataset (subsets taken with a seeded permutation), standardized, on `device`."""
    ds, (xtr, ytr, xte, yte) = load_subsets(cfg)
    if cfg.image_index >= len(xte):
        raise BadInput(f"config key 'image_index': the test set has {len(xte)} images")
    if cfg.normalize:
        _, _, (xtr, xte) = standardize(xtr, xte, per_feature=False)
    return ds, [t.to(device) for t in (xtr, ytr, xte, yte)]


def model_spec(cfg: Config, num_classes: int) -> list[tuple]:
    """The layer spec of the chosen architecture."""
    m = cfg.model
    if m.name == "pytorch-examples-cnn":
        return pytorch_examples_cnn_spec(num_classes)
    if m.name == "cnn":
        return small_cnn_spec(m.channels, m.hidden, num_classes)
    return mlp_spec(m.widths, m.activation, num_classes)


def tensorboard_writer(ctx):
    """A SummaryWriter into the run folder when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(ctx.path / "tensorboard"))


@torch.no_grad()
def predict(model: Ensemble, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Predicted classes of member 0, in eval mode (no dropout)."""
    model.eval()
    out = torch.cat([model(x[s:s + batch])[0].argmax(-1) for s in range(0, len(x), batch)])
    model.train()
    return out


def confusion_matrix(y: torch.Tensor, pred: torch.Tensor, k: int) -> np.ndarray:
    """Counts[true, predicted]."""
    return np.bincount((y * k + pred).cpu().numpy(), minlength=k * k).reshape(k, k)


@experiment("mnist", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Classify MNIST digits with an MLP or a CNN (the pytorch/examples CNN by "
                    "default); curves, confusion matrix, activation maps, weight histograms",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("test_accuracy", "test_error", "train_error", "epochs", "params"),
            headline=("test_accuracy", "test_error", "train_error", "epochs", "params"))
def run(cfg: Config, ctx) -> dict:
    ds, (xtr, ytr, xte, yte) = load_data(cfg, ctx.device)
    k = ds.num_classes
    model = Ensemble(model_spec(cfg, k), ds.input_shape, seeds=[cfg.seed]).to(ctx.device)
    params = model.params_per_member()
    ctx.text(f"Data: {ds.description}; training on {len(xtr)} images, testing on {len(xte)}. "
             f"Model: `{cfg.model.name}` with {params:,} parameters; optimizer `{cfg.optimizer}` "
             f"(lr {cfg.lr:g}, schedule {cfg.lr_schedule}, γ {cfg.gamma:g}), batch "
             f"{cfg.batch_size}, {cfg.epochs} epochs.")
    hist = WeightHistograms(cfg.hist_bins, writer=tensorboard_writer(ctx))
    hist.take(0, model)
    result = fit(model, Split(xtr, ytr), epochs=cfg.epochs, batch_size=cfg.batch_size,
                 loss="cross_entropy", optim=OptimSpec.from_config(cfg),
                 evals={"train": Split(xtr, ytr), "test": Split(xte, yte)},
                 eval_at_start=True, ctx=ctx, name="train", callbacks=[hist],
                 precision=cfg.precision)
    if hist.writer is not None:
        hist.writer.close()
    h = result.history
    train_acc, test_acc = float(h.final("train", "accuracy")[0]), float(h.final("test",
                                                                               "accuracy")[0])
    cm = confusion_matrix(yte, predict(model, xte), k)
    summary = {"test_accuracy": test_acc, "test_error": 100 * (1 - test_acc),
               "train_error": 100 * (1 - train_acc), "train_accuracy": train_acc,
               "test_loss": float(h.final("test", "loss")[0]),
               "train_loss": float(h.final("train", "loss")[0]), "epochs": cfg.epochs,
               "params": params, "seconds": result.seconds, "model": cfg.model.name,
               "dataset": ds.name, "n_train": len(xtr), "n_test": len(xte),
               "confusion_matrix": cm.tolist()}
    ctx.echo(f"{cfg.model.name}: test accuracy {test_acc:.4f}, train error "
             f"{summary['train_error']:.2f} %, {params:,} parameters, {result.seconds:.1f} s")
    ctx.table([{"epoch": ep, "train loss": h.series("train", "loss")[i, 0],
                "test loss": h.series("test", "loss")[i, 0],
                "train error %": 100 * (1 - h.series("train", "accuracy")[i, 0]),
                "test error %": 100 * (1 - h.series("test", "accuracy")[i, 0]),
                "seconds": h.seconds[i]} for i, ep in enumerate(h.epochs)],
              title="Per epoch", caption="Errors are in percent; seconds count training only.")
    _plot_curves(ctx, h)
    _plot_confusion(ctx, cm)
    _plot_activations(ctx, model, xte, cfg.image_index, int(yte[cfg.image_index]))
    _plot_histograms(ctx, hist)
    worst = max(((i, j) for i in range(k) for j in range(k) if i != j), key=lambda ij: cm[ij])
    ctx.text(f"Final test accuracy {100 * test_acc:.2f} % (error {summary['test_error']:.2f} %), "
             f"train error {summary['train_error']:.2f} %. The most frequent confusion: "
             f"true {worst[0]} predicted as {worst[1]} ({cm[worst]} times). With {len(xte):,} "
             f"test images one image is {100 / len(xte):.2g} %, and the standard error of "
             f"the accuracy is about {100 * (test_acc * (1 - test_acc) / len(xte)) ** 0.5:.1f} "
             "%. pytorch/examples "
             "reaches about 99 % with the full 60,000 training images (`data.root`).",
             title="Result")
    return summary


def _plot_curves(ctx, h) -> None:
    ep = h.epochs
    fig, axes = new_figure(width=7.0)
    ax = axes[0, 0]
    ax.plot(ep, h.series("train", "loss")[:, 0], "C0-", label="train loss")
    ax.plot(ep, h.series("test", "loss")[:, 0], "C0--", label="test loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss", color="C0")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(ep, 100 * h.series("train", "accuracy")[:, 0], "C1-", label="train accuracy")
    ax2.plot(ep, 100 * h.series("test", "accuracy")[:, 0], "C1--", label="test accuracy")
    ax2.set_ylabel("accuracy (%)", color="C1")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize="small", loc="center right")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ctx.figure(fig, "curves", "Loss (left, log scale, blue) and accuracy (right, orange) on "
               "the training set (solid) and the test set (dashed) after every epoch.")
    fig, axes = new_figure()
    ax = axes[0, 0]
    for split, style in (("train", "-"), ("test", "--")):
        err = 100 * (1 - h.series(split, "accuracy")[1:, 0])
        ax.plot(ep[1:], np.maximum(err, 1e-2), style, marker="o", ms=3, label=f"{split} error")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("classification error (%)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ctx.figure(fig, "error", "Classification error in percent (log scale; 0 is drawn at 0.01).")


def _plot_confusion(ctx, cm: np.ndarray) -> None:
    fig, axes = new_figure(width=5.6, height=5.0)
    ax = axes[0, 0]
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 3 else "black")
    ax.set_xticks(range(cm.shape[1]))
    ax.set_yticks(range(cm.shape[0]))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    ctx.figure(fig, "confusion", "Confusion matrix on the test set: rows are true classes, "
               "columns predictions; off-diagonal cells are the mistakes.")


def tile(maps: torch.Tensor, cols: int = 8, pad: int = 1) -> np.ndarray:
    """(C, H, W) maps, each scaled to [0, 1], tiled row by row into one image (NaN gaps)."""
    c, hgt, wid = maps.shape
    rows = -(-c // cols)
    out = np.full((rows * (hgt + pad) - pad, cols * (wid + pad) - pad), np.nan)
    for i, m in enumerate(maps.numpy()):
        span = m.max() - m.min()
        r, q = divmod(i, cols)
        out[r * (hgt + pad):r * (hgt + pad) + hgt, q * (wid + pad):q * (wid + pad) + wid] = (
            (m - m.min()) / span if span > 0 else 0.0)
    return out


def _plot_activations(ctx, model: Ensemble, xte, index: int, label: int) -> None:
    net = model.member(0).eval()
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        ctx.text("The model has no convolution, so there are no activation maps to draw.")
        return
    maps = activation_maps(net, conv, xte[index:index + 1])[0].cpu()
    fig, axes = new_figure(ncols=2, width=4.2, height=3.2,
                           gridspec_kw={"width_ratios": [1, 2.5]})
    axes[0, 0].imshow(xte[index, 0].cpu().numpy(), cmap="gray")
    axes[0, 0].set_title(f"test image {index} (label {label})", fontsize=9)
    axes[0, 1].imshow(tile(maps), cmap="viridis")
    axes[0, 1].set_title(f"first convolution: {maps.shape[0]} channels", fontsize=9)
    for ax in axes[0]:
        ax.axis("off")
    ctx.figure(fig, "activation-maps", f"Outputs of the first convolution (before ReLU) for "
               f"test image {index}, one tile per channel (left to right, top to bottom, "
               "each scaled to its own range): each filter responds to edges or strokes "
               "of one direction.")


def _plot_histograms(ctx, hist: WeightHistograms) -> None:
    names = list(hist.hists)
    fig, axes = new_figure(ncols=len(names), width=3.4, height=3.4, layout="constrained")
    for ax, name in zip(axes[0], names, strict=True):
        pairs = hist.hists[name]
        lo = min(float(e[0]) for _, e in pairs)
        hi = max(float(e[-1]) for _, e in pairs)
        grid = np.linspace(lo, hi, hist.bins + 1)
        heat = []
        for counts, edges in pairs:  # re-bin each epoch's histogram onto a common grid
            cdf = np.concatenate([[0.0], np.cumsum(counts.numpy())])
            heat.append(np.diff(np.interp(grid, edges.numpy(), cdf)) / cdf[-1])
        im = ax.imshow(np.maximum(np.asarray(heat).T, 1e-5), origin="lower", aspect="auto",
                       cmap="magma", norm=LogNorm(1e-4, 1),
                       extent=(hist.epochs[0] - 0.5, hist.epochs[-1] + 0.5, lo, hi))
        ax.set_title(f"{name} weights", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("weight value")
    fig.colorbar(im, ax=axes[0, -1], label="fraction of the layer's weights")
    ctx.figure(fig, "weight-histograms", "Weight histograms per layer (columns: epochs, 0 = "
               "initialisation; colour, log scale: fraction of the layer's weights in each "
               "bin). The uniform initial range widens as training moves the weights.")
