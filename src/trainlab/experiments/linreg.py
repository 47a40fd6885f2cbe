"""linreg: a linear neuron trained with SGD on a CSV table, against closed-form least squares.

The exercise trains y = w·x + b with `torch.optim.SGD` (here the engine's SGD, tested
equal to it) and the mean squared error on a table, predicts a few new rows and compares
the result with the normal equation θ = (XᵀX)⁻¹Xᵀy (X with a column of ones). The
default table is the built-in crop-yield table (`yield ~ fertilizer + insecticide`),
written into the run folder as CSV and read back through the CSV loader, like a user file.

Standardisation: raw features (fertilizer 2–16, insecticide 1–10) make the loss surface
a long narrow valley (the bias direction is hundreds of times flatter than the weights),
so plain SGD needs a tiny rate and thousands of epochs. With `standardize` (default) SGD
trains on z-scores z = (x − μ)/σ, μ and σ from the table; the learned (w_z, b_z) are
mapped back to original units by w = w_z/σ and b = b_z − Σ w_z μ/σ, which is the same
function of x. The learning-rate sweep trains the same neuron at several rates as one
ensemble (same initial weights, same batches); diverging rates are reported, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import read_data_table, write_crop_yield_csv
from trainlab.errors import BadInput
from trainlab.experiments._common import TableData
from trainlab.models import Ensemble
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import curves, new_figure, scatter_sample
from trainlab.train import Split, fit

QUESTION = ("Does a linear neuron trained by SGD find the least-squares solution, "
            "and how does the learning rate decide whether it gets there?")

WHAT_TO_LOOK_AT = ("- The parameter table: SGD's weights and bias against the "
                   "normal equation and `lstsq` (same solution, different route).\n"
                   "- The predictions of the test rows from both.\n"
                   "- The learning-rate sweep: a too small rate is still far off "
                   "at the end, a good one converges in a few epochs, a too large "
                   "one diverges (its loss grows to infinity).")

REFERENCES = (
    "Closed-form least squares: θ = (XᵀX)⁻¹Xᵀy (normal equations)",
)

INPUT_FORMAT = """\
data.path: a text table with a header row, comma-, tab- or semicolon-separated (detected;
or data.delimiter), quoted fields, BOM and CRLF welcome. Numeric columns only among the
features (data.features, default every column but the target); the target is data.target
(default the last column). At least one more row than features; no constant column.
Example (crops.csv, `--set data.path=crops.csv --set data.target=yield`):
    fertilizer,insecticide,yield
    10.2,4.1,58.7
"""


@dataclass
class DataConfig(TableData):
    path: str = option("", "table file with a header row, comma-, tab- or semicolon-separated "
                           "(empty: the built-in crop-yield table)")
    rows: int = option(50, "rows of the built-in table", positive=True)


@dataclass
class Config(BaseConfig):
    data: DataConfig = option(DataConfig(), "the table")
    noise: float = option(1.0, "std of the noise of the built-in table's yield (0 = exact)",
                          minimum=0.0)
    standardize: bool = option(True, "train SGD on z-scored inputs, report original units")
    lr: float = option(0.05, "learning rate of the main SGD training")
    batch_size: int = option(10, "minibatch size")
    epochs: int = option(200, "training epochs")
    lrs: list[float] = option([0.0005, 0.005, 0.05, 0.5, 1.5],
                              "learning rates of the sweep (one ensemble)")
    test_rows: list[list[float]] = option([[6, 4], [10, 5], [14, 8]],
                                          "feature rows to predict")

    def validate(self) -> None:
        if not self.lrs:
            raise BadInput("config key 'lrs': give at least one learning rate")
        if self.data.path:  # read the user's file now, before any run folder exists
            table = read_data_table(self.data.path, self.data)
            check_solvable(table)
            check_test_rows(self.test_rows, len(table.feature_names))


PRESETS = {
    "smoke": {"epochs": 5, "lrs": [0.005, 0.05, 1.5]},
    "quick": {"epochs": 20},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="sgd_final_loss",
    objectives={
        "sgd_final_loss": "minimize",
        "max_abs_param_diff": "minimize",
        "lr_sweep.#.final_loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-4, "high": 0.5, "log": True},
        "batch_size": {"type": "int", "low": 1, "high": 50, "log": True},
    },
    note="The SGD settings that come closest to least squares.",
)

# ----------------------------------------------------------------- claims

REPLICATES = Replicates(smoke=1, quick=3, full=3)

CLAIMS = (
    Claim("sgd-reaches-least-squares",
          "Gradient descent on a linear neuron converges to the closed-form least-squares "
          "solution (largest parameter difference under 5 % of the largest parameter).",
          "the exercise; the normal equations θ = (XᵀX)⁻¹Xᵀy",
          "max |θ_SGD − θ_lstsq| ÷ max |θ_lstsq|", threshold=0.05, direction="<",
          value=lambda s: s["max_abs_param_diff"] / max(
              abs(v) for v in [*s["lstsq"]["weights"], s["lstsq"]["bias"]])),
)


def check_test_rows(rows: list[list[float]], n_features: int) -> None:
    """BadInput unless every test row has one value per feature."""
    for i, row in enumerate(rows):
        if len(row) != n_features:
            raise BadInput(f"config key 'test_rows[{i}]': expected {n_features} values "
                           f"(one per feature), got {len(row)}")


def load_table(cfg: Config, run_dir: Path):
    """The table: the user's CSV, or the built-in one written into the run folder first."""
    path = cfg.data.path
    if not path:
        path = write_crop_yield_csv(run_dir / "data" / "crop_yield.csv", n=cfg.data.rows,
                                    seed=cfg.seed, noise=cfg.noise)
    table = read_data_table(path, cfg.data)
    check_solvable(table)
    check_test_rows(cfg.test_rows, len(table.feature_names))
    return table, Path(path)


def check_solvable(table) -> None:
    """BadInput unless least squares has one solution: at least D+1 rows, no constant
    feature, no feature a linear combination of the others (with the bias column)."""
    n, d = table.x.shape
    if n < d + 1:
        raise BadInput(f"{table.path}: {n} data row{'s' if n != 1 else ''} for {d} features and "
                       f"a bias: least squares needs at least D+1 = {d + 1} rows (one per "
                       "unknown); add rows or leave features out with data.features")
    for j, name in enumerate(table.feature_names):
        col = table.x[:, j]
        if np.all(col == col[0]):
            raise BadInput(f"{table.path}: column {name!r} is constant ({col[0]:g} in every row): "
                           "it cannot be told apart from the bias; leave it out with "
                           "data.features")
    design = np.column_stack([(table.x - table.x.mean(0)) / table.x.std(0), np.ones(n)])
    rank = int(np.linalg.matrix_rank(design))
    if rank < d + 1:
        raise BadInput(f"{table.path}: the features {', '.join(map(repr, table.feature_names))} "
                       f"are linearly dependent (rank {rank} of {d + 1} with the bias): least "
                       "squares has no unique answer; leave one out with data.features")


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θ = [w…, b] by the normal-equation formula (XᵀX)⁻¹Xᵀy and by `torch.linalg.lstsq`."""
    design = torch.cat([torch.from_numpy(x), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    target = torch.from_numpy(y).unsqueeze(1)
    normal = torch.linalg.inv(design.T @ design) @ design.T @ target
    stable = torch.linalg.lstsq(design, target).solution
    return normal.squeeze(1).numpy(), stable.squeeze(1).numpy()


def to_original_units(flat: torch.Tensor, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """[w…, b] in original units from a member's flat (w_z…, b_z) on z-scored inputs."""
    w_z, b_z = flat[:-1].double().numpy(), float(flat[-1])
    w = w_z / std
    return np.append(w, b_z - float(np.sum(w * mean)))


def _params_dict(theta: np.ndarray, rows: np.ndarray) -> dict:
    return {"weights": theta[:-1].tolist(), "bias": float(theta[-1]),
            "predictions": (rows @ theta[:-1] + theta[-1]).tolist()}


@experiment("linreg", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Train a linear neuron with SGD on a CSV table and compare it with "
                    "closed-form least squares; sweep the learning rate",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("sgd.{weights, bias, predictions}",
                          "lstsq.{weights, bias, predictions}",
                          "max_abs_param_diff",
                          "lr_sweep[].{lr, final_loss}"),
            headline=("max_abs_param_diff", "sgd.bias", "lstsq.bias"))
def run(cfg: Config, ctx) -> dict:
    table, csv_path = load_table(cfg, ctx.path)
    x, y = table.x, table.y
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 0, std, 1.0)
    if not cfg.standardize:
        mean, std = np.zeros_like(mean), np.ones_like(std)
    dev = ctx.device
    xt = torch.tensor((x - mean) / std, dtype=torch.float32, device=dev)
    yt = torch.tensor(y, dtype=torch.float32, device=dev).unsqueeze(1)
    train = Split(xt, yt)
    rows = np.asarray(cfg.test_rows, dtype=np.float64).reshape(-1, x.shape[1])

    model = Ensemble([("linear", 1)], (x.shape[1],), seeds=[cfg.seed]).to(dev)
    main = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, loss="mse",
               optim=OptimSpec("sgd", cfg.lr), evals={"train": train}, eval_at_start=True,
               ctx=ctx, name="sgd")
    sgd_theta = to_original_units(model.flat_parameters().cpu()[0], mean, std)

    sweep_model = Ensemble([("linear", 1)], (x.shape[1],), seeds=[cfg.seed] * len(cfg.lrs))
    names = [f"lr={lr:g}" for lr in cfg.lrs]
    sweep = fit(sweep_model.to(dev), train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                loss="mse", optim=OptimSpec("sgd", cfg.lrs), evals={"train": train},
                eval_at_start=True, on_diverge="mask", ctx=ctx, name="lr-sweep",
                member_names=names)
    series = sweep.history.series("train", "loss")
    lr_sweep = []
    for e, lr in enumerate(cfg.lrs):
        final = float(series[-1, e])
        # A member whose loss ends above its start is diverging even if not yet infinite.
        diverged = sweep.diverged[e] or not np.isfinite(final) or final > series[0, e]
        lr_sweep.append({"lr": lr, "final_loss": final, "diverged": bool(diverged),
                         "diverged_epoch": sweep.diverged_epoch[e]})

    normal_theta, lstsq_theta = least_squares(x, y)
    names_p = [f"w[{n}]" for n in table.feature_names] + ["bias"]
    ctx.table([{"parameter": n, "SGD": float(s), "lstsq": float(ls),
                "normal equation": float(ne), "abs. difference": float(abs(s - ls))}
               for n, s, ls, ne in zip(names_p, sgd_theta, lstsq_theta, normal_theta,
                                       strict=True)],
              title="SGD against closed-form least squares (original units)")
    sgd, lstsq = _params_dict(sgd_theta, rows), _params_dict(lstsq_theta, rows)
    ctx.table([{"row": list(r), "SGD": p, "lstsq": q}
               for r, p, q in zip(cfg.test_rows, sgd["predictions"], lstsq["predictions"],
                                  strict=True)], title=f"Predicted {table.target_name}")
    ctx.table(lr_sweep, title="Learning-rate sweep", columns=["lr", "final_loss", "diverged"])
    ctx.text(f"Data: `{csv_path.name}` ({len(y)} rows, features "
             f"{', '.join(table.feature_names)}, target {table.target_name}). SGD: lr {cfg.lr:g}, "
             f"batch {cfg.batch_size}, {cfg.epochs} epochs, "
             + ("z-scored inputs, weights mapped back to original units."
                if cfg.standardize else "raw inputs.")
             + " On noisy data minibatch SGD with a constant rate keeps moving around the "
               "least-squares solution, so a small difference remains (smaller for smaller "
               "rates or larger batches); on noise-free data every batch agrees at the "
               "optimum and SGD converges to it.")
    for n, s, ls in zip(names_p, sgd_theta, lstsq_theta, strict=True):
        ctx.echo(f"{n:<16} sgd {s:10.4f}   lstsq {ls:10.4f}")
    _plot(ctx, main, sweep, names, y, x, sgd_theta, lstsq_theta)
    return {"sgd": sgd, "lstsq": lstsq,
            "normal_equation": {"weights": normal_theta[:-1].tolist(),
                                "bias": float(normal_theta[-1])},
            "max_abs_param_diff": float(np.max(np.abs(sgd_theta - lstsq_theta))),
            "normal_vs_lstsq_max_diff": float(np.max(np.abs(normal_theta - lstsq_theta))),
            "sgd_final_loss": float(main.history.final("train", "loss")[0]),
            "lr_sweep": lr_sweep, "feature_names": table.feature_names,
            "target": table.target_name, "data_path": str(csv_path),
            "standardized": cfg.standardize}


def _plot(ctx, main, sweep, names, y, x, sgd_theta, lstsq_theta) -> None:
    fig, axes = new_figure(ncols=2, width=5.2, height=3.8)
    curves(axes[0, 0], main.history.epochs, {"SGD": main.history.series("train", "loss")[:, 0]},
           logy=True, ylabel="train MSE", title="Main SGD training")
    series = sweep.history.series("train", "loss")
    shown = {n: np.where(np.isfinite(series[:, e]), series[:, e], np.nan)
             for e, n in enumerate(names)}
    curves(axes[0, 1], sweep.history.epochs, shown, logy=True, ylabel="train MSE",
           title="Learning-rate sweep")
    axes[0, 1].set_ylim(top=1e3 * float(np.nanmax(series[0])))  # diverging rates leave the top
    ctx.figure(fig, "loss", "Training loss of the main run (left) and of every rate of the "
                            "sweep (right), log scale; a diverging rate leaves the plot at "
                            "the top, and its line ends where the loss became infinite.")
    fig, axes = new_figure(width=4.6, height=4.2)
    ax = axes[0, 0]
    shown = scatter_sample(len(y), seed=0)  # a large table would make a huge SVG
    ax.scatter(y[shown], x[shown] @ lstsq_theta[:-1] + lstsq_theta[-1], s=14, label="lstsq",
               marker="o", rasterized=len(shown) > 1000)
    ax.scatter(y[shown], x[shown] @ sgd_theta[:-1] + sgd_theta[-1], s=14, label="SGD", marker="x",
               rasterized=len(shown) > 1000)
    lo, hi = float(y.min()), float(y.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="perfect")
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    note = "" if len(shown) == len(y) else f" ({len(shown):,} of the {len(y):,} rows, at random)"
    ctx.figure(fig, "predicted-vs-observed",
               f"Predicted against observed target for SGD and least squares{note}.")
