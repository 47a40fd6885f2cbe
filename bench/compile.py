"""The opt-in `TRAINLAB_COMPILE=1` (torch.compile of the forward+loss) against eager.

Trains the same ensemble with `trainlab.train.fit` three times in this process: eager,
compiled (first call: includes compiling), compiled again (same model object, so the
compiled code is reused). Reports the one-off compile cost and the per-step ratio, and
from them the number of steps after which compiling pays. Default task: the 100
1-10-10-1 MLPs of bench/ensemble.py (Adam, batch 100) on one thread.
Usage: python bench/compile.py [--quick] [--json] [--mode default|reduce-overhead]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser, timed  # noqa: E402
from ensemble import make_data  # noqa: E402

from trainlab.models import mlp  # noqa: E402
from trainlab.optim import OptimSpec  # noqa: E402
from trainlab.train import Split, fit  # noqa: E402


def main() -> None:
    p = parser(__doc__.splitlines()[0], cuda=True)
    p.add_argument("--mode", default="default", help="TRAINLAB_COMPILE value when compiling")
    args = p.parse_args()
    torch.set_num_threads(args.threads or 1)
    x, y = make_data(device=args.device)
    E, epochs = (10, 2) if args.quick else (100, 20)
    model = mlp([10, 10], 1, 1, seeds=list(range(E))).to(args.device)
    start = [t.detach().clone() for t in model.parameters()]

    def train() -> None:
        with torch.no_grad():
            for t, s in zip(model.parameters(), start, strict=True):
                t.copy_(s)
        fit(model, Split(x, y), epochs=epochs, batch_size=100, loss="mse",
            optim=OptimSpec("adam", 1e-3), progress=False)

    os.environ.pop("TRAINLAB_COMPILE", None)
    train()  # warm-up
    eager = timed(train, repeat=3)
    os.environ["TRAINLAB_COMPILE"] = args.mode
    first = timed(train)
    compiled = timed(train, repeat=3)
    os.environ.pop("TRAINLAB_COMPILE")
    steps = epochs * 10
    per_step_saving = (eager - compiled) / steps
    emit("compile", [{
        "size": {"E": E}, "baseline_s": round(eager, 4), "trainlab_s": round(compiled, 4),
        "compile_s": round(first - compiled, 2),
        "eager_ms_per_step": round(1e3 * eager / steps, 3),
        "compiled_ms_per_step": round(1e3 * compiled / steps, 3),
        "break_even_steps": (round((first - compiled) / per_step_saving)
                             if per_step_saving > 0 else None)}],
        {"epochs": epochs, "model": "1-10-10-1", "optimizer": "adam", "batch": 100,
         "mode": args.mode, "device": args.device,
         "baseline": "fit, eager", "trainlab": "fit with TRAINLAB_COMPILE (compiled code reused)"},
        args.json)


if __name__ == "__main__":
    main()
