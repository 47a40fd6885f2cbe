"""Near-critical points of an ensemble of small networks, found by damped Newton steps.

Gradient descent on the loss slows down as the gradient vanishes, and plain descent on
the gradient norm ‖∇L‖² is no better (its own gradient, H·∇L, vanishes with ∇L).
Newton's method on the equation ∇L(θ) = 0 converges quadratically to the *nearest*
critical point of any index: minima, saddles and maxima alike. `find_critical` runs a
globalised form of it, Levenberg–Marquardt on the residual g = ∇L with Jacobian H:

    (H² + μ I) d = −H g,    i.e.  d = −Q diag(λ / (λ² + μ)) Qᵀ g   with H = Q diag(λ) Qᵀ,

for every member at once. μ → 0 is the Newton step (exactly-zero eigenvalues, e.g. of
dead ReLU units, are skipped); a large μ is a short descent step on ½‖g‖². A few μ are
tried per member and iteration (one eigendecomposition serves them all) and the one
with the smallest new ‖g‖ is kept, so ‖g‖ never increases.

Everything is batched over an ensemble axis: parameters are `(E, P)`, losses `(E,)`,
gradients `(E, P)`, Hessians `(E, P, P)`. For MLPs with a piecewise-linear activation
(ReLU, leaky ReLU, identity) and the MSE loss, `mlp_mse_grad_hessian` builds the exact
Hessian from per-example Jacobians in closed form (Gauss–Newton part plus the
cross-layer second-order blocks), about ten times faster on a CPU than
`torch.func.vmap(torch.func.hessian(...))`, which `func_grad_hessian` computes for any
functional loss (and which the tests use as the oracle).

The flat layout of an MLP with `sizes = (d0, d1, …, dL)` is, layer after layer, the
weight `(d_l, d_{l-1})` row-major and then the bias `(d_l,)`: the order of
`nn.Sequential(nn.Linear, act, …).parameters()` and of `trainlab.models.Ensemble`.
This module imports nothing of trainlab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: Slopes of the piecewise-linear activations (their second derivative is 0 a.e.).
PIECEWISE_LINEAR = {
    "relu": lambda z: (z > 0).to(z.dtype),
    "leaky_relu": lambda z: torch.where(z > 0, 1.0, torch.full_like(z, 0.01)),
    "identity": torch.ones_like,
}
_ACTIVATIONS = {"relu": F.relu, "leaky_relu": F.leaky_relu, "identity": lambda z: z,
                "tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus,
                "gelu": F.gelu, "elu": F.elu}

#: objective(theta (E, P), with_hessian) -> (loss (E,), grad (E, P), hessian (E, P, P) | None)
Objective = Callable[[Tensor, bool], tuple[Tensor, Tensor, Tensor | None]]


def mlp_param_count(sizes: Sequence[int]) -> int:
    """P of an MLP with layer sizes `(d0, …, dL)`, biases included."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _layers(theta: Tensor, sizes: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
    """Views `W (E, d_l, d_{l-1})`, `b (E, d_l)` of flat parameters `theta (E, P)`."""
    E, off, out = theta.shape[0], 0, []
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        W = theta[:, off:off + a * b].reshape(E, b, a)
        off += a * b
        out.append((W, theta[:, off:off + b]))
        off += b
    if off != theta.shape[1]:
        raise ValueError(f"theta has {theta.shape[1]} parameters, sizes {list(sizes)} need {off}")
    return out


def mlp_forward(theta: Tensor, x: Tensor, sizes: Sequence[int],
                activation: str = "relu") -> Tensor:
    """Outputs `(E, N, dL)` of E MLPs with flat parameters `theta (E, P)` on `x (N, d0)`."""
    act = _ACTIVATIONS[activation]
    layers = _layers(theta, sizes)
    a = x.to(theta.dtype).unsqueeze(0).expand(theta.shape[0], *x.shape)
    for i, (W, b) in enumerate(layers):
        a = torch.baddbmm(b.unsqueeze(1), a, W.transpose(1, 2))
        if i < len(layers) - 1:
            a = act(a)
    return a


def mlp_mse_grad_hessian(theta: Tensor, x: Tensor, y: Tensor, sizes: Sequence[int],
                         activation: str = "relu", hessian: bool = True
                         ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Exact MSE loss `(E,)`, gradient `(E, P)` and Hessian `(E, P, P)` of E scalar MLPs.

    `L = mean_n (f(x_n) − y_n)²` with `x (N, d0)`, `y (N, 1)` or `(N,)`, `sizes[-1] == 1`.
    With r_n the residual and J_n = ∂f(x_n)/∂θ, `H = (2/N) Σ_n (J_nᵀ J_n + r_n ∇²f_n)`.
    For a piecewise-linear activation f is multilinear in the layers' parameters inside
    each activation region, so ∇²f_n has only cross-layer blocks: for layers l < m,
    ∂²f/∂W_m[i,j] ∂(W_l[k,p] | b_l[k]) = δ_m[i] · M_{m,l}[j,k] · (a_{l-1}[p] | 1), where
    δ_m = ∂f/∂z_m and M_{m,l} = ∂a_{m-1}/∂z_l. At an activation kink the slope is that
    of `torch.relu`'s derivative (0 at 0), as autograd does.
    """
    if activation not in PIECEWISE_LINEAR:
        raise ValueError(f"closed-form Hessian needs a piecewise-linear activation "
                         f"({', '.join(PIECEWISE_LINEAR)}), got {activation!r}")
    if sizes[-1] != 1:
        raise ValueError("closed-form Hessian is for one output")
    slope, act = PIECEWISE_LINEAR[activation], _ACTIVATIONS[activation]
    E, dt = theta.shape[0], theta.dtype
    layers = _layers(theta, sizes)
    L = len(layers)
    x = x.to(dt)
    N = x.shape[0]
    acts = [x.unsqueeze(0).expand(E, *x.shape)]  # a_0 .. a_{L-1}, each (E, N, d)
    slopes = []  # D_1 .. D_{L-1}
    for i, (W, b) in enumerate(layers):
        z = torch.baddbmm(b.unsqueeze(1), acts[-1], W.transpose(1, 2))
        if i < L - 1:
            slopes.append(slope(z))
            acts.append(act(z))
    r = z.squeeze(-1) - y.to(dt).reshape(1, N)  # (E, N)
    loss = r.pow(2).mean(1)
    # δ_l = ∂f/∂z_l per example, (E, N, d_l), from the output down
    deltas = [torch.ones(E, N, 1, dtype=dt, device=theta.device)]
    for i in range(L - 1, 0, -1):
        deltas.insert(0, torch.bmm(deltas[0], layers[i][0]) * slopes[i - 1])
    if not hessian:
        w = (2.0 / N) * r.unsqueeze(-1)
        grad = torch.cat([t for i in range(L) for t in (
            torch.bmm((w * deltas[i]).transpose(1, 2), acts[i]).reshape(E, -1),
            (w * deltas[i]).sum(1))], dim=1)
        return loss, grad, None
    J = torch.cat([t for i in range(L) for t in (
        (deltas[i].unsqueeze(-1) * acts[i].unsqueeze(-2)).reshape(E, N, -1), deltas[i])],
        dim=2)  # (E, N, P)
    grad = (2.0 / N) * torch.bmm(r.unsqueeze(1), J).squeeze(1)
    H = (2.0 / N) * torch.bmm(J.transpose(1, 2), J)
    starts, off = [], 0
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        starts.append(off)
        off += a * b + b
    wr = (2.0 / N) * r.unsqueeze(-1)
    for m in range(1, L):  # layer index m (0-based) receives cross blocks from l < m
        dm, dprev = sizes[m + 1], sizes[m]
        M = torch.diag_embed(slopes[m - 1])  # ∂a_{m-1}/∂z_{m-1}: (E, N, dprev, dprev)
        for l_ in range(m - 1, -1, -1):
            if l_ < m - 1:  # M_{m,l} = M_{m,l+1} W_{l+1} D_l
                M = (M @ layers[l_ + 1][0].unsqueeze(1)) * slopes[l_].unsqueeze(-2)
            dl, din = sizes[l_ + 1], sizes[l_]
            ext = torch.cat([acts[l_], torch.ones_like(acts[l_][..., :1])], -1)  # (E,N,din+1)
            A = ((wr * deltas[m]).unsqueeze(-1) * ext.unsqueeze(-2)).reshape(E, N, -1)
            blk = torch.bmm(A.transpose(1, 2), M.reshape(E, N, -1))
            blk = blk.reshape(E, dm, din + 1, dprev, dl).permute(0, 1, 3, 4, 2)
            blk = blk.reshape(E, dm * dprev, dl, din + 1)  # rows W_m[i,j], cols (k, p)
            rows = slice(starts[m], starts[m] + dm * dprev)
            cw = slice(starts[l_], starts[l_] + dl * din)
            cb = slice(starts[l_] + dl * din, starts[l_] + dl * din + dl)
            H[:, rows, cw] += blk[..., :din].reshape(E, dm * dprev, dl * din)
            H[:, rows, cb] += blk[..., din]
            H[:, cw, rows] += blk[..., :din].reshape(E, dm * dprev, dl * din).transpose(1, 2)
            H[:, cb, rows] += blk[..., din].transpose(1, 2)
    return loss, grad, H


def func_grad_hessian(loss_fn: Callable[[Tensor], Tensor], theta: Tensor, hessian: bool = True,
                      chunk: int = 8) -> tuple[Tensor, Tensor, Tensor | None]:
    """Loss `(E,)`, gradient `(E, P)` and Hessian `(E, P, P)` of any functional loss.

    `loss_fn(t (P,)) -> scalar` must be `torch.func`-transformable; the Hessian is
    `vmap(jacfwd(grad(loss_fn)))` over chunks of `chunk` members (memory stays small).
    """
    def grad_aux(t: Tensor):
        g, value = torch.func.grad_and_value(loss_fn)(t)
        return g, (g, value)

    if not hessian:
        g, value = torch.func.vmap(torch.func.grad_and_value(loss_fn))(theta)
        return value, g, None
    fn = torch.func.vmap(torch.func.jacfwd(grad_aux, has_aux=True))
    parts = [fn(theta[i:i + chunk]) for i in range(0, theta.shape[0], chunk)]
    H = torch.cat([p[0] for p in parts])
    g = torch.cat([p[1][0] for p in parts])
    value = torch.cat([p[1][1] for p in parts])
    return value, g, (H + H.transpose(1, 2)) / 2


def mlp_mse_objective(x: Tensor, y: Tensor, sizes: Sequence[int],
                      activation: str = "relu") -> Objective:
    """An `Objective` for E MLPs with the MSE loss on `(x, y)`: closed form when it can."""
    if activation in PIECEWISE_LINEAR and sizes[-1] == 1:
        return lambda theta, h: mlp_mse_grad_hessian(theta, x, y, sizes, activation, h)

    def single(t: Tensor) -> Tensor:
        out = mlp_forward(t.unsqueeze(0), x, sizes, activation)[0]
        return (out - y.to(t.dtype).reshape(out.shape)).pow(2).mean()

    return lambda theta, h: func_grad_hessian(single, theta, h)


@dataclass
class CriticalResult:
    """What `find_critical` found, per member.

    theta (E, P) the final parameters; loss, grad_norm (E,) there; converged (E,) bool
    (‖∇L‖ < tol); iterations (E,) Newton iterations used; eigenvalues (E, P) of the
    Hessian at the final theta (ascending); grad_norm_history (T+1, E) ‖∇L‖ after each
    iteration (the start included).
    """

    theta: Tensor
    loss: Tensor
    grad_norm: Tensor
    converged: Tensor
    iterations: Tensor
    eigenvalues: Tensor
    grad_norm_history: Tensor


def find_critical(objective: Objective, theta0: Tensor, tol: float = 1e-6,
                  max_iter: int = 100, mu_factors: Sequence[float] = (1e-6, 1e-3, 1.0, 1e3),
                  on_iteration: Callable[[int, Tensor], None] | None = None) -> CriticalResult:
    """Move every member of `theta0 (E, P)` to a point with ‖∇L‖ < `tol` (see module doc).

    Each iteration evaluates the Hessian of the members not yet converged, takes its
    eigendecomposition, tries the Levenberg–Marquardt steps for μ = μ_e · factor
    (`mu_factors`, plus the plain Newton step) and keeps the trial with the smallest
    ‖∇L‖ if it is smaller than the current one; μ_e follows the winner (×10⁶, past the
    tried range, when no trial helps). μ_e starts at (1e-3 · max|λ|)². Work in float64 to reach small
    `tol`. `on_iteration(it, grad_norm (E,))` is called after every iteration.
    """
    theta = theta0.detach().clone()
    E = theta.shape[0]
    loss, g, _ = objective(theta, False)
    gnorm = g.norm(dim=1)
    mu = torch.full((E,), float("nan"), dtype=theta.dtype, device=theta.device)
    iters = torch.zeros(E, dtype=torch.long, device=theta.device)
    history = [gnorm.clone()]
    factors = torch.tensor([0.0, *mu_factors], dtype=theta.dtype, device=theta.device)
    K = factors.numel()
    for it in range(1, max_iter + 1):
        active = (gnorm >= tol).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        th = theta[active]
        _, ga, H = objective(th, True)
        lam, Q = torch.linalg.eigh(H)
        scale = lam.abs().amax(1).clamp_min(1e-300)
        mu_a = torch.where(torch.isnan(mu[active]), (1e-3 * scale) ** 2, mu[active])
        gq = torch.einsum("epq,ep->eq", Q, ga)  # Qᵀ g
        mus = mu_a.unsqueeze(1) * factors  # (A, K); factor 0 = Newton
        denom = lam.unsqueeze(1).pow(2) + mus.unsqueeze(2)  # (A, K, P)
        coef = torch.where(denom > 0, lam.unsqueeze(1) / denom.clamp_min(1e-300), 0.0)
        steps = -torch.einsum("epq,ekq->ekp", Q, coef * gq.unsqueeze(1))  # (A, K, P)
        trial = (th.unsqueeze(1) + steps).reshape(-1, th.shape[1])
        t_loss, t_g, _ = objective(trial, False)
        t_norm = t_g.norm(dim=1).reshape(-1, K)
        t_norm = torch.where(torch.isfinite(t_norm), t_norm, torch.inf)
        best_norm, best = t_norm.min(1)
        ok = best_norm < gnorm[active]
        pick = torch.arange(active.numel(), device=theta.device) * K + best
        theta[active] = torch.where(ok.unsqueeze(1), trial[pick], th)
        loss[active] = torch.where(ok, t_loss[pick], loss[active])
        gnorm[active] = torch.where(ok, best_norm, gnorm[active])
        mu[active] = torch.where(ok, torch.maximum(mus[torch.arange(active.numel()), best],
                                                   (1e-8 * scale) ** 2), mu_a * 1e6)
        iters[active] += 1
        history.append(gnorm.clone())
        if on_iteration is not None:
            on_iteration(it, gnorm)
    loss, g, H = objective(theta, True)
    return CriticalResult(theta, loss, g.norm(dim=1), g.norm(dim=1) < tol, iters,
                          torch.linalg.eigvalsh(H), torch.stack(history))
