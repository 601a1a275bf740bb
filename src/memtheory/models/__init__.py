"""Models: linear RNNs (continuous time, diagonal/modal forms), linear functionals, nonlinear residual RNNs, GRU and
LSTM cells."""

from __future__ import annotations

from .functional import LinearFunctional
from .gated import GRU, LSTM
from .linear import DiagonalRNN, LinearRNN, discretize
from .nonlinear import NonlinearRNN

__all__ = ["LinearRNN", "DiagonalRNN", "LinearFunctional", "NonlinearRNN", "GRU", "LSTM", "discretize"]
