"""Seeded index splits, k-fold folds, label corruption and mini-batch slices.

Every function takes an explicit seed (a private `numpy.random.Generator`), so results
never depend on global random state. Indices come back as int64 torch tensors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from trainlab.errors import BadInput

__all__ = [
    "train_val_split",
    "stratified_split",
    "kfold_indices",
    "corrupt_labels",
    "batch_slices",
]


def _as_numpy(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        return y.detach().cpu().numpy()
    return np.asarray(y)


def _index(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))


def _count(n: int, size: int | float, what: str) -> int:
    """Resolve a size given as a count or a fraction of ``n`` (fractions round up)."""
    if isinstance(size, bool):
        raise BadInput(f"{what} must be a count or a fraction, got {size!r}")
    if isinstance(size, int | np.integer):
        k = int(size)
    elif isinstance(size, float) and 0.0 < size < 1.0:
        k = math.ceil(size * n)
    else:
        raise BadInput(f"{what} must be a count or a fraction in (0, 1), got {size!r}")
    if not 1 <= k <= n - 1:
        raise BadInput(f"{what} of {size!r} leaves an empty split of {n} examples")
    return k


def train_val_split(
    n: int, val_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``range(n)`` and split it into train and validation indices.

    Args:
        n: number of examples.
        val_fraction: fraction in (0, 1) (rounded up to a count) or a count of validation
            examples.
        seed: seed of the shuffle.

    Returns:
        ``(train_idx, val_idx)``: int64 tensors of shapes ``(n - k,)`` and ``(k,)``,
        disjoint, together ``range(n)``.
    """
    k = _count(int(n), val_fraction, "val_fraction")
    perm = np.random.default_rng(seed).permutation(int(n))
    return _index(perm[k:]), _index(perm[:k])


def stratified_split(
    y, test_size: int | float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split example indices so that every class keeps its share in the test part.

    The test count of each class is its proportional share of ``test_size`` rounded down,
    and the leftover places go to the classes with the largest remainders; so each class's
    test count is within 1 of ``count * test_size / N``. Within each class the examples
    are picked by a seeded shuffle.

    Args:
        y: class labels, shape ``(N,)`` (tensor or array).
        test_size: a count, or a fraction in (0, 1) rounded up to a count.
        seed: seed of the shuffles.

    Returns:
        ``(train_idx, test_idx)``: shuffled int64 tensors, disjoint, together ``range(N)``.
    """
    labels = _as_numpy(y).reshape(-1)
    n = labels.shape[0]
    n_test = _count(n, test_size, "test_size")
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * n_test / n
    take = np.floor(quota).astype(np.int64)
    leftover = n_test - int(take.sum())
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:leftover]] += 1
    train_parts, test_parts = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test_parts.append(members[: take[c]])
        train_parts.append(members[take[c]:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return _index(train), _index(test)


def kfold_indices(n: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled k-fold cross-validation indices.

    ``range(n)`` is shuffled with ``seed`` and cut into ``k`` folds whose sizes differ by
    at most one (the first ``n % k`` folds get the extra example); every index is in
    exactly one validation fold. For n=100, k=10 each fold trains on 90 and validates on 10.

    Returns:
        ``[(train_idx, val_idx), ...]`` of length ``k``; int64 tensors.
    """
    n, k = int(n), int(k)
    if not 2 <= k <= n:
        raise BadInput(f"k-fold needs 2 <= k <= n, got k={k} for n={n}")
    perm = np.random.default_rng(seed).permutation(n)
    folds = np.array_split(perm, k)
    out = []
    for i, val in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        out.append((_index(train), _index(val)))
    return out


def corrupt_labels(
    y, fraction: float, num_classes: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace a fraction of the labels by uniformly random classes (Zhang et al. 2017).

    Exactly ``round(fraction * N)`` examples, chosen by a seeded shuffle, get a label drawn
    uniformly from ``0 .. num_classes-1`` (which may equal the old one by chance, so about
    ``fraction * (1 - 1/num_classes)`` of the labels actually change). ``fraction=1``
    gives fully random labels.

    Args:
        y: integer labels, shape ``(N,)`` (tensor or array).
        fraction: in [0, 1].
        num_classes: number of classes (>= 2).
        seed: seed of the choice and of the new labels.

    Returns:
        ``(y_new, mask)``: int64 labels ``(N,)`` on y's device, and a bool ``(N,)`` mask of
        the relabelled examples.
    """
    if not 0.0 <= float(fraction) <= 1.0:
        raise BadInput(f"label corruption fraction must be in [0, 1], got {fraction!r}")
    if int(num_classes) < 2:
        raise BadInput(f"num_classes must be >= 2, got {num_classes!r}")
    device = y.device if isinstance(y, torch.Tensor) else torch.device("cpu")
    labels = _as_numpy(y).reshape(-1).astype(np.int64)
    n = labels.shape[0]
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(n)[: int(round(float(fraction) * n))]
    new = labels.copy()
    new[chosen] = rng.integers(0, int(num_classes), size=chosen.shape[0])
    mask = np.zeros(n, dtype=bool)
    mask[chosen] = True
    return torch.from_numpy(new).to(device), torch.from_numpy(mask).to(device)


def batch_slices(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield mini-batch index tensors over ``range(n)``: slices of one ``randperm``.

    Args:
        n: number of examples.
        batch_size: examples per batch (the last may be smaller unless ``drop_last``).
        generator: torch generator of the permutation (its device is used).
        shuffle: False gives ``arange(n)`` in order.

    Yields:
        int64 index tensors of shape ``(<= batch_size,)``.
    """
    if int(batch_size) < 1:
        raise BadInput(f"batch_size must be >= 1, got {batch_size!r}")
    device = generator.device if generator is not None else None
    order = (
        torch.randperm(n, generator=generator, device=device)
        if shuffle
        else torch.arange(n, device=device)
    )
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]
