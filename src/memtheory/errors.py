"""The exception hierarchy of memtheory.

Every error raised on purpose by the package derives from :class:`MemtheoryError`,
so ``except memtheory.MemtheoryError`` catches all of them. Errors about bad input
also derive from :class:`ValueError` so that generic code keeps working.
"""

from __future__ import annotations

__all__ = [
    "MemtheoryError",
    "InvalidArgumentError",
    "UnsafeExpressionError",
    "NotHurwitzError",
    "NotIntegrableError",
    "PrecisionError",
    "PrecisionWarning",
    "ConvergenceError",
    "PremiseError",
    "StoreMismatchError",
    "SweepBackendError",
    "SchedulerUnreachableError",
    "PointFailedError",
    "ConvergenceWarning",
    "CertificationError",
]


class MemtheoryError(Exception):
    """Base class of every error raised by memtheory."""


class InvalidArgumentError(MemtheoryError, ValueError):
    """An argument is outside its allowed range, has the wrong shape, or is not finite."""


class UnsafeExpressionError(InvalidArgumentError):
    """A user expression uses a token outside the whitelist (unknown symbol or function, attribute access...)."""


class NotHurwitzError(InvalidArgumentError):
    """A recurrent matrix has an eigenvalue with non-negative real part, so its kernel integrals diverge."""


class NotIntegrableError(InvalidArgumentError):
    """A kernel is not integrable in the requested norm (or its Laplace transform diverges at the point asked)."""


class PrecisionError(MemtheoryError, ArithmeticError):
    """A result cannot be represented accurately in the requested arithmetic.

    Raised instead of returning a silently wrong number (an underflowed 0, an overflowed inf, or a value
    swamped by rounding error). The message says which precision (``dps=...``) would work.
    """


class ConvergenceError(MemtheoryError, RuntimeError):
    """An iterative computation (quadrature, Newton, optimiser, integrator) did not reach its tolerance."""


class PremiseError(MemtheoryError):
    """A hypothesis of the theorem being measured does not hold for the inputs, measured against the signal it
    must not swamp (e.g. a plateau start ``theta_0`` whose mismatch with ``rho_bar`` drives the flow more than the
    memory term does). The computation would measure something else; the message names the quantities and the
    fix."""


class StoreMismatchError(InvalidArgumentError):
    """A sweep's result store belongs to another sweep (other function, settings or file layout)."""


class SweepBackendError(MemtheoryError, RuntimeError):
    """A sweep backend cannot run: a Dask scheduler that does not answer, or Dask not installed."""


class SchedulerUnreachableError(SweepBackendError, InvalidArgumentError):
    """A Dask scheduler address where no scheduler answers: nothing listens, or what listens does not speak Dask's
    protocol in time. Bad input (the address names no scheduler), so also an :class:`InvalidArgumentError`."""


class PointFailedError(MemtheoryError, RuntimeError):
    """Points of a sweep raised (each is recorded with its error; the others were computed)."""


class CertificationError(MemtheoryError, ArithmeticError):
    """Certified mode cannot bound a quantity rigorously: a function without a rigorous ball implementation, an
    integrand without a certified tail bound, a ball that is not finite. Raised instead of returning an enclosure
    whose radius is not proven."""


class PrecisionWarning(UserWarning):
    """A value computed at a precision the caller fixed carries no correct digit (it is within its own rounding
    bound, which is returned next to it). Raise the precision, or let the library choose it."""


class ConvergenceWarning(UserWarning):
    """An optimiser stopped before meeting its tolerance (iteration limit, lack of digits): the result returned is
    the best point found, not a verified optimum (its ``converged`` field says False)."""
