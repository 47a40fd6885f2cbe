"""What a training run leaves behind: the metrics per evaluation and the trained ensemble."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainlab.models import Ensemble


@dataclass
class History:
    """Metrics per evaluation: `values["test/loss"][t][e]` and the epoch/time of each."""

    epochs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    values: dict[str, list[list[float]]] = field(default_factory=dict)

    def series(self, split: str, metric: str) -> np.ndarray:
        """(T, E) array of one metric over the evaluations."""
        return np.asarray(self.values[f"{split}/{metric}"], dtype=float)

    def final(self, split: str, metric: str) -> np.ndarray:
        """(E,) values at the last evaluation."""
        return self.series(split, metric)[-1]

    def has(self, split: str, metric: str) -> bool:
        return f"{split}/{metric}" in self.values

    def state(self) -> dict:
        return {"epochs": list(self.epochs), "seconds": list(self.seconds),
                "values": {k: [list(r) for r in v] for k, v in self.values.items()}}

    @classmethod
    def from_state(cls, s: dict) -> History:
        return cls(list(s["epochs"]), list(s["seconds"]),
                   {k: [list(r) for r in v] for k, v in s["values"].items()})


@dataclass
class FitResult:
    """The trained ensemble, its history and which members diverged (and when)."""

    model: Ensemble
    history: History
    diverged_epoch: list[int | None]
    seconds: float

    @property
    def diverged(self) -> list[bool]:
        return [d is not None for d in self.diverged_epoch]
