"""Argument checks of the training package.

Messages read ``"<name>: must be ..., got <value>"``, as the training functions have always reported them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["positive_float", "positive_int"]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int, checked to be an integer ``>= 1`` (not a bool); ``name`` is used in the message."""
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise InvalidArgumentError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    """``value`` as a float, checked to be a finite number ``> 0``; ``name`` is used in the message."""
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name}: must be a finite number > 0, got {value!r}")
    return float(value)
