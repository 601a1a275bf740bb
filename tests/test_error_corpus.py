"""Every error estimate bounds the true error, across a corpus of hard kernels (tests/data/error_corpus.py).

For each kernel the Laplace moments ``L[t^k rho](s)``, ``||rho||_2^2`` and the loss ``J`` (with its gradient) of
two models are computed in float64 and at 30 and 60 digits, and ``|value - truth| <= reported error`` is asserted,
the truth from the corpus's independent description evaluated in mpmath at 140 digits (textbook formulas, or
quadrature for smooth kernels). The full corpus is ``slow``; a representative subset (one or two kernels of each
group) runs in the default suite.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import memtheory as mt

_SPEC = importlib.util.spec_from_file_location("error_corpus", Path(__file__).parent / "data" / "error_corpus.py")
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
CORPUS = _MODULE.CORPUS

TRUTH_DPS = 140
S_POINTS = ("0.5", "1", "3")
MODELS = (((1.0,), (1.0,)), ((0.5, 0.3), (1.0, 2.0)))
#: The default suite's subset: cancellation, slow tails, oscillation, singularities, a bump.
FAST = {"exp(-t) - exp(-(1+1e-12)*t)", "1e6*(exp(-t) - exp(-(1+1e-6)*t))", "(1+t)**(-1.5) - (1+t)**(-1.5000001)",
        "(1+t)**(-0.62)", "sin(3*t)*exp(-t/2)", "t**(-0.45)*exp(-t)", "exp(-t) + 1e-6*t**(-0.45)*exp(-t)",
        "exp(-t/2) + exp(-2*(t - 4)**2)"}


def _mp(text: str) -> mp.mpf:
    """An exact decimal or symbolic constant ("1e-6", "1/3", "sqrt(2)", "1 - pi/2") at the working precision."""
    return mp.mpf(sp.N(sp.sympify(text, rational=True), mp.mp.dps + 10))


def _exp_terms(entry):
    return [tuple(_mp(x) for x in term) for term in entry["exp"]]


def _exp_moment(terms, s, k):
    """sum_j c Re[e^{i phi} Gamma(a + k + 1) / (s + lam - i b)^(a + k + 1)]."""
    total = mp.mpf(0)
    for c, a, lam, b, phi in terms:
        z = mp.mpc(s + lam, -b)
        total += c * mp.re(mp.exp(mp.mpc(0, phi)) * mp.gamma(a + k + 1) / z ** (a + k + 1))
    return total


def _exp_square(terms):
    """int rho^2: cos x cos y = (cos(x + y) + cos(x - y))/2 turns each product into two exp terms."""
    prods = []
    for c1, a1, l1, b1, p1 in terms:
        for c2, a2, l2, b2, p2 in terms:
            prods.append((c1 * c2 / 2, a1 + a2, l1 + l2, b1 + b2, p1 + p2))
            prods.append((c1 * c2 / 2, a1 + a2, l1 + l2, b1 - b2, p1 - p2))
    return _exp_moment(prods, mp.mpf(0), 0)


def _power_moment(terms, s, k):
    """c (c0 + c1 t)^(-p) e^{-lam t}: with x = c0 + c1 t, t^k = sum_j C(k, j) x^j (-c0)^(k-j) / c1^k and
    int_0^inf x^(j-p) e^{-(s+lam) t} dt = e^{r c0/c1} (r/c1)^(p-j-1) Gamma(j-p+1, r c0/c1) / c1, r = s + lam."""
    total = mp.mpf(0)
    for c, p, c0, c1, lam in terms:
        r = s + lam
        for j in range(k + 1):
            q = j - p + 1
            if r == 0:
                piece = -c0**q / (c1 * q)  # int_0^inf (c0 + c1 t)^(q-1) dt, q < 0
            else:
                y = r * c0 / c1
                piece = mp.exp(y) * (r / c1) ** (-q) * mp.gammainc(q, y) / c1
            total += c * mp.binomial(k, j) * (-c0) ** (k - j) / c1**k * piece
    return total


def _power_square(terms):
    prods = [(c1 * c2, p1 + p2, terms[0][2], terms[0][3], l1 + l2)
             for c1, p1, _, _, l1 in terms for c2, p2, _, _, l2 in terms]
    return _power_moment(prods, mp.mpf(0), 0)


def _quad(entry, g):
    pts = [mp.mpf(x) for x in entry["quad"]]
    edges = sorted({mp.mpf(0), *pts, *[p + d for p in pts for d in (-2, -1, 1, 2) if p + d > 0]})
    return mp.quad(g, [*edges, mp.inf])


class Truth:
    """The corpus entry's reference values at TRUTH_DPS digits."""

    def __init__(self, entry):
        self.entry = entry
        self.rho = sp.lambdify(sp.Symbol("t"), sp.sympify(entry["expr"], locals={"t": sp.Symbol("t", positive=True)}),
                               "mpmath") if "quad" in entry else None

    def laplace(self, s, k):
        with mp.workdps(TRUTH_DPS):
            s = mp.mpf(s)
            if "exp" in self.entry:
                return _exp_moment(_exp_terms(self.entry), s, k)
            if "power" in self.entry:
                return _power_moment([tuple(_mp(x) for x in t) for t in self.entry["power"]], s, k)
            return _quad(self.entry, lambda t: self.rho(t) * t**k * mp.exp(-s * t))

    def square(self):
        with mp.workdps(TRUTH_DPS):
            if "exp" in self.entry:
                return _exp_square(_exp_terms(self.entry))
            if "power" in self.entry:
                return _power_square([tuple(_mp(x) for x in t) for t in self.entry["power"]])
            return _quad(self.entry, lambda t: self.rho(t) ** 2)

    def loss(self, a, w):
        """J and its gradient (a then w) from the reference moments."""
        with mp.workdps(TRUTH_DPS):
            a = [mp.mpf(x) for x in a]
            w = [mp.mpf(x) for x in w]
            L0 = [self.laplace(x, 0) for x in w]
            L1 = [self.laplace(x, 1) for x in w]
            m = len(a)
            J = sum(a[i] * a[j] / (w[i] + w[j]) for i in range(m) for j in range(m))
            J += -2 * sum(a[i] * L0[i] for i in range(m)) + self.square()
            ga = [2 * sum(a[j] / (w[i] + w[j]) for j in range(m)) - 2 * L0[i] for i in range(m)]
            gw = [-2 * sum(a[i] * a[j] / (w[i] + w[j]) ** 2 for j in range(m)) + 2 * a[i] * L1[i] for i in range(m)]
            return J, ga + gw


def _check(value, error, truth, what):
    with mp.workdps(TRUTH_DPS):
        diff = abs(mp.mpf(value) - truth)
        assert diff <= mp.mpf(error), f"{what}: |{mp.nstr(mp.mpf(value), 20)} - {mp.nstr(truth, 20)}| = " \
                                      f"{mp.nstr(diff, 3)} > reported error {mp.nstr(mp.mpf(error), 3)}"


def _params():
    out = []
    for entry in CORPUS:
        marks = () if entry["expr"] in FAST else (pytest.mark.slow,)
        out.append(pytest.param(entry, id=entry["expr"], marks=marks))
    return out


def test_corpus_size():
    assert len(CORPUS) >= 40
    assert len({e["expr"] for e in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("entry", _params())
def test_laplace_errors_bound_the_error(entry):
    rho = mt.Kernel(entry["expr"])
    truth = Truth(entry)
    for k in (0, 1):
        refs = [truth.laplace(s, k) for s in S_POINTS]
        res = rho.laplace(np.array([float(s) for s in S_POINTS]), moment=k, full_output=True)
        for s, v, e, ref in zip(S_POINTS, res.values, res.errors, refs):
            _check(v, e, ref, f"float64 L[t^{k} rho]({s})")
            assert e <= 1e-8 * abs(ref) + 1e-300, f"float64 L[t^{k} rho]({s}): error estimate {e:.3g} is useless"
        for dps in (30, 60):
            res = rho.laplace([mp.mpf(s) for s in S_POINTS], moment=k, dps=dps, full_output=True)
            for s, v, e, ref in zip(S_POINTS, res.values, res.errors, refs):
                _check(v, e, ref, f"dps={dps} L[t^{k} rho]({s})")
                assert e <= mp.mpf(10) ** (-dps + 5) * abs(ref), f"dps={dps} L[t^{k} rho]({s}): error {e} too large"


@pytest.mark.parametrize("entry", _params())
def test_square_integral_errors_bound_the_error(entry):
    rho = mt.Kernel(entry["expr"])
    ref = Truth(entry).square()
    value, error = rho.square_integral(full_output=True)
    _check(value, error, ref, "float64 ||rho||^2")
    assert error <= 1e-8 * abs(ref)
    for dps in (30, 60):
        value, error = rho.square_integral(dps=dps, full_output=True)
        _check(value, error, ref, f"dps={dps} ||rho||^2")
        assert error <= mp.mpf(10) ** (-dps + 5) * abs(ref)


@pytest.mark.parametrize("entry", _params())
def test_loss_errors_bound_the_error(entry):
    rho = mt.Kernel(entry["expr"])
    truth = Truth(entry)
    for a, w in MODELS:
        J_ref, g_ref = truth.loss(a, w)
        model = mt.DiagonalRNN(list(a), list(w))
        res = mt.l2_loss(model, rho, gradient=True)
        _check(res.loss, res.loss_error, J_ref, f"float64 J at a={a}, w={w}")
        for i, (g, e, ref) in enumerate(zip(res.grad, res.grad_error, g_ref)):
            _check(g, e, ref, f"float64 dJ/dtheta_{i + 1} at a={a}, w={w}")
        res = mt.l2_loss(model, rho, gradient=True, dps=30)
        _check(res.loss, res.loss_error, J_ref, f"dps=30 J at a={a}, w={w}")
        for i, (g, e, ref) in enumerate(zip(res.grad, res.grad_error, g_ref)):
            _check(g, e, ref, f"dps=30 dJ/dtheta_{i + 1} at a={a}, w={w}")
        assert math.isfinite(float(res.loss_error))
