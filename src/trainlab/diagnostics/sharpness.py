"""Keskar sharpness: the largest loss increase in a small box around the weights.

Keskar et al., "On Large-Batch Training for Deep Learning", ICLR 2017, Metric 2.1, in
the full space (``A = I``)::

    phi(x, eps) = 100 * (max_{y in C} f(x + y) - f(x)) / (1 + f(x)),
    C = { y : |y_i| <= eps * (|x_i| + 1) }.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.errors import BadInput

from .params import LossFn


def _value_and_grad(loss_fn: LossFn, z: Tensor) -> tuple[float, Tensor]:
    zz = z.detach().requires_grad_(True)
    with torch.enable_grad():
        val = loss_fn(zz)
        (g,) = torch.autograd.grad(val, zz, allow_unused=True)
    return float(val.detach()), torch.zeros_like(zz) if g is None else g.detach()


def _signs(g: Tensor, gen: torch.Generator) -> Tensor:
    """``sign(g)``, with a random sign where ``g`` is exactly zero."""
    rnd = torch.randint(0, 2, g.shape, generator=gen).to(g) * 2 - 1
    s = torch.sign(g)
    return torch.where(s == 0, rnd, s)


def sharpness(
    loss_fn: LossFn,
    params: Tensor,
    epsilon: float = 1e-3,
    method: str = "ascent",
    steps: int = 50,
    step_fraction: float = 0.1,
    start: str = "corner",
    seed: int = 0,
) -> float:
    """Return Keskar's sharpness ``phi`` of a flat loss at ``params`` (shape ``(P,)``).

    Args:
        epsilon: box size, relative to ``|x_i| + 1``.
        method: how the box maximum is sought (the result is a lower bound of it):
            ``"ascent"``: projected sign-gradient ascent, ``steps`` (>= 50 advised) steps of
            ``step_fraction`` of each half-width, starting at the box corner
            ``x + sign(grad) * box``, keeping the largest loss seen.
            ``"lbfgsb"``: `scipy.optimize.minimize` of ``-f`` with method ``L-BFGS-B`` and
            the box as bounds, ``maxiter=steps`` (a few tens suffice), ``ftol=gtol=0``
            so it only stops at ``maxiter`` or a failed line search, started at the same
            corner. Started at ``x`` itself it would stop at once on a converged model:
            the projected gradient there is ~0, so it reports ~0 whatever the curvature.
        steps: ascent steps / L-BFGS-B iterations.
        start: ``"corner"`` (the default, as above), ``"center"`` (``x`` itself; shows
            the L-BFGS-B pitfall) or ``"random"`` (a box corner of seeded random signs:
            restarts from other corners).
        seed: for the random sign of exactly zero gradient components.

    Returns:
        ``phi`` as a float (>= 0, in percent of ``1 + f(x)``).
    """
    if epsilon <= 0 or steps < 1:
        raise BadInput("sharpness needs epsilon > 0 and steps >= 1")
    x = params.detach()
    gen = torch.Generator().manual_seed(seed)
    f0, g0 = _value_and_grad(loss_fn, x)
    box = epsilon * (x.abs() + 1)
    if start not in ("corner", "center", "random"):
        raise BadInput(f"start must be 'corner', 'center' or 'random', got {start!r}")
    if start == "center":
        corner = x.clone()
    else:  # all-zero "gradient" signs are all drawn at random
        corner = x + _signs(g0 if start == "corner" else torch.zeros_like(g0), gen) * box
    if method == "ascent":
        best = _ascent(loss_fn, x, box, corner, steps, step_fraction, gen)
    elif method == "lbfgsb":
        best = _lbfgsb(loss_fn, x, box, corner, steps)
    else:
        raise BadInput(f"method must be 'ascent' or 'lbfgsb', got {method!r}")
    return 100.0 * (max(best, f0) - f0) / (1.0 + f0)


def _ascent(loss_fn, x, box, start, steps, step_fraction, gen) -> float:
    z = start.clone()
    best = -float("inf")
    for _ in range(steps):
        val, g = _value_and_grad(loss_fn, z)
        best = max(best, val)
        z = torch.clamp(z + step_fraction * box * _signs(g, gen), x - box, x + box)
    return max(best, float(loss_fn(z).detach()))


def _lbfgsb(loss_fn, x, box, start, steps) -> float:
    import numpy as np
    from scipy.optimize import Bounds, minimize

    dtype, device = x.dtype, x.device
    seen = [-float("inf")]

    def neg(z_np: np.ndarray) -> tuple[float, np.ndarray]:
        z = torch.as_tensor(z_np, dtype=dtype, device=device)
        val, g = _value_and_grad(loss_fn, z)
        seen[0] = max(seen[0], val)
        return -val, -g.double().cpu().numpy()

    bounds = Bounds((x - box).double().cpu().numpy(), (x + box).double().cpu().numpy())
    minimize(
        neg,
        start.double().cpu().numpy(),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": steps, "ftol": 0.0, "gtol": 0.0},
    )
    return seen[0]
