"""Experiment configs: typed dataclasses, presets, TOML files and `--set key=value`.

Every experiment declares a dataclass whose fields carry a help text (`option(...)`),
so that `trainlab show` and the reports can describe them. A config is resolved in
this order, later winning: defaults < preset < config file < `--set` overrides.
Every value is checked against the field's type and range before any run folder
exists; a bad one raises `BadInput` naming the key and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

from trainlab.errors import BadInput

PRESETS = ("smoke", "quick", "full")

# Fields whose meaning is the same everywhere and whose values must be positive.
POSITIVE_FIELDS = {"epochs", "lr", "batch_size", "lrs", "batch_sizes", "widths", "runs"}


def option(default: Any, help: str, *, minimum: float | None = None,
           positive: bool = False) -> Any:
    """A dataclass field with a help text and an optional range check.

    Mutable defaults (lists, dicts) are copied for each instance.
    """
    meta = {"help": help, "minimum": minimum, "positive": positive}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: json.loads(json.dumps(d)),
                                 metadata=meta)
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d),
                                 metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass
class BaseConfig:
    """Fields every experiment has."""

    title: str = option("", "heading of the report (default: the experiment id)")
    seed: int = option(0, "random seed of the run (models, data splits, batches)")

    def validate(self) -> None:
        """Cross-field checks; experiments override and raise BadInput."""


# --------------------------------------------------------------------------- fields


def describe_fields(cls: type, prefix: str = "") -> list[dict]:
    """Flat list of `{key, type, default, help}` for `trainlab show` and docs."""
    rows = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            rows.extend(describe_fields(type(value), key + "."))
            continue
        rows.append({"key": key, "type": _type_name(hints[f.name]), "default": value,
                     "help": f.metadata.get("help", "")})
    return rows


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list[{_type_name(typing.get_args(tp)[0])}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


# --------------------------------------------------------------------- coercion


def parse_set_value(text: str) -> Any:
    """Value of `--set key=value`: JSON when it parses, else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """`["a.b=1", "c=adam"]` (repeated `--set`) -> `{"a.b": 1, "c": "adam"}`."""
    sets = {}
    for item in items or []:
        if "=" not in item:
            raise BadInput(f"--set {item!r}: expected key=value")
        key, value = item.split("=", 1)
        if not key.strip():
            raise BadInput(f"--set {item!r}: empty key")
        sets[key.strip()] = parse_set_value(value)
    return sets


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except BadInput as exc:
                errors.append(str(exc))
        raise BadInput(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise BadInput(f"config key '{key}': expected one of {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise BadInput(f"config key '{key}': expected a list ({_type_name(tp)}), "
                           f"got {value!r}")
        return [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise BadInput(f"config key '{key}': expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"config key '{key}': expected an integer, got {value!r}")
        if isinstance(value, float) and not value.is_integer():
            raise BadInput(f"config key '{key}': expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"config key '{key}': expected a number, got {value!r}")
        if not math.isfinite(value):
            raise BadInput(f"config key '{key}': expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return json.dumps(value)
        raise BadInput(f"config key '{key}': expected a string, got {value!r}")
    if tp is Any:
        return value
    raise BadInput(f"config key '{key}': unsupported type {tp}")


def _check_range(value: Any, meta: dict, key: str, leaf: str) -> None:
    positive = meta.get("positive") or leaf in POSITIVE_FIELDS
    minimum = meta.get("minimum")
    items = value if isinstance(value, list) else [value]
    for v in items:
        if isinstance(v, list) or not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if positive and v <= 0:
            raise BadInput(f"config key '{key}': must be > 0, got {v!r}")
        if minimum is not None and v < minimum:
            raise BadInput(f"config key '{key}': must be >= {minimum}, got {v!r}")


# ------------------------------------------------------------------- resolution


def flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """`{"model": {"widths": [8]}}` -> `{"model.widths": [8]}`."""
    flat = {}
    for k, v in table.items():
        if isinstance(v, dict):
            flat.update(flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into dotted keys; BadInput for a missing or invalid file."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: config file not found")
    if p.is_dir():
        raise BadInput(f"{p}: is a directory, expected a TOML file")
    try:
        table = tomllib.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{p}: invalid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{p}: invalid TOML: {exc}") from None
    return flatten(table)


def apply_overrides(cfg: Any, overrides: dict[str, Any], source: str) -> None:
    """Set dotted keys on a (nested) config dataclass, checking names, types and ranges."""
    for key, value in overrides.items():
        parts = key.split(".")
        target = cfg
        for depth, part in enumerate(parts):
            names = {f.name: f for f in dataclasses.fields(target)}
            if part not in names:
                where = ".".join(parts[:depth]) or type(cfg).__name__
                known = ", ".join(sorted(names))
                raise BadInput(f"unknown config key '{key}' (from {source}); "
                               f"known keys of {where}: {known}")
            field = names[part]
            current = getattr(target, part)
            if depth < len(parts) - 1:
                if not dataclasses.is_dataclass(current):
                    raise BadInput(f"unknown config key '{key}' (from {source}): "
                                   f"'{part}' has no sub-keys")
                target = current
                continue
            if dataclasses.is_dataclass(current):
                if not isinstance(value, dict):
                    raise BadInput(f"config key '{key}': expected a table of sub-keys")
                apply_overrides(current, flatten(value), source)
                continue
            tp = typing.get_type_hints(type(target))[part]
            if tp is str and not isinstance(value, str) and source == "--set":
                value = json.dumps(value)
            coerced = _coerce(value, tp, key)
            _check_range(coerced, field.metadata, key, part)
            setattr(target, part, coerced)


def resolve(config_cls: type, presets: dict[str, dict], preset: str = "full",
            config_file: str | Path | None = None, sets: dict[str, Any] | None = None,
            seed: int | None = None) -> Any:
    """Build a validated config: defaults < preset < config file < `--set` < `--seed`."""
    if preset not in PRESETS:
        raise BadInput(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    cfg = config_cls()
    apply_overrides(cfg, presets.get(preset, {}), f"preset {preset}")
    if config_file is not None:
        apply_overrides(cfg, read_toml(config_file), str(config_file))
    if sets:
        apply_overrides(cfg, sets, "--set")
    if seed is not None:
        apply_overrides(cfg, {"seed": seed}, "--seed")
    cfg.validate()
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON-able data."""
    return dataclasses.asdict(cfg)


def from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config saved by `to_dict` (used by `resume`); extra keys are ignored."""
    cfg = config_cls()
    known = {f.name for f in dataclasses.fields(cfg)}
    apply_overrides(cfg, {k: v for k, v in data.items() if k in known}, "config.json")
    cfg.validate()
    return cfg
