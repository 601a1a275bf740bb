"""State-space-form models: a diagonal linear recurrence with the activation after it ([SSSM]).

Model, width ``m``, input dimension ``d``, scalar output, ``h_{-1} = 0``::

    h_k = lambda * h_{k-1} + g(lambda) * (B x_k),     y_k = c^T sigma(h_k + b) + c_0,     k = 0..T-1,

with ``*`` elementwise, ``lambda_i = f(w_i)`` a *discrete* reparameterisation of :mod:`memtheory.models.reparam`
(``"lru"``: ``exp(-exp(w))``, ``"sigmoid"``, ``"discrete_best"``, ``"discrete_direct"``, ``"inverse"``), so
``|lambda_i| < 1`` is the stability of the recurrence, and the input scale

* ``input_scaling="lru"``: ``g(lambda) = sqrt(1 - lambda^2)``, the LRU's normalisation
  (:func:`memtheory.models.reparam.lru_input_scale`, the reference's ``weight_residual``), which keeps the
  stationary variance of ``h`` equal to that of a white-noise drive;
* ``input_scaling=None``: ``g = 1``.

Unlike the residual RNN of :mod:`memtheory.models.nonlinear` (activation inside the recurrence), the state here is
linear in the inputs, ``h_k = sum_{s<=k} lambda^s g B x_{k-s}``, and the nonlinearity acts on the readout only: the
memory of the model is carried by the modes ``lambda_i^t``. With ``activation="linear"`` the model is the linear
functional with kernel ``rho(t) = sum_i c_i g_i B_i lambda_i^t`` on ``t = 0, 1, ...`` (``d = 1``).

``y_k`` depends on ``x_0..x_k`` (the state after reading ``x_k``), as the linear-functional targets of
:mod:`memtheory.training.datasets` do; one input sample per step (``dt = 1`` for
:func:`memtheory.theory.memory.memory_function`).

Loss ``L = 1/(B T) sum_{n,k} omega_k (y_{n,k} - target_{n,k})^2`` and its gradient by backpropagation through
time in one compiled (numba) pass, parallel over the batch: the adjoint ``a_k = dL/dh_k`` obeys
``a_k = c * sigma'(h_k + b) dL/dy_k + lambda * a_{k+1}``, and ``dL/dlambda = sum_k a_k * (h_{k-1} + g'(lambda) B x_k)``,
``dL/dB = sum_k (a_k * g) x_k^T``, ``dL/dw = f'(w) dL/dlambda``. The same parameter-vector interface as
:class:`~memtheory.models.nonlinear.NonlinearRNN` (``get_vector`` / ``set_vector`` / ``pack`` / ``project``), so
:func:`memtheory.training.train` trains it.

Naming: this is the state-space form of [SSSM] (linear recurrence, nonlinearity on the readout), with the LRU's
input normalisation applied to the eigenvalue ``lambda`` of the recurrence. The reference code has neither
exactly: its ``LRU`` (``src/models/recurrent/lru.py``) is a residual recurrence with the activation inside,
``h_k = h_{k-1} + sigma(mu h_{k-1} + sqrt(1 - mu^2) x_k)``, ``mu = exp(-exp(w)) - 1`` (for a linear activation
this model's recurrence with ``lambda = 1 + mu``, but an input scale ``sqrt(1 - mu^2)``), and its ``SimpleSSM``
(``src/models/recurrent/ssm.py``) is a residual RNN between two MLPs.

References
----------
[SSSM] S. Wang, Q. Li. StableSSM: Alleviating the Curse of Memory in State-space Models through Stable
Reparameterization. ICML 2024 (arXiv 2311.14495). Reference code: github.com/radarFudan/Curse-of-memory
(``src/models/recurrent/lru.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from .._validation import as_generator, check_array_size
from ..display import Displayable
from ..errors import InvalidArgumentError
from .parameters import TrainableParameters, as_real_array
from .reparam import Parameterisation, get_parameterisation, lru_input_scale
from .rnn_kernels import ACTIVATIONS, activate, n_chunks

__all__ = ["INPUT_SCALINGS", "SSM"]

#: Input scalings ``g(lambda)`` (module docstring).
INPUT_SCALINGS = (None, "lru")

_JIT = dict(cache=True, error_model="numpy")


# =========================================================================== compiled kernels


@njit(**_JIT)
def _drive(x, n, k, Bm, g, u) -> None:
    """``u = g * (B x_{n,k})``."""
    m, d = Bm.shape
    for i in range(m):
        acc = 0.0
        for j in range(d):
            acc += Bm[i, j] * x[n, k, j]
        u[i] = g[i] * acc


@njit(parallel=True, **_JIT)
def _forward_kernel(x, lam, g, Bm, bias, c, c0, act, nchunks):
    """Outputs ``(B, T)``."""
    B, T, _ = x.shape
    m = lam.shape[0]
    y = np.empty((B, T))
    for ci in prange(nchunks):
        lo, hi = ci * B // nchunks, (ci + 1) * B // nchunks
        h = np.empty(m)
        u = np.empty(m)
        z = np.empty(m)
        dz = np.empty(m)
        for n in range(lo, hi):
            h[:] = 0.0
            for k in range(T):
                _drive(x, n, k, Bm, g, u)
                for i in range(m):
                    h[i] = lam[i] * h[i] + u[i]
                    z[i] = h[i] + bias[i]
                activate(act, z, dz)
                acc = c0
                for i in range(m):
                    acc += c[i] * z[i]
                y[n, k] = acc
    return y


@njit(parallel=True, **_JIT)
def _loss_grad_kernel(x, y, tw, lam, g, Bm, bias, c, c0, act, nchunks):
    """Loss and per-chunk gradients w.r.t. ``lambda`` (through the recurrence), ``g``, ``B``, ``b``, ``c``, ``c_0``."""
    B, T, d = x.shape
    m = lam.shape[0]
    scale = 1.0 / (B * T)
    losses = np.zeros(nchunks)
    glam = np.zeros((nchunks, m))
    gg = np.zeros((nchunks, m))
    gB = np.zeros((nchunks, m, d))
    gb = np.zeros((nchunks, m))
    gc = np.zeros((nchunks, m))
    gc0 = np.zeros(nchunks)
    for ci in prange(nchunks):
        lo, hi = ci * B // nchunks, (ci + 1) * B // nchunks
        H = np.empty((T, m))
        S = np.empty((T, m))
        D = np.empty((T, m))
        E = np.empty(T)
        u = np.empty(m)
        ones = np.ones(m)
        a = np.empty(m)
        for n in range(lo, hi):
            for k in range(T):
                _drive(x, n, k, Bm, g, u)
                for i in range(m):
                    prev = H[k - 1, i] if k > 0 else 0.0
                    H[k, i] = lam[i] * prev + u[i]
                    S[k, i] = H[k, i] + bias[i]
                activate(act, S[k], D[k])
                out = c0
                for i in range(m):
                    out += c[i] * S[k, i]
                r = out - y[n, k]
                losses[ci] += tw[k] * r * r * scale
                E[k] = 2.0 * tw[k] * r * scale
            a[:] = 0.0
            for k in range(T - 1, -1, -1):
                e = E[k]
                gc0[ci] += e
                _drive(x, n, k, Bm, ones, u)  # u = B x_k (unscaled)
                for i in range(m):
                    q = e * c[i] * D[k, i]
                    a[i] = q + lam[i] * a[i]
                    gc[ci, i] += e * S[k, i]
                    gb[ci, i] += q
                    if k > 0:
                        glam[ci, i] += a[i] * H[k - 1, i]
                    gg[ci, i] += a[i] * u[i]
                    ag = a[i] * g[i]
                    for j in range(d):
                        gB[ci, i, j] += ag * x[n, k, j]
    return losses.sum(), glam, gg, gB, gb, gc, gc0


# =========================================================================== model


class SSM(TrainableParameters, Displayable):
    """Diagonal state-space model ``h_k = lambda h_{k-1} + g(lambda) B x_k``, ``y_k = c^T sigma(h_k + b) + c_0``.

    Parameters
    ----------
    w : array (m,)
        Raw eigenvalue parameters, ``lambda = f(w)``.
    B : array (m, d)
        Input matrix.
    c : array (m,)
        Readout.
    b : array (m,), optional
        Bias inside the activation (default 0).
    activation : {"linear", "tanh", "hardtanh", "relu"}
        The nonlinearity ``sigma`` after the recurrence.
    parameterisation : str or Parameterisation
        A discrete map of :mod:`memtheory.models.reparam` (default ``"lru"``).
    input_scaling : {None, "lru"}
        ``g(lambda) = 1`` or ``sqrt(1 - lambda^2)``.
    output_bias : float or None
        Trainable ``c_0``; ``None`` for none.
    **constants : float
        Constants of the map (``a``, ``b`` of "discrete_best").

    Raises
    ------
    InvalidArgumentError
        Unknown activation, parameterisation or input scaling, a continuous map, inconsistent shapes,
        non-finite values, raw parameters outside the map's domain.

    Examples
    --------
    >>> import numpy as np
    >>> from memtheory.models import SSM
    >>> model = SSM.random(1, 4, activation="tanh", input_scaling="lru", seed=0)
    >>> model.forward(np.zeros((2, 5))).shape
    (2, 5)
    """

    #: one input sample per step
    dt = 1.0

    def __init__(self, w: Any, B: Any, c: Any, b: Any = None, *, activation: str = "tanh",
                 parameterisation: str | Parameterisation = "lru", input_scaling: str | None = None,
                 output_bias: float | None = 0.0, **constants: float) -> None:
        if activation not in ACTIVATIONS:
            raise InvalidArgumentError(f"activation: unknown {activation!r}; allowed: {', '.join(ACTIVATIONS)}")
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        par = get_parameterisation(parameterisation, **constants)
        if par.kind != "discrete":
            raise InvalidArgumentError(f"parameterisation: an SSM needs a discrete map (|f(w)| < 1 is stability), "
                                       f"got the continuous {par.name!r}")
        self.parameterisation = par
        if input_scaling not in INPUT_SCALINGS:
            raise InvalidArgumentError(f"input_scaling: unknown {input_scaling!r}; allowed: None, 'lru'")
        self.input_scaling = input_scaling
        self.B = as_real_array(B, "B", ndim=2)
        m = self.B.shape[0]
        if m < 1 or self.B.shape[1] < 1:
            raise InvalidArgumentError(f"B: must be (m, d) with m, d >= 1, got {self.B.shape}")
        self.w = as_real_array(w, "w", shape=(m,))
        if not par.in_domain(self.w):
            raise InvalidArgumentError(f"w: outside the domain {par.spec.domain} of {par.name!r}")
        self.c = as_real_array(c, "c", shape=(m,))
        self.b = np.zeros(m) if b is None else as_real_array(b, "b", shape=(m,))
        self.has_output_bias = output_bias is not None
        self.c0 = as_real_array(0.0 if output_bias is None else output_bias, "output_bias", shape=())

    @classmethod
    def random(cls, input_dim: int = 1, width: int = 8, *, activation: str = "tanh",
               parameterisation: str = "lru", input_scaling: str | None = None, output_bias: bool = True,
               seed: int | np.random.Generator | None = 0, **constants: float) -> SSM:
        """Random model: ``w`` by :meth:`~memtheory.models.reparam.Parameterisation.random_raw` (``N(0, 1)`` on an
        unbounded domain), ``B, b ~ U(-1/sqrt(d), 1/sqrt(d))`` and ``c, c_0 ~ U(-1/sqrt(m), 1/sqrt(m))`` (torch
        ``nn.Linear``)."""
        for name, val in (("input_dim", input_dim), ("width", width)):
            if not (isinstance(val, (int, np.integer)) and val >= 1):
                raise InvalidArgumentError(f"{name}: must be an integer >= 1, got {val!r}")
        check_array_size(f"a random SSM of width {width}", (width, input_dim))
        rng = as_generator(seed)
        par = get_parameterisation(parameterisation, **constants)
        ku, kc = 1.0 / math.sqrt(input_dim), 1.0 / math.sqrt(width)
        w = par.random_raw(rng, width)
        B = rng.uniform(-ku, ku, (width, input_dim))
        b = rng.uniform(-ku, ku, width)
        c = rng.uniform(-kc, kc, width)
        c0 = float(rng.uniform(-kc, kc)) if output_bias else None
        return cls(w, B, c, b, activation=activation, parameterisation=par, input_scaling=input_scaling,
                   output_bias=c0)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("input_dim", self.input_dim), ("width", self.width), ("activation", self.activation),
                ("parameterisation", self.parameterisation.name), ("input_scaling", self.input_scaling)]

    # ------------------------------------------------------------------ parameters

    @property
    def width(self) -> int:
        """State width ``m``."""
        return self.B.shape[0]

    @property
    def input_dim(self) -> int:
        """Input dimension ``d``."""
        return self.B.shape[1]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the trainable arrays, in the order of :meth:`get_vector`."""
        return ("w", "B", "b", "c") + (("c0",) if self.has_output_bias else ())

    def project(self) -> None:
        """Clip box-constrained raw parameters into the map's domain (the reference's training clamp)."""
        self.w = self.parameterisation.project(self.w)

    def eigenvalues(self) -> np.ndarray:
        """``lambda = f(w)``."""
        return self.parameterisation(self.w)

    def input_scale(self) -> np.ndarray:
        """``g(lambda)``: ``sqrt(1 - lambda^2)`` (``input_scaling="lru"``) or ones."""
        if self.input_scaling == "lru":
            return lru_input_scale(self.eigenvalues(), self.parameterisation.gap(self.w))
        return np.ones(self.width)

    def stability_margin(self) -> float:
        """``1 - max_i |lambda_i|`` (positive: stable), without cancellation for ``lambda_i`` near 1."""
        lam, gap = self.eigenvalues(), self.parameterisation.gap(self.w)
        return float(np.min(np.where(lam >= 0, gap, 2.0 - gap)))

    def kernel(self, t: Any) -> np.ndarray:
        """``rho(t) = sum_i c_i g_i B_i lambda_i^t`` at integer ``t >= 0``, shape ``t.shape + (d,)`` (d > 1) or
        ``t.shape`` (d = 1): the model's kernel when ``activation="linear"``."""
        tt = np.asarray(t)
        if not (np.issubdtype(tt.dtype, np.integer) or np.all(tt == np.round(tt))) or np.any(tt < 0):
            raise InvalidArgumentError("t: the discrete kernel is defined at integer times >= 0")
        lam, g = self.eigenvalues(), self.input_scale()
        powers = lam[None, :] ** tt.reshape(-1, 1).astype(float)
        vals = powers @ ((self.c * g)[:, None] * self.B)
        out = vals.reshape(tt.shape + (self.input_dim,))
        return out[..., 0] if self.input_dim == 1 else out

    # ------------------------------------------------------------------ evaluation

    def _check_inputs(self, x: Any) -> np.ndarray:
        arr = as_real_array(x, "x")
        if arr.ndim == 2 and self.input_dim == 1:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] != self.input_dim:
            raise InvalidArgumentError(f"x: must have shape (batch, T, {self.input_dim})"
                                       + (" or (batch, T)" if self.input_dim == 1 else "") + f", got {arr.shape}")
        if arr.shape[0] < 1 or arr.shape[1] < 1:
            raise InvalidArgumentError(f"x: batch and T must be >= 1, got shape {arr.shape}")
        return np.ascontiguousarray(arr)

    def forward(self, x: Any) -> np.ndarray:
        """Outputs ``y`` of shape ``(batch, T)`` for inputs ``(batch, T, d)`` (or ``(batch, T)`` when ``d = 1``)."""
        xx = self._check_inputs(x)
        return _forward_kernel(xx, self.eigenvalues(), self.input_scale(), self.B, self.b, self.c, float(self.c0),
                               self._act, n_chunks(xx.shape[0]))

    __call__ = forward

    def loss_and_grad(self, x: Any, y: Any, time_weights: Any = None) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and its gradient with respect to every trainable array, by BPTT (module docstring).

        Parameters
        ----------
        x : array (batch, T, d), or (batch, T) when ``d = 1``
        y : array (batch, T)
        time_weights : array (T,), optional

        Returns
        -------
        loss : float
        grads : dict
            Same keys and shapes as :meth:`get_params` (``w`` through the parameterisation and the input scale).
        """
        xx = self._check_inputs(x)
        Bn, T, _ = xx.shape
        yy = self._check_targets(y, (Bn, T))
        tw = self._check_weights(time_weights, T)
        lam, dlam = self.parameterisation.value_and_derivative(self.w)
        g = self.input_scale()
        loss, glam, gg, gB, gb, gc, gc0 = _loss_grad_kernel(xx, yy, tw, lam, g, self.B, self.b, self.c,
                                                            float(self.c0), self._act, n_chunks(Bn))
        total = glam.sum(axis=0)
        dw = total * dlam
        if self.input_scaling == "lru":
            # dg/dw = -lambda lambda'(w) / g; where g underflows to 0 with lambda' (lambda = exp(-e^w), w < -745)
            # the ratio is its limit 0 (~ sqrt(e^w / 2)), not 0/0
            with np.errstate(divide="ignore", invalid="ignore"):
                dg = np.where((g == 0) & (dlam == 0), 0.0, -lam * dlam / g)
            dw = dw + gg.sum(axis=0) * dg
        grads = {"w": dw, "B": gB.sum(axis=0), "b": gb.sum(axis=0), "c": gc.sum(axis=0)}
        if self.has_output_bias:
            grads["c0"] = np.array(gc0.sum())
        return float(loss), grads
