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


class PointWarning(UserWarning):
    """The warning :func:`warns_when_odd` raises (a category of its own, to check it survives the trip)."""


def warns_when_odd(point: dict) -> int:
    """``point["n"]``, warning (PointWarning, the same text each time) when it is odd, three times over."""
    import warnings

    for _ in range(3):
        if point["n"] % 2:
            warnings.warn("odd points are suspicious", PointWarning)
    return point["n"]


def reports_progress(point: dict) -> int:
    """``point["n"]``, reporting a quarter done every ``point["sleep"]`` seconds."""
    from memtheory.sweep import progress

    for k in range(1, 5):
        time.sleep(point.get("sleep", 0.0))
        progress.report(k / 4)
    return point["n"]


def nested_sweep(point: dict) -> list:
    """A sweep (serial) of :func:`reports_progress` inside a point: its completion reaches the outer sweep."""
    from memtheory import sweep

    return sweep.run(reports_progress, [{"n": n, "sleep": point["sleep"]} for n in range(point["n"])],
                     backend="serial").values


def small_tanh_rnn(m: int, seed: int):
    """An untrained width-``m`` tanh RNN (the reference code's initialisation) for the training-series tests."""
    from memtheory.models.nonlinear import NonlinearRNN

    return NonlinearRNN.random(1, m, activation="tanh", seed=seed)
