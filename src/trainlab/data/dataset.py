"""The in-memory dataset that experiments train on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """A train/test pair of tensors held in memory.

    Attributes:
        x_train: inputs ``(N_train, *input_shape)``; images are float32 in [0, 1] shaped
            ``(N, 1, H, W)``.
        y_train: targets ``(N_train,)`` int64 class labels for classification, or float
            ``(N_train, k)`` for regression.
        x_test: inputs ``(N_test, *input_shape)``.
        y_test: targets, like ``y_train``.
        num_classes: number of classes, or None for regression.
        input_shape: the shape of one input, e.g. ``(1, 28, 28)``.
        name: short id, e.g. ``"mnist"``.
        description: one line saying where the data comes from and how it was split.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int | None
    input_shape: tuple
    name: str
    description: str = ""

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with all four tensors moved to ``device``."""
        return replace(
            self,
            x_train=self.x_train.to(device),
            y_train=self.y_train.to(device),
            x_test=self.x_test.to(device),
            y_test=self.y_test.to(device),
        )
