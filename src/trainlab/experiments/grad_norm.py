"""grad-norm: the gradient norm and the loss at every iteration, on a function and on MNIST.

The exercise ("what happens when the gradient is almost zero", part 1): train a network,
record at every iteration the loss of the minibatch and the norm of its gradient ‖∇L‖,
for the whole model and for each layer, and plot both against the iteration, once for a
1-D function (an MLP, MSE, default target sin(5πx)/(5πx)) and once for MNIST (an MLP on
the 5,000-digit subset, cross-entropy). The norms are read by `diagnostics.GradNorms`, an `on_step`
callback of `trainlab.train.fit`, after `backward()` and before the optimizer step, when the
gradients of that very minibatch are in `.grad`; seeds (`runs`) train as one ensemble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import load_dataset, parse_expression, sample_function, standardize
from trainlab.diagnostics import GradNorms, flatten_params, loss_grad_norm, make_loss_fn
from trainlab.errors import BadInput
from trainlab.experiments._common import ActivationName, EnsembleOptimizerName
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.train import Split, fit

QUESTION = ("Does the gradient norm shrink as the loss falls, and does a small "
            "minibatch gradient mean that training has reached a critical point?")

WHAT_TO_LOOK_AT = ("- The first iterations: the gradient norm often rises before "
                   "it falls, while the loss drops fastest.\n"
                   "- Late in training the loss keeps creeping down while the "
                   "minibatch gradient norm stops shrinking: it measures minibatch "
                   "noise, not closeness to a critical point (compare it with the "
                   "full-batch gradient norm in the table).\n"
                   "- Per layer: which layer carries the largest gradient.")

REFERENCES = (
    "Goodfellow et al., *Deep Learning*, §8.2 (ill-conditioning, gradient norm during training)",
)


@dataclass
class TaskConfig:
    widths: list[int] = option([10, 10], "hidden widths of the MLP")
    activation: ActivationName = option("relu", "hidden activation")
    epochs: int = option(400, "training epochs")
    batch_size: int = option(64, "minibatch size")
    optimizer: EnsembleOptimizerName = option("adam", "optimizer")
    lr: float = option(1e-3, "learning rate")


@dataclass
class Config(BaseConfig):
    tasks: list[Literal["function", "mnist"]] = option(
        ["function", "mnist"], "tasks to train (the summary's top-level numbers are the "
        "first task's)")
    target: str = option("sin(5*pi*x)/(5*pi*x)", "function of x for the function task")
    n_points: int = option(1000, "points of the function (uniform in its default domain)",
                           positive=True)
    noise: float = option(0.0, "std of noise added to the function values", minimum=0.0)
    runs: int = option(1, "seeds per task, trained as one ensemble")
    function: TaskConfig = option(TaskConfig(), "network and training of the function task")
    mnist: TaskConfig = option(TaskConfig([128, 64], "relu", 20, 64, "adam", 1e-3),
                               "network and training of the MNIST task")
    max_train: int = option(0, "MNIST training images used (0 = all 4,000)", minimum=0)

    def validate(self) -> None:
        parse_expression(self.target)
        if not self.tasks:
            raise BadInput("config key 'tasks': name at least one task")


PRESETS = {
    "smoke": {"n_points": 200, "function": {"epochs": 3}, "mnist": {"epochs": 1},
              "max_train": 500},
    "quick": {"function": {"epochs": 40}, "mnist": {"epochs": 2}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="final_loss",
    objectives={
        "final_loss": "minimize",
        "final_grad_norm": "minimize",
        "tasks.function.final_loss": "minimize",
        "tasks.mnist.final_loss": "minimize",
        "tasks.mnist.final_grad_norm": "minimize",
    },
    space={
        "function.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "function.batch_size": {"type": "int", "low": 8, "high": 256, "log": True},
    },
    note="The rate and batch size of the function fit with the lowest final loss.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)

# Measured 2026-12-02 with the default replicates: reproduced at quick (log2 ratio -0.07
# [-0.14, -0.01]: 2 epochs, train loss still 0.25), not_reproduced at full (-4.1 [-5.1,
# -3.1]: 20 epochs fit the 4,000 digits, train loss 0.003, and the minibatch gradient
# norm falls from ~2.0 to ~0.13). The claim holds while the loss is still falling, not
# once the network fits its training set; kept as stated and reported as measured.

CLAIMS = (
    Claim("grad-norm-does-not-shrink",
          "While the MNIST network's loss falls, its minibatch gradient norm does not shrink "
          "towards zero: the last epoch's mean norm is at least half the first epoch's.",
          "Goodfellow et al. 2016, §8.2.1 (Fig. 8.1)",
          "log2(last-epoch ÷ first-epoch mean gradient norm), MNIST task", threshold=-1.0,
          direction=">",
          value=lambda s: math.log2(s["tasks"]["mnist"]["last_epoch_grad_norm"]
                                    / s["tasks"]["mnist"]["first_epoch_grad_norm"])),
)


def task_data(cfg: Config, task: str, device):
    """(x_train, y_train, loss name, input features, outputs) of a task, on `device`."""
    if task == "function":
        x, y = sample_function(cfg.target, cfg.n_points, noise=cfg.noise, seed=cfg.seed)
        return x.to(device), y.to(device), "mse", 1, 1
    ds = load_dataset("mnist", seed=cfg.seed)
    x, yl = ds.x_train, ds.y_train
    if cfg.max_train and cfg.max_train < len(x):
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))
        x, yl = x[keep[:cfg.max_train]], yl[keep[:cfg.max_train]]
    _, _, (x,) = standardize(x, per_feature=False)
    return x.reshape(len(x), -1).to(device), yl.to(device), "cross_entropy", 784, 10


def run_task(cfg: Config, ctx, task: str) -> dict:
    """Train one task with the recorder; return its arrays and final numbers."""
    t = getattr(cfg, task)
    x, y, loss, d_in, d_out = task_data(cfg, task, ctx.device)
    seeds = [cfg.seed + 1000 * r for r in range(cfg.runs)]
    model = mlp(t.widths, d_in, d_out, seeds, t.activation).to(ctx.device)
    rec = GradNorms(model)
    names = [f"{task}/seed{s}" for s in seeds]
    result = fit(model, Split(x, y), epochs=t.epochs, batch_size=t.batch_size, loss=loss,
                 optim=OptimSpec(t.optimizer, t.lr), evals={"train": Split(x, y)}, ctx=ctx,
                 name=task, member_names=names, callbacks=[rec])
    norms, losses = rec.norms, rec.losses
    rows = [{"step": s, "split": "train", "model": names[e], "loss": float(losses[s, e]),
             "grad_norm": float(norms[s, e])}
            for s in range(len(norms)) for e in range(len(seeds))]
    ctx.log(rows)
    full = [loss_grad_norm(make_loss_fn(model.member(e), loss, x, y),
                           flatten_params(model.member(e))) for e in range(len(seeds))]
    final_loss = result.history.final("train", "loss")
    return {"task": task, "params": model.params_per_member(), "iterations": len(norms),
            "epochs": t.epochs, "final_loss": float(np.mean(final_loss)),
            "final_grad_norm": float(np.mean(norms[-1])),
            # mean minibatch norm of the first and the last epoch (the claim compares them)
            "first_epoch_grad_norm": float(np.mean(norms[:max(1, len(norms) // t.epochs)])),
            "last_epoch_grad_norm": float(np.mean(norms[-max(1, len(norms) // t.epochs):])),
            "final_full_batch_grad_norm": float(np.mean(full)),
            "final_layer_grad_norms": dict(zip(rec.layer_names,
                                               rec.layer_norms[-1].mean(0).tolist(),
                                               strict=True)),
            "_rec": rec, "_steps_per_epoch": len(norms) // t.epochs}


def _smooth(v: np.ndarray, k: int) -> np.ndarray:
    k = max(1, min(k, len(v)))
    return np.convolve(v, np.ones(k) / k, mode="valid")


def plot_task(ctx, res: dict) -> None:
    rec, task = res["_rec"], res["task"]
    it = np.arange(1, res["iterations"] + 1)
    k = max(1, res["_steps_per_epoch"])
    fig, axes = new_figure(nrows=2, width=8, height=3.2, sharex=True)
    ax = axes[0, 0]
    ax.plot(it, rec.losses[:, 0], color="0.75", lw=0.6, label="minibatch")
    ax.plot(it[k - 1:], _smooth(rec.losses[:, 0], k), color="C0", label="mean over an epoch")
    ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.set_title(f"{task}: loss and gradient norm at every iteration (first seed)")
    ax.legend(fontsize="small")
    ax = axes[1, 0]
    ax.plot(it, rec.norms[:, 0], color="0.6", lw=0.6, label="whole model")
    ax.plot(it[k - 1:], _smooth(rec.norms[:, 0], k), color="k", label="whole model (epoch mean)")
    for j, name in enumerate(rec.layer_names):
        ax.plot(it[k - 1:], _smooth(rec.layer_norms[:, 0, j], k), lw=1, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("‖∇L‖ of the minibatch")
    ax.legend(fontsize="x-small", ncol=2)
    for a in axes[:, 0]:
        a.grid(alpha=0.3)
    ctx.figure(fig, f"{task}-grad-norm",
               f"{task}: minibatch loss (top) and gradient norm (bottom, whole model and per "
               f"layer; lines are means over {k} iterations = one epoch) against the iteration.")


@experiment("grad-norm", config=Config, presets=PRESETS, sweep=SWEEP, chapter="optimization",
            purpose="Record the loss and the gradient norm (whole model and per layer) at "
                    "every iteration, on a 1-D function and on MNIST",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("final_loss", "final_grad_norm", "iterations"),
            headline=("final_loss", "final_grad_norm", "iterations"))
def run(cfg: Config, ctx) -> dict:
    results = [run_task(cfg, ctx, task) for task in dict.fromkeys(cfg.tasks)]
    table = []
    for res in results:
        plot_task(ctx, res)
        ctx.echo(f"{res['task']}: {res['iterations']} iterations, final loss "
                 f"{res['final_loss']:.4g}, last minibatch grad norm "
                 f"{res['final_grad_norm']:.4g}, full-batch "
                 f"{res['final_full_batch_grad_norm']:.4g}")
        table.append({"task": res["task"], "params": res["params"],
                      "iterations": res["iterations"], "final train loss": res["final_loss"],
                      "last minibatch ‖∇L‖": res["final_grad_norm"],
                      "full-batch ‖∇L‖ at the end": res["final_full_batch_grad_norm"]})
    ctx.table(table, title="Final loss and gradient norms",
              caption=f"Means over {cfg.runs} seed(s). The minibatch norm is that of the last "
                      "iteration; the full-batch norm is the gradient of the whole training "
                      "loss at the final weights.")
    detail = {r["task"]: {k: v for k, v in r.items() if not k.startswith("_")} for r in results}
    first = results[0]
    return {"final_loss": first["final_loss"], "final_grad_norm": first["final_grad_norm"],
            "iterations": first["iterations"], "task": first["task"], "tasks": detail}
