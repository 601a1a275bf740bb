r"""The plateau gradient flow in arbitrary precision: offset and projected coordinates (THEORY.md §4).

This module holds the *right-hand sides*; :mod:`memtheory.theory.plateau_radau` integrates them.

Offset coordinates (removing the O(1) part analytically)
---------------------------------------------------------
Write the target as ``rho = rho_hat(theta_0) + r`` with the *residual kernel* ``r``. For the memory family with
``rho_hat(theta_0) = rho_bar``, ``r`` is the moved spike ``rho_0(t - 1/omega)``: the cancellation of ``rho_bar``
against the model is done symbolically (exact rationals), so no rounding is involved. With
``D = rho_hat(theta) - rho_hat(theta_0)``,

.. math:: J(\theta) = \|D - r\|^2 = \|r\|^2 + \|D\|^2 - 2\langle D, r\rangle ,

and every quantity is assembled from the offsets ``x = theta - theta_0 = (da, dw)`` by cancellation-free
formulas. The pair sums ``S_k(i) = <t^k e^{-w_i t}, D>/k!`` are

.. math:: S_k(i) = \sum_j \frac{\delta a_j}{P^{k+1}}
          - \sum_j a^0_j\,\delta w_j\,\frac{\sum_{r=0}^{k} P^r Q^{k-r}}{P^{k+1} Q^{k+1}},
          \qquad P = w_i + w_j,\ Q = w_i + w^0_j,

and the target enters only through ``R_k(i) = L[t^k r](w_i)``, exponentially small numbers that are computed
to full *relative* precision from their closed forms. Then ``dJ/da_i = 2 (S_0 - R_0)``,
``dJ/dw_i = -2 a_i (S_1 - R_1)``, and

* ``d2J/da_i da_j = 2/(w_i + w_j)``, ``d2J/da_i dw_j = -2 a_j/(w_i + w_j)^2`` (i != j),
  ``d2J/da_i dw_i = -2 (S_1 - R_1) - a_i/(2 w_i^2)``;
* ``d2J/dw_i dw_j = 4 a_i a_j/(w_i + w_j)^3`` (i != j), ``d2J/dw_i^2 = 2 a_i (2 S_2 - R_2) + a_i^2/(2 w_i^3)``;
* ``J - J(theta_0) = ||D||^2 - 2 <D, r>`` with ``<D_i, D_j>`` expanded in ``da, dw`` (second differences of
  ``1/(p + q)`` in closed form).

The generic assembly computes ``dJ/da_i`` as a difference of O(1) numbers that agree to the size of the spike
overlap ``e^{-w/omega}``; in offset coordinates nothing cancels at that scale, so the working precision no
longer grows with ``1/omega``. What remains is the conditioning of the Gram (Cauchy) matrix
``C_ij = 1/(w_i + w_j)`` of the rates: the pair sums lose about ``log10 cond(C)`` digits, the solves as many
again (see :func:`working_precision`).

Projected coordinates (exact, for the integrator)
-------------------------------------------------
For fixed rates ``J`` is quadratic in ``a`` with Hessian ``2 C(w)``; its minimiser ``a*(w)`` solves
``C (a* - a_0) = beta`` with ``beta_i = R_0(i) + sum_j a0_j dw_j / ((w_i + w_j)(w_i + w0_j))``. The flow is
rewritten *exactly* in the variables ``u = dw`` and ``xi = a - a*(w)``:

.. math:: \dot u = -\partial_w J(a^* + \xi, w),\qquad
          \dot\xi = -2 C(w)\,\xi - \frac{\partial a^*}{\partial w}\,\dot u ,

(``dJ/da = 2 C xi`` exactly). On the plateau the weights are slaved to the rates with an extreme sensitivity
(``C^{-1}`` has entries ~1e12 for ten rates in [0.5, 4]); in the original variables this makes the stage
equations of an implicit method strongly nonlinear (simplified Newton stalls at ``h/tau ~ 1e-3``), while in
``(u, xi)`` the slaved part is solved exactly inside the right-hand side and ``xi`` obeys a linear equation.
The Jacobian passed to the integrator keeps all terms except the derivatives of ``2 C(w)`` (multiplied by
``xi``) and of ``da*/dw`` (multiplied by the velocity), which affect only the Newton rate, never the solution.
Its ``u``-block is minus the Schur complement ``H_ww - H_wa H_aa^{-1} H_aw`` of the full Hessian (the Hessian
of ``min_a J``), whose negative eigenvalues drive the escape; it is the matrix of the curvature safeguard.

All arithmetic on the state runs on :class:`decimal.Decimal` (Python's C implementation of arbitrary-precision
floating point, ~6x faster than mpmath's pure-Python ``mpf`` for ``+ - * /`` at 40-100 digits, correctly
rounded, exponents up to 1e9 in magnitude); the residual moments (error functions...) come from mpmath at the
same precision. Every method must run inside ``decimal.localcontext(system.context)``.
"""

from __future__ import annotations

import decimal
import functools
from decimal import Decimal

import mpmath as mp
import sympy as sp

from ..compile import codegen
from ..errors import ConvergenceError
from ..kernels.kernel import S, Kernel

__all__ = ["ResidualMoments", "OffsetSystem", "ProjectedSystem", "decimal_context", "to_decimal", "to_mpf",
           "ldl", "ldl_solve", "lu_factor", "lu_solve", "working_precision", "gram_condition"]


# ============================================================================================ mpmath side
def _erfc(z):
    """``erfc`` at the current precision; ``2 - erfc(-z)`` for ``z < 0`` (mpmath sums the series of ``erf``
    there, ~5x slower), and exactly 2 when ``erfc(-z) < exp(-z^2)`` is below the working precision."""
    if z >= 0:
        return mp.erfc(z)
    x = -z
    if x * x > (mp.mp.dps + 3) * 2.302585092994046:
        return mp.mpf(2)
    return 2 - mp.erfc(x)


def _erfcx(z):
    """``exp(z^2) erfc(z)`` (used for ``z >= 0`` by the Gaussian closed form)."""
    return mp.exp(z * z) * _erfc(z)


_MP_MODULES = [{"erfcx": _erfcx, "erfc": _erfc, "scaled_uppergamma": codegen.mp_scaled_uppergamma,
                "Heaviside": codegen.mp_heaviside, "airyai": mp.airyai}, "mpmath"]


def _mp_value(value) -> mp.mpf:
    """An exact SymPy number as mpf at the current precision."""
    value = sp.sympify(value)
    if value.is_Rational:
        return mp.mpf(int(value.p)) / int(value.q)
    return mp.mpf(sp.N(value, mp.mp.dps + 10))


@functools.lru_cache(maxsize=64)
def _split_compile(exprs: tuple, params: tuple):
    """Compile ``exprs(s, params)`` as ``consts(params)`` (the s-independent subexpressions, evaluated once per
    binding) and ``values(s, *consts)``."""
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
    """``R_k(s) = L[t^k r](s)``, ``k = 0, 1, 2``, at working precision from the closed forms of ``r``.

    Parameters
    ----------
    residual : Kernel
        The residual kernel ``r = rho - rho_hat(theta_0)``.

    Notes
    -----
    The closed forms are those of :meth:`Kernel.laplace_form` (the same SymPy expressions as every other
    backend); their parameter-only subexpressions are evaluated once per :meth:`bind`. Kernels with terms
    without a closed form fall back to :meth:`Kernel.laplace` (mpmath quadrature, much slower).
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
            return lambda ws: tuple([mp.mpf(0)] * len(ws) for _ in range(3))
        r = self.kernel
        if self._compiled is None:
            def quadrature(ws):
                return tuple(list(r.laplace(list(ws), moment=k, dps=dps)) for k in range(3))
            return quadrature
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
def decimal_context(dps: int) -> decimal.Context:
    """A :class:`decimal.Context` with ``dps`` digits, unbounded exponents in practice, and traps on invalid
    operations, division by zero and overflow."""
    return decimal.Context(prec=int(dps), rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999_999,
                           Emax=999_999_999, capitals=1, clamp=0,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


def to_decimal(x, digits: int) -> Decimal:
    """An mpf (or any real number) as a Decimal with ``digits`` significant digits."""
    if isinstance(x, Decimal):
        return x
    if not isinstance(x, mp.mpf):
        x = mp.mpf(x)
    return Decimal(mp.libmp.to_str(x._mpf_, int(digits)))


def to_mpf(x: Decimal) -> mp.mpf:
    """A Decimal as mpf at the current mpmath precision."""
    return mp.mpf(str(x))


def _rational(value, ctx: decimal.Context) -> Decimal:
    value = sp.Rational(value)
    return ctx.divide(Decimal(int(value.p)), Decimal(int(value.q)))


def ldl(M, shift=0):
    """``L D L^T`` of the symmetric ``M + shift I`` (list of rows, not modified); None unless positive definite.

    Unpivoted: for positive definite matrices it is backward stable and invariant under symmetric diagonal
    scaling, so graded matrices (entries from O(1) to 1e-800) are factorised to relative accuracy.
    """
    n = len(M)
    L = [[Decimal(0)] * n for _ in range(n)]
    D = [Decimal(0)] * n
    LD = [[Decimal(0)] * n for _ in range(n)]
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
    """Solve ``L D L^T x = b`` with the factors of :func:`ldl`."""
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
    """LU with partial pivoting of a square matrix (list of rows, copied); None if exactly singular."""
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
            ai[k] = lik
            if lik:
                for j in range(k + 1, n):
                    ai[j] -= lik * ak[j]
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


def gram_condition(w) -> float:
    """2-norm condition number of the Cauchy matrix ``C_ij = 1/(w_i + w_j)`` (mpmath, 2x the digits it needs)."""
    digits = 30
    while True:
        with mp.workdps(digits):
            C = mp.matrix([[1 / (mp.mpf(a) + mp.mpf(b)) for b in w] for a in w])
            E = mp.eigsy(C, eigvals_only=True)
            lo, hi = min(E), max(E)
            if lo > hi * mp.mpf(10) ** (-digits + 10) or digits > 2000:
                return float(hi / lo) if lo > 0 else float("inf")
        digits *= 2


def working_precision(w0, guard: int = 30) -> int:
    """Decimal digits for the offset/projected flow: ``guard + 2 log10 cond(C(w_0))``, at least 40.

    The pair sums and the solves with the Gram matrix each lose ``log10 cond(C)`` digits; ``guard`` digits
    remain for the flow (which needs ~12). The result is checked a posteriori by rerunning at 1.5x the digits.
    """
    cond = gram_condition([float(v) for v in w0])
    import math

    extra = 2 * math.log10(max(cond, 1.0)) if math.isfinite(cond) else 200
    return max(40, int(guard + math.ceil(extra)))


# ============================================================================================ offset system
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
    moments : ResidualMoments, optional
        Compiled residual moments (shared across omegas of a scan).
    """

    def __init__(self, residual: Kernel, a0, w0, dps: int, moments: ResidualMoments | None = None):
        self.m = len(a0)
        self.n = 2 * self.m
        self.dps = int(dps)
        self.context = decimal_context(self.dps)
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
        with decimal.localcontext(ctx):
            self.R_at_w0 = self.residual_moments(self.w0)[0]
        with mp.workdps(self._mp_dps):
            self.J0_mp = residual.square_integral(dps=self._mp_dps) if not self.moments.is_zero else mp.mpf(0)

    # ------------------------------------------------------------------ pieces
    def rates(self, x):
        """``w = w0 + dw``."""
        m = self.m
        return [self.w0[i] + x[m + i] for i in range(m)]

    def residual_moments(self, w):
        """``R_k(w_i)``, ``k = 0, 1, 2``, as Decimals."""
        d = self.dps
        with mp.workdps(self._mp_dps):
            R = self._eval_moments([mp.mpf(str(v)) for v in w])
        return tuple([Decimal(mp.libmp.to_str(v._mpf_, d)) for v in Rk] for Rk in R)

    def sums(self, x, w, order: int):
        """Pair sums ``S_0, S_1, S_2`` (up to ``order``; the others zero) and the rows of ``1/(w_i + w_j)``."""
        m = self.m
        da = x[:m]
        dw = x[m:]
        a0, w0, active = self.a0, self.w0, self.active
        S0, S1, S2, inv = [], [], [], []
        zero = Decimal(0)
        for i in range(m):
            wi = w[i]
            row = [1 / (wi + wj) for wj in w]
            s0 = sum(d * p for d, p in zip(da, row))
            s1 = s2 = zero
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
        S0, S1, _, _ = self.sums(x, w, 1)
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
        S0, S1, S2, inv = self.sums(x, w, 2)
        br = [S1[i] - R1[i] for i in range(m)]
        g = [2 * (S0[i] - R0[i]) for i in range(m)] + [-2 * a[i] * br[i] for i in range(m)]
        H = [[Decimal(0)] * n for _ in range(n)]
        for i in range(m):
            Hi, Hmi, row = H[i], H[m + i], inv[i]
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

    def theta(self, x) -> list:
        """``theta_0 + x``."""
        m = self.m
        return [self.a0[i] + x[i] for i in range(m)] + [self.w0[i] + x[m + i] for i in range(m)]


# ============================================================================================ projected system
class ProjectedSystem:
    """The exact plateau flow in the coordinates ``(u, xi) = (w - w_0, a - a*(w))`` (see the module notes).

    Parameters
    ----------
    offset : OffsetSystem
        Supplies the formulas (and the precision).

    Notes
    -----
    Interface used by :func:`memtheory.theory.plateau_radau.integrate`: ``n``, ``dps``, ``context``,
    ``initial_state()``, ``rhs(x)``, ``jacobian(x) -> (f, M, S)`` with ``M = -df/dx`` and ``S`` the symmetric
    matrix of the curvature safeguard, ``distance2``, ``loss_change``, ``in_domain``, ``theta``, ``nfev``,
    ``njev``.
    """

    def __init__(self, offset: OffsetSystem):
        self.offset = offset
        self.m = offset.m
        self.n = 2 * offset.m
        self.dps = offset.dps
        self.context = offset.context
        self._cache_key = None
        self._cache = None

    @property
    def nfev(self) -> int:
        return self.offset.nfev

    @property
    def njev(self) -> int:
        return self.offset.njev

    # ------------------------------------------------------------------ pieces
    def _slaved(self, u):
        """Rates, residual moments, ``C``, its factorisation and ``a*(w) - a_0`` for rate offsets ``u``."""
        key = tuple(u)
        if key == self._cache_key:
            return self._cache
        off = self.offset
        m = self.m
        w = [off.w0[i] + u[i] for i in range(m)]
        R = off.residual_moments(w)
        C = [[1 / (w[i] + w[j]) for j in range(m)] for i in range(m)]
        beta = list(R[0])
        for j in off.active:
            if u[j]:
                c = off.a0[j] * u[j]
                for i in range(m):
                    beta[i] += c * C[i][j] / (w[i] + off.w0[j])
        F = ldl(C)
        if F is None:
            raise ConvergenceError("the Gram matrix C(w) of the rates is not positive definite at the working "
                                   "precision (two rates (nearly) coincide); raise dps")
        da_star = ldl_solve(F, beta)
        self._cache_key, self._cache = key, (w, R, C, F, da_star)
        return self._cache

    def full_state(self, x):
        """The offsets ``(da, dw)`` of the original coordinates."""
        m = self.m
        u, xi = x[:m], x[m:]
        da_star = self._slaved(u)[4]
        return [da_star[i] + xi[i] for i in range(m)] + list(u)

    def _velocity(self, x):
        """``u' = -dJ/dw`` and the pieces needed for ``xi'``."""
        off = self.offset
        m = self.m
        u, xi = x[:m], x[m:]
        w, R, C, F, da_star = self._slaved(u)
        full = [da_star[i] + xi[i] for i in range(m)] + list(u)
        a = [off.a0[i] + full[i] for i in range(m)]
        S0, S1, _, inv = off.sums(full, w, 1)
        br = [S1[i] - R[1][i] for i in range(m)]
        du = [2 * a[i] * br[i] for i in range(m)]
        return u, xi, w, C, F, a, br, inv, du

    def rhs(self, x):
        """``(u', xi')``."""
        self.offset.nfev += 1
        m = self.m
        u, xi, w, C, F, a, br, inv, du = self._velocity(x)
        # da*/dw = -H_aa^{-1} H_aw at (a*(w), w); (H_aw)_ij = -2 a_j/(w_i+w_j)^2 (i != j) and
        # -2 (S_1 - R_1)_i - a_i/(2 w_i^2) on the diagonal, both at a = a* (i.e. without xi)
        a_star = [a[i] - xi[i] for i in range(m)]
        haw = []
        for i in range(m):
            row = inv[i]
            br_star = br[i] - sum(xi[j] * row[j] * row[j] for j in range(m))
            s = sum(-2 * a_star[j] * row[j] * row[j] * du[j] for j in range(m) if j != i)
            s += (-2 * br_star - a_star[i] / (2 * w[i] * w[i])) * du[i]
            haw.append(s)
        corr = ldl_solve(F, haw)  # C^{-1} H_aw u'
        dxi = [-2 * sum(C[i][j] * xi[j] for j in range(m)) + corr[i] / 2 for i in range(m)]
        return du + dxi

    def jacobian(self, x):
        """``(f, M, S)``: right-hand side, ``M = -df/dx`` (dropping the terms proportional to ``xi`` and to the
        velocity, see the module notes) and the Schur complement ``S`` (curvature safeguard)."""
        off = self.offset
        m = self.m
        f = self.rhs(x)
        full = self.full_state(x)
        _, H = off.gradient_hessian(full)
        F = self._slaved(x[:m])[3]
        Haa = [row[:m] for row in H[:m]]
        Haw = [row[m:] for row in H[:m]]
        Hww = [row[m:] for row in H[m:]]
        # A' = -Haa^{-1} Haw = -(2C)^{-1} Haw (columns)
        cols = [ldl_solve(F, [Haw[i][j] for i in range(m)]) for j in range(m)]
        Ap = [[-cols[j][i] / 2 for j in range(m)] for i in range(m)]
        Schur = [[Hww[i][j] + sum(Haw[k][i] * Ap[k][j] for k in range(m)) for j in range(m)] for i in range(m)]
        for i in range(m):
            for j in range(i):
                Schur[i][j] = Schur[j][i] = (Schur[i][j] + Schur[j][i]) / 2
        n = self.n
        M = [[Decimal(0)] * n for _ in range(n)]
        for i in range(m):
            for j in range(m):
                M[i][j] = Schur[i][j]
                M[i][m + j] = Haw[j][i]
                M[m + i][m + j] = Haa[i][j] - sum(Ap[i][k] * Haw[j][k] for k in range(m))
                M[m + i][j] = -sum(Ap[i][k] * Schur[k][j] for k in range(m))
        return f, M, Schur

    def initial_state(self):
        """``u = 0``, ``xi = a_0 - a*(w_0)``."""
        m = self.m
        zero = [Decimal(0)] * m
        da_star = self._slaved(zero)[4]
        return zero + [-v for v in da_star]

    def distance2(self, x):
        """``||theta - theta_0||^2``."""
        return sum(v * v for v in self.full_state(x))

    def loss_change(self, x):
        """``J - J(theta_0)``."""
        return self.offset.loss_change(self.full_state(x))

    def in_domain(self, x):
        """All rates positive."""
        return all(self.offset.w0[i] + x[i] > 0 for i in range(self.m))

    def theta(self, x):
        """``theta`` (Decimals)."""
        return self.offset.theta(self.full_state(x))
