"""The measured object: a user's model in eval mode, its loss, a fixed data sample.

`build_probe` checks everything before any run folder exists (wrong shapes, a loss that
is not a scalar, mismatched checkpoints are `BadInput`) and fixes the samples every
diagnostic shares: ``n_train`` seeded training examples for the loss, ``n_eval``
evaluation examples for the sensitivity.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from trainlab.diagnostics import count_params, flatten_params, make_loss_fn
from trainlab.diagnostics.groups import ParamGroup, param_groups
from trainlab.diagnostics.params import LossFn
from trainlab.diagnostics.trace import Subspace
from trainlab.errors import BadInput

from .spec import Split, normalize_data, state_of, trajectory_files

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": F.cross_entropy, "mse": F.mse_loss}
STOCHASTIC = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


@dataclass
class Probe:
    """Everything the diagnostics share (tensors on ``device``; ``theta`` is ``(P,)``)."""

    model: nn.Module
    criterion: Callable[[Tensor, Tensor], Tensor]
    loss_name: str
    train: Split
    eval: Split
    eval_name: str
    device: torch.device
    theta: Tensor
    loss_fn: LossFn
    groups: list[ParamGroup]
    classification: bool
    layers_in_train_mode: list[str]
    compare: dict[str, Tensor] | None = None
    trajectory: list[dict[str, Tensor]] = field(default_factory=list)
    trajectory_names: list[str] = field(default_factory=list)
    auto_chunk: int | None = None
    # the Krylov basis and products of the `hessian` diagnostic's Lanczos run, which the
    # `trace` diagnostic takes as its exact subspace instead of building its own
    krylov: Subspace | None = None
    keep_krylov: bool = False  # set when `trace` runs after `hessian`

    def hvp_chunk(self, cfg) -> int:
        """Examples per Hessian-product micro-batch: ``cfg.hvp_chunk``, or when it is 0 the
        largest that keeps one graph within ``cfg.hvp_mib`` (0: all examples at once)."""
        if cfg.hvp_chunk > 0:
            return cfg.hvp_chunk
        if self.auto_chunk is None:
            from .memory import auto_chunk

            self.auto_chunk = auto_chunk(self.model, self.criterion, *self.train, self.theta,
                                         cfg.hvp_mib)
        return self.auto_chunk

    def operator(self, chunk: int):
        """``v -> H v`` of the training loss: one retained graph, or micro-batches of ``chunk``.

        Micro-batch Hessians are weighted by their share of the examples, which gives the
        Hessian of the whole sample for a loss that is a mean over examples.
        """
        from trainlab.diagnostics import hvp_operator
        from trainlab.diagnostics.eigen import chunked_hvp_operator

        x, y = self.train
        if chunk <= 0 or chunk >= x.shape[0]:
            return hvp_operator(self.loss_fn, self.theta)
        fns = [make_loss_fn(self.model, self.criterion, xc, yc)
               for xc, yc in zip(x.split(chunk), y.split(chunk), strict=True)]
        weights = [xc.shape[0] / x.shape[0] for xc in x.split(chunk)]
        return chunked_hvp_operator(fns, weights, self.theta)

    def micro_batch_operator(self, cfg):
        """`operator` in micro-batches when ``hvp_chunk`` asks for them, else None (the
        diagnostic then takes the products of ``loss_fn``, one retained graph)."""
        chunk = self.hvp_chunk(cfg)
        return self.operator(chunk) if chunk else None

    @property
    def params(self) -> int:
        """P, the number of scalar parameters."""
        return self.theta.numel()

    def loss_at(self, theta: Tensor, split: Split, buffers: dict | None = None) -> float:
        """The loss of ``split`` with flat weights ``theta`` (and ``buffers``, if given)."""
        f = make_loss_fn(self.model, self.criterion, *split) if buffers is None else \
            _loss_with_buffers(self.model, self.criterion, split, buffers)
        with torch.no_grad():
            return float(f(theta.to(self.theta.dtype)))


def _loss_with_buffers(model, criterion, split, buffers) -> LossFn:
    from trainlab.diagnostics import unflatten_like

    x, y = split

    def f(theta: Tensor) -> Tensor:
        out = torch.func.functional_call(model, (unflatten_like(model, theta), buffers), (x,))
        return criterion(out, y)

    return f


def _criterion(loss: Any) -> tuple[Callable[[Tensor, Tensor], Tensor], str]:
    if loss is None:
        return LOSSES["cross_entropy"], "cross_entropy"
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise BadInput(f"loss {loss!r}: expected 'cross_entropy', 'mse' or a callable")
        return LOSSES[loss], loss
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__)
    raise BadInput(f"loss: expected a name or a callable, got {type(loss).__name__}")


def _subset(split: Split, n: int, gen: torch.Generator) -> Split:
    x, y = split
    if n == 0 or n >= x.shape[0]:
        return x, y
    idx = torch.randperm(x.shape[0], generator=gen)[:n].sort().values
    return x[idx], y[idx]


def _check_forward(model: nn.Module, criterion, split: Split, what: str) -> Tensor:
    x, y = split
    try:
        with torch.no_grad():
            out = model(x[:2])
    except Exception as exc:
        raise BadInput(f"model(x) fails on the {what} data {tuple(x.shape)}: "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                       ) from None
    if not isinstance(out, Tensor) or out.shape[:1] != x[:2].shape[:1]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise BadInput(f"model(x) returned {shape} for x {tuple(x[:2].shape)}: expected one "
                       "output row per example")
    try:
        value = criterion(out, y[:2])
    except Exception as exc:
        raise BadInput(f"loss(output {tuple(out.shape)}, y {tuple(y[:2].shape)}) raised "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                       ) from None
    if not isinstance(value, Tensor) or value.dim() != 0:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise BadInput(f"the loss returned {shape}, not a scalar (reduce it, e.g. .mean())")
    return out


def build_probe(model: nn.Module, data: Any, loss: Any, cfg, device: torch.device,
                checkpoint: Any = None, compare: Any = None, trajectory: Any = None) -> Probe:
    """Validate the inputs and fix the shared samples (see the module docstring).

    ``checkpoint`` and ``compare`` are paths, state dicts or modules; ``trajectory`` a
    folder of state dicts or a list of them. The model is put in eval mode on ``device``.
    """
    criterion, loss_name = _criterion(loss)
    model = copy.deepcopy(model)  # the caller's module keeps its weights, mode and device
    train, evaluation, eval_name = normalize_data(data)
    if count_params(model) == 0:
        raise BadInput("the model has no parameters")
    if checkpoint not in (None, ""):
        model.load_state_dict(state_of(model, checkpoint, f"checkpoint {checkpoint}"))
    trained_modes = [n for n, m in model.named_modules()
                     if isinstance(m, (nn.modules.batchnorm._BatchNorm, *STOCHASTIC))]
    model = model.to(device).eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    train = tuple(t.to(device) for t in _subset(train, cfg.n_train, gen))
    evaluation = tuple(t.to(device) for t in _subset(evaluation, cfg.n_eval, gen))
    out = _check_forward(model, criterion, train, "training")
    _check_forward(model, criterion, evaluation, eval_name)
    classification = (out.dim() == 2 and out.shape[1] > 1 and not train[1].is_floating_point())
    for p in model.parameters():
        p.requires_grad_(False)  # the diagnostics differentiate functional copies only
    theta = flatten_params(model)
    probe = Probe(model=model, criterion=criterion, loss_name=loss_name, train=train,
                  eval=evaluation, eval_name=eval_name, device=device, theta=theta,
                  loss_fn=make_loss_fn(model, criterion, *train), groups=param_groups(model),
                  classification=classification, layers_in_train_mode=trained_modes)
    if compare not in (None, ""):
        probe.compare = _on(state_of(model, compare, f"--compare {compare}"), device)
    _add_trajectory(probe, trajectory)
    return probe


def _on(state: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.detach().to(device) for k, v in state.items()}


def _add_trajectory(probe: Probe, trajectory: Any) -> None:
    if trajectory in (None, ""):
        return
    if isinstance(trajectory, (list, tuple)):
        items = list(enumerate(trajectory))
        names = [f"#{i}" for i, _ in items]
        if len(items) < 3:
            raise BadInput(f"trajectory: needs at least 3 checkpoints, got {len(items)}")
    else:
        files = trajectory_files(trajectory)
        items, names = list(enumerate(files)), [p.name for p in files]
    for (_, given), name in zip(items, names, strict=True):
        probe.trajectory.append(_on(state_of(probe.model, given, f"trajectory {name}"),
                                    probe.device))
    probe.trajectory_names = names


def flat_of(probe: Probe, state: dict[str, Tensor]) -> Tensor:
    """The flat ``(P,)`` parameter vector of a state dict, in the model's order."""
    return torch.cat([state[n].reshape(-1).to(probe.theta) for n, _ in
                      probe.model.named_parameters()])


def buffers_of(probe: Probe, state: dict[str, Tensor] | None) -> dict[str, Tensor]:
    """The model's buffers, or those of ``state`` when given."""
    own = dict(probe.model.named_buffers())
    return own if state is None else {k: state[k].to(v.device) for k, v in own.items()}
