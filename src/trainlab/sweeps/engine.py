"""Running a sweep: the study, the worker loop, one run folder per trial, worker processes.

A worker repeats: fail trials whose worker died (heartbeat), count the study's
finished trials (COMPLETE or PRUNED), and start one more trial while finished +
running < target. When the running trials of other workers already make up the
target, it waits for them instead: if one of them dies, its trial turns FAIL after
the grace period and a waiting worker takes over. The study therefore reaches the
target across any number of workers, and overshoots it only when two workers decide
in the same instant.

Each trial is an ordinary run folder, `<sweep>/trials/<number>/`, made by
`trainlab.runner.execute` with the trial's parameters as `--set` values. A run that
fails (diverged, bad value) makes the trial FAIL; it never stops the sweep.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from trainlab import runs
from trainlab.errors import BadInput, RunFailed
from trainlab.runner import execute
from trainlab.sweeps.samplers import GridExhausted, GridPointSampler, make_pruner, make_sampler
from trainlab.sweeps.space import Param
from trainlab.sweeps.storage import Liveness, StorageSpec

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
META_KEY = "trainlab"


class TrialFailed(Exception):
    """The trial's run did not give an objective value (the trial becomes FAIL)."""


class PrunedRun(RunFailed):
    """Raised inside a trial's run when the pruner stops it (the run folder says why)."""


@dataclass
class Settings:
    """Everything a worker needs, checked before any folder exists."""

    exp: Any
    sampler: str
    target: int
    params: list[Param]
    space_source: str
    objective: str
    direction: str
    preset: str
    config_file: str | None
    sets: dict
    seed: int | None
    device: str
    storage: StorageSpec
    study_name: str
    sweep_dir: Path
    workers: int = 1
    worker_index: int | None = None
    population: int = 30
    crossover: str = "uniform"
    mutation_prob: float | None = None
    pruner: str = "none"
    prune_on: tuple[str, str] | None = None
    heartbeat_interval: int = 5
    grace_period: int = 15

    def meta(self) -> dict:
        """What a study must agree on for a worker to join it."""
        return {"experiment": self.exp.id, "objective": self.objective,
                "sampler": self.sampler, "space": {p.key: p.as_table() for p in self.params}}

    def grid_size(self) -> int:
        size = 1
        for p in self.params:
            size *= len(p.grid_values())
        return size

    def sampler_seed(self) -> int | None:
        if self.seed is None:
            return None
        if self.worker_index is not None:
            return self.seed * 1_000 + self.worker_index + 1
        if self.storage.shared:  # several hosts may run this same command
            return (self.seed * 1_000_003 + os.getpid() * 7_919
                    + hash(socket.gethostname()) % 1_000_000) % 2**31
        return self.seed


# ------------------------------------------------------------------------ study


def open_study(s: Settings, storage):
    """Create the study or join the existing one of this name (it must match)."""
    sampler = make_sampler(s.sampler, seed=s.sampler_seed(), params=s.params,
                           population=s.population, crossover=s.crossover,
                           mutation_prob=s.mutation_prob, shared=s.storage.shared,
                           grid_seed=s.seed)
    try:
        study = optuna.create_study(storage=storage, study_name=s.study_name, sampler=sampler,
                                    pruner=make_pruner(s.pruner), direction=s.direction,
                                    load_if_exists=True)
    except Exception as exc:
        raise BadInput(f"--storage {s.storage.shown}: cannot create study "
                       f"{s.study_name!r}: {str(exc).splitlines()[0][:300]}") from None
    if study.direction.name.lower() != s.direction:
        raise BadInput(f"study {s.study_name!r} exists with direction "
                       f"{study.direction.name.lower()}, not {s.direction}")
    meta = study.user_attrs.get(META_KEY)
    if meta is None:
        study.set_user_attr(META_KEY, s.meta())
    elif meta != s.meta():
        diff = [k for k in s.meta() if meta.get(k) != s.meta()[k]]
        raise BadInput(f"study {s.study_name!r} exists with another {', '.join(diff)}; "
                       "choose another --study name")
    return study


def counts(trials) -> dict[str, int]:
    """How many trials are in each state, plus failures of runs (not of dead workers)."""
    out = {st.name: 0 for st in TrialState}
    failed_runs = 0
    for t in trials:
        out[t.state.name] += 1
        if t.state == TrialState.FAIL and "fail_reason" in t.user_attrs:
            failed_runs += 1
    out["finished"] = out["COMPLETE"] + out["PRUNED"]
    out["failed_runs"] = failed_runs
    return out


# ------------------------------------------------------------------------ trial


def lookup(summary: Any, key: str) -> Any:
    """`summary["runs"][0]["final_loss"]` for key `runs.0.final_loss`; KeyError if absent."""
    value = summary
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and \
                -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(key)
    return value


def scalar_keys(summary: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted keys of the numbers in a summary (for the 'no such objective' message)."""
    keys: list[str] = []
    if isinstance(summary, dict) and depth < 3:
        for k, v in summary.items():
            keys += scalar_keys(v, f"{prefix}{k}.", depth + 1)
    elif isinstance(summary, list) and summary and depth < 3:
        keys += scalar_keys(summary[0], f"{prefix}0.", depth + 1)
    elif isinstance(summary, (int, float)) and not isinstance(summary, bool):
        keys.append(prefix[:-1])
    return keys


def suggest(trial, p: Param) -> Any:
    """The trial's value for one parameter (stored or drawn by the sampler)."""
    if p.kind == "categorical":
        return trial.suggest_categorical(p.key, list(p.choices))
    if p.kind == "int":
        return trial.suggest_int(p.key, int(p.low), int(p.high), step=int(p.step or 1),
                                 log=p.log)
    return trial.suggest_float(p.key, float(p.low), float(p.high), step=p.step, log=p.log)


@contextlib.contextmanager
def pruning(trial, s: Settings):
    """Report the run's logged metric to the trial each epoch; stop the run if pruned."""
    state: dict[str, Any] = {"step": None}
    if s.prune_on is None or s.pruner == "none":
        yield state
        return
    split, metric = s.prune_on

    def observe(rows: list[dict]) -> None:
        by_step: dict[int, list[float]] = {}
        for r in rows:
            v = r.get(metric)
            step = r.get("epoch", r.get("step"))
            if r.get("split") != split or not isinstance(v, (int, float)) or step is None:
                continue
            by_step.setdefault(int(step), []).append(float(v))
        for step, values in sorted(by_step.items()):
            value = sum(values) / len(values)
            if not math.isfinite(value) or step in trial_reported:
                continue
            trial_reported.add(step)
            trial.report(value, step)
            if trial.should_prune():
                state["step"] = step
                raise PrunedRun(f"pruned by the sweep at epoch {step} "
                                f"({split}/{metric} = {value:.4g})")

    trial_reported: set[int] = set()
    runs.METRIC_OBSERVERS.append(observe)
    try:
        yield state
    finally:
        runs.METRIC_OBSERVERS.remove(observe)


def run_trial(s: Settings, trial, liveness: Liveness) -> float:
    """One trial: its run folder, then the objective value (or FAIL / PRUNED)."""
    try:
        values = {p.key: suggest(trial, p) for p in s.params}
    except GridExhausted as exc:
        trial.set_user_attr("skipped", str(exc))
        raise TrialFailed(str(exc)) from None
    out = s.sweep_dir / "trials" / str(trial.number)
    trial.set_user_attr("run_dir", str(out.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

    def fail(reason: str) -> TrialFailed:
        trial.set_user_attr("fail_reason", reason)
        return TrialFailed(reason)

    sets = {**s.sets, **{p.key: p.config_value(values[p.key]) for p in s.params}}
    with liveness.beating(trial._trial_id), pruning(trial, s) as pruned:
        try:
            outcome = execute(s.exp.id, preset=s.preset, sets=sets, config_file=s.config_file,
                              seed=s.seed, device=s.device, out=out, progress=False,
                              quiet=True)
        except BadInput as exc:
            raise fail(f"bad input: {exc}") from None
    if outcome.exit_code == 130:
        raise KeyboardInterrupt
    if pruned["step"] is not None:
        trial.set_user_attr("pruned_at", pruned["step"])
        raise optuna.TrialPruned(outcome.reason)
    if outcome.state != "completed":
        raise fail(outcome.reason or outcome.state)
    try:
        value = lookup(outcome.summary, s.objective)
    except KeyError:
        known = ", ".join(scalar_keys(outcome.summary)[:25])
        raise BadInput(f"--objective {s.objective}: not in the summary of {s.exp.id} "
                       f"(numbers there: {known})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:  # NaN/inf are stored as null in summary.json
            raise fail(f"objective {s.objective} is not finite (diverged?)")
        raise BadInput(f"--objective {s.objective}: is {type(value).__name__}, not a number")
    if not math.isfinite(value):
        raise fail(f"objective {s.objective} = {value} (diverged?)")
    return float(value)


def _echo(s: Settings, trial: optuna.trial.FrozenTrial, finished: int) -> None:
    params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in trial.params.items())
    value = f" value={trial.value:.6g}" if trial.value is not None else ""
    why = trial.user_attrs.get("fail_reason") or trial.user_attrs.get("skipped") or ""
    why = f" ({why})" if why and trial.state != TrialState.COMPLETE else ""
    who = f"[worker {s.worker_index}] " if s.worker_index is not None else ""
    print(f"{who}trial {trial.number} {trial.state.name}{value} {params}{why} "
          f"[{finished}/{s.target}]", file=sys.stderr, flush=True)


# ------------------------------------------------------------------- the loop


def _drop_waiting(study, trials) -> None:
    """Fail retries still queued when the target is reached (so that none is left WAITING)."""
    for t in trials:
        if t.state != TrialState.WAITING or "failed_trial" not in t.system_attrs:
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, "skipped",
                                               "retry not needed: the study reached its target")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def work(s: Settings, study, liveness: Liveness, poll: float = 0.5) -> str:
    """Run trials until the study has `s.target` finished ones; returns why it stopped."""
    max_failed = max(10, s.target)
    grid = study.sampler if isinstance(study.sampler, GridPointSampler) else None
    target = min(s.target, len(grid.points)) if grid else s.target
    while True:
        liveness.reap(study)
        trials = study.get_trials(deepcopy=False)
        c = counts(trials)
        if c["finished"] >= target:
            if c["WAITING"] and not c["RUNNING"]:
                _drop_waiting(study, trials)
            return "target reached"
        if c["failed_runs"] >= max_failed:
            return f"stopped: {c['failed_runs']} trials failed"
        more = c["finished"] + c["RUNNING"] < target
        if grid is not None:
            more = more and (c["WAITING"] > 0 or grid.fresh_count(trials) < len(grid.points))
        if more:
            done: list = []
            try:
                study.optimize(lambda t: run_trial(s, t, liveness), n_trials=1,
                               catch=(TrialFailed,), gc_after_trial=False,
                               callbacks=[lambda st, ft, d=done: d.append(ft)])
            except optuna.exceptions.UpdateFinishedTrialError:
                print("trainlab sweep: a trial of this worker was failed by another worker "
                      "(missed heartbeats); going on", file=sys.stderr)
            if done:
                _echo(s, done[-1], c["finished"] + (done[-1].state in FINISHED))
        elif c["RUNNING"] > 0:
            time.sleep(poll)  # other workers' trials may still fail; then take over
        else:
            return "grid exhausted" if grid is not None else "nothing left to run"
