r"""Arbitrary-precision gradient flow of the plateau problem in offset coordinates (THEORY.md §4).

Why offset coordinates
----------------------
Write the target as ``rho = rho_hat(theta_0) + r`` with the *residual kernel* ``r`` (for the memory family with
``rho_hat(theta_0) = rho_bar``, ``r`` is the moved spike ``rho_0(t - 1/omega)``; the cancellation of ``rho_bar`` is
done symbolically, so no rounding is involved). With ``D_theta = rho_hat(theta) - rho_hat(theta_0)`` the loss is

.. math:: J(\theta) = \|D_\theta - r\|^2 = \|r\|^2 + \|D_\theta\|^2 - 2\langle D_\theta, r\rangle ,

and every quantity of the flow is assembled from the *offsets* ``x = theta - theta_0 = (da, dw)`` by
cancellation-free formulas: the pair sums

.. math:: S_k(i) = \sum_j \Big[\frac{a_j}{(w_i+w_j)^{k+1}} - \frac{a^0_j}{(w_i+w^0_j)^{k+1}}\Big]
          = \sum_j \Big[\frac{\delta a_j}{P^{k+1}} - a^0_j\,\delta w_j\,
            \frac{\sum_{r=0}^{k} P^r Q^{k-r}}{P^{k+1} Q^{k+1}}\Big],\qquad P = w_i + w_j,\ Q = w_i + w^0_j,

are ``<t^k e^{-w_i t}, D_theta>/k!`` written with the differences ``da, dw`` factored out, and the target enters
only through the residual moments ``R_k(i) = L[t^k r](w_i)`` (exponentially small, computed to full relative
precision from their closed forms). Then

* ``dJ/da_i = 2 (S_0(i) - R_0(i))``, ``dJ/dw_i = -2 a_i (S_1(i) - R_1(i))``;
* ``d2J/da_i da_j = 2/(w_i + w_j)``, ``d2J/da_i dw_j = -2 a_j/(w_i + w_j)^2`` (i != j),
  ``d2J/da_i dw_i = -2 (S_1(i) - R_1(i)) - a_i/(2 w_i^2)``, ``d2J/dw_i dw_j = 4 a_i a_j/(w_i + w_j)^3`` (i != j),
  ``d2J/dw_i^2 = 2 a_i (2 S_2(i) - R_2(i)) + a_i^2/(2 w_i^3)``;
* ``J - J(theta_0) = ||D||^2 - 2 <D, r>`` with ``<D_i, D_j>`` expanded in ``da, dw`` (second differences of
  ``1/(p + q)`` in closed form).

The generic assembly computes ``dJ/da_i`` as a difference of O(1) numbers that agree to the size of the
exponentially small spike overlap ``e^{-w/omega}``; resolving the escape forces (about the square of that)
needs ``0.87 w_min/omega`` digits. In offset coordinates nothing cancels at that scale, so a fixed working
precision of a few tens of digits serves every omega (the exponents of mpmath/decimal numbers are unbounded:
``1e-868`` and ``tau = 1e800`` are ordinary numbers).

Arithmetic
----------
The inner loops (pair sums, Hessian, factorisations, stage combinations) run on :class:`decimal.Decimal`
numbers, Python's C implementation (libmpdec) of arbitrary-precision floating point, about six times faster
than mpmath's pure-Python ``mpf`` for ``+ - * /`` at 30-60 digits. The residual moments (error functions,
incomplete gamma...) are evaluated by mpmath from the library's closed forms at the same precision and
converted. Both are correctly rounded at the working precision; exponents are unbounded (|exponent| < 1e9).

Integrator
----------
RODAS4 (Hairer & Wanner, *Solving ODEs II*, §IV.7: Rosenbrock, 6 stages, order 4 with an embedded order-3
error estimate, L-stable and stiffly accurate) in training time ``tau`` with the exact Jacobian
``-hess J`` (never finite differences). The step size follows the usual controller and may grow by up to
``1e4`` per step, so the ``1e800`` of a plateau are crossed in a few hundred steps (the L-stable method puts
the stiff normal directions at their quasi-equilibrium). Because ``hess J`` is symmetric, the stage matrix
``I/(gamma h) + hess J`` is factorised by ``L D L^T``; a step is accepted only if ``kappa/(gamma h) I + hess J``
is positive definite as well (``kappa = 1/2``), i.e. ``gamma h max(0, -lambda_min(hess J)) < 1/2``: near the
escape the Hessian has a negative eigenvalue, and a step with ``h |lambda_neg|`` of order one would be
inaccurate or singular. Hitting times are located by the Illinois method on the step length of the step that
crosses the threshold (each trial is a full RODAS4 step from the last accepted point), so they are as accurate
as the integration itself.

The RODAS4 coefficients are the 16-digit values of Hairer's ``rodas.f``; their consistency error (~1e-16 per
step) is far below the tolerances used (the working precision serves the *cancellation-free resolution* of
exponentially small quantities, not the order conditions).
"""

from __future__ import annotations

import decimal
import os
import functools
import math
from dataclasses import dataclass, field
from decimal import Decimal

import mpmath as mp
import sympy as sp

from ..compile import codegen
from ..errors import ConvergenceError, InvalidArgumentError
from ..kernels.kernel import S, Kernel

__all__ = ["ResidualMoments", "OffsetSystem", "ReducedSystem", "OffsetRun", "integrate_offset", "radau_constants"]



def _erfc(z):
    """``erfc`` at the current precision; for ``z < 0`` through ``2 - erfc(-z)`` (mpmath's own route for negative
    arguments sums the series of ``erf`` and is ~5x slower), and exactly 2 when ``erfc(-z)`` is below the
    working precision (``erfc(x) < exp(-x^2)``)."""
    if z >= 0:
        return mp.erfc(z)
    x = -z
    if x * x > (mp.mp.dps + 3) * 2.302585092994046:
        return mp.mpf(2)
    return 2 - mp.erfc(x)


def _erfcx(z):
    """``exp(z^2) erfc(z)`` (the stable branch of the Gaussian transform, used for ``z >= 0``)."""
    return mp.exp(z * z) * _erfc(z)


_MP_MODULES = [{"erfcx": _erfcx, "erfc": _erfc, "scaled_uppergamma": codegen.mp_scaled_uppergamma,
                "Heaviside": codegen.mp_heaviside, "airyai": mp.airyai}, "mpmath"]


# ============================================================================================ residual moments
def _mp_value(value) -> mp.mpf:
    """An exact SymPy number as mpf at the current precision."""
    value = sp.sympify(value)
    if value.is_Rational:
        return mp.mpf(int(value.p)) / int(value.q)
    return mp.mpf(sp.N(value, mp.mp.dps + 10))


@functools.lru_cache(maxsize=64)
def _split_compile(exprs: tuple, params: tuple):
    """Compile ``exprs(s, params)`` as ``consts(params)`` (s-independent subexpressions, once per binding)
    followed by ``values(s, *consts)``."""
    repl, reduced = sp.cse(list(exprs), symbols=sp.numbered_symbols("_c"))
    const_syms, const_exprs, inline_s, inline_c = [], [], {}, {}
    for sym, ex in repl:
        ex_s = ex.xreplace(inline_s)
        if S in ex_s.free_symbols:
            inline_s[sym] = ex_s
        else:
            const_syms.append(sym)
            const_exprs.append(ex_s.xreplace(inline_c))
            inline_c[sym] = const_exprs[-1]
    body = [r.xreplace(inline_s) for r in reduced]
    consts = sp.lambdify(list(params), const_exprs, modules=_MP_MODULES) if const_syms else None
    values = sp.lambdify([S, *const_syms], body, modules=_MP_MODULES, cse=True)
    return consts, values


class ResidualMoments:
    """``R_k(s) = L[t^k r](s)`` for ``k = 0, 1, 2`` at working precision, from the closed forms of ``r``.

    Parameters
    ----------
    residual : Kernel
        The residual kernel ``r = rho - rho_hat(theta_0)``.

    Notes
    -----
    The closed forms come from :meth:`Kernel.laplace_form`; their parameter-only subexpressions are evaluated
    once per :meth:`bind`. Terms without a closed form fall back to :meth:`Kernel.laplace` (mpmath quadrature,
    much slower).
    """

    def __init__(self, residual: Kernel):
        self.kernel = residual
        self.is_zero = residual.expr == 0
        forms = [] if self.is_zero else [residual.laplace_form(k) for k in range(3)]
        self.is_closed = all(f.is_closed for f in forms)
        self._compiled = None
        if forms and self.is_closed:
            self._compiled = _split_compile(tuple(f.closed for f in forms), residual.param_symbols)

    def bind(self, dps: int):
        """A function ``ws -> (R0, R1, R2)`` (lists of mpf) evaluating at ``dps`` digits."""
        if self.is_zero:
            return lambda ws: ([mp.mpf(0)] * len(ws),) * 3
        r = self.kernel
        if self._compiled is None:
            def quad(ws):
                return tuple(list(r.laplace(list(ws), moment=k, dps=dps)) for k in range(3))
            return quad
        consts_fn, values_fn = self._compiled
        with mp.workdps(dps):
            pv = [_mp_value(v) for v in r.exact_params.values()]
            consts = tuple(consts_fn(*pv)) if consts_fn is not None else ()

        def evaluate(ws):
            out0, out1, out2 = [], [], []
            with mp.workdps(dps):
                for w in ws:
                    v0, v1, v2 = values_fn(w, *consts)
                    out0.append(+v0)
                    out1.append(+v1)
                    out2.append(+v2)
            return out0, out1, out2

        return evaluate


# ============================================================================================ decimal helpers
def _context(dps: int) -> decimal.Context:
    return decimal.Context(prec=dps, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999_999, Emax=999_999_999,
                           capitals=1, clamp=0,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


def to_decimal(x, digits: int) -> Decimal:
    """An mpf (or number) as Decimal with ``digits`` significant digits (exact for Decimal input)."""
    if isinstance(x, Decimal):
        return x
    if not isinstance(x, mp.mpf):
        x = mp.mpf(x)
    return Decimal(mp.libmp.to_str(x._mpf_, digits))


def to_mpf(x: Decimal) -> mp.mpf:
    """A Decimal as mpf at the current mpmath precision."""
    return mp.mpf(str(x))


def _rational(value, ctx: decimal.Context) -> Decimal:
    value = sp.Rational(value)
    return ctx.divide(Decimal(int(value.p)), Decimal(int(value.q)))


# ============================================================================================ the system
class OffsetSystem:
    """Loss, gradient and Hessian of the plateau problem in offset coordinates ``x = theta - theta_0``.

    Parameters
    ----------
    residual : Kernel
        ``r = rho - rho_hat(theta_0)`` (symbolically simplified).
    a0, w0 : sequence of sympy.Rational
        The exact initial point.
    dps : int
        Working precision (decimal digits).

    Notes
    -----
    All methods take and return lists of :class:`decimal.Decimal` and must be called inside
    ``decimal.localcontext(system.context)``.
    """

    def __init__(self, residual: Kernel, a0, w0, dps: int, moments: ResidualMoments | None = None):
        self.m = len(a0)
        self.n = 2 * self.m
        self.dps = int(dps)
        self.context = _context(self.dps)
        self.residual = residual
        self.moments = moments if moments is not None else ResidualMoments(residual)
        self._mp_dps = self.dps + 5
        self._eval_moments = self.moments.bind(self._mp_dps)
        ctx = self.context
        self.a0 = [_rational(v, ctx) for v in a0]
        self.w0 = [_rational(v, ctx) for v in w0]
        self.active = [j for j in range(self.m) if self.a0[j] != 0]
        self.nfev = 0
        self.njev = 0
        with mp.workdps(self._mp_dps):
            w0_mp = [_mp_value(v) for v in w0]
            self.R_at_w0 = [to_decimal(v, self.dps) for v in self._eval_moments(w0_mp)[0]]
            self.J0_mp = (residual.square_integral(dps=self._mp_dps) if not self.moments.is_zero else mp.mpf(0))
        self.J0 = to_decimal(self.J0_mp, self.dps)

    # ------------------------------------------------------------------ pieces
    def rates(self, x):
        """``w = w0 + dw``."""
        m = self.m
        return [self.w0[i] + x[m + i] for i in range(m)]

    def residual_moments(self, w):
        """``R_k(w_i)`` as Decimals."""
        d = self.dps
        with mp.workdps(self._mp_dps):
            ws = [mp.mpf(str(v)) for v in w]
            R0, R1, R2 = self._eval_moments(ws)
        return ([Decimal(mp.libmp.to_str(v._mpf_, d)) for v in R0],
                [Decimal(mp.libmp.to_str(v._mpf_, d)) for v in R1],
                [Decimal(mp.libmp.to_str(v._mpf_, d)) for v in R2])

    def _sums(self, x, w, order: int):
        """Pair sums ``S_0..S_order`` (lists) and the matrix of ``1/(w_i + w_j)``."""
        m = self.m
        da = x[:m]
        dw = x[m:]
        a0, w0, active = self.a0, self.w0, self.active
        S0, S1, S2, inv = [], [], [], []
        for i in range(m):
            wi = w[i]
            row = [1 / (wi + wj) for wj in w]
            s0 = sum(d * p for d, p in zip(da, row))
            s1 = s2 = Decimal(0)
            if order >= 1:
                sq = [p * p for p in row]
                s1 = sum(d * p for d, p in zip(da, sq))
                if order >= 2:
                    s2 = sum(d * p * q for d, p, q in zip(da, sq, row))
            for j in active:
                dwj = dw[j]
                if dwj:
                    P = wi + w[j]
                    Q = wi + w0[j]
                    iP = row[j]
                    iQ = 1 / Q
                    c = a0[j] * dwj * iP * iQ
                    s0 -= c
                    if order >= 1:
                        c = c * iP * iQ
                        s1 -= c * (P + Q)
                        if order >= 2:
                            s2 -= c * iP * iQ * (P * P + P * Q + Q * Q)
            S0.append(s0)
            S1.append(s1)
            S2.append(s2)
            inv.append(row)
        return S0, S1, S2, inv

    # ------------------------------------------------------------------ public
    def gradient(self, x):
        """``grad J(theta_0 + x)``."""
        self.nfev += 1
        m = self.m
        w = self.rates(x)
        R0, R1, _ = self.residual_moments(w)
        S0, S1, _, _ = self._sums(x, w, 1)
        g = [2 * (S0[i] - R0[i]) for i in range(m)]
        g += [-2 * (self.a0[i] + x[i]) * (S1[i] - R1[i]) for i in range(m)]
        return g

    def gradient_hessian(self, x):
        """``grad J`` and ``hess J`` (list of rows) at ``theta_0 + x``."""
        self.nfev += 1
        self.njev += 1
        m, n = self.m, self.n
        w = self.rates(x)
        a = [self.a0[i] + x[i] for i in range(m)]
        R0, R1, R2 = self.residual_moments(w)
        S0, S1, S2, inv = self._sums(x, w, 2)
        br = [S1[i] - R1[i] for i in range(m)]
        g = [2 * (S0[i] - R0[i]) for i in range(m)] + [-2 * a[i] * br[i] for i in range(m)]
        H = [[Decimal(0)] * n for _ in range(n)]
        for i in range(m):
            Hi = H[i]
            Hmi = H[m + i]
            row = inv[i]
            ai2 = 2 * a[i]
            for j in range(m):
                p = row[j]
                Hi[j] = 2 * p
                if j != i:
                    p2 = p * p
                    Hi[m + j] = -2 * a[j] * p2
                    Hmi[m + j] = 2 * ai2 * a[j] * p2 * p
            Hi[m + i] = -2 * br[i] - a[i] / (2 * w[i] * w[i])
            Hmi[m + i] = ai2 * (2 * S2[i] - R2[i]) + a[i] * a[i] / (2 * w[i] * w[i] * w[i])
        for i in range(n):
            for j in range(i):
                H[i][j] = H[j][i]
        return g, H

    def loss_change(self, x):
        """``J(theta_0 + x) - J(theta_0) = ||D||^2 - 2 <D, r>``."""
        m = self.m
        da, dw = x[:m], x[m:]
        a0, w0 = self.a0, self.w0
        w = self.rates(x)
        R0 = self.residual_moments(w)[0]
        cross = Decimal(0)
        for j in range(m):
            cross += da[j] * R0[j]
            if a0[j]:
                cross += a0[j] * (R0[j] - self.R_at_w0[j])
        norm = Decimal(0)
        for i in range(m):
            for j in range(m):
                P = w[i] + w[j]
                v = da[i] * da[j] / P
                if a0[j] and dw[j]:
                    v -= da[i] * a0[j] * dw[j] / (P * (w[i] + w0[j]))
                if a0[i] and dw[i]:
                    v -= a0[i] * da[j] * dw[i] / (P * (w[j] + w0[i]))
                if a0[i] and a0[j] and dw[i] and dw[j]:
                    Qij, Qji, P0 = w[i] + w0[j], w[j] + w0[i], w0[i] + w0[j]
                    v += a0[i] * a0[j] * dw[i] * dw[j] * (P + P0) / (P * Qij * Qji * P0)
                norm += v
        return norm - 2 * cross

    def distance2(self, x) -> Decimal:
        """``||theta - theta_0||^2``."""
        return sum(v * v for v in x)

    def in_domain(self, x) -> bool:
        """All rates positive."""
        m = self.m
        return all(self.w0[i] + x[m + i] > 0 for i in range(m))

    def initial_state(self) -> list:
        """The offsets at ``tau = 0`` (zero)."""
        return [Decimal(0)] * self.n

    def theta(self, x) -> list:
        """``theta_0 + x`` as Decimals."""
        m = self.m
        return [self.a0[i] + x[i] for i in range(m)] + [self.w0[i] + x[m + i] for i in range(m)]


class ReducedSystem:
    """The plateau flow with the output weights eliminated (variable projection), state ``dw = w - w_0``.

    For fixed rates the loss is quadratic in ``a`` with Hessian ``2 C(w)``, ``C_ij = 1/(w_i + w_j)``; its
    minimiser ``a*(w)`` solves ``C (a* - a_0) = beta`` with ``beta_i = R_0(i) + sum_j a0_j dw_j/((w_i + w_j)
    (w_i + w0_j))`` (offset form, no cancellation). The reduced flow ``dw/dtau = -grad_w J(a*(w), w)`` is the
    gradient flow of ``J_red(w) = min_a J(a, w)`` (envelope theorem) and its Jacobian is minus the Schur
    complement ``H_ww - H_wa H_aa^{-1} H_aw`` of the full Hessian. It is the full flow restricted to its slow
    manifold: the weights relax to ``a*(w)`` on the time scale ``1/(2 lambda_min(C))``, so the reduced flow is
    exact up to relative corrections of order ``1/(2 lambda_min(C) tau)`` (see :func:`relaxation_time`).
    """

    def __init__(self, full: OffsetSystem):
        self.full = full
        self.m = full.m
        self.n = full.m
        self.dps = full.dps
        self.context = full.context
        self.w0 = full.w0

    @property
    def nfev(self) -> int:
        return self.full.nfev

    @property
    def njev(self) -> int:
        return self.full.njev

    def weights(self, dw):
        """``a*(w) - a_0`` and the factorisation of ``C(w)``."""
        full = self.full
        m = self.m
        w = [full.w0[i] + dw[i] for i in range(m)]
        R0 = full.residual_moments(w)[0]
        C = [[1 / (w[i] + w[j]) for j in range(m)] for i in range(m)]
        beta = list(R0)
        for j in full.active:
            if dw[j]:
                c = full.a0[j] * dw[j]
                for i in range(m):
                    beta[i] += c * C[i][j] / (w[i] + full.w0[j])
        F = ldl(C, Decimal(0))
        if F is None:
            raise ConvergenceError("the Gram matrix C(w) of the rates is not positive definite to working "
                                   "precision (two rates coincide?); raise dps")
        return ldl_solve(F, beta), F

    def full_state(self, dw):
        """``(a* - a_0, dw)``."""
        return self.weights(dw)[0] + list(dw)

    def gradient(self, dw):
        """``grad J_red(w)``."""
        return self.full.gradient(self.full_state(dw))[self.m:]

    def gradient_hessian(self, dw):
        """``grad J_red`` and its Hessian (Schur complement of the full Hessian at ``a = a*(w)``)."""
        m = self.m
        g, H = self.full.gradient_hessian(self.full_state(dw))
        Faa = ldl([row[:m] for row in H[:m]], Decimal(0))
        cols = [ldl_solve(Faa, [H[i][m + j] for i in range(m)]) for j in range(m)]
        Hr = [[H[m + i][m + j] - sum(H[m + i][k] * cols[j][k] for k in range(m)) for j in range(m)]
              for i in range(m)]
        for i in range(m):
            for j in range(i):
                Hr[i][j] = Hr[j][i] = (Hr[i][j] + Hr[j][i]) / 2
        return g[m:], Hr

    def loss_change(self, dw):
        return self.full.loss_change(self.full_state(dw))

    def distance2(self, dw):
        return self.full.distance2(self.full_state(dw))

    def in_domain(self, dw):
        return all(self.w0[i] + dw[i] > 0 for i in range(self.m))

    def initial_state(self):
        return [Decimal(0)] * self.m

    def theta(self, dw):
        return self.full.theta(self.full_state(dw))


# ============================================================================================ linear algebra
def ldl(M, shift):
    """``L D L^T`` of ``M + shift I`` (symmetric, list of rows); None unless positive definite."""
    n = len(M)
    L = [[Decimal(0)] * n for _ in range(n)]
    D = [Decimal(0)] * n
    LD = [[Decimal(0)] * n for _ in range(n)]  # LD[j][k] = L[j][k] D[k]
    for j in range(n):
        Lj, LDj = L[j], LD[j]
        s = M[j][j] + shift - sum(Lj[k] * LDj[k] for k in range(j))
        if not s > 0:
            return None
        D[j] = s
        for i in range(j + 1, n):
            Li = L[i]
            t = M[i][j] - sum(Li[k] * LDj[k] for k in range(j))
            Li[j] = t / s
            LD[i][j] = t
    return L, D


def ldl_solve(F, b):
    """Solve ``(L D L^T) x = b``."""
    L, D = F
    n = len(b)
    y = list(b)
    for i in range(n):
        Li = L[i]
        y[i] = y[i] - sum(Li[k] * y[k] for k in range(i))
    for i in range(n):
        y[i] = y[i] / D[i]
    for i in range(n - 1, -1, -1):
        y[i] = y[i] - sum(L[k][i] * y[k] for k in range(i + 1, n))
    return y


def lu_factor(M):
    """LU with partial pivoting of a square matrix (list of rows, copied); None if singular."""
    n = len(M)
    a = [list(row) for row in M]
    piv = list(range(n))
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(a[i][k]))
        if a[p][k] == 0:
            return None
        if p != k:
            a[k], a[p] = a[p], a[k]
            piv[k], piv[p] = piv[p], piv[k]
        ak = a[k]
        inv = 1 / ak[k]
        for i in range(k + 1, n):
            ai = a[i]
            lik = ai[k] * inv
            if lik:
                ai[k] = lik
                for j in range(k + 1, n):
                    ai[j] -= lik * ak[j]
            else:
                ai[k] = lik
    return a, piv


def lu_solve(F, b):
    """Solve with the factors of :func:`lu_factor`."""
    a, piv = F
    n = len(b)
    y = [b[piv[i]] for i in range(n)]
    for i in range(n):
        ai = a[i]
        y[i] = y[i] - sum(ai[k] * y[k] for k in range(i))
    for i in range(n - 1, -1, -1):
        ai = a[i]
        y[i] = (y[i] - sum(ai[k] * y[k] for k in range(i + 1, n))) / ai[i]
    return y


# ============================================================================================ Radau IIA
@functools.lru_cache(maxsize=16)
def radau_constants(dps: int) -> dict:
    """Radau IIA (3 stages, order 5) constants at ``dps`` digits, computed from their closed forms.

    Returns a dict with ``c`` (nodes), ``A``, ``gamma``, ``alpha``, ``beta`` (eigenvalues ``gamma`` and
    ``alpha +- i beta`` of ``A^{-1}``), ``T`` and ``TI`` with ``TI A^{-1} T = [[gamma, 0, 0], [0, alpha, beta],
    [0, -beta, alpha]]``, the error weights ``e`` of radau5.f and ``P`` (dense output: ``q = P Z``).
    All entries are Decimals.
    """
    with mp.workdps(dps + 30):
        s6 = mp.sqrt(6)
        c = [(4 - s6) / 10, (4 + s6) / 10, mp.mpf(1)]
        A = mp.matrix([[(88 - 7 * s6) / 360, (296 - 169 * s6) / 1800, (-2 + 3 * s6) / 225],
                       [(296 + 169 * s6) / 1800, (88 + 7 * s6) / 360, (-2 - 3 * s6) / 225],
                       [(16 - s6) / 36, (16 + s6) / 36, mp.mpf(1) / 9]])
        Ainv = A ** -1
        E, ER = mp.eig(Ainv)
        k_real = min(range(3), key=lambda k: abs(mp.im(E[k])))
        k_cplx = [k for k in range(3) if k != k_real and mp.im(E[k]) > 0][0]
        gamma = mp.re(E[k_real])
        alpha, beta = mp.re(E[k_cplx]), mp.im(E[k_cplx])
        vr = [mp.re(ER[i, k_real]) for i in range(3)]
        vc = [ER[i, k_cplx] for i in range(3)]
        T = mp.matrix([[vr[i], mp.re(vc[i]), mp.im(vc[i])] for i in range(3)])
        TI = T ** -1
        e = [-(13 + 7 * s6) / 3, (-13 + 7 * s6) / 3, mp.mpf(-1) / 3]
        V = mp.matrix([[c[i] ** k for k in (1, 2, 3)] for i in range(3)])
        P = V ** -1
        digits = dps + 10

        def dec(v):
            return to_decimal(mp.re(v), digits)

        return {"c": [dec(v) for v in c], "A": [[dec(A[i, j]) for j in range(3)] for i in range(3)],
                "gamma": dec(gamma), "alpha": dec(alpha), "beta": dec(beta),
                "T": [[dec(T[i, j]) for j in range(3)] for i in range(3)],
                "TI": [[dec(TI[i, j]) for j in range(3)] for i in range(3)],
                "e": [dec(v) for v in e], "P": [[dec(P[i, j]) for j in range(3)] for i in range(3)]}


class _Radau:
    """Radau IIA (order 5) steps of ``x' = -grad J(x)`` in Decimal arithmetic, Hairer's radau5 design.

    Simplified Newton iteration with the frozen Jacobian ``-H`` (``H = hess J`` at the step start) in the
    variables transformed by the eigenvectors of ``A^{-1}``: one real system ``(gamma/h) I + H`` (factorised
    by ``L D L^T``; positive definiteness of ``(kappa gamma/h) I + H`` is the curvature safeguard) and one
    complex system ``((alpha - i beta)/h) I + H``, solved as a real ``2n x 2n`` system with partial pivoting.
    """

    MAXIT = 7
    KAPPA = Decimal("0.5")

    def __init__(self, system: OffsetSystem):
        self.system = system
        k = radau_constants(system.dps)
        self.k = k
        self.n = system.n
        self.ndec = 0
        self._key = None
        self._factors = None
        self.jac_id = 0
        self.faccon = Decimal(1)

    def factor(self, H, h):
        """``(real LDL, complex LU)`` for step ``h``, or None if the safeguard refuses ``h``."""
        key = (self.jac_id, h)
        if self._key == key:
            return self._factors
        k = self.k
        gh = k["gamma"] / h
        if ldl(H, self.KAPPA * gh) is None:
            return None
        real = ldl(H, gh)
        if real is None:
            return None
        n = self.n
        ah, bh = k["alpha"] / h, k["beta"] / h
        M = [[Decimal(0)] * (2 * n) for _ in range(2 * n)]
        for i in range(n):
            Hi = H[i]
            top, bot = M[i], M[n + i]
            for j in range(n):
                top[j] = Hi[j]
                bot[n + j] = Hi[j]
            top[i] += ah
            bot[n + i] += ah
            top[n + i] = bh
            bot[i] = -bh
        cplx = lu_factor(M)
        if cplx is None:
            return None
        self.ndec += 3
        self._key, self._factors = key, (real, cplx)
        return self._factors

    def attempt(self, x, f0, factors, h, Z0, scale, newton_tol):
        """One Radau step; returns ``(ok, x_new, err_vec, Z, n_iter, rate)`` (``ok`` False: Newton failed)."""
        k = self.k
        n = self.n
        c, T, TI = k["c"], k["T"], k["TI"]
        gam, alp, bet = k["gamma"], k["alpha"], k["beta"]
        real, cplx = factors
        grad = self.system.gradient
        Z = [list(z) for z in Z0]
        W = [[TI[r][0] * Z[0][j] + TI[r][1] * Z[1][j] + TI[r][2] * Z[2][j] for j in range(n)] for r in range(3)]
        ih = 1 / h
        old = None
        rate = Decimal(-1)
        for it in range(1, self.MAXIT + 1):
            F = []
            for s in range(3):
                g = grad([x[j] + Z[s][j] for j in range(n)])
                F.append([-v for v in g])
            TF = [[TI[r][0] * F[0][j] + TI[r][1] * F[1][j] + TI[r][2] * F[2][j] for j in range(n)]
                  for r in range(3)]
            R0 = [TF[0][j] - gam * ih * W[0][j] for j in range(n)]
            R1 = [TF[1][j] - (alp * W[1][j] + bet * W[2][j]) * ih for j in range(n)]
            R2 = [TF[2][j] - (alp * W[2][j] - bet * W[1][j]) * ih for j in range(n)]
            d0 = ldl_solve(real, R0)
            d12 = lu_solve(cplx, R1 + R2)
            dW = [d0, d12[:n], d12[n:]]
            s2 = Decimal(0)
            for r in range(3):
                for j in range(n):
                    v = dW[r][j] / scale[j]
                    s2 += v * v
            norm = (s2 / (3 * n)).sqrt()
            # a correction far below the tolerance is converged whatever the apparent rate (it is at the level
            # of the rounding noise of the residual)
            tiny = norm <= newton_tol * Decimal("0.01")
            if old is not None and not tiny:
                rate = norm / old if old > 0 else Decimal(0)
                if rate >= 1 or rate ** (self.MAXIT - it) / (1 - rate) * norm > newton_tol:
                    return False, None, None, Z, it, rate
            for r in range(3):
                Wr, dr = W[r], dW[r]
                for j in range(n):
                    Wr[j] += dr[j]
            Z = [[T[s][0] * W[0][j] + T[s][1] * W[1][j] + T[s][2] * W[2][j] for j in range(n)] for s in range(3)]
            faccon = rate / (1 - rate) if (old is not None and Decimal(0) <= rate < 1) else self.faccon
            if norm == 0 or tiny or faccon * norm < newton_tol:
                if old is not None and Decimal(0) <= rate < 1:
                    self.faccon = max(faccon, Decimal("1e-4"))
                break
            old = norm
        else:
            return False, None, None, Z, self.MAXIT, rate
        e = k["e"]
        x_new = [x[j] + Z[2][j] for j in range(n)]
        ze = [(e[0] * Z[0][j] + e[1] * Z[1][j] + e[2] * Z[2][j]) * ih for j in range(n)]
        err = ldl_solve(real, [f0[j] + ze[j] for j in range(n)])
        return True, x_new, err, Z, it, rate

    def refine_error(self, x, err, Z, h, factors):
        """radau5's second error estimate ``(gamma/h - J)^{-1} (f(x + err) + e.Z/h)`` (first step, rejections)."""
        k = self.k
        n = self.n
        e = k["e"]
        ih = 1 / h
        fe = [-v for v in self.system.gradient([x[j] + err[j] for j in range(n)])]
        ze = [(e[0] * Z[0][j] + e[1] * Z[1][j] + e[2] * Z[2][j]) * ih for j in range(n)]
        return ldl_solve(factors[0], [fe[j] + ze[j] for j in range(n)])

    def dense(self, Z):
        """Coefficients ``q1, q2, q3`` of the collocation polynomial ``x + q1 s + q2 s^2 + q3 s^3``."""
        P = self.k["P"]
        n = self.n
        return [[P[r][0] * Z[0][j] + P[r][1] * Z[1][j] + P[r][2] * Z[2][j] for j in range(n)] for r in range(3)]


# ============================================================================================ the run
#: A run stops (status "stalled") after STALL_STEPS consecutive steps shorter than STALL_RATIO * tau.
STALL_RATIO = Decimal("1e-7")
STALL_STEPS = 40

@dataclass(frozen=True)
class OffsetRun:
    """Outcome of :func:`integrate_offset`.

    Attributes
    ----------
    tau0, tau0_prime : mpmath.mpf or None
        Hitting times of ``||theta - theta_0|| = delta`` and ``|J - J(theta_0)| = delta`` (None: not reached;
        ``mp.inf``: never, the flow converged to a minimum inside the threshold).
    status : str
        ``"events"`` (both located), ``"converged"``, ``"tau_max"``, ``"max_steps"``, ``"domain"``.
    message : str
    dps : int
    rtol : float
    nsteps, nrejected, nsafeguard, nfev, njev, ndec : int
        Accepted steps, rejected steps (error or Newton), steps refused by the curvature safeguard, gradient
        and Hessian evaluations, matrix factorisations.
    theta_end : list of mpmath.mpf
        State at the end of the run.
    samples : tuple of (float, float, float)
        ``(log10 tau, ||theta - theta_0||, J - J(theta_0))`` at the accepted steps (for plots).
    """

    tau0: object
    tau0_prime: object
    status: str
    message: str
    dps: int
    rtol: float
    nsteps: int
    nrejected: int
    nsafeguard: int
    nfev: int
    njev: int
    ndec: int
    theta_end: list = field(repr=False)
    samples: tuple = field(repr=False, default=())


def _log10(x: Decimal) -> float:
    if x <= 0:
        return -math.inf
    return float(x.log10())


def integrate_offset(system: OffsetSystem, delta, rtol: float = 1e-8, tau_max=None, max_steps: int = 20000,
                     record: bool = True) -> OffsetRun:
    """Integrate ``d theta/d tau = -grad J`` from ``theta_0`` until both hitting times are located.

    Parameters
    ----------
    system : OffsetSystem
    delta : float
        Threshold of both events (> 0).
    rtol : float
        Relative local tolerance, measured against the largest offset component (a norm-wise control: the
        offsets span hundreds of orders of magnitude, and the hitting times depend on the large ones).
    tau_max : number, optional
        Stop at this training time (default ``10^(10^6)``, i.e. never in practice).
    max_steps : int
        Maximum number of accepted steps.
    record : bool
        Keep ``(log10 tau, distance, loss change)`` samples.

    Returns
    -------
    OffsetRun
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}")
    if not (isinstance(rtol, (int, float)) and 1e-30 <= rtol < 1e-2):
        raise InvalidArgumentError(f"rtol must be in [1e-30, 1e-2), got {rtol!r}")
    with decimal.localcontext(system.context):
        return _integrate(system, Decimal(repr(float(delta))), rtol, tau_max, max_steps, record)


def _integrate(system, delta, rtol, tau_max, max_steps, record):
    n = system.n
    m = system.m
    rad = _Radau(system)
    # radau5's transformed tolerance (its error estimate is of order h^4)
    rt = Decimal(repr(0.1 * float(rtol) ** (2.0 / 3.0)))
    newton_tol = min(Decimal("0.03"), rt.sqrt())
    tau_max = Decimal(10) ** 1_000_000 if tau_max is None else Decimal(str(tau_max))
    x = system.initial_state()
    g, H = system.gradient_hessian(x)
    gnorm = _norm(g)
    samples = []
    found = {}
    if gnorm == 0:
        return _finish(system, rad, x, {"distance": mp.inf, "loss": mp.inf}, "converged",
                       "grad J(theta_0) = 0: theta_0 is a critical point, the flow stays there", rtol, 0, 0, 0,
                       samples)
    hscale = max(abs(H[i][i]) for i in range(n))
    atol = rt * Decimal("1e-6") * gnorm / hscale
    f = [-v for v in g]
    tau = Decimal(0)
    h = Decimal("0.001") / hscale
    d2 = delta * delta
    running = [Decimal(0)] * n
    nu = Decimal(os.environ.get('PO_NU','1e-3'))
    nacc = nrej = nsafe = nnewt = stalled = 0
    prev = None          # (h, dense coefficients) of the last accepted step
    h_old = err_old = None
    last_rejected = True
    jac_current = True
    status, message = "max_steps", f"the maximum number of steps ({max_steps}) was reached"
    floor = Decimal(10) ** (-(system.dps - 8))
    while nacc < max_steps:
        if tau + h > tau_max:
            h = tau_max - tau
        if h <= tau * floor:
            raise ConvergenceError(f"step size underflow at tau = {mp.nstr(to_mpf(tau), 8)} (status: "
                                   f"{nacc} steps, {nrej} rejected, {nsafe} refused by the curvature safeguard)")
        factors = rad.factor(H, h)
        if factors is None:
            nsafe += 1
            h = h / 4
            last_rejected = True
            continue
        scale = [atol + rt * max(abs(x[j]), nu * running[j]) for j in range(n)]
        Z0 = [[Decimal(0)] * n for _ in range(3)]
        ok, x_new, evec, Z, n_iter, rate = rad.attempt(x, f, factors, h, Z0, scale, newton_tol)
        if not ok:
            nrej += 1
            nnewt += 1
            last_rejected = True
            if not jac_current:
                g, H = system.gradient_hessian(x)
                f = [-v for v in g]
                rad.jac_id += 1
                jac_current = True
            else:
                h = h / 2
            continue
        scale = [atol + rt * max(abs(x[j]), abs(x_new[j]), nu * running[j]) for j in range(n)]
        err = _rms(evec, scale)
        if err > 1 and (prev is None or last_rejected):
            evec = rad.refine_error(x, evec, Z, h, factors)
            err = _rms(evec, scale)
        safety = Decimal("0.9") * (2 * rad.MAXIT + 1) / (2 * rad.MAXIT + n_iter)
        if err == 0:
            fac = Decimal(10000)
        else:
            fac = err ** Decimal("-0.25")
            if h_old is not None and err_old:
                fac = min(Decimal(1), h / h_old * (err_old / err) ** Decimal("0.25")) * fac
        if err > 1:
            nrej += 1
            last_rejected = True
            h = h * max(Decimal("0.2"), safety * fac)
            continue
        if not system.in_domain(x_new):
            nrej += 1
            last_rejected = True
            h = h / 4
            if h <= tau * floor * 1000:
                status, message = "domain", f"a rate reached 0 at tau ~ {mp.nstr(to_mpf(tau), 8)}"
                break
            continue
        # ---------------- accepted
        nacc += 1
        dist2 = system.distance2(x_new)
        dJ = system.loss_change(x_new)
        if "distance" not in found and dist2 >= d2:
            found["distance"] = _locate(rad, x, f, H, tau, h, Z, lambda z: system.distance2(z) - d2,
                                        dist2 - d2, scale, newton_tol)
        if "loss" not in found and abs(dJ) >= delta:
            found["loss"] = _locate(rad, x, f, H, tau, h, Z, lambda z: abs(system.loss_change(z)) - delta,
                                    abs(dJ) - delta, scale, newton_tol)
        prev = (h, rad.dense(Z))
        tau += h
        x = x_new
        for j in range(n):
            v = abs(x[j])
            if v > running[j]:
                running[j] = v
        if record:
            samples.append((_log10(tau), float(dist2.sqrt()), float(dJ), float(h / tau), n_iter, float(err), nnewt, nrej))
        if len(found) == 2:
            status, message = "events", "both hitting times located"
            break
        if tau >= tau_max:
            status, message = "tau_max", f"tau_max = {mp.nstr(to_mpf(tau_max), 6)} reached"
            break
        stalled = stalled + 1 if h < tau * STALL_RATIO else 0
        if stalled >= STALL_STEPS:
            status = "stalled"
            message = (f"the step size stayed below {STALL_RATIO:.0e} tau for {STALL_STEPS} steps at tau = "
                       f"{mp.nstr(to_mpf(tau), 8)}: the flow entered a singular regime (e.g. two rates "
                       "coalescing) that the integration does not follow further")
            break
        recompute = n_iter > 2 and rate > Decimal("1e-3")
        if True or recompute:
            g, H = system.gradient_hessian(x)
            rad.jac_id += 1
            jac_current = True
        f = [-v for v in g]
        h_old, err_old = h, err
        last_rejected = False
        if nacc % 10 == 0 and _converged(x, g, H, delta, d2, found, system, rt):
            status, message = "converged", "the flow converged to a local minimum before the threshold"
            for name in ("distance", "loss"):
                found.setdefault(name, mp.inf)
            break
        # geometric growth; in the quiet part of a plateau (Newton converging at once, error negligible) the
        # step may jump by many decades: the curvature safeguard stops it before the escape.
        if n_iter > 2 or err > Decimal("1e-4"):
            grow = Decimal(10)
        elif err > Decimal("1e-12"):
            grow = Decimal(10000)
        else:
            grow = Decimal(10) ** 100
        h = h * min(grow, safety * fac)
    return _finish(system, rad, x, found, status, message, rtol, nacc, nrej, nsafe, samples)


def _rms(v, scale) -> Decimal:
    return (sum((a / b) ** 2 for a, b in zip(v, scale)) / len(v)).sqrt()


def _guess(prev, h, x, rad):
    """Stage increments extrapolated from the previous collocation polynomial (zeros after a large jump)."""
    h_prev, q = prev
    ratio = h / h_prev
    n = rad.n
    if ratio > 10:
        return [[Decimal(0)] * n for _ in range(3)]
    c = rad.k["c"]
    # previous polynomial: x_prev + q1 s + q2 s^2 + q3 s^3, s = (t - t_prev)/h_prev; x = value at s = 1
    Z0 = []
    for i in range(3):
        s = 1 + c[i] * ratio
        Z0.append([(q[0][j] * (s - 1) + q[1][j] * (s * s - 1) + q[2][j] * (s * s * s - 1)) for j in range(n)])
    return Z0


def _norm(v) -> Decimal:
    return sum(x * x for x in v).sqrt()


def _converged(x, g, H, delta, d2, found, system, rt) -> bool:
    """Whether x is at a strict local minimum whose thresholds are not crossed (Newton step tiny, H > 0)."""
    F = ldl(H, Decimal(0))
    if F is None:
        return False
    step = ldl_solve(F, g)
    limit = [xi - si for xi, si in zip(x, step)]
    if _norm(step) > rt * Decimal("1e-3") * max(delta, _norm(x)):
        return False
    if "distance" not in found and system.distance2(limit) >= d2:
        return False
    if "loss" not in found and abs(system.loss_change(limit)) >= delta:
        return False
    return True


def _locate(rad, x, f, H, tau, h, Z, phi, phi_end, scale, newton_tol):
    """Crossing time of ``phi`` inside the accepted step ``[tau, tau + h]``.

    The Illinois method on the step length: every trial is a full Radau step from ``x`` (the same Jacobian),
    so the located time is as accurate as the integration (not limited by the dense output).
    """
    lo, hi = Decimal(0), h
    p_lo, p_hi = phi(x), phi_end
    side = 0
    tol = (tau + h) * Decimal("1e-16")
    q = rad.dense(Z)
    n = rad.n
    for _ in range(100):
        if hi - lo <= tol:
            break
        c = (lo * p_hi - hi * p_lo) / (p_hi - p_lo)
        if not lo < c < hi:
            c = (lo + hi) / 2
        factors = rad.factor(H, c)
        s = c / h
        Z0 = [[q[0][j] * (cs * s) + q[1][j] * (cs * s) ** 2 + q[2][j] * (cs * s) ** 3 for j in range(n)]
              for cs in rad.k["c"]]
        ok = factors is not None
        if ok:
            ok, xc, _, _, _, _ = rad.attempt(x, f, factors, c, Z0, scale, newton_tol)
        if not ok:  # fall back to the collocation polynomial (should not happen for c < h)
            xc = [x[j] + q[0][j] * s + q[1][j] * s * s + q[2][j] * s * s * s for j in range(n)]
        pc = phi(xc)
        if pc >= 0:
            hi, p_hi = c, pc
            if side == 1:
                p_lo = p_lo / 2
            side = 1
        else:
            lo, p_lo = c, pc
            if side == -1:
                p_hi = p_hi / 2
            side = -1
    with mp.workdps(rad.system.dps):
        return to_mpf(tau + hi)


def _finish(system, rad, x, found, status, message, rtol, nacc, nrej, nsafe, samples) -> OffsetRun:
    with mp.workdps(system.dps):
        theta = [to_mpf(v) for v in system.theta(x)]
    return OffsetRun(found.get("distance"), found.get("loss"), status, message, system.dps, float(rtol), nacc,
                     nrej, nsafe, system.nfev, system.njev, rad.ndec, theta, tuple(samples))
