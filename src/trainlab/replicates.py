"""Replicates: one run of an experiment as N independent replicates with seeds s, s+1, ….

`run_replicates(exp, cfg, seeds, path, device)` is the entry point (the runner and the
sweeps use it). With one seed it is exactly one call of the experiment in `path`. With
more, an experiment whose `REPLICATES` says `ensemble=True` trains them all in one call
of its `run_seeds(cfg, ctx, seeds)` (the replicates become extra members of its
ensembles); any other experiment runs once per seed, one after another, each replicate
in its own folder `replicates/seed-S/` (own metrics, figures, checkpoints, summary and
report), so a killed run resumes with the replicates it had finished.

The summary of the whole run (`combine`) keeps every key of a replicate's summary with
its value over the replicates (`aggregate`: the mean of numbers, elementwise for lists,
so one replicate gives exactly its own summary), and adds `replicates` (each seed and
its summary), `stats` (mean, std, n and 95 % interval of every headline number) and
`claims` (the verdict on every claim of the experiment's `CLAIMS`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlab import stats
from trainlab.claims import Claim, Replicates, evaluate_all, lookup
from trainlab.errors import BadInput
from trainlab.live import SeedTagged
from trainlab.registry import Experiment
from trainlab.run_context import RunContext
from trainlab.run_folder import (
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_metrics,
    to_json,
)

MAX_REPLICATES = 1000


# ------------------------------------------------------------------ declarations


def _module(exp: Experiment):
    return sys.modules.get(exp.run.__module__)


def spec(exp: Experiment) -> Replicates:
    """The experiment's `REPLICATES` (one replicate per preset when it declares none)."""
    found = getattr(_module(exp), "REPLICATES", None)
    return found if isinstance(found, Replicates) else Replicates()


def claims_of(exp: Experiment) -> tuple[Claim, ...]:
    """The experiment's `CLAIMS` (empty when it declares none)."""
    return tuple(getattr(_module(exp), "CLAIMS", ()) or ())


def seed_list(seed: int, n: int) -> list[int]:
    """The replicate seeds seed, seed+1, …, seed+n-1."""
    return [int(seed) + k for k in range(n)]


def parse_count(value: Any, what: str = "--seeds") -> int:
    """A replicate count from the command line or the API; BadInput unless 1..MAX."""
    if isinstance(value, bool):
        raise BadInput(f"{what}: expected a whole number of replicates, got {value!r}")
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise BadInput(f"{what}: expected a whole number of replicates, got {value!r}") from None
    if not 1 <= n <= MAX_REPLICATES:
        raise BadInput(f"{what}: the number of replicates must be 1..{MAX_REPLICATES}, got {n}")
    return n


def _available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 ** 62  # unknown: no limit


def check_fits(exp: Experiment, cfg, n: int, device: torch.device) -> None:
    """BadInput when n replicates trained as one ensemble would not fit in memory."""
    rep = spec(exp)
    if n == 1 or not (rep.ensemble and rep.replicate_bytes):
        return
    need = n * int(getattr(_module(exp), rep.replicate_bytes)(cfg))
    free = _available_bytes(device)
    if need > free:
        raise BadInput(f"--seeds {n}: {exp.id} would need about {need / 2**30:.1f} GiB for "
                       f"{n} replicates in one ensemble, {free / 2**30:.1f} GiB available")


# ------------------------------------------------------------------- aggregation


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def aggregate(values: list) -> Any:
    """The value over replicates of one summary entry (`values`: one per replicate).

    Numbers: the first when all are equal (type and bits kept), else the float mean (None
    when any replicate has None or a non-finite value). Lists of equal length: element by
    element; dicts: key by key. Anything else, and lists of unequal length: the first
    replicate's value (the others are in the summary's `replicates`).
    """
    first = values[0]
    if all(v == first and type(v) is type(first) for v in values[1:]):
        return first
    if all(isinstance(v, dict) for v in values):
        return {k: aggregate([v[k] for v in values]) if all(k in v for v in values)
                else first[k] for k in first}
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return [aggregate([v[i] for v in values]) for i in range(len(first))]
    if any(v is None for v in values) and all(v is None or _number(v) for v in values):
        return None
    if all(_number(v) for v in values):
        if not all(math.isfinite(v) for v in values):
            return None
        return float(np.mean(np.asarray(values, dtype=float)))
    return first


def _stat_entry(values: list) -> dict | None:
    if all(_number(v) or v is None for v in values):
        return stats.describe(values)
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        items = [stats.describe([v[i] for v in values]) for i in range(len(values[0]))]
        if all(isinstance(x, dict) for x in items):
            return {"mean": [x["mean"] for x in items], "std": [x["std"] for x in items],
                    "n": min((x["n"] for x in items), default=0),
                    "ci95": [x["ci95"] for x in items]}
    return None


def headline_stats(summaries: list[dict], keys: tuple[str, ...]) -> dict:
    """`{key: {mean, std, n, ci95}}` of every headline key (every top-level number when
    the experiment names none); lists of numbers get lists of means, stds and intervals."""
    if not keys:
        keys = tuple(k for k, v in summaries[0].items() if _number(v))
    out = {}
    for key in keys:
        values = [lookup(s, key) for s in summaries]
        if all(v is None for v in values):
            continue
        entry = _stat_entry(values)
        if entry is not None:
            out[key] = entry
    return out


def combine(exp: Experiment, seeds: list[int], summaries: list[dict]) -> dict:
    """The run's summary: aggregated keys + `replicates`, `stats`, `claims`."""
    value = aggregate(summaries) if len(summaries) > 1 else dict(summaries[0])
    value["replicates"] = [{"seed": s, "summary": sm} for s, sm in zip(seeds, summaries,
                                                                       strict=True)]
    value["stats"] = headline_stats(summaries, exp.headline)
    value["claims"] = evaluate_all(claims_of(exp), summaries)
    return value


# ------------------------------------------------------------------------ running


def replicate_dir(path: Path, seed: int) -> Path:
    """Folder of one replicate of a run that runs its replicates one after another."""
    return Path(path) / "replicates" / f"seed-{seed}"


def seed_everything(seed: int) -> None:
    """Seed torch's and NumPy's global generators (what a run starts from)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _one_after_another(exp: Experiment, cfg, seeds: list[int], top: RunContext,
                       on_replicate=None) -> list[dict]:
    summaries = []
    for seed in seeds:
        sub = replicate_dir(top.path, seed)
        done = sub / "summary.json"
        if top.resume and done.exists():
            summaries.append(read_json(done))
            continue
        again = top.resume and sub.is_dir()
        sub.mkdir(parents=True, exist_ok=True)
        seed_everything(seed)
        # the live report of the whole run watches each replicate (the observers that
        # have begin_fit; a sweep's pruner sees the combined summary only, as before)
        live = [SeedTagged(o, seed) for o in top.observers if hasattr(o, "begin_fit")]
        ctx = RunContext(sub, exp.id, top.device, seed, resume=again, progress=top.progress,
                         quiet=top.quiet, observers=live)
        summary = exp.run(dataclasses.replace(cfg, seed=seed), ctx)
        atomic_write_json(done, summary)
        summary = read_json(done)  # the JSON form, as a resumed run will read it
        if on_replicate is not None:
            on_replicate(ctx, dataclasses.replace(cfg, seed=seed), summary)
        summaries.append(summary)
    _merge_metrics(top, seeds)
    return summaries


def _merge_metrics(top: RunContext, seeds: list[int]) -> None:
    """The run's metrics.jsonl: every replicate's rows, each with its `seed`."""
    rows = []
    for seed in seeds:
        rows += [{**r, "seed": seed} for r in read_metrics(replicate_dir(top.path, seed)
                                                           / "metrics.jsonl")]
    atomic_write_text(top.metrics_path, "".join(to_json(r, indent=None) + "\n" for r in rows))


def run_replicates(exp: Experiment, cfg, seeds: list[int], ctx: RunContext,
                   on_replicate=None) -> dict:
    """Run `exp` with config `cfg` once per seed (see the module docstring); the summary.

    ctx: the run's context (its folder, device, progress, resume flag); one replicate and
    ensemble replicates run in it, separate replicates in `replicates/seed-S/` beside it.
    on_replicate(ctx, cfg, summary) is called after each separate replicate (the runner
    writes its report there). Returns the combined summary (see `combine`).
    """
    if not seeds:
        raise BadInput("run_replicates: give at least one seed")
    seeds = [int(s) for s in seeds]
    if len(seeds) == 1 or spec(exp).ensemble:
        cfg = dataclasses.replace(cfg, seed=seeds[0])
        if len(seeds) == 1:
            summaries = [exp.run(cfg, ctx)]
        else:
            summaries = list(_module(exp).run_seeds(cfg, ctx, seeds))
        # the per-replicate summaries as any reader of summary.json sees them
        summaries = [json.loads(to_json(s, indent=None)) if isinstance(s, dict) else s
                     for s in summaries]
    else:
        summaries = _one_after_another(exp, cfg, seeds, ctx, on_replicate)
    if not all(isinstance(s, dict) for s in summaries):
        return summaries[0]  # not a summary at all: the runner's check reports it
    return combine(exp, seeds, summaries)
