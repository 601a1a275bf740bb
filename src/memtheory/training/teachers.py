"""The reference code's "Filter" task: targets produced by a random RNN teacher ([IAT] Fig. 3).

The reference (github.com/radarFudan/Curse-of-memory, ``src/data/components/filter/datagen.py``) draws a
``torch.nn.RNN`` (Elman, tanh, one layer) ``h_k = tanh(W_ih x_k + b_ih + W_hh h_{k-1} + b_hh)``, ``h_{-1} = 0``,
with a linear readout ``y_k = c^T h_k + c_0``, every weight and bias ``~ U(-1/sqrt(m), 1/sqrt(m))`` (PyTorch's
initialisation), and feeds it the LF inputs (white noise ``dt N(0, 1)``, optionally their cumulative sums);
the paper's Fig. 3 uses teachers of width 256. :class:`RNNTeacher` is that teacher (its memory function comes from
:func:`memtheory.theory.memory.memory_function`, ``dt = 1``), :func:`rnn_teacher_dataset` the data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import as_generator, as_real, check_finite, check_int, check_positive
from ..errors import InvalidArgumentError, PrecisionError

__all__ = ["RNNTeacher", "rnn_teacher_dataset"]


class RNNTeacher:
    """Random Elman tanh RNN with a linear readout (module docstring).

    Parameters
    ----------
    W_ih : array (m, d)
    W_hh : array (m, m)
    b_ih, b_hh, c : array (m,)
    c0 : float

    Examples
    --------
    >>> import numpy as np
    >>> from memtheory.training.teachers import RNNTeacher
    >>> RNNTeacher.random(width=16, seed=0).forward(np.zeros((2, 5, 1))).shape
    (2, 5)
    """

    #: one sample per step (the memory function's sample spacing)
    dt = 1.0

    def __init__(self, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any, c: Any, c0: float = 0.0):
        arrays = {}
        for name, v, nd in (("W_ih", W_ih, 2), ("W_hh", W_hh, 2), ("b_ih", b_ih, 1), ("b_hh", b_hh, 1), ("c", c, 1)):
            a = as_real(v, name)
            if a.ndim != nd or not np.all(np.isfinite(a)) or a.size == 0:
                raise InvalidArgumentError(f"{name}: must be a finite non-empty {nd}-D array, got shape {a.shape}")
            arrays[name] = a
        m = arrays["W_hh"].shape[0]
        if arrays["W_hh"].shape != (m, m) or arrays["W_ih"].shape[0] != m:
            raise InvalidArgumentError(f"W_hh must be (m, m) and W_ih (m, d); got {arrays['W_hh'].shape}, "
                                       f"{arrays['W_ih'].shape}")
        for name in ("b_ih", "b_hh", "c"):
            if arrays[name].shape != (m,):
                raise InvalidArgumentError(f"{name}: must have shape ({m},), got {arrays[name].shape}")
        c0 = check_finite("c0", c0)
        self.W_ih, self.W_hh = arrays["W_ih"], arrays["W_hh"]
        self.b_ih, self.b_hh, self.c, self.c0 = arrays["b_ih"], arrays["b_hh"], arrays["c"], c0

    @classmethod
    def random(cls, input_dim: int = 1, width: int = 256, seed: int | np.random.Generator | None = 0) -> RNNTeacher:
        """A teacher with PyTorch's initialisation ``U(-1/sqrt(m), 1/sqrt(m))`` (readout too)."""
        d = check_int("input_dim", input_dim, lo=1)
        m = check_int("width", width, lo=1)
        rng = as_generator(seed)
        k = 1.0 / math.sqrt(m)
        u = lambda *shape: rng.uniform(-k, k, shape)  # noqa: E731
        return cls(u(m, d), u(m, m), u(m), u(m), u(m), float(u(1)[0]))

    @property
    def width(self) -> int:
        """Hidden width ``m``."""
        return self.W_hh.shape[0]

    @property
    def input_dim(self) -> int:
        """Input dimension ``d``."""
        return self.W_ih.shape[1]

    def forward(self, x: Any) -> np.ndarray:
        """Outputs ``(B, T)`` for inputs ``(B, T, d)`` (or ``(B, T)`` when ``d = 1``), from ``h_{-1} = 0``."""
        x = as_real(x, "x")
        if x.ndim == 2 and self.input_dim == 1:
            x = x[:, :, None]
        if x.ndim != 3 or x.shape[2] != self.input_dim or not np.all(np.isfinite(x)):
            raise InvalidArgumentError(f"x: must be finite, of shape (B, T, {self.input_dim}), got {x.shape}")
        B, T, _ = x.shape
        with np.errstate(over="ignore", invalid="ignore"):
            drive = x @ self.W_ih.T + (self.b_ih + self.b_hh)  # (B, T, m), all steps at once
        if not np.all(np.isfinite(drive)):  # the state is bounded by tanh: only this can overflow
            raise PrecisionError(f"x: the input drive W_ih x + b overflows double precision (inputs up to "
                                 f"{float(np.max(np.abs(x))):.3g}); rescale the inputs")
        h = np.zeros((B, self.width))
        y = np.empty((B, T))
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(T):
                h = np.tanh(drive[:, k] + h @ self.W_hh.T)
                y[:, k] = h @ self.c + self.c0
        if not np.all(np.isfinite(y)):  # |h| <= 1, so only weights near the double range get here
            raise PrecisionError("the teacher's recurrent sum W_hh h or readout c^T h overflows double precision "
                                 f"(largest |W_hh| {float(np.max(np.abs(self.W_hh))):.3g}, largest |c| "
                                 f"{float(np.max(np.abs(self.c))):.3g}, width {self.width}); rescale the weights")
        return y

    __call__ = forward


def rnn_teacher_dataset(n_samples: int, T: int, teacher: RNNTeacher | None = None, dt: float = 1.0,
                        seed: int | np.random.Generator | None = 0, gaussian_input: bool = False,
                        width: int = 256) -> tuple[np.ndarray, np.ndarray, RNNTeacher]:
    """Inputs, targets and teacher of the reference's Filter task (module docstring).

    Parameters
    ----------
    n_samples, T : int
        Number of sequences and their length.
    teacher : RNNTeacher, optional
        Default: ``RNNTeacher.random(1, width, seed)``.
    dt : float
        Input scale: ``x = dt N(0, 1)`` (the reference's LF inputs).
    seed : int, numpy Generator or None
        One source of randomness for the teacher (when drawn) and then the inputs.
    gaussian_input : bool
        Cumulative sums of the inputs over time (the reference's ``Gaussian_input``).
    width : int
        Width of a drawn teacher (the paper's Fig. 3: 256).

    Returns
    -------
    x : ndarray (n, T, d)
    y : ndarray (n, T)
    teacher : RNNTeacher
    """
    n = check_int("n_samples", n_samples, lo=1)
    T = check_int("T", T, lo=1)
    dt = check_positive("dt", dt)
    if not isinstance(gaussian_input, (bool, np.bool_)):
        raise InvalidArgumentError(f"gaussian_input: must be True or False, got {gaussian_input!r}")
    rng = as_generator(seed)
    if teacher is None:
        teacher = RNNTeacher.random(1, width, rng)
    elif not isinstance(teacher, RNNTeacher):
        raise InvalidArgumentError(f"teacher: must be an RNNTeacher, got {type(teacher).__name__}")
    x = dt * rng.standard_normal((n, T, teacher.input_dim))
    if gaussian_input:
        x = np.cumsum(x, axis=1)
    return x, teacher.forward(x), teacher
