"""Figures of a sweep (matplotlib, PNG + SVG under `figures/`).

The objective of every trial with the best so far, the objective against each
parameter, the parameters' importance (Optuna's fANOVA when scikit-learn is there,
else |Spearman ρ|), and for the genetic algorithm the fitness per generation and the
parameters of each generation's best 30 %.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib.colors
import matplotlib.ticker
import numpy as np
from optuna.trial import TrialState

from trainlab.report.plots import new_figure
from trainlab.run_folder import atomic_write_bytes
from trainlab.sweeps.samplers import GA_GENERATION_KEY

ELITE_FRACTION = 0.3


def _save(fig, root: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=110, bbox_inches="tight",
                    metadata={"Date": None} if ext == "svg" else None)
        atomic_write_bytes(root / "figures" / f"{name}.{ext}", buf.getvalue())
    plt.close(fig)
    return name


def _maybe_log(ax, values, axis: str = "y") -> None:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) > 1 and np.all(v > 0) and v.max() / v.min() > 50:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def _log_axis(axis, set_scale) -> None:
    """A log axis labelled at its major ticks only, in plain numbers (minor labels such
    as 2×10¹ 3×10¹ run into each other)."""
    set_scale("log")
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _numeric(p, values: list) -> np.ndarray:
    if p.kind == "categorical":
        index = {repr(c): i for i, c in enumerate(p.choices)}
        return np.asarray([index.get(repr(v), np.nan) for v in values], dtype=float)
    return np.asarray(values, dtype=float)


# ------------------------------------------------------------------- figures


def history_figure(s, trials, root: Path) -> str | None:
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    fig, axes = new_figure(width=7.5, height=4.0)
    ax = axes[0, 0]
    xs = [t.number for t in done]
    ys = [t.value for t in done]
    ax.scatter(xs, ys, s=18, color="tab:blue", label="complete", zorder=3)
    best, run = [], math.inf if s.direction == "minimize" else -math.inf
    for y in ys:
        run = min(run, y) if s.direction == "minimize" else max(run, y)
        best.append(run)
    ax.step(xs, best, where="post", color="tab:orange", lw=2, label="best so far")
    _maybe_log(ax, ys)
    bad = [t.number for t in trials if t.state in (TrialState.FAIL, TrialState.PRUNED)]
    for i, x in enumerate(bad):  # no value: a vertical band, never a point on the value axis
        ax.axvline(x, color="tab:red", lw=1, ls=":", alpha=0.7,
                   label="failed / pruned (no value)" if i == 0 else None)
    ax.set_xlabel("trial")
    ax.set_ylabel(s.objective)
    ax.set_title(f"{s.objective} per trial ({s.direction})")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _save(fig, root, "history")


def slice_figure(s, trials, root: Path) -> str | None:
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    n = len(s.params)
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=4.0, height=3.3, sharey=True)
    ys = [t.value for t in done]
    for i, p in enumerate(s.params):
        ax = axes[i // ncols, i % ncols]
        xs = _numeric(p, [t.params.get(p.key) for t in done])
        sc = ax.scatter(xs, ys, c=[t.number for t in done], cmap="viridis", s=16)
        if p.kind == "categorical":
            ax.set_xticks(range(len(p.choices)), [str(c) for c in p.choices])
        elif p.log:
            _log_axis(ax.xaxis, ax.set_xscale)
        ax.set_xlabel(p.key)
        ax.grid(alpha=0.3)
        if i % ncols == 0:
            ax.set_ylabel(s.objective)
            _maybe_log(ax, ys)
    for j in range(n, nrows * ncols):
        axes[j // ncols, j % ncols].axis("off")
    fig.colorbar(sc, ax=axes, label="trial", shrink=0.8)
    return _save(fig, root, "slice")


def parallel_figure(s, trials, root: Path) -> str | None:
    """Parallel coordinates: one line per completed trial through its parameters (each
    axis from the space's low to high, log where the space is) and its objective; the
    colour is the objective, bright is good."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(done) < 2:
        return None
    columns, labels = [], []
    for p in s.params:
        x = _numeric(p, [t.params.get(p.key) for t in done])
        if p.kind == "categorical":
            lo, hi = 0.0, max(1.0, len(p.choices) - 1.0)
        elif p.log:
            x, lo, hi = np.log10(x), math.log10(p.low), math.log10(p.high)
        else:
            lo, hi = float(p.low), float(p.high)
        columns.append((x - lo) / (hi - lo))
        labels.append(p.key)
    y = np.asarray([t.value for t in done], dtype=float)
    span = float(np.ptp(y)) or 1.0
    columns.append((y - y.min()) / span)
    labels.append(s.objective)
    data = np.stack(columns, axis=1)
    fig, axes = new_figure(width=max(5.0, 1.6 * len(labels)), height=3.8)
    ax = axes[0, 0]
    cmap = matplotlib.colormaps["viridis_r" if s.direction == "minimize" else "viridis"]
    norm = matplotlib.colors.Normalize(y.min(), y.max())
    for row, value in sorted(zip(data, y, strict=True), key=lambda r: -r[1]
                             if s.direction == "minimize" else r[1]):
        ax.plot(range(len(labels)), row, color=cmap(norm(value)), alpha=0.75, lw=1.2)
    for i in range(len(labels)):
        ax.axvline(i, color="0.6", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Parameters of every completed trial and its objective")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                 label=s.objective, shrink=0.8)
    return _save(fig, root, "parallel")


def importances(study, s, trials) -> tuple[dict[str, float], str]:
    """Importance of each parameter and the method's name ({} when it cannot be told)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(done) < 3 or len(s.params) < 1:
        return {}, ""
    try:
        import sklearn  # noqa: F401  (Optuna's fANOVA needs it)
        from optuna.importance import get_param_importances

        return dict(get_param_importances(study)), "fANOVA (Optuna)"
    except Exception:
        pass
    y = np.asarray([t.value for t in done], dtype=float)
    scores = {}
    for p in s.params:
        x = _numeric(p, [t.params.get(p.key) for t in done])
        if p.log:
            x = np.log10(x)
        ok = np.isfinite(x)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0:
            scores[p.key] = 0.0
            continue
        rx = np.argsort(np.argsort(x[ok])).astype(float)
        ry = np.argsort(np.argsort(y[ok])).astype(float)
        rho = np.corrcoef(rx, ry)[0, 1]
        scores[p.key] = 0.0 if not np.isfinite(rho) else abs(float(rho))
    total = sum(scores.values())
    if total > 0:
        scores = {k: v / total for k, v in scores.items()}
    return dict(sorted(scores.items(), key=lambda kv: -kv[1])), "|Spearman ρ| (normalised)"


def importance_figure(imp: dict[str, float], method: str, root: Path) -> str | None:
    if not imp:
        return None
    fig, axes = new_figure(width=6.0, height=0.5 + 0.45 * len(imp))
    ax = axes[0, 0]
    keys = list(imp)[::-1]
    ax.barh(keys, [imp[k] for k in keys], color="tab:blue")
    ax.set_xlabel(f"importance — {method}")
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, root, "importance")


def generations(s, trials) -> dict[int, list]:
    """Completed trials per GA generation."""
    gens: dict[int, list] = {}
    for t in trials:
        g = t.system_attrs.get(GA_GENERATION_KEY)
        if t.state == TrialState.COMPLETE and isinstance(g, int):
            gens.setdefault(g, []).append(t)
    return dict(sorted(gens.items()))


def elite(s, members: list) -> list:
    """The best 30 % (at least one) of a generation."""
    ordered = sorted(members, key=lambda t: t.value, reverse=s.direction == "maximize")
    return ordered[:max(1, math.ceil(ELITE_FRACTION * len(ordered)))]


def ga_figures(s, gens: dict[int, list], root: Path) -> list[str]:
    if not gens:
        return []
    names = []
    fig, axes = new_figure(width=7.5, height=4.0)
    ax = axes[0, 0]
    best_of, run, curve = [], None, []
    pick = min if s.direction == "minimize" else max
    for g, members in gens.items():
        values = [t.value for t in members]
        top = [t.value for t in elite(s, members)]
        ax.scatter([g] * len(values), values, s=10, color="0.7",
                   label="population" if g == next(iter(gens)) else None)
        ax.scatter([g] * len(top), top, s=16, color="tab:blue",
                   label="best 30 %" if g == next(iter(gens)) else None)
        best_of.append(pick(values))
        run = best_of[-1] if run is None else pick(run, best_of[-1])
        curve.append(run)
    ax.plot(list(gens), best_of, "-o", color="tab:green", ms=3, label="best of generation")
    ax.plot(list(gens), curve, "-", color="tab:orange", lw=2, label="best so far")
    _maybe_log(ax, [t.value for m in gens.values() for t in m])
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    ax.set_ylabel(f"fitness: {s.objective}")
    ax.set_title("Fitness per generation")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    names.append(_save(fig, root, "ga-fitness"))

    n = len(s.params)
    ncols = min(n, 2)
    nrows = (n + ncols - 1) // ncols
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=4.6, height=3.4)
    values = [t.value for m in gens.values() for t in elite(s, m)]
    norm = matplotlib.colors.Normalize(min(values), max(values))
    cmap = "viridis_r" if s.direction == "minimize" else "viridis"  # bright = good
    for i, p in enumerate(s.params):
        ax = axes[i // ncols, i % ncols]
        for g, members in gens.items():
            top = elite(s, members)
            vals = _numeric(p, [t.params.get(p.key) for t in top])
            sc = ax.scatter([g] * len(vals), vals, s=16, c=[t.value for t in top], cmap=cmap,
                            norm=norm, alpha=0.8)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if p.log:
            ax.set_yscale("log")
        if p.kind == "categorical":
            ax.set_yticks(range(len(p.choices)), [str(c) for c in p.choices])
        ax.set_title(p.key)
        ax.set_xlabel("generation")
        ax.grid(alpha=0.3)
    for j in range(n, nrows * ncols):
        axes[j // ncols, j % ncols].axis("off")
    fig.suptitle("Best 30 % of each generation")
    fig.tight_layout()
    fig.colorbar(sc, ax=axes, label=f"fitness: {s.objective}", shrink=0.8)
    names.append(_save(fig, root, "ga-population"))
    return names
