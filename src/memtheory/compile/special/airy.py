"""The Airy function ``Ai`` and its derivative, compiled with numba.

Algorithms and accuracy
-----------------------
``airy_ai(x)``, ``airy_ai_prime(x)``
    Cephes-style split, with the gap between the two classical expansions closed by double-double
    arithmetic (:mod:`memtheory.compile.special.doubledouble`) instead of rational fits:

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
"""

from __future__ import annotations

import math

import numba

from ..docstrings import fill_doc
from .compilation import REAL_ARGUMENT, real_function
from .constants import INF, INV_SQRT_PI, NAN
from .doubledouble import dd_add, dd_div_d, dd_mul, dd_mul_d, quick_two_sum, two_prod

__all__ = ["airy_ai", "airy_ai_prime"]

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
    x2h, x2l = two_prod(x, x)
    x3h, x3l = dd_mul_d(x2h, x2l, x)
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
        th, tl = dd_mul(th, tl, x3h, x3l)
        th, tl = dd_div_d(th, tl, (k3 - 1.0) * k3)
        fh, fl = dd_add(fh, fl, th, tl)
        uh, ul = dd_mul(uh, ul, x3h, x3l)
        uh, ul = dd_div_d(uh, ul, k3 * (k3 + 1.0))
        gh, gl = dd_add(gh, gl, uh, ul)
        if k >= 2:
            vh, vl = dd_mul(vh, vl, x3h, x3l)
            vh, vl = dd_div_d(vh, vl, (k3 - 3.0) * (k3 - 1.0))
            dfh, dfl = dd_add(dfh, dfl, vh, vl)
        wh, wl = dd_mul(wh, wl, x3h, x3l)
        wh, wl = dd_div_d(wh, wl, k3 * (k3 - 2.0))
        dgh, dgl = dd_add(dgh, dgl, wh, wl)
        small_ai = abs(th) + abs(uh) <= 1e-34 * (abs(fh) + abs(gh))
        if small_ai and abs(vh) + abs(wh) <= 1e-34 * (abs(dfh) + abs(dgh)):
            break
    ph, pl = dd_mul(_AI0_HI, _AI0_LO, fh, fl)
    qh, ql = dd_mul(_AIP0_HI, _AIP0_LO, gh, gl)
    ah, al = dd_add(ph, pl, -qh, -ql)
    ph, pl = dd_mul(_AI0_HI, _AI0_LO, dfh, dfl)
    qh, ql = dd_mul(_AIP0_HI, _AIP0_LO, dgh, dgl)
    bh, bl = dd_add(ph, pl, -qh, -ql)
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
    p, e = two_prod(s, s)
    ds = ((X - p) - e) / (2.0 * s)  # sqrt(X) = s + ds to ~2^-106
    ph, pl = two_prod(X, s)
    pl += X * ds
    ph, pl = quick_two_sum(ph, pl)
    return dd_mul(ph, pl, _TWO_THIRDS_HI, _TWO_THIRDS_LO)


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
    prev = INF
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
    c = 0.5 * INV_SQRT_PI
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
    ph, pl = dd_add(zh, zl, -_PIO4_HI, -_PIO4_LO)
    n = math.floor(ph / _PIO2_1 + 0.5)
    p1h, p1l = two_prod(n, _PIO2_1)
    rh, rl = dd_add(ph, pl, -p1h, -p1l)
    p2h, p2l = two_prod(n, _PIO2_2)
    rh, rl = dd_add(rh, rl, -p2h, -p2l)
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
    return INV_SQRT_PI / x4 * (cp * f + sp * g), INV_SQRT_PI * x4 * (sp * p - cp * q)


@numba.njit(cache=True)
@fill_doc(parameters=REAL_ARGUMENT)
def _airy(x: float) -> tuple[float, float]:
    """Dispatch ``Ai`` and ``Ai'`` to the Maclaurin or the asymptotic branches.

    Both are always computed together: the extra series costs less than a second compiled
    specialisation per flag would (numba types a constant flag as a literal and recompiles the chain).

    {parameters}

    Returns
    -------
    ai, aip : float
        ``Ai(x)`` and ``Ai'(x)``; ``nan`` for ``nan`` or ``x < -5e10``.
    """
    if x != x or x < -_AIRY_MAX_NEG:
        return NAN, NAN
    if x > 110.0:
        return 0.0, 0.0
    if x > _AIRY_POS_ASYM:
        return _airy_pos_asym(x)
    if x < -_AIRY_NEG_ASYM:
        return _airy_neg_asym(-x)
    return _airy_maclaurin(x)


@real_function
def airy_ai(x: float) -> float:
    """Airy function ``Ai(x)``.

    {parameters}

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


@real_function
def airy_ai_prime(x: float) -> float:
    """Derivative of the Airy function, ``Ai'(x)``.

    {parameters}

    Returns
    -------
    float
        ``Ai'(x)``; 0 (underflow) for ``x > ~105``; ``nan`` for ``nan`` and for ``x < -5e10``.

    Notes
    -----
    Same algorithm and accuracy as :func:`airy_ai`.
    """
    return _airy(x)[1]
