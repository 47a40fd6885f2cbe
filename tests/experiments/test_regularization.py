"""regularization: smoke run, weight norms, and the NumPy and PyTorch penalised MLPs agree."""

import numpy as np
import pytest
import torch

from trainlab.losses import member_loss, member_penalty
from trainlab.models import mlp
from trainlab.numpy_nn import init_params, loss_and_grads
from trainlab.runner import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = execute("regularization", preset="smoke", runs_dir=tmp_path_factory.mktemp("runs"),
                  progress=False, quiet=True)
    assert out.state == "completed", out.reason
    return out


def test_smoke_summary(smoke):
    results = smoke.summary["results"]
    assert [(r["penalty"], r["lambda"]) for r in results] == [
        ("l1", 0.0), ("l1", 1e-3), ("l2", 0.0), ("l2", 1e-1)]
    for r in results:
        assert np.isfinite(r["train_loss"]) and np.isfinite(r["test_loss"])
    # λ = 0 is the same model in both ensembles (same start, same batches)
    assert results[0]["train_loss"] == pytest.approx(results[2]["train_loss"], rel=1e-5)


def test_larger_lambda_gives_smaller_weights(smoke):
    for pen, key in (("l1", "l1_norm"), ("l2", "weight_norm")):
        rows = sorted((r for r in smoke.summary["results"] if r["penalty"] == pen),
                      key=lambda r: r["lambda"])
        norms = [r[key] for r in rows]
        assert all(a > b for a, b in zip(norms, norms[1:], strict=False)), (pen, norms)
        # and the penalty costs training loss
        assert rows[-1]["train_loss"] > rows[0]["train_loss"]


def torch_penalised(params_np, x, y, penalty, lam, weights_only):
    """Penalised loss and gradients of the same sigmoid MLP built as a trainlab Ensemble."""
    widths = [params_np[0][0].shape[0]] + [W.shape[1] for W, _ in params_np]
    model = mlp(widths[1:-1], widths[0], widths[-1], seeds=[0], activation="sigmoid").double()
    layers = [m for m in model.layers if hasattr(m, "weight")]
    with torch.no_grad():
        for layer, (W, b) in zip(layers, params_np, strict=True):
            layer.weight[0] = torch.from_numpy(W.T)  # numpy: x @ W, torch: x @ weight.T
            layer.bias[0] = torch.from_numpy(b)
    params = list(model.parameters())
    total = (member_loss("cross_entropy", model(torch.from_numpy(x)), torch.from_numpy(y))
             + member_penalty(penalty, params, lam, weights_only)).sum()
    total.backward()
    grads = [(layer.weight.grad[0].T.numpy(), layer.bias.grad[0].numpy()) for layer in layers]
    return total.item(), grads


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_numpy_and_pytorch_penalised_mlp_agree(penalty, weights_only):
    rng = np.random.default_rng(3)
    params = init_params([7, 6, 5, 4], seed=3)
    for _, b in params:
        b[:] = rng.normal(0, 0.5, size=b.shape)  # nonzero biases: their penalty matters
    x, y, lam = rng.normal(size=(9, 7)), rng.integers(0, 4, size=9), 0.03
    value, grads = loss_and_grads(params, x, y, "cross_entropy", penalty, lam, "sigmoid")
    if not weights_only:  # numpy_nn penalises weights only; add the biases' term by hand
        for i, (_, b) in enumerate(params):
            value += lam * (np.abs(b).sum() if penalty == "l1" else (b ** 2).sum())
            extra = lam * np.sign(b) if penalty == "l1" else 2 * lam * b
            grads[i] = (grads[i][0], grads[i][1] + extra)
    tvalue, tgrads = torch_penalised(params, x, y, penalty, lam, weights_only)
    assert tvalue == pytest.approx(value, rel=1e-12)
    for (gW, gb), (tW, tb) in zip(grads, tgrads, strict=True):
        np.testing.assert_allclose(tW, gW, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tb, gb, rtol=1e-9, atol=1e-12)
