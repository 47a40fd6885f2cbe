"""The ensemble loop: equal to separate runs, exact resume, divergence handling."""

import numpy as np
import pytest
import torch

from trainlab import engine
from trainlab.errors import Diverged
from trainlab.losses import Penalty, member_loss
from trainlab.models import mlp
from trainlab.optim import OptimSpec
from trainlab.runs import RunContext
from trainlab.train import Split, evaluate, fit


def _data(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    return Split(x, torch.sin(x) + x ** 2)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "momentum"])
def test_ensemble_equals_separate_single_runs(optimizer):
    data = _data()
    seeds = [3, 4, 5, 6]
    ens = mlp([10, 10], 1, 1, seeds=seeds)
    fit(ens, data, epochs=5, batch_size=32, loss="mse", optim=OptimSpec(optimizer, 0.01),
        progress=False)
    for e, seed in enumerate(seeds):
        single = mlp([10, 10], 1, 1, seeds=[seed])
        fit(single, data, epochs=5, batch_size=32, loss="mse",
            optim=OptimSpec(optimizer, 0.01), progress=False)
        torch.testing.assert_close(ens.member_vector(e), single.member_vector(0),
                                   rtol=1e-5, atol=1e-5)


def test_per_member_data_equals_separate_runs():
    full = _data(100)
    idx = torch.stack([torch.arange(0, 50), torch.arange(50, 100)])
    per = Split(full.x[idx], full.y[idx], per_member=True)
    ens = mlp([8], 1, 1, seeds=[0, 0])
    fit(ens, per, epochs=4, batch_size=10, loss="mse", optim=OptimSpec("adam", 0.01),
        progress=False)
    for e in range(2):
        single = mlp([8], 1, 1, seeds=[0])
        fit(single, Split(full.x[idx[e]], full.y[idx[e]]), epochs=4, batch_size=10, loss="mse",
            optim=OptimSpec("adam", 0.01), progress=False)
        torch.testing.assert_close(ens.member_vector(e), single.member_vector(0),
                                   rtol=1e-5, atol=1e-5)


def test_plain_pytorch_oracle_full_batch_sgd():
    data = _data(64)
    model = mlp([5], 1, 1, seeds=[0])
    plain = model.member(0)
    opt = torch.optim.SGD(plain.parameters(), lr=0.05)
    for _ in range(10):
        opt.zero_grad()
        torch.nn.functional.mse_loss(plain(data.x), data.y).backward()
        opt.step()
    fit(model, data, epochs=10, batch_size=64, loss="mse", optim=OptimSpec("sgd", 0.05),
        progress=False)
    torch.testing.assert_close(model.member_vector(0),
                               torch.nn.utils.parameters_to_vector(plain.parameters()))


def test_evaluate_matches_plain_loss():
    data = _data(50)
    model = mlp([6], 1, 1, seeds=[0, 1])
    res = evaluate(model, data, "mse", batch=16)
    for e in range(2):
        ref = torch.nn.functional.mse_loss(model.member(e)(data.x), data.y)
        torch.testing.assert_close(res["loss"][e], ref)


class _StopAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, model, history):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_reproduces_uninterrupted_run_exactly(tmp_path):
    data = _data(90)
    kwargs = dict(epochs=9, batch_size=16, loss="mse", optim=OptimSpec("adam", 0.01),
                  checkpoint_every=2, progress=False, evals={"train": data})
    torch.manual_seed(0)
    ref_ctx = RunContext(tmp_path / "a", "t", torch.device("cpu"), 0)
    ref = fit(mlp([8], 1, 1, seeds=[1, 2]), data, ctx=ref_ctx, **kwargs)

    torch.manual_seed(0)
    ctx = RunContext(tmp_path / "b", "t", torch.device("cpu"), 0)
    with pytest.raises(KeyboardInterrupt):
        fit(mlp([8], 1, 1, seeds=[1, 2]), data, ctx=ctx, callbacks=[_StopAt(5)], **kwargs)
    assert ctx.checkpoint("fit").load()["epoch"] == 4
    ctx2 = RunContext(tmp_path / "b", "t", torch.device("cpu"), 0, resume=True)
    res = fit(mlp([8], 1, 1, seeds=[1, 2]), data, ctx=ctx2, **kwargs)
    assert torch.equal(res.model.flat_parameters(), ref.model.flat_parameters())
    assert res.history.epochs == ref.history.epochs
    assert res.history.values == ref.history.values
    epochs_logged = [r["epoch"] for r in _rows(tmp_path / "b") if r["model"] == "m0"]
    assert epochs_logged == list(range(1, 10))


def _rows(path):
    from trainlab.runs import read_metrics

    return read_metrics(path / "metrics.jsonl")


def test_corrupt_checkpoint_falls_back_to_previous(tmp_path):
    ctx = RunContext(tmp_path, "t", torch.device("cpu"), 0)
    ck = ctx.checkpoint("x")
    ck.save({"epoch": 1})
    ck.save({"epoch": 2})
    ck.path.write_bytes(ck.path.read_bytes()[:10])  # truncated newest
    assert ck.load()["epoch"] == 1


def test_divergence_fails_or_masks():
    data = _data(40)
    with pytest.raises(Diverged, match="diverged at epoch"):
        fit(mlp([8], 1, 1, seeds=[0]), data, epochs=30, batch_size=40, loss="mse",
            optim=OptimSpec("sgd", 50.0), progress=False)
    res = fit(mlp([8], 1, 1, seeds=[0, 0]), data, epochs=30, batch_size=40, loss="mse",
              optim=OptimSpec("sgd", [50.0, 0.01]), on_diverge="mask", progress=False)
    assert res.diverged == [True, False]
    assert torch.isfinite(res.model.member_vector(1)).all()


def test_penalty_per_member_lambda_matches_manual_gradient():
    data = _data(30)
    model = mlp([4], 1, 1, seeds=[0, 0])
    fit(model, data, epochs=1, batch_size=30, loss="mse", optim=OptimSpec("sgd", 0.1),
        penalty=Penalty("l2", [0.0, 0.5]), progress=False)
    for e, lam in enumerate([0.0, 0.5]):
        plain = mlp([4], 1, 1, seeds=[0]).member(0)
        loss = member_loss("mse", plain(data.x).unsqueeze(0), data.y)[0]
        loss = loss + lam * sum(p.pow(2).sum() for p in plain.parameters())
        grads = torch.autograd.grad(loss, list(plain.parameters()))
        with torch.no_grad():
            expected = torch.cat([(p - 0.1 * g).reshape(-1)
                                  for p, g in zip(plain.parameters(), grads, strict=True)])
        torch.testing.assert_close(model.member_vector(e), expected)


def test_lbfgs_reduces_loss():
    data = _data(64)
    model = mlp([10], 1, 1, seeds=[0])
    res = fit(model, data, epochs=5, batch_size=64, loss="mse", optim=OptimSpec("lbfgs", 1.0),
              evals={"train": data}, eval_at_start=True, progress=False)
    losses = res.history.series("train", "loss")[:, 0]
    assert losses[-1] < 0.1 * losses[0]


def test_compiled_step_equals_eager(monkeypatch):
    """TRAINLAB_COMPILE hands the forward+loss to torch.compile (here a backend that only
    records the graphs: no C++ compiler needed) and trains to the same parameters as
    the eager loop, ragged last batch included."""
    data = _data(100)
    eager = mlp([8], 1, 1, seeds=[0, 1])
    fit(eager, data, epochs=3, batch_size=32, loss="mse", optim=OptimSpec("adam", 0.01),
        penalty=Penalty("l2", 1e-3), progress=False)
    graphs = []

    def counting_backend(gm, example_inputs):  # records every graph dynamo hands over
        graphs.append(gm)
        return gm.forward

    monkeypatch.setitem(engine.COMPILE_MODES, "counting", (counting_backend, None))
    monkeypatch.setenv("TRAINLAB_COMPILE", "counting")
    compiled = mlp([8], 1, 1, seeds=[0, 1])
    fit(compiled, data, epochs=3, batch_size=32, loss="mse", optim=OptimSpec("adam", 0.01),
        penalty=Penalty("l2", 1e-3), progress=False)
    assert graphs, "the step was not compiled"
    torch.testing.assert_close(compiled.flat_parameters(), eager.flat_parameters(),
                               rtol=1e-6, atol=1e-7)


def test_unknown_compile_mode_is_bad_input(monkeypatch):
    from trainlab.errors import BadInput

    monkeypatch.setenv("TRAINLAB_COMPILE", "turbo")
    with pytest.raises(BadInput, match="TRAINLAB_COMPILE"):
        fit(mlp([4], 1, 1, seeds=[0]), _data(20), epochs=1, batch_size=8, loss="mse",
            optim=OptimSpec(), progress=False)


def test_bf16_precision_keeps_float32_weights_and_learns():
    from trainlab.models import Ensemble, small_cnn_spec

    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 8, 8, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long()  # a learnable rule
    model = Ensemble(small_cnn_spec([4], hidden=8, num_classes=2), (1, 8, 8), seeds=[0, 1])
    res = fit(model, Split(x, y), epochs=15, batch_size=32, loss="cross_entropy",
              optim=OptimSpec("adam", 0.01), precision="bf16", evals={"train": Split(x, y)},
              eval_at_start=True, progress=False)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    loss = res.history.series("train", "loss")
    assert np.all(loss[-1] < 0.6 * loss[0])
    with pytest.raises(ValueError, match="precision"):
        fit(model, Split(x, y), epochs=1, batch_size=32, loss="cross_entropy",
            optim=OptimSpec(), precision="fp8", progress=False)


def test_per_member_activations_equal_separate_runs():
    """("act", (a_0, ..., a_E-1)): one ensemble trains like E single-activation models."""
    data = _data(90)
    acts = ("sigmoid", "tanh", "relu")
    ens = mlp([6, 5], 1, 1, seeds=[7, 7, 7], activation=[acts, acts])
    fit(ens, data, epochs=4, batch_size=32, loss="mse", optim=OptimSpec("sgd", 0.05),
        progress=False)
    for e, act in enumerate(acts):
        single = mlp([6, 5], 1, 1, seeds=[7], activation=act)
        fit(single, data, epochs=4, batch_size=32, loss="mse", optim=OptimSpec("sgd", 0.05),
            progress=False)
        torch.testing.assert_close(ens.member_vector(e), single.member_vector(0),
                                   rtol=1e-5, atol=1e-6)
        assert isinstance(ens.member(e)[1], type(single.member(0)[1]))


def test_callback_returning_true_stops_after_that_epoch(tmp_path):
    class StopAt:
        def on_epoch_end(self, epoch, model, history):
            return epoch == 3

    ctx = RunContext(tmp_path / "run", "t", torch.device("cpu"), 0)
    model = mlp([4], 1, 1, seeds=[0])
    res = fit(model, _data(40), epochs=10, batch_size=16, loss="mse", optim=OptimSpec(),
              eval_every=5, callbacks=[StopAt()], ctx=ctx, progress=False)
    assert res.history.epochs == [3]  # recorded although 3 is not a multiple of 5
    trained = model.flat_parameters().clone()
    ctx = RunContext(tmp_path / "run", "t", torch.device("cpu"), 0, resume=True)
    again = fit(model, _data(40), epochs=10, batch_size=16, loss="mse", optim=OptimSpec(),
                eval_every=5, callbacks=[StopAt()], ctx=ctx, progress=False)
    assert again.history.epochs == [3] and torch.equal(model.flat_parameters(), trained)


def test_lbfgs_ensemble_is_bad_input():
    from trainlab.errors import BadInput

    with pytest.raises(BadInput, match="lbfgs"):
        fit(mlp([4], 1, 1, seeds=[0, 1]), _data(20), epochs=1, batch_size=20, loss="mse",
            optim=OptimSpec("lbfgs", 1.0), progress=False)


def test_callback_protocol_subclass_gets_no_op_hooks(tmp_path):
    """A `Callback` subclass implements only what it needs; its state is checkpointed."""
    from trainlab.callbacks import Callback

    class CountSteps(Callback):
        def __init__(self):
            self.steps = []

        def on_step(self, step, model, losses):
            assert losses.shape == (model.E,)
            self.steps.append(step)

        def state_dict(self):
            return {"steps": list(self.steps)}

        def load_state_dict(self, state):
            self.steps = list(state["steps"])

    cb = CountSteps()
    ctx = RunContext(tmp_path / "run", "t", torch.device("cpu"), 0)
    fit(mlp([4], 1, 1, seeds=[0, 1]), _data(40), epochs=3, batch_size=16, loss="mse",
        optim=OptimSpec(), callbacks=[cb], ctx=ctx, progress=False)
    assert cb.steps == list(range(9))  # 3 minibatches (16, 16, 8) per epoch
    assert ctx.checkpoint("fit").load()["callbacks"] == [{"steps": list(range(9))}]
