r"""Certified Laplace moments: balls containing ``L[t^k rho](s)`` from a
:class:`~memtheory.symbolic.laplace.LaplaceForm`.

The closed part of the form is evaluated in ball arithmetic (:func:`memtheory.compile.arb.arb_function`) at the
exact ``s`` and parameter values; its validity conditions are decided on the balls (an undecided condition is a
:class:`~memtheory.errors.CertificationError`, a false one a :class:`~memtheory.errors.NotIntegrableError`); the
residual is integrated by :func:`memtheory.certified.tails.half_line_integral` (Arb's rigorous quadrature plus a
certified tail bound). :meth:`memtheory.kernels.Kernel.laplace` with ``certified=True`` calls
:func:`laplace_balls`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp
from flint import arb

from ..compile.arb import arb_function, to_arb
from ..errors import CertificationError, NotIntegrableError
from ..symbolic.laplace import LaplaceForm, laplace_form
from ..symbolic.parse import symbol
from .tails import half_line_integral

__all__ = ["laplace_balls", "constant_ball"]

_T = symbol("t")
_S = symbol("s")


def constant_ball(expr: sp.Expr, what: str = "value") -> arb:
    """A ball containing a constant SymPy expression (exact numbers, special functions).

    Raises
    ------
    CertificationError
        If the expression has no rigorous ball evaluation or its ball is not finite.
    """
    ball = arb_function((), sp.sympify(expr))()
    if not ball.is_finite():
        raise CertificationError(f"{what}: no finite enclosure of {expr}")
    return ball


def laplace_balls(form: LaplaceForm, values: Mapping[sp.Symbol, sp.Expr], s_values: Sequence[sp.Rational],
                  moment: int, points: Sequence = ()) -> list[arb]:
    """Balls containing ``L[t^moment rho](s)`` at each exact ``s``, at flint's working precision.

    Parameters
    ----------
    form : LaplaceForm
        The form of ``L[t^moment rho]`` (closed part in ``s`` and the parameters, residual in ``t``).
    values : mapping
        Parameter symbol -> exact value.
    s_values : sequence of sympy.Rational
        Exact evaluation points.
    moment : int
        ``k`` (for messages).
    points : sequence
        Exact breakpoints of the residual in ``(0, inf)``.

    Returns
    -------
    list of flint.arb

    Raises
    ------
    NotIntegrableError
        If a validity condition of the closed form is false at some ``s``.
    CertificationError
        If a condition is undecided on the balls, a function has no rigorous implementation, the closed form
        is not finite, or the residual's tail cannot be bounded.
    """
    syms = tuple(values)
    params = [to_arb(values[p]) for p in syms]
    closed = arb_function((_S, *syms), form.closed) if form.closed != 0 else None
    conditions = [(c, arb_function((_S, *syms), c)) for c in form.conditions]
    residual = form.residual.xreplace(dict(values)) if form.residual != 0 else None
    extra = None
    if residual is not None:
        # SymPy's expansion can hide a closed-form shape in the residual ((1 + t/10)^(-11/5) multiplied out):
        # a power-law tail cannot be truncated to 2^-prec, so give the rules the factored terms once more
        refactored = sp.Add(*[sp.powsimp(sp.factor(term), force=True) for term in sp.Add.make_args(residual)])
        if refactored != residual:
            again = laplace_form(refactored, _T, _S, 0, {})
            if again.closed != 0:
                extra = (arb_function((_S,), again.closed), [(c, arb_function((_S,), c)) for c in again.conditions])
                residual = again.residual if again.residual != 0 else None
    out = []
    for s in s_values:
        sb = to_arb(s)
        for cond, fn in conditions:
            holds = fn(sb, *params)
            if holds is False:
                raise NotIntegrableError(f"L[t^{moment} rho](s) diverges (or leaves its closed form's domain) at "
                                         f"s = {s}; condition: {cond.xreplace(dict(values))}")
            if holds is None:
                raise CertificationError(f"the validity condition {cond.xreplace(dict(values))} of "
                                         f"L[t^{moment} rho] is undecided at s = {s}")
        value = arb(0)
        if closed is not None:
            value += closed(sb, *params)
            if not value.is_finite():
                raise CertificationError(f"no finite enclosure of the closed form of L[t^{moment} rho]({s})")
        if extra is not None:
            for cond, fn in extra[1]:
                if fn(sb) is not True:
                    raise CertificationError(f"the validity condition {cond} of the residual's closed form is not "
                                             f"proven at s = {s}")
            value += extra[0](sb)
        if residual is not None:
            value += half_line_integral(residual * sp.exp(-s * _T), _T, points)
        out.append(value)
    return out
