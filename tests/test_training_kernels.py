"""The training kernels' BPTT gradient at the block layouts the benchmark uses, against complex-step derivatives.

The reference is independent of the kernels: a numpy forward pass of the residual RNN in complex arithmetic,
``L(theta + i eps v)``, whose imaginary part over ``eps`` is the directional derivative ``grad L . v`` to rounding
(no subtraction, so ``eps = 1e-30`` loses nothing). It checks the layouts the block-size rule picks: wide models
(GEMM-bound blocks of 64 samples with a shorter last block) and long sequences (many blocks of 8 samples).
"""

from __future__ import annotations

import numpy as np
import pytest

from memtheory.models.nonlinear import NonlinearRNN
from memtheory.models.rnn_kernels import block_size, n_chunks
from memtheory.training import reference_time_weights

_EPS = 1e-30


def _complex_loss(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, tw: np.ndarray, dt: float) -> complex:
    """Loss of the conjugated softplus tanh RNN, one time step at a time, in complex arithmetic."""
    w, P, U, b, c, c0 = (params[k] for k in ("w", "P", "U", "b", "c", "c0"))
    sp = np.log1p(np.exp(w))  # softplus: W_+ = P^T diag(softplus(w)) P (plain transpose: analytic in theta)
    Wp = P.T @ (sp[:, None] * P)
    h = np.zeros((x.shape[0], U.shape[0]), dtype=complex)
    total = 0.0 + 0.0j
    for k in range(x.shape[1]):
        h = h + dt * np.tanh(x[:, k, :] @ U.T + b - h @ Wp.T)
        err = h @ c + c0 - y[:, k]
        total = total + tw[k] * np.sum(err * err)
    return total / (x.shape[0] * x.shape[1])


@pytest.mark.parametrize("width,T,batch", [(130, 7, 150), (12, 300, 70)])
def test_bptt_matches_complex_step_at_benchmark_layouts(width, T, batch):
    rng = np.random.default_rng(width)
    model = NonlinearRNN.random(1, width, activation="tanh", structure="conjugated", parameterisation="softplus",
                                dt=0.5, seed=3)
    model.b = 0.3 * rng.standard_normal(width)
    model.c0 = np.array(0.2)
    x, y = rng.standard_normal((batch, T, 1)), rng.standard_normal((batch, T))
    tw = reference_time_weights(T)
    per_chunk = -(-batch // n_chunks(batch))
    assert per_chunk > block_size(batch, T, width, True) and per_chunk % block_size(batch, T, width, True)
    loss, grads = model.loss_and_grad(x, y, tw)
    params = model.get_params()
    ref_loss = _complex_loss(params, x, y, tw, model.dt)
    assert loss == pytest.approx(ref_loss.real, rel=1e-13)
    for trial in range(3):
        v = {k: rng.standard_normal(np.shape(p)) for k, p in params.items()}
        shifted = {k: params[k] + 1j * _EPS * v[k] for k in params}
        directional = _complex_loss(shifted, x, y, tw, model.dt).imag / _EPS
        ours = sum(float(np.sum(grads[k] * v[k])) for k in params)
        scale = sum(float(np.sum(np.abs(grads[k] * v[k]))) for k in params)
        assert abs(ours - directional) <= 1e-12 * scale, (trial, ours, directional)
    # each parameter group on its own (a wrong gradient of one array cannot hide behind the others)
    for k in params:
        v = rng.standard_normal(np.shape(params[k]))
        shifted = dict(params)
        shifted[k] = params[k] + 1j * _EPS * v
        directional = _complex_loss(shifted, x, y, tw, model.dt).imag / _EPS
        ours = float(np.sum(grads[k] * v))
        assert abs(ours - directional) <= 1e-12 * float(np.sum(np.abs(grads[k] * v))) + 1e-300, k
