"""Optimizers over stacked ensemble parameters, with one learning rate per member.

`torch.optim` takes one scalar learning rate per parameter group, but an ensemble
keeps all members in one tensor, so a sweep over learning rates needs a rate per
slice. These optimizers follow `torch.optim`'s update formulas exactly (tested
against them with E=1) and take `lr` as a float or an `(E,)` tensor. L-BFGS is
`torch.optim.LBFGS` itself (see `train.fit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "adam", "rmsprop", "lbfgs")


class EnsembleOptimizer:
    """Base: params with leading ensemble axis E, per-member `lr` (E,), schedule factor."""

    def __init__(self, params: Sequence[torch.Tensor], lr: float | Sequence[float] | torch.Tensor,
                 weight_decay: float = 0.0):
        self.params = list(params)
        E = self.params[0].shape[0]
        lr_t = torch.as_tensor(lr, dtype=self.params[0].dtype).reshape(-1)
        if lr_t.numel() == 1:
            lr_t = lr_t.expand(E).clone()
        if lr_t.numel() != E:
            raise ValueError(f"{lr_t.numel()} learning rates for {E} members")
        self.base_lr = lr_t.to(self.params[0].device)
        self.scale = 1.0  # learning-rate schedule factor
        self.active = torch.ones(E, dtype=torch.bool, device=self.base_lr.device)
        self._all_active = True  # a Python flag, so the step never syncs with the device
        self.weight_decay = weight_decay
        self.state: dict[str, list[torch.Tensor]] = {}
        self.steps = 0
        self._lr_views: dict[int, torch.Tensor] = {}
        self._lr_scale = self.scale

    def lr_for(self, p: torch.Tensor) -> torch.Tensor:
        """Per-member learning rate broadcastable to `p`; 0 for frozen (diverged) members."""
        if self._lr_scale != self.scale:  # the schedule moved: rebuild the cached views
            self._lr_views, self._lr_scale = {}, self.scale
        view = self._lr_views.get(p.dim())
        if view is None:
            lr = self.base_lr * self.scale
            if not self._all_active:
                lr = lr * self.active
            view = self._lr_views[p.dim()] = lr.reshape(-1, *([1] * (p.dim() - 1)))
        return view

    def freeze(self, members: Sequence[int]) -> None:
        """Stop updating these members (used for diverged members)."""
        self.active[list(members)] = False
        self._all_active = bool(self.active.all())
        self._lr_views = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _grads(self) -> list[torch.Tensor]:
        grads = []
        for p in self.params:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if not self._all_active:
                mask = self.active.reshape(-1, *([1] * (p.dim() - 1)))
                g = torch.where(mask, g, torch.zeros_like(g))
            if self.weight_decay:
                g = g.add(p.detach(), alpha=self.weight_decay)
            grads.append(g)
        return grads

    def _buffers(self, name: str) -> list[torch.Tensor]:
        if name not in self.state:
            self.state[name] = [torch.zeros_like(p) for p in self.params]
        return self.state[name]

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        self._update(self._grads())

    def _update(self, grads: list[torch.Tensor]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"steps": self.steps, "scale": self.scale, "base_lr": self.base_lr.cpu(),
                "active": self.active.cpu(),
                "state": {k: [t.cpu() for t in v] for k, v in self.state.items()}}

    def load_state_dict(self, sd: dict) -> None:
        dev = self.params[0].device
        self.steps, self.scale = int(sd["steps"]), float(sd["scale"])
        self.base_lr = sd["base_lr"].to(dev).clone()
        self.active = sd["active"].to(dev).clone()
        self._all_active = bool(self.active.all())
        self._lr_views = {}
        self.state = {k: [t.to(dev).clone() for t in v] for k, v in sd["state"].items()}


class SGD(EnsembleOptimizer):
    """SGD with optional momentum (PyTorch's form: v ← μv + g; θ ← θ − αv) and Nesterov."""

    def __init__(self, params, lr, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, grads):
        bufs = self._buffers("momentum") if self.momentum else None
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            if self.momentum:
                if self.steps == 1:
                    bufs[i].copy_(g)
                else:
                    bufs[i].mul_(self.momentum).add_(g)
                g = g.add(bufs[i], alpha=self.momentum) if self.nesterov else bufs[i]
            p.sub_(self.lr_for(p) * g)


class Adam(EnsembleOptimizer):
    """Adam (Kingma & Ba), bias-corrected, L2 `weight_decay` added to the gradient."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def _update(self, grads):
        b1, b2 = self.betas
        m, v = self._buffers("exp_avg"), self._buffers("exp_avg_sq")
        bc1 = 1 - b1 ** self.steps
        bc2_sqrt = math.sqrt(1 - b2 ** self.steps)
        for p, g, mi, vi in zip(self.params, grads, m, v, strict=True):
            mi.lerp_(g, 1 - b1)
            vi.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (vi.sqrt() / bc2_sqrt).add_(self.eps)
            p.sub_(self.lr_for(p) / bc1 * mi / denom)


class Adagrad(EnsembleOptimizer):
    """Adagrad: accumulate g², step α·g/(√Σg² + eps)."""

    def __init__(self, params, lr, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = eps

    def _update(self, grads):
        for p, g, s in zip(self.params, grads, self._buffers("sum"), strict=True):
            s.addcmul_(g, g)
            p.sub_(self.lr_for(p) * g / s.sqrt().add_(self.eps))


class Adadelta(EnsembleOptimizer):
    """Adadelta (Zeiler 2012) as in PyTorch, with learning rate `lr` (1.0 is the paper)."""

    def __init__(self, params, lr, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def _update(self, grads):
        sq, acc = self._buffers("square_avg"), self._buffers("acc_delta")
        for p, g, s, a in zip(self.params, grads, sq, acc, strict=True):
            s.mul_(self.rho).addcmul_(g, g, value=1 - self.rho)
            delta = a.add(self.eps).sqrt_().div_(s.add(self.eps).sqrt_()).mul_(g)
            a.mul_(self.rho).addcmul_(delta, delta, value=1 - self.rho)
            p.sub_(self.lr_for(p) * delta)


class RMSprop(EnsembleOptimizer):
    """RMSprop as in PyTorch (alpha 0.99, eps 1e-8, no momentum)."""

    def __init__(self, params, lr, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def _update(self, grads):
        for p, g, s in zip(self.params, grads, self._buffers("square_avg"), strict=True):
            s.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
            p.sub_(self.lr_for(p) * g / s.sqrt().add_(self.eps))


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
