"""Compiled ODE integrators (DOPRI5, Radau IIA 5, auto switching): accuracy against exact solutions and
independent references, events, the domain stop, geometric step growth, batching, caching and bad input.

References used: closed-form solutions; scipy's ``solve_ivp`` (DOP853 / Radau at rtol 1e-12); Hairer's
"Test Set for IVP Solvers" values for Robertson's problem; scipy's ``expm`` for linear systems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from memtheory.dynamics import radau
from memtheory.dynamics.integrators import (
    BatchResult,
    ODEResult,
    integrate,
    integrate_batch,
)
from memtheory.errors import InvalidArgumentError, MemtheoryError


# ---------------------------------------------------------------------------------------------- problems
@njit(cache=True)
def decay(t, y, p):
    return -p[0] * y


@njit(cache=True)
def decay_jac(t, y, p):
    return -p[0] * np.eye(y.shape[0])


@njit(cache=True)
def oscillator(t, y, p):
    return np.array([y[1], -p[0] ** 2 * y[0]])


@njit(cache=True)
def oscillator_jac(t, y, p):
    return np.array([[0.0, 1.0], [-p[0] ** 2, 0.0]])


@njit(cache=True)
def lotka(t, y, p):
    return np.array([p[0] * y[0] - p[1] * y[0] * y[1], -p[2] * y[1] + p[3] * y[0] * y[1]])


@njit(cache=True)
def lotka_jac(t, y, p):
    return np.array([[p[0] - p[1] * y[1], -p[1] * y[0]], [p[3] * y[1], -p[2] + p[3] * y[0]]])


@njit(cache=True)
def robertson(t, y, p):
    return np.array([-0.04 * y[0] + 1e4 * y[1] * y[2],
                     0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
                     3e7 * y[1] ** 2])


@njit(cache=True)
def robertson_jac(t, y, p):
    return np.array([[-0.04, 1e4 * y[2], 1e4 * y[1]],
                     [0.04, -1e4 * y[2] - 6e7 * y[1], -1e4 * y[1]],
                     [0.0, 6e7 * y[1], 0.0]])


@njit(cache=True)
def vdp(t, y, p):
    return np.array([y[1], p[0] * (1.0 - y[0] ** 2) * y[1] - y[0]])


@njit(cache=True)
def vdp_jac(t, y, p):
    return np.array([[0.0, 1.0], [-2.0 * p[0] * y[0] * y[1] - 1.0, p[0] * (1.0 - y[0] ** 2)]])


@njit(cache=True)
def relax(t, y, p):
    """y' = -k (y - 1) + c: near-constant (y -> 1 + c/k) and stiff."""
    return -p[0] * (y - 1.0) + p[1]


@njit(cache=True)
def relax_jac(t, y, p):
    return -p[0] * np.eye(y.shape[0])


@njit(cache=True)
def levels(t, y, p):
    return np.array([y[0] - 0.5, y[0] - 0.25, y[0] - 0.1])


@njit(cache=True)
def first_component(t, y, p):
    return np.array([y[0]])


@njit(cache=True)
def unit_drift(t, y, p):
    return -np.ones(1)


@njit(cache=True)
def zero_jac1(t, y, p):
    return np.zeros((1, 1))


@njit(cache=True)
def positive(t, y, p):
    return y[0]


@njit(cache=True)
def inverse_drift(t, y, p):
    return -1.0 / y


@njit(cache=True)
def inverse_drift_jac(t, y, p):
    return (1.0 / y**2).reshape(1, 1)


@njit(cache=True)
def linear(t, y, p):
    n = y.shape[0]
    return p.reshape(n, n) @ y


@njit(cache=True)
def linear_jac(t, y, p):
    n = y.shape[0]
    return p.reshape(n, n).copy()


ALL = ("dopri5", "dop853", "radau", "auto")
# Hairer & Wanner's test set (ROBER, t = 1e11), reference values of the published problem description.
ROBER_1E11 = np.array([0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050e+00])
# Van der Pol, mu = 1000, y(0) = (2, 0), t = 3000: scipy Radau rtol = atol = 1e-12 (agrees with rtol = atol
# = 1e-13 to 1.4e-11); recomputed in test_van_der_pol_reference_is_reproducible (slow).
VDP_3000 = np.array([-1.5106069367598454, 1.1783800006993834e-03])


# -------------------------------------------------------------------------------- exact solutions
@pytest.mark.parametrize("method", ALL)
def test_exponential_decay_matches_exact(method):
    res = integrate(decay, decay_jac, [1.0, -2.0], (0.0, 5.0), [1.3], method=method, rtol=1e-10, atol=1e-12)
    assert isinstance(res, ODEResult) and res.success and res.status == 0
    exact = np.exp(-1.3 * res.t)[:, None] * np.array([1.0, -2.0])
    assert res.y.shape == (res.t.size, 2)  # time-major
    assert res.t[0] == 0.0 and res.t[-1] == 5.0 and np.all(np.diff(res.t) > 0)
    assert np.max(np.abs(res.y - exact)) < 1e-9
    assert res.nsteps == res.t.size - 1


@pytest.mark.parametrize("method", ["dopri5", "dop853", "radau"])
def test_harmonic_oscillator_matches_exact_with_t_eval_and_dense(method):
    w = 2.0
    t_eval = np.linspace(0.0, 20.0, 41)
    res = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 20.0), [w], method=method, rtol=1e-11,
                    atol=1e-13, t_eval=t_eval, dense=True)
    exact = np.stack([np.cos(w * t_eval), -w * np.sin(w * t_eval)], axis=1)
    np.testing.assert_array_equal(res.t, t_eval)
    assert np.max(np.abs(res.y - exact)) < 2e-8
    ts = np.linspace(0.0, 20.0, 1001)
    dense_err = np.max(np.abs(res.sol(ts)[:, 0] - np.cos(w * ts)))
    # DOPRI5's 4th-order and DOP853's 7th-order continuous extensions are as good as the steps; Radau's
    # collocation polynomial is of order 3 between the nodes.
    assert dense_err < (5e-7 if method == "radau" else 2e-8)
    assert res.sol(3.0).shape == (2,)
    with pytest.raises(InvalidArgumentError):
        res.sol(21.0)


def test_nonlinear_lotka_volterra_matches_dop853():
    p = np.array([1.1, 0.4, 0.4, 0.1])
    t_eval = np.linspace(0.0, 30.0, 61)
    ref = solve_ivp(lambda t, y: lotka.py_func(t, y, p), (0.0, 30.0), [10.0, 5.0], method="DOP853",
                    rtol=1e-12, atol=1e-12, t_eval=t_eval)
    for method, tol in (("dopri5", 1e-7), ("dop853", 1e-7), ("radau", 1e-6)):
        res = integrate(lotka, lotka_jac, [10.0, 5.0], (0.0, 30.0), p, method=method, rtol=1e-10,
                        atol=1e-10, t_eval=t_eval)
        assert np.max(np.abs(res.y - ref.y.T) / np.abs(ref.y.T)) < tol, method


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=2, max_value=4), st.integers(min_value=0, max_value=2**32 - 1))
def test_random_linear_systems_match_expm(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    A -= (np.max(np.linalg.eigvals(A).real) + 0.5) * np.eye(n)  # Hurwitz
    y0 = rng.normal(size=n)
    exact = expm(A * 2.0) @ y0
    for method in ("dopri5", "dop853", "radau"):
        res = integrate(linear, linear_jac, y0, (0.0, 2.0), A.ravel(), method=method, rtol=1e-10,
                        atol=1e-12)
        assert res.success
        assert np.max(np.abs(res.y_final - exact)) < 1e-8 * max(1.0, np.max(np.abs(y0))), method


# ------------------------------------------------------------------------------------- stiff
@pytest.mark.parametrize("method", ["radau", "auto"])
def test_robertson_to_1e11_matches_test_set(method):
    res = integrate(robertson, robertson_jac, [1.0, 0.0, 0.0], (0.0, 1e11), method=method, rtol=1e-10,
                    atol=1e-14)
    assert res.status == 0 and res.t_final == 1e11
    rel = np.abs(res.y_final - ROBER_1E11) / ROBER_1E11
    assert np.all(rel < 1e-7), rel  # measured: 1.2e-8 (radau), 8e-9 (auto) for y1, y2; 1e-14 for y3
    assert abs(res.y_final.sum() - 1.0) < 1e-12  # mass conservation (linear invariant)
    assert res.nsteps < 1500  # measured: 940 (radau), 981 (auto)
    if method == "auto":  # rtol < 1e-7: DOP853 first
        assert res.method_used == "dop853->radau" and res.t_switch < 1.0


def test_robertson_loose_tolerance_and_fd_jacobian():
    res = integrate(robertson, None, [1.0, 0.0, 0.0], (0.0, 1e11), method="radau", rtol=1e-8, atol=1e-12)
    assert res.status == 0
    # atol = 1e-12 is 5e-5 of y1(1e11) ~ 2e-8: the relative accuracy of y1, y2 is atol-limited
    assert np.all(np.abs(res.y_final - ROBER_1E11) / ROBER_1E11 < 1e-3)  # measured: 1.8e-4
    assert res.njev > 0 and res.nfev > 3 * res.njev


@pytest.mark.parametrize("method", ["radau", "auto"])
def test_van_der_pol_mu_1000_matches_reference(method):
    res = integrate(vdp, vdp_jac, [2.0, 0.0], (0.0, 3000.0), [1000.0], method=method, rtol=1e-10,
                    atol=1e-12)
    assert res.status == 0
    assert abs(res.y_final[0] - VDP_3000[0]) < 2e-9  # measured: 1.8e-10
    assert abs(res.y_final[1] - VDP_3000[1]) / VDP_3000[1] < 3e-9  # measured: 3e-10
    assert res.nsteps < 5000  # measured: 3103 (radau), 3141 (auto)
    assert res.method_used == ("radau" if method == "radau" else "dop853->radau")


@pytest.mark.slow
def test_van_der_pol_reference_is_reproducible():
    p = np.array([1000.0])
    ref = solve_ivp(lambda t, y: vdp.py_func(t, y, p), (0.0, 3000.0), [2.0, 0.0], method="Radau",
                    rtol=1e-12, atol=1e-12, jac=lambda t, y: vdp_jac.py_func(t, y, p))
    np.testing.assert_allclose(ref.y[:, -1], VDP_3000, rtol=1e-10)
    res = integrate(vdp, vdp_jac, [2.0, 0.0], (0.0, 3000.0), p, method="radau", rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(res.y_final, VDP_3000, rtol=1e-9)


@pytest.mark.parametrize("method,t_end", [("radau", 1e12), ("auto", 1e12), ("radau", 1e300)])
def test_near_constant_stiff_solution_takes_logarithmically_many_steps(method, t_end):
    res = integrate(relax, relax_jac, [2.0], (0.0, t_end), [1e3, 1e-14], method=method)
    assert res.status == 0 and res.t_final == t_end
    assert abs(res.y_final[0] - (1.0 + 1e-17)) < 1e-12
    assert np.all(np.isfinite(res.t)) and np.all(np.diff(res.t) > 0)
    # about one decade of t per step once the transient is over (step factor <= 10)
    assert res.nsteps < (120 if t_end == 1e12 else 500)  # measured: 69, 87, 357


@pytest.mark.parametrize("rtol,pair", [(1e-8, "dop853"), (1e-6, "dopri5")])
def test_auto_switches_on_stiff_problem_only(rtol, pair):
    """``auto`` starts with DOP853 below rtol = 1e-7 and with DOPRI5 above, and switches on stiffness only."""
    stiff_res = integrate(relax, relax_jac, [2.0], (0.0, 10.0), [1e4, 0.0], method="auto", rtol=rtol)
    assert stiff_res.method_used == f"{pair}->radau" and stiff_res.t_switch is not None
    assert stiff_res.nsteps < 200
    explicit = integrate(relax, relax_jac, [2.0], (0.0, 10.0), [1e4, 0.0], method=pair, rtol=rtol)
    # stability-limited: h ~ 3.3e-4 (DOPRI5), ~ 6e-4 (DOP853)
    assert explicit.nsteps > (5000 if pair == "dopri5" else 2500)
    nonstiff = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 50.0), [1.0], method="auto", rtol=rtol)
    assert nonstiff.method_used == pair and nonstiff.t_switch is None and nonstiff.njev == 0


# ------------------------------------------------------------------------------------ events
@pytest.mark.parametrize("method,tol", [("dopri5", 1e-11), ("auto", 1e-11), ("radau", 1e-9)])
def test_event_times_of_decaying_exponential(method, tol):
    res = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], method=method, rtol=1e-12, atol=1e-14,
                    events=levels)
    exact = np.log([2.0, 4.0, 10.0])
    for e in range(3):
        assert res.t_events[e].shape == (1,)
        assert abs(res.t_events[e][0] - exact[e]) < tol
        assert abs(res.y_events[e][0, 0] - [0.5, 0.25, 0.1][e]) < 10 * tol
    assert res.status == 0 and res.t_final == 10.0


def test_terminal_and_non_terminal_events():
    res = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], rtol=1e-12, atol=1e-14, events=levels,
                    terminal=[False, True, False])
    assert res.status == 1 and res.success and "terminal event" in res.message
    assert abs(res.t_final - np.log(4.0)) < 1e-11 and abs(res.t[-1] - res.t_final) == 0
    assert abs(res.y[-1, 0] - 0.25) < 1e-11
    assert len(res.t_events[0]) == 1 and len(res.t_events[1]) == 1 and len(res.t_events[2]) == 0


@pytest.mark.parametrize("method", ["dopri5", "radau"])
def test_terminal_all_stops_at_the_last_first_occurrence(method):
    # y = e^{-t} crosses 0.5, 0.25, 0.1 at ln 2, ln 4, ln 10
    kw = dict(rtol=1e-12, atol=1e-14, events=levels)
    full = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], method=method, **kw)
    res = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], method=method, terminal="all", **kw)
    assert res.status == 1 and "terminal event" in res.message
    assert abs(res.t_final - np.log(10.0)) < 1e-9 and res.t[-1] == res.t_final
    assert abs(res.y_final[0] - 0.1) < 1e-9
    assert res.nsteps < full.nsteps
    for e in range(3):  # the same steps as the run to t_end, so the same event times to the last bit
        np.testing.assert_array_equal(res.t_events[e], full.t_events[e])
    # the two flagged "all" stop the run at the later of them; True stops at its first occurrence
    two = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], method=method, terminal=["all", "all", False],
                    **kw)
    assert two.status == 1 and abs(two.t_final - np.log(4.0)) < 1e-9 and two.t_events[2].size == 0
    mixed = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], method=method, terminal=[True, "all", "all"],
                      **kw)
    assert mixed.status == 1 and abs(mixed.t_final - np.log(2.0)) < 1e-9
    # an event that never occurs (y = 0.1 is reached at ln 10 > 2): the run goes on to t_end
    short = integrate(decay, decay_jac, [1.0], (0.0, 2.0), [1.0], method=method, terminal="all", **kw)
    assert short.status == 0 and short.t_final == 2.0 and short.t_events[2].size == 0
    assert abs(short.t_events[1][0] - np.log(4.0)) < 1e-9


def test_terminal_all_in_a_batch_matches_single_runs():
    P = np.array([[0.5], [1.0], [4.0]])  # ln 10 / 0.5 > 3: the first trajectory never reaches y = 0.1
    b = integrate_batch(decay, decay_jac, [1.0], (0.0, 3.0), P, events=levels, terminal="all", rtol=1e-11,
                        atol=1e-13, num_threads=1)
    for k in range(3):
        single = integrate(decay, decay_jac, [1.0], (0.0, 3.0), P[k], events=levels, terminal="all", rtol=1e-11,
                           atol=1e-13)
        assert b.status[k] == single.status and b.t_final[k] == single.t_final
    np.testing.assert_allclose(b.t_final, [3.0, np.log(10.0), np.log(10.0) / 4], rtol=1e-10)
    assert list(b.status) == [0, 1, 1]


def test_event_direction_and_repeated_crossings():
    w = 1.0  # x = cos t: zeros at pi/2 (down), 3pi/2 (up), 5pi/2 (down) in [0, 9]
    kw = dict(rtol=1e-12, atol=1e-14, events=first_component)
    both = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 9.0), [w], **kw)
    np.testing.assert_allclose(both.t_events[0], np.pi * np.array([0.5, 1.5, 2.5]), atol=1e-10)
    up = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 9.0), [w], direction=1, **kw)
    np.testing.assert_allclose(up.t_events[0], [1.5 * np.pi], atol=1e-10)
    down = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 9.0), [w], direction=[-1], **kw)
    np.testing.assert_allclose(down.t_events[0], np.pi * np.array([0.5, 2.5]), atol=1e-10)


def test_events_with_t_eval_stop_at_terminal_event():
    t_eval = np.linspace(0.0, 10.0, 101)
    res = integrate(decay, decay_jac, [1.0], (0.0, 10.0), [1.0], t_eval=t_eval, events=levels,
                    terminal=True, rtol=1e-12, atol=1e-14)
    assert res.status == 1 and abs(res.t_final - np.log(2.0)) < 1e-11
    np.testing.assert_array_equal(res.t, t_eval[t_eval <= res.t_final])


# ------------------------------------------------------------------------------------ domain
@pytest.mark.parametrize("method", ALL)
def test_domain_exit_stops_at_boundary(method):
    res = integrate(unit_drift, zero_jac1, [1.0], (0.0, 5.0), method=method, domain=positive)
    assert res.status == -2 and not res.success and "left the domain" in res.message
    assert abs(res.t_final - 1.0) < 1e-12 and abs(res.y_final[0]) < 1e-12
    assert np.all(np.isfinite(res.y)) and res.t[-1] == res.t_final


@pytest.mark.parametrize("method", ALL)
def test_domain_boundary_with_singular_rhs(method):
    # y' = -1/y, y(0) = 1: y = sqrt(1 - 2t) reaches the boundary at t = 1/2 with infinite slope
    res = integrate(inverse_drift, inverse_drift_jac, [1.0], (0.0, 5.0), method=method, domain=positive)
    assert res.status == -2 and "boundary" in res.message
    assert abs(res.t_final - 0.5) < 1e-7 and 0.0 <= res.y_final[0] < 1e-6
    assert np.all(np.isfinite(res.y))


@pytest.mark.parametrize("method", ["dopri5", "dop853", "radau"])
def test_domain_no_false_exit_when_approaching_boundary(method):
    # y' = -y stays positive; at loose tolerances an explicit step could overshoot below 0
    res = integrate(decay, decay_jac, [1.0], (0.0, 100.0), [1.0], method=method, domain=positive,
                    rtol=1e-3, atol=1e-6)
    assert res.status == 0 and res.y_final[0] > 0


# --------------------------------------------------------------------------------- batching
def test_batch_matches_single_runs_and_reports_events():
    P = np.array([[0.5], [1.0], [2.0], [4.0]])
    b = integrate_batch(decay, decay_jac, [1.0], (0.0, 3.0), P, events=levels, terminal=[False, False, True],
                        rtol=1e-11, atol=1e-13, num_threads=2)
    assert isinstance(b, BatchResult) and b.y_final.shape == (4, 1) and b.t_events.shape == (4, 3)
    for k in range(4):
        single = integrate(decay, decay_jac, [1.0], (0.0, 3.0), P[k], events=levels,
                           terminal=[False, False, True], rtol=1e-11, atol=1e-13)
        assert b.status[k] == single.status and b.nsteps[k] == single.nsteps
        np.testing.assert_array_equal(b.y_final[k], single.y_final)
    t10 = np.log(10.0) / P[:, 0]
    assert np.all(b.status[t10 <= 3.0] == 1) and np.all(b.status[t10 > 3.0] == 0)
    np.testing.assert_allclose(b.t_events[:, 0], np.log(2.0) / P[:, 0], atol=1e-10)
    assert np.isnan(b.t_events[0, 2]) and b.n_events[0, 2] == 0
    assert b.success.all()
    json.dumps(b.to_dict())


def test_batch_thread_counts_agree_on_stiff_ensemble():
    Y0 = np.linspace(0.5, 2.0, 12)[:, None] * np.array([2.0, 0.0])
    kw = dict(method="auto", rtol=1e-8, atol=1e-10)
    one = integrate_batch(vdp, vdp_jac, Y0, (0.0, 50.0), [100.0], num_threads=1, **kw)
    two = integrate_batch(vdp, vdp_jac, Y0, (0.0, 50.0), [100.0], num_threads=2, chunks_per_thread=3, **kw)
    np.testing.assert_array_equal(one.y_final, two.y_final)
    np.testing.assert_array_equal(one.nsteps, two.nsteps)
    assert one.switched.all() and (one.status == 0).all()


# --------------------------------------------------------------------------------- coefficients
def test_radau_constants_diagonalise_inverse_collocation_matrix():
    s6 = np.sqrt(6.0)
    A = np.array([[(88 - 7 * s6) / 360, (296 - 169 * s6) / 1800, (-2 + 3 * s6) / 225],
                  [(296 + 169 * s6) / 1800, (88 + 7 * s6) / 360, (-2 - 3 * s6) / 225],
                  [(16 - s6) / 36, (16 + s6) / 36, 1 / 9]])  # Hairer & Wanner II, Table IV.5.6
    np.testing.assert_allclose(A.sum(axis=1), radau.RADAU_C, atol=1e-15)
    np.testing.assert_allclose(radau.RADAU_T @ radau.RADAU_TI, np.eye(3), atol=1e-14)
    lam = radau.RADAU_TI @ np.linalg.inv(A) @ radau.RADAU_T
    g, a, b = radau.MU_REAL, radau.MU_COMPLEX.real, -radau.MU_COMPLEX.imag
    np.testing.assert_allclose(lam, [[g, 0, 0], [0, a, b], [0, -b, a]], atol=1e-13)
    # dense output: the cubic through (0, 0) and (c_i, z_i)
    for i in range(3):
        x = radau.RADAU_C[i]
        np.testing.assert_allclose(radau.RADAU_P @ np.array([x, x**2, x**3]), np.eye(3)[i], atol=1e-13)


# (the order conditions of the explicit pairs: tests/test_tableaux.py)


# --------------------------------------------------------------------------------- conveniences
def test_plain_python_and_explicitly_typed_functions_are_accepted():
    def py_rhs(t, y, p):
        return -p[0] * y

    @njit("float64[:](float64, float64[:], float64[:])")
    def typed_rhs(t, y, p):
        return -p[0] * y

    for f in (py_rhs, typed_rhs):
        res = integrate(f, None, [1.0], (0.0, 1.0), [1.0], method="dopri5", rtol=1e-10, atol=1e-12)
        assert abs(res.y_final[0] - np.exp(-1.0)) < 1e-9


def test_max_steps_failure_and_to_dict():
    res = integrate(oscillator, oscillator_jac, [1.0, 0.0], (0.0, 100.0), [1.0], max_steps=10)
    assert res.status == -1 and not res.success and "max_steps=10" in res.message and res.nsteps == 10
    d = res.to_dict()
    json.dumps(d)
    assert d["status"] == -1 and len(d["t"]) == 11


def test_radau_entry_point_takes_the_same_steps_as_the_full_one(monkeypatch):
    """``method="radau"`` runs the entry point compiled without the explicit pairs; the one of every method
    takes the same steps to the last bit."""
    from memtheory.dynamics import cache, integrators

    def run():
        return integrate(robertson, robertson_jac, [1.0, 0.0, 0.0], (0.0, 1e5), method="radau", rtol=1e-8,
                         atol=1e-12, t_eval=[1.0, 1e3, 1e5], dense=True)

    own = run()
    monkeypatch.setattr(integrators, "compiled_solver", lambda explicit: cache.compiled_solver(True))
    full = run()
    assert own.status == full.status == 0 and own.method_used == full.method_used == "radau"
    np.testing.assert_array_equal(own.y, full.y)
    assert (own.nfev, own.njev, own.nsteps) == (full.nfev, full.njev, full.nsteps)
    np.testing.assert_array_equal(own.sol(3e4), full.sol(3e4))


def test_solver_is_loaded_from_disk_cache_in_a_new_process():
    integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0])  # make sure everything is compiled and cached
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from memtheory.dynamics import integrators as I
        from memtheory.dynamics.cache import compiled_solver
        from test_integrators import decay, decay_jac
        res = I.integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0])
        solver = compiled_solver().stats
        user = decay.stats
        print(len(solver.cache_hits), len(solver.cache_misses), len(user.cache_hits), len(user.cache_misses),
              res.status)
    """)
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", code, here], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # the integrator and the module-level user function are both loaded, not compiled
    assert out.stdout.split()[-5:] == ["1", "0", "1", "0", "0"], out.stdout


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(t_span=(1.0, 1.0)), "t_end > t0"),
    (dict(t_span=(2.0, 1.0)), "t_end > t0"),
    (dict(t_span=(0.0, np.inf)), "finite"),
    (dict(y0=[[1.0]]), "1-D"),
    (dict(rhs=oscillator, jac=oscillator_jac, y0=[1.0, 2.0, 3.0]), "shape"),
    (dict(y0=[np.nan]), "finite"),
    (dict(p=[np.inf]), "finite"),
    (dict(method="rk45"), "unknown method"),
    (dict(rtol=0.0), "rtol"),
    (dict(rtol=-1e-6), "rtol"),
    (dict(atol=0.0), "atol"),
    (dict(atol=[1e-9, 1e-9]), "atol"),
    (dict(t_eval=[0.0, 2.0]), "t_eval"),
    (dict(t_eval=[0.5, 0.2]), "t_eval"),
    (dict(max_steps=0), "max_steps"),
])
def test_bad_input_raises_clear_errors(kwargs, match):
    args = dict(rhs=decay, jac=decay_jac, y0=[1.0], t_span=(0.0, 1.0), p=[1.0])
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        integrate(**args)


def test_bad_functions_and_domain_raise():
    with pytest.raises(InvalidArgumentError, match="outside the domain"):
        integrate(unit_drift, zero_jac1, [-1.0], (0.0, 1.0), domain=positive)
    with pytest.raises(InvalidArgumentError, match="events"):
        integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0], events=levels, n_events=2)
    with pytest.raises(InvalidArgumentError, match="jac"):
        integrate(decay, robertson_jac, [1.0], (0.0, 1.0), [1.0])
    with pytest.raises(MemtheoryError):
        integrate(42, decay_jac, [1.0], (0.0, 1.0), [1.0])
    with pytest.raises(InvalidArgumentError, match="direction"):
        integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0], events=levels, direction=[2, 0, 0])
    with pytest.raises(InvalidArgumentError, match="terminal"):
        integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0], events=levels, terminal="any")
    with pytest.raises(InvalidArgumentError, match="terminal"):
        integrate(decay, decay_jac, [1.0], (0.0, 1.0), [1.0], events=levels, terminal=[True, "all"])
    with pytest.raises(InvalidArgumentError, match="rows"):
        integrate_batch(decay, decay_jac, np.ones((3, 1)), (0.0, 1.0), np.ones((2, 1)))


# --------------------------------------------------------------------------------- function pointers
@njit
def _raising_rhs(t, y, p):
    if t > 0.5:
        raise ValueError("rhs refuses t > 1/2")
    return -y


def test_exception_in_a_user_function_propagates():
    """The loop calls the user functions through their numba-convention address: their exceptions reach the
    caller (the C wrapper would swallow them)."""
    with pytest.raises(ValueError, match="refuses"):
        integrate(_raising_rhs, None, [1.0], (0.0, 1.0), method="dopri5")


def test_pointers_and_adapters_are_resolved_once_per_function():
    from memtheory.dynamics import pointers, prepare

    @njit
    def int_rhs(t, y, p):  # returns a non-contiguous view: needs the adapter
        return (-y[::-1])[::-1]

    first = integrate(int_rhs, None, [1.0, 2.0], (0.0, 1.0), method="dopri5", rtol=1e-10, atol=1e-12)
    adapted = prepare._ADAPTED[int_rhs]["vector"]
    assert adapted is not int_rhs
    addresses = pointers.function_pointers(adapted, pointers.RHS_T)
    second = integrate(int_rhs, None, [1.0, 2.0], (0.0, 1.0), method="dopri5", rtol=1e-10, atol=1e-12)
    assert prepare._ADAPTED[int_rhs]["vector"] is adapted
    assert pointers.function_pointers(adapted, pointers.RHS_T) == addresses
    assert np.array_equal(first.y_final, second.y_final)
    assert np.allclose(second.y_final, np.exp(-1.0) * np.array([1.0, 2.0]), rtol=1e-9)
