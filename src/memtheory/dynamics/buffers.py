"""Growable output buffers of the compiled integration loop (accepted points, events, step interpolants).

The loop cannot know in advance how many steps it will take, so it writes into arrays that double (plus 8)
when full and returns them with their fill counts. Each ``push_*`` returns the (possibly reallocated) buffers
and the new count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.dopri import INLINE, set_row

__all__ = ["push_point", "push_event", "push_step"]


# (Explicit loops instead of slice assignments: numba generates far less code for them, which keeps
# the compile time of the integration loop down.)
@njit(nogil=True, inline=INLINE)
def _grow_f1(a):
    b = np.empty(2 * a.shape[0] + 8)
    for i in range(a.shape[0]):
        b[i] = a[i]
    return b


@njit(nogil=True, inline=INLINE)
def _grow_i1(a):
    b = np.empty(2 * a.shape[0] + 8, dtype=np.int64)
    for i in range(a.shape[0]):
        b[i] = a[i]
    return b


@njit(nogil=True, inline=INLINE)
def _grow_f2(a):
    b = np.empty((2 * a.shape[0] + 8, a.shape[1]))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            b[i, j] = a[i, j]
    return b


@njit(nogil=True, inline=INLINE)
def _grow_f3(a):
    b = np.empty((2 * a.shape[0] + 8, a.shape[1], a.shape[2]))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                b[i, j, k] = a[i, j, k]
    return b


@njit(nogil=True)
def push_point(ts, ys, nt, tv, yv):
    """Append ``(tv, yv)`` to the output buffers; returns the (possibly reallocated) buffers and count."""
    if nt == ts.shape[0]:
        ts = _grow_f1(ts)
        ys = _grow_f2(ys)
    ts[nt] = tv
    set_row(ys, nt, yv)
    return ts, ys, nt + 1


@njit(nogil=True)
def push_event(ev_i, ev_t, ev_y, ne, idx, tv, yv):
    if ne == ev_t.shape[0]:
        ev_i = _grow_i1(ev_i)
        ev_t = _grow_f1(ev_t)
        ev_y = _grow_f2(ev_y)
    ev_i[ne] = idx
    ev_t[ne] = tv
    set_row(ev_y, ne, yv)
    return ev_i, ev_t, ev_y, ne + 1


@njit(nogil=True)
def push_step(d_t, d_h, d_k, d_c, nd, tv, hv, kind, coef):
    if nd == d_t.shape[0]:
        d_t = _grow_f1(d_t)
        d_h = _grow_f1(d_h)
        d_k = _grow_i1(d_k)
        d_c = _grow_f3(d_c)
    d_t[nd] = tv
    d_h[nd] = hv
    d_k[nd] = kind
    for i in range(coef.shape[0]):
        for j in range(coef.shape[1]):
            d_c[nd, i, j] = coef[i, j]
    return d_t, d_h, d_k, d_c, nd + 1

