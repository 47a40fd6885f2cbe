"""The ensemble optimizers follow torch.optim's formulas exactly (E=1 oracle)."""

import pytest
import torch

from trainlab import ensemble_optim, optim
from trainlab.errors import BadInput
from trainlab.optim import make_optimizer, schedule

CASES = [
    ("sgd", dict(lr=0.1), torch.optim.SGD, dict(lr=0.1)),
    ("sgd", dict(lr=0.1, weight_decay=0.01), torch.optim.SGD, dict(lr=0.1, weight_decay=0.01)),
    ("momentum", dict(lr=0.05, momentum=0.9), torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("nesterov", dict(lr=0.05, momentum=0.8), torch.optim.SGD,
     dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("adam", dict(lr=0.01), torch.optim.Adam, dict(lr=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.1), torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    ("adagrad", dict(lr=0.1), torch.optim.Adagrad, dict(lr=0.1)),
    ("adadelta", dict(lr=1.0), torch.optim.Adadelta, dict(lr=1.0)),
    ("rmsprop", dict(lr=0.01), torch.optim.RMSprop, dict(lr=0.01)),
]


def _quadratic_grads(theta: torch.Tensor, step: int) -> torch.Tensor:
    # a gradient that changes with the parameters and the step, like a real loss
    return torch.sin(theta * (step + 1)) + theta ** 3 * 0.1


@pytest.fixture(params=["flat", "per-tensor"])
def grouping(request, monkeypatch):
    """Run a test with all parameters in one (E, P) group and with one group per tensor."""
    monkeypatch.setattr(ensemble_optim, "FLAT_BELOW", 10 ** 9 if request.param == "flat" else 0)
    return request.param


@pytest.mark.parametrize("name,ours,torch_cls,theirs", CASES)
def test_matches_torch_optim(name, ours, torch_cls, theirs, grouping):
    torch.manual_seed(0)
    starts = [torch.randn(3, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
    refs = [s.clone().requires_grad_(True) for s in starts]
    ens = [s.clone().unsqueeze(0).requires_grad_(True) for s in starts]  # E = 1
    ref = torch_cls(refs, **theirs)
    ours = dict(ours)
    opt = make_optimizer(name, ens, ours.pop("lr"), **ours)
    assert opt.flat == (grouping == "flat")
    for step in range(25):
        for r, e in zip(refs, ens, strict=True):
            r.grad = _quadratic_grads(r.detach(), step)
            e.grad = _quadratic_grads(e.detach(), step)
        ref.step()
        opt.step()
    for r, e in zip(refs, ens, strict=True):
        torch.testing.assert_close(e.detach()[0], r.detach(), rtol=1e-12, atol=1e-12)


def test_checkpoint_moves_between_groupings(monkeypatch):
    """A state saved with one grouping continues identically under the other."""
    def fresh():
        return [torch.ones(2, 3, requires_grad=True), torch.ones(2, 4, 2, requires_grad=True)]

    def run(params, opt, steps):
        for step in steps:
            for p in params:
                p.grad = _quadratic_grads(p.detach(), step)
            opt.step()

    monkeypatch.setattr(ensemble_optim, "FLAT_BELOW", 10 ** 9)
    a = fresh()
    oa = make_optimizer("adam", a, [0.1, 0.2])
    run(a, oa, range(3))
    monkeypatch.setattr(ensemble_optim, "FLAT_BELOW", 0)
    b = fresh()
    ob = make_optimizer("adam", b, 0.5)
    assert oa.flat and not ob.flat
    with torch.no_grad():
        for pa, pb in zip(a, b, strict=True):
            pb.copy_(pa)
    ob.load_state_dict(oa.state_dict())
    run(a, oa, range(3, 6))
    run(b, ob, range(3, 6))
    for pa, pb in zip(a, b, strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=0)


def test_per_member_learning_rates_equal_separate_runs():
    torch.manual_seed(1)
    start = torch.randn(3, 5, dtype=torch.float64)
    lrs = [0.1, 0.01, 0.001]
    stacked = start.clone().requires_grad_(True)
    opt = make_optimizer("adam", [stacked], lrs)
    singles = [start[e:e + 1].clone().requires_grad_(True) for e in range(3)]
    opts = [make_optimizer("adam", [s], lr) for s, lr in zip(singles, lrs, strict=True)]
    for step in range(10):
        stacked.grad = _quadratic_grads(stacked.detach(), step)
        opt.step()
        for s, o in zip(singles, opts, strict=True):
            s.grad = _quadratic_grads(s.detach(), step)
            o.step()
    for e in range(3):
        torch.testing.assert_close(stacked.detach()[e], singles[e].detach()[0])


def test_state_dict_roundtrip_continues_identically():
    p1 = torch.ones(2, 3, requires_grad=True)
    p2 = torch.ones(2, 3, requires_grad=True)
    o1 = make_optimizer("adam", [p1], [0.1, 0.2])
    for step in range(3):
        p1.grad = _quadratic_grads(p1.detach(), step)
        o1.step()
    o2 = make_optimizer("adam", [p2], 0.5)
    with torch.no_grad():
        p2.copy_(p1)
    o2.load_state_dict(o1.state_dict())
    for step in range(3, 6):
        for p, o in ((p1, o1), (p2, o2)):
            p.grad = _quadratic_grads(p.detach(), step)
            o.step()
    assert torch.equal(p1, p2)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_frozen_member_does_not_move(name, grouping):
    p = torch.ones(2, 3, requires_grad=True)
    q = torch.ones(2, 4, requires_grad=True)
    opt = make_optimizer(name, [p, q], 0.1, weight_decay=0.01)
    opt.freeze([1])
    for _ in range(3):
        p.grad, q.grad = torch.ones(2, 3), torch.ones(2, 4)
        opt.step()
    assert torch.all(p[1] == 1) and torch.all(q[1] == 1)
    assert torch.all(p[0] < 1) and torch.all(q[0] < 1)


def test_schedules():
    step = schedule("step", 10, step_size=2, gamma=0.5)
    assert [step(e, 0) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    one = schedule("onecycle", 10)
    assert one(0, 0.0) == pytest.approx(1 / 25)
    assert one(3, 0.3) == pytest.approx(1.0)
    assert one(9, 1.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        schedule("nope", 1)


def test_optimizer_names_match_the_registry():
    from typing import get_args

    assert get_args(optim.OptimizerName) == tuple(optim.OPTIMIZER_INFO) == optim.OPTIMIZERS
    assert [n for n, i in optim.OPTIMIZER_INFO.items() if not i.ensembles] == ["lbfgs"]


def test_optim_spec_from_config_reads_the_shared_keys():
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        optimizer: str = "adam"
        lr: float = 0.3
        momentum: float = 0.5
        epochs: int = 3  # not an optimizer setting: ignored

    spec = optim.OptimSpec.from_config(Cfg(), weight_decay=0.1)
    assert spec == optim.OptimSpec("adam", 0.3, momentum=0.5, weight_decay=0.1)
    assert optim.OptimSpec("sgd", [0.1, 0.2]).lr == (0.1, 0.2)
    with pytest.raises(BadInput, match="unknown optimizer"):
        optim.OptimSpec("adamw")


def test_lbfgs_refuses_an_ensemble():
    """Its line search would couple the members (one step size for their summed loss)."""
    with pytest.raises(BadInput, match="one model per fit"):
        optim.OptimSpec("lbfgs", 1.0).build([torch.zeros(2, 3, requires_grad=True)])
    with pytest.raises(BadInput, match="weight_decay"):
        optim.OptimSpec("lbfgs", 1.0, weight_decay=0.1).build([torch.zeros(1, 3)])


def test_lbfgs_steps_like_torch_lbfgs_with_schedule_and_freeze():
    target = torch.tensor([1.0, -2.0, 0.5])

    def run(params, opt, scales):
        for scale in scales:
            def closure():
                opt.zero_grad()
                loss = ((params[0] - target) ** 4).sum()
                loss.backward()
                return loss
            if hasattr(opt, "scale"):
                opt.scale = scale
            else:
                opt.param_groups[0]["lr"] = 0.5 * scale
            opt.step(closure)
        return params[0].detach()

    ours_p = [torch.zeros(1, 3, requires_grad=True)]
    ours = optim.OptimSpec("lbfgs", 0.5, lbfgs_max_iter=4).build(ours_p)
    theirs_p = [torch.zeros(1, 3, requires_grad=True)]
    theirs = torch.optim.LBFGS(theirs_p, lr=0.5, max_iter=4, history_size=100,
                               line_search_fn="strong_wolfe")
    scales = [1.0, 0.5, 0.25]
    assert torch.equal(run(ours_p, ours, scales), run(theirs_p, theirs, scales))
    ours.freeze([0])
    before = ours_p[0].detach().clone()
    run(ours_p, ours, [1.0])
    assert torch.equal(ours_p[0].detach(), before)
