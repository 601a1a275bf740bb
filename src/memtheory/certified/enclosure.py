"""The result type of certified mode: :class:`Enclosure`, a rigorous interval ``[lo, hi]`` from an Arb ball.

An :class:`Enclosure` wraps a ``flint.arb`` ball that is proven to contain the exact value. Its endpoints are
exact binary numbers; :meth:`Enclosure.pair` prints them as decimal strings rounded *outward* (``lo`` down,
``hi`` up), with enough significant digits to show the radius, so the printed interval still contains the value.
The numbers a user passes are read exactly by :func:`memtheory.exact.exact` (a float is its binary value, a
string the decimal it spells).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath as mp
import sympy as sp
from flint import arb

from ..display import Displayable
from ..errors import CertificationError
from ..exact import exact

__all__ = ["Enclosure", "decimal_bound", "enclosure"]


def _exact_value(x) -> Fraction | arb:
    """``x`` exactly: a Fraction for a rational, else (``sqrt(2)``, ``pi/4``) a narrow ball."""
    if isinstance(x, Fraction):
        return x
    value = exact(x, "x")
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    from ..compile.arb import to_arb, workprec

    with workprec(400):
        return to_arb(value)


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


@dataclass(frozen=True, repr=False)
class Enclosure(Displayable):
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
        """The lower endpoint ``mid - rad`` (exact)."""
        return _fraction(self.ball.mid()) - _fraction(self.ball.rad())

    @property
    def hi(self) -> Fraction:
        """The upper endpoint ``mid + rad`` (exact)."""
        return _fraction(self.ball.mid()) + _fraction(self.ball.rad())

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
        """Whether the exact number ``x`` (int, float, str decimal, Fraction, SymPy or mpmath number, read by
        :func:`memtheory.exact.exact`) lies in ``[lo, hi]``."""
        value = _exact_value(x)
        if isinstance(value, Fraction):
            return self.lo <= value <= self.hi
        return bool(self.ball.contains(value))

    def error_bound(self, x) -> Fraction:
        """A proven bound on ``|x - value|`` for an approximation ``x`` of the enclosed value: ``max(|x - lo|,
        |x - hi|)``."""
        value = _exact_value(x)
        if isinstance(value, Fraction):
            return max(abs(value - self.lo), abs(value - self.hi))
        return _fraction((abs(value - self.ball) + self.ball.rad()).upper())

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

    def _display_rows(self) -> list[tuple[str, object]]:
        lo, hi = self.pair(min(self.digits(), 12))
        return [("lo", lo), ("hi", hi), ("rel_width", self.rel_width), ("dps", self.dps)]


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
