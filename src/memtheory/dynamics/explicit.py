"""One engine for the explicit embedded Runge--Kutta pairs: trial step, step-size decision, dense output.

The pairs are data (:mod:`memtheory.dynamics.tableaux`, index ``tab``): :func:`erk_attempt` evaluates the main
stages of a trial step (the last one, FSAL, at the new solution), the error estimate and Hairer's stiffness
indicator; :func:`erk_control` is the PI step-size controller of ``dopri5.f`` / ``dop853.f`` with the pair's
constants; :func:`erk_dense` fills the coefficient rows of the continuous extension (for DOP853 after three
more stages, so the loop calls it only on the steps whose interpolant is used); :func:`erk_interp` evaluates it.

Error estimate (weighted RMS with ``sk_i = atol_i + rtol max(|y_i|, |y_new_i|)``): ``err = h ||sum_j E_j k_j||``
for DOPRI5; for DOP853 Hairer's combination of the fifth- and third-order estimates
``err = h ||e5||^2 / sqrt(||e5||^2 + 0.01 ||e3||^2)``, which behaves like the eighth-order local error for small
steps and stays reliable for large ones.

Stiffness indicator (Hairer & Wanner, §IV.2): the last main stage before FSAL and the FSAL stage are both
evaluated at ``t + h``, so ``h ||k_fsal - k_stiff|| / ||y_new - y_stiff||`` estimates ``h |lambda|`` for the
dominant eigenvalue.

References
----------
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer (1993),
§II.4 (step-size control), §II.6 (dense output), §II.10 (``dopri5.f``, ``dop853.f``); vol. II §IV.2 (stiffness
detection).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.constants import C_ERR, C_FACOLD, C_HLAMB, C_HNEW, C_REJ, REJ_ERROR, REJ_NONE, REJ_NONFINITE
from memtheory.dynamics.dopri import INLINE, all_finite, set_row
from memtheory.dynamics.tableaux import (
    ERK_A,
    ERK_C,
    ERK_D,
    ERK_E,
    ERK_E3,
    ERK_F,
    ERK_INT,
    F_BETA,
    F_EXPO1,
    F_FACC1,
    F_FACC2,
    I_E3,
    I_FSAL,
    I_NDENSE,
    I_STAGES,
    I_STIFF,
)

__all__ = ["erk_attempt", "erk_control", "erk_dense", "erk_interp", "erk_extra_stages"]

_SAFE = 0.9


@njit(nogil=True, inline=INLINE)
def _stage_argument(y, h, K, tab, s, yt):
    """``yt = y + h sum_{j < s} A[s, j] k_j`` (zero coefficients skipped)."""
    n = y.shape[0]
    for i in range(n):
        yt[i] = 0.0
    for j in range(s):
        a = ERK_A[tab, s, j]
        if a != 0.0:
            for i in range(n):
                yt[i] += a * K[j, i]
    for i in range(n):
        yt[i] = y[i] + h * yt[i]


@njit(nogil=True)
def erk_attempt(rhs, t, y, h, p, rtol, atol, K, ysti, tab):
    """One trial step of the pair ``tab`` from ``(t, y)`` with step ``h``.

    Parameters
    ----------
    rhs : first-class function
        Right-hand side ``rhs(t, y, p)``.
    t, y, h, p : float, ndarray, float, ndarray
        Time, state, trial step (> 0), parameters.
    rtol, atol : float, ndarray
        Tolerances.
    K : ndarray, shape (MAX_STAGES, n)
        Stage derivatives; ``K[0]`` must hold ``rhs(t, y, p)`` on entry; rows ``1..fsal`` are outputs
        (``K[fsal]`` is ``rhs(t + h, y_new, p)``, the first stage of the next step).
    ysti : ndarray, shape (n,)
        Output: the argument of the stiffness stage.
    tab : int
        The pair (:data:`~memtheory.dynamics.tableaux.ERK_DOPRI5` or ``ERK_DOP853``).

    Returns
    -------
    (bool, float, ndarray, float, int)
        ``finite``, the error estimate (weighted RMS, <= 1 accepts), ``y_new``, the stiffness indicator
        ``h |lambda|`` (0 if it cannot be estimated) and the number of ``rhs`` evaluations.
    """
    n = y.shape[0]
    fsal = ERK_INT[tab, I_FSAL]
    stiff = ERK_INT[tab, I_STIFF]
    yt = np.empty(n)
    for s in range(1, fsal):
        _stage_argument(y, h, K, tab, s, yt)
        if s == stiff:
            for i in range(n):
                ysti[i] = yt[i]
        set_row(K, s, rhs(t + ERK_C[tab, s] * h, yt, p))
    y_new = np.empty(n)
    _stage_argument(y, h, K, tab, fsal, y_new)
    set_row(K, fsal, rhs(t + h, y_new, p))
    sk = np.empty(n)
    for i in range(n):
        sk[i] = atol[i] + rtol * max(abs(y[i]), abs(y_new[i]))
    e5 = 0.0
    e3 = 0.0
    use_e3 = ERK_INT[tab, I_E3] != 0
    for i in range(n):
        a = 0.0
        b = 0.0
        for j in range(fsal + 1):
            a += ERK_E[tab, j] * K[j, i]
            if use_e3:
                b += ERK_E3[tab, j] * K[j, i]
        a /= sk[i]
        b /= sk[i]
        e5 += a * a
        e3 += b * b
    if use_e3:
        deno = e5 + 0.01 * e3
        if not deno > 0.0:
            deno = 1.0
        en = h * e5 * np.sqrt(1.0 / (n * deno))
    else:
        en = h * np.sqrt(e5 / n) if n > 0 else 0.0
    k_new = K[fsal]
    if not (np.isfinite(en) and all_finite(y_new) and all_finite(k_new)):
        return False, np.inf, y_new, 0.0, fsal
    stnum = 0.0
    stden = 0.0
    for i in range(n):
        stnum += (k_new[i] - K[stiff, i]) ** 2
        stden += (y_new[i] - ysti[i]) ** 2
    hlamb = 0.0
    if stden > 0.0:
        hlamb = h * np.sqrt(stnum / stden)
    return True, en, y_new, hlamb, fsal


@njit(nogil=True)
def erk_control(finite, err, hlamb, h, ctl, tab):
    """PI step-size decision after a trial step of the pair ``tab``.

    Returns ``(rej, h_retry)``: ``rej = REJ_NONE`` if the step is acceptable (then ``ctl[C_HNEW]`` is the
    proposed next step), otherwise the reason and the step size to retry with.
    """
    if not finite:
        return REJ_NONFINITE, 0.5 * h
    facc1 = ERK_F[tab, F_FACC1]
    fac11 = err ** ERK_F[tab, F_EXPO1]
    if err <= 1.0:
        fac = fac11 / ctl[C_FACOLD] ** ERK_F[tab, F_BETA]
        fac = max(ERK_F[tab, F_FACC2], min(facc1, fac / _SAFE))
        hnew = h / fac
        if ctl[C_REJ] == 1.0:
            hnew = min(hnew, h)
        ctl[C_HNEW] = hnew
        ctl[C_ERR] = err
        ctl[C_HLAMB] = hlamb
        return REJ_NONE, h
    return REJ_ERROR, h / min(facc1, fac11 / _SAFE)


@njit(nogil=True, inline=INLINE)
def erk_extra_stages(tab):
    """Number of ``rhs`` evaluations :func:`erk_dense` makes for the pair ``tab`` (0 for DOPRI5, 3 for DOP853)."""
    return ERK_INT[tab, I_STAGES] - ERK_INT[tab, I_FSAL] - 1


@njit(nogil=True)
def erk_dense(rhs, t, y, y_new, h, p, K, tab, coef):
    """Fill the coefficient rows of the continuous extension of an accepted step (rows past the pair's are 0).

    Evaluates the pair's dense-output stages first (``K[fsal + 1:]``); returns their number.
    """
    n = y.shape[0]
    fsal = ERK_INT[tab, I_FSAL]
    ns = ERK_INT[tab, I_STAGES]
    if ns > fsal + 1:
        yt = np.empty(n)
        for s in range(fsal + 1, ns):
            _stage_argument(y, h, K, tab, s, yt)
            set_row(K, s, rhs(t + ERK_C[tab, s] * h, yt, p))
    nd = ERK_INT[tab, I_NDENSE]
    for i in range(n):
        ydiff = y_new[i] - y[i]
        bspl = h * K[0, i] - ydiff
        coef[0, i] = y[i]
        coef[1, i] = ydiff
        coef[2, i] = bspl
        coef[3, i] = ydiff - h * K[fsal, i] - bspl
    for q in range(coef.shape[0] - 4):
        for i in range(n):
            coef[4 + q, i] = 0.0
        if q < nd:
            for j in range(ns):
                d = ERK_D[tab, q, j]
                if d != 0.0:
                    for i in range(n):
                        coef[4 + q, i] += d * K[j, i]
            for i in range(n):
                coef[4 + q, i] *= h
    return ns - fsal - 1


@njit(nogil=True, inline=INLINE)
def erk_interp(coef, theta, out):
    """Evaluate the dense output of an explicit step at ``theta`` in [0, 1] into ``out`` (8 coefficient rows)."""
    th1 = 1.0 - theta
    for i in range(out.shape[0]):
        u = coef[6, i] + theta * coef[7, i]
        u = coef[5, i] + th1 * u
        u = coef[4, i] + theta * u
        u = coef[3, i] + th1 * u
        u = coef[2, i] + theta * u
        u = coef[1, i] + th1 * u
        out[i] = coef[0, i] + theta * u
