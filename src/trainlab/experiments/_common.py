"""Config sections and loaders shared by the experiments (the one place they are declared).

- Names: `OptimizerName` (every optimizer of `trainlab.optim`, re-exported),
  `EnsembleOptimizerName` (those that train the E members of an ensemble in one fit: all
  but L-BFGS),
  `ActivationName` (every activation of `trainlab.ensemble_layers`) and `DatasetName`
  (the built-in image datasets). Use them as field types so that `trainlab show`, the
  docs and the `--set` checks list the same choices everywhere.
- Sections: `ImageSource` / `ImageData` (the `data` section of the image experiments),
  `TableData` (the `data` section of a table file) and `MLPConfig` (a `model` section).
  An experiment subclasses a section to change a default or a help text; a field
  redefined in a dataclass subclass keeps its place, so the keys stay in order.
- Loaders: `load_subsets`, `load_data` and `standardized_mnist`.

The leading underscore keeps the experiment registry from treating this module as an
experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from trainlab.config import option
from trainlab.data import load_dataset, standardize
from trainlab.ensemble_layers import ActivationName
from trainlab.errors import BadInput
from trainlab.optim import OptimizerName

__all__ = ["ActivationName", "DatasetName", "EnsembleOptimizerName", "ImageData",
           "ImageSource", "MLPConfig", "OptimizerName", "TableData", "load_data",
           "load_subsets", "standardized_mnist", "validate_data"]

# The optimizers whose `OptimInfo.ensembles` is true, in `trainlab.optim`'s order
# (tests/experiments/test_common.py checks that they agree).
EnsembleOptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "adam",
                                "rmsprop"]
DatasetName = Literal["mnist", "fashion-mnist", "digits"]


@dataclass
class ImageSource:
    """Which images: a built-in dataset, or a folder of IDX files."""

    name: DatasetName = option(
        "mnist", "built-in dataset (mnist = the 5k subset unless data.root is given)")
    root: str = option("", "folder of IDX files (full MNIST / Fashion-MNIST); empty: built-in")


@dataclass
class ImageData(ImageSource):
    """The `data` section: which images, and how many of them."""

    max_train: int = option(0, "use at most this many training images (0 = all)", minimum=0)
    max_test: int = option(0, "use at most this many test images (0 = all)", minimum=0)


@dataclass
class TableData:
    """The `data` section of an experiment that reads a table file (CSV, TSV, ...).

    Experiments subclass it to describe their built-in table in `path`'s help.
    """

    path: str = option("", "table file with a header row, comma-, tab- or semicolon-separated "
                           "(empty: the built-in table)")
    target: str = option("", "target column (empty: the last column)")
    features: list[str] = option([], "feature columns by name (empty: every other column)")
    delimiter: str = option("", "column delimiter: ',', ';', 'tab' (empty: detected from the "
                                "header)")


@dataclass
class MLPConfig:
    """The `model` section of a plain MLP.

    Experiments subclass it to set their own default (and help text) for `widths`.
    """

    widths: list[int] = option([64], "hidden widths of the MLP")
    activation: ActivationName = option("relu", "hidden activation")


def validate_data(data: ImageSource) -> None:
    """Reject config combinations of the `data` section that cannot be loaded."""
    if data.root and data.name == "digits":
        raise BadInput("config key 'data.root': not used with data.name = digits")


def load_subsets(cfg):
    """The dataset and its (possibly subsampled) train/test images and labels, on the CPU.

    `data.max_train` and `data.max_test` keep a random subset, drawn with one generator
    seeded by `cfg.seed` (train first, then test). Returns `(dataset, [x_train, y_train,
    x_test, y_test])`.
    """
    ds = load_dataset(cfg.data.name, root=cfg.data.root or None, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    xtr, ytr, xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if cfg.data.max_train and cfg.data.max_train < len(xtr):
        keep = torch.randperm(len(xtr), generator=gen)[:cfg.data.max_train]
        xtr, ytr = xtr[keep], ytr[keep]
    if cfg.data.max_test and cfg.data.max_test < len(xte):
        keep = torch.randperm(len(xte), generator=gen)[:cfg.data.max_test]
        xte, yte = xte[keep], yte[keep]
    return ds, [xtr, ytr, xte, yte]


def load_data(cfg, device: torch.device):
    """Flattened (standardized) train/test images and labels on `device`, plus class count.

    `cfg` needs `seed`, `normalize` and a `data` section (`ImageData`). `data.max_train`
    and `data.max_test` keep a random subset, drawn with one generator seeded by `cfg.seed`
    (train first, then test). With `normalize` the pixels are standardized with the mean
    and std of the (subset) training images. Returns `([x_train, y_train, x_test, y_test],
    num_classes)`.
    """
    ds, (xtr, ytr, xte, yte) = load_subsets(cfg)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    if cfg.normalize:
        _, _, (xtr, xte) = standardize(xtr, xte, per_feature=False)
    return [t.to(device) for t in (xtr, ytr, xte, yte)], int(ds.num_classes)


def standardized_mnist(seed: int, max_train: int = 0) -> list[torch.Tensor]:
    """MNIST `[x_train, y_train, x_test, y_test]` on the CPU, images kept (N, 1, 28, 28).

    `max_train` (0: all) keeps a random subset of the training images, drawn from a
    generator seeded with `seed`; pixels are standardized with the training mean and std.
    """
    ds = load_dataset("mnist", seed=seed)
    x, y = ds.x_train, ds.y_train
    if max_train and max_train < len(x):
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        x, y = x[keep[:max_train]], y[keep[:max_train]]
    _, _, (x, xt) = standardize(x, ds.x_test, per_feature=False)
    return [x, y, xt, ds.y_test]
