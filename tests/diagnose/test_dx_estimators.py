"""Oracles for the new estimators: top eigenvalues with residual bounds, Hutchinson trace,
parameter-group blocks, t-intervals (torch.func.hessian + eigvalsh, closed forms, scipy)."""

import math

import pytest
import torch
from scipy import stats

from hessian_problems import mlp_problem
from trainlab.diagnostics import make_loss_fn
from trainlab.diagnostics.eigen import hessian_top
from trainlab.diagnostics.groups import param_groups, restrict
from trainlab.diagnostics.intervals import t_interval
from trainlab.diagnostics.trace import hutchinson_trace
from trainlab.errors import BadInput


def _mlp_problem(seed=0):
    return mlp_problem(6, 40, seed)


def _quadratic(eigs, seed=0):
    """f(t) = 1/2 t^T A t with A = Q diag(eigs) Q^T (a random rotation Q)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ q.T
    return (lambda t: 0.5 * t @ (a @ t)), a


def test_top_eigenvalues_match_dense_hessian():
    _, f, theta, h = _mlp_problem()
    exact = torch.linalg.eigvalsh(h).flip(0)[:4]
    top = hessian_top(f, theta, k=4, iters=theta.numel())
    assert torch.allclose(top.values, exact, rtol=1e-8, atol=1e-10)
    assert top.values.tolist() == sorted(top.values.tolist(), reverse=True)


def test_quadratic_with_known_spectrum():
    eigs = [9.0, 7.5, 3.0, 1.0, 0.5, -2.0, 0.0, 0.0, 4.0, 0.25]
    f, _ = _quadratic(eigs)
    top = hessian_top(f, torch.zeros(10, dtype=torch.float64), k=3, iters=10)
    assert top.values.tolist() == pytest.approx([9.0, 7.5, 4.0], abs=1e-10)
    assert top.residuals.max() < 1e-8  # 10 steps span the whole space: exact


def test_residual_bounds_contain_an_eigenvalue_after_few_steps():
    _, f, theta, h = _mlp_problem(seed=2)
    exact = torch.linalg.eigvalsh(h)
    top = hessian_top(f, theta, k=3, iters=6, tol=0.0)
    assert top.steps == 6 and (top.residuals > 0).all()
    for value, bound in zip(top.values, top.residuals, strict=True):
        assert float((exact - value).abs().min()) <= float(bound) * (1 + 1e-9) + 1e-12


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    d = torch.tensor([3.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    est = hutchinson_trace(lambda t: 0.5 * (d * t * t).sum(), torch.zeros(4, dtype=torch.float64),
                           n_probes=7, batch=3)
    # v_i^2 = 1 for Rademacher entries: every sample equals the trace
    assert torch.allclose(est.samples, torch.full((7,), float(d.sum()), dtype=torch.float64))
    assert est.estimate.ci95 == pytest.approx((4.5, 4.5))


def test_hutchinson_interval_covers_exact_trace_whole_and_per_layer():
    model, f, theta, h = _mlp_problem()
    groups = param_groups(model)
    est = hutchinson_trace(f, theta, n_probes=300, batch=25, seed=3, groups=groups)
    lo, hi = est.estimate.ci95
    assert lo <= float(h.trace()) <= hi
    assert hi - lo < 0.5 * abs(float(h.trace()))
    block_sum = sum(e.value for e in est.groups.values())
    assert block_sum == pytest.approx(est.estimate.value, rel=1e-9)  # blocks add up
    for g in groups:
        e = est.groups[g.name]
        exact_block = float(h[g.start:g.stop, g.start:g.stop].trace())
        assert e.ci95[0] <= exact_block <= e.ci95[1], g.name


def test_unbatched_and_batched_probes_agree():
    _, f, theta, _ = _mlp_problem()
    one = hutchinson_trace(f, theta, n_probes=6, batch=1, seed=5)
    many = hutchinson_trace(f, theta, n_probes=6, batch=6, seed=5)
    assert torch.allclose(one.samples, many.samples, rtol=1e-10)


def test_restricted_loss_has_the_diagonal_block_as_hessian():
    model, f, theta, h = _mlp_problem()
    groups = param_groups(model)
    assert [g.name for g in groups] == ["0", "2"]
    assert groups[0].start == 0 and groups[-1].stop == theta.numel()
    g = groups[1]
    fg, tg = restrict(f, theta, g)
    assert torch.allclose(torch.func.hessian(fg)(tg), h[g.start:g.stop, g.start:g.stop],
                          atol=1e-12)
    assert [x.name for x in param_groups(model, by="parameter")] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]


def test_block_operator_through_micro_batches_is_the_diagonal_block():
    # each layer's block product taken from the chunked full-model product (what the
    # layers diagnostic does with hvp_chunk) against the dense block of the Hessian
    from trainlab.diagnostics.eigen import chunked_hvp_operator
    from trainlab.diagnostics.groups import block_operator

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                torch.nn.Linear(5, 2)).double()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    f = make_loss_fn(model, "mse", x, y)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    h = torch.func.hessian(f)(theta)
    parts = [make_loss_fn(model, "mse", x[i:i + 4], y[i:i + 4]) for i in (0, 4, 8)]
    chunked = chunked_hvp_operator(parts, [0.4, 0.4, 0.2], theta)
    for g in param_groups(model):
        block = block_operator(chunked, theta, g)
        eye = torch.eye(g.size, dtype=torch.float64)
        got = torch.stack([block(e) for e in eye])
        assert torch.allclose(got, h[g.start:g.stop, g.start:g.stop], atol=1e-10)
    with pytest.raises(BadInput, match="does not match"):
        block_operator(chunked, theta, param_groups(model)[0])(torch.ones(3))


def test_t_interval_matches_scipy():
    x = [1.0, 2.5, 0.5, 3.0, 2.0]
    est = t_interval(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=sum(x) / 5, scale=stats.sem(x))
    assert est.ci95 == pytest.approx((lo, hi), rel=1e-12)
    assert est.n == 5
    single = t_interval([4.0])
    assert single.value == 4.0 and all(math.isnan(b) for b in single.ci95)


def test_chunked_products_equal_the_whole_sample_hessian():
    from trainlab.diagnostics.eigen import chunked_hvp_operator

    model, _, theta, _ = _mlp_problem()
    g = torch.Generator().manual_seed(2)  # the same data as _mlp_problem(0)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = torch.randn(40, 2, generator=g, dtype=torch.float64)
    f = make_loss_fn(model, "mse", x, y)
    h = torch.func.hessian(f)(theta)
    sizes = [16, 16, 8]  # unequal pieces: weights n_c / N
    fns = [make_loss_fn(model, "mse", xc, yc) for xc, yc in zip(x.split(16), y.split(16),
                                                                  strict=True)]
    op = chunked_hvp_operator(fns, [n / 40 for n in sizes], theta)
    v = torch.randn(theta.numel(), generator=g, dtype=torch.float64)
    assert torch.allclose(op(v), h @ v, rtol=1e-10, atol=1e-12)
    top = hessian_top(f, theta, k=3, iters=theta.numel(), operator=op)
    assert torch.allclose(top.values, torch.linalg.eigvalsh(h).flip(0)[:3], rtol=1e-9)
    est = hutchinson_trace(f, theta, n_probes=5, seed=1, operator=op)
    assert torch.allclose(est.samples, hutchinson_trace(f, theta, n_probes=5, seed=1).samples,
                          rtol=1e-9)


def test_gap_rule_stops_earlier_and_still_matches_the_dense_top_k():
    _, f, theta, h = _mlp_problem(seed=1)
    exact = torch.linalg.eigvalsh(h).flip(0)[:3]
    by_residual = hessian_top(f, theta, k=3, iters=theta.numel(), tol=1e-6)
    by_gap = hessian_top(f, theta, k=3, iters=theta.numel(), tol=1e-6, rule="gap")
    assert by_gap.steps <= by_residual.steps
    assert torch.allclose(by_gap.values, exact, rtol=1e-5, atol=1e-10)
    for value, bound in zip(by_gap.values, by_gap.residuals, strict=True):  # still bounds
        assert float((torch.linalg.eigvalsh(h) - value).abs().min()) <= float(bound) + 1e-12


def test_gap_rule_on_a_quadratic_with_known_spectrum():
    eigs = [9.0, 7.5, 3.0, 1.0, 0.5, -2.0, 0.0, 0.0, 4.0, 0.25]
    f, _ = _quadratic(eigs)
    top = hessian_top(f, torch.zeros(10, dtype=torch.float64), k=3, iters=10, tol=1e-10,
                      rule="gap")
    assert top.values.tolist() == pytest.approx([9.0, 7.5, 4.0], rel=1e-8)
