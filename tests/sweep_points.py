"""Point functions for the sweep tests (a module of their own, so that spawned worker processes import them)."""

from __future__ import annotations

import time

import mpmath as mp

from memtheory.errors import InvalidArgumentError


def basel_partial_sum(point: dict) -> str:
    """``sum_{j <= n} 1/j^2`` at 40 digits (a decimal string), after ``point.get("sleep", 0)`` seconds."""
    time.sleep(point.get("sleep", 0.0))
    with mp.workdps(40):
        return mp.nstr(mp.fsum(mp.mpf(1) / j**2 for j in range(1, point["n"] + 1)), 40)


def fails_on_three(point: dict) -> int:
    """``point["n"]**2``, raising ValueError for n = 3."""
    if point["n"] == 3:
        raise ValueError("three is refused")
    return point["n"] ** 2


def typed_error_below_zero(point: dict) -> int:
    """``point["n"]``, raising InvalidArgumentError when it is negative."""
    if point["n"] < 0:
        raise InvalidArgumentError(f"n must be >= 0, got {point['n']}")
    return point["n"]
