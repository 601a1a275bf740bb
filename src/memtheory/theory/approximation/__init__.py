"""Approximation theory of linear RNNs (docs/theory.md §3): the public names in one place.

* constructions of the proofs: :func:`universal` (rates ``1..m`` times a scale) and :func:`jackson` (rates
  ``j beta/(alpha+1)``), with their errors (:func:`approximation_errors`: L1, L2, sup);
* the Jackson-type bound itself: :func:`jackson_bound` (hypotheses, ``gamma``, the bound as SymPy/LaTeX);
* best exponential sums at arbitrary precision: :func:`best_exponential_sum`, :func:`best_exponential_sums`,
  the root-exponential law :func:`fit_root_exponential`;
* the curse of memory: :func:`width_needed`, :func:`width_sweep`, :func:`stability_margins`.

The modules: :mod:`.constructions` (universal construction, errors in three norms), :mod:`.best_sum` (best
sums, continuation in the width), :mod:`.varpro` (the variable-projection solver and the exact L2 loss),
:mod:`.jackson` (the Jackson-type bound and construction), :mod:`.width` (widths needed, stability margins).

>>> import memtheory as mt
>>> best = mt.approximation.best_exponential_sum(mt.kernels.power_law(1.5), 3)
>>> round(best.l2_error, 4)
0.0135
"""

from __future__ import annotations

from .best_sum import (
    BestSum,
    RootExponentialFit,
    best_exponential_sum,
    best_exponential_sums,
    fit_root_exponential,
)
from .constructions import ApproximationErrors, Construction, approximation_errors, universal
from .jackson import JacksonBound, jackson, jackson_bound
from .varpro import cauchy_condition, exact_loss, exact_projection
from .width import (
    StabilityMargins,
    WidthResult,
    WidthSweep,
    stability_margins,
    width_needed,
    width_sweep,
)

__all__ = [
    "universal",
    "jackson",
    "jackson_bound",
    "approximation_errors",
    "best_exponential_sum",
    "best_exponential_sums",
    "fit_root_exponential",
    "cauchy_condition",
    "exact_loss",
    "exact_projection",
    "width_needed",
    "width_sweep",
    "stability_margins",
    "ApproximationErrors",
    "Construction",
    "JacksonBound",
    "BestSum",
    "RootExponentialFit",
    "WidthResult",
    "WidthSweep",
    "StabilityMargins",
]
