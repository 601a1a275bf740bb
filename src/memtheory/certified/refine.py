"""Working precision of a certified computation, raised until its enclosures carry the digits asked for.

A ball computed at ``dps`` digits can be far wider than ``10^-dps`` of its value: cancellation (the L2 loss is a
difference of nearly equal terms; ``exp(-t) - exp(-(1 + 10^-30) t)`` loses 30 digits in every moment) widens the
ball by the digits it costs. :func:`refine` reruns the computation with the digits the widest ball says are
missing, so that ``--certified --dps D`` gives enclosures of at least ``D - 10`` digits (:func:`goal_digits`;
the ten are the usual losses of special functions and quadrature, which do not call for a rerun) whatever the
cancellation, and returns the working precision that was needed (the :class:`~memtheory.certified.Enclosure`
records it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from flint import arb

__all__ = ["refine", "missing_digits", "goal_digits", "MAX_FACTOR", "SLACK"]

#: The working digits stop at ``MAX_FACTOR * dps + 100``: beyond that the balls are returned as they are (they
#: still contain the values), e.g. for a value that is exactly zero, which no precision narrows relative to itself.
MAX_FACTOR = 8
#: Digits of ``dps`` an enclosure may lose before the computation is rerun at more digits.
SLACK = 10


def goal_digits(dps: int) -> int:
    """Correct digits an enclosure computed for ``dps`` digits must carry: ``dps - SLACK``, at least 6."""
    return max(6, int(dps) - SLACK)


def missing_digits(balls: Sequence, dps: int) -> int:
    """Decimal digits by which the widest ball of ``balls`` misses a relative radius of ``10^-dps``.

    A ball whose midpoint is zero, or whose radius is not below its midpoint, holds no correct digit: it counts
    as missing ``dps`` digits (the precision doubles). Exact balls and non-finite ones (which the caller refuses)
    miss nothing.
    """
    worst = 0
    tol = arb(10) ** (-int(dps))
    for ball in balls:
        if not isinstance(ball, arb) or not ball.is_finite():
            continue
        rad = ball.rad()
        if rad == 0:
            continue
        mid = abs(ball.mid())
        if mid == 0 or not bool(rad < mid):
            worst = max(worst, int(dps))
            continue
        ratio = rad / (mid * tol)
        if bool(ratio > 1):
            worst = max(worst, int(math.ceil(float(ratio.log() / arb(10).log()))))
    return worst


def refine(compute: Callable[[int], Sequence], dps: int) -> tuple[list, int]:
    """``compute(work)`` (balls at ``work`` digits) at ``work = dps``, then again with the digits missing plus 5
    until every ball has a relative radius of at most ``10^-goal_digits(dps)`` or the working digits reach
    ``MAX_FACTOR * dps + 100``.

    Parameters
    ----------
    compute : callable
        ``compute(work_dps) -> sequence of flint.arb`` (a fresh computation at that precision).
    dps : int
        Digits wanted.

    Returns
    -------
    (balls, work) : tuple
        The last balls and the working digits they were computed at.
    """
    work, cap = int(dps), MAX_FACTOR * int(dps) + 100
    while True:
        balls = list(compute(work))
        missing = missing_digits(balls, goal_digits(dps))
        if missing == 0 or work >= cap:
            return balls, work
        work = min(cap, work + missing + 5)
