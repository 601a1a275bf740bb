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
whose roots outrun the log grid) is resampled uniformly and split at the sign changes found there. What cannot be
integrated to ``rtol`` that way (a tail that oscillates under a power-law envelope) raises a ``PrecisionError``.

For other models (nonlinear RNNs, or a linear model on a test set) :func:`sampled_error_norm` evaluates the same
definitions on a set of input sequences (each with ``||x||_inf <= 1``) and their outputs: the sup over the
sequences replaces the sup over all inputs (a lower bound of the norm, up to the time discretisation) and the
derivative is the backward difference ``(e_k - e_{k-1}) / dt`` of an error started from rest (``e_{-1} = 0``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import integrate
from scipy.optimize import brentq

from ..compile import codegen
from ..errors import InvalidArgumentError, NotHurwitzError, PrecisionError
from ..kernels.kernel import Kernel
from ..models.linear import DiagonalRNN, LinearRNN
from ..symbolic.parse import symbol

__all__ = ["PAPER_NORMS", "NormValue", "linear_error_norm", "sampled_error_norm"]

#: The paper's norms: the functional sup-norm of [IAT] Definition 3.5 and the W^1 norm of its Theorem 3.9.
PAPER_NORMS = ("sup", "w1")
_T = symbol("t")
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


def _callables(rho: Kernel, derivative: bool):
    expr = rho.substituted()
    if derivative:
        if expr.has(*_NONSMOOTH):
            raise InvalidArgumentError("norm: the exact 'w1' norm needs a differentiable kernel (no steps, |.|, "
                                       "min/max); evaluate it on a test set instead")
        expr = sp.diff(expr, _T)
    f = codegen.numpy_function((_T,), expr)

    def call(t):  # numpy floats: overflow to inf/0 instead of Python's OverflowError; arrays elementwise
        with np.errstate(all="ignore"):
            if np.ndim(t):
                return np.broadcast_to(np.asarray(f(np.asarray(t, dtype=float)), dtype=float), np.shape(t))
            return float(f(np.float64(t)))

    return call


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
        Largest accepted relative quadrature error.
    lags : array_like, optional
        Lags ``t_k >= 0`` of a discrete functional (``"sup"`` only); the result is a finite sum (error 0 beyond
        rounding).

    Returns
    -------
    NormValue

    Raises
    ------
    InvalidArgumentError
        Unknown norm, a model that is not linear, a non-differentiable kernel for ``"w1"``.
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
    a, w = _modes(model)
    if lags is not None:
        if norm != "sup":
            raise InvalidArgumentError(f"lags: only the 'sup' norm of a discrete functional is defined, got {norm!r}")
        t = np.asarray(lags, dtype=float)
        if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InvalidArgumentError("lags: must be a non-empty 1-D array of finite times >= 0")
        e = np.abs(_callables(rho, False)(t) - _modal(a, w, t))
        return NormValue(float(math.fsum(e)), 0.0)
    feats = [p for p in rho.feature_points() if p > 0]
    val, err = _l1(lambda t, f=_callables(rho, False): f(t) - _modal(a, w, t), w, feats, rtol)
    if norm == "sup":
        return NormValue(val, err)
    e0 = abs(_callables(rho, False)(0.0) - _modal(a, w, 0.0))
    dval, derr = _l1(lambda t, f=_callables(rho, True): f(t) + _modal(a * w, w, t), w, feats, rtol)
    return NormValue(val + e0 + dval, err + derr)


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


def _l1(f, w: np.ndarray, feats: list, rtol: float) -> tuple[float, float]:
    """``int_0^inf |f|`` split at the sign changes of f (found on a log grid past every time scale)."""
    slow = 1.0 / float(np.min(w.real))
    horizon = max(1e4, 80.0 * slow, 4.0 * max(feats, default=0.0))
    grid = np.unique(np.concatenate([[0.0], np.geomspace(1e-6, horizon, 3000), feats]))
    vals = f(grid)
    if not np.all(np.isfinite(vals)):
        raise InvalidArgumentError("rho: the error kernel is not finite on [0, inf)")
    pts = [0.0, *_sign_changes(f, grid, vals)]
    pts += [p for p in feats]
    # decades as extra breakpoints help the adaptive rule on long, slowly decaying stretches
    pts += [10.0**k for k in range(-2, int(math.log10(horizon)) + 1)]
    pts = sorted(set(pts))
    total = err = 0.0
    g = lambda t: abs(f(t))  # noqa: E731
    last = pts[-1]

    def tail(u: float) -> float:  # t = last * e^u: slowly (power-law) decaying tails decay exponentially in u
        t = last * math.exp(u) if u < 700.0 else math.inf
        return g(t) * t if math.isfinite(t) else 0.0  # past t = 1e304: below 1e-30 for tails up to t^-1.1

    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        try:
            for lo, hi in zip(pts[:-1], pts[1:]):
                v, e = _piece(f, g, lo, hi, 1e-3 * rtol * total)
                total, err = total + v, err + e
            v, e = integrate.quad(tail, 0.0, np.inf, epsabs=0.0, epsrel=1e-12, limit=400)
        except integrate.IntegrationWarning as exc:
            raise PrecisionError(f"the L1 quadrature of the error kernel failed: {str(exc).splitlines()[0]}") from None
    total, err = total + v, err + e
    if not math.isfinite(total) or err > rtol * max(total, 1e-300):
        raise PrecisionError(f"the L1 quadrature of the error kernel reached only {err:.2g} (value {total:.6g})")
    return total, err


_REFINE = 4096  # uniform samples of a piece whose |f| the adaptive rule could not integrate (hidden sign changes)


def _piece(f, g, lo: float, hi: float, small: float) -> tuple[float, float]:
    """``int_lo^hi |f|`` with its error estimate; ``small`` is an absolute error that does not matter.

    First one adaptive rule over the piece. If it fails (``|f|`` has kinks at sign changes the log grid of
    :func:`_l1` did not resolve: an oscillating error kernel, e.g. a damped cosine target), the piece is sampled
    at :data:`_REFINE` equally spaced points, split at the sign changes found there, and each part (smooth and of
    one sign unless the oscillation is faster still) is integrated on its own; a part that fails again raises.
    ``small`` (a fraction of the norm accumulated so far, the pieces coming in increasing ``t``) lets the parts
    far out in an exponentially damped tail, which cannot change the result, stop at an absolute tolerance.
    """
    try:
        return integrate.quad(g, lo, hi, epsabs=small, epsrel=1e-12, limit=200)
    except integrate.IntegrationWarning:
        pass
    grid = np.linspace(lo, hi, _REFINE + 1)
    vals = f(grid)
    cuts = [lo, *_sign_changes(f, grid, vals), hi]
    total = err = 0.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        v, e = integrate.quad(g, a, b, epsabs=small / len(cuts), epsrel=1e-12, limit=200)
        total, err = total + v, err + e
    return total, err


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
        The norm; ``inf`` if an output is not finite.

    Examples
    --------
    >>> from memtheory.theory.error_norms import sampled_error_norm
    >>> sampled_error_norm([[0.0, 0.5, 0.5]], [[0.0, 0.0, 0.0]], dt=0.5, norm="w1")
    1.5
    """
    if norm not in PAPER_NORMS:
        raise InvalidArgumentError(f"norm: unknown {norm!r}; allowed: {', '.join(PAPER_NORMS)}")
    out = np.asarray(outputs, dtype=float)
    y = np.asarray(targets, dtype=float)
    if out.shape != y.shape or out.ndim != 2 or out.size == 0:
        raise InvalidArgumentError(f"outputs and targets must be non-empty (n, T) arrays of one shape, got "
                                   f"{out.shape} and {y.shape}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise InvalidArgumentError(f"dt: must be a finite number > 0, got {dt!r}")
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
