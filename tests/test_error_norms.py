"""The paper's error norms (memtheory.theory.error_norms, perturbation_error(norm="sup" / "w1")).

Exact norms of linear models are checked against an mpmath quadrature of the definitions (``||e||_1``,
``|e(0)| + ||e'||_1`` with ``e = rho - rho_hat``, split at sign changes found by an independent scan), and against
the sampled norms on the worst-case inputs of the definition (``x(t - s) = sign e(s)`` and ``sign e'(s)``), whose
values differ from the exact ones only by the Riemann-sum error of the time grid.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import memtheory as mt
from memtheory.errors import InvalidArgumentError, NotHurwitzError
from memtheory.theory.error_norms import linear_error_norm, sampled_error_norm
from memtheory.theory.stability import perturbation_error

MODEL = mt.DiagonalRNN([0.8, -0.3], [0.5, 2.0])  # e(0) = rho(0) - 0.5, one sign change for the targets below


def _mp_targets():
    return {
        "exp": (mt.kernels.exponential(0.7), lambda t: mp.exp(-mp.mpf(7) / 10 * t),
                lambda t: -mp.mpf(7) / 10 * mp.exp(-mp.mpf(7) / 10 * t)),
        "pol": (mt.kernels.power_law(1.1), lambda t: (1 + t) ** (-mp.mpf(11) / 10),
                lambda t: -mp.mpf(11) / 10 * (1 + t) ** (-mp.mpf(21) / 10)),
    }


def _mp_l1(f, stop: int = 40, per_unit: int = 50, tail: bool = True) -> mp.mpf:
    """int_0^inf |f| by mpmath, split at the sign changes of a uniform scan of [0, stop] (``per_unit`` points per
    unit of t, refined by bisection); with ``tail``, plus the tail past ``stop``, of one sign (else: negligible)."""
    grid = [mp.mpf(k) / per_unit for k in range(0, stop * per_unit + 1)]
    pts = [mp.mpf(0)]
    vals = [f(x) for x in grid]
    for i in range(len(grid) - 1):
        if vals[i] * vals[i + 1] < 0:
            lo, hi = grid[i], grid[i + 1]
            for _ in range(110):  # bisection to ~1e-33
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if f(mid) * vals[i] > 0 else (lo, mid)
            pts.append((lo + hi) / 2)
    pts += [mp.mpf(stop)]
    total = mp.fsum(abs(mp.quad(f, [a, b])) for a, b in zip(pts[:-1], pts[1:]))
    if not tail:
        return total
    # the tail past stop (of one sign for these targets) as int f(stop e^u) stop e^u du, where a power-law tail
    # decays exponentially; past u = 700 (t = 1e306) less than 1e-29 of (1 + t)^-1.1 remains
    rest = mp.quad(lambda u: f(stop * mp.exp(u)) * stop * mp.exp(u), [0, 10, 100, 700])
    return total + abs(rest)


@pytest.mark.parametrize("name", ["exp", "pol"])
def test_exact_norms_match_an_mpmath_quadrature_of_the_definition(name):
    rho, rho_mp, drho_mp = _mp_targets()[name]
    a = [mp.mpf(8) / 10, -mp.mpf(3) / 10]
    w = [mp.mpf(1) / 2, mp.mpf(2)]
    with mp.workdps(30):
        e = lambda t: rho_mp(t) - mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(a, w))  # noqa: E731
        de = lambda t: drho_mp(t) + mp.fsum(ai * wi * mp.exp(-wi * t) for ai, wi in zip(a, w))  # noqa: E731
        sup_ref = _mp_l1(e)
        w1_ref = sup_ref + abs(e(mp.mpf(0))) + _mp_l1(de)
    sup = linear_error_norm(MODEL, rho, "sup")
    w1 = linear_error_norm(MODEL, rho, "w1")
    assert abs(sup.value - float(sup_ref)) <= 1e-10 * float(sup_ref)
    assert abs(w1.value - float(w1_ref)) <= 1e-10 * float(w1_ref)
    assert sup.error <= 1e-8 * sup.value and w1.error <= 1e-8 * w1.value
    # the same through a LinearRNN (modal form) and through perturbation_error at beta = 0
    assert linear_error_norm(MODEL.to_linear(), rho, "sup").value == pytest.approx(sup.value, rel=1e-10)
    res = perturbation_error(MODEL, rho, [0.0], norm="w1")
    assert res.errors[0] == pytest.approx(w1.value, rel=1e-12)
    assert res.details["evaluation"].startswith("exact")


def test_zero_model_error_is_the_norm_of_the_target():
    rho = mt.kernels.exponential(0.7)  # ||rho||_1 = 1/0.7, rho(0) = 1, ||rho'||_1 = 1
    assert perturbation_error(MODEL, rho, [0.0], norm="sup").trivial_error == pytest.approx(1 / 0.7, rel=1e-12)
    assert perturbation_error(MODEL, rho, [0.0], norm="w1").trivial_error == pytest.approx(1 / 0.7 + 2, rel=1e-12)


def _worst_case_data(rho: mt.Kernel, dt: float, T: int):
    """Inputs reaching the definition's suprema at the last step, targets by a direct sum (quadrature rule)."""
    s = dt * np.arange(T)
    g = rho(s) - MODEL.kernel(s)
    dg = np.diff(g, prepend=0.0)
    x = np.stack([np.sign(g)[::-1], np.sign(dg)[::-1]])
    x[x == 0] = 1.0
    y = np.stack([dt * np.convolve(seq, rho(s))[:T] for seq in x])
    return x, y, g


def test_sampled_norms_agree_with_exact_ones_within_the_time_grid_error():
    rho = mt.kernels.exponential(0.7)
    dt, T = 0.01, 6000  # horizon 60: the slowest rate 0.5 leaves e^{-30} of the tail
    x, y, g = _worst_case_data(rho, dt, T)
    exact_sup = linear_error_norm(MODEL, rho, "sup").value
    exact_w1 = linear_error_norm(MODEL, rho, "w1").value
    kw = dict(test_data=(x, y), dt=dt, convention="quadrature")
    sup = perturbation_error(MODEL, rho, [0.0], norm="sup", **kw)
    w1 = perturbation_error(MODEL, rho, [0.0], norm="w1", **kw)
    assert sup.details["evaluation"].startswith("sampled")
    # left Riemann sums of |e| and of the variation of e: error <= dt * (variation of |e|) <= dt * w1, and > 0
    assert abs(sup.errors[0] - exact_sup) <= dt * exact_w1
    assert abs(w1.errors[0] - exact_w1) <= 2 * dt * exact_w1
    assert sup.errors[0] == pytest.approx(dt * np.sum(np.abs(g)), rel=1e-9)
    assert abs(w1.errors[0] - exact_w1) > 0  # a sampled, not an exact, value
    # random (non worst-case) inputs of the unit ball only bound the norm from below
    data = mt.training.lf_dataset(rho, 50, T, dt, seed=2, convention="quadrature")  # rescaled to |x|_inf = 1
    rnd = perturbation_error(MODEL, rho, [0.0], norm="sup", test_data=data, dt=dt, convention="quadrature")
    assert rnd.errors[0] < exact_sup


def test_sampled_norm_formulas_by_direct_loops():
    rng = np.random.default_rng(3)
    out, y, dt = rng.standard_normal((4, 9)), rng.standard_normal((4, 9)), 0.3
    e = out - y
    sup = max(abs(e[n, k]) for n in range(4) for k in range(9))
    w1 = max(max(abs(e[n, k]) for n in range(4)) + max(abs(e[n, k] - (e[n, k - 1] if k else 0.0)) / dt
                                                         for n in range(4)) for k in range(9))
    assert sampled_error_norm(out, y, dt, "sup") == sup
    assert sampled_error_norm(out, y, dt, "w1") == pytest.approx(w1, rel=1e-15)
    out[0, 3] = np.nan
    assert sampled_error_norm(out, y, dt, "sup") == math.inf


def test_unstable_candidates_and_nonlinear_models():
    rho = mt.kernels.exponential(0.7)
    res = perturbation_error(MODEL, rho, [0.0, 0.6], repeats=2, norm="sup")
    assert res.errors[-1] == math.inf  # the shift W + 0.6 I makes the rate 0.5 unstable
    with pytest.raises(NotHurwitzError):
        linear_error_norm(mt.LinearRNN([[0.1]], [[1.0]], [1.0]), rho, "sup")
    net = mt.NonlinearRNN.random(1, 4, seed=0)
    r = perturbation_error(net, rho, [0.0, 1e-3], repeats=2, norm="w1", n_test=20, T=30)
    assert r.details["evaluation"].startswith("sampled") and np.all(np.isfinite(r.errors))
    x, y = mt.training.lf_dataset(rho, 20, 30, seed=1).x, None
    peak = np.max(np.abs(x), axis=(1, 2))
    xs = x / peak[:, None, None]
    direct = sampled_error_norm(net.forward(xs), mt.training.lf_dataset(rho, 20, 30, seed=1).y / peak[:, None],
                                net.dt, "w1")
    r1 = perturbation_error(net, rho, [0.0], norm="w1", n_test=20, T=30, test_seed=1)
    assert r1.errors[0] == pytest.approx(direct, rel=1e-12)  # generated data: each sequence rescaled to |x| = 1


def test_bad_input_gives_clear_errors():
    rho = mt.kernels.exponential(0.7)
    with pytest.raises(InvalidArgumentError, match="norm: unknown 'W1'"):
        perturbation_error(MODEL, rho, [0.0], norm="W1")
    with pytest.raises(InvalidArgumentError, match="norm: unknown 'l1'"):
        linear_error_norm(MODEL, rho, "l1")
    with pytest.raises(InvalidArgumentError, match="differentiable kernel"):
        linear_error_norm(MODEL, mt.kernels.reference("shift"), "w1")
    x = np.full((2, 5), 2.0)
    with pytest.raises(InvalidArgumentError, match=r"\|x\|_inf <= 1"):
        perturbation_error(MODEL, rho, [0.0], norm="sup", test_data=(x, np.zeros((2, 5))))
    with pytest.raises(InvalidArgumentError, match="time_weights"):
        perturbation_error(MODEL, rho, [0.0], norm="sup", time_weights=np.ones(100))
    with pytest.raises(InvalidArgumentError, match="same shape|one shape"):
        sampled_error_norm(np.zeros((2, 3)), np.zeros((3, 2)), 1.0)


def test_lags_give_the_exact_norm_of_the_discrete_functional():
    rho = mt.kernels.power_law(1.1)
    lags = np.arange(1, 101)
    direct = math.fsum(abs((1 + t) ** -1.1 - (0.8 * math.exp(-0.5 * t) - 0.3 * math.exp(-2.0 * t))) for t in lags)
    assert linear_error_norm(MODEL, rho, "sup", lags=lags).value == pytest.approx(direct, rel=1e-13)
    res = perturbation_error(MODEL, rho, [0.0, 1e-3], repeats=2, norm="sup", lags=lags)
    assert res.errors[0] == pytest.approx(direct, rel=1e-13)
    assert res.trivial_error == pytest.approx(math.fsum((1 + t) ** -1.1 for t in lags), rel=1e-13)
    with pytest.raises(InvalidArgumentError, match="lags"):
        linear_error_norm(MODEL, rho, "w1", lags=lags)
    with pytest.raises(InvalidArgumentError, match="lags"):
        perturbation_error(MODEL, rho, [0.0], norm="l2", lags=lags)


def test_iat_fig1_paper_quick_states_its_settings_and_passes():
    from proofs_checks import iat_fig1_paper

    res = iat_fig1_paper.run(quick=True)
    assert res.passed, res.details
    settings = res.measured["settings"]
    assert settings["widths"] == [2, 4, 8] and settings["repeats"] == 3 and "t = 1..100" in settings["norm"]
    # the least-squares fit is exact for 0.9^t: a_1 = 1, the rest 0 (to rounding)
    model = iat_fig1_paper.least_squares(lambda t: (mp.mpf(9) / 10) ** t, 4)
    np.testing.assert_allclose(model.a, [1.0, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(model.w, math.log(10 / 9) * np.arange(1, 5), rtol=1e-15)


def test_oscillating_error_kernel_is_split_at_every_sign_change():
    """A damped cosine target: the error kernel changes sign every third of a period, well past where the log grid
    resolves its roots (t ~ 130). Those pieces used to exhaust the adaptive rule (PrecisionError); they are now
    resampled uniformly and split at the sign changes found there."""
    rho = mt.Kernel("exp(-t/10)*cos(3*t)")
    model = mt.DiagonalRNN([1.0], [1.0])
    with mp.workdps(20):
        e = lambda t: mp.exp(-t / 10) * mp.cos(3 * t) - mp.exp(-t)  # noqa: E731
        de = lambda t: -mp.exp(-t / 10) * (mp.cos(3 * t) / 10 + 3 * mp.sin(3 * t)) + mp.exp(-t)  # noqa: E731
        sup_ref = _mp_l1(e, 450, 24, tail=False)  # |e| < e^-45 past 450: below 1e-19 of the norm
        w1_ref = sup_ref + abs(e(mp.mpf(0))) + _mp_l1(de, 450, 24, tail=False)
    sup = linear_error_norm(model, rho, "sup")
    w1 = linear_error_norm(model, rho, "w1")
    for got, ref in ((sup, sup_ref), (w1, w1_ref)):
        assert abs(got.value - float(ref)) <= got.error + 1e-13 * float(ref)  # the stated error bounds the error
        assert got.error <= 1e-8 * got.value


def test_an_oscillating_power_law_tail_raises_instead_of_a_guess():
    """(1 + t)^-1.5 cos t: its L1 tail past the last breakpoint oscillates with a power-law envelope, which the
    tail quadrature cannot integrate to 1e-8; the answer is a PrecisionError, not a number."""
    from memtheory.errors import PrecisionError

    with pytest.raises(PrecisionError, match="L1 quadrature"):
        linear_error_norm(mt.DiagonalRNN([1.0], [1.0]), mt.Kernel("(1+t)**(-3/2)*cos(t)"), "sup")


@pytest.mark.parametrize("p", ["101/100", "501/500"])
def test_a_slow_power_law_tail_is_followed_past_double_range(p):
    """(1 + t)^-p against 0.5 e^-t: the error is positive and decreasing, so ``||e||_1 = 1/(p - 1) - 1/2``,
    ``|e(0)| = ||e'||_1 = 1/2`` exactly. For p = 1.01 the part past t = 1e304 (0.09 of 99.5) used to be dropped
    while the error estimate said 7e-11."""
    q = float(sp.Rational(p))
    rho = mt.Kernel(f"(t+1)**(-{p})")
    model = mt.DiagonalRNN([0.5], [1.0])
    exact_sup = 1.0 / (q - 1.0) - 0.5
    for norm, exact in (("sup", exact_sup), ("w1", exact_sup + 1.0)):
        got = linear_error_norm(model, rho, norm)
        assert abs(got.value - exact) <= got.error + 1e-13 * exact, (norm, got, exact)
        assert got.error <= 1e-8 * exact


def test_a_damped_oscillation_whose_tail_is_tiny_but_not_zero_in_double():
    """e^{-t/20} |sin 3t| has the closed form ``3 / (1/400 + 9) coth(pi / 120)``; its tail past t = 1e4 (about
    1e-216, not 0 in double precision) used to exhaust the tail quadrature, which asked for 1e-12 of a number
    that does not matter."""
    a, b = mp.mpf(1) / 20, mp.mpf(3)
    exact = float(b / (a**2 + b**2) * mp.coth(a * mp.pi / (2 * b)))
    got = linear_error_norm(mt.DiagonalRNN([0.0], [1.0]), mt.Kernel("exp(-t/20)*sin(3*t)"), "sup")
    assert abs(got.value - exact) <= got.error + 1e-13 * exact and got.error <= 1e-8 * exact


@pytest.mark.parametrize("expr", ["(t+1)**(-1)", "(t+1)**(-1/2)", "1"])
def test_a_target_that_is_not_integrable_raises_instead_of_a_finite_norm(expr):
    """Its functional is unbounded on ||x||_inf <= 1; the quadrature used to return 708.7, 1.6e38 and 1.3e74."""
    from memtheory.errors import NotIntegrableError

    rho = mt.Kernel(expr)
    for norm in ("sup", "w1"):
        with pytest.raises(NotIntegrableError, match="not integrable"):
            linear_error_norm(MODEL, rho, norm)
    with pytest.raises(NotIntegrableError):
        perturbation_error(MODEL, rho, [0.0, 1e-3], norm="sup")


def test_a_kernel_singular_at_zero_has_a_finite_sup_norm_and_no_w1_norm():
    from memtheory.errors import NotIntegrableError

    rho = mt.Kernel("t**(-1/2)*exp(-t)")  # ||rho||_1 = Gamma(1/2) = sqrt(pi); the zero model's error is rho
    got = linear_error_norm(mt.DiagonalRNN([0.0], [1.0]), rho, "sup")
    assert abs(got.value - math.sqrt(math.pi)) <= got.error + 1e-13
    with pytest.raises(NotIntegrableError, match="not integrable|t = 0"):
        linear_error_norm(MODEL, rho, "w1")


@pytest.mark.parametrize("rtol", [float("nan"), -1.0, 0.0, 1e-14, 1.0, "a", True, None])
def test_rtol_outside_what_double_precision_can_promise_is_refused(rtol):
    with pytest.raises(InvalidArgumentError, match="rtol"):
        linear_error_norm(MODEL, mt.kernels.exponential(0.7), "sup", rtol=rtol)


@pytest.mark.parametrize("rtol", [1e-13, 1e-4])
def test_rtol_is_what_the_stated_error_meets(rtol):
    """The pieces' tolerances follow rtol: 1e-13 is reached (it used to fail at the pieces' fixed 1e-12), and a
    loose rtol still gives an error estimate that bounds the error."""
    rho = mt.Kernel("exp(-t/20)*sin(3*t)")
    a, b = mp.mpf(1) / 20, mp.mpf(3)
    exact = float(b / (a**2 + b**2) * mp.coth(a * mp.pi / (2 * b)))
    got = linear_error_norm(mt.DiagonalRNN([0.0], [1.0]), rho, "sup", rtol=rtol)
    assert abs(got.value - exact) <= got.error + 2e-15 * exact and got.error <= rtol * exact


def test_lags_that_are_not_numbers_are_refused():
    with pytest.raises(InvalidArgumentError, match="lags"):
        linear_error_norm(MODEL, mt.kernels.exponential(0.7), "sup", lags="abc")


def test_a_slow_tail_no_envelope_rule_covers_is_estimated_from_its_decay_rate():
    """log(2 + t) (1 + t)^-1.05: no proven envelope covers log, so the rest of the tail is estimated from the local
    decay rate in log time. Exact: with s = 1 + t, 1/(p - 1)^2 + int_1^inf ln(1 + 1/s) s^-p ds = 400.7796...
    (mpmath's own quadrature of the integrand on [0, inf) gives 259.4: the slow tail defeats it)."""
    p = mp.mpf(21) / 20
    with mp.workdps(30):
        exact = float(1 / (p - 1) ** 2 + mp.quad(lambda s: mp.log(1 + 1 / s) * s ** (-p), [1, 10, 100, 1e4, mp.inf]))
    got = linear_error_norm(mt.DiagonalRNN([0.0], [1.0]), mt.Kernel("log(2 + t)*(1 + t)**(-21/20)"), "sup")
    assert abs(got.value - exact) <= got.error + 1e-13 * exact and got.error <= 1e-8 * exact
