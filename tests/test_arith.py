"""The arithmetic contexts (memtheory.compile.arith): mpmath's mpf and Arb's arb run the same algorithms.

References: mpmath's own functions and ``mp.lu_solve`` at more digits, mpmath quadrature for the Laplace moments,
and the mpmath arithmetic for the plateau flow (the same algorithm over the other number type).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import memtheory as mt
from memtheory.compile.arith import FLINT, MPMATH, arithmetic
from memtheory.dynamics.mplinalg import ldl, ldl_inner, ldl_solve, lu, lu_solve
from memtheory.errors import InvalidArgumentError
from memtheory.kernels.kernel import S
from memtheory.theory.plateau.systems import MPObjective

ARITHS = [MPMATH, FLINT]


def rel(x, ref):
    return abs(x - ref) / abs(ref)


@pytest.mark.parametrize("ar", ARITHS, ids=lambda a: a.name)
def test_numbers_and_elementary_functions_against_mpmath(ar):
    with ar.workdps(300), mp.workdps(320):
        for text in ("0.4", "-3.75", "1e-300", "123456789.125"):
            assert rel(ar.to_mpf(ar.num(text)), mp.mpf(text)) < mp.mpf(10) ** -298
        x = ar.num(sp.Rational(7, 3))
        assert rel(ar.to_mpf(x), mp.mpf(7) / 3) < mp.mpf(10) ** -298
        assert ar.to_mpf(ar.num(mp.mpf(2) / 3)) == mp.mpf(2) / 3 or ar is FLINT  # exact transfer of an mpf
        for f, ref in ((ar.exp, mp.exp), (ar.sqrt, mp.sqrt), (ar.log, mp.log)):
            assert rel(ar.to_mpf(f(x)), ref(mp.mpf(7) / 3)) < mp.mpf(10) ** -297
        assert rel(ar.to_mpf(ar.fsum([x, x, ar.num(1)])), 2 * mp.mpf(7) / 3 + 1) < mp.mpf(10) ** -298
        assert rel(ar.to_mpf(ar.log10(ar.num(1000))), mp.mpf(3)) < mp.mpf(10) ** -297
        assert ar.nstr(ar.num("0.125"), 3) == "0.125"


def test_mpf_transfers_exactly_to_arb():
    with FLINT.workdps(200):
        x = mp.mpf(1) / 3
        assert FLINT.to_mpf(FLINT.num(x)) == x
        assert FLINT.to_mpf(FLINT.inf) == mp.inf
    with pytest.raises(InvalidArgumentError, match="arithmetic"):
        arithmetic("float128")


def _bump_forms(omega):
    rho = mt.Kernel("exp(-2*t/5) + exp(-(t - 1/omega)**2/(2*(7/10)**2))", omega=omega)
    return rho, [rho.laplace_form(k).closed for k in range(3)]


@pytest.mark.parametrize("ar", ARITHS, ids=lambda a: a.name)
def test_compiled_closed_forms_against_quadrature(ar):
    """Both branches of the Gaussian bump's closed form (erfc, and the Gaussian moments that Arb lacks and
    mpmath provides) against mpmath quadrature at 60 digits."""
    rho, forms = _bump_forms(sp.Rational(1, 4))
    f = ar.lambdify((S, *rho.param_symbols), forms)
    for s in ("0.5", "30"):  # 49 s/100 - 1/omega < 0 and > 0
        with ar.workdps(50):
            vals = f(ar.num(s), ar.num(sp.Rational(1, 4)))
            got = [ar.to_mpf(v) for v in vals]
        with mp.workdps(60):
            sv = mp.mpf(s)
            for k in range(3):
                ref = mp.quad(lambda t: t ** k * mp.exp(-sv * t) * (mp.exp(-2 * t / 5) +
                                                                    mp.exp(-(t - 4) ** 2 / mp.mpf("0.98"))),
                              [0, 4, 12, mp.inf])
                assert rel(got[k], ref) < mp.mpf(10) ** -45


def test_both_arithmetics_give_the_same_moments_far_out():
    rho, forms = _bump_forms(sp.Rational(1, 2000))
    args = (S, *rho.param_symbols)
    out = {}
    for ar in ARITHS:
        with ar.workdps(760):
            out[ar.name] = [ar.to_mpf(v) for v in ar.lambdify(args, forms)(ar.num("0.4"),
                                                                            ar.num(sp.Rational(1, 2000)))]
    with mp.workdps(760):
        ref = [rho.laplace([mp.mpf(2) / 5], moment=k, dps=760)[0] for k in range(3)]
        for k in range(3):
            assert rel(out["flint"][k], ref[k]) < mp.mpf(10) ** -750
            assert rel(out["mpmath"][k], ref[k]) < mp.mpf(10) ** -750


@pytest.mark.parametrize("ar", ARITHS, ids=lambda a: a.name)
def test_linear_algebra_against_mpmath_lu_solve(ar):
    n = 6
    with ar.workdps(80):
        M = [[ar.num(1) / (ar.num(i + j + 1)) for j in range(n)] for i in range(n)]  # Hilbert: cond ~1.5e7
        b = [ar.num(k + 1) for k in range(n)]
        x = lu_solve(lu(M, ar), b, ar)
        got = [ar.to_mpf(v) for v in x]
        assert ldl(M, ar.num(0), ar) is not None and ldl([[ar.num(-1)]], ar.num(0), ar) is None
        assert lu([[ar.num(1), ar.num(2)], [ar.num(2), ar.num(4)]], ar) is None  # singular
    with mp.workdps(120):
        ref = mp.lu_solve(mp.matrix([[mp.mpf(1) / (i + j + 1) for j in range(n)] for i in range(n)]),
                          mp.matrix([k + 1 for k in range(n)]))
        for k in range(n):
            assert rel(got[k], ref[k]) < mp.mpf(10) ** -65


@pytest.mark.parametrize("ar", ARITHS, ids=lambda a: a.name)
def test_ldl_solve_and_inner_against_mpmath(ar):
    """``L D L^T`` of the shifted Hilbert matrix: the solve and ``B^T (M + s I)^{-1} B`` against mpmath's LU
    solve and inverse at more digits."""
    n, p = 6, 3
    B = [[(-1) ** (i + j) * (i + 2 * j + 1) for j in range(p)] for i in range(n)]
    with ar.workdps(80):
        M = [[ar.num(1) / (ar.num(i + j + 1)) for j in range(n)] for i in range(n)]
        F = ldl(M, ar.num(sp.Rational(1, 8)), ar)
        x = [ar.to_mpf(v) for v in ldl_solve(F, [ar.num(k + 1) for k in range(n)], ar)]
        T = [[ar.to_mpf(v) for v in row] for row in ldl_inner(F, [[ar.num(v) for v in row] for row in B], ar)]
    with mp.workdps(120):
        Mm = mp.matrix([[mp.mpf(1) / (i + j + 1) + (mp.mpf(1) / 8 if i == j else 0) for j in range(n)]
                        for i in range(n)])
        ref = mp.lu_solve(Mm, mp.matrix([k + 1 for k in range(n)]))
        Bm = mp.matrix(B)
        Tref = Bm.T * mp.inverse(Mm) * Bm
        for k in range(n):
            assert rel(x[k], ref[k]) < mp.mpf(10) ** -70
        for i in range(p):
            for j in range(p):
                assert T[i][j] == T[j][i]
                assert abs(T[i][j] - Tref[i, j]) < mp.mpf(10) ** -70 * max(abs(v) for v in Tref)


def test_assembly_is_the_same_in_both_arithmetics():
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), 1 / 50)
    theta = ["0.9", "-0.2", "0.55", "2.1"]
    res = {}
    for name in ("mpmath", "flint"):
        obj = MPObjective(rho, 2, 60, arithmetic=name)
        ar = obj.arith
        with ar.workdps(60):
            J, g, H = obj.evaluate([ar.num(v) for v in theta], hessian=True)
            res[name] = [ar.to_mpf(J)] + [ar.to_mpf(v) for v in g] + [ar.to_mpf(v) for row in H for v in row]
    ref = mt.l2_loss(mt.DiagonalRNN([0.9, -0.2], [0.55, 2.1]), rho, gradient=True, hessian=True)
    with mp.workdps(60):
        for x, y in zip(res["flint"], res["mpmath"]):
            assert abs(x - y) <= mp.mpf(10) ** -55 * max(1, abs(y))
    assert float(res["flint"][0]) == pytest.approx(ref.loss, rel=1e-12)
    assert np.allclose([float(v) for v in res["flint"][1:5]], ref.grad, rtol=1e-10, atol=1e-14)
    # the Hessian of the pairs visited once (the off-diagonal ones doubled) against the float64 assembly's loop
    assert np.allclose(np.reshape([float(v) for v in res["flint"][5:]], (4, 4)), ref.hess, rtol=1e-10, atol=1e-12)


def test_flint_and_mpmath_give_the_same_hitting_time():
    """The reduced plateau flow (m = 2, 1/omega = 40) in both arithmetics: the same algorithm, so the same
    tau_0 to far better than the tolerance (only the last digits of the arithmetic differ)."""
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), 1 / 40)
    runs = {name: mt.plateau.hitting_times(rho, [1, 0], ["0.5", 2], 0.05, method="reduced", error_estimate=False,
                                           arithmetic=name)
            for name in ("flint", "mpmath")}
    a, b = runs["flint"], runs["mpmath"]
    assert a.status == b.status and a.dps == b.dps
    assert rel(a.tau0_mp, b.tau0_mp) < 1e-12
    assert isinstance(a.tau0_mp, mp.mpf)


@pytest.mark.parametrize("ar", ARITHS, ids=lambda a: a.name)
def test_ill_conditioned_gram_matrix_keeps_the_digits_of_floating_point(ar):
    """The Gram matrix C_ij = 1/(w_i + w_j) of twenty rates geometric on [0.5, 4] (condition 3.7e26) at 42
    digits: the solution is accurate to about 1e-16 relative against mpmath's at 200 digits in both
    arithmetics, and L D L^T finds it positive definite. Over Arb this needs the divisors as midpoints: dividing
    by the balls of the elimination (whose radii overestimate the rounding errors by the wrapping effect) gave a
    relative error of 1.6, and an indefinite L D L^T."""
    n = 20
    w = [mp.mpf(1) / 2 * 8 ** (mp.mpf(k) / (n - 1)) for k in range(n)]
    with ar.workdps(42):
        ww = [ar.num(v) for v in w]
        C = [[1 / (ww[i] + ww[j]) for j in range(n)] for i in range(n)]
        x = [ar.to_mpf(v) for v in lu_solve(lu(C, ar), [ar.num(k + 1) for k in range(n)], ar)]
        F = ldl(C, ar.num(0), ar)
        assert F is not None
        y = [ar.to_mpf(v) for v in ldl_solve(F, [ar.num(k + 1) for k in range(n)], ar)]
    with mp.workdps(200):
        ref = mp.lu_solve(mp.matrix([[1 / (w[i] + w[j]) for j in range(n)] for i in range(n)]),
                          mp.matrix([k + 1 for k in range(n)]))
        assert max(abs(x[k] - ref[k]) for k in range(n)) < 1e-15 * max(abs(v) for v in ref)
        assert max(abs(y[k] - ref[k]) for k in range(n)) < 1e-15 * max(abs(v) for v in ref)


def test_a_rodas_step_of_the_full_flow_on_arb_against_mpmath_at_more_digits():
    """One RODAS4 step of the full plateau flow (ten rates, 1/omega = 10) from theta_0, with the step size
    handed over as an inexact ball (as the controller produces it): the new state agrees with mpmath's at 100
    digits to the working precision, and the error estimate to the digits its cancellation leaves."""
    from memtheory.dynamics import rodas
    from memtheory.theory.plateau.systems import FullSystem

    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5),
                                   sp.Rational(1, 10))
    theta = [1] + [0] * 9 + [mp.mpf(v) for v in np.geomspace(0.5, 4.0, 10)]
    h = mp.mpf("2.7870079346723824584614808514348799650769e-7")
    out = {}
    for ar, dps in ((FLINT, 60), (MPMATH, 100)):
        obj = MPObjective(rho, 10, dps, ar)
        with ar.workdps(dps):
            system = FullSystem(obj, [ar.num(v) for v in theta])
            rod = rodas._Rodas(system)
            y = system.initial_state()
            _, f, Jac, S = system.jacobian(y)
            hh = ar.num(h)
            if ar is FLINT:
                hh = FLINT.flint.arb(hh, FLINT.num(h * mp.mpf(10) ** -25))  # a radius, as the controller leaves
            y1, e = rod.step(y, f, rod.factor(Jac, S, hh), hh)
            out[ar.name] = [ar.to_mpf(v) for v in y1], [ar.to_mpf(v) for v in e]
    with mp.workdps(100):
        (yf, ef), (ym, em) = out["flint"], out["mpmath"]
        assert max(abs(a - b) for a, b in zip(yf, ym)) < mp.mpf(10) ** -57 * max(abs(v) for v in ym)
        assert max(abs(a - b) for a, b in zip(ef, em)) < mp.mpf(10) ** -40 * max(abs(v) for v in em)


@pytest.mark.slow
def test_full_flow_of_ten_rates_on_flint_agrees_with_mpmath():
    """The configuration whose tau_0' on Arb was once wrong by 4e-3 (ten rates, 1/omega = 10, 42 digits, the full
    flow): both hitting times agree with mpmath's to far better than the tolerance (30 s)."""
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5),
                                   sp.Rational(1, 10))
    a0, w0 = np.r_[1.0, np.zeros(9)], np.geomspace(0.5, 4.0, 10)
    runs = {name: mt.plateau.hitting_times(rho, a0, w0, 0.05, method="mpmath", dps=42, error_estimate=False,
                                           arithmetic=name) for name in ("flint", "mpmath")}
    a, b = runs["flint"], runs["mpmath"]
    assert rel(a.tau0_mp, b.tau0_mp) < 1e-8 and rel(a.tau0_prime_mp, b.tau0_prime_mp) < 1e-8
