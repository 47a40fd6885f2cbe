"""The names an expression may use, and the preset target functions (`data.expressions`).

The whitelists the checker of `data.expressions` reads (functions, constants, operators
and the friendly names of refused constructs), and the course's preset target functions
with their default domains. Tables only: no parsing here; `data.expressions` re-exports
the public names.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import torch

__all__ = ["FUNCTIONS", "CONSTANTS", "NAMED_FUNCTIONS", "default_domain"]


#: Whitelisted functions: name -> torch operation.
FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "sign": torch.sign,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}

#: Named constants.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type, tuple[str, Callable]] = {
    ast.Add: ("+", torch.add),
    ast.Sub: ("-", torch.sub),
    ast.Mult: ("*", torch.mul),
    ast.Div: ("/", torch.div),
    ast.Pow: ("**", torch.pow),
}

_OPERATOR_SYMBOLS: dict[type, str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Invert: "~",
    ast.Not: "not",
}

# Friendly names of refused constructs.
_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.FormattedValue: "strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}


#: Preset target functions of one variable (the course's examples), in display order.
NAMED_FUNCTIONS: tuple[str, ...] = (
    "sin(x)+x**2",
    "sign(sin(5*pi*x))",
    "cos(x)/x",
    "sin(x)+x",
)

# Domains of the presets. sin(x)+x**2: (-3, 3), where the parabola dominates but the sine
# still bends it visibly. sign(sin(5*pi*x)): (-1, 1), ten half-periods of the square wave
# (period 0.4). cos(x)/x: (0.1, 4), right of the pole at 0, from ~9.95 down through the
# zero at pi/2. sin(x)+x: (-6, 6), about two periods of the wobble around the line.
_DOMAINS: dict[str, tuple[float, float]] = {
    "sin(x)+x**2": (-3.0, 3.0),
    "sign(sin(5*pi*x))": (-1.0, 1.0),
    "cos(x)/x": (0.1, 4.0),
    "sin(x)+x": (-6.0, 6.0),
}


def default_domain(text: str) -> tuple[float, float]:
    """A sensible x-range ``(lo, hi)`` for an expression of ``x``.

    The presets have their own (spaces ignored): ``sin(x)+x**2`` (-3, 3),
    ``sign(sin(5*pi*x))`` (-1, 1), ``cos(x)/x`` (0.1, 4) (away from the pole at 0),
    ``sin(x)+x`` (-6, 6). Any other expression gets (-1, 1).
    """
    key = "".join(str(text).split())
    return _DOMAINS.get(key, (-1.0, 1.0))
