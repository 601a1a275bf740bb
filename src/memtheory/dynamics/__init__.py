"""Training dynamics: compiled ODE integrators and gradient flows of the exact loss."""

from __future__ import annotations

from .flow import EVENTS, FlowSolution, GradientFlow, LossFlow
from .integrators import integrate, integrate_batch

__all__ = ["GradientFlow", "LossFlow", "FlowSolution", "EVENTS", "integrate", "integrate_batch"]
