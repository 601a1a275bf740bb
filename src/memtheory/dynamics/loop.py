"""The compiled integration loop: steps, step-size control, stiffness switch, events, domain and output.

:func:`solve_chunk` is the entry point into compiled code. It is compiled once
(:func:`memtheory.dynamics.cache.compiled_solver`), for the first-class function types of the user functions
(:data:`memtheory.dynamics.constants.CHUNK_ARGS`), and integrates a chunk of trajectories one after the other
with the integration loop, which is inlined into it. ``method="radau"`` has an entry point of its own,
:data:`solve_chunk_radau`, whose loop leaves out the explicit pairs and the stiffness switch: a Radau-only user
(e.g. the float64 plateau point) does not compile them (its cold compile measured 31 CPU-s instead of 39).
Everything that loop calls (the step kernels of :mod:`~memtheory.dynamics.dopri` and
:mod:`~memtheory.dynamics.radau`, the event location of :mod:`~memtheory.dynamics.events`, the controllers of
:mod:`~memtheory.dynamics.control`, the buffers of :mod:`~memtheory.dynamics.buffers`) is compiled into the
machine code of the entry point, which is why the on-disk cache is keyed on all of these files
(:data:`memtheory.dynamics.cache.SOURCES`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.buffers import push_event, push_point, push_step
from memtheory.dynamics.constants import (
    C_ERR,
    C_FACOLD,
    C_HLAMB,
    C_HNEW,
    C_REJ,
    CTL_SIZE,
    M_AUTO,
    M_DOPRI,
    M_RADAU,
    NACC,
    NCOUNT,
    NREJ,
    R_DOMAIN,
    R_DOMAIN_SMALL,
    R_END,
    R_EVENT,
    R_MAX_STEPS,
    REJ_DOMAIN,
    REJ_NONE,
    REJ_NONFINITE,
    TERM_ALL,
)
from memtheory.dynamics.control import (
    NSTIFF_ON,
    accept_radau,
    failure_reason,
    power_radius,
    radau_control,
    reset_radau,
    stiffness_update,
)
from memtheory.dynamics.dopri import INLINE, initial_step
from memtheory.dynamics.events import KIND_DOPRI, KIND_RADAU, detect_events, events_fire, find_root, interp
from memtheory.dynamics.explicit import erk_attempt, erk_control, erk_dense, erk_extra_stages
from memtheory.dynamics.pointers import domain_from_address, jac_from_address, rhs_from_address
from memtheory.dynamics.radau import (
    NFEV,
    RADAU_STATE_SIZE,
    eval_jacobian,
    radau_attempt,
    radau_dense,
    radau_tolerances,
)
from memtheory.dynamics.tableaux import (
    ERK_F,
    ERK_INT,
    F_HLAMB,
    F_HRHO,
    F_SUSPECT,
    I_FSAL,
    I_ORDER,
    MAX_STAGES,
)

#: Coefficient rows of a step's interpolant (DOP853's dense output has 8; the others fill fewer, the rest are 0).
N_COEF = 8

__all__ = ["solve_chunk", "solve_chunk_radau"]

_EPS = 2.220446049250313e-16
_MAX_TROUBLED = 200  # score of steps needing domain / non-finite rejections: stuck at the boundary


def _make_loop(explicit: bool):
    """The integration loop, with the explicit pairs and the stiffness switch (``explicit``) or Radau IIA only.

    ``explicit`` is a constant of the loop's code: numba prunes the branches on it before typing, so the
    Radau-only loop neither contains nor compiles the explicit steps, their dense output and the stiffness test.
    """

    @njit(nogil=True, inline=INLINE)
    def integrate_loop(rhs, jac, events, domain, y0, t0, t_end, p, rtol, atol, t_eval, direction, terminal,
                       use_domain, use_fd, method, record_steps, store_dense, max_steps, first_step,
                       max_step, erk):
        """Integrate from ``t0`` to ``t_end``; the whole loop in nopython mode.

        ``erk`` is the explicit pair of the explicit mode (:mod:`memtheory.dynamics.tableaux`).

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
        cnt = np.zeros(NCOUNT, dtype=np.int64)
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
        d_c = np.empty((dcap, N_COEF, n))
        nd = 0

        # Method state.
        mode = M_RADAU if method == M_RADAU or not explicit else M_DOPRI
        t_switch = np.nan
        fsal = ERK_INT[erk, I_FSAL]
        dense_extra = erk_extra_stages(erk) > 0  # the interpolant costs rhs evaluations: build it on demand
        K = np.empty((MAX_STAGES, n))
        for i in range(n):
            K[0, i] = f[i]
        ysti = np.empty(n)
        ctl = np.zeros(CTL_SIZE)
        ctl[C_FACOLD] = 1e-4
        sti = np.zeros(5, dtype=np.int64)
        J = np.zeros((n, n))
        LUr = np.zeros((n, n))
        pivr = np.zeros(n, dtype=np.int64)
        LUc = np.zeros((n, n), dtype=np.complex128)
        pivc = np.zeros(n, dtype=np.int64)
        st = np.zeros(RADAU_STATE_SIZE)
        prev_coef = np.zeros((N_COEF, n))
        Z = np.zeros((3, n))
        rtol_r, atol_r, newton_tol = radau_tolerances(rtol, atol)
        if mode == M_RADAU:
            reset_radau(st)
            eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt)

        if first_step > 0.0:
            h = min(first_step, hmax)
        else:
            h, nf0 = initial_step(rhs, t, y, f, p, rtol, atol, ERK_INT[erk, I_ORDER] if mode == M_DOPRI else 3, hmax)
            cnt[NFEV] += nf0

        # Events, domain, outputs at t0.
        g_old = events(t, y, p) if n_ev > 0 else np.empty(0)
        found_idx = np.empty(n_ev, dtype=np.int64)
        pending = np.zeros(n_ev, dtype=np.int64)  # TERM_ALL events not yet occurred
        for e in range(n_ev):
            if terminal[e] == TERM_ALL:
                pending[e] = 1
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
            ts, ys, nt = push_point(ts, ys, nt, t, y)
        else:
            while i_eval < n_eval and t_eval[i_eval] <= t:
                ts, ys, nt = push_point(ts, ys, nt, t_eval[i_eval], y)
                i_eval += 1

        coef = np.zeros((N_COEF, n))
        reason = R_END
        last_rej = REJ_NONE
        while t < t_end:
            if cnt[NACC] >= max_steps:
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
            dense_ok = True
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
                    reason = failure_reason(last_rej, use_domain, d_cur, d_prev, h_last, t, t0)
                    break
                if explicit and mode == M_DOPRI:
                    finite, err, y_new, hlamb, nf_step = erk_attempt(rhs, t, y, h, p, rtol, atol, K, ysti, erk)
                    cnt[NFEV] += nf_step
                    rej, h_retry = erk_control(finite, err, hlamb, h, ctl, erk)
                    kind = KIND_DOPRI
                else:
                    code, err, n_iter, rate, y_new = radau_attempt(rhs, jac, use_fd, t, y, f, h, p, rtol_r,
                                                                   atol_r, newton_tol, J, LUr, pivr, LUc,
                                                                   pivc, st, prev_coef, Z, cnt)
                    rej, h_retry = radau_control(code, err, n_iter, rate, h, st, ctl)
                    kind = KIND_RADAU
                if rej != REJ_NONE:
                    cnt[NREJ] += 1
                    ctl[C_REJ] = 1.0
                    last_rej = rej
                    troubled = troubled or rej == REJ_NONFINITE
                    h = h_retry
                    continue
                if explicit and kind == KIND_DOPRI:
                    dense_ok = not dense_extra
                    if dense_ok:
                        erk_dense(rhs, t, y, y_new, h, p, K, erk, coef)
                else:
                    radau_dense(y, Z, coef)
                    dense_ok = True
                if use_domain:
                    d_new = domain(t_new, y_new, p)
                    if not (d_new > 0.0):
                        if not np.isfinite(d_new):
                            cnt[NREJ] += 1
                            ctl[C_REJ] = 1.0
                            last_rej = REJ_NONFINITE
                            troubled = True
                            h = 0.5 * h
                            continue
                        if explicit and not dense_ok:
                            cnt[NFEV] += erk_dense(rhs, t, y, y_new, h, p, K, erk, coef)
                            dense_ok = True
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
                            cnt[NREJ] += 1
                            ctl[C_REJ] = 1.0
                            last_rej = REJ_DOMAIN
                            troubled = True
                            h = 0.9 * th_c * h
                            continue
                break
            if failed:
                break
            # ---------------- accepted step ----------------
            cnt[NACC] += 1
            if explicit and kind == KIND_DOPRI:
                f_new = K[fsal].copy()
            else:
                f_new = rhs(t_new, y_new, p)
                cnt[NFEV] += 1
            if n_ev > 0:
                g_new = events(t_new, y_new, p)
                if explicit and not dense_ok and events_fire(g_old, g_new, direction):
                    cnt[NFEV] += erk_dense(rhs, t, y, y_new, h, p, K, erk, coef)
                    dense_ok = True
                nf, th_term = detect_events(events, domain, t, h, kind, coef, p, g_old, g_new, direction,
                                            terminal, pending, yw, found_idx, found_theta)
                if th_term <= theta_stop:
                    theta_stop = th_term
                    stop_reason = R_EVENT
                for k in range(nf):
                    if found_theta[k] <= theta_stop:
                        interp(kind, coef, found_theta[k], yw)
                        ev_i, ev_t, ev_y, nev = push_event(ev_i, ev_t, ev_y, nev, found_idx[k],
                                                            t + found_theta[k] * h, yw)
                g_old = g_new
            if explicit and not dense_ok and (store_dense or theta_stop <= 1.0 or (
                    not record_steps and i_eval < n_eval and t_eval[i_eval] <= t_new)):
                cnt[NFEV] += erk_dense(rhs, t, y, y_new, h, p, K, erk, coef)
                dense_ok = True
            if theta_stop <= 1.0:
                t_stop = t + theta_stop * h if theta_stop < 1.0 else t_new
                y_stop = np.empty(n)
                interp(kind, coef, theta_stop, y_stop)
            else:
                t_stop = t_new
                y_stop = y_new
            if store_dense:
                d_t, d_h, d_k, d_c, nd = push_step(d_t, d_h, d_k, d_c, nd, t, h, kind, coef)
            if record_steps:
                ts, ys, nt = push_point(ts, ys, nt, t_stop, y_stop)
            else:
                while i_eval < n_eval and t_eval[i_eval] <= t_stop:
                    th = (t_eval[i_eval] - t) / h
                    interp(kind, coef, th, yw)
                    ts, ys, nt = push_point(ts, ys, nt, t_eval[i_eval], yw)
                    i_eval += 1
            if theta_stop <= 1.0:
                t = t_stop
                y = y_stop
                reason = stop_reason
                break
            # ---------------- next step size, stiffness switch ----------------
            switch = False
            jac_fresh = False
            if explicit and mode == M_DOPRI:
                ctl[C_FACOLD] = max(ctl[C_ERR], 1e-4)
                ctl[C_REJ] = 0.0
                h_next = ctl[C_HNEW]
                if method == M_AUTO:
                    verdict = stiffness_update(ctl[C_HLAMB], sti, ERK_F[erk, F_HLAMB], ERK_F[erk, F_SUSPECT])
                    switch = verdict == 1
                    if verdict == 2:
                        eval_jacobian(jac, rhs, use_fd, t_new, y_new, f_new, p, J, cnt)
                        for i in range(n):
                            yw[i] = y_new[i] - ysti[i]
                        switch = h * power_radius(J, yw) > ERK_F[erk, F_HRHO]
                        jac_fresh = True
                        sti[2] = 0
                        sti[3] = 2 * sti[3] + NSTIFF_ON
                        sti[4] = sti[3]
                for i in range(n):
                    K[0, i] = K[fsal, i]
            else:
                h_next, recompute_jac = accept_radau(h, coef, st, prev_coef, ctl)
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
                reset_radau(st)
                if not jac_fresh:
                    eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt)
        return (reason, ts, ys, nt, ev_i, ev_t, ev_y, nev, cnt, t_switch, mode, d_t, d_h, d_k, d_c, nd, t, y)

    return integrate_loop


#: The loop of every method, and the loop of ``method="radau"`` (a third less to compile).
_integrate_loop = _make_loop(True)
_integrate_loop_radau = _make_loop(False)


def _make_entry(explicit: bool):
    """The entry point's Python function over :func:`_make_loop`'s loop with or without the explicit pairs."""

    def solve_chunk(fptrs, Y0, t0, t_end, P, rtol, atol, t_eval, direction, terminal, use_domain, use_fd, method,
                    record_steps, store_dense, max_steps, first_step, max_step, k0, k1, erk):
        """Integrate trajectories ``k0 <= k < k1`` (state ``Y0[k]``, parameters ``P[k]``) one after the other.

        This is the compiled entry point (signature :data:`~memtheory.dynamics.constants.CHUNK_ARGS`, ``nogil``), a
        plain Python function here: it is compiled by :func:`memtheory.dynamics.cache.compiled_solver`, with every
        method (:data:`solve_chunk`) or, for ``method="radau"``, Radau IIA only (:data:`solve_chunk_radau`).
        The user functions arrive as ``fptrs``, the ``int64[8]`` addresses of
        :func:`memtheory.dynamics.pointers.pointer_array` (``rhs``, ``jac``, ``events``, ``domain``), and become
        first-class functions again here; ``erk`` is the explicit pair (:mod:`memtheory.dynamics.tableaux`).
        :func:`memtheory.dynamics.integrators.integrate` calls it with one trajectory,
        :func:`memtheory.dynamics.integrators.integrate_batch` on chunks of trajectories from a thread pool. Returns
        per-trajectory summaries ``(reasons, t_final, y_final, t_first_event, n_events, counts, t_switch, modes)``
        followed by the full outputs of the last trajectory ``(t_out, y_out, n_out, ev_idx, ev_t, ev_y, n_ev_found,
        d_t, d_h, d_kind, d_coef, n_dense)``.
        """
        rhs = rhs_from_address(fptrs[0], fptrs[1])
        jac = jac_from_address(fptrs[2], fptrs[3])
        events = rhs_from_address(fptrs[4], fptrs[5])
        domain = domain_from_address(fptrs[6], fptrs[7])
        m = k1 - k0
        n = Y0.shape[1]
        n_ev = direction.shape[0]
        reasons = np.empty(m, dtype=np.int64)
        t_final = np.empty(m)
        y_final = np.empty((m, n))
        t_first = np.full((m, n_ev), np.nan)
        n_events = np.zeros((m, n_ev), dtype=np.int64)
        counts = np.empty((m, NCOUNT), dtype=np.int64)
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
        d_c = np.empty((0, N_COEF, n))
        nd = 0
        for k in range(k0, k1):
            j = k - k0
            y0 = Y0[k].copy()
            p = P[k].copy()
            if explicit:
                out = _integrate_loop(rhs, jac, events, domain, y0, t0, t_end, p, rtol, atol, t_eval, direction,
                                      terminal, use_domain, use_fd, method, record_steps, store_dense, max_steps,
                                      first_step, max_step, erk)
            else:
                out = _integrate_loop_radau(rhs, jac, events, domain, y0, t0, t_end, p, rtol, atol, t_eval,
                                            direction, terminal, use_domain, use_fd, method, record_steps,
                                            store_dense, max_steps, first_step, max_step, erk)
            (reason, ts, ys, nt, ev_i, ev_t, ev_y, nev, cnt, tsw, mode, d_t, d_h, d_k, d_c, nd, tf, yf) = out
            reasons[j] = reason
            t_final[j] = tf
            for i in range(n):
                y_final[j, i] = yf[i]
            for i in range(NCOUNT):
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

    return solve_chunk


#: The entry point of every method, and the one of ``method="radau"`` (which compiles no explicit pair).
solve_chunk = _make_entry(True)
solve_chunk_radau = _make_entry(False)
