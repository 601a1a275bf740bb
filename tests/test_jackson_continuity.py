"""The Jackson hypothesis y in C^{alpha+1}: continuity of rho^{(j)} at breakpoints, decided symbolically where SymPy
can and by a step-scaling test otherwise (docs/theory.md §3).

References are the kernels' one-sided limits worked out by hand."""

from __future__ import annotations

import mpmath as mp
import pytest
import sympy as sp

import memtheory as mt
from memtheory.theory.approximation.jackson import continuity_at, jackson_bound

T = sp.Symbol("t", positive=True)

# rho(t) = s^3 (1 - s)^2 |s - 1/2|^1.1, s = e^{-t/2}: C^1 with a Hölder-0.1 derivative at t = 2 ln 2
HOLDER = "exp(-3*t/2)*(1 - exp(-t/2))**2*Abs(exp(-t/2) - 1/2)**(11/10)"


def test_holder_derivative_is_continuous():
    jb = jackson_bound(mt.Kernel(HOLDER), alpha=1, beta=0.5)
    assert jb.hypotheses_hold, jb.violations
    assert jb.gamma > 0


@pytest.mark.parametrize("expr, alpha, bad_order, left, right", [
    ("Heaviside(t - 1)*exp(-t)", 1, 0, 0.0, mp.exp(-1)),              # a jump of rho itself
    ("exp(-t)*Abs(t - 1)", 1, 1, -mp.exp(-1), mp.exp(-1)),             # a kink: rho' jumps by 2/e
    ("Piecewise((t, t < 1), (2 - t, True))*exp(-t)", 1, 1, 0.0, -2 * mp.exp(-1)),
])
def test_jumps_are_reported_with_their_one_sided_limits(expr, alpha, bad_order, left, right):
    jb = jackson_bound(mt.Kernel(expr), alpha=alpha, beta=0.5)
    assert not jb.hypotheses_hold
    text = [v for v in jb.violations if v.startswith(f"rho^({bad_order})")]
    assert text, jb.violations
    assert "at t = 1" in text[0] and "symbolically" in text[0]
    assert mp.nstr(mp.mpf(left), 6) in text[0] and mp.nstr(mp.mpf(right), 6) in text[0]


def test_smooth_across_breakpoint_is_continuous():
    assert jackson_bound(mt.Kernel("exp(-t)*Abs(t - 1)**3"), alpha=1, beta=0.5).hypotheses_hold


def test_unbounded_derivative_is_found():
    jb = jackson_bound(mt.Kernel("exp(-t)*Abs(t - 1)**(1/2)"), alpha=1, beta=0.5)
    assert not jb.hypotheses_hold and any("rho^(1)" in v for v in jb.violations)


def test_numerical_fallback_scales_with_the_step():
    # a function whose one-sided pieces SymPy cannot evaluate at the point (removable 0/0 on each side):
    # continuous sin(t-1)/(t-1) against a jump sign(t-1) sin(t-1)/(t-1)
    smooth = sp.sin(T - 1) / (T - 1)
    jump = sp.Heaviside(T - 1) * 2 * smooth - smooth
    c = continuity_at(smooth, sp.Integer(1))
    assert c.continuous and c.how == "numerically"
    d = continuity_at(jump, sp.Integer(1))
    assert not d.continuous and d.how == "numerically"
    assert mp.almosteq(d.left, -1, 1e-9) and mp.almosteq(d.right, 1, 1e-9)
