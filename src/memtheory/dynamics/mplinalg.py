"""Dense linear algebra in arbitrary precision on lists of lists: ``L D L^T`` and LU with partial pivoting.

Plain Python over the numbers of an :class:`~memtheory.compile.arith.Arithmetic` (mpmath's ``mpf`` by default,
or Arb's ``arb`` used as floating point) at the caller's working precision, for the small dense systems of the
arbitrary-precision integrator (:mod:`memtheory.dynamics.rodas`): no matrix-object overhead, one algorithm for
both arithmetics, and the factorisations report failure (``None``) instead of raising, so that the integrator
can react (shorten the step, refuse the point).

Over Arb the numbers are floating point, not certificates: every divisor and every pivot is used as its midpoint
(:meth:`~memtheory.compile.arith.Arithmetic.clean`). Arb divides by an inexact ball only to the ball's relative
accuracy, and the radii of an elimination grow far beyond the actual rounding errors (the wrapping effect), so
dividing by the balls themselves would throw away digits that the floating-point computation has: a full
plateau flow of ten rates then lost 20 of its 42 digits per step.
"""

from __future__ import annotations

from typing import Sequence

from ..compile.arith import MPMATH, Arithmetic

__all__ = ["ldl", "lu", "lu_solve"]


def ldl(M: Sequence[Sequence], shift, arith: Arithmetic = MPMATH) -> tuple[list, list] | None:
    """``L D L^T`` of the symmetric ``M + shift I`` (lists of numbers); None unless positive definite.

    Parameters
    ----------
    M : list of lists
        Symmetric matrix (only the lower triangle is read).
    shift : number
        Added to the diagonal.
    arith : Arithmetic
        The number type (default mpmath).

    Returns
    -------
    (L, D) or None
        Unit lower-triangular ``L`` (list of lists) and the diagonal ``D`` (list), all ``D > 0``; None when a
        pivot is not positive.
    """
    n = len(M)
    zero, one = arith.num(0), arith.num(1)
    clean = arith.clean
    L = [[zero] * n for _ in range(n)]
    D = [zero] * n
    for j in range(n):
        Lj = L[j]
        d = clean(M[j][j] + shift - arith.fsum(Lj[k] * Lj[k] * D[k] for k in range(j)))
        if not d > 0:
            return None
        D[j] = d
        Lj[j] = one
        for i in range(j + 1, n):
            Li = L[i]
            Li[j] = (M[i][j] - arith.fsum(Li[k] * Lj[k] * D[k] for k in range(j))) / d
    return L, D


def lu(M: Sequence[Sequence], arith: Arithmetic = MPMATH) -> tuple[list, list] | None:
    """LU with partial pivoting of a square list-of-lists (copied); None if singular.

    ``arith`` is the number type (default mpmath); it is used to clean the entries (drop a ball's radius).

    Returns
    -------
    (A, piv) or None
        The factors packed in one list of lists (``L`` below the unit diagonal, ``U`` on and above it, its
        diagonal cleaned: the divisors of :func:`lu_solve`) and the row permutation; the pair is what
        :func:`lu_solve` takes.
    """
    n = len(M)
    clean = arith.clean
    A = [[clean(v) for v in row] for row in M]
    piv = list(range(n))
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(clean(A[i][k])))
        A[p][k] = clean(A[p][k])
        if A[p][k] == 0:
            return None
        if p != k:
            A[k], A[p] = A[p], A[k]
            piv[k], piv[p] = piv[p], piv[k]
        inv = 1 / A[k][k]
        for i in range(k + 1, n):
            f = A[i][k] * inv
            if f:
                A[i][k] = f
                Ai, Ak = A[i], A[k]
                for j in range(k + 1, n):
                    Ai[j] -= f * Ak[j]
            else:
                A[i][k] = f
    return A, piv


def lu_solve(F: tuple[list, list], b: Sequence, arith: Arithmetic = MPMATH) -> list:
    """Solve ``M x = b`` with the factorisation ``F = lu(M)``; returns ``x`` as a list (cleaned: no radius
    travels on, see :meth:`~memtheory.compile.arith.Arithmetic.clean`)."""
    A, piv = F
    n = len(b)
    fsum = arith.fsum
    y = [b[piv[i]] for i in range(n)]
    for i in range(n):
        y[i] = y[i] - fsum(A[i][k] * y[k] for k in range(i))
    for i in range(n - 1, -1, -1):
        y[i] = (y[i] - fsum(A[i][k] * y[k] for k in range(i + 1, n))) / A[i][i]
    return [arith.clean(v) for v in y]

