"""Floating-point constants shared by the compiled special functions (frozen into the machine code by numba)."""

from __future__ import annotations

import math

__all__ = ["EPS", "TINY", "INV_SQRT_PI", "NAN", "INF"]

EPS = 2.220446049250313e-16  #: machine epsilon of float64, ``2**-52``
TINY = 2.2250738585072014e-308  #: smallest normal float64
INV_SQRT_PI = 0.5641895835477563  #: ``1/sqrt(pi)``
NAN = math.nan
INF = math.inf
