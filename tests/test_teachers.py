"""The reference code's Filter task (random RNN teachers) and the LRU input scale, against direct loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memtheory.errors import InvalidArgumentError
from memtheory.models.reparam import lru_input_scale
from memtheory.theory.memory import memory_function
from memtheory.training.teachers import RNNTeacher, rnn_teacher_dataset


def _step_by_step(t: RNNTeacher, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[:2])
    for s in range(x.shape[0]):
        h = [0.0] * t.width
        for k in range(x.shape[1]):
            h = [math.tanh(sum(t.W_ih[i, q] * x[s, k, q] for q in range(x.shape[2])) + t.b_ih[i] + t.b_hh[i]
                           + sum(t.W_hh[i, j] * h[j] for j in range(t.width))) for i in range(t.width)]
            out[s, k] = sum(t.c[i] * h[i] for i in range(t.width)) + t.c0
    return out


@pytest.mark.parametrize("d, m", [(1, 7), (2, 5)])
def test_teacher_forward_matches_a_scalar_loop(d, m):
    teacher = RNNTeacher.random(d, m, seed=2)
    assert np.all(np.abs(teacher.W_hh) <= 1 / math.sqrt(m))  # PyTorch's U(-1/sqrt(m), 1/sqrt(m))
    x = np.random.default_rng(1).standard_normal((3, 15, d))
    np.testing.assert_allclose(teacher.forward(x), _step_by_step(teacher, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("gaussian", [False, True])
def test_dataset_inputs_and_targets(gaussian):
    teacher = RNNTeacher.random(1, 6, seed=0)
    x, y, t = rnn_teacher_dataset(4, 12, teacher=teacher, dt=0.5, seed=3, gaussian_input=gaussian)
    white = 0.5 * np.random.default_rng(3).standard_normal((4, 12, 1))
    np.testing.assert_allclose(x, np.cumsum(white, axis=1) if gaussian else white, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(y, _step_by_step(teacher, x), rtol=1e-12, atol=1e-14)
    assert t is teacher
    x2, y2, t2 = rnn_teacher_dataset(2, 5, seed=1)
    assert t2.width == 256 and y2.shape == (2, 5)  # the paper's teacher width by default


def test_teacher_memory_function_is_available():
    teacher = RNNTeacher.random(1, 32, seed=0)
    mf = memory_function(teacher, np.arange(30), kind="impulse", warmup=50)
    assert np.all(np.isfinite(mf.values)) and mf.values[0] > mf.values[-1]


def test_lru_input_scale_keeps_the_stationary_variance():
    lam = np.array([0.3, -0.9, 0.99, 0.5 + 0.5j, 0.0])
    s = lru_input_scale(lam)
    np.testing.assert_allclose(s, [math.sqrt(1 - abs(v) ** 2) for v in lam], rtol=1e-15)
    # sum_k |lambda|^(2k) s^2 = 1: the response to white noise has the input's variance
    for v, sv in zip(lam, s):
        total = math.fsum(abs(v) ** (2 * k) * sv**2 for k in range(20000))
        assert total == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(InvalidArgumentError, match=r"\|lambda\| <= 1"):
        lru_input_scale([1.2])


def test_bad_teacher_shapes():
    t = RNNTeacher.random(1, 4, seed=0)
    with pytest.raises(InvalidArgumentError, match="W_hh"):
        RNNTeacher(t.W_ih, t.W_hh[:, :3], t.b_ih, t.b_hh, t.c)
    with pytest.raises(InvalidArgumentError, match="c"):
        RNNTeacher(t.W_ih, t.W_hh, t.b_ih, t.b_hh, t.c[:2])
    with pytest.raises(InvalidArgumentError, match="x"):
        t.forward(np.zeros((2, 3, 2)))
    with pytest.raises(InvalidArgumentError, match="teacher"):
        rnn_teacher_dataset(2, 3, teacher="rnn")
