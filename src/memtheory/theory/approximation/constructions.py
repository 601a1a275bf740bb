r"""Approximation errors of linear-RNN kernels and the universal-approximation construction (docs/theory.md §3).

A width-``m`` linear RNN with real diagonal recurrence realises ``rho_hat(t) = sum_i a_i e^{-w_i t}``. For the
linear functionals ``H_t(x) = \int_0^\infty rho(s) x_{t-s} ds`` the functional error is controlled by the kernel
error: ``sup_t ||H_t - Ĥ_t|| <= ||rho - rho_hat||_{L^1}`` (equality for scalar signals). This module measures
``||rho - rho_hat||`` in L1 (quadrature between the sign changes of the error), L2 (closed form, exact) and sup
(dense grid + local refinement), and implements the constructive proof of the universal approximation theorem
[CoM]: with ``s = e^{-kappa t}`` polynomials ``p(s)`` with ``p(0) = 0`` are dense, and
``p(e^{-kappa t}) = sum_j a_j e^{-j kappa t}`` is realised by ``W = -kappa diag(1, ..., m)``.

Approximants built from powers of ``s`` (universal, Jackson) keep a Chebyshev representation of ``p`` next to
their monomial coefficients: the monomial coefficients grow like ``5.8^m`` with alternating signs, so
evaluating ``sum_j a_j e^{-j kappa t}`` in float64 loses all digits at moderate ``m``, while the Chebyshev form is
evaluated stably (Clenshaw). Both describe the same exact function; errors are computed from the stable form
and the L2 error from the exact coefficients in arbitrary precision.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath as mp
import numpy as np
from numpy.polynomial import chebyshev as C

from ...display import Displayable
from ..._validation import check_positive
from ...errors import InvalidArgumentError, NotIntegrableError, PrecisionError
from ...kernels.kernel import Kernel
from ...models.linear import DiagonalRNN
from ..error_norms import kernel_tail_l1
from .best_sum import BestSum, check_width
from .varpro import FitTarget, exact_loss, exact_projection

__all__ = [
    "ApproximationErrors",
    "Construction",
    "approximation_errors",
    "universal",
    "cheb_to_monomial",
    "kernel_breakpoints",
    "l2_only_errors",
]

_EPS = float(np.finfo(float).eps)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)
_GL_X10, _GL_W10 = np.polynomial.legendre.leggauss(10)


# ================================================================================================= results
@dataclass(frozen=True, repr=False)
class ApproximationErrors(Displayable):
    """Errors ``rho - rho_hat`` of an approximant in three norms.

    Attributes
    ----------
    l1 : float
        ``||rho - rho_hat||_{L^1[0, inf)}`` = the bound ``sup_t ||H_t - Ĥ_t||`` on the functional error.
    l2 : float
        ``||rho - rho_hat||_{L^2}`` (closed form in arbitrary precision).
    sup : float
        ``sup_t |rho(t) - rho_hat(t)|``.
    argsup : float
        Where the sup is attained.
    l1_error_estimate : float
        Estimated absolute error of ``l1`` (quadrature order comparison, tail and rounding).
    l2_digits : float
        Verified significant digits of ``l2**2``.
    functional_bound : float
        ``sup_t ||H_t - Ĥ_t|| <= functional_bound`` (= ``l1``).
    evaluation : str
        ``"float64"`` or ``"mpmath dps=N"``: how ``rho - rho_hat`` was evaluated for L1 and sup.
    """

    l1: float
    l2: float
    sup: float
    argsup: float
    l1_error_estimate: float
    l2_digits: float
    functional_bound: float
    evaluation: str

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"l1": self.l1, "l2": self.l2, "sup": self.sup, "argsup": self.argsup,
                "l1_error_estimate": self.l1_error_estimate, "l2_digits": self.l2_digits,
                "functional_bound": self.functional_bound, "evaluation": self.evaluation}


@dataclass(frozen=True, repr=False)
class Construction(Displayable):
    """A constructive approximant ``rho_hat(t) = p(e^{-kappa t}) = sum_{j=1}^m a_j e^{-j kappa t}``.

    Attributes
    ----------
    kind : str
        ``"universal"`` or ``"jackson"``.
    m : int
        Width.
    kappa : float
        Rate unit: the rates are ``j kappa``, ``j = 1..m``.
    a : tuple of float
        Monomial coefficients (rounded; see ``a_exact`` and ``coefficient_norm``).
    w : tuple of float
        Rates ``j kappa``.
    errors : ApproximationErrors
        Errors of the exact approximant.
    coefficient_norm : float
        ``sum_j |a_j|``: evaluating the sum of exponentials in float64 has rounding error up to
        ``eps * coefficient_norm``, the price of the monomial basis.
    method : str
        How the polynomial was chosen (``"L2 projection"``, ``"Chebyshev interpolation"``).
    params : dict
        Construction parameters (``scale``; ``alpha``, ``beta``).
    cheb : tuple of float
        Chebyshev coefficients of ``p`` in ``x = 2 s - 1`` (the stable representation).
    a_exact : tuple of str
        Exact (decimal) monomial coefficients.
    """

    kind: str
    m: int
    kappa: float
    a: tuple
    w: tuple
    errors: ApproximationErrors
    coefficient_norm: float
    method: str
    params: dict = field(default_factory=dict)
    cheb: tuple = field(default=(), repr=False)
    a_exact: tuple = field(default=(), repr=False)

    @property
    def model(self) -> DiagonalRNN:
        """The approximant as a :class:`~memtheory.models.linear.DiagonalRNN` (float64 coefficients)."""
        return DiagonalRNN(np.array(self.a), np.array(self.w))

    def __call__(self, t) -> np.ndarray:
        """``rho_hat(t)`` evaluated stably from the Chebyshev form."""
        return _ChebForm(self.kappa, np.array(self.cheb)).values(np.asarray(t, float))[0]

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"kind": self.kind, "m": self.m, "kappa": self.kappa, "a": list(self.a), "w": list(self.w),
                "errors": self.errors.to_dict(), "coefficient_norm": self.coefficient_norm,
                "method": self.method, "params": dict(self.params), "cheb": list(self.cheb),
                "a_exact": list(self.a_exact)}


# ================================================================================================= approximants
class _ExpSum:
    """``sum_i a_i e^{-w_i t}`` with exact (mpmath) coefficients.

    Clusters of nearly equal rates (relative gaps <= 2%; they appear where the optimum is confluent, e.g. rates
    piling up at a stability margin) carry huge coefficients of alternating sign, and summing their terms in
    float64 loses every digit. Each cluster with base rate ``r`` is therefore rewritten once, in mpmath, as
    ``e^{-rt} sum_k c_k t^k`` with ``c_k = sum_i a_i (-(w_i - r))^k / k!`` (a convergent Taylor series in the
    small rate offsets, truncated where its tail is below 1e-20 of the terms): the ``c_k`` are moderate and the
    polynomial is evaluated in float64 by Horner's rule in ``t/T``.
    """

    def __init__(self, a, w, a_exact=None):
        order = np.argsort(np.asarray(w, float))
        self.a = np.asarray(a, float)[order]
        self.w = np.asarray(w, float)[order]
        src = a_exact if a_exact is not None and len(a_exact) else list(a)
        digits = max([60] + [len(x) + 5 for x in src if isinstance(x, str)])
        with mp.workdps(digits):
            a_mp = [mp.mpf(x) for x in src]
            self.a_mp = [a_mp[i] for i in order]
        self.single = list(range(self.w.size))
        self.clusters = []  # (r, T, coefficients of (t/T)^k in float64, index list)
        groups, cur = [], [0]
        for i in range(1, self.w.size):
            if self.w[i] <= self.w[i - 1] * 1.02:
                cur.append(i)
            else:
                groups.append(cur)
                cur = [i]
        groups.append(cur)
        for g in groups:
            if len(g) < 2:
                continue
            amax = max(abs(self.a_mp[i]) for i in g)
            if amax <= 1e3 * max(abs(mp.fsum(self.a_mp[i] for i in g)), mp.mpf(10) ** -300) and len(g) < 3:
                continue
            self.clusters.append(self._taylor(g))
            self.single = [i for i in self.single if i not in g]

    def _taylor(self, g):
        r = float(self.w[g[0]])
        amag = float(sum(abs(self.a_mp[i]) for i in g))
        T = (60.0 + math.log(1.0 + amag)) / r
        dps = 30 + int(max(0.0, math.log10(max(amag, 1.0))))
        with mp.workdps(dps):
            rm = mp.mpf(r)
            delta = [mp.mpf(float(self.w[i])) - rm for i in g]
            dT = [d * T for d in delta]
            amp = [self.a_mp[i] for i in g]
            dmax = max(abs(x) for x in dT)
            coeffs, term_bound = [], mp.mpf(amag)
            k = 0
            powers = [mp.mpf(1)] * len(g)
            fact = mp.mpf(1)
            while True:
                ck = mp.fsum(ai * p for ai, p in zip(amp, powers)) / fact
                coeffs.append(float(ck))
                k += 1
                fact *= k
                powers = [-p * x for p, x in zip(powers, dT)]
                term_bound = amag * dmax**k / fact
                if (k > len(g) and term_bound < 1e-20 * max(1.0, max(abs(c) for c in coeffs))) or k > 400:
                    break
        return r, T, np.array(coeffs), list(g)

    @property
    def rates(self):
        return self.w

    def magnitude(self) -> float:
        mag = float(np.sum(np.abs(self.a[self.single]))) if self.single else 0.0
        for _, _, c, _ in self.clusters:
            mag += float(np.sum(np.abs(c)))
        return max(mag, 1e-300)

    def values(self, t: np.ndarray):
        t = np.asarray(t, float)
        idx = self.single
        E = np.exp(-np.multiply.outer(t, self.w[idx]))
        val = E @ self.a[idx]
        rnd = _EPS * math.sqrt(len(idx) + 1) * (E @ np.abs(self.a[idx]))
        for r, T, c, _ in self.clusters:
            x = np.minimum(t / T, 1.0)
            p = np.zeros_like(t)
            pa = np.zeros_like(t)
            for ck in c[::-1]:
                p = p * x + ck
                pa = pa * x + abs(ck)
            damp = np.exp(-r * t)
            beyond = t > T  # e^{-rT} < e^{-60} relative to the coefficients: negligible
            val = val + np.where(beyond, 0.0, damp * p)
            rnd = rnd + 4 * _EPS * math.sqrt(c.size) * damp * pa + np.where(beyond, damp * np.sum(np.abs(c)), 0.0)
        return val, rnd

    def values_mp(self, t, dps: int):
        with mp.workdps(dps):
            w = [mp.mpf(float(x)) for x in self.w]
            return [mp.fsum(ai * mp.exp(-wi * mp.mpf(float(tk))) for ai, wi in zip(self.a_mp, w)) for tk in t]


class _ChebForm:
    """``p(e^{-kappa t})`` with ``p(s) = sum_k c_k T_k(2 s - 1)`` (Clenshaw: stable in float64)."""

    def __init__(self, kappa: float, cheb: np.ndarray):
        self.kappa = float(kappa)
        self.c = np.asarray(cheb, float)

    @property
    def rates(self):
        return self.kappa * np.arange(1, self.c.size)

    def magnitude(self) -> float:
        return float(np.sum(np.abs(self.c)))

    def values(self, t: np.ndarray):
        x = 2 * np.exp(-self.kappa * t) - 1
        return C.chebval(x, self.c), 2 * _EPS * math.sqrt(self.c.size) * np.full(np.shape(t), np.sum(np.abs(self.c)))

    def values_mp(self, t, dps: int):
        with mp.workdps(dps):
            out = []
            for tk in t:
                x = 2 * mp.exp(-self.kappa * mp.mpf(float(tk))) - 1
                b1 = b2 = mp.mpf(0)
                for ck in self.c[:0:-1]:
                    b1, b2 = 2 * x * b1 - b2 + ck, b1
                out.append(x * b1 - b2 + self.c[0])
            return out


# ================================================================================================= polynomial bases
def _shifted_cheb_monomials(n: int) -> list[list[int]]:
    """Integer monomial coefficients (in s) of ``T_k(2s - 1)``, ``k = 0..n``."""
    polys = [[1], [-1, 2]]
    while len(polys) <= n:
        a, b = polys[-1], polys[-2]
        nxt = [0] * (len(a) + 1)
        for i, c in enumerate(a):  # 2 (2s - 1) T_k
            nxt[i + 1] += 4 * c
            nxt[i] -= 2 * c
        for i, c in enumerate(b):
            nxt[i] -= c
        polys.append(nxt)
    return polys[: n + 1]


def cheb_to_monomial(c) -> list[Fraction]:
    """Exact monomial coefficients in s of ``sum_k c_k T_k(2s - 1)`` (c exact floats).

    Parameters
    ----------
    c : sequence of float
        Chebyshev coefficients in ``x = 2s - 1`` (each float is taken as the exact binary number it is).

    Returns
    -------
    list of Fraction
        Coefficients of ``s^0, ..., s^n``.
    """
    polys = _shifted_cheb_monomials(len(c) - 1)
    out = [Fraction(0)] * len(c)
    for ck, poly in zip(c, polys):
        fk = Fraction(float(ck))
        for i, coeff in enumerate(poly):
            out[i] += fk * coeff
    return out


def _monomial_to_cheb(a_mp, dps: int) -> list:
    """Chebyshev coefficients (in x = 2s - 1) of ``sum_j a_j s^j`` (a_j mpf, ``j = 0..n``), at ``dps`` digits."""
    n = len(a_mp) - 1
    # s^j = sum_k beta_jk T_k(x), built by s T_k = (T_{k+1} + T_{|k-1|})/4 + T_k/2, exactly
    beta = [Fraction(1)]
    rows = [beta]
    for _ in range(n):
        nxt = [Fraction(0)] * (len(beta) + 1)
        for k, bk in enumerate(beta):
            nxt[k + 1] += bk / 4
            nxt[abs(k - 1)] += bk / 4
            nxt[k] += bk / 2
        beta = nxt
        rows.append(beta)
    with mp.workdps(dps):
        out = [mp.mpf(0)] * (n + 1)
        for aj, row in zip(a_mp, rows):
            for k, bk in enumerate(row):
                out[k] += aj * (mp.mpf(bk.numerator) / bk.denominator)
        return out


# ================================================================================================= errors
def _mesh(rho: Kernel, rates: np.ndarray, mag: float) -> tuple[np.ndarray, float]:
    """Breakpoints on [0, t_hi] and t_hi, beyond which the approximant is negligible."""
    rates = np.asarray(rates, float)
    w_min, w_max = float(np.min(rates)), float(np.max(rates))
    t_hi = (46.0 + math.log(max(mag, 1.0))) / w_min
    pts = {0.0}
    t_lo = min(1e-3, 1e-3 / w_max)
    n = max(8, int(24 * math.log10(t_hi / t_lo)))
    pts.update(np.geomspace(t_lo, t_hi, n).tolist())
    pts.update(np.linspace(0, min(t_hi, 20.0), 81).tolist())
    for bp in kernel_breakpoints(rho):
        if 0 < bp < t_hi:
            pts.add(bp)
    return np.array(sorted(pts)), t_hi


def kernel_breakpoints(rho: Kernel) -> list[float]:
    """Points ``t > 0`` where the kernel's expression changes form (Heaviside steps, piecewise branches).

    Empty when the kernel has none or they cannot be found: they only refine quadrature meshes.
    """
    from ...symbolic.laplace import LaplaceForm

    try:
        return list(rho.breakpoints(LaplaceForm(0, rho.substituted())))
    except Exception:  # breakpoints are an optimisation; a kernel without them is integrated on the mesh
        return []


#: Relative accuracy asked of the L1 tail past ``t_hi``, of itself or of the L1 error before it, whichever is
#: looser (its error bound is added to the L1 error).
_TAIL_RTOL = 1e-10


def approximation_errors(rho: Kernel, approximant, dps: int | None = None) -> ApproximationErrors:
    """Errors of an approximant of ``rho`` in L1, L2 and sup norm.

    Parameters
    ----------
    rho : Kernel
        The target kernel (square-integrable; the L1 error needs ``rho`` in L1 to be finite).
    approximant : DiagonalRNN, BestSum or Construction
        The approximating kernel ``sum_i a_i e^{-w_i t}`` (real rates > 0).
    dps : int, optional
        Force mpmath evaluation of ``rho - rho_hat`` at this many digits for the L1/sup errors. By default
        float64 is used unless its rounding error (``eps * sum |a_i|``) could reach 0.1% of the error, in which
        case the error function is evaluated in mpmath with the digits that cancellation needs.

    Returns
    -------
    ApproximationErrors

    Raises
    ------
    NotIntegrableError
        If rho is not square-integrable, or not integrable (L1 error infinite).

    Notes
    -----
    L1: Gauss-Legendre (20 points, checked against 10) on a mesh that is geometric from ``1e-3 / w_max`` to
    ``t_hi = (46 + log sum|a|) / w_min`` (24 intervals per decade) plus the kernel's breakpoints; intervals
    where the error changes sign are split at its roots (Brent), so each piece integrates a smooth function.
    The tail ``\\int_{t_hi}^\\infty |rho|`` (where the approximant is below ``e^-46``) is added from
    :func:`memtheory.theory.error_norms.kernel_tail_l1`, with its error bound. Sup: the largest node value,
    refined by a bounded scalar maximisation on the neighbouring interval, and the tail sampled geometrically.
    """
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    form, a_exact, rates = _as_form(approximant)
    target = FitTarget(rho)
    if not rho.is_integrable(1):
        raise NotIntegrableError(f"rho = {rho.substituted()} is not integrable: its L1 error is infinite")
    loss, _, l2_digits = exact_loss(target, a_exact, rates)
    l2 = math.sqrt(max(0.0, float(loss)))
    pts, t_hi = _mesh(rho, rates, form.magnitude())
    lo, hi = pts[:-1], pts[1:]
    half = (hi - lo) / 2
    mid = (hi + lo) / 2
    nodes = (mid[:, None] + half[:, None] * _GL_X[None, :]).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho_v = np.asarray(rho(nodes), float)
    hat, rnd = form.values(nodes)
    rnd = rnd + 2 * _EPS * np.abs(rho_v)
    err = rho_v - hat
    rough_l1 = float(np.sum(np.abs(err).reshape(lo.size, -1) * _GL_W[None, :] * half[:, None]))
    rnd_l1 = float(np.sum(rnd.reshape(lo.size, -1) * _GL_W[None, :] * half[:, None]))
    exact = l2 <= 1e-13 * math.sqrt(float(target.norm2(None)))  # in the span: the error is rounding noise
    use_mp = dps is not None or (not exact and rnd_l1 > 1e-3 * max(rough_l1, 1e-300)) or \
        not np.all(np.isfinite(err))
    evaluation = "float64"
    if use_mp:
        need = dps or int(20 + max(0.0, math.log10(max(rnd_l1, 1e-300) / max(rough_l1, 1e-300) / _EPS)))
        if need > 2000:
            raise PrecisionError("the approximant cancels to more than 2000 digits; cannot evaluate its error")
        evaluation = f"mpmath dps={need}"

        def scalar(x: float) -> float:
            with mp.workdps(need):
                return float(rho(np.array([x]), dps=need)[0] - form.values_mp([x], need)[0])

        with mp.workdps(need):
            rv = rho(nodes, dps=need)
            hv = form.values_mp(nodes, need)
            err = np.array([float(r - h) for r, h in zip(rv, hv)])
    else:
        rf = rho

        def scalar(x: float) -> float:
            return float(rf(np.array([x]))[0] - form.values(np.array([x]))[0][0])

    E = err.reshape(lo.size, -1)
    l1, l1_err = 0.0, rnd_l1 if not use_mp else 0.0
    from scipy.optimize import brentq

    for i in range(lo.size):
        row = E[i]
        if np.all(row >= 0) or np.all(row <= 0):
            v20 = float(np.sum(np.abs(row) * _GL_W)) * half[i]
            v10 = _gl10(scalar, lo[i], hi[i], absolute=True) if i % 7 == 0 else v20
            l1 += v20
            l1_err += abs(v20 - v10)
            continue
        # split at the roots of the error (between nodes of opposite sign)
        xs = mid[i] + half[i] * _GL_X
        cuts = [lo[i]]
        for j in range(xs.size - 1):
            if row[j] == 0:
                continue
            if row[j] * row[j + 1] < 0:
                try:
                    cuts.append(brentq(scalar, xs[j], xs[j + 1], xtol=1e-15 * max(1.0, xs[j + 1])))
                except ValueError:
                    cuts.append(0.5 * (xs[j] + xs[j + 1]))
        cuts.append(hi[i])
        for c0, c1 in zip(cuts[:-1], cuts[1:]):
            if c1 <= c0:
                continue
            v20 = _gl(scalar, c0, c1)
            v10 = _gl10(scalar, c0, c1)
            l1 += abs(v20)
            l1_err += abs(abs(v20) - abs(v10))
    tail = kernel_tail_l1(rho, t_hi, rtol=_TAIL_RTOL, atol=_TAIL_RTOL * l1)
    l1 += tail.value
    l1_err += tail.error + _EPS * l1
    # sup: best node, refined locally; the tail beyond t_hi sampled geometrically
    k = int(np.argmax(np.abs(err)))
    sup, argsup = float(abs(err[k])), float(nodes[k])
    from scipy.optimize import minimize_scalar

    a_, b_ = max(0.0, nodes[k] - 2 * half[k // _GL_X.size] / 10), nodes[k] + 2 * half[k // _GL_X.size] / 10
    if b_ > a_:
        res = minimize_scalar(lambda x: -abs(scalar(x)), bounds=(a_, b_), method="bounded",
                              options={"xatol": 1e-12 * max(1.0, b_)})
        if -res.fun > sup:
            sup, argsup = float(-res.fun), float(res.x)
    v0 = abs(scalar(0.0))
    if v0 > sup:
        sup, argsup = v0, 0.0
    far = np.geomspace(t_hi, 1e6 * t_hi, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fv = np.abs(np.asarray(rho(far), float))
    if np.max(fv) > sup:
        sup, argsup = float(np.max(fv)), float(far[int(np.argmax(fv))])
    return ApproximationErrors(float(l1), l2, sup, argsup, float(l1_err), float(l2_digits), float(l1), evaluation)


def _gl(f, a: float, b: float) -> float:
    h, c = (b - a) / 2, (b + a) / 2
    return h * float(sum(wk * f(c + h * xk) for xk, wk in zip(_GL_X, _GL_W)))


def _gl10(f, a: float, b: float, absolute: bool = False) -> float:
    h, c = (b - a) / 2, (b + a) / 2
    vals = [f(c + h * xk) for xk in _GL_X10]
    if absolute:
        vals = [abs(v) for v in vals]
    return h * float(sum(wk * v for v, wk in zip(vals, _GL_W10)))


def _as_form(approximant):
    """(evaluator, exact coefficients, rates) of a supported approximant."""
    if isinstance(approximant, Construction):
        return _ChebForm(approximant.kappa, np.array(approximant.cheb)), list(approximant.a_exact), \
            np.array(approximant.w)
    if isinstance(approximant, BestSum):
        return _ExpSum(approximant.a, approximant.w, approximant.a_exact), list(approximant.a_exact), \
            np.array(approximant.w)
    if isinstance(approximant, DiagonalRNN):
        if not approximant.is_real:
            raise InvalidArgumentError("approximation_errors needs real coefficients and rates")
        return _ExpSum(approximant.a, approximant.w), list(approximant.a), np.array(approximant.w)
    raise InvalidArgumentError(f"approximant must be a DiagonalRNN, BestSum or Construction, got "
                               f"{type(approximant).__name__}")


# ================================================================================================= universal
def _construction_from_monomial(rho: Kernel, kind: str, kappa: float, a_mp: list, dps: int, method: str,
                                params: dict, errors: bool) -> Construction:
    """Package a polynomial ``sum_{j=1}^m a_j s^j`` (mpf coefficients) as a Construction."""
    m = len(a_mp)
    with mp.workdps(dps + 10):
        cheb = _monomial_to_cheb([mp.mpf(0), *a_mp], dps + 10)
        cheb_f = tuple(float(c) for c in cheb)
        coef_norm = float(sum(abs(x) for x in a_mp))
        nd = 25 + max(0, math.ceil(math.log10(max(1.0, coef_norm))))
        a_exact = tuple(mp.nstr(x, nd) for x in a_mp)
    w = tuple(kappa * j for j in range(1, m + 1))
    a = tuple(float(x) for x in a_mp)
    cons = Construction(kind, m, kappa, a, w, None, float(sum(abs(x) for x in a)), method, params, cheb_f, a_exact)
    errs = approximation_errors(rho, cons) if errors else l2_only_errors(rho, a_exact, w)
    return Construction(kind, m, kappa, a, w, errs, cons.coefficient_norm, method, params, cheb_f, a_exact)


def l2_only_errors(rho: Kernel, a_exact, w) -> ApproximationErrors:
    """The errors of ``sum_i a_i e^{-w_i t}`` with only the L2 error computed (closed form); the rest are NaN.

    Parameters
    ----------
    rho : Kernel
        Square-integrable kernel.
    a_exact : sequence of str or float
        Coefficients, taken as exact numbers.
    w : sequence of float
        Positive rates.

    Returns
    -------
    ApproximationErrors
        With ``evaluation = "L2 only"``.
    """
    loss, _, digits = exact_loss(rho, a_exact, w)
    l2 = math.sqrt(max(0.0, float(loss)))
    nan = float("nan")
    return ApproximationErrors(nan, l2, nan, nan, nan, digits, nan, "L2 only")


def universal(rho: Kernel, m: int, scale: float = 1.0, errors: bool = True) -> Construction:
    """The universal-approximation construction of [CoM]: rates ``scale * (1, ..., m)``, L2-projected coefficients.

    With ``s = e^{-scale t}``, ``sum_j a_j e^{-j scale t} = p(s)`` is a polynomial with ``p(0) = 0``; such
    polynomials are dense (Weierstrass), so the error tends to 0 as ``m`` grows, for every integrable kernel.
    The coefficients are the L2-best ones for these rates: the Cauchy-Gram system ``G a = b``,
    ``G_ij = 1/(scale (i + j))`` (a scaled Hilbert matrix, condition number ~ ``e^{3.5 m}``), solved in
    arbitrary precision through its closed-form factorisation.

    Parameters
    ----------
    rho : Kernel
        Square-integrable target kernel (L1 for the L1 error).
    m : int
        Width (>= 1).
    scale : float
        Rate unit ``kappa`` (> 0).
    errors : bool
        Compute L1 and sup errors (quadrature); with False only the L2 error.

    Returns
    -------
    Construction

    Examples
    --------
    >>> import memtheory as mt
    >>> u = mt.approximation.universal(mt.Kernel("(1+t)*exp(-2*t)"), 6)
    >>> u.w
    (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    >>> round(u.errors.l2, 7)      # t e^{-2t} is not in the span: slow algebraic convergence
    0.0005952
    """
    m = check_width(m)
    scale = check_positive("scale", scale)
    w = scale * np.arange(1, m + 1, dtype=float)
    a_mp, loss, dps, digits = exact_projection(rho, w)
    return _construction_from_monomial(rho, "universal", scale, a_mp, dps, "L2 projection", {"scale": scale},
                                       errors)
