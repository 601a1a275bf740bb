"""Linear RNNs and linear functionals (docs/theory.md §1-2) against independent computations.

* ``LinearRNN.kernel`` = c^T e^{Wt} U is compared with integrating the ODE dh/dt = W h, h(0) = U (scipy solve_ivp)
  and with mpmath's matrix exponential;
* ``to_diagonal`` round-trips (complex conjugate pairs included);
* ``simulate`` follows the definitions of the zero-order-hold, Euler and bilinear recursions, and zero-order hold
  equals the exact ODE solution for piecewise-constant inputs;
* ``LinearFunctional`` follows its conventions, and its ``zoh`` convention reproduces ``simulate('zoh')``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import scipy.integrate as si
from conftest import RTOL64, binf, mp_expm_kernel, quad
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory import DiagonalRNN, Kernel, LinearFunctional, LinearRNN, kernels

HYP = settings(max_examples=20, deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
               suppress_health_check=[HealthCheck.too_slow])


def ode_solution(W, U, t_eval):
    """h(t) with dh/dt = W h, h(0) = U, by a high-order Runge-Kutta integration (no matrix exponential)."""
    sol = si.solve_ivp(lambda t, h: W @ h, (0.0, float(t_eval[-1])), np.asarray(U, float).reshape(-1),
                       t_eval=t_eval, method="DOP853", rtol=1e-13, atol=1e-16)
    assert sol.success
    return sol.y


def ode_kernel(W, U, c, t_eval):
    """c^T h(t) with dh/dt = W h, h(0) = U."""
    return np.asarray(c) @ ode_solution(W, U, t_eval)


@st.composite
def hurwitz_systems(draw, max_m: int = 4):
    """Random (W, U, c) with W Hurwitz: a random matrix shifted left of the imaginary axis."""
    m = draw(st.integers(1, max_m))
    entries = st.floats(-2, 2, allow_subnormal=False).map(lambda x: round(x, 6))
    M = np.array(draw(st.lists(entries, min_size=m * m, max_size=m * m))).reshape(m, m)
    margin = draw(st.floats(0.1, 2.0))
    W = M - (np.max(np.linalg.eigvals(M).real) + margin) * np.eye(m)
    U = np.array(draw(st.lists(entries, min_size=m, max_size=m)))
    c = np.array(draw(st.lists(entries, min_size=m, max_size=m)))
    assume(np.max(np.abs(U)) > 0.1 and np.max(np.abs(c)) > 0.1)
    return W, U, c


def assert_close_scaled(got, ref, rtol, what="", floor=0.0):
    """|got - ref| <= rtol * max(max|ref|, floor) (kernels cross zero, so the error is measured against their
    size; ``floor`` is the size of the terms of c^T h when they cancel, where float64 cannot do better)."""
    got, ref = np.asarray(got), np.asarray(ref)
    scale = max(np.max(np.abs(ref)), floor)
    err = np.max(np.abs(got - ref))
    assert err <= rtol * scale, f"{what}: max error {err:.3g} vs scale {scale:.3g} (rtol {rtol:g})"


T_GRID = np.linspace(0.0, 8.0, 41)

COMPLEX_PAIR = (np.array([[-0.5, -2.0], [2.0, -0.5]]), np.array([1.0, 0.5]), np.array([0.3, -1.0]))


# ------------------------------------------------------------------------------------------ construction
@pytest.mark.parametrize("W, U, c", [
    (np.zeros((2, 3)), np.ones(2), np.ones(2)),  # W not square
    (-np.eye(2), np.ones(3), np.ones(2)),  # U rows
    (-np.eye(2), np.ones((3, 1)), np.ones(2)),
    (-np.eye(2), np.ones(2), np.ones(3)),  # c length
    (-np.eye(2), np.ones(2), np.ones((2, 1))),  # c not a vector
    (np.zeros((0, 0)), np.ones(0), np.ones(0)),  # empty
    (np.array([[-1.0, np.nan], [0, -1]]), np.ones(2), np.ones(2)),
    (-np.eye(2), np.array([1.0, np.inf]), np.ones(2)),
    (-np.eye(2), np.ones(2), np.array([np.nan, 1.0])),
    (-np.eye(2), np.ones(2), ["a", "b"]),
    (-np.ones((2, 2, 2)), np.ones(2), np.ones(2)),
])
def test_linear_rnn_validates_shapes_and_values(W, U, c):
    with pytest.raises(mt.InvalidArgumentError) as info:
        LinearRNN(W, U, c)
    assert isinstance(info.value, ValueError)


def test_is_hurwitz():
    assert LinearRNN(-np.eye(2), np.ones(2), np.ones(2)).is_hurwitz
    assert LinearRNN(COMPLEX_PAIR[0], np.ones(2), np.ones(2)).is_hurwitz
    assert not LinearRNN(np.array([[0.0, 1.0], [-1.0, 0.0]]), np.ones(2), np.ones(2)).is_hurwitz  # +-i
    assert not LinearRNN(np.array([[-1.0, 0.0], [0.0, 0.2]]), np.ones(2), np.ones(2)).is_hurwitz
    assert not LinearRNN(np.zeros((1, 1)), np.ones(1), np.ones(1)).is_hurwitz


def test_non_hurwitz_is_refused_where_integrals_diverge():
    rnn = LinearRNN(np.array([[-1.0, 0.0], [0.0, 0.2]]), np.ones(2), np.ones(2))
    with pytest.raises(mt.NotHurwitzError):
        rnn.lyapunov_gram()
    with pytest.raises(mt.NotHurwitzError):
        rnn.kernel_square_integral()
    with pytest.raises(mt.NotHurwitzError):
        mt.l2_loss(rnn, kernels.exponential(1.0))
    with pytest.raises(mt.NotHurwitzError):
        rnn.to_diagonal().to_rnn()
    assert issubclass(mt.NotHurwitzError, ValueError)


# ------------------------------------------------------------------------------------------ kernel
@HYP
@given(hurwitz_systems())
# an identically zero kernel: c meets only the third state, which U and W never reach
@example(system=(np.array([[-1.48330396, 0.508078, -0.920194], [1.859616, -1.02842696, -1.936308],
                           [0.0, 0.0, -2.80924596]]), np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.898661])))
def test_kernel_matches_ode_integration(system):
    W, U, c = system
    rnn = LinearRNN(W, U, c)
    h = ode_solution(W, U, T_GRID)
    ref = c @ h
    # size of the terms of c^T h(t); a kernel that is identically 0 (c orthogonal to the reachable states) is
    # computed from entries of e^{Wt} that are 0 up to rounding, so it is compared at that rounding: an absolute
    # error of 1e-15 |c| |U| (the floor below times RTOL64), a few float64 epsilons of the product's terms
    terms = max(np.max(np.abs(c) @ np.abs(h)), 1e-3 * np.abs(c).sum() * np.abs(U).sum())
    got = rnn.kernel(T_GRID)
    assert got.shape == T_GRID.shape
    assert_close_scaled(got, ref, RTOL64, "expm kernel vs ODE", floor=1e-3 * terms)
    lam, V = np.linalg.eig(W)
    assume(np.linalg.cond(V) < 1e4)  # the modal form is accurate to cond(V) * eps
    assert_close_scaled(rnn.kernel(T_GRID, method="modal"), ref, RTOL64, "modal kernel vs ODE", floor=1e-3 * terms)


def test_kernel_matches_mpmath_expm_including_a_jordan_block():
    cases = [COMPLEX_PAIR,
             (np.array([[-1.0, 1.0], [0.0, -1.0]]), np.array([0.5, 2.0]), np.array([1.0, -0.5])),  # defective
             (np.array([[-0.2, 3.0, 0.0], [-3.0, -0.2, 1.0], [0.0, 0.0, -2.0]]), np.array([1.0, 0.0, 1.0]),
              np.array([0.5, 0.5, -1.0]))]
    t = np.array([0.0, 0.1, 0.77, 2.5, 6.0, 13.0])
    for W, U, c in cases:
        got = LinearRNN(W, U, c).kernel(t)
        ref = np.array([float(mp_expm_kernel(W, U, c, x)) for x in t])
        assert_close_scaled(got, ref, 1e-12, f"W={W.tolist()}")


def test_defective_matrix_has_no_modal_form():
    rnn = LinearRNN(np.array([[-1.0, 1.0], [0.0, -1.0]]), np.ones(2), np.ones(2))
    with pytest.raises(mt.InvalidArgumentError):
        rnn.to_diagonal()
    with pytest.raises(mt.InvalidArgumentError):
        rnn.kernel([1.0], method="modal")


def test_kernel_shapes_and_method_check():
    rnn = LinearRNN(-np.diag([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 1.0]))
    out = rnn.kernel(np.array([0.0, 1.0, 2.0]))
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out, np.stack([np.exp(-np.array([0, 1, 2.0])), np.exp(-2 * np.array([0, 1, 2.0]))],
                                             axis=1), rtol=1e-14)
    with pytest.raises(mt.InvalidArgumentError):
        rnn.kernel([1.0], method="euler")


def test_kernel_square_integral_by_quadrature():
    W, U, c = COMPLEX_PAIR
    got = LinearRNN(W, U, c).kernel_square_integral()
    # e^{Wt} = e^{-t/2} [[cos 2t, -sin 2t], [sin 2t, cos 2t]]  =>  rho = e^{-t/2} (A cos 2t + B sin 2t)
    A = binf(c[0] * U[0] + c[1] * U[1])
    B = binf(c[1] * U[0] - c[0] * U[1])
    with mp.workdps(30):
        ref = quad(lambda t: (mp.exp(-t / 2) * (A * mp.cos(2 * t) + B * mp.sin(2 * t))) ** 2,
                   [0, 1, 3, 6, 12, 30, 80, mp.inf], rel=1e-20)
    assert abs(got - float(ref)) <= RTOL64 * float(ref)
    assert abs(float(mp_expm_kernel(W, U, c, 1.3)) - float(mp.exp(-0.65) * (A * mp.cos(2.6) + B * mp.sin(2.6)))) < 1e-15


# ------------------------------------------------------------------------------------------ modal form
def test_complex_pair_modal_form():
    W, U, c = COMPLEX_PAIR
    modal = LinearRNN(W, U, c).to_diagonal()
    # eigenvalues of [[-a, -b], [b, -a]] are -a +- i b, so w = a -+ i b
    assert sorted(modal.w.tolist(), key=lambda z: z.imag) == pytest.approx([0.5 - 2j, 0.5 + 2j], abs=1e-14)
    assert np.allclose(modal.a[0], np.conj(modal.a[1]), atol=1e-14) or np.allclose(
        modal.a[0], np.conj(modal.a[0]))
    t = T_GRID
    direct = np.real(np.exp(-np.multiply.outer(t, modal.w)) @ modal.a)
    ref = ode_kernel(W, U, c, t)
    assert_close_scaled(direct, ref, RTOL64, "sum a_i e^{-w_i t}")
    rnn = modal.to_rnn()
    assert isinstance(rnn, DiagonalRNN) and not rnn.is_real
    assert_close_scaled(rnn.kernel(t), ref, RTOL64, "to_rnn().kernel")
    back = modal.to_linear()
    assert isinstance(back, LinearRNN) and not np.iscomplexobj(back.W)
    assert_close_scaled(back.kernel(t), ref, RTOL64, "to_linear().kernel")
    assert_close_scaled(back.to_diagonal().to_linear().kernel(t), ref, RTOL64, "second round trip")


@HYP
@given(hurwitz_systems())
def test_to_diagonal_round_trip(system):
    W, U, c = system
    lam, V = np.linalg.eig(W)
    assume(np.linalg.cond(V) < 1e4)
    rnn = LinearRNN(W, U, c)
    modal = rnn.to_diagonal()
    h = ode_solution(W, U, T_GRID)
    ref = c @ h
    floor = 1e-3 * np.max(np.abs(c) @ np.abs(h))
    np.testing.assert_allclose(np.sort_complex(-modal.w), np.sort_complex(lam), rtol=1e-12, atol=1e-12)
    back = modal.to_linear()
    assert back.m == rnn.m and not np.iscomplexobj(back.W)
    assert_close_scaled(back.kernel(T_GRID), ref, RTOL64, "modal.to_linear()", floor)
    assert_close_scaled(modal.to_rnn().kernel(T_GRID), ref, RTOL64, "modal.to_rnn()", floor)


# ------------------------------------------------------------------------------------------ DiagonalRNN
@HYP
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(0.05, 5)), min_size=1, max_size=5))
def test_diagonal_rnn_kernel_theta_and_linear_form(modes):
    a = np.array([m[0] for m in modes])
    w = np.array([m[1] for m in modes])
    model = DiagonalRNN(a, w)
    assert model.m == len(modes)
    np.testing.assert_array_equal(model.theta, np.concatenate([a, w]))
    again = DiagonalRNN.from_theta(model.theta)
    np.testing.assert_array_equal(again.a, a)
    np.testing.assert_array_equal(again.w, w)
    t = np.array([0.0, 0.3, 1.0, 4.0, 11.0])
    with mp.workdps(30):
        ref = np.array([float(mp.fsum(binf(ai) * mp.exp(-binf(wi) * binf(x)) for ai, wi in zip(a, w))) for x in t])
    scale = np.sum(np.abs(a))
    assert np.max(np.abs(model.kernel(t) - ref)) <= 1e-14 * scale
    lin = model.to_linear()
    np.testing.assert_allclose(lin.kernel(t), ref, rtol=0, atol=1e-13 * scale)


def test_complex_diagonal_rnn_to_linear():
    model = DiagonalRNN([0.5 + 0.25j, 0.5 - 0.25j, -1.0], [0.3 + 1.5j, 0.3 - 1.5j, 2.0])
    t = np.linspace(0, 10, 21)
    ref = 2 * np.exp(-0.3 * t) * (0.5 * np.cos(1.5 * t) + 0.25 * np.sin(1.5 * t)) - np.exp(-2 * t)
    np.testing.assert_allclose(model.kernel(t), ref, rtol=0, atol=1e-14)
    lin = model.to_linear()
    assert not np.iscomplexobj(lin.W) and lin.is_hurwitz
    np.testing.assert_allclose(lin.kernel(t), ref, rtol=0, atol=1e-13)
    assert_close_scaled(ode_kernel(lin.W, lin.U, lin.c, t), ref, RTOL64, "ODE of to_linear()")


@pytest.mark.parametrize("a, w, err", [
    ([1.0, 2.0], [1.0], mt.InvalidArgumentError),
    ([], [], mt.InvalidArgumentError),
    ([1.0], [0.0], mt.NotHurwitzError),
    ([1.0, 1.0], [1.0, -0.5], mt.NotHurwitzError),
    ([1.0], [-1j + 0.0], mt.NotHurwitzError),
    ([np.nan], [1.0], mt.InvalidArgumentError),
    ([1.0], [np.inf], mt.InvalidArgumentError),
    ([[1.0]], [[1.0]], mt.InvalidArgumentError),
])
def test_diagonal_rnn_bad_input(a, w, err):
    with pytest.raises(err):
        DiagonalRNN(a, w)


def test_diagonal_rnn_from_theta_and_unpaired_complex_mode():
    with pytest.raises(mt.InvalidArgumentError):
        DiagonalRNN.from_theta([1.0, 2.0, 3.0])
    with pytest.raises(mt.InvalidArgumentError):
        DiagonalRNN([1.0 + 1j], [1.0 + 2j]).to_linear()


# ------------------------------------------------------------------------------------------ simulate
def zoh_exact_ode(W, U, c, x, dt):
    """y_k = c^T h((k+1) dt) for dh/dt = W h + U x_k on [k dt, (k+1) dt), h(0) = 0, by RK integration."""
    m = W.shape[0]
    h = np.zeros(m)
    out, terms = [], []
    for xk in x:
        sol = si.solve_ivp(lambda t, hh: W @ hh + U * xk, (0.0, dt), h, method="DOP853", rtol=1e-13, atol=1e-16)
        h = sol.y[:, -1]
        out.append(c @ h)
        terms.append(np.abs(c) @ np.abs(h))
    return np.array(out), max(terms)


@settings(max_examples=8, deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(hurwitz_systems(max_m=3), st.floats(0.05, 0.5), st.integers(0, 2**31 - 1))
def test_simulate_zoh_is_exact_for_piecewise_constant_input(system, dt, seed):
    W, U, c = system
    x = np.random.default_rng(seed).normal(size=25)
    got = LinearRNN(W, U, c).simulate(x, dt, method="zoh")
    ref, terms = zoh_exact_ode(W, U, c, x, dt)
    assert_close_scaled(got, ref, RTOL64, "zoh vs ODE", floor=1e-3 * terms)


def test_simulate_euler_and_bilinear_follow_their_definitions():
    W, U, c = COMPLEX_PAIR
    x = np.random.default_rng(0).normal(size=40)
    dt = 0.1
    eye = np.eye(2)
    h_e, h_b, y_e, y_b = np.zeros(2), np.zeros(2), [], []
    for xk in x:
        h_e = h_e + dt * (W @ h_e + U * xk)
        y_e.append(c @ h_e)
        h_b = np.linalg.solve(eye - dt / 2 * W, (eye + dt / 2 * W) @ h_b + dt * U * xk)
        y_b.append(c @ h_b)
    rnn = LinearRNN(W, U, c)
    np.testing.assert_allclose(rnn.simulate(x, dt, method="euler"), y_e, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rnn.simulate(x, dt, method="bilinear"), y_b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["zoh", "euler", "bilinear"])
def test_simulate_step_response_reaches_dc_gain(method):
    """For a constant input every consistent discretisation converges to the exact DC gain -c^T W^{-1} U."""
    W, U, c = COMPLEX_PAIR
    gain = float(-c @ np.linalg.solve(W, U))
    y = LinearRNN(W, U, c).simulate(np.ones(2000), 0.05, method=method)
    assert abs(y[-1] - gain) <= 1e-10 * abs(gain)


def test_simulate_output_convention_and_shapes():
    """y_k = c^T h_{k+1}: an impulse at k = 0 already shows in y_0 (= c^T B)."""
    rnn = LinearRNN(-np.eye(1), np.ones(1), np.ones(1))
    y = rnn.simulate([1.0, 0.0, 0.0], 0.5, method="zoh")
    np.testing.assert_allclose(y, [1 - np.exp(-0.5), (1 - np.exp(-0.5)) * np.exp(-0.5),
                                   (1 - np.exp(-0.5)) * np.exp(-1.0)], rtol=1e-14)
    y2 = rnn.simulate(np.array([[1.0], [0.0], [0.0]]), 0.5)
    np.testing.assert_allclose(y2, y, rtol=1e-15)


@pytest.mark.parametrize("kwargs", [dict(dt=0.0), dict(dt=-0.1), dict(dt=float("nan")), dict(dt=0.1, method="rk4"),
                                    dict(dt=0.1, x=[1.0, np.nan]), dict(dt=0.1, x=np.ones((3, 2))),
                                    dict(dt=0.1, x=np.ones((2, 2, 2)))])
def test_simulate_bad_input(kwargs):
    rnn = LinearRNN(-np.eye(2), np.ones(2), np.ones(2))
    x = kwargs.pop("x", np.ones(5))
    with pytest.raises(mt.InvalidArgumentError):
        rnn.simulate(x, **kwargs)


# ------------------------------------------------------------------------------------------ LinearFunctional
def test_functional_reference_and_quadrature_conventions():
    rho = kernels.gaussian_bump(1.0, 0.4) + kernels.exponential(0.5)
    x = np.random.default_rng(1).normal(size=(3, 60))
    dt = 0.1
    H = LinearFunctional(rho)
    with mp.workdps(30):
        g = np.array([float(mp.exp(-((j * binf(dt) - 1) ** 2) / (2 * mp.mpf("0.16"))) + mp.exp(-j * binf(dt) / 2))
                      for j in range(60)])
    ref = np.array([[sum(g[s] * row[k - s] for s in range(k + 1)) for k in range(60)] for row in x])
    got = H.evaluate(x, dt, convention="reference")
    assert got.shape == x.shape
    assert_close_scaled(got, ref, 1e-12, "reference convention")
    assert_close_scaled(H.evaluate(x[1], dt, convention="reference"), ref[1], 1e-12, "1-D input")
    assert_close_scaled(H.evaluate(x, dt, convention="quadrature"), dt * ref, 1e-12, "quadrature convention")
    # any vectorised callable works for these two conventions
    assert_close_scaled(LinearFunctional(lambda t: np.exp(-0.5 * t)).evaluate(x[0], dt, convention="reference"),
                        [sum(np.exp(-0.5 * s * dt) * x[0][k - s] for s in range(k + 1)) for k in range(60)], 1e-12)


ZOH_CASES = {
    "window": (lambda: kernels.window(1.1, 3.6), lambda t: mp.mpf(1) if mp.mpf("1.1") < t < mp.mpf("3.6") else 0,
               lambda: [mp.mpf("1.1"), mp.mpf("3.6")]),
    "gaussian": (lambda: kernels.gaussian_bump(2.0, 0.5), lambda t: mp.exp(-((t - 2) ** 2) / mp.mpf("0.5")),
                 lambda: [2]),
    "power_law": (lambda: kernels.power_law(1.5, 2.0), lambda t: (1 + 2 * t) ** mp.mpf("-1.5"), lambda: []),
}


@pytest.mark.parametrize("name", sorted(ZOH_CASES))
def test_functional_zoh_convention_by_quadrature(name):
    """zoh: y_k = sum_j x_{k-j} int_{j dt}^{(j+1) dt} rho, checked with mpmath quadrature per step (window kernel
    with edges inside steps, a Gaussian bump, a power law)."""
    x = np.random.default_rng(2).normal(size=40)
    dt = 0.25
    make, f, bps = ZOH_CASES[name]
    rho = make()
    with mp.workdps(25):
        bps = bps()
        g = []
        for j in range(40):
            lo, hi = mp.mpf(j) / 4, mp.mpf(j + 1) / 4
            pts = [lo, hi] + [b for b in bps if lo < b < hi]
            g.append(float(quad(f, pts, rel=1e-15, abs_floor=mp.mpf(10) ** -25)))
    ref = np.array([sum(g[j] * x[k - j] for j in range(k + 1)) for k in range(40)])
    assert_close_scaled(LinearFunctional(rho).evaluate(x, dt, convention="zoh"), ref, RTOL64, str(rho))


def diagonal_kernel(model: DiagonalRNN) -> Kernel:
    terms = " + ".join(f"a{i}*exp(-w{i}*t)" for i in range(model.m))
    params = {f"a{i}": float(a) for i, a in enumerate(model.a)} | {f"w{i}": float(w) for i, w in enumerate(model.w)}
    return Kernel(terms, **params)


@settings(max_examples=10, deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.1, 4)), min_size=1, max_size=3),
       st.floats(0.02, 0.5), st.integers(0, 2**31 - 1))
def test_functional_zoh_matches_rnn_simulate_zoh(modes, dt, seed):
    model = DiagonalRNN([m[0] for m in modes], [m[1] for m in modes])
    assume(np.max(np.abs(model.a)) > 0.05)
    x = np.random.default_rng(seed).normal(size=50)
    got = LinearFunctional(diagonal_kernel(model)).evaluate(x, dt, convention="zoh")
    ref = model.to_linear().simulate(x, dt, method="zoh")
    assert_close_scaled(got, ref, RTOL64, "functional zoh vs rnn zoh")


def test_functional_zoh_matches_rnn_with_complex_modes():
    W, U, c = COMPLEX_PAIR
    # e^{Wt} = e^{-t/2} [[cos 2t, -sin 2t], [sin 2t, cos 2t]]  =>  rho = e^{-t/2} (A cos 2t + B sin 2t)
    A = c[0] * U[0] + c[1] * U[1]
    B = c[1] * U[0] - c[0] * U[1]
    rho = Kernel("exp(-al*t)*(A*cos(be*t) + B*sin(be*t))", al=0.5, be=2.0, A=A, B=B)
    assert_close_scaled(rho(T_GRID), LinearRNN(W, U, c).kernel(T_GRID), 1e-13, "hand-derived kernel")
    x = np.random.default_rng(3).normal(size=80)
    for dt in (0.05, 0.3):
        got = LinearFunctional(rho).evaluate(x, dt, convention="zoh")
        ref = LinearRNN(W, U, c).simulate(x, dt, method="zoh")
        assert_close_scaled(got, ref, RTOL64, f"dt={dt}")


@pytest.mark.parametrize("call", [
    lambda H: H.evaluate(np.ones(5), 0.1, convention="euler"),
    lambda H: H.evaluate(np.ones(5), 0.0),
    lambda H: H.evaluate(np.ones(5), -1.0),
    lambda H: H.evaluate(np.array([1.0, np.nan]), 0.1),
    lambda H: H.evaluate(np.ones((2, 2, 2)), 0.1),
    lambda H: H.evaluate(np.ones(0), 0.1),
    lambda H: LinearFunctional(lambda t: np.exp(-t)).evaluate(np.ones(5), 0.1, convention="zoh"),
    lambda H: LinearFunctional(42),
])
def test_functional_bad_input(call):
    with pytest.raises(mt.InvalidArgumentError):
        call(LinearFunctional(kernels.exponential(1.0)))
