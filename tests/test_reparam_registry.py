"""The numba reparameterisation maps agree with their SymPy expressions (one registry, two derived code paths).

``memtheory.models.reparam.PARAMETERISATIONS`` defines each map ``lambda = f(w)`` once, as a SymPy expression
with its kind and domains; its compiled kernels (numerically careful: softplus does not overflow, the LRU
derivative stays finite) evaluate ``f`` and ``f'``, and ``memtheory.theory.reparam`` analyses the same
expressions symbolically. These tests evaluate the kernels on a grid inside each map's domain: value and
derivative must equal the expression and its ``sympy.diff`` (evaluated with mpmath at 30 digits) to ~1e-14
relative.

Domains. A map has a *raw domain* (where the trainable ``w`` may range during training; box-constrained maps
are projected back into it) and a *stable domain* (where ``f(w)`` is stable: ``f < 0`` in continuous time,
``|f| < 1`` in discrete time). Of the maps the theory analyses they differ only for "direct" (``f(w) = w``):
its raw weight is unconstrained, ``(-inf, inf)`` -- it is the unstable baseline of the curse-of-memory
experiments, trained without a clamp -- while the symbolic analysis (gradient scale ``1/w^2``, StableSSM's
criterion) lives on the stable part ``(-inf, 0)``. Both are right for their use, so the registry keeps both:
``ParameterisationSpec.domain`` is the raw domain, ``ParameterisationSpec.stable_domain`` (the theory's
``MapSpec.domain``) the stable one.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from memtheory.models import reparam as M
from memtheory.theory import reparam as R

ALL = sorted(M.PARAMETERISATIONS)
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


def _check_kernels(spec: M.ParameterisationSpec, expr: sp.Expr, w: np.ndarray, a: float, b: float) -> None:
    ref_val, ref_der = _reference(expr, w, a, b)
    # the scalar compiled kernels, called with the registry's integer code
    val = np.array([M.map_value(spec.code, float(x), a, b) for x in w])
    der = np.array([M.map_derivative(spec.code, float(x), a, b) for x in w])
    np.testing.assert_allclose(val, ref_val, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(der, ref_der, rtol=RTOL, atol=ATOL)
    # the vectorised Parameterisation API (constants only for the maps that take them)
    par = M.get_parameterisation(spec.name, **({"a": a, "b": b} if spec.parameters else {}))
    if not spec.parameters:
        ref_val, ref_der = _reference(expr, w, 1.0, 0.5)
    pval, pder = par.value_and_derivative(w)
    np.testing.assert_allclose(pval, ref_val, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(pder, ref_der, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("a,b", CONSTANTS)
def test_every_kernel_matches_its_registered_expression(name, a, b):
    """Each compiled map equals the SymPy expression of its registry entry on a grid of its raw domain."""
    spec = M.PARAMETERISATIONS[name]
    _check_kernels(spec, spec.expr, _grid(*spec.domain), a, b)


@pytest.mark.parametrize("name", SHARED)
@pytest.mark.parametrize("a,b", CONSTANTS)
def test_numba_maps_match_the_theory_maps_on_a_grid(name, a, b):
    """The maps the symbolic analysis uses are the compiled ones, on the stable domain."""
    spec = M.PARAMETERISATIONS[name]
    _check_kernels(spec, R.map_expression(name), _grid(*R.MAPS[name].domain), a, b)


def test_theory_maps_are_views_of_the_registry():
    assert tuple(R.MAPS) == R.SYMBOLIC_MAPS and set(R.MAIN_MAPS) <= set(R.MAPS)
    for name, view in R.MAPS.items():
        spec = M.PARAMETERISATIONS[name]
        assert view.expr is spec.expr and R.map_expression(name) is spec.expr
        assert view.domain == spec.stable_domain and view.name == name
    assert (R.W, R.A, R.B) == (M.W, M.A, M.B)


def test_registry_entries_are_consistent():
    codes = [s.code for s in M.PARAMETERISATIONS.values()]
    assert len(set(codes)) == len(codes)
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    names = {"w": M.W, "a": M.A, "b": M.B, "max": sp.Max, "exp": sp.exp, "log": sp.log}
    for name, spec in M.PARAMETERISATIONS.items():
        assert spec.name == name and spec.kind in ("continuous", "discrete")
        assert spec.expr.free_symbols <= {M.W, M.A, M.B}
        assert bool(spec.parameters) == bool(spec.expr.free_symbols & {M.A, M.B})
        # the display formula is the expression
        shown = parse_expr(spec.formula, local_dict=names, transformations=transformations)
        assert sp.simplify(shown - spec.expr) == 0, name
        lo, hi = spec.domain
        assert lo <= spec.stable_domain[0] < spec.stable_domain[1] <= hi
        assert math.isfinite(M.map_value(spec.code, 0.75, 1.0, 0.5))
    assert math.isnan(M.map_value(99, 0.5, 1.0, 0.5))


@pytest.mark.parametrize("name", SHARED)
def test_kinds_agree(name):
    assert R.MAPS[name].kind == M.PARAMETERISATIONS[name].kind


@pytest.mark.parametrize("name", ALL)
def test_domains_raw_versus_stable(name):
    """The stable domain is where ``f`` is stable; the raw domain is where the trainable weight may range.

    The theory's ``domain`` is the stable one: for "direct" ``(-inf, 0)`` against the raw ``(-inf, inf)``.
    """
    spec = M.PARAMETERISATIONS[name]
    raw, stable = spec.domain, spec.stable_domain
    if name == "direct":
        assert raw == (-math.inf, math.inf) and stable == (-math.inf, 0.0)
    elif name == "relu":
        assert raw == (-math.inf, math.inf) and stable == (0.0, math.inf)
    else:
        assert raw == stable
    if name in R.MAPS:
        assert R.MAPS[name].domain == stable
    par = M.get_parameterisation(name)
    w = _grid(*raw, n=200)
    val = par(w)
    is_stable = val < 0 if par.kind == "continuous" else np.abs(val) < 1
    inside = (w > stable[0]) & (w < stable[1])
    np.testing.assert_array_equal(is_stable, inside)


def test_best_criterion_is_stated_once():
    """The closed form evaluates the one expression; the SymPy maximisation over ``w`` reproduces it."""
    expr = R.best_criterion_expr()
    assert expr.free_symbols == {R.A, R.B, R.BETA}
    f = sp.lambdify((R.BETA, R.A, R.B), expr, modules="numpy")
    betas = np.linspace(0.0, 3.0, 31)
    for a, b in [(1.0, 0.5), (2.0, 0.3)]:
        np.testing.assert_array_equal(R.best_criterion_closed_form(betas, a, b), f(betas, a, b))
    derived, _ = R.best_criterion_symbolic()
    assert sp.simplify(derived - expr) == 0
