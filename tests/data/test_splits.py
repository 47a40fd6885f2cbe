"""Seeded splits, k-fold, label corruption and batch slices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.data.splits import (
    batch_slices,
    corrupt_labels,
    kfold_indices,
    stratified_split,
    train_val_split,
)
from trainlab.errors import BadInput


def test_train_val_split_partitions_and_is_seeded():
    train, val = train_val_split(103, 0.2, seed=5)
    assert train.dtype == torch.int64 and val.dtype == torch.int64
    assert len(val) == 21 and len(train) == 82  # ceil(0.2 * 103)
    assert sorted(torch.cat([train, val]).tolist()) == list(range(103))
    again = train_val_split(103, 0.2, seed=5)
    other = train_val_split(103, 0.2, seed=6)
    assert torch.equal(val, again[1])
    assert not torch.equal(val, other[1])
    assert len(train_val_split(10, 3)[1]) == 3


@pytest.mark.parametrize("bad", [0.0, 1.0, 0, 10, -1, True, "0.2"])
def test_train_val_split_refuses_empty_parts(bad):
    with pytest.raises(BadInput):
        train_val_split(10, bad)


@pytest.mark.parametrize(("n", "k"), [(100, 10), (10, 10), (23, 5), (7, 2)])
def test_kfold_every_index_validated_exactly_once(n, k):
    folds = kfold_indices(n, k, seed=3)
    assert len(folds) == k
    vals = torch.cat([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(n))
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert set(train.tolist()).isdisjoint(val.tolist())
        assert len(train) + len(val) == n
    if (n, k) == (100, 10):
        assert all(len(t) == 90 and len(v) == 10 for t, v in folds)


def test_kfold_is_shuffled_and_seeded():
    a, b, c = kfold_indices(50, 5, 0), kfold_indices(50, 5, 0), kfold_indices(50, 5, 1)
    assert all(torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    assert a[0][1].tolist() != list(range(10))


@pytest.mark.parametrize(("n", "k"), [(10, 1), (5, 6), (0, 2)])
def test_kfold_refuses_bad_k(n, k):
    with pytest.raises(BadInput, match="k-fold"):
        kfold_indices(n, k)


def test_stratified_split_keeps_class_shares():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, test = stratified_split(y, 20, seed=0)
    assert len(test) == 20 and len(train) == 80
    assert sorted(torch.cat([train, test]).tolist()) == list(range(100))
    counts = np.bincount(y[test.numpy()], minlength=4)
    assert counts.tolist() == [10, 6, 3, 1]
    # uneven shares: each class within one of its proportional share
    y = np.repeat(np.arange(3), [7, 11, 13])
    _, test = stratified_split(torch.from_numpy(y), 0.3, seed=2)
    counts = np.bincount(y[test.numpy()], minlength=3)
    assert counts.sum() == 10  # ceil(0.3 * 31)
    assert np.all(np.abs(counts - np.array([7, 11, 13]) * 10 / 31) < 1)


def test_corrupt_labels_fraction_and_mask():
    y = torch.arange(10_000) % 10
    new, mask = corrupt_labels(y, 0.3, 10, seed=0)
    assert new.dtype == torch.int64 and mask.dtype == torch.bool
    assert mask.sum().item() == 3000
    assert torch.equal(new[~mask], y[~mask])
    changed = (new != y).float().mean().item()
    assert abs(changed - 0.3 * 0.9) < 0.02
    assert new.min() >= 0 and new.max() <= 9
    again, _ = corrupt_labels(y, 0.3, 10, seed=0)
    other, _ = corrupt_labels(y, 0.3, 10, seed=1)
    assert torch.equal(new, again) and not torch.equal(new, other)


def test_fully_random_labels_agree_by_chance_only():
    y = torch.arange(20_000) % 10
    new, mask = corrupt_labels(y, 1.0, 10, seed=0)
    assert mask.all()
    agreement = (new == y).float().mean().item()
    assert abs(agreement - 0.1) < 0.01
    counts = torch.bincount(new, minlength=10).float() / len(new)
    assert torch.all((counts - 0.1).abs() < 0.01)


def test_corrupt_labels_zero_and_bad_arguments():
    y = np.arange(100) % 3
    new, mask = corrupt_labels(y, 0.0, 3)
    assert not mask.any() and new.tolist() == y.tolist()
    for fraction, classes in ((-0.1, 3), (1.1, 3), (0.5, 1)):
        with pytest.raises(BadInput):
            corrupt_labels(y, fraction, classes)


def test_batch_slices_cover_a_permutation():
    gen = torch.Generator().manual_seed(0)
    batches = list(batch_slices(10, 4, gen))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in batch_slices(10, 4, gen, drop_last=True)] == [4, 4]
    ordered = torch.cat(list(batch_slices(5, 2, shuffle=False)))
    assert ordered.tolist() == [0, 1, 2, 3, 4]
    a = torch.cat(list(batch_slices(50, 7, torch.Generator().manual_seed(1))))
    b = torch.cat(list(batch_slices(50, 7, torch.Generator().manual_seed(1))))
    assert torch.equal(a, b)
    with pytest.raises(BadInput):
        list(batch_slices(5, 0))
