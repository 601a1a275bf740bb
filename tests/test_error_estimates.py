"""Error estimates that bound the error: the reproductions of the reliability issue, one test per group.

References are independent: textbook closed forms in mpmath at high precision (Gamma functions, rational
functions), the first-order law of a gradient flow, a direct comparison of two requests.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import memtheory as mt
from memtheory.compile.rounding import rounding_error
from memtheory.errors import ConvergenceWarning, PrecisionError


def test_rounding_error_sees_cancellation():
    s, d = sp.symbols("s d")
    expr = 1 / (s + 1) - 1 / (s + 1 + d)
    bound = sp.lambdify((s, d), rounding_error(expr, exact=(s,)))
    f = sp.lambdify((s, d), expr)
    for dv in (1e-12, 1e-6, 0.5):
        with mp.workdps(50):
            exact = 1 / mp.mpf(2) - 1 / (2 + mp.mpf(dv))
        err = abs(f(1.0, dv) - float(exact))
        assert err <= bound(1.0, dv)
        assert bound(1.0, dv) <= 1e3 * np.finfo(float).eps * (1 + abs(float(exact)))  # not absurdly loose
    # a relative error ~ eps/d: the estimate relative to the tiny value is ~1e-4 at d = 1e-12
    assert bound(1.0, 1e-12) / abs(f(1.0, 1e-12)) > 1e-6


def test_laplace_of_a_cancelling_difference():
    rho = mt.Kernel("exp(-t) - exp(-(1+1e-12)*t)")
    with mp.workdps(60):
        exact = 1 / mp.mpf(2) - 1 / (2 + mp.mpf("1e-12"))
        exact1 = 1 / mp.mpf(2) ** 2 - 1 / (2 + mp.mpf("1e-12")) ** 2
    for k, ref in ((0, exact), (1, exact1)):
        res = rho.laplace([1.0], moment=k, full_output=True)
        assert abs(res.values[0] - float(ref)) <= res.errors[0] <= 1e-15 * float(ref)
        res = rho.laplace([1.0], moment=k, dps=30, full_output=True)
        with mp.workdps(60):
            assert abs(res.values[0] - ref) <= res.errors[0] <= mp.mpf(10) ** -28 * ref


def test_endpoint_singularity_square_integral():
    rho = mt.Kernel("t**(-0.45)*exp(-t)")
    with mp.workdps(50):
        ref = mp.gamma(mp.mpf("0.1")) * mp.mpf(2) ** mp.mpf("-0.1")
    value, error = rho.square_integral(dps=30, full_output=True)
    with mp.workdps(50):
        assert abs(value - ref) <= error <= mp.mpf(10) ** -28
    assert rho.laplace_form(0).is_closed  # Gamma(a + 1)/(s + 1)^(a + 1), no quadrature


def test_loss_of_a_cancelling_norm():
    """||rho||^2 of 1e6 (e^-t - e^-(1+1e-6)t) is a sum of three ~1e12 terms in closed form."""
    rho = mt.Kernel("1e6*(exp(-t) - exp(-(1+1e-6)*t))")
    model = mt.DiagonalRNN([0.5, 0.3], [1.0, 2.0])
    with mp.workdps(60):
        d = mp.mpf("1e-6")
        L0 = [mp.mpf(10) ** 6 * (1 / mp.mpf(w + 1) - 1 / (w + 1 + d)) for w in (1, 2)]
        norm = mp.mpf(10) ** 12 * (mp.mpf(1) / 2 - 2 / (2 + d) + 1 / (2 + 2 * d))
        a, w = [mp.mpf(0.5), mp.mpf(0.3)], [1, 2]  # the model rounds 0.3 to float64
        J = sum(a[i] * a[j] / (w[i] + w[j]) for i in range(2) for j in range(2)) - 2 * sum(
            a[i] * L0[i] for i in range(2)) + norm
    res = mt.l2_loss(model, rho)
    assert abs(res.loss - float(J)) <= res.loss_error <= 1e-13


def test_gradient_below_float64_range_raises():
    """At omega = 1e-9 the spike's Laplace terms are ~e^{-5e8}: the gradient is not zero, it is not representable."""
    rho = mt.Kernel("exp(-t/2) + exp(-2*(t - 1/omega)**2)", omega=1e-9)
    with pytest.raises(PrecisionError, match="below float64 range"):
        mt.l2_loss(mt.DiagonalRNN([1.0, 0.0], [0.5, 2.0]), rho, gradient=True)
    # an exact zero stays an exact zero
    res = mt.l2_loss(mt.DiagonalRNN([1.0], [1.0]), mt.kernels.exponential(1.0), gradient=True)
    assert np.all(res.grad == 0)


@pytest.mark.parametrize("delta", [1e-20, 1e-300])
def test_plateau_tiny_delta_follows_the_first_order_law(delta):
    rho = mt.Kernel("exp(-t/2) + exp(-2*(t - 1/omega)**2)", omega=mp.mpf(1) / 4)
    a0, w0 = [1.0, 0.0], [0.5, 2.0]
    r = mt.plateau.hitting_times(rho, a0, w0, delta, error_estimate=False)
    res = mt.l2_loss(mt.DiagonalRNN(a0, w0), rho, gradient=True, dps=40)
    with mp.workdps(40):
        g2 = mp.fsum(g * g for g in res.grad)
        assert r.status == "first order" and r.method == "first order"
        assert abs(r.tau0_mp / (mp.mpf(delta) / mp.sqrt(g2)) - 1) <= 1e-8
        assert abs(r.tau0_prime_mp / (mp.mpf(delta) / g2) - 1) <= 1e-8


def test_best_sum_does_not_depend_on_the_other_widths():
    # two spellings of one kernel: separate result caches, the same mathematics
    direct = mt.approximation.best_exponential_sums(mt.Kernel("(1+t)**(-1.5)"), [7])[0]
    ladder = mt.approximation.best_exponential_sums(mt.Kernel("(1+t)**(-p)", p=1.5), [2, 4, 7])[-1]
    assert abs(direct.loss - ladder.loss) <= 1e-6 * ladder.loss
    np.testing.assert_allclose(direct.w, ladder.w, rtol=1e-4)


def test_best_sum_says_when_it_did_not_converge():
    rho = mt.kernels.power_law(2.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = mt.approximation.best_exponential_sums(rho, [3], max_iter=1, starts=1)[0]
    assert not fit.converged
    assert "NOT CONVERGED" in repr(fit)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
