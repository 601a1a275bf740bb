r"""Best L2 approximation of a memory kernel by a sum of real exponentials (THEORY.md §3).

The width-``m`` linear RNN with real diagonal recurrence has the kernel ``rho_hat(t) = sum_i a_i e^{-w_i t}``.
:func:`best_exponential_sum` computes the L2-optimal one,

.. math:: \min_{a \in \mathbb R^m,\ w_i > 0} J(a, w) = \int_0^\infty (\hat\rho - \rho)^2 dt,

optionally with a stability margin ``w_i >= min_rate``.

Method (variable projection)
----------------------------
For fixed rates the optimal coefficients solve the Cauchy-Gram system ``G a = b`` with ``G_ij = 1/(w_i + w_j)``
and ``b_i = L[rho](w_i)``; the reduced loss is ``J(w) = ||rho||^2 - b^T G^{-1} b``. ``G`` is a Cauchy matrix:
its Schur complements are again Cauchy-like, which gives the factorisation ``G = L D L^T`` in closed form,

.. math:: D_k = \frac{P_k(k)^2}{2 w_k},\qquad L_{ik} = \frac{2 w_k P_k(i)}{(w_i + w_k) P_k(k)},\qquad
          P_k(i) = \prod_{l<k} \frac{w_i - w_l}{w_i + w_l},

every entry a product (no cancellation), so it is accurate however ill-conditioned ``G`` is. The log-rates
``u = log(w - min_rate)`` are optimised by Levenberg-Marquardt with Kaufman's Gauss-Newton matrix, which for
exponentials is also closed form: the residual of projecting ``t e^{-w_k t}`` onto the span of the
exponentials has Laplace transform ``gamma_k B(s)/(s + w_k)`` with ``B`` the Blaschke product of the rates, so

.. math:: \langle P^\perp \psi_k, P^\perp\psi_l\rangle = \frac{\gamma_k\gamma_l}{w_k + w_l},\qquad
          \gamma_k = -\frac{1}{2 w_k}\prod_{j \ne k}\frac{w_k - w_j}{w_k + w_j}.

The gradient uses ``L[t rho](w) = -dL[rho]/ds``. Widths are reached by continuation ``m -> m + 1``: the new rate
is inserted where the loss decrease of adding one mode, ``2x R(x)^2 / B(x)^2`` (``R`` the Laplace transform of
the residual), is largest, with several insertion points tried (multi-start). The loss is the difference of
``||rho||^2`` and a quantity close to it, so float64 runs out of digits once the relative loss is below about
1e-8; the computation then moves to mpmath with ``dps`` sized from the magnitudes of the terms (which grow with
the condition number of ``G``). Every result carries the precision it needed and an a posteriori check of its
digits (recomputation at 20 more digits).

References: [CoM] Li, Han, E, Li (ICLR 2021; JMLR 2022); Braess & Hackbusch, *Approximation of 1/x by
exponential sums in [1, inf)*, IMA J. Numer. Anal. 25 (2005); Golub & Pereyra, *The differentiation of
pseudo-inverses and nonlinear least squares problems whose variables separate*, SIAM J. Numer. Anal. 10 (1973);
Kaufman, BIT 15 (1975).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from ..errors import ConvergenceError, InvalidArgumentError, NotIntegrableError, PrecisionError
from ..kernels.kernel import Kernel
from ..models.linear import DiagonalRNN

__all__ = [
    "BestSum",
    "RootExponentialFit",
    "best_exponential_sum",
    "best_exponential_sums",
    "fit_root_exponential",
    "cauchy_condition",
]

_EPS = float(np.finfo(float).eps)
#: Relative L2 error below which a fit is "exact": the rates are float64, so smaller errors carry no meaning.
_EXACT_REL_LOSS = 1e-30
#: Log-rate box (rates between 1e-15 and 1e15 times the unit of t).
_U_LO, _U_HI = math.log(1e-15), math.log(1e15)
#: Default smallest separation |log w_i - log w_j| of two rates (see ``min_separation``).
_DEFAULT_SEP = 1e-3
_MAX_DPS = 2000


# ============================================================================================ results
@dataclass(frozen=True)
class BestSum:
    """An L2-best exponential sum ``rho_hat(t) = sum_i a_i exp(-w_i t)`` and the precision it was found with.

    Attributes
    ----------
    m : int
        Width (number of exponentials).
    a, w : tuple of float
        Coefficients and rates (rates ascending). ``a`` is optimal for exactly these float64 rates.
    loss : float
        ``J = ||rho_hat - rho||_2^2`` (the squared L2 error) of ``(a_exact, w)``.
    l2_error : float
        ``sqrt(loss)``.
    relative_l2_error : float
        ``l2_error / ||rho||_2``.
    cond : float
        1-norm condition number of the Cauchy-Gram matrix ``G_ij = 1/(w_i + w_j)`` (``inf`` beyond float64;
        see ``log10_cond``).
    log10_cond : float
        ``log10(cond)``, computed in log space (never overflows).
    dps : int or None
        mpmath digits the final loss was computed with (None: float64 sufficed).
    loss_digits : float
        Correct significant digits of ``loss`` (agreement with a recomputation at higher precision).
    min_rate : float or None
        Stability margin imposed (rates ``>= min_rate``).
    iterations : int
        Levenberg-Marquardt iterations spent at this width (all starts).
    converged : bool
        Whether the optimiser met its tolerance (False: stopped at the iteration limit or by lack of digits).
    a_exact : tuple of str
        The coefficients at full working precision (decimal strings), for reconstructions beyond float64.
    """

    m: int
    a: tuple
    w: tuple
    loss: float
    l2_error: float
    relative_l2_error: float
    cond: float
    log10_cond: float
    dps: int | None
    loss_digits: float
    min_rate: float | None
    iterations: int
    converged: bool
    a_exact: tuple = field(default=(), repr=False)

    @property
    def model(self) -> DiagonalRNN:
        """The approximant as a :class:`~memtheory.models.linear.DiagonalRNN`."""
        return DiagonalRNN(np.array(self.a), np.array(self.w))

    @property
    def margin(self) -> float:
        """Stability margin ``min_i w_i`` (distance of the spectrum ``-w`` to the imaginary axis)."""
        return float(min(self.w))

    def to_dict(self) -> dict:
        """JSON-ready dict (keys ``m, loss, l2_error, a, w, cond, dps`` and the rest of the fields)."""
        return {
            "m": self.m,
            "loss": self.loss,
            "l2_error": self.l2_error,
            "relative_l2_error": self.relative_l2_error,
            "a": list(self.a),
            "w": list(self.w),
            "cond": self.cond if math.isfinite(self.cond) else None,
            "log10_cond": self.log10_cond,
            "dps": self.dps,
            "loss_digits": self.loss_digits,
            "min_rate": self.min_rate,
            "margin": self.margin,
            "iterations": self.iterations,
            "converged": self.converged,
            "a_exact": list(self.a_exact),
        }


@dataclass(frozen=True)
class RootExponentialFit:
    """Least-squares fit ``log(error) = log(A) - c sqrt(m)`` (Braess-Hackbusch: ``error ~ A exp(-c sqrt(m))``).

    Attributes
    ----------
    c : float
        Fitted exponent (larger: faster convergence).
    A : float
        Prefactor.
    c_stderr : float
        Standard error of ``c``.
    r2 : float
        Coefficient of determination of the linear fit in ``(sqrt(m), log error)``.
    ms : tuple of int
        Widths used.
    """

    c: float
    A: float
    c_stderr: float
    r2: float
    ms: tuple

    def predict(self, m) -> np.ndarray:
        """``A exp(-c sqrt(m))``."""
        return self.A * np.exp(-self.c * np.sqrt(np.asarray(m, float)))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"c": self.c, "A": self.A, "c_stderr": self.c_stderr, "r2": self.r2, "ms": list(self.ms)}


def fit_root_exponential(ms, errors) -> RootExponentialFit:
    """Fit ``error ~ A exp(-c sqrt(m))`` by least squares on ``log(error)`` against ``sqrt(m)``.

    Parameters
    ----------
    ms : sequence of int
        Widths (at least 3).
    errors : sequence of float
        Positive errors at those widths.

    Returns
    -------
    RootExponentialFit
    """
    ms = np.asarray(ms, float)
    err = np.asarray(errors, float)
    if ms.shape != err.shape or ms.size < 3:
        raise InvalidArgumentError("fit_root_exponential needs at least 3 (m, error) pairs of equal length")
    if np.any(err <= 0) or not np.all(np.isfinite(err)):
        raise InvalidArgumentError("errors must be finite and > 0 for a log fit")
    x, y = np.sqrt(ms), np.log(err)
    A = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(1, x.size - 2)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(A.T @ A)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0
    return RootExponentialFit(float(-coef[1]), float(math.exp(coef[0])), float(math.sqrt(cov[1, 1])), r2,
                              tuple(int(v) for v in ms))


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


def _exp_obj(x):
    return np.array([mp.exp(v) for v in x], dtype=object)


def _abs(x):
    return np.abs(x) if x.dtype != object else np.array([abs(v) for v in x], dtype=object)


def _cauchy_ldl(w: np.ndarray):
    """``G = L D L^T`` for ``G_ij = 1/(w_i + w_j)`` from the closed-form Schur complements (float or mpf)."""
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


def _forward(Lm, b):
    """Solve ``L z = b`` (unit lower triangular)."""
    if Lm.dtype != object:
        from scipy.linalg import solve_triangular

        return solve_triangular(Lm, b, lower=True, unit_diagonal=True, check_finite=False)
    z = np.empty(b.shape[0], dtype=object)
    for k in range(b.shape[0]):
        z[k] = b[k] - (mp.fdot(Lm[k, :k], z[:k]) if k else 0)
    return z


def _backward(Lm, y):
    """Solve ``L^T x = y``."""
    if Lm.dtype != object:
        from scipy.linalg import solve_triangular

        return solve_triangular(Lm, y, lower=True, trans="T", unit_diagonal=True, check_finite=False)
    m = y.shape[0]
    x = np.empty(m, dtype=object)
    for k in range(m - 1, -1, -1):
        x[k] = y[k] - (mp.fdot(Lm[k + 1:, k], x[k + 1:]) if k < m - 1 else 0)
    return x


def _dot(x, y):
    return float(np.dot(x, y)) if x.dtype != object else mp.fdot(x, y)


# ============================================================================================ the target
class _Target:
    """A square-integrable kernel with cached Laplace moments ``L[t^k rho](w)`` in float64 or at ``dps`` digits."""

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
        if dps not in self._norm2:
            self._norm2[dps] = self.rho.square_integral(dps=dps)
        return self._norm2[dps]

    def laplace(self, w: np.ndarray, moment: int, dps: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Values and absolute error estimates of ``L[t^moment rho](w)`` (cached per rate)."""
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
class _State:
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
        return self.u.shape[0]


class _VarPro:
    """Variable-projection Levenberg-Marquardt for the reduced loss in log-rates."""

    def __init__(self, target: _Target, min_rate: float | None, dps: int | None, auto: bool,
                 sep: float = _DEFAULT_SEP):
        self.t = target
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
        return _EPS if dps is None else mp.mpf(10) ** (-dps)

    def _rates(self, u: np.ndarray, dps):
        """``(dw/du, w)`` for ``w = exp(u)``."""
        if dps is None:
            w = np.exp(u)
            return w, w
        with mp.workdps(dps):
            w = _exp_obj([mp.mpf(float(x)) for x in u])
            return w, w

    def required_dps(self, st: _State) -> int | None:
        """Digits needed for ~15 correct digits of J (None when float64 gives at least 8)."""
        J = abs(float(st.J))
        norm2 = float(self.t.norm2(None))
        J = max(J, _EXACT_REL_LOSS * norm2)
        m = st.m
        first = math.log10(max(float(st.mag), 1e-300) * (4 * m + 8) / J)
        second = math.log10(max(float(st.second), 1e-300) / J) / 2
        lost = max(first, second, 0.0)
        if lost <= 7.5:
            return None
        return int(min(_MAX_DPS, max(30, math.ceil(lost) + 15)))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, u: np.ndarray, grad: bool, dps="current") -> _State:
        dps = self.dps if dps == "current" else dps
        u = np.sort(np.asarray(u, float))
        ctx = mp.workdps(dps) if dps else _NullCtx()
        with ctx:
            omega, w = self._rates(u, dps)
            b, eb = self.t.laplace(w, 0, dps)
            norm2 = self.t.norm2(dps)
            Lm, D = _cauchy_ldl(w)
            if any(d == 0 for d in D) or (dps is None and not np.all(np.isfinite(D))):
                raise _Singular
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
            st = _State(u, dps, w, a, b, J, J_err, mag, second, Lm, D)
            if grad:
                self._derivatives(st, omega, G)
        return st

    def _derivatives(self, st: _State, omega: np.ndarray, G: np.ndarray) -> None:
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
        L1, _ = self.t.laplace(w, 1, dps)
        L2, _ = self.t.laplace(w, 2, dps)
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
            if parts is None:  # products outside float64 range: same formulas in mpmath
                parts = _structure(w, a, h, q)
        K, H = parts
        om = np.array([float(x) for x in omega])
        gwf = np.array([float(x) for x in gw])
        st.g = om * gwf
        st.K = om[:, None] * K * om[None, :]
        st.H = om[:, None] * H * om[None, :] + np.diag(om * gwf)

    def evaluate_adaptive(self, u: np.ndarray, grad: bool) -> _State:
        """Evaluate, raising the precision (auto mode) until J has ~12 correct digits."""
        while True:
            try:
                st = self.evaluate(u, grad)
            except _Singular:
                if self.dps is not None and self.dps >= _MAX_DPS:
                    raise PrecisionError("the Cauchy-Gram matrix is singular at the maximum precision") from None
                if not self.auto and self.dps is not None:
                    raise PrecisionError(f"dps={self.dps} cannot resolve the coalescing rates; pass more digits") \
                        from None
                self.dps = 30 if self.dps is None else min(_MAX_DPS, 2 * self.dps)
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
    def minimize(self, u0: np.ndarray, max_iter: int, rtol: float, lam: float = 1e-4) -> tuple[_State, bool]:
        """Levenberg-Marquardt (Nielsen's damping update) from ``u0``; returns the final state and convergence."""
        st = self.evaluate_adaptive(np.asarray(u0, float), True)
        norm2 = float(self.t.norm2(None))
        nu = 2.0
        small = 0
        for _ in range(max_iter):
            if float(st.J) <= _EXACT_REL_LOSS * norm2:
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
                except (_Singular, NotIntegrableError):
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
    def insertion_points(self, st: _State, count: int) -> list[float]:
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
        ctx = mp.workdps(dps) if dps else _NullCtx()
        with ctx:
            _, x = self._rates(cand, dps)
            Lx, _ = self.t.laplace(x, 0, dps)
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
    float64 range; the same code then runs on mpmath numbers.
    """
    m = w.shape[0]
    obj = w.dtype == object
    S = w[:, None] + w[None, :]
    Dif = w[:, None] - w[None, :]
    one = mp.mpf(1) if obj else 1.0
    for k in range(m):
        Dif[k, k] = one
    R = Dif / S
    for k in range(m):
        R[k, k] = one
    with np.errstate(all="ignore"):
        if obj:
            prodR = np.array([mp.fprod(row) for row in R], dtype=object)
            A = np.array([mp.fprod(S[i]) / mp.fprod(Dif[i]) for i in range(m)], dtype=object)
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


class _Singular(Exception):
    """Coalescing rates: G is singular at the working precision."""


class _NullCtx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ============================================================================================ public API
def _check_m(m) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise InvalidArgumentError(f"m must be an integer >= 1, got {m!r}")
    if m > 200:
        raise InvalidArgumentError(f"m must be <= 200 (got {m}); the Cauchy-Gram digits grow linearly in m")
    return int(m)


def _check_min_rate(min_rate) -> float | None:
    if min_rate is None:
        return None
    if isinstance(min_rate, bool) or not isinstance(min_rate, (int, float, np.floating)) or \
            not math.isfinite(min_rate) or min_rate <= 0:
        raise InvalidArgumentError(f"min_rate must be a finite number > 0 (or None), got {min_rate!r}")
    if min_rate > 1e12:
        raise InvalidArgumentError(f"min_rate = {min_rate:g} leaves no admissible rate below the 1e15 rate bound; "
                                   "the constrained problem is infeasible at working precision")
    return float(min_rate)


def _check_norm(norm) -> None:
    if norm not in ("L2", "l2", 2):
        raise InvalidArgumentError(f"norm must be 'L2' (the L2-best sum is computed; its L1 and sup errors are "
                                   f"available from memtheory.approximation.errors), got {norm!r}")


def _check_dps(dps) -> int | None:
    if dps is None:
        return None
    if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)) or not 15 <= dps <= _MAX_DPS:
        raise InvalidArgumentError(f"dps must be None or an integer in [15, {_MAX_DPS}], got {dps!r}")
    return int(dps)


#: Continuation paths, keyed by (kernel, min_rate, dps, rtol, starts): {m: BestSum}.
_PATHS: OrderedDict = OrderedDict()
#: Widths always computed one by one (cheap, float64) before larger widths are reached by jumps.
_WARM = 6


def _kernel_key(rho: Kernel):
    return (rho.expr, tuple(sorted(rho.exact_params.items())))


def best_exponential_sums(rho: Kernel, ms, norm: str = "L2", min_rate: float | None = None,
                          dps: int | None = None, starts: int = 2, rtol: float = 1e-10,
                          max_iter: int = 100, min_separation: float = _DEFAULT_SEP) -> tuple[BestSum, ...]:
    """L2-best exponential sums for several widths, by continuation in the width (THEORY.md §3).

    Parameters
    ----------
    rho : Kernel
        Square-integrable target kernel.
    ms : int or sequence of int
        Widths wanted (each >= 1). Widths up to 6 are always computed one by one; a larger width starts from
        the largest width already computed below it: from ``m - 1`` by inserting a rate at the ``starts``
        places where one more mode lowers the loss most (plus a stretched copy of the previous rates); from a
        smaller width by stretching its log-rates to ``m`` points (three variants). Results are cached per
        kernel: asking for ``range(1, 31)`` walks all widths, asking for ``[10, 20, 30]`` jumps.
    norm : {"L2"}
        The approximation norm (the L2 structure, Cauchy-Gram systems, is what makes the problem tractable).
    min_rate : float, optional
        Stability margin: rates ``w_i >= min_rate`` (parameterised ``w = min_rate + e^u``).
    dps : int, optional
        Fixed mpmath precision. Default: float64 while it gives >= 8 correct digits of the loss, then mpmath
        with the digits the loss needs (sized from the magnitudes of the Cauchy-Gram terms, which grow with
        the condition number of ``G``).
    starts : int
        Insertion points tried when going from ``m - 1`` to ``m`` (multi-start, together with a stretched copy
        of the previous rates); starts are run a few iterations at a time and the worse half dropped
        (successive halving) until one is left.
    rtol : float
        The optimiser stops after two accepted steps that lower the loss by less than ``rtol * J``.
    max_iter : int
        Levenberg-Marquardt iterations for the final optimisation at each width.
    min_separation : float
        Smallest ``|log w_i - log w_j|`` allowed (default 1e-3). Where the optimum wants coalescing rates (the
        confluent limit ``t^k e^{-wt}``, e.g. ``(1 + t) e^{-2t}``, or rates piling up at ``min_rate``) they stop
        at this gap: the loss is then within a small relative amount of the infimum, and the coefficients of the
        clustered modes grow like ``min_separation^-(k-1)`` (reported ``cond``).

    Returns
    -------
    tuple of BestSum
        One per requested width, in the order of ``ms``.

    Raises
    ------
    NotIntegrableError
        If rho is not square-integrable.
    InvalidArgumentError
        For m < 1, a non-L2 norm, a min_rate that is not a positive finite number (or leaves no room below the
        rate bound 1e15).
    PrecisionError
        With a fixed ``dps`` too small for the loss reached.

    Examples
    --------
    >>> import memtheory as mt
    >>> fits = mt.approximation.best_exponential_sums(mt.kernels.power_law(1.5), [1, 2, 3])
    >>> [round(f.l2_error, 4) for f in fits]
    [0.1374, 0.0391, 0.0135]
    """
    _check_norm(norm)
    single = isinstance(ms, (int, np.integer)) and not isinstance(ms, bool)
    ms_list = [ms] if single else list(ms)
    if not ms_list:
        raise InvalidArgumentError("ms must name at least one width")
    ms_list = [_check_m(m) for m in ms_list]
    min_rate = _check_min_rate(min_rate)
    dps = _check_dps(dps)
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise InvalidArgumentError(f"starts must be an integer >= 1, got {starts!r}")
    if not (isinstance(rtol, float) and 0 < rtol < 1):
        raise InvalidArgumentError(f"rtol must be a float in (0, 1), got {rtol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise InvalidArgumentError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not (isinstance(min_separation, float) and 1e-12 <= min_separation <= 0.5):
        raise InvalidArgumentError(f"min_separation must be a float in [1e-12, 0.5], got {min_separation!r}")
    target = _Target(rho)
    key = (_kernel_key(rho), min_rate, dps, rtol, int(starts), min_separation)
    path = _PATHS.get(key)
    if path is None:
        path = _PATHS[key] = {}
        if len(_PATHS) > 64:
            _PATHS.popitem(last=False)
    else:
        _PATHS.move_to_end(key)
    wanted = sorted(set(ms_list) | set(range(1, min(max(ms_list), _WARM) + 1)))
    _solver = _PathSolver(target, min_rate, dps, int(starts), rtol, int(max_iter), min_separation)
    for m in wanted:
        if m not in path:
            path[m] = _solver.solve(path, m)
    return tuple(path[m] for m in ms_list)


def best_exponential_sum(rho: Kernel, m: int, norm: str = "L2", min_rate: float | None = None,
                         dps: int | None = None, **kwargs) -> BestSum:
    """The L2-best width-``m`` exponential sum ``sum_i a_i exp(-w_i t)`` approximating ``rho``.

    Variable projection (closed-form Cauchy-Gram factorisation, Newton / Gauss-Newton Levenberg-Marquardt in
    the log-rates, continuation from smaller widths, multi-start insertion); precision chosen automatically
    unless ``dps`` is given. See :func:`best_exponential_sums` for the parameters, the module docstring for
    the method.

    Examples
    --------
    >>> import memtheory as mt
    >>> best = mt.approximation.best_exponential_sum(mt.kernels.power_law(1.5), 4)
    >>> best.l2_error < 1e-2, best.m, len(best.w)
    (True, 4, 4)
    """
    return best_exponential_sums(rho, [m], norm=norm, min_rate=min_rate, dps=dps, **kwargs)[0]


class _PathSolver:
    """Computes the best sum at width m from the results at smaller widths."""

    def __init__(self, target: _Target, min_rate, dps, starts: int, rtol: float, max_iter: int, sep: float):
        self.vp = _VarPro(target, min_rate, dps, auto=dps is None, sep=sep)
        self.starts, self.rtol, self.max_iter = starts, rtol, max_iter
        self.min_rate = min_rate

    def _u(self, res: BestSum) -> np.ndarray:
        return self.vp.project(np.log(np.array(res.w)))

    def solve(self, path: dict, m: int) -> BestSum:
        vp = self.vp
        vp.iterations = 0
        below = [k for k in path if k < m]
        norm2 = float(vp.t.norm2(None))
        if not below:
            inits = [np.array([u]) for u in _initial_rates(vp, self.starts)]
            if m > 1:
                inits = [np.linspace(u[0] - 0.5 * (m - 1), u[0] + 0.5 * (m - 1), m) for u in inits]
            inits = [vp.project(u) for u in inits]
        else:
            prev_res = path[max(below)]
            if prev_res.relative_l2_error ** 2 <= _EXACT_REL_LOSS * 10:
                return _padded(prev_res, m)  # exact already: more modes cannot help
            if prev_res.dps:
                vp.dps = max(vp.dps or 0, prev_res.dps)
            prev = np.sort(self._u(prev_res))
            inits = []
            if max(below) == m - 1:
                st_prev = vp.evaluate_adaptive(prev, False)
                inits = [np.sort(np.append(prev, x)) for x in vp.insertion_points(st_prev, self.starts)]
                inits += _stretched(prev, m)[:1]
            else:
                inits = _stretched(prev, m)
            inits = [vp.project(u) for u in inits]
        # successive halving: every start gets a few iterations, the better half continues
        probes = []
        for u0 in inits:
            try:
                probes.append(vp.minimize(u0, max_iter=3 if len(inits) > 1 else self.max_iter, rtol=self.rtol))
            except (_Singular, ConvergenceError):
                continue
        if not probes:
            raise ConvergenceError(f"no start of the width-{m} fit could be evaluated")
        while len(probes) > 1:
            probes.sort(key=lambda p: float(p[0].J))
            probes = probes[: (len(probes) + 1) // 2]
            if len(probes) > 1:
                probes = [p if p[1] else vp.minimize(p[0].u, max_iter=3, rtol=self.rtol) for p in probes]
        best, conv = probes[0]
        if not conv:
            best, conv = vp.minimize(best.u, max_iter=self.max_iter, rtol=self.rtol)
        if float(best.J) > norm2 * (1 + 1e-12):
            raise ConvergenceError(f"the width-{m} fit did not decrease the loss below ||rho||^2")
        return _finalise(vp, best, conv, self.min_rate)


def _stretched(prev: np.ndarray, m: int) -> list[np.ndarray]:
    """Starting log-rates for width m from sorted log-rates at a smaller width (quantile interpolation)."""
    k = prev.size
    if k == 1:
        return [prev[0] + np.linspace(-1.0, 1.0, m) * 0.6 * (m - 1)]
    q_old = np.linspace(0, 1, k)
    q_new = np.linspace(0, 1, m)
    base = np.interp(q_new, q_old, prev)
    out = [base]
    # the spread of the optimal rates grows with m: also try wider copies
    lo_gap, hi_gap = prev[1] - prev[0], prev[-1] - prev[-2]
    extra = (m - k) / max(k, 1)
    for f_lo, f_hi in ((1.0, 0.0), (1.0, 1.0)):
        lo = prev[0] - f_lo * extra * lo_gap * 2
        hi = prev[-1] + f_hi * extra * hi_gap
        out.append(lo + (base - prev[0]) * (hi - lo) / max(prev[-1] - prev[0], 1e-12))
    return [np.sort(u) + 1e-4 * np.arange(m) for u in out]


def _initial_rates(vp: _VarPro, count: int) -> list[float]:
    """Best single-mode log-rates on a grid (the gain of one mode at rate x is ``2x L[rho](x)^2``)."""
    grid = np.linspace(max(math.log(1e-6), vp.lo), max(math.log(1e6), vp.lo + 6), 73)
    _, x = vp._rates(grid, None)
    try:
        L, _ = vp.t.laplace(x, 0, None)
    except NotIntegrableError:
        L = np.full(grid.shape, np.nan)
    gain = np.where(np.isfinite(L), 2 * x * L * L, -np.inf)
    peaks = [i for i in range(grid.size) if gain[i] == max(gain[max(0, i - 1): i + 2]) and np.isfinite(gain[i])]
    peaks.sort(key=lambda i: -gain[i])
    return [float(grid[i]) for i in peaks[:count]] or [0.0]


def _padded(res: BestSum, m: int) -> BestSum:
    """A width-m result equal to an exact smaller one (the remaining modes carry a = 0)."""
    w = list(res.w)
    a = list(res.a)
    a_exact = list(res.a_exact)
    k = 1
    while len(w) < m:
        w.append(max(w) * (1 + 0.5 * k))
        a.append(0.0)
        a_exact.append("0")
        k += 1
    cond, log10c = cauchy_condition(np.array(w))
    return BestSum(m, tuple(a), tuple(w), res.loss, res.l2_error, res.relative_l2_error, cond, log10c, res.dps,
                   res.loss_digits, res.min_rate, 0, True, tuple(a_exact))


def _finalise(vp: _VarPro, st: _State, converged: bool, min_rate) -> BestSum:
    """Re-project onto the float64 rates that are reported and check the digits of the loss.

    The coefficients and the loss are recomputed for exactly the reported (binary) rates at ``dps + 20`` digits
    and checked against a recomputation at ``dps + 40``.
    """
    w_float = np.array([float(x) for x in st.w])
    target = vp.t
    dps_f = (st.dps or 15) + 20
    a_f, J_f = _project_at(target, w_float, dps_f)
    _, J_c = _project_at(target, w_float, dps_f + 20)
    with mp.workdps(dps_f + 25):
        diff = abs(J_f - J_c)
        digits = float(min(30.0, -mp.log10(diff / abs(J_c)))) if diff > 0 and J_c != 0 else 30.0
    loss = max(0.0, float(J_f))
    norm2 = float(target.norm2(None))
    cond, log10c = cauchy_condition(w_float)
    with mp.workdps(dps_f):
        a_exact = tuple(mp.nstr(x, dps_f - 5) for x in a_f)
    return BestSum(st.m, tuple(float(x) for x in a_f), tuple(w_float.tolist()), loss, math.sqrt(loss),
                   math.sqrt(loss / norm2), cond, log10c, st.dps, round(digits, 2), min_rate, vp.iterations,
                   bool(converged), a_exact)


def _project_at(target: _Target, w: np.ndarray, dps):
    """Optimal coefficients and loss for the given rates (float64 or mpmath)."""
    if dps is None:
        wv = np.asarray(w, float)
        b, _ = target.laplace(wv, 0, None)
        Lm, D = _cauchy_ldl(wv)
        z = _forward(Lm, b)
        a = _backward(Lm, z / D)
        G = 1 / (wv[:, None] + wv[None, :])
        J = float(target.norm2(None)) - 2 * float(a @ b) + float(a @ G @ a)
        return a, J
    with mp.workdps(dps):
        wv = np.array([mp.mpf(float(x)) for x in w], dtype=object)
        b, _ = target.laplace(wv, 0, dps)
        Lm, D = _cauchy_ldl(wv)
        z = _forward(Lm, b)
        a = _backward(Lm, z / D)
        G = 1 / (wv[:, None] + wv[None, :])
        J = target.norm2(dps) - 2 * mp.fdot(a, b) + mp.fdot(a, G.dot(a))
        return a, +J


def _loss_terms(target: _Target, a, w, dps: int):
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
    target = rho_or_target if isinstance(rho_or_target, _Target) else _Target(rho_or_target)
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
        if dps > _MAX_DPS:
            raise PrecisionError(f"the loss needs more than {_MAX_DPS} digits (terms cancel to {lost:.0f} digits)")
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
    target = rho_or_target if isinstance(rho_or_target, _Target) else _Target(rho_or_target)
    w = np.asarray([float(x) for x in w])
    if np.any(~np.isfinite(w)) or np.any(w <= 0) or np.unique(w).size != w.size:
        raise InvalidArgumentError("rates must be finite, > 0 and distinct")
    _, log10c = cauchy_condition(w)
    dps = int(max(30, min(_MAX_DPS, 25 + log10c)))
    for _ in range(4):
        a, J = _project_at(target, w, dps)
        _, mag = _loss_terms(target, a, w, dps)
        with mp.workdps(dps):
            floor = mag * mp.mpf(10) ** (-(dps - 5))
            if abs(J) <= floor and dps >= 60:
                break  # the kernel is in the span: zero to working precision
            lost = float(mp.log10(mag / max(abs(J), floor)))
        need = int(lost + 0.5 * log10c + 25)
        if need <= dps:
            break
        dps = min(_MAX_DPS, need)
    _, Jc = _project_at(target, w, dps + 20)
    with mp.workdps(dps + 25):
        diff = abs(J - Jc)
        digits = float(min(30.0, -mp.log10(diff / abs(Jc)))) if diff > 0 and Jc != 0 else 30.0
    return list(a), Jc, dps, digits
