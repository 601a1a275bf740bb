"""Safe parsing of user expressions (memtheory.symbolic.parse_expression, memtheory.Kernel).

The contract (issue "safe expressions"): strings are parsed without eval; only the whitelisted functions
(exp, log, sqrt, sin, cos, erf, erfc, gamma, airyai, Heaviside, Piecewise, Abs, Min, Max), the symbol ``t`` and
named parameters are accepted; anything else raises ``memtheory.UnsafeExpressionError`` (a ValueError) with a
one-line message naming the offending token; decimal literals become the exact Rationals their text spells.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
import textwrap

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory.symbolic import parse_expression

T = sp.Symbol("t", positive=True)


def names_in(expr):
    return {s.name for s in expr.free_symbols}


# ------------------------------------------------------------------------------------------------ accepted input
def test_issue_example_structure_and_exact_numbers():
    expr = parse_expression("exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))", params=["omega", "sigma"])
    assert names_in(expr) == {"t", "omega", "sigma"}
    om, sig = sp.Symbol("omega", real=True), sp.Symbol("sigma", real=True)
    t = [x for x in expr.free_symbols if x.name == "t"][0]
    expected = sp.exp(-t / 2) + sp.exp(-(t - 1 / om) ** 2 / (2 * sig**2))
    assert sp.simplify(expr - expected) == 0
    assert not expr.atoms(sp.Float)


@pytest.mark.parametrize(
    "text, func",
    [
        ("exp(t)", sp.exp),
        ("log(t)", sp.log),
        ("sin(t)", sp.sin),
        ("cos(t)", sp.cos),
        ("erf(t)", sp.erf),
        ("erfc(t)", sp.erfc),
        ("gamma(t)", sp.gamma),
        ("airyai(t)", sp.airyai),
        ("Heaviside(t - 1)", sp.Heaviside),
        ("Abs(t - 3)", sp.Abs),
        ("Min(t, 1)", sp.Min),
        ("Max(t, 2)", sp.Max),
        ("Piecewise((1, t < 2), (0, True))", sp.Piecewise),
    ],
)
def test_whitelisted_functions(text, func):
    expr = parse_expression(text)
    assert expr.has(func) or isinstance(expr, func)
    assert names_in(expr) == {"t"}


def test_sqrt_is_a_power():
    expr = parse_expression("sqrt(t)")
    tt = list(expr.free_symbols)[0]
    assert expr == sp.sqrt(tt)


@pytest.mark.parametrize(
    "text, value",
    [("0.1", sp.Rational(1, 10)), ("2.5", sp.Rational(5, 2)), ("1e-3", sp.Rational(1, 1000)),
     ("1.1", sp.Rational(11, 10)), ("0.3333", sp.Rational(3333, 10000)), ("7", sp.Integer(7))],
)
def test_floats_become_exact_rationals(text, value):
    expr = parse_expression(text)
    assert expr == value
    assert isinstance(expr, sp.Rational)


def test_rational_coefficients_inside_expressions():
    expr = parse_expression("(1 + 0.1*t)**(-1.1)")
    assert not expr.atoms(sp.Float)
    tt = list(expr.free_symbols)[0]
    assert sp.simplify(expr - (1 + tt / 10) ** sp.Rational(-11, 10)) == 0


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_any_float_literal_is_its_exact_decimal(x):
    text = repr(abs(x))
    expr = parse_expression(text)
    assert isinstance(expr, sp.Rational)
    assert expr == sp.Rational(text)


def test_constants_pi_and_e():
    assert parse_expression("pi") == sp.pi
    assert parse_expression("E") == sp.E


# Random well-formed expressions: parsing must give the same numbers as the mathematics.
_LEAVES = st.sampled_from(["t", "a", "b", "0.5", "2", "1.25", "3"])
_UNARY = ["exp(-({}))", "sqrt(({})**2 + 1)", "sin({})", "cos({})", "erf({})", "erfc({})", "Abs({})",
          "log(({})**2 + 2)"]


def _expressions():
    return st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda x: f"({x[0]} {x[1]} {x[2]})"),
            st.tuples(inner, inner).map(lambda x: f"({x[0]})/(2 + ({x[1]})**2)"),
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda x: x[0].format(x[1])),
            st.tuples(inner, inner).map(lambda x: f"Min({x[0]}, {x[1]})"),
            st.tuples(inner, inner).map(lambda x: f"Max({x[0]}, {x[1]})"),
        ),
        max_leaves=6,
    )


_MATH = {"exp": mp.exp, "sqrt": mp.sqrt, "sin": mp.sin, "cos": mp.cos, "erf": mp.erf, "erfc": mp.erfc,
         "Abs": abs, "log": mp.log, "Min": min, "Max": max}


@settings(max_examples=60, deadline=None)
@given(_expressions(), st.floats(0.01, 3.0), st.floats(-2.0, 2.0), st.floats(0.1, 2.0))
def test_random_expressions_evaluate_like_the_math(text, t, a, b):
    expr = parse_expression(text, params=["a", "b"])
    assert not expr.atoms(sp.Float)
    subs = {sym: sp.Rational(repr(v)) for sym in expr.free_symbols
            for name, v in (("t", t), ("a", a), ("b", b)) if sym.name == name}
    with mp.workdps(30):
        got = sp.N(expr.xreplace(subs), 25)
        # Reference: the same (test-generated, trusted) text evaluated directly with mpmath functions.
        ns = {**_MATH, "t": mp.mpf(repr(t)), "a": mp.mpf(repr(a)), "b": mp.mpf(repr(b)), "__builtins__": {}}
        mp_text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)", r"mpf('\1')", text)
        ref = eval(mp_text, {**ns, "mpf": mp.mpf})
        assert abs(mp.mpf(str(got)) - ref) <= mp.mpf(10) ** -20 * max(1, abs(ref))


# ------------------------------------------------------------------------------------------------ rejected input
REJECTED = [
    # (text, token the message must name)
    ("t.__class__", "__class__"),
    ("exp(t).real", "real"),
    ("().__class__.__bases__", "__bases__"),
    ("__import__('os')", "__import__"),
    ("__class__", "__class__"),
    ("__builtins__", "__builtins__"),
    ("eval('1')", "eval"),
    ("exec('1')", "exec"),
    ("open('f')", "open"),
    ("getattr(t, 'x')", "getattr"),
    ("foo(t)", "foo"),
    ("x + t", "x"),
    ("exp(-lam*t)", "lam"),
    ("t[0]", "["),
    ("lambda x: x", "lambda"),
    ("exp(t, base=2)", "keyword"),
    ("t ^ 2", "^"),
    ("'abc'", "abc"),
    ("exp", "exp"),
]


@pytest.mark.parametrize("text, token", REJECTED)
def test_rejected_with_one_line_error_naming_the_token(text, token):
    with pytest.raises(mt.UnsafeExpressionError) as info:
        parse_expression(text)
    msg = str(info.value)
    assert "\n" not in msg.strip()
    assert token in msg, msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["[1, 2]", "{1: 2}", "t if t else 1", "f'{t}'", "(y := 1)", "exp(",
                                  "import os", "t; 1", "", "2**100000", "*t", "{t}", "(t, t)"])
def test_other_syntax_rejected(text):
    with pytest.raises(mt.UnsafeExpressionError) as info:
        parse_expression(text)
    assert "\n" not in str(info.value).strip()


def test_unsafe_error_is_a_value_error_subclass():
    assert issubclass(mt.UnsafeExpressionError, ValueError)
    assert issubclass(mt.UnsafeExpressionError, mt.InvalidArgumentError)


@pytest.mark.parametrize("bad", [None, 3.0, b"exp(t)", ["t"]])
def test_non_string_rejected(bad):
    with pytest.raises(mt.UnsafeExpressionError):
        parse_expression(bad)


@pytest.mark.parametrize("name", ["_x", "__class__", "exp", "pi", "1a", "a-b"])
def test_invalid_parameter_names_rejected(name):
    with pytest.raises(mt.UnsafeExpressionError):
        parse_expression("t", params=[name])


_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_ALLOWED_NAMES = {"t", "pi", "E", "True", "true", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "erf", "erfc",
                  "erfcx", "gamma", "airyai", "Heaviside", "Piecewise", "Abs", "abs", "Min", "Max"}


@settings(max_examples=100, deadline=None)
@given(_IDENT.filter(lambda n: n not in _ALLOWED_NAMES and not __import__("keyword").iskeyword(n)))
def test_unknown_names_and_functions_always_rejected(name):
    for text in (f"{name} * t", f"{name}(t)", f"t.{name}"):
        with pytest.raises(mt.UnsafeExpressionError) as info:
            parse_expression(text)
        assert name in str(info.value)


def test_no_code_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        f"exp(t) + (lambda: __import__('os').system('touch {marker}'))()",
        f"[c for c in ().__class__.__base__.__subclasses__()]",
    ]
    for text in payloads:
        with pytest.raises(mt.UnsafeExpressionError):
            parse_expression(text)
        with pytest.raises(mt.UnsafeExpressionError):
            mt.Kernel(text)
    assert not marker.exists()


@pytest.mark.parametrize("text", ["gamma(9999**2)", "((2**9999)**9999)**9999"])
def test_short_expression_cannot_exhaust_resources(text):
    """A short string must be parsed or rejected quickly: whitelisted operations on huge exact integers must not
    run for minutes or exhaust memory (run in a subprocess: 2 GB address space, and 5 s of CPU time for the parse
    after the import, a limit a loaded machine does not change; the wall-clock timeout is only a backstop)."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
        from memtheory.symbolic import parse_expression
        from memtheory import UnsafeExpressionError
        used = resource.getrusage(resource.RUSAGE_SELF)
        budget = int(used.ru_utime + used.ru_stime) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (budget, budget + 1))
        try:
            parse_expression({text!r})
        except UnsafeExpressionError:
            pass
        print("done")
    """)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"parse_expression({text!r}) still running after 300 s")
    assert proc.returncode != -signal.SIGXCPU, f"parse_expression({text!r}) used more than 5 s of CPU time"
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr[-500:]


# ------------------------------------------------------------------------------------------------ Kernel front end
def test_kernel_parameters_and_exact_values():
    rho = mt.Kernel("exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))", omega="0.1", sigma=0.5)
    assert rho.exact_params == {"omega": sp.Rational(1, 10), "sigma": sp.Rational(1, 2)}
    assert rho.inputs_exact
    binary = rho.with_params(omega=0.1)  # a float is its exact binary value, flagged
    assert binary.exact_params["omega"] == sp.Rational(*(0.1).as_integer_ratio()) and not binary.inputs_exact
    assert {s.name for s in rho.expr.free_symbols} == {"t", "omega", "sigma"}
    with mp.workdps(30):
        ref = mp.exp(-mp.mpf(3) / 2) + mp.exp(-(3 - 10) ** 2 / (2 * mp.mpf("0.25")))
    assert abs(rho(3.0) - float(ref)) <= 1e-15


def test_kernel_missing_parameter_named():
    with pytest.raises(mt.UnsafeExpressionError, match="sigma"):
        mt.Kernel("exp(-(t - 1)**2/(2*sigma**2))")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "abc", True, None])
def test_kernel_parameter_must_be_a_finite_number(value):
    with pytest.raises(mt.InvalidArgumentError):
        mt.Kernel("exp(-lam*t)", lam=value)


def test_kernel_latex():
    assert mt.Kernel("exp(-t/2)").latex() == r"e^{- \frac{t}{2}}"
    tex = mt.Kernel("exp(-lam*t)", lam=2.0).latex()
    assert r"\lambda" in tex or "lam" in tex
    assert "e^{" in tex


def test_kernel_from_sympy_expression():
    lam = sp.Symbol("lam")
    rho = mt.Kernel(sp.exp(-lam * T), lam=0.25)
    assert abs(rho(2.0) - math.exp(-0.5)) <= 1e-16


def test_kernel_rejects_complex_or_infinite_expressions():
    with pytest.raises(mt.InvalidArgumentError):
        mt.Kernel(sp.I * T)
    with pytest.raises(mt.InvalidArgumentError):
        mt.Kernel(42)
