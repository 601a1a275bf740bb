"""DOP853 in the compiled loop: orders measured numerically, agreement with scipy, lazy dense output, ``auto``.

References are independent computations: mpmath's Taylor-series ODE solver at 30 digits for the one-step order
measurements, scipy's ``solve_ivp`` (its own DOP853 and LSODA, a numpy right-hand side) at tighter tolerances
for whole trajectories.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numba import njit
from scipy.integrate import solve_ivp

from memtheory.dynamics.integrators import integrate


@njit(cache=True)
def forced_pendulum(t, y, p):
    out = np.empty(2)
    out[0] = y[1]
    out[1] = -np.sin(y[0]) + p[0] * np.cos(t)
    return out


def forced_pendulum_np(t, y):
    return [y[1], -math.sin(y[0]) + 0.3 * math.cos(t)]


@njit(cache=True)
def crossing(t, y, p):
    out = np.empty(1)
    out[0] = y[0]
    return out


Y0 = [1.0, 0.0]


@pytest.fixture(scope="module")
def reference():
    """The forced pendulum from (1, 0) in mpmath (Taylor series, 30 digits)."""
    with mp.workdps(30):
        sol = mp.odefun(lambda t, y: [y[1], -mp.sin(y[0]) + mp.mpf("0.3") * mp.cos(t)], 0, [mp.mpf(1), mp.mpf(0)])
        return lambda t: np.array([float(v) for v in sol(mp.mpf(t))])


def _one_step(h, theta):
    """One DOP853 step of size ``h`` (loose tolerances: accepted as it is), its end point and dense output."""
    res = integrate(forced_pendulum, None, Y0, (0.0, h), [0.3], method="dop853", rtol=1.0, atol=1.0,
                    first_step=h, dense=True)
    assert res.nsteps == 1 and res.nrejected == 0
    return res.y_final, np.array([res.sol(th * h) for th in theta])


def test_one_step_orders(reference):
    """Local error of the step O(h^9) (order 8) and of the dense output O(h^8) (order 7), measured."""
    theta = (0.3, 0.7)
    hs = (0.8, 0.4, 0.2)
    err_end, err_dense = [], []
    for h in hs:
        end, dense = _one_step(h, theta)
        err_end.append(np.max(np.abs(end - reference(h))))
        err_dense.append(max(np.max(np.abs(d - reference(th * h))) for d, th in zip(dense, theta)))
    slope_end = [math.log2(a / b) for a, b in zip(err_end, err_end[1:])]
    slope_dense = [math.log2(a / b) for a, b in zip(err_dense, err_dense[1:])]
    assert all(8.4 < s < 10.0 for s in slope_end), (slope_end, err_end)
    assert all(7.4 < s < 9.0 for s in slope_dense), (slope_dense, err_dense)


@pytest.mark.slow  # 18 s, the 30-digit Taylor reference to t = 20; the scipy comparison below stays in the default suite
def test_trajectory_against_the_30_digit_reference(reference):
    res = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], method="dop853", rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(res.y_final - reference(20.0))) < 1e-9  # measured: 1.3e-10 (scipy DOP853 at 1e-11: 1e-10)
    dp5 = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], method="dopri5", rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(dp5.y_final - reference(20.0))) < 1e-8  # measured: 1.5e-9


def test_trajectory_against_scipy():
    """rtol 1e-11 on [0, 20]: ours and scipy's DOP853 at 1e-13 (3.5e-12 from the 30-digit reference) agree;
    events too."""
    res = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], method="dop853", rtol=1e-11, atol=1e-13,
                    events=crossing, dense=True)
    ref = solve_ivp(forced_pendulum_np, (0.0, 20.0), Y0, method="DOP853", rtol=1e-13, atol=1e-14,
                    dense_output=True, events=lambda t, y: y[0])
    assert res.status == 0 and res.method_used == "dop853"
    assert np.max(np.abs(res.y_final - ref.y[:, -1])) < 1e-9  # measured: 1.3e-10
    ts = np.linspace(0.0, 20.0, 201)
    # the interpolant is one order lower than the steps: measured 1.2e-9 at t = 13.4 on a step of 0.48 (scipy's
    # DOP853 at rtol 1e-11: 6e-10 at t = 13.3)
    assert np.max(np.abs(res.sol(ts) - ref.sol(ts).T)) < 5e-9
    assert len(res.t_events[0]) == len(ref.t_events[0]) > 3
    np.testing.assert_allclose(res.t_events[0], ref.t_events[0], rtol=0, atol=1e-9)
    # fewer steps than DOPRI5 at this tolerance
    dp5 = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], method="dopri5", rtol=1e-11, atol=1e-13)
    assert res.nfev < dp5.nfev / 2
    assert np.max(np.abs(dp5.y_final - ref.y[:, -1])) < 1e-8  # measured: 1.5e-9 (DOP853: 1.3e-10)


def test_dense_stages_only_where_the_interpolant_is_used():
    """12 evaluations per attempted step plus 3 per step whose interpolant is used (events, t_eval, dense)."""
    kw = dict(method="dop853", rtol=1e-10, atol=1e-12)
    plain = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], **kw)
    attempts = plain.nsteps + plain.nrejected
    assert plain.nfev == 12 * attempts + 2  # + f(t0) and the starting-step probe
    dense = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], dense=True, **kw)
    assert dense.nsteps == plain.nsteps and dense.nfev == plain.nfev + 3 * plain.nsteps
    ev = integrate(forced_pendulum, None, Y0, (0.0, 20.0), [0.3], events=crossing, **kw)
    fired = len(ev.t_events[0])
    assert fired > 3 and ev.nfev == plain.nfev + 3 * fired
    np.testing.assert_array_equal(ev.y_final, plain.y_final)


def test_auto_picks_the_pair_by_tolerance():
    tight = integrate(forced_pendulum, None, Y0, (0.0, 5.0), [0.3], method="auto", rtol=1e-9)
    loose = integrate(forced_pendulum, None, Y0, (0.0, 5.0), [0.3], method="auto", rtol=1e-6)
    assert tight.method_used == "dop853" and loose.method_used == "dopri5"


def test_batch_uses_the_same_pair():
    from memtheory.dynamics.integrators import integrate_batch

    P = np.array([[0.0], [0.3], [0.6]])
    batch = integrate_batch(forced_pendulum, None, Y0, (0.0, 10.0), P, method="dop853", rtol=1e-10, atol=1e-12,
                            num_threads=1)
    for k in range(3):
        one = integrate(forced_pendulum, None, Y0, (0.0, 10.0), P[k], method="dop853", rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(batch.y_final[k], one.y_final)
        assert batch.nfev[k] == one.nfev
