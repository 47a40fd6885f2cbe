"""The speed switches of the loop, in one place: threads, torch.compile, precision, eval batch.

None of them changes a result, except `precision="bf16"`, which changes the numbers
within bfloat16 rounding (DESIGN §8). "Why does this step run on one thread?" is
answered here and nowhere else:

- `TRAINLAB_THREADS=N` (set by the user or by `suite --workers`) always wins
  (`apply_thread_request`, called once per run by the runner);
- otherwise `threads_for(model, batch, device)` runs small MLP steps on one thread
  (`SMALL_STEP_MACS`), and `one_thread(device)` does so for code made only of tiny
  tensors (minimal-ratio's Newton phase);
- `TRAINLAB_COMPILE` hands the forward+loss to `torch.compile` (`maybe_compile`);
- `autocast(precision, device)` runs the forward pass under bfloat16 autocast;
- `eval_batch(model)` sizes the forward passes of an evaluation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from trainlab.errors import BadInput

THREADS_ENV = "TRAINLAB_THREADS"
COMPILE_ENV = "TRAINLAB_COMPILE"


def requested_threads() -> int | None:
    """The thread count asked for with `TRAINLAB_THREADS`, or None when unset or empty.

    Anything but a positive integer is bad input, refused like a bad `TRAINLAB_COMPILE`
    (a silently ignored `TRAINLAB_THREADS=abc` runs on a thread count nobody chose).
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise BadInput(f"{THREADS_ENV}={value!r}: expected a positive number of threads")
    return int(value)


def check_environment() -> None:
    """BadInput for a bad `TRAINLAB_THREADS` or `TRAINLAB_COMPILE`, before any folder exists."""
    requested_threads()
    compile_setting()


def apply_thread_request() -> None:
    """Set torch's intra-op threads to `TRAINLAB_THREADS`, if given (once per run)."""
    threads = requested_threads()
    if threads is not None:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def threads(n: int | None, device: torch.device) -> Iterator[None]:
    """Run the block on `n` intra-op threads when on a CPU (None: leave them as they are)."""
    before = torch.get_num_threads()
    if n is not None and device.type == "cpu":
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """One intra-op thread on a CPU, unless `TRAINLAB_THREADS` is set.

    For code made only of tiny tensors (100 members of a 141-parameter net, 141 x 141
    eigendecompositions): a second thread gains nothing, and on a shared 2-core
    machine its spinning OpenMP workers made minimal-ratio's loss phase 15x and its
    eigendecompositions 50x slower.
    """
    return threads(None if os.environ.get(THREADS_ENV) else 1, device)


# Multiply-adds per training step (members x batch x parameters per member) below which
# MLP work runs on one thread.
SMALL_STEP_MACS = 20_000_000


def _is_conv(model: Any) -> bool:
    return any(item[0] == "conv" for item in getattr(model, "spec", ()))


def step_threads(model: Any, batch_size: int) -> int | None:
    """1 for small MLP steps, where OpenMP's fork/join costs more than it saves; else None.

    Measured on an idle 2-core CPU with the features-major layout: steps below ~5M
    multiply-adds run as fast on one thread as on two (100 members of 1-10-10-1 at
    batch 100: 1.4M), while larger ones gain from two (8 members of 784-256-10 at batch
    64, 104M: 1.8x; one 784-512-10, 26M: 1.5x). A second thread is also a risk on a
    busy machine, where a spinning OpenMP worker made the old layout's MNIST MLPs 4-50x
    slower; hence the margin (20M). Convolutional models keep torch's default.
    `TRAINLAB_THREADS` always wins.
    """
    if os.environ.get(THREADS_ENV) or _is_conv(model):
        return None
    work = model.E * batch_size * model.params_per_member()
    return 1 if work < SMALL_STEP_MACS else None


def threads_for(model: Any, batch_size: int,
                device: torch.device) -> contextlib.AbstractContextManager[None]:
    """The thread policy of one training run of `model` at `batch_size` (`step_threads`)."""
    return threads(step_threads(model, batch_size), device)


# Numbers in the largest activation of one evaluation batch of a convolutional model
# (all members): 4M floats, 16 MB, keeps a batch in cache. For the pytorch/examples
# CNN that is 113 images, and evaluating 4,000 MNIST images takes 1.5-1.9 s instead
# of 2.1-2.5 s in batches of 4,096. MLPs: 1,024 examples (10-20 % faster than 4,096
# for 8 and 100 members of 784-256-10).
EVAL_BUDGET = 4 * 2 ** 20


def eval_batch(model: Any) -> int:
    """Examples per forward pass when evaluating `model` (see `EVAL_BUDGET`)."""
    if not _is_conv(model):
        return 1024
    return max(32, min(4096, EVAL_BUDGET // (model.widest_activation * model.E)))


PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> None:
    """Raise ValueError unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (choose {', '.join(PRECISIONS)})")


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """The forward pass's autocast: bfloat16 for "bf16", a disabled one for "fp32".

    Mixed precision keeps weights, optimizer and loss in float32: 1.5-2.2x faster for
    the pytorch/examples CNN on a CPU with AVX512-BF16 (bench/cnn.py), slower on CPUs
    without it.
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


COMPILE_MODES = {"1": ("inductor", None), "default": ("inductor", None),
                 "reduce-overhead": ("inductor", "reduce-overhead"),
                 "max-autotune": ("inductor", "max-autotune"),
                 "aot_eager": ("aot_eager", None)}


def compile_setting() -> tuple[Any, str | None] | None:
    """`TRAINLAB_COMPILE`: unset/0 off; 1|default|reduce-overhead|max-autotune|aot_eager.

    Opt-in because it pays only for long runs: on the 2-core CPU, compiling the
    forward+loss of 100 1-10-10-1 members took 5-20 s (less with inductor's disk
    cache) and made a step 1.2-1.45x faster, so it breaks even after 20,000-50,000
    steps (bench/compile.py). `reduce-overhead` adds CUDA-graph capture on a GPU;
    `aot_eager` only traces (for tests). Returns (backend, mode) or None.
    """
    value = os.environ.get(COMPILE_ENV, "").strip().lower()
    if value in ("", "0", "off", "false", "no"):
        return None
    if value not in COMPILE_MODES:
        raise BadInput(f"{COMPILE_ENV}={value!r}: expected 0 or one of "
                       f"{', '.join(COMPILE_MODES)}")
    return COMPILE_MODES[value]


def maybe_compile(fn: Callable) -> Callable:
    """`fn` through `torch.compile` when `TRAINLAB_COMPILE` asks for it, else `fn`."""
    setting = compile_setting()
    if setting is None:
        return fn
    backend, mode = setting
    return torch.compile(fn, backend=backend, mode=mode)
