"""Certified mode: rigorous enclosures in Arb ball arithmetic (python-flint), docs/certified.md.

One home for the ball machinery the certified paths of the library call:

* :mod:`~memtheory.certified.enclosure`: the result type :class:`Enclosure` (``lo``, ``hi``, ``mid``, ``rad``,
  outward-rounded decimal pairs; the user's numbers are read exactly by :func:`memtheory.exact.exact`);
* :mod:`~memtheory.certified.tails`: certified integrals over ``[0, inf)`` (Arb's rigorous quadrature plus
  envelope tail bounds);
* :mod:`~memtheory.certified.moments`: balls of Laplace moments from their symbolic forms;
* :mod:`~memtheory.certified.maximize`: the supremum of an expression by interval branch and bound;
* :mod:`~memtheory.certified.refine`: the working precision raised until the enclosures carry the digits asked
  for (cancellation widens a ball by the digits it costs).

The expressions are compiled to ball functions by :mod:`memtheory.compile.arb`. Callers:
:meth:`Kernel.laplace <memtheory.kernels.Kernel.laplace>`, :meth:`Kernel.square_integral
<memtheory.kernels.Kernel.square_integral>`, :func:`memtheory.l2_loss` and
:func:`memtheory.approximation.jackson_bound`, each with ``certified=True``.
"""

from __future__ import annotations

from .._validation import check_dps
from ..errors import InvalidArgumentError
from .enclosure import Enclosure, decimal_bound, enclosure
from .maximize import SupEnclosure, certified_sup
from .moments import constant_ball, laplace_balls
from .refine import goal_digits, missing_digits, refine
from .tails import Envelope, envelope, half_line_integral, tail_integral_bound, tail_sup_bound

__all__ = [
    "Enclosure",
    "SupEnclosure",
    "Envelope",
    "enclosure",
    "decimal_bound",
    "constant_ball",
    "laplace_balls",
    "envelope",
    "half_line_integral",
    "tail_integral_bound",
    "tail_sup_bound",
    "certified_sup",
    "certified_dps",
    "refine",
    "missing_digits",
    "goal_digits",
    "MIN_DPS",
    "DEFAULT_DPS",
]

#: Fewest digits certified mode works at: below float64's 16 digits an enclosure says less than float64 does.
MIN_DPS = 16
#: Digits of certified mode when the caller gives none.
DEFAULT_DPS = 30


def certified_dps(dps) -> int:
    """The digits of a certified computation: ``dps`` checked to be in ``[MIN_DPS, 100000]``, or
    :data:`DEFAULT_DPS` for None.

    Raises
    ------
    InvalidArgumentError
        If ``dps`` is below :data:`MIN_DPS` or not an integer.
    """
    if dps is None:
        return DEFAULT_DPS
    try:
        return check_dps(dps, lo=MIN_DPS)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"certified mode: {exc} (an enclosure needs at least {MIN_DPS} digits)") from None
