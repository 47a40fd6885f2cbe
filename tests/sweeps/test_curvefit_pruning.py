"""Pruning per fold: curvefit reports each fold of its cross-validation as it finishes.

The folds train as one ensemble; `FoldReport` logs one `cv` row per finished fold with
the running CV score, which a sweep's pruner watches (`cv/val_loss_mean`, the default
for curvefit's objective `cv_val_loss_mean`). Oracles: the rule "a fold is finished when
none of its members improved for `patience` epochs" on hand-set best epochs, the
summary's own candidate scores for the last row, and the run folder after a pruner
that prunes at once.
"""

from __future__ import annotations

import json

import pytest
import torch
from study_capture import capture_study

import trainlab
from optional_deps import require
from trainlab.experiments._model_selection import BestEpoch, FoldReport
from trainlab.history import History
from trainlab.run_folder import read_metrics

optuna = require("optuna")


def _history_at(epoch: int) -> History:
    h = History()
    h.epochs.append(epoch)
    return h


def test_folds_finish_one_by_one_with_the_running_score():
    """C=2 candidates × k=3 folds; member c·3+f. Fold 1's members last improved at epoch
    4 and fold 0's at 8, fold 2's at 12; patience 5: fold 1 finishes at epoch 9, fold 0
    at 13 and fold 2 at the last epoch (15)."""
    model = torch.nn.Linear(1, 6)  # only its first parameter's length (6 members) is used
    best = BestEpoch(model, patience=5)
    best.best = torch.tensor([1.0, 2.0, 3.0, 4.0, 1.0, 0.5], dtype=torch.float64)
    best.best_epoch = torch.tensor([8, 4, 12, 2, 3, 6])
    best.last_improved = 12
    rows: list[dict] = []
    rep = FoldReport(best, candidates=2, folds=3, epochs=15, scale=2.0, report=rows.append)
    for epoch in range(1, 16):
        rep.on_epoch_end(epoch, model, _history_at(epoch))
    assert [(r["fold"], r["finished_epoch"], r["step"]) for r in rows] == [
        (1, 9, 1), (0, 13, 2), (2, 15, 3)]
    # running score: min over candidates of the mean over finished folds, × scale
    expect = [min(2.0, 1.0), min((2 + 1) / 2, (1 + 4) / 2), min(2.0, 5.5 / 3)]
    assert [r["val_loss_mean"] for r in rows] == pytest.approx([2 * e for e in expect])
    rep.finish([0, 1, 2], 15)  # after fit: nothing is reported twice
    assert len(rows) == 3


def test_no_fold_ends_between_evaluations():
    model = torch.nn.Linear(1, 2)
    best = BestEpoch(model, patience=1)
    rows: list[dict] = []
    rep = FoldReport(best, candidates=1, folds=2, epochs=10, scale=1.0, report=rows.append)
    rep.on_epoch_end(5, model, _history_at(4))  # epoch 5 was not evaluated
    assert rows == []
    rep.on_epoch_end(10, model, _history_at(4))  # the last epoch ends every fold
    assert [r["fold"] for r in rows] == [0, 1]


class PruneAtOnce(optuna.pruners.BasePruner):
    """Prunes at the first value a trial reports."""

    def prune(self, study, trial) -> bool:
        return True


def test_a_trial_is_pruned_after_its_first_fold(tmp_path, monkeypatch):
    studies = capture_study(monkeypatch, PruneAtOnce())
    out = trainlab.sweep("curvefit", sampler="random", trials=1, preset="smoke", seed=0,
                         pruner="median", out=tmp_path / "s", echo=False, report=False)
    (trial,) = studies[0].get_trials()
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1] and trial.user_attrs["pruned_at"] == 1
    run = out / "trials" / "0"
    cv = [r for r in read_metrics(run / "metrics.jsonl") if r.get("fit") == "cv"]
    assert len(cv) == 1 and cv[0]["step"] == 1
    assert trial.intermediate_values[1] == pytest.approx(cv[0]["val_loss_mean"])
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "pruned by the sweep at step 1" in status["reason"]
    assert not (run / "summary.json").exists()


def test_unpruned_trial_reports_every_fold_and_keeps_its_value(tmp_path, monkeypatch):
    """A pruner that never prunes sees k rows; the last is the run's CV score, which is
    the lowest of the summary's candidate scores."""

    class Never(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return False

    studies = capture_study(monkeypatch, Never())
    out = trainlab.sweep("curvefit", sampler="random", trials=1, preset="smoke", seed=0,
                         pruner="median", out=tmp_path / "s", echo=False, report=False)
    (trial,) = studies[0].get_trials()
    run = out / "trials" / "0"
    summary = json.loads((run / "summary.json").read_text())
    cv = [r for r in read_metrics(run / "metrics.jsonl") if r.get("fit") == "cv"]
    k = summary["folds"]
    assert [r["step"] for r in cv] == list(range(1, k + 1))
    assert sorted(r["fold"] for r in cv) == list(range(k))
    lowest = min(c["cv_val_loss_mean"] for c in summary["candidates"])
    assert cv[-1]["val_loss_mean"] == pytest.approx(lowest, rel=1e-9)
    assert trial.value == pytest.approx(summary["cv_val_loss_mean"]) == pytest.approx(lowest)
    assert sorted(trial.intermediate_values) == list(range(1, k + 1))
