"""Adaptive ODE integration in numba: Dormand--Prince 5(4), Radau IIA 5, automatic stiffness switching.

Problem convention (the gradient flows of :mod:`memtheory` are wired onto it):

* ``rhs(t, y, p) -> float64[::1]``: the vector field, ``y`` a 1-D float64 state, ``p`` a 1-D float64
  parameter array;
* ``jac(t, y, p) -> float64[:, ::1]``: the analytic Jacobian ``d rhs / dy`` (``None``: forward differences);
* ``events(t, y, p) -> float64[::1]`` (optional): ``n_events`` event functions; event ``e`` is a sign change
  of component ``e`` in the allowed ``direction`` (+1 upward, -1 downward, 0 both); ``terminal`` events stop
  the integration;
* ``domain(t, y, p) -> float64`` (optional): must stay positive. A trial step that leaves the domain is
  rejected and retried with a step ending at 90% of the crossing located on its interpolant; when the
  solution genuinely reaches the boundary the integration stops with ``status = -2``: either two
  successive steps locate the same crossing (the exit time, on the interpolant, is returned), or the
  step size underflows / steps keep being rejected right at the boundary (typically because the
  right-hand side is singular or undefined there; the last point inside is returned). The state
  returned is always finite.

All four are numba-jitted functions. They are passed to the compiled integration loop as numba
*first-class functions* (``numba.types.FunctionType``): the loop is compiled once, for every right-hand
side with this signature, and cached on disk across processes (the cache is keyed on the contents of
all four source files of the integrator, see :func:`_attach_cache`); the user functions are called
through a function pointer. (Passing them as plain dispatcher arguments would specialise, and recompile,
the whole loop for every right-hand side, and such specialisations cannot be cached.) A cold compile
takes about 25 s of CPU; loading from the cache well under a second.

Methods (``method=``):

``"dopri5"``
    explicit Dormand--Prince 5(4), PI step-size control, 4th-order dense output
    (:mod:`memtheory.dynamics.dopri`).
``"radau"``
    implicit Radau IIA of order 5 with the simplified Newton iteration of RADAU5, using the analytic
    Jacobian; L-stable, for stiff problems; the step can grow by a factor 10 per step, so a solution that
    is constant over ``[1, 1e12]`` costs about one step per decade (69 steps from ``t = 0``), and
    ``t_end = 1e300`` is fine (:mod:`memtheory.dynamics.stiff`).
``"auto"``
    starts with ``dopri5`` and switches (once, irreversibly) to ``radau`` when the explicit steps are
    limited by stability: Hairer's test ``h |lambda| > 3.25`` on 15 accepted steps, or, after 15 steps
    with ``h |lambda| > 0.8``, ``h rho(J) > 1.5`` with the spectral radius of the Jacobian estimated by
    power iteration (see :func:`_stiffness_update`); ``method_used`` reports ``"dopri5->radau"`` and
    ``t_switch`` the switching time.

The whole integration loop (steps, step-size control, events, domain, output) runs in compiled code;
:func:`integrate` only validates the input and packages the result. :func:`integrate_batch` integrates
many initial conditions / parameter vectors: a thread pool calls the compiled ``nogil`` solver on chunks
of trajectories. (A ``numba.prange`` loop would work too, with first-class functions, but its compiled
function has to link and re-optimise the whole integrator a second time, doubling the cold compile
time; the thread pool reuses the single compiled entry point.)

References
----------
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I: Nonstiff Problems*,
2nd ed., Springer (1993): §II.4 (step-size control, starting step), §II.5 (Dormand--Prince),
§II.6 (dense output), §IV.2 of vol. II for the stiffness test.
E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II: Stiff and Differential-Algebraic
Problems*, 2nd ed., Springer (1996): §IV.8 (implementation of Radau IIA, RADAU5).
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from numba import njit, types
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.registry import CPUDispatcher

from memtheory.dynamics.dopri import (
    INLINE,
    STIFF_HLAMB,
    dopri_attempt,
    dopri_dense,
    initial_step,
    set_row,
)
from memtheory.dynamics.events import KIND_DOPRI, KIND_RADAU, detect_events, find_root, interp
from memtheory.dynamics.stiff import (
    MAX_FACTOR,
    MIN_FACTOR,
    NEWTON_MAXITER,
    NFEV,
    NJEV,
    NLU,
    RADAU_STATE_SIZE,
    ST_CUR_JAC,
    ST_ERR_OLD,
    ST_H_OLD,
    ST_HAVE_PREV,
    ST_LAST_REJ,
    ST_LU_H,
    ST_PREV_H,
    eval_jacobian,
    radau_attempt,
    radau_dense,
    radau_predict_factor,
    radau_tolerances,
)
from memtheory.errors import InvalidArgumentError

__all__ = [
    "ODEResult",
    "BatchResult",
    "DenseSolution",
    "integrate",
    "integrate_batch",
    "METHODS",
    "RHS_SIGNATURE",
    "JAC_SIGNATURE",
    "DOMAIN_SIGNATURE",
]

#: Accepted values of ``method``.
METHODS = ("auto", "dopri5", "radau")
_METHOD_CODE = {"auto": 0, "dopri5": 1, "radau": 2}
M_AUTO, M_DOPRI, M_RADAU = 0, 1, 2

_F8 = types.float64
_V = types.float64[::1]
#: numba signature of ``rhs`` and ``events``.
RHS_SIGNATURE = _V(_F8, _V, _V)
#: numba signature of ``jac``.
JAC_SIGNATURE = types.float64[:, ::1](_F8, _V, _V)
#: numba signature of ``domain``.
DOMAIN_SIGNATURE = _F8(_F8, _V, _V)
_RHS_T = types.FunctionType(RHS_SIGNATURE)
_JAC_T = types.FunctionType(JAC_SIGNATURE)
_DOM_T = types.FunctionType(DOMAIN_SIGNATURE)

# Termination reasons of the compiled loop (mapped to status and message in Python).
R_END = 0
R_EVENT = 1
R_MAX_STEPS = 2
R_STEP_SMALL = 3
R_NONFINITE = 4
R_DOMAIN = 5
R_DOMAIN_SMALL = 6
R_SINGULAR = 7
R_NEWTON = 8
_STATUS = {R_END: 0, R_EVENT: 1, R_MAX_STEPS: -1, R_STEP_SMALL: -1, R_NONFINITE: -1, R_DOMAIN: -2,
           R_DOMAIN_SMALL: -2, R_SINGULAR: -1, R_NEWTON: -1}

# Why the last trial step was rejected.
REJ_NONE = 0
REJ_ERROR = 1
REJ_NONFINITE = 2
REJ_SINGULAR = 3
REJ_DOMAIN = 4
REJ_NEWTON = 5

# Controller scratch vector ``ctl`` indices.
C_FACOLD = 0  # dopri: previous error (PI controller)
C_REJ = 1  # dopri: 1 if the last trial was rejected
C_HNEW = 2  # proposed next step
C_ERR = 3  # error norm of the accepted trial
C_HLAMB = 4  # dopri: stiffness indicator h |lambda|
C_NITER = 5  # radau: Newton iterations
C_RATE = 6  # radau: Newton contraction rate
C_SAFETY = 7  # radau: safety factor
_CTL_SIZE = 8

# Dormand--Prince PI controller (dopri5.f defaults).
_SAFE = 0.9
_BETA = 0.04
_EXPO1 = 0.2 - _BETA * 0.75
_FACC1 = 1.0 / 0.2  # largest decrease 5
_FACC2 = 1.0 / 10.0  # largest increase 10
_NSTIFF_ON = 15
_NSTIFF_OFF = 6
_SUSPECT_HLAMB = 0.8  # Hairer's estimate above this on 15 steps: check h * rho(J)
_STIFF_HRHO = 1.5  # h * rho(J) above this: step limited by stability (see _stiffness_update)
_EPS = 2.220446049250313e-16
_MAX_TROUBLED = 200  # score of steps needing domain / non-finite rejections: stuck at the boundary
# Counter vector layout returned by the loop.
_NCOUNT = 5  # nfev, njev, nlu, naccept, nreject
_NACC = 3
_NREJ = 4


# --------------------------------------------------------------------------------------------------
# Defaults for absent optional functions (module-level, cached; compiled on first use).
# --------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _no_events(t, y, p):
    return np.empty(0)


@njit(cache=True, nogil=True)
def _no_jac(t, y, p):
    return np.zeros((y.shape[0], y.shape[0]))


@njit(cache=True, nogil=True)
def _no_domain(t, y, p):
    return 1.0


# --------------------------------------------------------------------------------------------------
# Growable buffers.
# --------------------------------------------------------------------------------------------------
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
def _push_point(ts, ys, nt, tv, yv):
    """Append ``(tv, yv)`` to the output buffers; returns the (possibly reallocated) buffers and count."""
    if nt == ts.shape[0]:
        ts = _grow_f1(ts)
        ys = _grow_f2(ys)
    ts[nt] = tv
    set_row(ys, nt, yv)
    return ts, ys, nt + 1


@njit(nogil=True)
def _push_event(ev_i, ev_t, ev_y, ne, idx, tv, yv):
    if ne == ev_t.shape[0]:
        ev_i = _grow_i1(ev_i)
        ev_t = _grow_f1(ev_t)
        ev_y = _grow_f2(ev_y)
    ev_i[ne] = idx
    ev_t[ne] = tv
    set_row(ev_y, ne, yv)
    return ev_i, ev_t, ev_y, ne + 1


@njit(nogil=True)
def _push_step(d_t, d_h, d_k, d_c, nd, tv, hv, kind, coef):
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


# --------------------------------------------------------------------------------------------------
# Trial steps with their step-size decisions.
# --------------------------------------------------------------------------------------------------
# (The loop calls the step kernels directly and these small controllers afterwards, rather than
# through wrappers: every extra level of separately compiled functions is re-optimised by numba/LLVM
# together with everything below it.)
@njit(nogil=True)
def _dopri_control(finite, err, hlamb, h, ctl):
    """PI step-size decision after a Dormand--Prince trial step.

    Returns ``(rej, h_retry)``: ``rej = REJ_NONE`` if the step is acceptable (then ``ctl[C_HNEW]`` is the
    proposed next step), otherwise the reason and the step size to retry with.
    """
    if not finite:
        return REJ_NONFINITE, 0.5 * h
    fac11 = err ** _EXPO1
    if err <= 1.0:
        fac = fac11 / ctl[C_FACOLD] ** _BETA
        fac = max(_FACC2, min(_FACC1, fac / _SAFE))
        hnew = h / fac
        if ctl[C_REJ] == 1.0:
            hnew = min(hnew, h)
        ctl[C_HNEW] = hnew
        ctl[C_ERR] = err
        ctl[C_HLAMB] = hlamb
        return REJ_NONE, h
    return REJ_ERROR, h / min(_FACC1, fac11 / _SAFE)


@njit(nogil=True)
def _radau_control(code, err, n_iter, rate, h, st, ctl):
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
def _accept_radau(h, coef, st, prev_coef, ctl):
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
def _reset_radau(st):
    """Reset the Radau state (start, or switch from DOPRI); the caller evaluates a fresh Jacobian."""
    for i in range(st.shape[0]):
        st[i] = 0.0
    st[ST_CUR_JAC] = 1.0


@njit(nogil=True)
def _stiffness_update(hlamb, sti):
    """Stiffness counters after an accepted DOPRI step.

    ``sti = [iasti, nonsti, nsusp, wait, countdown]`` (int64). Hairer's test: ``h |lambda| > 3.25`` on 15
    accepted steps without 6 consecutive non-stiff ones in between. Because the estimate
    ``||k7 - k6|| / ||y7 - y6||`` mixes stiff and non-stiff components (on Robertson's problem at tight
    tolerances it stays between 1 and 3 for thousands of stability-limited steps), 15 consecutive steps with
    ``h |lambda| > 0.8`` also trigger a check with the Jacobian (see :func:`_power_radius`): stiff if
    ``h rho(J) > 1.5``. (DOPRI5 is stable up to ``h rho ~ 3.3`` on the negative axis, but its error
    estimator is not: on Robertson's problem the accepted steps settle at ``h rho ~ 2-2.7``.)
    Returns 0 (not stiff), 1 (stiff by Hairer's test) or 2 (check with the Jacobian).
    """
    if hlamb > STIFF_HLAMB:
        sti[1] = 0
        sti[0] += 1
        if sti[0] >= _NSTIFF_ON:
            return 1
    else:
        sti[1] += 1
        if sti[1] >= _NSTIFF_OFF:
            sti[0] = 0
    if hlamb > _SUSPECT_HLAMB:
        sti[2] += 1
    else:
        sti[2] = 0
    sti[4] -= 1
    if sti[2] >= _NSTIFF_ON and sti[4] <= 0:
        return 2
    return 0


@njit(nogil=True)
def _power_radius(J, v0):
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
def _failure_reason(last_rej, use_domain, d_cur, d_prev, h_last, t, t0):
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


# --------------------------------------------------------------------------------------------------
# The integration loop.
# --------------------------------------------------------------------------------------------------
@njit(nogil=True, inline=INLINE)
def _integrate_loop(rhs, jac, events, domain, y0, t0, t_end, p, rtol, atol, t_eval, direction, terminal,
                    use_domain, use_fd, method, record_steps, store_dense, max_steps, first_step,
                    max_step):
    """Integrate from ``t0`` to ``t_end``; the whole loop in nopython mode.

    Returns
    -------
    tuple
        ``(reason, t_out, y_out, n_out, ev_idx, ev_t, ev_y, n_ev_found, counts, t_switch, final_mode,
        d_t, d_h, d_kind, d_coef, n_dense, t_final, y_final)`` with
        ``counts = (nfev, njev, nlu, naccept, nreject)``; the buffers are valid up to their counts.
    """
    n = y0.shape[0]
    n_ev = direction.shape[0]
    n_eval = t_eval.shape[0]
    cnt = np.zeros(_NCOUNT, dtype=np.int64)
    hmax = min(max_step, t_end - t0)

    t = t0
    y = y0.copy()
    f = rhs(t, y, p)
    cnt[NFEV] += 1

    # Output buffers.
    cap = n_eval + 1 if not record_steps else 64
    ts = np.empty(cap)
    ys = np.empty((cap, n))
    nt = 0
    ev_i = np.empty(8, dtype=np.int64)
    ev_t = np.empty(8)
    ev_y = np.empty((8, n))
    nev = 0
    dcap = 64 if store_dense else 0
    d_t = np.empty(dcap)
    d_h = np.empty(dcap)
    d_k = np.empty(dcap, dtype=np.int64)
    d_c = np.empty((dcap, 5, n))
    nd = 0

    # Method state.
    mode = M_RADAU if method == M_RADAU else M_DOPRI
    t_switch = np.nan
    K = np.empty((7, n))
    for i in range(n):
        K[0, i] = f[i]
    ysti = np.empty(n)
    ctl = np.zeros(_CTL_SIZE)
    ctl[C_FACOLD] = 1e-4
    sti = np.zeros(5, dtype=np.int64)
    J = np.zeros((n, n))
    LUr = np.zeros((n, n))
    pivr = np.zeros(n, dtype=np.int64)
    LUc = np.zeros((n, n), dtype=np.complex128)
    pivc = np.zeros(n, dtype=np.int64)
    st = np.zeros(RADAU_STATE_SIZE)
    prev_coef = np.zeros((5, n))
    Z = np.zeros((3, n))
    rtol_r, atol_r, newton_tol = radau_tolerances(rtol, atol)
    if mode == M_RADAU:
        _reset_radau(st)
        eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt)

    if first_step > 0.0:
        h = min(first_step, hmax)
    else:
        h, nf0 = initial_step(rhs, t, y, f, p, rtol, atol, 5 if mode == M_DOPRI else 3, hmax)
        cnt[NFEV] += nf0

    # Events, domain, outputs at t0.
    g_old = events(t, y, p) if n_ev > 0 else np.empty(0)
    found_idx = np.empty(n_ev, dtype=np.int64)
    found_theta = np.empty(n_ev)
    yw = np.empty(n)
    d_cur = domain(t, y, p) if use_domain else 1.0
    d_prev = d_cur
    h_last = 0.0
    n_troubled = 0  # +2 per step that needed a domain / non-finite rejection, -1 per clean step
    dom_pending = False
    t_cross = 0.0
    tol_cross = 0.0
    i_eval = 0
    if record_steps:
        ts, ys, nt = _push_point(ts, ys, nt, t, y)
    else:
        while i_eval < n_eval and t_eval[i_eval] <= t:
            ts, ys, nt = _push_point(ts, ys, nt, t_eval[i_eval], y)
            i_eval += 1

    coef = np.empty((5, n))
    reason = R_END
    last_rej = REJ_NONE
    while t < t_end:
        if cnt[_NACC] >= max_steps:
            reason = R_MAX_STEPS
            break
        # ---------------- attempt until a step is accepted ----------------
        failed = False
        theta_stop = 2.0
        stop_reason = R_END
        kind = KIND_DOPRI
        y_new = y
        t_new = t
        d_new = d_cur
        troubled = False
        while True:
            hmin = 16.0 * _EPS * abs(t) + 1e-300
            last = t_end - t <= 1.01 * h  # (False if h is NaN)
            if last:
                h = t_end - t
                t_new = t_end
            else:
                t_new = t + h
            if not (h >= hmin) and not last:
                failed = True
                reason = _failure_reason(last_rej, use_domain, d_cur, d_prev, h_last, t, t0)
                break
            if mode == M_DOPRI:
                finite, err, y_new, hlamb = dopri_attempt(rhs, t, y, h, p, rtol, atol, K, ysti)
                cnt[NFEV] += 6
                rej, h_retry = _dopri_control(finite, err, hlamb, h, ctl)
                kind = KIND_DOPRI
            else:
                code, err, n_iter, rate, y_new = radau_attempt(rhs, jac, use_fd, t, y, f, h, p, rtol_r,
                                                               atol_r, newton_tol, J, LUr, pivr, LUc,
                                                               pivc, st, prev_coef, Z, cnt)
                rej, h_retry = _radau_control(code, err, n_iter, rate, h, st, ctl)
                kind = KIND_RADAU
            if rej != REJ_NONE:
                cnt[_NREJ] += 1
                ctl[C_REJ] = 1.0
                last_rej = rej
                troubled = troubled or rej == REJ_NONFINITE
                h = h_retry
                continue
            if kind == KIND_DOPRI:
                dopri_dense(y, y_new, K, h, coef)
            else:
                radau_dense(y, Z, coef)
            if use_domain:
                d_new = domain(t_new, y_new, p)
                if not (d_new > 0.0):
                    if not np.isfinite(d_new):
                        cnt[_NREJ] += 1
                        ctl[C_REJ] = 1.0
                        last_rej = REJ_NONFINITE
                        troubled = True
                        h = 0.5 * h
                        continue
                    th_c = find_root(events, domain, -1, t, h, kind, coef, p, d_cur, d_new, yw)
                    t_c = t + th_c * h
                    confirmed = dom_pending and abs(t_c - t_cross) <= tol_cross
                    if confirmed or th_c * h <= 2.0 * hmin:
                        theta_stop = th_c
                        stop_reason = R_DOMAIN
                    else:
                        dom_pending = True
                        t_cross = t_c
                        tol_cross = 1e-3 * (t_c - t) + 16.0 * _EPS * abs(t_c)
                        cnt[_NREJ] += 1
                        ctl[C_REJ] = 1.0
                        last_rej = REJ_DOMAIN
                        troubled = True
                        h = 0.9 * th_c * h
                        continue
            break
        if failed:
            break
        # ---------------- accepted step ----------------
        cnt[_NACC] += 1
        if kind == KIND_DOPRI:
            f_new = K[6].copy()
        else:
            f_new = rhs(t_new, y_new, p)
            cnt[NFEV] += 1
        if n_ev > 0:
            g_new = events(t_new, y_new, p)
            nf, th_term = detect_events(events, domain, t, h, kind, coef, p, g_old, g_new, direction,
                                        terminal, yw, found_idx, found_theta)
            if th_term <= theta_stop:
                theta_stop = th_term
                stop_reason = R_EVENT
            for k in range(nf):
                if found_theta[k] <= theta_stop:
                    interp(kind, coef, found_theta[k], yw)
                    ev_i, ev_t, ev_y, nev = _push_event(ev_i, ev_t, ev_y, nev, found_idx[k],
                                                        t + found_theta[k] * h, yw)
            g_old = g_new
        if theta_stop <= 1.0:
            t_stop = t + theta_stop * h if theta_stop < 1.0 else t_new
            y_stop = np.empty(n)
            interp(kind, coef, theta_stop, y_stop)
        else:
            t_stop = t_new
            y_stop = y_new
        if store_dense:
            d_t, d_h, d_k, d_c, nd = _push_step(d_t, d_h, d_k, d_c, nd, t, h, kind, coef)
        if record_steps:
            ts, ys, nt = _push_point(ts, ys, nt, t_stop, y_stop)
        else:
            while i_eval < n_eval and t_eval[i_eval] <= t_stop:
                th = (t_eval[i_eval] - t) / h
                interp(kind, coef, th, yw)
                ts, ys, nt = _push_point(ts, ys, nt, t_eval[i_eval], yw)
                i_eval += 1
        if theta_stop <= 1.0:
            t = t_stop
            y = y_stop
            reason = stop_reason
            break
        # ---------------- next step size, stiffness switch ----------------
        switch = False
        jac_fresh = False
        if mode == M_DOPRI:
            ctl[C_FACOLD] = max(ctl[C_ERR], 1e-4)
            ctl[C_REJ] = 0.0
            h_next = ctl[C_HNEW]
            if method == M_AUTO:
                verdict = _stiffness_update(ctl[C_HLAMB], sti)
                switch = verdict == 1
                if verdict == 2:
                    eval_jacobian(jac, rhs, use_fd, t_new, y_new, f_new, p, J, cnt)
                    for i in range(n):
                        yw[i] = y_new[i] - ysti[i]
                    switch = h * _power_radius(J, yw) > _STIFF_HRHO
                    jac_fresh = True
                    sti[2] = 0
                    sti[3] = 2 * sti[3] + _NSTIFF_ON
                    sti[4] = sti[3]
            for i in range(n):
                K[0, i] = K[6, i]
        else:
            h_next, recompute_jac = _accept_radau(h, coef, st, prev_coef, ctl)
            if recompute_jac:
                eval_jacobian(jac, rhs, use_fd, t_new, y_new, f_new, p, J, cnt)
        last_rej = REJ_NONE
        if use_domain:
            n_troubled = n_troubled + 2 if troubled else max(n_troubled - 1, 0)
        d_prev = d_cur
        h_last = h
        t = t_new
        y = y_new
        f = f_new
        d_cur = d_new
        if dom_pending and t > t_cross:
            dom_pending = False
        if n_troubled >= _MAX_TROUBLED:
            # Crawling along the boundary: over the last hundred steps or so, more than a third
            # needed rejections for leaving the domain or for non-finite values beyond it.
            reason = R_DOMAIN_SMALL
            break
        h = min(h_next, hmax)
        if switch:
            mode = M_RADAU
            t_switch = t
            _reset_radau(st)
            if not jac_fresh:
                eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt)
    return (reason, ts, ys, nt, ev_i, ev_t, ev_y, nev, cnt, t_switch, mode, d_t, d_h, d_k, d_c, nd, t, y)


_CHUNK_ARGS = (_RHS_T, _JAC_T, _RHS_T, _DOM_T, types.float64[:, ::1], _F8, _F8, types.float64[:, ::1],
               _F8, _V, _V, types.int64[::1], types.int64[::1], types.boolean, types.boolean, types.int64,
               types.boolean, types.boolean, types.int64, _F8, _F8, types.int64, types.int64)


def _solve_chunk(rhs, jac, events, domain, Y0, t0, t_end, P, rtol, atol, t_eval, direction, terminal,
                 use_domain, use_fd, method, record_steps, store_dense, max_steps, first_step, max_step,
                 k0, k1):
    """Integrate trajectories ``k0 <= k < k1`` (state ``Y0[k]``, parameters ``P[k]``) one after the other.

    This is the single compiled entry point (explicit first-class-function signature ``_CHUNK_ARGS``,
    ``nogil``): :func:`integrate` calls it with one trajectory, :func:`integrate_batch` calls it on
    chunks of trajectories from a thread pool. Returns per-trajectory summaries
    ``(reasons, t_final, y_final, t_first_event, n_events, counts, t_switch, modes)`` followed by the full
    outputs of the last trajectory ``(t_out, y_out, n_out, ev_idx, ev_t, ev_y, n_ev_found, d_t, d_h,
    d_kind, d_coef, n_dense)``.
    """
    m = k1 - k0
    n = Y0.shape[1]
    n_ev = direction.shape[0]
    reasons = np.empty(m, dtype=np.int64)
    t_final = np.empty(m)
    y_final = np.empty((m, n))
    t_first = np.full((m, n_ev), np.nan)
    n_events = np.zeros((m, n_ev), dtype=np.int64)
    counts = np.empty((m, _NCOUNT), dtype=np.int64)
    t_switch = np.empty(m)
    modes = np.empty(m, dtype=np.int64)
    ts = np.empty(0)
    ys = np.empty((0, n))
    nt = 0
    ev_i = np.empty(0, dtype=np.int64)
    ev_t = np.empty(0)
    ev_y = np.empty((0, n))
    nev = 0
    d_t = np.empty(0)
    d_h = np.empty(0)
    d_k = np.empty(0, dtype=np.int64)
    d_c = np.empty((0, 5, n))
    nd = 0
    for k in range(k0, k1):
        j = k - k0
        (reason, ts, ys, nt, ev_i, ev_t, ev_y, nev, cnt, tsw, mode, d_t, d_h, d_k, d_c, nd, tf,
         yf) = _integrate_loop(rhs, jac, events, domain, Y0[k].copy(), t0, t_end, P[k].copy(), rtol, atol,
                               t_eval, direction, terminal, use_domain, use_fd, method, record_steps,
                               store_dense, max_steps, first_step, max_step)
        reasons[j] = reason
        t_final[j] = tf
        for i in range(n):
            y_final[j, i] = yf[i]
        for i in range(_NCOUNT):
            counts[j, i] = cnt[i]
        t_switch[j] = tsw
        modes[j] = mode
        for i in range(nev):
            e = ev_i[i]
            if n_events[j, e] == 0:
                t_first[j, e] = ev_t[i]
            n_events[j, e] += 1
    return (reasons, t_final, y_final, t_first, n_events, counts, t_switch, modes,
            ts, ys, nt, ev_i, ev_t, ev_y, nev, d_t, d_h, d_k, d_c, nd)


_SOURCES = ("dopri.py", "stiff.py", "events.py", "integrators.py")


def _sources_stamp() -> tuple[str, ...]:
    """SHA-256 of the source files of the compiled integrator (the on-disk cache key)."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for name in _SOURCES:
        with open(os.path.join(here, name), "rb") as fh:
            stamps.append(hashlib.sha256(fh.read()).hexdigest())
    return tuple(stamps)


def _attach_cache(disp: CPUDispatcher) -> bool:
    """Give ``disp`` a disk cache invalidated by a change of *any* of the integrator's source files.

    numba's ``cache=True`` keys the cache of a function on its own source file only, but the cached
    machine code of the entry point contains the code of the helpers of ``dopri.py``, ``stiff.py`` and
    ``events.py``: editing one of them would silently reuse stale code. The helpers themselves are not
    cached (they are only compiled when the entry point is). Returns False (no disk cache) if this numba
    version's cache internals differ.
    """
    try:
        cache = FunctionCache(disp.py_func)
        cache._cache_file = IndexDataCacheFile(cache_path=cache._cache_path,
                                               filename_base=cache._impl.filename_base,
                                               source_stamp=_sources_stamp())
        disp._cache = cache
        return True
    except Exception:  # pragma: no cover - depends on numba internals
        warnings.warn("memtheory.dynamics: could not enable the on-disk cache of the integrator; it will be "
                      "compiled in every process", RuntimeWarning, stacklevel=3)
        return False


@functools.cache
def _compiled_solver() -> CPUDispatcher:
    """The compiled entry point (compiled, or loaded from the on-disk cache, on first use).

    Compiled for the single signature ``_CHUNK_ARGS`` (user functions as first-class function types),
    after which compilation is disabled so that numba converts dispatcher arguments to function
    pointers instead of specialising the integrator on them. Building it lazily keeps
    ``import memtheory`` fast.
    """
    disp = njit(nogil=True)(_solve_chunk)
    _attach_cache(disp)
    disp.compile(_CHUNK_ARGS)
    disp.disable_compile()
    return disp


# --------------------------------------------------------------------------------------------------
# Python layer: results.
# --------------------------------------------------------------------------------------------------
_MESSAGES = {
    R_END: "The solver successfully reached the end of the integration interval.",
    R_EVENT: "A terminal event occurred.",
    R_MAX_STEPS: "The maximum number of steps (max_steps={max_steps}) was reached at t={t:.17g}.",
    R_STEP_SMALL: "The step size became too small at t={t:.17g} (requested accuracy not achievable).",
    R_NONFINITE: "The right-hand side returned non-finite values near t={t:.17g}; the step size "
                 "became too small.",
    R_DOMAIN: "The solution left the domain (domain(t, y, p) reached 0) at t={t:.17g}.",
    R_DOMAIN_SMALL: "The solution reached the boundary of the domain near t={t:.17g} (domain value "
                    "{d:.3g}): the step size underflowed, or every step had to be shrunk, because steps "
                    "left the domain or produced non-finite values beyond it.",
    R_SINGULAR: "The Newton matrix became singular near t={t:.17g}; the step size became too small.",
    R_NEWTON: "The Newton iteration of the implicit method did not converge near t={t:.17g}, even with a "
              "fresh Jacobian; the step size became too small (is the Jacobian correct?).",
}


def _method_used(method_code: int, final_mode: int, t_switch: float) -> str:
    if method_code == M_AUTO and np.isfinite(t_switch):
        return "dopri5->radau"
    return "radau" if final_mode == M_RADAU else "dopri5"


class DenseSolution:
    """Piecewise-polynomial continuous solution built from the stored step interpolants.

    Calling ``sol(t)`` with a scalar returns the state (shape ``(n,)``); with a 1-D array of times it
    returns shape ``(len(t), n)`` (time-major, like :attr:`ODEResult.y`). Times must lie in
    ``[t_min, t_max]``, the integrated interval.
    """

    def __init__(self, t_start: np.ndarray, h: np.ndarray, kind: np.ndarray, coef: np.ndarray,
                 t_min: float, t_max: float) -> None:
        self.t_start = t_start
        self.h = h
        self.kind = kind
        self.coef = coef
        self.t_min = float(t_min)
        self.t_max = float(t_max)

    @property
    def n_steps(self) -> int:
        """Number of stored steps."""
        return int(self.t_start.shape[0])

    def __call__(self, t: float | np.ndarray) -> np.ndarray:
        tt = np.asarray(t, dtype=np.float64)
        scalar = tt.ndim == 0
        tt = np.atleast_1d(tt)
        if tt.ndim != 1:
            raise InvalidArgumentError(f"t must be a scalar or a 1-D array, got shape {tt.shape}")
        slack = 1e-12 * max(abs(self.t_min), abs(self.t_max), 1e-300)
        if not np.all(np.isfinite(tt)) or np.any(tt < self.t_min - slack) or np.any(tt > self.t_max + slack):
            raise InvalidArgumentError(
                f"t must lie in the integrated interval [{self.t_min!r}, {self.t_max!r}]")
        if self.n_steps == 0:
            raise InvalidArgumentError("the dense solution holds no step")
        idx = np.clip(np.searchsorted(self.t_start, tt, side="right") - 1, 0, self.n_steps - 1)
        th = ((tt - self.t_start[idx]) / self.h[idx])[:, None]
        c = self.coef[idx]
        dop = (c[:, 0] + th * (c[:, 1] + (1 - th) * (c[:, 2] + th * (c[:, 3] + (1 - th) * c[:, 4])))
               )
        rad = c[:, 0] + th * (c[:, 1] + th * (c[:, 2] + th * c[:, 3]))
        out = np.where((self.kind[idx] == KIND_DOPRI)[:, None], dop, rad)
        return out[0] if scalar else out


@dataclass(frozen=True, eq=False)
class ODEResult:
    """Result of :func:`integrate` (fields follow :class:`scipy.integrate.OdeResult`, but ``y`` is
    time-major).

    Attributes
    ----------
    t : ndarray, shape (k,)
        Output times (every accepted step, or the requested ``t_eval`` reached).
    y : ndarray, shape (k, n)
        States at ``t`` (row ``i`` is the state at ``t[i]``).
    t_events : list of ndarray
        For each event function, the times at which it fired.
    y_events : list of ndarray
        For each event function, the states at those times, shape ``(k_e, n)``.
    nfev, njev, nlu : int
        Right-hand side evaluations (including finite-difference Jacobians), Jacobian evaluations,
        LU decompositions (the real and the complex factorisation of a Radau step count as two).
    nsteps, nrejected : int
        Accepted and rejected steps.
    status : int
        0 reached ``t_end``, 1 terminal event, -1 failure, -2 left the domain.
    message : str
        Human-readable termination reason.
    success : bool
        ``status >= 0``.
    method_used : str
        ``"dopri5"``, ``"radau"`` or ``"dopri5->radau"``.
    t_switch : float or None
        Time of the switch to the stiff solver (``method="auto"``).
    t_final : float
        Time at which the integration stopped.
    y_final : ndarray, shape (n,)
        State at ``t_final``.
    sol : DenseSolution or None
        Continuous solution on ``[t0, t_final]`` when ``dense=True``.
    """

    t: np.ndarray
    y: np.ndarray
    t_events: list[np.ndarray]
    y_events: list[np.ndarray]
    nfev: int
    njev: int
    nlu: int
    nsteps: int
    nrejected: int
    status: int
    message: str
    success: bool
    method_used: str
    t_switch: float | None
    t_final: float
    y_final: np.ndarray
    sol: DenseSolution | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (arrays as lists; the dense solution is omitted)."""
        return {
            "t": self.t.tolist(), "y": self.y.tolist(),
            "t_events": [a.tolist() for a in self.t_events],
            "y_events": [a.tolist() for a in self.y_events],
            "nfev": self.nfev, "njev": self.njev, "nlu": self.nlu, "nsteps": self.nsteps,
            "nrejected": self.nrejected, "status": self.status, "message": self.message,
            "success": self.success, "method_used": self.method_used, "t_switch": self.t_switch,
            "t_final": self.t_final, "y_final": self.y_final.tolist(),
        }


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Result of :func:`integrate_batch` for ``m`` trajectories.

    Attributes
    ----------
    t_final : ndarray, shape (m,)
        Stopping time of each trajectory.
    y_final : ndarray, shape (m, n)
        Final states.
    status : ndarray of int, shape (m,)
        Status per trajectory (same codes as :attr:`ODEResult.status`).
    t_events : ndarray, shape (m, n_events)
        Time of the *first* occurrence of each event (NaN if it never fired).
    n_events : ndarray of int, shape (m, n_events)
        Number of occurrences of each event.
    nsteps, nrejected, nfev, njev, nlu : ndarray of int, shape (m,)
        Work counters per trajectory.
    switched : ndarray of bool, shape (m,)
        Whether ``method="auto"`` switched to the stiff solver.
    t_switch : ndarray, shape (m,)
        Switching time (NaN if no switch).
    messages : list of str
        Termination message per trajectory.
    """

    t_final: np.ndarray
    y_final: np.ndarray
    status: np.ndarray
    t_events: np.ndarray
    n_events: np.ndarray
    nsteps: np.ndarray
    nrejected: np.ndarray
    nfev: np.ndarray
    njev: np.ndarray
    nlu: np.ndarray
    switched: np.ndarray
    t_switch: np.ndarray
    messages: list[str]

    @property
    def success(self) -> np.ndarray:
        """Boolean mask of trajectories with ``status >= 0``."""
        return self.status >= 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        out: dict[str, Any] = {}
        for name in ("t_final", "y_final", "status", "t_events", "n_events", "nsteps", "nrejected",
                     "nfev", "njev", "nlu", "switched", "t_switch"):
            out[name] = getattr(self, name).tolist()
        out["messages"] = list(self.messages)
        return out


# --------------------------------------------------------------------------------------------------
# Python layer: validation and conversion of the user functions.
# --------------------------------------------------------------------------------------------------
def _as_jitted(fn: Callable, name: str) -> CPUDispatcher:
    """Return a numba dispatcher for ``fn`` (jit-compiling a plain Python function)."""
    if isinstance(fn, CPUDispatcher):
        return fn
    if not callable(fn):
        raise InvalidArgumentError(f"{name} must be a numba-jitted function, got {type(fn).__name__}")
    return njit(fn)


def _wrap_vector(fn: CPUDispatcher) -> CPUDispatcher:
    """Adapter returning a fresh contiguous float64 vector (for functions typed differently)."""

    @njit
    def wrapped(t, y, p):
        r = fn(t, y, p)
        out = np.empty(r.shape[0])
        for i in range(r.shape[0]):
            out[i] = r[i]
        return out

    return wrapped


def _wrap_matrix(fn: CPUDispatcher) -> CPUDispatcher:
    @njit
    def wrapped(t, y, p):
        r = fn(t, y, p)
        out = np.empty((r.shape[0], r.shape[1]))
        for i in range(r.shape[0]):
            for j in range(r.shape[1]):
                out[i, j] = r[i, j]
        return out

    return wrapped


def _wrap_scalar(fn: CPUDispatcher) -> CPUDispatcher:
    @njit
    def wrapped(t, y, p):
        return float(fn(t, y, p))

    return wrapped


_ARG_TYPES = (types.float64, types.float64[::1], types.float64[::1])


def _compiled_return_type(fn: CPUDispatcher) -> Any:
    """Return type of ``fn`` compiled for ``(float64, float64[::1], float64[::1])`` (None if absent)."""
    for sig, cres in fn.overloads.items():
        if tuple(sig) == _ARG_TYPES:
            return cres.signature.return_type
    return None


def _prepare_function(fn: Callable, name: str, kind: str, t0: float, y0: np.ndarray,
                      p: np.ndarray) -> tuple[CPUDispatcher, Any]:
    """Jit ``fn`` if needed, evaluate it once at ``(t0, y0, p)`` and adapt its type to the signature.

    ``kind`` is ``"vector"``, ``"matrix"`` or ``"scalar"``. Returns the function to pass to the compiled
    loop and the value at the initial point.
    """
    disp = _as_jitted(fn, name)
    try:
        value = disp(float(t0), y0, p)
    except Exception as exc:  # numba typing errors, user exceptions
        raise InvalidArgumentError(
            f"{name}(t, y, p) could not be compiled or evaluated by numba with t: float64, "
            f"y: float64[::1] (n={y0.shape[0]}), p: float64[::1] (len {p.shape[0]}): {exc}") from exc
    expected = {"vector": types.float64[::1], "matrix": types.float64[:, ::1],
                "scalar": types.float64}[kind]
    rtype = _compiled_return_type(disp)
    if rtype != expected:
        wrapper = {"vector": _wrap_vector, "matrix": _wrap_matrix, "scalar": _wrap_scalar}[kind]
        disp = wrapper(disp)
        try:
            disp(float(t0), y0, p)
        except Exception as exc:
            raise InvalidArgumentError(
                f"{name}(t, y, p) must return a float64 {'array' if kind != 'scalar' else 'scalar'}; "
                f"numba typed its result as {rtype}: {exc}") from exc
    return disp, value


def _as_vector(x: Any, name: str, allow_empty: bool = False) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64, order="C", copy=True)  # owned, writeable, contiguous
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be a 1-D array of floats: {exc}") from exc
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0 and not allow_empty:
        raise InvalidArgumentError(f"{name} must not be empty")
    if not np.all(np.isfinite(a)):
        raise InvalidArgumentError(f"{name} must be finite (no NaN or inf)")
    return a


def _validate_span(t_span: Sequence[float]) -> tuple[float, float]:
    try:
        t0, t_end = (float(v) for v in t_span)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"t_span must be a pair (t0, t_end) of floats: {exc}") from exc
    if not (np.isfinite(t0) and np.isfinite(t_end)):
        raise InvalidArgumentError(f"t_span must be finite, got ({t0}, {t_end})")
    if not t_end > t0:
        raise InvalidArgumentError(f"t_span must satisfy t_end > t0, got ({t0}, {t_end})")
    if not np.isfinite(t_end - t0):
        raise InvalidArgumentError(f"t_end - t0 overflows double precision: ({t0}, {t_end})")
    return t0, t_end


def _validate_tolerances(rtol: float, atol: Any, n: int) -> tuple[float, np.ndarray]:
    try:
        rtol = float(rtol)
        a = np.asarray(atol, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"rtol and atol must be numbers: {exc}") from exc
    if not (np.isfinite(rtol) and rtol > 0):
        raise InvalidArgumentError(f"rtol must be a finite number > 0, got {rtol}")
    if rtol < 10 * np.finfo(float).eps:
        raise InvalidArgumentError(f"rtol must be >= 10 * machine epsilon (2.2e-15), got {rtol}")
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise InvalidArgumentError(f"atol must be a scalar or have shape ({n},), got shape {a.shape}")
    if not (np.all(np.isfinite(a)) and np.all(a > 0)):
        raise InvalidArgumentError("atol must be finite and > 0")
    return rtol, np.array(a, dtype=np.float64, order="C", copy=True)


def _validate_method(method: str) -> int:
    if method not in _METHOD_CODE:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {METHODS}")
    return _METHOD_CODE[method]


def _event_flags(n_ev: int, direction: Any, terminal: Any) -> tuple[np.ndarray, np.ndarray]:
    if direction is None:
        d = np.zeros(n_ev, dtype=np.int64)
    else:
        d = np.asarray(direction)
        d = np.full(n_ev, int(d)) if d.ndim == 0 else d.astype(np.int64)
        if d.shape != (n_ev,) or not np.all(np.isin(d, (-1, 0, 1))):
            raise InvalidArgumentError(
                f"direction must be -1, 0, +1 or a sequence of those of length n_events={n_ev}")
    if terminal is None:
        term = np.zeros(n_ev, dtype=np.int64)
    else:
        tt = np.asarray(terminal)
        term = np.full(n_ev, int(bool(tt))) if tt.ndim == 0 else tt.astype(bool).astype(np.int64)
        if term.shape != (n_ev,):
            raise InvalidArgumentError(f"terminal must be a bool or a sequence of length n_events={n_ev}")
    return np.ascontiguousarray(d, dtype=np.int64), np.ascontiguousarray(term, dtype=np.int64)


def _prepare_problem(rhs, jac, events, n_events, direction, terminal, domain, y0, p, t0, method_code):
    """Validate and adapt the user functions at the initial point (shared by both front ends)."""
    n = y0.shape[0]
    rhs_f, f0 = _prepare_function(rhs, "rhs", "vector", t0, y0, p)
    f0 = np.asarray(f0)
    if f0.shape != (n,):
        raise InvalidArgumentError(f"rhs(t0, y0, p) has shape {f0.shape}, expected ({n},) like y0")
    if not np.all(np.isfinite(f0)):
        raise InvalidArgumentError("rhs(t0, y0, p) is not finite")
    use_fd = jac is None
    if use_fd:
        jac_f = _no_jac
    else:
        jac_f, j0 = _prepare_function(jac, "jac", "matrix", t0, y0, p)
        if np.shape(j0) != (n, n):
            raise InvalidArgumentError(f"jac(t0, y0, p) has shape {np.shape(j0)}, expected ({n}, {n})")
    if events is None:
        if n_events:
            raise InvalidArgumentError("n_events > 0 requires an events function")
        ev_f, n_ev = _no_events, 0
    else:
        ev_f, g0 = _prepare_function(events, "events", "vector", t0, y0, p)
        n_ev = int(np.shape(g0)[0]) if np.ndim(g0) == 1 else -1
        if n_ev < 0 or (n_events and n_events != n_ev):
            raise InvalidArgumentError(
                f"events(t0, y0, p) has shape {np.shape(g0)}, expected ({n_events or 'n_events'},)")
    d_arr, term_arr = _event_flags(n_ev, direction, terminal)
    if domain is None:
        dom_f = _no_domain
    else:
        dom_f, d0 = _prepare_function(domain, "domain", "scalar", t0, y0, p)
        if not float(d0) > 0:
            raise InvalidArgumentError(f"the initial state is outside the domain: domain(t0, y0, p) = {d0}")
    return rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr


def _n_threads(num_threads: int | None) -> int:
    """Validated worker-thread count (default: CPUs available to this process)."""
    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        avail = os.cpu_count() or 1
    if num_threads is None:
        return avail
    if int(num_threads) != num_threads or int(num_threads) < 1:
        raise InvalidArgumentError(f"num_threads must be a positive integer, got {num_threads}")
    return int(num_threads)


def _validate_steps(max_steps: int, first_step: float | None, max_step: float) -> tuple[int, float, float]:
    if int(max_steps) < 1:
        raise InvalidArgumentError(f"max_steps must be >= 1, got {max_steps}")
    fs = 0.0 if first_step is None else float(first_step)
    if first_step is not None and not (np.isfinite(fs) and fs > 0):
        raise InvalidArgumentError(f"first_step must be finite and > 0, got {first_step}")
    ms = float(max_step)
    if not ms > 0:
        raise InvalidArgumentError(f"max_step must be > 0, got {max_step}")
    return int(max_steps), fs, ms


# --------------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------------
def integrate(
    rhs: Callable,
    jac: Callable | None,
    y0: Any,
    t_span: Sequence[float],
    p: Any = None,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float | np.ndarray = 1e-10,
    t_eval: Any = None,
    events: Callable | None = None,
    n_events: int = 0,
    direction: Any = None,
    terminal: Any = None,
    domain: Callable | None = None,
    dense: bool = False,
    max_steps: int = 1_000_000,
    first_step: float | None = None,
    max_step: float = np.inf,
) -> ODEResult:
    """Integrate ``dy/dt = rhs(t, y, p)`` on ``t_span`` with an adaptive compiled solver.

    Parameters
    ----------
    rhs : callable
        numba-jitted ``rhs(t, y, p) -> float64[::1]`` (a plain Python function is jitted).
    jac : callable or None
        numba-jitted ``jac(t, y, p) -> float64[:, ::1]``, the Jacobian ``d rhs/dy``; None uses forward
        differences in the stiff solver (``n`` extra ``rhs`` calls per Jacobian).
    y0 : array_like, shape (n,)
        Initial state (finite).
    t_span : (float, float)
        ``(t0, t_end)`` with ``t_end > t0``, both finite (``t_end`` may be as large as ``1e300``).
    p : array_like, shape (n_p,), optional
        Parameters passed to every user function (default: empty).
    method : {"auto", "dopri5", "radau"}
        Integrator; see the module docstring.
    rtol, atol : float, float or array_like of shape (n,)
        Relative and absolute tolerances (``> 0``); the local error of component ``i`` is kept below
        ``atol_i + rtol |y_i|`` (Radau uses radau5.f's transformed tolerances, see
        :func:`memtheory.dynamics.stiff.radau_tolerances`).
    t_eval : array_like, optional
        Increasing output times in ``[t0, t_end]``, filled from the dense output; None outputs every
        accepted step.
    events : callable, optional
        numba-jitted ``events(t, y, p) -> float64[::1]``.
    n_events : int
        Number of event functions (0: inferred from ``events(t0, y0, p)``).
    direction : int or sequence of int, optional
        Per-event crossing direction: +1 (from negative to positive), -1, or 0 (both; default).
    terminal : bool or sequence of bool, optional
        Per-event flag: stop at the first occurrence (default False).
    domain : callable, optional
        numba-jitted ``domain(t, y, p) -> float64`` that must stay ``> 0``.
    dense : bool
        Store the step interpolants and return a callable ``sol``.
    max_steps : int
        Maximum number of accepted steps.
    first_step : float, optional
        Initial step size (default: Hairer's starting-step heuristic).
    max_step : float
        Largest step size.

    Returns
    -------
    ODEResult

    Raises
    ------
    InvalidArgumentError
        On invalid input: ``t_end <= t0``, ``y0`` not 1-D or not matching ``rhs``, non-finite ``y0`` or
        ``p``, unknown ``method``, ``rtol``/``atol`` not positive, ``t_eval`` outside ``t_span`` or not
        increasing, an initial state outside the domain, user functions that numba cannot compile.

    Examples
    --------
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def rhs(t, y, p):
    ...     return -p[0] * y
    >>> @njit
    ... def jac(t, y, p):
    ...     return -p[0] * np.eye(y.shape[0])
    >>> res = integrate(rhs, jac, [1.0], (0.0, 1.0), [2.0], rtol=1e-10, atol=1e-12)
    >>> bool(abs(res.y_final[0] - np.exp(-2.0)) < 1e-9)
    True
    """
    method_code = _validate_method(method)
    t0, t_end = _validate_span(t_span)
    y0a = _as_vector(y0, "y0")
    pa = _as_vector([] if p is None else p, "p", allow_empty=True)
    rtol_f, atol_a = _validate_tolerances(rtol, atol, y0a.shape[0])
    max_steps_i, fs, ms = _validate_steps(max_steps, first_step, max_step)
    if t_eval is None:
        te = np.empty(0)
    else:
        te = _as_vector(t_eval, "t_eval", allow_empty=True)
        if te.size and (te[0] < t0 or te[-1] > t_end or np.any(np.diff(te) < 0)):
            raise InvalidArgumentError("t_eval must be non-decreasing and lie within t_span")
    rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr = _prepare_problem(
        rhs, jac, events, n_events, direction, terminal, domain, y0a, pa, t0, method_code)
    out = _compiled_solver()(rhs_f, jac_f, ev_f, dom_f, y0a[None, :].copy(), t0, t_end, pa[None, :].copy(),
                             rtol_f, atol_a, te, d_arr, term_arr, domain is not None, use_fd, method_code,
                             t_eval is None, bool(dense), max_steps_i, fs, ms, 0, 1)
    return _make_result(out, d_arr.shape[0], method_code, max_steps_i, dom_f, pa, t0, bool(dense))


def _make_result(out: tuple, n_ev: int, method_code: int, max_steps: int, dom_f: Callable,
                 p: np.ndarray, t0: float, dense: bool) -> ODEResult:
    (reasons, t_fins, y_fins, _, _, counts, t_sws, modes,
     ts, ys, nt, ev_i, ev_t, ev_y, nev, d_t, d_h, d_k, d_c, nd) = out
    reason = int(reasons[0])
    t_fin, y_fin, cnt, t_switch, mode = float(t_fins[0]), y_fins[0].copy(), counts[0], t_sws[0], modes[0]
    ts, ys = ts[:nt].copy(), ys[:nt].copy()
    ev_i, ev_t, ev_y = ev_i[:nev], ev_t[:nev], ev_y[:nev]
    d_t, d_h, d_k, d_c = d_t[:nd].copy(), d_h[:nd].copy(), d_k[:nd].copy(), d_c[:nd].copy()
    status = _STATUS[reason]
    d_val = float(dom_f(float(t_fin), y_fin, p)) if reason == R_DOMAIN_SMALL else 0.0
    message = _MESSAGES[reason].format(max_steps=max_steps, t=float(t_fin), d=d_val)
    t_events = [ev_t[ev_i == e].copy() for e in range(n_ev)]
    y_events = [ev_y[ev_i == e].copy() for e in range(n_ev)]
    sol = DenseSolution(d_t, d_h, d_k, d_c, t0, float(t_fin)) if dense else None
    return ODEResult(
        t=ts, y=ys, t_events=t_events, y_events=y_events, nfev=int(cnt[NFEV]), njev=int(cnt[NJEV]),
        nlu=int(cnt[NLU]), nsteps=int(cnt[_NACC]), nrejected=int(cnt[_NREJ]), status=status,
        message=message, success=status >= 0, method_used=_method_used(method_code, int(mode), t_switch),
        t_switch=float(t_switch) if np.isfinite(t_switch) else None, t_final=float(t_fin),
        y_final=np.asarray(y_fin).copy(), sol=sol)


def integrate_batch(
    rhs: Callable,
    jac: Callable | None,
    y0: Any,
    t_span: Sequence[float],
    p: Any = None,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float | np.ndarray = 1e-10,
    events: Callable | None = None,
    n_events: int = 0,
    direction: Any = None,
    terminal: Any = None,
    domain: Callable | None = None,
    max_steps: int = 1_000_000,
    first_step: float | None = None,
    max_step: float = np.inf,
    num_threads: int | None = None,
    chunks_per_thread: int = 4,
) -> BatchResult:
    """Integrate many initial conditions and/or parameter vectors in parallel.

    The trajectories are split into chunks; a thread pool runs the compiled, ``nogil`` solver on the
    chunks (each chunk is one call into compiled code that loops over its trajectories, so there is no
    Python per trajectory or per step, and the threads run truly in parallel). Only final states, first
    event times, statuses and work counters are kept.

    Parameters
    ----------
    rhs, jac, events, direction, terminal, domain, method, rtol, atol, max_steps, first_step, max_step
        As in :func:`integrate`.
    y0 : array_like, shape (m, n) or (n,)
        Initial states (a single state is shared by all parameter vectors).
    t_span : (float, float)
        Common integration interval.
    p : array_like, shape (m, n_p) or (n_p,), optional
        Parameter vectors (a single vector is shared by all initial states).
    num_threads : int, optional
        Number of worker threads (default: the number of CPUs available to the process).
    chunks_per_thread : int
        Number of chunks per thread (more chunks balance uneven trajectories better; each chunk costs
        about 0.2 ms of Python overhead).

    Returns
    -------
    BatchResult
    """
    method_code = _validate_method(method)
    t0, t_end = _validate_span(t_span)
    Y0 = np.asarray(y0, dtype=np.float64)
    P = np.asarray([] if p is None else p, dtype=np.float64)
    if Y0.ndim == 1:
        Y0 = Y0[None, :]
    if P.ndim == 1:
        P = P[None, :]
    if Y0.ndim != 2 or P.ndim != 2 or Y0.shape[1] == 0:
        raise InvalidArgumentError(f"y0 must have shape (m, n) or (n,), p shape (m, n_p) or (n_p,); got "
                                   f"{np.shape(y0)} and {np.shape(p)}")
    m = max(Y0.shape[0], P.shape[0])
    if Y0.shape[0] not in (1, m) or P.shape[0] not in (1, m):
        raise InvalidArgumentError(f"y0 has {Y0.shape[0]} rows and p has {P.shape[0]}; they must agree "
                                   "or one of them must be a single row")
    Y0 = np.array(np.broadcast_to(Y0, (m, Y0.shape[1])), dtype=np.float64, order="C")
    P = np.array(np.broadcast_to(P, (m, P.shape[1])), dtype=np.float64, order="C")
    if not (np.all(np.isfinite(Y0)) and np.all(np.isfinite(P))):
        raise InvalidArgumentError("y0 and p must be finite (no NaN or inf)")
    rtol_f, atol_a = _validate_tolerances(rtol, atol, Y0.shape[1])
    max_steps_i, fs, ms = _validate_steps(max_steps, first_step, max_step)
    rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr = _prepare_problem(
        rhs, jac, events, n_events, direction, terminal, domain, Y0[0].copy(), P[0].copy(), t0,
        method_code)
    if domain is not None:
        for k in range(1, m):
            if not float(dom_f(t0, Y0[k].copy(), P[k].copy())) > 0:
                raise InvalidArgumentError(f"initial state {k} is outside the domain")
    n_threads = _n_threads(num_threads)
    solver = _compiled_solver()
    args = (rhs_f, jac_f, ev_f, dom_f, Y0, t0, t_end, P, rtol_f, atol_a, np.empty(0), d_arr, term_arr,
            domain is not None, use_fd, method_code, False, False, max_steps_i, fs, ms)
    n_chunks = max(1, min(m, n_threads * max(1, int(chunks_per_thread))))
    edges = np.linspace(0, m, n_chunks + 1).round().astype(np.int64)
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if n_threads == 1:
        parts = [solver(*args, k0, k1) for k0, k1 in bounds]
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(lambda kk: solver(*args, kk[0], kk[1]), bounds))
    reasons, t_fin, y_fin, t_first, n_evs, counts, t_sw, modes = (
        np.concatenate([part[i] for part in parts]) for i in range(8))
    status = np.array([_STATUS[int(r)] for r in reasons], dtype=np.int64)
    messages = [_MESSAGES[int(r)].format(max_steps=max_steps_i, t=float(tf), d=float("nan"))
                for r, tf in zip(reasons, t_fin)]
    return BatchResult(
        t_final=t_fin, y_final=y_fin, status=status, t_events=t_first, n_events=n_evs,
        nsteps=counts[:, _NACC].copy(), nrejected=counts[:, _NREJ].copy(), nfev=counts[:, NFEV].copy(),
        njev=counts[:, NJEV].copy(), nlu=counts[:, NLU].copy(), switched=np.isfinite(t_sw),
        t_switch=t_sw, messages=messages)
