"""height-weight: classify sex from height and weight with a small MLP, BCE and an L1 penalty.

The exercise: a table of adults' height and weight labelled by sex; inputs standardised
(mean and std of the training part), an MLP with a sigmoid output unit trained by plain
SGD (lr 0.01, batch 16, 2,000 epochs) on the binary cross-entropy plus an L1 penalty
λ·Σ|θ| over all parameters, weights initialised from N(0, 0.02²); three variants with
sigmoid, tanh and ReLU hidden units. The output sigmoid and the BCE are computed together
from the logit (`binary_cross_entropy_with_logits`: the same function, numerically safer);
a prediction is "male" when the logit is positive, i.e. the sigmoid output above 0.5.

Default data: the built-in height/weight table (`height_weight_table`, 1,000 rows), written
into the run folder as CSV and read back. `data.path` takes any table with two numeric
feature columns and a label column of two classes, numbers or words, such as the classic
10,000-row `Gender,Height,Weight` table (`Male`/`Female`, inches, pounds; comma- or
tab-separated); the label column is `data.target`, else the only non-numeric column,
else the last one. The sorted labels become classes 0 and 1 (saved in `labels.json`).
The split is stratified (`stratified_split`, seeded). A logistic regression
(scikit-learn) on the same standardised split is the baseline: the classes overlap, so
a linear boundary is already about as good as any (about 90 % test accuracy on the
built-in table, 91-92 % on the Gender table).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import read_data_table, standardize, stratified_split, write_height_weight_csv
from trainlab.errors import BadInput
from trainlab.losses import Penalty
from trainlab.models import ACTIVATIONS, Ensemble, mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.charts import Heatmap
from trainlab.report.plots import curves, new_figure, scatter_sample
from trainlab.runs import atomic_write_json
from trainlab.train import Split, fit

QUESTION = ("How well does a small MLP separate two overlapping classes, and does "
            "the hidden activation matter when the weights start tiny?")

WHAT_TO_LOOK_AT = ("- The accuracy curves: sigmoid units start on a long plateau "
                   "(tiny weights, flat gradients); tanh and ReLU leave it sooner.\n"
                   "- The final table: all three end near 90 % test accuracy, the "
                   "limit set by the overlap of the classes.\n"
                   "- The decision boundaries: nearly straight lines through the "
                   "overlap. By the end the L1 penalty has pulled most height "
                   "weights towards zero (height and weight are correlated, weight "
                   "carries most of the information), so the three boundaries "
                   "nearly coincide; with `--preset quick` they still differ.")

REFERENCES = (
    "Bishop, *Pattern Recognition and Machine Learning*, §4.3 (logistic models)",
)

INPUT_FORMAT = """\
data.path: a text table with a header row, two numeric feature columns and a label column
of exactly two classes, words or numbers (data.target; default the only non-numeric
column, else the last). Comma-, tab- or semicolon-separated (detected). The sorted labels
become classes 0 and 1 (labels.json). The classic 10,000-row table works as published:
    Gender,Height,Weight
    Male,73.847017017515,241.893563180437
"""


@dataclass
class DataConfig:
    path: str = option("", "table with two numeric features and a label column of two classes "
                           "(numbers or words), comma-, tab- or semicolon-separated (empty: "
                           "built-in table)")
    target: str = option("", "label column (empty: the only non-numeric column, else the last)")
    features: list[str] = option([], "the two feature columns by name (empty: the others)")
    delimiter: str = option("", "column delimiter: ',', ';', 'tab' (empty: detected)")
    rows: int = option(1000, "rows of the built-in table", positive=True)


@dataclass
class Config(BaseConfig):
    data: DataConfig = option(DataConfig(), "the table")
    test_fraction: float = option(0.2, "stratified share of the rows held out for testing",
                                  positive=True)
    widths: list[int] = option([10], "hidden layer widths")
    activations: list[str] = option(["sigmoid", "tanh", "relu"],
                                    "hidden activations compared (one training each)")
    init_std: float = option(0.02, "weights and biases initialised from N(0, init_std²)",
                             positive=True)
    l1_lambda: float = option(1e-4, "λ of the L1 penalty λ·Σ|θ| (0 = none)", minimum=0.0)
    lr: float = option(0.01, "SGD learning rate")
    batch_size: int = option(16, "minibatch size")
    epochs: int = option(2000, "training epochs")

    def validate(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise BadInput("config key 'test_fraction': must be between 0 and 1")
        for name in self.activations:
            if name not in ACTIVATIONS:
                raise BadInput(f"config key 'activations': unknown {name!r} "
                               f"(choose from {', '.join(ACTIVATIONS)})")
        if not self.activations:
            raise BadInput("config key 'activations': give at least one")
        if self.data.path:
            load_table(self)


PRESETS = {
    # Smoke: a large rate so that a few epochs leave the plateau of the tiny initial weights.
    "smoke": {"epochs": 5, "data": {"rows": 200}, "lr": 1.0},
    "quick": {"epochs": 200},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="best_test_accuracy",
    objectives={
        "best_test_accuracy": "maximize",
        "results.#.test_accuracy": "maximize",
        "results.#.test_loss": "minimize",
        "results.#.train_loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-3, "high": 3.0, "log": True},
        "batch_size": {"type": "int", "low": 4, "high": 64, "log": True},
        "l1_lambda": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
    },
    note="The training settings with the best test accuracy of any activation.",
)

# ----------------------------------------------------------------- claims

# Replicates join the ensemble (`run_seeds`): 3 activations × N seeds in one fit, each
# seed's members on that seed's table (built-in data) or split (a user's file).
REPLICATES = Replicates(smoke=1, quick=3, full=3, ensemble=True)

CLAIMS = (
    Claim("height-weight-separates",
          "Height and weight predict the class well above chance (the classes overlap, so "
          "not perfectly): mean test accuracy of the activations above 75 %.",
          "the exercise", "test accuracy, mean over the hidden activations", threshold=0.75,
          direction=">",
          value=lambda s: sum(r["test_accuracy"] for r in s["results"]) / len(s["results"])),
)


def load_table(cfg: Config, run_dir: Path | None = None, name: str = "height_weight.csv"):
    """The user's CSV, or the built-in table written into the run folder and read back."""
    path = cfg.data.path
    if not path:
        path = write_height_weight_csv((run_dir or Path(".")) / "data" / name,
                                       n=cfg.data.rows, seed=cfg.seed)
    table = read_data_table(path, cfg.data, classes=True, n_classes=2)
    if table.x.shape[1] != 2:
        raise BadInput(f"{path}: expected two feature columns besides the label "
                       f"{table.target_name!r}, got {table.feature_names}: choose two with "
                       "data.features")
    return table


def logistic_baseline(x_tr: torch.Tensor, y_tr: torch.Tensor, x_te: torch.Tensor,
                      y_te: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> dict | None:
    """scikit-learn's logistic regression on the standardised features (N, 2), labels (N,).

    Returns its accuracies and its boundary w·x + b = 0 in original units (w = w_z/σ,
    b = b_z − Σ w_z μ/σ), or None when scikit-learn is not installed.
    """
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    model = LogisticRegression().fit(x_tr.numpy(), y_tr.numpy())
    w_z, b_z = model.coef_[0].astype(np.float64), float(model.intercept_[0])
    sd, mu = std.double().numpy(), mean.double().numpy()
    return {"train_accuracy": float(model.score(x_tr.numpy(), y_tr.numpy())),
            "test_accuracy": float(model.score(x_te.numpy(), y_te.numpy())),
            "weights": (w_z / sd).tolist(), "bias": b_z - float(np.sum(w_z * mu / sd))}


def build_model(activations: list[str], widths: list[int], seed: int,
                init_std: float) -> Ensemble:
    """One 2 → widths → 1 logit MLP per activation, all from `seed`, as one ensemble.

    Every weight and bias is drawn from N(0, init_std²); member e uses activations[e]
    in every hidden layer, so the three networks train together in one loop (as three
    separate runs would, ~2.5x sooner).
    """
    return mlp(widths, 2, 1, seeds=[seed] * len(activations),
               activation=[tuple(activations)] * len(widths), init_std=init_std)


@experiment("height-weight", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Classify sex from height and weight with an MLP (BCE + L1, SGD); "
                    "sigmoid, tanh and ReLU hidden units compared",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("results[].{activation, train_accuracy, test_accuracy}",),
            headline=("best_test_accuracy", "best_activation"))
def run(cfg: Config, ctx) -> dict:
    return run_seeds(cfg, ctx, [cfg.seed])[0]


@dataclass
class _Replicate:
    """One seed's table, stratified split and standardised inputs."""

    table: object
    tr_idx: torch.Tensor
    te_idx: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    x_tr: torch.Tensor
    x_te: torch.Tensor


def _replicate(cfg: Config, run_dir: Path, first: bool) -> _Replicate:
    """The data of the replicate with seed `cfg.seed` (its own built-in table, if any)."""
    name = "height_weight.csv" if first else f"height_weight-seed{cfg.seed}.csv"
    table = load_table(cfg, run_dir, name)
    tr_idx, te_idx = stratified_split(table.y, cfg.test_fraction, seed=cfg.seed)
    x = torch.tensor(table.x, dtype=torch.float32)
    y = torch.tensor(table.y, dtype=torch.float32).unsqueeze(1)
    mean, std, (x_tr, x_te) = standardize(x[tr_idx], x[te_idx])
    return _Replicate(table, tr_idx, te_idx, x, y, mean, std, x_tr, x_te)


def _splits(reps: list[_Replicate], n_acts: int, dev) -> tuple[Split, Split]:
    """Train and test splits: shared with one replicate, else one slice per member."""
    if len(reps) == 1:
        r = reps[0]
        return Split(r.x_tr.to(dev), r.y[r.tr_idx].to(dev)), \
            Split(r.x_te.to(dev), r.y[r.te_idx].to(dev))
    if len({len(r.tr_idx) for r in reps}) > 1 or len({len(r.te_idx) for r in reps}) > 1:
        raise BadInput("the replicates' splits differ in size; run them one at a time "
                       "(--seeds 1 with --seed S)")

    def stack(parts):
        return torch.stack([p for p in parts for _ in range(n_acts)]).to(dev)
    train = Split(stack([r.x_tr for r in reps]), stack([r.y[r.tr_idx] for r in reps]),
                  per_member=True)
    test = Split(stack([r.x_te for r in reps]), stack([r.y[r.te_idx] for r in reps]),
                 per_member=True)
    return train, test


def run_seeds(cfg: Config, ctx, seeds: list[int]) -> list[dict]:
    """One summary per replicate seed; every replicate's activations train as members of
    one ensemble (member k·A + e: seed k, activation e). The report shows the first."""
    dev = ctx.device
    reps = [_replicate(replace(cfg, seed=s), ctx.path, k == 0) for k, s in enumerate(seeds)]
    first = reps[0]
    table = first.table
    classes = {label: k for k, label in enumerate(table.classes)}
    atomic_write_json(ctx.path / "labels.json", {"column": table.target_name, "classes": classes})
    acts = list(cfg.activations)
    train, test = _splits(reps, len(acts), dev)
    model = (build_model(acts, cfg.widths, cfg.seed, cfg.init_std) if len(seeds) == 1 else
             mlp(cfg.widths, 2, 1, seeds=[s for s in seeds for _ in acts],
                 activation=[tuple(acts * len(seeds))] * len(cfg.widths),
                 init_std=cfg.init_std)).to(dev)
    members = acts if len(seeds) == 1 else [f"{a}/seed{s}" for s in seeds for a in acts]
    ctx.live_panel("Decision boundaries so far",
                   _live_panel(table, first.x[first.tr_idx], first.y[first.tr_idx, 0],
                               first.mean, first.std, acts, dev))
    fitted = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, loss="bce",
                 optim=OptimSpec("sgd", cfg.lr),
                 penalty=Penalty("l1", cfg.l1_lambda) if cfg.l1_lambda else None,
                 evals={"train": train, "test": test},
                 eval_at_start=True, ctx=ctx, name="mlp", member_names=members)
    h = fitted.history
    summaries = [_summary(cfg, h, k, rep, acts, classes) for k, rep in enumerate(reps)]
    results, base = summaries[0]["results"], summaries[0]["logistic_baseline"]
    many = " (first replicate)" if len(seeds) > 1 else ""
    for r in results:
        ctx.echo(f"{r['activation']:<8} train acc {r['train_accuracy']:.3f}  "
                 f"test acc {r['test_accuracy']:.3f}")
    ctx.table(results, title="Final accuracy and BCE per hidden activation" + many)
    _report_baseline(ctx, table, results, base)
    mean, std = first.mean, first.std
    ctx.text(f"{len(first.tr_idx)} training and {len(first.te_idx)} test rows (stratified); "
             f"features {', '.join(table.feature_names)} standardised with the training mean "
             f"{mean.tolist()} and std {std.tolist()}. MLP 2-{'-'.join(map(str, cfg.widths))}-1, "
             f"N(0, {cfg.init_std:g}²) initialisation, SGD lr {cfg.lr:g}, batch "
             f"{cfg.batch_size}, {cfg.epochs} epochs, L1 λ = {cfg.l1_lambda:g}.")
    _plot(cfg, ctx, table, first.tr_idx, first.te_idx, mean, std, h, model, base)
    return summaries


def _summary(cfg: Config, h, k: int, rep: _Replicate, acts: list[str], classes) -> dict:
    """Replicate k's summary: its members k·A … k·A + A − 1 and its own baseline."""
    results = []
    for e, act in enumerate(acts):
        m = k * len(acts) + e
        results.append({"activation": act,
                        "train_accuracy": float(h.final("train", "accuracy")[m]),
                        "test_accuracy": float(h.final("test", "accuracy")[m]),
                        "train_loss": float(h.final("train", "loss")[m]),
                        "test_loss": float(h.final("test", "loss")[m])})
    y = rep.y[:, 0]
    base = logistic_baseline(rep.x_tr, y[rep.tr_idx], rep.x_te, y[rep.te_idx], rep.mean,
                             rep.std)
    best = max(results, key=lambda r: r["test_accuracy"])
    return {"results": results, "best_activation": best["activation"],
            "best_test_accuracy": best["test_accuracy"], "n_train": len(rep.tr_idx),
            "n_test": len(rep.te_idx), "feature_names": rep.table.feature_names,
            "input_mean": rep.mean.tolist(), "input_std": rep.std.tolist(),
            "label_column": rep.table.target_name, "classes": classes,
            "logistic_baseline": base}


def _live_panel(table, x_tr, y_tr, mean, std, acts, dev, n: int = 32):
    """The live report's panel: P(class 1) of each network over the inputs (original
    units, an n x n grid over the training range) under the training points."""
    lo, hi = x_tr.min(0).values, x_tr.max(0).values
    gx, gy = (torch.linspace(float(lo[i]), float(hi[i]), n) for i in (0, 1))
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), -1).reshape(-1, 2)  # (n², 2)
    inputs = ((grid - mean) / std).to(dev)
    keep = scatter_sample(len(x_tr), 400)
    points = [(float(x_tr[i, 0]), float(x_tr[i, 1]), int(y_tr[i])) for i in keep]
    extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    f0, f1 = table.feature_names

    def draw(model) -> list[Heatmap]:
        prob = torch.sigmoid(model(inputs)[: len(acts), :, 0]).cpu().reshape(len(acts), n, n)
        return [Heatmap(prob[e].numpy(), extent, points, xlabel=f0, ylabel=f1,
                        caption=f"{act}: P(class {table.classes[1]!r}) now (blue 0, red 1) "
                                "and the training points")
                for e, act in enumerate(acts)]
    return draw


def _report_baseline(ctx, table, results: list[dict], base: dict | None) -> None:
    """The class mapping and the MLPs against the logistic-regression baseline."""
    mapping = ", ".join(f"{label!r} → {k}" for k, label in enumerate(table.classes))
    ctx.text(f"Label column `{table.target_name}`, classes {mapping} (sorted; saved in "
             "`labels.json`). Class 1 is the one the probabilities below are of.",
             title="Classes")
    if base is None:
        ctx.text("No logistic-regression baseline: scikit-learn is not installed "
                 "(pip install scikit-learn).")
        return
    f0, f1 = table.feature_names
    w, b = base["weights"], base["bias"]
    ctx.table([{"model": f"MLP, {r['activation']}", "train_accuracy": r["train_accuracy"],
                "test_accuracy": r["test_accuracy"],
                "test − baseline": r["test_accuracy"] - base["test_accuracy"]}
               for r in results]
              + [{"model": "logistic regression", "train_accuracy": base["train_accuracy"],
                  "test_accuracy": base["test_accuracy"], "test − baseline": 0.0}],
              title="MLPs against a logistic-regression baseline (scikit-learn, same split)")
    terms = f"{w[0]:.4g}·{f0} {'−' if w[1] < 0 else '+'} {abs(w[1]):.4g}·{f1} " \
            f"{'−' if b < 0 else '+'} {abs(b):.4g}"
    ctx.text(f"The baseline's boundary in original units: {terms} = 0 (class "
             f"{table.classes[1]!r} where it is positive). The classes overlap, so a straight "
             "line is about as good as a boundary gets; the MLPs should match it.")


def _plot(cfg, ctx, table, tr_idx, te_idx, mean, std, h, model, base) -> None:
    acts = cfg.activations
    fig, axes = new_figure(ncols=len(acts), width=4.4, height=3.4, sharey=True)
    for e, (ax, act) in enumerate(zip(axes[0], acts, strict=True)):
        curves(ax, h.epochs, {"train": h.series("train", "accuracy")[:, e],
                              "test": h.series("test", "accuracy")[:, e]},
               ylabel="accuracy", title=f"{act} hidden units")
    ctx.figure(fig, "accuracy", "Train and test accuracy per epoch, one panel per activation.")
    xs, labels = table.x, table.y
    pad = 0.05 * (xs.max(0) - xs.min(0))
    g0 = np.linspace(xs[:, 0].min() - pad[0], xs[:, 0].max() + pad[0], 200)
    g1 = np.linspace(xs[:, 1].min() - pad[1], xs[:, 1].max() + pad[1], 200)
    mesh0, mesh1 = np.meshgrid(g0, g1)
    grid = torch.tensor(np.column_stack([mesh0.ravel(), mesh1.ravel()]), dtype=torch.float32)
    grid = ((grid - mean) / std).to(ctx.device)
    with torch.no_grad():
        probs = torch.sigmoid(model.eval()(grid)[:, :, 0]).cpu().numpy()
    fig, axes = new_figure(ncols=len(acts), width=4.4, height=4.0, sharey=True)
    for e, (ax, act) in enumerate(zip(axes[0], acts, strict=True)):
        prob = probs[e].reshape(mesh0.shape)
        ax.contourf(mesh0, mesh1, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
        ax.contour(mesh0, mesh1, prob, levels=[0.5], colors="k", linewidths=1.5)
        te = te_idx.numpy()[scatter_sample(len(te_idx), seed=cfg.seed)]
        for cls, color in ((0, "tab:blue"), (1, "tab:red")):
            sel = te[labels[te] == cls]
            ax.scatter(xs[sel, 0], xs[sel, 1], s=8, color=color, edgecolors="none",
                       label=f"test, {table.classes[cls]}", rasterized=len(te) > 1000)
        if base is not None:  # w0·x0 + w1·x1 + b = 0, drawn over the plotted x0 range
            (w0, w1), b = base["weights"], base["bias"]
            ax.plot(g0, -(w0 * g0 + b) / w1, "--", color="0.2", lw=1.2,
                    label="logistic regression")
            ax.set_ylim(g1[0], g1[-1])
        ax.set_title(f"{act}: boundary p = 0.5")
        ax.set_xlabel(table.feature_names[0])
    axes[0, 0].set_ylabel(table.feature_names[1])
    axes[0, 0].legend(fontsize="x-small", loc="upper left")
    ctx.figure(fig, "decision-boundary",
               f"Predicted probability of class 1 ({table.classes[1]}, colour), the MLP's "
               "decision boundary p = 0.5 (black), the logistic-regression boundary (dashed) "
               "and the test points, in original units.")
