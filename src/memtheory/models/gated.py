"""Gated recurrent cells, GRU and LSTM, with a compiled (numba) forward pass and a linear readout.

The cells follow the usual (PyTorch ``nn.GRU`` / ``nn.LSTM``) equations, one step per input sample, state from
rest (``h_{-1} = 0``, and ``c_{-1} = 0`` for the LSTM), output ``y_k = c^T h_k + c_0``. The gate blocks of the
stacked weights are in PyTorch's order.

GRU, gates ``(r, z, n)``::

    r = sigmoid(W_r x + b_ir + V_r h + b_hr),  z = sigmoid(W_z x + b_iz + V_z h + b_hz)
    n = tanh(W_n x + b_in + r * (V_n h + b_hn)),  h' = (1 - z) * n + z * h

LSTM, gates ``(i, f, g, o)``::

    i, f, o = sigmoid(W_. x + b_i. + V_. h + b_h.),  g = tanh(W_g x + b_ig + V_g h + b_hg)
    c' = f * c + i * g,  h' = o * tanh(c')

with ``W = W_ih`` of shape ``(G m, d)``, ``V = W_hh`` of shape ``(G m, m)``, ``G = 3`` (GRU) or 4 (LSTM). Their
memory functions ([IAT] Fig. 10) come from :func:`memtheory.theory.memory.memory_function`, which simulates
``forward`` like any model (``dt = 1``: one sample per step).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .._validation import as_generator, as_real, check_finite, check_int
from ..errors import InvalidArgumentError, PrecisionError

__all__ = ["GRU", "LSTM"]


@njit(cache=True)
def _sigmoid(v: float) -> float:
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@njit(cache=True)
def _gru_forward(x, W, V, bi, bh, c, c0):  # pragma: no cover - compiled
    B, T, d = x.shape
    m = V.shape[1]
    y = np.empty((B, T))
    gi = np.empty(3 * m)
    gh = np.empty(3 * m)
    for s in range(B):
        h = np.zeros(m)
        for k in range(T):
            for j in range(3 * m):
                acc = bi[j]
                for q in range(d):
                    acc += W[j, q] * x[s, k, q]
                gi[j] = acc
                acc = bh[j]
                for q in range(m):
                    acc += V[j, q] * h[q]
                gh[j] = acc
            out = c0
            for j in range(m):
                r = _sigmoid(gi[j] + gh[j])
                z = _sigmoid(gi[m + j] + gh[m + j])
                n = math.tanh(gi[2 * m + j] + r * gh[2 * m + j])
                gi[j] = (1.0 - z) * n + z * h[j]  # new h_j (gi[j] is no longer needed)
            for j in range(m):
                h[j] = gi[j]
                out += c[j] * h[j]
            y[s, k] = out
    return y


@njit(cache=True)
def _lstm_forward(x, W, V, bi, bh, c, c0):  # pragma: no cover - compiled
    B, T, d = x.shape
    m = V.shape[1]
    y = np.empty((B, T))
    g = np.empty(4 * m)
    for s in range(B):
        h = np.zeros(m)
        cell = np.zeros(m)
        for k in range(T):
            for j in range(4 * m):
                acc = bi[j] + bh[j]
                for q in range(d):
                    acc += W[j, q] * x[s, k, q]
                for q in range(m):
                    acc += V[j, q] * h[q]
                g[j] = acc
            out = c0
            for j in range(m):
                i_g = _sigmoid(g[j])
                f_g = _sigmoid(g[m + j])
                g_g = math.tanh(g[2 * m + j])
                o_g = _sigmoid(g[3 * m + j])
                cell[j] = f_g * cell[j] + i_g * g_g
                h[j] = o_g * math.tanh(cell[j])
                out += c[j] * h[j]
            y[s, k] = out
    return y


class _Gated:
    """Shared parameter handling of :class:`GRU` and :class:`LSTM`."""

    gates: int = 0
    _kernel = None
    #: one sample per step (the memory function's sample spacing)
    dt = 1.0

    def __init__(self, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any, c: Any, c0: float = 0.0):
        W_hh = _finite(W_hh, "W_hh", 2)
        G = self.gates
        if W_hh.shape[0] % G or W_hh.shape[0] // G != W_hh.shape[1] or W_hh.shape[1] == 0:
            raise InvalidArgumentError(f"W_hh: must be ({G} m, m), got {W_hh.shape}")
        m = W_hh.shape[1]
        W_ih = _finite(W_ih, "W_ih", 2)
        if W_ih.shape[0] != G * m or W_ih.shape[1] == 0:
            raise InvalidArgumentError(f"W_ih: must be ({G * m}, d) for width {m}, got {W_ih.shape}")
        b_ih, b_hh, c = _finite(b_ih, "b_ih", 1), _finite(b_hh, "b_hh", 1), _finite(c, "c", 1)
        for name, v, n in (("b_ih", b_ih, G * m), ("b_hh", b_hh, G * m), ("c", c, m)):
            if v.shape != (n,):
                raise InvalidArgumentError(f"{name}: must have shape ({n},) for width {m}, got {v.shape}")
        c0 = check_finite("c0", c0)
        self.W_ih, self.W_hh, self.b_ih, self.b_hh, self.c, self.c0 = W_ih, W_hh, b_ih, b_hh, c, c0

    @classmethod
    def random(cls, input_dim: int = 1, width: int = 8, seed: int | np.random.Generator | None = 0,
               output_bias: bool = True):
        """Random cell with PyTorch's initialisation: every weight and bias ``~ U(-1/sqrt(m), 1/sqrt(m))``.

        Parameters
        ----------
        input_dim, width : int
            ``d`` and ``m``.
        seed : int, numpy Generator or None
            Source of randomness.
        output_bias : bool
            Draw ``c_0`` too (else 0).
        """
        d = check_int("input_dim", input_dim, lo=1)
        m = check_int("width", width, lo=1)
        rng = as_generator(seed)
        k = 1.0 / math.sqrt(m)
        G = cls.gates
        draw = lambda *shape: rng.uniform(-k, k, shape)  # noqa: E731
        return cls(draw(G * m, d), draw(G * m, m), draw(G * m), draw(G * m), draw(m),
                   float(draw(1)[0]) if output_bias else 0.0)

    @property
    def width(self) -> int:
        """Hidden width ``m``."""
        return self.W_hh.shape[1]

    @property
    def input_dim(self) -> int:
        """Input dimension ``d``."""
        return self.W_ih.shape[1]

    def forward(self, x: Any) -> np.ndarray:
        """Outputs ``y_k = c^T h_k + c_0`` for inputs ``x`` of shape ``(B, T, d)`` (or ``(B, T)`` when ``d = 1``).

        Returns
        -------
        ndarray (B, T)

        Raises
        ------
        InvalidArgumentError
            ``x`` not real and finite, or of the wrong shape.
        PrecisionError
            The outputs overflow (inputs so large that ``W_ih x`` leaves double range).
        """
        x = as_real(x, "x")
        if x.ndim == 2 and self.input_dim == 1:
            x = x[:, :, None]
        if x.ndim != 3 or x.shape[2] != self.input_dim or x.shape[0] == 0 or x.shape[1] == 0:
            raise InvalidArgumentError(f"x: must be (B, T, {self.input_dim}) with B, T >= 1, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InvalidArgumentError("x: must be finite")
        y = type(self)._kernel(np.ascontiguousarray(x), self.W_ih, self.W_hh, self.b_ih, self.b_hh, self.c, self.c0)
        if not np.all(np.isfinite(y)):  # bounded gates and state: only an overflow of W_ih x or the readout
            raise PrecisionError(f"x: the outputs overflow double precision (the gates' pre-activations W_ih x + b "
                                 f"or the readout; inputs up to {float(np.max(np.abs(x))):.3g}); rescale the inputs")
        return y

    __call__ = forward

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_dim={self.input_dim}, width={self.width})"


def _finite(v: Any, name: str, ndim: int) -> np.ndarray:
    a = np.ascontiguousarray(as_real(v, name))
    if a.ndim != ndim:
        raise InvalidArgumentError(f"{name}: must be {ndim}-D, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InvalidArgumentError(f"{name}: must be finite")
    return a


class GRU(_Gated):
    """GRU cell with a linear readout (module docstring for the equations; gates ``(r, z, n)``).

    Parameters
    ----------
    W_ih : array (3m, d)
    W_hh : array (3m, m)
    b_ih, b_hh : array (3m,)
    c : array (m,)
        Readout.
    c0 : float
        Output bias.

    Examples
    --------
    >>> import numpy as np
    >>> from memtheory.models.gated import GRU
    >>> gru = GRU.random(1, 4, seed=0)
    >>> gru.forward(np.zeros((2, 5))).shape
    (2, 5)
    """

    gates = 3
    _kernel = staticmethod(_gru_forward)


class LSTM(_Gated):
    """LSTM cell with a linear readout (module docstring for the equations; gates ``(i, f, g, o)``).

    Parameters
    ----------
    W_ih : array (4m, d)
    W_hh : array (4m, m)
    b_ih, b_hh : array (4m,)
    c : array (m,)
        Readout.
    c0 : float
        Output bias.

    Examples
    --------
    >>> import numpy as np
    >>> from memtheory.models.gated import LSTM
    >>> LSTM.random(2, 3, seed=1).forward(np.ones((1, 4, 2))).shape
    (1, 4)
    """

    gates = 4
    _kernel = staticmethod(_lstm_forward)
