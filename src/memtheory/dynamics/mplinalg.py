"""Dense linear algebra in arbitrary precision on lists of lists: ``L D L^T`` (with solves and the congruence
``B^T M^{-1} B``) and LU with partial pivoting.

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

__all__ = ["ldl", "ldl_solve", "ldl_inner", "lu", "lu_solve"]


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
        Unit lower-triangular ``L`` (list of lists) and the diagonal ``D`` (list, cleaned: the divisors of
        :func:`ldl_solve`), all ``D > 0``; None when a pivot is not positive. The pair is what :func:`ldl_solve`
        and :func:`ldl_inner` take.
    """
    n = len(M)
    zero, one = arith.num(0), arith.num(1)
    clean, fsum = arith.clean, arith.fsum
    L = [[zero] * n for _ in range(n)]
    D = [zero] * n
    for j in range(n):
        Lj = L[j]
        Ej = [Lj[k] * D[k] for k in range(j)]  # row j of L D: one product per term of the sums below
        d = clean(M[j][j] + shift - fsum(Lj[k] * Ej[k] for k in range(j)))
        if not d > 0:
            return None
        D[j] = d
        Lj[j] = one
        inv = 1 / d
        for i in range(j + 1, n):
            Li = L[i]
            Li[j] = (M[i][j] - fsum(Li[k] * Ej[k] for k in range(j))) * inv
    return L, D


def ldl_solve(F: tuple[list, list], b: Sequence, arith: Arithmetic = MPMATH) -> list:
    """Solve ``M x = b`` with the factorisation ``F = ldl(M, shift)`` (of ``M + shift I``); returns ``x`` as a
    list (cleaned)."""
    L, D = F
    n = len(b)
    fsum = arith.fsum
    y = list(b)
    for i in range(n):
        Li = L[i]
        y[i] = y[i] - fsum(Li[k] * y[k] for k in range(i))
    y = [y[i] / D[i] for i in range(n)]
    for i in range(n - 1, -1, -1):
        y[i] = y[i] - fsum(L[k][i] * y[k] for k in range(i + 1, n))
    return [arith.clean(v) for v in y]


def ldl_inner(F: tuple[list, list], B: Sequence[Sequence], arith: Arithmetic = MPMATH) -> list:
    """``B^T M^{-1} B`` with the factorisation ``F = ldl(M, shift)`` (of ``M + shift I``) and ``B`` an
    ``n x p`` list of lists: ``Y^T D^{-1} Y`` with ``Y = L^{-1} B``, symmetric by construction (a ``p x p`` list
    of lists, cleaned). The Schur complement ``H_ww - H_wa H_aa^{-1} H_aw`` of a Hessian needs this product and
    not the ``p`` solves."""
    L, D = F
    n, p = len(B), len(B[0]) if B else 0
    fsum, clean = arith.fsum, arith.clean
    Y = [list(row) for row in B]
    for i in range(n):
        Li, Yi = L[i], Y[i]
        for j in range(p):
            Yi[j] = Yi[j] - fsum(Li[k] * Y[k][j] for k in range(i))
    Z = [[v / D[k] for v in Y[k]] for k in range(n)]
    out = [[None] * p for _ in range(p)]
    for i in range(p):
        for j in range(i, p):
            out[i][j] = out[j][i] = clean(fsum(Y[k][i] * Z[k][j] for k in range(n)))
    return out


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

