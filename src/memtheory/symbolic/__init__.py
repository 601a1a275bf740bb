"""Symbolic layer: safe parsing, closed-form Laplace transforms, the symbolic loss and its derivatives."""

from __future__ import annotations

from .functions import LaplaceMoment, erfcx, scaled_uppergamma
from .laplace import LaplaceForm, gaussian_laplace, laplace_form
from .loss import SymbolicLoss, general_loss_latex, l2_loss
from .parse import parse_expression
from .steps import piecewise_to_heaviside

__all__ = [
    "parse_expression",
    "piecewise_to_heaviside",
    "laplace_form",
    "LaplaceForm",
    "gaussian_laplace",
    "l2_loss",
    "SymbolicLoss",
    "general_loss_latex",
    "erfcx",
    "scaled_uppergamma",
    "LaplaceMoment",
]
