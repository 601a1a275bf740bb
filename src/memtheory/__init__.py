"""memtheory: a symbolic-numeric toolkit for the curse of memory in recurrent models."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: F401
    ConvergenceError,
    InvalidArgumentError,
    MemtheoryError,
    NotHurwitzError,
    NotIntegrableError,
    PrecisionError,
    UnsafeExpressionError,
)
