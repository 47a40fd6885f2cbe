"""What the user gives `trainlab diagnose`: a SPEC.py file, data in several forms, checkpoints.

SPEC.py is the user's own Python code and runs as such (imported like any module, with
the user's rights); it must define ``model()`` returning an `nn.Module` and ``data()``
returning ``(x, y)`` tensors, a dict with ``"train"`` (and optionally ``"test"``)
splits, or an iterable of ``(x, y)`` batches such as a `DataLoader`. An optional
``loss`` is ``"cross_entropy"``, ``"mse"`` or a callable ``(output, target) -> scalar``.
Checkpoints are state dicts read with ``torch.load(weights_only=True)``, never unpickled
freely. Every problem is `BadInput` with one line that names it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.errors import BadInput

Split = tuple[Tensor, Tensor]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def load_spec(path: str | Path) -> tuple[nn.Module, Any, Any]:
    """Run SPEC.py and return ``(model(), data(), loss)``; ``loss`` defaults to None."""
    spec_path = Path(path)
    if not spec_path.is_file():
        raise BadInput(f"{spec_path}: no such SPEC file")
    name = "trainlab_spec_" + re.sub(r"\W", "_", spec_path.stem)
    module_spec = importlib.util.spec_from_file_location(name, spec_path)
    if module_spec is None or module_spec.loader is None:
        raise BadInput(f"{spec_path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise BadInput(f"{spec_path}: raised {_one_line(exc)}") from None
    for attr in ("model", "data"):
        if not callable(getattr(module, attr, None)):
            raise BadInput(f"{spec_path}: defines no function {attr}()")
    model = _call(spec_path, module.model, "model")
    if not isinstance(model, nn.Module):
        raise BadInput(f"{spec_path}: model() returned {type(model).__name__}, not an nn.Module")
    data = _call(spec_path, module.data, "data")
    return model, data, getattr(module, "loss", None)


def _call(spec_path: Path, fn: Callable, what: str) -> Any:
    try:
        return fn()
    except Exception as exc:
        raise BadInput(f"{spec_path}: {what}() raised {_one_line(exc)}") from None


def _pair(obj: Any, where: str) -> Split:
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        x, y = obj
        if isinstance(x, Tensor) and isinstance(y, Tensor):
            if x.dim() == 0 or y.dim() == 0 or x.shape[0] != y.shape[0]:
                raise BadInput(f"data {where}: x {tuple(x.shape)} and y {tuple(y.shape)} "
                               "must be batches of the same length")
            if x.shape[0] == 0:
                raise BadInput(f"data {where}: no examples")
            return x.detach(), y.detach()
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict, Tensor)):
        return _concat(obj, where)
    raise BadInput(f"data {where}: expected (x, y) tensors or an iterable of (x, y) batches, "
                   f"got {type(obj).__name__}")


def _concat(batches: Iterable, where: str, limit: int = 1_000_000) -> Split:
    xs, ys, n = [], [], 0
    try:
        for batch in batches:
            if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
                raise BadInput(f"data {where}: a batch is not an (x, y) pair")
            x, y = _pair(tuple(batch[:2]), where)
            xs.append(x)
            ys.append(y)
            n += x.shape[0]
            if n >= limit:
                break
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(f"data {where}: iterating raised {_one_line(exc)}") from None
    if not xs:
        raise BadInput(f"data {where}: the iterable gave no batches")
    try:
        return torch.cat(xs), torch.cat(ys)
    except RuntimeError as exc:
        raise BadInput(f"data {where}: batches of different shapes ({_one_line(exc)})") from None


def normalize_data(data: Any) -> tuple[Split, Split, str]:
    """``(train, eval, eval_name)`` from any accepted form of ``data()``'s result.

    The evaluation split is ``"test"`` (or ``"eval"``, ``"val"``) when given, else the
    training data itself.
    """
    if isinstance(data, dict):
        if "train" not in data:
            raise BadInput(f"data(): a dict needs a 'train' split, got keys {sorted(data)}")
        train = _pair(data["train"], "split 'train'")
        for key in ("test", "eval", "val"):
            if key in data:
                return train, _pair(data[key], f"split {key!r}"), key
        return train, train, "train"
    train = _pair(data, "()")
    return train, train, "train"


def load_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict (or ``{"state_dict"|"model": state dict}``) with ``weights_only``."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: no such checkpoint file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise BadInput(f"{p}: needs unpickling of arbitrary objects ({found.group(1)}), "
                           "which is refused; save model.state_dict() instead") from None
        raise BadInput(f"{p}: not a readable torch checkpoint ({_one_line(exc)})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise BadInput(f"{p}: not a state dict of tensors")
    return obj


def check_state_dict(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """BadInput naming the first missing, unexpected or mis-shaped key of ``state``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise BadInput(f"{source}: key {missing[0]!r} of the model is missing "
                       f"({len(missing)} missing)")
    extra = [k for k in state if k not in own]
    if extra:
        raise BadInput(f"{source}: key {extra[0]!r} is not in the model ({len(extra)} unexpected)")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise BadInput(f"{source}: {k!r} has shape {tuple(state[k].shape)}, the model's "
                           f"is {tuple(v.shape)}")


def state_of(model: nn.Module, given: Any, source: str) -> dict[str, Tensor]:
    """A checked state dict from a path, a state dict or a module with ``model``'s layout."""
    if isinstance(given, nn.Module):
        state = given.state_dict()
    elif isinstance(given, dict):
        state = given
    else:
        state = load_state_dict(given)
    check_state_dict(model, state, source)
    return state


def trajectory_files(folder: str | Path) -> list[Path]:
    """The ``*.pt`` / ``*.pth`` files of ``folder`` in natural name order (step 2 before 10)."""
    root = Path(folder)
    if not root.is_dir():
        raise BadInput(f"--trajectory {root}: not a folder")
    files = [p for p in root.iterdir() if p.suffix in (".pt", ".pth") and p.is_file()]

    def key(p: Path) -> list:
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]

    files.sort(key=key)
    if len(files) < 3:
        raise BadInput(f"--trajectory {root}: needs at least 3 checkpoints, found {len(files)}")
    return files
