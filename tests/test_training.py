"""Tests of memtheory.training: LF datasets, Adam, the training loop [IAT]."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memtheory.errors import ConvergenceError, InvalidArgumentError
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.training import (
    Adam,
    LFDataset,
    TrainResult,
    lf_dataset,
    reference_time_weights,
    train,
)
from memtheory.training.optim import clip_grad_norm as _clip


def _direct_sum(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """O(T^2) reference: y[n, k] = sum_{s<=k} sum_j kernel[s, j] x[n, k-s, j] (the reference code's loop)."""
    n, T, d = x.shape
    kern = kernel.reshape(T, -1)
    y = np.zeros((n, T))
    for k in range(T):
        for s in range(k + 1):
            y[:, k] += x[:, k - s, :] @ kern[s]
    return y


# =========================================================================== datasets


@pytest.mark.parametrize("convention", ["reference", "quadrature"])
@pytest.mark.parametrize("rho", [lambda t: np.exp(-t), lambda t: (1 + 0.1 * t) ** -1.1, np.sin])
def test_fft_dataset_matches_direct_sum(convention, rho):
    ds = lf_dataset(rho, 7, 60, dt=0.3, seed=1, convention=convention)
    assert ds.x.shape == (7, 60, 1) and ds.y.shape == (7, 60)
    factor = 1.0 if convention == "reference" else 0.3
    np.testing.assert_allclose(ds.y, factor * _direct_sum(ds.x, rho(0.3 * np.arange(60))), rtol=1e-10, atol=1e-13)


def test_multi_input_dataset_matches_direct_sum():
    rho = lambda t: np.stack([np.exp(-t), np.exp(-((t - 2.0) ** 2))], axis=1)  # noqa: E731
    ds = lf_dataset(rho, 5, 40, dt=0.25, seed=2, input_dim=2)
    assert ds.x.shape == (5, 40, 2) and ds.kernel.shape == (40, 2)
    np.testing.assert_allclose(ds.y, _direct_sum(ds.x, ds.kernel), rtol=1e-10, atol=1e-13)


def test_reference_convention_inputs_and_seeds():
    ds = lf_dataset(lambda t: np.exp(-t), 4, 10, dt=0.5, seed=3)
    np.testing.assert_array_equal(ds.x, 0.5 * np.random.default_rng(3).standard_normal((4, 10, 1)))
    again = lf_dataset(lambda t: np.exp(-t), 4, 10, dt=0.5, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(again.y, ds.y)
    other = lf_dataset(lambda t: np.exp(-t), 4, 10, dt=0.5, seed=4)
    assert not np.allclose(other.x, ds.x)
    quad = lf_dataset(lambda t: np.exp(-t), 4, 10, dt=0.5, seed=3, convention="quadrature")
    np.testing.assert_allclose(quad.y, ds.y / math.sqrt(0.5), rtol=1e-12)  # documented relation
    np.testing.assert_allclose(quad.x, ds.x * 0.5**-1.5, rtol=1e-12)


def test_quadrature_convention_output_variance_is_l2_norm():
    """Ito isometry: E[y_k^2] = dt sum_{s<=k} rho(s dt)^2 -> ||rho||_2^2 = 1/2 for e^{-t}."""
    dt, T = 0.1, 150
    ds = lf_dataset(lambda t: np.exp(-t), 4000, T, dt=dt, seed=5, convention="quadrature")
    expected = dt * np.sum(np.exp(-2 * dt * np.arange(T)))
    assert abs(expected - 0.5) < dt  # left Riemann sum of int_0^inf e^{-2t} dt, bias O(dt)
    var = np.mean(ds.y[:, -1] ** 2)
    assert var == pytest.approx(expected, rel=4 * math.sqrt(2 / 4000))  # 4 standard errors


def test_dataset_split_and_summary():
    ds = lf_dataset(lambda t: np.exp(-t), 10, 5, seed=0)
    a, b = ds.split(7)
    assert len(a) == 7 and len(b) == 3 and isinstance(a, LFDataset)
    assert ds.to_dict() == {"n_samples": 10, "T": 5, "input_dim": 1, "dt": 1.0, "convention": "reference"}
    with pytest.raises(InvalidArgumentError, match="n_first"):
        ds.split(10)


def test_dataset_bad_arguments():
    exp = lambda t: np.exp(-t)  # noqa: E731
    with pytest.raises(InvalidArgumentError, match="convention.*allowed"):
        lf_dataset(exp, 3, 5, convention="trapezoid")
    with pytest.raises(InvalidArgumentError, match="rho: must be callable"):
        lf_dataset(3.0, 3, 5)
    with pytest.raises(InvalidArgumentError, match="np.vectorize"):
        lf_dataset(lambda t: 1.0 if 9 < t < 11 else 0.0, 3, 5)  # scalar-only code, as the reference "shift"
    with pytest.raises(InvalidArgumentError, match="rho: must return shape"):
        lf_dataset(lambda t: 1.0, 3, 5)
    with pytest.raises(InvalidArgumentError, match="non-finite"):
        with np.errstate(divide="ignore"):
            lf_dataset(lambda t: 1.0 / t, 3, 5)
    with pytest.raises(InvalidArgumentError, match="n_samples"):
        lf_dataset(exp, 0, 5)
    with pytest.raises(InvalidArgumentError, match="dt"):
        lf_dataset(exp, 3, 5, dt=-1.0)
    with pytest.raises(InvalidArgumentError, match="seed"):
        lf_dataset(exp, 3, 5, seed=-2)


def test_reference_time_weights_reproduce_twe_mse():
    """omega = v^2: mean(omega err^2) == MSE(v * out, v * y) as the reference's twe_MSE."""
    T = 12
    omega = reference_time_weights(T)
    v = ((np.arange(T) + 1) / (T + 1)) ** 2
    v = v / v.sum() * T
    np.testing.assert_allclose(omega, v**2, rtol=1e-14)
    assert np.all(np.diff(omega) > 0)
    rng = np.random.default_rng(0)
    model = NonlinearRNN.random(1, 3, seed=0)
    x, y = rng.standard_normal((4, T, 1)), rng.standard_normal((4, T))
    out = model.forward(x)
    assert model.loss(x, y, omega) == pytest.approx(np.mean((v * out - v * y) ** 2), rel=1e-13)


# =========================================================================== Adam


def test_adam_first_step_is_bias_corrected():
    """With bias correction the first step is lr * g/(|g| + eps): about lr per coordinate."""
    opt = Adam(lr=0.1)
    p = np.array([1.0, -2.0, 3.0])
    opt.step(p, np.array([1e-3, -5.0, 0.0]))
    np.testing.assert_allclose(p, [1.0 - 0.1 * 1e-3 / (1e-3 + 1e-8), -2.0 + 0.1 * 5 / (5 + 1e-8), 3.0], rtol=1e-14)


def test_adam_converges_on_convex_quadratic():
    rng = np.random.default_rng(1)
    Q = rng.standard_normal((6, 6))
    A = Q @ Q.T + 0.5 * np.eye(6)
    b = rng.standard_normal(6)
    theta_star = np.linalg.solve(A, b)
    theta = np.zeros(6)
    opt = Adam(lr=0.02)
    for _ in range(4000):
        opt.step(theta, A @ theta - b)
    assert np.max(np.abs(theta - theta_star)) < 1e-6


def test_adam_bad_arguments_and_weight_decay():
    with pytest.raises(InvalidArgumentError, match="lr"):
        Adam(lr=0.0)
    with pytest.raises(InvalidArgumentError, match="betas"):
        Adam(betas=(1.0, 0.9))
    with pytest.raises(InvalidArgumentError, match="grad"):
        Adam().step(np.zeros(3), np.zeros(2))
    p = np.array([2.0])
    Adam(lr=0.1, weight_decay=0.5).step(p, np.array([0.0]))
    assert p[0] == pytest.approx(2.0 * (1 - 0.05))


def test_clip_total_norm():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(_clip(g, 1.0), [0.6, 0.8])
    assert _clip(g, 10.0) is g and _clip(g, None) is g


# =========================================================================== training


@pytest.mark.parametrize(
    "activation,structure,par",
    [("tanh", "conjugated", "softplus"), ("linear", "diagonal", "relu"), ("hardtanh", "diagonal", "exp")],
)
def test_training_reduces_loss_on_lf_problem(activation, structure, par):
    ds = lf_dataset(lambda t: np.exp(-t), 1280, 32, dt=1.0, seed=0)
    tr, va = ds.split(1024)
    model = NonlinearRNN.random(1, 8, activation=activation, structure=structure, parameterisation=par, seed=1)
    initial = model.loss(tr.x, tr.y)
    res = train(model, tr, epochs=25, batch_size=128, lr=1e-2, seed=0, progress=False, val_data=va)
    assert isinstance(res, TrainResult)
    assert res.epochs == 25 and res.steps == 25 * 8 and res.loss_history.shape == (25,)
    assert res.final_loss < 0.05 * initial
    assert res.val_history[-1] < 0.05 * initial
    assert model.loss(tr.x, tr.y) < 0.05 * initial
    assert res.samples_per_second > 0 and res.to_dict()["epochs"] == 25


def test_training_options_time_weights_clip_callback_progress():
    ds = lf_dataset(lambda t: np.exp(-t), 256, 16, seed=0)
    model = NonlinearRNN.random(1, 4, structure="conjugated", parameterisation="inverse", seed=2)
    res = train(model, (ds.x, ds.y), epochs=5, batch_size=64, lr=0.05, progress=True, time_weights="reference",
                grad_clip=0.5, n_threads=1, callback=lambda epoch, loss, m: epoch == 2)
    assert res.epochs == 3
    assert model.parameterisation.in_domain(model.w)  # projected after every step
    opt = Adam(lr=1e-3)
    train(model, ds, epochs=1, progress=False, optimizer=opt)
    assert opt.t == 2


def test_training_divergence_raises():
    ds = lf_dataset(lambda t: np.exp(-t), 64, 300, seed=0)
    model = NonlinearRNN.random(1, 4, activation="linear", structure="diagonal", parameterisation="direct", seed=0)
    model.w = -np.abs(model.w) - 20.0  # W_+ = diag(-w) >= 20: forward Euler at dt = 1 grows like 19^k
    with np.errstate(all="ignore"), pytest.raises(ConvergenceError, match="lower lr"):
        train(model, ds, epochs=3, batch_size=64, lr=1.0, progress=False)


def test_training_bad_arguments():
    ds = lf_dataset(lambda t: np.exp(-t), 16, 8, seed=0)
    model = NonlinearRNN.random(2, 3, seed=0)
    with pytest.raises(InvalidArgumentError, match="input dimension"):
        train(model, ds, progress=False)
    model = NonlinearRNN.random(1, 3, seed=0)
    with pytest.raises(InvalidArgumentError, match="epochs"):
        train(model, ds, epochs=0, progress=False)
    with pytest.raises(InvalidArgumentError, match="time_weights"):
        train(model, ds, time_weights="linear", progress=False)
    with pytest.raises(InvalidArgumentError, match="dataset"):
        train(model, ds.x, progress=False)
    with pytest.raises(InvalidArgumentError, match="model"):
        train("rnn", ds, progress=False)


def test_cosine_schedule_sets_the_step_size_of_every_epoch():
    ds = lf_dataset(lambda t: np.exp(-t), 64, 16, seed=0)
    model = NonlinearRNN.random(1, 3, seed=0)
    opt = Adam(lr=0.02)
    seen = []
    train(model, ds, epochs=4, batch_size=64, optimizer=opt, lr_schedule="cosine", lr_min=0.004, progress=False,
          callback=lambda epoch, loss, m: seen.append(opt.lr))
    expected = [0.004 + 0.5 * 0.016 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-15)
    seen.clear()
    train(model, ds, epochs=3, batch_size=64, optimizer=opt, lr_schedule=lambda e: 1e-3 * (e + 1), progress=False,
          callback=lambda epoch, loss, m: seen.append(opt.lr))
    assert seen == [1e-3, 2e-3, 3e-3]
    warm = Adam(lr=0.02)
    seen.clear()
    train(model, ds, epochs=4, batch_size=64, optimizer=warm, warmup=2, progress=False,
          callback=lambda epoch, loss, m: seen.append(warm.lr))
    assert seen == [0.01, 0.02, 0.02, 0.02]
    seen.clear()
    train(model, ds, epochs=4, batch_size=64, optimizer=warm, lr_schedule="cosine", warmup=3, progress=False,
          callback=lambda epoch, loss, m: seen.append(warm.lr))
    np.testing.assert_allclose(seen, [0.02 * 0.5 * (1 + math.cos(math.pi * e / 4)) * min(1, (e + 1) / 3)
                                      for e in range(4)], rtol=1e-15)


def test_keep_best_restores_the_lowest_validation_loss():
    ds = lf_dataset(lambda t: (1 + t) ** -1.5, 320, 32, seed=0)
    tr, va = ds.split(256)
    model = NonlinearRNN.random(1, 4, activation="tanh", structure="diagonal", parameterisation="softplus", seed=3)
    snapshots = []
    # the step size jumps to 1 for the last two epochs: the validation loss rises, the best epoch is earlier
    res = train(model, tr, epochs=8, batch_size=32, lr=0.02, lr_schedule=lambda e: 0.02 if e < 6 else 1.0, seed=0,
                progress=False, val_data=va, keep_best=True, grad_clip=5.0,
                callback=lambda epoch, loss, m: snapshots.append(m.get_vector().copy()))
    best = int(np.argmin(res.val_history))
    assert res.best_epoch == best < 6 and res.val_history[-1] > 2 * res.val_history[best]
    np.testing.assert_array_equal(model.get_vector(), snapshots[best])
    assert model.loss(va.x, va.y) == pytest.approx(res.val_history[best], rel=1e-12)
    # without validation data the training loss decides; without keep_best the last epoch stays
    res = train(model, tr, epochs=3, batch_size=32, lr=1e-3, progress=False, keep_best=True)
    assert res.best_epoch == int(np.argmin(res.loss_history))
    res = train(model, tr, epochs=3, batch_size=32, lr=1e-3, progress=False)
    assert res.best_epoch == 2 and res.to_dict()["best_epoch"] == 2


def test_schedule_bad_arguments():
    ds = lf_dataset(lambda t: np.exp(-t), 16, 8, seed=0)
    model = NonlinearRNN.random(1, 3, seed=0)
    with pytest.raises(InvalidArgumentError, match="lr_schedule: unknown"):
        train(model, ds, lr_schedule="step", progress=False)
    with pytest.raises(InvalidArgumentError, match="lr_min"):
        train(model, ds, lr=1e-3, lr_schedule="cosine", lr_min=1e-2, progress=False)
    with pytest.raises(InvalidArgumentError, match="warmup"):
        train(model, ds, warmup=-1, progress=False)
    with pytest.raises(InvalidArgumentError, match=r"lr_schedule\(0\)"):
        train(model, ds, lr_schedule=lambda e: -1.0, progress=False)
