"""surface: the loss landscape in two dimensions, with the optimizers' paths on it.

The homework's optional part ("visualize the error surface") and Li et al., "Visualizing
the Loss Landscape of Neural Nets" (NeurIPS 2018). Around a trained MNIST MLP the loss
is evaluated on a plane through weight space, ``theta0 + a d1 + b d2``:

- along two filter-normalized random directions (every neuron's row of the direction
  scaled to the norm of the neuron's weights, biases not moved), train and test loss on a
  grid of [-span, span]², as contours and as an interactive 3-D view, and 1-D slices
  along each direction;
- on the plane of the top two principal components of the joint trajectories of SGD,
  SGD with momentum and Adam, all started from one initialization, with the three paths
  projected on it and the fraction of the trajectories' variance the plane holds;
- around the minima of a small-batch and a large-batch training (stopped at the same
  train loss), on the same colour scale (Li et al. Fig. 3);
- around the 1-D function networks of deep-vs-shallow (equal parameter budget, depth
  1, 3, 6).

Grid points are evaluated as the members of one ensemble (`experiments/_landscape.py`),
in chunks that fit in memory. The directions, paths and grids are saved in surface.npz.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import parse_expression, sample_function
from trainlab.diagnostics import ParamSnapshots, StopBelow, trajectory_pca
from trainlab.diagnostics.surface import (
    loss_rise,
    loss_surface,
    pca_plane,
    random_directions,
)
from trainlab.errors import BadInput
from trainlab.experiments._common import EnsembleOptimizerName, standardized_mnist
from trainlab.experiments._landscape import EnsembleGrid
from trainlab.experiments._surface_report import (
    report_batches,
    report_functions,
    report_main,
    report_plane,
)
from trainlab.models import mlp, size_to_budget
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.surface3d import site_asset
from trainlab.run_folder import atomic_write_bytes
from trainlab.train import Split, fit

QUESTION = ("What does the loss look like around a trained network, which way do SGD, "
            "momentum and Adam walk to it, and is a small-batch minimum flatter than a "
            "large-batch one?")

WHAT_TO_LOOK_AT = (
    "- Random directions: a single convex-looking basin around the trained MLP; the test "
    "loss basin is higher and narrower than the train one.\n"
    "- PCA plane: the share of the trajectories' variance in the plane (headline "
    "`explained_variance`) says how much of the paths the picture shows; the paths are "
    "projections, and the loss under them is the loss on the plane, not along the path.\n"
    "- Small vs large batch on one colour scale: Li et al. (Fig. 3) find the large-batch "
    "basin the narrower under filter normalization (`flatness_ratio` > 1); the claim's "
    "verdict says whether these replicates do.\n"
    "- Function nets: the square wave's deeper nets sit in a basin with more structure.")

REFERENCES = (
    "Li, Xu, Taylor, Studer, Goldstein 2018, *Visualizing the Loss Landscape of Neural Nets*",
    "Keskar et al. 2017, *On Large-Batch Training for Deep Learning: Generalization Gap and "
    "Sharp Minima*",
)


@dataclass
class FunctionsConfig:
    targets: list[str] = option(["sin(x)+x**2", "sign(sin(5*pi*x))"], "functions of x")
    depths: list[int] = option([1, 3, 6], "hidden layers of the function MLPs")
    budget: int = option(1000, "parameter budget of each function MLP", positive=True)
    n_points: int = option(500, "training points per function", positive=True)
    epochs: int = option(300, "Adam epochs of the function MLPs", positive=True)
    lr: float = option(1e-3, "Adam learning rate of the function MLPs", positive=True)
    grid: int = option(31, "grid points per side of their surfaces", positive=True)
    enabled: bool = option(True, "draw the function networks' surfaces")


@dataclass
class Config(BaseConfig):
    widths: list[int] = option([100], "hidden widths of the MNIST MLP")
    epochs: int = option(20, "epochs of the SGD, momentum and Adam trainings")
    batch_size: int = option(64, "minibatch size of those trainings")
    optimizers: list[EnsembleOptimizerName] = option(["sgd", "momentum", "adam"],
                                                     "optimizers whose paths are drawn")
    # SGD at 0.1 oscillates on these standardized inputs (train loss 0.25 <-> 0.41 from
    # epoch to epoch); 0.05 trains steadily; momentum 0.9 at 0.02 is a step of 0.2
    lrs: list[float] = option([0.05, 0.02, 1e-3], "learning rate of each optimizer")
    center: EnsembleOptimizerName = option("momentum", "the surfaces are drawn around this "
                                   "optimizer's final weights")
    grid: int = option(51, "grid points per side of the main surfaces", positive=True)
    span: float = option(1.0, "random-direction grid: coefficients in [-span, span]",
                         positive=True)
    slice_points: int = option(101, "points of each 1-D slice", positive=True)
    batch_sizes: list[int] = option([32, 1024], "small and large batch size compared")
    batch_lr: float = option(0.05, "SGD rate (momentum 0.9) of the batch comparison",
                             positive=True)
    stop_loss: float = option(0.01, "the batch comparison stops at this train loss",
                              positive=True)
    batch_epochs: int = option(300, "most epochs of the batch comparison", positive=True)
    compare_grid: int = option(31, "grid points per side of the batch comparison",
                               positive=True)
    max_train: int = option(0, "MNIST training images used (0 = all 4,000)", minimum=0)
    functions: FunctionsConfig = option(FunctionsConfig(), "the 1-D function networks")

    def validate(self) -> None:
        if len(self.lrs) != len(self.optimizers) or len(self.optimizers) < 1:
            raise BadInput("config keys 'optimizers' and 'lrs': one rate per optimizer")
        if len(set(self.optimizers)) != len(self.optimizers):
            raise BadInput("config key 'optimizers': each optimizer once")
        if self.center not in self.optimizers:
            raise BadInput("config key 'center': must be one of 'optimizers'")
        if len(self.batch_sizes) != 2 or min(self.batch_sizes) < 1:
            raise BadInput("config key 'batch_sizes': two sizes, small and large")
        if min(self.grid, self.compare_grid, self.functions.grid, self.slice_points) < 3:
            raise BadInput("grid sizes: at least 3 points per side")
        for t in self.functions.targets:
            parse_expression(t)
        if self.functions.enabled and min(self.functions.depths, default=0) < 1:
            raise BadInput("config key 'functions.depths': depths >= 1")


PRESETS = {
    "smoke": {"widths": [16], "epochs": 2, "grid": 7, "slice_points": 9, "batch_epochs": 3,
              "batch_sizes": [50, 250], "compare_grid": 5, "max_train": 500,
              "functions": {"depths": [1, 2], "budget": 60, "n_points": 100, "epochs": 3,
                            "grid": 5}},
    # batch_epochs 200: the large batch (2 steps per epoch on 2,000 images) must reach
    # stop_loss too, or the two minima are compared at different losses
    "quick": {"epochs": 6, "grid": 31, "batch_epochs": 200, "compare_grid": 21,
              "max_train": 2000, "functions": {"epochs": 60, "grid": 21}},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="flatness_ratio",
    objectives={"flatness_ratio": "maximize", "explained_variance": "maximize",
                "batch.#.test_accuracy": "maximize", "grid_seconds": "minimize"},
    space={"batch_lr": {"type": "float", "low": 0.01, "high": 0.2, "log": True}},
    note="The SGD rate at which the large-batch minimum is sharpest next to the small one.",
)

# ----------------------------------------------------------------- claims

# Three replicates (seeds) one after another at quick and full: a verdict needs an
# interval, and each replicate draws its own initialization, directions and batches.
REPLICATES = Replicates(smoke=1, quick=3, full=3)
LI = "Li et al. 2018, Visualizing the Loss Landscape of Neural Nets"
CLAIMS = (
    Claim("small-batch-flatter",
          "Along filter-normalized directions the small-batch minimum is flatter than the "
          "large-batch one (Fig. 3).", LI,
          "mean loss rise over the grid, large batch ÷ small batch", threshold=1.0,
          direction=">", value=lambda s: s["flatness_ratio"]),
    Claim("trajectory-nearly-planar",
          "The top two principal components of a training trajectory hold at least 40 % "
          "of its variance (Sec. 7: 40-90 %).", LI,
          "top-2 explained variance of each optimizer's own trajectory (mean)",
          threshold=0.4, direction=">",
          value=lambda s: float(np.mean(list(s["trajectory_explained_variance"].values())))),
)

# ----------------------------------------------------------------- helpers

INPUT = (784,)


def _grids(spec, origin, dirs, coords, splits: dict, loss: str) -> dict[str, np.ndarray]:
    """``{split: (G, G) loss}`` on the grid ``coords x coords`` (or two coordinate lists)."""
    xs, ys = coords if isinstance(coords, tuple) else (coords, coords)
    out = {}
    for name, (x, y) in splits.items():
        ev = EnsembleGrid(spec, (x.shape[1],), origin, dirs, x, y, loss)
        out[name] = loss_surface(ev, xs, ys, chunk=ev.chunk(x.shape[0])).numpy()
    return out


def _shapes(model) -> list[torch.Size]:
    return [p.shape[1:] for p in model.parameters()]  # one member's shapes


def train_paths(cfg: Config, ctx, data) -> dict:
    """One training per optimizer from the same initialization: snapshots every epoch."""
    x, y, xt, yt = data
    out = {}
    for opt, lr in zip(cfg.optimizers, cfg.lrs, strict=True):
        model = mlp(cfg.widths, 784, 10, [cfg.seed]).to(ctx.device)
        rec = ParamSnapshots(every=1)
        rec.take(0, model)
        res = fit(model, Split(x, y), epochs=cfg.epochs, batch_size=cfg.batch_size,
                  loss="cross_entropy", optim=OptimSpec(opt, lr),
                  evals={"train": Split(x, y), "test": Split(xt, yt)}, eval_at_start=True,
                  ctx=ctx, name=f"path-{opt}", member_names=[opt], callbacks=[rec])
        h = res.history
        out[opt] = {"snapshots": rec.stacked()[0].detach().cpu(), "model": model,
                    "train_loss": h.series("train", "loss")[:, 0].tolist(),
                    "final_train_loss": float(h.final("train", "loss")[0]),
                    "final_test_loss": float(h.final("test", "loss")[0]),
                    "test_accuracy": float(h.final("test", "accuracy")[0])}
    return out


def compare_batches(cfg: Config, ctx, data, splits) -> list[dict]:
    """Small and large batch from one init, stopped at `stop_loss`; their surfaces."""
    x, y, xt, yt = data
    coords = torch.linspace(-cfg.span, cfg.span, cfg.compare_grid)
    rows = []
    for bs in cfg.batch_sizes:
        model = mlp(cfg.widths, 784, 10, [cfg.seed]).to(ctx.device)
        stop = StopBelow(cfg.stop_loss)
        res = fit(model, Split(x, y), epochs=cfg.batch_epochs, batch_size=bs,
                  loss="cross_entropy", optim=OptimSpec("momentum", cfg.batch_lr),
                  evals={"train": Split(x, y), "test": Split(xt, yt)}, ctx=ctx,
                  name=f"batch-{bs}", member_names=[f"batch {bs}"], callbacks=[stop])
        theta = model.flat_parameters()[0]
        dirs = random_directions(theta, _shapes(model), 2, seed=cfg.seed + 1)
        grid = _grids(model.spec, theta, dirs, coords, {"train": splits["train"]},
                      "cross_entropy")["train"]
        h = res.history
        center = float(h.final("train", "loss")[0])
        rows.append({"batch_size": bs, "epochs": int(h.epochs[-1]),
                     "stopped": stop.stopped_at is not None, "train_loss": center,
                     "test_loss": float(h.final("test", "loss")[0]),
                     "test_accuracy": float(h.final("test", "accuracy")[0]),
                     "loss_rise": loss_rise(grid, float(grid[len(grid) // 2,
                                                             len(grid) // 2])),
                     "_grid": grid})
    return rows


def function_surfaces(cfg: Config, ctx) -> list[dict]:
    """The deep-vs-shallow function nets (equal budget) and their random-direction surfaces."""
    f = cfg.functions
    coords = torch.linspace(-cfg.span, cfg.span, f.grid)
    out = []
    for ti, target in enumerate(f.targets):
        x, y = sample_function(target, f.n_points, seed=cfg.seed)
        x, y = x.to(ctx.device), y.to(ctx.device)
        for depth in f.depths:
            widths = size_to_budget(depth, f.budget)
            model = mlp(widths, 1, 1, [cfg.seed]).to(ctx.device)
            res = fit(model, Split(x, y), epochs=f.epochs, batch_size=100, loss="mse",
                      optim=OptimSpec("adam", f.lr), evals={"train": Split(x, y)}, ctx=ctx,
                      name=f"f{ti}-depth{depth}", member_names=[f"{target}/depth{depth}"])
            theta = model.flat_parameters()[0]
            dirs = random_directions(theta, _shapes(model), 2, seed=cfg.seed + 2)
            ev = EnsembleGrid(model.spec, (1,), theta, dirs, x, y, "mse")
            grid = loss_surface(ev, coords, coords, chunk=ev.chunk(x.shape[0])).numpy()
            final = float(res.history.final("train", "loss")[0])
            out.append({"target": target, "depth": depth, "widths": widths,
                        "params": model.params_per_member(), "final_loss": final,
                        "loss_rise": loss_rise(grid, final), "_grid": grid})
    return out


def _slices(spec, theta0, dirs, cfg: Config, splits) -> dict:
    """1-D slices through theta0 along each direction: ``{direction: {split: (S,)}}``."""
    s = torch.linspace(-cfg.span, cfg.span, cfg.slice_points)
    out: dict = {"alphas": s.tolist()}
    for k, name in enumerate(("direction1", "direction2")):
        coords = (s, [0.0]) if k == 0 else ([0.0], s)
        out[name] = {split: g.reshape(-1).tolist() for split, g in
                     _grids(spec, theta0, dirs, coords, splits, "cross_entropy").items()}
    return out


def _plane(cfg: Config, spec, theta0, paths, splits) -> dict:
    """The PCA plane of the joint trajectories, its train-loss grid and the paths on it."""
    traj = torch.stack([paths[o]["snapshots"] for o in cfg.optimizers]).double()
    plane = pca_plane(traj, theta0.double().cpu())
    proj = plane.paths.numpy()  # (R, T, 2)
    lo, hi = proj.min((0, 1)), proj.max((0, 1))
    pad = 0.15 * (hi - lo) + 1e-6
    ax = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), cfg.grid)
    ay = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), cfg.grid)
    dirs = plane.directions.to(theta0)
    grid = _grids(spec, theta0, dirs, (ax, ay), {"train": splits["train"]},
                  "cross_entropy")["train"]
    x, y = splits["train"]
    on_plane = EnsembleGrid(spec, INPUT, theta0, dirs, x, y, "cross_entropy")(
        torch.from_numpy(proj.reshape(-1, 2)).float()).reshape(proj.shape[:2]).cpu().numpy()
    return {"plane": plane, "alphas": ax.tolist(), "betas": ay.tolist(), "grid": grid,
            "proj": proj, "on_plane": on_plane, "directions": dirs}


@experiment("surface", config=Config, presets=PRESETS, sweep=SWEEP, chapter="optimization",
            purpose="2-D loss surfaces around a trained MNIST MLP (filter-normalized random "
                    "and PCA directions) with the SGD, momentum and Adam paths; small vs "
                    "large batch (Li et al. 2018)",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("grid", "train_loss_grid", "test_loss_grid", "explained_variance",
                          "paths", "trajectory_explained_variance", "flatness_ratio",
                          "batch[].{batch_size, epochs, train_loss, test_loss, loss_rise}"),
            headline=("explained_variance", "flatness_ratio", "grid_seconds"))
def run(cfg: Config, ctx) -> dict:
    data = [t.reshape(len(t), -1).to(ctx.device) if t.is_floating_point() else t.to(ctx.device)
            for t in standardized_mnist(cfg.seed, cfg.max_train)]
    splits = {"train": (data[0], data[1]), "test": (data[2], data[3])}
    script = site_asset(ctx.path, ctx.exp_id)
    paths = train_paths(cfg, ctx, data)
    center = paths[cfg.center]["model"]
    theta0, spec = center.flat_parameters()[0], center.spec
    dirs = random_directions(theta0, _shapes(center), 2, seed=cfg.seed + 1)
    coords = torch.linspace(-cfg.span, cfg.span, cfg.grid)
    started, cpu = time.perf_counter(), time.process_time()
    main = _grids(spec, theta0, dirs, coords, splits, "cross_entropy")
    # wall time, and this process's CPU time (steadier on a shared machine)
    grid_seconds, grid_cpu = time.perf_counter() - started, time.process_time() - cpu
    ctx.echo(f"surface: {cfg.grid}x{cfg.grid} grid, train and test, in {grid_seconds:.1f} s "
             f"({grid_cpu:.1f} s CPU)")
    slices = _slices(spec, theta0, dirs, cfg, splits)
    pl = _plane(cfg, spec, theta0, paths, splits)
    own = {o: float(trajectory_pca(paths[o]["snapshots"].double(), 2)
                    .explained_variance_ratio.sum()) for o in cfg.optimizers}
    batch = compare_batches(cfg, ctx, data, splits)
    funcs = function_surfaces(cfg, ctx) if cfg.functions.enabled else []
    flatness = batch[1]["loss_rise"] / batch[0]["loss_rise"] if batch[0]["loss_rise"] > 0 \
        else float("nan")
    _save_arrays(ctx, theta0, dirs, coords, main, pl, cfg.optimizers)
    report_main(ctx, cfg, coords, main, slices, script)
    report_plane(ctx, cfg, pl, own, paths, script)
    report_batches(ctx, coords if cfg.compare_grid == cfg.grid else
                    torch.linspace(-cfg.span, cfg.span, cfg.compare_grid), batch, flatness)
    if funcs:
        report_functions(ctx, cfg, funcs)
    ev = pl["plane"].explained_variance
    ctx.echo(f"PCA plane holds {100 * ev:.1f} % of the trajectories' variance; "
             f"flatness ratio (large/small batch) {flatness:.3g}")
    return {"grid": cfg.grid, "span": cfg.span, "alphas": coords.tolist(),
            "train_loss_grid": main["train"].tolist(), "test_loss_grid": main["test"].tolist(),
            "center": cfg.center, "grid_seconds": round(grid_seconds, 3),
            "grid_cpu_seconds": round(grid_cpu, 3),
            "explained_variance": ev,
            "explained_variance_ratio": pl["plane"].explained_variance_ratio.tolist(),
            "paths": {o: pl["proj"][r].tolist() for r, o in enumerate(cfg.optimizers)},
            "pca_plane": {"alphas": pl["alphas"], "betas": pl["betas"],
                          "train_loss_grid": pl["grid"].tolist(),
                          "path_loss_on_plane": {o: pl["on_plane"][r].tolist()
                                                 for r, o in enumerate(cfg.optimizers)}},
            "trajectory_explained_variance": own,
            "optimizers": [{"optimizer": o, "lr": lr,
                            **{k: paths[o][k] for k in ("final_train_loss", "final_test_loss",
                                                        "test_accuracy")}}
                           for o, lr in zip(cfg.optimizers, cfg.lrs, strict=True)],
            "slices": slices,
            "batch": [{k: v for k, v in r.items() if not k.startswith("_")} for r in batch],
            "flatness_ratio": flatness,
            "functions": [{k: v for k, v in r.items() if not k.startswith("_")}
                          for r in funcs]}


def _save_arrays(ctx, theta0, dirs, coords, main, pl, optimizers) -> None:
    buf = io.BytesIO()
    np.savez(buf, origin=theta0.cpu().numpy(), random_directions=dirs.cpu().numpy(),
             coords=coords.numpy(), train_loss=main["train"], test_loss=main["test"],
             pca_directions=pl["directions"].cpu().numpy(), pca_alphas=pl["alphas"],
             pca_betas=pl["betas"], pca_train_loss=pl["grid"], paths=pl["proj"],
             optimizers=np.asarray(optimizers))
    atomic_write_bytes(ctx.path / "surface.npz", buf.getvalue())
