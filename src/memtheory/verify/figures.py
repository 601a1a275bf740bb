"""Helpers for the figures and LaTeX of the proofs checks.

The checks' figures share two layouts, each drawn by one helper here so that every check's figure looks the same
way: :func:`log_figure` (one axes of lines on log scales, e.g. an error against the width ``m``, described by
:class:`Series`) and :func:`perturbation_figure` (panels of perturbation-error curves ``E_m(beta)``, one curve per
width).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..symbolic.latex import to_latex
from .._plotting import pyplot

__all__ = ["pyplot", "width_axis", "kernel_latex", "Series", "log_figure", "perturbation_figure"]


def width_axis(ax: Any, widths: Iterable[int]) -> None:
    """Label a log-scale x axis with the integer widths ``widths`` (no minor tick labels), for figures of
    errors against the width m."""
    from matplotlib.ticker import NullFormatter

    ticks = sorted({int(x) for x in widths})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(x) for x in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


@dataclass(frozen=True)
class Series:
    """One line of a :func:`log_figure`.

    Attributes
    ----------
    x, y : sequence of float
        The line's points.
    fmt : str
        Matplotlib format string (marker and line style), e.g. ``"o-"``.
    label : str or None
        Legend entry; ``None`` keeps the line out of the legend.
    options : mapping
        Further ``Line2D`` keyword arguments (``color``, ``alpha``, ``lw``, ...).
    """

    x: Sequence[float]
    y: Sequence[float]
    fmt: str = "o-"
    label: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def log_figure(series: Iterable[Series], *, xlabel: str, ylabel: str, title: str, scale: str = "loglog",
               widths: Iterable[int] | None = None, figsize: tuple[float, float] = (5.5, 3.8),
               title_size: float = 10, legend_size: float = 6) -> Any:
    """One axes of lines on log scales with grid and legend: the layout of the checks' error-against-width figures.

    Parameters
    ----------
    series : iterable of Series
        The lines, drawn in order (lines without an explicit colour take the next colour of the cycle).
    xlabel, ylabel, title : str
        Axis labels and the axes' title.
    scale : {"loglog", "semilogy", "semilogx"}
        Which axes are logarithmic.
    widths : iterable of int, optional
        Integer widths labelling the x axis (:func:`width_axis`); ``None`` keeps matplotlib's log ticks.
    figsize : (float, float)
        Figure size in inches.
    title_size, legend_size : float
        Font sizes of the title and of the legend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    draw = getattr(ax, scale)
    for s in series:
        kwargs = dict(s.options)
        if s.label is not None:
            kwargs["label"] = s.label
        draw(s.x, s.y, s.fmt, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=title_size)
    if widths is not None:
        width_axis(ax, widths)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    return fig


def perturbation_figure(panels: Mapping[str, Mapping[int, Any]], *, figsize: tuple[float, float],
                        suptitle: str | None = None, sharey: bool = False, title_size: float | None = None) -> Any:
    """Panels side by side of perturbation-error curves ``E_m(beta)``, one curve per width ``m``, each in a legend.

    Parameters
    ----------
    panels : mapping of str to mapping of int to PerturbationResult
        ``{panel title: {m: result}}``; each result draws itself with ``PerturbationResult.plot`` (log-log, unstable
        radii as crosses), in increasing ``m``, labelled ``"m = <m>"``.
    figsize : (float, float)
        Figure size in inches.
    suptitle : str, optional
        Title of the whole figure.
    sharey : bool
        Whether the panels share the y axis.
    title_size : float, optional
        Font size of the panel titles (default: matplotlib's title size).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, sharey=sharey, squeeze=False)
    title_kwargs = {} if title_size is None else {"fontsize": title_size}
    for ax, (title, results) in zip(axes[0], panels.items()):
        for m, r in sorted(results.items()):
            r.plot(ax, label=f"m = {m}")
        ax.set_title(title, **title_kwargs)
        ax.legend(fontsize=7)
    if suptitle is not None:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


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
    tex = f"{name}(t) = " + to_latex(rho.expr.xreplace(names))
    values = ", ".join(f"{to_latex(names[sym])} = {v:g}" for sym, v in zip(rho.param_symbols, rho.params.values()))
    return tex + (r",\qquad " + values if values else "")
