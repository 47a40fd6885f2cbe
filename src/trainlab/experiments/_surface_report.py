"""The figures, 3-D views and tables of the `surface` experiment's report."""

from __future__ import annotations

import numpy as np

from trainlab.report.contours import contour_figure, contour_panel, shared_levels
from trainlab.report.plots import new_figure
from trainlab.report.surface3d import Surface3D

RANDOM_AXES = ("δ (filter-normalized)", "η (filter-normalized)")


def report_main(ctx, cfg, coords, main: dict, slices: dict, script: str | None) -> None:
    """Train and test surface along the random directions: contour, 3-D view, slices."""
    c = coords.numpy()
    fig = contour_figure(c, c, {"train loss": main["train"], "test loss": main["test"]},
                         xlabel=RANDOM_AXES[0], ylabel=RANDOM_AXES[1])
    ctx.figure(fig, "surface-random",
               f"Train and test loss on the plane θ* + δ·d₁ + η·d₂ through the final "
               f"weights θ* of the {cfg.center} training, d₁ and d₂ filter-normalized "
               f"Gaussian directions (Li et al. 2018), {cfg.grid}×{cfg.grid} points; one "
               "log colour scale for both panels.")
    ctx.report.add(Surface3D(
        "random", c.tolist(), c.tolist(), {"train": main["train"].tolist(),
                                           "test": main["test"].tolist()},
        caption="Drag to rotate, scroll to zoom; the legend toggles train and test.",
        script=script, labels=(*RANDOM_AXES, "loss"), log_z=True,
        title="The same surface in 3-D"))
    fig, axes = new_figure(ncols=2, width=4.6, height=3.4)
    s = np.asarray(slices["alphas"])
    for ax, name in zip(axes[0], ("direction1", "direction2"), strict=True):
        for split, ys in slices[name].items():
            ax.plot(s, ys, label=split)
        ax.set_yscale("log")
        ax.set_xlabel(f"coefficient along {name}")
        ax.set_ylabel("loss")
        ax.axvline(0, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize="small")
    ctx.figure(fig, "slices", f"1-D slices θ* + α·dₖ through the minimum, {len(s)} points "
               "along each filter-normalized direction.")


def report_plane(ctx, cfg, pl: dict, own: dict, paths: dict, script: str | None) -> None:
    """The PCA plane with the optimizers' paths: contour, 3-D view, table."""
    plane, proj = pl["plane"], pl["proj"]
    ratio = plane.explained_variance_ratio
    labels = (f"PC1 ({100 * float(ratio[0]):.1f} %)", f"PC2 ({100 * float(ratio[1]):.1f} %)")
    path2d = {o: proj[r] for r, o in enumerate(cfg.optimizers)}
    fig = contour_figure(np.asarray(pl["alphas"]), np.asarray(pl["betas"]),
                         {"train loss on the PCA plane": pl["grid"]}, paths=path2d,
                         xlabel=labels[0], ylabel=labels[1], width=6.4, height=5.0)
    ctx.figure(fig, "pca-plane",
               f"{', '.join(cfg.optimizers)} from one initialization (squares), one point "
               f"per epoch, ending at the stars; projected on the top two principal "
               f"components of their joint trajectories, which hold "
               f"{100 * plane.explained_variance:.1f} % of the trajectories' variance. The "
               f"origin (+) is the {cfg.center} final point; the colours are the train loss "
               "on the plane, not along the (partly out-of-plane) paths.")
    lifted = {o: np.column_stack([proj[r], pl["on_plane"][r]]).tolist()
              for r, o in enumerate(cfg.optimizers)}
    ctx.report.add(Surface3D("pca", pl["alphas"], pl["betas"], {"train": pl["grid"].tolist()},
                             caption="The paths drawn at the loss of their projection.",
                             script=script, labels=(*labels, "train loss"), paths=lifted,
                             log_z=True, title="PCA plane in 3-D"))
    ctx.table([{"optimizer": o, "lr": lr, "final train loss": paths[o]["final_train_loss"],
                "final test loss": paths[o]["final_test_loss"],
                "test accuracy": paths[o]["test_accuracy"],
                "own trajectory: PC1+PC2": own[o]}
               for o, lr in zip(cfg.optimizers, cfg.lrs, strict=True)], title="Optimizers",
              caption="The last column is the PCA of each optimizer's trajectory alone "
                      "(Li et al.: 40-90 %).")


def report_batches(ctx, coords, batch: list[dict], flatness: float) -> None:
    """Small- and large-batch minima side by side on one colour scale."""
    c = coords.numpy()
    fig = contour_figure(c, c, {f"batch {r['batch_size']}": r["_grid"] for r in batch},
                         xlabel=RANDOM_AXES[0], ylabel=RANDOM_AXES[1])
    ctx.figure(fig, "batch-minima",
               "Train loss around the small-batch and the large-batch minimum along "
               "filter-normalized directions (the same raw Gaussian draws, each scaled to "
               "its own model's filters), on one colour scale (Li et al. Fig. 3).")
    ctx.table([{k: v for k, v in r.items() if not k.startswith("_")} for r in batch],
              title="Small vs large batch",
              caption=f"loss_rise: mean of loss − loss at the centre over the grid. Large ÷ "
                      f"small = {flatness:.3g} (> 1: the small-batch minimum is flatter). "
                      "Both trainings stop at the same train loss (or at the epoch limit: "
                      "`stopped` false).")


def report_functions(ctx, cfg, funcs: list[dict]) -> None:
    """The function networks' surfaces: one row per target, one colour scale per row."""
    targets = list(dict.fromkeys(r["target"] for r in funcs))
    depths = list(dict.fromkeys(r["depth"] for r in funcs))
    fig, axes = new_figure(ncols=len(depths), nrows=len(targets), width=3.3, height=3.0)
    c = np.linspace(-cfg.span, cfg.span, cfg.functions.grid)
    for i, t in enumerate(targets):
        rows = [r for r in funcs if r["target"] == t]
        levels = shared_levels([r["_grid"] for r in rows])
        for j, r in enumerate(rows):
            contour_panel(axes[i, j], c, c, r["_grid"], levels,
                          title=f"{t}, depth {r['depth']} ({r['params']} params)")
    fig.tight_layout()
    ctx.figure(fig, "function-surfaces",
               "MSE around the function networks of deep-vs-shallow (equal parameter "
               "budget, different depth), filter-normalized random directions; one colour "
               "scale per function.")
    ctx.table([{k: v for k, v in r.items() if not k.startswith("_")} for r in funcs],
              title="Function networks")
