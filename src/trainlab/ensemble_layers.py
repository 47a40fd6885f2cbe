"""The layers of an ensemble: stacked linear and convolution layers, activations, dropout.

Every layer keeps a leading ensemble axis on its parameters (`weight: (E, out, in)`).
Linear layers work on activations stored features-major, `(E, features, batch)`;
convolutions on `(batch, E * channels, H, W)` as one grouped convolution. `Ensemble`
(in `trainlab.models`) chains them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The names of `ACTIVATIONS`, for typed config fields (tests/test_ensemble_layers.py checks
# that the two agree).
ActivationName = Literal["relu", "sigmoid", "tanh", "gelu", "elu", "leaky_relu", "softplus",
                         "identity"]

ACTIVATIONS = {
    "relu": (F.relu, nn.ReLU),
    "sigmoid": (torch.sigmoid, nn.Sigmoid),
    "tanh": (torch.tanh, nn.Tanh),
    "gelu": (F.gelu, nn.GELU),
    "elu": (F.elu, nn.ELU),
    "leaky_relu": (F.leaky_relu, nn.LeakyReLU),
    "softplus": (F.softplus, nn.Softplus),
    "identity": (lambda x: x, nn.Identity),
}


def draw_init(out: torch.Tensor, gen: torch.Generator, init_std: float | None) -> None:
    """Raw draws into one member's slice: N(0, 1) with `init_std`, else U[0, 1)."""
    (torch.randn if init_std is not None else torch.rand)(out.shape, generator=gen, out=out)


def scale_init_(t: torch.Tensor, fan_in: int, init_std: float | None) -> None:
    """Turn raw draws into N(0, init_std²) or PyTorch's default U(±1/sqrt(fan_in)).

    PyTorch's default for Linear/Conv (kaiming_uniform with a=sqrt(5)) is
    U(±1/sqrt(fan_in)), drawn as rand·2b − b; the same arithmetic on all members at
    once gives the same bits as on each alone.
    """
    if init_std is not None:
        t.mul_(init_std)
    else:
        bound = 1.0 / math.sqrt(fan_in)
        t.mul_(2 * bound).sub_(bound)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (as `F.dropout`) whose CPU mask comes from NumPy's PCG64.

    Torch's CPU `bernoulli_` draws one Mersenne-Twister number at a time: 7.5 ms for the
    590k activations of a pytorch/examples CNN batch, a fifth of a bfloat16 training
    step. NumPy fills the same mask in ~2 ms. The PCG64 seed is drawn from torch's
    global generator, so `torch.manual_seed` and checkpointed RNG state still decide
    every mask. CUDA keeps `F.dropout`.
    """
    if not training or p == 0.0 or x.device.type != "cpu":
        return F.dropout(x, p, training)
    if p >= 1.0:
        return x * 0.0
    seed = int(torch.randint(0, 2 ** 62, (1,)))
    u = np.random.Generator(np.random.PCG64(seed)).random(x.numel(), dtype=np.float32)
    keep = torch.from_numpy(u).reshape(x.shape) >= p
    scale = torch.tensor(1.0 / (1.0 - p), dtype=x.dtype)
    return x * torch.where(keep, scale, torch.zeros((), dtype=x.dtype))


def member_activations(names: str | Sequence[str], E: int) -> list[str]:
    """One activation name per member: a shared name, or a sequence of E names."""
    if isinstance(names, str):
        return [names] * E
    if len(names) != E:
        raise ValueError(f"{len(names)} activations for {E} members")
    return list(names)


def activate(names: str | Sequence[str], x: torch.Tensor) -> torch.Tensor:
    """Apply a shared activation, or member e's own to x[e] (members are axis 0)."""
    if isinstance(names, str):
        return ACTIVATIONS[names][0](x)
    return torch.stack([ACTIVATIONS[n][0](x[e]) for e, n in enumerate(names)])


class EnsembleLinear(nn.Module):
    """E linear layers: `(E, B, in) -> (E, B, out)`."""

    def __init__(self, ensemble_size: int, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(ensemble_size, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(ensemble_size, out_features))

    @property
    def fan_in(self) -> int:
        return self.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features_major(x.transpose(1, 2)).transpose(1, 2)

    def forward_features_major(self, h: torch.Tensor) -> torch.Tensor:
        """`(E, in, B) -> (E, out, B)`, as `W h + b`.

        With the batch as the long inner axis, every batched GEMM of the forward and
        backward pass has B as its N dimension, which MKL runs 1.4-2x faster for the
        small per-member matrices of an ensemble than `x W^T` (measured for 10x10 to
        784x256 layers, see bench/ensemble.py), and the activations between layers stay
        contiguous, so element-wise steps and their gradients never mix layouts. (Even
        for one input, where this is an outer product, `baddbmm` beats `addcmul` here:
        forward and backward 100 µs vs 146 µs for 100 members, 10 units, batch 100.)
        """
        return torch.baddbmm(self.bias.unsqueeze(2), self.weight, h)

    def member(self, e: int) -> nn.Linear:
        layer = nn.Linear(self.in_features, self.out_features, dtype=self.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.weight[e])
            layer.bias.copy_(self.bias[e])
        return layer


class EnsembleConv2d(nn.Module):
    """E conv layers as one grouped convolution on `(B, E*C, H, W)` activations."""

    def __init__(self, ensemble_size: int, in_channels: int, out_channels: int,
                 kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.E, self.cin, self.cout = ensemble_size, in_channels, out_channels
        self.k, self.stride, self.padding = kernel_size, stride, padding
        self.weight = nn.Parameter(
            torch.empty(ensemble_size, out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(ensemble_size, out_channels))

    @property
    def fan_in(self) -> int:
        return self.cin * self.k * self.k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.reshape(self.E * self.cout, self.cin, self.k, self.k)
        return F.conv2d(x, w, self.bias.reshape(-1), self.stride, self.padding, groups=self.E)

    def member(self, e: int) -> nn.Conv2d:
        layer = nn.Conv2d(self.cin, self.cout, self.k, self.stride, self.padding,
                          dtype=self.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.weight[e])
            layer.bias.copy_(self.bias[e])
        return layer
