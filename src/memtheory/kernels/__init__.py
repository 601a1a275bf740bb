"""Memory kernels: the :class:`Kernel` class and the families every user wants (THEORY.md §1)."""

from __future__ import annotations

from .families import (
    REFERENCE_NAMES,
    airy,
    exponential,
    gaussian_bump,
    memory_family,
    power_law,
    reference,
    sine,
    window,
)
from .kernel import Kernel, LaplaceResult

__all__ = [
    "Kernel",
    "LaplaceResult",
    "exponential",
    "power_law",
    "gaussian_bump",
    "airy",
    "window",
    "sine",
    "memory_family",
    "reference",
    "REFERENCE_NAMES",
]
