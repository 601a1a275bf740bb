"""Exact numbers: what a user types stays the number they meant until an arithmetic rounds it once.

Every number that enters memtheory -- a kernel parameter, the weights ``a`` and rates ``w`` of a model, the
initial point ``theta_0 = (a_0, w_0)`` of a flow, a Laplace variable ``s``, a threshold ``delta``, a value of
``1/omega`` -- goes through :func:`exact`, which turns it into an exact SymPy number:

============================================  ============================================  ==============
input                                         exact value                                   ``typed_exact``
============================================  ============================================  ==============
``int``, ``numpy`` integer                    the integer                                   yes
``str``: ``"0.3"``, ``"-1.5e-3"``, ``"3/10"``  the decimal or fraction it spells (``3/10``)  yes
``str``: a constant expression (``"pi/4"``)   the SymPy number (parsed safely)              yes
``fractions.Fraction``, SymPy ``Rational``    the fraction                                  yes
``decimal.Decimal``                           the decimal                                   yes
``float``, ``numpy`` float, mpmath ``mpf``    the float's exact binary value                only if that is
                                                                                            the decimal its
                                                                                            shortest text
                                                                                            spells (``0.5``)
============================================  ============================================  ==============

A binary float such as ``0.3`` is ``5404319552844595/18014398509481984``, not ``3/10``: it is taken at its word,
and results computed from it say so (their ``inputs_exact`` field is ``False``). Type ``"0.3"`` (a string) or
``Fraction(3, 10)`` for three tenths. On the command line every number is read as the exact decimal it spells.

The float64 paths round the exact values once, at the start (:func:`to_float`, correctly rounded); the
arbitrary-precision paths round them at their working precision (:func:`to_mpf`), so a higher precision moves
the computed number towards the exact input's.
"""

from __future__ import annotations

import decimal
import fractions
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp

from .errors import InvalidArgumentError

__all__ = ["ExactNumber", "exact", "exact_number", "exact_values", "is_float64", "to_float", "to_mpf",
           "typed_exactly", "float64_exactly", "as_float64"]

_DECIMAL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_FRACTION = re.compile(r"^\s*([+-]?\d+)\s*/\s*(\d+)\s*$")
_MAX_TEXT = 1000
_MAX_EXPONENT = 100_000


@dataclass(frozen=True)
class ExactNumber:
    """An exact number and whether it is the number the caller typed.

    Attributes
    ----------
    value : sympy.Expr
        The exact (finite, real) SymPy number.
    typed_exact : bool
        ``False`` when the input was a binary floating-point number whose exact value differs from the decimal
        its shortest text spells (``0.3`` but not ``0.5``): the number used is then the float's, not the one the
        caller most likely meant.
    """

    value: sp.Expr
    typed_exact: bool


def _parse_text(text: str, name: str) -> sp.Expr:
    if len(text) > _MAX_TEXT:
        raise InvalidArgumentError(f"{name}: a number of more than {_MAX_TEXT} characters")
    m = _FRACTION.match(text)
    if m:
        if int(m.group(2)) == 0:
            raise InvalidArgumentError(f"{name}: division by zero in {text!r}")
        return sp.Rational(int(m.group(1)), int(m.group(2)))
    if _DECIMAL.match(text):
        d = decimal.Decimal(text.strip())
        if abs(d.as_tuple().exponent) > _MAX_EXPONENT or (d != 0 and abs(d.adjusted()) > _MAX_EXPONENT):
            raise InvalidArgumentError(f"{name}: exponent of {text.strip()!r} beyond 10^{_MAX_EXPONENT}")
        return sp.Rational(d.as_integer_ratio()[0], d.as_integer_ratio()[1])
    from .symbolic.parse import parse_expression  # a constant expression such as "pi/4" or "exp(-1)"

    try:
        value = parse_expression(text, [])
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{name}: {text!r} is not a number ({exc})") from None
    return value


def _binary(value) -> tuple[sp.Rational, bool]:
    """The exact value of a binary float and whether it is the number its text spells.

    A float is typed exactly when its shortest round-trip text ``repr(x)`` is its exact value; an mpmath or SymPy
    binary number of precision ``p`` bits when its exact decimal expansion has at most ``0.30103 p + 1``
    significant digits (the digits its text carries at that precision). The expansion of ``man 2^-k`` (``man``
    odd) is ``man 5^k / 10^k``, whose significant digits are those of the integer ``man 5^k``: counted without
    formatting the number.
    """
    if isinstance(value, (mp.mpf, sp.Float)):
        sign, man, exp = _mpf_parts(value)
        signed = -man if sign else man
        value_exact = sp.Integer(signed << exp) if exp >= 0 else sp.Rational(signed, 1 << -exp)
        return value_exact, _binary_typed(value)
    x = float(value)
    if x != x or x in (float("inf"), float("-inf")):
        raise InvalidArgumentError(f"expected a finite number, got {x!r}")
    p, q = x.as_integer_ratio()
    val = sp.Rational(p, q)
    return val, sp.Rational(repr(x)) == val


def _mpf_parts(value) -> tuple[int, int, int]:
    """``(sign, man, exp)`` of a finite mpf or SymPy Float with ``man`` odd (0 for zero): the value is
    ``(-1)^sign man 2^exp``."""
    sign, man, exp, _ = value._mpf_
    if not man and exp:  # inf/nan: zero mantissa and a special exponent
        raise InvalidArgumentError(f"expected a finite number, got {value}")
    if not man:
        return 0, 0, 0
    man = int(man)
    zeros = (man & -man).bit_length() - 1  # normalise to an odd mantissa
    return int(sign), man >> zeros, int(exp) + zeros


def _binary_typed(value) -> bool:
    """Whether an mpf or SymPy Float is the number its decimal text at its precision spells (see :func:`_binary`),
    without building its exact value."""
    _, man, exp = _mpf_parts(value)
    if not man:
        return True
    bc = value._mpf_[3]
    prec = value._prec if isinstance(value, sp.Float) else value.context.prec
    limit = max(1, int(max(prec, bc) * 0.30103) + 1)
    if exp >= 0:  # an integer: its significant digits are those of its decimal text without trailing zeros
        n = man << exp
        return n.bit_length() <= 3 * limit or len(str(n).rstrip("0")) <= limit
    n = man * 5 ** (-exp)
    # n has at least (bits - 1) log10(2) + 1 digits: most binary numbers are decided without formatting n
    return (n.bit_length() - 1) * 0.30102999 < limit and len(str(n)) <= limit


def exact_number(value: object, name: str = "value") -> ExactNumber:
    """``value`` as an exact SymPy number, with whether it is the number the caller typed.

    Parameters
    ----------
    value : int, str, float, fractions.Fraction, decimal.Decimal, sympy number, mpmath.mpf, numpy scalar
        A finite real number (see the module docstring for what each type means).
    name : str
        Used in error messages.

    Raises
    ------
    InvalidArgumentError
        If ``value`` is not a finite real number (NaN, infinity, a boolean, a complex number, text that is not a
        number).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name}: expected a number, got the boolean {value!r}")
    if isinstance(value, (int, np.integer)):
        return ExactNumber(sp.Integer(int(value)), True)
    if isinstance(value, (float, np.floating, mp.mpf, sp.Float)):
        try:
            val, typed = _binary(value)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{name}: {exc}") from None
        return ExactNumber(val, typed)
    if isinstance(value, str):
        val = _parse_text(value, name)
    elif isinstance(value, fractions.Fraction):
        val = sp.Rational(value.numerator, value.denominator)
    elif isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise InvalidArgumentError(f"{name}: expected a finite number, got {value}")
        val = sp.Rational(*value.as_integer_ratio())
    elif isinstance(value, sp.Basic):
        val = sp.sympify(value)
        if isinstance(val, sp.Float):  # a SymPy Float is binary like an mpf
            return exact_number(val, name)
    elif hasattr(value, "numerator") and hasattr(value, "denominator"):  # gmpy2 mpq, numbers.Rational ...
        val = sp.Rational(int(value.numerator), int(value.denominator))
    elif hasattr(value, "as_integer_ratio"):  # gmpy2 mpfr and other binary floats
        try:
            p, q = value.as_integer_ratio()
        except (OverflowError, ValueError):
            raise InvalidArgumentError(f"{name}: expected a finite number, got {value!r}") from None
        val = sp.Rational(int(p), int(q))
        return ExactNumber(val, True)
    else:
        raise InvalidArgumentError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    if isinstance(val, sp.Float):
        return exact_number(val, name)
    if not getattr(val, "is_number", False) or val.is_finite is False or val.has(sp.zoo, sp.oo, sp.nan):
        raise InvalidArgumentError(f"{name}: expected a finite real number, got {value!r}")
    if val.is_real is False or val.has(sp.I):
        raise InvalidArgumentError(f"{name}: expected a real number, got {value!r}")
    return ExactNumber(val, True)


def exact(value: object, name: str = "value") -> sp.Expr:
    """``value`` as an exact SymPy number (:func:`exact_number` without the flag).

    Examples
    --------
    >>> from memtheory.exact import exact
    >>> exact("0.3"), exact(0.5), exact("3/10") == exact("0.3")
    (3/10, 1/2, True)
    >>> exact(0.3)
    5404319552844595/18014398509481984
    """
    return exact_number(value, name).value


def exact_values(values: object, name: str = "values") -> tuple[tuple[sp.Expr, ...], bool]:
    """The exact values of a 1-D sequence (or a scalar, as one value) and whether all were typed exactly."""
    if isinstance(values, np.ndarray):
        if values.ndim > 1:
            raise InvalidArgumentError(f"{name} must be 1-D, got shape {values.shape}")
        items: Iterable = values.reshape(-1).tolist() if values.dtype != object else list(values.reshape(-1))
    elif isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        items = [values]
    else:
        items = list(values)
    nums = [exact_number(v, f"{name}[{i}]") for i, v in enumerate(items)]
    return tuple(n.value for n in nums), all(n.typed_exact for n in nums)


def to_float(value: sp.Expr) -> float:
    """The float64 nearest to an exact number (correctly rounded for Rationals).

    Raises
    ------
    InvalidArgumentError
        If the number is beyond float64 range.
    """
    if isinstance(value, sp.Rational):
        try:
            x = int(value.p) / int(value.q)  # Python's int division rounds correctly
        except OverflowError:
            raise InvalidArgumentError(f"{value} is beyond float64 range") from None
        return x
    x = float(sp.N(value, 20))
    if x in (float("inf"), float("-inf")):
        raise InvalidArgumentError(f"{value} is beyond float64 range")
    return x


def is_float64(value: sp.Expr) -> bool:
    """Whether an exact number is a float64 exactly (so the float64 paths use it without rounding)."""
    if not isinstance(value, sp.Rational):
        return False
    try:
        x = to_float(value)
    except InvalidArgumentError:
        return False
    return sp.Rational(*x.as_integer_ratio()) == value


def to_mpf(value: sp.Expr) -> mp.mpf:
    """An exact number at mpmath's working precision (Rationals rounded once: ``p / q`` in mpf)."""
    if isinstance(value, sp.Integer):
        return mp.mpf(int(value))
    if isinstance(value, sp.Rational):
        return mp.mpf(int(value.p)) / int(value.q)
    return mp.mpf(sp.N(value, mp.mp.dps + 10))


def _float_items(values) -> list[float] | None:
    """The items of ``values`` when all are binary floats (the fast paths below), else None."""
    if isinstance(values, (float, np.floating)):
        return [float(values)]
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return values.reshape(-1).tolist()
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, (float, np.floating)) for v in values):
        return [float(v) for v in values]
    return None


def typed_exactly(values: object) -> bool:
    """Whether every number of ``values`` (a scalar or a sequence) is the number its text spells: ``False`` for a
    binary float such as ``0.3`` (see :class:`ExactNumber`)."""
    floats = _float_items(values)
    if floats is not None:
        return all(decimal.Decimal(repr(x)) == decimal.Decimal(x) for x in floats)
    items = list(values) if isinstance(values, (list, tuple, np.ndarray)) else None
    if items and all(type(v) is mp.mpf and mp.isfinite(v) for v in items):  # the flag alone, no exact values built
        return all(_binary_typed(v) for v in items)
    return exact_values(values)[1]


def float64_exactly(values: object) -> bool:
    """Whether a float64 path uses ``values`` without changing them: each typed exactly and a float64 (``"0.5"``
    yes, ``"0.3"`` and ``0.3`` no)."""
    floats = _float_items(values)
    if floats is not None:
        return typed_exactly(floats)
    nums, typed = exact_values(values)
    return typed and all(is_float64(v) for v in nums)


def as_float64(values: object, name: str = "values") -> np.ndarray:
    """``values`` (a scalar or an array of any shape) as a float64 array: float arrays as they are, every other
    number through its exact value, correctly rounded once (so ``"1/3"`` and ``Fraction(1, 3)`` work)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(float)
    if isinstance(values, (float, int, np.floating, np.integer)) and not isinstance(values, bool):
        return np.asarray(values, dtype=float)
    arr = np.asarray(values, dtype=object)
    items = arr.reshape(-1).tolist()
    if items and all(type(v) is mp.mpf for v in items):  # binary already: rounded to nearest directly
        flat = [mp.libmp.to_float(v._mpf_, rnd=mp.libmp.round_nearest) for v in items]
        if all(math.isfinite(x) for x in flat):
            return np.array(flat, dtype=float).reshape(arr.shape)
    flat = [to_float(v) for v in exact_values(arr.reshape(-1), name)[0]]
    return np.array(flat, dtype=float).reshape(arr.shape)
