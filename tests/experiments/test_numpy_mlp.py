"""numpy-mlp: gradient check, λ sweep and momentum of the from-scratch NumPy MLP."""

import pytest

from trainlab.config import resolve
from trainlab.experiments import numpy_mlp
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("numpy-mlp", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def test_smoke_summary_sweeps_the_lambdas(smoke):
    s = smoke.summary
    assert [(r["penalty"], r["lambda"]) for r in s["lambda_sweep"]] == [
        ("l1", 0.0), ("l1", 1e-2), ("l2", 0.0), ("l2", 1e-2)]
    assert s["momentum"]["epochs"] == 5


def test_gradients_pass_the_check(smoke):
    s = smoke.summary
    assert s["grad_check_max_rel_error"] < 1e-6
    assert {r["penalty"] for r in s["grad_check"]} == {"none", "l1", "l2"}
    for r in s["grad_check"]:
        assert r["vs_autograd"] < 1e-10  # same float64 arithmetic, other code
        assert r["loss_diff_autograd"] < 1e-12


def test_grad_check_catches_a_wrong_gradient(monkeypatch):
    """The check must fail on a backward pass that is off by 1 %."""
    real = numpy_mlp.loss_and_grads

    def wrong(params, x, y, loss, penalty, lam):
        value, grads = real(params, x, y, loss, penalty, lam)
        return value, [(1.01 * gW, gb) for gW, gb in grads]

    monkeypatch.setattr(numpy_mlp, "loss_and_grads", wrong)
    rows = numpy_mlp.grad_check(resolve(numpy_mlp.Config, numpy_mlp.PRESETS, "smoke"))
    assert all(r["vs_finite_differences"] > 1e-3 and r["vs_autograd"] > 1e-3 for r in rows)


def test_penalty_and_momentum_effects(smoke):
    sweep = {(r["penalty"], r["lambda"]): r for r in smoke.summary["lambda_sweep"]}
    for pen in ("l1", "l2"):  # the penalty shrinks the weights
        assert sweep[(pen, 1e-2)]["weight_norm"] < sweep[(pen, 0.0)]["weight_norm"]
    # λ = 0 trains the same network for both penalties
    assert sweep[("l1", 0.0)]["train_loss"] == sweep[("l2", 0.0)]["train_loss"]
    m = smoke.summary["momentum"]
    assert m["momentum_loss"] < m["sgd_loss"]
