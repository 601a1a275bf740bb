"""GRU and LSTM cells (memtheory.models.gated) against an independent step-by-step numpy implementation.

The reference below is written from the PyTorch equations with whole-matrix numpy products (the compiled cells
loop over scalars), one sequence and one step at a time. Memory functions of the cells are compared with those of
the reference wrapped as a black-box callable, for the three test inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from memtheory.errors import InvalidArgumentError
from memtheory.models.gated import GRU, LSTM
from memtheory.theory.memory import memory_function


def _sig(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # = 1 / (1 + e^-v), written differently from the compiled one


def gru_reference(cell: GRU, x: np.ndarray) -> np.ndarray:
    m = cell.width
    Wr, Wz, Wn = np.split(cell.W_ih, 3)
    Vr, Vz, Vn = np.split(cell.W_hh, 3)
    bir, biz, bin_ = np.split(cell.b_ih, 3)
    bhr, bhz, bhn = np.split(cell.b_hh, 3)
    out = np.empty(x.shape[:2])
    for s in range(x.shape[0]):
        h = np.zeros(m)
        for k in range(x.shape[1]):
            xk = x[s, k]
            r = _sig(Wr @ xk + bir + Vr @ h + bhr)
            z = _sig(Wz @ xk + biz + Vz @ h + bhz)
            n = np.tanh(Wn @ xk + bin_ + r * (Vn @ h + bhn))
            h = (1 - z) * n + z * h
            out[s, k] = cell.c @ h + cell.c0
    return out


def lstm_reference(cell: LSTM, x: np.ndarray) -> np.ndarray:
    m = cell.width
    W = np.split(cell.W_ih, 4)
    V = np.split(cell.W_hh, 4)
    b = np.split(cell.b_ih + cell.b_hh, 4)
    out = np.empty(x.shape[:2])
    for s in range(x.shape[0]):
        h, c = np.zeros(m), np.zeros(m)
        for k in range(x.shape[1]):
            pre = [W[j] @ x[s, k] + V[j] @ h + b[j] for j in range(4)]
            i, f, g, o = _sig(pre[0]), _sig(pre[1]), np.tanh(pre[2]), _sig(pre[3])
            c = f * c + i * g
            h = o * np.tanh(c)
            out[s, k] = cell.c @ h + cell.c0
    return out


CELLS = [(GRU, gru_reference), (LSTM, lstm_reference)]


@pytest.mark.parametrize("cls, reference", CELLS, ids=["GRU", "LSTM"])
@pytest.mark.parametrize("d, m", [(1, 1), (1, 6), (3, 5)])
def test_forward_matches_the_step_by_step_reference(cls, reference, d, m):
    cell = cls.random(d, m, seed=m + d)
    x = np.random.default_rng(0).standard_normal((4, 30, d))
    np.testing.assert_allclose(cell.forward(x), reference(cell, x), rtol=1e-13, atol=1e-14)
    if d == 1:
        np.testing.assert_array_equal(cell.forward(x[:, :, 0]), cell.forward(x))


@pytest.mark.parametrize("cls, reference", CELLS, ids=["GRU", "LSTM"])
@pytest.mark.parametrize("kind", ["heaviside", "impulse", "reversed"])
def test_memory_function_matches_the_reference_as_a_black_box(cls, reference, kind):
    cell = cls.random(1, 8, seed=3)
    t = np.arange(0, 40)
    ours = memory_function(cell, t, kind=kind, warmup=60)
    ref = memory_function(lambda x: reference(cell, x[:, :, None]), t, kind=kind, warmup=60)
    np.testing.assert_allclose(ours.values, ref.values, rtol=1e-9, atol=1e-13)
    assert np.all(np.isfinite(ours.values)) and ours.values[0] > 0


def test_bad_shapes_give_clear_errors():
    g = GRU.random(2, 3, seed=0)
    with pytest.raises(InvalidArgumentError, match=r"W_hh: must be \(3 m, m\)"):
        GRU(g.W_ih, g.W_hh[:, :2], g.b_ih, g.b_hh, g.c)
    with pytest.raises(InvalidArgumentError, match="W_ih"):
        GRU(g.W_ih[:6], g.W_hh, g.b_ih, g.b_hh, g.c)
    with pytest.raises(InvalidArgumentError, match="b_hh"):
        GRU(g.W_ih, g.W_hh, g.b_ih, g.b_hh[:4], g.c)
    with pytest.raises(InvalidArgumentError, match=r"W_hh: must be \(4 m, m\)"):
        LSTM(g.W_ih, g.W_hh, g.b_ih, g.b_hh, g.c)  # GRU-shaped weights
    with pytest.raises(InvalidArgumentError, match=r"x: must be \(B, T, 2\)"):
        g.forward(np.zeros((1, 5)))
    with pytest.raises(InvalidArgumentError, match="finite"):
        GRU(g.W_ih * np.nan, g.W_hh, g.b_ih, g.b_hh, g.c)
    with pytest.raises(InvalidArgumentError, match="dt"):
        memory_function(GRU.random(1, 2), np.arange(3), dt=0.5)
