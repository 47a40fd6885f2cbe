"""The peers of bench/diagnose.py behind one interface, with plain fallbacks.

``PEERS[name].top(model, x, y, criterion, k, steps, tol=None) -> k eigenvalues`` (``tol``
sets a power iteration's stopping tolerance; None keeps the peer's default; Lanczos
peers run ``steps`` steps and ignore it) and
``.trace(model, x, y, criterion, probes=None) -> (estimate, probes used)`` (``probes``
forces that many probes; None keeps the peer's own stopping rule). When the package is not
installed or does not import, a plain loop of the same algorithm stands in and ``label``
says so: PyHessian's power iteration with deflation and its self-stopping Hutchinson
loop (one gradient graph reused), and for hessian-eigenthings a Lanczos / Hutchinson loop
whose every product rebuilds the gradient graph, as its `HessianOperator` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import torch


@dataclass
class Peer:
    label: str
    top: object
    trace: object
    trace_label: str = ""


def _flat_grad(model, x, y, crit):
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(crit(model(x), y), params, create_graph=True)
    return params, grads


def _hv(params, grads, v, retain=True):
    return torch.autograd.grad(grads, params, v, retain_graph=retain)


def _dot(a, b) -> torch.Tensor:
    return sum((u * w).sum() for u, w in zip(a, b, strict=True))


def _normalise(v):
    n = torch.sqrt(_dot(v, v))
    return [u / (n + 1e-6) for u in v]


def plain_power_top(model, x, y, crit, k, steps, tol=None, max_iter=100):
    """Power iteration with deflation, as PyHessian 0.1 does it (its defaults)."""
    tol = 1e-3 if tol is None else tol
    params, grads = _flat_grad(model.eval(), x, y, crit)
    found: list[list[torch.Tensor]] = []
    values = []
    for _ in range(k):
        v = _normalise([torch.randn_like(p) for p in params])
        value = None
        for _ in range(max_iter):
            for w in found:  # Gram-Schmidt against the vectors already found
                c = _dot(v, w)
                v = [a - c * b for a, b in zip(v, w, strict=True)]
            v = _normalise(v)
            hv = _hv(params, grads, v)
            new = float(_dot(hv, v))
            v = _normalise(hv)
            if value is not None and abs(value - new) / (abs(value) + 1e-6) < tol:
                break
            value = new
        values.append(value)
        found.append(v)
    return values


def plain_power_trace(model, x, y, crit, probes=None, max_iter=100, tol=1e-3):
    """PyHessian 0.1's Hutchinson loop: stops when the running mean moves < tol."""
    if probes is not None:
        max_iter, tol = probes, 0.0
    params, grads = _flat_grad(model.eval(), x, y, crit)
    samples, trace = [], 0.0
    for _ in range(max_iter):
        v = [torch.randint_like(p, high=2) * 2 - 1 for p in params]
        samples.append(float(_dot(_hv(params, grads, v), v)))
        mean = sum(samples) / len(samples)
        if abs(mean - trace) / (trace + 1e-6) < tol:
            break
        trace = mean
    return sum(samples) / len(samples), len(samples)


def _rebuilt_hvp(model, x, y, crit):
    params = [p for p in model.parameters() if p.requires_grad]
    sizes = [p.numel() for p in params]

    def matvec(v: torch.Tensor) -> torch.Tensor:
        _, grads = _flat_grad(model, x, y, crit)  # a fresh graph per product
        pieces = [c.view_as(p) for c, p in zip(v.split(sizes), params, strict=True)]
        return torch.cat([h.reshape(-1) for h in _hv(params, grads, pieces, retain=False)])

    return matvec, sum(sizes)


def plain_lanczos_top(model, x, y, crit, k, steps, tol=None):
    """Lanczos with full reorthogonalisation, one rebuilt gradient graph per product."""
    matvec, n = _rebuilt_hvp(model.eval(), x, y, crit)
    q = torch.randn(n)
    q = q / q.norm()
    basis, alphas, betas = [q], [], []
    for j in range(steps):
        w = matvec(basis[-1])
        alphas.append(float(w @ basis[-1]))
        b = torch.stack(basis)
        w = w - b.T @ (b @ w)
        beta = float(w.norm())
        if j == steps - 1 or beta < 1e-10:
            break
        betas.append(beta)
        basis.append(w / beta)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if betas:
        off = torch.tensor(betas, dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigvalsh(t).flip(0)[:k].tolist()


def plain_rebuilt_trace(model, x, y, crit, probes=None):
    """Hutchinson with ``probes`` Rademacher vectors, one rebuilt graph per product."""
    probes = probes or 100
    matvec, n = _rebuilt_hvp(model.eval(), x, y, crit)
    total = 0.0
    for _ in range(probes):
        v = torch.randint(0, 2, (n,)).float() * 2 - 1
        total += float(v @ matvec(v))
    return total / probes, probes


def _pyhessian():
    from pyhessian import hessian

    def top(model, x, y, crit, k, steps, tol=None):
        kw = {} if tol is None else {"tol": tol}
        values, _ = hessian(model, crit, data=(x, y), cuda=False).eigenvalues(top_n=k, **kw)
        return values

    def trace(model, x, y, crit, probes=None):
        # tol=0 never stops early on a positive running mean: exactly ``probes`` probes
        kw = {} if probes is None else {"maxIter": probes, "tol": 0.0}
        samples = hessian(model, crit, data=(x, y), cuda=False).trace(**kw)
        return sum(samples) / len(samples), len(samples)

    return Peer("PyHessian 0.1 (power iteration, its defaults)", top, trace,
                "PyHessian 0.1 trace() (stops itself)")


def _eigenthings():
    from hessian_eigenthings import HessianOperator, hutchinson, lanczos, supervised_loss

    def op(model, x, y, crit):
        return HessianOperator(model.eval(), [(x, y)], supervised_loss(crit))

    def top(model, x, y, crit, k, steps, tol=None):
        res = lanczos(op(model, x, y, crit), k=k, max_iter=steps, which="LA",
                      reorthogonalize=True, seed=0)
        return res.eigenvalues.tolist()

    def trace(model, x, y, crit, probes=None):
        n = probes or 100
        return hutchinson(op(model, x, y, crit), num_samples=n, seed=0).estimate, n

    return Peer("hessian-eigenthings 1.0.0a5 (Lanczos, same steps)", top, trace,
                "hessian-eigenthings 1.0.0a5 hutchinson (100 probes)")


def _load(make, fallback: Peer, name: str) -> Peer:
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - not installed, or broken beside this torch
        fallback.label += f" [{name} unavailable: {type(exc).__name__}]"
        fallback.trace_label = fallback.label
        return fallback


PEERS = {
    "pyhessian": _load(_pyhessian, Peer("plain power iteration (PyHessian's algorithm)",
                                        plain_power_top, plain_power_trace), "pyhessian"),
    "hessian-eigenthings": _load(_eigenthings, Peer(
        "plain Lanczos, graph rebuilt per product (hessian-eigenthings' algorithm)",
        plain_lanczos_top, plain_rebuilt_trace), "hessian-eigenthings"),
}


def peer_versions() -> dict:
    out = {}
    for dist in ("pyhessian", "hessian-eigenthings"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
