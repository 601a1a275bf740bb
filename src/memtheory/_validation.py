"""Argument checks shared by the whole package: one place, one message style.

Every public function of memtheory validates what a user passes before any computation starts, and raises
:class:`memtheory.errors.InvalidArgumentError` (a ``ValueError``) whose message names the argument, the allowed
range and the value received: ``"<name> must be <what is allowed>, got <repr of the value>"``. The checks here
return the value normalised (a Python ``int`` or ``float``, a float64 array), so callers write
``m = check_int("m", m, lo=1)``.

Booleans are never accepted as numbers (``True`` is an ``int`` in Python, but ``m=True`` is a mistake).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import mpmath as mp
import numpy as np

from .errors import InvalidArgumentError, PrecisionError

__all__ = [
    "as_generator",
    "as_real",
    "check_finite",
    "check_int",
    "check_dps",
    "check_positive",
    "check_choice",
    "as_float_array",
    "as_grid",
    "require_float",
    "check_array_size",
    "FLOAT64_TINY",
    "MAX_ARRAY_BYTES",
]

#: Largest array a computation may allocate (bytes): beyond it the input is refused with the size it would need.
MAX_ARRAY_BYTES = 4 * 1024**3

#: Smallest positive normal float64: an mpmath value below it (in magnitude) does not survive conversion.
FLOAT64_TINY = float(np.finfo(float).tiny)


def _is_integer(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a Python int, checked to lie in ``[lo, hi]`` (either bound may be ``None``).

    Examples
    --------
    >>> check_int("m", 3, lo=1)
    3
    """
    if not _is_integer(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            what = f"an integer in [{lo}, {hi}]"
        elif lo is not None:
            what = "a non-negative integer" if lo == 0 else f"an integer >= {lo}"
        elif hi is not None:
            what = f"an integer <= {hi}"
        else:
            what = "an integer"
        raise InvalidArgumentError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_dps(dps: Any, lo: int = 5, hi: int = 100_000, optional: bool = False) -> int | None:
    """Decimal digits of an mpmath computation, an integer in ``[lo, hi]`` (``None`` allowed if ``optional``).

    The range is the caller's: the bounds say where the algorithm is meaningful and affordable.
    """
    if optional and dps is None:
        return None
    if not _is_integer(dps) or not lo <= dps <= hi:
        none = "None or " if optional else ""
        raise InvalidArgumentError(f"dps must be {none}an integer in [{lo}, {hi}], got {dps!r}")
    return int(dps)


def check_positive(name: str, value: Any) -> float:
    """``value`` as a float, checked finite and ``> 0``."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_finite(name: str, value: Any) -> float:
    """``value`` as a float, checked to be a finite real number (numpy scalars included, booleans not)."""
    if not _is_real(value) or not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def as_generator(seed: Any) -> np.random.Generator:
    """A numpy Generator from a nonnegative integer seed, ``None`` (fresh entropy) or a Generator (returned as is).

    Raises
    ------
    InvalidArgumentError
        Any other ``seed`` (a string, a float, a negative integer).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (_is_integer(seed) and seed >= 0):
        return np.random.default_rng(seed)
    raise InvalidArgumentError(f"seed: must be a nonnegative integer, a numpy Generator or None, got {seed!r}")


def as_real(x: Any, name: str, copy: bool = False) -> np.ndarray:
    """``x`` as a float64 array (with ``copy``, a new C-ordered one); complex values are refused unless their
    imaginary parts are all 0 (numpy would drop them with only a warning), and so is anything that is not numbers
    (the message names ``name``).
    Finiteness and shape are the caller's to check."""
    try:
        raw = np.asarray(x)
        if raw.dtype.kind == "c":
            if np.any(raw.imag != 0):
                raise InvalidArgumentError(f"{name}: must be real, got complex values")
            raw = raw.real
        return np.array(raw, dtype=np.float64, copy=True, order="C") if copy else np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        raise InvalidArgumentError(f"{name}: must be real numbers, got {type(x).__name__}") from None


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``, else an error listing them."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except (TypeError, ValueError):  # incomparable values (an array's truth value is ambiguous)
        ok = False
    if not ok:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float64 array, checked real and finite."""
    arr = as_real(x, name)
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} must be finite, got {x!r}")
    return arr


def as_grid(values: Any, name: str, what: str = "array", finite: bool = True) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array (a scalar becomes one point), finite if ``finite``.

    Messages read ``"<name>: must be ..."``; ``what`` names the expected thing in the shape error
    (``"array of times"``, ``"list"``). Range checks (``>= 0``, ...) stay with the caller, which knows their meaning
    (pass ``finite=False`` to word the finiteness check with them).
    """
    arr = np.atleast_1d(as_real(values, name))
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidArgumentError(f"{name}: must be a non-empty 1-D {what}, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name}: must be finite")
    return arr


def check_array_size(what: str, shape: tuple, itemsize: int = 8, limit: int | None = None) -> None:
    """Refuse an allocation of ``shape`` (``itemsize`` bytes each) above ``limit`` (:data:`MAX_ARRAY_BYTES`).

    Raises
    ------
    InvalidArgumentError
        ``"<what> needs an array of shape (...) (447.0 GiB), above the limit of 4.0 GiB"``.

    Examples
    --------
    >>> check_array_size("a small grid", (10, 10))
    """
    limit = MAX_ARRAY_BYTES if limit is None else limit
    n = 1
    for k in shape:
        n *= int(k)
    if n * itemsize > limit:
        raise InvalidArgumentError(f"{what} needs an array of shape {tuple(int(k) for k in shape)} "
                                   f"({n * itemsize / 1024**3:.1f} GiB), above the limit of {limit / 1024**3:.1f} GiB")


def require_float(value: Any, what: str) -> None:
    """Raise :class:`~memtheory.errors.PrecisionError` if an mpmath value is outside float64's normal range.

    The message says what ``dps`` gives the value in arbitrary precision instead. Above float64's range the limit
    is the exponent, not the digits: mpmath numbers have no exponent limit, so any ``dps`` (30 is suggested)
    holds the value. Below the range the same is true of the value itself, but a tiny value is often the
    difference of terms of order 1 (a plateau gradient), which resolving takes about ``|log10 value| + 20``
    digits: both are said.
    """
    if value == 0:
        return
    mag = abs(value)
    if mag > np.finfo(float).max:
        raise PrecisionError(
            f"{what} = {mp.nstr(value, 6)} is outside float64 range (above 1.8e308: the exponent, not the digits, "
            "is the limit); pass dps=30 (--dps 30) for mpmath values, which have no exponent limit")
    if mag < FLOAT64_TINY:
        digits = max(30, int(abs(float(mp.log10(mag)))) + 20)
        raise PrecisionError(
            f"{what} = {mp.nstr(value, 6)} is outside float64 range (below 2.2e-308); mpmath numbers have no "
            f"exponent limit: pass dps=30 (--dps 30) for the value, dps={digits} if it is a difference of terms of "
            "order 1 (a cancellation that needs the digits)")
