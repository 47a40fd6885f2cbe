"""minimal-ratio: drive 100 small networks to near-critical points, count positive curvature.

The exercise ("what happens when the gradient is almost zero", part 2): train a small MLP
(1-10-10-1, 141 parameters) on a 1-D function N times; after a loss phase, change the
objective to the gradient norm until it falls below a threshold; at that point compute
all Hessian eigenvalues and the *minimal ratio*, the fraction of positive ones (1 at a
strict minimum, lower at a saddle or a flat minimum); plot it against the loss.

Here the N runs are one ensemble: the loss phase is `fit` with Adam; the second phase is
`trainlab.diagnostics.critical.find_critical` (Newton / Levenberg–Marquardt steps on ∇L = 0 with the
exact Hessian of every member, batched), which stops each member once ‖∇L‖ < threshold.
Plain gradient descent on ‖∇L‖² stalls (its gradient H∇L vanishes with ∇L); Newton
converges to the nearest critical point of any index, saddles included. Where ‖∇L‖
stops falling ("gradient-flat" regions), trust-region steps on the loss move on.

Minimal ratio = fraction of eigenvalues λ > tol · max|λ| (tol 1e-6), in float64. Zero
eigenvalues count as not positive, and there are many: a ReLU unit dead on every input
leaves exactly-zero eigenvalues (its weights, bias and outgoing weight are flat), each
live unit's rescaling (w, b, v) → (αw, αb, v/α) is flat at a critical point, and a
1-input ReLU net's per-example gradients span only about two directions per linear
piece; so the ratio stays far below 1 even at minima. float32 rounding (≈1e-7
relative) pushes such zeros across a small tolerance: float32 against float64 moved
the ratio by up to 0.02 in earlier runs, and the report measures it again. With ReLU
the loss is not differentiable where a kink crosses a data point, so some minima sit on
a kink where ‖∇L‖ cannot fall below the jump of the gradient (≈ 2|r|·|v|/N); hence the
threshold 1e-3 rather than 1e-8.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from trainlab import engine
from trainlab.claims import Claim, Replicates
from trainlab.config import BaseConfig, option
from trainlab.data import parse_expression, sample_function
from trainlab.diagnostics import (
    find_critical,
    hessian_eigenvalues,
    make_loss_fn,
    minimal_ratio,
    mlp_mse_grad_hessian,
    mlp_mse_objective,
)
from trainlab.errors import BadInput
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.registry import Sweep, experiment
from trainlab.report.plots import new_figure
from trainlab.runs import atomic_write_bytes
from trainlab.train import Split, fit

QUESTION = ("When the gradient is almost zero, is the network at a minimum or at "
            "a saddle point, and are lower critical points more minimum-like?")

WHAT_TO_LOOK_AT = ("- The scatter: minimal ratio against loss; a negative rank "
                   "correlation means lower points have more positive curvature.\n"
                   "- The ratio is far from 1 everywhere: dead ReLU units and "
                   "flat directions give exact zeros, which do not count as "
                   "positive.\n"
                   "- The convergence plot: batched Newton steps bring most runs "
                   "below the threshold in a few iterations; plain descent on "
                   "‖∇L‖² (bench/minimal_ratio.py) leaves most runs above it.\n"
                   "- Runs that bounce around the threshold sit near a ReLU kink, "
                   "where the gradient jumps.")

REFERENCES = (
    "Dauphin et al. 2014, *Identifying and attacking the saddle point problem*",
    "Choromanska et al. 2015, *The loss surfaces of multilayer networks*",
)


@dataclass
class Config(BaseConfig):
    target: str = option("sin(5*pi*x)/(5*pi*x)", "function of x to fit")
    n_points: int = option(200, "training points, uniform in the function's domain",
                           positive=True)
    noise: float = option(0.0, "std of noise added to the targets", minimum=0.0)
    runs: int = option(100, "trainings (seeds), one ensemble")
    widths: list[int] = option([10, 10], "hidden widths (1-10-10-1: 141 parameters)")
    activation: Literal["relu", "leaky_relu", "tanh", "sigmoid", "softplus"] = option(
        "relu", "hidden activation")
    epochs: int = option(50, "epochs of the loss phase (Adam)")
    batch_size: int = option(20, "minibatch size of the loss phase")
    lr: float = option(0.01, "Adam learning rate of the loss phase")
    threshold: float = option(1e-3, "second phase stops a run once ‖∇L‖ < threshold",
                              positive=True)
    max_iters: int = option(60, "at most this many Newton iterations", positive=True)
    ratio_tol: float = option(1e-6, "eigenvalue counts as positive above tol·max|λ|",
                              positive=True)

    def validate(self) -> None:
        parse_expression(self.target)
        if not self.widths:
            raise BadInput("config key 'widths': at least one hidden layer")


PRESETS = {
    "smoke": {"runs": 6, "n_points": 60, "epochs": 5, "max_iters": 20},
    "quick": {"runs": 10},
}

# What `trainlab sweep` optimises and searches with no --objective or --space.
SWEEP = Sweep(
    objective="n_reached_threshold",
    objectives={
        "n_reached_threshold": "maximize",
        "spearman_ratio_vs_loss_all_runs": "minimize",
        "points.#.loss": "minimize",
    },
    space={
        "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "batch_size": {"type": "int", "low": 4, "high": 64, "log": True},
    },
    note="The loss-phase settings after which most runs reach a near-critical point.",
)

# ----------------------------------------------------------------- claims

# The runs inside one replicate are the samples of the claim (pooled over replicates).
REPLICATES = Replicates(smoke=1, quick=3, full=1)

CLAIMS = (
    Claim("ratio-falls-with-loss",
          "Among near-critical points, lower loss goes with a larger minimal ratio (more "
          "positive curvature): a negative rank correlation.",
          "the exercise (NTU ML 2019, 'when the gradient is almost zero')",
          "Spearman ρ(minimal ratio, loss) over the runs that reached the threshold",
          threshold=0.0, direction="<", estimator="spearman",
          samples=lambda s: ([p["minimal_ratio"] for p in s["points"] if p["reached"]],
                             [p["loss"] for p in s["points"] if p["reached"]])),
)


def loss_phase(cfg: Config, x: torch.Tensor, y: torch.Tensor, ctx=None):
    """Adam on the MSE for every run at once (seeds seed, seed+1000, …); the ensemble."""
    seeds = [cfg.seed + 1000 * r for r in range(cfg.runs)]  # replicates s, s+1, … stay disjoint
    model = mlp(cfg.widths, 1, 1, seeds, cfg.activation).to(x.device)
    fit(model, Split(x, y), epochs=cfg.epochs, batch_size=cfg.batch_size, loss="mse",
        optim=OptimSpec("adam", cfg.lr), ctx=ctx, name="loss-phase",
        member_names=[f"seed{s}" for s in seeds], progress=None if ctx else False)
    return model


def critical_phase(cfg: Config, model, x: torch.Tensor, y: torch.Tensor):
    """Newton-type steps in float64 from the trained weights; see `find_critical`."""
    sizes = [1, *cfg.widths, 1]
    objective = mlp_mse_objective(x.double(), y.double(), sizes, cfg.activation)
    return find_critical(objective, model.flat_parameters().double(), tol=cfg.threshold,
                         max_iter=cfg.max_iters)


def hessian_check(model, theta: torch.Tensor, eigenvalues: torch.Tensor, x: torch.Tensor,
                  y: torch.Tensor) -> float:
    """Max |λ_closed − λ_torch.func| over the P eigenvalues of member 0 at its end point.

    The closed-form Hessian of the Newton phase against `diagnostics.hessian_eigenvalues`
    (torch.func, float64) of the same member as an ordinary `nn.Sequential`: two
    independent derivations of one matrix, so the difference is rounding (≈1e-13) unless
    one of them is wrong. theta `(E, P)`, eigenvalues `(E, P)` from `find_critical`.
    """
    f = make_loss_fn(model.member(0), "mse", x.double(), y.double())
    exact = hessian_eigenvalues(f, theta[0].double())
    return float((exact - eigenvalues[0].to(exact)).abs().max())


def ratios(eigenvalues: torch.Tensor, tol: float) -> list[float]:
    """Minimal ratio of every member, eigenvalues `(E, P)`."""
    return [minimal_ratio(ev, tol=tol) for ev in eigenvalues]


def negative_ratios(eigenvalues: torch.Tensor, tol: float) -> list[float]:
    """Fraction of eigenvalues below −tol·max|λ| (the saddle's index / P), per member."""
    return [minimal_ratio(-ev, tol=tol) for ev in eigenvalues]


def spearman(a, b) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None if undefined."""
    def rank(v):
        v = np.asarray(v, dtype=float)
        order = np.argsort(v, kind="mergesort")
        inv = np.empty_like(order)
        inv[order] = np.arange(len(v))
        s = v[order]
        first = np.r_[True, s[1:] != s[:-1]]
        dense = first.cumsum()[inv]
        bounds = np.r_[np.nonzero(first)[0], len(v)]
        return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)

    if len(a) < 3:
        return None
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


@experiment("minimal-ratio", config=Config, presets=PRESETS, sweep=SWEEP, chapter="optimization",
            purpose="Train 100 small MLPs, drive each to a near-critical point (‖∇L‖ < 1e-3) "
                    "with batched Newton steps, and plot the fraction of positive Hessian "
                    "eigenvalues against the loss",
            question=QUESTION, what_to_look_at=WHAT_TO_LOOK_AT, references=REFERENCES,
            summary_keys=("points[].{loss, grad_norm, minimal_ratio}",
                          "n_reached_threshold",
                          "spearman_ratio_vs_loss"),
            headline=("n_reached_threshold", "spearman_ratio_vs_loss", "seconds"))
def run(cfg: Config, ctx) -> dict:
    with engine.one_thread(ctx.device):  # tiny tensors only: see engine.one_thread
        return _run(cfg, ctx)


def _run(cfg: Config, ctx) -> dict:
    start = time.perf_counter()
    x, y = sample_function(cfg.target, cfg.n_points, noise=cfg.noise, seed=cfg.seed)
    x, y = x.to(ctx.device), y.to(ctx.device)
    model = loss_phase(cfg, x, y, ctx)
    t_loss = time.perf_counter() - start
    res = critical_phase(cfg, model, x, y)
    t_crit = time.perf_counter() - start - t_loss
    ratio = ratios(res.eigenvalues, cfg.ratio_tol)
    negative = negative_ratios(res.eigenvalues, cfg.ratio_tol)
    # the same points in float32: how much rounding moves the ratio
    _, _, h32 = mlp_mse_grad_hessian(res.theta.float(), x, y, [1, *cfg.widths, 1],
                                     cfg.activation)
    ratio32 = ratios(torch.linalg.eigvalsh(h32.double()), cfg.ratio_tol)
    seconds = time.perf_counter() - start
    check = hessian_check(model, res.theta, res.eigenvalues, x, y)
    reached = res.converged.cpu().tolist()
    loss, gnorm = res.loss.cpu().tolist(), res.grad_norm.cpu().tolist()
    points = [{"run": r, "loss": loss[r], "grad_norm": gnorm[r], "minimal_ratio": ratio[r],
               "negative_ratio": negative[r], "reached": reached[r],
               "newton_iterations": int(res.iterations[r])}
              for r in range(cfg.runs)]
    ok = [p for p in points if p["reached"]]
    rho = spearman([p["minimal_ratio"] for p in ok], [p["loss"] for p in ok])
    rho_all = spearman(ratio, loss)
    buf = io.BytesIO()
    np.savez(buf, theta=res.theta.cpu().numpy(), x=x.cpu().numpy(), y=y.cpu().numpy(),
             grad_norm_history=res.grad_norm_history.cpu().numpy(),
             eigenvalues=res.eigenvalues.cpu().numpy())
    atomic_write_bytes(ctx.path / "critical_points.npz", buf.getvalue())
    n_ok = len(ok)
    lines = [f"{n_ok}/{cfg.runs} runs reached ‖∇L‖ < {cfg.threshold:g} "
             f"(median {float(np.median(res.iterations.cpu().numpy())):.0f} Newton iterations)",
             f"Spearman(minimal ratio, loss) = {rho if rho is None else round(rho, 3)} "
             f"over the runs that reached it ({rho_all if rho_all is None else round(rho_all, 3)}"
             " over all)",
             f"minimal ratio {min(ratio):.3f} .. {max(ratio):.3f} (negative eigenvalues: "
             f"median fraction {float(np.median(negative)):.3f}), float32 vs float64: max "
             f"|difference| {max(abs(a - b) for a, b in zip(ratio, ratio32, strict=True)):.3f}",
             f"closed-form Hessian against torch.func (diagnostics.hessian_eigenvalues), "
             f"run 0: max |eigenvalue difference| {check:.2g} (largest |λ| "
             f"{float(res.eigenvalues[0].abs().max()):.3g})",
             f"time: loss phase {t_loss:.1f} s, Newton phase {t_crit:.1f} s, total {seconds:.1f} s"]
    for line in lines:
        ctx.echo(line)
    ctx.preformatted("\n".join(lines), title="Result")
    ctx.table([{k: p[k] for k in ("run", "loss", "grad_norm", "minimal_ratio",
                                  "negative_ratio", "reached", "newton_iterations")}
                for p in points[:20]],
              title="The first 20 runs")
    _plot(cfg, ctx, points, res)
    return {"points": [{k: p[k] for k in ("loss", "grad_norm", "minimal_ratio",
                                          "negative_ratio", "reached")} for p in points],
            "n_reached_threshold": n_ok, "runs": cfg.runs, "threshold": cfg.threshold,
            "spearman_ratio_vs_loss": rho, "spearman_ratio_vs_loss_all_runs": rho_all,
            "ratio_tol": cfg.ratio_tol, "params": int(res.theta.shape[1]),
            "float32_ratio_max_abs_diff": max(abs(a - b) for a, b in zip(ratio, ratio32,
                                                                           strict=True)),
            "hessian_check_max_abs_diff": check,
            "seconds": seconds, "loss_phase_seconds": t_loss, "newton_phase_seconds": t_crit}


def _plot(cfg: Config, ctx, points: list[dict], res) -> None:
    fig, axes = new_figure(ncols=2, width=5.6, height=4.2)
    ax = axes[0, 0]
    for reached, style in ((True, dict(c="C0", marker="o", label="‖∇L‖ < threshold")),
                           (False, dict(c="0.6", marker="x", label="not reached"))):
        sel = [p for p in points if p["reached"] == reached]
        if sel:
            ax.scatter([p["loss"] for p in sel], [p["minimal_ratio"] for p in sel], s=14,
                       **style)
    ax.set_xscale("log")
    ax.set_xlabel("loss (MSE)")
    ax.set_ylabel("minimal ratio (fraction of λ > 0)")
    ax.set_title(f"{cfg.runs} runs of a {'-'.join(map(str, [1, *cfg.widths, 1]))} MLP")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    hist = res.grad_norm_history.cpu().numpy()  # (T+1, E)
    stop = res.iterations.cpu().numpy()
    for e in range(hist.shape[1]):
        ax.plot(np.arange(stop[e] + 1), hist[:stop[e] + 1, e], color="C0", alpha=0.2, lw=0.7)
    live = [np.median(hist[t, stop >= t]) for t in range(int(stop.max()) + 1)]
    ax.plot(np.arange(len(live)), live, color="k", lw=2, label="median of the runs still going")
    ax.set_ylim(bottom=max(hist.min(), cfg.threshold * 1e-3))
    ax.axhline(cfg.threshold, color="C3", ls="--", label="threshold")
    ax.set_yscale("log")
    ax.set_xlabel("Newton iteration (a run stops once below the threshold)")
    ax.set_ylabel("‖∇L‖ (full batch)")
    ax.set_title("second phase")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ctx.figure(fig, "minimal-ratio",
               "Left: minimal ratio against the loss of every run at its end point. Right: "
               "the gradient norm of every run during the Newton phase.")
