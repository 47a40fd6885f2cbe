"""Shared fixtures of the data tests."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from trainlab.data import builtin

_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic, big-endian dims, big-endian data."""
    array = np.asarray(array)
    code = _CODES[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(scope="session")
def write_idx():
    """``write_idx(path, array, gz=False)`` writes an IDX file and returns its path."""

    def write(path: Path, array: np.ndarray, gz: bool = False) -> Path:
        data = idx_bytes(array)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


@pytest.fixture(scope="session")
def make_idx_set(write_idx):
    """``make_idx_set(folder, n_train, n_test, gz, seed)`` writes the four MNIST-like files.

    Returns the arrays written: ``{"train-images": ..., "train-labels": ..., ...}``.
    """

    def make(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = True, seed: int = 0):
        rng = np.random.default_rng(seed)
        arrays = {}
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            labels = (np.arange(n) % 10).astype(np.uint8)
            suffix = ".gz" if gz else ""
            write_idx(Path(folder) / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
            write_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
            arrays[f"{prefix}-images"], arrays[f"{prefix}-labels"] = images, labels
        return arrays

    return make


@pytest.fixture(scope="session")
def mnist_cache_dir(tmp_path_factory) -> Path:
    """A private cache folder for the 5k-MNIST tests (never the user's ~/.cache)."""
    return tmp_path_factory.mktemp("trainlab-cache")


@pytest.fixture(scope="session")
def mnist5k(mnist_cache_dir):
    """The 5k MNIST dataset with seed 0, parsed once per session (fills the cache)."""
    return builtin.load_mnist(seed=0, cache_dir=mnist_cache_dir)


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """The Debian Fashion-MNIST folder; in CI its absence is a failure, not a skip."""
    folder = builtin.FASHION_MNIST_DIR
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        message = (
            f"{folder} is missing: apt-get install {builtin.FASHION_MNIST_PACKAGE}"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder
