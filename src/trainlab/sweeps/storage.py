"""Where a study lives, and how a dead worker's trial is found and failed.

- in memory (default): one process;
- `journal:PATH`: Optuna's JournalStorage on a JournalFileBackend, for processes on one
  host. Optuna's journal storage has no heartbeat, so trainlab keeps one itself: a
  thread writes the time into the trial's system attribute `trainlab:heartbeat` every
  `interval` seconds, and every worker fails RUNNING trials whose last beat is older
  than `grace` seconds (the same rule as RDBStorage);
- `postgresql://…` (driver psycopg 3; `postgresql+psycopg://` is what SQLAlchemy gets)
  and `sqlite:///…`: Optuna's RDBStorage with its own heartbeat.

A stale trial becomes FAIL and is queued once more (WAITING, same parameters) by
Optuna's RetryHeartbeatStaleTrialCallback, so that the other workers make up for it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.errors import BadInput

HEARTBEAT_KEY = "trainlab:heartbeat"
MAX_RETRY = 3


def import_optuna():
    """`optuna`, or BadInput saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise BadInput("sweeps need Optuna: pip install 'trainlab[sweep]'") from None
    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def redact(url: str) -> str:
    """The URL with its password replaced by ***."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


@dataclass
class StorageSpec:
    """A parsed --storage value."""

    kind: str  # memory | journal | rdb
    url: str  # what Optuna gets (journal: the file path)
    shown: str  # for messages and reports (no password)
    given: str = ""  # the --storage text it was parsed from (may hold a password)

    @property
    def shared(self) -> bool:
        return self.kind != "memory"

    def argument(self) -> str:
        """The `--storage` value this came from, for worker processes (holds the password;
        they run in the same folder, so a relative journal path stays valid)."""
        return self.given


def parse_storage(text: str | None) -> StorageSpec:
    """Recognise memory, journal:PATH, postgresql://… and sqlite:///… (BadInput otherwise)."""
    if text is None or text.strip() in ("", "memory", ":memory:", "inmemory"):
        return StorageSpec("memory", "", "memory")
    text = text.strip()
    if text.startswith("journal:"):
        path = text[len("journal:"):]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise BadInput("--storage journal:PATH: give the journal file's path")
        _check_parent(Path(path).expanduser(), text)
        if Path(path).is_dir():
            raise BadInput(f"--storage {text}: is a folder, expected a journal file")
        return StorageSpec("journal", str(Path(path).expanduser()), text, text)
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if text.startswith(prefix):
            url = "postgresql+psycopg://" + text[len(prefix):]
            return StorageSpec("rdb", url, redact(text), text)
    if text.startswith("postgresql+"):
        raise BadInput(f"--storage {redact(text)}: trainlab talks to PostgreSQL through "
                       "psycopg 3; write postgresql://USER:PASSWORD@HOST:PORT/DB")
    if text.startswith("sqlite:///"):
        path = text[len("sqlite:///"):]
        if path and path != ":memory:":
            _check_parent(Path(path).expanduser(), text)
        return StorageSpec("rdb", text, text, text)
    raise BadInput(f"--storage {redact(text)}: expected journal:PATH, postgresql://… or "
                   "sqlite:///PATH (or nothing for in-memory)")


def _check_parent(path: Path, text: str) -> None:
    """The file's folder exists, or can be made (`open_storage` makes it): the nearest
    existing ancestor is a writable folder."""
    parent = path.resolve().parent
    existing = next((a for a in (parent, *parent.parents) if a.exists()), None)
    if existing is None or not existing.is_dir():
        raise BadInput(f"--storage {text}: {existing or parent} is not a folder")
    if existing != parent and not os.access(existing, os.W_OK):
        raise BadInput(f"--storage {text}: cannot create folder {parent}")


def _make_parent(path: str) -> None:
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = str(inner).strip() or type(inner).__name__
    line = text.splitlines()[0].strip()
    return line[:300]


def open_storage(spec: StorageSpec, heartbeat_interval: int, grace_period: int):
    """The Optuna storage object (None for in memory); BadInput if it cannot be reached."""
    optuna = import_optuna()
    if spec.kind == "memory":
        return None
    callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    if spec.kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        _make_parent(spec.url)
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(spec.url))
        except Exception as exc:  # unreadable file, foreign content
            raise BadInput(f"--storage {spec.shown}: cannot open the journal: "
                           f"{_first_line(exc)}") from None
    if spec.url.startswith("sqlite:///"):
        _make_parent(spec.url[len("sqlite:///"):])
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if spec.url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.storages.RDBStorage(
                spec.url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                grace_period=grace_period, heartbeat_stale_trial_callback=callback)
    except ImportError as exc:
        raise BadInput(f"--storage {spec.shown}: a driver is missing ({_first_line(exc)}); "
                       "pip install 'trainlab[sweep]'") from None
    except Exception as exc:  # sqlalchemy OperationalError, ArgumentError, StorageInternalError
        raise BadInput(f"--storage {spec.shown}: cannot connect: {_first_line(exc)}") from None


# ----------------------------------------------------------------- heartbeat


class Liveness:
    """Heartbeat and stale-trial detection for one storage (RDB: Optuna's own)."""

    def __init__(self, storage, interval: int, grace: int):
        self.storage = storage
        self.interval = interval
        self.grace = grace
        self.kind = ("memory" if storage is None else
                     "journal" if type(storage).__name__ == "JournalStorage" else "rdb")

    @contextlib.contextmanager
    def beating(self, trial_id: int):
        """Keep the trial alive while the block runs (journal only; RDB beats in optimize)."""
        if self.kind != "journal":
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while True:
                try:
                    self.storage.set_trial_system_attr(trial_id, HEARTBEAT_KEY, time.time())
                except Exception:  # the trial was failed by another worker, or I/O trouble
                    return
                if stop.wait(self.interval):
                    return

        thread = threading.Thread(target=beat, name="trainlab-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def reap(self, study) -> list[int]:
        """Fail RUNNING trials whose worker stopped beating (journal: returns their numbers)."""
        import optuna

        if self.kind == "rdb":
            optuna.storages.fail_stale_trials(study)
            return []
        if self.kind != "journal":
            return []
        now = time.time()
        failed = []
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            last = t.datetime_start.timestamp() if t.datetime_start else now
            beat = t.system_attrs.get(HEARTBEAT_KEY)
            if isinstance(beat, (int, float)):
                last = max(last, float(beat))  # a retried trial carries its parent's beat
            if now - last <= self.grace:
                continue
            try:
                ok = self.storage.set_trial_state_values(t._trial_id,
                                                         optuna.trial.TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker was first
            if ok:
                failed.append(t.number)
                stale = copy.deepcopy(self.storage.get_trial(t._trial_id))
                optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(
                    study, stale)
        return failed
