"""Every float64 solver of the gradient flow against scipy's solve_ivp on the same closed form (numpy, erfcx).

The right-hand side of the reference is written here from the formulas (docs/theory.md §4): for
``rho = e^{-r t} + exp(-(t - L)^2 / (2 sigma^2))`` the Laplace moments are
``M_0(s) = 1/(r + s) + sqrt(2) sigma e^{-L^2/(2 sigma^2)} J_0(z)`` and
``M_1(s) = 1/(r + s)^2 + 2 sigma^2 e^{-L^2/(2 sigma^2)} J_1(z)`` with ``z = (s sigma^2 - L)/(sqrt(2) sigma)``,
``J_0 = sqrt(pi)/2 erfcx(z)``, ``J_1 = 1/2 - z J_0``, and ``-grad J`` follows from
``dJ/da_i = 2 (sum_j a_j/(w_i + w_j) - M_0(w_i))``, ``dJ/dw_i = -2 a_i (sum_j a_j/(w_i + w_j)^2 - M_1(w_i))``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import erfcx

import memtheory as mt

R, SIGMA, LAG = 0.4, 0.7, 6.0
SPIKE = mt.kernels.memory_family(mt.kernels.exponential(R), mt.kernels.gaussian_bump(0, SIGMA), omega=1 / LAG)
THETA0 = np.array([0.8, 0.3, -0.1, 0.5, 1.2, 2.5])


def numpy_rhs(t, theta):
    m = theta.size // 2
    a, w = theta[:m], theta[m:]
    z = (w * SIGMA**2 - LAG) / (np.sqrt(2) * SIGMA)
    j0 = np.sqrt(np.pi) / 2 * erfcx(z)
    pre = np.exp(-LAG**2 / (2 * SIGMA**2))
    m0 = 1 / (R + w) + np.sqrt(2) * SIGMA * pre * j0
    m1 = 1 / (R + w) ** 2 + 2 * SIGMA**2 * pre * (0.5 - z * j0)
    S = w[:, None] + w[None, :]
    ga = 2 * ((a[None, :] / S).sum(1) - m0)
    gw = -2 * a * ((a[None, :] / S**2).sum(1) - m1)
    return -np.concatenate([ga, gw])


@pytest.fixture(scope="module")
def flow():
    return mt.GradientFlow(SPIKE, m=3)


def test_closed_form_is_the_flow(flow):
    for theta in (THETA0, np.array([1.0, 0.0, 0.0, 0.4, 1.5, 3.0])):
        np.testing.assert_allclose(flow.rhs(theta), numpy_rhs(0.0, theta), rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module")
def reference():
    return solve_ivp(numpy_rhs, (0.0, 20.0), THETA0, method="LSODA", rtol=1e-13, atol=1e-14, dense_output=True)


@pytest.mark.parametrize("method", ["dopri5", "dop853", "radau", "auto"])
def test_solvers_agree_with_lsoda(flow, reference, method):
    sol = flow.solve(THETA0, 20.0, method=method, rtol=1e-11, atol=1e-13, dense=True)
    assert sol.status == 0
    np.testing.assert_allclose(sol.theta[-1], reference.y[:, -1], rtol=1e-8, atol=1e-10)
    ts = np.linspace(0.5, 20.0, 40)
    np.testing.assert_allclose(sol.sol(ts), reference.sol(ts).T, rtol=1e-7, atol=1e-9)
    if method == "auto":
        assert sol.method_used.startswith("dop853")
