"""The plateau premise when it cannot be measured: a reason, and a warning from hitting_times.

Independent reference for the measured case: the premise's own magnitudes are checked in test_plateau.py
against mpmath quadrature; here only the unmeasurable cases, each decided by what the kernel is.
"""

from __future__ import annotations

import sympy as sp
import pytest

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
