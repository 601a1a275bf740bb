"""Memory kernels: the :class:`Kernel` class and the families every user wants (docs/theory.md §1).

:mod:`~memtheory.kernels.kernel` holds the class, :mod:`~memtheory.kernels.families` the parametric families
(its ``__all__`` is re-exported here), :mod:`~memtheory.kernels.compiled` the numba-compiled kernel and its
Laplace moments, the one float64 evaluation of them.
"""

from __future__ import annotations

from . import families
from .families import *  # noqa: F403 (the families' __all__, listed once, there)
from .kernel import Kernel, LaplaceResult

__all__ = ["Kernel", "LaplaceResult", *families.__all__]
