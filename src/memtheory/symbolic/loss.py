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

from .latex import aligned, to_latex
from ..display import Displayable, latex_repr
from ..errors import InvalidArgumentError
from .functions import LaplaceMoment

__all__ = ["PAIR_TERM", "SINGLE_TERM", "NORM_SYMBOL", "MAX_EXPLICIT_WIDTH", "element_symbols", "SymbolicLoss", "l2_loss",
           "general_terms", "general_latex", "general_loss_latex", "theta_symbols"]

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


#: Widths up to which :func:`l2_loss` builds the explicit loss (``m^2`` pair terms, a ``2m x 2m`` Hessian);
#: beyond, the index notation of :func:`general_latex` describes every width.
MAX_EXPLICIT_WIDTH = 12
_WHATS = ("loss", "gradient", "flow", "hessian")


@dataclass(frozen=True, repr=False)
class SymbolicLoss(Displayable):
    """Explicit loss ``J`` of width ``m`` in ``theta = (a_1..a_m, w_1..w_m)``, with its gradient and Hessian.

    The gradient and the Hessian are derived when first used (and kept), unsimplified: their entries are the
    derivatives of the element formulas, already in the form the paper writes (``2 a_k/(w_k+w_j)`` ...).
    """

    m: int
    theta: tuple
    loss: sp.Expr

    @functools.cached_property
    def gradient(self) -> tuple:
        """``dJ/dtheta`` (tuple of 2m expressions)."""
        return tuple(sp.diff(self.loss, v) for v in self.theta)

    @functools.cached_property
    def hessian(self) -> sp.Matrix:
        """``d^2J/dtheta^2`` (a symmetric ``2m x 2m`` matrix)."""
        n, g = len(self.theta), self.gradient
        H = sp.zeros(n, n)
        for r in range(n):
            for c in range(r, n):
                H[r, c] = H[c, r] = sp.diff(g[r], self.theta[c])
        return H

    def equations(self, what: str = "flow") -> list[tuple[str, str]]:
        """``(lhs, rhs)`` LaTeX pairs of ``"gradient"`` (one per parameter) or ``"flow"`` (the gradient-flow ODEs)."""
        if what == "gradient":
            return [(f"\\frac{{\\partial J}}{{\\partial {to_latex(v)}}}", to_latex(g))
                    for v, g in zip(self.theta, self.gradient)]
        if what == "flow":
            return [(f"\\frac{{d {to_latex(v)}}}{{d\\tau}}", to_latex(sp.factor_terms(-g)))
                    for v, g in zip(self.theta, self.gradient)]
        raise InvalidArgumentError(f"what must be 'gradient' or 'flow', got {what!r}")

    def latex(self, what: str = "loss") -> str:
        """LaTeX of ``"loss"``, ``"gradient"``, ``"hessian"`` or ``"flow"``; several equations as an ``aligned`` block."""
        if what == "loss":
            return "J(\\theta) = " + to_latex(self.loss)
        if what in ("gradient", "flow"):
            return aligned(self.equations(what))
        if what == "hessian":
            return "\\nabla^2 J(\\theta) = " + to_latex(self.hessian)
        raise InvalidArgumentError(f"what must be one of {', '.join(map(repr, _WHATS))}, got {what!r}")

    def general_latex(self, what: str = "loss") -> str:
        """LaTeX of ``what`` for general ``m`` (index notation, :func:`general_latex`)."""
        return general_latex(what)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("m", self.m), ("theta", self.theta), ("loss", self.loss)]

    def _repr_latex_(self) -> str:
        return latex_repr(self.latex("loss") if self.m <= 3 else general_latex("loss", self.m))


def theta_symbols(m: int) -> tuple[tuple, tuple]:
    """Symbols ``(a_1..a_m)``, ``(w_1..w_m)``."""
    a = sp.symbols(f"a_1:{m + 1}", real=True)
    w = sp.symbols(f"w_1:{m + 1}", positive=True)
    return a, w


@functools.lru_cache(maxsize=32)
def l2_loss(m: int) -> SymbolicLoss:
    """The explicit loss of width ``m`` (``m <= MAX_EXPLICIT_WIDTH``), built from the element formulas.

    Raises
    ------
    InvalidArgumentError
        ``m`` is not an integer in ``1..MAX_EXPLICIT_WIDTH`` (wider losses: :func:`general_latex`).

    Examples
    --------
    >>> from memtheory.symbolic import l2_loss
    >>> sorted(str(term) for term in l2_loss(1).loss.args)  # the terms (their printed order varies with SymPy)
    ['-2*a_1*LaplaceMoment(0, w_1)', '\\\\|\\\\rho\\\\|_2^2', 'a_1**2/(2*w_1)']
    """
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InvalidArgumentError(f"m must be an integer >= 1, got {m!r}")
    if m > MAX_EXPLICIT_WIDTH:
        raise InvalidArgumentError(
            f"m must be <= {MAX_EXPLICIT_WIDTH} for the explicit loss (width {m} has {m * m} pair terms and a "
            f"{2 * m}x{2 * m} Hessian), got {m}; general_latex() prints every width in index notation")
    a, w = theta_symbols(m)
    loss = sp.S.Zero
    for i in range(m):
        for j in range(m):
            loss += PAIR_TERM.xreplace({A_I: a[i], W_I: w[i], A_J: a[j], W_J: w[j]})
        loss += SINGLE_TERM.xreplace({A_I: a[i], W_I: w[i]})
    loss += NORM_SYMBOL
    return SymbolicLoss(m, (*a, *w), loss)


def general_terms(m=None) -> dict:
    r"""The loss, gradient and Hessian of any width in index notation, derived from the element formulas.

    With ``J = sum_{ij} P(x_i, x_j) + sum_i Q(x_i) + ||rho||^2`` and ``P`` symmetric,
    ``dJ/du_k = sum_j 2 d_{u_i} P(x_k, x_j) + d_{u_i} Q(x_k)`` and
    ``d^2J/du_k dv_l = 2 d_{u_i} d_{v_j} P(x_k, x_l) + delta_{kl} (sum_j 2 d_{u_i} d_{v_i} P(x_k, x_j)
    + d_{u_i} d_{v_i} Q(x_k))`` for ``u, v`` in ``{a, w}``.

    Parameters
    ----------
    m : int or sympy.Symbol, optional
        Upper limit of the sums (default: the symbol ``m``).

    Returns
    -------
    dict
        ``"loss"``: expression; ``"gradient"``: ``{"a": expr, "w": expr}`` (entry ``k``); ``"hessian"``:
        ``{("a", "a"): expr, ("a", "w"): expr, ("w", "w"): expr}`` (entry ``k, l``); ``"indices"``: the symbols
        ``(j, k, l, m)`` and ``"bases"``: the ``IndexedBase`` ``(a, w)``.
    """
    a, w = sp.IndexedBase("a"), sp.IndexedBase("w")
    i, j, k, l = sp.symbols("i j k l", integer=True, positive=True)
    m = sp.Symbol("m", integer=True, positive=True) if m is None else sp.sympify(m)
    var = {"a": (A_I, A_J), "w": (W_I, W_J)}

    def at(expr, x, y):
        return expr.xreplace({A_I: a[x], W_I: w[x], A_J: a[y], W_J: w[y]})

    def total(expr, *limits):  # the sum with its numeric factor in front (2 sum_j ..., not sum_j 2 ...)
        if expr == 0:
            return sp.S.Zero
        c, rest = expr.as_coeff_Mul()
        return c * sp.Sum(rest, *limits)

    loss = total(at(PAIR_TERM, i, j), (j, 1, m), (i, 1, m)) + total(at(SINGLE_TERM, i, i), (i, 1, m)) + NORM_SYMBOL
    grad = {u: total(2 * at(sp.diff(PAIR_TERM, var[u][0]), k, j), (j, 1, m)) + at(sp.diff(SINGLE_TERM, var[u][0]), k, k)
            for u in var}
    hess = {}
    for u, v in (("a", "a"), ("a", "w"), ("w", "w")):
        cross = 2 * at(sp.diff(PAIR_TERM, var[u][0], var[v][1]), k, l)
        diag = (total(2 * at(sp.diff(PAIR_TERM, var[u][0], var[v][0]), k, j), (j, 1, m))
                + at(sp.diff(SINGLE_TERM, var[u][0], var[v][0]), k, k))
        hess[(u, v)] = cross + sp.KroneckerDelta(k, l) * diag
    return {"loss": loss, "gradient": grad, "hessian": hess, "indices": (j, k, l, m), "bases": (a, w)}


def general_latex(what: str = "loss", m=None) -> str:
    """``J``, its gradient, gradient flow or Hessian for any width, as LaTeX in index notation (sums over j).

    Parameters
    ----------
    what : {"loss", "gradient", "flow", "hessian"}
    m : int, optional
        Upper limit of the sums (default: the symbol ``m``).

    Returns
    -------
    str
        One equation (``loss``) or an ``aligned`` block, with ``k, l = 1, ..., m``.
    """
    if what not in _WHATS:
        raise InvalidArgumentError(f"what must be one of {', '.join(map(repr, _WHATS))}, got {what!r}")
    terms = general_terms(m)
    if what == "loss":
        return "J(\\theta) = " + to_latex(terms["loss"], order="none")
    j, k, l, mm = terms["indices"]
    a, w = terms["bases"]
    rng = f",\\quad k = 1, \\dots, {to_latex(mm)}"
    if what == "gradient":
        lines = [(f"\\frac{{\\partial J}}{{\\partial {u}_{{k}}}}", to_latex(g, order="none"))
                 for u, g in terms["gradient"].items()]
    elif what == "flow":
        lines = [(f"\\frac{{d {u}_{{k}}}}{{d\\tau}}", to_latex(-g, order="none")) for u, g in terms["gradient"].items()]
    else:
        lines = [(f"\\frac{{\\partial^2 J}}{{\\partial {u}_{{k}} \\partial {v}_{{l}}}}", to_latex(h, order="none"))
                 for (u, v), h in terms["hessian"].items()]
        rng = f",\\quad k, l = 1, \\dots, {to_latex(mm)}"
    block = aligned(lines)
    return block.replace("\n\\end{aligned}", rng + "\n\\end{aligned}")


def general_loss_latex() -> str:
    """``J`` for general width as LaTeX, printed from the element formulas summed with indexed symbols."""
    return general_latex("loss")
