"""Curvature diagnostics: top Hessian eigenvalues, trace, spectral density, per layer, exact.

All of them differentiate ``probe.loss_fn``, the loss of the fixed training sample as a
function of the flat weights (model in eval mode), by Hessian-vector products; none
builds the ``P x P`` Hessian except `minimal_ratio`, which is exact and dense.
"""

from __future__ import annotations

import math

import numpy as np

from trainlab.diagnostics import hessian_eigenvalues, minimal_ratio, spectral_density
from trainlab.diagnostics.eigen import hessian_top
from trainlab.diagnostics.groups import block_operator, restrict
from trainlab.diagnostics.intervals import t_interval
from trainlab.diagnostics.trace import RecordingOperator, deflated_trace, hutchinson_trace
from trainlab.report.plots import new_figure

from .figures import figure_with_data
from .registry import diagnostic


def lanczos_steps(cfg, p: int, wanted: int) -> int:
    """Lanczos steps within the ``basis_mib`` cap (float64 basis of ``P`` numbers a step)."""
    cap = (cfg.basis_mib * 2**20) // (8 * p)
    return int(max(min(wanted, cap), 2))


@diagnostic("hessian", title="Top Hessian eigenvalues (Lanczos)")
def top_eigenvalues(probe, cfg, ctx) -> dict:
    """The ``top_k`` largest eigenvalues with their Lanczos residual bounds."""
    k = min(cfg.top_k, probe.params)
    steps = lanczos_steps(cfg, probe.params, cfg.lanczos_iters)
    op = probe.operator(probe.hvp_chunk(cfg))
    if probe.keep_krylov:  # the trace takes this run's Krylov space as its exact part
        op = RecordingOperator(op)
    top = hessian_top(probe.loss_fn, probe.theta, k=k, iters=max(steps, k),
                      tol=cfg.lanczos_tol, seed=cfg.seed, rule=cfg.lanczos_rule, operator=op)
    if isinstance(op, RecordingOperator):
        probe.krylov = op.subspace()
    values, res = top.values.tolist(), top.residuals.tolist()
    ctx.table([{"i": i + 1, "eigenvalue": v, "residual_bound": r}
               for i, (v, r) in enumerate(zip(values, res, strict=True))],
              title="Top Hessian eigenvalues",
              caption=f"{top.steps} Lanczos steps (Hessian-vector products) with full "
              "reorthogonalisation. Some eigenvalue of H lies within `residual_bound` of "
              "each value (|β_m s_m,i|, guaranteed for a symmetric matrix).")
    fig, ax = new_figure()
    ax[0, 0].errorbar(range(1, k + 1), values, yerr=res, fmt="o", capsize=4)
    ax[0, 0].set_xlabel("rank")
    ax[0, 0].set_ylabel("Hessian eigenvalue")
    ax[0, 0].grid(alpha=0.3)
    figure_with_data(ctx, fig, "hessian-top", "The largest Hessian eigenvalues; bars are "
                     "the Lanczos residual bounds.",
                     {"rank": range(1, k + 1), "eigenvalue": values, "residual_bound": res})
    return {"hessian_top": values, "hessian_top_residual": res, "lanczos_steps": top.steps,
            "hvp_chunk": probe.hvp_chunk(cfg)}


@diagnostic("trace", title="Hessian trace (Hutchinson)")
def trace(probe, cfg, ctx) -> dict:
    """Hutchinson's trace with a t-interval over probes, for the whole model and per layer.

    With ``trace_rank > 0`` the trace is exact on a Lanczos subspace and Hutchinson's on
    the rest (`deflated_trace`), which narrows the interval for the same number of
    probes. The subspace is the Krylov space of the `hessian` diagnostic's run when it ran
    first (its products are already paid for; the probes are drawn independently of it,
    so the estimate stays unbiased), else ``trace_rank`` Lanczos steps of its own.
    """
    op = probe.micro_batch_operator(cfg)
    rank = min(cfg.trace_rank, probe.params)  # rank P: the subspace is everything, exact
    reused = probe.krylov if rank > 0 else None
    if rank > 0:  # same interval width from fewer products (see deflated_trace)
        est = deflated_trace(probe.loss_fn, probe.theta, rank=rank,
                             n_probes=max(cfg.trace_probes, 2), seed=cfg.seed,
                             groups=probe.groups, operator=op, subspace=reused)
        if reused is not None:
            rank = int(reused.q.shape[0])
    else:
        est = hutchinson_trace(probe.loss_fn, probe.theta, n_probes=cfg.trace_probes,
                               batch=cfg.trace_batch, seed=cfg.seed, groups=probe.groups,
                               operator=op)
    samples = est.samples.numpy()
    running = np.cumsum(samples) / np.arange(1, samples.size + 1)
    fig, ax = new_figure()
    ax[0, 0].plot(np.arange(1, samples.size + 1), running, label="running mean")
    lo, hi = est.estimate.ci95
    if math.isfinite(lo):
        ax[0, 0].axhspan(lo, hi, alpha=0.2, label="95 % interval")
    ax[0, 0].set_xlabel("probes")
    ax[0, 0].set_ylabel("trace estimate")
    ax[0, 0].legend(fontsize="small")
    ax[0, 0].grid(alpha=0.3)
    figure_with_data(ctx, fig, "hessian-trace", "Hutchinson trace estimate against the "
                     "number of Rademacher probes.",
                     {"probe": range(1, samples.size + 1), "sample": samples.tolist(),
                      "running_mean": running.tolist()})
    ctx.table([{"layer": name, "trace": e.value, "ci95_lo": e.ci95[0], "ci95_hi": e.ci95[1]}
               for name, e in est.groups.items()], title="Trace per layer",
              caption="Trace of each layer's diagonal Hessian block, from the same probes "
              "(E[v_g·(Hv)_g] = tr H_gg).")
    return {"hessian_trace": {**est.estimate.as_dict(), "probes": est.estimate.n,
                              "subspace_rank": max(rank, 0),
                              "subspace_from": ("hessian" if reused is not None
                                                else "trace" if rank > 0 else None)},
            "hessian_trace_per_layer": {n: e.as_dict() for n, e in est.groups.items()}}


@diagnostic("density", title="Hessian spectral density (SLQ)")
def density(probe, cfg, ctx) -> dict:
    """Stochastic Lanczos quadrature: the density and an SLQ trace with its interval."""
    iters = lanczos_steps(cfg, probe.params, cfg.slq_iters)
    sd = spectral_density(probe.loss_fn, probe.theta, n_vectors=cfg.slq_vectors,
                          iters=iters, seed=cfg.seed, operator=probe.micro_batch_operator(cfg))
    per_vector = probe.params * (sd.nodes * sd.weights).sum(1)  # P · v^T H v per vector
    est = t_interval(per_vector)
    fig, ax = new_figure()
    ax[0, 0].semilogy(sd.grid.numpy(), sd.density.clamp_min(1e-12).numpy())
    ax[0, 0].set_xlabel("eigenvalue")
    ax[0, 0].set_ylabel("density")
    ax[0, 0].grid(alpha=0.3)
    figure_with_data(ctx, fig, "hessian-density", f"Hessian eigenvalue density by SLQ "
                     f"({cfg.slq_vectors} vectors × {iters} steps, Gaussian smoothing).",
                     {"eigenvalue": sd.grid.tolist(), "density": sd.density.tolist()})
    return {"slq_trace": {**est.as_dict(), "vectors": cfg.slq_vectors},
            "slq_range": [float(sd.nodes.min()), float(sd.nodes.max())]}


@diagnostic("layers", title="Curvature per layer")
def layers(probe, cfg, ctx) -> dict:
    """Per parameter group (module): top eigenvalue, trace and density of its Hessian block."""
    rows, curves = [], {}
    fig, ax = new_figure()
    full = probe.micro_batch_operator(cfg)  # then each block's products through the full one
    for g in probe.groups:
        f, t = restrict(probe.loss_fn, probe.theta, g)
        op = block_operator(full, probe.theta, g) if full is not None else None
        top = hessian_top(f, t, k=1, iters=min(cfg.layer_iters, g.size), tol=cfg.lanczos_tol,
                          seed=cfg.seed, operator=op)
        tr = hutchinson_trace(f, t, n_probes=cfg.layer_probes, batch=cfg.trace_batch,
                              seed=cfg.seed, operator=op).estimate
        rows.append({"layer": g.name, "params": g.size, "top_eigenvalue": float(top.values[0]),
                     "residual_bound": float(top.residuals[0]), "trace": tr.value,
                     "trace_ci95": list(tr.ci95)})
        # one start vector per layer: the figure is a sketch, and a model with many
        # layers would otherwise spend most of its products here
        sd = spectral_density(f, t, n_vectors=1, iters=min(cfg.layer_iters, g.size),
                              grid=200, seed=cfg.seed, operator=op)
        ax[0, 0].semilogy(sd.grid.numpy(), sd.density.clamp_min(1e-12).numpy(), label=g.name)
        curves[f"{g.name}:eigenvalue"] = sd.grid.tolist()
        curves[f"{g.name}:density"] = sd.density.tolist()
    ax[0, 0].set_xlabel("eigenvalue")
    ax[0, 0].set_ylabel("density")
    ax[0, 0].legend(fontsize="small")
    ax[0, 0].grid(alpha=0.3)
    ctx.table([{**r, "trace_ci95": f"[{r['trace_ci95'][0]:.4g}, {r['trace_ci95'][1]:.4g}]"}
               for r in rows], title="Per layer",
              caption="Each layer's diagonal Hessian block H_gg (the other weights fixed): "
              "top eigenvalue with its Lanczos residual bound, Hutchinson trace with its "
              "95 % interval over probes.")
    figure_with_data(ctx, fig, "layer-density", "SLQ density of each layer's Hessian block.",
                     curves)
    return {"layers": rows}


def _dense_needs(probe, cfg) -> str | None:
    if probe.params > cfg.dense_max_params:
        return (f"the model has P={probe.params} parameters, above the dense limit "
                f"dense_max_params={cfg.dense_max_params}")
    return None


@diagnostic("minimal_ratio", title="Exact Hessian and minimal ratio", needs=_dense_needs)
def exact(probe, cfg, ctx) -> dict:
    """The dense float64 Hessian's spectrum: minimal ratio, exact top-k and trace."""
    eig = hessian_eigenvalues(probe.loss_fn, probe.theta, max_params=cfg.dense_max_params)
    ratio = minimal_ratio(eig)
    top = eig.flip(0)[: min(cfg.top_k, eig.numel())].tolist()
    fig, ax = new_figure()
    ax[0, 0].hist(eig.numpy(), bins=60)
    ax[0, 0].set_yscale("log")
    ax[0, 0].set_xlabel("eigenvalue")
    ax[0, 0].set_ylabel("count")
    figure_with_data(ctx, fig, "hessian-exact", f"All {eig.numel()} eigenvalues of the dense "
                     "Hessian (float64).", {"eigenvalue": eig.tolist()})
    ctx.text(f"The dense Hessian (P = {probe.params}, float64) has minimal ratio "
             f"**{ratio:.4f}** (fraction of eigenvalues above 1e-6·max|λ|); its exact top "
             f"eigenvalues are {', '.join(f'{v:.6g}' for v in top)} and its trace "
             f"{float(eig.sum()):.6g}.", title="Exact spectrum")
    return {"minimal_ratio": ratio, "hessian_exact": {"top": top, "trace": float(eig.sum()),
                                                      "min": float(eig[0])}}


__all__ = ["density", "exact", "lanczos_steps", "layers", "top_eigenvalues", "trace"]
