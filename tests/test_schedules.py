"""The reference code's training extras: ReduceLROnPlateau, EarlyStopping, the margin penalty, Gaussian inputs.

The schedules are checked on metric sequences whose expected step sizes / stopping epochs are derived by hand
from PyTorch's and Lightning's rules (comments give the derivation), and inside ``train`` by replaying the
recorded validation losses through fresh instances. The penalty's gradient is checked by finite differences and
one training step with it against a hand-made Adam step. Gaussian inputs are checked against a direct double loop.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import memtheory as mt
from memtheory.errors import InvalidArgumentError
from memtheory.training import EarlyStopping, ReduceLROnPlateau, lf_dataset, optim, train
from memtheory.training.penalty import margin_penalty, stability_margin


def test_plateau_follows_the_rule_by_hand():
    p = ReduceLROnPlateau(1.0, factor=0.5, patience=2, threshold=0.1)
    # best 10; 9.5, 9.2, 9.1 are not below 10 * 0.9 = 9: bad 1, 2, 3 > 2 -> lr 0.5 (count restarts);
    # 5 improves (best 5); 5, 5, 5 bad 1, 2, 3 -> 0.25; 4.4 < 4.5 improves
    metrics = [10, 9.5, 9.2, 9.1, 5, 5, 5, 5, 4.4]
    expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert [p.step(v) for v in metrics] == expected
    assert p.best == 4.4


def test_plateau_cooldown_abs_mode_and_min_lr():
    p = ReduceLROnPlateau(1.0, factor=0.1, patience=0, threshold=0.5, threshold_mode="abs", cooldown=1,
                          min_lr=0.05)
    # 3 improves on inf; 2.8 is not below 3 - 0.5: bad 1 > 0 -> 0.1, cooldown 1; 2.7: bad, but cooldown resets
    # the count; 2.6: bad 1 > 0 -> max(0.01, 0.05) = 0.05; then 0.05 stays (min_lr)
    assert [p.step(v) for v in [3, 2.8, 2.7, 2.6, 2.6, 2.6]] == [1, 0.1, 0.1, 0.05, 0.05, 0.05]


def test_early_stopping_follows_the_rule_by_hand():
    s = EarlyStopping(patience=2, min_delta=0.1)
    # best 1; 0.95 not below 0.9: wait 1; 0.5 improves; 0.45, 0.42: wait 1, 2 -> stop
    assert [s.step(v) for v in [1.0, 0.95, 0.5, 0.45, 0.42]] == [False, False, False, False, True]
    assert EarlyStopping().step(math.nan) is True


def test_bad_arguments():
    for kwargs in ({"factor": 1.0}, {"factor": 0}, {"patience": -1}, {"threshold_mode": "max"}):
        with pytest.raises(InvalidArgumentError):
            ReduceLROnPlateau(1e-3, **kwargs)
    with pytest.raises(InvalidArgumentError, match="lr"):
        ReduceLROnPlateau(0.0)
    with pytest.raises(InvalidArgumentError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(InvalidArgumentError, match="metric"):
        EarlyStopping().step("0.1")


def _small_problem():
    rho = mt.kernels.exponential(0.5)
    return lf_dataset(rho, 64, 12, seed=1), lf_dataset(rho, 32, 12, seed=2)


def test_train_applies_the_plateau_schedule_and_stops_early():
    data, val = _small_problem()
    model = mt.NonlinearRNN.random(1, 4, seed=0)
    plateau = ReduceLROnPlateau(0.05, factor=0.5, patience=0, threshold=0.2)
    stop = EarlyStopping(patience=3, min_delta=1e-3)
    lrs = []
    res = train(model, data, epochs=40, batch_size=16, val_data=val, plateau=plateau, early_stopping=stop,
                progress=False, callback=lambda e, loss, m: lrs.append(plateau.lr) and False)
    # replay: the step size after each epoch is that of a fresh schedule fed the recorded validation losses
    replay = ReduceLROnPlateau(0.05, factor=0.5, patience=0, threshold=0.2)
    assert lrs == [replay.step(v) for v in res.val_history]
    assert min(lrs) < 0.05  # the schedule reduced the step size at least once
    fresh = EarlyStopping(patience=3, min_delta=1e-3)
    flags = [fresh.step(v) for v in res.val_history]
    assert res.epochs < 40 and flags[-1] and not any(flags[:-1])  # stopped at the first epoch it said so
    with pytest.raises(InvalidArgumentError, match="plateau"):
        train(model, data, epochs=1, plateau=plateau, lr_schedule="cosine", progress=False)
    with pytest.raises(InvalidArgumentError, match="early_stopping"):
        train(model, data, epochs=1, early_stopping=3, progress=False)


@pytest.mark.parametrize("convention", ["reference", "quadrature"])
def test_gaussian_inputs_are_cumulative_sums_and_targets_follow(convention):
    rho = mt.kernels.power_law(1.5)
    n, T, dt = 3, 20, 0.5
    ds = lf_dataset(rho, n, T, dt, seed=4, convention=convention, gaussian_input=True)
    xi = np.random.default_rng(4).standard_normal((n, T, 1))
    white = dt * xi if convention == "reference" else xi / math.sqrt(dt)
    x = np.cumsum(white, axis=1)[:, :, 0]
    np.testing.assert_allclose(ds.x[:, :, 0], x, rtol=1e-14, atol=1e-15)
    g = rho(dt * np.arange(T)) * (1.0 if convention == "reference" else dt)
    y = np.array([[sum(g[s] * x[i, k - s] for s in range(k + 1)) for k in range(T)] for i in range(n)])
    np.testing.assert_allclose(ds.y, y, rtol=1e-12, atol=1e-13)
    with pytest.raises(InvalidArgumentError, match="gaussian_input"):
        lf_dataset(rho, n, T, gaussian_input="yes")


# ----------------------------------------------------------------------------- stability-margin penalty


@pytest.mark.parametrize("par", ["softplus", "exp", "direct"])
def test_margin_is_the_smallest_rate_and_its_gradient_matches_finite_differences(par):
    model = mt.NonlinearRNN.random(1, 5, parameterisation=par, structure="diagonal", seed=3)
    r, _ = model.rates()
    margin, grad = stability_margin(model)
    assert margin == float(np.min(r))
    value, g = margin_penalty(model, 0.01)
    assert value == pytest.approx(0.01 * max(0.0, 1.0 - margin), rel=1e-15)
    h = 1e-6
    for i in range(model.width):
        plus, minus = model.copy(), model.copy()
        plus.w = model.w + h * np.eye(model.width)[i]
        minus.w = model.w - h * np.eye(model.width)[i]
        fd = (margin_penalty(plus, 0.01)[0] - margin_penalty(minus, 0.01)[0]) / (2 * h)
        assert g[i] == pytest.approx(fd, rel=1e-6, abs=1e-12)


def test_train_with_the_penalty_takes_the_direct_adam_step():
    data, _ = _small_problem()
    model = mt.NonlinearRNN.random(1, 4, parameterisation="softplus", structure="diagonal", seed=5)
    manual = model.copy()
    train(model, data, epochs=1, batch_size=len(data), lr=1e-2, margin_weight=0.5, progress=False)
    loss, grads = manual.loss_and_grad(data.x, data.y)
    r, dr = manual.rates()
    i = int(np.argmin(r))
    assert r[i] < 1  # the penalty is active
    grads["w"][i] += -0.5 * dr[i]  # d/dw_i of 0.5 * (1 - r_i)
    params = manual.get_vector()
    optim.Adam(lr=1e-2).step(params, manual.pack(grads))
    manual.set_vector(params)
    manual.project()
    np.testing.assert_allclose(model.get_vector(), manual.get_vector(), rtol=1e-12, atol=1e-15)


def test_penalty_on_a_model_without_a_margin_is_an_error():
    data, _ = _small_problem()
    full = mt.NonlinearRNN.random(1, 3, structure="full", seed=0)
    with pytest.raises(InvalidArgumentError, match="no stability margin"):
        stability_margin(full)
    with pytest.raises(InvalidArgumentError, match="no stability margin"):
        train(full, data, epochs=1, margin_weight=0.01, progress=False)
    with pytest.raises(InvalidArgumentError, match="weight"):
        margin_penalty(mt.NonlinearRNN.random(1, 3, seed=0), -1.0)
