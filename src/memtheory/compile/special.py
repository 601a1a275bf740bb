"""Numba-compiled special functions and a compiled adaptive quadrature.

Every public special function here is an ``@numba.njit`` function compiled eagerly for float64
scalars (integer arguments are converted), cached on disk, and callable both from Python and from
other compiled code. Nothing here raises: an argument outside the domain gives
``nan`` (documented per function); the Python-level callers of the package validate their input first.

Algorithms and accuracy
-----------------------
The "measured" errors below are maxima over ~10^4 random points against mpmath at 40 digits;
``tests/test_special.py`` asserts the (10-100 times looser) contract tolerances: relative 2e-14 for
``erfcx``, 1e-14 for ``log_erfc``, 1e-13 for the incomplete gamma functions, 1e-12 relative / 1e-14
absolute near the zeros for Airy, and 1e-10 for the quadratures.

``erfcx(x) = exp(x^2) erfc(x)``
    For ``x >= 0`` a single Chebyshev expansion of ``(1 + 2x) erfcx(x)`` in the variable
    ``t = (x - 3)/(x + 3)``, which maps ``[0, inf)`` onto ``[-1, 1]`` (Schonfelder, Math. Comp. 32,
    1978, uses the same kind of mapping); 30 coefficients, generated with mpmath by
    :func:`_erfcx_chebyshev_table`, reach 1e-19. For ``x > 5e7``, ``1/(sqrt(pi) x)`` is exact to
    rounding. For ``x < 0``, ``2 exp(x^2) - erfcx(-x)``, with ``x^2`` split exactly into two doubles so
    that ``exp(x^2)`` keeps full relative accuracy (a plain ``exp(x*x)`` has a relative error up to
    ``x^2 eps``, 6e-14 at ``x = -26``, which is what scipy's erfcx does). Measured relative error
    6.7e-16 on the whole line; the result overflows to ``inf`` for ``x < -26.63``. No libm ``erfc`` is
    used, so results do not depend on the platform's libm.

``log_erfc(x) = log(erfc(x))``
    ``log1p(-erf(x))`` with a Taylor series of ``erf`` for ``|x| < 1/2``, ``-x^2 + log(erfcx(x))`` for
    ``x >= 1/2`` (no underflow: ``log_erfc(1e5) = -1e10 - 12.7...``), ``log(2 - erfc(-x))`` for
    ``x <= -1/2``. Measured relative error 6.5e-16.

``upper_gamma(a, x) = Gamma(a, x)`` and ``scaled_upper_gamma(a, x) = exp(x) x^(-a) Gamma(a, x)``
    For any real ``a`` and ``x > 0``:

    * ``x >= 1.5`` and ``x > a + 1``: continued fraction for the scaled function (modified Lentz,
      Numerical Recipes ``gcf``), at most ~70 terms for ``x >= 1.5``;
    * ``a > 1/2`` and ``x <= a + 1``: ``Gamma(a) - gamma(a, x)`` with the positive series of the lower
      function; the cancellation is at most a factor ``P/Q <= 12`` (worst at ``a = 1/2, x = 3/2``);
    * ``|a| <= 1/2`` and ``x < 1.5``: ``Gamma(a, x) = (Gamma(1+a) - 1)/a - (x^a - 1)/a
      - x^a sum_{n>=1} (-x)^n/(n! (a+n))``, where ``(Gamma(1+a) - 1)/a`` comes from a series of
      ``log Gamma(1+a)`` in ``zeta(k) - 1`` and ``(x^a - 1)/a = expm1(a log x)/a``; this is uniform
      through ``a = 0`` (``Gamma(0, x) = E1(x)``), where ``Gamma(a) - gamma(a, x)`` would cancel
      catastrophically; cancellation at most a factor ~11 (at ``x = 1.5``);
    * ``a < -1/2`` and ``x < 1.5``: start from ``a0 = a + n`` in ``(-1/2, 1/2]`` and apply the
      recurrence ``S(b) = (1 - x S(b+1)) / (-b)`` of the scaled function downwards. Each step
      multiplies the relative error by ``x S(b+1) / (1 - x S(b+1))``, which is below ~4.3 for the
      first step and tends to ``x/|b|`` afterwards, so the total amplification stays below ~10.

    Measured relative error 8.3e-15 for ``a`` in ``[-20, 20]``, ``x`` in ``[1e-8, 1e4]`` (worst for
    ``a < -1/2`` near ``x = 1.5``, where the recurrence and the ~70-term continued fraction both
    accumulate a few tens of roundings; ``Gamma(a, x)`` itself is compared where it is a normal
    double). Conversions between the scaled and the unscaled function use ``x^p e^q`` computed in
    power-of-two pieces (:func:`_powexp`), so intermediate over/underflow is avoided and the error
    grows only like ``log2(|p log x| + |q|)``. Accuracy is lost gradually for ``a > 170`` with
    ``x <= a + 1`` (``exp(lgamma(a) - a log x + x)`` is then used, relative error ~``eps a log a``),
    and the iteration counts grow like ``sqrt(a)``. ``log_upper_gamma`` is ``log(Gamma)`` when
    ``Gamma`` is a normal double, ``lgamma(a) + log1p(-P(a, x))`` when it overflows with
    ``x <= a + 1``, otherwise ``log(S) + a log x - x`` (absolute error ~``eps (|a log x| + x)``).

``airy_ai(x)``, ``airy_ai_prime(x)``
    Cephes-style split, with the gap between the two classical expansions closed by double-double
    arithmetic instead of rational fits:

    * ``-12 <= x <= 8.5``: Maclaurin series ``Ai = c1 f(x) - c2 g(x)`` summed in double-double
      arithmetic (~106 bits). For ``x > 0`` the two series cancel by a factor ~``e^(2 zeta)``
      (``zeta = 2/3 |x|^(3/2)``), 2.5e14 at ``x = 8.5``, which double-double absorbs (a plain double
      Maclaurin series already loses 3 digits at ``x = 3``). For ``x < 0`` the loss is only
      ~``e^zeta`` in absolute terms.
    * ``x > 8.5``: ``Ai = e^(-zeta) / (2 sqrt(pi) x^(1/4)) sum (-1)^k u_k zeta^(-k)`` (DLMF 9.7.5),
      optimally truncated (smallest term 3e-16 at ``x = 8.5``), with ``zeta`` in double-double so that
      ``e^(-zeta)`` is accurate to rounding even for ``zeta ~ 700``. ``Ai`` underflows to 0 for
      ``x > ~105`` (exactly 0 returned for ``x > 110``).
    * ``x < -12``: modulus/phase form ``Ai(-X) = (cos(phi) F + sin(phi) G) / (sqrt(pi) X^(1/4))``
      with ``phi = zeta - pi/4`` (DLMF 9.7.9); ``phi`` is computed and reduced modulo ``pi/2`` in
      double-double arithmetic (with a triple-double ``pi/2``), so the absolute phase error is
      ~1e-16 instead of ``zeta * eps`` (4e-13 at ``x = -200``). Valid for ``x >= -5e10``; below that
      the phase cannot be reduced in double-double and ``nan`` is returned.

    Measured for ``x`` in ``[-200, 200]``: relative error 7.4e-16 (``Ai'``: 1.1e-15) away from the
    zeros, and absolute error at most 4.1e-16 (``Ai'``: 6.2e-16) times the envelope
    ``|x|^(-1/4)/sqrt(pi)`` (``Ai'``: ``|x|^(1/4)/sqrt(pi)``) for ``x < 0``. scipy's own values are
    off by up to 4.5e-14 absolute for ``x`` in ``[-200, -100]`` (rounding of its phase) and 1.8e-13
    relative for large positive ``x``.

Quadrature
----------
``gauss_kronrod`` is a globally adaptive Gauss-Kronrod 10/21 rule with the QUADPACK ``qk21`` error
estimate (Piessens et al. 1983): the subinterval with the largest error estimate (kept in a binary
heap) is bisected until ``sum(err) <= max(epsabs, epsrel |I|)``. ``laplace_quad`` runs the same
algorithm on ``t^k e^(-s t) f(t)`` over ``[0, T]`` split at the user's breakpoints, and extends the
range lazily with geometric intervals ``[T, 2T]`` (good for power laws spread over many decades):
the remaining tail is bounded by ``M int_T^inf t^k e^(-s t) dt = M Gamma(k+1, sT)/s^(k+1)`` with ``M``
the largest ``|f|`` seen on the last interval, and the tail is treated as one more "interval" with
that error, so it is extended whenever it dominates the error budget; it is not trusted before
``s T >= 36 + k`` (far past the maximum of the weight at ``t = k/s``), so that ``f`` has been sampled
wherever the weight matters. The bound assumes ``|f|`` does not grow beyond the last interval faster than it did on
it. Features much narrower than the interval containing them (a bump of width 0.5 at ``t = 50``
inside ``[32, 64]``) may be missed or resolved slowly: announce them as breakpoints.

The integrand ``f(t, args)`` is a compiled (``@numba.njit``) function with a 1-D float64 ``args``
array; numba specialises the quadrature for each integrand. Because the specialisation is keyed on
the integrand's identity, the quadrature routines themselves are *not* cached on disk (numba issue
#9237: with ``cache=True`` every new process would miss and add a new cache file); the special
functions and the f-independent helpers are cached.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    #: A compiled integrand ``f(t, args) -> float`` (an ``@numba.njit`` dispatcher).
    Integrand = Callable[[float, np.ndarray], float]

__all__ = [
    "erfcx",
    "log_erfc",
    "upper_gamma",
    "scaled_upper_gamma",
    "log_upper_gamma",
    "airy_ai",
    "airy_ai_prime",
    "gauss_kronrod",
    "laplace_quad",
    "IER_OK",
    "IER_LIMIT",
    "IER_ROUNDOFF",
    "IER_TAIL",
    "IER_NONFINITE",
    "IER_INVALID",
]

_EPS = 2.220446049250313e-16
_TINY = 2.2250738585072014e-308
_INV_SQRT_PI = 0.5641895835477563
_EULER = 0.5772156649015329
_NAN = math.nan
_INF = math.inf

# --------------------------------------------------------------------------------------------------
# Double-double arithmetic (Dekker 1971, Knuth TAOCP 4.2.2); a value is a pair (hi, lo), |lo| <= ulp(hi)/2
# --------------------------------------------------------------------------------------------------

_SPLITTER = 134217729.0  # 2**27 + 1


@numba.njit(cache=True)
def _two_sum(a: float, b: float) -> tuple[float, float]:
    """Exact sum ``a + b = s + e`` (Knuth).

    Parameters
    ----------
    a, b : float
        Summands.

    Returns
    -------
    s, e : float
        Rounded sum and its exact rounding error.
    """
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@numba.njit(cache=True)
def _quick_two_sum(a: float, b: float) -> tuple[float, float]:
    """Exact sum ``a + b = s + e`` assuming ``|a| >= |b|`` (Dekker).

    Parameters
    ----------
    a, b : float
        Summands, ``|a| >= |b|``.

    Returns
    -------
    s, e : float
        Rounded sum and its exact rounding error.
    """
    s = a + b
    e = b - (s - a)
    return s, e


@numba.njit(cache=True)
def _split(a: float) -> tuple[float, float]:
    """Veltkamp split of ``a`` into two halves of 26 significant bits (valid for ``|a| < 1e291``).

    Parameters
    ----------
    a : float
        Value to split.

    Returns
    -------
    hi, lo : float
        ``a = hi + lo`` exactly.
    """
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


@numba.njit(cache=True)
def _two_prod(a: float, b: float) -> tuple[float, float]:
    """Exact product ``a * b = p + e`` (Dekker, without FMA).

    Parameters
    ----------
    a, b : float
        Factors (``|a|, |b| < 1e291`` and no under/overflow of the product).

    Returns
    -------
    p, e : float
        Rounded product and its exact rounding error.
    """
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@numba.njit(cache=True)
def _dd_add(ah: float, al: float, bh: float, bl: float) -> tuple[float, float]:
    """Double-double sum (accurate IEEE-style variant).

    Parameters
    ----------
    ah, al, bh, bl : float
        The two double-double summands ``(ah, al)`` and ``(bh, bl)``.

    Returns
    -------
    hi, lo : float
        Normalised double-double sum.
    """
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    e += t
    s, e = _quick_two_sum(s, e)
    e += f
    return _quick_two_sum(s, e)


@numba.njit(cache=True)
def _dd_mul(ah: float, al: float, bh: float, bl: float) -> tuple[float, float]:
    """Double-double product.

    Parameters
    ----------
    ah, al, bh, bl : float
        The two double-double factors.

    Returns
    -------
    hi, lo : float
        Normalised double-double product (relative error ~2**-104).
    """
    p, e = _two_prod(ah, bh)
    e += ah * bl + al * bh
    return _quick_two_sum(p, e)


@numba.njit(cache=True)
def _dd_mul_d(ah: float, al: float, b: float) -> tuple[float, float]:
    """Product of a double-double and a double.

    Parameters
    ----------
    ah, al : float
        Double-double factor.
    b : float
        Double factor.

    Returns
    -------
    hi, lo : float
        Normalised double-double product.
    """
    p, e = _two_prod(ah, b)
    e += al * b
    return _quick_two_sum(p, e)


@numba.njit(cache=True)
def _dd_div_d(ah: float, al: float, b: float) -> tuple[float, float]:
    """Quotient of a double-double by a double.

    Parameters
    ----------
    ah, al : float
        Double-double numerator.
    b : float
        Nonzero double denominator.

    Returns
    -------
    hi, lo : float
        Normalised double-double quotient.
    """
    q1 = ah / b
    p, e = _two_prod(q1, b)
    s, f = _two_sum(ah, -p)
    f -= e
    f += al
    q2 = (s + f) / b
    return _quick_two_sum(q1, q2)


@numba.njit(cache=True)
def _chebyshev(c: np.ndarray, t: float) -> float:
    """Clenshaw evaluation of ``sum_n c[n] T_n(t)`` (``c[0]`` already halved).

    Parameters
    ----------
    c : ndarray of float64
        Chebyshev coefficients.
    t : float
        Point in ``[-1, 1]``.

    Returns
    -------
    float
        Value of the series.
    """
    b1 = 0.0
    b2 = 0.0
    t2 = 2.0 * t
    for n in range(c.shape[0] - 1, 0, -1):
        b0 = t2 * b1 - b2 + c[n]
        b2 = b1
        b1 = b0
    return t * b1 - b2 + c[0]


# --------------------------------------------------------------------------------------------------
# erfcx and log_erfc
# --------------------------------------------------------------------------------------------------

_ERFCX_K = 3.0
# Chebyshev coefficients of (1 + 2x) erfcx(x) in t = (x - 3)/(x + 3), c[0] halved.
# Generated by _erfcx_chebyshev_table(); the tests check that they match a fresh mpmath computation.
_ERFCX_CHEB = np.array(
    [
        1.17756257419656,
        0.005353904539615676,
        -0.09377550342284209,
        0.05436652555744322,
        -0.018976596707845208,
        0.004453426061462712,
        -0.0006335531710553147,
        1.7661719523171593e-05,
        1.2841532864056671e-05,
        -2.0072285659059913e-06,
        -1.807522790414837e-07,
        7.549828343825093e-08,
        1.885668523838603e-09,
        -2.699519049798364e-09,
        -1.460079119939105e-11,
        1.0361607445969489e-10,
        1.475715976623473e-12,
        -4.277340064396911e-12,
        -2.07922492859799e-13,
        1.8134502003176963e-13,
        1.973425574544739e-14,
        -7.287943737592673e-15,
        -1.5169878690228116e-15,
        2.3514112258781403e-16,
        1.0006111691821667e-16,
        -2.0572528169538546e-18,
        -5.608608218863183e-18,
        -5.546884725994431e-19,
        2.4432011577263517e-19,
        6.446123955093522e-20,
    ]
)


@numba.njit(cache=True)
def _erfcx_nonneg(x: float) -> float:
    """``erfcx(x)`` for ``x >= 0`` (including ``+inf``).

    Parameters
    ----------
    x : float
        Non-negative argument.

    Returns
    -------
    float
        ``exp(x^2) erfc(x)``.
    """
    if x > 5.0e7:
        # erfcx(x) = 1/(sqrt(pi) x) (1 - 1/(2x^2) + ...): the correction is below 2e-16.
        return _INV_SQRT_PI / x
    t = (x - _ERFCX_K) / (x + _ERFCX_K)
    return _chebyshev(_ERFCX_CHEB, t) / (1.0 + 2.0 * x)


@numba.njit(cache=True)
def _exp_square(x: float) -> float:
    """``exp(x^2)`` with full relative accuracy (``x^2`` split exactly into two doubles).

    Parameters
    ----------
    x : float
        Argument, ``|x| < 1e150``.

    Returns
    -------
    float
        ``exp(x^2)``; the error is that of ``exp`` plus two roundings.
    """
    h, l = _two_prod(x, x)
    e = math.exp(h)
    if e == _INF:
        return e
    return e + e * l


@numba.njit("float64(float64)", cache=True)
def erfcx(x: float) -> float:
    """Scaled complementary error function ``exp(x^2) erfc(x)``.

    Parameters
    ----------
    x : float
        Real argument.

    Returns
    -------
    float
        ``erfcx(x)``: ``inf`` for ``x < -26.63`` (true overflow), ``~1/(sqrt(pi) x)`` for large ``x``,
        ``nan`` for ``nan``.

    Notes
    -----
    Relative error below 1e-15 everywhere it is finite (see the module docstring).
    """
    if x >= 0.0:
        return _erfcx_nonneg(x)
    if x < -26.7:
        return _INF
    if x != x:
        return _NAN
    return 2.0 * _exp_square(x) - _erfcx_nonneg(-x)


@numba.njit(cache=True)
def _erf_taylor(x: float) -> float:
    """``erf(x)`` by its Maclaurin series, for ``|x| <= 1/2``.

    Parameters
    ----------
    x : float
        Argument with ``|x| <= 1/2``.

    Returns
    -------
    float
        ``erf(x)`` with a relative error of a few ulp.
    """
    x2 = x * x
    term = x  # (-1)^n x^(2n+1) / n!
    total = x
    for n in range(1, 40):
        term *= -x2 / n
        c = term / (2 * n + 1)
        total += c
        if abs(c) <= 1e-17 * abs(total):
            break
    return 2.0 * _INV_SQRT_PI * total


@numba.njit("float64(float64)", cache=True)
def log_erfc(x: float) -> float:
    """Logarithm of the complementary error function, ``log(erfc(x))``.

    Parameters
    ----------
    x : float
        Real argument.

    Returns
    -------
    float
        ``log(erfc(x))``; finite for all finite ``x`` that do not overflow ``x^2``
        (``log_erfc(1e5) = -1e10 - 12.7...``), ``log(2)`` at ``-inf``, ``-inf`` at ``+inf``.

    Notes
    -----
    Relative error below 1e-15, including near ``x = 0`` where the value vanishes.
    """
    if x >= 0.5:
        return -x * x + math.log(_erfcx_nonneg(x))
    if x > -0.5:
        return math.log1p(-_erf_taylor(x))
    if x != x:
        return _NAN
    # erfc(x) = 2 - erfc(-x), with erfc(-x) < 0.48: no cancellation.
    return math.log(2.0 - math.exp(-x * x) * _erfcx_nonneg(-x))


# --------------------------------------------------------------------------------------------------
# Incomplete gamma function
# --------------------------------------------------------------------------------------------------

# (-1)^k (zeta(k) - 1)/k for k = 2..31 (generated by _lgamma1p_table()): log Gamma(1+a) =
# -log1p(a) + (1 - euler) a + sum_k c_k a^k, converging like (a/2)^k.
_LGAMMA1P_COEF = np.array(
    [
        0.3224670334241132,
        -0.0673523010531981,
        0.020580808427784546,
        -0.007385551028673986,
        0.0028905103307415234,
        -0.001192753911703261,
        0.0005096695247430425,
        -0.00022315475845357939,
        9.945751278180853e-05,
        -4.492623673813314e-05,
        2.050721277567069e-05,
        -9.439488275268397e-06,
        4.374866789907488e-06,
        -2.039215753801366e-06,
        9.55141213040742e-07,
        -4.492469198764566e-07,
        2.1207184805554665e-07,
        -1.0043224823968099e-07,
        4.7698101693639804e-08,
        -2.2711094608943164e-08,
        1.0838659214896955e-08,
        -5.183475041970047e-09,
        2.4836745438024785e-09,
        -1.1921401405860912e-09,
        5.731367241678862e-10,
        -2.7595228851242334e-10,
        1.330476437424449e-10,
        -6.4229645638381e-11,
        3.1044247747322276e-11,
        -1.5021384080754142e-11,
    ]
)

_GAMMA_MAXIT = 100000
_GAMMA_CF_X = 1.5  # for a <= 1/2, the continued fraction is used for x >= this


@numba.njit(cache=True)
def _lgamma1p_small(a: float) -> float:
    """``log Gamma(1 + a)`` for ``|a| <= 1/2``, with full relative accuracy near ``a = 0``.

    Parameters
    ----------
    a : float
        Argument, ``|a| <= 1/2``.

    Returns
    -------
    float
        ``log Gamma(1 + a)``.
    """
    c = _LGAMMA1P_COEF
    p = 0.0
    for i in range(c.shape[0] - 1, -1, -1):
        p = p * a + c[i]
    return -math.log1p(a) + a * ((1.0 - _EULER) + a * p)


@numba.njit(cache=True)
def _gamma1pm1_over_a(a: float) -> float:
    """``(Gamma(1 + a) - 1)/a`` for ``|a| <= 1/2`` (``-euler`` at ``a = 0``).

    Parameters
    ----------
    a : float
        Argument, ``|a| <= 1/2``.

    Returns
    -------
    float
        ``(Gamma(1 + a) - 1)/a``.
    """
    if a == 0.0:
        return -_EULER
    return math.expm1(_lgamma1p_small(a)) / a


@numba.njit(cache=True)
def _powexp(x: float, p: float, q: float) -> float:
    """``x^p e^q`` for ``x > 0`` without spurious intermediate over- or underflow.

    Parameters
    ----------
    x : float
        Positive base.
    p : float
        Exponent of ``x``.
    q : float
        Exponent of ``e``.

    Returns
    -------
    float
        ``x^p e^q``. When ``|p log x| + |q| > 700`` the value is computed as ``h^(2^j)`` with
        ``h = x^(p/2^j) e^(q/2^j)`` (exact exponent division by a power of two), so the relative
        error is ~``2^j`` ulp instead of ``(|p log x| + |q|)`` ulp.
    """
    lx = math.log(x)
    mag = abs(p * lx) + abs(q)
    if mag < 700.0:
        return math.pow(x, p) * math.exp(q)
    if not mag < 700.0 * 2.0**40:
        return math.exp(p * lx + q)
    m = 1.0
    j = 0
    while mag > 700.0 * m:
        m *= 2.0
        j += 1
    h = math.pow(x, p / m) * math.exp(q / m)
    for _ in range(j):
        h = h * h
    return h


@numba.njit(cache=True)
def _gamma_cf_scaled(a: float, x: float) -> float:
    """Scaled ``e^x x^(-a) Gamma(a, x)`` by its continued fraction (modified Lentz).

    Parameters
    ----------
    a : float
        Real order.
    x : float
        Argument with ``x + 1 - a > 0`` (used for ``x >= 1.5``, ``x > a + 1``).

    Returns
    -------
    float
        ``1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))``; ``nan`` if it has not converged.
    """
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _GAMMA_MAXIT):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        de = d * c
        h *= de
        if abs(de - 1.0) < 2.0 * _EPS:
            return h
    return _NAN


@numba.njit(cache=True)
def _upper_gamma_small_a(a: float, x: float) -> float:
    """``Gamma(a, x)`` for ``|a| <= 1/2`` and ``0 < x < ~2``, uniform through ``a = 0``.

    Parameters
    ----------
    a : float
        Order, ``|a| <= 1/2``.
    x : float
        Small positive argument.

    Returns
    -------
    float
        ``(Gamma(1+a)-1)/a - expm1(a log x)/a - x^a sum_{n>=1} (-x)^n/(n! (a+n))``.
    """
    lx = math.log(x)
    if a == 0.0:
        tb = lx
    else:
        tb = math.expm1(a * lx) / a
    ta = _gamma1pm1_over_a(a)
    term = 1.0
    total = 0.0
    for n in range(1, 200):
        term *= -x / n
        d = term / (a + n)
        total += d
        if abs(d) <= 1e-17 * abs(total):
            break
    return (ta - tb) - math.exp(a * lx) * total


@numba.njit(cache=True)
def _lower_series_sum(a: float, x: float) -> float:
    """``sum_{n>=0} x^n / (a (a+1) ... (a+n)) = e^x x^(-a) gamma(a, x)`` (positive terms).

    Parameters
    ----------
    a : float
        Order, ``a > 0``.
    x : float
        Argument, ``0 < x <= a + 1``.

    Returns
    -------
    float
        The sum (about ``O(sqrt(a))`` terms when ``x ~ a``).
    """
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(_GAMMA_MAXIT):
        ap += 1.0
        term *= x / ap
        total += term
        if term <= 1e-17 * total:
            break
    return total


@numba.njit(cache=True)
def _upper_gamma_lower_series(a: float, x: float) -> tuple[float, float]:
    """``Gamma(a, x)`` and its scaled form as ``Gamma(a) - gamma(a, x)``, for ``a > 1/2``, ``x <= a+1``.

    Parameters
    ----------
    a : float
        Order, ``a > 1/2``.
    x : float
        Argument, ``0 < x <= a + 1``.

    Returns
    -------
    gamma_ax, scaled : float
        ``Gamma(a, x)`` and ``e^x x^(-a) Gamma(a, x)``.
    """
    total = _lower_series_sum(a, x)  # gamma(a, x) = x^a e^-x * total
    if a < 170.0:
        gam = math.gamma(a)
        t1 = gam * _powexp(x, -a, x)
    else:
        lg = math.lgamma(a)
        gam = math.exp(lg)
        t1 = math.exp(lg - a * math.log(x) + x)
    return gam - total * _powexp(x, a, -x), t1 - total


@numba.njit(cache=True)
def _upper_gamma_core(a: float, x: float) -> tuple[float, float]:
    # Gamma(a, x) is analytic in a: for |a| < 1e-200 (subnormal orders included) Gamma(a, x) = Gamma(0, x)
    # to relative 1e-200, and the small-a series would divide by an a that has lost its precision.
    if abs(a) < 1e-200:
        a = 0.0
    return _upper_gamma_core_impl(a, x)


@numba.njit(cache=True)
def _upper_gamma_core_impl(a: float, x: float) -> tuple[float, float]:
    """``Gamma(a, x)`` and ``e^x x^(-a) Gamma(a, x)`` for real ``a`` and ``x > 0``.

    Parameters
    ----------
    a : float
        Real order.
    x : float
        Positive argument.

    Returns
    -------
    gamma_ax, scaled : float
        Both forms; ``(nan, nan)`` if ``x <= 0``, ``a`` is not finite, or an input is ``nan``.
    """
    if not x > 0.0 or a != a or abs(a) == _INF:
        return _NAN, _NAN
    if x == _INF:
        return 0.0, 0.0
    if (a <= 0.5 and x >= _GAMMA_CF_X) or (a > 0.5 and x > a + 1.0):
        s = _gamma_cf_scaled(a, x)
        return s * _powexp(x, a, -x), s
    if a > 0.5:
        return _upper_gamma_lower_series(a, x)
    # |a| <= 1/2 directly, a < -1/2 by the downward recurrence of the scaled function
    n = max(0, int(math.ceil(-a - 0.5)))
    a0 = a + n  # exact
    g0 = _upper_gamma_small_a(a0, x)
    s = g0 * _powexp(x, -a0, x)
    if n == 0:
        return g0, s
    for j in range(n - 1, -1, -1):
        b = a + j  # exact, <= -1/2
        s = (1.0 - x * s) / (-b)
    return s * _powexp(x, a, -x), s


@numba.njit("float64(float64, float64)", cache=True)
def upper_gamma(a: float, x: float) -> float:
    """Non-regularised upper incomplete gamma function ``Gamma(a, x) = int_x^inf t^(a-1) e^-t dt``.

    Parameters
    ----------
    a : float
        Real order (negative, zero, non-integer and integer values are all allowed).
    x : float
        Argument, ``x > 0``.

    Returns
    -------
    float
        ``Gamma(a, x)``; ``nan`` if ``x <= 0`` or an argument is ``nan`` or ``a`` is infinite
        (callers validate); 0 at ``x = inf``. Over/underflows only when the true value does.

    Notes
    -----
    Relative error below 1e-14 for ``a`` in ``[-20, 20]``, ``x`` in ``[1e-8, 1e4]`` (see the module
    docstring for the algorithm and where accuracy is lost).
    """
    return _upper_gamma_core(a, x)[0]


@numba.njit("float64(float64, float64)", cache=True)
def scaled_upper_gamma(a: float, x: float) -> float:
    """Scaled upper incomplete gamma function ``e^x x^(-a) Gamma(a, x)``.

    It behaves like ``1/x`` for large ``x``, so it stays representable where ``Gamma(a, x)``
    underflows. The Laplace transform of the power law ``(1 + t)^(-p)`` is
    ``L(s) = e^s s^(p-1) Gamma(1-p, s) = scaled_upper_gamma(1 - p, s)``.

    Parameters
    ----------
    a : float
        Real order.
    x : float
        Argument, ``x > 0``.

    Returns
    -------
    float
        ``e^x x^(-a) Gamma(a, x)``; ``nan`` for invalid input as in :func:`upper_gamma`, 0 at ``inf``.
    """
    return _upper_gamma_core(a, x)[1]


@numba.njit("float64(float64, float64)", cache=True)
def log_upper_gamma(a: float, x: float) -> float:
    """Logarithm of the upper incomplete gamma function, ``log Gamma(a, x)``.

    Parameters
    ----------
    a : float
        Real order.
    x : float
        Argument, ``x > 0``.

    Returns
    -------
    float
        ``log Gamma(a, x)``, finite where ``Gamma(a, x)`` itself over/underflows; ``nan`` for invalid
        input as in :func:`upper_gamma`.

    Notes
    -----
    When ``Gamma(a, x)`` is a normal double the result is ``log`` of it (absolute error ~``eps``);
    when it overflows with ``x <= a + 1`` (``a > ~171``), ``lgamma(a) + log1p(-P(a, x))``; otherwise
    ``log(S) + a log x - x`` with ``S`` the scaled function. The absolute error of the last two forms
    is ~``eps (|a log x| + x)``.
    """
    g, s = _upper_gamma_core(a, x)
    if g != g:
        return _NAN
    if _TINY < g < _INF:
        return math.log(g)
    if a > 0.5 and x <= a + 1.0:
        lg = math.lgamma(a)
        p = math.exp(a * math.log(x) - x - lg) * _lower_series_sum(a, x)  # regularised P(a, x)
        return lg + math.log1p(-p)
    return math.log(s) + a * math.log(x) - x


# --------------------------------------------------------------------------------------------------
# Airy function
# --------------------------------------------------------------------------------------------------

_AI0_HI, _AI0_LO = 0.3550280538878172, 2.05233632436212e-17  # Ai(0)
_AIP0_HI, _AIP0_LO = 0.2588194037928068, -2.522243111610832e-17  # -Ai'(0)
_TWO_THIRDS_HI, _TWO_THIRDS_LO = 0.6666666666666666, 3.700743415417188e-17
_PIO2_1, _PIO2_2, _PIO2_3 = 1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33
_PIO4_HI, _PIO4_LO = 0.7853981633974483, 3.061616997868383e-17
_AIRY_POS_ASYM = 8.5  # x > this: exponential asymptotic expansion
_AIRY_NEG_ASYM = 12.0  # x < -this: oscillatory asymptotic expansion
_AIRY_MAX_NEG = 5.0e10  # beyond: phase reduction impossible in double-double


@numba.njit(cache=True)
def _airy_maclaurin(x: float) -> tuple[float, float]:
    """``Ai(x)`` and ``Ai'(x)`` by the Maclaurin series, summed in double-double.

    ``Ai = c1 f - c2 g`` with ``f = sum_k x^(3k) / prod_{j<=k} (3j-1)(3j)`` and
    ``g = sum_k x^(3k+1) / prod_{j<=k} (3j)(3j+1)`` (DLMF 9.4.1).

    Parameters
    ----------
    x : float
        Argument, ``|x| <= ~12``.

    Returns
    -------
    ai, aip : float
        ``Ai(x)`` and ``Ai'(x)``.
    """
    x2h, x2l = _two_prod(x, x)
    x3h, x3l = _dd_mul_d(x2h, x2l, x)
    fh, fl = 1.0, 0.0  # f
    th, tl = 1.0, 0.0  # its current term
    gh, gl = x, 0.0  # g
    uh, ul = x, 0.0
    dfh, dfl = 0.5 * x2h, 0.5 * x2l  # f' = sum_{k>=1} 3k a_k x^(3k-1); first term x^2/2
    vh, vl = dfh, dfl
    dgh, dgl = 1.0, 0.0  # g' = sum_k (3k+1) b_k x^(3k)
    wh, wl = 1.0, 0.0
    for k in range(1, 200):
        k3 = 3.0 * k
        th, tl = _dd_mul(th, tl, x3h, x3l)
        th, tl = _dd_div_d(th, tl, (k3 - 1.0) * k3)
        fh, fl = _dd_add(fh, fl, th, tl)
        uh, ul = _dd_mul(uh, ul, x3h, x3l)
        uh, ul = _dd_div_d(uh, ul, k3 * (k3 + 1.0))
        gh, gl = _dd_add(gh, gl, uh, ul)
        if k >= 2:
            vh, vl = _dd_mul(vh, vl, x3h, x3l)
            vh, vl = _dd_div_d(vh, vl, (k3 - 3.0) * (k3 - 1.0))
            dfh, dfl = _dd_add(dfh, dfl, vh, vl)
        wh, wl = _dd_mul(wh, wl, x3h, x3l)
        wh, wl = _dd_div_d(wh, wl, k3 * (k3 - 2.0))
        dgh, dgl = _dd_add(dgh, dgl, wh, wl)
        small_ai = abs(th) + abs(uh) <= 1e-34 * (abs(fh) + abs(gh))
        if small_ai and abs(vh) + abs(wh) <= 1e-34 * (abs(dfh) + abs(dgh)):
            break
    ph, pl = _dd_mul(_AI0_HI, _AI0_LO, fh, fl)
    qh, ql = _dd_mul(_AIP0_HI, _AIP0_LO, gh, gl)
    ah, al = _dd_add(ph, pl, -qh, -ql)
    ph, pl = _dd_mul(_AI0_HI, _AI0_LO, dfh, dfl)
    qh, ql = _dd_mul(_AIP0_HI, _AIP0_LO, dgh, dgl)
    bh, bl = _dd_add(ph, pl, -qh, -ql)
    return ah + al, bh + bl


@numba.njit(cache=True)
def _zeta_dd(X: float) -> tuple[float, float]:
    """``zeta = (2/3) X^(3/2)`` in double-double, for ``0 < X <= 1e100``.

    Parameters
    ----------
    X : float
        Positive argument.

    Returns
    -------
    hi, lo : float
        ``zeta`` with a relative error ~1e-31.
    """
    s = math.sqrt(X)
    p, e = _two_prod(s, s)
    ds = ((X - p) - e) / (2.0 * s)  # sqrt(X) = s + ds to ~2^-106
    ph, pl = _two_prod(X, s)
    pl += X * ds
    ph, pl = _quick_two_sum(ph, pl)
    return _dd_mul(ph, pl, _TWO_THIRDS_HI, _TWO_THIRDS_LO)


@numba.njit(cache=True)
def _airy_asym_sums(r: float, alternate: bool) -> tuple[float, float, float, float]:
    """Sums of the Airy asymptotic series in ``r = 1/zeta``, optimally truncated.

    With ``u_k`` and ``v_k`` of DLMF 9.7.2 and ``t_k = u_k r^k``, ``w_k = v_k r^k``: for the
    exponential case (``alternate`` false) returns ``(sum (-1)^k t_k, 0, sum (-1)^k w_k, 0)``; for the
    oscillatory case returns ``(t0 - t2 + t4 - ..., t1 - t3 + ..., w0 - w2 + ..., w1 - w3 + ...)``.

    Parameters
    ----------
    r : float
        ``1/zeta``, at most ~0.05.
    alternate : bool
        Oscillatory (true) or exponential (false) grouping of the terms.

    Returns
    -------
    su0, su1, sv0, sv1 : float
        The sums described above.
    """
    su0 = 1.0
    su1 = 0.0
    sv0 = 1.0
    sv1 = 0.0
    u = 1.0
    t = 1.0
    prev = _INF
    for k in range(1, 80):
        u *= (6.0 * k - 5.0) * (6.0 * k - 3.0) * (6.0 * k - 1.0) / ((2.0 * k - 1.0) * 216.0 * k)
        t *= r
        tk = u * t
        if tk >= prev:  # the series started to diverge: optimal truncation
            break
        prev = tk
        wk = -(6.0 * k + 1.0) / (6.0 * k - 1.0) * tk
        if alternate:
            sign = 1.0 if (k // 2) % 2 == 0 else -1.0
            if k % 2 == 0:
                su0 += sign * tk
                sv0 += sign * wk
            else:
                su1 += sign * tk
                sv1 += sign * wk
        else:
            sign = 1.0 if k % 2 == 0 else -1.0
            su0 += sign * tk
            sv0 += sign * wk
        if abs(wk) < 1e-17:  # |w_k| > t_k
            break
    return su0, su1, sv0, sv1


@numba.njit(cache=True)
def _airy_pos_asym(x: float) -> tuple[float, float]:
    """``Ai(x)``, ``Ai'(x)`` for ``x > 8.5`` (DLMF 9.7.5, 9.7.6).

    Parameters
    ----------
    x : float
        Argument, ``8.5 < x <= 110``.

    Returns
    -------
    ai, aip : float
        ``Ai(x)`` and ``Ai'(x)``.
    """
    zh, zl = _zeta_dd(x)
    e = math.exp(-zh)
    e -= e * zl
    su, _, sv, _ = _airy_asym_sums(1.0 / zh, False)
    q = math.sqrt(math.sqrt(x))
    c = 0.5 * _INV_SQRT_PI
    return (c * su / q) * e, -(c * q * sv) * e


@numba.njit(cache=True)
def _airy_neg_asym(X: float) -> tuple[float, float]:
    """``Ai(-X)``, ``Ai'(-X)`` for ``X > 12`` (DLMF 9.7.9, 9.7.11) with a double-double phase.

    Parameters
    ----------
    X : float
        Positive argument, ``12 < X <= 5e10``.

    Returns
    -------
    ai, aip : float
        ``Ai(-X)`` and ``Ai'(-X)``.
    """
    zh, zl = _zeta_dd(X)
    # phi = zeta - pi/4, reduced modulo pi/2 with a triple-double pi/2
    ph, pl = _dd_add(zh, zl, -_PIO4_HI, -_PIO4_LO)
    n = math.floor(ph / _PIO2_1 + 0.5)
    p1h, p1l = _two_prod(n, _PIO2_1)
    rh, rl = _dd_add(ph, pl, -p1h, -p1l)
    p2h, p2l = _two_prod(n, _PIO2_2)
    rh, rl = _dd_add(rh, rl, -p2h, -p2l)
    rl -= n * _PIO2_3
    sr = math.sin(rh)
    cr = math.cos(rh)
    s0 = sr + cr * rl
    c0 = cr - sr * rl
    quadrant = int(n) % 4
    if quadrant == 0:
        sp, cp = s0, c0
    elif quadrant == 1:
        sp, cp = c0, -s0
    elif quadrant == 2:
        sp, cp = -s0, -c0
    else:
        sp, cp = -c0, s0
    f, g, p, q = _airy_asym_sums(1.0 / zh, True)
    x4 = math.sqrt(math.sqrt(X))
    return _INV_SQRT_PI / x4 * (cp * f + sp * g), _INV_SQRT_PI * x4 * (sp * p - cp * q)


@numba.njit(cache=True)
def _airy(x: float) -> tuple[float, float]:
    """Dispatch ``Ai`` and ``Ai'`` to the Maclaurin or the asymptotic branches.

    Both are always computed together: the extra series costs less than a second compiled
    specialisation per flag would (numba types a constant flag as a literal and recompiles the chain).

    Parameters
    ----------
    x : float
        Real argument.

    Returns
    -------
    ai, aip : float
        ``Ai(x)`` and ``Ai'(x)``; ``nan`` for ``nan`` or ``x < -5e10``.
    """
    if x != x or x < -_AIRY_MAX_NEG:
        return _NAN, _NAN
    if x > 110.0:
        return 0.0, 0.0
    if x > _AIRY_POS_ASYM:
        return _airy_pos_asym(x)
    if x < -_AIRY_NEG_ASYM:
        return _airy_neg_asym(-x)
    return _airy_maclaurin(x)


@numba.njit("float64(float64)", cache=True)
def airy_ai(x: float) -> float:
    """Airy function ``Ai(x)``.

    Parameters
    ----------
    x : float
        Real argument.

    Returns
    -------
    float
        ``Ai(x)``; 0 (underflow) for ``x > ~105``; ``nan`` for ``nan`` and for ``x < -5e10`` (phase
        not reducible in double-double).

    Notes
    -----
    Relative error ~1e-15 away from the zeros, absolute error below 1e-16 near them (module docstring).
    """
    return _airy(x)[0]


@numba.njit("float64(float64)", cache=True)
def airy_ai_prime(x: float) -> float:
    """Derivative of the Airy function, ``Ai'(x)``.

    Parameters
    ----------
    x : float
        Real argument.

    Returns
    -------
    float
        ``Ai'(x)``; 0 (underflow) for ``x > ~105``; ``nan`` for ``nan`` and for ``x < -5e10``.

    Notes
    -----
    Same algorithm and accuracy as :func:`airy_ai`.
    """
    return _airy(x)[1]


# --------------------------------------------------------------------------------------------------
# Adaptive Gauss-Kronrod quadrature
# --------------------------------------------------------------------------------------------------

# Gauss-Kronrod 10/21 rule (QUADPACK qk21): Kronrod abscissae (decreasing, the last is 0), Kronrod
# weights, and the weights of the 10-point Gauss rule at _GK21_X[1], _GK21_X[3], ..., _GK21_X[9].
# The tests check exactness for polynomials of degree <= 31 and the Gauss part against numpy.
_GK21_X = np.array(
    [
        0.995657163025808080735527280689003,
        0.973906528517171720077964012084452,
        0.930157491355708226001207180059508,
        0.865063366688984510732096688423493,
        0.780817726586416897063717578345042,
        0.679409568299024406234327365114874,
        0.562757134668604683339000099272694,
        0.433395394129247190799265943165784,
        0.294392862701460198131126603103866,
        0.148874338981631210884826001129720,
        0.0,
    ]
)
_GK21_WK = np.array(
    [
        0.011694638867371874278064396062192,
        0.032558162307964727478818972459390,
        0.054755896574351996031381300244580,
        0.075039674810919952767043140916190,
        0.093125454583697605535065465083366,
        0.109387158802297641899210590325805,
        0.123491976262065851077600525452760,
        0.134709217311473325928054001771707,
        0.142775938577060080797094273138717,
        0.147739104901338491374841515972068,
        0.149445554002916905664936468389821,
    ]
)
_GK21_WG = np.array(
    [
        0.066671344308688137593568809893332,
        0.149451349150580593145776339657697,
        0.219086362515982043995534934228163,
        0.269266719309996355091226921569469,
        0.295524224714752870173892994651338,
    ]
)

# Status codes returned as ``ier``.
IER_OK = 0  #: converged to the requested tolerance
IER_LIMIT = 1  #: the maximum number of subintervals was reached
IER_ROUNDOFF = 2  #: errors at their roundoff floor (or unbisectable) exceed the tolerance
IER_TAIL = 3  #: laplace_quad: the tail bound did not become negligible before t ~ 1e300
IER_NONFINITE = 4  #: the integrand returned nan or inf
IER_INVALID = 6  #: invalid input (non-finite limits, s <= 0, k <= -1, bad tolerances or breakpoints)


@numba.njit(cache=True)
def _laplace_weight(t: float, s: float, k: float) -> float:
    """Weight ``t^k e^(-s t)`` of :func:`laplace_quad` at an interior node ``t > 0``.

    Parameters
    ----------
    t : float
        Positive node.
    s : float
        Laplace variable.
    k : float
        Power of ``t``.

    Returns
    -------
    float
        ``t^k e^(-s t)`` (computed as one exponential when the product would over/underflow).
    """
    if k == 0.0:
        return math.exp(-s * t)
    w = math.pow(t, k) * math.exp(-s * t)
    if w == w and w != _INF and w != 0.0:
        return w
    return math.exp(k * math.log(t) - s * t)


@numba.njit
def _qk21(
    f: Integrand, args: np.ndarray, a: float, b: float, s: float, k: float, weighted: bool
) -> tuple[float, float, float, float]:
    """Gauss-Kronrod 21-point rule on ``[a, b]`` with the QUADPACK error estimate.

    Parameters
    ----------
    f : numba dispatcher
        Integrand ``f(t, args) -> float``.
    args : ndarray of float64
        Extra parameters passed to ``f``.
    a, b : float
        Interval.
    s, k : float
        Parameters of the weight ``t^k e^(-s t)``, used when ``weighted``.
    weighted : bool
        Whether to multiply ``f`` by the Laplace weight.

    Returns
    -------
    result : float
        21-point Kronrod estimate of the integral.
    abserr : float
        QUADPACK error estimate ``resasc min(1, (200 |K - G| / resasc)^1.5)``, at least
        ``50 eps resabs``.
    fmax : float
        Largest ``|f|`` (unweighted) at the 21 nodes.
    floor : float
        The roundoff floor ``50 eps resabs`` of ``abserr`` (bisecting cannot reduce it).
    """
    centr = 0.5 * (a + b)
    hlgth = 0.5 * (b - a)
    dhlgth = abs(hlgth)
    raw = f(centr, args)
    fmax = abs(raw)
    fc = raw * _laplace_weight(centr, s, k) if weighted else raw
    resg = 0.0
    resk = _GK21_WK[10] * fc
    resabs = abs(resk)
    fv1 = np.empty(10)
    fv2 = np.empty(10)
    for j in range(10):
        absc = hlgth * _GK21_X[j]
        t1 = centr - absc
        t2 = centr + absc
        r1 = f(t1, args)
        r2 = f(t2, args)
        fmax = max(fmax, abs(r1), abs(r2))
        if weighted:
            r1 *= _laplace_weight(t1, s, k)
            r2 *= _laplace_weight(t2, s, k)
        fv1[j] = r1
        fv2[j] = r2
        fsum = r1 + r2
        resk += _GK21_WK[j] * fsum
        resabs += _GK21_WK[j] * (abs(r1) + abs(r2))
        if j % 2 == 1:
            resg += _GK21_WG[j // 2] * fsum
    reskh = 0.5 * resk
    resasc = _GK21_WK[10] * abs(fc - reskh)
    for j in range(10):
        resasc += _GK21_WK[j] * (abs(fv1[j] - reskh) + abs(fv2[j] - reskh))
    result = resk * hlgth
    resabs *= dhlgth
    resasc *= dhlgth
    abserr = abs((resk - resg) * hlgth)
    if resasc != 0.0 and abserr != 0.0:
        abserr = resasc * min(1.0, (200.0 * abserr / resasc) ** 1.5)
    floor = 0.0
    if resabs > _TINY / (50.0 * _EPS):
        floor = 50.0 * _EPS * resabs
        abserr = max(floor, abserr)
    return result, abserr, fmax, floor


@numba.njit(cache=True)
def _heap_push(heap: np.ndarray, size: int, key: np.ndarray, idx: int) -> int:
    """Push interval ``idx`` on a binary max-heap ordered by ``key``.

    Parameters
    ----------
    heap : ndarray of int64
        Heap storage.
    size : int
        Current number of elements.
    key : ndarray of float64
        Error estimates indexed by interval.
    idx : int
        Interval to push.

    Returns
    -------
    int
        New size.
    """
    i = size
    heap[i] = idx
    while i > 0:
        parent = (i - 1) // 2
        if key[heap[parent]] >= key[heap[i]]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@numba.njit(cache=True)
def _heap_pop(heap: np.ndarray, size: int, key: np.ndarray) -> tuple[int, int]:
    """Pop the interval with the largest ``key`` from a binary max-heap.

    Parameters
    ----------
    heap : ndarray of int64
        Heap storage.
    size : int
        Current number of elements (> 0).
    key : ndarray of float64
        Error estimates indexed by interval.

    Returns
    -------
    idx, size : int
        The popped interval and the new size.
    """
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and key[heap[left + 1]] > key[heap[left]]:
            child = left + 1
        if key[heap[i]] >= key[heap[child]]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return top, size


@numba.njit(cache=True)
def _laplace_tail(t_end: float, s: float, k: float, fmax: float) -> float:
    """Bound ``fmax int_T^inf t^k e^(-s t) dt = fmax Gamma(k+1, sT) / s^(k+1)`` of the tail.

    Parameters
    ----------
    t_end : float
        Current end ``T > 0`` of the integration range.
    s : float
        Laplace variable, ``s > 0``.
    k : float
        Power of ``t``, ``k > -1``.
    fmax : float
        Bound on ``|f|`` beyond ``T`` (estimated from the last interval).

    Returns
    -------
    float
        The tail bound (0 when it underflows).
    """
    if fmax == 0.0:
        return 0.0
    x = s * t_end
    scaled = scaled_upper_gamma(k + 1.0, x)  # Gamma(k+1, x) = scaled x^(k+1) e^-x
    return fmax * scaled * math.exp((k + 1.0) * math.log(t_end) - x)


@numba.njit
def _adaptive(
    f: Integrand,
    args: np.ndarray,
    edges: np.ndarray,
    s: float,
    k: float,
    weighted: bool,
    tail: bool,
    epsabs: float,
    epsrel: float,
    limit: int,
) -> tuple[float, float, int, int]:
    """Globally adaptive GK21 over the segments ``edges``, optionally with a lazily extended tail.

    Parameters
    ----------
    f : numba dispatcher
        Integrand ``f(t, args) -> float``.
    args : ndarray of float64
        Extra parameters of ``f``.
    edges : ndarray of float64
        Increasing finite points; the initial intervals are ``[edges[i], edges[i+1]]``.
    s, k : float
        Laplace weight parameters (used when ``weighted``).
    weighted : bool
        Multiply ``f`` by ``t^k e^(-s t)``.
    tail : bool
        Extend the range beyond ``edges[-1]`` with intervals ``[T, 2T]`` until the tail bound
        (:func:`_laplace_tail`) is negligible and ``s T >= 36 + k`` (far past the maximum of the weight,
        so that ``f`` has been sampled wherever the weight matters).
    epsabs, epsrel : float
        Absolute and relative tolerances.
    limit : int
        Maximum number of subintervals.

    Returns
    -------
    value, abserr : float
        Integral and error estimate (including the tail bound).
    neval : int
        Number of integrand evaluations.
    ier : int
        Status code (``IER_*``).
    """
    nseg = edges.shape[0] - 1
    cap = max(limit, nseg)
    alist = np.empty(cap)
    blist = np.empty(cap)
    rlist = np.empty(cap)
    elist = np.empty(cap)
    floors = np.empty(cap)
    heap = np.empty(cap, dtype=np.int64)
    size = 0
    n = 0
    area = 0.0
    errsum = 0.0
    fmax_last = 0.0
    for i in range(nseg):
        r, e, fm, fl = _qk21(f, args, edges[i], edges[i + 1], s, k, weighted)
        alist[n] = edges[i]
        blist[n] = edges[i + 1]
        rlist[n] = r
        elist[n] = e
        floors[n] = fl
        size = _heap_push(heap, size, elist, n)
        n += 1
        area += r
        errsum += e
        fmax_last = fm
    neval = 21 * nseg
    t_end = edges[nseg]
    tail_err = _laplace_tail(t_end, s, k, fmax_last) if tail else 0.0
    min_st = 36.0 + k
    frozen_err = 0.0
    ier = IER_OK
    while True:
        if not (area == area and abs(area) < _INF and errsum == errsum):
            ier = IER_NONFINITE
            break
        # the tail bound is only trusted far past the maximum of the weight (s T >= 36 + k)
        tail_eff = tail_err if (not tail or s * t_end >= min_st) else _INF
        tol = max(epsabs, epsrel * abs(area))
        if errsum + tail_eff <= tol:
            break
        if frozen_err > tol or (size == 0 and not tail):
            # the intervals left are at their roundoff floor or too narrow (QUADPACK ier=2)
            ier = IER_ROUNDOFF
            break
        if n >= cap:
            ier = IER_LIMIT
            break
        if tail and (size == 0 or tail_eff >= elist[heap[0]]):
            if t_end > 1e300:
                ier = IER_TAIL
                break
            t_new = 2.0 * t_end
            r, e, fm, fl = _qk21(f, args, t_end, t_new, s, k, weighted)
            neval += 21
            alist[n] = t_end
            blist[n] = t_new
            rlist[n] = r
            elist[n] = e
            floors[n] = fl
            size = _heap_push(heap, size, elist, n)
            n += 1
            area += r
            errsum += e
            t_end = t_new
            tail_err = _laplace_tail(t_end, s, k, fm)
            continue
        i, size = _heap_pop(heap, size, elist)
        a1 = alist[i]
        b2 = blist[i]
        mid = 0.5 * (a1 + b2)
        too_narrow = not (a1 < mid < b2) or (b2 - a1) <= 1000.0 * _EPS * max(abs(a1), abs(b2))
        if too_narrow or elist[i] <= floors[i]:
            # bisection cannot reduce this error any more: freeze the interval (it stays in the sums)
            frozen_err += elist[i]
            continue
        r1, e1, _, fl1 = _qk21(f, args, a1, mid, s, k, weighted)
        r2, e2, _, fl2 = _qk21(f, args, mid, b2, s, k, weighted)
        neval += 42
        area += r1 + r2 - rlist[i]
        errsum += e1 + e2 - elist[i]
        blist[i] = mid
        rlist[i] = r1
        elist[i] = e1
        floors[i] = fl1
        alist[n] = mid
        blist[n] = b2
        rlist[n] = r2
        elist[n] = e2
        floors[n] = fl2
        size = _heap_push(heap, size, elist, i)
        size = _heap_push(heap, size, elist, n)
        n += 1
    # re-sum to remove the drift of the incremental updates
    area = 0.0
    errsum = 0.0
    for i in range(n):
        area += rlist[i]
        errsum += elist[i]
    return area, errsum + tail_err, neval, ier


@numba.njit
def gauss_kronrod(
    f: Integrand,
    a: float,
    b: float,
    args: np.ndarray,
    epsabs: float = 0.0,
    epsrel: float = 1e-10,
    limit: int = 500,
) -> tuple[float, float, int, int]:
    """Adaptive Gauss-Kronrod (10/21) integral of ``f(t, args)`` over a finite interval.

    Parameters
    ----------
    f : numba dispatcher
        Integrand, an ``@numba.njit`` function ``f(t: float, args: ndarray) -> float``.
    a, b : float
        Finite integration limits (``b < a`` gives the negated integral over ``[b, a]``).
    args : ndarray of float64
        1-D array of extra parameters passed to ``f``.
    epsabs : float, default 0.0
        Absolute tolerance.
    epsrel : float, default 1e-10
        Relative tolerance; with ``epsabs <= 0`` it must be at least ``50 eps`` (~1.1e-14).
    limit : int, default 500
        Maximum number of subintervals.

    Returns
    -------
    value : float
        Estimate of ``int_a^b f(t, args) dt``.
    abserr : float
        Error estimate (QUADPACK ``qk21`` estimate, summed over the subintervals).
    neval : int
        Number of evaluations of ``f``.
    ier : int
        0 converged; 1 ``limit`` reached; 2 roundoff: the subintervals whose error is at its roundoff
        floor ``50 eps int|f|`` (or that are too narrow to bisect) already exceed the tolerance, which
        is therefore not attainable in double precision (or ``f`` has a singularity); 4 the integrand
        returned ``nan``/``inf``; 6 invalid input (non-finite limits, bad tolerances, ``limit < 1``),
        with ``value = nan``. The value and error estimate are meaningful for ``ier`` 1 and 2.

    Notes
    -----
    Not cached on disk: numba compiles it once per integrand and process (numba issue #9237).
    """
    if not (abs(a) < _INF and abs(b) < _INF) or limit < 1 or (epsabs <= 0.0 and epsrel < 50.0 * _EPS):
        return _NAN, _NAN, 0, IER_INVALID
    if a == b:
        return 0.0, 0.0, 0, IER_OK
    sign = 1.0
    lo = a
    hi = b
    if b < a:
        sign = -1.0
        lo = b
        hi = a
    edges = np.empty(2)
    edges[0] = lo
    edges[1] = hi
    # a runtime flag, not the constant False: numba would specialise _adaptive on the literal value and
    # compile it twice per integrand (once here, once for laplace_quad)
    flag = limit < 0
    value, err, neval, ier = _adaptive(f, args, edges, 0.0, 0.0, flag, flag, epsabs, epsrel, limit)
    return sign * value, err, neval, ier


@numba.njit(cache=True)
def _laplace_edges(s: float, breakpoints: np.ndarray) -> np.ndarray:
    """Initial segments of :func:`laplace_quad`: ``0``, the sorted distinct positive breakpoints,
    and at least ``min(1, 1/s)``.

    Parameters
    ----------
    s : float
        Laplace variable, ``s > 0``.
    breakpoints : ndarray of float64
        User breakpoints (finite, ``>= 0``).

    Returns
    -------
    ndarray of float64
        Increasing edges starting at 0.
    """
    bp = np.sort(breakpoints)
    scale = min(1.0, 1.0 / s)
    out = np.empty(bp.shape[0] + 2)
    out[0] = 0.0
    m = 1
    for v in bp:
        if v > out[m - 1]:
            out[m] = v
            m += 1
    if out[m - 1] < scale:
        out[m] = scale
        m += 1
    return out[:m].copy()


@numba.njit
def laplace_quad(
    f: Integrand,
    args: np.ndarray,
    s: float,
    k: float = 0.0,
    breakpoints: np.ndarray | None = None,
    epsabs: float = 0.0,
    epsrel: float = 1e-10,
    limit: int = 2000,
) -> tuple[float, float, int, int]:
    """Laplace-type integral ``int_0^inf t^k e^(-s t) f(t, args) dt`` by adaptive Gauss-Kronrod.

    The range ``[0, T]`` is split at the breakpoints (and at ``min(1, 1/s)``), then extended by
    geometric intervals ``[T, 2T]`` until ``s T >= 36 + k`` and the tail bound ``M Gamma(k+1, sT)/s^(k+1)``
    (``M`` = largest ``|f|`` on the last interval) is negligible; all intervals share one global error
    budget.

    Parameters
    ----------
    f : numba dispatcher
        Integrand, an ``@numba.njit`` function ``f(t: float, args: ndarray) -> float``. It should not
        grow faster than ``e^(s t)``. It is only evaluated at interior Gauss-Kronrod nodes (never at
        ``t = 0`` or at a breakpoint), so integrable endpoint singularities are allowed.
    args : ndarray of float64
        1-D array of extra parameters passed to ``f``.
    s : float
        Laplace variable, ``s > 0``.
    k : float, default 0.0
        Power of ``t`` in the weight, ``k > -1`` (``-1 < k < 0`` converges slowly: endpoint singularity).
    breakpoints : 1-D ndarray of float64 or None, default None
        Points where ``f`` changes character (location and edges of narrow features, e.g.
        ``[49, 50, 51]`` for a bump of width 0.5 at 50). Features beyond the breakpoints that are
        narrower than the current interval can be missed, as with any quadrature.
    epsabs : float, default 0.0
        Absolute tolerance.
    epsrel : float, default 1e-10
        Relative tolerance; with ``epsabs <= 0`` it must be at least ``50 eps`` (~1.1e-14).
    limit : int, default 2000
        Maximum number of subintervals (tail intervals included). Oscillatory ``f`` needs about
        ``(number of periods within ~40/s)`` subintervals.

    Returns
    -------
    value : float
        Estimate of the integral.
    abserr : float
        Error estimate (quadrature estimate plus the tail bound).
    neval : int
        Number of evaluations of ``f``.
    ier : int
        0 converged; 1 ``limit`` reached; 2 roundoff (see :func:`gauss_kronrod`); 3 the tail bound did
        not become negligible before ``T ~ 1e300``; 4 non-finite integrand values; 6 invalid input
        (``s <= 0``, ``k <= -1``, non-finite or negative breakpoints, bad tolerances), with
        ``value = nan``.

    Notes
    -----
    Not cached on disk: numba compiles it once per integrand and process (numba issue #9237).
    """
    if not (s > 0.0 and s < _INF and k > -1.0 and k < _INF) or limit < 1:
        return _NAN, _NAN, 0, IER_INVALID
    if epsabs <= 0.0 and epsrel < 50.0 * _EPS:
        return _NAN, _NAN, 0, IER_INVALID
    if breakpoints is None:
        bp = np.empty(0)
    else:
        bp = breakpoints
    for v in bp:
        if not (v >= 0.0 and v < _INF):
            return _NAN, _NAN, 0, IER_INVALID
    edges = _laplace_edges(s, bp)
    flag = s > 0.0  # runtime True (see gauss_kronrod)
    return _adaptive(f, args, edges, s, k, flag, flag, epsabs, epsrel, limit)


# --------------------------------------------------------------------------------------------------
# Generators of the embedded tables (mpmath; not compiled, used by the tests to audit the literals)
# --------------------------------------------------------------------------------------------------


def _erfcx_chebyshev_table(n_terms: int = 30, dps: int = 50, nodes: int = 96) -> np.ndarray:
    """Recompute ``_ERFCX_CHEB`` with mpmath.

    Chebyshev interpolation of ``g(t) = (1 + 2x) erfcx(x)``, ``x = 3 (1 + t)/(1 - t)``, at ``nodes``
    Chebyshev points of the first kind; the coefficients decay below 1e-19 by ``n = 30``.

    Parameters
    ----------
    n_terms : int, default 30
        Number of coefficients returned.
    dps : int, default 50
        mpmath working precision (decimal digits).
    nodes : int, default 96
        Number of interpolation nodes (``> n_terms``; aliasing error ~ ``|c_(2 nodes - n_terms)|``).

    Returns
    -------
    ndarray of float64
        The coefficients, ``c[0]`` halved as expected by :func:`_chebyshev`.
    """
    import mpmath as mp

    with mp.workdps(dps):
        k = mp.mpf(_ERFCX_K)
        theta = [mp.pi * (j + mp.mpf(1) / 2) / nodes for j in range(nodes)]
        vals = []
        for th in theta:
            t = mp.cos(th)
            x = k * (1 + t) / (1 - t)
            vals.append((1 + 2 * x) * mp.exp(x * x) * mp.erfc(x))
        coef = []
        for n in range(n_terms):
            c = 2 * mp.fsum(v * mp.cos(n * th) for v, th in zip(vals, theta)) / nodes
            coef.append(c / 2 if n == 0 else c)
        return np.array([float(c) for c in coef])


def _lgamma1p_table(kmax: int = 31, dps: int = 40) -> np.ndarray:
    """Recompute ``_LGAMMA1P_COEF = [(-1)^k (zeta(k) - 1)/k for k = 2..kmax]`` with mpmath.

    Parameters
    ----------
    kmax : int, default 31
        Last power.
    dps : int, default 40
        mpmath working precision (decimal digits).

    Returns
    -------
    ndarray of float64
        The coefficients.
    """
    import mpmath as mp

    with mp.workdps(dps):
        return np.array([float((-1) ** k * (mp.zeta(k) - 1) / k) for k in range(2, kmax + 1)])


# ------------------------------------------------------------------------------------------------------------
# Moments of the Gaussian bump and of windows (used by the Laplace closed forms of memtheory.symbolic.laplace)
# ------------------------------------------------------------------------------------------------------------
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)


@numba.njit(cache=True)
def _gauss_moment_quadrature(k: int, z: float) -> float:
    """Composite 12-point Gauss-Legendre on [0, 12] (panels of 1/4) of ``u^k exp(-u^2 - 2 z u)``."""
    total = 0.0
    width = 0.25
    for panel in range(48):
        lo = panel * width
        acc = 0.0
        for i in range(_GL_NODES.shape[0]):
            u = lo + 0.5 * width * (_GL_NODES[i] + 1.0)
            acc += _GL_WEIGHTS[i] * u**k * math.exp(-u * u - 2.0 * z * u)
        total += 0.5 * width * acc
    return total


@numba.njit("float64(int64, float64)", cache=True)
def gauss_moment(k: int, z: float) -> float:
    """``J_k(z) = int_0^inf u^k exp(-u^2 - 2 z u) du`` for ``z >= 0`` (NaN for ``z < 0`` or ``k < 0``).

    The Laplace moments of a Gaussian bump in the branch ``z = (s sigma^2 - L)/(sqrt(2) sigma) >= 0`` are
    ``M_k = exp(-L^2/(2 sigma^2)) (sqrt(2) sigma)^(k+1) J_k(z)``. ``J_0 = sqrt(pi)/2 erfcx(z)``; the upward
    recurrence ``J_k = (k-1)/2 J_{k-2} - z J_{k-1}`` (``J_{-1}`` replaced by ``1/2`` for k = 1) loses about
    ``log10(2 z^(2k))`` digits, so for ``z >= 10`` the convergent-then-divergent expansion
    ``J_k = sum_n (-1)^n (k+2n)! / (n! (2z)^(k+2n+1))`` is summed up to its smallest term (below 1e-17
    relative there). Where the recurrence would lose more than ~3 digits (k >= 3, 1 <= z < 10) the integral is
    computed by composite Gauss-Legendre quadrature instead. Relative accuracy about 1e-13.
    """
    if k < 0 or not z >= 0.0:
        return np.nan
    if k >= 3 and 1.0 <= z < 10.0:
        return _gauss_moment_quadrature(k, z)
    if z >= 10.0:
        two_z = 2.0 * z
        term = 1.0 / two_z
        for i in range(1, k + 1):
            term *= i / two_z
        total = term
        n = 0
        while True:
            ratio = (k + 2 * n + 1.0) * (k + 2 * n + 2.0) / ((n + 1.0) * two_z * two_z)
            if ratio >= 1.0:
                break
            term *= -ratio
            total += term
            n += 1
            if abs(term) < 1e-18 * abs(total):
                break
        return total
    j_prev = 0.5  # plays J_{-1} in the k = 1 step: J_1 = 1/2 - z J_0
    j_cur = 0.5 * math.sqrt(math.pi) * erfcx(z)
    for i in range(1, k + 1):
        if i == 1:
            j_next = 0.5 - z * j_cur
        else:
            j_next = 0.5 * (i - 1) * j_prev - z * j_cur
        j_prev, j_cur = j_cur, j_next
    return j_cur


@numba.njit("float64(int64, float64, float64)", cache=True)
def finite_laplace(j: int, s: float, w: float) -> float:
    """``F_j(s, w) = int_0^w u^j exp(-s u) du`` for ``w >= 0`` and real ``s`` (no cancellation).

    For ``|s w| <= 1`` the power series ``sum_n (-s)^n w^(j+n+1) / (n! (j+n+1))``; otherwise
    ``j!/s^(j+1) - exp(-s w) sum_{i<=j} j!/i! w^i / s^(j+1-i)`` for ``s > 0`` (both parts positive-definite:
    the subtracted one is smaller by ``exp(-s w)``), and the series in ``e^{-sw}``-scaled form for ``s < 0``.
    """
    if j < 0 or not w >= 0.0:
        return np.nan
    if w == 0.0:
        return 0.0
    x = s * w
    if abs(x) <= 1.0 or (x < 0.0 and x > -40.0):
        # sum_n (-x)^n / (n! (j+n+1)) * w^(j+1): alternating only for x > 0, where |x| <= 1.
        total = 0.0
        term = 1.0
        n = 0
        while True:
            contrib = term / (j + n + 1.0)
            total += contrib
            n += 1
            term *= -x / n
            if abs(term) < 1e-18 * abs(total) and n > abs(x):
                break
            if n > 400:
                break
        return total * w ** (j + 1)
    if x < 0.0:
        return np.inf
    fact = 1.0
    for i in range(2, j + 1):
        fact *= i
    head = fact / s ** (j + 1)
    tail = 0.0
    for i in range(0, j + 1):
        c = 1.0
        for q in range(i + 1, j + 1):
            c *= q
        tail += c * w**i / s ** (j + 1 - i)
    return head - math.exp(-x) * tail
