"""sensitivity: loss, accuracy, input sensitivity and Keskar sharpness against batch size.

The exercise trains one MLP with five or more batch sizes and, for each trained model,
measures train and test loss and accuracy, the sensitivity of Novak et al. (ICLR 2018) —
the Frobenius norm of the Jacobian of the softmax output with respect to the input,
averaged over test images — and the sharpness of Keskar et al. (ICLR 2017): the largest
relative rise of the training loss in the box |δᵢ| ≤ ε(|θᵢ| + 1) around the weights
(ε = 1e-3, found by projected sign-gradient ascent from the box corner, ≥ 50 steps).
The norm of the loss gradient with respect to the input, ‖∂loss/∂x‖, is reported too.

Batch sizes are compared at a matched stopping rule (docs/DESIGN.md §4): each model
trains until its full-data train loss is below `loss_threshold`, checked after every
epoch, or until `epochs` epochs (the cap; `reached` says which). Keskar et al. find
large-batch minima much sharper and slightly worse on test; Novak et al. find lower
sensitivity with better generalization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.diagnostics import (
    StopBelow,
    flatten_params,
    jacobian_norms,
    loss_input_grad_norms,
    make_loss_fn,
    sharpness,
)
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
from trainlab.train import History, Split, evaluate, fit

QUESTION = ("Do large batches find sharper minima and more input-sensitive networks, "
            "and do those generalize worse?")

WHAT_TO_LOOK_AT = ("- Sharpness (right axis of the second figure): Keskar et al. "
                   "(2017) find large-batch minima far sharper than small-batch "
                   "ones, with a test accuracy a little lower.\n"
                   "- Sensitivity: Novak et al. (2018) find that networks with a "
                   "smaller input Jacobian norm generalize better.\n"
                   "- Every model stops at the same train loss (or the epoch cap, "
                   "see `reached`), so differences are not just a matter of "
                   "training longer.")

REFERENCES = (
    "Keskar et al. 2017, *On Large-Batch Training for Deep Learning: Generalization Gap and Sharp "
    "Minima*",
    "Novak et al. 2018, *Sensitivity and Generalization in Neural Networks*",
)


@dataclass
class Config(BaseConfig):
    data: ImageData = option(ImageData(), "the images")
    model: MLPConfig = option(MLPConfig(), "the network (the same for every batch size)")
    batch_sizes: list[int] = option([16, 64, 256, 1024, 4000], "batch sizes compared "
                                    "(capped at the number of training images)")
    epochs: int = option(1500, "epoch cap of the stopping rule (full batch needs ≈1000)")
    loss_threshold: float = option(1e-3, "stop once the full train loss is below this",
                                   positive=True)
    optimizer: EnsembleOptimizerName = option(
        "adam", "optimizer (Keskar et al. used Adam)")
    lr: float = option(1e-3, "learning rate (every batch size)")
    epsilon: float = option(1e-3, "box size of Keskar sharpness", positive=True)
    sharpness_method: Literal["ascent", "lbfgsb"] = option(
        "ascent", "box maximisation: projected sign-gradient ascent or L-BFGS-B, both from "
        "the box corner")
    sharpness_steps: int = option(50, "ascent steps / L-BFGS-B iterations", positive=True)
    sharpness_examples: int = option(1000, "training images of the sharpness loss (0 = all)",
                                     minimum=0)
    sensitivity_examples: int = option(0, "test images averaged for the Jacobian norms "
                                       "(the first ones; 0 = all)", minimum=0)
    normalize: bool = option(True, "standardize pixels with the training mean and std")

    def validate(self) -> None:
        if len(self.batch_sizes) < 2:
            raise BadInput("config key 'batch_sizes': give at least two batch sizes")
        validate_data(self.data)


PRESETS = {
    "smoke": {"batch_sizes": [32, 128, 512], "epochs": 3, "model": {"widths": [16]},
              "sharpness_steps": 5, "sharpness_examples": 200, "sensitivity_examples": 16,
              "data": {"max_train": 512, "max_test": 100}},
    "quick": {"batch_sizes": [16, 64, 256, 1000], "epochs": 600, "loss_threshold": 1e-2,
              "sharpness_examples": 500, "data": {"max_train": 1000}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="sharpness_ratio_large_small",
    objectives={
        "sharpness_ratio_large_small": "maximize",
        "jacobian_ratio_large_small": "maximize",
        "results.#.test_accuracy": "maximize",
        "results.#.sharpness": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    },
    note="The learning rate at which large batches end sharpest relative to small ones.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)

CLAIMS = (
    Claim("sharpness-grows-with-batch",
          "Large batches find sharper minima: Keskar sharpness at the largest batch exceeds "
          "that at the smallest, at a matched stopping rule.",
          "Keskar et al. 2017, On large-batch training for deep learning",
          "log10(sharpness at the largest ÷ at the smallest batch)", threshold=0.0,
          direction=">", value=lambda s: math.log10(s["sharpness_ratio_large_small"])),
    Claim("sensitivity-tracks-generalization-gap",
          "Networks that are more sensitive to their input (larger input-output Jacobian "
          "norm) generalize worse: a positive rank correlation with the test − train loss "
          "gap across batch sizes.",
          "Novak et al. 2018, Sensitivity and generalization in neural networks",
          "Spearman ρ(Jacobian norm, test − train loss) over batch sizes × replicates",
          threshold=0.0, direction=">", estimator="spearman",
          samples=lambda s: ([r["jacobian_norm"] for r in s["results"]],
                             [r["test_loss"] - r["train_loss"] for r in s["results"]])),
)


def batch_sizes(cfg, n_train: int) -> list[int]:
    """The configured batch sizes capped at the train size, without repeats, in order."""
    out: list[int] = []
    for b in cfg.batch_sizes:
        b = min(int(b), n_train)
        if b not in out:
            out.append(b)
    return out


def train_until(cfg, ctx, bs: int, train: Split, in_features: int, classes: int):
    """Train one model with batch size `bs` under the stopping rule; (model, info, history).

    The trained weights are saved as `checkpoints/final-batch-<bs>.pt`; a resumed run loads
    them instead of training again.
    """
    model = mlp(cfg.model.widths, in_features, classes, seeds=[cfg.seed],
                activation=cfg.model.activation).to(ctx.device)
    final = ctx.checkpoint(f"final-batch-{bs}")
    state = final.load() if ctx.resume else None
    if state is None:
        history = fit(model, train, epochs=cfg.epochs, batch_size=bs, loss="cross_entropy",
                      optim=OptimSpec(cfg.optimizer, cfg.lr), evals={"train": train},
                      ctx=ctx, name=f"batch-{bs}", member_names=[f"batch {bs}"],
                      callbacks=[StopBelow(cfg.loss_threshold)]).history
        state = {"flat": model.flat_parameters().cpu(), "history": history.state()}
        final.save(state)
    model.load_flat(state["flat"].to(ctx.device))
    history = History.from_state(state["history"])
    loss = float(history.final("train", "loss")[0])
    info = {"epochs_trained": int(history.epochs[-1]), "reached": loss < cfg.loss_threshold}
    return model, info, history


@experiment("sensitivity", config=Config, presets=PRESETS, sweep=SWEEP, chapter="generalization",
            purpose="Loss, accuracy, input sensitivity (softmax Jacobian norm) and Keskar "
                    "sharpness of one MLP trained with 5+ batch sizes",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("results[].{batch_size, train_loss, test_loss, train_accuracy}",
                          "results[].{test_accuracy, jacobian_norm, loss_grad_norm, sharpness}"),
            headline=("sharpness_ratio_large_small", "jacobian_ratio_large_small",
                      "all_reached"))
def run(cfg: Config, ctx) -> dict:
    dev = ctx.device
    (xtr, ytr, xte, yte), classes = load_data(cfg, dev)
    train, test = Split(xtr, ytr), Split(xte, yte)
    n_sens = cfg.sensitivity_examples or len(xte)
    n_sharp = cfg.sharpness_examples or len(xtr)
    xs, ys = xte[:n_sens], yte[:n_sens]
    results, histories = [], {}
    for bs in batch_sizes(cfg, len(xtr)):
        model, info, histories[bs] = train_until(cfg, ctx, bs, train, xtr.shape[1], classes)
        row: dict = {"batch_size": bs}
        for split, data in (("train", train), ("test", test)):
            metrics = evaluate(model, data, "cross_entropy")
            row[f"{split}_loss"] = float(metrics["loss"][0])
            row[f"{split}_accuracy"] = float(metrics["accuracy"][0])
        net = model.member(0).eval()
        row["jacobian_norm"] = float(jacobian_norms(net, xs).mean())
        row["loss_grad_norm"] = float(loss_input_grad_norms(net, xs, ys).mean())
        f = make_loss_fn(net, "cross_entropy", xtr[:n_sharp], ytr[:n_sharp])
        row["sharpness"] = sharpness(f, flatten_params(net), epsilon=cfg.epsilon,
                                     method=cfg.sharpness_method, steps=cfg.sharpness_steps,
                                     seed=cfg.seed)
        row.update(info)
        results.append(row)
        ctx.echo(f"batch {bs:>5}: {info['epochs_trained']:>4} epochs, train loss "
                 f"{row['train_loss']:.2e}, test acc {row['test_accuracy']:.4f}, jacobian "
                 f"{row['jacobian_norm']:.3f}, sharpness {row['sharpness']:.3g}")
    ratio = results[-1]["sharpness"] / max(results[0]["sharpness"], 1e-12)
    ctx.table(results, title="Batch sizes at a matched stopping rule",
              caption=f"Trained until train loss < {cfg.loss_threshold:g} or {cfg.epochs} "
                      f"epochs (reached). jacobian_norm: mean ‖∂softmax/∂x‖_F over {n_sens} "
                      f"test images; loss_grad_norm: mean ‖∂loss/∂x‖₂ over the same; "
                      f"sharpness: Keskar φ (ε = {cfg.epsilon:g}, {cfg.sharpness_method}, "
                      f"{cfg.sharpness_steps} steps) on {n_sharp} training images.")
    ctx.text(f"Sharpness of the largest batch ({results[-1]['batch_size']}) over that of the "
             f"smallest ({results[0]['batch_size']}): {ratio:.3g}×.")
    _plot(ctx, results, histories, cfg.loss_threshold)
    jac_ratio = results[-1]["jacobian_norm"] / max(results[0]["jacobian_norm"], 1e-12)
    return {"results": results, "sharpness_ratio_large_small": ratio,
            "jacobian_ratio_large_small": jac_ratio,
            "loss_threshold": cfg.loss_threshold, "epsilon": cfg.epsilon,
            "all_reached": all(r["reached"] for r in results)}


def _plot(ctx, results, histories, threshold) -> None:
    bs = np.array([r["batch_size"] for r in results], dtype=float)
    col = {k: np.array([r[k] for r in results]) for k in results[0] if k != "batch_size"}
    fig, axes = new_figure(ncols=2, width=5.8, height=4.0)
    fig.subplots_adjust(wspace=0.5)
    ax = axes[0, 0]
    right = ax.twinx()
    ax.plot(bs, col["train_loss"], "C0o-", label="train loss")
    ax.plot(bs, col["test_loss"], "C0s--", label="test loss")
    right.plot(bs, col["train_accuracy"], "C3o-", label="train accuracy")
    right.plot(bs, col["test_accuracy"], "C3s--", label="test accuracy")
    _style(ax, right, "cross-entropy loss (log)", "accuracy", "Loss and accuracy", logy=True)
    ax = axes[0, 1]
    right = ax.twinx()
    ax.plot(bs, col["jacobian_norm"], "C2o-", label="‖∂softmax/∂x‖_F (test mean)")
    ax.plot(bs, col["loss_grad_norm"], "C2s--", label="‖∂loss/∂x‖ (test mean)")
    right.plot(bs, col["sharpness"], "C1^-", label="Keskar sharpness")
    _style(ax, right, "input sensitivity", "sharpness φ (%)", "Sensitivity and sharpness")
    ctx.figure(fig, "batch-size", "Against batch size (log x): left, train/test loss and "
               "accuracy on twin axes; right, input sensitivity and Keskar sharpness.")
    fig, axes = new_figure()
    ax = axes[0, 0]
    for b, h in histories.items():
        ax.plot(h.epochs, h.series("train", "loss")[:, 0], label=f"batch {b}")
    ax.axhline(threshold, color="0.5", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="full train loss",
           title="Training until the stopping rule")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ctx.figure(fig, "training", "Full train loss per epoch of every batch size (log-log); "
               "dotted: the stopping threshold.")


def _style(ax, right, left_label, right_label, title, logy=False) -> None:
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel(left_label)
    right.set_ylabel(right_label)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], fontsize="x-small", loc="best")
