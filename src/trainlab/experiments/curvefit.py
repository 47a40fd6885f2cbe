"""curvefit: 1-D regression across gaps in the training range, model chosen by k-fold CV.

The exercise fits y(x) from a train file and a test file with a one-hidden-layer MLP and
the mean squared error, and picks the model by k-fold cross-validation (k=10); the
training x leave out intervals (gaps) that the test file covers, so the test loss shows
how the network interpolates where it never saw data.

Model selection, as a student's grid search would do it: x and y are standardised with
the training mean and std (every loss is reported in original units: MSE × σ_y²). Each
candidate of a small grid (hidden width × Adam learning rate × L2 λ on the weights)
trains on the k folds, and its number of epochs is chosen per fold by early stopping on
that fold's validation loss. All candidates × folds train as ONE ensemble (member c·k+f
is candidate c on fold f; narrower widths are masked units of the widest, see
`_model_selection`). The candidate with the lowest mean validation loss is chosen, and
the reported model is its k fold models, each at its best epoch, averaged (no refit on
all rows: the average of the fold models is what cross-validation scored, needs no guess
of the epoch count for 100 % of the rows, and averaging k fits calms the gaps).
`test_loss` is that average's test MSE.

Folds must be of equal length for the per-member tensors (k, N, 1), so when N is not a
multiple of k every fold keeps the first ⌊N/k⌋ validation rows and the first
N − ⌈N/k⌉ training rows of `kfold_indices` (with 100 rows: exactly 90 and 10). Default
data: the built-in gap pair (`gap_regression_pair`), written into the run folder as CSV
and read back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import (
    check_same_columns,
    gap_regression_pair,
    read_data_table,
    write_table,
)
from trainlab.errors import BadInput
from trainlab.experiments._model_selection import (
    BestEpoch,
    CVData,
    FoldReport,
    WidthMask,
    candidate_grid,
    equal_folds,
    score_candidates,
    standardised,
)
from trainlab.losses import Penalty
from trainlab.models import ACTIVATIONS, mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.charts import LineChart, function_chart
from trainlab.report.plots import curves, new_figure, scatter_sample
from trainlab.train import evaluate, fit

QUESTION = ("Which network does cross-validation pick for a curve with gaps in its "
            "training range, how well does its score predict the test error, and what "
            "does a network do where it never saw data?")

WHAT_TO_LOOK_AT = ("- The candidates table: the cross-validated MSE of every width, "
                   "learning rate and L2 λ, and the choice.\n"
                   "- The loss curves of the chosen candidate: validation and test "
                   "loss, mean ± std over the folds, and where early stopping took "
                   "each fold.\n"
                   "- The fitted curves: the folds agree where there is data and "
                   "spread inside the shaded gaps; their average is the model.\n"
                   "- The gap test loss against the whole test loss: cross-validation "
                   "cannot see the gaps, so it underestimates them.")

REFERENCES = (
    "Hastie, Tibshirani, Friedman, *The Elements of Statistical Learning*, §7.10 "
    "(cross-validation)",
    "Prechelt, *Early Stopping — But When?*, in Neural Networks: Tricks of the Trade, 1998",
)

INPUT_FORMAT = """\
data.path and data.test_path: two text tables with the same header, one numeric feature
column and a numeric target (data.target, default the last column; data.features picks
the feature if there are more columns), comma-, tab- or semicolon-separated (detected).
At least 2 x folds training rows. Example (train.csv; test.csv alike):
    x,y
    -4.95,0.73
"""


@dataclass
class DataConfig:
    path: str = option("", "training table, one feature and a target, comma-, tab- or "
                           "semicolon-separated (empty: built-in pair)")
    test_path: str = option("", "test table with the same columns (needed with data.path)")
    target: str = option("", "target column (empty: the last column)")
    features: list[str] = option([], "the one feature column by name (empty: the other column)")
    delimiter: str = option("", "column delimiter: ',', ';', 'tab' (empty: detected)")


@dataclass
class Config(BaseConfig):
    data: DataConfig = option(DataConfig(), "the train and test tables")
    noise: float = option(0.1, "std of the noise of the built-in pair's targets", minimum=0.0)
    folds: int = option(10, "k of the k-fold cross-validation")
    widths: list[int] = option([16, 48], "candidate hidden widths")
    lrs: list[float] = option([0.01, 0.03, 0.1], "candidate Adam learning rates")
    l2s: list[float] = option([0.0, 1e-4, 1e-3], "candidate L2 λ (λ·Σw² on the weights, "
                                                 "standardised units)")
    activation: str = option("tanh", "hidden activation")
    batch_size: int = option(90, "minibatch size (90: the whole training part of a fold of "
                                 "100 rows, one step per epoch)")
    epochs: int = option(2000, "most epochs; each fold stops at its best validation epoch")
    patience: int = option(300, "end training when no member improved for this many epochs",
                           positive=True)
    eval_every: int = option(10, "epochs between validation checks", positive=True)

    def validate(self) -> None:
        if self.folds < 2:
            raise BadInput("config key 'folds': at least 2")
        for key in ("widths", "lrs", "l2s"):
            if not getattr(self, key):
                raise BadInput(f"config key '{key}': give at least one candidate")
        if min(self.l2s) < 0:
            raise BadInput("config key 'l2s': must be >= 0")
        if self.activation not in ACTIVATIONS:
            raise BadInput(f"config key 'activation': unknown {self.activation!r} "
                           f"(choose from {', '.join(ACTIVATIONS)})")
        if self.data.path:  # check the user's files now, before any run folder exists
            load_pair(self)


PRESETS = {
    "smoke": {"epochs": 3, "folds": 3, "widths": [8, 20], "lrs": [0.01], "l2s": [0.0, 1e-3],
              "eval_every": 1},
    "quick": {"epochs": 600, "patience": 150, "lrs": [0.03, 0.1]},
}

# What `trainlab sweep` optimises and searches with no --objective or --space. The grid
# of widths, rates and L2 λ is searched inside every run; a sweep tunes the rest.
SWEEP = Sweep(
    objective="cv_val_loss_mean",
    objectives={
        "cv_val_loss_mean": "minimize",
        "cv_val_loss_std": "minimize",
        "test_loss": "minimize",
        "fold_test_loss_mean": "minimize",
        "gap_test_loss": "minimize",
        "fold_results.#.val_loss": "minimize",
    },
    space={
        "batch_size": {"type": "int", "low": 8, "high": 128, "log": True},
        "patience": {"type": "int", "low": 100, "high": 1000, "log": True},
    },
    note="The batch size and early-stopping patience with the lowest cross-validated loss.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)

CLAIMS = (
    Claim("cv-estimates-test-loss",
          "k-fold cross-validation estimates the loss on new data: the mean validation loss "
          "is within a factor 2 of the test loss.",
          "the exercise; Stone 1974, cross-validatory choice",
          "|log2(mean CV validation loss ÷ test loss)|", threshold=1.0, direction="<",
          value=lambda s: abs(math.log2(s["cv_val_loss_mean"] / s["test_loss"]))),
)


def load_pair(cfg: Config, run_dir: Path | None = None):
    """(train table, test table, gap or None): user files, or the built-in pair as CSV."""
    gap = None
    if cfg.data.path:
        if not cfg.data.test_path:
            raise BadInput("config key 'data.test_path': give a test file with data.path")
        train_path, test_path = Path(cfg.data.path), Path(cfg.data.test_path)
    else:
        pair = gap_regression_pair(seed=cfg.seed, noise=cfg.noise)
        gap = pair.gap
        folder = (run_dir or Path(".")) / "data"
        train_path = write_table(folder / "gap_train.csv", pair.train)
        test_path = write_table(folder / "gap_test.csv", pair.test)
    train, test = read_data_table(train_path, cfg.data), read_data_table(test_path, cfg.data)
    check_same_columns(train, test)
    for name, table in (("data.path", train), ("data.test_path", test)):
        if table.x.shape[1] != 1:
            raise BadInput(f"config key '{name}': expected one feature column and a target, "
                           f"got features {table.feature_names}")
    if np.all(train.x == train.x[0]):
        raise BadInput(f"{train.path}: column {train.feature_names[0]!r} is constant: curvefit "
                       "needs training x that vary")
    if len(train) < 2 * cfg.folds:
        raise BadInput(f"config key 'folds': {cfg.folds} folds need at least "
                       f"{2 * cfg.folds} training rows, got {len(train)}")
    if gap is None:  # the widest empty interval between training x
        xs = np.sort(train.x[:, 0])
        i = int(np.argmax(np.diff(xs)))
        gap = (float(xs[i]), float(xs[i + 1]))
    return train, test, gap


def _live_view(ctx, cfg, cands: list[dict], d: CVData, train_t, test_t):
    """The live report of the selection (whose fit logs no rows): the best candidate so
    far (lowest mean validation MSE over its folds), its train and validation MSE, and
    its fold models' mean curve over the inputs, under the training points."""
    C, k, scale, state = len(cands), cfg.folds, d.y_std ** 2, {"best": 0}

    def rows(epoch: int, history) -> list[dict]:
        mean = {s: np.asarray(history.values[f"{s}/loss"][-1], dtype=float).reshape(C, k)
                .mean(1) * scale for s in ("train", "val")}  # (C,) each, original units
        val = np.where(np.isfinite(mean["val"]), mean["val"], np.inf)
        state["best"] = b = int(np.argmin(val))
        return [{"fit": "selection", "epoch": epoch, "split": s, "loss": float(v[b]),
                 "model": "best candidate so far"} for s, v in mean.items()]

    xs = np.concatenate([train_t.x[:, 0], test_t.x[:, 0]])
    grid = torch.linspace(float(xs.min()), float(xs.max()), 160)
    grid_z = ((grid - d.x_mean) / d.x_std).reshape(-1, 1).to(d.x_test.device)
    keep = scatter_sample(len(train_t.y), 1000)
    points = list(zip(train_t.x[keep, 0].tolist(), train_t.y[keep].tolist(), strict=True))

    def draw(model) -> LineChart:
        b = state["best"]
        pred = model(grid_z)[b * k:(b + 1) * k].mean(0)[:, 0].cpu().numpy()
        name = ", ".join(f"{key} {cands[b][key]:g}" for key in ("width", "lr", "l2"))
        return function_chart(grid, [pred * d.y_std + d.y_mean],
                              [f"best candidate so far ({name}), mean of {k} folds"], points,
                              caption="the current best candidate's curve and the training "
                                      "points")
    ctx.live_panel("The best candidate's curve so far", draw)
    return ctx.live_fit("selection", cfg.epochs, rows)


@experiment("curvefit", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Fit a 1-D function with gaps in its training range by an MLP chosen "
                    "by 10-fold cross-validation over a small grid",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("cv_val_loss_mean", "cv_val_loss_std", "test_loss", "folds"),
            headline=("test_loss", "cv_val_loss_mean", "gap_test_loss", "chosen.width"))
def run(cfg: Config, ctx) -> dict:
    train_t, test_t, gap = load_pair(cfg, ctx.path)
    dev, k = ctx.device, cfg.folds
    cands = candidate_grid(cfg.widths, cfg.lrs, cfg.l2s)
    C = len(cands)
    tr_idx, va_idx = equal_folds(len(train_t), k, cfg.seed)
    d = standardised(train_t, test_t, gap, tr_idx, va_idx, C, dev)
    members = [(c, f) for c in range(C) for f in range(k)]
    # Fold f of every candidate starts from the same weights and batches: paired comparisons.
    model = mlp([max(cfg.widths)], 1, 1, seeds=[cfg.seed + f for _, f in members],
                activation=cfg.activation).to(dev)
    mask = WidthMask(model, [cands[c]["width"] for c, _ in members])
    best = BestEpoch(model, cfg.patience)
    l2 = [cands[c]["l2"] for c, _ in members]
    evals = {"train": d.train, "val": d.val, "test": d.test}
    if d.gap is not None:
        evals["gap"] = d.gap
    names = [f"c{c}/fold{f}" for c, f in members]
    scale = d.y_std ** 2  # MSE in standardised units × σ_y² = MSE in original units
    # Pruning per fold (DESIGN §6): the folds stay in the one ensemble and are reported
    # as they finish (one `cv` row each, with the running CV score), so a sweep's pruner
    # can stop the trial after any fold while plain runs keep the ensemble's speed and
    # their results; a fold-by-fold mode would train k ensembles one after another.
    folds_done = FoldReport(best, C, k, cfg.epochs, scale, lambda row: ctx.log([row]))
    # No run context: fit would log every member's curves (a grid of 18 candidates x 10
    # folds makes 10^5 rows); the chosen candidate's rows are logged below. Without a
    # checkpoint, `trainlab resume` reruns this short training from the start.
    result = fit(model, d.train, epochs=cfg.epochs, batch_size=cfg.batch_size, loss="mse",
                 optim=OptimSpec("adam", [cands[c]["lr"] for c, _ in members]),
                 penalty=Penalty("l2", l2, weights_only=True) if any(l2) else None,
                 evals=evals, eval_every=cfg.eval_every, on_diverge="mask",
                 callbacks=[mask, best, folds_done,
                            _live_view(ctx, cfg, cands, d, train_t, test_t)],
                 name="selection", member_names=names,
                 progress=ctx.progress)
    folds_done.finish(list(range(k)), int(result.history.epochs[-1]))  # any stop ends all
    best.restore()
    with torch.no_grad():
        final = {split: evaluate(model, data, "mse")["loss"].cpu().double().numpy() * scale
                 for split, data in evals.items()}
    diverged = np.asarray(result.diverged)
    choice = score_candidates(cands, k, final["val"], best.best_epoch.numpy().astype(float),
                              diverged)
    chosen = list(range(choice * k, (choice + 1) * k))
    with torch.no_grad():
        mean_pred = model(d.x_test)[chosen].mean(0)
    sq = ((mean_pred - d.y_test) * d.y_std).pow(2)[:, 0].cpu().double().numpy()
    in_gap = (test_t.x[:, 0] >= gap[0]) & (test_t.x[:, 0] <= gap[1])
    test_loss = float(sq.mean())
    gap_loss = float(sq[in_gap].mean()) if in_gap.any() else float("nan")
    _log_chosen(ctx, result.history, chosen, k, scale)
    per_fold = [{"fold": f, "train_loss": float(final["train"][m]),
                 "val_loss": float(final["val"][m]), "test_loss": float(final["test"][m]),
                 "gap_test_loss": float(final["gap"][m]) if "gap" in final else float("nan"),
                 "best_epoch": int(best.best_epoch[m]), "diverged": bool(diverged[m]),
                 "val_indices": va_idx[f].tolist()} for f, m in enumerate(chosen)]
    pick = cands[choice]
    summary = {"cv_val_loss_mean": pick["cv_val_loss_mean"],
               "cv_val_loss_std": pick["cv_val_loss_std"], "test_loss": test_loss,
               "gap_test_loss": gap_loss, "ensemble_test_loss": test_loss,
               "fold_test_loss_mean": float(np.mean([r["test_loss"] for r in per_fold])),
               "fold_test_loss_std": float(np.std([r["test_loss"] for r in per_fold])),
               "folds": k, "diverged_folds": pick["diverged_folds"], "fold_results": per_fold,
               "candidates": cands, "chosen": {key: pick[key] for key in
                                               ("width", "lr", "l2", "best_epoch_mean")},
               "model": "mean of the chosen candidate's k fold models, each at its best "
                        "validation epoch",
               "standardization": {"x_mean": d.x_mean, "x_std": d.x_std,
                                   "y_mean": d.y_mean, "y_std": d.y_std},
               "epochs_trained": int(result.history.epochs[-1]), "gap": list(gap),
               "train_rows_per_fold": int(tr_idx.shape[1]),
               "val_rows_per_fold": int(va_idx.shape[1]),
               "dropped_rows": len(train_t) - k * int(va_idx.shape[1])}
    _report(cfg, ctx, summary, cands, choice, len(test_t), int(in_gap.sum()))
    _plot(ctx, result.history, chosen, scale, train_t, test_t, gap, model, d, per_fold)
    return summary


def _log_chosen(ctx, h, chosen: list[int], k: int, scale: float) -> None:
    """metrics.jsonl rows of the chosen candidate's folds (original units)."""
    rows = []
    for t, epoch in enumerate(h.epochs):
        for key, values in h.values.items():
            split, metric = key.split("/")
            for f, m in enumerate(chosen):
                rows.append({"fit": "selection", "epoch": epoch, "split": split,
                             "model": f"fold{f}", metric: values[t][m] * scale})
    ctx.log(rows)


def _report(cfg, ctx, summary: dict, cands: list[dict], choice: int, n_test: int,
            n_gap: int) -> None:
    order = sorted(range(len(cands)), key=lambda c: cands[c]["cv_val_loss_mean"])
    ctx.table([{"": "→" if c == choice else "", **{key: cands[c][key] for key in (
        "width", "lr", "l2", "cv_val_loss_mean", "cv_val_loss_std", "best_epoch_mean",
        "diverged_folds")}} for c in order],
              title="Candidates by cross-validated MSE (original units); → the choice")
    ctx.table([{key: v for key, v in r.items() if key != "val_indices"}
               for r in summary["fold_results"]],
              title="The chosen candidate per fold, at its best validation epoch (MSE)")
    pick, std = summary["chosen"], summary["standardization"]
    ctx.text(f"{len(cands)} candidates × {cfg.folds} folds trained as one ensemble of "
             f"{len(cands) * cfg.folds} members (Adam, batch {cfg.batch_size}, at most "
             f"{cfg.epochs} epochs, validation every {cfg.eval_every}; each fold keeps its "
             f"best validation epoch; training stopped at epoch {summary['epochs_trained']}). "
             f"Inputs and targets standardised with the training mean and std (x: "
             f"{std['x_mean']:.4g} ± {std['x_std']:.4g}, y: {std['y_mean']:.4g} ± "
             f"{std['y_std']:.4g}); every loss here is in original units. Chosen: width "
             f"{pick['width']}, lr {pick['lr']:g}, L2 λ {pick['l2']:g}, best epochs "
             f"{pick['best_epoch_mean']:.0f} on average. The model is the mean of its "
             f"{cfg.folds} fold models: test MSE {summary['test_loss']:.4g} on {n_test} "
             f"rows, {summary['gap_test_loss']:.4g} on the {n_gap} in the widest gap "
             f"[{summary['gap'][0]:.3g}, {summary['gap'][1]:.3g}]; a single fold model's "
             f"test MSE is {summary['fold_test_loss_mean']:.4g} ± "
             f"{summary['fold_test_loss_std']:.4g}.")
    for key in ("cv_val_loss_mean", "cv_val_loss_std", "test_loss", "gap_test_loss"):
        ctx.echo(f"{key:<18} {summary[key]:.5g}")
    ctx.echo(f"chosen             width {pick['width']}, lr {pick['lr']:g}, l2 {pick['l2']:g}")


def _plot(ctx, h, chosen, scale, train_t, test_t, gap, model, d: CVData, per_fold) -> None:
    epochs = np.asarray(h.epochs)
    fig, axes = new_figure(width=6.4, height=3.8)
    ys, band = {}, {}
    for split in ("train", "val", "test", "gap"):
        if h.has(split, "loss"):
            s = h.series(split, "loss")[:, chosen] * scale
            mean, std = np.nanmean(s, 1), np.nanstd(s, 1)
            ys[split], band[split] = mean, (mean - std, mean + std)
    ax = axes[0, 0]
    curves(ax, epochs, ys, band=band, logy=True, ylabel="MSE (mean ± std over folds)",
           title="chosen candidate")
    for r in per_fold:
        ax.axvline(r["best_epoch"], color="0.5", lw=0.6, alpha=0.5)
    ctx.figure(fig, "loss", "Train, validation, test and gap-only test loss of the chosen "
                            "candidate per evaluation (mean over the folds, ±1 std band, "
                            "original units); grey lines: each fold's best epoch.")
    fig, axes = new_figure(width=7.0, height=4.2)
    ax = axes[0, 0]
    ax.axvspan(gap[0], gap[1], color="orange", alpha=0.15, label="widest gap")
    shown = scatter_sample(len(train_t))
    ax.scatter(train_t.x[shown, 0], train_t.y[shown], s=10, color="0.35", label="train")
    shown = scatter_sample(len(test_t))
    ax.scatter(test_t.x[shown, 0], test_t.y[shown], s=10, marker="x", color="tab:red",
               label="test")
    lo = min(float(train_t.x.min()), float(test_t.x.min()))
    hi = max(float(train_t.x.max()), float(test_t.x.max()))
    g = np.linspace(lo, hi, 400)
    grid = torch.tensor((g - d.x_mean) / d.x_std, dtype=torch.float32,
                        device=d.x_test.device).unsqueeze(1)
    with torch.no_grad():
        preds = model(grid)[chosen].squeeze(-1).cpu().numpy() * d.y_std + d.y_mean
    for i, p in enumerate(preds):
        ax.plot(g, p, color="tab:blue", lw=0.8, alpha=0.5, label="fold models" if i == 0 else None)
    ax.plot(g, preds.mean(0), color="navy", lw=2, label="mean of folds (the model)")
    ax.set_xlabel(train_t.feature_names[0])
    ax.set_ylabel(train_t.target_name)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ctx.figure(fig, "fit", "The chosen candidate's fold models and their mean over the "
                           "training and test points, in original units; the shaded "
                           "interval is the widest gap without training data.")
