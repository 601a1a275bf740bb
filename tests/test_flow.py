"""Gradient flows: symbolic equations, compiled right-hand side/Jacobian, trajectories, events, bad input."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import memtheory as mt
from memtheory.dynamics import GradientFlow
from memtheory.errors import InvalidArgumentError
from memtheory.symbolic.functions import LaplaceMoment

SPIKE = mt.kernels.memory_family(mt.kernels.exponential(0.4), mt.kernels.gaussian_bump(0, 0.7), omega=1 / 6)
THETA0 = np.array([1.0, 0.0, 0.0, 0.4, 1.5, 3.0])


def test_symbolic_flow_m2_matches_hand_derivation():
    loss = mt.symbolic.l2_loss(2)
    a1, a2, w1, w2 = loss.theta
    a, w = (a1, a2), (w1, w2)
    for i in range(2):
        hand_a = 2 * (sum(a[j] / (w[i] + w[j]) for j in range(2)) - LaplaceMoment(0, w[i]))
        hand_w = -2 * a[i] * (sum(a[j] / (w[i] + w[j]) ** 2 for j in range(2)) - LaplaceMoment(1, w[i]))
        assert sp.simplify(loss.gradient[i] - hand_a) == 0
        assert sp.simplify(loss.gradient[2 + i] - hand_w) == 0
    assert "\\frac{d w_{1}}{d\\tau}" in loss.latex("flow")


@pytest.fixture(scope="module")
def flow():
    return GradientFlow(SPIKE, m=3)


def _mp_grad(theta, rho=SPIKE):
    model = mt.DiagonalRNN(theta[:3], theta[3:])
    res = mt.l2_loss(model, rho, gradient=True, hessian=True, dps=40)
    return np.array([float(g) for g in res.grad]), np.array([[float(h) for h in row] for row in res.hess])


def test_compiled_rhs_and_jacobian_match_mpmath_loss(flow):
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = np.concatenate([rng.normal(size=3), rng.uniform(0.2, 3.0, size=3)])
        g, h = _mp_grad(theta)
        np.testing.assert_allclose(flow.rhs(theta), -g, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(flow.jacobian(theta), -h, rtol=1e-9, atol=1e-12)
        loss = float(mt.l2_loss(mt.DiagonalRNN(theta[:3], theta[3:]), SPIKE, dps=40).loss)
        assert flow.loss(theta)[0] == pytest.approx(loss, rel=1e-12)


def test_jacobian_matches_finite_differences_of_rhs(flow):
    theta = np.array([0.7, -0.2, 0.4, 0.5, 1.1, 2.3])
    J = flow.jacobian(theta)
    h = 1e-6
    fd = np.empty_like(J)
    for k in range(6):
        e = np.zeros(6)
        e[k] = h
        fd[:, k] = (flow.rhs(theta + e) - flow.rhs(theta - e)) / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.slow  # 11 s; the flow against finite differences and the integrator tests stay in the default suite
def test_trajectory_agrees_with_solve_ivp(flow):
    def f(t, y):
        g, _ = _np_grad(y)
        return -g

    def _np_grad(y):
        res = mt.l2_loss(mt.DiagonalRNN(y[:3], y[3:]), SPIKE, gradient=True, check=False)
        return res.grad, None

    theta0 = np.array([0.8, 0.3, -0.1, 0.5, 1.2, 2.5])
    ref = solve_ivp(f, (0, 20.0), theta0, method="DOP853", rtol=1e-12, atol=1e-13)
    sol = flow.solve(theta0, 20.0, method="auto", rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(sol.theta[-1], ref.y[:, -1], rtol=1e-7, atol=1e-9)


def test_loss_decreases_at_rate_grad_squared(flow):
    theta0 = np.array([0.8, 0.3, -0.1, 0.5, 1.2, 2.5])
    sol = flow.solve(theta0, 10.0, rtol=1e-11, atol=1e-13, dense=True)
    for t in (0.5, 2.0, 7.0):
        h = 1e-4
        dJ = (flow.loss(sol.sol(t + h))[0] - flow.loss(sol.sol(t - h))[0]) / (2 * h)
        g = flow.rhs(sol.sol(t))
        assert dJ == pytest.approx(-float(g @ g), rel=1e-5)


def test_events_located_to_tolerance(flow):
    sol = flow.solve(THETA0, 50.0, events={"distance": 0.05, "loss": 0.05}, terminal=False,
                     rtol=1e-10, atol=1e-12)
    assert sol.success
    (t_dist,), (t_loss,) = sol.t_events["distance"][:1], sol.t_events["loss"][:1]
    th = sol.theta_events["distance"][0]
    assert np.linalg.norm(th - THETA0) == pytest.approx(0.05, abs=1e-9)
    J0 = flow.loss(THETA0)[0]
    assert abs(flow.loss(sol.theta_events["loss"][0])[0] - J0) == pytest.approx(0.05, abs=1e-9)
    assert 0 < t_dist < 50 and 0 < t_loss < 50


def test_terminal_all_stops_once_both_events_are_located():
    # J = r^2/2 - theta = theta0 e^{-tau}: ||theta - theta0|| = |theta0| (1 - e^{-tau}), J0 - J = J0 (1 - e^{-2 tau})
    flow = GradientFlow.from_loss("(x**2 + y**2) / 2", ["x", "y"])
    theta0, d_dist, d_loss = np.array([3.0, 4.0]), 0.5, 2.0
    exact = {"distance": -np.log1p(-d_dist / 5.0), "loss": -np.log1p(-d_loss / 12.5) / 2}
    events = {"distance": d_dist, "loss": d_loss}
    sol = flow.solve(theta0, 1e300, method="radau", rtol=1e-12, atol=1e-14, events=events, terminal="all")
    assert sol.status == 1
    for name, t in exact.items():
        assert sol.t_events[name].shape == (1,) and sol.t_events[name][0] == pytest.approx(t, rel=1e-9)
    assert sol.t[-1] == pytest.approx(max(exact.values()), rel=1e-9)
    # per event: the distance event (the later one) alone stops the run as well
    assert exact["distance"] > exact["loss"]
    one = flow.solve(theta0, 1e300, method="radau", rtol=1e-12, atol=1e-14, events=events,
                     terminal={"distance": "all"})
    assert one.t[-1] == sol.t[-1]
    # an event that never occurs (J0 - J < J0 = 12.5): the run goes on to tau_end, as terminal=False does
    never = {"distance": d_dist, "loss": 20.0}
    rest = flow.solve(theta0, 1e300, method="radau", rtol=1e-12, atol=1e-14, events=never, terminal="all")
    assert rest.status == 0 and rest.t[-1] == 1e300 and rest.t_events["loss"].size == 0
    assert rest.t_events["distance"][0] == pytest.approx(exact["distance"], rel=1e-9)
    with pytest.raises(InvalidArgumentError, match="terminal"):
        flow.solve(theta0, 1.0, events=events, terminal="first")


def test_terminal_all_matches_the_run_to_the_horizon_on_a_plateau(flow):
    events = {"distance": 0.05, "loss": 0.05}
    kw = dict(method="radau", rtol=1e-11, atol=1e-14, events=events)
    full = flow.solve(THETA0, 1e300, terminal=False, max_steps=5000, **kw)
    stop = flow.solve(THETA0, 1e300, terminal="all", **kw)
    assert stop.status == 1 and stop.nsteps < full.nsteps
    for name in events:  # the same steps up to the stop: the same first times to the last bit
        assert stop.t_events[name][0] == full.t_events[name][0]
    assert stop.t[-1] == max(full.t_events[name][0] for name in events)


def test_plateau_flow_to_1e12_in_bounded_steps():
    # m = 2 from rho_hat = rho_bar: a plateau, an escape, then convergence to a finite equilibrium.
    flow2 = GradientFlow(SPIKE, m=2)
    sol = flow2.solve([1.0, 0.0, 0.4, 1.5], 1e12, method="auto")
    assert sol.status == 0 and sol.t[-1] == 1e12
    assert sol.nsteps < 500
    assert sol.method_used == "dop853->radau"  # the default rtol 1e-8 < 1e-7: DOP853 first
    assert sol.loss[-1] < sol.loss[0] - 0.3
    assert np.linalg.norm(flow2.rhs(sol.theta[-1])) < 1e-8


def test_domain_stop_reports_status():
    flow = GradientFlow.from_loss("w", ["w"], domain="w")
    sol = flow.solve([1.0], 5.0)
    assert sol.status == -2
    assert sol.t[-1] == pytest.approx(1.0, abs=1e-8)
    assert np.all(np.isfinite(sol.theta))


def test_from_loss_quadratic_exact_solution():
    flow = GradientFlow.from_loss("(x - c)**2 + 3*y**2", ["x", "y"], c=2.0)
    sol = flow.solve([0.0, 1.0], 1.0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.theta[-1], [2 - 2 * np.exp(-2.0), np.exp(-6.0)], rtol=1e-9)
    assert "\\tau" in flow.latex()


def test_ensemble_matches_single_runs(flow):
    rng = np.random.default_rng(3)
    theta0s = np.array([[*rng.normal(size=3), *rng.uniform(0.3, 2.5, size=3)] for _ in range(4)])
    ens = flow.solve_ensemble(theta0s, 5.0, rtol=1e-10, atol=1e-12)
    for i in range(4):
        single = flow.solve(theta0s[i], 5.0, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ens["theta_final"][i], single.theta[-1], rtol=1e-8, atol=1e-10)


def test_ensemble_over_omega_grid(flow):
    omegas = [1 / 4, 1 / 5, 1 / 6]
    bases = [flow.kernel_params(SPIKE.with_params(omega=om)) for om in omegas]
    ens = flow.solve_ensemble(np.tile(THETA0, (3, 1)), 1e8, events={"distance": 0.05}, bases=bases)
    t = ens["t_events"]["distance"]
    assert np.all(np.isfinite(t))
    assert t[0] < t[1] < t[2]  # longer memory, longer plateau
    for om, tk in zip(omegas, t):
        single = GradientFlow(SPIKE.with_params(omega=om), 3).solve(THETA0, 1e8, events={"distance": 0.05})
        assert tk == pytest.approx(single.t_events["distance"][0], rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"tau_end": 0.0}, "tau_end"),
    ({"tau_end": -1.0}, "tau_end"),
    ({"tau_end": 1.0, "method": "rk4"}, "method"),
])
def test_bad_solve_arguments(flow, kwargs, match):
    with pytest.raises(mt.InvalidArgumentError, match=match):
        flow.solve(THETA0, **kwargs)


def test_bad_states(flow):
    with pytest.raises(mt.InvalidArgumentError, match="shape"):
        flow.solve(THETA0[:5], 1.0)
    bad = THETA0.copy()
    bad[0] = np.nan
    with pytest.raises(mt.InvalidArgumentError, match="finite"):
        flow.solve(bad, 1.0)
    with pytest.raises(mt.InvalidArgumentError, match="event"):
        flow.solve(THETA0, 1.0, events={"nope": 0.1})
    with pytest.raises(mt.InvalidArgumentError, match="delta"):
        flow.solve(THETA0, 1.0, events={"distance": -0.1})


def test_mp_reference_is_independent():
    # The mpmath loss used above is itself checked against quadrature of the definition.
    theta = np.array([0.8, 0.3, -0.1, 0.5, 1.2, 2.5])
    f = mt.compile.codegen.mpmath_function([mt.symbolic.parse.symbol("t")], SPIKE.substituted())
    with mp.workdps(30):
        ref = mp.quad(lambda t: (sum(theta[i] * mp.exp(-theta[3 + i] * t) for i in range(3)) - f(t)) ** 2,
                      [0, 3, 6, 9, mp.inf])
        got = mt.l2_loss(mt.DiagonalRNN(theta[:3], theta[3:]), SPIKE, dps=30).loss
        assert abs(got - ref) < mp.mpf(10) ** -25 * abs(ref)
