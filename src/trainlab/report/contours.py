"""Contour plots of loss surfaces (the print view of `report.surface3d.Surface3D`).

Grids are ``(len(y), len(x))`` (row i, column j at ``(x[j], y[i])``), as
`trainlab.diagnostics.surface.loss_surface` returns them. Colours are log-spaced levels
of the loss, shared by every panel of one figure so that panels compare by colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm

from trainlab.report.plots import new_figure


def shared_levels(grids: Sequence[np.ndarray], n: int = 24) -> np.ndarray:
    """``n`` log-spaced contour levels spanning every finite positive value of ``grids``."""
    vals = np.concatenate([np.asarray(g, dtype=float).ravel() for g in grids])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size == 0:
        return np.linspace(0.0, 1.0, n)
    lo, hi = float(vals.min()), float(vals.max())
    if hi <= lo * 1.0001:
        hi = lo * 1.01
    return np.geomspace(lo, hi, n)


def contour_panel(ax, x, y, z, levels, *, paths: dict | None = None, xlabel: str = "",
                  ylabel: str = "", title: str = ""):
    """One filled contour of ``z`` with thin isolines and optional ``paths`` {label: (T, 2)}.

    Returns the filled contour set (for a shared colour bar).
    """
    z = np.asarray(z, dtype=float)
    norm = LogNorm(levels[0], levels[-1]) if levels[0] > 0 else None
    filled = ax.contourf(x, y, np.clip(z, levels[0], levels[-1]), levels=levels,
                         norm=norm, cmap="viridis")
    ax.contour(x, y, z, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.5)
    for k, (label, pts) in enumerate((paths or {}).items()):
        p = np.asarray(pts, dtype=float)
        ax.plot(p[:, 0], p[:, 1], "-o", ms=2.5, lw=1.2, color=f"C{(k + 1) % 10}", label=label)
        ax.plot(p[:1, 0], p[:1, 1], "s", ms=6, color=f"C{(k + 1) % 10}", mec="k")
        ax.plot(p[-1:, 0], p[-1:, 1], "*", ms=10, color=f"C{(k + 1) % 10}", mec="k")
    if paths:
        ax.legend(fontsize="x-small", loc="upper right")
    ax.plot([0], [0], "k+", ms=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    return filled


def contour_figure(x, y, panels: dict[str, np.ndarray], *, paths: dict | None = None,
                   xlabel: str = "direction 1", ylabel: str = "direction 2",
                   width: float = 4.4, height: float = 3.8):
    """A row of contour panels ``{title: z}`` on one shared colour scale and colour bar."""
    levels = shared_levels(list(panels.values()))
    fig, axes = new_figure(ncols=len(panels), width=width, height=height)
    filled = None
    for k, (ax, (title, z)) in enumerate(zip(axes[0], panels.items(), strict=True)):
        filled = contour_panel(ax, x, y, z, levels, paths=paths, xlabel=xlabel,
                               ylabel=ylabel if k == 0 else "", title=title)
    if filled is not None:
        bar = fig.colorbar(filled, ax=list(axes[0]), shrink=0.85, label="loss (log scale)")
        ticks = levels[::4]  # labelled levels: a log norm alone labels one or two decades
        bar.set_ticks(ticks)
        bar.set_ticklabels([f"{t:.3g}" for t in ticks])
    return fig
