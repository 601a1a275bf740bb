r"""Certified suprema: ``sup_{t in [a, b]} |f(t)|`` enclosed by interval branch and bound in Arb.

Every box ``[l, r]`` of the range is evaluated as one ball (:func:`memtheory.compile.arb.arb_function`), which
gives a proven upper bound of ``|f|`` on the whole box; the midpoint's ball gives a proven lower bound of the
supremum. The box with the largest upper bound is bisected until that bound is within ``rel_tol`` of the best
lower bound (or the box budget is spent): the supremum lies in ``[best lower, largest upper]``, whatever the
function's shape (kinks and steps included; a step straddled by a box evaluates to ``[0, 1]``).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp
from flint import arb

from ..compile.arb import arb_function, to_arb
from ..display import Displayable
from ..errors import CertificationError

__all__ = ["SupEnclosure", "certified_sup"]


def _exact(x: arb) -> Fraction:
    """The exact value of an exact ball."""
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2 ** (-exp))


@dataclass(frozen=True, repr=False)
class SupEnclosure(Displayable):
    """``sup |f|`` on a range lies in ``[lower, upper]``; ``argmax`` attains ``lower``.

    Attributes
    ----------
    lower, upper : flint.arb
        Exact points.
    argmax : flint.arb
        A point of the range where ``|f| >= lower``.
    boxes : int
        Boxes evaluated.
    """

    lower: arb
    upper: arb
    argmax: arb
    boxes: int

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("lower", self.lower.str(12, radius=False)), ("upper", self.upper.str(12, radius=False)),
                ("argmax", self.argmax.str(12, radius=False)), ("boxes", self.boxes)]


def certified_sup(f: sp.Expr, t: sp.Symbol, a, b, points: Sequence = (), rel_tol: float = 1e-20,
                  max_boxes: int = 20000, initial: int = 64, derivative: sp.Expr | None = None,
                  steps: Sequence = ()) -> SupEnclosure:
    """Enclose ``sup_{t in [a, b]} |f(t)|`` by interval branch and bound, at flint's working precision.

    Parameters
    ----------
    f : sympy.Expr
        Real expression in ``t`` with numeric coefficients.
    t : sympy.Symbol
        The variable.
    a, b : numbers
        The range, ``a < b`` (exact).
    points : sequence
        Points of ``(a, b)`` where ``f`` has kinks or steps: the initial boxes are split there.
    rel_tol : float
        Stop when the largest upper bound is within ``rel_tol`` (relative) of the best lower bound.
    max_boxes : int
        Most box evaluations; the enclosure returned then is still rigorous, only wider.
    initial : int
        Uniform boxes between consecutive points at the start.
    derivative : sympy.Expr, optional
        ``f'`` where ``f`` is smooth: on a box ``X`` where it is valid, ``f(X)`` is also enclosed by the mean-value
        form ``f(c) + f'(X)(X - c)`` (``c`` the midpoint), whose overestimate shrinks like the square of the
        width near a smooth maximum (the natural enclosure's only linearly), and the intersection is used.
    steps : sequence of sympy.Expr
        Arguments of the steps and kinks of ``f``: the mean-value form is used only on boxes where every one of
        them has a decided sign (no step inside the box).

    Returns
    -------
    SupEnclosure

    Raises
    ------
    CertificationError
        If ``|f|`` has no finite upper bound on some box of width below ``2^-40`` of the range (a pole, an
        unbounded function), or ``f`` has no rigorous ball implementation.
    """
    g = arb_function([t], sp.sympify(f))
    dg = arb_function([t], sp.sympify(derivative)) if derivative is not None else None
    step_fns = [arb_function([t], sp.sympify(e)) for e in steps]

    def enclose(box, lft, rgt):
        v = g(box)
        if dg is None or any(not (h(box) > 0 or h(box) < 0) for h in step_fns):
            return v
        c = ((lft + rgt) / 2).mid()
        mv = g(c) + dg(box) * (box - c)
        if not mv.is_finite():
            return v
        if not v.is_finite():
            return mv
        both = v.intersection(mv) if v.overlaps(mv) else v
        return both
    lo_, hi_ = to_arb(a), to_arb(b)
    cuts = [lo_] + [to_arb(p) for p in sorted(points, key=float) if a < p < b] + [hi_]
    count = 0
    best, where = arb(0), lo_
    heap: list = []
    tol = to_arb(sp.Rational(rel_tol)) if not isinstance(rel_tol, arb) else rel_tol
    min_width = (hi_ - lo_) * arb(2) ** -40

    def point(x):
        nonlocal best, where, count
        count += 1
        v = abs(g(x))
        if v.is_finite() and v.lower() > best:
            best, where = v.lower(), x

    def push(lft, rgt):
        nonlocal count
        count += 1
        box = lft.union(rgt)
        v = abs(enclose(box, lft, rgt))
        up = v.upper() if v.is_finite() else arb("inf")
        if not up.is_finite() and bool(rgt - lft < min_width):
            raise CertificationError(f"sup |{f}| on [{a}, {b}]: no finite bound near t = {lft.mid()}")
        # heap of (exact ordering key of -upper, tie-breaker, left, right, upper): floats cannot order uppers
        # that agree to 17 digits, and the box popped must be the one with the largest upper bound
        key = (1, -_exact(up)) if up.is_finite() else (0, 0)
        heapq.heappush(heap, (key, count, lft, rgt, up))

    for x in cuts:
        point(x)
    for c0, c1 in zip(cuts[:-1], cuts[1:]):
        step = (c1 - c0) / initial
        edges = [c0 + step * i for i in range(initial)] + [c1]
        edges = [e.mid() if i not in (0, initial) else e for i, e in enumerate(edges)]  # exact split points
        for lft, rgt in zip(edges[:-1], edges[1:]):
            point((lft + rgt).mid() / 2)
            push(lft, rgt)
    while heap:
        _, _, lft, rgt, up = heap[0]
        if up.is_finite() and bool(up <= best * (1 + tol)):
            break
        if count >= max_boxes:
            break
        heapq.heappop(heap)
        mid = ((lft + rgt) / 2).mid()
        point(mid)
        push(lft, mid)
        push(mid, rgt)
    upper = best
    for item in heap:
        if not item[4].is_finite():
            raise CertificationError(f"sup |{f}| on [{a}, {b}]: no finite upper bound within {max_boxes} boxes")
        if item[4] > upper:
            upper = item[4]
    return SupEnclosure(best, upper, where, count)
