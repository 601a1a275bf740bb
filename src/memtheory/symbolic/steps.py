"""Piecewise kernels as sums of Heaviside steps (the form the Laplace rules and the compiled code handle).

A kernel ``Piecewise((v_1, c_1), (v_2, c_2), ..., (v_n, True))`` is, on ``t > 0``, the sum of ``v_k`` times the
indicator of the set where ``c_k`` holds and no earlier condition does; for conditions that are unions of
intervals of ``t`` with numeric ends (``t < 1``, ``(t >= 1) & (t < 2)``, ``1 <= t``), each indicator is a
difference of steps ``Heaviside(t - lo) - Heaviside(t - hi)``. The two forms agree for every ``t > 0`` except at
the finitely many interval ends (a set of measure zero: integrals, norms and transforms are the same).
"""

from __future__ import annotations

import sympy as sp

from ..errors import UnsafeExpressionError

__all__ = ["piecewise_to_heaviside"]


def piecewise_to_heaviside(expr: sp.Expr, t: sp.Symbol) -> sp.Expr:
    """``expr`` with every ``Piecewise`` in ``t`` rewritten as a sum of values times Heaviside steps.

    Parameters
    ----------
    expr : sympy.Expr
        An expression in ``t`` (``t > 0``) that may contain ``Piecewise`` terms.
    t : sympy.Symbol
        The time variable.

    Returns
    -------
    sympy.Expr
        The same function of ``t > 0`` (up to the values at the interval ends) without ``Piecewise``.

    Raises
    ------
    UnsafeExpressionError
        If a condition is not a union of intervals of ``t`` with numeric ends (it uses a parameter, or another
        variable), or the conditions leave part of ``t > 0`` undefined.

    Examples
    --------
    >>> import sympy as sp
    >>> t = sp.Symbol("t", positive=True)
    >>> piecewise_to_heaviside(sp.Piecewise((1, t < 1), (0, True)), t)
    1 - Heaviside(t - 1)
    """
    if not expr.has(sp.Piecewise):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: _steps(e, t))


def _steps(pw: sp.Piecewise, t: sp.Symbol) -> sp.Expr:
    domain = sp.Interval.open(0, sp.oo)
    covered: sp.Set = sp.EmptySet
    total = sp.Integer(0)
    for value, cond in pw.args:
        if cond.free_symbols - {t}:
            names = ", ".join(sorted(s.name for s in cond.free_symbols - {t}))
            raise UnsafeExpressionError(f"Piecewise condition {cond} uses {names}: conditions must be intervals of "
                                        "t with numeric ends (write a step at a parameter a as Heaviside(t - a))")
        try:
            region = sp.Complement(sp.Intersection(cond.as_set(), domain), covered)
        except (NotImplementedError, TypeError, ValueError):
            raise UnsafeExpressionError(f"Piecewise condition {cond} is not an interval of t") from None
        covered = sp.Union(covered, region)
        total += value * _indicator(region, t, cond)
    if sp.Complement(domain, covered).measure != 0:
        raise UnsafeExpressionError(f"Piecewise is undefined for t in {sp.Complement(domain, covered)}: end it with "
                                    "(value, True)")
    return total


def _indicator(region: sp.Set, t: sp.Symbol, cond) -> sp.Expr:
    """``1_region(t)`` for ``t > 0`` as steps; sets of measure zero (single points) contribute nothing."""
    if region.is_empty or region.measure == 0:
        return sp.Integer(0)
    if isinstance(region, sp.Union):
        return sp.Add(*(_indicator(part, t, cond) for part in region.args))
    if not isinstance(region, sp.Interval):
        raise UnsafeExpressionError(f"Piecewise condition {cond} is not a union of intervals of t")
    lo, hi = region.start, region.end
    if not (lo.is_number and (hi.is_number or hi is sp.oo)):
        raise UnsafeExpressionError(f"Piecewise condition {cond} has no numeric ends")
    up = sp.Integer(1) if lo == 0 else sp.Heaviside(t - lo)
    return up - (sp.Heaviside(t - hi) if hi is not sp.oo else 0)
