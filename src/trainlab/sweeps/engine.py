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
fails (diverged, bad value) makes the trial FAIL; it never stops the sweep. The pruner
reaches the run as an observer of its logged metrics (`execute(observers=...)`). A
trial whose parameters equal those of a completed trial (the genetic algorithm breeds
the same individual again) takes that trial's value instead of training again: every
trial runs with the same seed and fixed settings.

With `seeds` N > 1 a trial's run trains N replicates (seeds seed … seed+N-1; as one
ensemble where the experiment declares `REPLICATES(ensemble=True)`, else one after
another) and the trial's value is the mean of the objective over the replicates of its
summary (`replicates`); the user attributes `replicate_values`, `replicate_seeds`,
`replicate_std` and `replicate_ci95` (Student t, `trainlab.stats.describe`) keep them.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from trainlab import stats
from trainlab.errors import BadInput, StopRun
from trainlab.run_folder import atomic_write_json, read_json, utc_now
from trainlab.runner import execute
from trainlab.sweeps.samplers import GridExhausted, GridPointSampler, make_pruner, make_sampler
from trainlab.sweeps.settings import Settings
from trainlab.sweeps.space import Param
from trainlab.sweeps.storage import Liveness

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
META_KEY = "trainlab"
DEAD_WORKER = "worker stopped beating (killed?); the heartbeat failed the trial"


class TrialFailed(Exception):
    """The trial's run did not give an objective value (the trial becomes FAIL)."""


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
        raise BadInput(f"study {s.study_name!r} exists with {_difference(meta, s.meta())}; "
                       "its trials would not be comparable: choose another --study name")
    return study


def _difference(old: dict, new: dict) -> str:
    """`another objective` or `other fixed settings (preset smoke, not quick)`."""
    diff = [k for k in new if old.get(k) != new[k]]
    if diff != ["fixed"]:
        return "another " + ", ".join(k for k in diff if k != "fixed") + (
            " and other fixed settings" if "fixed" in diff else "")
    was, now = old.get("fixed") or {}, new["fixed"]
    parts = [f"{k} {was.get(k)!r}, not {now[k]!r}" for k in ("preset", "sets", "seed", "seeds")
             if was.get(k) != now[k]]
    if not parts:  # the same preset and --set values, but another config file
        keys = sorted(k for k in now["config"] if (was.get("config") or {}).get(k)
                      != now["config"][k])
        parts = [f"config {', '.join(keys) or '?'} different (another --config file?)"]
    return f"other fixed settings ({'; '.join(parts)})"


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


def pruning_observer(trial, s: Settings) -> tuple[list, dict[str, Any]]:
    """([observer], state): the observer reports the run's logged metric to the trial each
    epoch (or `step`, for rows without an epoch) and raises StopRun when the pruner says
    so (state["step"] is then that epoch or step)."""
    state: dict[str, Any] = {"step": None}
    if s.prune_on is None or s.pruner == "none":
        return [], state
    split, metric = s.prune_on
    reported: set[int] = set()

    def observe(rows: list[dict]) -> None:
        by_step: dict[int, list[float]] = {}
        unit = "epoch"  # rows without an epoch count steps (curvefit: folds finished)
        for r in rows:
            v = r.get(metric)
            step = r.get("epoch", r.get("step"))
            if r.get("split") != split or not isinstance(v, (int, float)) or step is None:
                continue
            unit = "epoch" if "epoch" in r else "step"
            by_step.setdefault(int(step), []).append(float(v))
        for step, values in sorted(by_step.items()):
            value = sum(values) / len(values)
            if not math.isfinite(value) or step in reported:
                continue
            reported.add(step)
            trial.report(value, step)
            if trial.should_prune():
                state["step"] = step
                raise StopRun(f"pruned by the sweep at {unit} {step} "
                              f"({split}/{metric} = {value:.4g})")

    return [observe], state


def _twin(trial, values: dict[str, Any]):
    """A completed trial of the study with exactly these parameters, or None. Every trial
    runs with the same seed and fixed settings, so its run would give the same value."""
    for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.number != trial.number and t.params == values and t.value is not None:
            return t
    return None


def objective_value(s: Settings, summary: dict, fail) -> float:
    """The objective's number in a completed run's summary (`fail(reason)` for NaN/inf)."""
    try:
        value = lookup(summary, s.objective)
    except KeyError:
        known = ", ".join(scalar_keys(summary)[:25])
        raise BadInput(f"--objective {s.objective}: not in the summary of {s.exp.id} "
                       f"(numbers there: {known})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:  # NaN/inf are stored as null in summary.json
            raise fail(f"objective {s.objective} is not finite (diverged?)")
        raise BadInput(f"--objective {s.objective}: is {type(value).__name__}, not a number")
    if not math.isfinite(value):
        raise fail(f"objective {s.objective} = {value} (diverged?)")
    return float(value)


def replicate_value(s: Settings, summary: dict, trial, fail) -> float:
    """The trial's value: the objective of the run's one replicate, or with `s.seeds` > 1
    the mean over the replicates (each value and the 95 % interval go to the trial)."""
    reps = summary.get("replicates") if s.seeds > 1 else None
    if not isinstance(reps, list) or len(reps) < 2:
        return objective_value(s, summary, fail)
    values = [objective_value(s, r["summary"], fail) for r in reps]
    described = stats.describe(values)
    trial.set_user_attr("replicate_seeds", [int(r["seed"]) for r in reps])
    trial.set_user_attr("replicate_values", values)
    trial.set_user_attr("replicate_std", described["std"])
    trial.set_user_attr("replicate_ci95", described["ci95"])
    return float(described["mean"])


def run_trial(s: Settings, trial, liveness: Liveness) -> float:
    """One trial: its run folder, then the objective value (or FAIL / PRUNED)."""
    try:
        values = {p.key: suggest(trial, p) for p in s.params}
    except GridExhausted as exc:
        trial.set_user_attr("skipped", str(exc))
        raise TrialFailed(str(exc)) from None
    twin = _twin(trial, values)
    if twin is not None:  # the genetic algorithm breeds the same individual again
        trial.set_user_attr("same_as", twin.number)
        trial.set_user_attr("run_dir", twin.user_attrs.get("run_dir"))
        return float(twin.value)
    out = s.sweep_dir / "trials" / str(trial.number)
    trial.set_user_attr("run_dir", str(out.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

    def fail(reason: str) -> TrialFailed:
        trial.set_user_attr("fail_reason", reason)
        return TrialFailed(reason)

    sets = {**s.sets, **{p.key: p.config_value(values[p.key]) for p in s.params}}
    observers, pruned = pruning_observer(trial, s)
    with liveness.beating(trial._trial_id):
        try:
            outcome = execute(s.exp.id, preset=s.preset, sets=sets, config_file=s.config_file,
                              seed=s.seed, device=s.device, out=out, progress=False,
                              quiet=True, seeds=s.seeds, observers=observers)
        except BadInput as exc:
            raise fail(f"bad input: {exc}") from None
    if outcome.exit_code == 130:
        raise KeyboardInterrupt
    if outcome.state == "pruned":
        trial.set_user_attr("pruned_at", pruned["step"])
        raise optuna.TrialPruned(outcome.reason)
    if outcome.state != "completed":
        raise fail(outcome.reason or outcome.state)
    return replicate_value(s, outcome.summary, trial, fail)


def settle_dead(trials) -> list[int]:
    """Mark the run folder of every trial failed by the heartbeat (its worker died) as
    failed, so that no folder says `running` forever; returns their numbers."""
    settled = []
    for t in trials:
        u = t.user_attrs
        if t.state != TrialState.FAIL or "fail_reason" in u or "same_as" in u:
            continue
        status_path = Path(u.get("run_dir") or "") / "status.json"
        try:
            status = read_json(status_path) if u.get("run_dir") else None
        except BadInput:
            continue
        if isinstance(status, dict) and status.get("state") == "running":
            status.update(state="failed", reason=DEAD_WORKER, finished=utc_now())
            atomic_write_json(status_path, status)
            settled.append(t.number)
    return settled


def _echo(s: Settings, trial: optuna.trial.FrozenTrial, finished: int) -> None:
    params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in trial.params.items())
    value = f" value={trial.value:.6g}" if trial.value is not None else ""
    why = trial.user_attrs.get("fail_reason") or trial.user_attrs.get("skipped") or ""
    why = f" ({why})" if why and trial.state != TrialState.COMPLETE else ""
    if "same_as" in trial.user_attrs:
        why = f" (same parameters as trial {trial.user_attrs['same_as']}: value reused)"
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


def work(s: Settings, study, liveness: Liveness, poll: float = 0.5, echo: bool = True) -> str:
    """Run trials until the study has `s.target` finished ones; returns why it stopped."""
    max_failed = max(10, s.target)
    grid = study.sampler if isinstance(study.sampler, GridPointSampler) else None
    target = min(s.target, len(grid.points)) if grid else s.target
    while True:
        liveness.reap(study)
        trials = study.get_trials(deepcopy=False)
        settle_dead(trials)
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
            if done and echo:
                _echo(s, done[-1], c["finished"] + (done[-1].state in FINISHED))
        elif c["RUNNING"] > 0:
            time.sleep(poll)  # other workers' trials may still fail; then take over
        else:
            return "grid exhausted" if grid is not None else "nothing left to run"
