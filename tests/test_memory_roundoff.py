"""Memory functions of NonlinearRNNs read from their pre-activations: agreement with the forward pass where both
resolve the values, and, far below the forward pass's cancellation floor, with a 110-digit mpmath step loop of the
residual recurrence (an independent computation), with the stated round-off bounding the error."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from memtheory.errors import InvalidArgumentError
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.theory.memory import ROUNDOFF_MARGIN, classify_decay, memory_function

KINDS = ("heaviside", "impulse", "reversed")


def _mp_memory(model: NonlinearRNN, kind: str, level: float, steps: int, warm: int) -> np.ndarray:
    """The module's definitions by a plain loop in 110-digit arithmetic: ``h_k = h_{k-1} + dt sigma(U x_k + b -
    W_+ h_{k-1})`` from ``h = 0``, baselines subtracted, no pre-activation form."""
    with mp.workdps(110):
        m = model.width
        Wp = [[mp.mpf(float(v)) for v in row] for row in model.recurrent_matrix()]
        U = [mp.mpf(float(v)) for v in model.U[:, 0]]
        b = [mp.mpf(float(v)) for v in model.b]
        c = [mp.mpf(float(v)) for v in model.c]
        dt = mp.mpf(model.dt)
        act = {"tanh": mp.tanh, "hardtanh": lambda z: max(-1, min(1, z)), "linear": lambda z: z}[model.activation]

        def outputs(xs):
            h, ys = [mp.mpf(0)] * m, []
            for xk in xs:
                z = [U[i] * xk + b[i] - mp.fsum(Wp[i][j] * h[j] for j in range(m)) for i in range(m)]
                h = [h[i] + dt * act(z[i]) for i in range(m)]
                ys.append(mp.fsum(c[i] * h[i] for i in range(m)))
            return ys

        lv, total = mp.mpf(level), warm + steps
        if kind == "heaviside":
            xs, base = [0] * warm + [lv] * steps, [0] * total
        elif kind == "impulse":
            xs, base = [0] * warm + [lv] + [0] * (steps - 1), [0] * total
        else:
            xs, base = [lv] * warm + [0] * steps, [lv] * total
        ys, y0 = outputs(xs), outputs(base)
        rel = [ys[k] - y0[k] for k in range(warm - 1, total)]
        vals = [rel[j + 1] if kind == "impulse" else rel[j + 1] - rel[j] for j in range(steps)]
        return np.array([float(abs(v) / (dt * abs(lv))) for v in vals])


@pytest.mark.parametrize("structure,activation", [("diagonal", "tanh"), ("conjugated", "tanh"),
                                                  ("diagonal", "hardtanh")])
def test_deep_values_against_a_110_digit_loop(structure, activation):
    model = NonlinearRNN.random(1, 4, activation=activation, structure=structure, parameterisation="lru", dt=0.5,
                                seed=5)
    steps, warm = 700, 300
    for kind in KINDS:
        mf = memory_function(model, np.arange(steps) * model.dt, kind, [0.7], warmup=warm)
        exact = _mp_memory(model, kind, 0.7, steps, warm)
        assert exact.min() < 1e-50  # far below the forward pass's floor (about 1e-16 of the outputs)
        err = np.abs(mf.values - exact)
        assert np.all(err <= mf.roundoff), (kind, float(np.max(err / mf.roundoff)))
        assert np.max(err / exact) < 1e-13


def test_oscillating_and_cancelling_modes_against_the_loop():
    """A full ``W_+`` with complex eigenvalues (the memory changes sign: zeros) and two real modes of rates 0.31
    and 0.311 read with opposite signs (their terms cancel to about a thousandth): the round-off must bound the
    error at the zeros and under the cancellation too, where it is not relative to the value."""
    W = np.zeros((4, 4))
    W[:2, :2] = [[0.5, 0.6], [-0.6, 0.5]]
    W[2, 2], W[3, 3] = 0.31, 0.311
    model = NonlinearRNN(np.array([[0.9], [-0.4], [0.9], [0.9]]), np.array([0.2, -0.1, 0.3, 0.3]),
                         np.array([0.5, 0.5, 1.0, -1.0]), W=W, activation="tanh", dt=1.0)
    steps, warm = 200, 200
    for kind in KINDS:
        mf = memory_function(model, np.arange(steps, dtype=float), kind, [0.5], warmup=warm)
        exact = _mp_memory(model, kind, 0.5, steps, warm)
        assert np.all(np.abs(mf.values - exact) <= mf.roundoff), kind
        assert exact[-1] < 1e-20


def test_agrees_with_the_forward_pass_where_both_resolve():
    model = NonlinearRNN.random(1, 6, activation="tanh", structure="diagonal", parameterisation="softplus", dt=1.0,
                                seed=3)
    t = np.arange(40.0)
    for kind in KINDS:
        mine = memory_function(model, t, kind, [0.3, -1.0])
        forward = memory_function(model.forward, t, kind, [0.3, -1.0], dt=1.0)  # a callable: outputs differenced
        assert forward.roundoff is None and mine.roundoff is not None
        np.testing.assert_allclose(mine.values, forward.values, rtol=0, atol=1e-14 * mine.values.max())
        np.testing.assert_array_equal(mine.argmax_levels[mine.values > 1e-10], forward.argmax_levels[
            mine.values > 1e-10])


def test_optimise_carries_the_roundoff_of_the_chosen_level():
    model = NonlinearRNN.random(1, 5, activation="tanh", structure="diagonal", parameterisation="lru", seed=2)
    mf = memory_function(model, np.arange(60.0), "heaviside", method="optimise", refine=2)
    grid = memory_function(model, np.arange(60.0), "heaviside")
    assert np.all(mf.values >= grid.values) and mf.roundoff.shape == mf.values.shape
    assert np.all(mf.roundoff < 1e-10 * mf.values.max())


def test_preactivations_are_the_forward_pass_pre_activations():
    model = NonlinearRNN.random(2, 5, activation="tanh", structure="conjugated", seed=4)
    x = np.random.default_rng(0).standard_normal((3, 30, 2))
    _, H = model.forward(x, return_states=True)
    prev = np.concatenate([np.zeros((3, 1, 5)), H[:, :-1]], axis=1)
    direct = x @ model.U.T + model.b - prev @ model.recurrent_matrix().T
    np.testing.assert_allclose(model.preactivations(x), direct, rtol=0, atol=1e-13)


def test_resolved_decay_is_classified_at_the_slowest_mode():
    """Multipliers 0.9 (input weight 1e-10) and 0.5: the slow mode takes over at t = 39 and falls below the default
    floor (1e-12 of the maximum) at t = 44, so the default fit sees the crossover and cannot decide; above the
    round-off floor the fit runs to t = 399 and finds the slow mode's rate, -log 0.9."""
    model = NonlinearRNN(np.array([[1e-10], [1.0]]), np.zeros(2), np.ones(2), W=np.diag([0.1, 0.5]),
                         activation="tanh")
    mf = memory_function(model, np.arange(400.0), "impulse", [0.1])
    fit = mf.classify()
    assert fit.verdict == "exponential" and abs(fit.rate + np.log(0.9)) < 1e-9
    assert fit.t_range == (200.0, 399.0)
    default = classify_decay(mf.t, mf.values)
    assert default.verdict == "undecided" and default.t_range[1] == 44.0


def test_classify_decay_array_floor_is_validated():
    t = np.arange(10.0)
    with pytest.raises(InvalidArgumentError, match="floor"):
        classify_decay(t, np.exp(-t), floor=np.zeros(3))
    with pytest.raises(InvalidArgumentError, match="floor"):
        classify_decay(t, np.exp(-t), floor=np.full(10, np.nan))
    with pytest.raises(InvalidArgumentError, match="floor"):
        classify_decay(t, np.exp(-t), floor="abc")
    assert ROUNDOFF_MARGIN >= 10


def test_singular_recurrence_falls_back_to_differenced_outputs():
    """``W_+`` with a zero eigenvalue (a marginal mode: only with check_stability=False): the impulse deviation
    cannot use ``W_+^{-1}``, so the outputs are differenced (no round-off estimate); Heaviside still uses ``z``."""
    model = NonlinearRNN(np.array([[1.0], [0.5]]), np.zeros(2), np.ones(2), W=np.diag([0.0, 0.5]), activation="tanh")
    t = np.arange(20.0)
    imp = memory_function(model, t, "impulse", [0.1], check_stability=False)
    ref = memory_function(model.forward, t, "impulse", [0.1], dt=1.0, check_stability=False)
    assert imp.roundoff is None and np.all(np.isfinite(imp.values))
    np.testing.assert_allclose(imp.values, ref.values, rtol=0, atol=1e-14)
    assert memory_function(model, t, "heaviside", [0.1], check_stability=False).roundoff is not None


def _check_bound(model, kind, level, steps, warm):
    mf = memory_function(model, np.arange(steps) * model.dt, kind, [level], warmup=warm)
    exact = _mp_memory(model, kind, level, steps, warm)
    err = np.abs(mf.values - exact)
    if mf.roundoff is None:  # read from differenced outputs
        assert np.max(err) < 1e-13 * np.max(exact), (kind, float(np.max(err)))
    else:
        assert np.all(err <= mf.roundoff), (kind, float(np.max(err / np.maximum(mf.roundoff, 1e-300))))
    return mf, exact


def test_a_pulse_switched_off_on_a_slow_mode_is_not_understated():
    """Rate 1e-14 next to 0.5: switching the pulse off cancels ``z + U(0 - x)`` to an absolute error of about
    ``u |U x|``, which ``W_+^{-1}`` multiplies by 1e14; the estimate once scaled with the small result (stated
    2.8e-13, actual 2.5e-3). Now that impulse memory is read from the outputs, accurately."""
    model = NonlinearRNN(np.array([[1.0], [1.0]]), np.zeros(2), np.ones(2), w=-np.array([0.5, 1e-14]),
                         activation="tanh", parameterisation="direct")
    mf, exact = _check_bound(model, "impulse", 0.1, 50, 50)
    assert mf.roundoff is None and abs(mf.values[0] - 1.99335989) < 1e-8
    _check_bound(model, "heaviside", 0.1, 50, 50)


def test_a_step_that_cancels_to_its_own_roundoff_is_not_resolved_to_zero():
    """``W_+ = 1.5`` at the level ``a = 1.5 tanh(a)``: after one step ``z`` cancels to its round-off; the values
    computed there (0) must carry a round-off at least as large as the true ones (2e-17)."""
    from scipy.optimize import brentq

    a = brentq(lambda v: v - 1.5 * np.tanh(v), 0.5, 2.0)
    model = NonlinearRNN(np.array([[1.0]]), np.zeros(1), np.ones(1), w=np.array([-1.5]), activation="tanh",
                         parameterisation="direct")
    for kind in ("heaviside", "impulse"):
        _check_bound(model, kind, a, 30, 30)


def test_leak_from_a_fast_mode_into_a_slow_one_is_bounded():
    """Conjugated ``W_+`` (a rotation of rates 0.99 and 0.1) with the input almost entirely on the fast mode:
    rounding the fast mode leaks into the slow one, 1e-9 of the input; a componentwise estimate missed it by 4e4."""
    th = 0.5
    P = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    for act in ("linear", "tanh"):
        model = NonlinearRNN((P.T @ np.array([1.0, 1e-9]))[:, None], np.zeros(2), np.array([1.0, -0.3]),
                             w=-np.array([0.99, 0.1]), P=P, activation=act, parameterisation="direct")
        for kind in KINDS:
            _check_bound(model, kind, 0.5, 150, 150)


def test_full_structure_with_a_diagonal_matrix_is_read_as_diagonal():
    diag = NonlinearRNN.random(1, 3, structure="diagonal", parameterisation="lru", seed=1)
    full = diag.to_full()
    t = np.arange(80.0)
    for kind in KINDS:
        a, b = memory_function(diag, t, kind), memory_function(full, t, kind)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-13, atol=0)
        np.testing.assert_allclose(a.roundoff, b.roundoff, rtol=1e-12)
        assert a.classify().verdict == b.classify().verdict


def test_a_subnormal_rate_falls_back_instead_of_nan():
    model = NonlinearRNN(np.array([[1.0], [1.0]]), np.zeros(2), np.ones(2), w=-np.array([0.5, 1e-310]),
                         activation="tanh", parameterisation="direct")
    mf = memory_function(model, np.arange(10.0), "impulse", [0.1], check_stability=False)
    ref = memory_function(model.forward, np.arange(10.0), "impulse", [0.1], dt=1.0)
    assert np.all(np.isfinite(mf.values))
    np.testing.assert_allclose(mf.values, ref.values, rtol=0, atol=1e-14)
