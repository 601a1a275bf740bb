r"""Best L2 approximation of a memory kernel by a sum of real exponentials (docs/theory.md §3).

The width-``m`` linear RNN with real diagonal recurrence has the kernel ``rho_hat(t) = sum_i a_i e^{-w_i t}``.
:func:`best_exponential_sum` computes the L2-optimal one,

.. math:: \min_{a \in \mathbb R^m,\ w_i > 0} J(a, w) = \int_0^\infty (\hat\rho - \rho)^2 dt,

optionally with a stability margin ``w_i >= min_rate``.

Method
------
Variable projection (:mod:`memtheory.theory.approximation.varpro`): for fixed rates the optimal coefficients
solve the Cauchy-Gram system ``G a = b``, ``G_ij = 1/(w_i + w_j)``, through its closed-form factorisation
``G = L D L^T``; the log-rates ``u = log(w - min_rate)`` are optimised by Levenberg-Marquardt with Kaufman's
Gauss-Newton matrix, also closed form. Widths are reached by continuation ``m -> m + 1`` (this module), always through every smaller width, so
the result at a width does not depend on which other widths were requested: the new
rate is inserted where the loss decrease of adding one mode, ``2x R(x)^2 / B(x)^2`` (``R`` the Laplace transform
of the residual, ``B`` the Blaschke product of the rates), is largest, with several insertion points tried
(multi-start). The loss is the difference of ``||rho||^2`` and a quantity close to it, so float64 runs out of
digits once the relative loss is below about 1e-8; the computation then moves to mpmath with ``dps`` sized from
the magnitudes of the terms (which grow with the condition number of ``G``). Every result carries the precision
it needed and an a posteriori check of its digits (recomputation at 20 more digits).

References: [CoM] Li, Han, E, Li (ICLR 2021; JMLR 2022); Braess & Hackbusch, *Approximation of 1/x by
exponential sums in [1, inf)*, IMA J. Numer. Anal. 25 (2005); Golub & Pereyra, *The differentiation of
pseudo-inverses and nonlinear least squares problems whose variables separate*, SIAM J. Numer. Anal. 10 (1973);
Kaufman, BIT 15 (1975).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from ..._runtime import blas_limit
from ...display import Displayable
from ..._validation import check_dps
from ...errors import ConvergenceError, ConvergenceWarning, InvalidArgumentError, NotIntegrableError
from ...kernels.kernel import Kernel
from ...models.linear import DiagonalRNN
from ...sweep import progress as sweep_progress
from .varpro import (
    DEFAULT_SEPARATION,
    EXACT_REL_LOSS,
    MAX_DPS,
    FitState,
    FitTarget,
    SingularGramError,
    VariableProjection,
    cauchy_condition,
    project_coefficients,
)

__all__ = [
    "BestSum",
    "RootExponentialFit",
    "best_exponential_sum",
    "best_exponential_sums",
    "fit_root_exponential",
    "check_width",
    "check_min_rate",
]


# ============================================================================================ results
@dataclass(frozen=True, repr=False)
class BestSum(Displayable):
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
    loss_exact, relative_l2_exact : str
        ``loss`` and ``relative_l2_error`` at the working precision of the final check (decimal strings, about
        ``dps + 15`` digits): what :meth:`to_dict` prints with ``digits``.
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
    loss_exact: str = field(default="", repr=False)
    relative_l2_exact: str = field(default="", repr=False)

    @property
    def model(self) -> DiagonalRNN:
        """The approximant as a :class:`~memtheory.models.linear.DiagonalRNN`."""
        return DiagonalRNN(np.array(self.a), np.array(self.w))

    @property
    def margin(self) -> float:
        """Stability margin ``min_i w_i`` (distance of the spectrum ``-w`` to the imaginary axis)."""
        return float(min(self.w))

    def _display_rows(self) -> list[tuple[str, object]]:
        """The summary's rows, led by whether the optimum was reached (an unconverged fit says so first)."""
        state = "converged" if self.converged else "NOT CONVERGED (the optimum was not reached)"
        return [("m", self.m), ("status", state)] + [row for row in super()._display_rows() if row[0] != "m"]

    def exact_values(self, digits: int) -> dict:
        """``loss``, ``l2_error``, ``relative_l2_error``, ``a``, ``w`` and ``margin`` as decimal strings of
        ``digits`` significant digits, from the working-precision values (the rates are binary floats, printed
        exactly to that many digits; the coefficients are ``a_exact``)."""
        with mp.workdps(digits + 10):
            loss = mp.mpf(self.loss_exact or repr(self.loss))
            rel = mp.mpf(self.relative_l2_exact or repr(self.relative_l2_error))

            def text(x) -> str:
                return mp.nstr(mp.mpf(x), digits, strip_zeros=False)

            return {"loss": text(loss), "l2_error": text(mp.sqrt(loss)), "relative_l2_error": text(rel),
                    "a": [text(x) for x in (self.a_exact or self.a)], "w": [text(x) for x in self.w],
                    "margin": text(self.margin)}

    def to_dict(self, digits: int | None = None) -> dict:
        """JSON-ready dict (keys ``m, loss, l2_error, a, w, cond, dps`` and the rest of the fields).

        Parameters
        ----------
        digits : int, optional
            Print the values (``loss``, ``l2_error``, ``relative_l2_error``, ``a``, ``w``, ``margin``) as decimal
            strings of this many significant digits (:meth:`exact_values`); default: float64 numbers. The
            diagnostics (``cond``, ``log10_cond``, ``loss_digits``, ``iterations``) stay numbers.
        """
        out = {
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
        if digits is not None:
            out.update(self.exact_values(int(digits)))
        return out


@dataclass(frozen=True, repr=False)
class RootExponentialFit(Displayable):
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


# ============================================================================================ public API
def check_width(m: object) -> int:
    """The width ``m`` as an int, checked to be an integer in ``[1, 200]``.

    Raises
    ------
    InvalidArgumentError
        Naming the bound that failed (beyond 200 the Cauchy-Gram digits make the fit unaffordable).
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise InvalidArgumentError(f"m must be an integer >= 1, got {m!r}")
    if m > 200:
        raise InvalidArgumentError(f"m must be <= 200 (got {m}); the Cauchy-Gram digits grow linearly in m")
    return int(m)


def check_min_rate(min_rate: object) -> float | None:
    """The stability margin ``min_rate`` as a float (or None), checked finite, ``> 0`` and ``<= 1e12``.

    Raises
    ------
    InvalidArgumentError
        For anything else (above 1e12 no admissible rate is left below the rate bound 1e15).
    """
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
                                   f"available from memtheory.approximation.approximation_errors), got {norm!r}")


#: Continuation paths, keyed by (kernel, min_rate, dps, rtol, starts): {m: BestSum}.
_PATHS: OrderedDict = OrderedDict()


def _kernel_key(rho: Kernel):
    return (rho.expr, tuple(sorted(rho.exact_params.items())))


def best_exponential_sums(rho: Kernel, ms, norm: str = "L2", min_rate: float | None = None,
                          dps: int | None = None, starts: int = 2, rtol: float = 1e-10,
                          max_iter: int = 100, min_separation: float = DEFAULT_SEPARATION, *, backend=None,
                          workers: int | None = None, store=None, progress: bool = False) -> tuple[BestSum, ...]:
    """L2-best exponential sums for several widths, by continuation in the width (docs/theory.md §3).

    Parameters
    ----------
    rho : Kernel
        Square-integrable target kernel.
    ms : int or sequence of int
        Widths wanted (each >= 1). Every width from 1 to ``max(ms)`` is computed, each from ``m - 1`` by
        inserting a rate at the ``starts`` places where one more mode lowers the loss most (plus a stretched
        copy of the previous rates), so a width's result is the same whichever other widths are asked for
        (``[30]`` and ``[2, 4, ..., 30]`` walk the same path). Results are cached per kernel.
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
    backend : {None, "serial", "processes"}, str or distributed.Client
        None (default): this process, every width on one continuation path. Otherwise each requested width is a
        point of :func:`memtheory.sweep.run` (local processes, or a Dask scheduler address or client): a point
        walks the continuation from width 1 to its own width in its worker (a worker's later points reuse its
        path), so the results are the same as in this process; with several workers the widest point bounds
        the wall time.
    workers, store, progress
        Of :func:`memtheory.sweep.run`: local worker processes, the SQLite result store (finished widths are
        kept; rerunning computes only the rest), the progress bar.

    Returns
    -------
    tuple of BestSum
        One per requested width, in the order of ``ms``.

    Warns
    -----
    ConvergenceWarning
        For each requested width whose optimiser stopped before its tolerance (``converged`` False): the loss
        reported is then an upper bound of the optimum, not the optimum.

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
    ms_list = [check_width(m) for m in ms_list]
    min_rate = check_min_rate(min_rate)
    dps = check_dps(dps, lo=15, hi=MAX_DPS, optional=True)
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise InvalidArgumentError(f"starts must be an integer >= 1, got {starts!r}")
    if not (isinstance(rtol, float) and 0 < rtol < 1):
        raise InvalidArgumentError(f"rtol must be a float in (0, 1), got {rtol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise InvalidArgumentError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not (isinstance(min_separation, float) and 1e-12 <= min_separation <= 0.5):
        raise InvalidArgumentError(f"min_separation must be a float in [1e-12, 0.5], got {min_separation!r}")
    if backend is not None:
        return _swept(rho, ms_list, dict(min_rate=min_rate, dps=dps, starts=int(starts), rtol=rtol,
                                         max_iter=int(max_iter), min_separation=min_separation),
                      backend, workers, store, progress)
    target = FitTarget(rho)
    key = (_kernel_key(rho), min_rate, dps, rtol, int(starts), min_separation)
    path = _PATHS.get(key)
    if path is None:
        path = _PATHS[key] = {}
        if len(_PATHS) > 64:
            _PATHS.popitem(last=False)
    else:
        _PATHS.move_to_end(key)
    _solver = _PathSolver(target, min_rate, dps, int(starts), rtol, int(max_iter), min_separation)
    top = max(ms_list)
    cost = [0.0] + list(itertools.accumulate(float(k) ** 2 for k in range(1, top + 1)))  # width k costs ~k^2
    with blas_limit(1):  # many eigenproblems of at most 200 x 200: a BLAS pool only waits for cores
        for m in range(1, top + 1):
            if m not in path:
                path[m] = _solver.solve(path, m)
            sweep_progress.report(cost[m] / cost[top])  # moves a sweep's bar while the continuation walks
    unconverged = sorted({m for m in ms_list if not path[m].converged})
    if unconverged:
        warnings.warn(f"best exponential sum: the optimiser stopped before its tolerance at m = "
                      f"{', '.join(map(str, unconverged))} (iteration limit or lack of digits); those losses are "
                      "upper bounds of the optimum, not the optimum (raise max_iter)", ConvergenceWarning,
                      stacklevel=2)
    return tuple(path[m] for m in ms_list)


def _width_point(rho: Kernel, options: dict, point: dict) -> BestSum:
    """One point of a best-sum sweep: the width ``point["m"]`` by continuation in this process."""
    return best_exponential_sums(rho, [int(point["m"])], **options)[0]


def _swept(rho: Kernel, ms: list, options: dict, backend, workers, store, progress) -> tuple[BestSum, ...]:
    """:func:`best_exponential_sums` with one point per distinct width through :func:`memtheory.sweep.run`."""
    import functools

    from ... import sweep

    widths = sorted(set(ms))
    func = functools.partial(_width_point, rho, options)
    key = {"kernel": str(rho.expr), "params": {str(k): str(v) for k, v in sorted(rho.exact_params.items())},
           "options": {k: repr(v) for k, v in sorted(options.items())}}
    local = isinstance(backend, str) and backend in ("processes", "serial")
    res = sweep.run(func, [{"m": m} for m in widths], backend=backend, workers=workers if local else None,
                    store=store, key=key, weights=[float(m) ** 2 for m in widths], progress=progress,
                    desc="best sums", unit="widths")
    res.raise_failures()
    found = dict(zip(widths, res.values))
    return tuple(found[m] for m in ms)


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

    def __init__(self, target: FitTarget, min_rate, dps, starts: int, rtol: float, max_iter: int, sep: float):
        self.vp = VariableProjection(target, min_rate, dps, auto=dps is None, sep=sep)
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
            if prev_res.relative_l2_error ** 2 <= EXACT_REL_LOSS * 10:
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
            except (SingularGramError, ConvergenceError):
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


def _initial_rates(vp: VariableProjection, count: int) -> list[float]:
    """Best single-mode log-rates on a grid (the gain of one mode at rate x is ``2x L[rho](x)^2``)."""
    grid = np.linspace(max(math.log(1e-6), vp.lo), max(math.log(1e6), vp.lo + 6), 73)
    _, x = vp.rates(grid, None)
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
                   res.loss_digits, res.min_rate, 0, True, tuple(a_exact), res.loss_exact, res.relative_l2_exact)


def _finalise(vp: VariableProjection, st: FitState, converged: bool, min_rate) -> BestSum:
    """Re-project onto the float64 rates that are reported and check the digits of the loss.

    The coefficients and the loss are recomputed for exactly the reported (binary) rates at ``dps + 20`` digits
    and checked against a recomputation at ``dps + 40``.
    """
    w_float = np.array([float(x) for x in st.w])
    target = vp.t
    dps_f = (st.dps or 15) + 20
    a_f, J_f = project_coefficients(target, w_float, dps_f)
    _, J_c = project_coefficients(target, w_float, dps_f + 20)
    with mp.workdps(dps_f + 25):
        diff = abs(J_f - J_c)
        cap = float(dps_f - 5)  # the digits the exact strings carry
        digits = float(min(cap, -mp.log10(diff / abs(J_c)))) if diff > 0 and J_c != 0 else cap
    loss = max(0.0, float(J_f))
    norm2 = float(target.norm2(None))
    cond, log10c = cauchy_condition(w_float)
    with mp.workdps(dps_f):
        a_exact = tuple(mp.nstr(x, dps_f - 5) for x in a_f)
        J_pos = max(mp.mpf(J_f), mp.mpf(0))
        loss_exact = mp.nstr(J_pos, dps_f - 5)
        rel_exact = mp.nstr(mp.sqrt(J_pos / mp.mpf(target.norm2(dps_f))), dps_f - 5)
    return BestSum(st.m, tuple(float(x) for x in a_f), tuple(w_float.tolist()), loss, math.sqrt(loss),
                   math.sqrt(loss / norm2), cond, log10c, st.dps, round(digits, 2), min_rate, vp.iterations,
                   bool(converged), a_exact, loss_exact, rel_exact)
