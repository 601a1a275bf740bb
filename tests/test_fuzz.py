"""Property-based fuzzing of the parser, the Kernel API and the command line with hostile and absurd inputs.

Each property is "a value or a typed error": the parser returns a SymPy expression or raises
UnsafeExpressionError; Kernel construction and its Laplace transform return finite numbers or raise a
MemtheoryError; the CLI exits 0 with one strictly valid JSON document, or 1/2 with a one-line message that is
not an internal error. The examples are derandomised in CI (profile ``ci`` of tests/conftest.py); run
``HYPOTHESIS_PROFILE=explore pytest tests/test_fuzz.py`` for fresh, longer draws.
"""

from __future__ import annotations

import json

import mpmath as mp
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory.cli import main
from memtheory.symbolic.parse import parse_expression

_ATOMS = ["t", "1", "0", "-1", "0.5", "1e308", "1e-308", "10**400", "pi", "E", "True", "nan", "inf", "lam", "s",
          "__import__", "t.real", "[t]", "(t, t)", "lambda t: t", "1/0", "0**0", "''"]
_FUNCS = ["exp", "log", "sqrt", "sin", "gamma", "erfc", "Abs", "Max", "Min", "Heaviside", "airyai", "erfcx",
          "Piecewise", "open", "eval"]
_BINOPS = ["+", "-", "*", "/", "**", "&", "|", "^", "<", "<=", "==", "%", "//", " and ", ","]


def _expressions():
    """Expressions from a small hostile grammar: whitelisted and forbidden atoms, functions and operators."""
    atoms = st.sampled_from(_ATOMS)

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(_BINOPS), inner).map(lambda x: f"({x[0]}{x[1]}{x[2]})"),
            st.tuples(st.sampled_from(["-", "+", "~", "not "]), inner).map(lambda x: x[0] + x[1]),
            st.tuples(st.sampled_from(_FUNCS), st.lists(inner, max_size=3)).map(
                lambda x: f"{x[0]}({', '.join(x[1])})"),
            st.tuples(inner, st.integers(1, 3000)).map(lambda x: "-" * x[1] + x[0]),
        )

    return st.recursive(atoms, extend, max_leaves=12)


_TEXT = st.one_of(_expressions(), st.text(max_size=40),
                  st.integers(1, 4000).map(lambda n: "t" + "*1" * n),
                  st.integers(1, 2000).map(lambda n: "+".join(["t"] * n)))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_parser_value_or_typed_error(text):
    try:
        expr = parse_expression(text, params=("lam",))
    except mt.UnsafeExpressionError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(expr, sp.Expr), (text, expr)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions(), st.sampled_from([0.5, 1.0, 3.0]))
def test_kernel_laplace_value_or_typed_error(text, s):
    """Through the API in mpmath (no compile per draw): a finite value or a MemtheoryError."""
    try:
        rho = mt.Kernel(text, lam=2.0) if "lam" in text else mt.Kernel(text)
        values = rho.laplace([s], dps=20)
    except mt.MemtheoryError as exc:
        assert "\n" not in str(exc)
        return
    assert all(mp.isfinite(v) for v in values), (text, values)


_BAD_NUMBERS = st.sampled_from(["nan", "inf", "-1", "0", "1e-300", "1e308", "1e400", "abc", "", ",", "1,,2",
                                "0x10", "1_0", "--1", "1e999999", "5", "0.1,0.2"])


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=_expressions(), number=_BAD_NUMBERS, command=st.sampled_from(["laplace", "loss", "memory"]))
def test_cli_value_or_one_line_error(text, number, command, capsys):
    """Hostile kernels and numbers through the CLI (mpmath path): valid JSON or a one-line typed error."""
    argv = {"laplace": ["laplace", "--target", text, "--s", number, "--dps", "20", "--json"],
            "loss": ["loss", "--target", text, "--a", number, "--w", "1", "--dps", "20", "--json"],
            "memory": ["memory", "--target", text, "--t", number, "--json"]}[command]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    if rc == 0:
        json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(f"{c} in JSON")))
        return
    assert rc in (1, 2), (argv, rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, (argv, err)
