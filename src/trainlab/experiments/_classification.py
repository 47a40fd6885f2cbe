"""Shared pieces of the MLP image-classification experiments.

`interpolation`, `param-count`, `random-labels` and `sensitivity` all train plain MLPs on
a built-in image dataset (MNIST, Fashion-MNIST or scikit-learn's digits). They share the
`data` config section, the way the images are loaded (seeded subsets, flattened,
optionally standardized, moved to the device) and, for the ones with a `model` section,
the fields of that section. The leading underscore keeps the experiment registry from
treating this module as an experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from trainlab.config import option
from trainlab.data import load_dataset, standardize
from trainlab.errors import BadInput


@dataclass
class DataConfig:
    """The `data` section: which images, and how many of them."""

    name: Literal["mnist", "fashion-mnist", "digits"] = option(
        "mnist", "built-in dataset (mnist = the 5k subset unless data.root is given)")
    root: str = option("", "folder of IDX files (full MNIST / Fashion-MNIST); empty: built-in")
    max_train: int = option(0, "use at most this many training images (0 = all)", minimum=0)
    max_test: int = option(0, "use at most this many test images (0 = all)", minimum=0)


@dataclass
class MLPConfig:
    """The `model` section of a plain MLP.

    Experiments subclass it to set their own default (and help text) for `widths`; a
    field redefined in a dataclass subclass keeps its place, so the keys stay in order.
    """

    widths: list[int] = option([64], "hidden widths of the MLP")
    activation: Literal["relu", "sigmoid", "tanh", "gelu", "elu", "leaky_relu"] = option(
        "relu", "hidden activation")


def validate_data(data: DataConfig) -> None:
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

    `cfg` needs `seed`, `normalize` and a `data` section (`DataConfig`). `data.max_train`
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
