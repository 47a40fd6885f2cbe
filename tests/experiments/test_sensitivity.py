"""sensitivity: Jacobian norms, input-gradient norms and sharpness against oracles."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlab.config import from_dict, resolve
from trainlab.experiments.sensitivity import (
    PRESETS,
    Config,
    batch_sizes,
    load_data,
)
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("sensitivity", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    cfg = from_dict(Config, json.loads((out.path / "config.json").read_text())["config"])
    data, _ = load_data(cfg, torch.device("cpu"))
    return out, cfg, data


def _trained(out, cfg, bs: int) -> torch.nn.Sequential:
    """The trained model of batch size `bs`, rebuilt as a plain network from its weights."""
    flat = torch.load(out.path / "checkpoints" / f"final-batch-{bs}.pt",
                      weights_only=True)["flat"][0]
    w = cfg.model.widths[0]
    net = torch.nn.Sequential(torch.nn.Linear(784, w), torch.nn.ReLU(), torch.nn.Linear(w, 10))
    torch.nn.utils.vector_to_parameters(flat, net.parameters())
    return net.eval()


def test_summary_keys(smoke):
    out, cfg, _ = smoke
    results = out.summary["results"]
    assert [r["batch_size"] for r in results] == cfg.batch_sizes
    for r in results:
        assert r["jacobian_norm"] > 0 and r["loss_grad_norm"] > 0 and r["sharpness"] >= 0
        assert r["reached"] == (r["train_loss"] < cfg.loss_threshold)
        if not r["reached"]:
            assert r["epochs_trained"] == cfg.epochs
    assert (out.path / "figures" / "batch-size.png").exists()


def test_jacobian_norm_equals_autograd_loop(smoke):
    out, cfg, (xtr, ytr, xte, yte) = smoke
    n = cfg.sensitivity_examples
    for r in out.summary["results"]:
        net = _trained(out, cfg, r["batch_size"])
        def probs(v, net=net):
            return torch.softmax(net(v), -1)

        fro, grad = [], []
        for i in range(n):
            jac = torch.autograd.functional.jacobian(probs, xte[i])
            assert jac.shape == (10, 784)
            fro.append(float(jac.norm()))
            x = xte[i:i + 1].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(net(x), yte[i:i + 1]), x)
            grad.append(float(g.norm()))
        assert r["jacobian_norm"] == pytest.approx(np.mean(fro), rel=1e-4)
        assert r["loss_grad_norm"] == pytest.approx(np.mean(grad), rel=1e-4)
        with torch.no_grad():
            assert r["test_loss"] == pytest.approx(float(F.cross_entropy(net(xte), yte)),
                                                   rel=1e-4)


def test_sharpness_is_at_least_the_box_corner(smoke):
    """The ascent starts at x + sign(∇f)·ε(|x| + 1) and keeps the largest loss seen."""
    out, cfg, (xtr, ytr, _, _) = smoke
    x, y = xtr[:cfg.sharpness_examples], ytr[:cfg.sharpness_examples]
    for r in out.summary["results"]:
        net = _trained(out, cfg, r["batch_size"])
        theta = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
        f0 = F.cross_entropy(net(x), y)
        g = torch.autograd.grad(f0, list(net.parameters()))
        sign = torch.sign(torch.cat([t.reshape(-1) for t in g]))
        corner = theta + sign * cfg.epsilon * (theta.abs() + 1)
        torch.nn.utils.vector_to_parameters(corner, net.parameters())
        with torch.no_grad():
            fc = float(F.cross_entropy(net(x), y))
        base = float(f0.detach())
        phi_corner = 100 * (fc - base) / (1 + base)
        assert phi_corner > 0
        assert r["sharpness"] >= phi_corner * (1 - 1e-4)
        # a box of half-width ε(|θ|+1) cannot raise the loss more than |∇f|·box + O(ε²)
        assert r["sharpness"] < 100


def test_batch_sizes_are_capped_at_the_train_size():
    cfg = resolve(Config, PRESETS, "full")
    assert batch_sizes(cfg, 4000) == [16, 64, 256, 1024, 4000]
    cfg.batch_sizes = [16, 4096, 8192]
    assert batch_sizes(cfg, 4000) == [16, 4000]
