"""Exact inputs end to end (memtheory.exact): what a user types is the number computed with.

References are independent: Python's fractions/decimal for the exact values, closed forms evaluated in mpmath
for the losses (``J = sum_ij a_i a_j/(w_i + w_j) - 2 sum_i a_i/(w_i + lam) + 1/(2 lam)`` for ``rho = e^{-lam t}``).
"""

from __future__ import annotations

import decimal
import fractions
import json
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory.errors import InvalidArgumentError
from memtheory.exact import exact, exact_number, float64_exactly, to_float, to_mpf, typed_exactly


# ------------------------------------------------------------------------------------------- the coercion
@pytest.mark.parametrize("value, expected, typed", [
    ("0.3", fractions.Fraction(3, 10), True),
    ("3/10", fractions.Fraction(3, 10), True),
    ("-1.5e-3", fractions.Fraction(-3, 2000), True),
    (" 7 ", fractions.Fraction(7), True),
    (fractions.Fraction(3, 10), fractions.Fraction(3, 10), True),
    (sp.Rational(3, 10), fractions.Fraction(3, 10), True),
    (decimal.Decimal("0.30"), fractions.Fraction(3, 10), True),
    (np.int64(5), fractions.Fraction(5), True),
    (0.5, fractions.Fraction(1, 2), True),
    (0.3, fractions.Fraction(0.3), False),            # the binary value, flagged
    (np.float64(0.1), fractions.Fraction(0.1), False),
    (1e-300, fractions.Fraction(1e-300), False),
    (mp.mpf(0.25), fractions.Fraction(1, 4), True),
])
def test_exact_values_and_flags(value, expected, typed):
    num = exact_number(value)
    assert fractions.Fraction(int(num.value.p), int(num.value.q)) == expected
    assert num.typed_exact is typed


def test_mpf_and_sympy_float_are_binary_at_their_precision():
    with mp.workdps(40):
        x = mp.mpf("0.3")
    num = exact_number(x)
    man, exp = int(x.man), int(x.exp)
    assert fractions.Fraction(int(num.value.p), int(num.value.q)) == fractions.Fraction(man) * fractions.Fraction(2) ** exp
    assert abs(num.value - sp.Rational(3, 10)) < sp.Rational(1, 10**39)
    assert num.value != sp.Rational(3, 10)
    f = sp.Float("0.3", 30)
    assert abs(exact(f) - sp.Rational(3, 10)) < sp.Rational(1, 10**29) and exact(f) != sp.Rational(3, 10)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(man=st.integers(-10**15, 10**15).filter(bool), exp=st.integers(-120, 80), prec=st.sampled_from([10, 53, 113, 300]))
def test_mpf_typed_flag_is_the_text_definition(man, exp, prec):
    """An mpf is typed exactly when the decimal text of its precision spells it (counted without formatting)."""
    with mp.workprec(prec):
        value = mp.mpf(man) * mp.mpf(2) ** exp
        _, _, _, bc = value._mpf_
        text = mp.libmp.to_str(value._mpf_, max(1, int(max(prec, bc) * 0.30103) + 1))
        found = exact_number(value)
    assert found.value == sp.Rational(man) * sp.Rational(2) ** exp or prec < 53
    assert found.typed_exact == (sp.Rational(text) == found.value)


def test_constant_expressions_are_exact():
    assert exact("pi/4") == sp.pi / 4
    assert exact("1e400") == sp.Integer(10) ** 400


@pytest.mark.parametrize("bad", ["nan", "inf", float("nan"), float("inf"), True, "x", "1/0", 1 + 2j, "exp(t)",
                                 "1e999999999", None, [1.0]])
def test_bad_numbers_are_one_line_errors(bad):
    with pytest.raises(InvalidArgumentError) as info:
        exact(bad, "w")
    assert "\n" not in str(info.value)


def test_rounding_is_correct_and_once():
    assert to_float(exact("0.1")) == 0.1
    assert to_float(sp.Rational(1, 3)) == 1 / 3
    # a decimal halfway between two floats needs all its digits: 2^-53 + 1 + 2^-105 rounds up
    halfway = sp.Rational(2**53 + 1, 2**53) + sp.Rational(1, 2**105)
    assert to_float(halfway) == 1 + 2**-52
    with mp.workdps(50):
        assert mp.almosteq(to_mpf(exact("0.3")), mp.mpf(3) / 10, 1e-49)
    assert float64_exactly(["0.5", 1]) and not float64_exactly(["0.3"]) and not float64_exactly([0.3])
    assert typed_exactly(np.array([0.5, 0.25])) and not typed_exactly(np.array([0.5, 0.1]))


def test_expression_literals_keep_every_digit():
    rho = mt.Kernel("exp(-0.1000000000000000000001*t)")
    assert rho.expr == sp.exp(-sp.Rational(10**21 + 1, 10**22) * sp.Symbol("t", positive=True))


# ------------------------------------------------------------------------------------------- through the API
def _loss_exponential(a, w, lam):
    """Closed form of J for rho = e^{-lam t}, evaluated in mpmath from exact mpf inputs."""
    m = len(a)
    return (mp.fsum(a[i] * a[j] / (w[i] + w[j]) for i in range(m) for j in range(m))
            - 2 * mp.fsum(a[i] / (w[i] + lam) for i in range(m)) + 1 / (2 * lam))


@pytest.mark.filterwarnings("ignore::memtheory.errors.PrecisionWarning")  # J = 0 exactly: no digit at any dps
def test_float_rate_is_its_binary_value_and_is_flagged():
    rho = mt.Kernel("exp(-lam*t)", lam="0.3")
    exact_model = mt.DiagonalRNN([1], ["0.3"])
    binary_model = mt.DiagonalRNN([1], [0.3])
    with mp.workdps(80):
        ref = _loss_exponential([mp.mpf(1)], [mp.mpf(0.3)], mp.mpf(3) / 10)
    J_exact = mt.l2_loss(exact_model, rho, dps=60)
    J_binary = mt.l2_loss(binary_model, rho, dps=60)
    assert J_exact.inputs_exact and not J_binary.inputs_exact
    assert abs(J_exact.loss) <= J_exact.loss_error          # theta reproduces rho exactly: J = 0
    with mp.workdps(60):
        assert abs(J_binary.loss - ref) <= 1e-45 * abs(ref) + J_binary.loss_error
    assert ref > 1e-36                                      # the binary 0.3 misses 3/10 by 1.1e-17


def test_float64_path_says_it_rounded():
    rho = mt.Kernel("exp(-lam*t)", lam="0.5")
    assert mt.l2_loss(mt.DiagonalRNN(["0.5"], ["2"]), rho).inputs_exact
    assert not mt.l2_loss(mt.DiagonalRNN(["0.3"], ["2"]), rho).inputs_exact      # 0.3 rounded to float64
    assert not mt.l2_loss(mt.DiagonalRNN([0.5], [2]), mt.Kernel("exp(-lam*t)", lam=0.3)).inputs_exact
    assert rho.laplace(["0.5", 2], full_output=True).inputs_exact
    assert not rho.laplace([0.1], full_output=True).inputs_exact
    assert rho.laplace([0.1], dps=30, full_output=True).inputs_exact is False
    assert rho.laplace(["0.1"], dps=30, full_output=True).inputs_exact


def test_kernel_flags_survive_arithmetic_and_copies():
    import pickle

    k = mt.kernels.exponential(0.3)
    assert not k.inputs_exact and mt.kernels.exponential("0.3").inputs_exact
    assert not (k + mt.kernels.exponential(1)).inputs_exact
    assert not (mt.kernels.exponential(1) * 0.3).inputs_exact and (mt.kernels.exponential(1) * "0.3").inputs_exact
    assert k.with_params(rate="0.3").inputs_exact
    assert not pickle.loads(pickle.dumps(k)).inputs_exact


def test_laplace_of_exact_point_at_high_precision():
    rho = mt.Kernel("exp(-t)")
    with mp.workdps(120):
        ref = 1 / (1 + mp.mpf(1) / 3)
    got = rho.laplace(["1/3"], dps=100)[0]
    with mp.workdps(120):
        assert abs(got - ref) <= mp.mpf(10) ** -98


# ------------------------------------------------------------------------------------------- through the CLI
def _cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "memtheory.cli", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_decimal_equals_rational_at_200_digits():
    """``--w 0.3`` is 3/10: the same digits at 200 dps as the API given the Rational 3/10 (and not the float)."""
    target = "exp(-t/2) + exp(-2*(t - 3)**2)"
    cli = _cli("loss", "--target", target, "--a", "1,0.7", "--w", "0.3,1.1", "--dps", "200", "--json")
    api = mt.l2_loss(mt.DiagonalRNN([1, sp.Rational(7, 10)], [sp.Rational(3, 10), sp.Rational(11, 10)]),
                     mt.Kernel(target), gradient=True, dps=200)
    binary = mt.l2_loss(mt.DiagonalRNN([1, 0.7], [0.3, 1.1]), mt.Kernel(target), gradient=True, dps=200)
    assert cli["inputs_exact"] is True and api.inputs_exact and not binary.inputs_exact
    assert cli["loss"] == api.to_dict()["loss"]
    assert cli["grad_w"] == api.to_dict()["grad_w"]
    with mp.workdps(200):
        assert abs(mp.mpf(cli["loss"]) - binary.loss) > mp.mpf(10) ** -30   # the float's value differs


def test_cli_float64_loss_reports_rounding():
    out = _cli("loss", "--target", "exp(-t)", "--a", "1", "--w", "0.3", "--json")
    assert out["inputs_exact"] is False
    out = _cli("loss", "--target", "exp(-t)", "--a", "1", "--w", "0.5", "--json")
    assert out["inputs_exact"] is True


@pytest.mark.parametrize("args, needle", [
    (["loss", "--target", "exp(-t)", "--a", "1", "--w", "0.3x"], "--w"),
    (["laplace", "--target", "exp(-t)", "--s", "1/0"], "--s"),
    (["loss", "--target", "exp(-lam*t)", "--param", "lam=nan", "--a", "1", "--w", "1"], "lam"),
])
def test_cli_bad_numbers_are_usage_errors(args, needle):
    out = subprocess.run([sys.executable, "-m", "memtheory.cli", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
