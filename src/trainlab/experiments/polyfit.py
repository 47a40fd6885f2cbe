"""polyfit: fit a random degree-4 polynomial with SGD and SmoothL1 at three learning rates.

The KAIST exercise built on pytorch/examples' `regression` demo: the target is
y = w·(x, x², x³, x⁴) + b with w ~ 5·N(0, 1) and b ~ 5·N(0, 1); a linear neuron on the
polynomial features is trained with plain SGD and the SmoothL1 loss on 200 points in
batches of 50 for 500 epochs at lr 0.1, 0.01 and 0.001 (seed 2020). The three learning
rates train together as one ensemble (same initial weights, same batches, one rate
each). Closed-form least squares on the same points is the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.diagnostics import ParamSnapshots
from trainlab.models import Ensemble
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.charts import Curve, LineChart, function_chart
from trainlab.report.plots import curves, new_figure
from trainlab.stats import mean_band
from trainlab.train import Split, fit

QUESTION = ("How does the learning rate decide whether plain SGD recovers the "
            "coefficients of a polynomial, and how fast?")

WHAT_TO_LOOK_AT = ("- The loss curves (log scale): the largest rate converges in "
                   "tens of epochs, the smallest is still far off at the end.\n"
                   "- The function panels: early epochs fit the overall trend, "
                   "later epochs the curvature.\n"
                   "- The table: with noise-free data least squares recovers the "
                   "true coefficients exactly; SGD approaches them.")

REFERENCES = (
    "pytorch/examples `regression/main.py` (the random polynomial target)",
)


@dataclass
class Config(BaseConfig):
    seed: int = option(2020, "random seed (target coefficients, points, initial weights)")
    degree: int = option(4, "degree of the polynomial (features x … x^degree)", positive=True)
    n_points: int = option(200, "number of training points", positive=True)
    x_distribution: Literal["uniform", "normal"] = option(
        "uniform", "how x is drawn: uniform in [-x_range, x_range] or x_range·N(0, 1)")
    x_range: float = option(1.0, "half-width (uniform) or scale (normal) of x", positive=True)
    coeff_scale: float = option(5.0, "target coefficients are coeff_scale·N(0, 1)",
                                positive=True)
    noise: float = option(0.0, "std of Gaussian noise added to the targets (0 = noise-free)",
                          minimum=0.0)
    lrs: list[float] = option([0.1, 0.01, 0.001], "learning rates compared (plain SGD)")
    batch_size: int = option(50, "minibatch size")
    epochs: int = option(500, "training epochs")
    loss: Literal["smoothl1", "mse"] = option("smoothl1", "training loss")
    snapshot_epochs: list[int] = option([5, 10, 20, 100, 200, 500],
                                        "epochs at which the learned function is drawn")

    def validate(self) -> None:
        if self.degree > 12:
            from trainlab.errors import BadInput

            raise BadInput("config key 'degree': at most 12 (higher powers overflow float32)")
        if not self.lrs:
            from trainlab.errors import BadInput

            raise BadInput("config key 'lrs': give at least one learning rate")
        if self.n_points < self.degree + 1:  # fewer points than unknowns: lstsq is not unique
            from trainlab.errors import BadInput

            raise BadInput(f"config key 'n_points': the degree-{self.degree} fit has "
                           f"{self.degree + 1} unknowns, so it needs at least {self.degree + 1} "
                           f"points, got {self.n_points}")


PRESETS = {
    "smoke": {"epochs": 20, "snapshot_epochs": [5, 20]},
    # All 500 epochs: the claim is "lr 0.1 recovers the polynomial within 500 epochs", and at
    # 100 its 95 % interval straddled the threshold (5 replicates: 0.013-0.16). The
    # replicates train as one ensemble, so the 500 epochs cost about 2 s.
    "quick": {"epochs": 500, "snapshot_epochs": [5, 20, 100, 500]},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="best_max_abs_coeff_error",
    objectives={
        "best_max_abs_coeff_error": "minimize",
        "runs.#.max_abs_coeff_error": "minimize",
        "runs.#.final_loss": "minimize",
    },
    space={
        "lrs": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        "batch_size": {"type": "int", "low": 10, "high": 200, "log": True},
    },
    note=("The learning rate and batch size that recover the coefficients best (one rate "
          "per trial)."),
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=5, full=5, ensemble=True)


def _function_error(summary: dict, lr: float) -> float:
    """RMS distance of the learned from the true polynomial on 201 points of [-1, 1],
    relative to the RMS of the true one, for the run at learning rate `lr`.

    The function, not the coefficients: on [-1, 1] the powers x…x⁴ are nearly collinear,
    so a fit can be very close as a function with coefficients still ≈1 off (lr 0.1 at
    seed 2020: loss 0.002, max coefficient error 0.7)."""
    x = np.linspace(-1.0, 1.0, 201)
    powers = np.stack([x ** i for i in range(len(summary["true_coeffs"]))], 1)
    true = powers @ np.asarray(summary["true_coeffs"])
    for r in summary["runs"]:
        if r["lr"] == lr and not r["diverged"]:
            diff = powers @ np.asarray(r["learned_coeffs"]) - true
            return float(np.sqrt(np.mean(diff ** 2)) / np.sqrt(np.mean(true ** 2)))
    raise KeyError(lr)


SOURCE = "the exercise (KAIST, after pytorch/examples regression)"
STATISTIC = "RMS(learned − true polynomial) ÷ RMS(true) on [−1, 1], at lr "
CLAIMS = (
    Claim("lr-0.1-recovers",
          "With lr 0.1, plain SGD recovers the polynomial within the exercise's 500 epochs "
          "(within 5 % of its scale).", SOURCE, STATISTIC + "0.1", threshold=0.05,
          direction="<", value=lambda s: _function_error(s, 0.1)),
    Claim("lr-0.001-does-not",
          "With lr 0.001 it does not: the learned function is still more than 5 % off.",
          SOURCE, STATISTIC + "0.001", threshold=0.05, direction=">",
          value=lambda s: _function_error(s, 0.001)),
)


def polynomial_text(coeffs: list[float], var: str = "x") -> str:
    """`y = +6.19 x^4 -4.80 x^3 … +1.23` from coefficients, constant term first."""
    terms = []
    for power in range(len(coeffs) - 1, -1, -1):
        c = coeffs[power]
        term = f"{c:+.2f}"
        if power == 1:
            term += f" {var}"
        elif power > 1:
            term += f" {var}^{power}"
        terms.append(term)
    return "y = " + " ".join(terms)


def make_data(cfg: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """Target coefficients (constant first), x (N,), features (N, degree), y (N, 1)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    w = torch.randn(cfg.degree, generator=gen) * cfg.coeff_scale
    b = torch.randn(1, generator=gen) * cfg.coeff_scale
    if cfg.x_distribution == "uniform":
        x = (torch.rand(cfg.n_points, generator=gen) * 2 - 1) * cfg.x_range
    else:
        x = torch.randn(cfg.n_points, generator=gen) * cfg.x_range
    feats = torch.stack([x ** i for i in range(1, cfg.degree + 1)], dim=1)
    y = feats @ w + b
    if cfg.noise > 0:
        y = y + torch.randn(cfg.n_points, generator=gen) * cfg.noise
    true = np.concatenate([b.numpy(), w.numpy()]).astype(float)
    return x, feats, y.unsqueeze(1), true


def lstsq_coefficients(feats: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Closed-form least squares [b, w1..wd] on features with a column of ones (float64).

    NumPy's LAPACK rather than torch's: MKL's results can change in the last bits from
    one process to the next, and a summary must be reproducible exactly.
    """
    feats64 = feats.double().numpy()
    design = np.concatenate([np.ones((len(feats64), 1)), feats64], axis=1)
    return np.linalg.lstsq(design, y.double().numpy()[:, 0], rcond=None)[0]


def _coeffs(flat: torch.Tensor) -> list[float]:
    # Ensemble parameter order: weight (degree values) then bias.
    return [float(flat[-1])] + [float(v) for v in flat[:-1]]


@experiment("polyfit", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Fit a random degree-4 polynomial with SGD and SmoothL1 at three "
                    "learning rates, against closed-form least squares",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("true_coeffs",
                          "runs[].{lr, final_loss, learned_coeffs, max_abs_coeff_error}",
                          "lstsq_coeffs"),
            headline=("lstsq_max_abs_error", "best_lr", "best_max_abs_coeff_error"))
def run(cfg: Config, ctx) -> dict:
    return run_seeds(cfg, ctx, [cfg.seed])[0]


def _splits(data: list, L: int, dev) -> Split:
    """The training split: shared with one replicate (as always), else one per member
    (replicate k's features and targets for its L learning rates)."""
    if len(data) == 1:
        return Split(data[0][1].to(dev), data[0][2].to(dev))
    feats = torch.stack([d[1] for d in data for _ in range(L)]).to(dev)
    ys = torch.stack([d[2] for d in data for _ in range(L)]).to(dev)
    return Split(feats, ys, per_member=True)


def _summary(cfg, true, lstsq, final, losses, diverged) -> dict:
    runs = []
    for e, lr in enumerate(cfg.lrs):
        learned = _coeffs(final[e])
        err = float(np.max(np.abs(np.asarray(learned) - true)))
        runs.append({"lr": lr, "final_loss": float(losses[e]), "learned_coeffs": learned,
                     "max_abs_coeff_error": err, "diverged": diverged[e]})
    ok = [r for r in runs if not r["diverged"]]
    best = min(ok, key=lambda r: r["max_abs_coeff_error"]) if ok else runs[0]
    return {"true_coeffs": list(true), "lstsq_coeffs": lstsq.tolist(), "runs": runs,
            "lstsq_max_abs_error": float(np.max(np.abs(lstsq - true))),
            "best_lr": best["lr"], "best_max_abs_coeff_error": best["max_abs_coeff_error"]}


def _live_panel(cfg, x, y, true, names, dev):
    """The live report's panel: each learning rate's polynomial now, the true one, the data."""
    grid = torch.linspace(float(x.min()), float(x.max()), 120)
    feats = torch.stack([grid ** i for i in range(1, cfg.degree + 1)], dim=1).to(dev)
    truth = Curve("true", grid.tolist(), np.polyval(true[::-1], grid.numpy()).tolist())
    points = list(zip(x.tolist(), y[:, 0].tolist(), strict=True))

    def draw(model) -> LineChart:
        # (E, G); with replicates, the first replicate's members
        pred = model(feats)[..., 0][:len(names)].cpu().numpy()
        return function_chart(grid, pred, names, points, extra=[truth],
                              caption="the learned polynomials (one per learning rate), "
                                      "the true one and the training points")
    return draw


def run_seeds(cfg: Config, ctx, seeds: list[int]) -> list[dict]:
    """One summary per replicate seed. Every replicate draws its own polynomial and points;
    all replicates x learning rates train as one ensemble (member k·L + e: seed k, rate e)."""
    data = [make_data(replace(cfg, seed=s)) for s in seeds]
    dev = ctx.device
    L = len(cfg.lrs)
    model = Ensemble([("linear", 1)], (cfg.degree,), seeds=[s for s in seeds for _ in range(L)]
                     ).to(dev)
    names = [f"lr={lr:g}" for lr in cfg.lrs]
    members = names if len(seeds) == 1 else [f"{n}/seed{s}" for s in seeds for n in names]
    snaps = ParamSnapshots(at=cfg.snapshot_epochs)
    x0, _, y0, true0 = data[0]
    ctx.live_panel("The learned polynomials so far", _live_panel(cfg, x0, y0, true0, names, dev))
    train = _splits(data, L, dev)
    result = fit(model, train, epochs=cfg.epochs,
                 batch_size=cfg.batch_size, loss=cfg.loss,
                 optim=OptimSpec("sgd", list(cfg.lrs) * len(seeds) if len(seeds) > 1
                                 else cfg.lrs),
                 evals={"train": train}, eval_at_start=True,
                 on_diverge="mask", ctx=ctx, name="sgd", member_names=members,
                 callbacks=[snaps])
    final = model.flat_parameters().cpu()
    losses = result.history.final("train", "loss")
    summaries = []
    for k, (_, feats, y, true) in enumerate(data):
        part = slice(k * L, (k + 1) * L)
        summaries.append(_summary(cfg, true, lstsq_coefficients(feats, y), final[part],
                                  losses[part], result.diverged[part]))
    first = summaries[0]
    text = [f"true:    {polynomial_text(first['true_coeffs'])}",
            f"lstsq:   {polynomial_text(first['lstsq_coeffs'])}"]
    text += [f"lr={r['lr']:<6g} {polynomial_text(r['learned_coeffs'])}" for r in first["runs"]]
    for line in text:
        ctx.echo(line)
    many = " (first replicate)" if len(seeds) > 1 else ""
    ctx.preformatted("\n".join(text), title="True, least-squares and learned polynomials" + many)
    ctx.table([{"lr": r["lr"], "final loss": r["final_loss"],
                "max |coef error|": r["max_abs_coeff_error"],
                "diverged": r["diverged"]} for r in first["runs"]], title="Learning rates" + many)
    x, _, y, true = data[0]
    _plot(cfg, ctx, x, y, true, np.asarray(first["lstsq_coeffs"]), snaps, result, names,
          len(seeds))
    return summaries


def _plot(cfg, ctx, x, y, true, lstsq, snaps, result, names, replicates: int = 1) -> None:
    grid = torch.linspace(float(x.min()), float(x.max()), 200)
    powers = torch.stack([grid ** i for i in range(cfg.degree + 1)], 1).numpy()
    fig, axes = new_figure(ncols=len(cfg.lrs), width=4.6, height=3.6, sharey=True)
    saved = snaps.by_epoch()
    epochs = sorted(saved)
    colors = [__import__("matplotlib").cm.viridis(i / max(1, len(epochs) - 1))
              for i in range(len(epochs))]
    for e, name in enumerate(names):
        ax = axes[0, e]
        ax.scatter(x.numpy(), y.squeeze(1).numpy(), s=6, color="0.7", label="data")
        ax.plot(grid, powers @ true, "k-", lw=2, label="true")
        ax.plot(grid, powers @ lstsq, "k:", lw=1.5, label="least squares")
        for ep, col in zip(epochs, colors, strict=True):
            ax.plot(grid, powers @ np.asarray(_coeffs(saved[ep][e])), color=col,
                    lw=1.2, label=f"epoch {ep}")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("y")
    axes[0, -1].legend(fontsize="x-small", loc="best")
    ctx.figure(fig, "learned-vs-true",
               "Learned function (colours: epochs) against the true polynomial (black) "
               "and the least-squares fit (dotted), one panel per learning rate.")
    fig, axes = new_figure()
    series = np.abs(result.history.series("train", "loss")) + 1e-12
    if replicates == 1:
        curves(axes[0, 0], result.history.epochs,
               {n: series[:, e] for e, n in enumerate(names)}, logy=True,
               ylabel=f"train loss ({cfg.loss})", title="Training loss per learning rate")
        ctx.figure(fig, "loss", "Training loss of every learning rate on a log scale.")
        return
    # replicates draw different polynomials: average the log loss, band in the same units
    L = len(names)
    bands = {n: mean_band(np.log10(series[:, e::L])) for e, n in enumerate(names)}
    curves(axes[0, 0], result.history.epochs, {n: 10 ** b[0] for n, b in bands.items()},
           logy=True, ylabel=f"train loss ({cfg.loss})", title="Training loss per learning rate",
           band={n: (10 ** b[1], 10 ** b[2]) for n, b in bands.items()})
    ctx.figure(fig, "loss", f"Training loss of every learning rate on a log scale: geometric "
               f"mean of {replicates} replicates, shaded: its 95 % t interval.")
