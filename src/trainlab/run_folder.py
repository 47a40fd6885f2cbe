"""Run folders on disk: atomic files, JSON, folder names, checkpoints, metrics.jsonl (layer 4).

A run folder holds `config.json`, `env.json`, `status.json`, `metrics.jsonl`,
`summary.json` (completed runs only), `figures/`, `report.md`, `report.html` and
`checkpoints/`. Every file is written through a temporary file and `os.replace`, so a
reader never sees half a file, and a killed run leaves its last good checkpoint. This
module knows files only; what a run puts in them is `run_context.RunContext`'s job.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import BadInput
from trainlab.run_lock import RunLock  # re-exported: the lock once lived here

__all__ = [
    "Checkpoint", "RunLock", "append_metrics", "cannot_write", "ensure_dir", "ensure_writable_dir",
    "make_run_dir",
    "trim_checkpoints", "write_status", "atomic_write_bytes", "atomic_write_json",
    "atomic_write_text", "new_run_dir", "read_json", "read_metrics", "to_json",
    "truncate_metrics", "utc_now",
]

# ------------------------------------------------------------------ atomic files


def _umask() -> int:
    # os.umask can only be read by setting it; set it back at once (no thread here
    # creates files between the two calls: this runs before the first write).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes, sync: bool = True) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never half.

    An OSError (a full disk, a read-only folder) names `path`, not the temporary file.
    sync=False skips the fsync: still atomic for readers, not durable across a power
    cut (a live report, rewritten every few seconds, needs no more).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            # mkstemp creates 0600; a run's files are meant to be shared and served, so
            # they get the mode an ordinary open() would give (0666 less the umask)
            os.fchmod(fh.fileno(), _FILE_MODE)
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def cannot_write(exc: OSError) -> str:
    """One line for a failed write: `cannot write PATH: no space left on device`."""
    why = (exc.strerror or str(exc)).lower()
    return f"cannot write {exc.filename}: {why}" if exc.filename else f"cannot write: {why}"


def write_status(path: Path, status: dict) -> bool:
    """Write status.json, even on a full disk; False when even that was impossible.

    The atomic write needs room for a second copy; when the disk is full, the file is
    rewritten in place instead (truncating it frees its blocks first), because a status
    that still says "running" after the run stopped is worse than a rare torn file.
    """
    target = path / "status.json"
    try:
        atomic_write_json(target, status)
        return True
    except OSError:
        pass
    try:
        with target.open("w", encoding="utf-8") as fh:
            fh.write(to_json(status) + "\n")
        return True
    except OSError:
        return False


def atomic_write_text(path: str | Path, text: str, sync: bool = True) -> None:
    """UTF-8 text version of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), sync)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """Replace NaN/inf by None so the JSON stays standard (diverged runs report None)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Standard JSON (no NaN), tensors and arrays as lists."""
    plain = json.loads(json.dumps(obj, default=_json_default))
    return json.dumps(_finite(plain), indent=indent, allow_nan=False)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write_text(path, to_json(obj) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file; BadInput if missing or malformed."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{p}: not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{p}: not valid JSON ({exc})") from None


def utc_now() -> str:
    """Current UTC time, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------- run folder


def ensure_dir(path: str | Path, exclusive: bool = False) -> None:
    """`mkdir -p` (or an exclusive mkdir: FileExistsError when it exists); BadInput naming
    the folder when it cannot be made (read-only file system, /proc, no permission)."""
    path = Path(path)
    try:
        if exclusive:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        else:
            path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise
    except OSError as exc:  # read-only file system, /proc, no permission, a full disk
        why = (exc.strerror or str(exc)).lower()
        raise BadInput(f"{path}: cannot create folder: {why}") from None


def ensure_writable_dir(path: str | Path) -> None:
    """`ensure_dir`, then BadInput unless a file can be created in it (a read-only mount
    lets an existing folder pass `mkdir -p`)."""
    ensure_dir(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".trainlab-probe.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write in folder: "
                       f"{(exc.strerror or str(exc)).lower()}") from None


def new_run_dir(runs_dir: str | Path, exp_id: str) -> Path:
    """Create `runs_dir/exp_id/<UTC yyyymmdd-HHMMSS>-<6 hex>/`; never shared by two runs."""
    parent = Path(runs_dir) / exp_id
    ensure_dir(parent)
    for _ in range(100):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = parent / f"{stamp}-{secrets.token_hex(3)}"
        try:
            ensure_dir(path, exclusive=True)  # fails if another process took the name
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run folder under {parent}")


def make_run_dir(out: str | Path) -> tuple[Path, bool]:
    """The exact run folder `--out`: created (True) or an existing empty folder (False).

    BadInput when it is a file, a non-empty folder or cannot be created.
    """
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BadInput(f"--out {path}: exists and is not an empty folder")
    try:
        ensure_dir(path, exclusive=True)
        return path, True
    except FileExistsError:  # an empty folder (or one made meanwhile: the lock decides)
        if not path.is_dir():
            raise BadInput(f"--out {path}: exists and is not an empty folder") from None
        return path, False


def trim_checkpoints(folder: Path) -> int:
    """After a run completed: drop what only `resume` needs; returns the bytes freed.

    The `.prev.pt` copies go, and each training checkpoint loses its optimizer state
    (L-BFGS histories are most of a run's disk); the trained model, the history and the
    epoch stay, for the user and the tests that read them.
    """
    freed = 0
    for directory in folder.glob("**/checkpoints"):
        for prev in directory.glob("*.prev.pt"):
            freed += prev.stat().st_size
            prev.unlink()
        for ckpt in directory.glob("*.pt"):
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or "optimizer" not in state:
                continue
            before = ckpt.stat().st_size
            state.pop("optimizer")
            state["trimmed"] = True  # resume refuses nothing: a completed run never resumes
            buf = io.BytesIO()
            torch.save(state, buf)
            atomic_write_bytes(ckpt, buf.getvalue())
            freed += before - ckpt.stat().st_size
    return freed


class Checkpoint:
    """A named checkpoint file that keeps the previous good copy.

    `save` writes `<name>.pt` atomically after moving the old one to `<name>.prev.pt`;
    `load` reads with `weights_only=True` and falls back to the previous copy when the
    newest is corrupt or truncated.
    """

    def __init__(self, directory: Path, name: str):
        self.path = directory / f"{name}.pt"
        self.prev = directory / f"{name}.prev.pt"

    def save(self, state: dict) -> None:
        """Save a dict of tensors and plain values."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(state, buf)
        if self.path.exists():
            os.replace(self.path, self.prev)
        atomic_write_bytes(self.path, buf.getvalue())

    def load(self) -> dict | None:
        """The newest readable state, or None when there is none."""
        for candidate in (self.path, self.prev):
            if not candidate.exists():
                continue
            try:
                return torch.load(candidate, map_location="cpu", weights_only=True)
            except Exception:  # corrupt or truncated: try the older copy
                continue
        return None


# ---------------------------------------------------------------- metrics.jsonl


def append_metrics(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows to a metrics.jsonl file, one JSON object per line (no NaN)."""
    lines = [to_json(r, indent=None) for r in rows]
    if lines:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics.jsonl file (a trailing partial line is skipped)."""
    rows = []
    p = Path(path)
    if not p.exists():
        return rows
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_metrics(path: str | Path, fit: str, after_epoch: int) -> None:
    """Drop the rows of `fit` past `after_epoch`, and lines cut by a kill, atomically."""
    p = Path(path)
    if not p.exists():
        return
    keep = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if row.get("fit") == fit and row.get("epoch", row.get("step", 0)) > after_epoch:
            continue
        keep.append(line)
    atomic_write_text(p, "".join(k + "\n" for k in keep))
