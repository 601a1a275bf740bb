r"""The exact L2 kernel loss of the diagonal model, symbolically (docs/theory.md §4).

For ``rho_hat(t; theta) = sum_i a_i e^{-w_i t}`` and a target kernel ``rho``,

.. math::
    J(\theta) = \int_0^\infty (\hat\rho - \rho)^2 dt
              = \sum_{ij} \frac{a_i a_j}{w_i + w_j} - 2 \sum_i a_i \mathcal{L}[\rho](w_i) + \|\rho\|_2^2 .

The loss is *pair-separable*: ``J = sum_ij P(x_i, x_j) + sum_i Q(x_i) + N`` with ``x_i = (a_i, w_i)``,
``P = a_i a_j / (w_i + w_j)`` and ``Q = -2 a_i L[rho](w_i)``. This module holds those two element formulas
(:data:`PAIR_TERM`, :data:`SINGLE_TERM`) -- the one place the loss is written -- and derives from them

* the explicit loss, gradient and Hessian for a given width ``m`` (:func:`l2_loss`), printable as LaTeX;
* the element derivatives from which :mod:`memtheory.losses.l2` generates compiled (numba) and
  arbitrary-precision (mpmath) code for any ``m``.

The target enters only through the Laplace moments ``L[t^k rho](w_i)`` (k = 0, 1, 2), represented by
:class:`~memtheory.symbolic.functions.LaplaceMoment` with ``d/ds L[t^k rho] = -L[t^{k+1} rho]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from ..errors import InvalidArgumentError
from .functions import LaplaceMoment

__all__ = ["PAIR_TERM", "SINGLE_TERM", "NORM_SYMBOL", "element_symbols", "SymbolicLoss", "l2_loss", "general_loss_latex",
           "theta_symbols"]

#: Symbols of the element formulas: (a_i, w_i) and (a_j, w_j).
A_I, W_I, A_J, W_J = sp.symbols("a_i w_i a_j w_j", real=True)
#: ``||rho||_2^2``.
NORM_SYMBOL = sp.Symbol(r"\|\rho\|_2^2", positive=True)

#: The pair term ``P(x_i, x_j)``.
PAIR_TERM = A_I * A_J / (W_I + W_J)
#: The single term ``Q(x_i)``.
SINGLE_TERM = -2 * A_I * LaplaceMoment(0, W_I)


def element_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol, sp.Symbol]:
    """The symbols ``(a_i, w_i, a_j, w_j)`` used by :data:`PAIR_TERM` and :data:`SINGLE_TERM`."""
    return A_I, W_I, A_J, W_J


@dataclass(frozen=True)
class SymbolicLoss:
    """Explicit loss ``J``, gradient and Hessian for width ``m`` in ``theta = (a_1..a_m, w_1..w_m)``."""

    m: int
    theta: tuple
    loss: sp.Expr
    gradient: tuple
    hessian: sp.Matrix

    def latex(self, what: str = "loss") -> str:
        """LaTeX of ``"loss"``, ``"gradient"``, ``"hessian"`` or ``"flow"`` (the gradient-flow ODEs)."""
        if what == "loss":
            return "J(\\theta) = " + sp.latex(self.loss)
        if what == "gradient":
            return ",\\\\\n".join(
                f"\\frac{{\\partial J}}{{\\partial {sp.latex(v)}}} = {sp.latex(g)}"
                for v, g in zip(self.theta, self.gradient))
        if what == "hessian":
            return "\\nabla^2 J(\\theta) = " + sp.latex(self.hessian)
        if what == "flow":
            return ",\\\\\n".join(
                f"\\frac{{d {sp.latex(v)}}}{{d\\tau}} = {sp.latex(sp.factor_terms(-g))}"
                for v, g in zip(self.theta, self.gradient))
        raise InvalidArgumentError(f"what must be 'loss', 'gradient', 'hessian' or 'flow', got {what!r}")

    def general_latex(self) -> str:
        """LaTeX of the loss for general ``m`` (index notation)."""
        return general_loss_latex()


def theta_symbols(m: int) -> tuple[tuple, tuple]:
    """Symbols ``(a_1..a_m)``, ``(w_1..w_m)``."""
    a = sp.symbols(f"a_1:{m + 1}", real=True)
    w = sp.symbols(f"w_1:{m + 1}", positive=True)
    return a, w


@functools.lru_cache(maxsize=32)
def l2_loss(m: int) -> SymbolicLoss:
    """The explicit loss of width ``m``, built from the element formulas, with its gradient and Hessian.

    Examples
    --------
    >>> from memtheory.symbolic import l2_loss
    >>> sorted(str(term) for term in l2_loss(1).loss.args)  # the terms (their printed order varies with SymPy)
    ['-2*a_1*LaplaceMoment(0, w_1)', '\\\\|\\\\rho\\\\|_2^2', 'a_1**2/(2*w_1)']
    """
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InvalidArgumentError(f"m must be an integer >= 1, got {m!r}")
    a, w = theta_symbols(m)
    loss = sp.S.Zero
    for i in range(m):
        for j in range(m):
            loss += PAIR_TERM.xreplace({A_I: a[i], W_I: w[i], A_J: a[j], W_J: w[j]})
        loss += SINGLE_TERM.xreplace({A_I: a[i], W_I: w[i]})
    loss += NORM_SYMBOL
    theta = (*a, *w)
    grad = tuple(sp.simplify(sp.diff(loss, v)) for v in theta)
    hess = sp.Matrix(2 * m, 2 * m, lambda r, c: sp.simplify(sp.diff(grad[r], theta[c])))
    return SymbolicLoss(m, theta, loss, grad, hess)


def general_loss_latex() -> str:
    """``J`` for general width as LaTeX, printed from the element formulas summed with indexed symbols."""
    a, w = sp.IndexedBase("a"), sp.IndexedBase("w")
    i, j, m = sp.symbols("i j m", integer=True, positive=True)
    pair = PAIR_TERM.xreplace({A_I: a[i], W_I: w[i], A_J: a[j], W_J: w[j]})
    single = SINGLE_TERM.xreplace({A_I: a[i], W_I: w[i]})
    expr = sp.Sum(pair, (j, 1, m), (i, 1, m)) + sp.Sum(single, (i, 1, m)) + NORM_SYMBOL
    return "J(\\theta) = " + sp.latex(expr, order="none")
