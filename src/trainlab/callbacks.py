"""The callback protocol of `train.fit`: hooks that watch (or stop) a training run.

A callback is any object with some of the four methods of `Callback`; `fit` calls
those it has, in the order the callbacks were given:

- `on_step(step, model, losses)` after `backward()` and before the optimizer step of
  every minibatch (first-order optimizers only: L-BFGS evaluates its closure several
  times per step). `step` counts minibatches from 0 over the whole run, `model` is
  the `Ensemble` (its `.grad`s are set), `losses` the detached per-member minibatch
  losses, shape (E,).
- `on_epoch_end(epoch, model, history) -> bool | None` after every epoch (1-based),
  after the evaluation of that epoch if there was one. Returning True ends training
  after this epoch; the epoch is then always in the history, and the run is complete
  (a resumed run does not train further).
- `state_dict() -> dict | None` and `load_state_dict(state)`: what the callback
  needs to continue exactly after `trainlab resume`. They are saved in `fit`'s
  checkpoint; return None (or leave `state_dict` out) when there is nothing to save.

Callbacks keep the ensemble axis: member `e`'s values are row `e`. Subclassing
`Callback` is optional; it gives no-op defaults for the hooks you leave out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from trainlab.history import History
    from trainlab.models import Ensemble


class Callback(Protocol):
    """The hooks `train.fit` calls (see the module docstring); all are optional."""

    def on_step(self, step: int, model: Ensemble, losses: torch.Tensor) -> None:
        """After backward, before the optimizer step; losses (E,) of this minibatch."""

    def on_epoch_end(self, epoch: int, model: Ensemble, history: History) -> bool | None:
        """After epoch `epoch` (1-based); True stops training after it."""
        return None

    def state_dict(self) -> dict | None:
        """What resuming needs (saved with the checkpoint); None: nothing."""
        return None

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""


def on_step(callbacks: Sequence[Any], step: int, model: Ensemble, losses: torch.Tensor) -> None:
    """Call every callback's `on_step`, if it has one."""
    for cb in callbacks:
        hook = getattr(cb, "on_step", None)
        if hook is not None:
            hook(step, model, losses)


def on_epoch_end(callbacks: Sequence[Any], epoch: int, model: Ensemble,
                 history: History) -> bool:
    """Call every callback's `on_epoch_end` (all of them); True when one asks to stop."""
    stop = False
    for cb in callbacks:
        hook = getattr(cb, "on_epoch_end", None)
        if hook is not None and hook(epoch, model, history):
            stop = True
    return stop


def states(callbacks: Sequence[Any]) -> list[dict | None]:
    """Each callback's `state_dict()`, None for those without one."""
    return [cb.state_dict() if hasattr(cb, "state_dict") else None for cb in callbacks]


def load_states(callbacks: Sequence[Any], saved: Sequence[dict | None]) -> None:
    """Hand each callback its saved state (skipping None and callbacks without the hook)."""
    for cb, state in zip(callbacks, saved, strict=False):
        if state is not None and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(state)
