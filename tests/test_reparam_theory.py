"""Tests of memtheory.theory.reparam: SymPy gradient scales, the best-map derivation, StableSSM's criterion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from memtheory.errors import InvalidArgumentError
from memtheory.models.reparam import get_parameterisation
from memtheory.theory import reparam as R


def _grid(name: str) -> np.ndarray:
    lo, hi = R.MAPS[name].domain
    if name == "inverse":
        return np.linspace(0.55, 8.0, 30)
    return np.linspace(max(lo, -5.0) + 0.05, min(hi, 5.0) - 0.05, 30)  # even count: w = 0 excluded


@pytest.mark.parametrize("name", sorted(R.MAPS))
def test_gradient_scale_matches_finite_differences_of_numeric_maps(name):
    """SymPy |f'|/f^2 (or |f'|/(1-f)^2) vs central differences of the compiled map in models/reparam."""
    gs = R.gradient_scale(name, a=1.0, b=0.5)
    par = get_parameterisation(name)
    w = _grid(name)
    h = 1e-6 * np.maximum(1.0, np.abs(w))
    fd = (par(w + h) - par(w - h)) / (2 * h)
    val = par(w)
    gap = val if par.kind == "continuous" else 1.0 - val
    ref = np.abs(fd) / gap**2
    np.testing.assert_allclose(gs(w), ref, rtol=1e-6)
    # and the package's own numeric gradient_scale
    np.testing.assert_allclose(gs(w), par.gradient_scale(w), rtol=1e-12)


def test_stated_forms_and_latex():
    w = R.W
    assert sp.simplify(R.gradient_scale("exp").expr - sp.exp(-w)) == 0
    assert sp.simplify(R.gradient_scale("direct").expr - 1 / w**2) == 0
    assert sp.simplify(R.gradient_scale("best").expr - 2 * R.A * sp.Abs(w)) == 0
    assert sp.simplify(R.gradient_scale("discrete_best").expr - 2 * R.A * sp.Abs(w)) == 0
    assert R.gradient_scale("inverse").expr == 1
    sig = sp.exp(w) / (1 + sp.exp(w))
    assert sp.simplify(R.gradient_scale("softplus").expr - sig / sp.log(1 + sp.exp(w)) ** 2) == 0
    assert r"\frac{|f'(w)|}{f(w)^2}" in R.gradient_scale("exp").latex
    assert "(1 - f(w))^2" in R.gradient_scale("inverse").latex
    # constants bind numerically
    np.testing.assert_allclose(R.gradient_scale("best", a=3.0, b=0.2)(np.array([-2.0, 1.0])), [12.0, 6.0])


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_best_map_derivation(kind):
    d = R.best_map_derivation(kind)
    target = -1 / (R.A * R.W**2 + R.B) if kind == "continuous" else 1 - 1 / (R.A * R.W**2 + R.B)
    assert sp.simplify(d.f - target) == 0
    assert sp.simplify(d.scale - 2 * R.A * sp.Abs(R.W)) == 0
    # the general solution solves the ODE
    C1 = sp.Symbol("C1")
    assert sp.simplify(sp.diff(d.general, R.W) - d.ode.rhs) == 0 and d.general.has(C1)
    assert d.latex().startswith("\\begin{aligned}") and len(d.steps) == 6
    # stability for every w with b > 0 (continuous) / b > 1/2 (discrete)
    f = sp.lambdify((R.W, R.A, R.B), d.f)
    w = np.linspace(-50, 50, 2001)
    if kind == "continuous":
        assert np.all(f(w, 1.0, 0.1) < 0)
    else:
        assert np.all(np.abs(f(w, 1.0, 0.6)) < 1) and np.any(np.abs(f(w, 1.0, 0.4)) > 1)
    # matches the registered numeric map
    name = "best" if kind == "continuous" else "discrete_best"
    np.testing.assert_allclose(f(w, 1.0, 0.5), get_parameterisation(name)(w), rtol=1e-14)


def test_scalar_integral_closed_form_vs_quadrature_and_sympy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        lam, mu = -rng.uniform(0.05, 5.0, 2)
        num, err = integrate.quad(lambda t: abs(math.exp(mu * t) - math.exp(lam * t)), 0, np.inf, epsabs=1e-13,
                                  epsrel=1e-12, limit=400)
        assert float(R.scalar_exponential_integral(lam, mu)) == pytest.approx(num, rel=1e-9, abs=1e-12)
    assert np.isinf(R.scalar_exponential_integral(-1.0, 0.0))
    sym = R.scalar_exponential_integral_symbolic()
    lam, mu = sp.symbols("lambda mu", negative=True)
    assert sp.simplify(sym - (1 / mu - 1 / lam)) == 0


def test_criterion_closed_forms():
    bs = np.array([0.0, 1e-3, 0.05, 0.3, 1.0])
    for name in ("exp", "softplus"):
        c = R.stability_criterion(name, bs)
        np.testing.assert_allclose(c.values, np.expm1(bs), rtol=1e-6)
        assert c.stable and c.quadrature_check < 1e-8
    best = R.stability_criterion("best", bs, a=2.0, b=0.3)
    np.testing.assert_allclose(best.values, R.best_criterion_closed_form(bs, 2.0, 0.3), rtol=1e-6)
    direct = R.stability_criterion("direct", bs)
    assert direct.values[0] == 0 and np.all(np.isinf(direct.values[1:])) and not direct.stable
    inv = R.stability_criterion("inverse", [1e-3, 1e-2])
    assert inv.stable and inv.values[0] == pytest.approx(1e-3, rel=0.05)
    # SymPy maximisation reproduces the closed form
    expr, _ = R.best_criterion_symbolic()
    f = sp.lambdify((R.BETA, R.A, R.B), expr)
    for beta, a, b in [(0.1, 1.0, 0.5), (0.7, 2.0, 0.1)]:
        assert f(beta, a, b) == pytest.approx(float(R.best_criterion_closed_form(beta, a, b)), rel=1e-12)
    d = best.to_dict()
    assert d["name"] == "best" and len(d["values"]) == bs.size


def test_plots(tmp_path):
    R.plot_gradient_scales(str(tmp_path / "g.png"))
    R.plot_criterion([R.stability_criterion(n, [1e-2, 0.1]) for n in ("exp", "direct")], str(tmp_path / "c.png"))
    assert (tmp_path / "g.png").stat().st_size > 1000 and (tmp_path / "c.png").stat().st_size > 1000


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match="map"):
        R.gradient_scale("tanh")
    with pytest.raises(InvalidArgumentError, match="a:"):
        R.gradient_scale("best", a=-1.0)
    with pytest.raises(InvalidArgumentError, match="kind"):
        R.best_map_derivation("both")
    with pytest.raises(InvalidArgumentError, match="betas"):
        R.stability_criterion("exp", [-0.1])
