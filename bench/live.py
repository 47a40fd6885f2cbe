"""What the live report costs a run: the time spent keeping report.html live, per run.

Each case (an experiment, or EXP:N for N replicates) runs once (the quick preset; smoke with
--quick), after a warm-up run that pays the imports, with the runner's
`LiveReport` replaced by a subclass that adds up the wall time of every call it gets
(recording rows, rewriting the page, drawing the live panels). trainlab_s is the run's
wall time, baseline_s that time minus the live report's: the run as it would be without
it. ratio = baseline_s / trainlab_s, so 0.95 means 5 % overhead; `overhead` is the
fraction itself and `writes` how often the page was rewritten (at most every 2 s).
Measuring the time inside the live report, rather than timing a second run without
it, keeps the machine's noise out of a difference of a few per cent.

Usage: python bench/live.py [--quick] [--json] [--only EXP,...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, parser  # noqa: E402

import trainlab.runner as runner  # noqa: E402
from trainlab.live import LiveReport  # noqa: E402

EXPERIMENTS = ["polyfit", "polyfit:10", "height-weight", "deep-vs-shallow"]  # EXP:REPLICATES


class TimedLive(LiveReport):
    """`LiveReport` that adds the time of each call to the class total."""

    spent = 0.0
    writes = 0

    def begin_fit(self, *args, **kwargs) -> None:
        t = time.perf_counter()
        super().begin_fit(*args, **kwargs)
        TimedLive.spent += time.perf_counter() - t

    def __call__(self, rows) -> None:
        t = time.perf_counter()
        super().__call__(rows)
        TimedLive.spent += time.perf_counter() - t
        TimedLive.writes = max(TimedLive.writes, self.writes)


def measure(case: str, preset: str, folder: Path) -> dict:
    """One run of `case` (`EXP` or `EXP:REPLICATES`, the replicates' live bands): its wall
    time, the live report's share, the rewrites."""
    exp, _, seeds = case.partition(":")
    TimedLive.spent, TimedLive.writes = 0.0, 0
    start = time.perf_counter()
    outcome = runner.execute(exp, preset=preset, seeds=int(seeds or 1),
                             out=folder / case.replace(":", "-"), progress=False, quiet=True,
                             device="cpu")
    total = time.perf_counter() - start
    if outcome.state != "completed":
        raise SystemExit(f"{exp}: {outcome.state}: {outcome.reason}")
    return {"size": {"experiment": exp, "replicates": int(seeds or 1), "preset": preset},
            "baseline_s": round(total - TimedLive.spent, 4), "trainlab_s": round(total, 4),
            "live_s": round(TimedLive.spent, 4),
            "overhead": round(TimedLive.spent / total, 4), "writes": TimedLive.writes}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(EXPERIMENTS), help="experiments, comma-separated")
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    preset = "smoke" if args.quick else "quick"
    runner.LiveReport = TimedLive  # the runner builds this class for every run
    with tempfile.TemporaryDirectory() as folder:
        # imports and first-call costs (the page renderer's, scipy.stats for replicate
        # bands) out of the first experiment's share: they are paid once per process
        runner.execute("polyfit", preset="smoke", seeds=2, out=Path(folder) / "warm",
                       progress=False, quiet=True, device="cpu")
        cases = [measure(exp, preset, Path(folder)) for exp in args.only.split(",")]
    emit("live report overhead", cases, {"preset": preset, "interval_s": 2.0}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
