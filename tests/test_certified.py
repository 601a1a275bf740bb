"""Certified mode (Arb ball arithmetic): every enclosure must contain an independent reference.

References are mpmath quadratures of the definitions at 70 digits (Laplace moments, ||rho||^2, the loss), the
mpmath closed-form loss at 90 digits (gradient, Hessian) and the closed form ``gamma = 2 e^{-1/2}`` of the
Jackson constant. The kernels: a power law plus an exponential, a Gaussian bump at lag 1/omega = 500, an Airy
kernel (no closed form: Arb's rigorous quadrature plus a certified tail bound) and a window (a Heaviside
difference).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath as mp
import pytest
import sympy as sp
from flint import arb

import memtheory as mt
from memtheory.certified import Enclosure, certified_sup, decimal_bound, half_line_integral, tail_integral_bound
from memtheory.cli import main
from memtheory.compile import arb as arb_backend
from memtheory.compile.codegen import mpmath_function
from memtheory.errors import CertificationError, InvalidArgumentError
from memtheory.kernels import families
from memtheory.losses import certified_l2_loss
from memtheory.symbolic.parse import symbol

T = symbol("t")

KERNELS = {
    "power law + exp": (mt.Kernel("(1 + t)**(-3/2) + exp(-2*t/5)"), [0, 2, 6, 20, 60]),
    "bump at 500": (mt.Kernel("exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))", omega="0.002", sigma="0.7"),
                    [0, 480, 495, 500, 505, 520]),
    "airy": (families.airy(6.0, 1.0), [0, 2, 4, 6, 8, 12, 20]),
    "window": (families.window(1, 3), [0, 1, 3]),
}
CLOSED_FORM = ("power law + exp", "bump at 500", "window")
S_POINTS = [Fraction(1, 2), Fraction(3, 10), Fraction(2)]


def quad_laplace(rho, k, s, pts, dps=70):
    """mpmath quadrature of int_0^inf t^k rho(t) e^{-st} dt (the definition), at ``dps`` digits."""
    f = mpmath_function([T], rho.substituted())
    with mp.workdps(dps):
        sv = mp.mpf(s.numerator) / s.denominator
        return mp.quad(lambda t: t**k * f(t) * mp.exp(-sv * t), [*[mp.mpf(p) for p in pts], mp.inf])


def check_laplace(name, moments, s_points, ref_dps):
    rho, pts = KERNELS[name]
    for k in moments:
        encs = rho.laplace([str(s) for s in s_points], moment=k, dps=50, certified=True)
        for s, enc in zip(s_points, encs):
            ref = quad_laplace(rho, k, s, pts, dps=ref_dps)
            with mp.workdps(ref_dps):
                assert enc.contains(ref), (name, k, s, enc, ref)
            # at dps 50: closed forms narrower than 1e-40 relative; the quadrature of the Airy kernel too
            assert enc.rel_width < 1e-40, (name, k, s, enc.rel_width)


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_laplace_enclosures_contain_quadrature(name):
    check_laplace(name, (0, 1, 2), S_POINTS, 70)


def test_laplace_enclosure_of_airy_kernel_contains_quadrature():
    # mpmath's Airy quadrature at 60 digits takes ~10 s per point: one moment here, all in the slow test
    check_laplace("airy", (1,), S_POINTS[:1], 60)


@pytest.mark.slow
def test_laplace_enclosures_of_airy_kernel_contain_quadrature_all_moments():
    check_laplace("airy", (0, 1, 2), S_POINTS, 70)


@pytest.mark.parametrize("name", CLOSED_FORM + (pytest.param("airy", marks=pytest.mark.slow),))
def test_square_integral_enclosure_contains_quadrature(name):
    rho, pts = KERNELS[name]
    enc = rho.square_integral(dps=40, certified=True)
    f = mpmath_function([T], rho.substituted())
    with mp.workdps(60):
        ref = mp.quad(lambda t: f(t) ** 2, [*[mp.mpf(p) for p in pts], mp.inf])
        assert enc.contains(ref), (name, enc, ref)
    assert enc.rel_width < 1e-30


def test_float_inputs_are_exact_binary_values():
    rho = mt.Kernel("exp(-t)")  # L = 1/(s + 1): the two enclosures must separate 0.3 from float(0.3)
    dec, = rho.laplace(["0.3"], dps=40, certified=True)
    flt, = rho.laplace([0.3], dps=40, certified=True)
    assert dec.contains(Fraction(10, 13)) and not flt.contains(Fraction(10, 13))
    exact_flt = 1 / (Fraction(*(0.3).as_integer_ratio()) + 1)
    assert flt.contains(exact_flt) and not dec.contains(exact_flt)
    assert dec.contains("10/13") and dec.contains(sp.Rational(10, 13)) and not dec.contains(0.3)


# 44 s without the Airy kernel: slow; the CLI certified loss (enclosure against the float path) stays in the default suite
@pytest.mark.slow
@pytest.mark.parametrize("with_airy", [False, True])
def test_certified_loss_gradient_hessian_contain_references(with_airy):
    rho = KERNELS["bump at 500"][0] + (families.airy(6.0, 1.0) if with_airy else mt.Kernel("(1 + t)**(-3/2)"))
    a, w = [0.7, -0.2, 0.4], [0.3, 1.1, 2.5]
    res = certified_l2_loss(a, w, rho, gradient=True, hessian=True, dps=40)
    ref = mt.l2_loss(mt.DiagonalRNN(a, w), rho, gradient=True, hessian=True, dps=90)
    with mp.workdps(90):
        assert res.loss.contains(ref.loss)
        assert all(e.contains(g) for e, g in zip(res.grad, ref.grad))
        assert all(e.contains(h) for row, rrow in zip(res.hess, ref.hess) for e, h in zip(row, rrow))
    # and against quadrature of the definition int (rho_hat - rho)^2
    f = mpmath_function([T], rho.substituted())
    with mp.workdps(60):
        am, wm = [mp.mpf(x) for x in a], [mp.mpf(x) for x in w]
        quad = mp.quad(lambda t: (sum(ai * mp.exp(-wi * t) for ai, wi in zip(am, wm)) - f(t)) ** 2,
                       [0, 1, 2, 3, 4, 6, 8, 12, 20, 480, 495, 500, 505, 520, mp.inf])
        assert res.loss.contains(quad)
    assert res.loss.rel_width < 1e-30
    # the model path: l2_loss(certified=True) reads the model's (binary) values exactly
    via_model = mt.l2_loss(mt.DiagonalRNN(a, w), rho, gradient=True, dps=40, certified=True)
    assert via_model.loss.ball.overlaps(res.loss.ball)
    assert set(via_model.to_dict()) == {"loss", "grad_a", "grad_w", "dps"}


def test_jackson_gamma_enclosure_contains_closed_form():
    jb = mt.approximation.jackson_bound(mt.Kernel("(1+t)*exp(-2*t)"), alpha=1, beta=1.0, certified=True)
    gamma = jb.certified["gamma"]
    with mp.workdps(40):
        assert gamma.contains(2 * mp.exp(-mp.mpf(1) / 2))
    assert gamma.rel_width < 1e-12
    assert abs(jb.gamma - float(gamma.mid)) < 1e-12
    # a C^1 kernel with a step in its second derivative: gamma = |rho'(0)| = 2 exactly (k = 2, t = 0)
    jb2 = mt.approximation.jackson_bound(mt.Kernel("exp(-2*t)*(1 + Heaviside(t - 1)*(t - 1)**2)"), 1, 1.0,
                                         certified=True)
    assert jb2.certified["gamma"].contains(2)
    assert jb2.to_dict()["certified"]["gamma"][0].startswith("1.9999")


def test_certified_sup_brackets_a_kink_and_a_smooth_maximum():
    # sup |t e^{-t}| on [0, 10] = 1/e at t = 1; sup |1 - |t - 2|| = 1 at the kink t = 2
    with arb_backend.workprec(120):
        sup = certified_sup(T * sp.exp(-T), T, 0, 10, derivative=(1 - T) * sp.exp(-T), rel_tol=1e-25)
        assert sup.lower <= arb(1) / arb.const_e() <= sup.upper and float(sup.upper - sup.lower) < 1e-24
        kink = certified_sup(2 - sp.Abs(T - 2), T, 0, 3, points=[2], rel_tol=1e-20)
        assert kink.lower <= 2 <= kink.upper and float(kink.upper - kink.lower) < 1e-19


def test_airy_tail_envelope_bounds_the_true_tail():
    f = sp.airyai(T - 6) * T**2 * sp.exp(-T / 10)
    g = mpmath_function([T], f)
    for big_t in (8, 16):
        bound = tail_integral_bound(f, T, big_t)
        with mp.workdps(20):
            true = mp.quad(lambda t: abs(g(t)), [big_t, big_t + 5, big_t + 20, mp.inf])
        assert bound is not None and float(bound) >= float(true) > 0
        assert float(bound) < 100 * float(true)  # and not uselessly loose
    with arb_backend.workprec(120):
        ball = half_line_integral(f, T, [6])
    with mp.workdps(40):
        ref = mp.quad(g, [0, 2, 4, 6, 8, 12, 20, mp.inf])
        assert Enclosure(ball, 30).contains(ref)


def test_refuses_a_kernel_it_cannot_bound():
    rho = mt.Kernel("exp(-t)/(2 + sin(t**2))")  # no closed form; 1/(2 + sin(t^2)) matches no envelope rule
    with pytest.raises(CertificationError, match="no certified tail bound"):
        rho.laplace([1], dps=30, certified=True)
    with pytest.raises(CertificationError, match="has no rigorous ball implementation"):
        arb_backend.arb_function([T], sp.besselj(0, T))


def test_refuses_a_registry_function_without_ball_implementation(monkeypatch):
    import dataclasses

    from memtheory.compile import registry

    patched = tuple(dataclasses.replace(fn, arb=None) if fn.sympy == "erfc" else fn
                    for fn in registry.SPECIAL_FUNCTIONS)
    monkeypatch.setattr(arb_backend, "SPECIAL_FUNCTIONS", patched)
    arb_backend._compiled.cache_clear()
    try:
        with pytest.raises(CertificationError, match="erfc has no rigorous ball implementation"):
            arb_backend.arb_function([T], sp.erfc(T) + 1)
    finally:
        arb_backend._compiled.cache_clear()


def test_piecewise_undecided_takes_the_union():
    x = sp.Symbol("x", real=True)
    f = arb_backend.arb_function([x], sp.Piecewise((1, x < 0), (2, True)))
    assert f(arb(-1)) == 1 and f(arb(1)) == 2
    both = f(arb(0, 1e-3))
    assert both.contains(1) and both.contains(2)


def test_decimal_pairs_round_outward():
    for num, den in [(2, 3), (-2, 3), (1, 7 * 10**30), (-10**40 - 1, 3)]:
        x = Fraction(num, den)
        for digits in (1, 5, 17):
            lo, hi = decimal_bound(x, digits, up=False), decimal_bound(x, digits, up=True)
            assert Fraction(lo) <= x <= Fraction(hi)
            assert Fraction(hi) - Fraction(lo) <= abs(x) * Fraction(10) ** (1 - digits) * 2
    enc = Enclosure(arb(1) / 3, 30)
    lo, hi = enc.pair()
    assert Fraction(lo) <= Fraction(1, 3) <= Fraction(hi) and lo != hi
    assert repr(enc).startswith("Enclosure(lo=3.3333") and "rel_width=" in repr(enc)


def test_certified_dps_below_minimum_is_refused():
    with pytest.raises(InvalidArgumentError, match="at least 16 digits"):
        mt.Kernel("exp(-t)").laplace([1], dps=10, certified=True)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_loss_certified_json(capsys):
    code = main(["loss", "--target", "exp(-2*t/5) + airyai(t - 6)", "--a", "0.7,-0.2,0.4", "--w", "0.3,1.1,2.5",
                 "--certified", "--dps", "40", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    cert = out["certified"]
    assert len(cert["grad_a"]) == 3 and len(cert["grad_w"]) == 3
    lo, hi = (Fraction(x) for x in cert["loss"])
    assert lo < hi and (hi - lo) / abs(lo) < Fraction(1, 10**30)
    # the exact decimals 0.7, ... (certified) and their float64 roundings (float path) agree to ~1e-16
    assert abs(float(lo) - float(out["loss"])) < 1e-12
    for lo_s, hi_s in cert["grad_a"] + cert["grad_w"]:
        assert Fraction(lo_s) <= Fraction(hi_s)


def test_cli_loss_certified_hessian_contains_the_reference(capsys):
    """``loss --hessian --certified``: the Hessian's enclosures (exact decimals 0.7, -0.2, 0.3, 1.1) contain the
    Hessian of an independent evaluation at 90 digits from the same exact inputs, and the float64 Hessian printed
    beside them is the API's."""
    argv = ["loss", "--target", "(1+t)**(-1.5) + exp(-2*t/5)", "--a", "0.7,-0.2", "--w", "0.3,1.1", "--hessian"]
    assert main([*argv, "--certified", "--dps", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    hess = out["certified"]["hess"]
    assert len(hess) == 4 and all(len(row) == 4 for row in hess)
    rho = mt.Kernel("(1+t)**(-1.5) + exp(-2*t/5)")
    ref = mt.l2_loss(mt.DiagonalRNN(["0.7", "-0.2"], ["0.3", "1.1"]), rho, gradient=True, hessian=True, dps=90)
    with mp.workdps(90):
        for row, ref_row in zip(hess, ref.hess):
            for (lo, hi), h in zip(row, ref_row):
                assert Fraction(lo) <= Fraction(mp.nstr(h, 85)) <= Fraction(hi)
                assert (Fraction(hi) - Fraction(lo)) <= Fraction(1, 10**35) * max(1, abs(Fraction(lo)))
    assert main([*argv, "--json"]) == 0
    float_hess = json.loads(capsys.readouterr().out)["hess"]
    api = mt.l2_loss(mt.DiagonalRNN([0.7, -0.2], [0.3, 1.1]), rho, gradient=True, hessian=True)
    for row, api_row in zip(float_hess, api.hess):
        assert row == pytest.approx([float(x) for x in api_row], rel=1e-14)


def test_certified_precision_rises_through_cancellation():
    """exp(-t) - exp(-(1 + 10^-30) t) cancels 30 digits in every moment: at dps 20 the enclosures are computed at
    the digits that cancellation needs and carry at least 10 digits (a fixed 20-digit computation gave
    [-2e-28, 2e-28] for a value of 2.5e-31), and they contain the exact values."""
    rho = mt.Kernel("exp(-t) - exp(-(1 + 10**-30)*t)")
    eps = Fraction(1, 10**30)
    (lap,) = rho.laplace(["1"], moment=0, dps=20, certified=True)
    exact_lap = Fraction(1, 2) - 1 / (2 + eps)
    assert lap.contains(exact_lap) and lap.rel_width < 1e-10 and lap.dps > 20
    res = certified_l2_loss(["1/1000000000000000000000000000000"], ["1"], rho, gradient=True, dps=20)
    # J(a, w=1) = a^2/2 - 2a L(1) + ||rho||^2, exactly, with ||rho||^2 = 1/2 - 2/(2 + eps) + 1/(2 + 2 eps)
    a = eps
    norm2 = Fraction(1, 2) - 2 / (2 + eps) + 1 / (2 + 2 * eps)
    J = a * a / 2 - 2 * a * exact_lap + norm2
    assert res.loss.contains(J) and res.loss.rel_width < 1e-10
    assert res.grad_a[0].contains(a - 2 * exact_lap) and res.grad_a[0].rel_width < 1e-10


def test_refine_reruns_with_the_missing_digits():
    from memtheory.certified import goal_digits, missing_digits, refine

    calls = []

    def compute(work):  # a value of 1 whose ball loses 40 digits to "cancellation"
        calls.append(work)
        with arb_backend.workprec(arb_backend.dps_to_prec(work)):
            return [arb(1) + arb(0, 10.0 ** (40 - work))]

    balls, work = refine(compute, 30)
    assert missing_digits(balls, goal_digits(30)) == 0 and work > 30 + 40 - 10 and 2 <= len(calls) <= 3
    exact_zero, work0 = refine(lambda w: [arb(0, 1e-40)], 30)  # a zero: no precision narrows it relative to itself
    assert work0 == 8 * 30 + 100


def test_cli_laplace_certified_json(capsys):
    code = main(["laplace", "--target", "(1+t)**(-1.5) + exp(-2*t/5)", "--s", "0.5,2", "--moment", "1",
                 "--certified", "--dps", "50", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["certified"]) == 2
    rho = mt.Kernel("(1+t)**(-1.5) + exp(-2*t/5)")
    for (lo, hi), s in zip(out["certified"], [Fraction(1, 2), Fraction(2)]):
        ref = quad_laplace(rho, 1, s, [0, 2, 6, 20, 60])
        with mp.workdps(70):
            assert mp.mpf(lo) <= ref <= mp.mpf(hi)
        assert (Fraction(hi) - Fraction(lo)) / Fraction(lo) < Fraction(1, 10**40)


@pytest.mark.parametrize("argv, code, message", [
    (["loss", "--target", "exp(-t)", "--a", "1", "--w", "2", "--certified", "--plot", "x.png"], 2,
     "does not combine with --certified"),
    (["laplace", "--target", "exp(-t)", "--s", "1", "--certified", "--dps", "8"], 2, "at least 16 digits"),
    (["laplace", "--target", "exp(-t)/(2 + sin(t**2))", "--s", "1", "--certified"], 1, "no certified tail bound"),
    (["approx", "jackson", "--target", "(1+t)*exp(-2*t)", "--beta", "1", "--m", "2", "--certified"], 2,
     "float64"),
])
def test_cli_certified_bad_input_is_one_line(argv, code, message, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_cli_approx_jackson_certified(capsys):
    code = main(["approx", "jackson", "--target", "(1+t)*exp(-2*t)", "--alpha", "1", "--beta", "1", "--certified",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    lo, hi = out["bound"]["certified"]["gamma"]
    assert mp.mpf(lo) <= 2 * mp.exp(-0.5) <= mp.mpf(hi)
    assert math.isclose(float(lo), out["bound"]["gamma"], rel_tol=1e-12)
