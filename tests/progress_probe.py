"""Run a computation under a progress listener: ``recorded(fn, *args, **kw) -> (result, fractions)``, and the
test that a long check's bar moves steadily (:func:`largest_stall`)."""

from __future__ import annotations

from memtheory.sweep import progress


def recorded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` inside :func:`memtheory.sweep.progress.listening`; its result and the fractions
    the bar received, in order."""
    fractions: list[float] = []
    with progress.listening(fractions.append):
        result = fn(*args, **kwargs)
    return result, fractions


def largest_stall(fractions) -> float:
    """The largest jump of the bar (from 0, between consecutive fractions, and to 1): how much of the run passes
    with the bar standing still."""
    points = [0.0, *fractions, 1.0]
    return max(b - a for a, b in zip(points, points[1:]))
