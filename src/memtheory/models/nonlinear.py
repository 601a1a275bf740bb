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

Its gradient is computed by backpropagation through time in one compiled pass, parallel over the batch
(``prange`` over chunks, per-chunk accumulators, then a reduction). No Python runs inside the time loop.

Performance notes: each thread steps blocks of samples through time together, so the recurrent products
are small GEMMs (BLAS, forced single-threaded while the kernels run) and the elementwise work vectorises
(``tanh`` is a branch-free polynomial version accurate to a few ulp, :func:`fast_tanh`). On 2 cores with
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

import ctypes
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from ..errors import InvalidArgumentError
from .reparam import Parameterisation, get_parameterisation

__all__ = ["ACTIVATIONS", "STRUCTURES", "NonlinearRNN", "activation", "activation_derivative"]

LINEAR, TANH, HARDTANH, RELU = 0, 1, 2, 3
ACTIVATIONS: dict[str, int] = {"linear": LINEAR, "tanh": TANH, "hardtanh": HARDTANH, "relu": RELU}
STRUCTURES = ("full", "diagonal", "conjugated")


# =========================================================================== compiled kernels
#
# Layout: the batch is split into one chunk per numba thread (``prange``); a chunk is processed in blocks of
# at most ``block`` samples stepped through time in lock-step, so the recurrent products are small GEMMs
# (``np.dot`` into preallocated outputs, i.e. BLAS) and the elementwise work is vectorised. Histories are
# time-major, ``H[k + 1, s, :] = h_k`` of sample ``s`` of the block, ``H[0] = h_{-1} = 0``. Every work array
# is allocated once per chunk, outside the time loop. ``error_model="numpy"`` removes Python's division
# checks so that LLVM can vectorise the elementwise loops.

_JIT = dict(cache=True, error_model="numpy")
_FM = {"contract"}  # fused multiply-add only: no reassociation, NaN/inf semantics kept

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@njit(inline="always", fastmath=_FM, **_JIT)
def _expm1_reduced(r: float) -> float:
    """``expm1(r)`` for ``|r| <= ln2/2`` (Taylor series to ``r^14``, truncation < 1e-18)."""
    p = 1.0 / 87178291200.0
    p = p * r + 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return r + r * r * p


@njit(inline="always", fastmath=_FM, **_JIT)
def fast_tanh(x: float) -> float:
    """Vectorisable ``tanh`` accurate to a few ulp: ``sign(x) e/(e + 2)``, ``e = expm1(2|x|)``.

    ``2|x|`` (clipped at 40, where ``tanh = 1`` in double) is reduced as ``n ln2 + r``; ``2^n`` is built
    from the bits of ``n`` with selects, so the loop has no calls and LLVM vectorises it (libm's ``tanh``
    is a scalar call, about 10x slower here). NaN propagates.
    """
    u = 2.0 * min(abs(x), 20.0)
    n = math.floor(u * _INV_LN2 + 0.5)
    r = (u - n * _LN2_HI) - n * _LN2_LO
    e = _expm1_reduced(r)
    ni = np.int64(n)
    p2 = 1.0
    p2 *= 2.0 if (ni & 1) else 1.0
    p2 *= 4.0 if (ni & 2) else 1.0
    p2 *= 16.0 if (ni & 4) else 1.0
    p2 *= 256.0 if (ni & 8) else 1.0
    p2 *= 65536.0 if (ni & 16) else 1.0
    p2 *= 4294967296.0 if (ni & 32) else 1.0
    em1 = p2 * e + (p2 - 1.0)
    t = em1 / (em1 + 2.0)
    if x != x:
        return x
    return math.copysign(t, x)


@njit(fastmath=_FM, **_JIT)
def _activate(code: int, z: np.ndarray, da: np.ndarray) -> None:
    """In place ``z <- sigma(z)``; ``da = sigma'(z)`` (1-D; kinks get derivative 0, as torch)."""
    n = z.shape[0]
    if code == LINEAR:
        for i in range(n):
            da[i] = 1.0
    elif code == TANH:
        for i in range(n):
            t = fast_tanh(z[i])
            z[i] = t
            da[i] = 1.0 - t * t
    elif code == HARDTANH:
        for i in range(n):
            zi = z[i]
            inside = -1.0 < zi < 1.0
            da[i] = 1.0 if inside else 0.0
            z[i] = min(max(zi, -1.0), 1.0)
    else:
        for i in range(n):
            zi = z[i]
            da[i] = 1.0 if zi > 0.0 else 0.0
            z[i] = max(zi, 0.0)


@njit(fastmath=_FM, **_JIT)
def _preactivation(x, s0, k, UT, bias, MT, r, diag, Hp, Z) -> None:
    """``Z[s] = U x_{s0+s,k} + b - W_+ Hp[s]`` for the ``Z.shape[0]`` rows of a block."""
    nb, m = Z.shape
    d = x.shape[2]
    if diag:
        for s in range(nb):
            for i in range(m):
                Z[s, i] = r[i] * Hp[s, i]
    else:
        np.dot(Hp, MT, Z)
    for s in range(nb):
        zs = Z[s]
        for i in range(m):
            zs[i] = bias[i] - zs[i]
        for j in range(d):
            xj = x[s0 + s, k, j]
            for i in range(m):
                zs[i] += UT[j, i] * xj


@njit(fastmath={"contract", "reassoc"}, **_JIT)
def _readout(Hn, c, c0, s) -> float:
    """``c^T Hn[s] + c_0``."""
    y = c0
    hs = Hn[s]
    for i in range(c.shape[0]):
        y += c[i] * hs[i]
    return y


@njit(**_JIT)
def _chunk_bounds(ci: int, nchunks: int, n: int) -> tuple[int, int]:
    return ci * n // nchunks, (ci + 1) * n // nchunks


@njit(parallel=True, **_JIT)
def _forward_kernel(x, MT, r, diag, UT, bias, c, c0, dt, act, nchunks, block, states, store):
    """Outputs ``(B, T)`` of the residual RNN; hidden states into ``states`` if ``store``."""
    B, T, _ = x.shape
    m = bias.shape[0]
    out = np.empty((B, T))
    for ci in prange(nchunks):
        c_lo, c_hi = _chunk_bounds(ci, nchunks, B)
        Hbuf = np.empty((block, m))
        Z = np.empty((block, m))
        Dbuf = np.empty(block * m)
        for s0 in range(c_lo, c_hi, block):
            nb = min(block, c_hi - s0)
            H = Hbuf[:nb]
            Zb = Z[:nb]
            H[:] = 0.0
            for k in range(T):
                _preactivation(x, s0, k, UT, bias, MT, r, diag, H, Zb)
                _activate(act, Zb.reshape(nb * m), Dbuf[: nb * m])
                for s in range(nb):
                    for i in range(m):
                        H[s, i] += dt * Zb[s, i]
                    out[s0 + s, k] = _readout(H, c, c0, s)
                    if store:
                        states[s0 + s, k, :] = H[s]
    return out


@njit(fastmath=_FM, **_JIT)
def _block_forward(x, y, tw, s0, nb, MT, r, diag, UT, bias, c, c0, dt, act, scale, H, D, E) -> float:
    """Forward pass of one block storing ``H``, ``sigma'`` in ``D`` and ``dL/dy`` in ``E``; returns the loss sum."""
    m = bias.shape[0]
    T = x.shape[1]
    lsum = 0.0
    H[0, :nb] = 0.0
    for k in range(T):
        Hp = H[k][:nb]
        Hn = H[k + 1][:nb]
        _preactivation(x, s0, k, UT, bias, MT, r, diag, Hp, Hn)
        _activate(act, Hn.reshape(nb * m), D[k][:nb].reshape(nb * m))
        for s in range(nb):
            for i in range(m):
                Hn[s, i] = Hp[s, i] + dt * Hn[s, i]
            err = _readout(Hn, c, c0, s) - y[s0 + s, k]
            lsum += tw[k] * err * err
            E[k, s] = 2.0 * tw[k] * err * scale
    return lsum


@njit(fastmath=_FM, **_JIT)
def _block_backward(x, s0, nb, M, r, diag, c, dt, H, D, E, Lam, tmp, tmp_mm, gM, gr, gUT, gb, gc) -> float:
    """Backpropagation through time for one block; accumulates gradients, returns ``dL/dc_0``.

    Adjoint ``lambda_k = dL/dh_k``: ``delta_k = dt lambda_k * sigma'(z_k)`` (``dL/dz_k``), then
    ``lambda_{k-1} = lambda_k - W_+^T delta_k + e_{k-1} c`` with ``e_k = dL/dy_k``. Each update is a
    separate short loop (few arrays per loop keeps LLVM's alias checks cheap, so the loops vectorise).
    """
    m = c.shape[0]
    d = x.shape[2]
    T = x.shape[1]
    g0 = 0.0
    L = Lam[:nb]
    L[:] = 0.0
    n = nb * m
    for k in range(T - 1, -1, -1):
        Dk = D[k][:nb]  # sigma'(z_k), overwritten with delta_k = dL/dz_k
        Hp = H[k][:nb]
        Hn = H[k + 1][:nb]
        Ek = E[k]
        for s in range(nb):
            ek = Ek[s]
            g0 += ek
            Ls = L[s]
            for i in range(m):
                Ls[i] += ek * c[i]
            hs = Hn[s]
            for i in range(m):
                gc[i] += ek * hs[i]
        L1 = L.reshape(n)
        D1 = Dk.reshape(n)
        for i in range(n):
            D1[i] *= dt * L1[i]
        for s in range(nb):
            ds = Dk[s]
            for i in range(m):
                gb[i] += ds[i]
            for j in range(d):
                xj = x[s0 + s, k, j]
                gj = gUT[j]
                for i in range(m):
                    gj[i] += xj * ds[i]
        if diag:
            for s in range(nb):
                ds = Dk[s]
                hs = Hp[s]
                for i in range(m):
                    gr[i] -= ds[i] * hs[i]
                Ls = L[s]
                for i in range(m):
                    Ls[i] -= r[i] * ds[i]
        else:
            np.dot(Dk.T, Hp, tmp_mm)  # sum_s delta_s h_s^T
            g1 = gM.reshape(m * m)
            t1 = tmp_mm.reshape(m * m)
            for i in range(m * m):
                g1[i] -= t1[i]
            tb = tmp[:nb]
            np.dot(Dk, M, tb)  # rows (W_+^T delta_s)^T
            T1 = tb.reshape(n)
            for i in range(n):
                L1[i] -= T1[i]
    return g0


@njit(parallel=True, **_JIT)
def _loss_grad_kernel(x, y, tw, M, MT, r, diag, UT, bias, c, c0, dt, act, nchunks, block):
    """Loss and per-chunk gradients w.r.t. ``W_+`` (or its diagonal ``r``), ``U^T``, ``b``, ``c``, ``c_0``."""
    B, T, d = x.shape
    m = bias.shape[0]
    scale = 1.0 / (B * T)
    mm = 1 if diag else m
    loss = np.zeros(nchunks)
    gM = np.zeros((nchunks, mm, mm))
    gr = np.zeros((nchunks, m))
    gUT = np.zeros((nchunks, d, m))
    gb = np.zeros((nchunks, m))
    gc = np.zeros((nchunks, m))
    gc0 = np.zeros(nchunks)
    for ci in prange(nchunks):
        c_lo, c_hi = _chunk_bounds(ci, nchunks, B)
        H = np.empty((T + 1, block, m))
        D = np.empty((T, block, m))
        E = np.empty((T, block))
        Lam = np.empty((block, m))
        tmp = np.empty((block, m))
        tmp_mm = np.empty((mm, mm))
        for s0 in range(c_lo, c_hi, block):
            nb = min(block, c_hi - s0)
            loss[ci] += _block_forward(x, y, tw, s0, nb, MT, r, diag, UT, bias, c, c0, dt, act, scale, H, D, E)
            gc0[ci] += _block_backward(x, s0, nb, M, r, diag, c, dt, H, D, E, Lam, tmp, tmp_mm,
                                       gM[ci], gr[ci], gUT[ci], gb[ci], gc[ci])
    return loss.sum() * scale, gM, gr, gUT, gb, gc, gc0


@njit(fastmath=_FM, **_JIT)
def _rhs(x, s0, k, UT, bias, MT, r, diag, Hs, act, F, scratch) -> None:
    """``F = sigma(U x_k + b - W_+ Hs)`` row-wise, the continuous vector field."""
    nb, m = F.shape
    _preactivation(x, s0, k, UT, bias, MT, r, diag, Hs, F)
    _activate(act, F.reshape(nb * m), scratch[: nb * m])


@njit(parallel=True, **_JIT)
def _continuous_kernel(x, MT, r, diag, UT, bias, c, c0, dt, substeps, act, nchunks, block):
    """Classical RK4 for ``dh/dt = sigma(-W_+ h + U x + b)``, input held over each sample interval."""
    B, T, _ = x.shape
    m = bias.shape[0]
    hs = dt / substeps
    out = np.empty((B, T))
    for ci in prange(nchunks):
        c_lo, c_hi = _chunk_bounds(ci, nchunks, B)
        bufs = np.empty((6, block, m))
        scratch = np.empty(block * m)
        for s0 in range(c_lo, c_hi, block):
            nb = min(block, c_hi - s0)
            h, ht, k1, k2, k3, k4 = bufs[0][:nb], bufs[1][:nb], bufs[2][:nb], bufs[3][:nb], bufs[4][:nb], bufs[5][:nb]
            h[:] = 0.0
            for k in range(T):
                for _ in range(substeps):
                    _rhs(x, s0, k, UT, bias, MT, r, diag, h, act, k1, scratch)
                    for s in range(nb):
                        for i in range(m):
                            ht[s, i] = h[s, i] + 0.5 * hs * k1[s, i]
                    _rhs(x, s0, k, UT, bias, MT, r, diag, ht, act, k2, scratch)
                    for s in range(nb):
                        for i in range(m):
                            ht[s, i] = h[s, i] + 0.5 * hs * k2[s, i]
                    _rhs(x, s0, k, UT, bias, MT, r, diag, ht, act, k3, scratch)
                    for s in range(nb):
                        for i in range(m):
                            ht[s, i] = h[s, i] + hs * k3[s, i]
                    _rhs(x, s0, k, UT, bias, MT, r, diag, ht, act, k4, scratch)
                    for s in range(nb):
                        for i in range(m):
                            h[s, i] += hs / 6.0 * (k1[s, i] + 2.0 * k2[s, i] + 2.0 * k3[s, i] + k4[s, i])
                for s in range(nb):
                    out[s0 + s, k] = _readout(h, c, c0, s)
    return out


# =========================================================================== BLAS threading


def _find_blas_threading() -> tuple[Any, Any] | None:
    """``(set_num_threads, get_num_threads)`` of the OpenBLAS that numba's ``np.dot`` calls, if found."""
    try:
        import scipy.linalg.cython_blas as cython_blas

        lib = ctypes.CDLL(cython_blas.__file__)
    except (ImportError, OSError):  # pragma: no cover - platform dependent
        return None
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("", "64_"):
            setter, getter = f"{prefix}set_num_threads{suffix}", f"{prefix}get_num_threads{suffix}"
            if hasattr(lib, setter) and hasattr(lib, getter):
                fset, fget = getattr(lib, setter), getattr(lib, getter)
                fset.argtypes, fset.restype, fget.restype = [ctypes.c_int], None, ctypes.c_int
                return fset, fget
    return None  # pragma: no cover


_BLAS_THREADING = _find_blas_threading()


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run BLAS single-threaded inside the numba-parallel kernels (each thread calls its own GEMMs).

    Without this OpenBLAS's own pool and numba's threads oversubscribe the cores (about 2x slower on 2
    cores). Restores the previous setting on exit. No-op if the BLAS library exposes no thread control.
    """
    if _BLAS_THREADING is None or numba.get_num_threads() == 1:
        yield
        return
    fset, fget = _BLAS_THREADING
    previous = fget()
    fset(1)
    try:
        yield
    finally:
        fset(previous)


# =========================================================================== helpers


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
    _activate(code, a, da)
    return a.reshape(zz.shape), da.reshape(zz.shape)


def _activation_code(name: str) -> int:
    if name not in ACTIVATIONS:
        raise InvalidArgumentError(f"activation: unknown {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _as_array(value: Any, name: str, shape: tuple[int, ...] | None = None, ndim: int | None = None) -> np.ndarray:
    """Float64 contiguous copy of ``value``, checked for shape and finiteness."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name}: must be a real array, got {type(value).__name__}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgumentError(f"{name}: must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise InvalidArgumentError(f"{name}: must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name}: must be finite (no NaN or inf)")
    return arr


def _n_chunks(batch: int) -> int:
    return max(1, min(batch, numba.get_num_threads()))


_BLOCK_MAX = 128  # samples stepped in lock-step per GEMM
_BLOCK_MIN = 8
_HISTORY_BYTES = 4 * 2**20  # per-thread BPTT history budget: keeps H and sigma' near the caches


def _block_size(batch: int, T: int, m: int, history: bool) -> int:
    """Samples per lock-step block.

    Measured on 2 AVX-512 cores (width 64, T = 100): blocks of 16-64 samples are fastest for BPTT, 256
    is 1.5x slower (the histories fall out of cache and are page-faulted on every call).
    """
    per_chunk = -(-batch // _n_chunks(batch))
    block = _BLOCK_MAX
    if history:
        block = min(block, max(_BLOCK_MIN, _HISTORY_BYTES // (16 * (T + 1) * m)))
    return max(1, min(per_chunk, block))


# =========================================================================== model


class NonlinearRNN:
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
        self.U = _as_array(U, "U", ndim=2)
        m, _ = self.U.shape
        self.b = _as_array(b, "b", shape=(m,))
        self.c = _as_array(c, "c", shape=(m,))
        self.structure = self._set_recurrent(W, w, P, m)
        self.has_output_bias = output_bias is not None
        self.c0 = _as_array(0.0 if output_bias is None else output_bias, "output_bias", shape=())

    def _set_recurrent(self, W: Any, w: Any, P: Any, m: int) -> str:
        if (W is None) == (w is None):
            raise InvalidArgumentError("W, w: give exactly one of W (full W_+) or w (eigenvalue parameters)")
        if W is not None:
            if P is not None:
                raise InvalidArgumentError("P: only allowed with w (structure 'conjugated'), not with W")
            if self.parameterisation.name != "direct":
                raise InvalidArgumentError("parameterisation: must be 'direct' when the full matrix W is given")
            self.W = _as_array(W, "W", shape=(m, m))
            return "full"
        self.w = _as_array(w, "w", shape=(m,))
        if not self.parameterisation.in_domain(self.w):
            raise InvalidArgumentError(
                f"w: outside the domain {self.parameterisation.spec.domain} of {self.parameterisation.name!r}"
            )
        if P is None:
            return "diagonal"
        self.P = _as_array(P, "P", shape=(m, m))
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
        rng = np.random.default_rng(seed)
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
        w = _random_raw(rng, par, width)
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
        return cls(U, b, c, W=-_as_array(W, "W", ndim=2), activation=activation, dt=dt, output_bias=output_bias)

    def __repr__(self) -> str:
        par = "" if self.structure == "full" else f", parameterisation={self.parameterisation.name!r}"
        return (f"NonlinearRNN(input_dim={self.input_dim}, width={self.width}, activation={self.activation!r}, "
                f"structure={self.structure!r}{par}, dt={self.dt})")

    def copy(self) -> NonlinearRNN:
        """Deep copy."""
        new = object.__new__(NonlinearRNN)
        new.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return new

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

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the trainable arrays (``c0`` has shape ``()``)."""
        return {name: getattr(self, name).copy() for name in self.param_names}

    def set_params(self, params: dict[str, Any]) -> None:
        """Replace trainable arrays (same shapes, finite); keys not given are kept."""
        unknown = set(params) - set(self.param_names)
        if unknown:
            raise InvalidArgumentError(f"params: unknown names {sorted(unknown)}; allowed: {self.param_names}")
        for name, value in params.items():
            arr = _as_array(value, name, shape=getattr(self, name).shape)
            if name == "w" and not self.parameterisation.in_domain(arr):
                raise InvalidArgumentError(f"w: outside the domain {self.parameterisation.spec.domain}")
            setattr(self, name, arr)

    def get_vector(self) -> np.ndarray:
        """All trainable parameters concatenated in :attr:`param_names` order."""
        return np.concatenate([getattr(self, n).ravel() for n in self.param_names])

    def set_vector(self, vector: np.ndarray) -> None:
        """Inverse of :meth:`get_vector`; checks the shape only (it is called every optimiser step)."""
        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (self.n_params,):
            raise InvalidArgumentError(f"vector: must have shape ({self.n_params},), got {vector.shape}")
        pos = 0
        for name in self.param_names:
            cur = getattr(self, name)
            setattr(self, name, vector[pos : pos + cur.size].reshape(cur.shape).copy())
            pos += cur.size

    def pack(self, grads: dict[str, np.ndarray]) -> np.ndarray:
        """Concatenate a gradient dictionary in :attr:`param_names` order."""
        return np.concatenate([np.ravel(grads[n]) for n in self.param_names])

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(getattr(self, n).size for n in self.param_names)

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
        arr = _as_array(x, "x")
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
        with _single_threaded_blas():
            out = _forward_kernel(xx, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c,
                                  float(self.c0), self.dt, self._act, _n_chunks(B),
                                  _block_size(B, T, self.width, False), states, return_states)
        return (out, states) if return_states else out

    __call__ = forward

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
        with _single_threaded_blas():
            return _continuous_kernel(xx, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c,
                                      float(self.c0), float(step), int(substeps), self._act, _n_chunks(B),
                                      _block_size(B, T, self.width, False))

    # ------------------------------------------------------------------ loss and gradient

    def _check_targets(self, y: Any, shape: tuple[int, int]) -> np.ndarray:
        arr = _as_array(y, "y")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.shape != shape:
            raise InvalidArgumentError(f"y: must have shape {shape} (batch, T), got {arr.shape}")
        return np.ascontiguousarray(arr)

    def _check_weights(self, time_weights: Any, T: int) -> np.ndarray:
        if time_weights is None:
            return np.ones(T)
        tw = _as_array(time_weights, "time_weights", shape=(T,))
        if np.any(tw < 0):
            raise InvalidArgumentError("time_weights: must be >= 0")
        return tw

    def loss(self, x: Any, y: Any, time_weights: Any = None) -> float:
        """``L = 1/(B T) sum omega_k (y_k - target_k)^2`` (``time_weights`` = ``omega``, default 1)."""
        out = self.forward(x)
        yy = self._check_targets(y, out.shape)
        tw = self._check_weights(time_weights, out.shape[1])
        return float(np.mean(tw[None, :] * (out - yy) ** 2))

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
        with _single_threaded_blas():
            loss, gM, gr, gUT, gb, gc, gc0 = _loss_grad_kernel(
                xx, yy, tw, M, MT, r, diag, np.ascontiguousarray(self.U.T), self.b, self.c, float(self.c0),
                self.dt, self._act, _n_chunks(B), _block_size(B, T, self.width, True),
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


def _random_raw(rng: np.random.Generator, par: Parameterisation, m: int) -> np.ndarray:
    if par.name == "direct":
        return -np.abs(rng.standard_normal(m))  # raw eigenvalues: start stable
    lo, hi = par.spec.domain
    if math.isfinite(lo) and math.isfinite(hi):
        return rng.uniform(lo, hi, m)
    if math.isfinite(lo):
        return lo + 0.5 + np.abs(rng.standard_normal(m))
    return rng.standard_normal(m)
