"""The plateau premises beyond rho_hat(theta_0) = rho_bar: a reason when it cannot be measured (and a warning
from hitting_times), and rates that nearly coalesce measured by the Gram matrix's condition number.

Independent references: numpy's condition number for the Gram matrix; the premise's own magnitudes are
checked in test_plateau.py against mpmath quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import memtheory as mt
from memtheory import plateau
from memtheory.theory.plateau.premise import rho_bar_with_reason


def test_a_kernel_without_omega_has_no_rho_bar_and_says_why():
    p = plateau.measure_premise(mt.kernels.exponential(1.0), [1], [1])
    assert p.holds is None and "no parameter omega" in p.reason and "\n" not in p.reason
    assert p.to_dict()["reason"] == p.reason


def test_a_spike_alone_has_rho_bar_zero_and_says_why():
    rho = mt.Kernel("exp(-(t - 1/omega)**2)", omega=sp.Rational(1, 20))
    bar, reason = rho_bar_with_reason(rho)
    assert bar is None and "is 0" in reason
    p = plateau.measure_premise(rho, [0], [1])
    assert p.holds is None and p.reason == reason


def test_a_measured_premise_has_no_reason():
    rho = mt.Kernel("exp(-2*t/5) + exp(-2*(t - 1/omega)**2)", omega=sp.Rational(1, 50))
    p = plateau.measure_premise(rho, [1, 0], ["0.4", 2])
    assert p.holds is True and p.reason is None


def test_hitting_times_warns_when_the_premise_is_not_measured():
    with pytest.warns(UserWarning, match="not measured: the kernel .* has no parameter omega"):
        r = plateau.hitting_times(mt.kernels.exponential(1.0), [1], [2], 0.05, error_estimate=False)
    assert r.premise["holds"] is None and "omega" in r.premise["reason"]


def test_gram_condition_against_numpy():
    from memtheory.theory.plateau.hitting import gram_condition

    w = np.geomspace(0.5, 4.0, 10)
    assert gram_condition(w) == pytest.approx(math.log10(np.linalg.cond(1 / np.add.outer(w, w))), abs=1e-3)
    assert gram_condition(["2"]) == 0.0


def test_coalescing_rates_at_too_few_digits_are_a_one_line_premise_error():
    """Rates 1e-20 apart: the Gram matrix's condition 1e42.7 needs more digits than the 60 passed."""
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5),
                                   sp.Rational(1, 40))
    w0 = ["0.5", "2", "2.00000000000000000001"]
    with pytest.raises(mt.errors.PremiseError, match=r"w_2 = 2\.0* and w_3 = 2\.00000000000000000001 nearly "
                                                     r"coalesce.*1e42\.7.*dps >= 70") as info:
        plateau.hitting_times(rho, [1, 0, 0], w0, 0.05, dps=60, error_estimate=False)
    assert "\n" not in str(info.value)


def test_the_gram_condition_is_reported():
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5),
                                   sp.Rational(1, 40))
    r = plateau.hitting_times(rho, [1, 0], ["0.5", 2], 0.05, method="reduced", error_estimate=False)
    from memtheory.theory.plateau.hitting import gram_condition

    cond = r.to_dict()["log10_gram_condition"]
    assert cond == gram_condition(["0.5", "2"]) and cond == pytest.approx(math.log10(
        np.linalg.cond(1 / np.add.outer([0.5, 2.0], [0.5, 2.0]))), abs=1e-9)
