"""Quantities recorded during training: callbacks of `trainlab.train.fit`, ensemble-aware.

Each recorder computes one quantity at its schedule, stores it (on the CPU, member e in
row e) and returns what it stored from `state_dict()`, so that `trainlab resume`
continues exactly; the experiments draw the figures. Each is a `trainlab.callbacks.Callback`
(the protocol of `fit`): `on_step(step, model, losses)` after `backward()` and before the
optimizer step, `on_epoch_end(epoch, model, history) -> bool | None` (True stops the
training), `state_dict()` and `load_state_dict(state)`. ``model`` is a
`trainlab.models.Ensemble` (E members) or any `nn.Module` (read as E = 1); its flat
parameters follow the layout of `trainlab.diagnostics.params`.

- `ParamSnapshots`: the flat parameters ``(E, P)`` at chosen epochs or every k epochs.
- `GradNorms`: per step, the minibatch loss and ‖∇L‖ of every member, whole and per layer.
- `WeightHistograms`: per epoch, one member's weight histogram per layer.
- `StopBelow`: stop once every member's full-data loss is below a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from trainlab.callbacks import Callback
from trainlab.errors import BadInput

from .activations import weight_histograms
from .groups import param_groups
from .params import flatten_params


def _flat(model: nn.Module) -> Tensor:
    """The model's parameters ``(E, P)`` on the CPU, a copy."""
    if hasattr(model, "flat_parameters"):
        return model.flat_parameters().cpu().clone()
    return flatten_params(model).cpu().unsqueeze(0)


class ParamSnapshots(Callback):
    """Keep the flat parameters ``(E, P)`` after the epochs ``at``, or every ``every`` epochs.

    Give exactly one of ``at`` (epoch numbers, 1-based as in `fit`) or ``every`` (k > 0:
    epochs k, 2k, …). `take(epoch, model)` stores one snapshot by hand, for example
    ``take(0, model)`` before `fit` for the initial weights. After training, ``epochs`` lists
    the epochs kept in order, ``params`` the snapshots, and `stacked` returns them as
    ``(E, T, P)``.
    """

    def __init__(self, at: Iterable[int] | None = None, every: int | None = None) -> None:
        if (at is None) == (every is None):
            raise BadInput("ParamSnapshots: give either 'at' (epochs) or 'every' (k)")
        if every is not None and every < 1:
            raise BadInput(f"ParamSnapshots: 'every' must be positive, got {every}")
        self.at = None if at is None else {int(a) for a in at}
        self.every = every
        self.epochs: list[int] = []
        self.params: list[Tensor] = []

    def take(self, epoch: int, model: nn.Module) -> None:
        """Store the current parameters of ``model`` as those of ``epoch``."""
        self.epochs.append(int(epoch))
        self.params.append(_flat(model))

    def on_epoch_end(self, epoch: int, model: nn.Module, history: Any) -> None:
        if (epoch in self.at) if self.at is not None else epoch % self.every == 0:
            self.take(epoch, model)

    def by_epoch(self) -> dict[int, Tensor]:
        """``{epoch: (E, P)}`` of the snapshots."""
        return dict(zip(self.epochs, self.params, strict=True))

    def stacked(self) -> Tensor:
        """``(E, T, P)``: member, snapshot, parameter."""
        if not self.params:
            raise BadInput("ParamSnapshots: no snapshot was taken")
        return torch.stack(self.params, dim=1)

    def state_dict(self) -> dict:
        return {"epochs": list(self.epochs), "params": list(self.params)}

    def load_state_dict(self, state: dict) -> None:
        self.epochs, self.params = list(state["epochs"]), list(state["params"])


def _layer_parameters(model: nn.Module) -> list[list[nn.Parameter]]:
    """The parameters of each `param_groups` group (a module's weight and bias), in order."""
    params = list(model.parameters())
    starts = [0]
    for p in params[:-1]:
        starts.append(starts[-1] + p.numel())
    return [[p for p, s in zip(params, starts, strict=True) if g.start <= s < g.stop]
            for g in param_groups(model)]


class GradNorms(Callback):
    """Per step and member: the minibatch loss and ‖∇L‖, for the whole model and per layer.

    Read in `on_step`, after ``backward()`` and before the optimizer step, when ``.grad``
    holds the gradient of that very minibatch (float64 sums). A layer is a module owning
    parameters (`param_groups`); ``layer_names`` are ``layer1, layer2, …``. After
    training: ``losses`` and ``norms`` are ``(T, E)`` arrays, ``layer_norms`` ``(T, E, L)``.
    """

    def __init__(self, model: nn.Module) -> None:
        self.groups = _layer_parameters(model)
        self.layer_names = [f"layer{i + 1}" for i in range(len(self.groups))]
        self._loss: list[Tensor] = []
        self._layer: list[Tensor] = []

    def on_step(self, step: int, model: nn.Module, losses: Tensor) -> None:
        losses = losses.detach().reshape(-1)
        E = losses.shape[0]
        sq = torch.stack([sum(p.grad.detach().reshape(E, -1).double().pow(2).sum(1)
                              for p in group) for group in self.groups], dim=1)
        self._loss.append(losses.double())
        self._layer.append(sq.sqrt())

    @property
    def losses(self) -> np.ndarray:
        return torch.stack([t.cpu() for t in self._loss]).numpy()

    @property
    def layer_norms(self) -> np.ndarray:
        return torch.stack([t.cpu() for t in self._layer]).numpy()

    @property
    def norms(self) -> np.ndarray:
        return np.sqrt((self.layer_norms ** 2).sum(-1))

    def state_dict(self) -> dict:
        if not self._loss:
            return {}
        return {"loss": torch.from_numpy(self.losses), "layer": torch.from_numpy(self.layer_norms)}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self._loss, self._layer = list(state["loss"]), list(state["layer"])


def layer_labels(net: nn.Module) -> dict[str, str]:
    """``{"0": "conv1", "7": "fc1", ...}``: readable names of the conv and linear layers."""
    labels, counts = {}, {"conv": 0, "fc": 0}
    for name, mod in net.named_modules():
        kind = "conv" if isinstance(mod, nn.Conv2d) else "fc" if isinstance(mod, nn.Linear) else ""
        if kind:
            counts[kind] += 1
            labels[name] = f"{kind}{counts[kind]}"
    return labels


class WeightHistograms(Callback):
    """After every epoch, the weight histogram of each layer of member ``member``.

    ``hists[label]`` is a list of ``[counts (bins,), edges (bins + 1,)]``, one per entry of
    ``epochs``, for the weights (not the biases) of each conv / linear layer, labelled as
    `layer_labels` does (``conv1``, ``fc1``); see `weight_histograms`. `take(0, model)`
    before `fit` records the initialisation. ``writer`` (optional, e.g. a TensorBoard
    ``SummaryWriter``: anything with ``add_histogram(name, values, step)`` and
    ``flush()``) also receives every parameter of the member.
    """

    def __init__(self, bins: int, member: int = 0, writer: Any = None) -> None:
        self.bins, self.member, self.writer = bins, member, writer
        self.epochs: list[int] = []
        self.hists: dict[str, list[list[Tensor]]] = {}

    def take(self, epoch: int, model: nn.Module) -> None:
        """Record the histograms of ``model``'s member now, as those of ``epoch``."""
        net = model.member(self.member) if hasattr(model, "member") else model
        labels = layer_labels(net)
        self.epochs.append(epoch)
        for name, (counts, edges) in weight_histograms(net, self.bins, False).items():
            label = labels[name.rsplit(".", 1)[0]]
            self.hists.setdefault(label, []).append([counts, edges])
        if self.writer is not None:
            for name, p in net.named_parameters():
                self.writer.add_histogram(name, p.detach().cpu(), epoch)
            self.writer.flush()

    def on_epoch_end(self, epoch: int, model: nn.Module, history: Any) -> None:
        self.take(epoch, model)

    def state_dict(self) -> dict:
        return {"epochs": list(self.epochs), "hists": self.hists}

    def load_state_dict(self, state: dict) -> None:
        self.epochs, self.hists = list(state["epochs"]), dict(state["hists"])


class StopBelow(Callback):
    """Stop once every member's ``split/metric`` (default: the full train loss) < threshold.

    Decided on the evaluation of the epoch that just ended (none that epoch: go on), so
    the models compared stop at a matched loss rather than after equal epochs.
    ``stopped_at`` is the epoch that met the rule (None while training goes on).
    """

    def __init__(self, threshold: float, split: str = "train", metric: str = "loss") -> None:
        self.threshold, self.split, self.metric = threshold, split, metric
        self.stopped_at: int | None = None

    def on_epoch_end(self, epoch: int, model: nn.Module, history: Any) -> bool:
        below = bool(history.has(self.split, self.metric) and history.epochs
                     and history.epochs[-1] == epoch
                     and float(np.max(history.final(self.split, self.metric)))
                     < self.threshold)
        if below:
            self.stopped_at = epoch
        return below

    def state_dict(self) -> dict:
        return {"stopped_at": self.stopped_at}

    def load_state_dict(self, state: dict) -> None:
        self.stopped_at = state["stopped_at"]
