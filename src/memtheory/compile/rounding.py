"""Forward rounding-error bounds of float64 evaluation, derived from a SymPy expression.

:func:`rounding_error` turns an expression ``f`` into a second expression ``E_f`` (same free symbols) estimating
``|fl(f) - f|``, the absolute error of evaluating ``f`` in float64 as the numba printer writes it. The rules are
the first-order forward error analysis of each operation, with ``u`` = 2^-52 (one ulp, twice the unit roundoff,
as a margin):

==========================  =====================================================================================
node                         error
==========================  =====================================================================================
integer, exact input ``s``   0
other number, parameter      ``u |x|`` (rounded once to float64)
``a_1 + ... + a_n``          ``sum E_i + (n - 1) u sum |a_i|`` (the *condition* of a sum: cancellation shows here)
``a_1 * ... * a_n``          ``sum_i E_i prod_{j != i} |a_j| + (n - 1) u |f|``
``b**c``                     ``|c b^(c-1)| E_b + |f log b| E_c + 2 u |f|``
``exp(x)``                   ``|f| (E_x + 2 u)``
``log(x)``, ``sin``, ``cos`` ``E_x / |x| + 2 u |f|``, ``E_x + 2 u``
special function ``g``       ``r_g |g| + a_g + sum_i |dg/dx_i| E_i`` with the accuracy contract ``r_g`` (relative)
                             and ``a_g`` (absolute) of :mod:`memtheory.compile.registry`
==========================  =====================================================================================

This is an *estimate* to first order (products of errors are dropped), not a certified bound: its use is to make
cancellation visible (``1/(s + 1) - 1/(s + 1 + 1e-12)`` gets an error ``~ u/(s+1)``, i.e. a relative error ``~ u *
1e12``, instead of a few ulps of the tiny result). Where the estimate says a float64 value has lost too many digits
the callers recompute it in arbitrary precision (:meth:`memtheory.kernels.kernel.Kernel.laplace`).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import ArgumentIndexError

from .registry import special_function

__all__ = ["rounding_error", "fabs", "UNIT"]

#: One ulp of 1.0 in float64 (2^-52): the per-operation relative error used by :func:`rounding_error`.
UNIT = sp.Float(2.0**-52)
#: Relative accuracy assumed for an elementary function outside the registry (a few ulps).
_ELEMENTARY = 4 * UNIT


class fabs(sp.Function):  # noqa: N801 - the C name
    """``|x|`` that SymPy leaves alone (``Abs`` of a product of real powers evaluates to ``re(...)`` terms, which
    have no float64 printer); printed ``abs(x)`` by :class:`~memtheory.compile.codegen.NumbaPrinter`."""

    nargs = 1


def _abs(e: sp.Expr) -> sp.Expr:
    if e.is_number:
        return sp.Abs(e)
    if isinstance(e, fabs):
        return e
    return fabs(e)


def _printable(e: sp.Expr) -> bool:
    """Whether every function in ``e`` has a float64 implementation (a derivative such as ``polygamma`` may not)."""
    for f in e.atoms(sp.Function):
        if isinstance(f, (sp.exp, sp.log, sp.sin, sp.cos, sp.Abs, fabs)):
            continue
        try:
            special_function(type(f).__name__)
        except KeyError:
            return False
    return True


def rounding_error(expr: sp.Expr, exact: tuple = ()) -> sp.Expr:
    """First-order estimate of the absolute error of evaluating ``expr`` in float64.

    Parameters
    ----------
    expr : sympy.Expr
        The expression, as the numba printer will evaluate it.
    exact : tuple of sympy.Symbol
        Symbols whose float64 values are exact inputs (the Laplace variable ``s``); every other symbol is a
        parameter rounded once to float64.

    Returns
    -------
    sympy.Expr
        A non-negative expression in the same symbols (0 when the evaluation is exact).
    """
    memo: dict = {}
    exact = frozenset(exact)

    def err(e: sp.Expr) -> sp.Expr:
        if e in memo:
            return memo[e]
        out = _rule(e)
        memo[e] = out
        return out

    def _rule(e: sp.Expr) -> sp.Expr:
        if e.is_Integer or e in exact:
            return sp.S.Zero
        if e.is_Number or e.is_NumberSymbol:
            return UNIT * abs(e)
        if e.is_Symbol:
            return UNIT * _abs(e)
        if e.is_number and not e.has(sp.Function):
            # a constant sub-expression (pi/2, sqrt(2)/3): SymPy's printer folds it into a few operations
            return 4 * UNIT * abs(e)
        if isinstance(e, sp.Add):
            args = e.args
            return sp.Add(*[err(a) for a in args]) + (len(args) - 1) * UNIT * sp.Add(*[_abs(a) for a in args])
        if isinstance(e, sp.Mul):
            args = e.args
            total = (len(args) - 1) * UNIT * _abs(e)
            for i, a in enumerate(args):
                ea = err(a)
                if ea != 0:
                    total += ea * sp.Mul(*[_abs(b) for j, b in enumerate(args) if j != i])
            return total
        if isinstance(e, sp.Pow):
            b, c = e.args
            total = 2 * UNIT * _abs(e)
            eb, ec = err(b), err(c)
            if eb != 0:
                total += _abs(c * b ** (c - 1)) * eb
            if ec != 0:
                total += _abs(e * sp.log(_abs(b))) * ec
            if c.is_Integer and abs(c) > 2:
                total += min(int(abs(c)), 16) * UNIT * _abs(e)
            return total
        if isinstance(e, sp.exp):
            return _abs(e) * (err(e.args[0]) + 2 * UNIT)
        if isinstance(e, sp.log):
            return err(e.args[0]) / _abs(e.args[0]) + 2 * UNIT * _abs(e)
        if isinstance(e, (sp.sin, sp.cos)):
            return err(e.args[0]) + 2 * UNIT
        if isinstance(e, (sp.Abs, fabs)):
            return err(e.args[0])
        if isinstance(e, (sp.Min, sp.Max)):
            return sp.Max(*[err(a) for a in e.args])
        if isinstance(e, sp.Heaviside):
            return sp.S.Zero
        if isinstance(e, sp.Piecewise):
            return sp.Piecewise(*[(err(v), c) for v, c in e.args])
        if isinstance(e, sp.Function):
            return _function(e)
        raise NotImplementedError(f"no rounding rule for {type(e).__name__}")

    def _function(e: sp.Function) -> sp.Expr:
        try:
            entry = special_function(type(e).__name__)
            rel, absolute = sp.Float(entry.accuracy[0]), sp.Float(entry.accuracy[1])
        except KeyError:
            rel, absolute = _ELEMENTARY, sp.S.Zero
        total = rel * _abs(e) + absolute
        for i, a in enumerate(e.args):
            ea = err(a)
            if ea == 0:
                continue
            try:
                deriv = e.fdiff(i + 1)
                if not _printable(deriv):
                    raise NotImplementedError
            except (ArgumentIndexError, NotImplementedError, AttributeError):
                # no derivative in this argument (the order of an incomplete gamma function): a relative
                # sensitivity of (4 + |log x|) per unit change, x the last argument
                x = e.args[-1]
                total += _abs(e) * ea * (4 + _abs(sp.log(_abs(x) + sp.Float(1e-300))))
                continue
            total += _abs(deriv) * ea
        return total

    return err(sp.sympify(expr))
