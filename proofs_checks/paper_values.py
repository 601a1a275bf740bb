"""Values read off the plots of [IAT], and the comparison of a check's perturbation curves with them.

The paper's figures plot ``E_m(beta)`` on log-log axes. The values here are those curves read at the axis ticks
(under each figure of the paper's full text: a table of the curves at its ticks). They are coarse -- mostly powers
of ten, read to about half a decade -- so a ratio ours / paper between about 1/3 and 3 is agreement to the
reading's resolution, and the checks report the ratios rather than assert them (the default runs are also
smaller than the paper's). Conventions of the plots:

* Figs. 7 and 8 come from the reference code's notebook, which moves the ``beta = 0`` point to ``beta = 1e-4``
  for the log axis: their leftmost tick ``1e-4`` is stored here as ``beta = 0``. It also sets the y axis to
  ``1e-6..1e7`` (:data:`TOP`), so a reading in the top decade is where a curve leaves the plot: a lower bound.
  A value of ours at or above such a reading agrees with it; the row is marked ``"clipped"`` and left out of the
  ratio summaries.
* Fig. 1 labels its ``beta = 0`` row itself (the exponential target's ``1e-4`` there is the floor of the plot:
  the least-squares fit of ``0.9^t`` is exact to rounding).
* Figs. 2 and 3 start their axes at ``1e-5`` and ``1e-10``, inside the perturbation grid; those ticks are radii.

Shared by the checks ``iat_fig1_paper``, ``iat_fig2_paper``, ``iat_fig3``, ``iat_fig7`` and ``iat_fig8``; not a
check itself (no ``NAME``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["PAPER", "SOURCE", "TOP", "comparison_rows", "comparison_table", "curve_value", "ratio_summary",
           "ratio_text", "ratios_at"]

#: Where the values come from (the column header of the comparison tables).
SOURCE = "paper"
#: Top of the y axis of the plots of Figs. 7 and 8 (the reference notebook's limits 1e-6..1e7).
TOP = {"7a": 1e7, "7b": 1e7, "8a": 1e7, "8b": 1e7}


def _panel(ticks, widths, rows) -> dict[float, dict[int, float]]:
    return {float(b): dict(zip(widths, map(float, row))) for b, row in zip(ticks, rows)}


#: ``{figure panel: {beta: {m: E_m(beta)}}}`` read off the paper's plots (module docstring).
PAPER: dict[str, dict[float, dict[int, float]]] = {
    # Fig. 1: least-squares linear RNNs, widths 2..14; (a) 0.9^t, (b) (t + 1)^-1.1
    "1a": _panel([0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0], (2, 4, 6, 8, 14),
                 [[1e-4] * 5, [0.1] * 5, [1.0] * 5, [10.0] * 5, [100.0] * 5, [1000.0] * 5]),
    "1b": _panel([0.0, 1e-2, 0.1, 1.0, 10.0], (2, 4, 6, 8, 14),
                 [[0.1, 0.01, 0.01, 0.01, 0.001], [0.1, 0.01, 0.01, 0.01, 0.001], [0.1] * 5, [1.0] * 5, [1.0] * 5]),
    # Fig. 2: tanh RNNs on (t + 1)^-1.5 with the Appendix D recipe, widths 4..64
    "2": _panel([1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0], (4, 8, 16, 64),
                [[0.1] * 4, [0.1] * 4, [0.1] * 4, [0.5] * 4, [5.0] * 4, [20.0] * 4]),
    # Fig. 3 (left): students of a width-256 random teacher, widths 4..64
    "3": _panel([1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0], (4, 8, 16, 32, 64),
                [[1e-2] * 5, [1e-2] * 5, [1e-2] * 5, [1e-2] * 5, [1.0] * 5, [10.0] * 5]),
    # Fig. 7: ReLU RNNs, (a) without reparameterisation, (b) softplus; widths 8..64
    "7a": _panel([0.0, 1e-3, 1e-2, 0.1, 1.0], (8, 16, 32, 64),
                 [[1.0] * 4, [1.0] * 4, [10.0] * 4, [1e4, 1e4, 1e4, 1e5], [1e6, 1e6, 1e6, 1e7]]),
    "7b": _panel([0.0, 1e-3, 1e-2, 0.1, 1.0], (8, 16, 32, 64),
                 [[0.5, 0.05, 0.005, 0.002], [0.5, 0.1, 0.01, 0.005], [1.0] * 4, [10.0] * 4, [100.0] * 4]),
    # Fig. 8: softplus-reparameterised (a) hardtanh, (b) tanh RNNs; widths 8..64
    "8a": _panel([0.0, 1e-3, 1e-2, 0.1, 1.0], (8, 16, 32, 64),
                 [[0.01] * 4, [0.01] * 4, [0.1, 0.1, 0.1, 0.01], [10.0, 10.0, 10.0, 1.0], [1e4, 1e4, 100.0, 10.0]]),
    "8b": _panel([0.0, 1e-3, 1e-2, 0.1, 1.0], (8, 16, 32, 64),
                 [[0.5, 0.3, 0.1, 0.01], [0.5, 0.3, 0.1, 0.01], [1.0, 0.5, 0.2, 0.02], [10.0, 5.0, 1.0, 0.5],
                  [1000.0, 500.0, 200.0, 100.0]]),
}


def curve_value(betas, errors, beta: float) -> float | None:
    """``E(beta)`` from a curve on the grid ``betas``: the grid value where ``beta`` is a grid point (``0``
    included), else linear interpolation of ``log E`` in ``log beta`` between the neighbouring positive grid
    points (the plots' axes); None outside the grid or where a neighbour is not a positive finite value."""
    b = np.asarray(betas, dtype=float)
    e = np.asarray(errors, dtype=float)
    hit = np.nonzero(np.isclose(b, beta, rtol=1e-6, atol=0.0))[0]
    if hit.size:
        return float(e[hit[0]])
    if beta <= 0:
        return None
    pos = np.nonzero(b > 0)[0]
    if pos.size < 2 or not b[pos[0]] < beta < b[pos[-1]]:
        return None
    j = pos[np.searchsorted(b[pos], beta)]  # the first grid point above beta (the grid is increasing)
    i = pos[np.searchsorted(b[pos], beta) - 1]
    lo, hi = e[i], e[j]
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return float(hi) if lo == hi else None
    f = (math.log(beta) - math.log(b[i])) / (math.log(b[j]) - math.log(b[i]))
    return float(math.exp((1 - f) * math.log(lo) + f * math.log(hi)))


def comparison_rows(results: Mapping[int, object], plotted: Mapping[float, Mapping[int, float]],
                    betas=None, top: float | None = None) -> list[dict]:
    """Rows ``{m, beta, ours, plotted, ratio}`` at each ``(width, beta)`` of ``plotted`` (``{beta: {m: value}}``)
    for which ``results`` (``{m: PerturbationResult}``) has a curve covering ``beta`` (:func:`curve_value`);
    ``betas`` restricts the radii (default: all of ``plotted``). ``ratio = ours / plotted``. With ``top`` (the
    plot's y limit), a reading in the top decade that ours reaches or exceeds is marked ``clipped``."""
    rows = []
    for beta in sorted(plotted):
        if betas is not None and not any(math.isclose(beta, b, rel_tol=1e-6, abs_tol=0.0) for b in betas):
            continue
        for m, value in sorted(plotted[beta].items()):
            if m not in results:
                continue
            ours = curve_value(results[m].betas, results[m].errors, beta)
            if ours is None:
                continue
            row = {"m": int(m), "beta": float(beta), "ours": ours, "plotted": float(value),
                   "ratio": ours / float(value)}
            if top is not None and value >= top / 10 and ours >= value:
                row["clipped"] = True
            rows.append(row)
    return rows


def ratio_summary(rows: list[dict]) -> dict:
    """Range and geometric mean of the finite positive ratios of :func:`comparison_rows` (clipped rows left out),
    and how many lie within the reading's resolution (between 1/3 and 3)."""
    r = np.array([row["ratio"] for row in rows
                  if math.isfinite(row["ratio"]) and row["ratio"] > 0 and not row.get("clipped")])
    if r.size == 0:
        return {"n": 0}
    return {"n": int(r.size), "min": float(r.min()), "max": float(r.max()),
            "geometric_mean": float(np.exp(np.mean(np.log(r)))),
            "within_factor_3": int(np.sum((r >= 1 / 3) & (r <= 3)))}


def ratios_at(rows: list[dict], beta: float = 0.0) -> list[float]:
    """The ratios of :func:`comparison_rows` at one radius (``beta = 0``: ``E_m(0)``), in width order, to 3
    digits."""
    return [float(f"{r['ratio']:.3g}") for r in rows if math.isclose(r["beta"], beta, rel_tol=1e-6, abs_tol=0.0)]


def ratio_text(summary: dict) -> str:
    """:func:`ratio_summary` in words, for a check's details."""
    if not summary.get("n"):
        return "no comparable point"
    return (f"ratios {summary['min']:.2g}..{summary['max']:.2g} (geometric mean {summary['geometric_mean']:.2g}, "
            f"{summary['within_factor_3']} of {summary['n']} within 3x)")


def comparison_table(rows_by_series: Mapping[str, list[dict]], source: str = SOURCE) -> str:
    """Markdown table of :func:`comparison_rows` for several series (``source`` names where the plotted values
    come from)."""
    lines = [f"| series | m | beta | ours | {source} | ratio (ours / {source}) |", "|---|---|---|---|---|---|"]
    for label, rows in rows_by_series.items():
        for r in rows:
            ratio = "above the plot" if r.get("clipped") else f"{r['ratio']:.3g}"
            lines.append(f"| {label} | {r['m']} | {r['beta']:.3g} | {r['ours']:.3g} | {r['plotted']:.3g} | {ratio} |")
    return "\n".join(lines)
