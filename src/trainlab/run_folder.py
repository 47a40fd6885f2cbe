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

__all__ = [
    "Checkpoint", "append_metrics", "atomic_write_bytes", "atomic_write_json",
    "atomic_write_text", "new_run_dir", "read_json", "read_metrics", "to_json",
    "truncate_metrics", "utc_now",
]

# ------------------------------------------------------------------ atomic files


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


def new_run_dir(runs_dir: str | Path, exp_id: str) -> Path:
    """Create `runs_dir/exp_id/<UTC yyyymmdd-HHMMSS>-<6 hex>/`; never shared by two runs."""
    parent = Path(runs_dir) / exp_id
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = parent / f"{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir()  # exclusive: fails if another process took the name
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run folder under {parent}")


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
