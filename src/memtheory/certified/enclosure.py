"""The result type of certified mode: :class:`Enclosure`, a rigorous interval ``[lo, hi]`` from an Arb ball.

An :class:`Enclosure` wraps a ``flint.arb`` ball that is proven to contain the exact value. Its endpoints are
exact binary numbers; :meth:`Enclosure.pair` prints them as decimal strings rounded *outward* (``lo`` down,
``hi`` up), with enough significant digits to show the radius, so the printed interval still contains the value.
:func:`exact_rational` is how certified mode reads the numbers a user passes: exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath as mp
import sympy as sp
from flint import arb

from ..errors import CertificationError, InvalidArgumentError

__all__ = ["Enclosure", "exact_rational", "decimal_bound", "enclosure"]


def exact_rational(value) -> sp.Rational:
    """A user's number as an exact SymPy rational.

    Parameters
    ----------
    value : int, float, str, fractions.Fraction, sympy.Rational or mpmath.mpf
        A float (and an ``mpf``) is its exact binary value; a string is read as an exact decimal or ratio
        (``"0.3"``, ``"3/10"``).

    Returns
    -------
    sympy.Rational

    Raises
    ------
    InvalidArgumentError
        If the value is not a finite real number.
    """
    if isinstance(value, bool):
        raise InvalidArgumentError(f"expected a real number, got {value!r}")
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, (int, Fraction)):
        return sp.Rational(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(f"expected a finite real number, got {value!r}")
        num, den = value.as_integer_ratio()
        return sp.Rational(num, den)
    if isinstance(value, mp.mpf):
        if not mp.isfinite(value):
            raise InvalidArgumentError(f"expected a finite real number, got {value!r}")
        sign, man, exp, _ = value._mpf_
        return sp.Rational((-1) ** sign * int(man)) * sp.Rational(2) ** int(exp)
    if isinstance(value, str):
        try:
            return sp.Rational(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            raise InvalidArgumentError(f"expected a decimal or rational number, got {value!r}") from None
    if isinstance(value, sp.Float):
        return sp.Rational(value)
    if hasattr(value, "item"):  # numpy scalars
        return exact_rational(value.item())
    raise InvalidArgumentError(f"expected a real number, got {type(value).__name__} {value!r}")


def _fraction(x: arb) -> Fraction:
    """The exact value of an exact, finite ball (a dyadic rational)."""
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2 ** (-exp))


def decimal_bound(x: Fraction, digits: int, up: bool) -> str:
    """``x`` as a decimal string of ``digits`` significant digits, rounded up (``up``) or down.

    Parameters
    ----------
    x : fractions.Fraction
        The exact value.
    digits : int
        Significant digits, ``>= 1``.
    up : bool
        Round towards ``+inf`` (else towards ``-inf``).

    Returns
    -------
    str
        ``"d.ddd...e+X"`` (``"0"`` for zero) with ``decimal >= x`` when ``up`` and ``<= x`` otherwise.

    Examples
    --------
    >>> from fractions import Fraction
    >>> decimal_bound(Fraction(2, 3), 4, up=False), decimal_bound(Fraction(2, 3), 4, up=True)
    ('6.666e-1', '6.667e-1')
    """
    if x == 0:
        return "0"
    negative = x < 0
    a = -x if negative else x
    e10 = int(math.floor(math.log10(a.numerator) - math.log10(a.denominator)))
    while Fraction(10) ** e10 > a:
        e10 -= 1
    while Fraction(10) ** (e10 + 1) <= a:
        e10 += 1
    scaled = a / Fraction(10) ** (e10 - digits + 1)
    magnitude_up = up != negative
    n = -((-scaled.numerator) // scaled.denominator) if magnitude_up else scaled.numerator // scaled.denominator
    text = str(n)
    exponent = e10 - digits + len(text)
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if negative else ''}{mantissa}e{exponent:+d}"


@dataclass(frozen=True)
class Enclosure:
    """A rigorous enclosure ``[lo, hi]`` of one real number.

    Attributes
    ----------
    ball : flint.arb
        The Arb ball (midpoint and radius) proven to contain the value.
    dps : int
        Decimal digits of the computation (the precision the ball was computed at).

    Examples
    --------
    >>> from flint import arb
    >>> e = Enclosure(arb(1) / 3, 15)
    >>> e.contains(1 / 3), e.pair(6)
    (True, ('3.33333e-1', '3.33334e-1'))
    """

    ball: arb
    dps: int

    def __post_init__(self):
        if not isinstance(self.ball, arb) or not self.ball.is_finite():
            raise CertificationError(f"no finite enclosure (ball {self.ball})")

    @property
    def lo(self) -> Fraction:
        """The lower endpoint (exact)."""
        return _fraction(self.ball.lower())

    @property
    def hi(self) -> Fraction:
        """The upper endpoint (exact)."""
        return _fraction(self.ball.upper())

    @property
    def mid(self) -> mp.mpf:
        """The midpoint, as an mpmath number at the current mpmath precision."""
        frac = _fraction(self.ball.mid())
        return mp.mpf(frac.numerator) / frac.denominator

    @property
    def rad(self) -> mp.mpf:
        """The radius (an upper bound on ``|value - mid|``), as an mpmath number."""
        frac = _fraction(self.ball.rad())
        return mp.mpf(frac.numerator) / frac.denominator

    @property
    def rel_width(self) -> float:
        """``(hi - lo) / |mid|`` (``inf`` for a ball around 0, 0 for an exact value)."""
        if self.ball.rad() == 0:
            return 0.0
        if self.ball.mid() == 0:
            return math.inf
        return float(2 * self.ball.rad() / abs(self.ball.mid()))

    def contains(self, x) -> bool:
        """Whether the exact number ``x`` (int, float, str decimal, Fraction, SymPy or mpmath number) lies in
        ``[lo, hi]``."""
        if not isinstance(x, Fraction):
            r = exact_rational(x)
            x = Fraction(int(r.p), int(r.q))
        return self.lo <= x <= self.hi

    def digits(self) -> int:
        """Significant digits that show the radius: where ``lo`` and ``hi`` first differ, plus two."""
        mid, rad = abs(self.ball.mid()), self.ball.rad()
        if rad == 0:
            return max(self.dps, 3)
        if mid == 0 or not bool(mid > rad):
            return 3
        return max(3, int(math.ceil(float((mid / rad).log() / arb(10).log()))) + 2)

    def pair(self, digits: int | None = None) -> tuple[str, str]:
        """``(lo, hi)`` as decimal strings rounded outward (default: :meth:`digits` significant digits)."""
        n = self.digits() if digits is None else int(digits)
        return decimal_bound(self.lo, n, up=False), decimal_bound(self.hi, n, up=True)

    def __repr__(self) -> str:
        lo, hi = self.pair(min(self.digits(), 12))
        return f"Enclosure([{lo}, {hi}], rel. width {self.rel_width:.1e})"


def enclosure(ball, dps: int, what: str) -> Enclosure:
    """An :class:`Enclosure` of ``ball`` (real, or complex with an imaginary part containing 0).

    Parameters
    ----------
    ball : flint.arb or flint.acb
        The computed ball.
    dps : int
        Digits of the computation.
    what : str
        Name of the quantity, for the error message.

    Raises
    ------
    CertificationError
        If the ball is not finite (the computation could not bound the value), or a complex ball's imaginary
        part excludes 0.
    """
    from flint import acb

    if isinstance(ball, acb):
        if not ball.imag.contains(0):
            raise CertificationError(f"{what}: the enclosure {ball} is not real")
        ball = ball.real
    if not isinstance(ball, arb) or not ball.is_finite():
        raise CertificationError(f"{what}: no finite enclosure at dps = {dps} (ball {ball})")
    return Enclosure(ball, int(dps))
