"""Double-double arithmetic (Dekker 1971, Knuth TAOCP 4.2.2), compiled with numba.

A double-double value is a pair ``(hi, lo)`` of doubles with ``|lo| <= ulp(hi)/2``, about 106 significant bits.
The Airy functions sum their Maclaurin series and reduce their phase in it, ``erfcx`` squares its argument
exactly with :func:`two_prod`. No FMA is assumed (the splits are Veltkamp's), so the results do not depend on
the platform.
"""

from __future__ import annotations

import numba

__all__ = ["two_sum", "quick_two_sum", "split", "two_prod", "dd_add", "dd_mul", "dd_mul_d", "dd_div_d"]

_SPLITTER = 134217729.0  # 2**27 + 1


@numba.njit(cache=True)
def two_sum(a: float, b: float) -> tuple[float, float]:
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
def quick_two_sum(a: float, b: float) -> tuple[float, float]:
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
def split(a: float) -> tuple[float, float]:
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
def two_prod(a: float, b: float) -> tuple[float, float]:
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
    ah, al = split(a)
    bh, bl = split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@numba.njit(cache=True)
def dd_add(ah: float, al: float, bh: float, bl: float) -> tuple[float, float]:
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
    s, e = two_sum(ah, bh)
    t, f = two_sum(al, bl)
    e += t
    s, e = quick_two_sum(s, e)
    e += f
    return quick_two_sum(s, e)


@numba.njit(cache=True)
def dd_mul(ah: float, al: float, bh: float, bl: float) -> tuple[float, float]:
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
    p, e = two_prod(ah, bh)
    e += ah * bl + al * bh
    return quick_two_sum(p, e)


@numba.njit(cache=True)
def dd_mul_d(ah: float, al: float, b: float) -> tuple[float, float]:
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
    p, e = two_prod(ah, b)
    e += al * b
    return quick_two_sum(p, e)


@numba.njit(cache=True)
def dd_div_d(ah: float, al: float, b: float) -> tuple[float, float]:
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
    p, e = two_prod(q1, b)
    s, f = two_sum(ah, -p)
    f -= e
    f += al
    q2 = (s + f) / b
    return quick_two_sum(q1, q2)
