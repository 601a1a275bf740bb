"""Models: linear RNNs (continuous time, diagonal/modal forms), linear functionals, nonlinear residual RNNs, GRU and
LSTM cells, state-space-form models (linear recurrence, activation after it)."""

from __future__ import annotations

from .functional import LinearFunctional
from .gated import GRU, LSTM
from .linear import DiagonalRNN, LinearRNN, discretize
from .nonlinear import NonlinearRNN
from .ssm import SSM

__all__ = ["LinearRNN", "DiagonalRNN", "LinearFunctional", "NonlinearRNN", "GRU", "LSTM", "SSM", "discretize"]
