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
    (``D`` numbers), for each example separately. Computed with
    ``torch.func.vmap(torch.func.jacrev(g))`` where ``g`` runs the model on one example
    (``x_i.unsqueeze(0)``), ``chunk_size`` examples at a time (memory ``chunk_size * C * D``).

    When the model is an `nn.Sequential` that opens with a linear layer ``W`` (H x D)
    narrower than its input (H < D, e.g. 784 -> 256), the chain rule
    ``J = J_rest(h) W`` gives ``||J||_F^2 = tr(J_rest (W W^T) J_rest^T)``: only the
    ``C x H`` Jacobian of the rest of the network is taken per example, against the
    ``H x H`` Gram matrix computed once — ``N C H^2`` instead of ``N C H D`` work.

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
    gram = None
    if split is not None and split[0].out_features < split[0].in_features:
        first, model = split
        with torch.no_grad():
            x = F.linear(x.reshape(x.shape[0], -1), first.weight, first.bias)
            gram = first.weight @ first.weight.T  # (H, H)
        # per-chunk Jacobians are C x H now, not C x D: same memory, larger chunks
        chunk_size *= max(1, first.in_features // first.out_features)

    def g(xi: Tensor) -> Tensor:
        out = model(xi.unsqueeze(0)).squeeze(0)
        return torch.softmax(out, dim=-1) if softmax else out

    per_example = torch.func.vmap(torch.func.jacrev(g))
    norms = []
    with torch.no_grad():  # jacrev differentiates on its own; no graph of the parameters
        for part in x.split(chunk_size):
            jac = per_example(part).reshape(part.shape[0], -1, part[0].numel())  # (n, C, D|H)
            if gram is None:
                norms.append(jac.reshape(part.shape[0], -1).norm(dim=1))
            else:
                squared = ((jac @ gram) * jac).sum((1, 2))
                norms.append(squared.clamp_min(0).sqrt())
    return torch.cat(norms)


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
