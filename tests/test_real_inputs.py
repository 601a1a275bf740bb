"""Inputs that are not real numbers are refused with a message naming the argument, at every model and data entry
point (memtheory._validation.as_real, as_generator and check_finite are their one check): complex values used to
lose their imaginary parts behind a ComplexWarning, strings raised numpy's own errors, a string seed a TypeError
from numpy, and a numpy integer c0 was refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import memtheory as mt
from memtheory.errors import InvalidArgumentError
from memtheory.models import GRU, LSTM, SSM, NonlinearRNN
from memtheory.theory.error_norms import sampled_error_norm
from memtheory.training import lf_dataset
from memtheory.training.teachers import RNNTeacher

MODELS = {"GRU": lambda: GRU.random(1, 3, seed=0), "LSTM": lambda: LSTM.random(1, 3, seed=0),
          "SSM": lambda: SSM.random(1, 3, seed=0), "teacher": lambda: RNNTeacher.random(1, 4, seed=0),
          "NonlinearRNN": lambda: NonlinearRNN.random(1, 3, seed=0)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_refuses_complex_and_non_numeric_inputs(name):
    model = MODELS[name]()
    x = np.linspace(-1, 1, 10).reshape(2, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning either: a clear error
        with pytest.raises(InvalidArgumentError, match="x: must be real, got complex"):
            model.forward(x * (1 + 0.5j))
        with pytest.raises(InvalidArgumentError, match="x: must be real numbers"):
            model.forward("abc")
        # a complex array whose imaginary parts are all 0 is its real part
        np.testing.assert_array_equal(model.forward(x + 0j), model.forward(x))


@pytest.mark.parametrize("cls", [GRU, LSTM, SSM, RNNTeacher, NonlinearRNN])
@pytest.mark.parametrize("seed", ["x", 1.5, -1])
def test_random_refuses_a_seed_that_is_not_a_nonnegative_integer(cls, seed):
    with pytest.raises(InvalidArgumentError, match="seed"):
        cls.random(1, 3, seed=seed)


@pytest.mark.parametrize("cls", [GRU, LSTM, RNNTeacher])
def test_c0_may_be_a_numpy_number_but_not_a_string_or_nan(cls):
    m = cls.random(1, 3, seed=0)
    args = (m.W_ih, m.W_hh, m.b_ih, m.b_hh, m.c)
    assert cls(*args, c0=np.int64(1)).c0 == 1.0
    assert cls(*args, c0=np.float32(0.5)).c0 == 0.5
    for bad in ("1", float("nan"), True):
        with pytest.raises(InvalidArgumentError, match="c0"):
            cls(*args, c0=bad)


def test_sampled_error_norm_refuses_targets_it_cannot_measure_against():
    out = np.zeros((2, 3))
    with pytest.raises(InvalidArgumentError, match="targets: must be finite"):
        sampled_error_norm(out, np.full((2, 3), np.nan), 1.0)
    with pytest.raises(InvalidArgumentError, match="outputs: must be real numbers"):
        sampled_error_norm("ab", out, 1.0)
    with pytest.raises(InvalidArgumentError, match="targets: must be real, got complex"):
        sampled_error_norm(out, out + 1j, 1.0)
    # a numpy dt is a number; an output that blew up is an infinite error, not an input error
    assert sampled_error_norm([[0.0, 0.5, 0.5]], [[0.0, 0.0, 0.0]], np.float32(0.5), "w1") == 1.5
    assert sampled_error_norm([[np.inf, 0.0]], [[0.0, 0.0]], 1.0) == np.inf


def test_datasets_and_functionals_refuse_a_complex_kernel():
    with pytest.raises(InvalidArgumentError, match="rho\\(t\\): must be real, got complex"):
        lf_dataset(lambda t: np.exp(-t) * (1 + 1j), 4, 10, 0.1)
    lf = mt.LinearFunctional(lambda t: np.exp(-t) * (1 + 1j))
    with pytest.raises(InvalidArgumentError, match="must be real"):
        lf.evaluate(np.ones(5))
    with pytest.raises(InvalidArgumentError, match="x: must be real, got complex"):
        mt.LinearFunctional(mt.kernels.exponential(1.0)).evaluate(np.ones(5) * 1j)


@pytest.mark.parametrize("cls", [GRU, LSTM, RNNTeacher])
def test_inputs_whose_drive_overflows_raise_instead_of_nan(cls):
    """Bounded cells can only produce NaN when W_ih x overflows: inputs of 1e308 with weights of about 1 used to
    give NaN outputs without a word."""
    from memtheory.errors import PrecisionError

    m = cls.random(4, 3, seed=0)
    loud = cls(m.W_ih * 5.0, m.W_hh, m.b_ih, m.b_hh, m.c, m.c0)
    x = np.array([1e308, 1e308, -1e308, -1e308] * 2).reshape(1, 2, 4)
    with pytest.raises(PrecisionError, match="overflow"):
        loud.forward(x)
    assert np.all(np.isfinite(loud.forward(x * 1e-300)))


def test_teacher_weights_near_the_double_range_raise_instead_of_inf():
    """|h| <= 1 bounds the teacher's state, but a readout of about 1e308 still overflows c^T h: the teacher used to
    return inf for it (biases of 5 saturate h near 1, so the sum is about 5e308)."""
    from memtheory.errors import PrecisionError

    m = RNNTeacher.random(1, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5))
    big = RNNTeacher(m.W_ih, m.W_hh, np.full(3, 5.0), m.b_hh, np.full(3, 1.7e308), m.c0)
    with pytest.raises(PrecisionError, match="overflows"):
        big.forward(x)
    assert np.all(np.isfinite(RNNTeacher(m.W_ih, m.W_hh, np.full(3, 5.0), m.b_hh, np.full(3, 1e307), m.c0).forward(x)))
