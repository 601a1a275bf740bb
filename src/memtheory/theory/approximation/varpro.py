r"""The variable-projection solver behind the best exponential sums, and the exact L2 loss in mpmath.

For fixed rates the optimal coefficients solve the Cauchy-Gram system ``G a = b`` with ``G_ij = 1/(w_i + w_j)``
and ``b_i = L[rho](w_i)``; the reduced loss is ``J(w) = ||rho||^2 - b^T G^{-1} b``. ``G`` is a Cauchy matrix:
its Schur complements are again Cauchy-like, which gives the factorisation ``G = L D L^T`` in closed form
(:func:`cauchy_ldl`),

.. math:: D_k = \frac{P_k(k)^2}{2 w_k},\qquad L_{ik} = \frac{2 w_k P_k(i)}{(w_i + w_k) P_k(k)},\qquad
          P_k(i) = \prod_{l<k} \frac{w_i - w_l}{w_i + w_l},

every entry a product (no cancellation), so it is accurate however ill-conditioned ``G`` is. The log-rates
``u = log(w - min_rate)`` are optimised by Levenberg-Marquardt (:class:`VariableProjection`) with Kaufman's
Gauss-Newton matrix, which for exponentials is also closed form: the residual of projecting ``t e^{-w_k t}`` onto
the span of the exponentials has Laplace transform ``gamma_k B(s)/(s + w_k)`` with ``B`` the Blaschke product of
the rates, so

.. math:: \langle P^\perp \psi_k, P^\perp\psi_l\rangle = \frac{\gamma_k\gamma_l}{w_k + w_l},\qquad
          \gamma_k = -\frac{1}{2 w_k}\prod_{j \ne k}\frac{w_k - w_j}{w_k + w_j}.

The gradient uses ``L[t rho](w) = -dL[rho]/ds``. The loss is the difference of ``||rho||^2`` and a quantity
close to it, so float64 runs out of digits once the relative loss is below about 1e-8; the evaluation then moves
to mpmath with ``dps`` sized from the magnitudes of the terms (which grow with the condition number of ``G``);
:func:`exact_loss` and :func:`exact_projection` size it for given coefficients or rates and check the digits.

References: Golub & Pereyra, *The differentiation of pseudo-inverses and nonlinear least squares problems whose
variables separate*, SIAM J. Numer. Anal. 10 (1973); Kaufman, BIT 15 (1975).
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
from dataclasses import dataclass

import mpmath as mp
import numpy as np

from ...compile.arith import FLINT, MPMATH, Arithmetic
from ...errors import InvalidArgumentError, NotIntegrableError, PrecisionError
from ...kernels.kernel import Kernel

__all__ = [
    "cauchy_condition",
    "cauchy_ldl",
    "exact_loss",
    "exact_projection",
    "project_coefficients",
    "FitTarget",
    "FitState",
    "VariableProjection",
    "SingularGramError",
    "EXACT_REL_LOSS",
    "DEFAULT_SEPARATION",
    "MAX_DPS",
]

_EPS = float(np.finfo(float).eps)
#: Relative L2 error below which a fit is "exact": the rates are float64, so smaller errors carry no meaning.
EXACT_REL_LOSS = 1e-30
#: Log-rate box (rates between 1e-15 and 1e15 times the unit of t).
_U_LO, _U_HI = math.log(1e-15), math.log(1e15)
#: Default smallest separation |log w_i - log w_j| of two rates (see ``min_separation``).
DEFAULT_SEPARATION = 1e-3
#: Most mpmath digits any evaluation may use.
MAX_DPS = 2000


# ============================================================================================ Cauchy algebra
def cauchy_condition(w) -> tuple[float, float]:
    """1-norm condition number of ``G_ij = 1/(w_i + w_j)`` from the closed-form inverse, in log space.

    ``(G^{-1})_ij = prod_k (w_i + w_k)(w_j + w_k) / ((w_i + w_j) prod_{k!=i}(w_i - w_k) prod_{k!=j}(w_j - w_k))``.

    Parameters
    ----------
    w : array_like
        Distinct positive rates.

    Returns
    -------
    (cond, log10_cond) : tuple of float
        ``cond`` is ``inf`` when it exceeds float64 range.
    """
    w = np.asarray(w, float)
    if w.ndim != 1 or w.size == 0 or np.any(w <= 0):
        raise InvalidArgumentError("cauchy_condition needs a non-empty 1-D array of positive rates")
    if np.unique(w).size != w.size:
        return math.inf, math.inf
    s = w[:, None] + w[None, :]
    d = np.abs(w[:, None] - w[None, :])
    np.fill_diagonal(d, 1.0)
    lsum = np.log(s).sum(axis=1)  # sum_k log(w_i + w_k)
    ldiff = np.log(d).sum(axis=1)  # sum_{k != i} log|w_i - w_k|
    logabs = lsum[:, None] + lsum[None, :] - np.log(s) - ldiff[:, None] - ldiff[None, :]
    col = logabs.max(axis=0)
    log_inv_norm = float(np.max(col + np.log(np.exp(logabs - col).sum(axis=0))))
    log_norm = float(np.max(np.log((1.0 / s).sum(axis=0))))
    log10 = (log_inv_norm + log_norm) / math.log(10)
    return (10.0**log10 if log10 < 308 else math.inf), log10


def _abs(x):
    return np.abs(x) if x.dtype != object else np.array([abs(v) for v in x], dtype=object)


def cauchy_ldl(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``G = L D L^T`` for ``G_ij = 1/(w_i + w_j)`` from the closed-form Schur complements (float, mpf or arb).

    Parameters
    ----------
    w : ndarray
        Distinct positive rates, float64 or an object array of one arithmetic's numbers (mpmath ``mpf`` or Arb
        ``arb``, :mod:`memtheory.compile.arith`); the factors are of the same type.

    Returns
    -------
    (L, D) : tuple of ndarray
        Unit lower triangular ``L`` (m, m) and the diagonal ``D`` (m,).
    """
    m = w.shape[0]
    s = w[:, None] + w[None, :]
    R = (w[:, None] - w[None, :]) / s  # R[i, l]
    P = np.empty((m, m), dtype=w.dtype)  # P[k, i] = prod_{l<k} R[i, l]
    P[0, :] = 1
    if m > 1:
        P[1:, :] = np.multiply.accumulate(R[:, :-1], axis=1).T
    diagP = np.array([P[k, k] for k in range(m)], dtype=w.dtype)
    D = diagP * diagP / (2 * w)
    Lm = (2 * w[None, :] * P.T) / (s * diagP[None, :])  # L[i, k]
    for i in range(m):
        Lm[i, i + 1:] = 0
        Lm[i, i] = 1
    return Lm, D


def _fdot(x, y):
    """``sum_i x_i y_i`` of two object arrays: mpmath's exactly rounded ``fdot`` for mpf, ball sums for arb."""
    if len(x) and isinstance(x[0], mp.mpf):
        return mp.fdot(x, y)
    return np.dot(x, y)


def _forward(Lm, b):
    """Solve ``L z = b`` (unit lower triangular)."""
    if Lm.dtype != object:
        from scipy.linalg import solve_triangular

        return solve_triangular(Lm, b, lower=True, unit_diagonal=True, check_finite=False)
    z = np.empty(b.shape[0], dtype=object)
    for k in range(b.shape[0]):
        z[k] = b[k] - (_fdot(Lm[k, :k], z[:k]) if k else 0)
    return z


def _backward(Lm, y):
    """Solve ``L^T x = y``."""
    if Lm.dtype != object:
        from scipy.linalg import solve_triangular

        return solve_triangular(Lm, y, lower=True, trans="T", unit_diagonal=True, check_finite=False)
    m = y.shape[0]
    x = np.empty(m, dtype=object)
    for k in range(m - 1, -1, -1):
        x[k] = y[k] - (_fdot(Lm[k + 1:, k], x[k + 1:]) if k < m - 1 else 0)
    return x


def _dot(x, y):
    return float(np.dot(x, y)) if x.dtype != object else _fdot(x, y)


# ============================================================================================ the target
class FitTarget:
    """A square-integrable kernel with cached Laplace moments ``L[t^k rho](w)`` in float64 or at ``dps`` digits.

    Parameters
    ----------
    rho : Kernel
        The kernel to approximate; square-integrable on ``[0, inf)`` (else NotIntegrableError).
    """

    def __init__(self, rho: Kernel):
        if not isinstance(rho, Kernel):
            raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
        if not rho.is_integrable(2):
            raise NotIntegrableError(f"rho = {rho.substituted()} is not square-integrable on [0, inf): the L2 "
                                     "best approximation does not exist")
        self.rho = rho
        self._norm2: dict = {}
        self._cache: dict = {}

    def norm2(self, dps: int | None):
        """``||rho||_2^2`` in float64 (``dps=None``) or as an mpf at ``dps`` digits (cached)."""
        if dps not in self._norm2:
            self._norm2[dps] = self.rho.square_integral(dps=dps)
        return self._norm2[dps]

    def laplace(self, w: np.ndarray, moment: int, dps: int | None,
                arith: Arithmetic = MPMATH) -> tuple[np.ndarray, np.ndarray]:
        """Values and absolute error estimates of ``L[t^moment rho](w)`` (cached per rate).

        With ``dps`` the rates and the results are numbers of ``arith`` (the kernel computes in mpmath or Arb
        balls, :meth:`memtheory.kernels.Kernel.laplace`, and the values are converted exactly)."""
        if dps and arith is not MPMATH:
            vals, errs = self.laplace(np.array([arith.to_mpf(v) for v in w], dtype=object), moment, dps)
            return (np.array([arith.num(v) for v in vals], dtype=object),
                    np.array([arith.num(v) for v in errs], dtype=object))
        keys = [(moment, dps, v if dps else float(v)) for v in w]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            pts = [w[i] for i in missing]
            if dps is None:
                try:
                    res = self.rho.laplace(np.array(pts, float), moment=moment, full_output=True)
                    vals, errs = list(res.values), list(res.errors)
                except PrecisionError:  # a value below float64 range: harmless here, take it from mpmath
                    res = self.rho.laplace([mp.mpf(float(p)) for p in pts], moment=moment, dps=30, full_output=True)
                    vals = [float(v) for v in res.values]
                    errs = [float(e) + 1e-300 for e in res.errors]
            else:
                res = self.rho.laplace(list(pts), moment=moment, dps=dps, full_output=True)
                vals, errs = res.values, res.errors
            for i, v, e in zip(missing, vals, errs):
                self._cache[keys[i]] = (v, e)
            if len(self._cache) > 200_000:
                self._cache.clear()
                return self.laplace(w, moment, dps)
        dtype = object if dps else float
        vals = np.array([self._cache[k][0] for k in keys], dtype=dtype)
        errs = np.array([self._cache[k][1] for k in keys], dtype=dtype)
        return vals, errs


# ============================================================================================ one evaluation
@dataclass
class FitState:
    """One evaluation of the reduced loss at the log-rates ``u``: the projection and, if asked, its derivatives."""

    u: np.ndarray  # float64 log-rates (sorted)
    dps: int | None
    w: np.ndarray
    a: np.ndarray
    b: np.ndarray
    J: object
    J_err: object
    mag: object
    second: object  # second-order rounding term coefficient (per eps^2)
    Lm: np.ndarray = None
    D: np.ndarray = None
    g: np.ndarray | None = None  # gradient in u (float64)
    K: np.ndarray | None = None  # Kaufman Gauss-Newton matrix in u (float64)
    H: np.ndarray | None = None  # exact reduced Hessian in u (float64)

    @property
    def m(self) -> int:
        """Width (number of rates)."""
        return self.u.shape[0]


class VariableProjection:
    """Variable-projection Levenberg-Marquardt for the reduced loss in log-rates.

    Parameters
    ----------
    target : FitTarget
        The kernel and its Laplace moments.
    min_rate : float or None
        Stability margin (log-rates ``>= log(min_rate)``); None: the rate box down to 1e-15.
    dps : int or None
        Working precision to start with (None: float64).
    auto : bool
        Raise the precision as the loss needs (False: a fixed ``dps``, too few digits raise PrecisionError).
    sep : float
        Smallest gap between sorted log-rates.
    arith : Arithmetic
        The number type of the evaluations at ``dps`` digits (:mod:`memtheory.compile.arith`): Arb balls used as
        floating-point numbers (default; the Cauchy algebra is about 10x faster than in mpmath) or mpmath.
    """

    def __init__(self, target: FitTarget, min_rate: float | None, dps: int | None, auto: bool,
                 sep: float = DEFAULT_SEPARATION, arith: Arithmetic = FLINT):
        self.t = target
        self.ar = arith
        self.lo = math.log(min_rate) if min_rate else _U_LO  # lower bound of the log-rates
        self.sep = sep  # smallest gap between sorted log-rates
        self.dps = dps  # current working precision (None: float64)
        self.auto = auto
        self.iterations = 0

    def project(self, u: np.ndarray) -> np.ndarray:
        """Nearest admissible log-rates: sorted, ``>= lo``, gaps ``>= sep`` (pushed upwards), ``<= _U_HI``."""
        v = np.sort(np.clip(np.asarray(u, float), self.lo, _U_HI))
        for i in range(v.size):
            floor = self.lo if i == 0 else v[i - 1] + self.sep
            if v[i] < floor:
                v[i] = floor
        if v[-1] > _U_HI:
            v[-1] = _U_HI
            for i in range(v.size - 2, -1, -1):
                v[i] = min(v[i], v[i + 1] - self.sep)
        return v

    def blocked(self, u: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Log-rates held by the constraints: at the bound, or in a chain of minimal gaps down to it, with the
        gradient pushing further down."""
        out = np.zeros(u.size, bool)
        tol = 1e-12 * max(1.0, abs(self.lo))
        for i in range(u.size):
            at = (u[i] <= self.lo + tol) if i == 0 else (out[i - 1] and u[i] - u[i - 1] <= self.sep * (1 + 1e-9))
            out[i] = bool(at and g[i] > 0)
        return out

    # ------------------------------------------------------------------ precision helpers
    def _eps(self, dps):
        return _EPS if dps is None else self.ar.num(10) ** (-dps)

    def _context(self, dps: int | None):
        """The working precision of an evaluation: ``dps`` digits of the arithmetic (None: float64)."""
        return self.ar.workdps(dps) if dps else contextlib.nullcontext()

    def rates(self, u: np.ndarray, dps: int | None) -> tuple[np.ndarray, np.ndarray]:
        """``(dw/du, w)`` for ``w = exp(u)``, in float64 (``dps=None``) or as numbers of the arithmetic at ``dps``
        digits (exact binary numbers: a ball's radius is dropped, so the rates are the same in every call)."""
        if dps is None:
            w = np.exp(u)
            return w, w
        with self.ar.workdps(dps):
            w = np.array([self.ar.clean(self.ar.exp(self.ar.num(float(x)))) for x in u], dtype=object)
            return w, w

    def required_dps(self, st: FitState) -> int | None:
        """Digits needed for ~15 correct digits of J (None when float64 gives at least 8)."""
        J = abs(float(st.J))
        norm2 = float(self.t.norm2(None))
        J = max(J, EXACT_REL_LOSS * norm2)
        m = st.m
        first = math.log10(max(float(st.mag), 1e-300) * (4 * m + 8) / J)
        second = math.log10(max(float(st.second), 1e-300) / J) / 2
        lost = max(first, second, 0.0)
        if lost <= 7.5:
            return None
        return int(min(MAX_DPS, max(30, math.ceil(lost) + 15)))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, u: np.ndarray, grad: bool, dps: int | None | str = "current") -> FitState:
        """The projection at log-rates ``u`` (and gradient, Gauss-Newton matrix, Hessian if ``grad``).

        ``dps="current"`` evaluates at the solver's working precision. Raises :class:`SingularGramError` when the
        Cauchy-Gram matrix is singular at that precision.
        """
        dps = self.dps if dps == "current" else dps
        u = np.sort(np.asarray(u, float))
        with self._context(dps):
            omega, w = self.rates(u, dps)
            b, eb = self.t.laplace(w, 0, dps, self.ar)
            norm2 = self.ar.num(self.t.norm2(dps)) if dps else self.t.norm2(dps)
            Lm, D = cauchy_ldl(w)
            if any(d == 0 for d in D) or (dps is None and not np.all(np.isfinite(D))):
                raise SingularGramError
            z = _forward(Lm, b)
            a = _backward(Lm, z / D)
            G = 1 / (w[:, None] + w[None, :])
            Ga = G.dot(a)
            J = norm2 - 2 * _dot(a, b) + _dot(a, Ga)
            aa = _abs(a)
            mag = norm2 + 2 * _dot(aa, _abs(b)) + _dot(aa, G.dot(aa))
            eps = self._eps(dps)
            rho_vec = G.dot(aa) + _abs(b)
            z2 = _forward(Lm, rho_vec)
            second = (4 * u.size + 8) ** 2 * _dot(z2 * z2, 1 / D)
            J_err = eps * (4 * u.size + 8) * mag + eps * eps * second + 2 * _dot(aa, _abs(eb))
            st = FitState(u, dps, w, a, b, J, J_err, mag, second, Lm, D)
            if grad:
                self._derivatives(st, omega, G)
        return st

    def _derivatives(self, st: FitState, omega: np.ndarray, G: np.ndarray) -> None:
        """Gradient, Kaufman Gauss-Newton matrix and exact reduced Hessian in the log-rates (all closed form).

        With ``h_i = sum_j a_j/(w_i+w_j)^2 - L[t rho](w_i)``, ``q_i = L[t^2 rho](w_i) - 2 sum_j a_j/(w_i+w_j)^3``
        (inner products of the residual with ``t e^{-w_i t}`` and ``t^2 e^{-w_i t}``), the reduced Hessian of
        ``J(w) = J(a*(w), w)`` is ``H = K - 2 diag(a q) - 2 (diag(h) X diag(a) + transpose) - 2 (h h^T) o G^{-1}``
        where ``K_ik = 2 a_i a_k gamma_i gamma_k/(w_i + w_k)`` is Kaufman's matrix and ``X = G^{-1} C_2``
        (``C_2 = 1/(w_i + w_k)^2``) has the closed form ``X_jk = -w_j beta_j/(w_k beta_k (w_k - w_j))``
        (``j != k``), ``X_kk = -gamma_k - sum_{j != k} X_jk``, ``beta_j = prod_{l != j} (w_j+w_l)/(w_j-w_l)``, and
        ``G^{-1}_ij = A_i A_j/(w_i + w_j)``, ``A_i = prod_k (w_i + w_k) / prod_{k != i} (w_i - w_k)``.
        """
        w, a, dps = st.w, st.a, st.dps
        L1, _ = self.t.laplace(w, 1, dps, self.ar)
        L2, _ = self.t.laplace(w, 2, dps, self.ar)
        G2 = G * G
        # the residual inner products cancel: working precision
        h = G2.dot(a) - L1
        q = L2 - 2 * (G2 * G).dot(a)
        gw = -2 * a * h
        if dps is None:
            parts = _structure(w, a, h, q)
        else:
            fl = (lambda v: np.array([float(x) for x in v]))
            parts = _structure(fl(w), fl(a), fl(h), fl(q))
            if parts is None:  # products outside float64 range: the same formulas at the working precision
                parts = _structure(w, a, h, q)
        K, H = parts
        om = np.array([float(x) for x in omega])
        gwf = np.array([float(x) for x in gw])
        st.g = om * gwf
        st.K = om[:, None] * K * om[None, :]
        st.H = om[:, None] * H * om[None, :] + np.diag(om * gwf)

    def evaluate_adaptive(self, u: np.ndarray, grad: bool) -> FitState:
        """Evaluate, raising the precision (auto mode) until J has ~12 correct digits."""
        while True:
            try:
                st = self.evaluate(u, grad)
            except SingularGramError:
                if self.dps is not None and self.dps >= MAX_DPS:
                    raise PrecisionError("the Cauchy-Gram matrix is singular at the maximum precision") from None
                if not self.auto and self.dps is not None:
                    raise PrecisionError(f"dps={self.dps} cannot resolve the coalescing rates; pass more digits") \
                        from None
                self.dps = 30 if self.dps is None else min(MAX_DPS, 2 * self.dps)
                continue
            need = self.required_dps(st)
            if need is None or (self.dps is not None and need <= self.dps):
                return st
            if not self.auto:
                if need > (self.dps or 15) + 10:
                    raise PrecisionError(
                        f"dps={self.dps} is not enough for this fit: the loss J = {float(st.J):.3g} needs about "
                        f"dps={need} (pass dps=None for automatic precision or dps >= {need})")
                return st
            self.dps = need

    # ------------------------------------------------------------------ Levenberg-Marquardt
    def minimize(self, u0: np.ndarray, max_iter: int, rtol: float, lam: float = 1e-4) -> tuple[FitState, bool]:
        """Levenberg-Marquardt (Nielsen's damping update) from ``u0``; returns the final state and convergence."""
        st = self.evaluate_adaptive(np.asarray(u0, float), True)
        norm2 = float(self.t.norm2(None))
        nu = 2.0
        small = 0
        for _ in range(max_iter):
            if float(st.J) <= EXACT_REL_LOSS * norm2:
                return st, True
            self.iterations += 1
            free = ~self.blocked(st.u, st.g)
            if not free.any():
                return st, True
            idx = np.flatnonzero(free)
            dK = np.diag(st.K)[idx]
            Dm = np.maximum(dK, 1e-12 * max(float(np.max(dK)), 1e-300))
            sD = np.sqrt(Dm)
            gf = st.g[idx]
            rhs = -gf / sD
            try:
                Hfull = st.H
                A = Hfull[np.ix_(idx, idx)] / np.outer(sD, sD)
                evals, evecs = np.linalg.eigh(A)
                if not evals[0] > 1e-14 * evals[-1]:  # exact Hessian not positive definite: Gauss-Newton
                    Hfull = st.K
                    A = Hfull[np.ix_(idx, idx)] / np.outer(sD, sD)
                    evals, evecs = np.linalg.eigh(A)
            except np.linalg.LinAlgError:
                return st, False
            evals = np.maximum(evals, 0.0)
            proj = evecs.T @ rhs
            accepted = False
            while lam < 1e20:
                y = evecs @ (proj / (evals + lam))
                step = y / sD
                big = float(np.max(np.abs(step)))
                if big > 2.0:
                    step *= 2.0 / big
                delta = np.zeros(st.u.size)
                delta[idx] = step
                u_new = self.project(st.u + delta)
                delta = u_new - st.u
                if float(np.max(np.abs(delta))) == 0.0:
                    break
                pred = float(-(st.g @ delta) - 0.5 * (delta @ (Hfull @ delta)))
                if pred <= 4 * float(st.J_err):
                    lam, nu = lam * nu, nu * 2
                    if pred > 0 or lam > 1e12:
                        break  # the best predicted gain is below the rounding level of J: converged
                    continue
                try:
                    new = self.evaluate_adaptive(u_new, True)
                except (SingularGramError, NotIntegrableError):
                    lam, nu = lam * nu, nu * 2
                    continue
                if new.dps != st.dps:  # the precision moved: compare at the same precision
                    st = self.evaluate(st.u, True, new.dps)
                dJ = float(st.J - new.J)
                if dJ > float(st.J_err + new.J_err):
                    ratio = dJ / pred
                    lam = max(1e-15, lam * (0.1 if ratio > 0.75 else max(1 / 3, 1 - (2 * ratio - 1) ** 3)))
                    nu = 2.0
                    small = small + 1 if dJ <= rtol * float(new.J) else 0
                    st = new
                    accepted = True
                    break
                lam, nu = lam * nu, nu * 2
            if not accepted:
                return st, True
            if small >= 2:
                return st, True
        return st, False

    # ------------------------------------------------------------------ continuation
    def insertion_points(self, st: FitState, count: int) -> list[float]:
        """Log-rates where adding a mode decreases the loss most: ``2x R(x)^2 / B(x)^2``."""
        u = st.u
        cand = []
        for lo, hi in zip(u[:-1], u[1:]):
            cand += [lo + f * (hi - lo) for f in (0.25, 0.5, 0.75)]
        cand += [u[0] - d for d in (0.5, 1.0, 2.0, 3.5, 5.0, 8.0)]
        cand += [u[-1] + d for d in (0.5, 1.0, 2.0, 3.5, 5.0, 8.0)]
        cand = np.clip(np.array(cand), self.lo, _U_HI)
        cand = np.unique(np.array([c for c in cand if np.min(np.abs(u - c)) > max(1e-3, 2 * self.sep)]))
        if cand.size == 0:
            return []
        dps = st.dps
        with self._context(dps):
            _, x = self.rates(cand, dps)
            Lx, _ = self.t.laplace(x, 0, dps, self.ar)
            S = 1 / (x[:, None] + st.w[None, :])
            Rx = Lx - S.dot(st.a)
            Bx = np.prod((x[:, None] - st.w[None, :]) * S, axis=1)
            gain = np.array([float(v) for v in 2 * x * Rx * Rx / (Bx * Bx)])
        order = np.argsort(-gain)
        return [float(cand[i]) for i in order[:count]]


def _structure(w, a, h, q):
    """Kaufman matrix ``K`` and exact reduced Hessian ``H`` in the rates ``w`` (float64 results).

    Only products and quotients of rate sums and differences enter (no cancellation), so float64 is accurate
    when ``w, a, h, q`` are (``h``, ``q`` come from the working precision). Returns None if a product leaves
    float64 range; the same code then runs on the numbers of the working precision (mpf or arb).
    """
    m = w.shape[0]
    obj = w.dtype == object
    S = w[:, None] + w[None, :]
    Dif = w[:, None] - w[None, :]
    one = type(w[0])(1) if obj else 1.0
    for k in range(m):
        Dif[k, k] = one
    R = Dif / S
    for k in range(m):
        R[k, k] = one
    with np.errstate(all="ignore"):
        if obj:
            prodR = np.array([_prod(row) for row in R], dtype=object)
            A = np.array([_prod(S[i]) / _prod(Dif[i]) for i in range(m)], dtype=object)
        else:
            # in log space: products of m factors may leave float64 range although the results do not
            logR = np.log(np.abs(R)).sum(axis=1)
            sgnR = np.prod(np.sign(R), axis=1)
            logA = np.log(S).sum(axis=1) - np.log(np.abs(Dif)).sum(axis=1)
            sgnA = np.prod(np.sign(Dif), axis=1)
            if np.max(np.abs(logR)) > 650 or np.max(np.abs(logA)) > 300:
                return None
            prodR = sgnR * np.exp(logR)
            A = sgnA * np.exp(logA)
        G = 1 / S
        gam = -prodR / (2 * w)
        wb = w / prodR  # w_j beta_j
        X = -wb[:, None] / (wb[None, :] * (-Dif))
        for k in range(m):
            X[k, k] = 0
            X[k, k] = -gam[k] - np.sum(X[:, k])
        Ginv = (A[:, None] * A[None, :]) * G
        K = 2 * ((a * gam)[:, None] * (a * gam)[None, :]) * G
        cross = (h[:, None] * X) * a[None, :]
        H = K - 2 * (cross + cross.T) - 2 * (h[:, None] * h[None, :]) * Ginv
        for k in range(m):
            H[k, k] -= 2 * a[k] * q[k]
    if obj:
        K = np.array([[float(x) for x in row] for row in K])
        H = np.array([[float(x) for x in row] for row in H])
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(H))):
        return None
    return K, H


def _prod(row):
    """Product of the entries of an object array (mpf or arb)."""
    return functools.reduce(operator.mul, row)


class SingularGramError(Exception):
    """Coalescing rates: G is singular at the working precision."""


def project_coefficients(target: FitTarget, w: np.ndarray, dps: int | None) -> tuple[np.ndarray, object]:
    """Optimal coefficients and loss for the given rates (float64, or at ``dps`` digits in Arb balls used as
    floating-point numbers, returned as mpf).

    Parameters
    ----------
    target : FitTarget
    w : ndarray
        Distinct positive rates (taken as exact binary values).
    dps : int or None
        Decimal digits (None: float64).

    Returns
    -------
    (a, J) : tuple
        Coefficients of ``G a = b`` (float64 or mpf array) and ``J = ||rho||^2 - 2 a.b + a^T G a``.
    """
    if dps is None:
        wv = np.asarray(w, float)
        b, _ = target.laplace(wv, 0, None)
        Lm, D = cauchy_ldl(wv)
        z = _forward(Lm, b)
        a = _backward(Lm, z / D)
        G = 1 / (wv[:, None] + wv[None, :])
        J = float(target.norm2(None)) - 2 * float(a @ b) + float(a @ G @ a)
        return a, J
    ar = FLINT
    with ar.workdps(dps):
        wv = np.array([ar.num(float(x)) for x in w], dtype=object)
        b, _ = target.laplace(wv, 0, dps, ar)
        Lm, D = cauchy_ldl(wv)
        z = _forward(Lm, b)
        a = _backward(Lm, z / D)
        G = 1 / (wv[:, None] + wv[None, :])
        J = ar.num(target.norm2(dps)) - 2 * _fdot(a, b) + _fdot(a, G.dot(a))
        return np.array([+ar.to_mpf(x) for x in a], dtype=object), +ar.to_mpf(J)


def _loss_terms(target: FitTarget, a, w, dps: int):
    """``J = ||rho||^2 - 2 a.b + a^T G a`` and the magnitude of its terms, at ``dps`` digits."""
    with mp.workdps(dps):
        wv = np.array([mp.mpf(x) for x in w], dtype=object)
        av = np.array([x if isinstance(x, mp.mpf) else mp.mpf(x) for x in a], dtype=object)
        b, eb = target.laplace(wv, 0, dps)
        G = 1 / (wv[:, None] + wv[None, :])
        n2 = target.norm2(dps)
        J = n2 - 2 * mp.fdot(av, b) + mp.fdot(av, G.dot(av))
        aa = _abs(av)
        mag = n2 + 2 * mp.fdot(aa, _abs(b)) + mp.fdot(aa, G.dot(aa)) + 2 * mp.fdot(aa, _abs(eb)) * 10 ** dps
        return +J, mag


def exact_loss(rho_or_target, a, w, min_digits: int = 10) -> tuple[mp.mpf, int, float]:
    """``||sum_i a_i e^{-w_i t} - rho||_2^2`` in closed form, at the precision its cancellation needs.

    Parameters
    ----------
    rho_or_target : Kernel
        Square-integrable kernel.
    a : sequence of float, mpf or decimal str
        Coefficients (taken as exact numbers).
    w : sequence of float
        Positive rates (exact binary values).
    min_digits : int
        Correct digits wanted.

    Returns
    -------
    (loss, dps, digits) : tuple
        The loss (mpf), the digits used and the digits verified (agreement with 20 more digits).
    """
    target = rho_or_target if isinstance(rho_or_target, FitTarget) else FitTarget(rho_or_target)
    w = [float(x) for x in w]
    if any(not (x > 0 and math.isfinite(x)) for x in w):
        raise InvalidArgumentError("rates must be finite and > 0")
    with mp.workdps(max([60] + [len(x) + 5 for x in a if isinstance(x, str)])):
        a_in = [mp.mpf(x) for x in a]
    dps = 30
    for _ in range(4):
        J, mag = _loss_terms(target, a_in, w, dps)
        floor = mag * mp.mpf(10) ** (-(dps - 5))
        if abs(J) <= floor and dps >= 60:
            break  # zero to working precision: an exact representation (reported with 0 verified digits)
        lost = float(mp.log10(mag / max(abs(J), floor))) if mag > 0 else 0.0
        if lost + min_digits + 5 <= dps:
            break
        dps = int(lost + min_digits + 15)
        if dps > MAX_DPS:
            raise PrecisionError(f"the loss needs more than {MAX_DPS} digits (terms cancel to {lost:.0f} digits)")
    Jc, _ = _loss_terms(target, a_in, w, dps + 20)
    with mp.workdps(dps + 25):
        diff = abs(J - Jc)
        digits = float(min(30.0, -mp.log10(diff / abs(Jc)))) if diff > 0 and Jc != 0 else 30.0
    return Jc, dps, digits


def exact_projection(rho_or_target, w) -> tuple[list, mp.mpf, int, float]:
    """L2-optimal coefficients for fixed rates (the Cauchy-Gram system ``G a = b``) and the resulting loss.

    The closed-form ``L D L^T`` factorisation of ``G`` is used at a precision sized from ``cond(G)`` and from
    the cancellation in ``J = ||rho||^2 - b^T G^{-1} b``, and checked against 20 more digits.

    Returns
    -------
    (a, loss, dps, digits) : tuple
        Coefficients (list of mpf at ``dps``), loss (mpf), digits used, verified digits of the loss.
    """
    target = rho_or_target if isinstance(rho_or_target, FitTarget) else FitTarget(rho_or_target)
    w = np.asarray([float(x) for x in w])
    if np.any(~np.isfinite(w)) or np.any(w <= 0) or np.unique(w).size != w.size:
        raise InvalidArgumentError("rates must be finite, > 0 and distinct")
    _, log10c = cauchy_condition(w)
    dps = int(max(30, min(MAX_DPS, 25 + log10c)))
    for _ in range(4):
        a, J = project_coefficients(target, w, dps)
        _, mag = _loss_terms(target, a, w, dps)
        with mp.workdps(dps):
            floor = mag * mp.mpf(10) ** (-(dps - 5))
            if abs(J) <= floor and dps >= 60:
                break  # the kernel is in the span: zero to working precision
            lost = float(mp.log10(mag / max(abs(J), floor)))
        need = int(lost + 0.5 * log10c + 25)
        if need <= dps:
            break
        dps = min(MAX_DPS, need)
    _, Jc = project_coefficients(target, w, dps + 20)
    with mp.workdps(dps + 25):
        diff = abs(J - Jc)
        digits = float(min(30.0, -mp.log10(diff / abs(Jc)))) if diff > 0 and Jc != 0 else 30.0
    return list(a), Jc, dps, digits
