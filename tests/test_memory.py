"""Tests of memtheory.theory.memory: memory functions (exact and simulated) and the decay classification [IAT]."""

from __future__ import annotations

import numpy as np
import pytest

import memtheory as mt
from memtheory.errors import InvalidArgumentError, NotHurwitzError
from memtheory.theory.memory import KINDS, classify_decay, default_levels, memory_function
from memtheory.models.nonlinear import NonlinearRNN

RNG = np.random.default_rng(7)
M = 4
W = -np.diag([0.5, 1.0, 1.5, 2.0]) + 0.1 * RNG.standard_normal((M, M))
U = RNG.standard_normal((M, 1))
C = RNG.standard_normal(M)


def _linear_residual(dt: float) -> NonlinearRNN:
    return NonlinearRNN.from_continuous(W, U, np.zeros(M), C, activation="linear", dt=dt, output_bias=0.0)


def _euler_kernel(dt: float, t: np.ndarray) -> np.ndarray:
    """|c^T (I + dt W)^k U| at t = k dt: the exact kernel of the residual linear model."""
    A = np.eye(M) + dt * W
    out = []
    for tk in t:
        k = int(round(tk / dt))
        out.append(abs(C @ np.linalg.matrix_power(A, k) @ U[:, 0]))
    return np.array(out)


# ----------------------------------------------------------------------------------------------- exact objects


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_memory_is_abs_rho(kind):
    rho = mt.Kernel("exp(-t/2)*cos(3*t)")
    t = np.linspace(0, 10, 37)
    mf = memory_function(rho, t, kind=kind)
    assert mf.exact and mf.method == "exact"
    np.testing.assert_allclose(mf.values, np.abs(np.exp(-t / 2) * np.cos(3 * t)), rtol=1e-14, atol=1e-300)


def test_linear_functional_and_callable_rho():
    t = np.array([0.0, 0.5, 2.0])
    f = mt.LinearFunctional(mt.kernels.power_law(1.5))
    np.testing.assert_allclose(memory_function(f, t).values, (1 + t) ** -1.5, rtol=1e-14)
    g = mt.LinearFunctional(lambda s: -np.exp(-s))
    np.testing.assert_allclose(memory_function(g, t).values, np.exp(-t), rtol=1e-14)
    # two input channels: the l1 norm of rho(t) (sup over |x|_inf <= 1 of |rho^T x|)
    h = mt.LinearFunctional(lambda s: np.stack([np.exp(-s), -2 * np.exp(-s)], axis=-1))
    np.testing.assert_allclose(memory_function(h, t).values, 3 * np.exp(-t), rtol=1e-14)


def test_linear_models_exact():
    t = np.linspace(0, 6, 13)
    d = mt.DiagonalRNN([1.0, -0.5], [1.0, 3.0])
    np.testing.assert_allclose(memory_function(d, t).values, np.abs(np.exp(-t) - 0.5 * np.exp(-3 * t)), rtol=1e-13)
    lin = mt.LinearRNN(W, U, C)
    np.testing.assert_allclose(memory_function(lin, t).values, np.abs(lin.kernel(t)), rtol=1e-13)
    two = mt.LinearRNN(W, np.hstack([U, -U]), C)
    np.testing.assert_allclose(memory_function(two, t).values, 2 * np.abs(lin.kernel(t)), rtol=1e-12)


def test_unstable_linear_model_raises():
    with pytest.raises(NotHurwitzError):
        memory_function(mt.LinearRNN(np.array([[0.1]]), [[1.0]], [1.0]), [0.0, 1.0])


# ----------------------------------------------------------------------------------------------- simulation


@pytest.mark.parametrize("kind", KINDS)
def test_simulated_linear_equals_its_discrete_kernel(kind):
    """A linear residual model's simulated memory function is exactly |c^T (I - dt W_+)^k U| (all kinds)."""
    dt = 0.05
    t = np.array([0.0, 0.05, 0.5, 1.0, 2.5, 5.0])
    mf = memory_function(_linear_residual(dt), t, kind=kind)
    np.testing.assert_allclose(mf.values, _euler_kernel(dt, t), rtol=1e-9)


def test_simulated_converges_to_exact_first_order():
    """Simulated (residual / Euler) vs exact |rho_hat(t)| of the continuous model: error O(dt), halving with dt."""
    t = np.array([0.5, 1.0, 2.0, 4.0])
    exact = memory_function(mt.LinearRNN(W, U, C), t).values
    errs = []
    for dt in (2e-3, 1e-3):
        sim = memory_function(_linear_residual(dt), t).values
        errs.append(np.max(np.abs(sim - exact) / exact))
    assert errs[1] < 2e-2
    assert 1.8 < errs[0] / errs[1] < 2.2


def test_linear_memory_independent_of_levels_and_optimise():
    model = _linear_residual(0.1)
    t = np.array([0.0, 1.0, 3.0])
    a = memory_function(model, t, levels=[0.3]).values
    b = memory_function(model, t, levels=[-5.0, 0.01]).values
    c = memory_function(model, t, method="optimise", refine=2).values
    np.testing.assert_allclose(a, b, rtol=1e-9)
    np.testing.assert_allclose(a, c, rtol=1e-9)


def test_black_box_callable_matches_model():
    model = NonlinearRNN.random(1, 8, activation="tanh", dt=0.5, seed=3)
    t = np.arange(0, 20, 0.5)
    direct = memory_function(model, t, kind="impulse")
    box = memory_function(lambda x: model.forward(x), t, kind="impulse", dt=0.5)
    # the box differences outputs of size ~1 (round-off ~1e-16 each); the model is read from its pre-activations
    np.testing.assert_allclose(box.values, direct.values, rtol=0, atol=1e-13 * direct.values.max())
    # d = 2: a callable receives (B, T, 2)
    seen = {}

    def two(x):
        seen["shape"] = x.shape
        return x[:, :, 0] * 0.5 + np.cumsum(x[:, :, 1], axis=1) * 0.0

    mf = memory_function(two, [0.0, 1.0], input_dim=2)
    assert seen["shape"][2] == 2
    np.testing.assert_allclose(mf.values, [0.5, 0.0], atol=1e-15)


def test_optimise_never_below_grid():
    model = NonlinearRNN.random(1, 8, activation="tanh", dt=0.5, seed=1)
    t = np.arange(0, 15, 0.5)
    g = memory_function(model, t, levels=[0.1, -0.1, 1.0, -1.0])
    o = memory_function(model, t, levels=[0.1, -0.1, 1.0, -1.0], method="optimise", refine=3)
    assert np.all(o.values >= g.values - 1e-15)
    assert o.levels.shape[0] > g.levels.shape[0]


def test_reference_method_matches_definition():
    model = NonlinearRNN.random(1, 8, activation="tanh", dt=0.5, seed=2)
    mf = memory_function(model, None, method="reference", seed=11, T=64)
    level = np.random.default_rng(11).standard_normal(1)
    y = model.forward(np.full((1, 64, 1), level[0]))[0]
    np.testing.assert_allclose(mf.values, np.abs(np.diff(y)), rtol=1e-14)
    np.testing.assert_allclose(mf.t, 0.5 * np.arange(1, 64))
    with pytest.raises(InvalidArgumentError, match="heaviside"):
        memory_function(model, None, kind="impulse", method="reference")


def test_default_levels():
    assert default_levels(1).shape == (14, 1)
    lv = default_levels(3)
    assert lv.shape == (7 * 8, 3)
    assert default_levels(7).shape == (7 * 64, 7)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_unstable_nonlinear_models_raise():
    bad = NonlinearRNN(np.ones((2, 1)), np.zeros(2), np.ones(2), W=np.diag([-0.1, 1.0]), activation="tanh")
    with pytest.raises(NotHurwitzError, match="Hurwitz"):
        memory_function(bad, [0.0, 1.0])
    stiff = NonlinearRNN(np.ones((2, 1)), np.zeros(2), np.ones(2), W=np.diag([3.0, 1.0]), activation="tanh", dt=1.0)
    with pytest.raises(NotHurwitzError, match="spectral radius"):
        memory_function(stiff, [0.0, 1.0])
    memory_function(stiff, [0.0, 1.0], check_stability=False)  # allowed on request
    with pytest.raises(NotHurwitzError, match="diverged"):
        memory_function(lambda x: np.exp(np.cumsum(np.abs(x) * 800, axis=1)), [0.0, 5.0])


def test_bad_arguments():
    rho = mt.Kernel("exp(-t)")
    model = NonlinearRNN.random(1, 4, dt=0.5, seed=0)
    with pytest.raises(InvalidArgumentError, match="kind"):
        memory_function(rho, [0.0], kind="step")
    with pytest.raises(InvalidArgumentError, match="method"):
        memory_function(rho, [0.0], method="adam")
    with pytest.raises(InvalidArgumentError, match="t:"):
        memory_function(rho, [-1.0])
    with pytest.raises(InvalidArgumentError, match="required"):
        memory_function(rho)
    with pytest.raises(InvalidArgumentError, match="nonzero"):
        memory_function(model, [0.0], levels=[0.0, 1.0])
    with pytest.raises(InvalidArgumentError, match="levels"):
        memory_function(model, [0.0], levels=np.ones((2, 3)))
    with pytest.raises(InvalidArgumentError, match="dt"):
        memory_function(model, [0.0], dt=0.1)
    with pytest.raises(InvalidArgumentError, match="obj"):
        memory_function(3.0, [0.0])
    with pytest.raises(InvalidArgumentError, match="warmup"):
        memory_function(model, [0.0], warmup=0)


# ----------------------------------------------------------------------------------------------- classification


def test_classify_decay_verdicts():
    t = np.linspace(0, 200, 801)
    e = classify_decay(t, np.exp(-0.1 * t))
    assert e.verdict == "exponential" and abs(e.rate - 0.1) < 1e-10
    p = classify_decay(t, (1 + t) ** -1.5)
    assert p.verdict == "power law" and abs(p.exponent - 1.5) < 1e-2
    assert classify_decay(t, np.abs(np.sin(t))).verdict == "not decaying"
    # oscillating exponential (zeros of |rho|): the envelope is used
    osc = classify_decay(t, np.abs(np.exp(-0.05 * t) * np.cos(t)))
    assert osc.verdict == "exponential" and abs(osc.rate - 0.05) < 5e-3
    # a sum of exponentials looks convex at small t but is exponential in the tail
    assert classify_decay(t, np.exp(-2 * t) + 1e-3 * np.exp(-0.05 * t)).verdict == "exponential"
    # too short a range to tell
    short = np.linspace(10, 12, 20)
    assert classify_decay(short, (1 + short) ** -3.0).verdict in ("undecided", "not decaying")
    d = e.to_dict()
    assert d["verdict"] == "exponential" and isinstance(d["t_range"], list)


def test_classify_decay_floor_and_errors():
    t = np.linspace(0, 100, 201)
    m = np.maximum(np.exp(-t), 1e-17)  # numerical floor reached at t ~ 39
    fit = classify_decay(t, m)
    assert fit.verdict == "exponential" and abs(fit.rate - 1) < 1e-6
    with pytest.raises(InvalidArgumentError):
        classify_decay([0, 1, 2], [1, 0.5, 0.2])
    with pytest.raises(InvalidArgumentError):
        classify_decay(t, -m)
    with pytest.raises(InvalidArgumentError):
        classify_decay(t, np.zeros_like(t))
    with pytest.raises(InvalidArgumentError):
        classify_decay(t, m, tail=0.0)


def test_result_serialisation():
    model = NonlinearRNN.random(1, 4, dt=0.5, seed=0)
    mf = memory_function(model, [0.0, 1.0, 2.0], levels=[0.5, -0.5])
    d = mf.to_dict()
    assert set(d) >= {"t", "values", "kind", "method", "levels", "argmax_levels"}
    assert len(d["values"]) == 3 and len(d["argmax_levels"]) == 3
