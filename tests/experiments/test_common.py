"""The shared config sections and names of experiments/_common.py."""

import dataclasses
import typing

import pytest
import torch

from trainlab.config import resolve
from trainlab.data import load_dataset
from trainlab.errors import BadInput
from trainlab.experiments import _common
from trainlab.optim import OPTIMIZER_INFO, OPTIMIZERS, make_optimizer


def test_optimizer_names_are_the_optimizer_registry():
    assert typing.get_args(_common.OptimizerName) == OPTIMIZERS
    assert typing.get_args(_common.EnsembleOptimizerName) == tuple(
        n for n in OPTIMIZERS if OPTIMIZER_INFO[n].ensembles)
    weights = [torch.zeros(2, 3, requires_grad=True)]
    for name in typing.get_args(_common.EnsembleOptimizerName):
        make_optimizer(name, weights, [0.1, 0.2])


def test_dataset_names_are_the_built_in_datasets():
    for name in typing.get_args(_common.DatasetName):
        assert load_dataset(name, seed=0).num_classes == 10


def test_image_data_keeps_the_keys_in_order():
    assert [f.name for f in dataclasses.fields(_common.ImageData)] == [
        "name", "root", "max_train", "max_test"]


@dataclasses.dataclass
class _Cfg:
    seed: int = 3
    normalize: bool = True
    data: _common.ImageData = dataclasses.field(default_factory=_common.ImageData)


def test_load_subsets_draws_train_then_test_from_one_seeded_generator():
    cfg = _Cfg(data=_common.ImageData(name="digits", max_train=50, max_test=20))
    ds, (xtr, ytr, xte, yte) = _common.load_subsets(cfg)
    gen = torch.Generator().manual_seed(3)
    keep_train = torch.randperm(len(ds.x_train), generator=gen)[:50]
    keep_test = torch.randperm(len(ds.x_test), generator=gen)[:20]
    torch.testing.assert_close(xtr, ds.x_train[keep_train])
    torch.testing.assert_close(yte, ds.y_test[keep_test])
    assert len(ytr) == 50 and len(xte) == 20


def test_load_data_flattens_and_standardizes_with_training_statistics():
    cfg = _Cfg(data=_common.ImageData(name="digits", max_train=60))
    (xtr, _, xte, _), k = _common.load_data(cfg, torch.device("cpu"))
    _, (raw_tr, _, raw_te, _) = _common.load_subsets(cfg)
    mean, std = raw_tr.double().mean(), raw_tr.double().std(unbiased=False)
    assert k == 10 and xtr.shape == (60, raw_tr[0].numel())
    torch.testing.assert_close(xte.double(), ((raw_te.double() - mean) / std).reshape(
        len(raw_te), -1), atol=1e-5, rtol=1e-5)


def test_a_root_for_digits_is_bad_input_before_any_run():
    from trainlab.experiments.optimizers import PRESETS, Config

    with pytest.raises(BadInput, match="data.root"):
        resolve(Config, PRESETS, "smoke", sets={"data.name": "digits", "data.root": "/x"})
