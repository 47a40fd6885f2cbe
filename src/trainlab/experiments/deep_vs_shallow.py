"""deep-vs-shallow: equal parameter count, different depth, on two functions and on MNIST.

The exercise ("simulate a function" / "train on an actual task"): fit a smooth function
(sin(x)+x²) and a non-smooth one (the square wave sign(sin(5πx))) with 3 or more MLPs
of different depth but the same number of parameters (widths from
`trainlab.models.size_to_budget`), with Adam and the MSE; compare loss curves, the
learned functions and how fast each converges. Then the same on MNIST (5,000-digit
subset) with CNNs of 1, 2 and 3 conv blocks of similar parameter count. The seeds of one
architecture train as one ensemble; numbers are means over the seeds.

Convergence epoch: the first evaluated epoch at which the seed-mean training loss gets
within `converge_within` (50 %) of its final value, loss(e) <= 1.5 · loss(final). (With
Adam the loss jitters by tens of percent late in training, so "stays within 10 %"
would mostly measure the jitter.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import (
    default_domain,
    parse_expression,
    sample_function,
)
from trainlab.errors import BadInput
from trainlab.experiments._common import ActivationName, standardized_mnist
from trainlab.models import Ensemble, mlp, size_to_budget, small_cnn_spec
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.charts import Curve, LineChart, function_chart
from trainlab.report.plots import curves, new_figure
from trainlab.train import Split, fit

QUESTION = ("With the same number of parameters, does depth help, and for which "
            "kind of function?")

WHAT_TO_LOOK_AT = ("- The square wave: the deeper MLPs reach a much lower loss and "
                   "sharper steps; the one-hidden-layer net, with as many "
                   "parameters, stays a smooth wiggle through the jumps.\n"
                   "- The smooth function: every depth fits it; the shallow, wide "
                   "net fits it best.\n"
                   "- Convergence epochs: the loss curves' dotted lines.\n"
                   "- MNIST: at about the same count, more conv blocks give a "
                   "higher test accuracy.")

REFERENCES = (
    "Mhaskar & Poggio 2016, *Deep vs. shallow networks: an approximation theory perspective*",
)


@dataclass
class MnistConfig:
    depths: list[int] = option([1, 2, 3], "conv blocks of the CNNs (channels c, 2c, 4c)")
    budget: int = option(10000, "parameter budget of each CNN", positive=True)
    epochs: int = option(8, "training epochs")
    batch_size: int = option(64, "minibatch size")
    lr: float = option(1e-3, "Adam learning rate")
    runs: int = option(1, "seeds per CNN (one ensemble per CNN)", positive=True)
    max_train: int = option(0, "training images used (0 = all 4,000)", minimum=0)
    enabled: bool = option(True, "run the MNIST part")


@dataclass
class Config(BaseConfig):
    targets: list[str] = option(["sin(x)+x**2", "sign(sin(5*pi*x))"], "functions of x")
    n_points: int = option(1000, "training points per function", positive=True)
    noise: float = option(0.0, "std of noise added to the targets", minimum=0.0)
    depths: list[int] = option([1, 3, 6], "hidden layers of the MLPs")
    budget: int = option(1000, "parameter budget of each MLP", positive=True)
    activation: ActivationName = option("relu", "hidden activation of the MLPs")
    epochs: int = option(500, "training epochs of the MLPs")
    batch_size: int = option(100, "minibatch size of the MLPs")
    lr: float = option(1e-3, "Adam learning rate of the MLPs")
    runs: int = option(3, "seeds per MLP (one ensemble per architecture)")
    converge_within: float = option(0.5, "converged: first epoch the loss is within this "
                                    "fraction above its final value", positive=True)
    mnist: MnistConfig = option(MnistConfig(), "the MNIST part")

    def validate(self) -> None:
        for t in self.targets:
            parse_expression(t)
        if len(set(self.depths)) < 2 or min(self.depths) < 1:
            raise BadInput("config key 'depths': at least two different depths >= 1")
        if self.mnist.enabled and not (self.mnist.depths and 1 <= min(self.mnist.depths)
                                       and max(self.mnist.depths) <= 4):
            raise BadInput("config key 'mnist.depths': 1 to 4 conv blocks (28 -> 1 pixel)")


PRESETS = {
    "smoke": {"n_points": 200, "epochs": 4, "budget": 300, "depths": [1, 2, 3], "runs": 2,
              "mnist": {"epochs": 1, "budget": 3000, "max_train": 300}},
    # a tenth of the steps at a larger rate: deeper still beats shallow on the square wave
    "quick": {"epochs": 80, "batch_size": 50, "lr": 0.005,
              "mnist": {"epochs": 2, "max_train": 2000}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="mnist.0.test_accuracy",
    objectives={
        "mnist.#.test_accuracy": "maximize",
        "mnist.#.test_loss": "minimize",
        "mnist.#.train_loss": "minimize",
        "mnist_test_accuracies.#": "maximize",
    },
    space={
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
    },
    note="The shared training settings, judged by the shallowest MNIST model's test accuracy.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=2, full=2)


def _depth_log_ratios(summary: dict, target: str) -> list[float]:
    """log10(shallow loss ÷ deepest loss) of every seed on `target` (equal budgets)."""
    fn = next(f for f in summary["functions"] if f["target"] == target)
    by_depth = sorted(fn["models"], key=lambda m: m["depth"])
    shallow, deep = by_depth[0]["final_loss_per_seed"], by_depth[-1]["final_loss_per_seed"]
    return [math.log10(a / b) for a, b in zip(shallow, deep, strict=True)]


CLAIMS = (
    Claim("deep-beats-shallow-nonsmooth",
          "On the non-smooth target sign(sin 5πx), the deepest network reaches a lower "
          "training loss than the one-hidden-layer network of the same parameter count.",
          "Eldan & Shamir 2016; Telgarsky 2016",
          "log10(shallow loss ÷ deepest loss), every seed", threshold=0.0, direction=">",
          samples=lambda s: _depth_log_ratios(s, "sign(sin(5*pi*x))")),
)


def converged_epoch(epochs: list[int], loss: np.ndarray, within: float) -> int:
    """First epoch at which `loss` (T,) is <= (1 + within) * its final value."""
    return int(epochs[int(np.argmax(loss <= (1 + within) * loss[-1]))])


def cnn_channels(depth: int, budget: int) -> tuple[list[int], int]:
    """Channels (c, 2c, 4c, …)[:depth] whose CNN count is nearest `budget`, and that count."""
    best: tuple[list[int], int] | None = None
    for c in range(1, 257):
        ch = [c * 2 ** i for i in range(depth)]
        n = Ensemble(small_cnn_spec(ch), (1, 28, 28), [0]).params_per_member()
        if best is None or abs(n - budget) < abs(best[1] - budget):
            best = (ch, n)
        if n > budget:
            break
    return best


def _live_panel(target: str, grid: torch.Tensor, x: torch.Tensor, y: torch.Tensor, dev):
    """The live report's panel of one target: the network being trained (mean over its
    seeds) against the true function and the training points."""
    coarse = grid[::4]  # 125 of the 500 points: enough for a live view
    truth = Curve("true", coarse[:, 0].tolist(), parse_expression(target)(coarse)[:, 0].tolist())
    points = list(zip(x[:, 0].tolist(), y[:, 0].tolist(), strict=True))
    inputs = coarse.to(dev)

    def draw(model) -> LineChart:
        pred = model(inputs)[:, :, 0].mean(0).cpu().numpy()
        return function_chart(coarse[:, 0], [pred], ["network (mean over seeds)"], points,
                              extra=[truth], caption=f"{target}: the network now, the true "
                                                     "function and the training points")
    return draw


def run_functions(cfg: Config, ctx) -> list[dict]:
    """Every target x every depth; one ensemble of `runs` seeds per (target, depth)."""
    out = []
    seeds = [cfg.seed + 1000 * r for r in range(cfg.runs)]
    for ti, target in enumerate(cfg.targets):
        x, y = sample_function(target, cfg.n_points, noise=cfg.noise, seed=cfg.seed)
        x, y = x.to(ctx.device), y.to(ctx.device)
        lo, hi = default_domain(target)
        grid = torch.linspace(lo, hi, 500).unsqueeze(1)
        ctx.live_panel(f"The learned function so far ({target})",
                       _live_panel(target, grid, x, y, ctx.device),
                       fits=[f"f{ti}-depth{depth}" for depth in cfg.depths])
        models = []
        for depth in cfg.depths:
            widths = size_to_budget(depth, cfg.budget)
            model = mlp(widths, 1, 1, seeds, cfg.activation).to(ctx.device)
            name = f"{depth} x {widths[0]}" + ("" if len(set(widths)) == 1 else f" ({widths})")
            res = fit(model, Split(x, y), epochs=cfg.epochs, batch_size=cfg.batch_size,
                      loss="mse", optim=OptimSpec("adam", cfg.lr), evals={"train": Split(x, y)},
                      eval_at_start=True, ctx=ctx, name=f"f{ti}-depth{depth}",
                      member_names=[f"{target}/{name}/seed{s}" for s in seeds])
            curve = res.history.series("train", "loss").mean(1)
            with torch.no_grad():
                pred = model(grid.to(ctx.device))[:, :, 0].cpu().numpy()
            models.append({"name": f"depth {depth}: {name}", "depth": depth,
                           "widths": widths, "params": model.params_per_member(),
                           "final_loss": float(curve[-1]),
                           "final_loss_per_seed": res.history.final("train", "loss").tolist(),
                           "converged_epoch": converged_epoch(res.history.epochs, curve,
                                                              cfg.converge_within),
                           "_epochs": res.history.epochs, "_curve": curve, "_pred": pred})
        best = min(models, key=lambda m: m["final_loss"])
        out.append({"target": target, "models": models, "best": best["name"],
                    "best_depth": best["depth"], "_x": x.cpu(), "_y": y.cpu(),
                    "_grid": grid, "_true": parse_expression(target)(grid)})
    return out


def run_mnist(cfg: Config, ctx) -> list[dict]:
    """One CNN ensemble per depth on the MNIST subset; train and test curves."""
    m = cfg.mnist
    x, y, xt, yt = (t.to(ctx.device) for t in standardized_mnist(cfg.seed, m.max_train))
    seeds = [cfg.seed + 1000 * r for r in range(m.runs)]
    out = []
    for depth in m.depths:
        channels, _ = cnn_channels(depth, m.budget)
        model = Ensemble(small_cnn_spec(channels), (1, 28, 28), seeds).to(ctx.device)
        name = f"CNN {depth} conv ({'-'.join(map(str, channels))})"
        res = fit(model, Split(x, y), epochs=m.epochs, batch_size=m.batch_size,
                  loss="cross_entropy", optim=OptimSpec("adam", m.lr),
                  evals={"train": Split(x, y), "test": Split(xt, yt)}, ctx=ctx,
                  name=f"mnist-depth{depth}", member_names=[f"{name}/seed{s}" for s in seeds])
        h = res.history
        out.append({"name": name, "depth": depth, "channels": channels,
                    "params": model.params_per_member(),
                    "test_accuracy": float(h.final("test", "accuracy").mean()),
                    "train_accuracy": float(h.final("train", "accuracy").mean()),
                    "train_loss": float(h.final("train", "loss").mean()),
                    "test_loss": float(h.final("test", "loss").mean()), "_h": h})
    return out


@experiment("deep-vs-shallow", config=Config, presets=PRESETS, sweep=SWEEP,
            chapter="deep vs shallow",
            purpose="MLPs of equal parameter count and different depth on a smooth and a "
                    "non-smooth function, and CNNs of different depth on MNIST",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("functions[].target",
                          "functions[].models[].{name, depth, params, final_loss, converged_epoch}",
                          "mnist[].{name, params, test_accuracy}"),
            headline=("best_depths", "mnist_test_accuracies"))
def run(cfg: Config, ctx) -> dict:
    functions = run_functions(cfg, ctx)
    mnist = run_mnist(cfg, ctx) if cfg.mnist.enabled else []
    for f in functions:
        ctx.table([{"model": m["name"], "depth": m["depth"], "params": m["params"],
                    "final loss": m["final_loss"], "converged epoch": m["converged_epoch"]}
                   for m in f["models"]], title=f"Target {f['target']}",
                  caption=f"Budget {cfg.budget} parameters; losses are means over {cfg.runs} "
                          f"seed(s); converged epoch = first epoch within "
                          f"{100 * cfg.converge_within:g} % of the final loss.")
        losses = ", ".join(f"depth {m['depth']}: {m['final_loss']:.3g}" for m in f["models"])
        line = f"{f['target']}: lowest final loss with {f['best']} ({losses})"
        ctx.echo(line)
        ctx.text(f"Result — {line}.")
    if mnist:
        ctx.table([{k: m[k] for k in ("name", "params", "train_loss", "test_loss",
                                      "test_accuracy")} for m in mnist], title="MNIST CNNs")
        for m in mnist:
            ctx.echo(f"{m['name']}: {m['params']} parameters, test accuracy "
                     f"{m['test_accuracy']:.3f}")
    _plot_functions(ctx, functions)
    if mnist:
        _plot_mnist(ctx, mnist)

    def public(d):
        return {k: v for k, v in d.items() if not k.startswith("_")}

    return {"functions": [{**public(f), "models": [public(m) for m in f["models"]]}
                          for f in functions],
            "mnist": [public(m) for m in mnist], "budget": cfg.budget,
            "mnist_budget": cfg.mnist.budget,
            "best_depths": [f["best_depth"] for f in functions],
            "mnist_test_accuracies": [round(m["test_accuracy"], 4) for m in mnist]}


def _plot_functions(ctx, functions: list[dict]) -> None:
    fig, axes = new_figure(ncols=2, nrows=len(functions), width=6.0, height=3.8)
    for row, f in enumerate(functions):
        curves(axes[row, 0], f["models"][0]["_epochs"],
               {m["name"]: m["_curve"] for m in f["models"]}, logy=True,
               ylabel="train loss (MSE, seed mean)", title=f"{f['target']}: loss")
        for i, m in enumerate(f["models"]):
            axes[row, 0].axvline(m["converged_epoch"], lw=0.8, ls=":", color=f"C{i}")
        ax = axes[row, 1]
        ax.scatter(f["_x"][:, 0], f["_y"][:, 0], s=3, color="0.75", label="training points")
        ax.plot(f["_grid"][:, 0], f["_true"][:, 0], "k-", lw=1.5, label="ground truth")
        for i, m in enumerate(f["models"]):
            ax.plot(f["_grid"][:, 0], m["_pred"][0], lw=1.2, color=f"C{i}", label=m["name"])
        ax.set_title(f"{f['target']}: predictions (first seed)")
        ax.set_xlabel("x")
        ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    ctx.figure(fig, "functions",
               "Left: training loss of each depth (dotted: its convergence epoch). Right: "
               "the learned functions against the ground truth.")


def _plot_mnist(ctx, mnist: list[dict]) -> None:
    fig, axes = new_figure(ncols=2, width=5.4, height=3.8)
    for i, m in enumerate(mnist):
        h = m["_h"]
        for split, ls in (("train", "-"), ("test", "--")):
            axes[0, 0].plot(h.epochs, h.series(split, "loss").mean(1), ls, color=f"C{i}",
                            label=f"{m['name']} {split}")
            axes[0, 1].plot(h.epochs, h.series(split, "accuracy").mean(1), ls, color=f"C{i}",
                            label=f"{m['name']} {split}")
    axes[0, 0].set_yscale("log")
    for ax, what in ((axes[0, 0], "cross-entropy"), (axes[0, 1], "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.set_title(f"MNIST: {what} (solid train, dashed test)")
        ax.grid(alpha=0.3)
    axes[0, 1].legend(fontsize="x-small")
    fig.tight_layout()
    ctx.figure(fig, "mnist", "CNNs of different depth at similar parameter counts: train "
                             "(solid) and test (dashed) loss and accuracy per epoch.")
