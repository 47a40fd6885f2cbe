"""The safe expression parser: presets, refusals, bounds, fuzzing, sampling."""

from __future__ import annotations

import ast
import inspect
import math
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlab.data import expressions
from trainlab.data.expressions import (
    MAX_LENGTH,
    NAMED_FUNCTIONS,
    Expression,
    default_domain,
    parse_expression,
    sample_function,
)
from trainlab.errors import BadInput

REFERENCES = {
    "sin(x)+x**2": lambda x: torch.sin(x) + x**2,
    "sign(sin(5*pi*x))": lambda x: torch.sign(torch.sin(5 * math.pi * x)),
    "cos(x)/x": lambda x: torch.cos(x) / x,
    "sin(x)+x": lambda x: torch.sin(x) + x,
}


def test_presets_are_the_documented_ones():
    assert set(NAMED_FUNCTIONS) == set(REFERENCES)


@pytest.mark.parametrize("text", sorted(REFERENCES))
def test_presets_match_torch_reference(text):
    lo, hi = default_domain(text)
    x = torch.linspace(lo, hi, 1001, dtype=torch.float64).unsqueeze(1)
    expr = parse_expression(text)
    assert isinstance(expr, Expression) and expr.text == text
    y = expr(x)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert torch.isfinite(y).all(), f"{text} not finite on its default domain"
    torch.testing.assert_close(y, REFERENCES[text](x), rtol=0, atol=1e-12)


def test_all_whitelisted_functions_and_constants():
    x = torch.tensor([-2.0, -0.5, 0.25, 3.0], dtype=torch.float64)
    text = "sin(x)+cos(x)+tan(x)+exp(x)+log(abs(x))+sqrt(abs(x))+sign(x)+tanh(x)+sigmoid(x)+pi*e"
    ref = (
        torch.sin(x) + torch.cos(x) + torch.tan(x) + torch.exp(x) + torch.log(torch.abs(x))
        + torch.sqrt(torch.abs(x)) + torch.sign(x) + torch.tanh(x) + torch.sigmoid(x)
        + math.pi * math.e
    )
    torch.testing.assert_close(parse_expression(text)(x), ref)


def test_operators_and_precedence():
    x = torch.tensor([1.5, -2.0, 3.0], dtype=torch.float64)
    expr = parse_expression("-x**2 + 3*x/2 - (+x) ** -1 - 2**3 + abs(x)**0.5 * 2")
    ref = -(x**2) + 3 * x / 2 - x**-1 - 8 + x.abs() ** 0.5 * 2
    torch.testing.assert_close(expr(x), ref)


def test_two_variables_broadcast_and_keywords():
    expr = parse_expression("sin(x)*sin(y)", variables=("x", "y"))
    x, y = torch.rand(3, 1), torch.rand(1, 4)
    ref = torch.sin(x) * torch.sin(y)
    torch.testing.assert_close(expr(x, y), ref)
    torch.testing.assert_close(expr(x, y=y), ref)
    torch.testing.assert_close(expr(y=y, x=x), ref)
    with pytest.raises(TypeError):
        expr(x)
    with pytest.raises(TypeError):
        expr(x, y, x)


def test_dtype_and_shape_handling():
    assert parse_expression("x/2")(torch.tensor([1, 2, 3])).dtype == torch.get_default_dtype()
    assert parse_expression("x*2")(torch.ones(2, 3, dtype=torch.float16)).dtype == torch.float16
    const = parse_expression("2*pi")(torch.zeros(4, 1))
    assert const.shape == (4, 1)
    assert torch.allclose(const, torch.full((4, 1), 2 * math.pi))
    # no exceptions for poles and domain errors: inf and nan as torch gives them
    y = parse_expression("1/x + log(x) + sqrt(x)")(torch.tensor([0.0, -1.0]))
    assert not torch.isfinite(y).any()


def test_whitespace_and_newlines_inside_parentheses():
    expr = parse_expression("  (sin(x)\n + 1)  ")
    torch.testing.assert_close(expr(torch.zeros(1)), torch.ones(1))


REFUSED = [
    ("__import__('os').system('echo hi')", "attribute access is not allowed"),
    ("__import__('os')", "function '__import__' is not allowed"),
    ("x.real", "attribute access is not allowed"),
    ("(lambda: 1)()", "lambda is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("[x for x in y]", "comprehensions are not allowed"),
    ("sum(x for x in [1])", "function 'sum' is not allowed"),
    ("foo(x)", "function 'foo' is not allowed"),
    ("x**x**x**99", "exponent of '**' must be a number"),
    ("2**x", "exponent of '**' must be a number"),
    ("x**101", "exponent 101 is too large"),
    ("x**-100.5", "too large"),
    ("sin(x=1)", "keyword arguments are not allowed"),
    ("sin(**{'x': 1})", "keyword arguments are not allowed"),
    ("sin(*[x])", "unpacking is not allowed"),
    ("sin(x, x)", "sin() takes exactly one argument (2 given)"),
    ("sin()", "sin() takes exactly one argument (0 given)"),
    ("'abc'", "strings are not allowed"),
    ("f'{x}'", "strings are not allowed"),
    ("x[0]", "subscripts are not allowed"),
    ("x if x else 1", "conditional expressions are not allowed"),
    ("x < 1", "comparisons are not allowed"),
    ("x and 1", "not allowed"),
    ("(x, 1)", "tuples are not allowed"),
    ("{1: x}", "dicts are not allowed"),
    ("(y := 1)", "':=' is not allowed"),
    ("x // 2", "operator '//' is not allowed"),
    ("x % 2", "operator '%' is not allowed"),
    ("x @ x", "operator '@' is not allowed"),
    ("~x", "operator '~' is not allowed"),
    ("not x", "operator 'not' is not allowed"),
    ("1j", "complex numbers are not allowed"),
    ("True", "not allowed"),
    ("None", "not allowed"),
    ("y", "unknown name 'y'"),
    ("sin", "'sin' is a function"),
    ("x +", "syntax error"),
    ("x = 1", "syntax error"),
    ("import os", "syntax error"),
    ("", "empty"),
    ("x\x00", "not"),
    ("9" * 400, "number too large"),
    ("-" * 40 + "x", "nested too deeply"),
    ("sin(" * 31 + "x" + ")" * 31, "nested too deeply"),
    ("+".join(["x"] * 201), "too large (more than 200 nodes)"),
    ("*".join(["x"] * 101), "too large"),
    ("(1+" * 31 + "x" + ")" * 31, "nested too deeply"),
]


def test_long_flat_sums_are_not_deep():
    # a chain of + or * is one level, however long: a degree-30 polynomial parses
    poly = "+".join(f"{k}*x**{k}" for k in range(31))
    x = torch.tensor([0.5], dtype=torch.float64)
    ref = sum(k * 0.5**k for k in range(31))
    torch.testing.assert_close(parse_expression(poly)(x), torch.tensor([ref], dtype=x.dtype))
    assert parse_expression("*".join(["x"] * 60))(torch.tensor([1.0])).item() == 1.0


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[r[0][:30] for r in REFUSED])
def test_refusals(text, reason):
    with pytest.raises(BadInput) as info:
        parse_expression(text)
    message = str(info.value)
    assert message.startswith("invalid expression "), message
    assert reason in message, message
    assert "\n" not in message


def test_100_kb_expression_is_refused_by_the_length_check_fast():
    text = "x+" * 50_000 + "x"
    start = time.perf_counter()
    with pytest.raises(BadInput, match=f"too long \\(100001 characters, at most {MAX_LENGTH}\\)"):
        parse_expression(text)
    assert time.perf_counter() - start < 1.0


def test_the_parser_never_evaluates_code():
    # the module calls no eval/exec/compile/__import__, whatever the input
    tree = ast.parse(inspect.getsource(expressions))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_bad_variable_names():
    with pytest.raises(BadInput):
        parse_expression("x", variables=("sin",))
    with pytest.raises(BadInput):
        parse_expression("x", variables=("x", "x"))
    with pytest.raises(BadInput):
        parse_expression(123)  # type: ignore[arg-type]


# ---------------------------------------------------------------- fuzzing

_numbers = st.one_of(
    st.integers(0, 10**6).map(str),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.0", "1e308", "1e-320", "2.5e10"]),
)
_leaves = st.one_of(_numbers, st.sampled_from(["x", "pi", "e"]))
_exponents = st.one_of(
    st.integers(-120, 120).map(str),
    st.floats(-120, 120, allow_nan=False).map(repr),
    st.sampled_from(["x", "(1+1)", "-2", "--3"]),
)


def _grow(children):
    return st.one_of(
        st.builds(lambda a, op, b: f"({a}{op}{b})", children, st.sampled_from("+-*/"), children),
        st.builds(lambda a: f"-{a}", children),
        st.builds(lambda a: f"+{a}", children),
        st.builds(lambda a, p: f"({a})**{p}", children, _exponents),
        st.builds(
            lambda f, a: f"{f}({a})",
            st.sampled_from(sorted(expressions.FUNCTIONS)),
            children,
        ),
    )


_trees = st.recursive(_leaves, _grow, max_leaves=60)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_trees)
def test_fuzz_whitelisted_trees_evaluate_or_raise_bad_input(text):
    try:
        expr = parse_expression(text)
    except BadInput as exc:
        assert "\n" not in str(exc)
        return
    x = torch.tensor([[-1e6], [-2.0], [0.0], [1e-30], [0.5], [3.0], [1e6]], dtype=torch.float64)
    y = expr(x)
    assert y.shape == x.shape
    assert y.dtype == torch.float64


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("xyeip()+-*/.,=[]'_ 0129sincoabqrt\n\\")),
                    max_size=40))
def test_fuzz_arbitrary_text_raises_only_bad_input(text):
    try:
        expr = parse_expression(text)
    except BadInput as exc:
        assert "\n" not in str(exc)
        return
    assert expr(torch.linspace(-1, 1, 5)).shape == (5,)


# ---------------------------------------------------------------- sampling


def test_default_domains():
    assert default_domain("sign(sin(5*pi*x))") == (-1.0, 1.0)
    assert default_domain("cos(x) / x")[0] > 0  # spaces ignored; away from the pole
    assert default_domain("x**3") == (-1.0, 1.0)
    for text in NAMED_FUNCTIONS:
        lo, hi = default_domain(text)
        assert lo < hi


def test_sample_function_shapes_and_spacing():
    x, y = sample_function("sin(x)+x**2", 200, spacing="even")
    assert x.shape == (200, 1) and y.shape == (200, 1)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    assert x[0, 0] == -3.0 and x[-1, 0] == 3.0
    torch.testing.assert_close(y, torch.sin(x) + x**2, rtol=1e-5, atol=1e-5)
    xu, _ = sample_function("sin(x)+x**2", 200, domain=(0, 2), seed=3)
    assert (xu >= 0).all() and (xu < 2).all()
    assert torch.all(xu[1:] >= xu[:-1])  # sorted


def test_sample_function_is_seeded_and_noise_has_the_right_scale():
    a = sample_function("sin(x)+x", 4000, noise=0.5, seed=1)
    b = sample_function("sin(x)+x", 4000, noise=0.5, seed=1)
    c = sample_function("sin(x)+x", 4000, noise=0.5, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    residual = a[1] - (torch.sin(a[0].double()) + a[0].double()).float()
    assert abs(residual.std().item() - 0.5) < 0.03
    assert abs(residual.mean().item()) < 0.05


def test_sample_function_refuses_non_finite_and_bad_arguments():
    with pytest.raises(BadInput, match=r"'cos\(x\)/x' is not finite on \[-1, 1\]"):
        sample_function("cos(x)/x", 3, domain=(-1, 1), spacing="even")
    with pytest.raises(BadInput):
        sample_function("x", 0)
    with pytest.raises(BadInput):
        sample_function("x", 10, domain=(1, 1))
    with pytest.raises(BadInput):
        sample_function("x", 10, noise=-1)
    with pytest.raises(BadInput):
        sample_function("x", 10, spacing="grid")
    with pytest.raises(BadInput, match="one variable"):
        sample_function(parse_expression("x*y", ("x", "y")), 10)
