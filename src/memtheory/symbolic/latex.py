r"""LaTeX as a paper writes it: Greek parameter names, plain powers, aligned blocks, complete documents.

Every LaTeX string of memtheory (``Kernel.latex``, ``SymbolicLoss.latex``, ``memtheory latex ...``) is printed by
:func:`to_latex`, which differs from :func:`sympy.latex` in two ways:

* parameter names that spell a Greek letter print as the letter, including the spellings Python forces on a
  user (``lam`` and ``lamda`` for the reserved word ``lambda``, ``eps`` for ``epsilon``): ``lam_2`` prints
  ``\lambda_{2}``;
* powers with a rational exponent print as written on paper: ``s^{1/2}`` for ``sqrt(s)``, ``s^{-1/2}``,
  ``(t + 1)^{-3/2}`` (a square root of a compound expression stays ``\sqrt{...}``), never ``\left(s\right)^{-\left(- \frac{1}{2}\right)}`` (a power of a negated exponent that SymPy keeps
  unevaluated in the transforms' closed forms is evaluated first).

Several equations go into an ``aligned`` block (:func:`aligned`) and :func:`document` wraps parts into a complete
``amsmath`` document that ``pdflatex`` compiles.

>>> import sympy as sp
>>> from memtheory.symbolic.latex import to_latex
>>> lam, s = sp.Symbol("lam", positive=True), sp.Symbol("s", positive=True)
>>> to_latex(sp.exp(-lam * s) * sp.sqrt(s))
's^{1/2} e^{- \\lambda s}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

__all__ = ["GREEK_ALIASES", "to_latex", "symbol_latex", "aligned", "document"]

#: Python spellings of Greek letters that SymPy does not recognise, and the letter they print as.
GREEK_ALIASES = {"lam": "lambda", "lamda": "lambda", "lmbda": "lambda", "eps": "varepsilon"}
_NAME = re.compile(r"^([A-Za-z]+)(?:_?(\d+)|_(\w+))?$")


def symbol_latex(name: str) -> str:
    r"""The LaTeX of a symbol called ``name``: Greek letters (and :data:`GREEK_ALIASES`) as letters.

    Parameters
    ----------
    name : str
        A symbol name such as ``"lam"``, ``"sigma2"``, ``"w_l"``.

    Returns
    -------
    str
        E.g. ``\lambda``, ``\sigma_{2}``, ``w_{l}``.
    """
    m = _NAME.match(name)
    if m and m.group(1) in GREEK_ALIASES:
        sub = m.group(2) or m.group(3)
        base = "\\" + GREEK_ALIASES[m.group(1)]
        return base + (f"_{{{sub}}}" if sub else "")
    return sp.latex(sp.Symbol(name))


class _Printer(LatexPrinter):
    """SymPy's printer with Greek aliases and rational powers written ``x^{p/q}``."""

    def _print_Symbol(self, expr, style="plain"):
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        m = _NAME.match(expr.name)
        if m and m.group(1) in GREEK_ALIASES:
            return symbol_latex(expr.name)
        return super()._print_Symbol(expr, style=style)

    def _print_Function(self, expr, exp=None):
        if isinstance(expr, AppliedUndef) and exp is None:  # C(alpha): a named constant, not C{\left(...\right)}
            return self._print(sp.Symbol(expr.func.__name__)) + "(" + ", ".join(map(self._print, expr.args)) + ")"
        return super()._print_Function(expr, exp=exp)

    def _print_Pow(self, expr):
        base, exp = expr.as_base_exp()
        if exp.is_Rational and not exp.is_Integer and exp.q <= 12 and not base.is_number \
                and not (exp == sp.S.Half and not base.is_Atom):  # sqrt{beta^2 + 4b/a}, but s^{1/2}
            p, q = exp.p, exp.q
            b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Pow"])
            if base.is_Symbol:
                b = self._print(base)
            return f"{b}^{{{p}/{q}}}"
        return super()._print_Pow(expr)


def _tidy(expr: sp.Basic) -> sp.Basic:
    """Evaluate unevaluated powers with a numeric exponent (``s**(-(-1/2))`` -> ``sqrt(s)``)."""
    if not isinstance(expr, sp.Basic):
        return expr
    return expr.replace(lambda e: e.is_Pow and e.exp.is_number and not e.exp.is_Atom,
                        lambda e: sp.Pow(e.base, sp.nsimplify(e.exp)))


def to_latex(expr, symbol_names: Mapping | None = None, **settings) -> str:
    """LaTeX of a SymPy object in memtheory's conventions (module docstring).

    Parameters
    ----------
    expr : sympy.Basic
        Expression, equation or matrix.
    symbol_names : mapping, optional
        Symbol -> LaTeX overrides (as in :func:`sympy.latex`).
    **settings
        Other :func:`sympy.latex` settings (``order``, ...).

    Returns
    -------
    str
    """
    settings = {"symbol_names": dict(symbol_names or {}), **settings}
    return _Printer(settings).doprint(_tidy(expr))


def aligned(lines, operator: str = "=") -> str:
    r"""Equations ``lhs = rhs`` as one ``aligned`` block, aligned at ``operator``.

    Parameters
    ----------
    lines : iterable of (str, str)
        ``(lhs, rhs)`` LaTeX pairs.
    operator : str
        The relation printed between them (``=``, ``\le`` ...).

    Returns
    -------
    str
        ``\begin{aligned} lhs &= rhs \\ ... \end{aligned}``.
    """
    body = " \\\\\n".join(f"{lhs} &{operator} {rhs}" for lhs, rhs in lines)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"


def document(parts: Mapping[str, str], title: str | None = None) -> str:
    r"""A complete LaTeX document (``article`` with ``amsmath``) displaying each part as an equation.

    Parameters
    ----------
    parts : mapping of str to str
        Part name -> LaTeX of a formula (display math, without delimiters; ``aligned`` blocks allowed).
    title : str, optional
        A section heading.

    Returns
    -------
    str
        Source that ``pdflatex`` compiles on its own.
    """
    out = ["\\documentclass{article}", "\\usepackage{amsmath,amssymb}", "\\usepackage[margin=2cm]{geometry}",
           "\\allowdisplaybreaks", "\\begin{document}"]
    if title:
        out.append("\\section*{" + title.replace("_", "\\_") + "}")
    for name, tex in parts.items():
        out += ["% " + name, "\\begin{equation*}", tex, "\\end{equation*}"]
    out.append("\\end{document}")
    return "\n".join(out) + "\n"
