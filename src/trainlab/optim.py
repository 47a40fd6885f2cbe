"""The optimizers of `train.fit`: their registry, their settings, and L-BFGS.

The first-order optimizers (`trainlab.ensemble_optim`) work over stacked ensemble
parameters with one learning rate per member; `make_optimizer` builds them by name.

L-BFGS is `torch.optim.LBFGS` itself, behind the same protocol (`EnsembleLBFGS`). Its
line search sums the losses it is given, so it would couple the members of an
ensemble: it refuses E > 1 (`BadInput`); train one model per fit instead.

`OPTIMIZERS` is the registry (one `OptimInfo` per name, as timm's `OptimInfo`),
`OptimizerName` the matching `Literal` for experiment configs, and `OptimSpec` the
settings `train.fit` takes, read from a config with `OptimSpec.from_config(cfg)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

import torch

from trainlab.ensemble_optim import SGD, Adadelta, Adagrad, Adam, EnsembleOptimizer, RMSprop
from trainlab.errors import BadInput

OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "adam", "rmsprop",
                        "lbfgs"]


@dataclass(frozen=True)
class OptimInfo:
    """What an optimizer is: `has_momentum` (uses `momentum`), `second_order` (steps with
    a closure, several function evaluations per step) and `ensembles` (trains E members
    independently in one fit; False for L-BFGS, whose line search would couple them)."""

    name: str
    description: str
    has_momentum: bool = False
    second_order: bool = False
    ensembles: bool = True


OPTIMIZER_INFO = {info.name: info for info in (
    OptimInfo("sgd", "SGD; momentum > 0 makes it heavy-ball SGD", has_momentum=True),
    OptimInfo("momentum", "SGD with momentum (0.9 unless given)", has_momentum=True),
    OptimInfo("nesterov", "SGD with Nesterov momentum (0.9 unless given)", has_momentum=True),
    OptimInfo("adagrad", "Adagrad"),
    OptimInfo("adadelta", "Adadelta (lr 1.0 is the paper's)"),
    OptimInfo("adam", "Adam, bias-corrected"),
    OptimInfo("rmsprop", "RMSprop (alpha 0.99)"),
    OptimInfo("lbfgs", "torch.optim.LBFGS, strong-Wolfe line search; one model per fit",
              second_order=True, ensembles=False),
)}
OPTIMIZERS = tuple(OPTIMIZER_INFO)
assert OPTIMIZERS == get_args(OptimizerName), "OptimizerName and OPTIMIZER_INFO differ"


def make_optimizer(name: str, params: Sequence[torch.Tensor], lr, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> EnsembleOptimizer:
    """An ensemble optimizer by name (`sgd`, `momentum`, `nesterov`, `adam`, ...).

    `momentum` defaults to 0.9 for the names `momentum` and `nesterov` when 0 is given.
    """
    if name == "sgd":
        return SGD(params, lr, momentum=momentum, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return SGD(params, lr, momentum=momentum or 0.9, nesterov=name == "nesterov",
                   weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    if name == "adagrad":
        return Adagrad(params, lr, weight_decay=weight_decay)
    if name == "adadelta":
        return Adadelta(params, lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSprop(params, lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


class EnsembleLBFGS:
    """`torch.optim.LBFGS` behind the ensemble-optimizer protocol, for one member (E = 1).

    `step(closure)` is torch's step; `scale` multiplies the rate (the schedule), as for
    the first-order optimizers; `freeze` stops all updates (the one member diverged).
    """

    needs_closure = True

    def __init__(self, params: Sequence[torch.Tensor], lr: float | Sequence[float],
                 max_iter: int = 20):
        self.params = list(params)
        E = self.params[0].shape[0]
        if E != 1:
            raise BadInput(f"optimizer 'lbfgs' trains one model per fit, got an ensemble of "
                           f"{E}: its line search would couple the members; fit each alone")
        rates = [float(r) for r in torch.as_tensor(lr, dtype=torch.float64).reshape(-1)]
        if len(rates) != 1:
            raise BadInput(f"optimizer 'lbfgs': one learning rate expected, got {len(rates)}")
        self.base_lr, self.scale, self.frozen = rates[0], 1.0, False
        self.torch = torch.optim.LBFGS(self.params, lr=self.base_lr, max_iter=max_iter,
                                       history_size=100, line_search_fn="strong_wolfe")

    def freeze(self, members: Sequence[int]) -> None:
        self.frozen = self.frozen or 0 in members

    def zero_grad(self) -> None:
        self.torch.zero_grad()

    def step(self, closure: Callable[[], torch.Tensor]) -> None:
        if self.frozen:
            return
        for group in self.torch.param_groups:
            group["lr"] = self.base_lr * self.scale
        self.torch.step(closure)

    def state_dict(self) -> dict:
        return self.torch.state_dict()

    def load_state_dict(self, sd: dict) -> None:
        self.torch.load_state_dict(sd)


@dataclass(frozen=True)
class OptimSpec:
    """The optimizer settings of one `train.fit` call.

    name: an `OptimizerName`. lr: one rate, or one per member (E,) — not for L-BFGS.
    momentum (sgd/momentum/nesterov), weight_decay (L2 added to the gradient; not for
    L-BFGS), lr_schedule (`schedule`: none, step, onecycle) with step_size and gamma
    (StepLR), lbfgs_max_iter (L-BFGS iterations per step).
    """

    name: OptimizerName = "sgd"
    lr: float | tuple[float, ...] = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: str | None = None
    step_size: int = 1
    gamma: float = 0.7
    lbfgs_max_iter: int = 20

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZER_INFO:
            raise BadInput(f"unknown optimizer {self.name!r} (choose from "
                           f"{', '.join(OPTIMIZERS)})")
        if not isinstance(self.lr, (int, float)):  # a list or tensor of rates, one per member
            object.__setattr__(self, "lr", tuple(float(r) for r in self.lr))

    # config key (DESIGN §1's shared names) of each field
    CONFIG_KEYS = {"name": "optimizer"}

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> OptimSpec:
        """The settings of a config (section): each field from the config key of the same
        name (`optimizer` for `name`) when the config has it; `overrides` win."""
        values = {}
        for f in fields(cls):
            key = cls.CONFIG_KEYS.get(f.name, f.name)
            if hasattr(cfg, key):
                values[f.name] = getattr(cfg, key)
        return cls(**{**values, **overrides})

    @property
    def info(self) -> OptimInfo:
        return OPTIMIZER_INFO[self.name]

    def build(self, params: Sequence[torch.Tensor]) -> EnsembleOptimizer | EnsembleLBFGS:
        """The optimizer over stacked parameters `params` (ensemble axis first)."""
        if self.info.second_order:
            if self.weight_decay:
                raise BadInput("optimizer 'lbfgs' does not take weight_decay (use a penalty)")
            return EnsembleLBFGS(params, self.lr, self.lbfgs_max_iter)
        return make_optimizer(self.name, params, self.lr, self.momentum, self.weight_decay)

    def schedule(self, epochs: int) -> Callable[[int, float], float]:
        """The learning-rate factor of this spec's `lr_schedule` (see `schedule`)."""
        return schedule(self.lr_schedule, epochs, self.step_size, self.gamma)


def schedule(name: str | None, epochs: int, step_size: int = 1,
             gamma: float = 0.7) -> Callable[[int, float], float]:
    """Learning-rate factor as a function of (epoch, fraction of training done).

    `step`: StepLR, factor γ^(epoch // step_size). `onecycle`: linear warm-up from 1/25
    to 1 over the first 30 %, then cosine down to 1/10⁴ (OneCycleLR's shape).
    `None`/"none": constant 1.
    """
    if name in (None, "none", "constant"):
        return lambda epoch, frac: 1.0
    if name == "step":
        return lambda epoch, frac: gamma ** (epoch // step_size)
    if name == "onecycle":
        def one_cycle(epoch: int, frac: float) -> float:
            if frac < 0.3:
                return 1 / 25 + (1 - 1 / 25) * frac / 0.3
            t = (frac - 0.3) / 0.7
            return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * t))
        return one_cycle
    raise ValueError(f"unknown schedule {name!r} (choose none, step, onecycle)")
