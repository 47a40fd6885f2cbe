"""The training recorders against independent computations (autograd, histograms, fit)."""

import numpy as np
import pytest
import torch
from torch import nn

from trainlab.diagnostics import (
    GradNorms,
    ParamSnapshots,
    StopBelow,
    WeightHistograms,
    flatten_params,
    layer_labels,
)
from trainlab.errors import BadInput
from trainlab.losses import member_loss
from trainlab.models import Ensemble, mlp
from trainlab.train import History, Split, fit


def _set(model, value: float) -> None:
    """Every parameter of every member = value + member index (a known state per epoch)."""
    model.load_flat(value + torch.arange(model.E, dtype=torch.float32).unsqueeze(1)
                    .expand(model.E, model.params_per_member()))


def test_param_snapshots_at_and_every_keep_the_parameters_of_those_epochs():
    model = mlp([3], 2, 1, seeds=[0, 1])
    at, every = ParamSnapshots(at=[2, 4, 9]), ParamSnapshots(every=3)
    _set(model, -1.0)
    at.take(0, model)
    for epoch in range(1, 7):
        _set(model, float(epoch))
        for rec in (at, every):
            assert rec.on_epoch_end(epoch, model, None) is None
    assert at.epochs == [0, 2, 4] and every.epochs == [3, 6]
    P = model.params_per_member()
    for epoch, flat in at.by_epoch().items():
        expected = (-1.0 if epoch == 0 else epoch) + torch.tensor([[0.0], [1.0]]).expand(2, P)
        assert torch.equal(flat, expected)
    stacked = every.stacked()
    assert stacked.shape == (2, 2, P)
    assert torch.equal(stacked[1, 0], torch.full((P,), 4.0))  # member 1, epoch 3
    # a copy: changing the model later leaves the snapshots alone
    _set(model, 100.0)
    assert float(every.params[-1].max()) == 7.0
    # resume: a new recorder with the saved state continues the same lists
    again = ParamSnapshots(every=3)
    again.load_state_dict(every.state_dict())
    again.on_epoch_end(9, model, None)
    assert again.epochs == [3, 6, 9] and torch.equal(again.params[1], every.params[1])


def test_param_snapshots_of_a_plain_module_are_one_member():
    net = nn.Linear(3, 2)
    rec = ParamSnapshots(at=[1])
    rec.on_epoch_end(1, net, None)
    assert torch.equal(rec.params[0], flatten_params(net).unsqueeze(0))


@pytest.mark.parametrize("kwargs", [{}, {"at": [1], "every": 2}, {"every": 0}])
def test_param_snapshots_bad_schedule(kwargs):
    with pytest.raises(BadInput):
        ParamSnapshots(**kwargs)


def test_param_snapshots_inside_fit_equal_shorter_trainings():
    # The epoch-k snapshot of a 4-epoch run is the result of training k epochs: same
    # seeds, same batches (per-member generators), a constant learning rate.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(24, 2, generator=gen)
    y = x.sum(1, keepdim=True)
    rec = ParamSnapshots(at=[1, 3])
    fit(mlp([4], 2, 1, seeds=[3, 4]), Split(x, y), epochs=4, batch_size=8, loss="mse",
        callbacks=[rec], progress=False)
    for k in (1, 3):
        short = mlp([4], 2, 1, seeds=[3, 4])
        fit(short, Split(x, y), epochs=k, batch_size=8, loss="mse", progress=False)
        assert torch.equal(rec.by_epoch()[k], short.flat_parameters())


@pytest.mark.parametrize("spec,shape", [
    (None, (3,)),
    ([("conv", 4, 3, 1, 1), ("act", "relu"), ("maxpool", 2), ("flatten",), ("linear", 5)],
     (1, 6, 6))])
def test_grad_norms_equal_autograd_per_member_and_layer(spec, shape):
    seeds = [0, 1, 2]
    if spec is None:
        model, loss = mlp([6, 5], 3, 1, seeds, "tanh"), "mse"
    else:
        model, loss = Ensemble(spec, shape, seeds), "cross_entropy"
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, *shape, generator=gen)  # a different minibatch per member
    y = (torch.randn(3, 8, 1, generator=gen) if loss == "mse"
         else torch.randint(0, 5, (3, 8), generator=gen))
    rec = GradNorms(model)
    losses = member_loss(loss, model(x), y)
    losses.sum().backward()
    rec.on_step(0, model, losses.detach())
    n_layers = 3 if spec is None else 2
    assert rec.norms.shape == (1, 3) and rec.layer_norms.shape == (1, 3, n_layers)
    assert rec.layer_names == [f"layer{i + 1}" for i in range(n_layers)]
    for e in range(3):
        net = model.member(e)
        out = net(x[e])
        ref = (nn.functional.mse_loss(out, y[e]) if loss == "mse"
               else nn.functional.cross_entropy(out, y[e]))
        grads = torch.autograd.grad(ref, list(net.parameters()))
        whole = float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads)))
        assert rec.norms[0, e] == pytest.approx(whole, rel=1e-5)
        assert rec.losses[0, e] == pytest.approx(float(ref.detach()), rel=1e-6)
        layers = [float(torch.sqrt(grads[i].double().pow(2).sum()
                                   + grads[i + 1].double().pow(2).sum()))
                  for i in range(0, 2 * n_layers, 2)]
        assert rec.layer_norms[0, e] == pytest.approx(layers, rel=1e-5)
    again = GradNorms(model)
    again.load_state_dict(rec.state_dict())
    assert (again.layer_norms == rec.layer_norms).all() and (again.losses == rec.losses).all()
    assert GradNorms(model).state_dict() == {}


class _Writer:
    def __init__(self):
        self.calls = []

    def add_histogram(self, name, values, step):
        self.calls.append((name, values.shape, step))

    def flush(self):
        self.calls.append("flush")


def test_weight_histograms_count_the_weights_of_one_member():
    spec = [("conv", 3, 3), ("act", "relu"), ("flatten",), ("linear", 4), ("act", "relu"),
            ("linear", 2)]
    model = Ensemble(spec, (1, 5, 5), seeds=[0, 1])
    writer = _Writer()
    rec = WeightHistograms(bins=7, member=1, writer=writer)
    rec.take(0, model)
    with torch.no_grad():
        model.layers[0].weight[1].mul_(3.0)  # epoch 1: member 1's conv weights widen
    rec.on_epoch_end(1, model, None)
    net = model.member(1)
    assert layer_labels(net) == {"0": "conv1", "3": "fc1", "5": "fc2"}
    assert list(rec.hists) == ["conv1", "fc1", "fc2"] and rec.epochs == [0, 1]
    for label, module in (("conv1", net[0]), ("fc1", net[3]), ("fc2", net[5])):
        w = module.weight.detach().reshape(-1).double().numpy()
        counts, edges = rec.hists[label][1]
        ref_counts, ref_edges = np.histogram(w, bins=7, range=(w.min(), w.max()))
        assert counts.tolist() == ref_counts.tolist() and counts.sum() == w.size
        assert torch.allclose(edges.double(), torch.from_numpy(ref_edges), atol=1e-6)
    first, second = rec.hists["conv1"][0][1], rec.hists["conv1"][1][1]
    assert torch.allclose(second, 3 * first, rtol=1e-5)  # edges span min..max
    assert writer.calls.count("flush") == 2 and len(writer.calls) == 2 * (6 + 1)
    again = WeightHistograms(bins=7, member=1)
    again.load_state_dict(rec.state_dict())
    assert again.epochs == [0, 1] and again.hists["fc2"][0][0].tolist() == \
        rec.hists["fc2"][0][0].tolist()


def test_stop_below_needs_every_member_under_the_threshold_at_this_epoch():
    stop = StopBelow(1e-3)
    h = History(epochs=[1], seconds=[0.0], values={"train/loss": [[5e-3, 1e-4]]})
    assert stop.on_epoch_end(1, None, h) is False  # one member above: goes on
    h.epochs.append(2)
    h.values["train/loss"].append([5e-4, 2e-4])
    assert stop.on_epoch_end(3, None, h) is False  # epoch 3 not evaluated yet
    assert stop.stopped_at is None
    assert stop.on_epoch_end(2, None, h) is True and stop.stopped_at == 2
    assert StopBelow(1e-3, split="test").on_epoch_end(2, None, h) is False  # no test loss
    again = StopBelow(1e-3)
    again.load_state_dict(stop.state_dict())
    assert again.stopped_at == 2


def test_stop_below_ends_fit_at_the_first_epoch_under_the_threshold():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 2, generator=gen)
    y = x @ torch.tensor([[1.0], [-1.0]])
    model = mlp([8], 2, 1, seeds=[0, 1])
    probe = mlp([8], 2, 1, seeds=[0, 1])
    full = fit(probe, Split(x, y), epochs=30, batch_size=8, loss="mse",
               evals={"train": Split(x, y)}, progress=False).history
    worst = full.series("train", "loss").max(1)  # (T,): the worst member per epoch
    threshold = float(worst[len(worst) // 2])
    first = next(ep for ep, w in zip(full.epochs, worst, strict=True) if w < threshold)
    stop = StopBelow(threshold)
    res = fit(model, Split(x, y), epochs=30, batch_size=8, loss="mse",
              evals={"train": Split(x, y)}, callbacks=[stop], progress=False)
    assert res.history.epochs[-1] == first == stop.stopped_at


def test_every_recorder_is_a_fit_callback():
    from trainlab.callbacks import Callback

    model = mlp([3], 2, 1, seeds=[0])
    recorders = [ParamSnapshots(every=1), GradNorms(model), WeightHistograms(4),
                 StopBelow(1.0)]
    for rec in recorders:
        assert Callback in type(rec).__mro__  # the protocol is not runtime-checkable
        for hook in ("on_step", "on_epoch_end", "state_dict", "load_state_dict"):
            assert callable(getattr(rec, hook))
