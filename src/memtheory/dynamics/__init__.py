"""Training dynamics: compiled ODE integrators and gradient flows of the exact loss.

:mod:`~memtheory.dynamics.integrators` is the front end of the compiled float64 integrators (Dormand--Prince 5(4)
and 8(5,3), Radau IIA, stiffness switching); :mod:`~memtheory.dynamics.rodas` integrates stiff flows in arbitrary
precision (RODAS4 in mpmath); :mod:`~memtheory.dynamics.flow` wires the gradient flows of the exact loss onto the
former.
"""

from __future__ import annotations

from .flow import EVENTS, FlowSolution, GradientFlow, LossFlow
from .integrators import integrate, integrate_batch
from .results import BatchResult, DenseSolution, ODEResult

__all__ = ["GradientFlow", "LossFlow", "FlowSolution", "EVENTS", "integrate", "integrate_batch", "ODEResult",
           "BatchResult", "DenseSolution"]
