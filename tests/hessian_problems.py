"""Small float64 problems whose Hessian torch.func computes exactly, for the estimator tests."""

import torch
from torch import nn

from trainlab.diagnostics import flatten_params, make_loss_fn


def mlp_problem(hidden: int, rows: int, seed: int = 0):
    """A 3-``hidden``-2 tanh MLP under MSE on ``rows`` random rows: (model, f, theta, H).

    ``f`` maps the flat parameters ``theta`` (P,) to the loss; ``H`` (P, P) is its dense
    Hessian at ``theta`` from torch.func.hessian, the oracle. The model is seeded by ``seed``
    and the data by ``seed + 1``.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 2)).double()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(rows, 3, generator=g, dtype=torch.float64)
    y = torch.randn(rows, 2, generator=g, dtype=torch.float64)
    f = make_loss_fn(model, "mse", x, y)
    theta = flatten_params(model)
    return model, f, theta, torch.func.hessian(f)(theta)
