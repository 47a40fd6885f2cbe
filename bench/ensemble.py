"""E small MLPs trained by the engine vs the plain way (a DataLoader loop per model).

Task (issue 4/8): MLP 1-10-10-1 on sin(x)+x**2, 1,000 points, Adam lr 1e-3, batch 100.
The plain way trains the E models one after another, each through its own
`DataLoader(shuffle=True)` and `torch.optim.Adam`. trainlab trains them as one ensemble
with `trainlab.train.fit`. Both run the same number of epochs in this process, on the
same number of threads (default 1, `--threads N`).

When JAX is installed (`pip install -e .[jax]`), the same E models are also trained
by a JAX version written the way JAX is meant to be used: `jit` of a `vmap` over the
models of a `lax.scan` over epochs and minibatches, Adam written out (optax is not a
dependency). Its compile time is left out (one warm-up call at the same E); the
ratio `vs_jax` is JAX's time divided by trainlab's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed  # noqa: E402

from trainlab.models import mlp  # noqa: E402
from trainlab.optim import OptimSpec  # noqa: E402
from trainlab.train import Split, fit  # noqa: E402


def make_data(n: int = 1000, device: str = "cpu"):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    return x.to(device), (torch.sin(x) + x ** 2).to(device)


def plain(E: int, epochs: int, x, y) -> None:
    """One model after another, each with a DataLoader and torch.optim.Adam."""
    for e in range(E):
        torch.manual_seed(e)
        model = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),
                              nn.Linear(10, 1)).to(x.device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True)
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()


def engine(E: int, epochs: int, x, y) -> None:
    model = mlp([10, 10], 1, 1, seeds=list(range(E))).to(x.device)
    fit(model, Split(x, y), epochs=epochs, batch_size=100, loss="mse",
        optim=OptimSpec("adam", 1e-3), progress=False)


def jax_trainer(epochs: int, x, y, batch: int = 100, lr: float = 1e-3):
    """A jitted function seeds -> trained params of len(seeds) MLPs, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    xs, ys = jnp.asarray(x.cpu().numpy()), jnp.asarray(y.cpu().numpy())
    n, b1, b2, eps = xs.shape[0], 0.9, 0.999, 1e-8
    dims = [(1, 10), (10, 10), (10, 1)]

    def init(key):
        params = []
        for fan_in, fan_out in dims:
            key, kw, kb = jax.random.split(key, 3)
            bound = 1.0 / fan_in ** 0.5
            params.append((jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
                           jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound)))
        return params

    def loss(params, xb, yb):
        h = xb
        for w, bias in params[:-1]:
            h = jax.nn.relu(h @ w + bias)
        w, bias = params[-1]
        return jnp.mean((h @ w + bias - yb) ** 2)

    def adam_step(state, batch_xy):
        params, m, v, t = state
        g = jax.grad(loss)(params, *batch_xy)
        t = t + 1
        m = jax.tree.map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree.map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        step = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        params = jax.tree.map(lambda p, a, b: p - step * a / (jnp.sqrt(b) + eps), params, m, v)
        return (params, m, v, t), None

    def one_model(key):
        key, k0 = jax.random.split(key)
        params = init(k0)
        zeros = jax.tree.map(jnp.zeros_like, params)

        def epoch(state, k):
            perm = jax.random.permutation(k, n)
            batches = (xs[perm].reshape(n // batch, batch, -1),
                       ys[perm].reshape(n // batch, batch, -1))
            return jax.lax.scan(adam_step, state, batches)[0], None

        state = (params, zeros, zeros, jnp.zeros((), jnp.float32))
        return jax.lax.scan(epoch, state, jax.random.split(key, epochs))[0][0]

    run = jax.jit(jax.vmap(one_model))

    def train(E: int):
        return jax.block_until_ready(run(jax.random.split(jax.random.key(0), E)))
    return train


def main() -> None:
    args = parser(__doc__.splitlines()[0], cuda=True).parse_args()
    if (args.threads or 1) == 1:  # JAX (XLA) on one thread too, set before it is imported
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                              "intra_op_parallelism_threads=1")
    # Both sides get the same thread count; one thread is the plain loop's best setting
    # for a model this small (and what the engine picks by itself for such steps).
    torch.set_num_threads(args.threads or 1)
    x, y = make_data(device=args.device)
    sizes = [1, 10] if args.quick else [1, 10, 100]
    epochs = 2 if args.quick else 5
    engine(2, 1, x, y)  # warm-up of both sides (first-call costs are not per-step costs)
    plain(1, 1, x, y)
    jax_train = jax_trainer(epochs, x, y) if args.device == "cpu" else None
    cases = []
    for E in sizes:
        base = timed(lambda E=E: plain(E, epochs, x, y))
        if jax_train is not None:
            jax_train(E)  # compile for this E
        # trainlab and JAX alternate, best of five each, so that a slow spell of a shared
        # machine does not land on one side only
        ours, jax_s = float("inf"), float("inf")
        for _ in range(5):
            ours = min(ours, timed(lambda E=E: engine(E, epochs, x, y)))
            if jax_train is not None:
                jax_s = min(jax_s, timed(lambda E=E: jax_train(E)))
        steps = E * epochs * 10
        case = {"size": {"E": E}, "baseline_s": round(base, 4), "trainlab_s": round(ours, 4),
                "baseline_ms_per_model_step": round(1e3 * base / steps, 4),
                "trainlab_ms_per_model_step": round(1e3 * ours / steps, 4)}
        if jax_train is not None:
            case.update(jax_s=round(jax_s, 4), vs_jax=round(jax_s / ours, 2))
        cases.append(case)
    emit("ensemble", cases, {"epochs": epochs, "points": 1000, "batch": 100, "optimizer": "adam",
                             "model": "1-10-10-1", "device": args.device,
                             "jax": "not installed" if jax_train is None else "jit+vmap+scan"},
         args.json)


if __name__ == "__main__":
    main()
