"""critical-points: Hessians at the critical points of f(x, y) and of an LMS error surface.

Part 1. For f(x, y) (default sin x · sin y) the critical points in a box are found by
Newton's method on ∇f = 0 from a grid of starts (gradient and Hessian by autograd, float64;
the pseudo-inverse handles singular Hessians), keeping runs that end inside the box with
|∇f| < 1e-9 and merging points closer than 1e-6; or they are given (`points`). At each
point the Hessian H gives the local quadratic approximation
f(p + d) ≈ f(p) + ½ dᵀ H d, and its eigenvalues the kind: all > tol → min, all < −tol →
max, some > tol and some < −tol → saddle, otherwise (an eigenvalue within tol of 0, where
the quadratic term cannot decide) degenerate; tol = `tol` · max(1, max|eigenvalue|).

Part 2. The bias-free LMS perceptron y = w·x on the examples {([1, 1], 1), ([1, −1], −1)}
with the mean squared error E(w) = (1/N) Σₙ (yₙ − w·xₙ)². Its Hessian is constant,
H = (2/N) XᵀX (here 2·I), computed by autograd and compared with the closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import parse_expression
from trainlab.errors import BadInput
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure

QUESTION = ("What does the Hessian say about a critical point, and how well does "
            "the quadratic approximation describe the function around it?")

WHAT_TO_LOOK_AT = ("- The table: positive eigenvalues = minimum, negative = "
                   "maximum, mixed signs = saddle; for sin x·sin y the saddles "
                   "have eigenvalues ±1, the extrema ±(1, 1).\n"
                   "- The approximation panels: the quadratic contours match f "
                   "near the point and drift away from it.\n"
                   "- The LMS surface: a constant Hessian (2/N)·XᵀX, a bowl whose "
                   "axes are its eigenvectors.")

REFERENCES = (
    "Goodfellow et al., *Deep Learning*, §4.3.1 (the Hessian and critical points)",
)


PI = math.pi


@dataclass
class Config(BaseConfig):
    target: str = option("sin(x)*sin(y)", "f(x, y), a safe expression of x and y")
    box: list[float] = option([-PI, PI, -PI, PI], "search box [x_min, x_max, y_min, y_max]")
    grid: int = option(21, "Newton starts per axis (grid × grid starts)", positive=True)
    newton_steps: int = option(60, "Newton iterations per start", positive=True)
    points: list[list[float]] = option([], "given critical points [[x, y], …] (skip search)")
    tol: float = option(1e-6, "relative tolerance for a zero eigenvalue", positive=True)
    approx_points: int = option(3, "points whose quadratic approximation is drawn", minimum=0)
    lms_x: list[list[float]] = option([[1, 1], [1, -1]], "LMS inputs (rows)")
    lms_y: list[float] = option([1, -1], "LMS targets")

    def validate(self) -> None:
        parse_expression(self.target, variables=("x", "y"))
        if len(self.box) != 4 or self.box[0] >= self.box[1] or self.box[2] >= self.box[3]:
            raise BadInput("config key 'box': expected [x_min, x_max, y_min, y_max] "
                           "with min < max")
        if any(len(p) != 2 for p in self.points):
            raise BadInput("config key 'points': each point is [x, y]")
        if len(self.lms_x) != len(self.lms_y) or not self.lms_x:
            raise BadInput("config keys 'lms_x', 'lms_y': one target per input row")
        if len({len(r) for r in self.lms_x}) != 1:
            raise BadInput("config key 'lms_x': rows of equal length expected")


PRESETS = {"smoke": {"grid": 7, "newton_steps": 30}, "quick": {"grid": 11}}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="n_points",
    objectives={
        "n_points": "maximize",
        "n_min": "maximize",
        "n_max": "maximize",
        "n_saddle": "maximize",
        "n_degenerate": "minimize",
        "lms.max_abs_diff": "minimize",
    },
    space={
        "grid": {"type": "int", "low": 5, "high": 15},
        "newton_steps": {"type": "int", "low": 10, "high": 60},
    },
    note="How many starting points and Newton steps find every critical point.",
)

# ----------------------------------------------------------------- claims

# Nothing here is random (a grid of starts, exact derivatives): one replicate decides.
REPLICATES = Replicates(smoke=1, quick=1, full=1)

CLAIMS = (
    Claim("finds-all-critical-points",
          "Newton's method from a grid of starts finds all 13 critical points of "
          "sin x·sin y in [−π, π]² (4 extrema and 9 saddles).",
          "the exercise; the second-derivative test",
          "critical points found (default target and box only)", threshold=12.5,
          direction=">", exact=True,
          value=lambda s: s["n_points"] if s["target"] == "sin(x)*sin(y)" else None),
)


def derivatives(f, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """f, ∇f (M, 2) and Hessian (M, 2, 2) at M points xy (M, 2), by autograd in float64."""
    xy = xy.detach().double().requires_grad_(True)
    with torch.enable_grad():
        # `+ 0 * …` keeps the graph connected for constant or linear expressions.
        value = f(xy[:, 0], xy[:, 1]) + 0 * xy.sum(1)
        (grad,) = torch.autograd.grad(value.sum(), xy, create_graph=True)
        grad = grad + 0 * xy
        hess = torch.stack([torch.autograd.grad(grad[:, i].sum(), xy, retain_graph=True)[0]
                            for i in range(2)], dim=1)
    return value.detach(), grad.detach(), (hess + hess.transpose(1, 2)).detach() / 2


def newton_critical_points_2d(f, box: list[float], grid: int, steps: int) -> torch.Tensor:
    """Plain Newton on ∇f = 0 for a scalar f(x, y) from a grid × grid of starts.

    Returns the distinct points `(M, 2)` in the box. The 2-D teaching version: the
    globalised, batched search for networks is `trainlab.diagnostics.find_critical`.
    """
    xs = torch.linspace(box[0], box[1], grid, dtype=torch.float64)
    ys = torch.linspace(box[2], box[3], grid, dtype=torch.float64)
    xy = torch.cartesian_prod(xs, ys)
    for _ in range(steps):
        _, g, h = derivatives(f, xy)
        h = torch.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)
        step = (torch.linalg.pinv(h) @ g.unsqueeze(-1)).squeeze(-1)
        xy = torch.where(torch.isfinite(step), xy - step, xy)
    _, g, _ = derivatives(f, xy)
    eps = 1e-9 * max(1.0, max(abs(b) for b in box))
    inside = ((xy[:, 0] >= box[0] - eps) & (xy[:, 0] <= box[1] + eps)
              & (xy[:, 1] >= box[2] - eps) & (xy[:, 1] <= box[3] + eps))
    ok = inside & (g.norm(dim=1) < 1e-9) & torch.isfinite(xy).all(1)
    found: list[torch.Tensor] = []
    for p in xy[ok]:
        if all(float((p - q).norm()) > 1e-6 for q in found):
            found.append(p)
    found.sort(key=lambda p: (round(float(p[0]), 6), round(float(p[1]), 6)))
    return torch.stack(found) if found else torch.zeros(0, 2, dtype=torch.float64)


def classify(eigenvalues: np.ndarray, tol: float) -> str:
    """min / max / saddle / degenerate from the Hessian eigenvalues (see module docstring)."""
    t = tol * max(1.0, float(np.max(np.abs(eigenvalues))))
    if np.all(eigenvalues > t):
        return "min"
    if np.all(eigenvalues < -t):
        return "max"
    if np.any(eigenvalues > t) and np.any(eigenvalues < -t):
        return "saddle"
    return "degenerate"


def lms_hessian(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Autograd Hessian of E(w) = mean((y − Xw)²) and the closed form (2/N) XᵀX."""
    def error(w: torch.Tensor) -> torch.Tensor:
        return (y - x @ w).pow(2).mean()

    auto = torch.autograd.functional.hessian(error, torch.zeros(x.shape[1], dtype=x.dtype))
    return auto, 2.0 / len(x) * x.T @ x


@experiment("critical-points", config=Config, presets=PRESETS, sweep=SWEEP, chapter="basics",
            purpose="Find the critical points of f(x, y), classify them by the Hessian's "
                    "eigenvalues, and the Hessian of an LMS error surface",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("points[].{x, y, hessian, eigenvalues, kind}",),
            headline=("n_points", "n_min", "n_max", "n_saddle"))
def run(cfg: Config, ctx) -> dict:
    f = parse_expression(cfg.target, variables=("x", "y"))
    if cfg.points:
        xy = torch.tensor(cfg.points, dtype=torch.float64)
    else:
        xy = newton_critical_points_2d(f, cfg.box, cfg.grid, cfg.newton_steps)
    points = []
    if len(xy):
        values, grads, hess = derivatives(f, xy)
        for p, v, g, h in zip(xy, values, grads, hess, strict=True):
            eig = torch.linalg.eigvalsh(h).numpy()
            points.append({"x": float(p[0]), "y": float(p[1]), "f": float(v),
                           "grad_norm": float(g.norm()), "hessian": h.tolist(),
                           "eigenvalues": eig.tolist(), "kind": classify(eig, cfg.tol)})
    lines = [f"{'x':>9} {'y':>9} {'f':>8}  {'Hessian':<30} {'eigenvalues':<20} kind"]
    for p in points:
        h = p["hessian"]
        lines.append(f"{p['x']:9.4f} {p['y']:9.4f} {p['f']:8.4f}  "
                     f"[[{h[0][0]:+.3f}, {h[0][1]:+.3f}], [{h[1][0]:+.3f}, {h[1][1]:+.3f}]]  "
                     f"({p['eigenvalues'][0]:+.3f}, {p['eigenvalues'][1]:+.3f})   {p['kind']}")
    for line in lines:
        ctx.echo(line)
    ctx.preformatted("\n".join(lines), title=f"Critical points of f(x, y) = {cfg.target}")
    ctx.table([{"x": p["x"], "y": p["y"], "f": p["f"], "λ1": p["eigenvalues"][0],
                "λ2": p["eigenvalues"][1], "kind": p["kind"]} for p in points],
              title="Critical points and Hessian eigenvalues")

    lx = torch.tensor(cfg.lms_x, dtype=torch.float64)
    ly = torch.tensor(cfg.lms_y, dtype=torch.float64)
    auto, closed = lms_hessian(lx, ly)
    lms_eig = torch.linalg.eigvalsh(auto)
    w_star = torch.linalg.lstsq(lx, ly.unsqueeze(1)).solution.squeeze(1)
    lms = {"definition": "E(w) = (1/N) * sum_n (y_n - w.x_n)^2; H = (2/N) X^T X",
           "hessian": auto.tolist(), "closed_form_hessian": closed.tolist(),
           "eigenvalues": lms_eig.tolist(), "minimum": w_star.tolist(),
           "max_abs_diff": float((auto - closed).abs().max())}
    ctx.text(f"LMS perceptron without bias: {lms['definition']}. Autograd Hessian "
             f"{np.round(auto.numpy(), 6).tolist()} (closed form "
             f"{np.round(closed.numpy(), 6).tolist()}), eigenvalues "
             f"{np.round(lms_eig.numpy(), 6).tolist()}, minimum at w = "
             f"{np.round(w_star.numpy(), 6).tolist()}.")
    ctx.echo(f"LMS Hessian {auto.tolist()}  eigenvalues {lms_eig.tolist()}")
    _plot_surface(cfg, ctx, f, points)
    _plot_lms(ctx, lx, ly, w_star, lms_eig)
    kinds = [p["kind"] for p in points]
    return {"target": cfg.target, "points": points, "lms": lms, "n_points": len(points),
            **{f"n_{k}": kinds.count(k) for k in ("min", "max", "saddle", "degenerate")}}


MARKERS = {"min": ("v", "tab:blue"), "max": ("^", "tab:red"), "saddle": ("X", "k"),
           "degenerate": ("o", "tab:purple")}


def _plot_surface(cfg, ctx, f, points) -> None:
    x0, x1, y0, y1 = cfg.box
    gx, gy = torch.meshgrid(torch.linspace(x0, x1, 200, dtype=torch.float64),
                            torch.linspace(y0, y1, 200, dtype=torch.float64), indexing="xy")
    fig, axes = new_figure(width=5.6, height=4.8)
    ax = axes[0, 0]
    cs = ax.contourf(gx, gy, f(gx, gy).numpy(), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax)
    for kind, (marker, color) in MARKERS.items():
        sel = [p for p in points if p["kind"] == kind]
        if sel:
            ax.scatter([p["x"] for p in sel], [p["y"] for p in sel], marker=marker, s=60,
                       color=color, edgecolors="w", label=kind)
    ax.set(xlabel="x", ylabel="y", title=f"f(x, y) = {cfg.target}")
    if points:
        ax.legend(fontsize="small", loc="upper right")
    ctx.figure(fig, "surface", "Contours of f over the box with the critical points by kind.")
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    by_centre = sorted(points, key=lambda p: math.hypot(p["x"] - centre[0], p["y"] - centre[1]))
    firsts = [next(p for p in by_centre if p["kind"] == k) for k in MARKERS
              if any(p["kind"] == k for p in points)]  # the central point of each kind first
    chosen = (firsts + [p for p in points if p not in firsts])[:cfg.approx_points]
    if not chosen:
        return
    fig, axes = new_figure(ncols=len(chosen), width=3.8, height=3.6)
    r = 0.3 * min(x1 - x0, y1 - y0)
    for ax, p in zip(axes[0], chosen, strict=True):
        dx, dy = torch.meshgrid(torch.linspace(-r, r, 120, dtype=torch.float64),
                                torch.linspace(-r, r, 120, dtype=torch.float64), indexing="xy")
        h = p["hessian"]
        quad = p["f"] + 0.5 * (h[0][0] * dx**2 + 2 * h[0][1] * dx * dy + h[1][1] * dy**2)
        true = f(p["x"] + dx, p["y"] + dy)
        levels = np.linspace(float(true.min()), float(true.max()), 12)
        ax.contour(p["x"] + dx, p["y"] + dy, true.numpy(), levels=levels, colors="k",
                   linestyles="solid", linewidths=1)
        ax.contour(p["x"] + dx, p["y"] + dy, quad.numpy(), levels=levels, colors="tab:orange",
                   linestyles="--", linewidths=1)
        ax.plot(p["x"], p["y"], marker=MARKERS[p["kind"]][0], color=MARKERS[p["kind"]][1])
        ax.set(title=f"{p['kind']} at ({p['x']:.2f}, {p['y']:.2f})", xlabel="x", ylabel="y")
    ctx.figure(fig, "quadratic-approximations",
               "f (black) and its quadratic approximation f(p) + ½ dᵀHd (orange, dashed) "
               "around a few critical points, on the same contour levels.")


def _plot_lms(ctx, lx, ly, w_star, eig) -> None:
    if lx.shape[1] != 2:
        return
    w1, w2 = torch.meshgrid(torch.linspace(-3 + float(w_star[0]), 3 + float(w_star[0]), 150,
                                           dtype=torch.float64),
                            torch.linspace(-3 + float(w_star[-1]), 3 + float(w_star[-1]), 150,
                                           dtype=torch.float64), indexing="xy")
    w = torch.stack([w1, w2], -1)
    err = (ly - w @ lx.T).pow(2).mean(-1)
    fig, axes = new_figure(width=5.2, height=4.6)
    ax = axes[0, 0]
    cs = ax.contour(w1, w2, err.numpy(), levels=15, cmap="viridis")
    ax.clabel(cs, fontsize="x-small")
    ax.plot(float(w_star[0]), float(w_star[1]), "r*", ms=12, label="minimum")
    ax.set(xlabel="w1", ylabel="w2", aspect="equal",
           title=f"LMS error E(w); Hessian eigenvalues {np.round(eig.numpy(), 3).tolist()}")
    ax.legend(fontsize="small", loc="lower right")
    ctx.figure(fig, "lms-surface", "Mean squared error of the bias-free perceptron as a "
                                   "function of its two weights.")
