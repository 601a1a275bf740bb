r"""Certified integrals over ``[0, inf)`` and certified tail bounds: Arb's rigorous quadrature plus envelopes.

``\int_0^\infty f(t) dt`` is enclosed as the sum of :func:`flint.acb.integral` (rigorous error bounds from the
analytic extension of ``f``) on ``[0, T]``, split at the kernel's breakpoints, and a proven bound on the tail
``\int_T^\infty |f|``. The tail bound comes from an *envelope*: for ``t >= T``,

.. math:: |f(t)| \le C\, t^{p}\, e^{-\lambda t},\qquad \int_T^\infty C t^p e^{-\lambda t}\,dt
          = C \lambda^{-(p+1)} \Gamma(p + 1, \lambda T),

derived factor by factor from the expression (:func:`envelope`). The rules, each a proven inequality on
``[T, inf)``: a constant ``|c|``; ``t^k``; ``(c_0 + c_1 t)^e`` with ``c_1 > 0`` (``<= (c_1 + c_0^-/T)^e t^e``
for ``e < 0``, ``<= (c_0^+/T + c_1)^e t^e`` for ``e > 0``; a power law ``t^p``, ``p < -1``, has the tail
``C T^{p+1}/|p+1|``); ``exp(g)`` for a polynomial ``g`` (degree 1 exactly; degree >= 2 with negative leading
coefficient, where ``g`` is concave past the Cauchy bound of the roots of ``g''`` and lies
below its tangent at ``T``); ``|sin|, |cos|, |tanh|, |erf|, Heaviside <= 1``, ``erfc <= 2``; ``|Ai(x)| <= 1`` on
the real line and, for ``x = a t + b`` with ``a > 0`` and ``x_0 = a T + b > 0``,
``Ai(x) <= e^{-\zeta}/(2\sqrt\pi x^{1/4})`` (``\zeta = 2x^{3/2}/3``; DLMF 9.7.15 with the sign rule of
9.7(iv)) ``<= e^{-2\sqrt{x_0} x/3} / (2\sqrt\pi x_0^{1/4})``; products multiply envelopes, sums take the largest
power and the smallest rate. A factor none of these rules covers raises
:class:`~memtheory.errors.CertificationError`: certified mode refuses rather than guess a tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from flint import acb, arb

from ..compile.arb import arb_function, to_arb
from ..display import Displayable
from ..errors import CertificationError

__all__ = ["Envelope", "envelope", "tail_integral_bound", "tail_sup_bound", "half_line_integral"]


class _LargerT(Exception):
    """Internal: the envelope rule holds only further out (a turning point, a concavity bound)."""


@dataclass(frozen=True, repr=False)
class Envelope(Displayable):
    """``|f(t)| <= C t^p e^{-lam t}`` for ``t >= T`` (``C``, ``p`` upper bounds, ``lam`` a lower bound).

    Attributes
    ----------
    C, p, lam : flint.arb
        Exact points (ball endpoints).
    """

    C: arb
    p: arb
    lam: arb

    def _display_rows(self) -> list[tuple[str, object]]:
        return [(name, getattr(self, name).str(12, radius=False)) for name in ("C", "p", "lam")]

    def __mul__(self, other: Envelope) -> Envelope:
        return Envelope((self.C * other.C).upper(), (self.p + other.p).upper(), (self.lam + other.lam).lower())

    def power(self, n: int) -> Envelope:
        """The envelope of ``f**n`` (``n >= 1``)."""
        return Envelope((self.C ** n).upper(), (self.p * n).upper(), (self.lam * n).lower())


def _const(c) -> Envelope:
    return Envelope(abs(to_arb(c)).upper(), arb(0), arb(0))


def _sum(envs: list[Envelope], T: arb) -> Envelope:
    p, lam = envs[0].p, envs[0].lam  # exact points: their comparisons are decided
    for e in envs[1:]:
        p = e.p if e.p > p else p
        lam = e.lam if e.lam < lam else lam
    C = arb(0)
    for e in envs:
        # t^{p_e} e^{-lam_e t} <= T^{p_e - p} e^{-(lam_e - lam) T} t^p e^{-lam t} for t >= T >= 1
        C += e.C * T ** (e.p - p) * (-(e.lam - lam) * T).exp()
    return Envelope(C.upper(), p, lam)


def _linear(arg: sp.Expr, t: sp.Symbol):
    """``(c1, c0)`` exact when ``arg = c1 t + c0``, else None."""
    poly = sp.Poly(arg, t) if arg.is_polynomial(t) else None
    if poly is None or poly.degree() > 1 or any(not c.is_number for c in poly.all_coeffs()):
        return None
    return sp.expand(arg).coeff(t, 1), sp.expand(arg).coeff(t, 0)


def envelope(f: sp.Expr, t: sp.Symbol, T) -> Envelope:
    """An envelope ``|f(t)| <= C t^p e^{-lam t}`` valid for all ``t >= T`` (``T >= 1``).

    Parameters
    ----------
    f : sympy.Expr
        A real expression in ``t`` with numeric coefficients.
    t : sympy.Symbol
        The variable.
    T : rational or flint.arb
        Where the bound starts, ``T >= 1``.

    Returns
    -------
    Envelope

    Raises
    ------
    CertificationError
        If a factor of ``f`` is covered by no rule (module docstring).
    """
    return _envelope(sp.sympify(f), t, to_arb(T))


def _envelope(f: sp.Expr, t: sp.Symbol, T: arb, retry: bool = True) -> Envelope:
    try:
        return _rules(f, t, T)
    except CertificationError:
        # SymPy's expansion can hide a shape: 1/(t^2 (1 + t/10)^(1/5)/100 + ...) is 100 10^(1/5) (t + 10)^(-11/5)
        # (t > 0, so combining the powers of the positive factors is exact)
        alt = sp.powsimp(sp.factor(f), force=True) if retry else f
        if alt == f:
            raise
        return _envelope(alt, t, T, retry=False)


def _rules(f: sp.Expr, t: sp.Symbol, T: arb) -> Envelope:  # noqa: C901 - one rule per shape
    if not f.has(t):
        return _const(f)
    if f == t:
        return Envelope(arb(1), arb(1), arb(0))
    if isinstance(f, sp.Mul):
        out = Envelope(arb(1), arb(0), arb(0))
        for fac in f.args:
            out = out * _envelope(fac, t, T)
        return out
    if isinstance(f, sp.Add):
        return _sum([_envelope(a, t, T) for a in f.args], T)
    if isinstance(f, sp.Pow):
        base, ex = f.args
        if base is sp.E:
            return _envelope(sp.exp(ex), t, T)
        if ex.has(t):
            raise CertificationError(f"no certified tail bound for {f}: exponent depends on t")
        if base == t:
            return Envelope(arb(1), to_arb(ex).upper(), arb(0))
        if ex.is_Integer and ex > 0:
            return _envelope(base, t, T).power(int(ex))
        lin = _linear(base, t)
        if lin is not None and lin[0] > 0:
            c1, c0 = to_arb(lin[0]), to_arb(lin[1])
            bT = c0 + c1 * T
            if not bT > 0:
                raise _LargerT
            e = to_arb(ex)
            if ex < 0:
                # c0 + c1 t >= (c1 + min(c0, 0)/T) t > 0 for t >= T: a power-law envelope
                k = c1 + c0.min(arb(0)) / T
                if not k > 0:
                    raise _LargerT
                return Envelope((k ** e).upper(), e.upper(), arb(0))
            return Envelope(((c0.max(arb(0)) / T + c1) ** e).upper(), e.upper(), arb(0))
        raise CertificationError(f"no certified tail bound for the factor {f}")
    if isinstance(f, sp.exp):
        g = f.args[0]
        if not g.is_polynomial(t):
            raise CertificationError(f"no certified tail bound for {f}: exponent not polynomial in t")
        poly = sp.Poly(g, t)
        if any(not c.is_number for c in poly.all_coeffs()):
            raise CertificationError(f"no certified tail bound for {f}: symbolic coefficients")
        deg = poly.degree()
        if deg <= 1:
            a1, a0 = (poly.all_coeffs() if deg == 1 else [0, poly.all_coeffs()[0]])
            return Envelope(to_arb(sp.exp(a0)).upper(), arb(0), (-to_arb(a1)).lower())
        if not poly.LC() < 0:
            raise CertificationError(f"no certified tail bound for {f}: grows like exp({poly.LC()} t^{deg})")
        g2 = sp.Poly(sp.diff(g, t, 2), t)
        coeffs = g2.all_coeffs()
        cauchy = 1 + max([abs(c / coeffs[0]) for c in coeffs[1:]], default=0)
        if not T >= to_arb(cauchy):
            raise _LargerT
        gT = to_arb(g.subs(t, T_rational(T)))
        dgT = to_arb(sp.diff(g, t).subs(t, T_rational(T)))
        if not dgT < 0:
            raise _LargerT
        # concave on [T, inf): g(t) <= g(T) + g'(T)(t - T)
        return Envelope((gT - dgT * T).exp().upper(), arb(0), (-dgT).lower())
    if isinstance(f, (sp.sin, sp.cos, sp.tanh, sp.erf, sp.Heaviside)):
        return Envelope(arb(1), arb(0), arb(0))
    if isinstance(f, sp.erfc):
        return Envelope(arb(2), arb(0), arb(0))
    if isinstance(f, sp.Abs):
        return _envelope(f.args[0], t, T)
    if isinstance(f, sp.airyai):
        lin = _linear(f.args[0], t)
        if lin is not None and lin[0] > 0:
            a, b = to_arb(lin[0]), to_arb(lin[1])
            x0 = a * T + b
            if not x0 > 0:
                raise _LargerT
            c = 2 * x0.sqrt() / 3
            return Envelope(((-c * b).exp() / (2 * arb.pi().sqrt() * x0.root(4))).upper(), arb(0),
                            (c * a).lower())
        return Envelope(arb(1), arb(0), arb(0))
    raise CertificationError(f"no certified tail bound for the factor {f}")


def T_rational(T: arb) -> sp.Rational:  # noqa: N802 - the T of the formulas
    """The exact value of an exact ball ``T`` as a SymPy rational."""
    man, exp = T.mid().man_exp()
    return sp.Rational(int(man)) * sp.Rational(2) ** int(exp)


def tail_integral_bound(f: sp.Expr, t: sp.Symbol, T) -> arb | None:
    """An upper bound on ``int_T^inf |f(t)| dt``, or None when the envelope rules hold only beyond ``T``
    or the envelope does not decay there.

    Raises
    ------
    CertificationError
        If a factor is covered by no envelope rule.
    """
    Tb = to_arb(T)
    try:
        env = _envelope(sp.sympify(f), t, Tb)
    except _LargerT:
        return None
    if env.lam > 0:
        if env.p == 0:
            return (env.C * (-env.lam * Tb).exp() / env.lam).upper()
        return (env.C * env.lam ** (-(env.p + 1)) * (env.lam * Tb).gamma_upper(env.p + 1)).upper()
    if env.lam >= 0 and env.p < -1:  # e^{-lam t} <= 1: a power-law tail
        return (env.C * Tb ** (env.p + 1) / (-(env.p + 1))).upper()
    return None


def tail_sup_bound(f: sp.Expr, t: sp.Symbol, T) -> arb | None:
    """An upper bound on ``sup_{t >= T} |f(t)|``, or None when the envelope is not decreasing from ``T`` on.

    Raises
    ------
    CertificationError
        If a factor is covered by no envelope rule.
    """
    Tb = to_arb(T)
    try:
        env = _envelope(sp.sympify(f), t, Tb)
    except _LargerT:
        return None
    if env.p <= 0 and env.lam >= 0:  # non-increasing
        return (env.C * Tb ** env.p * (-env.lam * Tb).exp()).upper()
    if not env.lam > 0 or not Tb >= env.p / env.lam:  # t^p e^{-lam t} decreases for t >= p/lam
        return None
    return (env.C * Tb ** env.p * (-env.lam * Tb).exp()).upper()


def half_line_integral(f: sp.Expr, t: sp.Symbol, points=(), max_doublings: int = 40) -> arb:
    """A ball containing ``int_0^inf f(t) dt``, at flint's working precision.

    ``[0, T]`` is integrated by :func:`flint.acb.integral` on the pieces between ``points`` (where ``f`` has
    kinks or steps); ``T`` starts past the last point and doubles until the certified tail bound is below
    ``2^-prec`` of the integral so far; the tail bound is added to the radius.

    Parameters
    ----------
    f : sympy.Expr
        Real integrand in ``t`` with numeric coefficients (parameters and ``s`` substituted, exactly).
    t : sympy.Symbol
        The variable.
    points : sequence of sympy numbers
        Breakpoints in ``(0, inf)``.
    max_doublings : int
        How often ``T`` may double before the tail is declared unbounded.

    Returns
    -------
    flint.arb

    Raises
    ------
    CertificationError
        If the integrand or its tail cannot be bounded (no envelope rule, no decay, a non-finite quadrature).
    """
    from flint import ctx

    g = arb_function([t], f, complex_mode=True)

    def integrand(x, analytic):
        return g(x, _an=analytic)

    pts = sorted({sp.nsimplify(p) for p in points if sp.sympify(p) > 0}, key=float)
    T = sp.Integer(max(1, int(sp.ceiling(2 * pts[-1])) if pts else 1))
    edges = [sp.Integer(0), *pts, T] if not pts or pts[-1] < T else [sp.Integer(0), *pts]
    total = acb(0)
    goal = arb(2) ** (-ctx.prec)
    for lo, hi in zip(edges[:-1], edges[1:]):
        total += acb.integral(integrand, acb(to_arb(lo)), acb(to_arb(hi)))
    for _ in range(max_doublings):
        tail = tail_integral_bound(f, t, T)
        if tail is not None and (tail <= goal * abs(total.real).upper() or tail <= goal ** 2):
            break
        total += acb.integral(integrand, acb(to_arb(T)), acb(to_arb(2 * T)))
        T = 2 * T
    else:
        raise CertificationError(f"no certified tail bound for int_T^inf {f} dt up to T = {T}: its envelope does "
                                 "not decay")
    if not total.real.is_finite():
        raise CertificationError(f"the certified quadrature of {f} is not finite (an integrand that is not "
                                 "analytic between its breakpoints?)")
    if not total.imag.contains(0):
        raise CertificationError(f"the certified quadrature of the real integrand {f} is not real: {total}")
    return total.real + arb(0, tail)
