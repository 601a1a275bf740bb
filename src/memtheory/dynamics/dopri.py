"""Small helpers of the explicit steps: the weighted RMS norm, row copies and Hairer's starting step.

The explicit pairs themselves (Dormand--Prince 5(4) and 8(5,3)) are data (:mod:`memtheory.dynamics.tableaux`) run
by one engine (:mod:`memtheory.dynamics.explicit`); this module holds what that engine, the Radau step and the
buffers share, and the inlining policy of the compiled loop.

All functions are numba ``njit`` functions meant to be called from the integration loop; ``rhs`` is a
numba first-class function ``rhs(t, y, p) -> float64[::1]``.

References
----------
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer (1993),
§II.4 (the starting step ``HINIT`` of ``dopri5.f``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "INLINE",
    "all_finite",
    "initial_step",
    "rms_norm",
    "set_row",
]

#: numba inlining policy of the small helpers of the integration loop. ``"always"`` inlines them in
#: numba IR: every level of separately compiled njit functions makes numba re-optimise and re-generate
#: all the code linked below it, so a flat call tree compiles several times faster.
INLINE = "always"


@njit(nogil=True, inline=INLINE)
def rms_norm(x: np.ndarray, scale: np.ndarray) -> float:
    """Root-mean-square norm of ``x / scale`` (Hairer's weighted norm)."""
    n = x.shape[0]
    if n == 0:
        return 0.0
    s = 0.0
    for i in range(n):
        v = x[i] / scale[i]
        s += v * v
    return np.sqrt(s / n)


@njit(nogil=True, inline=INLINE)
def all_finite(x: np.ndarray) -> bool:
    """Whether every entry of the vector ``x`` is finite."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True


@njit(nogil=True, inline=INLINE)
def set_row(M, j, r):
    """``M[j, :] = r`` as an explicit loop (much less generated code than a broadcasting assignment)."""
    for i in range(M.shape[1]):
        M[j, i] = r[i]


@njit(nogil=True)
def initial_step(rhs, t, y, f0, p, rtol, atol, order, hmax):
    """Starting step size (Hairer's ``HINIT``; *Solving ODEs I*, §II.4).

    Parameters
    ----------
    rhs : first-class function
        Right-hand side ``rhs(t, y, p)``.
    t, y, f0 : float, ndarray, ndarray
        Initial time, state and derivative ``rhs(t, y, p)``.
    p : ndarray
        Parameters.
    rtol : float
        Relative tolerance.
    atol : ndarray
        Absolute tolerance per component.
    order : int
        Order of the error estimate of the method that will use the step.
    hmax : float
        Largest allowed step.

    Returns
    -------
    (float, int)
        The step size and the number of right-hand side evaluations used (1).
    """
    n = y.shape[0]
    sk = np.empty(n)
    for i in range(n):
        sk[i] = atol[i] + rtol * abs(y[i])
    dnf = rms_norm(f0, sk)
    dny = rms_norm(y, sk)
    if dnf <= 1e-10 or dny <= 1e-10:
        h = 1e-6
    else:
        h = 0.01 * dny / dnf
    h = min(h, hmax)
    y1 = np.empty(n)
    for i in range(n):
        y1[i] = y[i] + h * f0[i]
    f1 = rhs(t + h, y1, p)
    if not all_finite(f1):
        return min(0.01 * h, hmax), 1
    d = np.empty(n)
    for i in range(n):
        d[i] = f1[i] - f0[i]
    der2 = rms_norm(d, sk) / h
    der12 = max(abs(der2), np.sqrt(dnf))
    if not np.isfinite(der12):
        return min(0.01 * h, hmax), 1
    if der12 <= 1e-15:
        h1 = max(1e-6, h * 1e-3)
    else:
        h1 = (0.01 / der12) ** (1.0 / order)
    return min(100.0 * h, h1, hmax), 1
