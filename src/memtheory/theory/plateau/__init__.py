"""Plateaus of the gradient flow: hitting times from ``1/omega = 2`` to the thousands, scans and bounds.

:mod:`~memtheory.theory.plateau.hitting` holds the hitting times, the theorem's bound and the scans over the
memory length; :mod:`~memtheory.theory.plateau.premise` measures the premise ``rho_hat(theta_0) = rho_bar``
against the memory term; :mod:`~memtheory.theory.plateau.systems` holds the arbitrary-precision flows they
integrate beyond float64 (docs/theory.md §4).
"""

from __future__ import annotations

from .hitting import (
    FLOAT64_MIN_FORCE,
    HittingTimes,
    PlateauScan,
    bound,
    bound_expr,
    fit_exponent,
    hitting_times,
    initial_gradient_expr,
    initial_loss_expr,
    initial_state,
    latex,
    scan,
    slow_manifold_offset,
)
from .premise import PREMISE_RATIO, PlateauPremise, measure_premise, rho_bar_of

__all__ = [
    "HittingTimes",
    "PlateauScan",
    "hitting_times",
    "scan",
    "bound",
    "bound_expr",
    "latex",
    "initial_loss_expr",
    "initial_gradient_expr",
    "initial_state",
    "fit_exponent",
    "rho_bar_of",
    "slow_manifold_offset",
    "FLOAT64_MIN_FORCE",
    "PlateauPremise",
    "measure_premise",
    "PREMISE_RATIO",
]
