r"""The curse of memory in approximation: widths needed, with and without a stability margin (docs/theory.md §3).

* :func:`width_needed` -- the smallest width ``m`` whose L2-best exponential sum (rates ``>= min_rate`` if a
  margin is imposed) approximates ``rho`` to ``eps`` in the L1, L2 or sup norm.
* :func:`width_sweep` -- the widths for ``rho_omega(t) = (1 + t)^{-(1+omega)}`` over a grid of ``omega`` and ``eps``,
  with fitted exponents ``m ~ eps^{-p}`` to compare with the law ``m ~ omega eps^{-1/omega}`` recalled from [CoM].
* :func:`stability_margins` -- the inverse (Bernstein) side: the margin ``min_i w_i`` of the best approximants as
  ``m`` grows. It tends to 0 for power laws and stays bounded away from 0 for exponentially decaying kernels.

In the L1 and sup norms the width is that of the L2-best sums, an upper bound on the width of the best
approximation in those norms (the L1-best sum would put more weight on the tail). In L2 it is the exact answer
(up to the global optimality of the fits, which are continued from smaller widths with several starts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...display import Displayable, rows_table
from ..._validation import check_choice, check_int, check_positive
from ...errors import ConvergenceError, InvalidArgumentError
from ...kernels.families import power_law
from ...kernels.kernel import Kernel
from .best_sum import best_exponential_sums, check_min_rate
from .constructions import approximation_errors

__all__ = ["WidthResult", "WidthSweep", "StabilityMargins", "width_needed", "width_sweep", "stability_margins"]

_NORMS = ("L1", "L2", "sup")


@dataclass(frozen=True, repr=False)
class WidthResult(Displayable):
    """The smallest width reaching an accuracy.

    Attributes
    ----------
    eps : float
        Accuracy asked.
    norm : str
        ``"L1"``, ``"L2"`` or ``"sup"``.
    min_rate : float or None
        Stability margin imposed on the rates.
    m : int
        Smallest width found with error ``<= eps``.
    error : float
        Its error.
    history : tuple of (int, float)
        Every width evaluated and its error (the search brackets ``m`` by growing widths, then bisects).
    """

    eps: float
    norm: str
    min_rate: float | None
    m: int
    error: float
    history: tuple

    _display_fields = ("eps", "norm", "min_rate", "m", "error")

    def _display_table(self) -> tuple[list[str], list[list]] | None:
        return ["m", "error"], [list(h) for h in self.history]

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"eps": self.eps, "norm": self.norm, "min_rate": self.min_rate, "m": self.m, "error": self.error,
                "history": [list(h) for h in self.history]}


@dataclass(frozen=True, repr=False)
class WidthSweep(Displayable):
    """Widths for ``(1+t)^{-(1+omega)}`` over ``omega`` and ``eps``, with fitted growth exponents.

    Attributes
    ----------
    norm : str
    min_rate : float or None
    rows : tuple of dict
        ``omega, eps, m`` (None if not reached within ``m_max``), ``error``, ``law`` (``omega eps^{-1/omega}``).
    exponents : dict
        Per ``omega``: the least-squares slope ``p`` of ``log m`` against ``log(1/eps)`` (``m ~ eps^{-p}``) and the
        law's ``1/omega``; ``None`` when fewer than two widths were reached.
    """

    norm: str
    min_rate: float | None
    rows: tuple
    exponents: dict

    _display_fields = ("norm", "min_rate", "exponents")

    def _display_table(self) -> tuple[list[str], list[list]] | None:
        return rows_table(self.rows)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"norm": self.norm, "min_rate": self.min_rate, "rows": [dict(r) for r in self.rows],
                "exponents": {str(k): v for k, v in self.exponents.items()}}


@dataclass(frozen=True, repr=False)
class StabilityMargins(Displayable):
    """Margins ``min_i w_i`` of the L2-best sums against the width.

    Attributes
    ----------
    rows : tuple of dict
        ``m, margin, max_rate, l2_error``.
    fit : dict
        Least-squares fits of ``log margin`` against ``sqrt(m)`` (slope, ``r2``) and against ``log m``: a negative
        slope that persists means the margin tends to 0.
    """

    rows: tuple
    fit: dict

    _display_fields = ("fit",)

    def _display_table(self) -> tuple[list[str], list[list]] | None:
        return rows_table(self.rows)

    @property
    def margins(self) -> np.ndarray:
        """The margins, in the order of the rows."""
        return np.array([r["margin"] for r in self.rows])

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"rows": [dict(r) for r in self.rows], "fit": dict(self.fit)}


def _error(rho: Kernel, fit, norm: str) -> float:
    if norm == "L2":
        return fit.l2_error
    errs = approximation_errors(rho, fit)
    return errs.l1 if norm == "L1" else errs.sup


def width_needed(rho: Kernel, eps: float, norm: str = "L1", min_rate: float | None = None, m_max: int = 60,
                 dps: int | None = None, rtol: float = 1e-7) -> WidthResult:
    """Smallest width ``m`` whose L2-best exponential sum is within ``eps`` of ``rho`` in ``norm``.

    Parameters
    ----------
    rho : Kernel
        Target kernel (square-integrable; integrable for ``norm="L1"``).
    eps : float
        Accuracy (absolute), > 0.
    norm : {"L1", "L2", "sup"}
        Error norm. ``"L1"`` bounds the functional error ``sup_t ||H_t - Ĥ_t||``.
    min_rate : float, optional
        Stability margin: rates ``>= min_rate``.
    m_max : int
        Largest width tried.
    dps : int, optional
        Fixed precision of the fits (default automatic).
    rtol : float
        Stopping tolerance of the fits (relative loss decrease). The default 1e-7 resolves the error to about
        7 digits, far more than deciding ``error <= eps`` needs, and is cheaper than the 1e-10 of
        :func:`~memtheory.theory.approximation.best_exponential_sums`.

    Returns
    -------
    WidthResult

    Raises
    ------
    ConvergenceError
        If ``eps`` is not reached by width ``m_max`` (the message gives the error reached): with a margin the
        error decays only algebraically for long memory, so a small ``eps`` may be out of reach.

    Notes
    -----
    Widths 1..8 are tried in turn, then the width grows by factors 1.5 until ``eps`` is met, then the bracket
    is bisected (errors decrease with ``m``: exactly so in L2, up to small wiggles in L1 and sup).

    Examples
    --------
    >>> import memtheory as mt
    >>> mt.approximation.width_needed(mt.kernels.power_law(2.0), 1e-3, norm="L2").m
    5
    """
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    eps = check_positive("eps", eps)
    norm = check_choice("norm", norm, _NORMS)
    min_rate = check_min_rate(min_rate)
    m_max = check_int("m_max", m_max, 1, 200)
    seen: dict[int, float] = {}

    def err(m: int) -> float:
        if m not in seen:
            fit = best_exponential_sums(rho, [m], min_rate=min_rate, dps=dps, rtol=rtol)[0]
            seen[m] = _error(rho, fit, norm)
        return seen[m]

    lo, hi = 0, None  # err(lo) > eps (lo = 0: nothing yet), err(hi) <= eps
    m = 1
    while m <= m_max:
        if err(m) <= eps:
            hi = m
            break
        lo = m
        m = m + 1 if m < 8 else min(m_max, max(m + 1, int(math.ceil(1.5 * m)))) if m < m_max else m_max + 1
    if hi is None:
        best = min(seen.items(), key=lambda kv: kv[1])
        raise ConvergenceError(
            f"eps = {eps:g} ({norm}) not reached with width <= {m_max}"
            + (f" and rates >= {min_rate:g}" if min_rate else "")
            + f": smallest error {best[1]:.3g} at m = {best[0]}")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if err(mid) <= eps:
            hi = mid
        else:
            lo = mid
    return WidthResult(eps, norm, min_rate, hi, seen[hi], tuple(sorted(seen.items())))


def width_sweep(omegas, epsilons, norm: str = "L1", min_rate: float | None = None, m_max: int = 40,
                dps: int | None = None, rtol: float = 1e-7) -> WidthSweep:
    """Widths needed for ``rho_omega = (1 + t)^{-(1+omega)}`` over a grid, against ``m ~ omega eps^{-1/omega}``.

    Parameters
    ----------
    omegas : sequence of float
        Memory exponents ``omega > 0`` (small = long memory).
    epsilons : sequence of float
        Accuracies.
    norm, min_rate, m_max, dps, rtol
        As in :func:`width_needed`; an ``eps`` not reached by ``m_max`` gives ``m = None`` in its row.

    Returns
    -------
    WidthSweep

    Examples
    --------
    >>> import memtheory as mt
    >>> sw = mt.approximation.width_sweep([1.0], [1e-2, 1e-3], norm="L2")
    >>> [r["m"] for r in sw.rows]
    [3, 5]
    """
    omegas = [float(o) for o in omegas]
    epsilons = [check_positive("eps", e) for e in epsilons]
    if not omegas or not epsilons:
        raise InvalidArgumentError("omegas and epsilons must be non-empty")
    for o in omegas:
        if not (math.isfinite(o) and o > 0):
            raise InvalidArgumentError(f"omega must be a finite number > 0, got {o!r}")
    rows, exps = [], {}
    for o in omegas:
        rho = power_law(1.0 + o)
        pts = []
        for e in sorted(epsilons, reverse=True):
            try:
                res = width_needed(rho, e, norm=norm, min_rate=min_rate, m_max=m_max, dps=dps, rtol=rtol)
                m, err = res.m, res.error
                pts.append((e, m))
            except ConvergenceError:
                m, err = None, None
            rows.append({"omega": o, "eps": e, "m": m, "error": err, "law": o * e ** (-1.0 / o)})
        if len(pts) >= 2 and len({p[1] for p in pts}) >= 2:
            x = np.log(1 / np.array([p[0] for p in pts]))
            y = np.log(np.array([p[1] for p in pts], float))
            slope = float(np.polyfit(x, y, 1)[0])
        else:
            slope = None
        exps[o] = {"p": slope, "law_p": 1.0 / o, "points": len(pts)}
    return WidthSweep(norm, min_rate, tuple(rows), exps)


def stability_margins(rho: Kernel, ms, min_rate: float | None = None, dps: int | None = None) -> StabilityMargins:
    """The stability margin ``min_i w_i`` of the L2-best width-``m`` sums, for each ``m`` in ``ms``.

    [CoM, JMLR] (inverse theorem): if stable approximants (spectral abscissa ``< -beta`` uniformly in ``m``)
    approximate the target, its memory decays like ``e^{-beta t}``. So for a power-law kernel the best
    approximants' margins must tend to 0, while for ``e^{-lambda t}``-type decay they may stay away from 0.

    Parameters
    ----------
    rho : Kernel
        Square-integrable kernel.
    ms : sequence of int
        Widths.
    min_rate, dps
        As in :func:`~memtheory.theory.approximation.best_exponential_sums`.

    Returns
    -------
    StabilityMargins

    Examples
    --------
    >>> import memtheory as mt
    >>> sm = mt.approximation.stability_margins(mt.kernels.power_law(1.5), [2, 4, 6])
    >>> bool(sm.margins[-1] < sm.margins[0])
    True
    """
    fits = best_exponential_sums(rho, list(ms), min_rate=min_rate, dps=dps)
    rows = tuple({"m": f.m, "margin": f.margin, "max_rate": float(max(f.w)), "l2_error": f.l2_error,
                  "converged": f.converged} for f in fits)
    fit = {}
    if len(rows) >= 3:
        m = np.array([r["m"] for r in rows], float)
        lm = np.log(np.array([r["margin"] for r in rows]))
        for name, x in (("sqrt_m", np.sqrt(m)), ("log_m", np.log(m))):
            coef = np.polyfit(x, lm, 1)
            resid = lm - np.polyval(coef, x)
            tot = float(((lm - lm.mean()) ** 2).sum())
            fit[name] = {"slope": float(coef[0]), "r2": 1 - float(resid @ resid) / tot if tot > 0 else 1.0}
    return StabilityMargins(rows, fit)
