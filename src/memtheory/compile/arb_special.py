"""Ball-arithmetic (Arb, python-flint) implementations of the special functions of the compile layer.

Each function takes ``flint.arb`` arguments (real balls, for closed forms) or ``flint.acb`` arguments (complex
balls, for the integrands of :func:`flint.acb.integral`) and returns a ball that contains the function's value at
every point of the argument balls. The keyword ``analytic`` is the flag of :func:`flint.acb.integral`: when it is
True the function must return a non-finite ball unless it is analytic on the argument ball (functions with a
branch cut or a kink); entire functions ignore it. :mod:`memtheory.compile.registry` maps the SymPy functions to
these, and :mod:`memtheory.compile.arb` prints expressions that call them.

The precision is flint's (``flint.ctx.prec``, set by :func:`memtheory.compile.arb.workprec`); a function that
cancels internally (the ``J_k`` recurrence) raises it by the bits it loses, so the result stays narrow.
"""

from __future__ import annotations

import math

from flint import acb, arb, ctx

__all__ = [
    "arb_erfc",
    "arb_erfcx",
    "arb_scaled_uppergamma",
    "arb_gauss_moment",
    "arb_finite_laplace",
    "arb_airyai",
    "arb_heaviside",
    "arb_uppergamma",
    "arb_gamma",
    "arb_loggamma",
    "nonfinite",
    "is_complex",
    "right_half_plane",
]


def is_complex(*xs) -> bool:
    """Whether any argument is a complex ball (``flint.acb``)."""
    return any(isinstance(x, acb) for x in xs)


def nonfinite(*xs):
    """A non-finite ball of the arguments' kind: what a function returns where it is not analytic."""
    return acb("nan") if is_complex(*xs) else arb("nan")


def right_half_plane(x) -> bool:
    """Whether the ball ``x`` lies in ``Re x > 0`` (where the principal branch cut ``(-inf, 0]`` is not met)."""
    return bool((x.real if isinstance(x, acb) else x) > 0)


def arb_erfc(x, analytic: bool = False):
    """``erfc(x)`` (entire).

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        The integration flag (ignored: entire).

    Returns
    -------
    flint.arb or flint.acb
    """
    return x.erfc()


def arb_erfcx(x, analytic: bool = False):
    """``exp(x^2) erfc(x)`` (entire; no overflow: Arb's exponents are unbounded).

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        The integration flag (ignored: entire).

    Returns
    -------
    flint.arb or flint.acb
    """
    return (x * x).exp() * x.erfc()


def arb_scaled_uppergamma(a, x, analytic: bool = False):
    """``exp(x) x^(-a) Gamma(a, x)``; ``-1/a`` at ``x = 0`` for ``a < 0``.

    Parameters
    ----------
    a : flint.arb
        Order (real).
    x : flint.arb or flint.acb
        Argument; the principal branch (cut along ``x <= 0``).
    analytic : bool, default False
        With True, a ball that meets the branch cut gives a non-finite ball.

    Returns
    -------
    flint.arb or flint.acb
        Non-finite where the function diverges (``x = 0``, ``a >= 0``) or the ball meets the cut.
    """
    if x.is_zero():
        return -1 / a if bool(a < 0) else nonfinite(a, x)
    if not right_half_plane(x):
        return nonfinite(a, x)
    return x.exp() * x ** (-a) * x.gamma_upper(a)


def arb_gauss_moment(k: int, z, analytic: bool = False):
    """``J_k(z) = int_0^inf u^k exp(-u^2 - 2 z u) du`` by the erfcx recurrence (entire in ``z``).

    The recurrence cancels about ``k log2(2 |z|^2 + 2)`` bits; they are added to the working precision, so the
    ball keeps its relative width.

    Parameters
    ----------
    k : int
        Power of ``u``, ``k >= 0``.
    z : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        The integration flag (ignored: entire).

    Returns
    -------
    flint.arb or flint.acb
    """
    k = int(k)
    mag = abs(complex(z.mid())) if isinstance(z, acb) else abs(float(z.mid()))
    guard = int(k * math.log2(2 * mag * mag + 2)) + 16 if math.isfinite(mag) else 16
    old = ctx.prec
    ctx.prec = old + guard
    try:
        half = arb(1) / 2
        prev, cur = half, arb.pi().sqrt() / 2 * arb_erfcx(z)
        for i in range(1, k + 1):
            nxt = half - z * cur if i == 1 else arb(i - 1) / 2 * prev - z * cur
            prev, cur = cur, nxt
    finally:
        ctx.prec = old
    return +cur


def arb_finite_laplace(j: int, s, w, analytic: bool = False):
    """``F_j(s, w) = int_0^w u^j e^{-s u} du = w^(j+1)/(j+1) 1F1(j+1; j+2; -s w)`` (entire in ``s`` and ``w``).

    Parameters
    ----------
    j : int
        Power of ``u``, ``j >= 0``.
    s, w : flint.arb or flint.acb
        Laplace variable and width.
    analytic : bool, default False
        The integration flag (ignored: entire).

    Returns
    -------
    flint.arb or flint.acb
    """
    j = int(j)
    z = -s * w
    return w ** (j + 1) / (j + 1) * z.hypgeom_1f1(j + 1, j + 2)


def arb_airyai(x, analytic: bool = False):
    """``Ai(x)`` (entire).

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        The integration flag (ignored: entire).

    Returns
    -------
    flint.arb or flint.acb
    """
    return x.airy_ai()


def arb_heaviside(x, h0=None, analytic: bool = False):
    """Heaviside step, ``h0`` at 0; a real ball that straddles 0 gives the union of ``0``, ``1`` and ``h0``.

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball (complex: the real-variable step, piecewise analytic; its value on ``Re x = 0`` is
        irrelevant to integrals).
    h0 : flint.arb, optional
        Value at 0 (default 1/2, SymPy's).
    analytic : bool, default False
        With True, a ball that meets ``Re x = 0`` gives a non-finite ball.

    Returns
    -------
    flint.arb or flint.acb
    """
    if isinstance(x, acb):
        return x.real_heaviside(analytic=analytic)
    h0 = arb(1) / 2 if h0 is None else arb(h0)
    if x > 0:
        return arb(1)
    if x < 0:
        return arb(0)
    if x.is_zero():
        return h0
    return arb(0).union(arb(1)).union(h0)


def arb_uppergamma(a, x, analytic: bool = False):
    """``Gamma(a, x)``, principal branch (cut along ``x <= 0``).

    Parameters
    ----------
    a : flint.arb
        Order.
    x : flint.arb or flint.acb
        Argument.
    analytic : bool, default False
        With True, a ball that meets the cut gives a non-finite ball.

    Returns
    -------
    flint.arb or flint.acb
    """
    if analytic and not right_half_plane(x):
        return nonfinite(a, x)
    return x.gamma_upper(a)


def arb_gamma(x, analytic: bool = False):
    """``Gamma(x)`` (meromorphic: a ball with a pole gives a non-finite ball).

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        The integration flag (ignored: meromorphic).

    Returns
    -------
    flint.arb or flint.acb
    """
    return x.gamma()


def arb_loggamma(x, analytic: bool = False):
    """``log Gamma(x)``; on complex balls only in ``Re x > 0`` (away from the branch cut).

    Parameters
    ----------
    x : flint.arb or flint.acb
        Argument ball.
    analytic : bool, default False
        With True, a ball outside ``Re x > 0`` gives a non-finite ball.

    Returns
    -------
    flint.arb or flint.acb
    """
    if analytic and not right_half_plane(x):
        return nonfinite(x)
    return x.lgamma()
