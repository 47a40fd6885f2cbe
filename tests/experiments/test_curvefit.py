"""curvefit: candidates × folds as one ensemble, width masks, early stopping, scale invariance."""

import math

import numpy as np
import pytest
import torch

from trainlab.data import GAP_CASES, gap_case, write_table
from trainlab.experiments._model_selection import BestEpoch, WidthMask, candidate_grid
from trainlab.experiments.curvefit import equal_folds
from trainlab.losses import Penalty
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.runner import execute
from trainlab.train import Split, evaluate, fit


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
    assert math.isclose(s["cv_val_loss_mean"], sum(vals) / len(vals), rel_tol=1e-9)
    assert s["gap"] == [1.0, 3.0]
    # smoke grid: widths [8, 20] x lr [0.01] x l2 [0, 1e-3]; the choice has the lowest score
    assert [(c["width"], c["l2"]) for c in s["candidates"]] == [(8, 0), (8, 1e-3), (20, 0),
                                                                (20, 1e-3)]
    best = min(s["candidates"], key=lambda c: c["cv_val_loss_mean"])
    assert (s["chosen"]["width"], s["chosen"]["l2"]) == (best["width"], best["l2"])
    assert s["cv_val_loss_mean"] == best["cv_val_loss_mean"]


def test_equal_folds_when_n_is_not_a_multiple_of_k():
    train, val = equal_folds(23, 5, seed=3)
    assert train.shape == (5, 18) and val.shape == (5, 4)
    for tr, va in zip(train, val, strict=True):
        assert not set(tr.tolist()) & set(va.tolist())
    flat = val.reshape(-1)
    assert len(torch.unique(flat)) == flat.numel()  # no row validated twice


def test_candidate_grid_is_the_full_product():
    grid = candidate_grid([4, 8], [0.1, 0.01], [0.0])
    assert grid == [{"width": 4, "lr": 0.1, "l2": 0.0}, {"width": 4, "lr": 0.01, "l2": 0.0},
                    {"width": 8, "lr": 0.1, "l2": 0.0}, {"width": 8, "lr": 0.01, "l2": 0.0}]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_a_masked_member_trains_exactly_like_the_narrower_network(activation):
    torch.manual_seed(0)
    x = torch.linspace(-2, 2, 30).unsqueeze(1)
    y = torch.sin(2 * x)
    wide = mlp([12], 1, 1, seeds=[1, 1], activation=activation)
    WidthMask(wide, [5, 12])  # member 0 is a width-5 network
    narrow = mlp([5], 1, 1, seeds=[1], activation=activation)
    with torch.no_grad():  # the narrow net starts where the masked member starts
        for pn, pw in zip(narrow.parameters(), wide.parameters(), strict=True):
            idx = tuple(slice(0, s) for s in pn.shape[1:])
            pn[0].copy_(pw[0][idx])
    kwargs = {"epochs": 40, "batch_size": 30, "loss": "mse", "optim": OptimSpec("adam", 0.05),
              "penalty": Penalty("l2", 1e-3, weights_only=True), "progress": False}
    fit(wide, Split(x, y), callbacks=[WidthMask(wide, [5, 12])], **kwargs)
    fit(narrow, Split(x, y), **kwargs)
    hidden_w, hidden_b, out_w, _ = wide.parameters()
    assert hidden_w[0, 5:].abs().max() == 0 and hidden_b[0, 5:].abs().max() == 0
    assert out_w[0, :, 5:].abs().max() == 0
    with torch.no_grad():
        torch.testing.assert_close(wide(x)[0], narrow(x)[0], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(wide(x)[1], wide(x)[0], atol=1e-3)  # the wide one differs


def test_best_epoch_restores_each_members_lowest_validation_loss():
    torch.manual_seed(0)
    x = torch.randn(3, 20, 1)
    y = torch.sin(3 * x) + 0.5 * torch.randn(3, 20, 1)  # noisy: validation rises later
    xv, yv = torch.randn(3, 20, 1), torch.sin(3 * torch.randn(3, 20, 1))
    model = mlp([32], 1, 1, seeds=[0, 1, 2], activation="tanh")
    best = BestEpoch(model, patience=10_000)
    val = Split(xv, yv, per_member=True)
    result = fit(model, Split(x, y, per_member=True), epochs=150, batch_size=20, loss="mse",
                 optim=OptimSpec("adam", [0.03, 0.01, 0.1]), evals={"val": val}, callbacks=[best],
                 progress=False)
    series = result.history.series("val", "loss")  # (T, 3)
    best.restore()
    with torch.no_grad():
        restored = evaluate(model, val, "mse")["loss"].double().numpy()
    np.testing.assert_allclose(restored, series.min(0), rtol=1e-5)
    epochs = np.asarray(result.history.epochs)[series.argmin(0)]
    np.testing.assert_array_equal(best.best_epoch.numpy(), epochs)


def test_early_stopping_ends_training_after_patience():
    x = torch.linspace(-1, 1, 10).unsqueeze(1)
    model = mlp([4], 1, 1, seeds=[0])
    best = BestEpoch(model, patience=5)
    result = fit(model, Split(x, x), epochs=500, batch_size=10, loss="mse",
                 optim=OptimSpec("sgd", 1e-12), evals={"val": Split(x, x)}, callbacks=[best],
                 progress=False)
    assert result.history.epochs[-1] < 500


def _case_files(folder, name, sx=1.0, sy=1.0):
    pair = gap_case(name)
    train, test = (write_table(folder / f"{part}.csv", type(t).from_array(
        ["x", "y"], t.to_array() * [sx, sy], "y")) for part, t in (("train", pair.train),
                                                                   ("test", pair.test)))
    return {"data.path": str(train), "data.test_path": str(test)}


def test_rescaling_x_and_y_scales_the_test_mse_by_the_square_of_the_y_scale(tmp_path):
    sets = {"folds": 5, "epochs": 200, "eval_every": 10, "widths": [16], "lrs": [0.03],
            "l2s": [0.0, 1e-4]}
    losses = []
    for sx, sy in ((1.0, 1.0), (10.0, 100.0)):
        folder = tmp_path / f"s{sx:g}"
        folder.mkdir()
        out = execute("curvefit", preset="smoke", runs_dir=folder / "runs", progress=False,
                      quiet=True, sets={**sets, **_case_files(folder, "sine-trend", sx, sy)})
        assert out.state == "completed"
        losses.append(out.summary)
    ratio = losses[1]["test_loss"] / losses[0]["test_loss"]
    assert ratio == pytest.approx(1e4, rel=0.10)
    assert losses[1]["cv_val_loss_mean"] / losses[0]["cv_val_loss_mean"] == pytest.approx(
        1e4, rel=0.10)


@pytest.mark.parametrize("name", list(GAP_CASES))
def test_quick_preset_beats_hand_tuned_students_on_realistic_gap_data(tmp_path, name):
    # The issue's bar: students' hand-tuned grid searches reach 0.11 test MSE on a real
    # course dataset of this shape; noise floor here is the case's noise² (<= 0.04).
    sy = GAP_CASES[name][3][1]
    out = execute("curvefit", preset="quick", runs_dir=tmp_path, progress=False, quiet=True,
                  sets=_case_files(tmp_path, name))
    assert out.state == "completed"
    assert out.summary["test_loss"] / sy ** 2 < 0.11, out.summary["chosen"]
