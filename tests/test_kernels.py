"""Kernels (memtheory.Kernel, memtheory.kernels.*) against independent mpmath quadrature of their definitions.

For every family: Laplace moments ``L[t^k rho](s) = int_0^inf t^k rho(t) e^{-st} dt`` (k = 0, 1, 2), L1/L2 norms,
step response and pointwise values, at relative accuracy 1e-9 in float64 and 1e-25 with dps=40 (docs/theory.md §1).
References never call memtheory: they integrate the definition with mpmath at 50 digits, with breakpoints.
"""

from __future__ import annotations

import math
import re

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from conftest import (
    REF_DPS,
    RTOL40,
    RTOL64,
    airy_points,
    assert_rel,
    dec,
    gaussian_points,
    laplace_ref,
    power_points,
    quad,
    quad_logsub,
)
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory import kernels
from memtheory.compile import codegen
from memtheory.kernels import LaplaceResult

# No shrinking: a failure is reported with the example found (keeps the run time bounded when the library is wrong).
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
_COMMON = dict(deadline=None, phases=NO_SHRINK, database=None, suppress_health_check=[HealthCheck.too_slow])
HYP64 = settings(max_examples=20, **_COMMON)
HYP40 = settings(max_examples=6, **_COMMON)


def log_uniform(lo: float, hi: float):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda x: float(f"{10**x:.6g}"))


def nice(lo: float, hi: float):
    """Floats with a few significant digits (what users type)."""
    return st.floats(lo, hi).map(lambda x: float(f"{x:.5g}")).filter(lambda x: lo <= x <= hi)


def s_points(s):
    """Breakpoints on the scale of the exponential weight."""
    sv = dec(s)
    return [sv ** -1 * j for j in (1, 5, 20, 60)] if sv > 0 else []


# --------------------------------------------------------------------------- the families, from their definitions
# Each ref_* returns ``ref(s, k)``: L[t^k rho](s) by quadrature of the definition.
def ref_exponential(rate):
    f = lambda t: mp.exp(-dec(rate) * t)  # noqa: E731
    return lambda s, k, dps=REF_DPS: laplace_ref(f, s, k, lambda: [0, mp.inf, *s_points(s)], dps)


def ref_power_law(p, scale):
    f = lambda t: (1 + dec(scale) * t) ** (-dec(p))  # noqa: E731
    return lambda s, k, dps=REF_DPS: laplace_ref(f, s, k, lambda: [*power_points(scale, s), *s_points(s)], dps,
                                                 logsub=scale)


def ref_gaussian(center, width):
    f = lambda t: mp.exp(-((t - dec(center)) ** 2) / (2 * dec(width) ** 2))  # noqa: E731
    return lambda s, k, dps=REF_DPS: laplace_ref(f, s, k, lambda: gaussian_points(center, width, s_points(s), s=s),
                                                 dps)


def ref_airy(shift, scale):
    f = lambda t: mp.airyai(dec(scale) * (t - dec(shift)))  # noqa: E731
    return lambda s, k, dps=REF_DPS: laplace_ref(f, s, k, lambda: airy_points(shift, scale), dps)


def ref_generic(f, points):
    return lambda s, k, dps=REF_DPS: laplace_ref(f, s, k, lambda: points(s), dps)


def laplace_window(a, b, s, k, dps=REF_DPS):
    with mp.workdps(dps):
        sv = dec(s)
        return +quad(lambda t: t**k * mp.exp(-sv * t), [dec(a), dec(b)])


def laplace_sine(freq, s, k, dps=REF_DPS):
    """Undamped oscillation times e^{-st}: mpmath's quadosc (period-wise summation with extrapolation)."""
    with mp.workdps(dps):
        fr, sv = dec(freq), dec(s)
        return +mp.quadosc(lambda t: t**k * mp.sin(fr * t) * mp.exp(-sv * t), [0, mp.inf], omega=fr)


def check_laplace(kernel, ref_fn, s_list, k, dps=None):
    got = kernel.laplace(s_list, moment=k, dps=dps)
    if dps is None:
        assert isinstance(got, np.ndarray) and got.dtype == float and got.shape == (len(s_list),)
    else:
        assert isinstance(got, list) and all(isinstance(v, mp.mpf) for v in got)
    # float64 checks need ~10 correct digits: a 30-digit reference is ample and much faster.
    ref = [ref_fn(s, k, 30 if dps is None else REF_DPS) for s in s_list]
    assert_rel(got, ref, RTOL64 if dps is None else RTOL40, f"L[t^{k} {kernel}]({s_list})")


# --------------------------------------------------------------------------- Laplace moments, float64
@HYP64
@given(rate=log_uniform(0.05, 20), s=log_uniform(0.01, 30), k=st.integers(0, 2))
def test_laplace_exponential(rate, s, k):
    check_laplace(kernels.exponential(rate), ref_exponential(rate), [s], k)


@HYP64
@given(p=nice(0.3, 5), scale=log_uniform(0.05, 5), s=log_uniform(0.02, 20), k=st.integers(0, 2))
def test_laplace_power_law(p, scale, s, k):
    check_laplace(kernels.power_law(p, scale), ref_power_law(p, scale), [s], k)


@HYP64
@given(center=nice(-3, 40), width=log_uniform(0.1, 3), s=log_uniform(0.01, 1000), k=st.integers(0, 2))
@example(center=0.0, width=1.0, s=100.0, k=2)  # erfcx branch, s sigma^2 >> L
@example(center=1.0, width=0.5, s=60.0, k=1)
def test_laplace_gaussian_bump(center, width, s, k):
    ref = ref_gaussian(center, width)(s, k, 30)
    rho = kernels.gaussian_bump(center, width)
    if ref < mp.mpf("2.2250738585072014e-308"):  # below double range: must say so, not return 0
        with pytest.raises(mt.PrecisionError):
            rho.laplace([s], moment=k)
        return
    assert_rel(rho.laplace([s], moment=k), [ref], RTOL64, f"L[t^{k} {rho}]({s})")


@settings(max_examples=12, **_COMMON)
@given(shift=nice(0, 8), scale=nice(0.5, 2), s=log_uniform(0.1, 5), k=st.integers(0, 2))
def test_laplace_airy(shift, scale, s, k):
    check_laplace(kernels.airy(shift, scale), ref_airy(shift, scale), [s], k)


@HYP64
@given(a=nice(0, 15), length=nice(0.1, 5), s=log_uniform(0.01, 5), k=st.integers(0, 2))
@example(a=0.0, length=0.1, s=0.0245025, k=2)
@example(a=2.0, length=0.5, s=0.01, k=0)
def test_laplace_window(a, length, s, k):
    b = float(f"{a + length:.6g}")
    got = kernels.window(a, b).laplace([s], moment=k)
    assert_rel(got, [laplace_window(a, b, s, k)], RTOL64, f"window({a}, {b})")


@settings(max_examples=12, **_COMMON)
@given(freq=nice(0.2, 5), s=log_uniform(0.1, 5), k=st.integers(0, 2))
def test_laplace_sine(freq, s, k):
    got = kernels.sine(freq).laplace([s], moment=k)
    assert_rel(got, [laplace_sine(freq, s, k, dps=30)], RTOL64, f"sine({freq})")


@HYP64
@given(omega=log_uniform(0.02, 1), rate=nice(0.1, 3), sigma=nice(0.2, 1.5), s=log_uniform(0.05, 5),
       k=st.integers(0, 2))
def test_laplace_memory_family(omega, rate, sigma, s, k):
    rho = kernels.memory_family(kernels.exponential(rate), kernels.gaussian_bump("0.0", sigma), omega)
    lag = 1 / dec(omega)

    def f(t):
        return mp.exp(-dec(rate) * t) + mp.exp(-((t - 1 / dec(omega)) ** 2) / (2 * dec(sigma) ** 2))

    def pts(sv):
        with mp.workdps(REF_DPS):
            return [0, mp.inf, *s_points(sv), *[1 / dec(omega) + j * dec(sigma) for j in (-20, -5, 0, 5, 20)
                                               if 1 / dec(omega) + j * dec(sigma) > 0]]

    assert lag > 0
    check_laplace(rho, ref_generic(f, pts), [s], k)


REFERENCE_DEFS = {
    "exp": ref_exponential(1),
    "pol": ref_power_law("1.1", "0.1"),  # the expression's decimals, exactly
    "twoparts": ref_generic(lambda t: mp.exp(-t) + mp.exp(-((t - 9) ** 2)),
                            lambda s: [0, 3, 6, 8, 9, 10, 12, 20, mp.inf, *s_points(s)]),
    "airy": ref_airy(6, 1),
}


@pytest.mark.parametrize("name", ["exp", "pol", "twoparts", "airy"])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_laplace_reference_kernels(name, k):
    s_list = [0.05, 0.3, 1.0, 4.0]
    check_laplace(kernels.reference(name), REFERENCE_DEFS[name], s_list, k)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_laplace_reference_shift_and_sin(k):
    s_list = [0.05, 0.3, 1.0, 4.0]
    assert_rel(kernels.reference("shift").laplace(s_list, moment=k),
               [laplace_window(9, 11, s, k) for s in s_list], RTOL64, "shift")
    assert_rel(kernels.reference("sin").laplace(s_list[1:], moment=k),
               [laplace_sine(1, s, k, dps=30) for s in s_list[1:]], RTOL64, "sin")


# --------------------------------------------------------------------------- Laplace moments, dps=40
@pytest.mark.parametrize("dps", [30, 60])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_laplace_at_dps_bounds_its_error_through_cancellation(dps, k):
    """Closed forms at ``dps`` digits are evaluated in Arb balls: ``exp(-t) - exp(-(1 + 10^-12) t)`` cancels 12
    digits, and the value must still have ``dps`` correct digits, inside its reported error (exact reference:
    ``k! (1/(s+1)^(k+1) - 1/(s+1+10^-12)^(k+1))``)."""
    rho = mt.Kernel("exp(-t) - exp(-(1 + 10**-12)*t)")
    s_values = ["1/3", "2", "25"]
    res = rho.laplace(s_values, moment=k, dps=dps, full_output=True)
    with mp.workdps(dps + 40):
        for s, value, err in zip(s_values, res.values, res.errors):
            x = mp.mpf(sp.Rational(s).p) / sp.Rational(s).q
            exact = mp.factorial(k) * (1 / (x + 1) ** (k + 1) - 1 / (x + 1 + mp.mpf(10) ** -12) ** (k + 1))
            assert abs(value - exact) <= err, (s, k, dps)
            assert err <= mp.mpf(10) ** (-(dps - 1)) * abs(exact)


@HYP40
@given(rate=log_uniform(0.05, 20), s=log_uniform(0.01, 30), k=st.integers(0, 2))
def test_laplace_exponential_dps40(rate, s, k):
    check_laplace(kernels.exponential(rate), ref_exponential(rate), [s], k, dps=40)


@HYP40
@given(p=nice(0.3, 5), scale=log_uniform(0.05, 5), s=log_uniform(0.02, 20), k=st.integers(0, 2))
def test_laplace_power_law_dps40(p, scale, s, k):
    check_laplace(kernels.power_law(p, scale), ref_power_law(p, scale), [s], k, dps=40)


@HYP40
@given(center=nice(-3, 40), width=log_uniform(0.1, 3), s=log_uniform(0.01, 1000), k=st.integers(0, 2))
def test_laplace_gaussian_bump_dps40(center, width, s, k):
    check_laplace(kernels.gaussian_bump(center, width), ref_gaussian(center, width), [s], k, dps=40)


@settings(max_examples=4, **_COMMON)
@given(shift=nice(0, 8), scale=nice(0.5, 2), s=log_uniform(0.1, 5), k=st.integers(0, 2))
def test_laplace_airy_dps40(shift, scale, s, k):
    check_laplace(kernels.airy(shift, scale), ref_airy(shift, scale), [s], k, dps=40)


@pytest.mark.parametrize("k", [0, 2])
def test_laplace_window_sine_dps40(k):
    s_list = [0.3, 2.0]
    assert_rel(kernels.window("1.5", "4.25").laplace(s_list, moment=k, dps=40),
               [laplace_window(1.5, 4.25, s, k) for s in s_list], RTOL40, "window")
    assert_rel(kernels.sine("1.5").laplace(s_list, moment=k, dps=40),
               [laplace_sine(1.5, s, k) for s in s_list], RTOL40, "sine")


@pytest.mark.parametrize("name", ["exp", "pol", "twoparts", "airy"])
def test_laplace_reference_kernels_dps40(name):
    for k in (0, 1, 2):
        check_laplace(kernels.reference(name), REFERENCE_DEFS[name], [0.1, 1.5], k, dps=40)


def test_laplace_memory_family_dps40():
    rho = kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump("0.0", "0.7"), "0.05")

    def f(t):
        return mp.exp(-mp.mpf("0.4") * t) + mp.exp(-((t - 20) ** 2) / (2 * mp.mpf("0.49")))

    for k in (0, 1, 2):
        check_laplace(rho, ref_generic(f, lambda s: [0, 10, 16, 20, 24, 30, mp.inf, *s_points(s)]),
                      [0.4, 1.5, 3.0], k, dps=40)


# --------------------------------------------------------------------------- far tails of the Gaussian bump
@settings(max_examples=10, **_COMMON)
@given(center=nice(655, 695), width=nice(0.5, 1.5), k=st.integers(0, 2))
def test_gaussian_laplace_near_bottom_of_double_range(center, width, k):
    """L[g](1) ~ sigma sqrt(2 pi) e^{-L}: 1e-285 .. 1e-302, still accurate to 1e-9 in float64 (erfc branch)."""
    ref = ref_gaussian(center, width)(1.0, k)
    assume(mp.mpf("1e-305") < ref < mp.mpf("1e-280"))
    got = kernels.gaussian_bump(center, width).laplace([1.0], moment=k)
    assert_rel(got, [ref], RTOL64, f"gaussian_bump({center}, {width}) k={k}")


@pytest.mark.parametrize("center, s", [(800.0, 1.0), (2000.0, 0.5), (60.0, 20.0)])
def test_gaussian_laplace_below_double_range(center, s):
    rho = kernels.gaussian_bump(center, "1.0")
    with pytest.raises(mt.PrecisionError) as info:
        rho.laplace([s])
    assert isinstance(info.value, ArithmeticError)
    for k in (0, 1, 2):
        ref = ref_gaussian(center, 1.0)(s, k)
        assert ref < mp.mpf("1e-308")
        assert_rel(rho.laplace([s], moment=k, dps=40), [ref], RTOL40, f"gaussian_bump({center}, 1) at s={s}")


def test_precision_error_suggests_working_dps():
    rho = kernels.gaussian_bump("2000.0", "1.0")
    with pytest.raises(mt.PrecisionError) as info:
        rho.laplace([2.0])
    found = re.search(r"dps=(\d+)", str(info.value))
    assert found, str(info.value)
    dps = int(found.group(1))
    got = rho.laplace([2.0], dps=dps)
    assert_rel(got, [ref_gaussian(2000.0, 1.0)(2.0, 0)], RTOL40)


def test_overflow_raises_precision_error():
    rho = mt.Kernel("exp(800 - t)")
    with pytest.raises(mt.PrecisionError):
        rho.laplace([1.0])
    with mp.workdps(REF_DPS):
        ref = mp.exp(800) / 2
    assert_rel(rho.laplace([1.0], dps=40), [ref], RTOL40)


def test_gaussian_laplace_negative_s_and_negative_center():
    for center, s in [(2.0, -2.0), (-1.5, 0.7), (-1.5, -0.5), (0.0, 0.0)]:
        for k in (0, 1, 2):
            ref = ref_gaussian(center, 0.5)(s, k)
            assert_rel(kernels.gaussian_bump(center, "0.5").laplace([s], moment=k), [ref], RTOL64,
                       f"gaussian_bump({center}, 0.5) at s={s}")


def test_exponential_laplace_for_negative_s_inside_the_domain():
    ref = ref_exponential(2.0)(-1.0, 1)
    assert_rel(kernels.exponential("2.0").laplace([-1.0], moment=1), [ref], RTOL64)


def test_power_law_integral_at_s_zero():
    """L[(1+t)^(-p)](0) = ||rho||_1 converges for p > 1."""
    for p in (1.5, 3.0):
        ref = ref_power_law(p, 1.0)(0.0, 0)
        assert_rel(kernels.power_law(p).laplace([0.0]), [ref], RTOL64)


# --------------------------------------------------------------------------- result types
def test_laplace_output_types_and_full_output():
    rho = kernels.airy("6.0", "1.0")
    res = rho.laplace([0.5, 1.0], full_output=True)
    assert isinstance(res, LaplaceResult)
    assert res.dps is None and "quadrature" in res.method
    assert np.all(np.isfinite(res.errors)) and np.all(res.errors >= 0)
    assert np.all(res.errors <= RTOL64 * np.abs(res.values))
    res40 = rho.laplace([0.5, 1.0], dps=40, full_output=True)
    assert res40.dps == 40 and all(isinstance(v, mp.mpf) for v in res40.values)
    assert all(e <= RTOL40 * abs(v) for v, e in zip(res40.values, res40.errors))
    d = res.to_dict()
    assert set(d) >= {"values", "errors", "method", "dps"}
    closed = kernels.exponential("1.0").laplace([1.0], full_output=True)
    assert closed.method == "closed form"
    assert np.asarray(kernels.exponential("1.0").laplace(0.5)).shape == (1,)


# --------------------------------------------------------------------------- pointwise values
CASES = {
    "exponential": (lambda: kernels.exponential("0.7"), lambda t: mp.exp(-mp.mpf("0.7") * t)),
    "power_law": (lambda: kernels.power_law("1.3", "0.5"), lambda t: (1 + t / 2) ** mp.mpf("-1.3")),
    "gaussian_bump": (lambda: kernels.gaussian_bump("3.0", "0.8"),
                      lambda t: mp.exp(-((t - 3) ** 2) / (2 * mp.mpf("0.64")))),
    "airy": (lambda: kernels.airy("4.0", "1.5"), lambda t: mp.airyai(mp.mpf("1.5") * (t - 4))),
    "sine": (lambda: kernels.sine("2.5"), lambda t: mp.sin(mp.mpf("2.5") * t)),
    "window": (lambda: kernels.window("1.0", "2.5"), lambda t: mp.mpf(1) if 1 < t < 2.5 else mp.mpf(0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pointwise_values_vectorised(name):
    make, f = CASES[name]
    rho = make()
    t = np.array([[0.0, 0.3, 0.999, 1.7], [2.2, 3.1, 4.4, 7.9], [12.0, 19.5, 33.3, 50.0]])
    got = rho(t)
    assert isinstance(got, np.ndarray) and got.shape == t.shape and got.dtype == float
    with mp.workdps(30):
        ref = np.array([[float(f(mp.mpf(x))) for x in row] for row in t])
    scale = np.max(np.abs(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15 * scale)
    np.testing.assert_allclose(rho.memory_function(t), np.abs(ref), rtol=1e-12, atol=1e-15 * scale)
    assert np.ndim(rho(1.25)) == 0
    vals40 = rho([0.3, 2.2], dps=40)
    with mp.workdps(REF_DPS):
        assert_rel(vals40, [f(mp.mpf(0.3)), f(mp.mpf(2.2))], RTOL40, name)


def test_pointwise_rejects_non_finite_t():
    with pytest.raises(mt.InvalidArgumentError):
        kernels.exponential("1.0")([0.0, float("nan")])
    with pytest.raises(mt.InvalidArgumentError):
        kernels.exponential("1.0")(float("inf"))


# --------------------------------------------------------------------------- arithmetic
def test_kernels_add_and_scale():
    rho = 2 * kernels.exponential("1.0") + kernels.gaussian_bump("3.0", "0.5") - kernels.exponential("2.0") / 4
    assert set(rho.params) == {"rate", "rate_2", "center", "width"}

    def f(t):
        return 2 * mp.exp(-t) + mp.exp(-((t - 3) ** 2) / (2 * mp.mpf("0.25"))) - mp.exp(-2 * t) / 4

    t = np.linspace(0, 8, 17)
    with mp.workdps(30):
        ref = [float(f(mp.mpf(x))) for x in t]
    np.testing.assert_allclose(rho(t), ref, rtol=1e-13, atol=1e-16)
    pts = lambda s: gaussian_points(3.0, 0.5, s_points(s), s=s)  # noqa: E731
    check_laplace(rho, ref_generic(f, pts), [0.2, 1.0, 3.0], 1)
    check_laplace(rho, ref_generic(f, pts), [0.7], 2, dps=40)
    with mp.workdps(REF_DPS):
        ref2 = quad(lambda t: f(t) ** 2, pts(1.0))
    assert_rel([rho.norm(2, squared=True)], [ref2], RTOL64)
    # same parameter with the same value is shared, with different values renamed
    assert set((kernels.exponential("1.0") + kernels.exponential("1.0")).params) == {"rate"}
    assert float((kernels.exponential("1.0") + kernels.exponential("1.0"))(0.0)) == 2.0


def test_kernel_scaling_is_exact():
    binary = 0.1 * kernels.exponential("1.0")  # a float factor is its binary value, and says so
    assert sp.Rational(*(0.1).as_integer_ratio()) in binary.expr.atoms(sp.Rational) and not binary.inputs_exact
    rho = "0.1" * kernels.exponential("1.0")
    assert sp.Rational(1, 10) in rho.expr.atoms(sp.Rational) and rho.inputs_exact
    with mp.workdps(REF_DPS):
        ref = mp.mpf(1) / 10 / (1 + mp.mpf(3) / 10)
    assert_rel(rho.laplace(["0.3"], dps=40), [ref], RTOL40)


# --------------------------------------------------------------------------- norms
NORM_CASES = {
    "exponential": (lambda: kernels.exponential("0.35"), lambda t: mp.exp(-mp.mpf("0.35") * t),
                    [0, 3, 10, 30, mp.inf]),
    "power_law_l1": (lambda: kernels.power_law("1.7", "0.3"), lambda t: (1 + mp.mpf("0.3") * t) ** mp.mpf("-1.7"),
                     ("logsub", 0.3)),
    "gaussian": (lambda: kernels.gaussian_bump("2.0", "1.3"),
                 lambda t: mp.exp(-((t - 2) ** 2) / (2 * mp.mpf("1.69"))), gaussian_points(2.0, 1.3)),
    "gaussian_negative_center": (lambda: kernels.gaussian_bump("-1.0", "0.6"),
                                 lambda t: mp.exp(-((t + 1) ** 2) / (2 * mp.mpf("0.36"))), [0, 1, 3, mp.inf]),
    "window": (lambda: kernels.window("0.5", "3.25"), lambda t: mp.mpf(1), [mp.mpf("0.5"), mp.mpf("3.25")]),
    "airy": (lambda: kernels.airy("6.0", "1.0"), lambda t: mp.airyai(t - 6), lambda: airy_points(6, 1, zeros=True)),
    "twoparts": (lambda: kernels.reference("twoparts"), lambda t: mp.exp(-t) + mp.exp(-((t - 9) ** 2)),
                 [0, 3, 6, 9, 12, 20, mp.inf]),
    "memory_family": (lambda: kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump(0, "0.7"), "0.1"),
                      lambda t: mp.exp(-mp.mpf("0.4") * t) + mp.exp(-((t - 10) ** 2) / (2 * mp.mpf("0.49"))),
                      [0, 5, 8, 10, 12, 15, 30, mp.inf]),
    "pol": (lambda: kernels.reference("pol"), lambda t: (1 + t / 10) ** mp.mpf("-1.1"), ("logsub", 0.1)),
}


def _l_ref(f, pts, p):
    with mp.workdps(REF_DPS):
        if isinstance(pts, tuple) and pts[0] == "logsub":
            return quad_logsub(lambda t: abs(f(t)) ** p, [0, 1, 10, mp.inf], pts[1])
        pts = pts() if callable(pts) else pts
        pts = [mp.mpf(x) if x != mp.inf else x for x in pts]
        return quad(lambda t: abs(f(t)) ** p, pts)


@pytest.mark.parametrize("name", sorted(NORM_CASES))
def test_l2_norm(name):
    make, f, pts = NORM_CASES[name]
    rho = make()
    ref = _l_ref(f, pts, 2)
    sq = rho.norm(2, squared=True)
    assert isinstance(sq, float)
    assert_rel([sq], [ref], RTOL64, f"||{name}||_2^2")
    assert_rel([rho.norm(2)], [mp.sqrt(ref)], RTOL64, f"||{name}||_2")
    assert_rel([rho.norm(2, squared=True, dps=40)], [ref], RTOL40, f"||{name}||_2^2 dps=40")


@pytest.mark.parametrize("name", sorted(NORM_CASES))
def test_l1_norm(name):
    make, f, pts = NORM_CASES[name]
    rho = make()
    ref = _l_ref(f, pts, 1)
    assert_rel([rho.norm(1)], [ref], RTOL64, f"||{name}||_1")
    assert_rel([rho.norm(1, dps=40)], [ref], RTOL40, f"||{name}||_1 dps=40")


@HYP64
@given(rate=log_uniform(0.05, 20), p=nice(1.1, 5), scale=log_uniform(0.1, 5))
def test_norms_random_parameters(rate, p, scale):
    with mp.workdps(REF_DPS):
        r, pp, sc = dec(rate), dec(p), dec(scale)
        e1 = quad(lambda t: mp.exp(-r * t), [0, 1 / r, mp.inf])
        e2 = quad(lambda t: mp.exp(-2 * r * t), [0, 1 / r, mp.inf])
        p1 = quad_logsub(lambda t: (1 + sc * t) ** (-pp), [0, 1 / sc, 10 / sc, mp.inf], scale)
        p2 = quad_logsub(lambda t: (1 + sc * t) ** (-2 * pp), [0, 1 / sc, 10 / sc, mp.inf], scale)
    assert_rel([kernels.exponential(rate).norm(1), kernels.exponential(rate).norm(2, squared=True)], [e1, e2],
               RTOL64)
    pl = kernels.power_law(p, scale)
    assert_rel([pl.norm(1), pl.norm(2, squared=True)], [p1, p2], RTOL64, f"power_law({p}, {scale})")


@pytest.mark.parametrize("make, p", [
    (lambda: kernels.sine("1.0"), 1),
    (lambda: kernels.sine("1.0"), 2),
    (lambda: kernels.reference("sin"), 2),
    (lambda: kernels.power_law("1.0"), 1),
    (lambda: kernels.power_law("0.8"), 1),
    (lambda: kernels.power_law("0.5"), 2),
    (lambda: mt.Kernel("exp(t/3)"), 2),
    (lambda: mt.Kernel("1/sqrt(t)*exp(-t)"), 2),
])
def test_not_integrable_kernels_refuse_norms(make, p):
    with pytest.raises(mt.NotIntegrableError) as info:
        make().norm(p)
    assert isinstance(info.value, ValueError)


def test_power_law_between_l1_and_l2():
    """(1+t)^(-0.8): not in L1, but in L2 with ||.||_2^2 = 1/(2p - 1) (docs/theory.md §1), checked by quadrature."""
    rho = kernels.power_law("0.8")
    with mp.workdps(REF_DPS):
        ref = quad_logsub(lambda t: (1 + t) ** mp.mpf("-1.6"), [0, 1, 10, mp.inf], 1)
    assert_rel([rho.norm(2, squared=True)], [ref], RTOL64)
    with pytest.raises(mt.NotIntegrableError):
        rho.norm(1)


def test_norm_argument_checks():
    rho = kernels.exponential("1.0")
    with pytest.raises(mt.InvalidArgumentError):
        rho.norm(3)
    with pytest.raises(mt.InvalidArgumentError):
        rho.norm(1, squared=True)


# --------------------------------------------------------------------------- step response
STEP_CASES = {
    "exponential": (lambda: kernels.exponential("0.7"), lambda t: mp.exp(-mp.mpf("0.7") * t), []),
    "power_law": (lambda: kernels.power_law("1.3", "0.5"), lambda t: (1 + t / 2) ** mp.mpf("-1.3"), []),
    "gaussian": (lambda: kernels.gaussian_bump("3.0", "0.8"), lambda t: mp.exp(-((t - 3) ** 2) / (2 * mp.mpf("0.64"))),
                 [3]),
    "airy": (lambda: kernels.airy("4.0", "1.5"), lambda t: mp.airyai(mp.mpf("1.5") * (t - 4)),
             lambda: airy_points(4, 1.5)),
    "sine": (lambda: kernels.sine("2.5"), lambda t: mp.sin(mp.mpf("2.5") * t), []),
    "window": (lambda: kernels.window("1.0", "2.5"), lambda t: mp.mpf(1) if 1 < t < 2.5 else mp.mpf(0),
               [1, mp.mpf("2.5")]),
    "shift": (lambda: kernels.reference("shift"), lambda t: mp.mpf(1) if 9 < t < 11 else mp.mpf(0), [9, 11]),
    "twoparts": (lambda: kernels.reference("twoparts"), lambda t: mp.exp(-t) + mp.exp(-((t - 9) ** 2)), [9]),
    "memory_family": (lambda: kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump(0, "0.7"), "0.1"),
                      lambda t: mp.exp(-mp.mpf("0.4") * t) + mp.exp(-((t - 10) ** 2) / (2 * mp.mpf("0.49"))), [10]),
}
STEP_T = [0.05, 0.5, 1.7, 2.4, 4.0, 9.5, 10.5, 13.0, 25.0]


def _step_ref(f, t, bps):
    with mp.workdps(REF_DPS):
        tt = mp.mpf(t)
        bps = bps() if callable(bps) else bps
        pts = [mp.mpf(0), tt] + [mp.mpf(b) for b in bps if 0 < b < tt]
        return quad(f, pts, abs_floor=mp.mpf(10) ** -45)


@pytest.mark.parametrize("name", sorted(STEP_CASES))
def test_step_response(name):
    make, f, bps = STEP_CASES[name]
    rho = make()
    got = rho.step_response(np.array(STEP_T))
    assert isinstance(got, np.ndarray) and got.shape == (len(STEP_T),)
    ref = [_step_ref(f, t, bps) for t in STEP_T]
    for t, g, r in zip(STEP_T, got, ref):
        assert abs(g - r) <= RTOL64 * abs(r) + 1e-15, f"{name}: step_response({t}) = {g!r}, expected {mp.nstr(r, 20)}"
    got40 = rho.step_response([1.7, 13.0], dps=40)
    assert_rel(got40, [ref[STEP_T.index(1.7)], ref[STEP_T.index(13.0)]], RTOL40, f"{name} step dps=40")


@HYP64
@given(p=nice(0.3, 5), scale=log_uniform(0.05, 5), t=log_uniform(1e-3, 1e3))
def test_step_response_power_law_random(p, scale, t):
    rho = kernels.power_law(p, scale)
    with mp.workdps(REF_DPS):
        ref = quad(lambda u: (1 + dec(scale) * u) ** (-dec(p)), [0, min(mp.mpf(t), 1 / dec(scale)), mp.mpf(t)])
    assert_rel(rho.step_response([t]), [ref], RTOL64, f"power_law({p}, {scale}) step at {t}")


# --------------------------------------------------------------------------- family constructors: bad input
@pytest.mark.parametrize("call", [
    lambda: kernels.exponential("0.0"),
    lambda: kernels.exponential("-1.0"),
    lambda: kernels.exponential(float("nan")),
    lambda: kernels.exponential(float("inf")),
    lambda: kernels.power_law("0.0"),
    lambda: kernels.power_law("1.5", scale="-1.0"),
    lambda: kernels.gaussian_bump("1.0", "0.0"),
    lambda: kernels.gaussian_bump(float("nan"), "1.0"),
    lambda: kernels.airy("6.0", "-1.0"),
    lambda: kernels.window("2.0", "1.0"),
    lambda: kernels.window("-1.0", "1.0"),
    lambda: kernels.sine("0.0"),
    lambda: kernels.memory_family(kernels.exponential("1.0"), kernels.gaussian_bump(0, 1), "0.0"),
    lambda: kernels.memory_family(kernels.exponential("1.0"), "spike", "0.5"),
    lambda: kernels.reference("nope"),
])
def test_family_constructors_reject_bad_input(call):
    with pytest.raises(mt.InvalidArgumentError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_reference_names():
    assert set(kernels.REFERENCE_NAMES) == {"exp", "pol", "shift", "twoparts", "airy", "sin"}
    for name in kernels.REFERENCE_NAMES:
        assert isinstance(kernels.reference(name), mt.Kernel)


@pytest.mark.parametrize("call, err", [
    (lambda: kernels.sine("1.0").laplace([0.0]), mt.NotIntegrableError),
    (lambda: kernels.sine("1.0").laplace([-0.5]), mt.NotIntegrableError),
    (lambda: kernels.exponential("2.0").laplace([-2.0]), mt.NotIntegrableError),
    (lambda: kernels.exponential("2.0").laplace([-3.0], dps=30), mt.NotIntegrableError),
    (lambda: kernels.power_law("0.5").laplace([0.0]), mt.NotIntegrableError),
    (lambda: mt.Kernel("exp(t)").laplace([0.5]), mt.NotIntegrableError),
    (lambda: kernels.exponential("1.0").laplace([float("nan")]), mt.InvalidArgumentError),
    (lambda: kernels.exponential("1.0").laplace([1.0], moment=-1), mt.InvalidArgumentError),
    (lambda: kernels.exponential("1.0").laplace([1.0], moment=1.5), mt.InvalidArgumentError),
    (lambda: kernels.exponential("1.0").laplace([1.0], dps=2), mt.InvalidArgumentError),
])
def test_laplace_bad_input(call, err):
    with pytest.raises(err):
        call()


# --------------------------------------------------------------------------- codegen: one formula, three backends
@pytest.mark.parametrize("make, s_values", [
    (lambda: kernels.gaussian_bump("4.0", "0.6"), [0.01, 0.5, 3.0, 11.2, 40.0]),
    (lambda: kernels.power_law("1.7", "0.4"), [0.02, 0.5, 3.0, 40.0]),
    (lambda: kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump(0, "0.7"), "0.1"), [0.1, 1.0, 5.0]),
    (lambda: kernels.sine("2.0"), [0.1, 1.0, 5.0]),
])
def test_codegen_backends_agree_on_closed_forms(make, s_values):
    """The same closed form printed for numba, numpy and mpmath gives the same numbers (mpmath at 40 digits)."""
    rho = make()
    s_sym = sp.Symbol("s", real=True)
    for k in (0, 1, 2):
        form = rho.laplace_form(k)
        assert form.is_closed
        expr = form.closed
        args = (s_sym, *rho.param_symbols)
        names = [f"p{i}" for i in range(len(rho.param_symbols))]
        body_expr = codegen.print_numba(expr.xreplace(dict(zip(rho.param_symbols, sp.symbols(names)))))
        body = f"@njit(cache=True)\ndef f(s, {', '.join(names)}):\n    return {body_expr}\n"
        nb = codegen.load_module(body, tag="test_kernels").f
        npf = codegen.numpy_function(args, expr)
        mpf = codegen.mpmath_function(args, expr)
        p = rho.param_array()
        for s in s_values:
            with mp.workdps(40):
                ref = mpf(dec(s), *[mp.mpf(int(v.p)) / int(v.q) for v in rho.exact_params.values()])
            assert_rel([nb(s, *p)], [ref], RTOL64, f"numba k={k} s={s}")
            assert_rel([float(npf(s, *p))], [ref], RTOL64, f"numpy k={k} s={s}")


# --------------------------------------------------------------------------- float64 Laplace moments: laplace vs compiled
def _sin_exp_ref(freq, rate):
    def ref(s, k, dps=REF_DPS):
        with mp.workdps(dps):
            fr, a, sv = dec(freq), dec(rate), dec(s)
            return +mp.quadosc(lambda t: t**k * mp.sin(fr * t) * mp.exp(-(a + sv) * t), [0, mp.inf], omega=fr)

    return ref


def _sum_ref(*refs):
    return lambda s, k, dps=REF_DPS: sum(r(s, k, dps) for r in refs)


def _window_ref(a, b):
    return lambda s, k, dps=REF_DPS: laplace_window(a, b, s, k, dps)


#: The kernel zoo of the float64 agreement test: (kernel, independent mpmath reference ``ref(s, k, dps)``).
FLOAT64_ZOO = {
    "exponential": (lambda: kernels.exponential("0.7"), ref_exponential(0.7)),
    "power_law": (lambda: kernels.power_law("1.5", "1.0"), ref_power_law(1.5, 1.0)),
    "power_law_slow": (lambda: kernels.power_law("0.6", "0.3"), ref_power_law(0.6, 0.3)),
    "gaussian_moderate_lag": (lambda: kernels.gaussian_bump("3.0", "0.5"), ref_gaussian(3.0, 0.5)),
    "gaussian_large_lag": (lambda: kernels.gaussian_bump("60.0", "1.5"), ref_gaussian(60.0, 1.5)),
    "airy": (lambda: kernels.airy("6.0", "1.0"), ref_airy(6.0, 1.0)),
    "window": (lambda: kernels.window("1.0", "2.5"), _window_ref(1.0, 2.5)),
    "sine_exp": (lambda: mt.Kernel("sin(freq*t)*exp(-rate*t)", freq="2.0", rate="0.5"), _sin_exp_ref(2.0, 0.5)),
    "twoparts": (lambda: kernels.reference("twoparts"), REFERENCE_DEFS["twoparts"]),
    "memory_family": (lambda: kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump("0.0", "0.7"), "0.1"),
                      _sum_ref(ref_exponential(0.4), ref_gaussian(10.0, 0.7))),
    "airy_plus_exponential": (lambda: kernels.airy("4.0", "1.5") + kernels.exponential("2.0"),
                              _sum_ref(ref_airy(4.0, 1.5), ref_exponential(2.0))),
}
FLOAT64_S = [0.05, 0.3, 1.0, 3.5, 10.0]


@pytest.mark.parametrize("name", sorted(FLOAT64_ZOO))
def test_float64_laplace_and_compiled_moments_agree_with_mpmath(name):
    """``Kernel.laplace`` (float64) and the compiled moments of the losses and flows give the same numbers, each
    within 1e-9 of an mpmath quadrature of the definition at 30 digits, for k = 0, 1, 2 on a grid of s."""
    from memtheory.kernels.compiled import compile_kernel

    make, ref_fn = FLOAT64_ZOO[name]
    rho = make()
    s = np.array(FLOAT64_S)
    L, E = compile_kernel(rho).moments(rho, s, 2)
    for k in (0, 1, 2):
        ref = [ref_fn(sv, k, 30) for sv in FLOAT64_S]
        res = rho.laplace(s, moment=k, full_output=True)
        assert_rel(res.values, ref, RTOL64, f"laplace: L[t^{k} {name}]")
        assert_rel(L[k], ref, RTOL64, f"compiled: L[t^{k} {name}]")
        assert_rel(res.values, L[k], 2 * RTOL64, f"laplace vs compiled: L[t^{k} {name}]")
        assert np.all(np.isfinite(res.errors)) and np.all(res.errors >= 0)
        assert np.all(res.errors <= RTOL64 * np.abs(res.values))
        assert np.all(np.isfinite(E[k])) and np.all(E[k] >= 0)


def test_kernel_pickles_and_copies_after_float64_use():
    """A kernel whose compiled caches are filled still pickles and deep-copies (process pools of scans pickle it),
    and the copy computes the same transform."""
    import copy
    import pickle

    rho = mt.Kernel("exp(-t/2) + exp(-2*(t - c)**2)", c=3)
    before = rho.laplace([0.5, 2.0])
    for clone in (pickle.loads(pickle.dumps(rho)), copy.deepcopy(rho)):
        assert clone.expr == rho.expr and clone.exact_params == rho.exact_params
        np.testing.assert_array_equal(clone.laplace([0.5, 2.0]), before)


@pytest.mark.parametrize("dps", [None, 30])
def test_moment_at_s_le_0_needs_an_integrable_moment(dps):
    """``1/(1 + t^2)`` has a transform at s = 0 (pi/2) but no first moment there: both arithmetics refuse it
    instead of returning a finite number; a decaying ``t rho(t) e^{-s t}`` at s < 0 is computed."""
    rho = mt.Kernel("1/(1+t**2)")
    assert float(np.atleast_1d(rho.laplace(0.0, dps=dps))[0]) == pytest.approx(math.pi / 2, rel=1e-12)
    with pytest.raises(mt.NotIntegrableError, match="diverges at s = 0"):
        rho.laplace(0.0, moment=1, dps=dps)
    growing = mt.Kernel("exp(-t)*log(1+t)")
    with mp.workdps(30):
        ref = mp.quad(lambda t: t * mp.exp(-t / 2) * mp.log(1 + t), [0, mp.inf])
    got = float(np.atleast_1d(growing.laplace(-0.5, moment=1, dps=dps))[0])
    assert got == pytest.approx(float(ref), rel=1e-10)


def test_shift_kernel_is_zero_at_its_edges():
    """``reference("shift") = 1{9 < t < 11}``: 0 at t = 9 and 11 on every backend (not SymPy's H(0) = 1/2)."""
    shift = kernels.reference("shift")
    t = np.array([9.0, 10.0, 11.0])
    np.testing.assert_array_equal(shift(t), [0.0, 1.0, 0.0])
    assert [float(v) for v in shift(t, dps=30)] == [0.0, 1.0, 0.0]
    assert [float(v) for v in shift(np.array([9, 10, 11]), dps=30)] == [0.0, 1.0, 0.0]  # integer times too
    src = ["@njit(cache=True)", "def rho(t):", f"    return {codegen.print_numba(shift.substituted())}", ""]
    compiled_rho = codegen.load_module("\n".join(src), tag="shift_edges_test").rho
    assert [compiled_rho(v) for v in t] == [0.0, 1.0, 0.0]
    np.testing.assert_array_equal(kernels.window(1.0, 2.5)(np.array([1.0, 2.0, 2.5])), [0.0, 1.0, 0.0])
    # LF data at integer times (dt = 1): only rho(10) = 1 is non-zero, so y_k = x_{k-10} (to FFT rounding).
    data = mt.training.lf_dataset(shift, n_samples=3, T=30, seed=1)
    np.testing.assert_array_equal(data.kernel, (np.arange(30) == 10).astype(float))
    np.testing.assert_allclose(data.y[:, 10:], data.x[:, :20, 0] if data.x.ndim == 3 else data.x[:, :20],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(data.y[:, :10], 0.0, atol=1e-15)  # by FFT: zero to rounding


def test_float64_square_integral_is_kept_per_kernel_and_not_shared_with_other_parameters():
    # reference: ||e^{-r t}||^2 = 1/(2r) in closed form, for each kernel of the family separately
    base = mt.Kernel("exp(-r*t)", r=0.5)
    assert base.square_integral() == pytest.approx(1.0, rel=1e-14)
    assert base.square_integral() is base.square_integral()  # kept, not recomputed
    other = base.with_params(r=2.0)
    assert other.square_integral() == pytest.approx(0.25, rel=1e-14)
    value, error = other.square_integral(full_output=True)
    assert value == pytest.approx(0.25, rel=1e-14) and 0 <= error < 1e-12
    assert base.square_integral(dps=40) == mp.mpf(1)  # the digits path is not the float64 one
    with pytest.raises(mt.errors.NotIntegrableError):
        mt.Kernel("sin(t)").square_integral()


@pytest.mark.parametrize("expr, integrable", [("exp(-t*10**400)", True), ("10**200*exp(-t*10**200)", True),
                                              ("t**-1.5*exp(-t)", False), ("exp(-t)/t", False),
                                              ("t**-0.4*exp(-t)", True)])
def test_integrability_of_kernels_with_time_scales_below_the_probes(expr, integrable):
    """The decay probes near 0 sit at t = 1e-9..1e-12; a kernel of time scale 1e-400 rises steeply there although
    it is bounded, and its finite limit at 0+ decides (its L2 norm^2 is then 10^-400/2 exactly)."""
    rho = mt.Kernel(expr)
    assert rho.is_integrable(1) is integrable and rho.is_integrable(2) is integrable
    if expr == "exp(-t*10**400)":
        value = rho.square_integral(dps=30)
        with mp.workdps(40):
            assert abs(value / (mp.mpf(10) ** -400 / 2) - 1) < 1e-28


@pytest.mark.parametrize("expr, l1, l2", [("cos(t)*(1+t)**(-1.2)", True, True), ("cos(t)*(1+t)**(-1.02)", True, True),
                                          ("cos(t)**2*(1+t)**(-1.1)", True, True), ("sin(t)/(1+t)", False, True),
                                          ("sin(t)**2/(1+t)", False, True), ("sin(t)", False, False)])
def test_integrability_of_oscillating_kernels(expr, l1, l2):
    """|cos t| (1+t)^-1.2 <= (1+t)^-1.2 is integrable; the probe took the peak of 7 points per decade, which for an
    oscillating factor varied by up to 2x between decades and called it not integrable (NotIntegrableError)."""
    rho = mt.Kernel(expr)
    assert rho.is_integrable(1) is l1 and rho.is_integrable(2) is l2
