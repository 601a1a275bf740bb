r"""The paper's error norms of an approximation ``H_hat`` of a functional ``H`` ([IAT] §3, docs/theory.md §5).

Two norms of the error functional ``H - H_hat`` over inputs with ``||x||_inf <= 1``:

* ``"sup"``: ``sup_x sup_t |H_t(x) - H_hat_t(x)|``, the norm ``||H - H_hat||`` of the perturbation error
  ``E_m(beta)`` of [IAT] Definition 3.5;
* ``"w1"``: the norm of Theorem 3.9, ``sup_t (||H_t - H_hat_t|| + ||dH_t/dt - dH_hat_t/dt||)``, where
  ``||G_t|| = sup_x |G_t(x)|`` is the norm of the functional at time ``t``.

For linear functionals with kernels ``rho`` and ``rho_hat`` both are known exactly: with the error kernel
``e = rho - rho_hat``, ``H_t(x) - H_hat_t(x) = int_0^inf e(s) x(t - s) ds`` has norm ``||e||_{L^1}`` (reached by
``x(t - s) = sign e(s)``), and writing it as ``int_{-inf}^t e(t - u) x(u) du``, its time derivative
``e(0) x(t) + int_0^inf e'(s) x(t - s) ds`` has norm ``|e(0)| + ||e'||_{L^1}`` (the jump of ``e`` at 0, where the
input enters, plus the variation after it: the total variation of ``e`` extended by 0 to ``s < 0``). Hence

    ``sup = ||e||_1``,    ``w1 = ||e||_1 + |e(0)| + ||e'||_1``,

both independent of ``t`` (time homogeneity). :func:`linear_error_norm` evaluates them by adaptive quadrature
of ``|e|`` and ``|e'|`` split at the sign changes, with an error estimate that must be below ``rtol``. Sign
changes are looked for on a log grid; a piece where the adaptive rule still fails (an oscillating error kernel,
whose roots outrun the log grid) is resampled uniformly and split at the sign changes found there. The tail past
the grid is integrated in log time, and past ``t = 1e300`` in mpmath, until a proven envelope of the target bounds
what is left below the tolerance (a tail as slow as ``t^-1.01`` keeps 0.09 of its 99.5 past ``t = 1e304``). What
cannot be integrated to ``rtol`` that way (a tail that oscillates under a power-law envelope) raises a
``PrecisionError``; a target that is not integrable (``(1 + t)^-1``: the functional is unbounded) raises a
``NotIntegrableError``, as does the ``"w1"`` norm of a kernel that is infinite at 0.

For other models (nonlinear RNNs, or a linear model on a test set) :func:`sampled_error_norm` evaluates the same
definitions on a set of input sequences (each with ``||x||_inf <= 1``) and their outputs: the sup over the
sequences replaces the sup over all inputs (a lower bound of the norm, up to the time discretisation) and the
derivative is the backward difference ``(e_k - e_{k-1}) / dt`` of an error started from rest (``e_{-1} = 0``).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import integrate
from scipy.optimize import brentq

from .._validation import as_real, check_finite, check_positive
from ..compile import codegen
from ..errors import CertificationError, InvalidArgumentError, NotHurwitzError, NotIntegrableError, PrecisionError
from ..kernels.kernel import Kernel
from ..models.linear import DiagonalRNN, LinearRNN
from ..symbolic.parse import symbol

__all__ = ["PAPER_NORMS", "NormValue", "kernel_tail_l1", "linear_error_norm", "sampled_error_norm"]

#: The paper's norms: the functional sup-norm of [IAT] Definition 3.5 and the W^1 norm of its Theorem 3.9.
PAPER_NORMS = ("sup", "w1")
_T = symbol("t")
_RTOL_MIN = 1e-13  # what double-precision quadrature can promise
_NONSMOOTH = (sp.Heaviside, sp.Piecewise, sp.Abs, sp.sign, sp.Min, sp.Max, sp.DiracDelta)


@dataclass(frozen=True)
class NormValue:
    """A norm and the bound on its quadrature error.

    Attributes
    ----------
    value : float
        The norm (``inf`` for a model that is not stable: its error kernel is not integrable).
    error : float
        Bound on ``|value - exact|`` from the quadrature's error estimates (0 for ``inf``).
    """

    value: float
    error: float


def _modes(model) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``a_i`` and rates ``w_i`` of ``rho_hat = sum a_i e^{-w_i t}`` (complex pairs allowed)."""
    if isinstance(model, DiagonalRNN):
        return np.asarray(model.a), np.asarray(model.w)
    if isinstance(model, LinearRNN):
        if model.d != 1:
            raise InvalidArgumentError("model: the exact norms need a scalar input (d = 1)")
        if not model.is_hurwitz:
            raise NotHurwitzError("model: W is not Hurwitz (the error kernel is not integrable)")
        modal = model.to_diagonal()
        return modal.a, modal.w
    raise InvalidArgumentError(f"model: must be a DiagonalRNN or LinearRNN, got {type(model).__name__}")


def _expression(rho: Kernel, derivative: bool) -> sp.Expr:
    """``rho`` or ``rho'`` with the parameters substituted; raises for a non-integrable one."""
    expr = rho.substituted()
    if derivative:
        if expr.has(*_NONSMOOTH):
            raise InvalidArgumentError("norm: the exact 'w1' norm needs a differentiable kernel (no steps, |.|, "
                                       "min/max); evaluate it on a test set instead")
        expr = sp.diff(expr, _T)
    if not Kernel(expr).is_integrable(1):
        which = "rho'" if derivative else "rho"
        raise NotIntegrableError(f"{which} = {expr} is not integrable on [0, inf): the error functional is "
                                 f"unbounded (its norm is infinite)")
    return expr


def _float_function(expr: sp.Expr):
    f = codegen.numpy_function((_T,), expr)

    def call(t):  # numpy floats: overflow to inf/0 instead of Python's OverflowError; arrays elementwise
        with np.errstate(all="ignore"):
            if np.ndim(t):
                return np.broadcast_to(np.asarray(f(np.asarray(t, dtype=float)), dtype=float), np.shape(t))
            return float(f(np.float64(t)))

    return call


def _check_rtol(rtol) -> float:
    rtol = check_finite("rtol", rtol)
    if not (_RTOL_MIN <= rtol < 1.0):
        raise InvalidArgumentError(f"rtol: must lie in [{_RTOL_MIN:g}, 1), got {rtol!r} (the quadrature works in "
                                   f"double precision)")
    return rtol


def linear_error_norm(model, rho: Kernel, norm: str = "sup", rtol: float = 1e-8, lags=None) -> NormValue:
    """Exact ``sup`` or ``w1`` norm of ``H - H_hat`` for a linear model and a kernel target (module docstring).

    With ``lags`` the functionals are the discrete ones ``y_n = sum_k rho(t_k) x_{n-k}`` on those lags (the
    paper's least-squares grid ``t = 1..100`` of its Fig. 1), whose sup-norm is ``sum_k |e(t_k)|`` exactly.

    Parameters
    ----------
    model : DiagonalRNN or LinearRNN
        The approximation, kernel ``rho_hat(t) = sum_i a_i e^{-w_i t}`` (a LinearRNN through its modal form).
    rho : Kernel
        The target's memory kernel, integrable on ``[0, inf)`` (and differentiable for ``"w1"``).
    norm : {"sup", "w1"}
        ``||e||_1`` or ``||e||_1 + |e(0)| + ||e'||_1`` with ``e = rho - rho_hat``.
    rtol : float
        Largest accepted relative quadrature error, in ``[1e-13, 1)``.
    lags : array_like, optional
        Lags ``t_k >= 0`` of a discrete functional (``"sup"`` only); the result is a finite sum (error 0 beyond
        rounding).

    Returns
    -------
    NormValue

    Raises
    ------
    InvalidArgumentError
        Unknown norm, a model that is not linear, a non-differentiable kernel for ``"w1"``, ``rtol`` outside
        ``[1e-13, 1)``, lags that are not finite times ``>= 0``.
    NotIntegrableError
        ``rho`` (or for ``"w1"`` ``rho'``) not integrable on ``[0, inf)``, or ``rho(0)`` infinite for ``"w1"``:
        the norm is infinite. (Decays slower than ``t^-1.001`` count as not integrable:
        :meth:`~memtheory.kernels.Kernel.is_integrable`.)
    NotHurwitzError
        A LinearRNN whose W is not Hurwitz (a DiagonalRNN cannot hold an unstable rate).
    PrecisionError
        The quadrature could not reach ``rtol``.

    Examples
    --------
    >>> import memtheory as mt
    >>> from memtheory.theory.error_norms import linear_error_norm
    >>> res = linear_error_norm(mt.DiagonalRNN([0.5], [1.0]), mt.kernels.exponential(1.0), "w1")
    >>> round(res.value, 12)  # ||e||_1 + |e(0)| + ||e'||_1 = 0.5 + 0.5 + 0.5
    1.5
    """
    if norm not in PAPER_NORMS:
        raise InvalidArgumentError(f"norm: unknown {norm!r}; allowed: {', '.join(PAPER_NORMS)}")
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho: must be a Kernel, got {type(rho).__name__}")
    rtol = _check_rtol(rtol)
    a, w = _modes(model)
    if lags is not None:
        if norm != "sup":
            raise InvalidArgumentError(f"lags: only the 'sup' norm of a discrete functional is defined, got {norm!r}")
        t = as_real(lags, "lags")
        if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidArgumentError("lags: must be a non-empty 1-D array of finite times >= 0")
        e = np.abs(_float_function(rho.substituted())(t) - _modal(a, w, t))
        if not np.all(np.isfinite(e)):
            raise InvalidArgumentError("rho: the error kernel is not finite at the lags")
        return NormValue(float(math.fsum(e)), 0.0)
    feats = [p for p in rho.feature_points() if p > 0]
    expr = _expression(rho, False)
    dexpr = _expression(rho, True) if norm == "w1" else None  # refused before any quadrature
    e = _ErrorKernel(expr, a, w)
    val, err = _l1(e, feats, rtol)
    if norm == "sup":
        return NormValue(val, err)
    e0 = abs(e(0.0))
    if not math.isfinite(e0):
        raise NotIntegrableError(f"rho = {expr} is not finite at t = 0: the error functional is not in W^1 "
                                 f"(its 'w1' norm is infinite)")
    dval, derr = _l1(_ErrorKernel(dexpr, -a * w, w), feats, rtol)
    return NormValue(val + e0 + dval, err + derr)


def kernel_tail_l1(rho: Kernel, t0: float, rtol: float = 1e-10, atol: float = 0.0) -> NormValue:
    """``int_t0^inf |rho(t)| dt`` with a bound on its error, by the quadrature of :func:`linear_error_norm`'s L1
    norms (sign changes located, slow tails followed past ``1e300`` until a proven envelope bounds the rest).

    Parameters
    ----------
    rho : Kernel
        An integrable kernel.
    t0 : float
        Start of the tail (``>= 0``).
    rtol : float
        Relative accuracy asked of the value, in ``[1e-13, 1)``.
    atol : float
        Absolute accuracy that suffices (``>= 0``; the error asked is ``max(rtol * value, atol)``): a tail that is
        a small part of a larger integral needs only that integral's accuracy.

    Raises
    ------
    NotIntegrableError
        ``rho`` is not integrable.
    PrecisionError
        The tail decays too slowly to be integrated to the accuracy asked, or a quadrature failed.

    Examples
    --------
    >>> import memtheory as mt
    >>> from memtheory.theory.error_norms import kernel_tail_l1
    >>> round(kernel_tail_l1(mt.Kernel("(1+t)**(-3/2)"), 3.0).value, 12)  # 2 / sqrt(4)
    1.0
    """
    t0 = check_finite("t0", t0)
    if t0 < 0:
        raise InvalidArgumentError(f"t0: must be >= 0, got {t0!r}")
    rtol = _check_rtol(rtol)
    atol = check_finite("atol", atol)
    if atol < 0:
        raise InvalidArgumentError(f"atol: must be >= 0, got {atol!r}")
    feats = [p for p in rho.feature_points() if p > t0]
    f = _ErrorKernel(_expression(rho, False), np.zeros(0), np.zeros(0))
    return NormValue(*_l1(f, feats, rtol, float(t0), atol))


class _ErrorKernel:
    """``e(t) = g(t) - sum_i c_i e^{-w_i t}`` for a target expression ``g`` (``rho`` or ``rho'``): float values
    (elementwise on arrays), and the pieces the tail needs: ``g`` alone in mpmath (past double range, where the
    modes are 0) and a bound on the modes' L1 tail."""

    def __init__(self, expr: sp.Expr, c: np.ndarray, w: np.ndarray):
        self.expr, self.c, self.w = expr, c, w
        self._g = _float_function(expr)

    @functools.cached_property
    def target_mp(self):
        """``g`` in mpmath, compiled when a tail first reaches past double range."""
        return codegen.mpmath_function((_T,), self.expr)

    def __call__(self, t):
        return self._g(t) - _modal(self.c, self.w, t)

    def modal_tail_bound(self, t0: float) -> float:
        """``int_t0^inf |sum_i c_i e^{-w_i t}| dt <= sum_i |c_i| e^{-Re w_i t0} / Re w_i``."""
        wr = self.w.real
        with np.errstate(under="ignore"):
            return float(np.sum(np.abs(self.c) * np.exp(-wr * t0) / wr))


def _modal(a: np.ndarray, w: np.ndarray, t):
    """``sum_i a_i e^{-w_i t}`` (real part), at a float or elementwise on an array."""
    with np.errstate(all="ignore"):
        if np.ndim(t):
            return (np.exp(-np.multiply.outer(np.asarray(t, dtype=float), w)) @ a).real
        return float(np.dot(a, np.exp(-w * t)).real)


def _sign_changes(f, grid: np.ndarray, vals: np.ndarray) -> list[float]:
    """Roots of ``f`` (to about 1e-15 relative) in the cells of ``grid`` where its sampled ``vals`` change sign."""
    return [brentq(f, grid[i], grid[i + 1], xtol=1e-15 * max(1.0, grid[i]), rtol=1e-15)
            for i in np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)]


def _l1(f: _ErrorKernel, feats: list, rtol: float, t0: float = 0.0, atol: float = 0.0) -> tuple[float, float]:
    """``int_t0^inf |f|`` split at the sign changes of f (found on a log grid past every time scale), plus the
    tail past the grid (:func:`_tail`)."""
    slow = 1.0 / float(np.min(f.w.real)) if f.w.size else 0.0
    horizon = max(1e4, 80.0 * slow, 4.0 * max(feats, default=0.0), 100.0 * t0)
    if horizon > 1e250:
        raise PrecisionError(f"the slowest time scale {max(slow, t0):.3g} is beyond what double precision can "
                             f"integrate over")
    grid = np.unique(np.concatenate([[t0], np.geomspace(max(t0, 1e-6), horizon, 3000), feats]))
    vals = f(grid)
    if not np.all(np.isfinite(vals[1:])):
        bad = float(grid[1:][~np.isfinite(vals[1:])][0])
        if mp.isfinite(f.target_mp(mp.mpf(bad))):
            raise PrecisionError(f"rho overflows double precision at t = {bad:.6g} (its L1 norm is computed in "
                                 f"double precision); rescale the kernel")
        raise InvalidArgumentError(f"rho: the error kernel is not finite at t = {bad:.6g}")
    if not math.isfinite(vals[0]):  # an integrable singularity at 0 (t^-1/2 e^-t): its sign from the right
        vals[0] = vals[1]
    pts = [t0, *_sign_changes(f, grid, vals)]
    pts += [p for p in feats]
    # decades as extra breakpoints help the adaptive rule on long, slowly decaying stretches
    pts += [10.0**k for k in range(-2, int(math.log10(horizon)) + 1) if 10.0**k > t0]
    pts = sorted(set(pts))
    total = err = 0.0
    g = lambda t: abs(f(t))  # noqa: E731
    epsrel = min(1e-10, max(2e-14, 1e-2 * rtol))  # QUADPACK accepts no relative tolerance below 50 eps
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        try:
            for lo, hi in zip(pts[:-1], pts[1:]):
                v, e = _piece(f, g, lo, hi, max(1e-3 * rtol * total, 1e-3 * atol), epsrel)
                total, err = total + v, err + e
            v, e = _tail(f, pts[-1], max(1e-3 * rtol * total, 0.1 * atol), epsrel)
        except integrate.IntegrationWarning as exc:
            raise PrecisionError(f"the L1 quadrature of the error kernel failed: {str(exc).splitlines()[0]}") from None
    total, err = total + v, err + e
    # the rounding of e = g - sum c_i e^{-w_i t} itself, a few ulps of |g| + |modes| at every point, which the
    # quadratures' own estimates do not see where the two cancel (|g| <= |e| + |modes|)
    err += 2 * _EPS * (total + 2 * f.modal_tail_bound(t0))
    if not math.isfinite(total) or err > max(rtol * max(total, 1e-300), atol):
        raise PrecisionError(f"the L1 quadrature of the error kernel reached only {err:.2g} (value {total:.6g})")
    return total, err


#: Unit of the rounding of the error kernel's values (a few of these times ``|g| + |modes|`` at every point).
_EPS = float(np.finfo(float).eps)
#: Largest ``t`` the tail integrates in double precision; past it the target is evaluated in mpmath.
_T_FLOAT = 1e300
#: The tail is followed in mpmath up to ``t = exp(_U_MAX)`` at most.
_U_MAX = 2.0**24


def _tail(f: _ErrorKernel, t0: float, small: float, epsrel: float) -> tuple[float, float]:
    r"""``int_t0^inf |f|`` and its error, ``small`` an absolute error that does not matter.

    In log time ``t = t0 e^u`` a power-law tail decays exponentially (``int |f(t)| t du``). Where the
    target's envelope (:func:`memtheory.certified.tails.tail_integral_bound`: ``|g(t)| <= C t^p e^{-lam t}``, a
    proven bound) says that the rest of the tail is below ``small``, it stops: the rest, whose value lies in
    ``[0, B]`` for the bound ``B`` (plus the modes' tail), is counted as ``B/2 +- B/2``; the bound is tried before
    every piece. Up to ``t = 1e300`` the tail is integrated in double precision on pieces of doubling length in
    ``u``; a piece the log-time rule cannot integrate (sign changes of an oscillating tail) is split into chunks
    doubling in ``t`` and integrated between its sign changes (:func:`_piece`); further out (a tail as slow as
    ``t^-1.01`` still holds 0.09 of 99.5 past ``t = 1e304``) the target is evaluated in mpmath on blocks of
    doubling length, up to ``t = exp(2^24)``. For a target that no envelope rule covers, the rest past ``u`` is
    estimated as ``h(u) / r`` from the local decay rate ``r = -d ln h / du`` of ``h = |g(t)| t``, accepted once
    ``r ln t >= 50`` (then the rest decays exponentially in ``u``, or as a power of ``ln t`` of degree above 50,
    and the estimate is good to a few per cent; it is counted in the error in full).
    """
    from ..certified.tails import tail_integral_bound

    covered = True  # whether the envelope rules cover the target (else the rest is estimated from the decay rate)

    def rest(t) -> float | None:
        """Bound on ``int_t^inf |f|`` (None: no envelope rule, or none valid from ``t`` on)."""
        nonlocal covered
        try:
            b = tail_integral_bound(f.expr, _T, t)
        except CertificationError:
            covered = False
            return None
        if b is None or not b.is_finite():
            return None
        return float(b) + f.modal_tail_bound(float(t))

    bound = rest(t0)
    if bound is not None and bound <= small:
        return bound / 2, bound / 2

    def h(u: float) -> float:
        t = t0 * math.exp(u)
        return abs(f(t)) * t

    u_float = math.log(_T_FLOAT / t0)
    cuts = [0.0, *[2.0**k for k in range(-6, int(math.log2(u_float)) + 1)], u_float]
    total = err = 0.0
    g = lambda t: abs(f(t))  # noqa: E731
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if lo > 0 and covered:
            bound = rest(t0 * math.exp(lo))
            if bound is not None and bound <= small:
                return total + bound / 2, err + bound / 2
        try:
            v, e = integrate.quad(h, lo, hi, epsabs=small / len(cuts), epsrel=epsrel, limit=200)
        except integrate.IntegrationWarning:  # sign changes the log-time rule cannot see: split them in t,
            a, b = t0 * math.exp(lo), t0 * math.exp(hi)  # on chunks doubling in t, the envelope checked before each
            v = e = 0.0
            while a < b:
                bound = rest(a) if covered else None
                if bound is not None and bound <= small:
                    return total + v + bound / 2, err + e + bound / 2
                dv, de = _piece(f, g, a, min(2 * a, b), small / len(cuts), epsrel, adaptive=False)
                v, e, a = v + dv, e + de, min(2 * a, b)
        total, err = total + v, err + e
    # past double range (the modes are 0 there: at t = 1e300 they are below e^{-1e46})
    err += f.modal_tail_bound(_T_FLOAT)
    ln_t0 = mp.log(mp.mpf(t0))

    def log_h(u) -> mp.mpf:  # ln h(u) in mpmath: t = t0 e^u can be e^(2^24)
        g = abs(f.target_mp(mp.mpf(t0) * mp.exp(u)))
        return mp.log(g) + ln_t0 + u if g != 0 else -mp.inf

    u = mp.mpf(u_float)
    with mp.workdps(20):
        while True:
            bound = rest(sp.exp(sp.Float(u, 30)) * sp.Float(t0, 30)) if covered else None
            if bound is not None and bound <= small:
                return total + bound / 2, err + bound / 2
            if bound is None:  # no envelope (or none valid here, a step's bound 1): the local decay rate
                lh = log_h(u)
                if lh == -mp.inf:  # the target is 0 from here on (or below mpmath's range)
                    return total, err
                r = log_h(u - 1) - lh  # the local decay rate of h per unit of u
                if r > 0 and r * (u + ln_t0) >= 50:
                    estimate = float(mp.exp(lh) / r)
                    if estimate <= small:
                        return total + estimate, err + estimate
            if u >= _U_MAX:
                raise PrecisionError(f"the tail of the error kernel past t = {t0:.3g} decays too slowly to be "
                                     f"integrated to the tolerance (still above {small:.2g} past "
                                     f"t = exp({float(u):.3g}))")
            v, e = mp.quad(lambda x: mp.exp(log_h(x)), mp.linspace(u, 2 * u, 5), error=True)
            total, err, u = total + float(v), err + float(e), 2 * u


_REFINE = 4096  # uniform samples of a piece whose |f| the adaptive rule could not integrate (hidden sign changes)
_REFINE_MAX = 2**21  # at most this many samples per piece (about 2^17 sign changes)
_GL20 = np.polynomial.legendre.leggauss(20)
_GL10 = np.polynomial.legendre.leggauss(10)


def _piece(f, g, lo: float, hi: float, small: float, epsrel: float, adaptive: bool = True) -> tuple[float, float]:
    """``int_lo^hi |f|`` with its error estimate; ``small`` is an absolute error that does not matter.

    First one adaptive rule over the piece (unless ``adaptive`` is False). If it fails (``|f|`` has kinks at sign
    changes the log grid of :func:`_l1` did not resolve: an oscillating error kernel, e.g. a damped cosine target),
    the piece is sampled at :data:`_REFINE` equally spaced points, eight times more while more than one in 16
    neighbours change sign (up to :data:`_REFINE_MAX`), and split at the sign changes found (refined by bisection,
    vectorised). Few parts are integrated one by one by the adaptive rule; many (a slowly decaying oscillation:
    thousands of half-periods) by 20-point Gauss-Legendre each, vectorised, with the difference from 10 points as
    the error (each part is smooth and of one sign). ``small`` (a fraction of the norm accumulated so far, the
    pieces coming in increasing ``t``) lets the parts far out in a damped tail, which cannot change the result,
    stop at an absolute tolerance.
    """
    if adaptive:
        try:
            return integrate.quad(g, lo, hi, epsabs=small, epsrel=epsrel, limit=200)
        except integrate.IntegrationWarning:
            pass
    n = _REFINE
    while True:
        grid = np.linspace(lo, hi, n + 1)
        vals = f(grid)
        flips = np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)
        if flips.size * 16 <= n or n >= _REFINE_MAX:
            break
        n *= 8
    if flips.size * 16 > n:
        raise PrecisionError(f"the L1 quadrature of the error kernel failed: it changes sign more than {flips.size} "
                             f"times on [{lo:.6g}, {hi:.6g}] (an oscillation that decays too slowly to integrate to "
                             f"the tolerance)")
    cuts = np.concatenate([[lo], _bisect_roots(f, grid[flips], grid[flips + 1]), [hi]])
    if cuts.size > 65:
        return _gauss_legendre_abs(f, cuts[:-1], cuts[1:])
    total = err = 0.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        try:
            v, e = integrate.quad(g, a, b, epsabs=small / cuts.size, epsrel=epsrel, limit=200)
        except integrate.IntegrationWarning:  # round-off at a tolerance near 50 eps: the fixed rule, and its error
            v, e = _gauss_legendre_abs(f, np.array([a]), np.array([b]))
        total, err = total + v, err + e
    return total, err


def _gauss_legendre_abs(f, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``sum_i int_{a_i}^{b_i} |f|`` by 20-point Gauss-Legendre on each part (vectorised), the difference from 10
    points as the error (for parts on which ``f`` is smooth and of one sign)."""
    half, mid = (b - a) / 2, (b + a) / 2
    parts = []
    for x, w in (_GL20, _GL10):
        vals = np.abs(f((mid[:, None] + half[:, None] * x[None, :]).ravel())).reshape(a.size, x.size)
        parts.append((vals @ w) * half)
    return float(np.sum(parts[0])), float(np.sum(np.abs(parts[0] - parts[1])) + 1e-15 * np.sum(parts[0]))


def _bisect_roots(f, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Roots of ``f`` in the brackets ``[a_i, b_i]`` (``f(a_i) f(b_i) < 0``), by vectorised bisection to about
    1e-15 relative."""
    fa = np.sign(f(a))
    for _ in range(60):
        m = (a + b) / 2
        fm = np.sign(f(m))
        left = fm == fa
        a, b = np.where(left, m, a), np.where(left, b, m)
        if np.all(b - a <= 1e-15 * np.maximum(1.0, np.abs(b))):
            break
    return (a + b) / 2


def sampled_error_norm(outputs, targets, dt: float, norm: str = "sup") -> float:
    """``sup`` or ``w1`` norm of the error on a set of input sequences with ``||x||_inf <= 1`` (module docstring).

    Parameters
    ----------
    outputs, targets : array_like (n, T)
        Model outputs and target values on ``n`` sequences of ``T`` steps (starting from rest).
    dt : float
        Time step (the derivative is ``(e_k - e_{k-1}) / dt`` with ``e_{-1} = 0``).
    norm : {"sup", "w1"}
        ``max_{n,k} |e_{nk}|`` or ``max_k (max_n |e_{nk}| + max_n |e_{nk} - e_{n,k-1}| / dt)``.

    Returns
    -------
    float
        The norm; ``inf`` if an output is not finite (a model that blew up).

    Raises
    ------
    InvalidArgumentError
        Unknown norm, arrays that are not real or not of one ``(n, T)`` shape, targets that are not finite,
        ``dt`` not a finite number ``> 0``.

    Examples
    --------
    >>> from memtheory.theory.error_norms import sampled_error_norm
    >>> sampled_error_norm([[0.0, 0.5, 0.5]], [[0.0, 0.0, 0.0]], dt=0.5, norm="w1")
    1.5
    """
    if norm not in PAPER_NORMS:
        raise InvalidArgumentError(f"norm: unknown {norm!r}; allowed: {', '.join(PAPER_NORMS)}")
    out = as_real(outputs, "outputs")
    y = as_real(targets, "targets")
    if out.shape != y.shape or out.ndim != 2 or out.size == 0:
        raise InvalidArgumentError(f"outputs and targets must be non-empty (n, T) arrays of one shape, got "
                                   f"{out.shape} and {y.shape}")
    dt = check_positive("dt", dt)
    if not np.all(np.isfinite(y)):
        raise InvalidArgumentError("targets: must be finite (the target's values on the test inputs)")
    if not np.all(np.isfinite(out)):
        return math.inf
    with np.errstate(over="ignore", invalid="ignore"):
        e = out - y
        level = np.max(np.abs(e), axis=0)
        if norm == "sup":
            val = float(np.max(level))
        else:
            de = np.diff(e, axis=1, prepend=0.0) / dt
            val = float(np.max(level + np.max(np.abs(de), axis=0)))
    return val if math.isfinite(val) else math.inf
