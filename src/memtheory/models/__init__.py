"""Models: linear RNNs (continuous time, diagonal/modal forms), linear functionals."""

from __future__ import annotations

from .functional import LinearFunctional
from .linear import DiagonalRNN, LinearRNN, discretize

__all__ = ["LinearRNN", "DiagonalRNN", "LinearFunctional", "discretize"]
