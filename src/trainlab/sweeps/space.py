"""The search space of a sweep: TOML tables over an experiment's (dotted) config keys.

```toml
[lr]
type = "float"          # float | int | categorical
low = 1e-4
high = 1.0
log = true              # optional; log-uniform (low must be > 0)
[batch_size]
type = "int"
low = 10
high = 128
[optimizer]
type = "categorical"
choices = ["sgd", "adam"]
[model.dropout]         # nested keys are written as TOML sub-tables
type = "float"
low = 0.0
high = 0.5
step = 0.1              # optional grid step (not with log)
```

Optional `grid = [...]` (explicit values) or `n = 5` (points between low and high,
log-spaced when `log`) say which values the grid sampler visits; without them a float
gets 5 points and an int every integer (at most 5 evenly spaced when there are more).
A config field that holds a list (`lrs`, `batch_sizes`) is set to a one-element list.

Everything is checked before the first trial: unknown keys, malformed distributions
and values that the experiment's config rejects are bad input.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trainlab.config import leaf_fields, resolve
from trainlab.errors import BadInput

KINDS = ("float", "int", "categorical")
_ALLOWED = {"float": {"type", "low", "high", "log", "step", "grid", "n"},
            "int": {"type", "low", "high", "log", "step", "grid", "n"},
            "categorical": {"type", "choices"}}
GRID_FLOAT_POINTS = 5
GRID_INT_MAX_POINTS = 5


@dataclass(frozen=True)
class Param:
    """One dimension of the search space (a config key and its distribution)."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()
    grid: tuple | None = None
    n: int | None = None
    wrap: bool = False  # the config field is a list: set it to [value]

    def distribution(self):
        """The Optuna distribution of this parameter."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), log=self.log,
                                 step=self.step)

    def grid_values(self) -> list:
        """The values the grid sampler visits, in increasing order (choices as given)."""
        if self.grid is not None:
            return list(self.grid)
        if self.kind == "categorical":
            return list(self.choices)
        lo, hi = self.low, self.high
        if self.kind == "int":
            step = int(self.step or 1)
            values = list(range(int(lo), int(hi) + 1, step))
            if self.n is None and len(values) <= GRID_INT_MAX_POINTS or self.step:
                return values
            return sorted({int(round(v)) for v in _spaced(lo, hi, self.n or GRID_INT_MAX_POINTS,
                                                          self.log)})
        if self.step:
            count = int(math.floor((hi - lo) / self.step + 1e-9)) + 1
            return [round(lo + i * self.step, 12) for i in range(count)]
        return _spaced(lo, hi, self.n or GRID_FLOAT_POINTS, self.log)

    def config_value(self, value: Any) -> Any:
        """The value as the config field wants it."""
        return [value] if self.wrap else value

    def describe(self) -> str:
        """Short text for reports: `float [0.0001, 1] log`."""
        if self.kind == "categorical":
            return "categorical " + ", ".join(map(str, self.choices))
        text = f"{self.kind} [{self.low:g}, {self.high:g}]"
        if self.log:
            text += " log"
        if self.step:
            text += f" step {self.step:g}"
        return text

    def as_table(self) -> dict:
        """Plain dict (the TOML table) of this parameter."""
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        if self.grid is not None:
            out["grid"] = list(self.grid)
        if self.n is not None:
            out["n"] = self.n
        return out


def _spaced(lo: float, hi: float, n: int, log: bool) -> list[float]:
    if n == 1:
        return [lo]
    if log:
        a, b = math.log(lo), math.log(hi)
        return [float(math.exp(a + (b - a) * i / (n - 1))) for i in range(n)]
    return [float(lo + (hi - lo) * i / (n - 1)) for i in range(n)]


# ----------------------------------------------------------------- config fields


def field_types(config_cls: type) -> dict[str, Any]:
    """Every leaf config key (dotted) with its type hint."""
    return {leaf.key: leaf.type for leaf in leaf_fields(config_cls)}


def field_defaults(config_cls: type) -> dict[str, Any]:
    """Every leaf config key (dotted) with its default value."""
    return {leaf.key: leaf.default for leaf in leaf_fields(config_cls)}


def _is_list(tp: Any) -> bool:
    if typing.get_origin(tp) is list:
        return True
    return any(typing.get_origin(a) is list for a in typing.get_args(tp))


# --------------------------------------------------------------------- parsing


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{where}: '{what}' must be a number, got {value!r}")
    if not math.isfinite(value):
        raise BadInput(f"{where}: '{what}' must be finite, got {value!r}")
    return value


def parse_param(key: str, table: Any, source: str) -> Param:
    """One parameter from its table; BadInput naming the key for anything malformed."""
    where = f"{source}: [{key}]"
    if not isinstance(table, dict):
        raise BadInput(f"{where}: expected a table like [{key}] type=\"float\" low=… high=…")
    kind = table.get("type")
    if kind is None:
        raise BadInput(f"{where}: missing 'type' (float, int or categorical)")
    if kind not in KINDS:
        raise BadInput(f"{where}: unknown type {kind!r} (choose float, int or categorical)")
    extra = sorted(set(table) - _ALLOWED[kind])
    if extra:
        raise BadInput(f"{where}: unknown field(s) {', '.join(extra)} for type {kind} "
                       f"(allowed: {', '.join(sorted(_ALLOWED[kind]))})")
    if kind == "categorical":
        return Param(key, kind, choices=_choices(table, where))
    low, high, log = _bounds(table, kind, where)
    return Param(key, kind, low=low, high=high, log=log, step=_step(table, kind, log, where),
                 grid=_grid(table, kind, low, high, where), n=_grid_count(table, where))


def _choices(table: dict, where: str) -> tuple:
    choices = table.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadInput(f"{where}: 'choices' must be a non-empty list")
    for c in choices:
        if c is not None and not isinstance(c, (str, int, float, bool)):
            raise BadInput(f"{where}: choice {c!r} is not a string, number or boolean")
    if len({repr(c) for c in choices}) != len(choices):
        raise BadInput(f"{where}: 'choices' has duplicates")
    return tuple(choices)


def _bounds(table: dict, kind: str, where: str) -> tuple[Any, Any, bool]:
    for name in ("low", "high"):
        if name not in table:
            raise BadInput(f"{where}: missing '{name}'")
    low = _number(table["low"], where, "low")
    high = _number(table["high"], where, "high")
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise BadInput(f"{where}: 'log' must be true or false")
    if kind == "int":
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, float) and not v.is_integer():
                raise BadInput(f"{where}: '{name}' must be an integer for type int, got {v!r}")
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    if low >= high:
        raise BadInput(f"{where}: 'low' ({low:g}) must be below 'high' ({high:g})")
    if log and low <= 0:
        raise BadInput(f"{where}: a log distribution needs low > 0, got {low:g}")
    return low, high, log


def _step(table: dict, kind: str, log: bool, where: str) -> float | int | None:
    step = table.get("step")
    if step is None:
        return None
    step = _number(step, where, "step")
    if step <= 0:
        raise BadInput(f"{where}: 'step' must be > 0, got {step!r}")
    if log:
        raise BadInput(f"{where}: 'step' cannot be combined with log = true")
    if kind == "int" and (isinstance(step, float) and not step.is_integer()):
        raise BadInput(f"{where}: 'step' must be an integer for type int")
    return int(step) if kind == "int" else float(step)


def _grid_count(table: dict, where: str) -> int | None:
    n = table.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise BadInput(f"{where}: 'n' (grid points) must be a positive integer")
    return n


def _grid(table: dict, kind: str, low, high, where: str) -> tuple | None:
    grid = table.get("grid")
    if grid is None:
        return None
    if not isinstance(grid, list) or not grid:
        raise BadInput(f"{where}: 'grid' must be a non-empty list of values")
    for v in grid:
        _number(v, where, "grid")
        if not low <= v <= high:
            raise BadInput(f"{where}: grid value {v!r} is outside [{low:g}, {high:g}]")
        if kind == "int" and isinstance(v, float) and not v.is_integer():
            raise BadInput(f"{where}: grid value {v!r} is not an integer")
    return tuple(int(v) if kind == "int" else float(v) for v in grid)


def flatten_space(table: dict, prefix: str, source: str) -> dict[str, Any]:
    """Nested TOML tables (`[model.dropout]`) as dotted keys: `{"model.dropout": {...}}`."""
    flat: dict[str, Any] = {}
    for k, v in table.items():
        key = prefix + k
        if isinstance(v, dict) and "type" not in v and v and all(
                isinstance(x, dict) for x in v.values()):
            flat.update(flatten_space(v, key + ".", source))
        else:
            flat[key] = v
    return flat


def read_space_file(path: str | Path) -> dict[str, Any]:
    """The raw tables of a space TOML file, keyed by dotted config key."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--space {p}: no such file")
    try:
        table = tomllib.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"--space {p}: invalid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"--space {p}: invalid TOML: {exc}") from None
    if not table:
        raise BadInput(f"--space {p}: the space is empty")
    return flatten_space(table, "", str(p))


def build_space(tables: dict[str, Any], exp, source: str) -> list[Param]:
    """Parse and check every parameter against the experiment's config fields."""
    types = field_types(exp.config)
    params = []
    for key, table in tables.items():
        if key not in types:
            known = ", ".join(sorted(types))
            raise BadInput(f"{source}: unknown config key '{key}' for experiment {exp.id} "
                           f"(known: {known})")
        param = parse_param(key, table, source)
        params.append(dataclasses.replace(param, wrap=_is_list(types[key])))
    if not params:
        raise BadInput(f"{source}: the space is empty")
    return params


def check_values(params: list[Param], exp, preset: str, config_file, sets: dict,
                 seed: int | None) -> None:
    """Resolve the config at every bound, choice and grid value: rejected values are bad input."""
    for p in params:
        values = list(p.choices) if p.kind == "categorical" else [p.low, p.high]
        for v in itertools.islice(values + list(p.grid or ()), 64):
            try:
                resolve(exp.config, exp.presets, preset, config_file,
                        {**sets, p.key: p.config_value(v)}, seed)
            except BadInput as exc:
                raise BadInput(f"space [{p.key}]: value {v!r} is not valid for "
                               f"{exp.id}: {exc}") from None


# ------------------------------------------------------------------ defaults


def derived_space(exp) -> dict[str, Any]:
    """A sensible default space from the experiment's shared config fields."""
    types = field_types(exp.config)
    defaults = field_defaults(exp.config)
    space: dict[str, Any] = {}
    for key in ("lr", "lrs"):
        if key in types:
            space[key] = {"type": "float", "low": 1e-5, "high": 1.0, "log": True}
            break
    for key in ("batch_size", "batch_sizes"):
        if key in types:
            d = defaults[key]
            d = int(d[0]) if isinstance(d, list) and d else int(d) if isinstance(d, int) else 32
            space[key] = {"type": "int", "low": max(1, d // 4), "high": max(2, d * 2),
                          "log": True}
            break
    if "weight_decay" in types:
        space["weight_decay"] = {"type": "float", "low": 1e-7, "high": 1e-2, "log": True}
    if "momentum" in types:
        space["momentum"] = {"type": "float", "low": 0.0, "high": 0.99}
    if "gamma" in types:
        space["gamma"] = {"type": "float", "low": 0.1, "high": 1.0}
    if "optimizer" in types and typing.get_origin(types["optimizer"]) is Literal:
        space["optimizer"] = {"type": "categorical",
                              "choices": list(typing.get_args(types["optimizer"]))}
    return space


def default_space(exp) -> tuple[dict[str, Any], str, dict]:
    """(tables, where they come from, fixed --set values) when no --space is given."""
    if exp.sweep is not None:
        return dict(exp.sweep.space), f"{exp.id}'s declared sweep space", dict(exp.sweep.sets)
    space = derived_space(exp)
    if not space:
        raise BadInput(f"experiment {exp.id} declares no sweep space and has no lr, "
                       "batch_size, weight_decay or momentum field: give --space FILE.toml")
    return space, f"defaults derived from {exp.id}'s config fields", {}
