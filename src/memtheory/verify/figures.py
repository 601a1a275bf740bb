"""Helpers for the figures and LaTeX of the proofs checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._plotting import pyplot

__all__ = ["pyplot", "width_axis", "kernel_latex"]


def width_axis(ax: Any, widths: Iterable[int]) -> None:
    """Label a log-scale x axis with the integer widths ``widths`` (no minor tick labels), for figures of
    errors against the width m."""
    from matplotlib.ticker import NullFormatter

    ticks = sorted({int(x) for x in widths})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(x) for x in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def kernel_latex(rho: Any, name: str = r"\rho") -> str:
    r"""LaTeX ``\rho(t) = <expression>`` of a kernel with its parameter values, for ``CheckResult.latex``.

    Parameters
    ----------
    rho : Kernel
    name : str
        LaTeX of the kernel's name.
    """
    import sympy as sp

    names = {sym: sp.Symbol(r"\lambda") if sym.name == "lam" else sym for sym in rho.param_symbols}
    tex = f"{name}(t) = " + sp.latex(rho.expr.xreplace(names))
    values = ", ".join(f"{sp.latex(names[sym])} = {v:g}" for sym, v in zip(rho.param_symbols, rho.params.values()))
    return tex + (r",\qquad " + values if values else "")
