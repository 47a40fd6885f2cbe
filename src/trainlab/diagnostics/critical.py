"""Near-critical points of an ensemble of small networks, found by batched Newton steps.

Descent on the loss slows down as the gradient vanishes, and plain descent on the
gradient norm ‖∇L‖² is no better: its own gradient, H·∇L, vanishes with ∇L. Newton's
method on the equation ∇L(θ) = 0 converges quadratically to the *nearest* critical
point of any index (minima, saddles, maxima). `find_critical` globalises it for every
member of an ensemble at once: with H = Q diag(λ) Qᵀ (one eigendecomposition per member
and iteration) it evaluates a handful of trial steps, Newton −H⁺g cut to a few lengths,
Levenberg–Marquardt −(H² + μI)⁻¹Hg and trust-region Newton on the loss −(H + νI)⁻¹g,
and keeps, per member, the one that shrinks ‖∇L‖ most, or that lowers the loss when
‖∇L‖ stalls (in "gradient-flat" regions, where g lies in the near-null space of H).

Shapes: parameters `(E, P)`, losses `(E,)`, gradients `(E, P)`, Hessians `(E, P, P)`.
An `Objective` maps `(theta, with_hessian)` to those three. `mlp_mse_grad_hessian` is
the exact Hessian of the MSE of E scalar MLPs in closed form (Gauss–Newton part,
cross-layer blocks, activation-curvature blocks); for 100 members of a 1-10-10-1 net
on 200 points it is about 15 times faster on a CPU than the torch.func Hessian of
`trainlab.diagnostics.hessian.func_grad_hessian`, which serves any functional loss (the
tests compare the two member by member).

The flat layout of an MLP with `sizes = (d0, d1, …, dL)` is the one of
`trainlab.diagnostics.params` (layer after layer, the weight `(d_l, d_{l-1})` row-major,
then the bias `(d_l,)`), so a row of `theta` is `Ensemble.flat_parameters()[e]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from trainlab.errors import BadInput

from .hessian import func_grad_hessian


def _relu(z: Tensor):
    return F.relu(z), (z > 0).to(z.dtype), None


def _leaky_relu(z: Tensor):
    return F.leaky_relu(z), torch.where(z > 0, 1.0, torch.full_like(z, 0.01)), None


def _identity(z: Tensor):
    return z, torch.ones_like(z), None


def _tanh(z: Tensor):
    t = torch.tanh(z)
    d = 1 - t * t
    return t, d, -2 * t * d


def _sigmoid(z: Tensor):
    s = torch.sigmoid(z)
    d = s * (1 - s)
    return s, d, d * (1 - 2 * s)


def _softplus(z: Tensor):  # as F.softplus (beta 1, threshold 20: linear above 20)
    s = torch.sigmoid(z)
    lin = z > 20
    return (F.softplus(z), torch.where(lin, 1.0, s),
            torch.where(lin, 0.0, s * (1 - s)))


#: activation -> z -> (σ(z), σ'(z), σ''(z) or None where σ'' = 0 almost everywhere)
ACTIVATIONS = {"relu": _relu, "leaky_relu": _leaky_relu, "identity": _identity,
               "tanh": _tanh, "sigmoid": _sigmoid, "softplus": _softplus}

#: objective(theta (E, P), with_hessian) -> (loss (E,), grad (E, P), hessian (E, P, P) | None)
Objective = Callable[[Tensor, bool], tuple[Tensor, Tensor, Tensor | None]]


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise BadInput(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _layers(theta: Tensor, sizes: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
    """Views `W (E, d_l, d_{l-1})`, `b (E, d_l)` of flat parameters `theta (E, P)`."""
    E, off, out = theta.shape[0], 0, []
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        W = theta[:, off:off + a * b].reshape(E, b, a)
        off += a * b
        out.append((W, theta[:, off:off + b]))
        off += b
    if off != theta.shape[1]:
        raise BadInput(f"theta has {theta.shape[1]} parameters, sizes {list(sizes)} need {off}")
    return out


def mlp_forward(theta: Tensor, x: Tensor, sizes: Sequence[int],
                activation: str = "relu") -> Tensor:
    """Outputs `(E, N, dL)` of E MLPs with flat parameters `theta (E, P)` on `x (N, d0)`."""
    act = _activation(activation)
    layers = _layers(theta, sizes)
    a = x.to(theta.dtype).unsqueeze(0).expand(theta.shape[0], *x.shape)
    for i, (W, b) in enumerate(layers):
        a = torch.baddbmm(b.unsqueeze(1), a, W.transpose(1, 2))
        if i < len(layers) - 1:
            a = act(a)[0]
    return a


def _ext_index(sizes: Sequence[int], device) -> list[Tensor]:
    """Per layer, the flat positions `(d_l, d_{l-1} + 1)` of (W[k, p] for p < d_{l-1}, b[k])."""
    out, off = [], 0
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        w = off + torch.arange(b * a, device=device).reshape(b, a)
        bias = off + b * a + torch.arange(b, device=device).reshape(b, 1)
        out.append(torch.cat([w, bias], 1))
        off += a * b + b
    return out


def _add_sym(H: Tensor, rows: Tensor, cols: Tensor, block: Tensor, same: bool) -> None:
    """H[:, rows, cols] += block and the mirrored block (once when `same`)."""
    H[:, rows[:, None], cols[None, :]] += block
    if not same:
        H[:, cols[:, None], rows[None, :]] += block.transpose(1, 2)


def mlp_mse_grad_hessian(theta: Tensor, x: Tensor, y: Tensor, sizes: Sequence[int],
                         activation: str = "relu", hessian: bool = True
                         ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Exact MSE loss `(E,)`, gradient `(E, P)` and Hessian `(E, P, P)` of E scalar MLPs.

    `L = mean_n (f(x_n) − y_n)²` on `x (N, d0)`, `y (N, 1)` or `(N,)`, `sizes[-1] == 1`,
    any activation of `ACTIVATIONS`. Layer i computes z_i = W_i a_i + b_i, a_{i+1} = σ(z_i).
    With residuals r_n, w_n = 2 r_n / N and J_n = ∂f(x_n)/∂θ (second-order chain rule):

        H = (2/N) Σ_n J_nᵀ J_n                                   (Gauss–Newton)
          + Σ_n w_n Σ_{l<m} δ_m[i] M_{m,l}[j,k] ext_l[p]          (W_m[i,j] × θ_l[k,p])
          + Σ_n w_n Σ_i Σ_k u_{i+1}[k] σ''(z_i[k]) ∇z_i[k] ∇z_i[k]ᵀ

    with δ_m = ∂f/∂z_m, u_i = ∂f/∂a_i, M_{m,l} = ∂a_m/∂z_l, ext_l = (a_l, 1) (bias).
    The last sum vanishes for ReLU, leaky ReLU and identity; at a ReLU kink the slope is
    0, as in autograd.
    """
    if sizes[-1] != 1:
        raise BadInput("closed-form Hessian is for one output")
    fn = _activation(activation)
    E, dt, dev = theta.shape[0], theta.dtype, theta.device
    layers = _layers(theta, sizes)
    L = len(layers)
    x = x.to(dt)
    N = x.shape[0]
    acts = [x.unsqueeze(0).expand(E, *x.shape)]  # a_0 .. a_{L-1}, each (E, N, d)
    d1, d2 = [], []  # σ'(z_i), σ''(z_i) for hidden layers
    for i, (W, b) in enumerate(layers):
        z = torch.baddbmm(b.unsqueeze(1), acts[-1], W.transpose(1, 2))
        if i < L - 1:
            a, s1, s2 = fn(z)
            acts.append(a)
            d1.append(s1)
            d2.append(s2)
    r = z.squeeze(-1) - y.to(dt).reshape(1, N)  # (E, N)
    loss = r.pow(2).mean(1)
    wr = (2.0 / N) * r.unsqueeze(-1)  # (E, N, 1)
    deltas: list[Tensor] = [None] * L  # ∂f/∂z_i, (E, N, d_{i+1})
    ups: list[Tensor] = [None] * L  # ∂f/∂a_i for i >= 1, (E, N, d_i)
    deltas[L - 1] = torch.ones(E, N, 1, dtype=dt, device=dev)
    for i in range(L - 1, 0, -1):
        ups[i] = torch.bmm(deltas[i], layers[i][0])
        deltas[i - 1] = ups[i] * d1[i - 1]
    if not hessian:
        grad = torch.cat([t for i in range(L) for t in (
            torch.bmm((wr * deltas[i]).transpose(1, 2), acts[i]).reshape(E, -1),
            (wr * deltas[i]).sum(1))], dim=1)
        return loss, grad, None
    J = torch.cat([t for i in range(L) for t in (
        (deltas[i].unsqueeze(-1) * acts[i].unsqueeze(-2)).reshape(E, N, -1), deltas[i])],
        dim=2)  # (E, N, P)
    grad = torch.bmm(wr.transpose(1, 2), J).squeeze(1)
    H = (2.0 / N) * torch.bmm(J.transpose(1, 2), J)
    idx = _ext_index(sizes, dev)
    ext = [torch.cat([a, torch.ones_like(a[..., :1])], -1) for a in acts]  # (E, N, d_l + 1)
    M: dict[tuple[int, int], Tensor] = {}  # ∂a_m/∂z_l, (E, N, d_m, d_{l+1})
    for m in range(1, L):
        M[m, m - 1] = torch.diag_embed(d1[m - 1])
        for l_ in range(m - 2, -1, -1):
            M[m, l_] = (M[m, l_ + 1] @ layers[l_ + 1][0].unsqueeze(1)) * d1[l_].unsqueeze(-2)
    for (m, l_), Mml in M.items():  # bilinear W_m a_m: rows W_m[i, j], cols θ_l[k, p]
        dm, dj, dl, dp = sizes[m + 1], sizes[m], sizes[l_ + 1], sizes[l_] + 1
        A = ((wr * deltas[m]).unsqueeze(-1) * ext[l_].unsqueeze(-2)).reshape(E, N, -1)
        blk = torch.bmm(A.transpose(1, 2), Mml.reshape(E, N, -1))  # (i, p) x (j, k)
        blk = blk.reshape(E, dm, dp, dj, dl).permute(0, 1, 3, 4, 2).reshape(E, dm * dj, -1)
        _add_sym(H, idx[m][:, :dj].reshape(-1), idx[l_].reshape(-1), blk, same=False)
    for i in range(L - 1):  # curvature of the activation of hidden layer i
        if d2[i] is None:
            continue
        wc = wr * ups[i + 1] * d2[i]  # (E, N, d_{i+1})
        k_, p_ = sizes[i + 1], sizes[i] + 1  # own layer: block-diagonal over units k
        own = torch.bmm((wc.unsqueeze(-1) * ext[i].unsqueeze(-2)).reshape(E, N, -1)
                        .transpose(1, 2), ext[i]).reshape(E, k_, p_, p_)
        H[:, idx[i].unsqueeze(2).expand(-1, -1, p_), idx[i].unsqueeze(1).expand(-1, p_, -1)] += own
        R = {j: layers[i][0].unsqueeze(1) @ M[i, j] for j in range(i)}  # ∂z_i/∂z_j
        for j in range(i):
            for j2 in range(j, i + 1):
                if j2 == i:  # (R_jᵀ diag(wc))[a, k]
                    S = (R[j] * wc.unsqueeze(-1)).transpose(2, 3)
                else:
                    S = torch.einsum("enka,enk,enkb->enab", R[j], wc, R[j2])
                U = (S.unsqueeze(-2) * ext[j].unsqueeze(-2).unsqueeze(-1)).reshape(E, N, -1)
                blk = torch.bmm(U.transpose(1, 2), ext[j2])  # (a, p, b) x q
                a_, p_, b_, q_ = sizes[j + 1], sizes[j] + 1, sizes[j2 + 1], sizes[j2] + 1
                blk = blk.reshape(E, a_, p_, b_, q_).reshape(E, a_ * p_, b_ * q_)
                _add_sym(H, idx[j].reshape(-1), idx[j2].reshape(-1), blk, same=j == j2)
    return loss, grad, H


def mlp_mse_objective(x: Tensor, y: Tensor, sizes: Sequence[int],
                      activation: str = "relu", closed_form: bool = True) -> Objective:
    """An `Objective` for E scalar MLPs with the MSE loss on `(x, y)`.

    `closed_form` uses `mlp_mse_grad_hessian`; otherwise `func_grad_hessian` (torch.func).
    """
    if closed_form:
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


def _trust_region_shift(lam: Tensor, gq: Tensor, radius: Tensor, iters: int = 60) -> Tensor:
    """ν per member and radius so that ‖(H + νI)⁻¹g‖ ≈ radius with H + νI ⪰ 0.

    lam, gq: (A, P) eigenvalues and Qᵀg; radius: (A, C). Returns ν (A, C); ν = 0 where
    H is positive definite and the Newton step already fits (Moré–Sorensen, by bisection
    on log(ν − ν₀), ν₀ = max(0, −λ_min)).
    """
    scale = lam.abs().amax(1, keepdim=True).clamp_min(1e-300)
    nu0 = (-lam[:, :1]).clamp_min(0)  # (A, 1)
    lo = torch.log(1e-12 * scale).expand_as(radius).clone()
    hi = torch.log(gq.norm(dim=1, keepdim=True) / radius + 1e-12 * scale)
    lam3, g3 = lam.unsqueeze(1), gq.unsqueeze(1).pow(2)

    def length(nu: Tensor) -> Tensor:
        return (g3 / (lam3 + nu.unsqueeze(2)).pow(2)).sum(2).sqrt()

    for _ in range(iters):
        mid = (lo + hi) / 2
        too_long = length(nu0 + mid.exp()) > radius
        lo = torch.where(too_long, mid, lo)
        hi = torch.where(too_long, hi, mid)
    nu = nu0 + hi.exp()
    newton_fits = (lam[:, :1] > 0) & (length(torch.zeros_like(radius)) <= radius)
    return torch.where(newton_fits, torch.zeros_like(nu), nu)


def find_critical(objective: Objective, theta0: Tensor, tol: float = 1e-6,
                  max_iter: int = 100, radii: Sequence[float] = (0.1, 1.0, 4.0),
                  mu_factors: Sequence[float] = (1e-3, 1.0, 1e3), shrink: float = 0.8,
                  rcond: float = 1e-12,
                  on_iteration: Callable[[int, Tensor], None] | None = None) -> CriticalResult:
    """Move every member of `theta0 (E, P)` to a point with ‖∇L‖ < `tol` (see module doc).

    Each iteration evaluates the Hessian of the members not yet converged and its
    eigendecomposition H = Q diag(λ) Qᵀ, then evaluates, for every member at once, these
    trial steps (Δ_e: a per-member trust radius):
    - Newton on ∇L = 0: −H⁺g (H⁺ drops |λ| ≤ `rcond`·max|λ|), cut to lengths Δ_e·`radii`
      and taken whole; its direction always descends ½‖g‖² (whose gradient is H g);
    - Levenberg–Marquardt on ∇L = 0: −(H² + μI)⁻¹ H g for μ = μ_e · `mu_factors`, at most
      10 Δ_e long;
    - trust-region Newton on L: −(H + νI)⁻¹ g with ‖step‖ = Δ_e·`radii`, H + νI ⪰ 0.
    A trial that shrinks ‖g‖ by the factor `shrink` wins (the smallest ‖g‖); else the
    trial with the lowest loss if it lowers the loss (this walks out of "gradient-flat"
    regions where ‖g‖ stalls); else any trial that lowers ‖g‖. Δ_e becomes twice the
    accepted step (÷10 when nothing is accepted); μ_e follows a winning LM step.
    Work in float64 to reach a small `tol`. `on_iteration(it, grad_norm (E,))` runs
    after each iteration.
    """
    theta = theta0.detach().clone()
    E, dev, dt = theta.shape[0], theta.device, theta.dtype
    loss, g, _ = objective(theta, False)
    gnorm = g.norm(dim=1)
    mu = torch.full((E,), float("nan"), dtype=dt, device=dev)
    delta = 0.1 * theta.norm(dim=1).clamp_min(1.0)
    iters = torch.zeros(E, dtype=torch.long, device=dev)
    history = [gnorm.clone()]
    rad = torch.tensor(list(radii), dtype=dt, device=dev)
    factors = torch.tensor(list(mu_factors), dtype=dt, device=dev)
    n_newton, n_lm = rad.numel() + 1, factors.numel()
    for it in range(1, max_iter + 1):
        active = (gnorm >= tol).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        A = active.numel()
        rows = torch.arange(A, device=dev)
        th, dl = theta[active], delta[active]
        _, ga, H = objective(th, True)
        lam, Q = torch.linalg.eigh(H)
        scale = lam.abs().amax(1, keepdim=True).clamp_min(1e-300)  # (A, 1)
        mu_a = torch.where(torch.isnan(mu[active]), (1e-3 * scale[:, 0]) ** 2, mu[active])
        gq = torch.einsum("epq,ep->eq", Q, ga)  # Qᵀ g, (A, P)
        newton = torch.where(lam.abs() > rcond * scale, 1.0 / lam, 0.0).unsqueeze(1)
        mus = mu_a.unsqueeze(1) * factors  # (A, n_lm)
        lm = lam.unsqueeze(1) / (lam.unsqueeze(1).pow(2) + mus.unsqueeze(2))
        nu = _trust_region_shift(lam, gq, dl.unsqueeze(1) * rad)
        tr = 1.0 / (lam.unsqueeze(1) + nu.unsqueeze(2)).clamp_min(1e-300)
        coef = torch.cat([newton.expand(-1, n_newton, -1), lm, tr], dim=1)  # (A, K, P)
        K = coef.shape[1]
        steps = -torch.einsum("epq,ekq->ekp", Q, coef * gq.unsqueeze(1))  # (A, K, P)
        length = steps.norm(dim=2).clamp_min(1e-300)
        cap = torch.full_like(length, torch.inf)  # Newton: Δ·radii, then whole; LM: 10 Δ
        cap[:, :n_newton - 1] = dl.unsqueeze(1) * rad
        cap[:, n_newton:n_newton + n_lm] = 10 * dl.unsqueeze(1)
        steps = steps * (cap / length).clamp_max(1.0).unsqueeze(2)
        trial = (th.unsqueeze(1) + steps).reshape(A * K, -1)
        t_loss, t_g, _ = objective(trial, False)
        t_loss = t_loss.reshape(A, K)
        t_norm = t_g.norm(dim=1).reshape(A, K)
        bad = ~(torch.isfinite(t_norm) & torch.isfinite(t_loss))
        t_norm = t_norm.masked_fill(bad, torch.inf)
        t_loss = t_loss.masked_fill(bad, torch.inf)
        g_best_norm, g_best = t_norm.min(1)
        l_best_loss, l_best = t_loss.min(1)
        cur_norm, cur_loss = gnorm[active], loss[active]
        use_g = g_best_norm < shrink * cur_norm
        use_l = ~use_g & (l_best_loss < cur_loss)
        use_g = use_g | (~use_l & (g_best_norm < cur_norm))
        ok = use_g | use_l
        best = torch.where(use_g, g_best, l_best)
        pick = rows * K + best
        theta[active] = torch.where(ok.unsqueeze(1), trial[pick], th)
        loss[active] = torch.where(ok, t_loss[rows, best], cur_loss)
        gnorm[active] = torch.where(ok, t_norm[rows, best], cur_norm)
        taken = steps[rows, best].norm(dim=1)
        delta[active] = torch.where(ok, (2 * taken).clamp_min(1e-12), dl / 10)
        won_lm = ok & (best >= n_newton) & (best < n_newton + n_lm)
        lm_mu = mus[rows, (best - n_newton).clamp(0, n_lm - 1)]
        mu[active] = torch.where(won_lm, lm_mu, torch.where(ok, mu_a, mu_a * 1e6))
        iters[active] += 1
        history.append(gnorm.clone())
        if on_iteration is not None:
            on_iteration(it, gnorm)
    loss, g, H = objective(theta, True)
    return CriticalResult(theta, loss, g.norm(dim=1), g.norm(dim=1) < tol, iters,
                          torch.linalg.eigvalsh(H), torch.stack(history))
