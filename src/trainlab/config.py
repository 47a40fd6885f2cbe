"""Experiment configs: typed dataclasses, presets, TOML files and `--set key=value`.

Every experiment declares a dataclass whose fields carry a help text (`option(...)`),
so that `trainlab show` and the reports can describe them. A config is resolved in
this order, later winning: defaults < preset < config file < `--set` overrides.
Every value is checked against the field's type and range before any run folder
exists; a bad one raises `BadInput` naming the key and what was expected.
"""

from __future__ import annotations

import argparse
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

# Seeds go to torch, NumPy's legacy and new generators and Optuna's samplers; the
# narrowest of them (NumPy's legacy `np.random.seed`) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

# Fields whose meaning is the same everywhere and whose values must be positive.
POSITIVE_FIELDS = {"epochs", "lr", "batch_size", "lrs", "batch_sizes", "widths", "runs"}


def option(default: Any, help: str, *, minimum: float | None = None,
           positive: bool = False) -> Any:
    """A dataclass field with a help text and an optional range check.

    `positive`: every value (each item of a list) must be > 0; fields named in
    `POSITIVE_FIELDS` (`epochs`, `lr`, `batch_size`, ...) are positive without saying so.
    `minimum`: every value must be >= minimum. `leaf_fields` reports the resulting range,
    and `trainlab show` and the docs print it. Mutable defaults (lists, dicts) are copied
    for each instance.
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


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One leaf config key: `key` dotted (`model.widths`), its type hint, default value,
    help text and range (`positive`: > 0; `minimum`: >= minimum, or None)."""

    key: str
    type: Any
    default: Any
    help: str
    positive: bool
    minimum: float | None

    @property
    def range(self) -> str:
        """The range as text: `"> 0"`, `">= 0"` or `""` (any value of the type)."""
        parts = (["> 0"] if self.positive else []) + (
            [f">= {self.minimum:g}"] if self.minimum is not None else [])
        return ", ".join(parts)


def _leaf_range(name: str, meta: Any) -> tuple[bool, float | None]:
    # A field named in POSITIVE_FIELDS is positive wherever it is declared.
    return bool(meta.get("positive")) or name in POSITIVE_FIELDS, meta.get("minimum")


def leaf_fields(cls: type, prefix: str = "") -> list[Leaf]:
    """Every leaf key of a config dataclass, sections flattened, in declaration order.

    The one walk over a config class: `describe_fields`, the docs and the sweep spaces
    use it.
    """
    leaves = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            leaves.extend(leaf_fields(type(value), f"{prefix}{f.name}."))
            continue
        positive, minimum = _leaf_range(f.name, f.metadata)
        leaves.append(Leaf(prefix + f.name, hints[f.name], value, f.metadata.get("help", ""),
                           positive, minimum))
    return leaves


def describe_fields(cls: type) -> list[dict]:
    """Flat list of `{key, type, default, help, range}` for `trainlab show` and docs."""
    return [{"key": leaf.key, "type": _type_name(leaf.type), "default": leaf.default,
             "help": leaf.help, "range": leaf.range} for leaf in leaf_fields(cls)]


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


def _coerce_union(value: Any, tp: Any, key: str) -> Any:
    args = typing.get_args(tp)
    if value is None and type(None) in args:
        return None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(value, arg, key)
        except BadInput:
            continue
    raise BadInput(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")


def _coerce_literal(value: Any, tp: Any, key: str) -> Any:
    if value not in typing.get_args(tp):
        raise BadInput(f"config key '{key}': expected one of {_type_name(tp)}, got {value!r}")
    return value


def _coerce_list(value: Any, tp: Any, key: str) -> list:
    (item_type,) = typing.get_args(tp)
    if not isinstance(value, (list, tuple)):
        raise BadInput(f"config key '{key}': expected a list ({_type_name(tp)}), got {value!r}")
    return [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise BadInput(f"config key '{key}': expected true or false, got {value!r}")


def _to_int(value: Any, key: str) -> int:
    if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
        raise BadInput(f"config key '{key}': expected an integer, got {value!r}")
    return int(value)


def _to_float(value: Any, key: str) -> float:
    if not _is_number(value):
        raise BadInput(f"config key '{key}': expected a number, got {value!r}")
    if not math.isfinite(value):
        raise BadInput(f"config key '{key}': expected a finite number, got {value!r}")
    return float(value)


def _to_str(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return json.dumps(value)
    raise BadInput(f"config key '{key}': expected a string, got {value!r}")


_GENERIC = {types.UnionType: _coerce_union, typing.Union: _coerce_union,
            Literal: _coerce_literal, list: _coerce_list}
_SCALAR = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str,
           Any: lambda value, key: value}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp` (a union, Literal, list or scalar type); BadInput naming `key`."""
    generic = _GENERIC.get(typing.get_origin(tp))
    if generic is not None:
        return generic(value, tp, key)
    scalar = _SCALAR.get(tp)
    if scalar is None:
        raise BadInput(f"config key '{key}': unsupported type {tp}")
    return scalar(value, key)


def add_run_arguments(p: argparse.ArgumentParser, *, preset: str, sets: str, config: str,
                      seed: str, seeds: str, runs_dir: str) -> None:
    """Add the options that configure a run: --preset, --set, --config, --seed, --seeds,
    --device, --runs-dir (in that order), each with the given help text.

    `trainlab run` and `trainlab sweep` both take them and a sweep hands them on to every
    trial, so their names, destinations and defaults are declared here once.
    """
    p.add_argument("--preset", default="full", help=preset)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help=sets)
    p.add_argument("--config", dest="config_file", metavar="FILE.toml", help=config)
    p.add_argument("--seed", type=int, help=seed)
    p.add_argument("--seeds", metavar="N", help=seeds)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument("--runs-dir", default="runs", help=runs_dir)


def check_seed(seed: Any, source: str = "--seed", count: int = 1) -> None:
    """BadInput unless `seed` .. `seed + count - 1` are all valid seeds (0 .. MAX_SEED).

    Checked before any folder exists: a seed that torch or NumPy refuses would otherwise
    fail inside the run (an overflow, or "expected non-negative integer").
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BadInput(f"{source} {seed!r}: a seed must be an integer from 0 to {MAX_SEED}")
    if seed + count - 1 > MAX_SEED:
        raise BadInput(f"{source} {seed}: its {count} replicates need seeds up to "
                       f"{seed + count - 1}, above the largest seed {MAX_SEED}")


def _check_range(value: Any, meta: Any, key: str, leaf: str) -> None:
    positive, minimum = _leaf_range(leaf, meta)
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
        # utf-8-sig: editors on Windows save a byte-order mark that TOML itself refuses
        table = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
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
                if isinstance(value, str) and hasattr(current, "name"):
                    value = {"name": value}  # `model=cnn` names the architecture (DESIGN §1)
                if not isinstance(value, dict):
                    raise BadInput(f"config key '{key}': expected a table of sub-keys")
                # from the root, so that messages name the whole key (`data.max_train`)
                apply_overrides(cfg, flatten(value, f"{key}."), source)
                continue
            tp = typing.get_type_hints(type(target))[part]
            if tp is str and not isinstance(value, str) and source in SET_SOURCES:
                value = json.dumps(value)
            coerced = _coerce(value, tp, key)
            _check_range(coerced, field.metadata, key, part)
            if key == "seed":
                check_seed(coerced, "--seed" if source == "--seed"
                           else f"config key 'seed' (from {source}):")
            setattr(target, part, coerced)


# Where `sets` come from: the command line's --set, or the keyword arguments of
# `trainlab.run`; messages name it. Both may give a string field a non-string value.
SET_SOURCES = ("--set", "keyword arguments")


def resolve(config_cls: type, presets: dict[str, dict], preset: str = "full",
            config_file: str | Path | None = None, sets: dict[str, Any] | None = None,
            seed: int | None = None, sets_source: str = "--set") -> Any:
    """Build a validated config: defaults < preset < config file < `--set` < `--seed`.

    sets_source: how messages name where `sets` came from (one of `SET_SOURCES`).
    """
    if preset not in PRESETS:
        raise BadInput(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    cfg = config_cls()
    apply_overrides(cfg, presets.get(preset, {}), f"preset {preset}")
    if config_file is not None:
        apply_overrides(cfg, read_toml(config_file), str(config_file))
    if sets:
        apply_overrides(cfg, sets, sets_source)
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
