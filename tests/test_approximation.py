"""Tests of memtheory.approximation against independent computations.

References here do not use the library's Laplace closed forms or Cauchy algebra: Laplace transforms and losses
are quadratures of their definitions (mpmath tanh-sinh or a composite Gauss-Legendre rule written here), linear
systems are solved by mpmath's LU, global optima are found by scipy's differential evolution on the raw
quadrature loss, and ``gamma`` of the Jackson bound is checked against hand-derived closed forms.
"""

from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import differential_evolution, minimize

import memtheory as mt
from memtheory import approximation as approx
from memtheory.errors import (
    ConvergenceError,
    InvalidArgumentError,
    NotIntegrableError,
    PrecisionError,
)
from memtheory.compile.arith import FLINT, MPMATH
from memtheory.theory.approximation.varpro import (
    FitTarget as _Target,
    VariableProjection as _VarPro,
    cauchy_ldl as _cauchy_ldl,
)

POWER = mt.kernels.power_law(1.5)
EXPDECAY = mt.Kernel("exp(-t)*(1+t)**(-1.5)")
TWOPARTS = mt.kernels.reference("twoparts")
JACK = mt.Kernel("(1+t)*exp(-2*t)")
C1KERNEL = mt.Kernel("exp(-2*t)*(1 + Heaviside(t - 1)*(t - 1)**2)")


# ------------------------------------------------------------------------------------------ independent tools
def _gl_rule(t_max: float = 4000.0, per_decade: int = 60, order: int = 20):
    """Composite Gauss-Legendre nodes/weights on [0, t_max] (geometric panels) plus an algebraic tail map."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.concatenate([[0.0], np.geomspace(1e-4, t_max, int(per_decade * math.log10(t_max / 1e-4)))])
    lo, hi = edges[:-1], edges[1:]
    nodes = ((hi + lo)[:, None] / 2 + (hi - lo)[:, None] / 2 * x[None, :]).ravel()
    weights = ((hi - lo)[:, None] / 2 * w[None, :]).ravel()
    # [t_max, inf): t = t_max / u, dt = t_max / u^2 du, u in (0, 1]
    u = (x + 1) / 2
    nodes_t = t_max / u
    weights_t = w / 2 * t_max / u**2
    return np.concatenate([nodes, nodes_t]), np.concatenate([weights, weights_t])


_NODES, _WEIGHTS = _gl_rule()


def _raw_loss(rho_vals, a, w):
    """``\\int (sum a_i e^{-w_i t} - rho)^2`` by the composite rule (independent of every closed form)."""
    hat = np.exp(-np.multiply.outer(_NODES, np.asarray(w))) @ np.asarray(a)
    return float(np.sum(_WEIGHTS * (hat - rho_vals) ** 2))


def _mp_laplace(f, s, dps=40):
    with mp.workdps(dps):
        return mp.quad(lambda t: f(t) * mp.exp(-s * t), [0, 1, 10, 100, mp.inf])


def _global_search(rho, m, seed=0):
    """Differential evolution over (a, log w) on the raw quadrature loss, polished by Nelder-Mead/BFGS."""
    rv = np.asarray(rho(_NODES), float)

    def f(x):
        return _raw_loss(rv, x[:m], np.exp(x[m:]))

    bounds = [(-3.0, 3.0)] * m + [(math.log(1e-3), math.log(30.0))] * m
    res = differential_evolution(f, bounds, seed=seed, tol=1e-10, maxiter=300, popsize=15, polish=True)
    res2 = minimize(f, res.x, method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 20000})
    best = res2 if res2.fun < res.fun else res
    return best.fun, np.exp(best.x[m:])


# ------------------------------------------------------------------------------------------ Cauchy algebra
@pytest.mark.parametrize("dps", [None, 40])
def test_cauchy_ldl_reconstructs_gram(dps):
    w = [0.03, 0.2, 0.21, 1.5, 7.0]
    if dps:
        with mp.workdps(dps):
            wv = np.array([mp.mpf(x) for x in w], dtype=object)
            Lm, D = _cauchy_ldl(wv)
            G = mp.matrix([[1 / (a + b) for b in wv] for a in wv])
            R = mp.matrix(Lm.tolist()) * mp.diag(list(D)) * mp.matrix(Lm.tolist()).T
            assert mp.mnorm(R - G, 1) < mp.mpf(10) ** (-dps + 3)
    else:
        wv = np.array(w)
        Lm, D = _cauchy_ldl(wv)
        G = 1 / (wv[:, None] + wv[None, :])
        assert np.allclose(Lm @ np.diag(D) @ Lm.T, G, rtol=1e-12, atol=1e-14)


def test_cauchy_condition_matches_numpy():
    w = np.array([0.1, 0.5, 1.3, 4.0, 9.0])
    G = 1 / (w[:, None] + w[None, :])
    cond, log10c = approx.cauchy_condition(w)
    assert cond == pytest.approx(np.linalg.cond(G, 1), rel=1e-6)
    assert log10c == pytest.approx(math.log10(cond), rel=1e-12)


def test_exact_projection_matches_independent_solve():
    w = [0.3, 1.0, 2.5]
    a, loss, dps, digits = approx.exact_projection(POWER, w)
    with mp.workdps(50):
        f = (lambda t: (1 + t) ** mp.mpf(-1.5))
        b = mp.matrix([_mp_laplace(f, mp.mpf(x), 50) for x in w])
        G = mp.matrix([[1 / (mp.mpf(x) + mp.mpf(y)) for y in w] for x in w])
        a_ref = mp.lu_solve(G, b)
        loss_ref = mp.quad(lambda t: (sum(a_ref[i] * mp.exp(-w[i] * t) for i in range(3)) - f(t)) ** 2,
                           [0, 1, 10, 100, mp.inf])
        for x, y in zip(a, a_ref):
            assert abs(x - y) < mp.mpf(10) ** (-(dps - 5)) * abs(y)
        assert abs(loss - loss_ref) < 1e-20 * loss_ref
    assert digits > 20


# ------------------------------------------------------------------------------------------ best sums
@pytest.mark.parametrize("rho", [POWER, EXPDECAY, TWOPARTS], ids=["power", "expdecay", "twoparts"])
@pytest.mark.parametrize("m", [1, 2])
def test_best_sum_is_global_minimum(rho, m):
    fit = approx.best_exponential_sum(rho, m)
    ref_loss, ref_w = _global_search(rho, m)
    rv = np.asarray(rho(_NODES), float)
    ours_raw = _raw_loss(rv, fit.a, fit.w)
    # our loss (closed form, exact) agrees with the raw quadrature of the definition ...
    assert ours_raw == pytest.approx(fit.loss, rel=1e-7, abs=1e-14)
    # ... and no independent global search finds a lower one
    assert fit.loss <= ref_loss * (1 + 1e-7) + 1e-15
    assert np.allclose(np.sort(ref_w), fit.w, rtol=2e-3)


def test_best_sums_improve_and_precision_is_reported():
    fits = approx.best_exponential_sums(POWER, range(1, 11))
    errs = [f.l2_error for f in fits]
    assert all(b < a for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 1e-4
    assert fits[0].dps is None  # float64 suffices at m = 1
    assert fits[-1].dps is not None and fits[-1].dps >= 30  # the loss cancels below float64 resolution
    assert all(f.loss_digits > 8 for f in fits)
    for f in fits:
        assert f.loss == pytest.approx(f.l2_error**2, rel=1e-12)
        assert f.cond == pytest.approx(approx.cauchy_condition(np.array(f.w))[0], rel=1e-9)


def test_high_precision_agrees_with_float64():
    a64 = approx.best_exponential_sum(EXPDECAY, 2)
    a40 = approx.best_exponential_sum(EXPDECAY, 2, dps=40)
    assert a64.dps is None and a40.dps == 40
    assert a40.l2_error == pytest.approx(a64.l2_error, rel=1e-7)
    # the rates of a flat optimum are fixed only to about sqrt(loss noise / curvature): in float64 the noise is
    # the moments' error estimate (the incomplete gamma function's 1e-13 accuracy contract)
    assert np.allclose(a40.w, a64.w, rtol=3e-5)


def test_best_sum_loss_matches_l2_loss_and_gradient_vanishes():
    fit = approx.best_exponential_sum(EXPDECAY, 4)
    res = mt.l2_loss(fit.model, EXPDECAY, gradient=True, dps=50)
    assert float(res.loss) == pytest.approx(fit.loss, rel=1e-8)
    # stationarity: the gradient is tiny relative to its scale sqrt(J) * |a|
    scale = math.sqrt(fit.loss) * max(abs(x) for x in fit.a)
    assert max(abs(float(g)) for g in res.grad) < 1e-5 * scale


def test_variable_projection_gradient_and_hessian_match_finite_differences():
    vp = _VarPro(_Target(POWER), None, 50, auto=False)
    u = np.log(np.array([0.05, 0.3, 1.1, 3.0]))
    st = vp.evaluate(u, True)
    h = 1e-6
    for i in range(4):
        up, um = u.copy(), u.copy()
        up[i] += h
        um[i] -= h
        fd = float((vp.evaluate(up, False).J - vp.evaluate(um, False).J) / (2 * h))
        assert st.g[i] == pytest.approx(fd, rel=1e-8)
    h = 1e-4
    for i, j in [(0, 0), (0, 2), (1, 3), (3, 3)]:
        def J(di, dj):
            uu = u.copy()
            uu[i] += di
            uu[j] += dj
            return vp.evaluate(uu, False).J
        fd = float((J(h, h) - J(h, -h) - J(-h, h) + J(-h, -h)) / (4 * h * h))
        assert st.H[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-12)


def test_min_rate_is_respected_and_costs_accuracy():
    free = approx.best_exponential_sum(mt.kernels.power_law(2.0), 5)
    held = approx.best_exponential_sum(mt.kernels.power_law(2.0), 5, min_rate=0.1)
    assert min(held.w) >= 0.1 * (1 - 1e-15)
    assert held.loss >= free.loss
    assert held.min_rate == 0.1


def test_exactly_representable_kernel():
    fit = approx.best_exponential_sum(mt.kernels.exponential(1.0), 2)
    assert fit.relative_l2_error < 1e-14
    assert any(abs(w - 1.0) < 1e-6 for w in fit.w)


def test_fit_root_exponential_recovers_parameters():
    m = np.arange(2, 20)
    fit = approx.fit_root_exponential(m, 3.0 * np.exp(-4.2 * np.sqrt(m)))
    assert fit.c == pytest.approx(4.2, rel=1e-10)
    assert fit.A == pytest.approx(3.0, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)


@pytest.mark.slow
def test_power_law_keeps_improving_to_m30():
    ms = [1, 2, 3, 4, 5, 6, 10, 15, 20, 25, 30]
    fits = approx.best_exponential_sums(POWER, ms)
    errs = [f.l2_error for f in fits]
    assert all(b < a for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 1e-8
    fit = approx.fit_root_exponential(ms[5:], errs[5:])
    assert 3.0 < fit.c < 5.0 and fit.r2 > 0.99


# ------------------------------------------------------------------------------------------ errors
def _independent_errors(rho, a, w):
    """L1 by scipy quad with the error's sign changes as breakpoints; sup on a dense grid."""
    from scipy import integrate
    from scipy.optimize import brentq

    def e(t):
        return float(rho(np.array([t]))[0]) - float(np.dot(a, np.exp(-np.asarray(w) * t)))

    grid = np.concatenate([np.linspace(0, 50, 20001), np.geomspace(50, 1e7, 4000)])
    vals = np.array([e(t) for t in grid[:20001]] + list(np.asarray(rho(grid[20001:]), float)
                                                         - np.exp(-np.multiply.outer(grid[20001:], w)) @ a))
    roots = [brentq(e, grid[i], grid[i + 1]) for i in range(grid.size - 1) if vals[i] * vals[i + 1] < 0]
    pts = [0.0, *roots]
    l1 = 0.0
    for lo, hi in zip(pts, pts[1:] + [np.inf]):
        l1 += abs(integrate.quad(e, lo, hi, limit=500, epsabs=1e-15, epsrel=1e-11)[0])
    return l1, float(np.max(np.abs(vals)))


def test_errors_of_a_best_sum_match_independent_quadrature():
    fit = approx.best_exponential_sum(EXPDECAY, 3)
    errs = approx.approximation_errors(EXPDECAY, fit)
    l1, sup = _independent_errors(EXPDECAY, np.array(fit.a), np.array(fit.w))
    assert errs.l1 == pytest.approx(l1, rel=1e-7)
    assert errs.sup == pytest.approx(sup, rel=1e-5)
    assert errs.l2 == pytest.approx(fit.l2_error, rel=1e-10)
    assert errs.functional_bound == errs.l1
    assert errs.l1_error_estimate < 1e-8 * errs.l1


def test_mpmath_evaluation_agrees_with_float64():
    fit = approx.best_exponential_sum(POWER, 4)
    e64 = approx.approximation_errors(POWER, fit)
    emp = approx.approximation_errors(POWER, fit, dps=30)
    assert e64.evaluation == "float64" and emp.evaluation == "mpmath dps=30"
    assert emp.l1 == pytest.approx(e64.l1, rel=1e-9)
    assert emp.sup == pytest.approx(e64.sup, rel=1e-9)


@pytest.mark.parametrize("rho", [POWER, EXPDECAY, TWOPARTS], ids=["power", "expdecay", "twoparts"])
def test_flint_and_mpmath_evaluations_agree(rho):
    """The variable projection at 40 digits on Arb balls and on mpmath: the same loss, gradient and Hessian (one
    algorithm, two arithmetics), the loss to the digits of its rounding estimate."""
    u = np.log(np.array([0.05, 0.4, 1.7, 6.0]))
    states = [_VarPro(_Target(rho), None, 40, auto=False, arith=ar).evaluate(u, True) for ar in (FLINT, MPMATH)]
    (fl, mpm) = states
    with FLINT.workdps(50):  # converted at the working precision (outside it an mpf would be rounded to 53 bits)
        J_f, J_m, err_f = FLINT.to_mpf(fl.J), mpm.J, FLINT.to_mpf(fl.J_err)
        assert abs(J_f - J_m) <= 4 * (err_f + mpm.J_err)
        assert abs(J_f - J_m) <= mp.mpf(10) ** -30 * abs(J_m)
    np.testing.assert_allclose(fl.g, mpm.g, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(fl.H, mpm.H, rtol=1e-10, atol=1e-12 * np.abs(mpm.H).max())


def test_clustered_rates_are_evaluated_stably():
    """Rates piling up at a margin carry huge coefficients; the Taylor form must match mpmath."""
    from memtheory.theory.approximation.constructions import _ExpSum

    fit = approx.best_exponential_sum(mt.kernels.power_law(2.0), 8, min_rate=0.1)
    assert max(abs(x) for x in fit.a) > 1e6  # the cluster really is ill-conditioned
    form = _ExpSum(fit.a, fit.w, fit.a_exact)
    t = np.array([0.0, 0.7, 5.0, 40.0, 300.0])
    v, rnd = form.values(t)
    ref = np.array([float(x) for x in form.values_mp(t, 80)])
    assert np.all(np.abs(v - ref) <= 1e-14 + rnd)


# ------------------------------------------------------------------------------------------ universal
def test_universal_projection_and_monotone_errors():
    ms = [1, 2, 4, 6]
    cons = [approx.universal(JACK, m) for m in ms]
    l2 = [c.errors.l2 for c in cons]
    assert all(b <= a for a, b in zip(l2, l2[1:]))
    c4 = cons[2]
    assert c4.w == (1.0, 2.0, 3.0, 4.0)
    # independent: normal equations by quadrature of the definitions, solved by mpmath LU
    with mp.workdps(40):
        f = (lambda t: (1 + t) * mp.exp(-2 * t))
        G = mp.matrix([[mp.mpf(1) / (i + j) for j in range(1, 5)] for i in range(1, 5)])
        b = mp.matrix([_mp_laplace(f, mp.mpf(i)) for i in range(1, 5)])
        a_ref = mp.lu_solve(G, b)
        assert all(abs(mp.mpf(x) - y) < 1e-25 for x, y in zip(c4.a_exact, a_ref))
    # the stable Chebyshev evaluation is the same function as the monomial sum
    t = np.linspace(0, 5, 11)
    assert np.allclose(c4(t), c4.model.kernel(t), atol=1e-13)


def test_universal_is_exact_when_the_kernel_is_in_the_span():
    c = approx.universal(mt.Kernel("exp(-t) - 2*exp(-3*t)"), 3)
    assert c.errors.l2 < 1e-14
    assert np.allclose(c.a, [1.0, 0.0, -2.0], atol=1e-12)


# ------------------------------------------------------------------------------------------ Jackson
def test_gamma_closed_form_jackson_kernel():
    jb = approx.jackson_bound(JACK, alpha=1, beta=1.0)
    # sup (1+t) e^{-t} = 1 at t = 0;  sup (1+2t) e^{-t} = 2 e^{-1/2} at t = 1/2
    assert jb.gamma_by_k[0] == pytest.approx(1.0, rel=1e-12)
    assert jb.gamma == pytest.approx(2 * math.exp(-0.5), rel=1e-12)
    assert jb.argmax_t == pytest.approx(0.5, abs=1e-8)
    assert jb.argmax_k == 2
    assert jb.hypotheses_hold


@pytest.mark.parametrize("lam,beta,alpha", [(3.0, 1.0, 1), (3.0, 2.0, 2), (0.7, 0.5, 2)])
def test_gamma_closed_form_exponential(lam, beta, alpha):
    jb = approx.jackson_bound(mt.kernels.exponential(lam), alpha=alpha, beta=beta)
    # y^(k) = (-lam)^(k-1) e^{-lam t}: sup at t = 0 equals lam^(k-1) / beta^k
    expected = [lam ** (k - 1) / beta**k for k in range(1, alpha + 2)]
    assert np.allclose(jb.gamma_by_k, expected, rtol=1e-12)
    assert jb.gamma == pytest.approx(max(expected), rel=1e-12)
    assert jb.argmax_t == pytest.approx(0.0, abs=1e-9)


def test_hypotheses_fail_where_they_should():
    assert not approx.jackson_bound(POWER, 1, 0.5).hypotheses_hold
    assert math.isinf(approx.jackson_bound(POWER, 1, 0.5).gamma)
    assert not approx.jackson_bound(mt.kernels.exponential(1.0), 1, 1.5).hypotheses_hold
    assert approx.jackson_bound(C1KERNEL, 1, 1.0).hypotheses_hold
    bad = approx.jackson_bound(C1KERNEL, 2, 1.0)
    assert not bad.hypotheses_hold and "t = 1" in bad.violations[0]


def test_jackson_bound_expression():
    jb = approx.jackson_bound(JACK, 1, 1.0)
    assert "C_{1}" in jb.latex() and "m" in jb.latex()
    assert jb.value(4, C=2.0) == pytest.approx(2.0 * jb.gamma / 4)
    assert str(approx.JacksonBound.symbolic()) == "d*gamma*C(alpha)/(beta*m**alpha)"


def test_jackson_construction_interpolates_and_meets_the_rate():
    m = 6
    c = approx.jackson(JACK, m, alpha=1, beta=1.0)
    assert c.w == tuple(0.5 * j for j in range(1, m + 1))
    # interpolation at the Chebyshev points of the first kind in s = e^{-t/2}
    s = (1 + np.cos((2 * np.arange(m) + 1) * np.pi / (2 * m))) / 2
    t = -2 * np.log(s)
    assert np.allclose(c(t), JACK(t), rtol=1e-12, atol=1e-15)
    # errors fall at least as fast as the bound m^-alpha: err(m) * m stays bounded and decreasing
    errs = [approx.jackson(JACK, mm, 1, 1.0).errors.l1 * mm for mm in (4, 8, 16)]
    assert errs[0] > errs[1] > errs[2]
    errs_c1 = [approx.jackson(C1KERNEL, mm, 1, 1.0).errors.l1 * mm for mm in (4, 8, 16, 32)]
    assert all(b < a for a, b in zip(errs_c1, errs_c1[1:]))


def test_jackson_empirical_constant():
    jb = approx.jackson_bound(JACK, 1, 1.0, ms=[2, 4, 8])
    assert [r["m"] for r in jb.table] == [2, 4, 8]
    assert jb.c_empirical == pytest.approx(max(r["l1"] * r["m"] / jb.gamma for r in jb.table))


def test_jackson_projection_method_is_universal_with_scale():
    c = approx.jackson(JACK, 4, 1, 1.0, method="projection")
    u = approx.universal(JACK, 4, scale=0.5)
    assert c.errors.l2 == pytest.approx(u.errors.l2, rel=1e-12)
    assert c.errors.l2 <= approx.jackson(JACK, 4, 1, 1.0).errors.l2


# ------------------------------------------------------------------------------------------ widths, margins
def test_width_needed_l2_is_minimal():
    rho = mt.kernels.power_law(2.0)
    res = approx.width_needed(rho, 1e-3, norm="L2")
    fits = approx.best_exponential_sums(rho, [res.m - 1, res.m])
    assert fits[1].l2_error <= 1e-3 < fits[0].l2_error
    assert res.error == fits[1].l2_error


def test_width_needed_l1_uses_l1_errors():
    res = approx.width_needed(mt.kernels.power_law(3.0), 1e-2, norm="L1")
    fit = approx.best_exponential_sum(mt.kernels.power_law(3.0), res.m)
    assert approx.approximation_errors(mt.kernels.power_law(3.0), fit).l1 == pytest.approx(res.error)


def test_width_needed_unreachable_raises():
    with pytest.raises(ConvergenceError, match="not reached"):
        approx.width_needed(mt.kernels.power_law(2.0), 1e-9, norm="L2", m_max=3)


def test_width_sweep_rows():
    sw = approx.width_sweep([1.0], [1e-2, 1e-3], norm="L2")
    assert [r["m"] for r in sw.rows] == [3, 5]
    assert sw.exponents[1.0]["law_p"] == 1.0
    json.dumps(sw.to_dict())


def test_stability_margins_power_law_vs_exponential():
    slow = approx.stability_margins(POWER, [2, 4, 6, 8])
    assert all(b < a for a, b in zip(slow.margins, slow.margins[1:]))
    assert slow.margins[-1] < 1e-2 * slow.margins[0]
    assert slow.fit["sqrt_m"]["slope"] < -2
    fast = approx.stability_margins(EXPDECAY, [2, 4, 6])
    assert min(fast.margins) > 0.5


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_is_refused():
    with pytest.raises(NotIntegrableError):
        approx.best_exponential_sum(mt.kernels.sine(), 2)
    with pytest.raises(NotIntegrableError):
        approx.best_exponential_sum(mt.Kernel("(1+t)**(-0.4)"), 2)
    with pytest.raises(InvalidArgumentError, match="m must be"):
        approx.best_exponential_sum(POWER, 0)
    with pytest.raises(InvalidArgumentError, match="norm"):
        approx.best_exponential_sum(POWER, 2, norm="L1")
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e13):
        with pytest.raises(InvalidArgumentError, match="min_rate"):
            approx.best_exponential_sum(POWER, 2, min_rate=bad)
    with pytest.raises(InvalidArgumentError, match="alpha"):
        approx.jackson(JACK, 4, 0, 1.0)
    with pytest.raises(InvalidArgumentError, match="beta"):
        approx.jackson(JACK, 4, 1, 0.0)
    with pytest.raises(InvalidArgumentError, match="beta"):
        approx.jackson_bound(JACK, 1, -1.0)
    with pytest.raises(InvalidArgumentError, match="m must be"):
        approx.universal(JACK, 0)
    with pytest.raises(InvalidArgumentError, match="eps"):
        approx.width_needed(POWER, 0.0)
    with pytest.raises(InvalidArgumentError, match="norm"):
        approx.width_needed(POWER, 1e-2, norm="L3")
    with pytest.raises(NotIntegrableError):
        approx.approximation_errors(mt.Kernel("(1+t)**(-0.8)"), mt.DiagonalRNN([1.0], [1.0]))


def test_too_few_digits_raise_precision_error():
    with pytest.raises(PrecisionError, match="dps"):
        approx.best_exponential_sum(POWER, 9, dps=15)


def test_results_serialise_to_json():
    fit = approx.best_exponential_sum(POWER, 3)
    d = fit.to_dict()
    assert set(["m", "loss", "l2_error", "a", "w", "cond", "dps"]) <= set(d)
    json.dumps(d)
    json.dumps(approx.jackson(JACK, 3, 1, 1.0).to_dict())
    json.dumps(approx.jackson_bound(POWER, 1, 0.5).to_dict())
    json.dumps(approx.stability_margins(POWER, [1, 2, 3]).to_dict())
