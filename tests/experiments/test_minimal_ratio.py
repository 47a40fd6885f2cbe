"""minimal-ratio smoke run: summary keys, and the reported ratios and gradient norms against
torch.func.hessian / torch.autograd on the saved float64 end points."""

import numpy as np
import pytest
import torch

from optional_deps import require
from trainlab.diagnostics import load_flat, make_loss_fn, minimal_ratio
from trainlab.experiments.minimal_ratio import Config, spearman
from trainlab.models import mlp
from trainlab.runner import execute

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")



@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = execute("minimal-ratio", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def member_net(theta: np.ndarray):
    cfg = Config()
    net = mlp(cfg.widths, 1, 1, [0], cfg.activation).member(0).double()
    load_flat(net, torch.as_tensor(theta))
    return net


def test_summary_keys(outcome):
    s = outcome.summary
    assert len(s["points"]) == s["runs"]
    assert s["n_reached_threshold"] == sum(p["reached"] for p in s["points"]) >= 1
    assert (outcome.path / "figures" / "minimal-ratio.png").exists()


def test_ratios_and_grad_norms_against_autograd(outcome):
    s = outcome.summary
    saved = np.load(outcome.path / "critical_points.npz")
    x = torch.as_tensor(saved["x"]).double()
    y = torch.as_tensor(saved["y"]).double()
    for e, point in enumerate(s["points"]):
        theta = torch.as_tensor(saved["theta"][e])
        net = member_net(saved["theta"][e])
        f = make_loss_fn(net, "mse", x, y)
        grad = torch.autograd.grad(f(theta.requires_grad_(True)), theta)[0]
        assert float(grad.norm()) == pytest.approx(point["grad_norm"], rel=1e-6, abs=1e-12)
        if point["reached"]:
            assert float(grad.norm()) < s["threshold"]
        assert float(f(theta.detach())) == pytest.approx(point["loss"], rel=1e-9)
        eig = torch.linalg.eigvalsh(torch.func.hessian(f)(theta.detach()))
        assert minimal_ratio(eig, tol=s["ratio_tol"]) == pytest.approx(point["minimal_ratio"])


def test_closed_form_hessian_cross_check_in_the_summary(outcome):
    # the experiment compares its closed-form Hessian with diagnostics.hessian_eigenvalues
    # (torch.func) on run 0: two derivations of one matrix agree to rounding
    saved = np.load(outcome.path / "critical_points.npz")
    scale = float(np.abs(saved["eigenvalues"][0]).max())
    assert 0 <= outcome.summary["hessian_check_max_abs_diff"] < 1e-10 * max(scale, 1.0)


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    stats = require("scipy.stats")
    a = [0.2, 0.2, 0.3, 0.1, 0.25, 0.3, 0.1]
    b = [1e-3, 2e-3, 5e-4, 3e-3, 1e-3, 4e-4, 2e-3]
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
