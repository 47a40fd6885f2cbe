"""Input sensitivity: per-example Jacobian norms of the network's output and loss.

Both functions treat every example on its own: the model must not mix examples (no
BatchNorm in training mode) and must be deterministic (dropout off). Call
``model.eval()`` first; under `torch.func.vmap` random dropout raises an error.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from trainlab.errors import BadInput

_PER_EXAMPLE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": lambda out, y: F.cross_entropy(out, y, reduction="none"),
    "mse": lambda out, y: F.mse_loss(out, y.reshape(out.shape), reduction="none").flatten(1).sum(1),
}


def _first_linear(model: nn.Module, x: Tensor) -> tuple[nn.Linear, nn.Module] | None:
    """(first layer, the rest) when `model` is an `nn.Sequential` that opens with
    [Flatten,] Linear and maps each example of `x` through that layer whole."""
    if not isinstance(model, nn.Sequential):
        return None
    layers = list(model)
    i, flattened = 0, False
    while i < len(layers) and (isinstance(layers[i], nn.Identity) or (
            isinstance(layers[i], nn.Flatten) and layers[i].start_dim == 1
            and layers[i].end_dim == -1)):
        flattened = flattened or isinstance(layers[i], nn.Flatten)
        i += 1
    if i + 1 >= len(layers) or not isinstance(layers[i], nn.Linear):
        return None
    if not (x.dim() == 2 or flattened) or x[0].numel() != layers[i].in_features:
        return None
    return layers[i], nn.Sequential(*layers[i + 1:])


def jacobian_norms(
    model: nn.Module, x: Tensor, chunk_size: int = 256, softmax: bool = True
) -> Tensor:
    """Return ``||d softmax(f(x_i)) / d x_i||_F`` for every example, shape ``(N,)``.

    The sensitivity measure of Novak et al. (ICLR 2018): the Frobenius norm of the
    Jacobian of the class probabilities (``C`` outputs) with respect to the input
    (``D`` numbers), for each example separately. Since examples do not mix (see the
    module docstring), one backward of ``sum_i p_c(x_i)`` gives row ``c`` of every
    example's Jacobian at once: ``C`` backward passes through a chunk of ``chunk_size``
    examples (memory ``chunk_size * C * D``), not one Jacobian per example.

    When the model is an `nn.Sequential` that opens with a linear layer ``W`` (H x D)
    narrower than its input (H < D, e.g. 784 -> 256), the chain rule ``J = J_rest(h) W``
    and ``W^T = Q R`` (QR, ``Q`` with orthonormal columns) give ``||J||_F = ||J_rest
    R^T||_F``: only the ``C x H`` Jacobian of the rest of the network is taken per
    example, times the triangular ``R^T`` (H x H) in column blocks that skip its zero
    upper part — about ``0.6 N C H^2`` multiply-adds instead of ``N C H D``.

    Args:
        model: in eval mode (see the module docstring); its parameters are constants.
        x: inputs ``(N, ...)``; each ``x[i]`` is one example.
        softmax: ``False`` differentiates the raw outputs (logits) instead.
    """
    if x.dim() < 1 or x.shape[0] == 0:
        raise BadInput(f"x must be a non-empty batch (N, ...), got {tuple(x.shape)}")
    if chunk_size < 1:
        raise BadInput(f"chunk_size must be positive, got {chunk_size}")
    x = x.detach()
    split = _first_linear(model, x)
    tri = None
    if split is not None and split[0].out_features < split[0].in_features:
        first, model = split
        with torch.no_grad():
            x = F.linear(x.reshape(x.shape[0], -1), first.weight, first.bias)
            r = torch.linalg.qr(first.weight.T, mode="r")[1]  # (H, H) upper triangular
            tri = r.T.to(x.dtype)  # lower triangular: ||J W||_F = ||J R^T||_F
        # per-chunk Jacobians are C x H now, not C x D: same memory, larger chunks
        chunk_size *= max(1, first.in_features // first.out_features)
    norms = []
    for part in x.split(chunk_size):
        rows = _jacobian_rows(model, part, softmax)  # (K, n, F)
        with torch.no_grad():
            if tri is None:
                squared = rows.square().sum((0, 2))
            else:
                squared = _triangular_square_norms(rows.reshape(-1, rows.shape[2]), tri)
                squared = squared.reshape(rows.shape[0], rows.shape[1]).sum(0)
        norms.append(squared.sqrt())
    return torch.cat(norms)


def _jacobian_rows(model: nn.Module, x: Tensor, softmax: bool) -> Tensor:
    """``(K, n, F)``: row ``k`` of each example's Jacobian of its ``K`` outputs (softmax
    taken over the last output axis) with respect to its ``F`` input numbers."""
    n = x.shape[0]
    xs = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(xs)
        if out.shape[:1] != (n,):
            raise BadInput(f"the model maps {n} examples to an output of shape "
                           f"{tuple(out.shape)}; expected ({n}, ...)")
        flat = (torch.softmax(out, dim=-1) if softmax else out).reshape(n, -1)
        k = flat.shape[1]
        rows = []
        for c in range(k):
            (g,) = torch.autograd.grad(flat[:, c].sum(), xs, retain_graph=c < k - 1,
                                       allow_unused=True)
            rows.append(torch.zeros_like(xs) if g is None else g)
    return torch.stack(rows).reshape(k, n, -1)


def _triangular_square_norms(m: Tensor, lower: Tensor, blocks: int = 4) -> Tensor:
    """Row-wise ``||m @ lower||^2`` for a lower-triangular ``lower`` (H x H): column block
    ``[a, b)`` of the product needs only rows ``a:`` of ``lower``, so ``blocks`` blocks
    cost ``(blocks + 1) / (2 blocks)`` of the full product."""
    h = lower.shape[0]
    width = -(-h // max(1, min(blocks, h)))
    total = m.new_zeros(m.shape[0])
    for a in range(0, h, width):
        part = m[:, a:] @ lower[a:, a: a + width]
        total += torch.linalg.vector_norm(part, dim=1).square()
    return total


def loss_input_grad_norms(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    loss: str | Callable[[Tensor, Tensor], Tensor] = "cross_entropy",
) -> Tensor:
    """Return ``||d loss_i / d x_i||_2`` for every example, shape ``(N,)``.

    One backward of ``sum_i loss_i`` gives all per-example input gradients at once:
    ``loss_j`` does not depend on ``x_i`` for ``j != i`` when examples are independent
    (eval mode, see the module docstring), so row ``i`` of the input gradient is
    ``d loss_i / d x_i``.

    Args:
        loss: ``"cross_entropy"`` (``y`` class indices ``(N,)``), ``"mse"`` (summed over
            outputs) or a callable ``(output, y) -> (N,)`` per-example losses.
    """
    if isinstance(loss, str):
        if loss not in _PER_EXAMPLE:
            raise BadInput(f"unknown loss {loss!r}; expected one of {', '.join(_PER_EXAMPLE)}")
        per_example = _PER_EXAMPLE[loss]
    else:
        per_example = loss
    xs = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        losses = per_example(model(xs), y)
        if losses.shape != (x.shape[0],):
            raise BadInput(
                f"per-example losses must have shape ({x.shape[0]},), got {tuple(losses.shape)}"
            )
        (gx,) = torch.autograd.grad(losses.sum(), xs)
    return gx.reshape(x.shape[0], -1).norm(dim=1)
