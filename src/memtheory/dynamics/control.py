"""Step-size decisions, the stiffness switch and failure diagnosis of the compiled integration loop.

After each trial step the loop calls a small controller: :func:`memtheory.dynamics.explicit.erk_control` (the PI
controller of ``dopri5.f`` / ``dop853.f``) or :func:`radau_control` (Gustafsson's predictive controller of
``radau5.f``), which accepts the step or says why it is rejected and with which step size to retry;
:func:`accept_radau` does the bookkeeping of an accepted Radau step. :func:`stiffness_update` and
:func:`power_radius` decide the switch of ``method="auto"`` from the explicit pair to Radau IIA;
:func:`failure_reason` names the cause when the step size underflows.

(The loop calls the step kernels directly and these small controllers afterwards, rather than through
wrappers: every extra level of separately compiled functions is re-optimised by numba/LLVM together with
everything below it.)

References
----------
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer (1993),
§II.4 (PI step-size control), §IV.2 of vol. II for the stiffness test.
E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II*, 2nd ed., Springer (1996), §IV.8.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.constants import (
    C_ERR,
    C_HNEW,
    C_NITER,
    C_RATE,
    C_REJ,
    C_SAFETY,
    R_DOMAIN_SMALL,
    R_NEWTON,
    R_NONFINITE,
    R_SINGULAR,
    R_STEP_SMALL,
    REJ_DOMAIN,
    REJ_ERROR,
    REJ_NEWTON,
    REJ_NONE,
    REJ_NONFINITE,
    REJ_SINGULAR,
)
from memtheory.dynamics.radau import (
    MAX_FACTOR,
    MIN_FACTOR,
    NEWTON_MAXITER,
    ST_CUR_JAC,
    ST_ERR_OLD,
    ST_H_OLD,
    ST_HAVE_PREV,
    ST_LAST_REJ,
    ST_LU_H,
    ST_PREV_H,
    radau_predict_factor,
)

__all__ = [
    "NSTIFF_ON",
    "radau_control",
    "accept_radau",
    "reset_radau",
    "stiffness_update",
    "power_radius",
    "failure_reason",
]

#: Accepted steps of Hairer's test (and of the suspicion count) before a switch is considered.
NSTIFF_ON = 15
_NSTIFF_OFF = 6


@njit(nogil=True)
def radau_control(code, err, n_iter, rate, h, st, ctl):
    """Predictive step-size decision after a Radau trial step (same return convention)."""
    if code != 0:
        st[ST_LAST_REJ] = 1.0
        rej = REJ_NEWTON if code == 1 else (REJ_SINGULAR if code == 2 else REJ_NONFINITE)
        return rej, 0.5 * h
    safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + n_iter)
    fac = radau_predict_factor(h, st[ST_H_OLD], err, st[ST_ERR_OLD])
    if err > 1.0:
        st[ST_LAST_REJ] = 1.0
        return REJ_ERROR, h * max(MIN_FACTOR, safety * fac)
    ctl[C_ERR] = err
    ctl[C_NITER] = n_iter
    ctl[C_RATE] = rate
    ctl[C_SAFETY] = safety
    ctl[C_HNEW] = h * min(MAX_FACTOR, safety * fac)
    return REJ_NONE, h


@njit(nogil=True)
def accept_radau(h, coef, st, prev_coef, ctl):
    """Bookkeeping after an accepted Radau step; returns ``(h_next, recompute_jac)``.

    The Jacobian is to be re-evaluated when Newton was slow (more than 2 iterations and rate > 1e-3);
    the LU factors (and the step size) are kept when the proposed growth is below 1.2 (radau5.f's
    ``quot1, quot2`` window, simplified as in scipy).
    """
    recompute_jac = ctl[C_NITER] > 2 and ctl[C_RATE] > 1e-3
    factor = ctl[C_HNEW] / h
    if (not recompute_jac) and factor < 1.2:
        factor = 1.0
    else:
        st[ST_LU_H] = 0.0
    st[ST_CUR_JAC] = 1.0 if recompute_jac else 0.0
    st[ST_H_OLD] = h
    st[ST_ERR_OLD] = ctl[C_ERR]
    st[ST_HAVE_PREV] = 1.0
    st[ST_PREV_H] = h
    st[ST_LAST_REJ] = 0.0
    for i in range(coef.shape[0]):
        for j in range(coef.shape[1]):
            prev_coef[i, j] = coef[i, j]
    return h * factor, recompute_jac


@njit(nogil=True)
def reset_radau(st):
    """Reset the Radau state (start, or switch from DOPRI); the caller evaluates a fresh Jacobian."""
    for i in range(st.shape[0]):
        st[i] = 0.0
    st[ST_CUR_JAC] = 1.0


@njit(nogil=True)
def stiffness_update(hlamb, sti, hlamb_stiff, hlamb_suspect):
    """Stiffness counters after an accepted explicit step.

    ``sti = [iasti, nonsti, nsusp, wait, countdown]`` (int64); the thresholds are the pair's
    (:mod:`memtheory.dynamics.tableaux`; the numbers below are DOPRI5's, DOP853's are 6.1/3.25 times larger).
    Hairer's test: ``h |lambda| > hlamb_stiff = 3.25`` on 15 accepted steps without 6 consecutive non-stiff ones
    in between. Because the estimate ``||k7 - k6|| / ||y7 - y6||`` mixes stiff and non-stiff components (on
    Robertson's problem at tight tolerances it stays between 1 and 3 for thousands of stability-limited steps),
    15 consecutive steps with ``h |lambda| > hlamb_suspect = 0.8`` also trigger a check with the Jacobian (see
    :func:`power_radius`): stiff if ``h rho(J) > 1.5`` (the pair's ``F_HRHO``, compared by the loop). (DOPRI5 is
    stable up to ``h rho ~ 3.3`` on the negative axis, but its error estimator is not: on Robertson's problem the
    accepted steps settle at ``h rho ~ 2-2.7``.)
    Returns 0 (not stiff), 1 (stiff by Hairer's test) or 2 (check with the Jacobian).
    """
    if hlamb > hlamb_stiff:
        sti[1] = 0
        sti[0] += 1
        if sti[0] >= NSTIFF_ON:
            return 1
    else:
        sti[1] += 1
        if sti[1] >= _NSTIFF_OFF:
            sti[0] = 0
    if hlamb > hlamb_suspect:
        sti[2] += 1
    else:
        sti[2] = 0
    sti[4] -= 1
    if sti[2] >= NSTIFF_ON and sti[4] <= 0:
        return 2
    return 0


@njit(nogil=True)
def power_radius(J, v0):
    """Estimate the spectral radius of ``J`` by 30 power iterations started from ``v0``.

    Started from the stage difference ``y7 - y6`` (Hairer's direction of the stiff components).
    """
    n = J.shape[0]
    v = v0.copy()
    nv = 0.0
    for i in range(n):
        nv += v[i] * v[i]
    if not (nv > 0.0) or not np.isfinite(nv):
        for i in range(n):
            v[i] = 1.0
        nv = float(n)
    nv = np.sqrt(nv)
    for i in range(n):
        v[i] /= nv
    rho = 0.0
    w = np.empty(n)
    for _ in range(30):
        s = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += J[i, j] * v[j]
            w[i] = acc
            s += acc * acc
        rho = np.sqrt(s)
        if not (rho > 0.0) or not np.isfinite(rho):
            return 0.0
        for i in range(n):
            v[i] = w[i] / rho
    return rho


@njit(nogil=True)
def failure_reason(last_rej, use_domain, d_cur, d_prev, h_last, t, t0):
    """Termination reason when the step size underflows.

    With a domain, the failure is attributed to the boundary (status -2) when the last rejection was for
    leaving the domain or for non-finite values, or when the domain value, extrapolated linearly from
    the last accepted step, reaches 0 within ``1e-6 (t - t0)``: the solution runs into the boundary
    (typically with a singular right-hand side there, like ``w' ~ -1/w``).
    """
    if use_domain:
        if last_rej == REJ_DOMAIN or last_rej == REJ_NONFINITE:
            return R_DOMAIN_SMALL
        rate = (d_prev - d_cur) / h_last if h_last > 0.0 else 0.0
        if rate > 0.0 and d_cur / rate <= 1e-6 * max(t - t0, h_last):
            return R_DOMAIN_SMALL
    if last_rej == REJ_NONFINITE:
        return R_NONFINITE
    if last_rej == REJ_SINGULAR:
        return R_SINGULAR
    if last_rej == REJ_NEWTON:
        return R_NEWTON
    return R_STEP_SMALL

