"""Ensemble models: E networks of one architecture in one set of stacked tensors.

Every layer (`trainlab.ensemble_layers`) keeps a leading ensemble axis on its
parameters (`weight: (E, out, in)`), so one forward pass of shape
`(E, B, ...) -> (E, B, out)` runs all members with batched matmuls (`baddbmm`) and
grouped convolutions. Member `e` is initialised from its own
generator seeded with `seeds[e]`, exactly as a single model with that seed would be,
and `member(e)` returns it as an ordinary `torch.nn` module for the diagnostics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.diagnostics.params import count_params
from trainlab.ensemble_layers import (
    ACTIVATIONS,
    EnsembleConv2d,
    EnsembleLinear,
    activate,
    draw_init,
    dropout,
    member_activations,
    scale_init_,
)

# Layouts of the activations between layers: "ebf" (E, B, features...), "conv"
# (B, E*C, H, W) between convolutions (grouped conv2d), "efb" (E, features, B) between
# linear layers (features-major matmuls).


def _to_ebf(x: torch.Tensor, layout: str, B: int, E: int) -> torch.Tensor:
    """Activations in `layout` as (E, B, features...)."""
    if layout == "conv":
        return x.reshape(B, E, -1).transpose(0, 1)
    if layout == "efb":
        return x.transpose(1, 2)
    return x


def _to_conv(x: torch.Tensor, layout: str, B: int, E: int) -> torch.Tensor:
    """Activations in `layout` as the (B, E*C, H, W) input of a grouped convolution."""
    if layout == "efb":
        x, layout = x.transpose(1, 2), "ebf"
    if layout == "ebf":
        x = x.transpose(0, 1).reshape(B, E * x.shape[2], *x.shape[3:])
    if torch.is_autocast_enabled(x.device.type):
        # bfloat16 convolutions run ~1.3x faster channels-last (oneDNN), and
        # max-pooling ~10x; a one-channel input would otherwise keep NCHW
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _to_efb(x: torch.Tensor, layout: str, B: int, E: int) -> torch.Tensor:
    """Activations in `layout` as the (E, features, B) input of a linear layer."""
    if layout == "conv":
        return x.reshape(B, E, -1).permute(1, 2, 0)
    if layout == "ebf":
        return x.reshape(E, B, -1).transpose(1, 2)
    return x


class Ensemble(nn.Module):
    """A stack of ensemble layers and parameter-free steps described by a layer spec.

    Spec items: `("linear", out)`, `("conv", out, kernel[, stride, padding])`,
    `("act", name)` or `("act", (name_0, ..., name_{E-1}))` (one activation per member,
    so architectures that differ only there train as one ensemble), `("maxpool", k)`,
    `("dropout", p)`, `("flatten",)`.
    Inputs are `(E, B, *input_shape)`, or `(B, *input_shape)` shared by all members;
    outputs `(E, B, out)`.
    """

    def __init__(self, spec: Sequence[tuple], input_shape: Sequence[int],
                 seeds: Sequence[int], init_std: float | None = None):
        super().__init__()
        self.E = len(seeds)
        self.seeds = list(seeds)
        self.spec = [tuple(s) for s in spec]
        self.input_shape = tuple(input_shape)
        self.layers = nn.ModuleList()
        shape = self.input_shape
        widest = math.prod(shape)
        for item in self.spec:
            kind = item[0]
            if kind == "linear":
                layer = EnsembleLinear(self.E, math.prod(shape), item[1])
                shape = (item[1],)
            elif kind == "conv":
                stride = item[3] if len(item) > 3 else 1
                pad = item[4] if len(item) > 4 else 0
                layer = EnsembleConv2d(self.E, shape[0], item[1], item[2], stride, pad)
                h = (shape[1] + 2 * pad - item[2]) // stride + 1
                w = (shape[2] + 2 * pad - item[2]) // stride + 1
                shape = (item[1], h, w)
            elif kind == "maxpool":
                layer = nn.Identity()
                shape = (shape[0], shape[1] // item[1], shape[2] // item[1])
            elif kind == "flatten":
                layer = nn.Identity()
                shape = (math.prod(shape),)
            elif kind in ("act", "dropout"):
                if kind == "act":
                    names = member_activations(item[1], self.E)
                    if any(n not in ACTIVATIONS for n in names):
                        raise ValueError(f"unknown activation {item[1]!r}")
                layer = nn.Identity()
            else:
                raise ValueError(f"unknown layer kind {kind!r}")
            self.layers.append(layer)
            widest = max(widest, math.prod(shape))
        self.output_shape = shape
        # numbers per example and member of the largest activation (sizes eval batches)
        self.widest_activation = widest
        self.init_std = init_std
        self._initialise(list(enumerate(self.seeds)))

    def _initialise(self, members: list[tuple[int, int]]) -> None:
        """Initialise every member e from its seed; `members` lists all (e, seed) pairs."""
        # Member e draws every tensor from its own generator, in layer order, as a single
        # model would; the scaling then runs once per tensor instead of once per member.
        tensors = [(layer.fan_in, p.data) for layer in self.layers
                   if isinstance(layer, (EnsembleLinear, EnsembleConv2d))
                   for p in (layer.weight, layer.bias)]
        slices = [t.unbind(0) for _, t in tensors]
        for e, seed in members:
            gen = torch.Generator().manual_seed(seed)
            for rows in slices:
                draw_init(rows[e], gen, self.init_std)
        for fan_in, t in tensors:
            scale_init_(t, fan_in, self.init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(E, B, *input_shape), or (B, *input_shape) shared by all members -> (E, B, out)."""
        if x.dim() == len(self.input_shape) + 1:  # shared input: (B, ...)
            x = x.unsqueeze(0).expand(self.E, *x.shape)
        B = x.shape[1]
        layout = "ebf"
        for item, layer in zip(self.spec, self.layers, strict=True):
            x, layout = self._layer_forward(item, layer, x, layout, B)
        return _to_ebf(x, layout, B, self.E)

    def _layer_forward(self, item: tuple, layer: nn.Module, x: torch.Tensor, layout: str,
               B: int) -> tuple[torch.Tensor, str]:
        """One spec item on x in `layout` (see `_to_ebf`): the output and its layout."""
        kind, E = item[0], self.E
        if kind == "conv":
            return layer(_to_conv(x, layout, B, E)), "conv"
        if kind == "linear":
            return layer.forward_features_major(_to_efb(x, layout, B, E)), "efb"
        if kind == "act":
            return activate(item[1], x), layout
        if kind == "maxpool":
            x = F.max_pool2d(x, item[1])
            if torch.is_autocast_enabled(x.device.type):
                # back to NCHW here, on the pooled (4x smaller) tensor, so the pool's
                # gradient arrives channels-last
                x = x.contiguous()
            return x, layout
        if kind == "dropout":
            return dropout(x, item[1], self.training), layout
        if kind == "flatten" and layout == "conv":
            return _to_ebf(x, layout, B, E), "ebf"
        if kind == "flatten" and layout == "ebf":
            return x.reshape(E, B, -1), layout
        return x, layout  # flatten in "efb": already flat

    def member(self, e: int) -> nn.Sequential:
        """Member `e` as an ordinary `nn.Sequential` with copied weights (same dtype)."""
        modules: list[nn.Module] = []
        needs_flatten = len(self.input_shape) > 1
        for item, layer in zip(self.spec, self.layers, strict=True):
            kind = item[0]
            if kind == "linear":
                if needs_flatten:
                    modules.append(nn.Flatten())
                    needs_flatten = False
                modules.append(layer.member(e))
            elif kind == "conv":
                modules.append(layer.member(e))
                needs_flatten = True
            elif kind == "act":
                modules.append(ACTIVATIONS[member_activations(item[1], self.E)[e]][1]())
            elif kind == "maxpool":
                modules.append(nn.MaxPool2d(item[1]))
            elif kind == "dropout":
                modules.append(nn.Dropout(item[1]))
            elif kind == "flatten":
                modules.append(nn.Flatten())
                needs_flatten = False
        return nn.Sequential(*modules).to(next(self.parameters()).device)

    # The flat helpers follow the one layout of `trainlab.diagnostics.params`: row e of
    # `flat_parameters()` is member e's vector, equal to `flatten_params(member(e))`.
    def member_vector(self, e: int) -> torch.Tensor:
        """Member `e`'s parameters as one flat vector `(P,)` (kept in the autograd graph)."""
        return torch.cat([p[e].reshape(-1) for p in self.parameters()])

    def flat_parameters(self) -> torch.Tensor:
        """All members' parameters as `(E, P)`, detached (the layout of `diagnostics.params`)."""
        return torch.cat([p.detach().reshape(self.E, -1) for p in self.parameters()], dim=1)

    def load_flat(self, flat: torch.Tensor) -> None:
        """Set all members' parameters from `(E, P)`, in place."""
        offset = 0
        with torch.no_grad():
            for p in self.parameters():
                n = p[0].numel()
                p.copy_(flat[:, offset:offset + n].reshape(p.shape))
                offset += n

    def params_per_member(self) -> int:
        """P, the number of parameters of one member (`diagnostics.count_params` / E)."""
        return count_params(self) // self.E


# ----------------------------------------------------------------- architectures


def mlp_spec(widths: Sequence[int], activation: str | Sequence = "relu",
             out_features: int = 1) -> list[tuple]:
    """Layer spec of an MLP with hidden `widths` and one activation per hidden layer.

    `activation`: one name for every hidden layer, or one entry per hidden layer, each a
    name or a tuple of per-member names.
    """
    acts = [activation] * len(widths) if isinstance(activation, str) else [
        a if isinstance(a, str) else tuple(a) for a in activation]
    if len(acts) != len(widths):
        raise ValueError("one activation per hidden layer expected")
    spec: list[tuple] = []
    for w, a in zip(widths, acts, strict=True):
        spec += [("linear", int(w)), ("act", a)]
    return spec + [("linear", int(out_features))]


def mlp(widths: Sequence[int], in_features: int, out_features: int, seeds: Sequence[int],
        activation: str | Sequence[str] = "relu", init_std: float | None = None) -> Ensemble:
    """E MLPs `in -> widths... -> out`."""
    return Ensemble(mlp_spec(widths, activation, out_features), (in_features,), seeds, init_std)


def pytorch_examples_cnn_spec(num_classes: int = 10) -> list[tuple]:
    """The CNN of pytorch/examples `mnist/main.py`: conv32-conv64-maxpool-drop-fc128-drop-fc."""
    return [("conv", 32, 3), ("act", "relu"), ("conv", 64, 3), ("act", "relu"),
            ("maxpool", 2), ("dropout", 0.25), ("flatten",), ("linear", 128),
            ("act", "relu"), ("dropout", 0.5), ("linear", num_classes)]


def small_cnn_spec(channels: Sequence[int], hidden: int = 0, num_classes: int = 10,
                   kernel: int = 3, pool_every: int = 1) -> list[tuple]:
    """Conv blocks (conv-relu[-maxpool2]) with `channels`, then an optional FC layer."""
    spec: list[tuple] = []
    for i, c in enumerate(channels):
        spec += [("conv", int(c), kernel, 1, kernel // 2), ("act", "relu")]
        if (i + 1) % pool_every == 0:
            spec.append(("maxpool", 2))
    spec.append(("flatten",))
    if hidden:
        spec += [("linear", int(hidden)), ("act", "relu")]
    return spec + [("linear", num_classes)]


def mlp_param_count(in_features: int, widths: Sequence[int], out_features: int) -> int:
    """P of an MLP `in -> widths... -> out` with biases, without building it.

    The one formula of trainlab (the critical-point tests use it too);
    for a built module count with `trainlab.diagnostics.count_params`.
    """
    dims = [in_features, *widths, out_features]
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:], strict=False))


def size_to_budget(depth: int, budget: int, in_features: int = 1,
                   out_features: int = 1) -> list[int]:
    """Hidden widths of a `depth`-hidden-layer MLP whose parameter count is near `budget`.

    All hidden layers get the same width w (the nearest integer solution of the
    count's quadratic), then the last hidden layer is nudged to land within 2 % of
    the budget when the integer grid allows.
    """
    if depth < 1 or budget < 1:
        raise ValueError("depth and budget must be positive")
    best = None
    for w in range(1, budget + 1):
        widths = [w] * depth
        n = mlp_param_count(in_features, widths, out_features)
        if best is None or abs(n - budget) < abs(best[0] - budget):
            best = (n, widths)
        if n > budget:
            break
    widths = best[1]
    # fine tune the last hidden width
    for last in range(max(1, widths[-1] - 50), widths[-1] + 51):
        cand = widths[:-1] + [last]
        n = mlp_param_count(in_features, cand, out_features)
        if abs(n - budget) < abs(mlp_param_count(in_features, widths, out_features) - budget):
            widths = cand
    return widths
