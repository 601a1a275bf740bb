"""memtheory: a symbolic-numeric toolkit for the curse of memory in recurrent models.

The public API reads like the math of [CoM] (Li, Han, E, Li, ICLR 2021 / JMLR 2022) and [IAT] (Wang, Li, Li,
ICLR 2024): kernels ``rho``, models with ``theta = (a, w)``, the exact loss ``J`` and its gradient flow.

>>> import memtheory as mt
>>> rho = mt.Kernel("exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))", omega=0.1, sigma=0.5)
>>> J = mt.l2_loss(mt.DiagonalRNN([1.0], [0.5]), rho).loss
"""

from __future__ import annotations

import os as _os

# numba's OpenMP threads spin while waiting by default; on a 2-core machine shared with other work that costs
# 1.5x (up to 10x for small models) in the parallel kernels. Passive waiting, unless the user chose otherwise.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# NUMBA_NUM_THREADS=n also means n BLAS threads: the BLAS variables are set before numpy loads
from . import _runtime  # noqa: E402

__version__ = "0.1.0"

from ._cachedirs import ensure_numba_cache as _ensure_numba_cache  # noqa: E402

# before any ``cache=True`` function is defined: a read-only install and home fall back to a temporary cache
_ensure_numba_cache()

from . import errors, exact, kernels, symbolic  # noqa: F401
from .errors import *  # noqa: F401,F403 - the exception hierarchy is part of the top-level API
from .kernels import Kernel  # noqa: F401
from .losses import LossResult, l2_loss  # noqa: F401
from .models import DiagonalRNN, LinearFunctional, LinearRNN, NonlinearRNN  # noqa: F401
from .dynamics import FlowSolution, GradientFlow, ODEResult, integrate  # noqa: F401
from .theory import approximation, memory, plateau, stability  # noqa: F401
from . import training  # noqa: F401,E402

_runtime.apply_environment_thread_limit()  # numpy may have been imported before memtheory

__all__ = [
    "__version__",
    # the objects of the theory
    "Kernel",
    "LinearRNN",
    "DiagonalRNN",
    "NonlinearRNN",
    "LinearFunctional",
    "l2_loss",
    "LossResult",
    "GradientFlow",
    "FlowSolution",
    "integrate",
    "ODEResult",
    # the subpackages a user reaches through mt.<name>
    "exact",
    "kernels",
    "symbolic",
    "approximation",
    "plateau",
    "memory",
    "stability",
    "training",
    *errors.__all__,
]
