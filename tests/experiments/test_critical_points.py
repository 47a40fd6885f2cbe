"""critical-points: sin x·sin y's saddles and extrema exactly; LMS Hessian in closed form."""

import math

import numpy as np
import pytest
import torch

from trainlab.data import parse_expression
from trainlab.experiments.critical_points import classify, derivatives, lms_hessian
from trainlab.runner import execute


def _at(points, x, y):
    near = [p for p in points if abs(p["x"] - x) < 1e-6 and abs(p["y"] - y) < 1e-6]
    assert len(near) == 1, f"no single critical point found at ({x}, {y})"
    return near[0]


def test_sin_sin_critical_points_and_lms(tmp_path):
    out = execute("critical-points", preset="smoke", runs_dir=tmp_path, progress=False,
                  quiet=True)
    assert out.state == "completed"
    s = out.summary
    points = s["points"]
    assert len(points) == 13  # 9 saddles (multiples of π) + 2 maxima + 2 minima
    half = math.pi / 2
    for (x, y), kind, eig in (((0.0, 0.0), "saddle", [-1, 1]), ((half, half), "max", [-1, -1]),
                              ((half, -half), "min", [1, 1])):
        p = _at(points, x, y)
        assert p["kind"] == kind
        np.testing.assert_allclose(p["eigenvalues"], eig, atol=1e-6)
    np.testing.assert_allclose(_at(points, 0, 0)["hessian"], [[0, 1], [1, 0]], atol=1e-6)
    assert (s["n_saddle"], s["n_max"], s["n_min"]) == (9, 2, 2)
    np.testing.assert_allclose(s["lms"]["hessian"], [[2, 0], [0, 2]], atol=1e-12)
    np.testing.assert_allclose(s["lms"]["eigenvalues"], [2, 2], atol=1e-12)
    np.testing.assert_allclose(s["lms"]["minimum"], [0, 1], atol=1e-12)


def test_lms_hessian_equals_closed_form_for_any_data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(7, generator=gen, dtype=torch.float64)
    auto, closed = lms_hessian(x, y)
    torch.testing.assert_close(auto, 2 / 7 * x.T @ x)
    torch.testing.assert_close(closed, 2 / 7 * x.T @ x)


@pytest.mark.parametrize("text, kind", [("x**2 + y**4", "degenerate"), ("x**2 - 3*y**2", "saddle"),
                                        ("x*y*0 + 2", "degenerate")])
def test_classification_at_the_origin(text, kind):
    f = parse_expression(text, variables=("x", "y"))
    _, grad, hess = derivatives(f, torch.zeros(1, 2, dtype=torch.float64))
    assert float(grad.abs().max()) == 0.0
    assert classify(torch.linalg.eigvalsh(hess[0]).numpy(), 1e-6) == kind
