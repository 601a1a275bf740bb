"""Plateau hitting times (memtheory.theory.plateau, docs/theory.md §4) against independent computations.

References: scipy's solve_ivp (Radau, tight tolerances) on the flow theta' = -grad J with grad/hess from
l2_loss (a different integrator, dense-output root finding by brentq); numpy.polyfit for the exponent fit;
mpmath quadrature for J(theta_0) and the initial gradient; SymPy's own integrals checked numerically.
"""

from __future__ import annotations

import json
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import memtheory as mt
from memtheory import plateau
from memtheory.errors import InvalidArgumentError, PrecisionError
from memtheory.theory.plateau.systems import MPObjective, flow_precision, integrate_rodas

BAR = mt.kernels.exponential(0.5)
SPIKE = mt.kernels.gaussian_bump(0, 0.5)
A0 = np.array([1.0, 0.0])
W0 = np.array([0.5, 2.0])
DELTA = 0.05


def family():
    return mt.kernels.memory_family(BAR, SPIKE, omega=0.1)


def rho_at(inv_omega):
    return mt.kernels.memory_family(BAR, SPIKE, omega=1.0 / inv_omega)


def scipy_hitting_times(rho, a0, w0, delta, tau_end):
    """Independent float64 reference: scipy Radau with the analytic Jacobian, events by brentq on dense output."""
    m = len(a0)

    def rhs(t, y):
        return -np.asarray(mt.l2_loss(mt.DiagonalRNN(y[:m], y[m:]), rho, gradient=True, check=False).grad)

    def jac(t, y):
        return -np.asarray(mt.l2_loss(mt.DiagonalRNN(y[:m], y[m:]), rho, gradient=True, hessian=True,
                                      check=False).hess)

    y0 = np.concatenate([a0, w0])
    J0 = float(mt.l2_loss(mt.DiagonalRNN(a0, w0), rho).loss)
    sol = solve_ivp(rhs, (0, tau_end), y0, method="Radau", jac=jac, rtol=1e-12, atol=1e-14, dense_output=True)
    assert sol.success

    def first(phi):
        vals = [phi(y) for y in sol.y.T]
        for k in range(1, len(vals)):
            if vals[k - 1] < 0 <= vals[k]:
                return brentq(lambda t: phi(sol.sol(t)), sol.t[k - 1], sol.t[k], xtol=1e-14, rtol=1e-14)
        return None

    def loss(y):
        return float(mt.l2_loss(mt.DiagonalRNN(y[:m], y[m:]), rho, check=False).loss)

    return (first(lambda y: np.linalg.norm(y - y0) - delta), first(lambda y: abs(loss(y) - J0) - delta))


@pytest.mark.parametrize("inv_omega", [6.0, pytest.param(10.0, marks=pytest.mark.slow),
                                       pytest.param(12.0, marks=pytest.mark.slow)])
def test_float64_matches_scipy(inv_omega):
    rho = rho_at(inv_omega)
    r = plateau.hitting_times(rho, A0, W0, DELTA)
    assert r.method == "float64" and r.status == "events"
    ref0, ref1 = scipy_hitting_times(rho, A0, W0, DELTA, tau_end=50 * r.tau0_prime)
    assert abs(r.tau0 - ref0) <= 1e-5 * ref0
    assert abs(r.tau0_prime - ref1) <= 1e-5 * ref1
    assert r.rel_error is not None and r.rel_error < 1e-6
    assert math.isclose(r.log10_tau0, math.log10(ref0), rel_tol=1e-6, abs_tol=1e-6)


def test_float64_flow_at_rest_short_of_the_loss_threshold_is_converged():
    # J0 = sqrt(pi)/2 and the flow comes to rest at J > J0 - 1/2: the loss time never comes, the distance one does
    rho = rho_at(6.0)
    r = plateau.hitting_times(rho, A0, W0, 0.5, method="float64")
    assert r.status == "converged" and r.tau0_prime == math.inf and r.log10_tau0_prime == math.inf
    # scipy's Radau on the compiled -grad J (tested against l2_loss in test_flow.py), to where it is at rest
    flow = mt.GradientFlow(rho, 2)
    y0 = np.concatenate([A0, W0])
    sol = solve_ivp(lambda t, y: flow.rhs(y), (0, 1e6), y0, method="Radau", jac=lambda t, y: flow.jacobian(y),
                    rtol=1e-12, atol=1e-14, dense_output=True)
    assert sol.success and np.linalg.norm(flow.rhs(sol.y[:, -1])) < 1e-10
    assert min(flow.loss(sol.y.T)) > r.J0 - 0.4  # the loss threshold J0 - 1/2 is far out of reach
    dist = np.linalg.norm(sol.y.T - y0, axis=1) - 0.5
    k = int(np.argmax(dist >= 0))
    ref0 = brentq(lambda t: np.linalg.norm(sol.sol(t) - y0) - 0.5, sol.t[k - 1], sol.t[k], xtol=1e-14, rtol=1e-14)
    assert abs(r.tau0 - ref0) <= 1e-6 * ref0


@pytest.mark.parametrize("inv_omega", [8.0, 14.0])
def test_mpmath_matches_float64_on_overlap(inv_omega):
    rho = rho_at(inv_omega)
    f = plateau.hitting_times(rho, A0, W0, DELTA, method="float64", error_estimate=False)
    g = plateau.hitting_times(rho, A0, W0, DELTA, method="mpmath", error_estimate=False)
    assert g.method == "mpmath" and g.dps >= 40
    assert abs(g.tau0 - f.tau0) <= 1e-6 * f.tau0
    assert abs(g.tau0_prime - f.tau0_prime) <= 1e-6 * f.tau0_prime
    assert g.J0 == pytest.approx(f.J0, rel=1e-14)


def test_mpmath_stable_under_more_digits():
    rho = rho_at(10.0)
    a = plateau.hitting_times(rho, A0, W0, DELTA, method="mpmath", error_estimate=False)
    b = plateau.hitting_times(rho, A0, W0, DELTA, method="mpmath", dps=2 * a.dps, error_estimate=False)
    assert abs(a.tau0_mp - b.tau0_mp) <= 1e-9 * a.tau0_mp


def test_auto_switches_past_the_float64_limit_and_refuses_forced_float64():
    rho = rho_at(40.0)  # |grad J0| ~ e^{-20}: escape forces ~1e-17, unresolvable in float64
    with pytest.raises(PrecisionError, match="float64 cannot resolve"):
        plateau.hitting_times(rho, A0, W0, DELTA, method="float64")
    J0, lg = plateau.initial_state(rho, A0, W0)
    assert 2 * lg < math.log10(plateau.FLOAT64_MIN_FORCE)
    assert flow_precision(lg) >= int(-2 * lg) + 40


def test_initial_quantities_against_quadrature():
    x = 30.0
    rho = rho_at(x)
    J0, lg = plateau.initial_state(rho, A0, W0)
    with mp.workdps(40):
        c = mp.mpf(x)
        spike = lambda t: mp.exp(-2 * (t - c) ** 2)  # noqa: E731
        J_ref = mp.quad(lambda t: spike(t) ** 2, [0, c - 10, c, c + 10, mp.inf])
        g_a = [-2 * mp.quad(lambda t: mp.exp(-w * t) * spike(t), [0, c - 10, c, c + 10, mp.inf]) for w in W0]
        g_w1 = 2 * A0[0] * mp.quad(lambda t: t * mp.exp(-W0[0] * t) * spike(t), [0, c - 10, c, c + 10, mp.inf])
        gnorm = mp.sqrt(g_a[0] ** 2 + g_a[1] ** 2 + g_w1 ** 2)
    assert J0 == pytest.approx(float(J_ref), rel=1e-12)
    assert lg == pytest.approx(float(mp.log10(gnorm)), abs=1e-9)


def test_symbolic_initial_loss_and_gradient_asymptotics():
    spike = SPIKE
    J0_expr = plateau.initial_loss_expr(spike)
    om = next(s for s in J0_expr.free_symbols if s.name == "omega")
    val = float(J0_expr.subs(om, sp.Rational(1, 3)))
    ref = float(mt.l2_loss(mt.DiagonalRNN(A0, W0), rho_at(3.0)).loss)
    assert val == pytest.approx(ref, rel=1e-12)
    g = plateau.initial_gradient_expr(spike)
    syms = {s.name: s for s in g.free_symbols}
    x, w = 40.0, 0.5
    approx = float(g.subs({syms["w_k"]: w, syms["omega"]: 1 / sp.Integer(40)}))
    exact = float(mt.l2_loss(mt.DiagonalRNN(A0, W0), rho_at(x), gradient=True).grad[0])
    assert approx == pytest.approx(exact, rel=1e-10)  # the tail beyond t < 0 is ~e^{-2 x^2}
    assert "erfc" in plateau.latex("J0", spike)
    assert r"\omega" in plateau.latex("bound") and r"\min" in plateau.latex("bound")


def test_bound_and_fit_against_numpy():
    xs = np.array([5.0, 10.0, 20.0, 2000.0])
    lb = plateau.bound(xs, 0.5, 0.05, 10)
    c = min(0.05 / math.sqrt(10), math.log1p(0.05))
    for x, v in zip(xs[:3], lb[:3]):
        assert v == pytest.approx(math.log10(x ** -2 * math.exp(0.5 * x) * c), rel=1e-12)
    assert np.isfinite(lb[3]) and lb[3] > 300  # S overflows float64 there; its log does not
    rng = np.random.default_rng(0)
    x = np.linspace(8, 18, 11)
    y = (0.7 * x - 3 + 0.01 * rng.standard_normal(x.size)) / math.log(10)
    fit = plateau.fit_exponent(x, y)
    (slope, icpt), cov = np.polyfit(x, y * math.log(10), 1, cov=True)
    assert fit["slope"] == pytest.approx(slope, rel=1e-12)
    assert fit["intercept"] == pytest.approx(icpt, rel=1e-12)
    assert fit["stderr"] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-9)
    sub = plateau.fit_exponent(x, y, fit_range=(10, 14))
    assert sub["npoints"] == 5 and sub["range"] == [10.0, 14.0]


def test_scan_table_and_plot(tmp_path):
    res = plateau.scan(family(), A0, W0, DELTA, [6, 8, 10], error_estimate=False)
    rows = res.table()
    assert [r["inv_omega"] for r in rows] == [6.0, 8.0, 10.0]
    assert all(r["method"] == "float64" for r in rows)
    assert res.fit["slope"] > 0.3 and res.fit["npoints"] == 3
    assert np.all(res.log10_ratio > 0)  # tau_0 >= S(omega) with constant 1 here
    json.dumps(res.to_dict())
    path = tmp_path / "p.png"
    res.plot(path=str(path))
    assert path.stat().st_size > 1000


GAUSS_FAMILY = "exp(-2*t/5) + exp(-(t - 1/omega)**2/(2*(7/10)**2))"  # rho_bar = e^{-2t/5}: 2/5 is not binary


def _premise_by_quadrature(x, a0, w0):
    """Independent reference: the mismatch term 2 int (rho_hat - rho_bar) d rho_hat/d theta and the memory term
    -2 int rho_0(. - 1/omega) d rho_hat/d theta by mpmath quadrature (60 digits), as log10 of their norms."""
    with mp.workdps(60):
        c, s2 = mp.mpf(x), 2 * mp.mpf("0.49")
        a, w = [mp.mpf(v) for v in a0], [mp.mpf(v) for v in w0]
        diff = lambda t: mp.fsum(ak * mp.exp(-wk * t) for ak, wk in zip(a, w)) - mp.exp(-2 * t / 5)  # noqa: E731
        spike = lambda t: mp.exp(-(t - c) ** 2 / s2)  # noqa: E731
        pts = [0, c - 20, c, c + 20, mp.inf] if x > 20 else [0, c, mp.inf]

        def grad(f):
            ga = [2 * mp.quad(lambda t: f(t) * mp.exp(-wk * t), pts) for wk in w]
            gw = [-2 * ak * mp.quad(lambda t: f(t) * t * mp.exp(-wk * t), pts) for ak, wk in zip(a, w)]
            return mp.log10(mp.sqrt(mp.fsum(g * g for g in ga + gw)))

        return float(grad(diff)), float(grad(lambda t: -spike(t)))


def test_premise_measured_against_quadrature():
    rho = mt.Kernel(GAUSS_FAMILY, omega=sp.Rational(1, 60))
    # the binary float 0.4 (2e-17 off: negligible at 1/omega = 60, ratio ~1e-7.6) and a genuine miss (1e-8 off)
    for w0, holds in (([0.4, 1.5, 3.0], True), (["0.40000001", "1.5", "3"], False)):
        p = plateau.measure_premise(rho, [1, 0, 0], w0)
        mis, mem = _premise_by_quadrature(60, [1, 0, 0], w0)
        assert p.resolved and p.log10_mismatch_gradient == pytest.approx(mis, abs=1e-9)
        assert p.log10_memory_gradient == pytest.approx(mem, abs=1e-9)
        assert p.log10_ratio == pytest.approx(mis - mem, abs=1e-8) and p.holds is holds
    exact = plateau.measure_premise(rho, ["1", 0, 0], ["0.4", "3/2", 3])
    assert exact.holds is True and not exact.resolved  # only a rounding bound, far below the memory term
    assert exact.log10_ratio < -20 and exact.theta0_mismatch < 1e-30
    assert exact.log10_memory_gradient == pytest.approx(_premise_by_quadrature(60, [1, 0, 0], [0.4, 1.5, 3])[1],
                                                        abs=1e-6)


def test_mismatched_start_raises_before_integrating():
    rho = rho_at(6.0)
    with pytest.raises(mt.PremiseError, match=r"does not reproduce rho_bar = exp\(-t/2\).*type the rates"):
        plateau.hitting_times(rho, [0.5, 0.0], W0, DELTA, error_estimate=False)
    with pytest.warns(UserWarning, match="does not reproduce rho_bar"):
        r = plateau.hitting_times(rho, [0.5, 0.0], W0, DELTA, error_estimate=False, check_premise=False)
    assert r.theta0_mismatch == pytest.approx(math.sqrt(0.25 / 1.0), rel=1e-9)  # ||0.5 e^{-t/2}||
    assert r.premise["holds"] is False and r.log10_mismatch_gradient > r.log10_memory_gradient
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = plateau.hitting_times(rho, A0, W0, DELTA, error_estimate=False)
    assert r.theta0_mismatch == pytest.approx(0.0, abs=1e-12)
    assert r.premise["holds"] is True and r.log10_mismatch_gradient < r.log10_memory_gradient - 20
    # 1/omega = 1000: the memory term is ~1e-170; a rate 1e-8 off (or the binary float 0.4) is refused at once
    far = mt.Kernel(GAUSS_FAMILY, omega=sp.Rational(1, 1000))
    for w0 in (["0.40000001", "1.5", "3"], [0.4, 1.5, 3.0]):
        with pytest.raises(mt.PremiseError) as info:
            plateau.hitting_times(far, [1, 0, 0], w0, DELTA)
        text = str(info.value)
        assert "\n" not in text and "rho_bar = exp(-2*t/5)" in text and "exactly" in text
        assert "0.4000000" in text and "e-171" in text  # theta_0 as used, and the memory term's gradient
    with pytest.raises(mt.PremiseError):  # a scan measures every point before integrating any
        plateau.scan(mt.Kernel(GAUSS_FAMILY, omega=1), [1, 0, 0], [0.4, 1.5, 3.0], DELTA, [6, 1000])


def test_exact_start_passes_the_premise_far_out():
    far = mt.Kernel(GAUSS_FAMILY, omega=sp.Rational(1, 2000))
    p = plateau.measure_premise(far, [1, 0, 0], ["0.4", "1.5", "3.0"])
    assert p.holds is True and p.log10_memory_gradient < -340 and p.log10_ratio < -20
    assert p.rho_bar == "exp(-2*t/5)"
    assert plateau.measure_premise(mt.kernels.exponential(1.0), [1], [1]).holds is None  # no omega: not measured


@pytest.mark.parametrize("kwargs, match", [
    ({"delta": 0.0}, "delta"), ({"delta": -1.0}, "delta"), ({"delta": float("nan")}, "delta"),
    ({"w0": [0.5, -1.0]}, "rates"), ({"w0": [0.5, 0.5]}, "distinct"), ({"a0": [1.0]}, "equal length"),
    ({"method": "float32"}, "method"),
])
def test_bad_input(kwargs, match):
    args = {"rho": rho_at(6.0), "a0": A0, "w0": W0, "delta": DELTA, **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        plateau.hitting_times(**args)


def test_family_without_omega_is_refused():
    with pytest.raises(InvalidArgumentError, match="omega"):
        plateau.scan(mt.kernels.exponential(1.0), A0, W0, DELTA, [4, 6])
    with pytest.raises(InvalidArgumentError, match="inv_omegas"):
        plateau.scan(family(), A0, W0, DELTA, [4, -1])


def test_rodas_on_a_quadratic_flow_is_exact_to_tolerance():
    """For rho = e^{-t} and a width-1 model the flow is 2-dimensional; compare the mpmath RODAS4 hitting time
    with scipy at tight tolerance (an independent integrator)."""
    rho = mt.kernels.exponential(1.0)
    obj = MPObjective(rho, 1, 30)
    run = integrate_rodas(obj, [0.2, 2.0], 0.3, rtol=1e-8, record=False)
    ref, _ = scipy_hitting_times(rho, np.array([0.2]), np.array([2.0]), 0.3, tau_end=200.0)
    assert run.tau0 is not None and abs(float(run.tau0) - ref) <= 1e-7 * ref
    assert run.status in ("events", "censored", "converged")


def test_cli_plateau_json(capsys):
    from memtheory.cli import main

    code = main(["plateau", "--target", "exp(-t/2) + exp(-2*(t - 1/omega)**2)", "--a0", "1,0", "--w0", "0.5,2",
                 "--delta", "0.05", "--inv-omega", "6,8", "--json", "--no-error-estimate"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"rows", "fit"}
    row = out["rows"][0]
    for key in ("inv_omega", "J0", "log10_grad_norm", "tau0", "tau0_prime", "log10_tau0", "log10_tau0_prime"):
        assert key in row
    assert set(out["fit"]) >= {"slope", "stderr", "range"}


def test_cli_plateau_premise_error_is_one_line_exit_1(capsys):
    from memtheory.cli import main

    code = main(["plateau", "--target", GAUSS_FAMILY, "--a0", "1,0,0", "--w0", "0.40000001,1.5,3", "--delta", "0.05",
                 "--inv-omega", "1000", "--json"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "does not reproduce rho_bar" in err


def test_cli_plateau_usage_errors(capsys):
    from memtheory.cli import main

    code = main(["plateau", "--target", "exp(-t)", "--a0", "1", "--w0", "1", "--delta", "0.05", "--inv-omega", "4"])
    assert code == 2
    assert "omega" in capsys.readouterr().err
