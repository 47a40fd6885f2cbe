import pytest
import torch

from trainlab.diagnostics import flatten_params, make_loss_fn, sharpness
from trainlab.errors import BadInput

A = torch.tensor([3.0, 1.0, 0.5, 0.0, 2.0, 0.1], dtype=torch.float64)


def quadratic(t):
    return 0.5 * (A * t * t).sum()


def box_maximum(eps):
    """max of 1/2 sum a_i y_i^2 over |y_i| <= eps (|0| + 1), at x = 0 where f = 0."""
    return 100 * 0.5 * float(A.sum()) * eps**2


@pytest.mark.parametrize("method", ["ascent", "lbfgsb"])
@pytest.mark.parametrize("eps", [1e-3, 0.1])
def test_quadratic_box_maximum_is_reached(method, eps):
    x = torch.zeros(6, dtype=torch.float64)
    got = sharpness(quadratic, x, epsilon=eps, method=method)
    assert box_maximum(eps) * 0.99 <= got <= box_maximum(eps) * (1 + 1e-9)


def test_box_scales_with_weights_and_loss():
    # f(x) = 1/2 a (x - 1)^2 + c near x0 = 1 (|x0| + 1 = 2): max 1/2 a (2 eps)^2
    a, c, eps = 4.0, 0.5, 0.01
    f = lambda t: 0.5 * a * ((t - 1) ** 2).sum() + c  # noqa: E731
    x = torch.ones(1, dtype=torch.float64)
    expected = 100 * 0.5 * a * (2 * eps) ** 2 / (1 + c)
    for method in ("ascent", "lbfgsb"):
        assert sharpness(f, x, eps, method=method) == pytest.approx(expected, rel=1e-2)


def test_lbfgsb_started_at_the_minimum_reports_zero():
    x = torch.zeros(6, dtype=torch.float64)
    assert sharpness(quadratic, x, 0.1, method="lbfgsb", start="center") == pytest.approx(0.0)
    assert sharpness(quadratic, x, 0.1, method="lbfgsb") > 0.99 * box_maximum(0.1)


def test_network_sharpness_is_positive_and_methods_agree(make_mlp, regression_data):
    model = make_mlp(widths=(4, 6, 1))
    f = make_loss_fn(model, "mse", *regression_data)
    theta = flatten_params(model)
    ascent = sharpness(f, theta, 1e-2, method="ascent")
    lbfgsb = sharpness(f, theta, 1e-2, method="lbfgsb", steps=20)
    assert ascent > 0 and lbfgsb > 0
    assert ascent == pytest.approx(lbfgsb, rel=0.5)


def test_bad_arguments():
    with pytest.raises(BadInput):
        sharpness(quadratic, torch.zeros(6), method="adam")
    with pytest.raises(BadInput):
        sharpness(quadratic, torch.zeros(6), epsilon=0)
