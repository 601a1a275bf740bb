"""Laplace moments of the Gaussian bump and of windows, compiled with numba.

``gauss_moment(k, z) = J_k(z)`` and ``finite_laplace(j, s, w) = F_j(s, w)`` are the building blocks of the Laplace
closed forms of :mod:`memtheory.symbolic.laplace` (SymPy functions of the same names in
:mod:`memtheory.symbolic.functions`); each is evaluated without the cancellation of its textbook recurrence,
as its docstring explains.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .erf import erfcx

__all__ = ["gauss_moment", "finite_laplace"]

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
