"""A safe parser for target functions such as ``sin(x)+x**2``.

The text is parsed with `ast.parse` and then checked node by node against a whitelist;
nothing is ever passed to ``eval``, ``exec`` or ``compile``. The checked tree is turned
into a tree of closures that call torch operations, so an `Expression` works on tensors
of any shape, floating dtype and device.

Allowed:
- numbers (int and float literals);
- the variable names given to `parse_expression` (default ``x``) and the constants
  ``pi`` and ``e``;
- unary ``+`` and ``-``; binary ``+ - * / **``;
- calls with exactly one positional argument of ``sin cos tan exp log sqrt abs sign
  tanh sigmoid``.

Bounds: at most `MAX_LENGTH` characters (checked before parsing), `MAX_NODES` nodes,
nesting depth `MAX_DEPTH` (a flat chain ``a + b + c`` counts as one level), and the
exponent of ``**`` must be a number (optionally signed) of magnitude at most
`MAX_EXPONENT` (use ``exp(...)`` for ``e**x``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from trainlab.data.expression_names import (  # the tables; public names re-exported
    _BINARY,
    _OPERATOR_SYMBOLS,
    _REFUSED,
    CONSTANTS,
    FUNCTIONS,
    NAMED_FUNCTIONS,
    default_domain,
)
from trainlab.errors import BadInput

__all__ = [
    "Expression",
    "parse_expression",
    "FUNCTIONS",
    "CONSTANTS",
    "NAMED_FUNCTIONS",
    "default_domain",
    "sample_function",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_DEPTH",
    "MAX_EXPONENT",
]

MAX_LENGTH = 1000
MAX_NODES = 200
MAX_DEPTH = 30
MAX_EXPONENT = 100

def _quote(text: str, limit: int = 60) -> str:
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


class Expression:
    """A parsed, checked expression; call it with tensors, one per variable.

    ``expr(x)`` (or ``expr(x, y)`` for ``variables=("x", "y")``, also by keyword) returns
    a tensor of the broadcast shape of the inputs. Non-floating inputs (ints, numpy arrays,
    Python numbers) are converted to torch's default floating dtype; the result has the
    inputs' dtype and device. Division by zero, ``log`` of a negative number and the like
    give ``inf``/``nan`` as in torch, never an exception.

    Attributes:
        text: the source text.
        variables: the variable names, in call order.
    """

    __slots__ = ("text", "variables", "_fn")

    def __init__(self, text: str, variables: tuple[str, ...], fn: Callable):
        self.text = text
        self.variables = variables
        self._fn = fn

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        values = list(args)
        for name in self.variables[len(values):]:
            if name not in kwargs:
                break
            values.append(kwargs.pop(name))
        if kwargs or len(values) != len(self.variables):
            raise TypeError(
                f"expression {_quote(self.text)} takes {len(self.variables)} input(s) "
                f"({', '.join(self.variables)})"
            )
        tensors = [_as_float_tensor(v) for v in values]
        if tensors:
            dtype, device = tensors[0].dtype, tensors[0].device
            shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        else:
            dtype, device, shape = torch.get_default_dtype(), torch.device("cpu"), ()
        env = dict(zip(self.variables, tensors, strict=True))
        result = self._fn(env, dtype, device)
        if result.shape != shape:
            result = result.expand(shape).clone()
        return result

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, variables={self.variables!r})"


def _as_float_tensor(value) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if not (tensor.is_floating_point() or tensor.is_complex()):
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def parse_expression(text: str, variables: Sequence[str] = ("x",)) -> Expression:
    """Parse and check an expression of the given variables.

    Args:
        text: e.g. ``"sin(x)+x**2"``, ``"sign(sin(5*pi*x))"``, ``"x*y"``.
        variables: the allowed variable names, in the order the expression is called with.

    Returns:
        An `Expression`; ``expr(x)`` maps a tensor of any shape to one of the same shape.

    Raises:
        BadInput: ``invalid expression '<text>': <reason>`` for text that is too long, does
            not parse, is too large or deep, or uses anything outside the whitelist.
    """
    if not isinstance(text, str):
        raise BadInput(f"invalid expression {text!r}: expected a string")
    variables = tuple(variables)
    for v in variables:
        if not isinstance(v, str) or not v.isidentifier() or v in FUNCTIONS or v in CONSTANTS:
            raise BadInput(f"invalid expression variable name {v!r}")
    if len(set(variables)) != len(variables):
        raise BadInput(f"duplicate expression variable names {variables!r}")
    head = f"invalid expression {_quote(text)}"
    if len(text) > MAX_LENGTH:
        raise BadInput(f"{head}: too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip():
        raise BadInput(f"{head}: empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        reason = " ".join(str(exc.msg).split()) if exc.msg else "syntax error"
        where = f" at column {exc.offset}" if exc.offset else ""
        raise BadInput(f"{head}: syntax error{where}: {reason}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise BadInput(f"{head}: cannot be parsed ({type(exc).__name__})") from None
    _check_size(tree.body, head)
    fn = _build(tree.body, head, frozenset(variables))
    return Expression(text, variables, fn)


_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)


def _same_chain(parent: ast.AST, child: ast.AST) -> bool:
    """True for the left operand of ``a + b + c``-style chains (one level, not nested)."""
    if not (isinstance(parent, ast.BinOp) and isinstance(child, ast.BinOp)):
        return False
    if child is not parent.left:
        return False
    for family in (_ADDITIVE, _MULTIPLICATIVE):
        if isinstance(parent.op, family) and isinstance(child.op, family):
            return True
    return False


def _check_size(root: ast.AST, head: str) -> None:
    """Count expression nodes and measure nesting depth without recursion.

    Depth counts expression levels, except that a left-associated chain of ``+``/``-``
    or ``*``/``/`` (``a + b + c + d``) is one level however long it is; its length is
    bounded by the node count.
    """
    count = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            count += 1
            if count > MAX_NODES:
                raise BadInput(f"{head}: too large (more than {MAX_NODES} nodes)")
            if depth > MAX_DEPTH:
                raise BadInput(f"{head}: nested too deeply (more than {MAX_DEPTH} levels)")
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.expr) or _same_chain(node, child):
                stack.append((child, depth))
            else:
                stack.append((child, depth + 1))


def _constant_value(node: ast.AST, head: str) -> float:
    """The value of a numeric literal node."""
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str | bytes):
            raise BadInput(f"{head}: strings are not allowed")
        if isinstance(value, complex):
            raise BadInput(f"{head}: complex numbers are not allowed")
        raise BadInput(f"{head}: {value!r} is not allowed (only numbers)")
    try:
        return float(value)
    except OverflowError:
        raise BadInput(f"{head}: number too large") from None


def _exponent(node: ast.AST, head: str) -> float:
    """The value of a ``**`` exponent, which must be an optionally signed number."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if not isinstance(node, ast.Constant):
        raise BadInput(
            f"{head}: the exponent of '**' must be a number (use exp(...) for e**x)"
        )
    value = sign * _constant_value(node, head)
    if not abs(value) <= MAX_EXPONENT:
        raise BadInput(f"{head}: exponent {value:g} is too large (|exponent| <= {MAX_EXPONENT})")
    return value


Evaluator = Callable[[dict, torch.dtype, torch.device], torch.Tensor]


def _build(node: ast.AST, head: str, variables: frozenset[str]) -> Evaluator:
    """Check one node and return its evaluator (recursion depth is bounded by MAX_DEPTH)."""
    builder = _BUILDERS.get(type(node))
    if builder is None:
        reason = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
        raise BadInput(f"{head}: {reason}")
    return builder(node, head, variables)


def _build_constant(node: ast.Constant, head: str, variables: frozenset[str]) -> Evaluator:
    value = _constant_value(node, head)
    return lambda env, dtype, device: torch.tensor(value, dtype=dtype, device=device)


def _build_name(node: ast.Name, head: str, variables: frozenset[str]) -> Evaluator:
    name = node.id
    if name in variables:
        return lambda env, dtype, device: env[name]
    if name in CONSTANTS:
        value = CONSTANTS[name]
        return lambda env, dtype, device: torch.tensor(value, dtype=dtype, device=device)
    if name in FUNCTIONS:
        raise BadInput(f"{head}: {name!r} is a function; call it as {name}(...)")
    allowed = ", ".join(sorted(variables) + sorted(CONSTANTS))
    raise BadInput(f"{head}: unknown name {_quote(name, 30)} (allowed: {allowed})")


def _build_unary(node: ast.UnaryOp, head: str, variables: frozenset[str]) -> Evaluator:
    if isinstance(node.op, ast.UAdd):
        return _build(node.operand, head, variables)
    if isinstance(node.op, ast.USub):
        inner = _build(node.operand, head, variables)
        return lambda env, dtype, device: torch.neg(inner(env, dtype, device))
    symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
    raise BadInput(f"{head}: operator {symbol!r} is not allowed")


def _build_binary(node: ast.BinOp, head: str, variables: frozenset[str]) -> Evaluator:
    entry = _BINARY.get(type(node.op))
    if entry is None:
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        raise BadInput(f"{head}: operator {symbol!r} is not allowed")
    op = entry[1]
    left = _build(node.left, head, variables)
    if isinstance(node.op, ast.Pow):
        exponent = _exponent(node.right, head)
        return lambda env, dtype, device: torch.pow(left(env, dtype, device), exponent)
    right = _build(node.right, head, variables)
    return lambda env, dtype, device: op(left(env, dtype, device), right(env, dtype, device))


def _build_call(node: ast.Call, head: str, variables: frozenset[str]) -> Evaluator:
    if not isinstance(node.func, ast.Name):
        reason = _REFUSED.get(type(node.func), "only calls of named functions are allowed")
        raise BadInput(f"{head}: {reason}")
    fname = node.func.id
    if fname not in FUNCTIONS:
        allowed = ", ".join(FUNCTIONS)
        raise BadInput(
            f"{head}: function {_quote(fname, 30)} is not allowed (allowed: {allowed})"
        )
    if node.keywords:
        raise BadInput(f"{head}: keyword arguments are not allowed")
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise BadInput(f"{head}: '*' unpacking is not allowed")
    if len(node.args) != 1:
        raise BadInput(
            f"{head}: {fname}() takes exactly one argument ({len(node.args)} given)"
        )
    func = FUNCTIONS[fname]
    arg = _build(node.args[0], head, variables)
    return lambda env, dtype, device: func(arg(env, dtype, device))


# One builder per allowed node kind; any other node is refused with its _REFUSED reason.
_BUILDERS: dict[type, Callable[[Any, str, frozenset[str]], Evaluator]] = {
    ast.Constant: _build_constant, ast.Name: _build_name, ast.UnaryOp: _build_unary,
    ast.BinOp: _build_binary, ast.Call: _build_call,
}


def sample_function(
    expr: Expression | str,
    n: int,
    domain: tuple[float, float] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    spacing: str = "uniform",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``n`` points of a function of ``x``.

    Args:
        expr: an `Expression` of one variable, or its text.
        n: number of points (>= 1).
        domain: ``(lo, hi)``; `default_domain` of the expression when None.
        noise: standard deviation of Gaussian noise added to y (0 = exact).
        seed: seeds a private torch generator (x positions and noise).
        spacing: ``"uniform"`` (i.i.d. uniform in [lo, hi), then sorted) or ``"even"``
            (``linspace(lo, hi, n)``).

    Returns:
        ``(x, y)``, both float32 of shape ``(n, 1)``.

    Raises:
        BadInput: bad arguments, or the function is not finite somewhere on the sample
            (for example ``cos(x)/x`` on a domain containing 0).
    """
    if isinstance(expr, str):
        expr = parse_expression(expr)
    if len(expr.variables) != 1:
        raise BadInput(f"expression {_quote(expr.text)} must be a function of one variable")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BadInput(f"number of points must be a positive integer, got {n!r}")
    lo, hi = default_domain(expr.text) if domain is None else domain
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise BadInput(f"domain must be finite with lo < hi, got ({lo}, {hi})")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise BadInput(f"noise must be a finite number >= 0, got {noise}")
    gen = torch.Generator().manual_seed(int(seed))
    if spacing == "even":
        x = torch.linspace(lo, hi, n, dtype=torch.float64)
    elif spacing == "uniform":
        x = torch.sort(lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)).values
    else:
        raise BadInput(f"spacing must be 'uniform' or 'even', got {spacing!r}")
    x = x.unsqueeze(1)
    y = expr(x)
    bad = ~torch.isfinite(y)
    if bad.any():
        where = float(x[bad.nonzero()[0, 0], 0])
        raise BadInput(
            f"expression {_quote(expr.text)} is not finite on [{lo:g}, {hi:g}] "
            f"(for example at x={where:.6g})"
        )
    if noise > 0:
        y = y + noise * torch.randn(y.shape, generator=gen, dtype=torch.float64)
    return x.float(), y.float()
