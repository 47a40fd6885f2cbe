"""First-order optimizers over stacked ensemble parameters, one learning rate per member.

`torch.optim` takes one scalar learning rate per parameter group, but an ensemble
keeps all members in one tensor, so a sweep over learning rates needs a rate per
slice. These optimizers follow `torch.optim`'s update formulas exactly (tested
against them with E=1) and take `lr` as a float or an `(E,)` tensor. Build them by
name with `trainlab.optim.make_optimizer` or from an `OptimSpec`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

# Average elements per parameter tensor below which the step runs on one flat (E, P)
# group: there the per-op dispatch, not the arithmetic, is what a step costs.
FLAT_BELOW = 65_536


class EnsembleOptimizer:
    """Base: params with leading ensemble axis E, per-member `lr` (E,), schedule factor.

    Subclasses write their formula once, in `_delta(i, g, lr)`, for one *group*: a
    gradient `g`, its state buffers `self._buffer(name, i)` and a learning rate `lr`
    broadcastable to `g`. When the tensors are small (an ensemble of tiny MLPs) all
    parameters form one `(E, P)` group — one `cat` of the gradients, a handful of
    whole-ensemble ops, one `_foreach_sub_` back (Adam on 100 1-10-10-1 members:
    150 µs → 80 µs a step). Otherwise each parameter is its own group, which saves
    the two extra passes over memory that the flat copy would cost for large tensors.
    """

    needs_closure = False  # `step()` takes no closure (L-BFGS's does)

    def __init__(self, params: Sequence[torch.Tensor], lr: float | Sequence[float] | torch.Tensor,
                 weight_decay: float = 0.0):
        self.params = list(params)
        first = self.params[0]
        E = first.shape[0]
        lr_t = torch.as_tensor(lr, dtype=first.dtype).reshape(-1)
        if lr_t.numel() == 1:
            lr_t = lr_t.expand(E).clone()
        if lr_t.numel() != E:
            raise ValueError(f"{lr_t.numel()} learning rates for {E} members")
        self.base_lr = lr_t.to(first.device)
        self.scale = 1.0  # learning-rate schedule factor
        self.active = torch.ones(E, dtype=torch.bool, device=self.base_lr.device)
        self._all_active = True  # a Python flag, so the step never syncs with the device
        self.weight_decay = weight_decay
        self.steps = 0
        self._sizes = [p[0].numel() for p in self.params]
        self.flat = E * sum(self._sizes) < FLAT_BELOW * len(self.params)
        self.state: dict[str, list[torch.Tensor]] = {}  # one tensor per group
        self._lrs: list[torch.Tensor] | None = None
        self._lr_scale = self.scale
        self._update_views: list[torch.Tensor] | None = None

    def _group_lrs(self) -> list[torch.Tensor]:
        """Per-member learning rate for each group, 0 for frozen (diverged) members."""
        if self._lrs is None or self._lr_scale != self.scale:
            lr = self.base_lr * self.scale
            if not self._all_active:
                lr = lr * self.active
            shapes = [(len(lr), 1)] if self.flat else [
                (len(lr), *([1] * (p.dim() - 1))) for p in self.params]
            self._lrs, self._lr_scale = [lr.reshape(s) for s in shapes], self.scale
        return self._lrs

    def freeze(self, members: Sequence[int]) -> None:
        """Stop updating these members (used for diverged members)."""
        self.active[list(members)] = False
        self._all_active = bool(self.active.all())
        self._lrs = None

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _flatten(self, tensors: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """Per-parameter tensors (None: zeros) as one `(E, P)` tensor."""
        E = self.params[0].shape[0]
        return torch.cat([t.reshape(E, -1) if t is not None else
                          torch.zeros(E, n, dtype=p.dtype, device=p.device)
                          for t, p, n in zip(tensors, self.params, self._sizes, strict=True)], 1)

    def _unflatten(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """An `(E, P)` tensor as views shaped like the parameters."""
        return [part.view(p.shape) for part, p in
                zip(flat.split(self._sizes, dim=1), self.params, strict=True)]

    def _group_grads(self) -> list[torch.Tensor]:
        grads = [p.grad for p in self.params]
        if self.flat:
            grads = [self._flatten(grads)]
        else:
            grads = [g if g is not None else torch.zeros_like(p)
                     for g, p in zip(grads, self.params, strict=True)]
        out = []
        for i, g in enumerate(grads):
            if not self._all_active:
                mask = self.active.reshape(-1, *([1] * (g.dim() - 1)))
                g = torch.where(mask, g, torch.zeros((), dtype=g.dtype, device=g.device))
            if self.weight_decay:
                w = self._flatten(self.params) if self.flat else self.params[i]
                g = g.add(w.detach(), alpha=self.weight_decay)
            out.append(g)
        return out

    def _buffer(self, name: str, i: int) -> torch.Tensor:
        """State buffer `name` of group i (zeros at first use)."""
        if name not in self.state:
            E = self.params[0].shape[0]
            p0 = self.params[0]
            self.state[name] = ([torch.zeros(E, sum(self._sizes), dtype=p0.dtype,
                                             device=p0.device)] if self.flat
                                else [torch.zeros_like(p) for p in self.params])
        return self.state[name][i]

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        deltas = [self._delta(i, g, lr) for i, (g, lr) in
                  enumerate(zip(self._group_grads(), self._group_lrs(), strict=True))]
        if not self.flat:
            torch._foreach_sub_(self.params, deltas)
            return
        if self._update_views is None:  # one buffer with cached per-parameter views
            self._update_buf = torch.empty_like(deltas[0])
            self._update_views = self._unflatten(self._update_buf)
        self._update_buf.copy_(deltas[0])
        torch._foreach_sub_(self.params, self._update_views)

    def _delta(self, i: int, g: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        """The step θ_i − θ_i' of group i from gradient g and learning rate lr."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        # per-parameter lists whatever the grouping, so checkpoints do not depend on it
        per_param = {k: self._unflatten(v[0]) if self.flat else v for k, v in self.state.items()}
        return {"steps": self.steps, "scale": self.scale, "base_lr": self.base_lr.cpu(),
                "active": self.active.cpu(),
                "state": {k: [t.cpu().clone() for t in v] for k, v in per_param.items()}}

    def load_state_dict(self, sd: dict) -> None:
        dev = self.params[0].device
        self.steps, self.scale = int(sd["steps"]), float(sd["scale"])
        self.base_lr = sd["base_lr"].to(dev).clone()
        self.active = sd["active"].to(dev).clone()
        self._all_active = bool(self.active.all())
        self._lrs = None
        self.state = {k: [self._flatten([t.to(dev) for t in v])] if self.flat
                      else [t.to(dev).clone() for t in v] for k, v in sd["state"].items()}


class SGD(EnsembleOptimizer):
    """SGD with optional momentum (PyTorch's form: v ← μv + g; θ ← θ − αv) and Nesterov."""

    def __init__(self, params, lr, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _delta(self, i, g, lr):
        if self.momentum:
            buf = self._buffer("momentum", i)
            if self.steps == 1:
                buf.copy_(g)
            else:
                buf.mul_(self.momentum).add_(g)
            g = g.add(buf, alpha=self.momentum) if self.nesterov else buf
        return lr * g


class Adam(EnsembleOptimizer):
    """Adam (Kingma & Ba), bias-corrected, L2 `weight_decay` added to the gradient."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def _delta(self, i, g, lr):
        b1, b2 = self.betas
        m, v = self._buffer("exp_avg", i), self._buffer("exp_avg_sq", i)
        bc1 = 1 - b1 ** self.steps
        bc2_sqrt = math.sqrt(1 - b2 ** self.steps)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
        return lr / bc1 * m / denom


class Adagrad(EnsembleOptimizer):
    """Adagrad: accumulate g², step α·g/(√Σg² + eps)."""

    def __init__(self, params, lr, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = eps

    def _delta(self, i, g, lr):
        total = self._buffer("sum", i).addcmul_(g, g)
        return lr * g / total.sqrt().add_(self.eps)


class Adadelta(EnsembleOptimizer):
    """Adadelta (Zeiler 2012) as in PyTorch, with learning rate `lr` (1.0 is the paper)."""

    def __init__(self, params, lr, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def _delta(self, i, g, lr):
        sq, acc = self._buffer("square_avg", i), self._buffer("acc_delta", i)
        sq.mul_(self.rho).addcmul_(g, g, value=1 - self.rho)
        delta = acc.add(self.eps).sqrt_().div_(sq.add(self.eps).sqrt_()).mul_(g)
        acc.mul_(self.rho).addcmul_(delta, delta, value=1 - self.rho)
        return lr * delta


class RMSprop(EnsembleOptimizer):
    """RMSprop as in PyTorch (alpha 0.99, eps 1e-8, no momentum)."""

    def __init__(self, params, lr, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def _delta(self, i, g, lr):
        sq = self._buffer("square_avg", i).mul_(self.alpha)
        sq.addcmul_(g, g, value=1 - self.alpha)
        return lr * g / sq.sqrt().add_(self.eps)
