"""polyfit against closed-form least squares."""

import numpy as np
import pytest
import torch

from trainlab.config import resolve
from trainlab.experiments.polyfit import (
    PRESETS,
    Config,
    lstsq_coefficients,
    make_data,
    polynomial_text,
)
from trainlab.runner import execute


def test_lstsq_recovers_noise_free_coefficients():
    cfg = resolve(Config, PRESETS, "full")
    x, feats, y, true = make_data(cfg)
    coef = lstsq_coefficients(feats, y)
    design = np.vander(x.double().numpy(), cfg.degree + 1, increasing=True)
    ref = np.linalg.lstsq(design, y.double().numpy()[:, 0], rcond=None)[0]
    np.testing.assert_allclose(coef, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(coef, true, atol=1e-5)


def test_smoke_run_summary(tmp_path):
    out = execute("polyfit", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True)
    s = out.summary
    assert out.state == "completed"
    assert len(s["true_coeffs"]) == 5 and len(s["lstsq_coeffs"]) == 5
    assert [r["lr"] for r in s["runs"]] == [0.1, 0.01, 0.001]
    for r in s["runs"]:
        err = np.max(np.abs(np.array(r["learned_coeffs"]) - np.array(s["true_coeffs"])))
        assert r["max_abs_coeff_error"] == pytest.approx(err)
    # larger rates get further in the same number of epochs
    errs = [r["max_abs_coeff_error"] for r in s["runs"]]
    assert errs[0] < errs[1] < errs[2]


def test_sgd_converges_to_least_squares_with_enough_epochs(tmp_path):
    out = execute("polyfit", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True,
                  sets={"lrs": [0.1], "epochs": 3000, "loss": "mse", "batch_size": 200,
                        "snapshot_epochs": [3000], "degree": 2})
    s = out.summary
    np.testing.assert_allclose(s["runs"][0]["learned_coeffs"], s["lstsq_coeffs"], atol=1e-3)


def test_polynomial_text():
    assert polynomial_text([1.0, -2.0, 0.5]) == "y = +0.50 x^2 -2.00 x +1.00"


def test_learned_coefficients_map_to_the_linear_layer():
    # constant term first: bias, then x, x^2, ... weights
    from trainlab.experiments.polyfit import _coeffs

    assert _coeffs(torch.tensor([2.0, 3.0, 7.0])) == [7.0, 2.0, 3.0]
