"""Dormand--Prince 5(4): one explicit adaptive step, its dense output and Hairer's stiffness test.

The method is the explicit Runge--Kutta pair of Dormand and Prince (1980) with seven stages, FSAL
("first same as last": the seventh stage is the derivative at the new point and is reused as the first
stage of the next step). The solution is propagated with the fifth-order weights (local extrapolation),
the embedded fourth-order solution gives the error estimate, and Shampine's fourth-order continuous
extension (the coefficients ``D`` of Hairer's ``dopri5.f``) gives a dense output on each step.

Step-size control is the PI controller of Hairer & Wanner, *Solving ODEs I*, §II.4 and the ``dopri5.f``
code (exponents ``alpha = 1/5 - 0.75 beta``, ``beta = 0.04``); the controller itself lives beside the loop
(:mod:`memtheory.dynamics.control`), this module only computes a trial step.

Stiffness detection (Hairer & Wanner, *Solving ODEs I*, §IV.2 and ``dopri5.f``): with
``k6 = f(t + h, y_sti)`` and ``k7 = f(t + h, y_new)`` both evaluated at ``t + h``,
``h * |lambda| ~ h * ||k7 - k6|| / ||y_new - y_sti||`` estimates ``h`` times the dominant eigenvalue
of the Jacobian; values above 3.25 (the stability boundary of the method is about 3.3) mean that the
step size is limited by stability rather than by accuracy.

All functions are numba ``njit`` functions meant to be called from the integration loop; ``rhs`` is a
numba first-class function ``rhs(t, y, p) -> float64[::1]``.

References
----------
J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980).
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer (1993),
§II.4-II.6 (``dopri5.f``) and §IV.2 (stiffness detection).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "INLINE",
    "DOPRI_ORDER",
    "STIFF_HLAMB",
    "dopri_attempt",
    "dopri_dense",
    "dopri_interp",
    "initial_step",
    "rms_norm",
    "set_row",
]

#: numba inlining policy of the small helpers of the integration loop. ``"always"`` inlines them in
#: numba IR: every level of separately compiled njit functions makes numba re-optimise and re-generate
#: all the code linked below it, so a flat call tree compiles several times faster.
INLINE = "always"

#: Order of the propagated solution (used by the step-size controller).
DOPRI_ORDER = 5
#: Threshold of Hairer's stiffness test ``h |lambda| > 3.25``.
STIFF_HLAMB = 3.25

# Butcher tableau (Dormand & Prince 1980; Hairer's dopri5.f).
C2, C3, C4, C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
A21 = 1.0 / 5.0
A31, A32 = 3.0 / 40.0, 9.0 / 40.0
A41, A42, A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
A51, A52, A53, A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
A61, A62, A63 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0
A64, A65 = 49.0 / 176.0, -5103.0 / 18656.0
A71, A73, A74 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0
A75, A76 = -2187.0 / 6784.0, 11.0 / 84.0
# Error weights e = b(5) - b(4).
E1, E3, E4 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0
E5, E6, E7 = -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
# Dense output (Shampine's continuous extension as written in dopri5.f).
D1 = -12715105075.0 / 11282082432.0
D3 = 87487479700.0 / 32700410799.0
D4 = -10690763975.0 / 1880347072.0
D5 = 701980252875.0 / 199316789632.0
D6 = -1453857185.0 / 822651844.0
D7 = 69997945.0 / 29380423.0


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
def _all_finite(x: np.ndarray) -> bool:
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
    if not _all_finite(f1):
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


@njit(nogil=True)
def dopri_attempt(rhs, t, y, h, p, rtol, atol, K, ysti):
    """One trial Dormand--Prince step from ``(t, y)`` with step ``h``.

    Parameters
    ----------
    rhs : first-class function
        Right-hand side ``rhs(t, y, p)``.
    t : float
        Current time.
    y : ndarray, shape (n,)
        Current state.
    h : float
        Trial step size (> 0).
    p : ndarray
        Parameters.
    rtol : float
        Relative tolerance.
    atol : ndarray, shape (n,)
        Absolute tolerances.
    K : ndarray, shape (7, n)
        Stage derivatives; ``K[0]`` must hold ``rhs(t, y, p)`` on entry, the other rows are outputs
        (``K[6]`` is ``rhs(t + h, y_new, p)``, the first stage of the next step).
    ysti : ndarray, shape (n,)
        Output: argument of the sixth stage, used by the stiffness test.

    Returns
    -------
    (bool, float, ndarray, float)
        ``finite`` (all stages finite), the weighted RMS error estimate, ``y_new``, and the stiffness
        indicator ``h |lambda|`` (0 if it cannot be estimated).
    """
    n = y.shape[0]
    k1 = K[0]
    yt = np.empty(n)
    for i in range(n):
        yt[i] = y[i] + h * A21 * k1[i]
    set_row(K, 1, rhs(t + C2 * h, yt, p))
    k2 = K[1]
    for i in range(n):
        yt[i] = y[i] + h * (A31 * k1[i] + A32 * k2[i])
    set_row(K, 2, rhs(t + C3 * h, yt, p))
    k3 = K[2]
    for i in range(n):
        yt[i] = y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i])
    set_row(K, 3, rhs(t + C4 * h, yt, p))
    k4 = K[3]
    for i in range(n):
        yt[i] = y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i])
    set_row(K, 4, rhs(t + C5 * h, yt, p))
    k5 = K[4]
    for i in range(n):
        ysti[i] = y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i])
    t_new = t + h
    set_row(K, 5, rhs(t_new, ysti, p))
    k6 = K[5]
    y_new = np.empty(n)
    for i in range(n):
        y_new[i] = y[i] + h * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] + A76 * k6[i])
    set_row(K, 6, rhs(t_new, y_new, p))
    k7 = K[6]
    err = np.empty(n)
    sk = np.empty(n)
    for i in range(n):
        err[i] = h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i])
        sk[i] = atol[i] + rtol * max(abs(y[i]), abs(y_new[i]))
    en = rms_norm(err, sk)
    if not (np.isfinite(en) and _all_finite(y_new) and _all_finite(k7)):
        return False, np.inf, y_new, 0.0
    stnum = 0.0
    stden = 0.0
    for i in range(n):
        stnum += (k7[i] - k6[i]) ** 2
        stden += (y_new[i] - ysti[i]) ** 2
    hlamb = 0.0
    if stden > 0.0:
        hlamb = h * np.sqrt(stnum / stden)
    return True, en, y_new, hlamb


@njit(nogil=True)
def dopri_dense(y, y_new, K, h, coef):
    """Fill the five coefficient rows of the continuous extension on an accepted step.

    ``y(t + theta h) = r0 + theta (r1 + (1 - theta) (r2 + theta (r3 + (1 - theta) r4)))``.
    """
    for i in range(y.shape[0]):
        ydiff = y_new[i] - y[i]
        bspl = h * K[0, i] - ydiff
        coef[0, i] = y[i]
        coef[1, i] = ydiff
        coef[2, i] = bspl
        coef[3, i] = ydiff - h * K[6, i] - bspl
        coef[4, i] = h * (D1 * K[0, i] + D3 * K[2, i] + D4 * K[3, i] + D5 * K[4, i] + D6 * K[5, i]
                          + D7 * K[6, i])


@njit(nogil=True, inline=INLINE)
def dopri_interp(coef, theta, out):
    """Evaluate the dense output of a Dormand--Prince step at ``theta`` in [0, 1] into ``out``."""
    th1 = 1.0 - theta
    for i in range(out.shape[0]):
        out[i] = coef[0, i] + theta * (coef[1, i] + th1 * (coef[2, i] + theta * (coef[3, i]
                                                                                 + th1 * coef[4, i])))
