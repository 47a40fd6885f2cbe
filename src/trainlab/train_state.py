"""Everything `train.fit` needs to continue a run exactly: the state of one training run.

`TrainState.state_dict()` is the checkpoint `fit` saves (a plain dict, as nanoGPT's):
the model, the optimizer, each member's batch-order generator, torch's global RNG,
the history, the diverged members, the epoch reached, the training seconds and the
callbacks' own states. `load_state_dict` puts all of it back, so a resumed run is
bit-identical to an uninterrupted one (tests/test_train.py, tests/test_resume.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from trainlab import callbacks as hooks
from trainlab.history import FitResult, History
from trainlab.models import Ensemble

# Offset of the batch-order seeds from the init seeds, so that member e's minibatch
# permutations do not replay the draws of its initialisation.
BATCH_SEED_OFFSET = 7_919


def batch_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One generator per member for its minibatch order, seeded from its init seed."""
    return [torch.Generator().manual_seed(int(s) + BATCH_SEED_OFFSET) for s in seeds]


@dataclass
class TrainState:
    """The model and optimizer being trained and how far training has come.

    epoch: epochs completed; done: training finished (all epochs, or a callback stopped
    it); diverged: per member, the epoch its loss became non-finite, or None.
    """

    model: Ensemble
    optimizer: Any  # an EnsembleOptimizer or EnsembleLBFGS (trainlab.optim)
    callbacks: Sequence[Any] = ()
    generators: list[torch.Generator] = field(default_factory=list)
    history: History = field(default_factory=History)
    diverged: list[int | None] = field(default_factory=list)
    epoch: int = 0
    seconds: float = 0.0
    done: bool = False

    def __post_init__(self) -> None:
        self.generators = self.generators or batch_generators(self.model.seeds)
        self.diverged = self.diverged or [None] * self.model.E

    def state_dict(self) -> dict:
        """The checkpoint: a dict of tensors, lists and numbers (`torch.save`-able)."""
        return {"epoch": self.epoch, "done": self.done, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generators": [g.get_state() for g in self.generators],
                "torch_rng": torch.get_rng_state(), "history": self.history.state(),
                "diverged": [-1 if d is None else d for d in self.diverged],
                "seconds": self.seconds, "callbacks": hooks.states(self.callbacks)}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict()`; sets torch's global RNG state too."""
        self.model.load_state_dict(state["model"])
        if "optimizer" in state:  # a completed run's checkpoints keep no optimizer state
            self.optimizer.load_state_dict(state["optimizer"])
        for g, s in zip(self.generators, state["generators"], strict=True):
            g.set_state(s)
        torch.set_rng_state(state["torch_rng"])
        self.history = History.from_state(state["history"])
        self.diverged = [None if d < 0 else int(d) for d in state["diverged"]]
        self.epoch, self.seconds = int(state["epoch"]), float(state["seconds"])
        self.done = bool(state["done"])
        hooks.load_states(self.callbacks, state["callbacks"])

    def result(self) -> FitResult:
        """The model, history, divergence epochs and training seconds so far."""
        return FitResult(self.model, self.history, self.diverged, self.seconds)
