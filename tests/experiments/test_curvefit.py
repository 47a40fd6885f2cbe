"""curvefit: k folds as one ensemble, disjoint validation folds of equal size, summary keys."""

import math

import torch

from trainlab.experiments.curvefit import equal_folds
from trainlab.runner import execute


def test_ten_folds_of_the_builtin_pair(tmp_path):
    out = execute("curvefit", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  sets={"folds": 10, "epochs": 2})
    assert out.state == "completed"
    s = out.summary
    assert s["folds"] == 10 and len(s["fold_results"]) == 10
    assert (s["train_rows_per_fold"], s["val_rows_per_fold"], s["dropped_rows"]) == (90, 10, 0)
    seen = set()
    for fold in s["fold_results"]:
        val = set(fold["val_indices"])
        assert len(val) == 10 and seen.isdisjoint(val)
        seen |= val
    assert seen == set(range(100))
    assert all(math.isfinite(s[k]) for k in ("cv_val_loss_mean", "test_loss", "gap_test_loss"))
    vals = [f["val_loss"] for f in s["fold_results"]]
    mean = sum(vals) / len(vals)
    assert math.isclose(s["cv_val_loss_mean"], mean, rel_tol=1e-9)
    assert s["gap"] == [1.0, 3.0]


def test_equal_folds_when_n_is_not_a_multiple_of_k():
    train, val = equal_folds(23, 5, seed=3)
    assert train.shape == (5, 18) and val.shape == (5, 4)
    for tr, va in zip(train, val, strict=True):
        assert not set(tr.tolist()) & set(va.tolist())
    flat = val.reshape(-1)
    assert len(torch.unique(flat)) == flat.numel()  # no row validated twice
