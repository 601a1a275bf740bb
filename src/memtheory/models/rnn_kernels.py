"""Compiled (numba) kernels of the residual RNNs of :mod:`memtheory.models.nonlinear`.

Forward pass, loss with its BPTT gradient, and continuous-time RK4 simulation of
``h_k = h_{k-1} + dt sigma(U x_k + b - W_+ h_{k-1})``, ``y_k = c^T h_k + c_0`` (see that module for the model),
parallel over the batch, plus the vectorisable :func:`fast_tanh` and the activations by integer code
(:data:`ACTIVATIONS`).

Layout: the batch is split into one chunk per numba thread (``prange``, :func:`n_chunks`); a chunk is processed
in blocks of at most ``block`` samples (:func:`block_size`) stepped through time in lock-step, so the recurrent
products are small GEMMs (``np.dot`` into preallocated outputs, i.e. BLAS; call the kernels inside
``memtheory._runtime.single_threaded_blas()``) and the elementwise work is vectorised. Histories are time-major,
``H[k + 1, s, :] = h_k`` of sample ``s`` of the block, ``H[0] = h_{-1} = 0``. Every work array is allocated
once per chunk, outside the time loop. ``error_model="numpy"`` removes Python's division checks so that LLVM
can vectorise the elementwise loops. All kernels are compiled with ``cache=True``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "ACTIVATIONS",
    "HARDTANH",
    "LINEAR",
    "RELU",
    "TANH",
    "activate",
    "block_size",
    "continuous_kernel",
    "fast_tanh",
    "forward_kernel",
    "loss_grad_kernel",
    "n_chunks",
]

LINEAR, TANH, HARDTANH, RELU = 0, 1, 2, 3
ACTIVATIONS: dict[str, int] = {"linear": LINEAR, "tanh": TANH, "hardtanh": HARDTANH, "relu": RELU}
"""Integer code of each activation, as the kernels take it."""

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
def activate(code: int, z: np.ndarray, da: np.ndarray) -> None:
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
def forward_kernel(x, MT, r, diag, UT, bias, c, c0, dt, act, nchunks, block, states, store):
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
                activate(act, Zb.reshape(nb * m), Dbuf[: nb * m])
                for s in range(nb):
                    for i in range(m):
                        H[s, i] += dt * Zb[s, i]
                    out[s0 + s, k] = _readout(H, c, c0, s)
                    if store:
                        states[s0 + s, k, :] = H[s]
    return out


@njit(fastmath=_FM, **_JIT)
def _block_forward(x, y, tw, s0, MT, r, diag, UT, bias, c, c0, dt, act, scale, H, D, E) -> float:
    """Forward pass of one block storing ``H``, ``sigma'`` in ``D`` and ``dL/dy`` in ``E``; returns the loss sum.

    ``H`` is ``(T + 1, nb, m)``, ``D`` ``(T, nb, m)``, ``E`` ``(T, nb)``, all C-contiguous.
    """
    nb, m = H.shape[1], H.shape[2]
    T = x.shape[1]
    lsum = 0.0
    H[0] = 0.0
    for k in range(T):
        Hp = H[k]
        Hn = H[k + 1]
        _preactivation(x, s0, k, UT, bias, MT, r, diag, Hp, Hn)
        activate(act, Hn.reshape(nb * m), D[k].reshape(nb * m))
        for s in range(nb):
            for i in range(m):
                Hn[s, i] = Hp[s, i] + dt * Hn[s, i]
            err = _readout(Hn, c, c0, s) - y[s0 + s, k]
            lsum += tw[k] * err * err
            E[k, s] = 2.0 * tw[k] * err * scale
    return lsum


@njit(fastmath=_FM, **_JIT)
def _block_backward(x, s0, M, r, diag, c, dt, H, D, E, L, tmp, tmp_mm, gM, gr, gUT, gb, gc) -> float:
    """Backpropagation through time for one block; accumulates gradients, returns ``dL/dc_0``.

    Adjoint ``lambda_k = dL/dh_k``: ``delta_k = dt lambda_k * sigma'(z_k)`` (``dL/dz_k``), then
    ``lambda_{k-1} = lambda_k - W_+^T delta_k + e_{k-1} c`` with ``e_k = dL/dy_k``. Each update is a
    separate short loop (few arrays per loop keeps LLVM's alias checks cheap, so the loops vectorise).
    ``D[k]`` is overwritten with ``delta_k``; the gradient of ``W_+``, ``-sum_k delta_k^T h_{k-1}``, is one GEMM
    over all time steps and samples after the loop (a product with inner dimension ``T nb`` instead of ``T``
    products with inner dimension ``nb``).
    """
    T, nb, m = D.shape
    d = x.shape[2]
    g0 = 0.0
    L[:] = 0.0
    n = nb * m
    L1 = L.reshape(n)
    for k in range(T - 1, -1, -1):
        Dk = D[k]  # sigma'(z_k), overwritten with delta_k = dL/dz_k
        Hp = H[k]
        Hn = H[k + 1]
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
            np.dot(Dk, M, tmp)  # rows (W_+^T delta_s)^T
            T1 = tmp.reshape(n)
            for i in range(n):
                L1[i] -= T1[i]
    if not diag:
        np.dot(D.reshape(T * nb, m).T, H[:T].reshape(T * nb, m), tmp_mm)  # sum_k delta_k^T h_{k-1}
        g1 = gM.reshape(m * m)
        t1 = tmp_mm.reshape(m * m)
        for i in range(m * m):
            g1[i] -= t1[i]
    return g0


@njit(parallel=True, **_JIT)
def loss_grad_kernel(x, y, tw, M, MT, r, diag, UT, bias, c, c0, dt, act, nchunks, block):
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
        # flat work arrays, viewed per block as contiguous (T, nb, m) arrays (the last block may be smaller)
        Hf = np.empty((T + 1) * block * m)
        Df = np.empty(T * block * m)
        Ef = np.empty(T * block)
        Lf = np.empty(block * m)
        tmpf = np.empty(block * m)
        tmp_mm = np.empty((mm, mm))
        for s0 in range(c_lo, c_hi, block):
            nb = min(block, c_hi - s0)
            H = Hf[: (T + 1) * nb * m].reshape(T + 1, nb, m)
            D = Df[: T * nb * m].reshape(T, nb, m)
            E = Ef[: T * nb].reshape(T, nb)
            L = Lf[: nb * m].reshape(nb, m)
            tmp = tmpf[: nb * m].reshape(nb, m)
            loss[ci] += _block_forward(x, y, tw, s0, MT, r, diag, UT, bias, c, c0, dt, act, scale, H, D, E)
            gc0[ci] += _block_backward(x, s0, M, r, diag, c, dt, H, D, E, L, tmp, tmp_mm,
                                       gM[ci], gr[ci], gUT[ci], gb[ci], gc[ci])
    return loss.sum() * scale, gM, gr, gUT, gb, gc, gc0


@njit(fastmath=_FM, **_JIT)
def _rhs(x, s0, k, UT, bias, MT, r, diag, Hs, act, F, scratch) -> None:
    """``F = sigma(U x_k + b - W_+ Hs)`` row-wise, the continuous vector field."""
    nb, m = F.shape
    _preactivation(x, s0, k, UT, bias, MT, r, diag, Hs, F)
    activate(act, F.reshape(nb * m), scratch[: nb * m])


@njit(parallel=True, **_JIT)
def continuous_kernel(x, MT, r, diag, UT, bias, c, c0, dt, substeps, act, nchunks, block):
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


# =========================================================================== layout


def n_chunks(batch: int) -> int:
    """Chunks of a batch of ``batch`` samples: one per numba thread, at most one per sample."""
    return max(1, min(batch, numba.get_num_threads()))


_BLOCK_MAX = 128  # samples stepped in lock-step per GEMM
_BLOCK_MIN = 8
_BLOCK_WIDE = 64  # block of wide models (m >= _WIDE), whose BPTT is GEMM-bound
_WIDE = 128
_HISTORY_BYTES = 3 * 2**19  # per-thread BPTT history budget (1.5 MiB): keeps H and sigma' in the L2 cache


def block_size(batch: int, T: int, m: int, history: bool) -> int:
    """Samples per lock-step block.

    Measured on 2 AVX-512 cores (2 MiB L2 each), BPTT: at width 64 blocks whose histories fit in L2 are fastest
    (16 samples at ``T = 100``, 1.1x faster than 40; 128 is 1.25x slower); at width 8 blocks of 32 or more are
    1.7x faster than 8; at width 256 the products dominate and 64 samples per GEMM are 1.25x faster than 10,
    histories out of cache or not.
    """
    per_chunk = -(-batch // n_chunks(batch))
    block = _BLOCK_MAX
    if history:
        if m >= _WIDE:
            block = _BLOCK_WIDE
        else:
            block = min(block, max(_BLOCK_MIN, _HISTORY_BYTES // (16 * (T + 1) * m)))
    return max(1, min(per_chunk, block))
