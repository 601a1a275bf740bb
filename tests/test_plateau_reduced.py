"""The slow-manifold (reduced) plateau flow, memtheory.theory.plateau.systems.ReducedSystem (docs/theory.md §4).

References: the full mpmath flow in (a, w) (a different system: the weights are integrated, not solved);
central finite differences at high precision for the Schur-complement Jacobian; numpy's float64 solve for the
least-squares weights; the float64 engine's hitting times for the exponent's prefactor; the closed-form
asymptotics 2 w_l of the exponent.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

import memtheory as mt
from memtheory import plateau
from memtheory.theory.plateau.systems import MPObjective, ReducedSystem, integrate_rodas

BAR = mt.kernels.exponential(0.5)
SPIKE = mt.kernels.gaussian_bump(0, 0.5)
A0 = np.array([1.0, 0.0])
W0 = np.array([0.5, 2.0])
DELTA = 0.05


def rho_at(inv_omega):
    return mt.kernels.memory_family(BAR, SPIKE, omega=1.0 / inv_omega)


def theta0(a0=A0, w0=W0):
    return [mp.mpf(float(v)) for v in np.concatenate([a0, w0])]


def test_weights_are_the_least_squares_weights():
    rho = rho_at(6.0)
    system = ReducedSystem(MPObjective(rho, 2, 40), theta0())
    w = [mp.mpf("0.55"), mp.mpf("1.7")]
    a = system.weights(w)
    wf = np.array([0.55, 1.7])
    ref = np.linalg.solve(1.0 / np.add.outer(wf, wf), rho.laplace(wf))
    assert np.allclose([float(v) for v in a], ref, rtol=1e-12, atol=0)
    with mp.workdps(40):
        g = system.obj.evaluate(a + w)[1]
    assert max(abs(v) for v in g[:2]) < mp.mpf(10) ** -30  # grad_a J = 0 at a*(w)


@pytest.mark.parametrize("w0", [np.geomspace(0.5, 4, 10), np.array([0.5, 0.5000001, 2.0])])
def test_slaving_time_against_mpmath_eigenvalues(w0):
    """tau_a = 1/(2 lambda_min(C)): float64 path (ten rates, cond 7e11) and mpmath path (two close rates)."""
    m = w0.size
    system = ReducedSystem(MPObjective(rho_at(100.0), m, 60), theta0(np.r_[1.0, np.zeros(m - 1)], w0))
    with mp.workdps(60):
        C = mp.matrix([[1 / (mp.mpf(float(u)) + mp.mpf(float(v))) for v in w0] for u in w0])
        ref = 1 / (2 * min(mp.eigsy(C, eigvals_only=True)))
    assert abs(system.slaving_time(system.w0) / ref - 1) < 1e-3


def test_schur_jacobian_matches_finite_differences():
    """The Jacobian of the reduced flow (Schur complement of the full Hessian) against central differences of
    its right-hand side at 80 digits (step 1e-25: truncation ~1e-50, rounding ~1e-55)."""
    w0 = np.array([0.4, 1.5, 3.0])
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.4), mt.kernels.gaussian_bump(0, 0.7), omega=1 / 25)
    system = ReducedSystem(MPObjective(rho, 3, 80), theta0(np.array([1.0, 0, 0]), w0))
    with mp.workdps(80):
        w = [mp.mpf("0.41"), mp.mpf("1.45"), mp.mpf("3.1")]
        _, f, jac, S = system.jacobian(w)
        h = mp.mpf(10) ** -25
        for j in range(3):
            wp, wm = list(w), list(w)
            wp[j] += h
            wm[j] -= h
            fp, fm = system.rhs(wp), system.rhs(wm)
            for i in range(3):
                fd = (fp[i] - fm[i]) / (2 * h)
                scale = max(abs(v) for v in jac[i])
                assert abs(fd - jac[i][j]) <= mp.mpf(10) ** -35 * scale, (i, j)
        assert all(S[i][j] == -jac[i][j] for i in range(3) for j in range(3))
        assert system.rhs(w) == f


def test_reduced_matches_the_full_flow_on_the_overlap():
    """m = 2 at 1/omega = 40 (tau_0 ~ 3.4e12, weights' relaxation time 6.5): both flows at rtol 1e-8."""
    rho = rho_at(40.0)
    runs = [integrate_rodas(MPObjective(rho, 2, 54), theta0(), DELTA, rtol=1e-8, reduced=red, record=False,
                            after_event_steps=0) for red in (True, False)]
    red, full = runs
    assert red.reduced and not full.reduced
    assert abs(red.tau0 - full.tau0) <= 1e-6 * full.tau0  # measured 3.5e-10
    assert 0 < red.model_error["distance"] < 1e-9 and full.model_error["distance"] == 0.0


def test_reduced_against_the_float64_engine_on_the_overlap():
    """m = 2, 1/omega = 20, 24, 28 (float64 trusted): the reduced flow's times differ from the float64 engine's by
    the initial-layer shift (~5 tau_a, measured 1.2e-3, 3.0e-5, 7.7e-7), always within its own slaving-error
    estimate 10 tau_a / tau_0, and below 1e-6 at 28."""
    for x in (20.0, 24.0, 28.0):
        rho = rho_at(x)
        f = plateau.hitting_times(rho, A0, W0, DELTA, method="float64", error_estimate=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 20 and 24 are flagged as inaccurate: that is the point
            r = plateau.hitting_times(rho, A0, W0, DELTA, method="reduced", error_estimate=False)
        diff = abs(f.tau0 - r.tau0) / f.tau0
        assert diff <= r.model_error, (x, diff, r.model_error)
    assert diff < 1e-6


def test_reduced_is_stable_under_doubling_the_precision():
    rho = rho_at(300.0)
    a = plateau.hitting_times(rho, A0, W0, DELTA, error_estimate=False)
    b = plateau.hitting_times(rho, A0, W0, DELTA, dps=2 * a.dps, error_estimate=False)
    assert a.method == b.method == "reduced" and a.log10_tau0 > 120
    assert abs(a.tau0_mp - b.tau0_mp) <= 1e-10 * a.tau0_mp


def test_exponent_is_twice_w_l_and_extends_the_float64_line():
    """Asymptotically tau_0 = K omega^2 e^{2 w_l/omega}: z = ln tau_0 + 2 ln(1/omega) has slope 2 w_l = 1 on
    1/omega = 150..300 (reduced flow, tau_0 ~ 1e59..1e124) to 1e-3, and K fitted on the float64 range
    (1/omega = 20..28, tau_0 ~ 1e4..1e8) predicts those tau_0 within a factor e^0.5 (measured: 0.24)."""
    def z(r, x):
        return r.log10_tau0 * math.log(10) + 2 * math.log(x)

    near = {x: plateau.hitting_times(rho_at(x), A0, W0, DELTA, error_estimate=False) for x in (20.0, 24.0, 28.0)}
    assert all(r.method == "float64" for r in near.values())
    lnK = np.mean([z(r, x) - x for x, r in near.items()])
    far = {x: plateau.hitting_times(rho_at(x), A0, W0, DELTA, error_estimate=False) for x in (150.0, 300.0)}
    assert all(r.method == "reduced" for r in far.values())
    slope = (z(far[300.0], 300.0) - z(far[150.0], 150.0)) / 150.0
    assert slope == pytest.approx(1.0, abs=1e-3)  # measured 0.99985
    for x, r in far.items():
        assert abs(z(r, x) - x - lnK) < 0.5, (x, z(r, x) - x, lnK)


def test_auto_takes_the_full_flow_off_the_slow_manifold():
    """Ten rates at 1/omega = 30: the least-squares weights are ~1e12 e^{-15} away from a_0, the escape happens in
    the weights' initial layer, the reduced flow would be wrong: "auto" integrates the full flow."""
    a0, w0 = np.r_[1.0, np.zeros(9)], np.geomspace(0.5, 4, 10)
    rho = rho_at(30.0)
    assert plateau.slow_manifold_offset(rho, a0, w0) > 1e-3 * DELTA
    r = plateau.hitting_times(rho, a0, w0, DELTA, error_estimate=False, tau_max=1e-8)
    assert r.method == "mpmath" and "slow manifold" in r.message and r.model_error is None
    with pytest.warns(UserWarning) as record:  # forcing the reduced flow there is flagged
        plateau.hitting_times(rho, a0, w0, DELTA, method="reduced", error_estimate=False, tau_max=1e-8)
    assert any("initial layer" in str(w.message) for w in record)


def test_forced_reduced_flow_reports_its_slaving_error():
    """Three rates at 1/omega = 30: tau_0 ~ 2.8e5 is only ~3e3 relaxation times of the weights (85)."""
    w0, a0 = np.array([0.4, 1.5, 3.0]), np.array([1.0, 0.0, 0.0])
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.4), mt.kernels.gaussian_bump(0, 0.7), omega=1 / 30)
    with pytest.warns(UserWarning) as record:
        r = plateau.hitting_times(rho, a0, w0, DELTA, method="reduced", error_estimate=False)
    assert any("slaving error" in str(w.message) for w in record)
    assert r.method == "reduced" and r.model_error > 1e-6 and r.rel_error >= r.model_error


def test_coalescing_rates_stop_the_reduced_flow():
    """With delta = 2 the second rate runs into the first before the distance event: the slow manifold ends
    (singular Gram matrix); the run says so and reports no time instead of a wrong one."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = plateau.hitting_times(rho_at(100.0), A0, W0, 2.0, method="reduced", error_estimate=False)
    assert r.status == "coalescence" and r.tau0 is None and math.isnan(r.log10_tau0)
    assert "coalesce" in r.message
