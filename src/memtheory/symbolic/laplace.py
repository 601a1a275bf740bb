"""Closed-form Laplace transforms of memory kernels, by rules.

``L[t^k f](s) = \\int_0^\\infty t^k f(t) e^{-st} dt`` is derived term by term. SymPy's own ``laplace_transform``
is general but slow and unpredictable; kernels in this field are sums of a few shapes, each with a known,
numerically stable transform (docs/theory.md §1):

=====================================  ==========================================================================
shape of a term (times ``t**n``)        transform
=====================================  ==========================================================================
``exp(-lam*t)``                         ``1/(s + lam)``
``(c0 + c1*t)**(-p) * exp(-lam*t)``     ``c0**(-p)/c * S(1 - p, (s + lam)/c)``, ``c = c1/c0``, ``S`` = scaled upper gamma
``sin/cos(omega*t + phi) * exp(..)``    rational in ``s``
``exp(quadratic in t)``                 Gaussian bump: ``J_k`` branch when ``s sigma^2 >= L``, ``erfc`` branch else
``Heaviside(t - a) * g(t)``             ``exp(-a s) L[g(. + a)](s)`` (``a >= 0``)
=====================================  ==========================================================================

Moments ``t**n`` come from ``(-d/ds)**n`` (for the Gaussian, see :func:`gaussian_laplace`; for windows ``g 1{a<t<b}``,
paired from their two step terms, from finite moments ``F_j(s, w) = \\int_0^w u^j e^{-su} du``).
A term that matches no rule (an Airy function, a product of unrelated shapes) is returned as a *residual* for
numerical quadrature. Every rule records the conditions under which it is valid (``s + lam > 0``...); sign
decisions that depend on parameter values (which of two window edges comes first) are taken with the values at
hand and recorded as conditions, so a compiled form is reused across a parameter sweep only while they hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping

import sympy as sp

from .latex import to_latex
from ..display import Displayable, latex_repr
from .functions import erfcx, finite_laplace, gauss_moment, scaled_uppergamma

__all__ = ["LaplaceForm", "laplace_form", "gaussian_laplace"]


@dataclass(frozen=True, repr=False)
class LaplaceForm(Displayable):
    """A Laplace transform split into a closed form and a residual for quadrature.

    Attributes
    ----------
    closed : sympy.Expr
        Closed form in ``s`` and the parameters (0 when nothing matched).
    residual : sympy.Expr
        Sum of the terms of ``t**k * f(t)`` without a closed form (0 when everything matched); integrate
        ``residual * exp(-s t)`` numerically.
    conditions : tuple of sympy.Boolean
        Conditions on ``s`` and the parameters under which ``closed`` is valid.
    assumptions : tuple of sympy.Boolean
        Conditions on the parameters alone that were decided from their values during the derivation (which
        side of ``t = 0`` a step lies on); the form may be reused for other values only while they hold.
    """

    closed: sp.Expr
    residual: sp.Expr
    conditions: tuple = field(default_factory=tuple)
    assumptions: tuple = field(default_factory=tuple)

    def holds_for(self, values: Mapping[sp.Symbol, sp.Expr]) -> bool:
        """Whether the value-dependent decisions of the derivation hold for these parameter values."""
        return all(bool(a.xreplace(dict(values))) for a in self.assumptions)

    @property
    def is_closed(self) -> bool:
        """True when the whole transform has a closed form."""
        return self.residual == 0

    def _repr_latex_(self) -> str:
        closed = to_latex(self.closed)
        if self.is_closed:
            return latex_repr(r"\mathcal{L}[\rho](s) = " + closed)
        rest = r"\int_0^\infty \left(" + to_latex(self.residual) + r"\right) e^{-st}\,dt"
        return latex_repr(r"\mathcal{L}[\rho](s) = " + (closed + " + " if self.closed != 0 else "") + rest)


class _NoRule(Exception):
    """Internal: no closed-form rule applies to a term."""


def gaussian_laplace(s: sp.Expr, center: sp.Expr, width: sp.Expr, moment: int = 0) -> sp.Expr:
    """Stable closed form of ``L[t^k g](s)`` for ``g(t) = exp(-(t - center)^2 / (2 width^2))``.

    With ``z = (s sigma^2 - L)/(sqrt(2) sigma)``: for ``z >= 0`` it is
    ``exp(-L^2/(2 sigma^2)) (sqrt(2) sigma)^(k+1) J_k(z)`` with the cancellation-free
    :class:`~memtheory.symbolic.functions.gauss_moment` ``J_k``; for ``z < 0`` it is
    ``sigma sqrt(pi/2) exp(-s L + s^2 sigma^2/2) erfc(z)`` and the upward recurrence
    ``M_k = (L - s sigma^2) M_{k-1} + (k-1) sigma^2 M_{k-2} + sigma^2 delta_{k1} g(0)``, whose terms share one sign
    there. Neither branch overflows; the second is exponentially small when ``L >> s sigma^2`` and underflows
    double precision only when the true value does.
    """
    L, sig = center, width
    z = (s * sig**2 - L) / (sp.sqrt(2) * sig)
    pref = sig * sp.sqrt(sp.pi / 2)
    g0 = sp.exp(-(L**2) / (2 * sig**2))
    # Branch z < 0 (bump far from 0 relative to s sigma^2): exp(-sL + s^2 sigma^2/2) erfc(z) and the upward
    # recurrence, whose terms all have one sign there. Branch z >= 0: J_k(z), free of cancellation.
    moments = [pref * sp.exp(-s * L + s**2 * sig**2 / 2) * sp.erfc(z)]
    for k in range(1, moment + 1):
        mk = (L - s * sig**2) * moments[k - 1]
        if k >= 2:
            mk += (k - 1) * sig**2 * moments[k - 2]
        if k == 1:
            mk += sig**2 * g0
        moments.append(mk)
    scaled = g0 * (sp.sqrt(2) * sig) ** (moment + 1) * gauss_moment(moment, z)
    return sp.Piecewise((scaled, z >= 0), (moments[moment], True))


def laplace_form(
    expr: sp.Expr,
    t: sp.Symbol,
    s: sp.Symbol,
    moment: int = 0,
    values: Mapping[sp.Symbol, sp.Expr] | None = None,
) -> LaplaceForm:
    """Derive ``L[t^moment expr](s)`` as a closed form plus a residual.

    Parameters
    ----------
    expr : sympy.Expr
        The kernel, a function of ``t``.
    t, s : sympy.Symbol
        Time and Laplace variables.
    moment : int
        The power ``k`` of the weight ``t^k``.
    values : mapping, optional
        Current parameter values, used only to take sign decisions (recorded as conditions).

    Returns
    -------
    LaplaceForm
    """
    if moment < 0 or int(moment) != moment:
        raise ValueError(f"moment must be a non-negative integer, got {moment!r}")
    deriver = _Deriver(t, s, dict(values or {}))
    closed = sp.S.Zero
    residual = sp.S.Zero
    terms = list(sp.Add.make_args(sp.expand(expr, deep=False, mul=True, multinomial=False, power_exp=False)))
    windows, terms = _pair_windows(terms, t, deriver)
    for rest, lo, hi in windows:
        try:
            closed += deriver.window(rest, lo, hi, int(moment))
        except _NoRule:
            terms += [rest * sp.Heaviside(t - lo), -rest * sp.Heaviside(t - hi)]
    for term in terms:
        try:
            closed += deriver.term(term, int(moment))
            continue
        except _NoRule:
            pass
        parts = _linearised_trig(term, t)
        if parts is not None:
            try:
                closed += sp.Add(*[deriver.term(part, int(moment)) for part in parts])
                continue
            except _NoRule:
                pass
        residual += t**moment * term
    conditions = tuple(dict.fromkeys(c for c in deriver.conditions if c is not sp.true))
    assumptions = tuple(dict.fromkeys(c for c in deriver.assumptions if c is not sp.true))
    return LaplaceForm(closed, residual, conditions, assumptions)


def _linearised_trig(term: sp.Expr, t: sp.Symbol) -> list | None:
    """The terms of a product of several sines and cosines (``exp(-t) cos(2t)^2``) rewritten as a sum of single
    ones (``exp(-t)/2 + exp(-t) cos(4t)/2``, product-to-sum formulas), or None when the term has at most one."""
    count = 0
    for fac in sp.Mul.make_args(term):
        base, e = fac.as_base_exp()
        if isinstance(base, (sp.sin, sp.cos)) and base.args[0].has(t):
            if not (e.is_Integer and e > 0):
                return None
            count += int(e)
    if count < 2:
        return None
    from sympy.simplify.fu import TR8

    parts = [term]
    for _ in range(6):  # cos(t)^4 -> (1/2 + cos(2t)/2)^2 -> ... : repeat until every part has one trig factor
        done = True
        out = []
        for part in parts:
            if _trig_count(part, t) >= 2:
                done = False
                out += sp.Add.make_args(sp.expand(TR8(part), power_exp=False, power_base=False))
            else:
                out.append(part)
        parts = out
        if done:
            break
    return parts


def _trig_count(term: sp.Expr, t: sp.Symbol) -> int:
    """The number of sine and cosine factors (with multiplicity) of ``t`` in a product."""
    count = 0
    for fac in sp.Mul.make_args(term):
        base, e = fac.as_base_exp()
        if isinstance(base, (sp.sin, sp.cos)) and base.args[0].has(t):
            count += int(e) if e.is_Integer and e > 0 else 2
    return count


def _step_edge(term: sp.Expr, t: sp.Symbol):
    """``(rest, edge)`` when ``term = rest * Heaviside(t - edge)`` (one step, slope +1), else None."""
    steps = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Heaviside)]
    if len(steps) != 1:
        return None
    arg = steps[0].args[0]
    if not arg.is_polynomial(t) or sp.degree(arg, t) != 1:
        return None
    slope = sp.expand(arg).coeff(t, 1)
    if slope.is_positive is not True:
        return None
    rest = sp.Mul(*[f for f in sp.Mul.make_args(term) if f is not steps[0]])
    return rest, sp.simplify(-arg.subs(t, 0) / slope)


def _pair_windows(terms: list, t: sp.Symbol, deriver) -> tuple[list, list]:
    """Pair ``g H(t-a)`` with ``-g H(t-b)`` into windows ``g 1{a<t<b}`` (decided with the current values)."""
    parsed = [_step_edge(term, t) for term in terms]
    used = [False] * len(terms)
    windows = []
    for i, pi in enumerate(parsed):
        if pi is None or used[i]:
            continue
        for j in range(i + 1, len(terms)):
            pj = parsed[j]
            if pj is None or used[j] or sp.simplify(pi[0] + pj[0]) != 0:
                continue
            (rest, a), (_, b) = pi, pj
            av, bv = deriver._numeric(a), deriver._numeric(b)
            if av is None or bv is None or av == bv:
                continue
            if av > bv:  # g H(t-a) - g H(t-b) with a > b is -g 1{b<t<a}
                rest, a, b = -rest, b, a
                av, bv = bv, av
            if av < 0:
                continue
            deriver._decide(sp.Ge(a, 0))
            deriver._decide(sp.Gt(b, a))
            windows.append((rest, a, b))
            used[i] = used[j] = True
            break
    return windows, [term for term, u in zip(terms, used) if not u]


class _Deriver:
    def __init__(self, t: sp.Symbol, s: sp.Symbol, values: dict):
        self.t, self.s, self.values = t, s, values
        self.conditions: list = []
        self.assumptions: list = []

    def _numeric(self, expr: sp.Expr):
        """Value of a parameter expression at the current parameter values (None when unknown)."""
        val = sp.sympify(expr).subs(self.values)
        return val if val.is_number else None

    def _require(self, cond) -> None:
        cond = sp.sympify(cond)
        if cond is sp.false:
            raise _NoRule
        if cond is not sp.true:
            self.conditions.append(cond)

    def _decide(self, cond) -> None:
        cond = sp.sympify(cond)
        if cond is not sp.true:
            self.assumptions.append(cond)

    def term(self, term: sp.Expr, moment: int) -> sp.Expr:
        t = self.t
        coeff, f = term.as_independent(t, as_Add=False)
        return coeff * self._shape(f, moment, self.s)

    def _shape(self, f: sp.Expr, n: int, s: sp.Expr) -> sp.Expr:
        t = self.t
        factors = list(sp.Mul.make_args(f))
        # Heaviside factors first: shift time so that the step sits at 0.
        for i, fac in enumerate(factors):
            if isinstance(fac, sp.Heaviside) or (isinstance(fac, sp.Pow) and isinstance(fac.base, sp.Heaviside)
                                                 and fac.exp.is_positive):
                return self._heaviside(fac if isinstance(fac, sp.Heaviside) else fac.base,
                                       factors[:i] + factors[i + 1:], n, s)
        power_t = n
        fractional = None  # t**a with a not a positive integer: L[t^a e^{-lam t}] = Gamma(a + 1)/(s + lam)^(a + 1)
        exponent = sp.S.Zero
        power_law = None
        trig = None
        for fac in factors:
            base, e = fac.as_base_exp()
            if fac == 1:
                continue
            if base == t and e.is_Integer and e > 0:
                power_t += int(e)
            elif base == t and fractional is None and not e.has(t):
                fractional = e
            elif isinstance(fac, sp.exp) or base is sp.E:
                exponent += fac.args[0] if isinstance(fac, sp.exp) else e
            elif power_law is None and not e.has(t) and base.is_polynomial(t) and sp.degree(base, t) == 1:
                power_law = (base, e)
            elif trig is None and isinstance(fac, (sp.sin, sp.cos)) and fac.args[0].is_polynomial(t) \
                    and sp.degree(fac.args[0], t) == 1:
                trig = fac
            else:
                raise _NoRule
        if exponent != 0 and not exponent.is_polynomial(t):
            raise _NoRule
        poly = sp.Poly(exponent, t) if exponent != 0 else None
        deg = poly.degree() if poly is not None else 0
        if deg > 2:
            raise _NoRule
        a2 = poly.coeff_monomial(t**2) if deg == 2 else sp.S.Zero
        a1 = poly.coeff_monomial(t) if deg >= 1 else sp.S.Zero
        a0 = poly.coeff_monomial(1) if poly is not None else sp.S.Zero
        if a2 != 0:
            if power_law is not None or trig is not None or fractional is not None:
                raise _NoRule
            self._require(sp.Lt(a2, 0))
            var = sp.simplify(-1 / (2 * a2))
            width = sp.sqrt(var)
            center = sp.simplify(a1 * var)
            pref = sp.exp(sp.simplify(a0 + center**2 / (2 * var)))
            return pref * gaussian_laplace(s, center, width, power_t)
        shifted = s - a1
        pref = sp.exp(a0)
        if power_law is not None and trig is not None:
            raise _NoRule
        if fractional is not None:
            if a2 != 0 or power_law is not None or trig is not None:
                raise _NoRule
            order = power_t + fractional
            self._require(sp.Gt(order, -1))
            self._require(sp.Gt(shifted, 0))
            return pref * sp.gamma(order + 1) / shifted ** (order + 1)
        if power_law is not None:
            base, e = power_law
            c0 = base.subs(t, 0)
            c1 = sp.expand(base).coeff(t, 1)
            self._require(sp.Gt(c0, 0))
            self._require(sp.Gt(c1, 0))
            scale = sp.simplify(c1 / c0)
            x = sp.Dummy("x")
            core = c0**e / scale * scaled_uppergamma(1 + e, x / scale)
            self._require(sp.Or(sp.Gt(shifted, 0), sp.And(sp.Eq(shifted, 0), sp.Lt(e, -1), power_t == 0)))
        elif trig is not None:
            arg = trig.args[0]
            omega = sp.expand(arg).coeff(t, 1)
            phi = arg.subs(t, 0)
            x = sp.Dummy("x")
            if isinstance(trig, sp.sin):
                core = (sp.sin(phi) * x + sp.cos(phi) * omega) / (x**2 + omega**2)
            else:
                core = (sp.cos(phi) * x - sp.sin(phi) * omega) / (x**2 + omega**2)
            self._require(sp.Gt(shifted, 0))
        else:
            x = sp.Dummy("x")
            core = 1 / x
            self._require(sp.Gt(shifted, 0))
        if power_t:
            core = (-1) ** power_t * sp.diff(core, x, power_t)
        return pref * core.subs(x, shifted)

    def window(self, rest: sp.Expr, lo: sp.Expr, hi: sp.Expr, n: int) -> sp.Expr:
        """``L[t^n rest(t) 1{lo<t<hi}]`` for ``rest = c t^k exp(lam t)``: a sum of finite moments ``F_j``."""
        t, s = self.t, self.s
        coeff, f = rest.as_independent(t, as_Add=False)
        power, exponent = n, sp.S.Zero
        for fac in sp.Mul.make_args(f):
            base, e = fac.as_base_exp()
            if fac == 1:
                continue
            if base == t and e.is_Integer and e > 0:
                power += int(e)
            elif isinstance(fac, sp.exp) and fac.args[0].is_polynomial(t) and sp.degree(fac.args[0], t) <= 1:
                exponent += fac.args[0]
            else:
                raise _NoRule
        lam = sp.expand(exponent).coeff(t, 1)
        const = sp.expand(exponent).coeff(t, 0)
        shifted = s - lam
        # int_lo^hi t^power e^{-s' t} dt = e^{-s' lo} sum_j C(power, j) lo^(power-j) F_j(s', hi - lo)
        total = sum(sp.binomial(power, j) * lo ** (power - j) * finite_laplace(j, shifted, hi - lo)
                    for j in range(power + 1))
        return coeff * sp.exp(const - shifted * lo) * total

    def _heaviside(self, step: sp.Heaviside, rest: list, n: int, s: sp.Expr) -> sp.Expr:
        t = self.t
        arg = step.args[0]
        if not arg.is_polynomial(t) or sp.degree(arg, t) != 1:
            raise _NoRule
        slope = sp.expand(arg).coeff(t, 1)
        edge = sp.simplify(-arg.subs(t, 0) / slope)
        slope_val = self._numeric(slope)
        if slope_val is None or slope_val == 0:
            raise _NoRule
        g = sp.Mul(*rest) * t**n
        edge_val = self._numeric(edge)
        if edge_val is None:
            raise _NoRule
        if slope_val > 0:
            self._decide(sp.Gt(slope, 0))
            if edge_val <= 0:  # the step is on for all t > 0
                self._decide(sp.Le(edge, 0))
                return self._shape(g, 0, s)
            self._decide(sp.Gt(edge, 0))
            shifted = sp.expand(g.subs(t, t + edge), deep=False, mul=True, multinomial=False, power_exp=False)
            total = sp.S.Zero
            for part in sp.Add.make_args(shifted):
                coeff, f = part.as_independent(t, as_Add=False)
                total += coeff * self._shape(f, 0, s)
            return sp.exp(-edge * s) * total
        # Heaviside(edge - t) = 1 - Heaviside(t - edge) for t != edge
        self._decide(sp.Lt(slope, 0))
        on = self._shape(g, 0, s)
        off = self._heaviside(sp.Heaviside(t - edge), rest, n, s)
        return on - off
