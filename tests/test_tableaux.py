"""The Butcher tableaux of the explicit pairs satisfy the rooted-tree order conditions of their stated orders.

Independent of the coefficients' source: the rooted trees are generated here (by adding a leaf to every node of
every smaller tree), and for each tree ``t`` the condition ``sum_i b_i Phi_i(t) = 1 / gamma(t)`` (Butcher; Hairer,
Norsett & Wanner, *Solving ODEs I*, §II.2) is evaluated in mpmath at 50 digits from the exact coefficient
strings. The conditions of the stated order hold to the precision of the published coefficients, and some
condition of the next order fails (so the test would notice a wrong order claim or a mistyped coefficient).
The float64 arrays the compiled engine reads are checked against the exact coefficients.
"""

from __future__ import annotations

import functools

import mpmath as mp
import numpy as np
import pytest

from memtheory.dynamics import tableaux as T


def _canon(tree: tuple) -> tuple:
    return tuple(sorted(_canon(c) for c in tree))


def _grow(tree: tuple):
    yield _canon(tree + ((),))
    for i, child in enumerate(tree):
        for g in _grow(child):
            yield _canon(tree[:i] + (g,) + tree[i + 1:])


@functools.cache
def trees(order: int) -> tuple:
    """All rooted trees with ``order`` nodes (a tree is the sorted tuple of its subtrees)."""
    if order == 1:
        return ((),)
    return tuple(sorted({g for t in trees(order - 1) for g in _grow(t)}))


def _nodes(tree: tuple) -> int:
    return 1 + sum(_nodes(c) for c in tree)


def _gamma(tree: tuple) -> int:
    out = _nodes(tree)
    for c in tree:
        out *= _gamma(c)
    return out


def test_tree_counts():
    """The number of rooted trees of each order (OEIS A000081)."""
    assert [len(trees(k)) for k in range(1, 10)] == [1, 1, 2, 4, 9, 20, 48, 115, 286]


def _residuals(A, b, max_order):
    """``{order: max |b . Phi(t) - 1/gamma(t)|}`` over the trees of each order (mpmath at the current dps)."""
    s = len(b)
    A = [[mp.mpf(A[i][j].numerator) / A[i][j].denominator for j in range(s)] for i in range(s)]
    b = [mp.mpf(x.numerator) / x.denominator for x in b]

    @functools.cache
    def phi(tree):
        out = [mp.mpf(1)] * s
        for c in tree:
            pc = phi(c)
            inner = [mp.fsum(A[i][j] * pc[j] for j in range(i)) for i in range(s)]
            out = [o * v for o, v in zip(out, inner)]
        return out

    return {k: max(abs(mp.fsum(bi * fi for bi, fi in zip(b, phi(t))) - mp.mpf(1) / _gamma(t)) for t in trees(k))
            for k in range(1, max_order + 1)}


@pytest.mark.parametrize("name,weights,order,tol", [
    ("dopri5", "b", 5, 1e-45), ("dopri5", "b_embedded", 4, 1e-45),
    ("dop853", "b", 8, 1e-26), ("dop853", "b_embedded", 5, 1e-26), ("dop853", "b_third", 3, 1e-26)])
def test_order_conditions(name, weights, order, tol):
    tab = T.tableau(name)
    b = getattr(tab, weights)
    s = len(b)
    A = [row[:s] for row in tab.A[:s]]
    with mp.workdps(50):
        res = _residuals(A, b, order + 1)
        assert all(res[k] < tol for k in range(1, order + 1)), {k: mp.nstr(v, 3) for k, v in res.items()}
        assert res[order + 1] > 1e-6, f"{name} {weights} satisfies the conditions of order {order + 1} too"


@pytest.mark.parametrize("name", T.ERK_NAMES)
def test_row_sums_are_the_nodes(name):
    """``c_i = sum_j a_ij`` for every stage, the dense-output stages included."""
    tab = T.tableau(name)
    with mp.workdps(50):
        for row, ci in zip(tab.A, tab.c):
            assert abs(mp.mpf(sum(row).numerator) / sum(row).denominator
                       - mp.mpf(ci.numerator) / ci.denominator) < 1e-27


@pytest.mark.parametrize("name", T.ERK_NAMES)
def test_dense_output_ends(name):
    """For a constant ``f`` every stage is ``f``, ``r2 = r3 = 0``, and the interpolant is exact only if every dense
    row vanishes too: ``sum_j D[q, j] = 0``."""
    tab = T.tableau(name)
    for row in tab.D:
        assert abs(float(sum(row))) < 1e-25


@pytest.mark.parametrize("name", T.ERK_NAMES)
def test_float_arrays_match_the_exact_coefficients(name):
    k = T.ERK_NAMES.index(name)
    tab = T.tableau(name)
    s = len(tab.c)
    assert T.ERK_INT[k, T.I_STAGES] == s and T.ERK_INT[k, T.I_FSAL] == tab.fsal
    assert np.array_equal(T.ERK_A[k, :s, :s], np.array([[float(x) for x in r] for r in tab.A]))
    assert np.array_equal(T.ERK_C[k, :s], np.array([float(x) for x in tab.c]))
    assert np.all(T.ERK_A[k, s:] == 0) and np.all(T.ERK_A[k, :, s:] == 0)
    # the FSAL stage is the propagated solution, at t + h
    assert T.ERK_C[k, tab.fsal] == 1.0 and T.ERK_C[k, T.ERK_INT[k, T.I_STIFF]] == 1.0
    nb = len(tab.b)
    assert np.allclose(T.ERK_E[k, :nb], [float(x - y) for x, y in zip(tab.b, tab.b_embedded)], rtol=0, atol=1e-17)


def test_dop853_matches_scipy():
    """Transcription check against scipy's copy of the same published coefficients (float64)."""
    from scipy.integrate._ivp import dop853_coefficients as ref

    k = T.ERK_DOP853
    assert np.allclose(T.ERK_A[k], ref.A, rtol=1e-15, atol=0)
    assert np.allclose(T.ERK_C[k], ref.C, rtol=1e-15, atol=0)
    assert np.allclose(T.ERK_E[k, :13], ref.E5, rtol=1e-15, atol=0)
    assert np.allclose(T.ERK_E3[k, :13], ref.E3, rtol=1e-13, atol=1e-16)
    assert np.allclose(T.ERK_D[k], ref.D, rtol=1e-15, atol=0)


def test_unknown_pair():
    with pytest.raises(ValueError, match="unknown explicit pair"):
        T.tableau("rk4")
