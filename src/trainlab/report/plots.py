"""Small plotting helpers shared by the experiments (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 4.0,
               **kwargs):
    """A figure with a grid of axes sized `width x height` inches per panel."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, **kwargs)
    return fig, axes


#: Most points a scatter plot draws: beyond this a report's SVG would grow with the data
#: (a 10^6-row table gave a 231 MB SVG); a seeded random sample looks the same.
SCATTER_LIMIT = 5000


def scatter_sample(n: int, limit: int = SCATTER_LIMIT, seed: int = 0) -> np.ndarray:
    """Indices of the points a scatter plot of ``n`` points draws: all of them up to
    ``limit``, else a seeded random ``limit`` of them, sorted. Shape ``(min(n, limit),)``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def curves(ax, x, ys: dict[str, np.ndarray], *, logy: bool = False, xlabel: str = "epoch",
           ylabel: str = "loss", title: str | None = None, band: dict | None = None) -> None:
    """Plot one line per label; `band[label] = (lo, hi)` shades a range around it."""
    for label, y in ys.items():
        line, = ax.plot(x, y, label=label)
        if band and label in band:
            lo, hi = band[label]
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(ys) > 1:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def lambda_sweep_figure(panels: dict, test_label: str, train_label: str):
    """Test (top, zoomed on its minimum) and training (bottom, log) loss per epoch.

    `panels`: penalty name -> list of `(λ, epochs, test_loss, train_loss)`, one column
    per penalty, one colour per λ.
    """
    fig, axes = new_figure(ncols=len(panels), nrows=2, width=5.4, height=3.4, sharex=True,
                           sharey="row")
    low = min(float(np.nanmin(test)) for lines in panels.values() for _, _, test, _ in lines)
    for col, (pen, lines) in enumerate(panels.items()):
        for lam, epochs, test, train in lines:
            axes[0, col].plot(epochs, test, label=f"λ={lam:g}")
            axes[1, col].plot(epochs, train, label=f"λ={lam:g}")
        axes[0, col].set_title(f"{pen.upper()} penalty")
        axes[0, col].set_ylim(0.9 * low, 2.2 * low)
        axes[1, col].set_yscale("log")
        axes[1, col].set_xlabel("epoch")
        axes[0, col].legend(fontsize="small")
    for ax in axes.ravel():
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel(test_label)
    axes[1, 0].set_ylabel(train_label)
    return fig


def fallback_metrics_figure(rows: list[dict]):
    """Loss per epoch of every (fit, split, model) in metrics rows; None when empty.

    Used for the report of a run that failed, so that its curves up to the failure
    are kept.
    """
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if "loss" not in r or r.get("loss") is None:
            continue
        key = f"{r.get('fit', '')}/{r.get('split', '')}/{r.get('model', '')}"
        series.setdefault(key, []).append((r.get("epoch", r.get("step", 0)), r["loss"]))
    if not series:
        return None
    fig, axes = new_figure()
    ax = axes[0, 0]
    for key, pts in list(series.items())[:20]:
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, np.abs(np.asarray(ys, dtype=float)) + 1e-30, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
    return fig
