"""Tests of memtheory.models.reparam and memtheory.models.nonlinear (numba RNNs, BPTT) [IAT]."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memtheory.errors import InvalidArgumentError, MemtheoryError
from memtheory.models.nonlinear import (
    ACTIVATIONS,
    NonlinearRNN,
    activation,
    activation_derivative,
)
from memtheory.models.reparam import PARAMETERISATIONS, get_parameterisation
from memtheory.models.rnn_kernels import activate as _activate

ALL_MAPS = sorted(PARAMETERISATIONS)


# =========================================================================== reparameterisations


def _raw_points(name: str, rng: np.random.Generator, n: int = 50) -> np.ndarray:
    lo, hi = PARAMETERISATIONS[name].domain
    if math.isfinite(lo) and math.isfinite(hi):
        return rng.uniform(lo + 0.01, hi - 0.01, n)
    if math.isfinite(lo):
        return lo + 0.05 + rng.exponential(2.0, n)
    return rng.uniform(-4, 4, n)


EXPECTED = {
    "direct": lambda w: w,
    "relu": lambda w: -np.maximum(w, 0),
    "exp": lambda w: -np.exp(w),
    "softplus": lambda w: -np.log1p(np.exp(w)),
    "best": lambda w: -1 / (w**2 + 0.5),
    "lru_residual": lambda w: np.exp(-np.exp(w)) - 1,
    "discrete_direct": lambda w: w,
    "lru": lambda w: np.exp(-np.exp(w)),
    "sigmoid": lambda w: 1 / (1 + np.exp(-w)),
    "inverse": lambda w: 1 - 1 / w,
    "discrete_best": lambda w: 1 - 1 / (w**2 + 0.5),
}


@pytest.mark.parametrize("name", ALL_MAPS)
def test_map_values_and_derivatives(name):
    rng = np.random.default_rng(0)
    par = get_parameterisation(name)
    w = _raw_points(name, rng)
    np.testing.assert_allclose(par(w), EXPECTED[name](w), rtol=1e-14, atol=1e-300)
    h = 1e-6
    fd = (par(w + h) - par(w - h)) / (2 * h)
    mask = np.abs(w) > 1e-4 if name == "relu" else slice(None)  # kink of relu at 0
    np.testing.assert_allclose(par.derivative(w)[mask], fd[mask], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ALL_MAPS)
def test_map_ranges_match_kind(name):
    par = get_parameterisation(name)
    w = _raw_points(name, np.random.default_rng(1), 200)
    val = par(w)
    lo, hi = PARAMETERISATIONS[name].value_range
    assert np.all((val >= lo) & (val <= hi))
    if par.kind == "continuous" and name not in ("direct", "relu"):
        assert np.all(val < 0)  # Hurwitz
    if par.kind == "discrete" and name != "discrete_best":
        assert np.all(np.abs(val) < 1)


def test_softplus_is_stable_for_large_arguments():
    par = get_parameterisation("softplus")
    val, der = par.value_and_derivative(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    assert np.all(np.isfinite(val)) and np.all(np.isfinite(der))
    np.testing.assert_allclose(val, [-math.exp(-1000.0), -math.log1p(math.exp(-40.0)), -math.log(2.0),
                                     -40.0 - math.exp(-40.0), -1000.0], rtol=1e-15)
    np.testing.assert_allclose(der, [-math.exp(-1000.0), -math.exp(-40.0) / (1 + math.exp(-40.0)), -0.5,
                                     -1 / (1 + math.exp(-40.0)), -1.0], rtol=1e-15)
    assert np.all(np.isfinite(get_parameterisation("lru").derivative(np.array([800.0, -800.0]))))


@pytest.mark.parametrize("name", ["best", "discrete_best"])
def test_best_map_has_linear_gradient_scale(name):
    """[SSSM]: the "best" map keeps |f'|/f^2 (continuous) or |f'|/(1-f)^2 (discrete) equal to 2a|w|."""
    par = get_parameterisation(name, a=2.5, b=0.7)
    w = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(par.gradient_scale(w), 2 * 2.5 * np.abs(w), rtol=1e-13, atol=1e-15)


def test_get_parameterisation_errors_and_projection():
    with pytest.raises(InvalidArgumentError, match="parameterisation.*allowed"):
        get_parameterisation("cayley")
    with pytest.raises(InvalidArgumentError, match="a: must be"):
        get_parameterisation("best", a=-1.0)
    with pytest.raises(InvalidArgumentError, match="not accepted"):
        get_parameterisation("exp", a=1.0)
    par = get_parameterisation("inverse")
    assert not par.in_domain([0.3, 2.0])
    projected = par.project(np.array([0.3, 2.0]))
    assert par.in_domain(projected) and projected[1] == 2.0
    assert get_parameterisation(par) is par
    assert issubclass(InvalidArgumentError, MemtheoryError)


# =========================================================================== activations


def test_fast_tanh_accuracy():
    z = np.concatenate([np.random.default_rng(2).standard_normal(20000) * 4, np.linspace(-30, 30, 2001),
                        np.logspace(-300, 1.5, 500), -np.logspace(-300, 1.5, 500), [0.0, np.inf, -np.inf]])
    a = activation("tanh", z)
    np.testing.assert_allclose(a, np.tanh(z), rtol=1e-15, atol=0)
    assert math.isnan(activation("tanh", np.array([np.nan]))[0])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivatives(name):
    z = np.random.default_rng(3).uniform(-3, 3, 500)
    z = z[np.min(np.abs(z[:, None] - np.array([-1.0, 0.0, 1.0])), axis=1) > 1e-3]  # away from kinks
    h = 1e-6
    fd = (activation(name, z + h) - activation(name, z - h)) / (2 * h)
    np.testing.assert_allclose(activation_derivative(name, z), fd, rtol=1e-8, atol=1e-9)
    a = z.copy()
    da = np.empty_like(z)
    _activate(ACTIVATIONS[name], a, da)
    np.testing.assert_array_equal(a, activation(name, z))


# =========================================================================== BPTT vs finite differences


CONFIGS = [("full", "direct")] + [
    ("diagonal" if i % 2 else "conjugated", name) for i, name in enumerate(ALL_MAPS)
]


def _fd_gradient(model: NonlinearRNN, x, y, tw, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of the loss in every trainable scalar."""
    v = model.get_vector()
    fd = np.empty_like(v)
    for i in range(v.size):
        vp, vm = v.copy(), v.copy()
        vp[i] += h
        vm[i] -= h
        model.set_vector(vp)
        lp = model.loss(x, y, tw)
        model.set_vector(vm)
        lm = model.loss(x, y, tw)
        fd[i] = (lp - lm) / (2 * h)
    model.set_vector(v)
    return fd


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("structure,par", CONFIGS)
def test_bptt_matches_finite_differences(act, structure, par):
    rng = np.random.default_rng(4)
    model = NonlinearRNN.random(2, 3, activation=act, structure=structure, parameterisation=par, dt=0.5, seed=5)
    x = rng.standard_normal((4, 7, 2))
    y = rng.standard_normal((4, 7))
    tw = rng.uniform(0.1, 2.0, 7)
    loss, grads = model.loss_and_grad(x, y, tw)
    assert loss == pytest.approx(model.loss(x, y, tw), rel=1e-13)
    assert set(grads) == set(model.param_names)
    g = model.pack(grads)
    fd = _fd_gradient(model, x, y, tw)
    assert np.max(np.abs(g - fd)) <= 1e-6 * np.max(np.abs(g))


def test_bptt_reference_time_weights_without_output_bias():
    from memtheory.training import reference_time_weights

    rng = np.random.default_rng(6)
    model = NonlinearRNN.random(1, 4, activation="tanh", structure="conjugated", parameterisation="softplus",
                                output_bias=False, seed=7)
    assert "c0" not in model.param_names
    x, y = rng.standard_normal((3, 9, 1)), rng.standard_normal((3, 9))
    tw = reference_time_weights(9)
    g = model.pack(model.loss_and_grad(x, y, tw)[1])
    fd = _fd_gradient(model, x, y, tw)
    assert np.max(np.abs(g - fd)) <= 1e-6 * np.max(np.abs(g))


@pytest.mark.parametrize("structure,par", [("conjugated", "softplus"), ("diagonal", "relu")])
def test_batch_split_and_thread_count_do_not_change_results(structure, par):
    """Chunks (threads) and lock-step blocks only reorder sums: results agree to rounding."""
    rng = np.random.default_rng(8)
    model = NonlinearRNN.random(1, 5, activation="tanh", structure=structure, parameterisation=par, seed=9)
    x, y = rng.standard_normal((301, 6, 1)), rng.standard_normal((301, 6))
    loss, grads = model.loss_and_grad(x, y)
    l1, g1 = model.loss_and_grad(x[:150], y[:150])
    l2, g2 = model.loss_and_grad(x[150:], y[150:])
    assert loss == pytest.approx((150 * l1 + 151 * l2) / 301, rel=1e-13)
    combined = (150 * model.pack(g1) + 151 * model.pack(g2)) / 301
    np.testing.assert_allclose(model.pack(grads), combined, rtol=1e-11, atol=1e-15)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        loss_1, grads_1 = model.loss_and_grad(x, y)
        out_1 = model.forward(x)
    finally:
        numba.set_num_threads(threads)
    assert loss_1 == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(model.pack(grads_1), model.pack(grads), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(out_1, model.forward(x), rtol=1e-13, atol=1e-15)


# =========================================================================== forward pass


def _numpy_linear_recursion(model: NonlinearRNN, x: np.ndarray) -> np.ndarray:
    A = np.eye(model.width) - model.dt * model.recurrent_matrix()
    h = np.zeros((x.shape[0], model.width))
    out = np.empty(x.shape[:2])
    for k in range(x.shape[1]):
        h = h @ A.T + model.dt * (x[:, k] @ model.U.T + model.b)
        out[:, k] = h @ model.c + model.c0
    return out


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(1, 6),
    d=st.integers(1, 3),
    batch=st.integers(1, 9),
    T=st.integers(1, 12),
    structure=st.sampled_from(["full", "diagonal", "conjugated"]),
    dt=st.floats(0.05, 1.0),
)
def test_linear_rnn_equals_numpy_recursion(m, d, batch, T, structure, dt):
    par = "direct" if structure == "full" else "lru"
    model = NonlinearRNN.random(d, m, activation="linear", structure=structure, parameterisation=par, dt=dt,
                                seed=m * 100 + d)
    x = np.random.default_rng(T).standard_normal((batch, T, d))
    np.testing.assert_allclose(model.forward(x), _numpy_linear_recursion(model, x), rtol=1e-12, atol=1e-13)


def test_discrete_eigenvalue_of_linear_map():
    """Discrete maps: f(w) is an eigenvalue of the one-step map I - dt W_+."""
    model = NonlinearRNN.random(1, 4, activation="linear", structure="conjugated", parameterisation="lru",
                                dt=0.3, seed=1)
    A = np.eye(4) - 0.3 * model.recurrent_matrix()
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(A).real), np.sort(model.parameterisation(model.w)),
                               rtol=1e-12)
    cont = NonlinearRNN.random(1, 4, structure="conjugated", parameterisation="softplus", seed=1)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cont.continuous_matrix())),
                               np.sort(cont.parameterisation(cont.w)), rtol=1e-12)


def test_states_readout_and_conversions():
    rng = np.random.default_rng(10)
    model = NonlinearRNN.random(2, 5, activation="tanh", structure="conjugated", parameterisation="exp", seed=3)
    x = rng.standard_normal((6, 8, 2))
    y, states = model.forward(x, return_states=True)
    np.testing.assert_allclose(y, states @ model.c + model.c0, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(model.to_full().forward(x), y, rtol=1e-12, atol=1e-13)
    W = model.continuous_matrix()
    back = NonlinearRNN.from_continuous(W, model.U, model.b, model.c, activation="tanh",
                                        output_bias=float(model.c0))
    np.testing.assert_array_equal(back.continuous_matrix(), W)
    np.testing.assert_allclose(back.forward(x), y, rtol=1e-12, atol=1e-13)
    # the reference code's residual step, written out for one sample
    h = np.zeros(5)
    for k in range(8):
        h = h + np.tanh(model.U @ x[0, k] + model.b - model.recurrent_matrix() @ h)
    assert y[0, -1] == pytest.approx(model.c @ h + model.c0, rel=1e-13)


def test_parameter_vector_round_trip():
    model = NonlinearRNN.random(2, 3, structure="conjugated", parameterisation="softplus", seed=0)
    v = model.get_vector()
    assert v.size == model.n_params == 3 + 9 + 6 + 3 + 3 + 1
    model.set_vector(v * 2)
    np.testing.assert_array_equal(model.get_vector(), 2 * v)
    params = model.get_params()
    params["U"][:] = 0
    assert np.all(model.U != 0)  # copies
    model.set_params({"U": params["U"]})
    assert np.all(model.U == 0)
    with pytest.raises(InvalidArgumentError, match="unknown names"):
        model.set_params({"Z": 1})


# =========================================================================== continuous time


def test_continuous_linear_matches_zero_order_hold():
    """Linear sigma: the RK4 simulation equals the exact held-input (ZOH) solution."""
    from scipy.linalg import expm

    model = NonlinearRNN.random(1, 4, activation="linear", structure="conjugated", parameterisation="softplus",
                                seed=2)
    dt = 0.4
    x = np.random.default_rng(11).standard_normal((3, 10, 1))
    W = model.continuous_matrix()
    Ad = expm(W * dt)
    Bd = np.linalg.solve(W, Ad - np.eye(4))
    h = np.zeros((3, 4))
    ref = np.empty((3, 10))
    for k in range(10):
        h = h @ Ad.T + (x[:, k] @ model.U.T + model.b) @ Bd.T
        ref[:, k] = h @ model.c + model.c0
    np.testing.assert_allclose(model.simulate_continuous(x, dt, substeps=50), ref, rtol=1e-9, atol=1e-10)


def test_discrete_converges_to_continuous_linearly_in_dt():
    """Forward Euler (the residual RNN) vs RK4: error at a fixed time falls like dt."""
    model = NonlinearRNN.random(1, 6, activation="tanh", structure="conjugated", parameterisation="softplus",
                                seed=4)
    t_end = 4.0
    signal = lambda t: np.sin(t) + 0.5 * np.cos(3 * t)  # noqa: E731
    errors = []
    dts = [0.1, 0.05, 0.025, 0.0125]
    for dt in dts:
        T = round(t_end / dt)
        x = signal(dt * np.arange(T))[None, :, None]
        model.dt = dt
        disc = model.forward(x)[0, -1]
        cont = model.simulate_continuous(x, dt, substeps=8)[0, -1]
        assert abs(cont - model.simulate_continuous(x, dt, substeps=16)[0, -1]) < 1e-10
        errors.append(abs(disc - cont))
    slopes = np.diff(np.log(errors)) / np.diff(np.log(dts))
    assert np.all((slopes > 0.85) & (slopes < 1.15)), slopes


# =========================================================================== errors


def test_bad_inputs_raise_clear_errors():
    U, b, c = np.ones((3, 1)), np.zeros(3), np.ones(3)
    with pytest.raises(InvalidArgumentError, match="activation.*allowed"):
        NonlinearRNN(U, b, c, w=np.zeros(3), activation="gelu")
    with pytest.raises(InvalidArgumentError, match="parameterisation.*allowed"):
        NonlinearRNN(U, b, c, w=np.zeros(3), parameterisation="cayley")
    with pytest.raises(InvalidArgumentError, match="structure"):
        NonlinearRNN.random(1, 3, structure="banded")
    with pytest.raises(InvalidArgumentError, match="b: must have shape"):
        NonlinearRNN(U, np.zeros(4), c, w=np.zeros(3))
    with pytest.raises(InvalidArgumentError, match="W, w"):
        NonlinearRNN(U, b, c)
    with pytest.raises(InvalidArgumentError, match="must be 'direct'"):
        NonlinearRNN(U, b, c, W=np.eye(3), parameterisation="exp")
    with pytest.raises(InvalidArgumentError, match="w: outside the domain"):
        NonlinearRNN(U, b, c, w=np.zeros(3), parameterisation="inverse")
    with pytest.raises(InvalidArgumentError, match="finite"):
        NonlinearRNN(U, b, c, W=np.full((3, 3), np.nan))
    with pytest.raises(InvalidArgumentError, match="dt"):
        NonlinearRNN(U, b, c, W=np.eye(3), dt=0.0)
    model = NonlinearRNN(U, b, c, W=np.eye(3))
    with pytest.raises(InvalidArgumentError, match=r"x: must have shape \(batch, T, 1\)"):
        model.forward(np.zeros((2, 3, 2)))
    with pytest.raises(InvalidArgumentError, match="x: must be finite"):
        model.forward(np.array([[[np.inf]]]))
    with pytest.raises(InvalidArgumentError, match="y: must have shape"):
        model.loss_and_grad(np.zeros((2, 3, 1)), np.zeros((2, 4)))
    with pytest.raises(InvalidArgumentError, match="time_weights"):
        model.loss_and_grad(np.zeros((2, 3, 1)), np.zeros((2, 3)), time_weights=[-1.0, 1.0, 1.0])
    with pytest.raises(InvalidArgumentError, match="substeps"):
        model.simulate_continuous(np.zeros((1, 2)), substeps=0)
    with pytest.raises(InvalidArgumentError, match="rates"):
        model.rates()
