"""The minimal ratio: the fraction of positive Hessian eigenvalues at a critical point."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from trainlab.errors import BadInput


def minimal_ratio(
    eigenvalues: Tensor | Sequence[float], tol: float = 1e-6, relative: bool = True
) -> float:
    """Return the fraction of eigenvalues that are clearly positive.

    At a critical point the minimal ratio is 1 for a strict local minimum and smaller the
    more directions are flat or descending. "Clearly positive" means ``lambda > threshold``
    with ``threshold = tol * max|lambda|`` when ``relative`` (the default, so the answer
    does not depend on the loss scale) or ``threshold = tol`` when not.

    Eigenvalues that are zero in exact arithmetic appear as rounding noise of either sign,
    about ``1e-16 * max|lambda|`` in float64 and ``1e-7 * max|lambda|`` in float32; the
    threshold must sit above that noise (hence the float64 default of
    `hessian_eigenvalues`). ReLU networks have many such exact zeros: a hidden unit that is
    dead on every input (pre-activation <= 0) contributes flat directions for all of its
    incoming weights and its bias, and its outgoing weights too. Those directions are
    neither positive nor negative; they count as "not positive" here and lower the ratio,
    which is the convention of the minimal-ratio exercise (zeros are not minimum
    directions).

    Args:
        eigenvalues: any number of eigenvalues, shape ``(P,)``.
        tol: relative (default ``1e-6``) or absolute threshold, ``>= 0``.
        relative: whether ``tol`` is scaled by the largest absolute eigenvalue.

    Returns:
        A float in [0, 1]; 0.0 when every eigenvalue is zero.
    """
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64).reshape(-1)
    if lam.numel() == 0:
        raise BadInput("minimal_ratio needs at least one eigenvalue")
    if tol < 0 or not torch.isfinite(lam).all():
        raise BadInput("minimal_ratio needs finite eigenvalues and tol >= 0")
    threshold = tol * float(lam.abs().max()) if relative else tol
    return float((lam > threshold).double().mean())
