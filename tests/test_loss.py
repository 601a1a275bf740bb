"""The exact L2 loss J(theta) = int_0^inf (rho_hat - rho)^2 dt, its gradient and Hessian (docs/theory.md §4).

References come from the definition only: J by mpmath quadrature of (sum_i a_i e^{-w_i t} - rho(t))^2; the
gradient and Hessian by quadrature of the derivatives taken under the integral sign
(dJ/da_i = 2 int (rho_hat - rho) e^{-w_i t}, dJ/dw_i = -2 a_i int t (rho_hat - rho) e^{-w_i t}, ...), and
cross-checked with central finite differences of the quadrature loss. Accuracy: 1e-9 relative in float64,
1e-25 with dps=40. Model parameters are float64 (exact binary values); kernel parameters exact decimals.
"""

from __future__ import annotations

import json

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from conftest import RTOL40, RTOL64, assert_rel, binf, dec, quad
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import memtheory as mt
from memtheory import DiagonalRNN, LinearRNN, LossResult, kernels, l2_loss
from memtheory.losses.assembly import loss_module
from memtheory.symbolic import SymbolicLoss
from memtheory.symbolic import l2_loss as symbolic_l2_loss
from memtheory.symbolic.functions import LaplaceMoment
from memtheory.symbolic.loss import NORM_SYMBOL

HYP = settings(max_examples=12, deadline=None, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
               suppress_health_check=[HealthCheck.too_slow])

A3 = [0.8, -0.3, 0.5]
W3 = [0.7, 1.9, 0.25]


def airy_cut(x):
    """Ai(x), with Ai(x) < e^{-2/3 x^1.5} < 1e-73 replaced by 0 beyond x = 40 (mpmath is slow out there)."""
    return mp.mpf(0) if x > 40 else mp.airyai(x)


# name -> (kernel factory, rho(t) from the definition, breakpoints, log-substitution scale or None)
TARGETS = {
    "exp": (lambda: kernels.reference("exp"), lambda t: mp.exp(-t), [0, 1, 5, 20], None),
    "pol": (lambda: kernels.reference("pol"), lambda t: (1 + t / 10) ** mp.mpf("-1.1"), [0, 1, 10, 100], 0.1),
    "shift": (lambda: kernels.reference("shift"), lambda t: mp.mpf(1) if 9 < t < 11 else mp.mpf(0),
              [0, 5, 9, 11, 20], None),
    "twoparts": (lambda: kernels.reference("twoparts"), lambda t: mp.exp(-t) + mp.exp(-((t - 9) ** 2)),
                 [0, 3, 6, 8, 9, 10, 12, 20], None),
    "airy": (lambda: kernels.reference("airy"), lambda t: airy_cut(t - 6), [0, 6, 46, 60], None),
    "gaussian": (lambda: kernels.gaussian_bump("5.0", "0.8"), lambda t: mp.exp(-((t - 5) ** 2) / mp.mpf("1.28")),
                 [0, 2, 5, 8, 12, 20], None),
    "power_law": (lambda: kernels.power_law("1.5", "0.5"), lambda t: (1 + t / 2) ** mp.mpf("-1.5"), [0, 2, 20, 200],
                  0.5),
    "memory_family": (lambda: kernels.memory_family(kernels.exponential("0.4"), kernels.gaussian_bump("0.0", "0.7"), "0.1"),
                      lambda t: mp.exp(-mp.mpf("0.4") * t) + mp.exp(-((t - 10) ** 2) / mp.mpf("0.98")),
                      [0, 5, 8, 10, 12, 15, 30], None),
    "window": (lambda: kernels.window("0.5", "2.0"), lambda t: mp.mpf(1) if mp.mpf("0.5") < t < 2 else mp.mpf(0),
               [0, mp.mpf("0.5"), 2, 10], None),
}


def integrate(g, target, dps):
    """int_0^inf g(t) dt for an integrand involving the target's rho (its breakpoints and tail handling)."""
    _, _, pts, logsub = TARGETS[target]
    with mp.workdps(dps):
        pts = [mp.mpf(p) for p in pts] + [mp.inf]
        rel = mp.mpf(10) ** -(dps - 18)
        if logsub is not None:
            c = dec(logsub)
            xs = [mp.inf if p == mp.inf else mp.log1p(c * p) for p in pts]
            return quad(lambda x: mp.mpf(0) if x > 10_000 else g(mp.expm1(x) / c) * mp.exp(x) / c, xs, rel=rel,
                        abs_floor=mp.mpf(10) ** -(dps - 5))
        return quad(g, pts, rel=rel, abs_floor=mp.mpf(10) ** -(dps - 5))


class Reference:
    """Loss, gradient and Hessian of theta = (a, w) from the definition, by quadrature."""

    def __init__(self, target, a, w, dps):
        self.target, self.dps = target, dps
        with mp.workdps(dps):
            self.a = [binf(x) for x in a]
            self.w = [binf(x) for x in w]
        self.rho = TARGETS[target][1]

    def diff(self, t):
        return mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(self.a, self.w)) - self.rho(t)

    def loss(self):
        return integrate(lambda t: self.diff(t) ** 2, self.target, self.dps)

    def moment(self, i, k):
        """int t^k (rho_hat - rho) e^{-w_i t} dt."""
        return integrate(lambda t: t**k * self.diff(t) * mp.exp(-self.w[i] * t), self.target, self.dps)

    def grad(self):
        m = len(self.a)
        with mp.workdps(self.dps):
            return ([2 * self.moment(i, 0) for i in range(m)] +
                    [-2 * self.a[i] * self.moment(i, 1) for i in range(m)])

    def hess(self):
        m, a, w = len(self.a), self.a, self.w
        M1 = [self.moment(i, 1) for i in range(m)]
        M2 = [self.moment(i, 2) for i in range(m)]
        with mp.workdps(self.dps):
            def model_int(k, i, j):  # int t^k e^{-(w_i + w_j) t} dt, by quadrature as well
                return quad(lambda t: t**k * mp.exp(-(w[i] + w[j]) * t), [0, 1 / (w[i] + w[j]), mp.inf],
                            rel=mp.mpf(10) ** -(self.dps - 18))

            H = mp.matrix(2 * m, 2 * m)
            for i in range(m):
                for j in range(m):
                    H[i, j] = 2 * model_int(0, i, j)
                    H[i, m + j] = -2 * a[j] * model_int(1, i, j) - (2 * M1[i] if i == j else 0)
                    H[m + j, i] = H[i, m + j]
                    H[m + i, m + j] = 2 * a[i] * a[j] * model_int(2, i, j) + (2 * a[i] * M2[i] if i == j else 0)
            return [[H[r, c] for c in range(2 * m)] for r in range(2 * m)]


# ------------------------------------------------------------------------------------------ loss and gradient
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_loss_and_gradient_float64(target):
    rho = TARGETS[target][0]()
    res = l2_loss(DiagonalRNN(A3, W3), rho, gradient=True)
    ref = Reference(target, A3, W3, 30)
    assert isinstance(res.loss, float)
    assert_rel([res.loss], [ref.loss()], RTOL64, f"J[{target}]")
    assert res.grad.shape == (6,) and res.grad.dtype == float
    assert_rel(res.grad, ref.grad(), RTOL64, f"grad J[{target}]")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_loss_and_gradient_dps40(target):
    rho = TARGETS[target][0]()
    res = l2_loss(DiagonalRNN(A3, W3), rho, gradient=True, dps=40)
    ref = Reference(target, A3, W3, 50)
    assert isinstance(res.loss, mp.mpf) and res.dps == 40
    assert_rel([res.loss], [ref.loss()], RTOL40, f"J[{target}] dps=40")
    assert_rel(list(res.grad), ref.grad(), RTOL40, f"grad J[{target}] dps=40")


@pytest.mark.parametrize("target", ["exp", "twoparts", "gaussian", "pol", "airy"])
def test_hessian_float64(target):
    A2, W2 = [0.9, -0.4], [0.6, 1.7]
    res = l2_loss(DiagonalRNN(A2, W2), TARGETS[target][0](), gradient=True, hessian=True)
    H_ref = Reference(target, A2, W2, 30).hess()
    assert res.hess.shape == (4, 4)
    np.testing.assert_array_equal(res.hess, res.hess.T)
    for r in range(4):
        assert_rel(res.hess[r], H_ref[r], RTOL64, f"hess J[{target}] row {r}")


@pytest.mark.parametrize("target", ["twoparts", "power_law"])
def test_hessian_dps40(target):
    A2, W2 = [0.9, -0.4], [0.6, 1.7]
    res = l2_loss(DiagonalRNN(A2, W2), TARGETS[target][0](), gradient=True, hessian=True, dps=40)
    H_ref = Reference(target, A2, W2, 50).hess()
    for r in range(4):
        assert_rel(list(res.hess[r]), H_ref[r], RTOL40, f"hess J[{target}] row {r} dps=40")


@pytest.mark.parametrize("target", ["twoparts", "gaussian"])
def test_gradient_and_hessian_match_finite_differences(target):
    """Central differences of the *quadrature* loss (50 digits, h = 1e-12: truncation ~1e-24) give the gradient;
    central differences of the library's own 60-digit gradient give its Hessian."""
    A2, W2 = [0.9, -0.4], [0.6, 1.7]
    theta = A2 + W2
    rho = TARGETS[target][0]()
    res64 = l2_loss(DiagonalRNN(A2, W2), rho, gradient=True, hessian=True)
    with mp.workdps(50):
        h = mp.mpf(2) ** -40  # ~1e-12, exactly representable: theta +- h is exact in binary
        fd = []
        for i in range(4):
            plus, minus = list(map(mp.mpf, theta)), list(map(mp.mpf, theta))
            plus[i] += h
            minus[i] -= h
            Jp = _quad_loss_mp(target, plus, 50)
            Jm = _quad_loss_mp(target, minus, 50)
            fd.append((Jp - Jm) / (2 * h))
    assert_rel(res64.grad, fd, RTOL64, f"grad vs FD [{target}]")
    res40 = l2_loss(DiagonalRNN(A2, W2), rho, gradient=True, dps=40)
    assert_rel(list(res40.grad), fd, 1e-20, f"grad dps=40 vs FD [{target}]")  # FD truncation error ~h^2
    # Hessian vs differences of the gradient (the gradient itself having been checked against quadrature)
    hstep = 2.0**-20
    for i in range(4):
        plus, minus = list(theta), list(theta)
        plus[i] += hstep
        minus[i] -= hstep
        gp = l2_loss(DiagonalRNN(plus[:2], plus[2:]), rho, gradient=True, dps=60).grad
        gm = l2_loss(DiagonalRNN(minus[:2], minus[2:]), rho, gradient=True, dps=60).grad
        with mp.workdps(60):
            column = [(p - q) / (2 * mp.mpf(hstep)) for p, q in zip(gp, gm)]
        assert_rel(res64.hess[:, i], column, RTOL64, f"hess column {i} vs FD of grad [{target}]")


def _quad_loss_mp(target, theta, dps):
    """Quadrature loss at mpf parameters theta = (a, w) (not rounded to float64)."""
    m = len(theta) // 2
    a, w = theta[:m], theta[m:]
    rho = TARGETS[target][1]
    return integrate(lambda t: (mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(a, w)) - rho(t)) ** 2, target, dps)


@HYP
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.05, 5)), min_size=1, max_size=3),
       st.floats(0.1, 3), st.floats(0, 6), st.floats(0.2, 1.5))
def test_loss_random_models_and_targets(modes, rate, center, width):
    """Random diagonal models against rho = e^{-rate t} + gaussian bump, float64 vs quadrature."""
    a = [m[0] for m in modes]
    w = [m[1] for m in modes]
    rate, center, width = (float(f"{x:.4g}") for x in (rate, center, width))
    rho = kernels.exponential(rate) + kernels.gaussian_bump(center, width)
    TARGETS["_random"] = (None, lambda t: mp.exp(-dec(rate) * t) + mp.exp(-((t - dec(center)) ** 2) /
                                                                          (2 * dec(width) ** 2)),
                          sorted({0, center, 1 / rate, 10 / rate, center + 5 * width, 1 / min(w), 10 / min(w)}), None)
    res = l2_loss(DiagonalRNN(a, w), rho, gradient=True)
    ref = Reference("_random", a, w, 30)
    assert_rel([res.loss], [ref.loss()], RTOL64, "J")
    g_ref = ref.grad()
    # an exactly-cancelling gradient component (a_i = 0 gives dJ/dw_i = 0) is compared absolutely
    for i, (g, r) in enumerate(zip(res.grad, g_ref)):
        if abs(r) < 1e-25:
            assert abs(g) <= 1e-15, (i, g, r)
        else:
            assert_rel([g], [r], RTOL64, f"grad[{i}]")


# ------------------------------------------------------------------------------------------ three backends
def _theory_formula(a, w, L0, L1, norm):
    """docs/theory.md §4 written out in mpmath: J and grad J from the Laplace moments."""
    m = len(a)
    J = mp.fsum(a[i] * a[j] / (w[i] + w[j]) for i in range(m) for j in range(m)) - 2 * mp.fsum(
        a[i] * L0[i] for i in range(m)) + norm
    ga = [2 * (mp.fsum(a[j] / (w[i] + w[j]) for j in range(m)) - L0[i]) for i in range(m)]
    gw = [-2 * a[i] * (mp.fsum(a[j] / (w[i] + w[j]) ** 2 for j in range(m)) - L1[i]) for i in range(m)]
    return J, ga + gw


@HYP
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.05, 5), st.floats(-1, 1), st.floats(-1, 1)),
                min_size=1, max_size=4), st.floats(0.5, 3))
def test_three_backends_agree(elements, norm):
    """numba (compiled), the same generated source run as plain numpy/Python float64 (``py_func``), and the mpmath
    backend agree with each other and with the docs/theory.md §4 formula evaluated in mpmath, for the same inputs."""
    a = np.array([e[0] for e in elements])
    w = np.array([e[1] for e in elements])
    L0 = np.array([e[2] for e in elements])
    L1 = np.array([e[3] for e in elements])
    L2 = np.zeros_like(L0)
    m = a.size
    nb = loss_module("numba")
    outs = []
    for fn in (nb.assemble, nb.assemble.py_func):
        g, h = np.zeros(2 * m), np.zeros((2 * m, 2 * m))
        J = fn(a, w, L0, L1, L2, norm, g, h, True, False)
        outs.append((J, g))
    # size of the terms of the sums: rounding errors scale with it (cancellation between O(1) terms is allowed to
    # cost absolute accuracy eps * magnitude, nothing more)
    mag = 1 + np.sum(np.abs(a)) ** 2 / np.min(w) ** 2 + 2 * np.sum(np.abs(a) * (np.abs(L0) + np.abs(L1))) + norm
    py = loss_module("python")
    with mp.workdps(40):
        conv = lambda v: np.array([mp.mpf(float(x)) for x in v], dtype=object)  # noqa: E731
        g = np.array([mp.mpf(0)] * (2 * m), dtype=object)
        h = np.empty((2 * m, 2 * m), dtype=object)
        h.fill(mp.mpf(0))
        Jmp = py.assemble(conv(a), conv(w), conv(L0), conv(L1), conv(L2), mp.mpf(norm), g, h, True, False)
        J_ref, g_ref = _theory_formula(*(list(conv(v)) for v in (a, w, L0, L1)), mp.mpf(norm))
        assert abs(Jmp - J_ref) <= mp.mpf(10) ** -35 * mag
        assert max(abs(x - y) for x, y in zip(g, g_ref)) <= mp.mpf(10) ** -35 * mag
    eps = np.finfo(float).eps
    for J, gr in outs:
        assert abs(J - float(J_ref)) <= 16 * m * eps * mag
        assert np.max(np.abs(gr - np.array([float(x) for x in g_ref]))) <= 16 * m * eps * mag
    assert abs(outs[0][0] - outs[1][0]) <= 8 * m * eps * mag
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=0, atol=8 * m * eps * mag)


@pytest.mark.parametrize("target", ["twoparts", "pol", "memory_family"])
def test_public_float64_and_mpmath_paths_agree(target):
    rho = TARGETS[target][0]()
    r64 = l2_loss(DiagonalRNN(A3, W3), rho, gradient=True, hessian=True)
    r40 = l2_loss(DiagonalRNN(A3, W3), rho, gradient=True, hessian=True, dps=40)
    assert_rel([r64.loss], [r40.loss], RTOL64)
    assert_rel(r64.grad, list(r40.grad), RTOL64)
    for r in range(6):
        assert_rel(r64.hess[r], list(r40.hess[r]), RTOL64)


# ------------------------------------------------------------------------------------------ plateaus: cancellation
def _plateau(inv_omega):
    """rho = e^{-t/2} + exp(-(t - 1/omega)^2/(2 * 0.25)); model a = (1, 0, 0), w = (0.5, 1.5, 3): rho_hat equals
    the representable part exactly (0.5 is exact in binary and decimal), so J ~ ||spike||^2 while the gradient is
    O(e^{-w/omega}) -- the plateau of docs/theory.md §4."""
    rho = kernels.memory_family(kernels.exponential("0.5"), kernels.gaussian_bump("0.0", "0.5"), 1 / inv_omega)
    return DiagonalRNN([1.0, 0.0, 0.0], [0.5, 1.5, 3.0]), rho


def _plateau_reference(inv_omega, dps):
    with mp.workdps(dps):
        L = 1 / dec(1 / inv_omega)
        w = [mp.mpf("0.5"), mp.mpf("1.5"), mp.mpf(3)]
        a = [mp.mpf(1), mp.mpf(0), mp.mpf(0)]

        def diff(t):
            return mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(a, w)) - mp.exp(-t / 2) - mp.exp(-2 * (t - L) ** 2)

        pts = [0, L - 20, L - 5, L, L + 5, L + 20, mp.inf]
        pts = [p for p in pts if p >= 0]
        rel = mp.mpf(10) ** -(dps - 18)
        J = quad(lambda t: diff(t) ** 2, pts, rel=rel)
        grad = [2 * quad(lambda t: diff(t) * mp.exp(-w[i] * t), pts, rel=rel) for i in range(3)]
        grad += [-2 * a[i] * quad(lambda t: t * diff(t) * mp.exp(-w[i] * t), pts, rel=rel) for i in range(3)]
    return J, grad


@pytest.mark.parametrize("inv_omega", [30.0, 60.0, 200.0])
def test_plateau_gradient_is_accurate_despite_cancellation(inv_omega):
    model, rho = _plateau(inv_omega)
    res = l2_loss(model, rho, gradient=True)
    J, grad = _plateau_reference(inv_omega, 60)
    assert_rel([res.loss], [J], RTOL64, "J")
    assert grad[0] < 0 and abs(grad[0]) < 10 * mp.exp(-inv_omega / 2)  # exponentially small vs the O(1) terms
    for i in (0, 1, 3):
        assert_rel([res.grad[i]], [grad[i]], RTOL64, f"grad[{i}] at 1/omega = {inv_omega}")
    assert res.grad[4] == 0 and res.grad[5] == 0  # a_2 = a_3 = 0 => dJ/dw_2 = dJ/dw_3 = 0 exactly


def test_plateau_gradient_below_double_range():
    """At 1/omega = 2000 the gradient is ~e^{-1000}: float64 must refuse (PrecisionError), mpmath must deliver."""
    model, rho = _plateau(2000.0)
    with pytest.raises(mt.PrecisionError):
        l2_loss(model, rho, gradient=True)
    assert_rel([l2_loss(model, rho).loss], [_plateau_reference(2000.0, 30)[0]], RTOL64, "J alone is fine")
    # dJ/da_2, dJ/da_3 ~ e^{-w/omega} with w = 1.5, 3 are ~1e-1300 and below: not resolvable at 500 digits, and
    # said so (the components checked below are)
    with pytest.warns(mt.PrecisionWarning, match="dJ/dtheta_2, dJ/dtheta_3 carry no correct digit"):
        res = l2_loss(model, rho, gradient=True, dps=500)
    # The reference needs no extra digits: rho_hat - rho = -spike exactly, pointwise, in the quadrature integrand
    # (e^{-0.5 t} - e^{-t/2} cancels exactly), so 50 digits give the e^{-1000}-sized integrals to full accuracy.
    J, grad = _plateau_reference(2000.0, 50)
    assert_rel([res.grad[0]], [grad[0]], RTOL40, "dJ/da_1 at 500 digits")
    assert_rel([res.grad[3]], [grad[3]], RTOL40, "dJ/dw_1 at 500 digits")
    assert abs(res.grad[0]) < mp.mpf(10) ** -400


# ------------------------------------------------------------------------------------------ LinearRNN models
def test_linear_rnn_with_complex_modes():
    W = np.array([[-0.5, -2.0], [2.0, -0.5]])
    U = np.array([1.0, 0.5])
    c = np.array([0.3, -1.0])
    A = binf(c[0] * U[0] + c[1] * U[1])
    B = binf(c[1] * U[0] - c[0] * U[1])
    rho = kernels.reference("twoparts")
    got = l2_loss(LinearRNN(W, U, c), rho).loss
    with mp.workdps(30):
        ref = quad(lambda t: (mp.exp(-t / 2) * (A * mp.cos(2 * t) + B * mp.sin(2 * t)) - mp.exp(-t)
                              - mp.exp(-((t - 9) ** 2))) ** 2, [0, 2, 4, 6, 8, 9, 10, 12, 20, 40, mp.inf], rel=1e-20)
    assert_rel([got], [ref], RTOL64, "LinearRNN (complex modes)")
    # the same model as a complex-conjugate DiagonalRNN
    modal = LinearRNN(W, U, c).to_diagonal().to_rnn()
    assert_rel([l2_loss(modal, rho).loss], [ref], RTOL64, "complex DiagonalRNN")
    with pytest.raises(mt.InvalidArgumentError):
        l2_loss(modal, rho, gradient=True)


def test_linear_rnn_with_real_modes_equals_diagonal():
    W = np.array([[-1.0, 0.5], [0.0, -2.0]])  # eigenvalues -1, -2
    U = np.array([1.0, 1.0])
    c = np.array([1.0, -0.5])
    # e^{Wt} U = (e^{-t} + 0.5 (e^{-t} - e^{-2t}), e^{-2t}) => rho_hat = 1.5 e^{-t} - e^{-2t}
    rho = kernels.gaussian_bump("2.0", "0.5")
    got = l2_loss(LinearRNN(W, U, c), rho).loss
    with mp.workdps(30):
        ref = quad(lambda t: (mp.mpf("1.5") * mp.exp(-t) - mp.exp(-2 * t) - mp.exp(-2 * (t - 2) ** 2)) ** 2,
                   [0, 1, 2, 3, 5, 10, mp.inf], rel=1e-20)
    assert_rel([got], [ref], RTOL64)


# ------------------------------------------------------------------------------------------ result object, errors
def test_loss_result_interface():
    res = l2_loss(DiagonalRNN([1.0, 0.5], [1.0, 2.0]), kernels.reference("twoparts"), gradient=True, hessian=True)
    assert isinstance(res, LossResult)
    np.testing.assert_array_equal(res.grad_a, res.grad[:2])
    np.testing.assert_array_equal(res.grad_w, res.grad[2:])
    J, g, H = res
    assert J == res.loss and g is res.grad and H is res.hess
    d = res.to_dict()
    assert {"loss", "grad_a", "grad_w", "hess"} <= set(d)
    assert d["grad_a"] == [float(x) for x in res.grad_a]
    json.dumps(d)
    only = l2_loss(DiagonalRNN([1.0], [1.0]), kernels.exponential("2.0"))
    assert only.grad is None and only.hess is None and only.grad_a is None
    d40 = l2_loss(DiagonalRNN([1.0], [1.0]), kernels.exponential("2.0"), gradient=True, dps=40).to_dict()
    json.dumps(d40)
    with mp.workdps(50):
        exact = mp.mpf(1) / 2 - 2 * mp.mpf(1) / 3 + mp.mpf(1) / 4  # 1/(2w) - 2/(w + 2) + 1/4 at w = 1
        assert abs(mp.mpf(d40["loss"]) - exact) <= RTOL40 * abs(exact)


def test_exact_fit_has_zero_loss_and_gradient():
    res = l2_loss(DiagonalRNN([1.0, -0.25], [0.5, 2.0]),
                  mt.Kernel("exp(-t/2) - exp(-2*t)/4"), gradient=True)
    assert abs(res.loss) <= 1e-15
    assert np.max(np.abs(res.grad)) <= 1e-15


@pytest.mark.parametrize("call, err", [
    (lambda: l2_loss(DiagonalRNN([1.0], [1.0]), kernels.sine("1.0")), mt.NotIntegrableError),
    (lambda: l2_loss(DiagonalRNN([1.0], [1.0]), kernels.reference("sin")), mt.NotIntegrableError),
    (lambda: l2_loss(DiagonalRNN([1.0], [1.0]), kernels.power_law("0.5")), mt.NotIntegrableError),
    (lambda: l2_loss(DiagonalRNN([1.0], [1.0]), "exp(-t)"), mt.InvalidArgumentError),
    (lambda: l2_loss("model", kernels.exponential("1.0")), mt.InvalidArgumentError),
    (lambda: l2_loss(DiagonalRNN([1.0], [1.0]), kernels.exponential("1.0"), dps=1), mt.InvalidArgumentError),
    (lambda: l2_loss(DiagonalRNN([1.0], [-1.0]), kernels.exponential("1.0")), mt.NotHurwitzError),
    (lambda: l2_loss(LinearRNN(np.eye(2) * 0.1, np.ones(2), np.ones(2)), kernels.exponential("1.0")),
     mt.NotHurwitzError),
    (lambda: l2_loss(LinearRNN(-np.eye(2), np.ones(2), np.ones(2)), kernels.exponential("1.0"), gradient=True),
     mt.InvalidArgumentError),
])
def test_loss_bad_input(call, err):
    with pytest.raises(err) as info:
        call()
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------------ symbolic loss
def test_symbolic_loss_structure():
    sl = symbolic_l2_loss(2)
    assert isinstance(sl, SymbolicLoss) and sl.m == 2 and len(sl.theta) == 4
    a1, a2, w1, w2 = sl.theta
    L = lambda k, s: LaplaceMoment(k, s)  # noqa: E731
    expected = (a1**2 / (2 * w1) + 2 * a1 * a2 / (w1 + w2) + a2**2 / (2 * w2)
                - 2 * a1 * L(0, w1) - 2 * a2 * L(0, w2) + NORM_SYMBOL)
    assert sp.simplify(sl.loss - expected) == 0
    # docs/theory.md §4: dJ/da_i = 2(sum_j a_j/(w_i+w_j) - L[rho](w_i)), dJ/dw_i = -2 a_i(sum_j a_j/(w_i+w_j)^2 - L[t rho](w_i))
    grad = [2 * (a1 / (2 * w1) + a2 / (w1 + w2) - L(0, w1)), 2 * (a1 / (w1 + w2) + a2 / (2 * w2) - L(0, w2)),
            -2 * a1 * (a1 / (2 * w1) ** 2 + a2 / (w1 + w2) ** 2 - L(1, w1)),
            -2 * a2 * (a1 / (w1 + w2) ** 2 + a2 / (2 * w2) ** 2 - L(1, w2))]
    for g, e in zip(sl.gradient, grad):
        assert sp.simplify(g - e) == 0
    assert sl.hessian.shape == (4, 4) and sl.hessian == sl.hessian.T
    assert sp.simplify(sl.hessian[2, 2] - sp.diff(grad[2], w1)) == 0
    assert sl.hessian[2, 2].has(LaplaceMoment(2, w1))  # L[t^2 rho] enters the Hessian only


def test_symbolic_loss_numeric_against_quadrature():
    """Substitute the target's Laplace moments and norm computed by quadrature into the symbolic J, grad, Hessian
    and compare with the quadrature references of the definition."""
    sl = symbolic_l2_loss(2)
    A2, W2 = [0.9, -0.4], [0.6, 1.7]
    target = "twoparts"
    f = TARGETS[target][1]
    with mp.workdps(30):
        mom = {(k, i): integrate(lambda t: t**k * f(t) * mp.exp(-binf(W2[i]) * t), target, 30)
               for k in range(3) for i in range(2)}
        norm = integrate(lambda t: f(t) ** 2, target, 30)
    a1, a2, w1, w2 = sl.theta
    subs = {a1: A2[0], a2: A2[1], w1: W2[0], w2: W2[1]}

    def evaluate(expr):
        expr = expr.replace(lambda e: isinstance(e, LaplaceMoment),
                            lambda e: sp.Float(str(mom[(int(e.args[0]), [w1, w2].index(e.args[1]))]), 30))
        return mp.mpf(str(sp.N(expr.xreplace({NORM_SYMBOL: sp.Float(str(norm), 30), **subs}), 30)))

    ref = Reference(target, A2, W2, 30)
    assert_rel([evaluate(sl.loss)], [ref.loss()], RTOL64, "symbolic J")
    assert_rel([evaluate(g) for g in sl.gradient], ref.grad(), RTOL64, "symbolic grad")
    H = ref.hess()
    for r in range(4):
        assert_rel([evaluate(sl.hessian[r, c]) for c in range(4)], H[r], RTOL64, f"symbolic hess row {r}")


def test_symbolic_loss_latex():
    sl = symbolic_l2_loss(2)
    loss = sl.latex("loss")
    assert loss.startswith("J(\\theta) = ") and "a_{1}" in loss and "w_{2}" in loss
    assert "\\mathcal{L}[\\rho](w_{1})" in loss
    flow = sl.latex("flow")
    assert flow.count("\\frac{d") == 4 and "d\\tau" in flow and "\\mathcal{L}[t \\rho](w_{2})" in flow
    assert sl.latex("gradient").count("\\partial J") == 4
    assert sl.latex("hessian").startswith("\\nabla^2 J")
    with pytest.raises(mt.InvalidArgumentError):
        sl.latex("nonsense")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(mt.InvalidArgumentError):
            symbolic_l2_loss(bad)


def test_explicit_dps_too_small_for_the_cancellation_warns():
    """At 1/omega = 640 the gradient is ~e^{-320}, computed from O(1) terms: 30 digits leave no correct digit
    (PrecisionWarning, the values within their returned bounds); 600 digits resolve it without a warning:
    dJ/da_1 = -2 L[spike](0.5) = -2 sqrt(2 pi) sigma e^{w^2 sigma^2/2} e^{-w/omega} (the Gaussian lies inside t > 0
    up to e^{-640^2 2}), about -2.7e-139."""
    import warnings

    rho = kernels.memory_family(kernels.exponential("0.5"), kernels.gaussian_bump(0, "0.5"), omega=1 / 640)
    model = DiagonalRNN([1.0, 0.0], [0.5, 2.0])
    with pytest.warns(mt.PrecisionWarning, match="dps=30"):
        low = l2_loss(model, rho, gradient=True, dps=30)
    assert all(abs(g) <= e for g, e in zip(low.grad[:1], low.grad_error[:1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        high = l2_loss(model, rho, gradient=True, dps=600)
    import mpmath

    ref = -2 * mpmath.sqrt(2 * mpmath.pi) * 0.5 * mpmath.exp(0.5**2 * 0.5**2 / 2) * mpmath.exp(-0.5 * 640)
    assert abs(high.grad[0] / ref - 1) < 1e-6
