"""grad-norm: smoke run through the runner, and the recorder against torch.autograd.grad."""

import numpy as np
import pytest
import torch

from trainlab.experiments.grad_norm import GradNormRecorder
from trainlab.losses import member_loss
from trainlab.models import Ensemble, mlp
from trainlab.runner import execute
from trainlab.runs import read_metrics


def test_smoke_run(tmp_path):
    out = execute("grad-norm", preset="smoke", runs_dir=tmp_path, progress=False, quiet=True)
    assert out.state == "completed", out.reason
    s = out.summary
    # smoke: 200 points in batches of 64 = 4 iterations per epoch, 3 epochs
    assert s["iterations"] == 12 and s["tasks"]["function"]["iterations"] == 12
    assert s["tasks"]["mnist"]["iterations"] == 8  # 500 images / 64 -> 8 per epoch, 1 epoch
    assert s["final_grad_norm"] > 0 and np.isfinite(s["final_loss"])
    rows = [r for r in read_metrics(out.path / "metrics.jsonl") if "step" in r]
    assert len(rows) == 12 + 8 and all("grad_norm" in r for r in rows)
    assert rows[11]["grad_norm"] == pytest.approx(s["final_grad_norm"])
    for task in ("function", "mnist"):
        assert (out.path / "figures" / f"{task}-grad-norm.png").exists()


@pytest.mark.parametrize("spec,shape", [
    (None, (3,)),
    ([("conv", 4, 3, 1, 1), ("act", "relu"), ("maxpool", 2), ("flatten",), ("linear", 5)],
     (1, 6, 6))])
def test_recorded_norm_equals_autograd(spec, shape):
    seeds = [0, 1, 2]
    if spec is None:
        model, loss = mlp([6, 5], 3, 1, seeds, "tanh"), "mse"
    else:
        model, loss = Ensemble(spec, shape, seeds), "cross_entropy"
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, *shape, generator=gen)  # a different minibatch per member
    y = (torch.randn(3, 8, 1, generator=gen) if loss == "mse"
         else torch.randint(0, 5, (3, 8), generator=gen))
    rec = GradNormRecorder(model)
    losses = member_loss(loss, model(x), y)
    losses.sum().backward()
    rec.on_step(0, model, losses.detach())
    n_layers = 3 if spec is None else 2
    assert rec.norms.shape == (1, 3) and rec.layer_norms.shape == (1, 3, n_layers)
    for e in range(3):
        net = model.member(e)
        out = net(x[e])
        ref = (torch.nn.functional.mse_loss(out, y[e]) if loss == "mse"
               else torch.nn.functional.cross_entropy(out, y[e]))
        grads = torch.autograd.grad(ref, list(net.parameters()))
        whole = float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads)))
        assert rec.norms[0, e] == pytest.approx(whole, rel=1e-5)
        assert rec.losses[0, e] == pytest.approx(float(ref.detach()), rel=1e-6)
        layers = [float(torch.sqrt(grads[i].double().pow(2).sum()
                                   + grads[i + 1].double().pow(2).sum()))
                  for i in range(0, 2 * n_layers, 2)]
        assert rec.layer_norms[0, e] == pytest.approx(layers, rel=1e-5)
