"""The one training loop of trainlab, over an ensemble axis.

`fit` trains the E members of an `Ensemble` together: each step gathers a minibatch
per member (index slices of that member's own `randperm`), runs one batched forward
and backward pass, and applies one optimizer over the stacked parameters. Member `e`
draws its batches from a generator seeded with `seeds[e]`, so an ensemble reproduces
E separate single-model runs. It evaluates after every `eval_every` epochs, logs
metrics, checks for divergence, saves checkpoints and resumes from them exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trainlab.errors import BadInput, Diverged
from trainlab.losses import member_accuracy, member_loss, member_penalty
from trainlab.models import Ensemble
from trainlab.optim import make_optimizer, schedule
from trainlab.progress import progress_bar
from trainlab.runs import RunContext


@dataclass
class Split:
    """Inputs and targets of one split, shared by all members or one slice per member.

    x: (N, ...) shared, or (E, N, ...) when `per_member`; y likewise.
    """

    x: torch.Tensor
    y: torch.Tensor
    per_member: bool = False

    def __len__(self) -> int:
        return self.x.shape[1] if self.per_member else self.x.shape[0]

    def take(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows `idx` (E, B) of every member: returns x (E, B, ...), y (E, B, ...)."""
        if self.per_member:
            E, n = idx.shape[0], self.x.shape[1]
            flat = (idx + n * torch.arange(E, device=idx.device).unsqueeze(1)).reshape(-1)
            return (_rows(self.x.reshape(E * n, *self.x.shape[2:]), flat, idx.shape),
                    _rows(self.y.reshape(E * n, *self.y.shape[2:]), flat, idx.shape))
        flat = idx.reshape(-1)
        return _rows(self.x, flat, idx.shape), _rows(self.y, flat, idx.shape)

    def chunk(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows start:stop of every member: x (B, ...) shared or (E, B, ...)."""
        if self.per_member:
            return self.x[:, start:stop], self.y[:, start:stop]
        return self.x[start:stop], self.y[start:stop]


def _rows(t: torch.Tensor, flat_idx: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """t[flat_idx] reshaped to `shape + t.shape[1:]`.

    `index_select` copies whole rows and is 3-5x faster than advanced indexing for rows
    of more than one number (a 784-pixel MNIST batch of 8x128: 0.18 ms vs 0.85 ms);
    advanced indexing wins only for one number per row.
    """
    if t[0].numel() == 1:
        return t[flat_idx].reshape(*shape, *t.shape[1:])
    return t.index_select(0, flat_idx).reshape(*shape, *t.shape[1:])


@dataclass
class History:
    """Metrics per evaluation: `values["test/loss"][t][e]` and the epoch/time of each."""

    epochs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    values: dict[str, list[list[float]]] = field(default_factory=dict)

    def series(self, split: str, metric: str) -> np.ndarray:
        """(T, E) array of one metric over the evaluations."""
        return np.asarray(self.values[f"{split}/{metric}"], dtype=float)

    def final(self, split: str, metric: str) -> np.ndarray:
        """(E,) values at the last evaluation."""
        return self.series(split, metric)[-1]

    def has(self, split: str, metric: str) -> bool:
        return f"{split}/{metric}" in self.values

    def state(self) -> dict:
        return {"epochs": list(self.epochs), "seconds": list(self.seconds),
                "values": {k: [list(r) for r in v] for k, v in self.values.items()}}

    @classmethod
    def from_state(cls, s: dict) -> History:
        return cls(list(s["epochs"]), list(s["seconds"]),
                   {k: [list(r) for r in v] for k, v in s["values"].items()})


@dataclass
class FitResult:
    """The trained ensemble, its history and which members diverged (and when)."""

    model: Ensemble
    history: History
    diverged_epoch: list[int | None]
    seconds: float

    @property
    def diverged(self) -> list[bool]:
        return [d is not None for d in self.diverged_epoch]


# Numbers in the largest activation of one evaluation batch of a convolutional model
# (all members): 4M floats, 16 MB, keeps a batch in cache. For the pytorch/examples
# CNN that is 113 images, and evaluating 4,000 MNIST images takes 1.5-1.9 s instead
# of 2.1-2.5 s in batches of 4,096. MLPs: 1,024 examples (10-20 % faster than 4,096
# for 8 and 100 members of 784-256-10).
EVAL_BUDGET = 4 * 2 ** 20


def eval_batch(model: Ensemble) -> int:
    """Examples per forward pass when evaluating `model` (see `EVAL_BUDGET`)."""
    if not any(item[0] == "conv" for item in getattr(model, "spec", ())):
        return 1024
    return max(32, min(4096, EVAL_BUDGET // (model.widest_activation * model.E)))


@torch.no_grad()
def evaluate(model: Ensemble, split: Split, loss: str,
             batch: int | None = None) -> dict[str, torch.Tensor]:
    """Mean loss (and accuracy for classification) of every member on a split: (E,) each.

    batch: examples per forward pass; by default `eval_batch(model)`.
    """
    batch = batch or eval_batch(model)
    was_training = model.training
    model.eval()
    n = len(split)
    sums: dict[str, torch.Tensor] = {}
    for start in range(0, n, batch):
        x, y = split.chunk(start, min(n, start + batch))
        out = model(x)
        weight = out.shape[1] / n
        parts = {"loss": member_loss(loss, out, y)}
        acc = member_accuracy(loss, out, y)
        if acc is not None:
            parts["accuracy"] = acc
        for k, v in parts.items():
            sums[k] = sums.get(k, 0) + v * weight
    model.train(was_training)
    return sums


# Multiply-adds per training step (members x batch x parameters per member) below which
# MLP work runs on one thread.
SMALL_STEP_MACS = 20_000_000


def _small_work_threads(model: Ensemble, batch_size: int) -> int | None:
    """One thread for small MLP steps, where OpenMP's fork/join costs more than it saves.

    Measured on an idle 2-core CPU with the features-major layout: steps below ~5M
    multiply-adds run as fast on one thread as on two (100 members of 1-10-10-1 at
    batch 100: 1.4M), while larger ones gain from two (8 members of 784-256-10 at batch
    64, 104M: 1.8x; one 784-512-10, 26M: 1.5x). A second thread is also a risk on a
    busy machine, where a spinning OpenMP worker made the old layout's MNIST MLPs 4-50x
    slower; hence the margin (20M). Convolutional models keep torch's default.
    `TRAINLAB_THREADS` (set by the user or by `suite --workers`) always wins.
    """
    if os.environ.get("TRAINLAB_THREADS") or any(item[0] == "conv" for item in model.spec):
        return None
    work = model.E * batch_size * model.params_per_member()
    return 1 if work < SMALL_STEP_MACS else None


PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = {"1": ("inductor", None), "default": ("inductor", None),
                 "reduce-overhead": ("inductor", "reduce-overhead"),
                 "max-autotune": ("inductor", "max-autotune"),
                 "aot_eager": ("aot_eager", None)}


def _compile_setting() -> tuple[str, str | None] | None:
    """`TRAINLAB_COMPILE`: unset/0 off; 1|default|reduce-overhead|max-autotune|aot_eager.

    Opt-in because it pays only for long runs: on the 2-core CPU, compiling the
    forward+loss of 100 1-10-10-1 members took 5-20 s (less with inductor's disk
    cache) and made a step 1.2-1.45x faster, so it breaks even after 20,000-50,000
    steps (bench/compile.py). `reduce-overhead` adds CUDA-graph capture on a GPU;
    `aot_eager` only traces (for tests).
    """
    value = os.environ.get("TRAINLAB_COMPILE", "").strip().lower()
    if value in ("", "0", "off", "false", "no"):
        return None
    if value not in COMPILE_MODES:
        raise BadInput(f"TRAINLAB_COMPILE={value!r}: expected 0 or one of "
                       f"{', '.join(COMPILE_MODES)}")
    return COMPILE_MODES[value]


def _default_checkpoint_every(epochs: int) -> int:
    return max(1, epochs // 20)


def fit(model: Ensemble, train: Split, *, epochs: int, batch_size: int, loss: str,
        optimizer: str = "sgd", lr: float | Sequence[float] = 0.01, momentum: float = 0.0,
        weight_decay: float = 0.0, penalty: str | None = None,
        penalty_lambda: float | Sequence[float] = 0.0, penalty_weights_only: bool = False,
        lr_schedule: str | None = None, step_size: int = 1, gamma: float = 0.7,
        evals: dict[str, Split] | None = None, eval_every: int = 1, eval_at_start: bool = False,
        on_diverge: str = "fail", callbacks: Sequence[Any] = (), ctx: RunContext | None = None,
        name: str = "fit", member_names: Sequence[str] | None = None,
        checkpoint_every: int | None = None, log_metrics: bool = True,
        progress: bool | None = None, lbfgs_max_iter: int = 20,
        precision: str = "fp32") -> FitResult:
    """Train every member of `model` on `train`; return the model and its history.

    lr / penalty_lambda: a float or one value per member (E,). on_diverge: "fail" raises
    `Diverged`; "mask" freezes the diverged members and goes on. evals: splits evaluated
    every `eval_every` epochs (include "train" for exact full-data train metrics; otherwise
    the train loss is the mean minibatch loss). callbacks: objects with any of
    `on_step(step, model, losses)`, `on_epoch_end(epoch, model, history)` (returning
    True ends training after that epoch), `state_dict()`, `load_state_dict(state)`.
    precision: "fp32", or "bf16" for mixed precision (the forward pass under bfloat16
    autocast, convolutions channels-last; weights, optimizer and loss stay float32):
    1.5-2.2x faster for the pytorch/examples CNN on a CPU with AVX512-BF16
    (bench/cnn.py), slower on CPUs without it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})")
    E = model.E
    device = next(model.parameters()).device
    names = list(member_names or ([f"m{e}" for e in range(E)] if E > 1 else ["model"]))
    evals = dict(evals or {})
    params = list(model.parameters())
    lam = torch.as_tensor(penalty_lambda, dtype=params[0].dtype, device=device)
    use_lbfgs = optimizer == "lbfgs"
    if use_lbfgs:
        opt: Any = torch.optim.LBFGS(params, lr=float(np.mean(lr)), max_iter=lbfgs_max_iter,
                                     history_size=100, line_search_fn="strong_wolfe")
    else:
        opt = make_optimizer(optimizer, params, lr, momentum, weight_decay)
    factor = schedule(lr_schedule, epochs, step_size, gamma)
    gens = [torch.Generator().manual_seed(int(s) + 7_919) for s in model.seeds]
    history = History()
    diverged: list[int | None] = [None] * E
    start_epoch, train_seconds = 0, 0.0
    every = checkpoint_every or _default_checkpoint_every(epochs)
    ckpt = ctx.checkpoint(name) if ctx is not None else None

    def snapshot(epoch: int, done: bool) -> dict:
        return {"epoch": epoch, "done": done, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "generators": [g.get_state() for g in gens],
                "torch_rng": torch.get_rng_state(), "history": history.state(),
                "diverged": [-1 if d is None else d for d in diverged],
                "seconds": train_seconds,
                "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None
                              for cb in callbacks]}

    if ckpt is not None and ctx.resume:
        state = ckpt.load()
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            for g, s in zip(gens, state["generators"], strict=True):
                g.set_state(s)
            torch.set_rng_state(state["torch_rng"])
            history = History.from_state(state["history"])
            diverged = [None if d < 0 else int(d) for d in state["diverged"]]
            start_epoch, train_seconds = int(state["epoch"]), float(state["seconds"])
            for cb, s in zip(callbacks, state["callbacks"], strict=False):
                if s is not None and hasattr(cb, "load_state_dict"):
                    cb.load_state_dict(s)
            ctx.truncate_metrics(name, start_epoch)
            if state["done"]:
                return FitResult(model, history, diverged, train_seconds)

    def record(epoch: int, train_loss: torch.Tensor | None) -> None:
        results = {split: evaluate(model, data, loss) for split, data in evals.items()}
        if "train" not in results and train_loss is not None:
            results["train"] = {"loss": train_loss}
        history.epochs.append(epoch)
        history.seconds.append(train_seconds)
        rows = []
        for split, metrics in results.items():
            for metric, value in metrics.items():
                vals = value.detach().cpu().tolist()
                history.values.setdefault(f"{split}/{metric}", []).append(vals)
        if ctx is not None and log_metrics:
            for split, metrics in results.items():
                cpu = {m: v.detach().cpu().tolist() for m, v in metrics.items()}
                for e in range(E):
                    row = {"fit": name, "epoch": epoch, "split": split, "model": names[e]}
                    row.update({m: cpu[m][e] for m in cpu})
                    rows.append(row)
            ctx.log(rows)

    if start_epoch == 0 and eval_at_start and not history.epochs:
        record(0, None)

    autocast = precision == "bf16"

    def forward_loss(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member losses and the total to differentiate (losses + penalty, summed)."""
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(xb)
        losses = member_loss(loss, out.float(), yb)
        pen = member_penalty(penalty, params, lam, penalty_weights_only)
        return losses, (losses if pen is None else losses + pen).sum()

    compiled = _compile_setting()
    if compiled is not None:
        backend, mode = compiled
        forward_loss = torch.compile(forward_loss, backend=backend, mode=mode)

    n = len(train)
    full_batch = batch_size >= n
    show = (ctx.progress if ctx is not None else True) if progress is None else progress
    bar = progress_bar(epochs, f"{ctx.exp_id if ctx else 'fit'}:{name}", show,
                       initial=start_epoch)
    model.train()
    step = start_epoch * max(1, -(-n // batch_size))
    threads_before = torch.get_num_threads()
    threads = _small_work_threads(model, min(batch_size, len(train)))
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            if not use_lbfgs:
                opt.scale = factor(epoch - 1, (epoch - 1) / epochs)
            if full_batch:
                batches = [None]
            else:
                perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
                batches = [perms[:, s:s + batch_size] for s in range(0, n, batch_size)]
            running = torch.zeros(E, device=device)
            for idx in batches:
                if idx is None:
                    xb, yb = train.x, train.y
                else:
                    xb, yb = train.take(idx)

                if use_lbfgs:
                    def closure(xb=xb, yb=yb):
                        opt.zero_grad()
                        _, total = forward_loss(xb, yb)
                        total.backward()
                        return total
                    opt.step(closure)
                    with torch.no_grad():
                        losses = member_loss(loss, model(xb), yb)
                else:
                    losses, total = forward_loss(xb, yb)
                    opt.zero_grad()
                    total.backward()
                    for cb in callbacks:
                        if hasattr(cb, "on_step"):
                            cb.on_step(step, model, losses.detach())
                    opt.step()
                running += losses.detach() * (xb.shape[-len(model.input_shape) - 1] / n)
                step += 1
            train_seconds += time.perf_counter() - t0
            epoch_loss = running.cpu()
            bad = [e for e in torch.nonzero(~torch.isfinite(epoch_loss)).flatten().tolist()
                   if diverged[e] is None]
            if bad:
                if on_diverge == "fail":
                    raise Diverged(epoch, float(epoch_loss[bad[0]]),
                                   names[bad[0]] if E > 1 else None)
                for e in bad:
                    diverged[e] = epoch
                if all(d is not None for d in diverged):
                    raise Diverged(epoch, float(epoch_loss[bad[0]]))
                if not use_lbfgs:
                    opt.freeze(bad)
            if epoch % eval_every == 0 or epoch == epochs:
                record(epoch, running)
            stop = False
            for cb in callbacks:
                if hasattr(cb, "on_epoch_end") and cb.on_epoch_end(epoch, model, history):
                    stop = True
            if stop and history.epochs[-1:] != [epoch]:
                record(epoch, running)  # the last epoch trained is always in the history
            done = epoch == epochs or stop
            if ckpt is not None and (epoch % every == 0 or done):
                ckpt.save(snapshot(epoch, done=done))
            bar.update(1)
            if show and history.has("train", "loss"):
                bar.set_postfix(loss=f"{np.nanmean(history.final('train', 'loss')):.4g}",
                                refresh=False)
            if stop:
                break
    finally:
        bar.close()
        torch.set_num_threads(threads_before)
    return FitResult(model, history, diverged, train_seconds)
