"""The causal convolutions of the package agree with a direct O(T^2) double loop, convention by convention.

Three places turn a sampled memory kernel into outputs ``y_k = sum_{j<=k} g_j x_{k-j}``: the LF datasets, the
linear functionals and the test-set error of the perturbation analysis. Their weights ``g_j`` are

* ``"reference"``: ``g_j = rho(j dt)`` (the reference code, no ``dt``),
* ``"quadrature"``: ``g_j = dt rho(j dt)`` (left Riemann sum),
* ``"zoh"``: ``g_j = int_{j dt}^{(j+1) dt} rho`` (input held over each step; linear functionals only).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import memtheory as mt
from memtheory.models.functional import LinearFunctional, causal_convolution
from memtheory.theory.stability import perturbation_error
from memtheory.training import lf_dataset


def _direct(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``y[n, k] = sum_{j<=k} sum_i g[j, i] x[n, k - j, i]`` by two explicit loops (x: (n, T, d), g: (T, d))."""
    n, T, d = x.shape
    y = np.zeros((n, T))
    for k in range(T):
        for j in range(k + 1):
            for i in range(d):
                y[:, k] += g[j, i] * x[:, k - j, i]
    return y


def _weights(rho, T: int, dt: float, convention: str) -> np.ndarray:
    """Independent weights: samples, scaled samples, or exact integrals of ``e^{-t}`` over each step."""
    lags = dt * np.arange(T)
    if convention == "reference":
        return rho(lags)
    if convention == "quadrature":
        return dt * rho(lags)
    assert convention == "zoh"  # rho = e^{-t}
    return np.exp(-lags) - np.exp(-(lags + dt))


RHO = lambda t: np.exp(-t)  # noqa: E731
DT, T = 0.3, 37


@pytest.mark.parametrize("d", [1, 3])
def test_dataset_convolution_matches_direct_loop(d):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, T, d))
    g = rng.standard_normal((T, d))
    np.testing.assert_allclose(causal_convolution(x, g), _direct(x, g), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("convention", ["reference", "quadrature"])
def test_dataset_targets_match_direct_loop(convention):
    ds = lf_dataset(RHO, 5, T, dt=DT, seed=1, convention=convention)
    g = _weights(RHO, T, DT, convention)[:, None]
    np.testing.assert_allclose(ds.y, _direct(ds.x, g), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("convention", ["reference", "quadrature", "zoh"])
def test_linear_functional_matches_direct_loop(convention):
    x = np.random.default_rng(2).standard_normal((3, T))
    H = LinearFunctional(mt.kernels.exponential(1.0))
    g = _weights(RHO, T, DT, convention)
    np.testing.assert_allclose(H.weights(T, DT, convention), g, rtol=1e-12, atol=1e-15)
    expected = _direct(x[:, :, None], g[:, None])
    np.testing.assert_allclose(H.evaluate(x, dt=DT, convention=convention), expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(H.evaluate(x[1], dt=DT, convention=convention), expected[1], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("convention", ["reference", "quadrature"])
@pytest.mark.parametrize("model", [mt.DiagonalRNN([0.7, -0.2], [0.5, 2.0]),
                                   mt.LinearRNN([[-1.0, 0.3], [0.0, -0.4]], [[1.0, 0.0], [0.5, 1.0]], [0.4, -1.0])],
                         ids=["diagonal", "linear_d2"])
def test_test_set_outputs_of_perturbation_error_match_direct_loop(convention, model):
    """At radius 0 the test-set MSE against directly convolved targets vanishes: the evaluator convolves alike."""
    d = 1 if isinstance(model, mt.DiagonalRNN) else model.d
    x = np.random.default_rng(3).standard_normal((6, T, d))
    kern = model.kernel(DT * np.arange(T)).reshape(T, -1)
    g = kern * DT if convention == "quadrature" else kern
    y = _direct(x, g)
    res = perturbation_error(model, (x, y), [0.0], repeats=1, norm="mse", dt=DT, convention=convention)
    assert res.errors[0] < 1e-24 * max(1.0, float(np.mean(y**2)))


@pytest.mark.parametrize("convention", ["reference", "quadrature"])
def test_the_implementations_agree_where_conventions_overlap(convention):
    """Same weights, same inputs: dataset convolution, linear functional and a direct loop coincide."""
    x = np.random.default_rng(4).standard_normal((5, T))
    g = _weights(RHO, T, DT, convention)
    via_dataset = causal_convolution(x[:, :, None], g[:, None])
    via_functional = LinearFunctional(RHO).evaluate(x, dt=DT, convention=convention)
    np.testing.assert_allclose(via_dataset, via_functional, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(via_dataset, _direct(x[:, :, None], g[:, None]), rtol=1e-11, atol=1e-12)
    assert math.isfinite(float(via_dataset.sum()))
