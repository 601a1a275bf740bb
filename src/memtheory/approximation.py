"""Approximation theory of linear RNNs (THEORY.md §3): the public names in one place.

* constructions of the proofs: :func:`universal` (rates ``1..m`` times a scale) and :func:`jackson` (rates
  ``j beta/(alpha+1)``), with their errors (:func:`approximation_errors`: L1, L2, sup);
* the Jackson-type bound itself: :func:`jackson_bound` (hypotheses, ``gamma``, the bound as SymPy/LaTeX);
* best exponential sums at arbitrary precision: :func:`best_exponential_sum`, :func:`best_exponential_sums`,
  the root-exponential law :func:`fit_root_exponential`;
* the curse of memory: :func:`width_needed`, :func:`width_sweep`, :func:`stability_margins`.

>>> import memtheory as mt
>>> best = mt.approximation.best_exponential_sum(mt.kernels.power_law(1.5), 3)
>>> round(best.l2_error, 4)
0.0135
"""

from __future__ import annotations

from .theory.approximation import ApproximationErrors, Construction, approximation_errors, universal
from .theory.best_sum import (
    BestSum,
    RootExponentialFit,
    best_exponential_sum,
    best_exponential_sums,
    cauchy_condition,
    exact_loss,
    exact_projection,
    fit_root_exponential,
)
from .theory.jackson import JacksonBound, jackson, jackson_bound
from .theory.width import (
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
