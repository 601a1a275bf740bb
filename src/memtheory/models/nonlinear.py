"""Nonlinear residual RNNs with numba forward passes, continuous-time simulation and BPTT gradients.

Model ([IAT] §2 and the reference code github.com/radarFudan/Curse-of-memory), width ``m``, input
dimension ``d``, scalar output. Discrete (residual / forward-Euler) form, with ``h_{-1} = 0``::

    h_k = h_{k-1} + dt * sigma(U x_k + b - W_+ h_{k-1}),     y_k = c^T h_k + c_0,   k = 0..T-1.

``h_k`` is the state *after* reading ``x_k`` (the reference code's ``hidden[1:]``), so ``y_k`` depends on
``x_0..x_k`` as the linear-functional targets ``y_k = sum_{s<=k} rho(s dt) x_{k-s}`` do.

Continuous-time form (:meth:`NonlinearRNN.simulate_continuous`), ``h(0) = 0``::

    dh/dt = sigma(W h + U x(t) + b),   W = -W_+,   x(t) = x_k on [k dt, (k+1) dt),   y_k = c^T h((k+1) dt) + c_0.

Sign conventions: the continuous matrix ``W`` is stable when it is Hurwitz (eigenvalues with negative real
part); the residual form uses ``W_+ = -W`` (eigenvalues with positive real part). The discrete model is one
forward-Euler step of size ``dt`` of the continuous one, so the two agree to ``O(dt)`` at a fixed time.
:meth:`NonlinearRNN.continuous_matrix` returns ``W``; :meth:`NonlinearRNN.from_continuous` builds a model
from ``W``.

Recurrent structures (``W_+`` from raw parameters, see :mod:`memtheory.models.reparam`):

* ``"full"``: ``W_+ = W`` is a raw ``(m, m)`` parameter.
* ``"diagonal"``: ``W_+ = diag(r(w))`` (reference ``diagonalrnn`` with ``parameterisation="relu"``).
* ``"conjugated"``: ``W_+ = P^T diag(r(w)) P`` with trainable ``P`` initialised orthogonal (reference ``rnn`` /
  ``softplusrnn`` with ``"relu"`` / ``"softplus"``).

with rates ``r = -f(w)`` for continuous maps and ``r = (1 - f(w))/dt`` for discrete maps, so that ``f(w)`` is
an eigenvalue of ``W`` (continuous) or of the linear one-step map ``I - dt W_+`` (discrete).

Loss (mean over batch and time, optional time weights ``omega_k``, default 1)::

    L = 1/(B T) sum_{n,k} omega_k (y_{n,k} - target_{n,k})^2.

Its gradient is computed by backpropagation through time in one compiled pass (the numba kernels of
:mod:`memtheory.models.rnn_kernels`), parallel over the batch
(``prange`` over chunks, per-chunk accumulators, then a reduction). No Python runs inside the time loop.

Performance notes: each thread steps blocks of samples through time together, so the recurrent products
are small GEMMs (BLAS, forced single-threaded while the kernels run) and the elementwise work vectorises
(``tanh`` is a branch-free polynomial version accurate to a few ulp, :func:`~memtheory.models.rnn_kernels.fast_tanh`). On 2 cores with
other processes competing, GNU OpenMP's spinning threads can cost up to 2x; ``OMP_WAIT_POLICY=passive`` or
``NUMBA_THREADING_LAYER=workqueue`` (set before the first parallel call) avoids it. With a discrete
parameterisation ``W_+`` depends on ``dt`` (``r = (1 - f(w))/dt``); :meth:`NonlinearRNN.simulate_continuous`
uses the model's ``W_+`` whatever sample spacing it is given.

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks.
ICLR 2024 (arXiv 2305.19190).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..display import Displayable
from .._runtime import single_threaded_blas
from .._validation import as_generator, check_array_size
from ..errors import InvalidArgumentError
from .parameters import TrainableParameters, as_real_array
from .reparam import Parameterisation, get_parameterisation
from .rnn_kernels import (
    ACTIVATIONS,
    activate,
    block_size,
    continuous_kernel,
    forward_kernel,
    loss_grad_kernel,
    n_chunks,
)

__all__ = ["ACTIVATIONS", "STRUCTURES", "NonlinearRNN", "activation", "activation_derivative"]

STRUCTURES = ("full", "diagonal", "conjugated")


# =========================================================================== helpers


#: Shadow runs of :meth:`NonlinearRNN.preactivations` that estimate the round-off of a full ``W_+``.
_SHADOWS = 3


def activation(name: str, z: Any) -> np.ndarray:
    """Evaluate the activation ``name`` elementwise with the compiled code the models use."""
    a, _ = _activation_pair(name, z)
    return a


def activation_derivative(name: str, z: Any) -> np.ndarray:
    """Evaluate the derivative of activation ``name`` elementwise (0 at kinks)."""
    _, da = _activation_pair(name, z)
    return da


def _activation_pair(name: str, z: Any) -> tuple[np.ndarray, np.ndarray]:
    code = _activation_code(name)
    zz = np.ascontiguousarray(z, dtype=np.float64)
    flat = zz.reshape(-1)
    a, da = flat.copy(), np.empty_like(flat)
    activate(code, a, da)
    return a.reshape(zz.shape), da.reshape(zz.shape)


def _activation_code(name: str) -> int:
    if name not in ACTIVATIONS:
        raise InvalidArgumentError(f"activation: unknown {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# =========================================================================== model


class NonlinearRNN(TrainableParameters, Displayable):
    """Residual nonlinear RNN ``h_k = h_{k-1} + dt sigma(U x_k + b - W_+ h_{k-1})``, ``y_k = c^T h_k + c_0``.

    Parameters
    ----------
    U : array (m, d)
        Input weights.
    b : array (m,)
        Pre-activation bias.
    c : array (m,)
        Readout.
    W : array (m, m), optional
        Raw ``W_+`` (structure ``"full"``). Give either ``W`` or ``w``.
    w : array (m,), optional
        Raw eigenvalue parameters (structures ``"diagonal"``, ``"conjugated"``).
    P : array (m, m), optional
        Conjugation matrix; with ``w`` gives ``W_+ = P^T diag(r(w)) P``.
    activation : {"linear", "tanh", "hardtanh", "relu"}
        The nonlinearity ``sigma``.
    parameterisation : str or Parameterisation
        Map from ``w`` to eigenvalues (see :mod:`memtheory.models.reparam`); must be ``"direct"`` when
        ``W`` is given.
    dt : float
        Residual step (``> 0``).
    output_bias : float or None
        Trainable output bias ``c_0``; ``None`` for no bias (``c_0 = 0``, not trained).
    **constants : float
        Constants of the parameterisation (``a``, ``b`` of "best").

    Raises
    ------
    InvalidArgumentError
        Unknown activation or parameterisation, inconsistent shapes, non-finite values, ``dt <= 0``, raw
        parameters outside the parameterisation's domain.
    """

    def __init__(
        self,
        U: Any,
        b: Any,
        c: Any,
        *,
        W: Any = None,
        w: Any = None,
        P: Any = None,
        activation: str = "tanh",
        parameterisation: str | Parameterisation = "direct",
        dt: float = 1.0,
        output_bias: float | None = 0.0,
        **constants: float,
    ) -> None:
        self._act = _activation_code(activation)
        self.activation = activation
        self.parameterisation = get_parameterisation(parameterisation, **constants)
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise InvalidArgumentError(f"dt: must be a finite number > 0, got {dt!r}")
        self.dt = float(dt)
        self.U = as_real_array(U, "U", ndim=2)
        m, _ = self.U.shape
        self.b = as_real_array(b, "b", shape=(m,))
        self.c = as_real_array(c, "c", shape=(m,))
        self.structure = self._set_recurrent(W, w, P, m)
        self.has_output_bias = output_bias is not None
        self.c0 = as_real_array(0.0 if output_bias is None else output_bias, "output_bias", shape=())

    def _set_recurrent(self, W: Any, w: Any, P: Any, m: int) -> str:
        if (W is None) == (w is None):
            raise InvalidArgumentError("W, w: give exactly one of W (full W_+) or w (eigenvalue parameters)")
        if W is not None:
            if P is not None:
                raise InvalidArgumentError("P: only allowed with w (structure 'conjugated'), not with W")
            if self.parameterisation.name != "direct":
                raise InvalidArgumentError("parameterisation: must be 'direct' when the full matrix W is given")
            self.W = as_real_array(W, "W", shape=(m, m))
            return "full"
        self.w = as_real_array(w, "w", shape=(m,))
        if not self.parameterisation.in_domain(self.w):
            raise InvalidArgumentError(
                f"w: outside the domain {self.parameterisation.spec.domain} of {self.parameterisation.name!r}"
            )
        if P is None:
            return "diagonal"
        self.P = as_real_array(P, "P", shape=(m, m))
        return "conjugated"

    # ------------------------------------------------------------------ constructors

    @classmethod
    def random(
        cls,
        input_dim: int = 1,
        width: int = 8,
        *,
        activation: str = "tanh",
        structure: str = "conjugated",
        parameterisation: str = "softplus",
        dt: float = 1.0,
        output_bias: bool = True,
        seed: int | np.random.Generator | None = 0,
        **constants: float,
    ) -> NonlinearRNN:
        """Random model with the reference code's initialisation.

        ``U, b ~ U(-1/sqrt(d), 1/sqrt(d))`` and ``c, c_0 ~ U(-1/sqrt(m), 1/sqrt(m))`` (torch ``nn.Linear``),
        ``w ~ N(0, 1)`` (``-|N(0,1)|`` for "direct", uniform on a bounded domain, ``lo + 0.5 + |N(0,1)|`` on
        a half-bounded one), ``P`` orthogonal (QR of a Gaussian matrix). ``"full"`` ignores
        ``parameterisation`` and uses ``W_+ = Q^T diag(softplus(N(0,1))) Q``.
        """
        if structure not in STRUCTURES:
            raise InvalidArgumentError(f"structure: unknown {structure!r}; allowed: {', '.join(STRUCTURES)}")
        for name, val in (("input_dim", input_dim), ("width", width)):
            if not (isinstance(val, (int, np.integer)) and val >= 1):
                raise InvalidArgumentError(f"{name}: must be an integer >= 1, got {val!r}")
        check_array_size(f"a random RNN of width {width}", (width, width))
        rng = as_generator(seed)
        ku, kc = 1.0 / math.sqrt(input_dim), 1.0 / math.sqrt(width)
        U = rng.uniform(-ku, ku, (width, input_dim))
        b = rng.uniform(-ku, ku, width)
        c = rng.uniform(-kc, kc, width)
        c0 = float(rng.uniform(-kc, kc)) if output_bias else None
        common = dict(activation=activation, dt=dt, output_bias=c0)
        if structure == "full":
            Q = _random_orthogonal(rng, width)
            W = Q.T @ (np.logaddexp(0.0, rng.standard_normal(width))[:, None] * Q)
            return cls(U, b, c, W=W, **common)
        par = get_parameterisation(parameterisation, **constants)
        w = par.random_raw(rng, width)
        P = _random_orthogonal(rng, width) if structure == "conjugated" else None
        return cls(U, b, c, w=w, P=P, parameterisation=par, **common)

    @classmethod
    def from_continuous(
        cls,
        W: Any,
        U: Any,
        b: Any,
        c: Any,
        *,
        activation: str = "tanh",
        dt: float = 1.0,
        output_bias: float | None = 0.0,
    ) -> NonlinearRNN:
        """Model of ``dh/dt = sigma(W h + U x + b)``: structure ``"full"`` with ``W_+ = -W``."""
        return cls(U, b, c, W=-as_real_array(W, "W", ndim=2), activation=activation, dt=dt, output_bias=output_bias)

    def _display_rows(self) -> list[tuple[str, object]]:
        par = [] if self.structure == "full" else [("parameterisation", self.parameterisation.name)]
        return [("input_dim", self.input_dim), ("width", self.width), ("activation", self.activation),
                ("structure", self.structure), *par, ("dt", self.dt)]

    # ------------------------------------------------------------------ parameters

    @property
    def width(self) -> int:
        """Hidden width ``m``."""
        return self.U.shape[0]

    @property
    def input_dim(self) -> int:
        """Input dimension ``d``."""
        return self.U.shape[1]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the trainable arrays, in the order of :meth:`get_vector`."""
        rec = {"full": ("W",), "diagonal": ("w",), "conjugated": ("w", "P")}[self.structure]
        return rec + ("U", "b", "c") + (("c0",) if self.has_output_bias else ())

    def project(self) -> None:
        """Clip box-constrained raw eigenvalue parameters into their domain (reference training clamp)."""
        if self.structure != "full":
            self.w = self.parameterisation.project(self.w)

    # ------------------------------------------------------------------ recurrent matrix

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues ``r`` of ``W_+`` (diagonal / conjugated structures) and ``dr/dw``."""
        if self.structure == "full":
            raise InvalidArgumentError("structure: rates are defined only for 'diagonal' and 'conjugated'")
        return self.parameterisation.rates(self.w, self.dt)

    def recurrent_matrix(self) -> np.ndarray:
        """The residual-form matrix ``W_+`` (discrete convention: stable when its eigenvalues have Re > 0)."""
        if self.structure == "full":
            return self.W.copy()
        r, _ = self.rates()
        if self.structure == "diagonal":
            return np.diag(r)
        return self.P.T @ (r[:, None] * self.P)

    def continuous_matrix(self) -> np.ndarray:
        """The continuous-time matrix ``W = -W_+`` of ``dh/dt = sigma(W h + U x + b)`` (Hurwitz = stable)."""
        return -self.recurrent_matrix()

    def to_full(self) -> NonlinearRNN:
        """Equivalent model with structure ``"full"`` (same outputs; parameters ``W_+``, ``U``, ``b``, ``c``)."""
        return NonlinearRNN(
            self.U, self.b, self.c, W=self.recurrent_matrix(), activation=self.activation, dt=self.dt,
            output_bias=float(self.c0) if self.has_output_bias else None,
        )

    def _kernel_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """``(M, M^T, r, diag)`` for the kernels (``M`` a 1x1 dummy when diagonal)."""
        if self.structure == "diagonal":
            r, _ = self.rates()
            dummy = np.zeros((1, 1))
            return dummy, dummy, np.ascontiguousarray(r), True
        M = self.recurrent_matrix()
        return np.ascontiguousarray(M), np.ascontiguousarray(M.T), np.zeros(self.width), False

    # ------------------------------------------------------------------ evaluation

    def _check_inputs(self, x: Any) -> np.ndarray:
        arr = as_real_array(x, "x")
        if arr.ndim == 2 and self.input_dim == 1:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] != self.input_dim:
            raise InvalidArgumentError(
                f"x: must have shape (batch, T, {self.input_dim})"
                + (" or (batch, T)" if self.input_dim == 1 else "") + f", got {arr.shape}"
            )
        if arr.shape[0] < 1 or arr.shape[1] < 1:
            raise InvalidArgumentError(f"x: batch and T must be >= 1, got shape {arr.shape}")
        return np.ascontiguousarray(arr)

    def forward(self, x: Any, return_states: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Outputs ``y`` of shape ``(batch, T)`` (and states ``h`` of shape ``(batch, T, m)`` if asked).

        Parameters
        ----------
        x : array (batch, T, d), or (batch, T) when ``d = 1``
            Input sequences.
        return_states : bool
            Also return ``h_k`` for ``k = 0..T-1``.
        """
        xx = self._check_inputs(x)
        _, MT, r, diag = self._kernel_matrices()
        B, T, _ = xx.shape
        states = np.empty((B, T, self.width)) if return_states else np.empty((1, 1, 1))
        with single_threaded_blas():
            out = forward_kernel(xx, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c,
                                  float(self.c0), self.dt, self._act, n_chunks(B),
                                  block_size(B, T, self.width, False), states, return_states)
        return (out, states) if return_states else out

    __call__ = forward

    def preactivations(self, x: Any, error: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Pre-activations ``z_k = U x_k + b - W_+ h_{k-1}``, shape ``(batch, T, m)``, carried as their own variable.

        ``z_0 = U x_0 + b`` (``h_{-1} = 0``) and ``z_{k+1} = z_k - dt W_+ sigma(z_k) + U (x_{k+1} - x_k)``: the
        forward pass's pre-activations in exact arithmetic. In floating point each ``z_k`` keeps its digits
        relative to the terms of its own step, where ``U x_k + b - W_+ h_{k-1}`` loses them to cancellation as
        the state settles (``|z_k| << |b|``, ``|W_+ h|``). The output increments are ``y_k - y_{k-1} =
        dt c^T sigma(z_k)``, and a state difference under a common input is ``h_k - h'_k = W_+^{-1} (z'_{k+1} -
        z_{k+1})``; memory functions read from them resolve ``M(t)`` far below the ``1e-16 max|y|`` of differences
        of outputs (:func:`memtheory.theory.memory.memory_function`).

        Parameters
        ----------
        x : array (batch, T, d), or (batch, T) when ``d = 1``
            Input sequences.
        error : bool
            Also return an estimate of the round-off in each ``z_k`` (same shape). Each step commits ``l_k``, a few
            unit round-offs times the terms it adds (``|z_k|``, ``dt |W_+| |sigma(z_k)|``,
            ``|U (x_{k+1} - x_k)|``): a cancellation inside a step, such as a pulse switched off, leaves its error
            with the terms, not with the small result. A diagonal ``W_+`` propagates it componentwise,
            ``e_{k+1} = |1 - dt r_i sigma'(z_k)| e_k + l_k`` (first order: the slope at the computed ``z_k``). A
            full one mixes components, and no cheap norm contracts under a rotation as the step does: there three
            shadow runs, with ``l_k`` times independent Gaussian factors added at every step (seed 0), measure how
            the recursion carries such errors, and ``e_k`` is 10 times their largest distance from the run plus
            ``l_k`` (random factors, not signs: ``l_k`` is proportional to ``|z_k|``, and with signs only the
            perturbation can fall exactly along ``z_k``'s own mode, missing the leak into a slow one).

        Returns
        -------
        ndarray, or (ndarray, ndarray) with ``error``
        """
        xx = self._check_inputs(x)
        B, T, _ = xx.shape
        r = self.diagonal_rates()
        Wp = None if r is not None else self.recurrent_matrix()
        u = float(np.finfo(float).eps)
        Z = np.empty((B, T, self.width))
        E = np.empty((B, T, self.width)) if error else None
        absU = np.abs(self.U.T)
        z = xx[:, 0, :] @ self.U.T + self.b
        if error:
            e = 4 * u * (np.abs(xx[:, 0, :]) @ absU + np.abs(self.b))
            if Wp is not None:
                absW = np.abs(Wp)
                rng = np.random.default_rng(0)
                shadow = z + e * rng.standard_normal((_SHADOWS,) + z.shape)
        for k in range(T):
            Z[:, k] = z
            if error:
                E[:, k] = e if Wp is None else 10 * np.max(np.abs(shadow - z), axis=0) + e
            if k + 1 == T:
                break
            s = activation(self.activation, z)
            rec = self.dt * (s * r if r is not None else s @ Wp.T)
            new = z - rec
            step = xx[:, k + 1, :] - xx[:, k, :]
            drive = step @ self.U.T if np.any(step) else None
            if drive is not None:
                new = new + drive
            if error:
                jump = 0.0 if drive is None else np.abs(step) @ absU
                if r is not None:
                    slope = activation_derivative(self.activation, z)
                    e = (np.abs(1.0 - self.dt * r * slope) * e
                         + 4 * u * (np.abs(z) + 2 * np.abs(rec) + jump + np.abs(new)))
                else:
                    e = 4 * u * (np.abs(z) + 2 * self.width * self.dt * (np.abs(s) @ absW.T) + jump + np.abs(new))
                    shadow = (shadow - self.dt * (activation(self.activation, shadow) @ Wp.T)
                              + (0.0 if drive is None else drive) + e * rng.standard_normal(shadow.shape))
            z = new
        return (Z, E) if error else Z

    def diagonal_rates(self) -> np.ndarray | None:
        """The diagonal of ``W_+`` when ``W_+`` is diagonal (structure "diagonal", or a full or conjugated matrix
        whose off-diagonal entries are all zero), else None."""
        if self.structure == "diagonal":
            return self.rates()[0]
        Wp = self.recurrent_matrix()
        return np.diag(Wp).copy() if not np.any(Wp - np.diag(np.diag(Wp))) else None

    def simulate_continuous(self, x: Any, dt: float | None = None, substeps: int = 10) -> np.ndarray:
        """Outputs ``y_k = c^T h((k+1) dt) + c_0`` of ``dh/dt = sigma(W h + U x + b)``, ``W = -W_+``.

        The input is held constant, ``x(t) = x_k`` on ``[k dt, (k+1) dt)``; ``h(0) = 0``. Classical RK4 with
        ``substeps`` equal steps per sample (global error ``O((dt/substeps)^4)`` for smooth ``sigma``).

        Parameters
        ----------
        x : array (batch, T, d), or (batch, T) when ``d = 1``
        dt : float, optional
            Sample spacing; defaults to the model's ``dt``.
        substeps : int
            RK4 steps per sample (``>= 1``).
        """
        xx = self._check_inputs(x)
        step = self.dt if dt is None else dt
        if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise InvalidArgumentError(f"dt: must be a finite number > 0, got {dt!r}")
        if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
            raise InvalidArgumentError(f"substeps: must be an integer >= 1, got {substeps!r}")
        _, MT, r, diag = self._kernel_matrices()
        B, T, _ = xx.shape
        with single_threaded_blas():
            return continuous_kernel(xx, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c,
                                      float(self.c0), float(step), int(substeps), self._act, n_chunks(B),
                                      block_size(B, T, self.width, False))

    # ------------------------------------------------------------------ loss and gradient

    def loss_and_grad(self, x: Any, y: Any, time_weights: Any = None) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and its gradient with respect to every trainable array, by BPTT.

        Parameters
        ----------
        x : array (batch, T, d), or (batch, T) when ``d = 1``
        y : array (batch, T)
            Targets.
        time_weights : array (T,), optional
            Nonnegative weights ``omega_k``.

        Returns
        -------
        loss : float
        grads : dict
            Same keys and shapes as :meth:`get_params`; for diagonal / conjugated structures the
            gradient is with respect to the raw ``w`` (chain rule through the parameterisation).
        """
        xx = self._check_inputs(x)
        B, T, _ = xx.shape
        yy = self._check_targets(y, (B, T))
        tw = self._check_weights(time_weights, T)
        M, MT, r, diag = self._kernel_matrices()
        with single_threaded_blas():
            loss, gM, gr, gUT, gb, gc, gc0 = loss_grad_kernel(
                xx, yy, tw, M, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c, float(self.c0),
                self.dt, self._act, n_chunks(B), block_size(B, T, self.width, True),
            )
        grads = self._recurrent_grads(gM.sum(axis=0), gr.sum(axis=0))
        grads.update(U=gUT.sum(axis=0).T.copy(), b=gb.sum(axis=0), c=gc.sum(axis=0))
        if self.has_output_bias:
            grads["c0"] = np.array(gc0.sum())
        return float(loss), grads

    def _recurrent_grads(self, G: np.ndarray, g_diag: np.ndarray) -> dict[str, np.ndarray]:
        """Chain rule from ``dL/dW_+`` (``G``, or its diagonal ``g_diag``) to the raw parameters."""
        if self.structure == "full":
            return {"W": G}
        r, dr = self.rates()
        if self.structure == "diagonal":
            return {"w": g_diag * dr}
        P = self.P
        PG = P @ G
        return {"w": np.einsum("ij,ij->i", PG, P) * dr, "P": r[:, None] * (PG + P @ G.T)}


def _random_orthogonal(rng: np.random.Generator, m: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    return q

