"""The numba reparameterisation maps agree with their SymPy expressions (one registry, two derived code paths).

``memtheory.models.reparam`` evaluates each map ``lambda = f(w)`` and ``f'(w)`` in compiled code (numerically
careful kernels: softplus does not overflow, the LRU derivative stays finite); ``memtheory.theory.reparam``
analyses the same maps symbolically. These tests evaluate both on a grid inside each map's domain: the compiled
value and derivative must equal the SymPy expression and its ``sympy.diff`` (evaluated with mpmath at 30 digits)
to ~1e-14 relative.

Domains. A map has a *raw domain* (where the trainable ``w`` may range during training; box-constrained maps
are projected back into it) and a *stable domain* (where ``f(w)`` is stable: ``f < 0`` in continuous time,
``|f| < 1`` in discrete time). They differ only for "direct" (``f(w) = w``): its raw weight is unconstrained,
``(-inf, inf)`` -- it is the unstable baseline of the curse-of-memory experiments, trained without a clamp --
while the symbolic analysis (gradient scale ``1/w^2``, StableSSM's criterion) lives on the stable part
``(-inf, 0)``. The models' ``domain`` is the raw domain, the theory's ``domain`` is the stable domain.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from memtheory.models import reparam as M
from memtheory.theory import reparam as R

SHARED = sorted(set(R.MAPS) & set(M.PARAMETERISATIONS))
CONSTANTS = [(1.0, 0.5), (2.5, 0.7)]
RTOL = 1e-14
ATOL = 1e-15  # values of order one that pass through zero (discrete maps 1 - 1/q near q = 1)


def _grid(lo: float, hi: float, n: int = 40) -> np.ndarray:
    """Points strictly inside ``(lo, hi)`` clipped to ``[-4, 4]`` (``[0.55, 8]`` for a domain starting at 1/2)."""
    if lo == 0.5:
        return np.linspace(0.55, 8.0, n)
    return np.linspace(max(lo, -4.0) + 0.05, min(hi, 4.0) - 0.05, n)  # even n: w = 0 excluded


def _reference(expr: sp.Expr, w: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """``f(w)`` and ``f'(w)`` from the SymPy expression and ``sympy.diff``, evaluated in mpmath at 30 digits."""
    subs = {R.A: sp.Float(a, 40), R.B: sp.Float(b, 40)}
    f = sp.lambdify(R.W, expr.xreplace(subs), modules="mpmath")
    df = sp.lambdify(R.W, sp.diff(expr, R.W).xreplace(subs), modules="mpmath")
    with mp.workdps(30):
        val = np.array([float(f(mp.mpf(float(x)))) for x in w])
        der = np.array([float(df(mp.mpf(float(x)))) for x in w])
    return val, der


def _shared_domain(name: str) -> tuple[float, float]:
    lo1, hi1 = R.MAPS[name].domain
    lo2, hi2 = M.PARAMETERISATIONS[name].domain
    return max(lo1, lo2), min(hi1, hi2)


@pytest.mark.parametrize("name", SHARED)
@pytest.mark.parametrize("a,b", CONSTANTS)
def test_numba_maps_match_sympy_on_a_grid(name, a, b):
    spec = M.PARAMETERISATIONS[name]
    expr = R.map_expression(name)
    w = _grid(*_shared_domain(name))
    ref_val, ref_der = _reference(expr, w, a, b)
    # the scalar compiled kernels, called with the registry's integer code
    val = np.array([M.map_value(spec.code, float(x), a, b) for x in w])
    der = np.array([M.map_derivative(spec.code, float(x), a, b) for x in w])
    np.testing.assert_allclose(val, ref_val, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(der, ref_der, rtol=RTOL, atol=ATOL)
    # the vectorised Parameterisation API (constants only for the maps that take them)
    par = M.get_parameterisation(name, **({"a": a, "b": b} if spec.parameters else {}))
    if not spec.parameters:
        ref_val, ref_der = _reference(expr, w, 1.0, 0.5)
    pval, pder = par.value_and_derivative(w)
    np.testing.assert_allclose(pval, ref_val, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(pder, ref_der, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", SHARED)
def test_kinds_agree(name):
    assert R.MAPS[name].kind == M.PARAMETERISATIONS[name].kind


@pytest.mark.parametrize("name", SHARED)
def test_domains_raw_versus_stable(name):
    """The theory's domain is where ``f`` is stable; the models' domain is where the raw weight may range."""
    raw = M.PARAMETERISATIONS[name].domain
    stable = R.MAPS[name].domain
    if name == "direct":
        assert raw == (-math.inf, math.inf) and stable == (-math.inf, 0.0)
    else:
        assert raw == stable
    assert raw[0] <= stable[0] and stable[1] <= raw[1]
    par = M.get_parameterisation(name)
    w = _grid(*raw, n=200)
    val = par(w)
    is_stable = val < 0 if par.kind == "continuous" else np.abs(val) < 1
    inside = (w > stable[0]) & (w < stable[1])
    np.testing.assert_array_equal(is_stable, inside)
