"""Input sensitivity on the fixed evaluation set, and gradient norms per layer.

Sensitivity has two names in the literature and both are measured: the Frobenius norm of
the Jacobian of the softmax output with respect to the input (Novak et al. 2018; of the
raw output for a regression loss) and the norm of the loss gradient with respect to the
input, ``||d loss_i / d x_i||``. Each is a mean over examples with its t-interval.
"""

from __future__ import annotations

import math

import torch

from trainlab.diagnostics import jacobian_norms, loss_grad, loss_input_grad_norms, make_loss_fn
from trainlab.diagnostics.intervals import t_interval
from trainlab.report.plots import new_figure

from .figures import figure_with_data
from .registry import diagnostic


def per_example_loss(criterion):
    """``(out (N, ...), y (N, ...)) -> (N,)``: ``criterion`` applied to each example alone."""

    def one(o, t):
        return criterion(o.unsqueeze(0), t.unsqueeze(0))

    def losses(out, y):
        try:
            return torch.func.vmap(one)(out, y)
        except Exception:  # noqa: BLE001 - a loss vmap cannot trace: one example at a time
            return torch.stack([one(o, t) for o, t in zip(out, y, strict=True)])

    return losses


@diagnostic("sensitivity", title="Input sensitivity")
def sensitivity(probe, cfg, ctx) -> dict:
    """Per-example input-Jacobian and loss-gradient norms on the evaluation set."""
    x, y = probe.eval
    jac = jacobian_norms(probe.model, x, softmax=probe.classification).double().cpu()
    grads = loss_input_grad_norms(probe.model, x, y, loss=per_example_loss(probe.criterion))
    grads = grads.double().cpu()
    j_est, g_est = t_interval(jac), t_interval(grads)
    of = "softmax output" if probe.classification else "raw output"
    fig, ax = new_figure(2)
    ax[0, 0].hist(jac.numpy(), bins=40)
    ax[0, 0].set_xlabel(f"‖∂ {of} / ∂x‖_F")
    ax[0, 1].hist(grads.numpy(), bins=40)
    ax[0, 1].set_xlabel("‖∂ loss / ∂x‖")
    for a in ax[0]:
        a.set_ylabel("examples")
    figure_with_data(ctx, fig, "sensitivity", f"Per-example sensitivity on {x.shape[0]} "
                     f"{probe.eval_name} examples.",
                     {"example": range(x.shape[0]), "jacobian_norm": jac.tolist(),
                      "loss_grad_norm": grads.tolist()})
    return {"jacobian_norm": {**j_est.as_dict(), "of": of},
            "loss_grad_norm": g_est.as_dict()}


@diagnostic("grad_norm", title="Gradient norm per layer")
def grad_norm(probe, cfg, ctx) -> dict:
    """The training-sample gradient, whole and per layer; an interval over data batches."""
    g = loss_grad(probe.loss_fn, probe.theta).double()
    total = float(g.norm())
    rows = [{"layer": grp.name, "params": grp.size,
             "grad_norm": float(g[grp.start: grp.stop].norm())} for grp in probe.groups]
    x, y = probe.train
    n_batches = min(cfg.grad_batches, x.shape[0])
    batch_norms = [float(loss_grad(make_loss_fn(probe.model, probe.criterion, xb, yb),
                                   probe.theta).double().norm())
                   for xb, yb in zip(x.tensor_split(n_batches), y.tensor_split(n_batches),
                                     strict=True)]
    est = t_interval(batch_norms)
    fig, ax = new_figure()
    ax[0, 0].bar(range(len(rows)), [r["grad_norm"] for r in rows])
    ax[0, 0].set_xticks(range(len(rows)), [r["layer"] for r in rows], rotation=45,
                        ha="right", fontsize="small")
    ax[0, 0].set_ylabel("‖∂ loss / ∂θ_layer‖")
    ax[0, 0].set_yscale("log" if min(r["grad_norm"] for r in rows) > 0 else "linear")
    figure_with_data(ctx, fig, "grad-norm", "Norm of the training-loss gradient per layer.",
                     {"layer": [r["layer"] for r in rows],
                      "grad_norm": [r["grad_norm"] for r in rows]})
    ctx.table(rows, title="Gradient norm per layer",
              caption=f"Whole gradient norm {total:.4g}. Over {n_batches} disjoint batches "
              f"of the sample, the mini-batch gradient norm is {est.value:.4g} "
              f"(95 % interval {_interval(est.ci95)}).")
    return {"grad_norm": {"value": total, "batch_mean": est.value, "ci95": list(est.ci95),
                          "batches": n_batches}}


def _interval(ci) -> str:
    return "n/a" if not math.isfinite(ci[0]) else f"[{ci[0]:.4g}, {ci[1]:.4g}]"


__all__ = ["grad_norm", "per_example_loss", "sensitivity"]
