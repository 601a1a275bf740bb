r"""Plateau hitting times of the gradient flow, from ``1/omega = 2`` to ``1/omega = 2000`` (docs/theory.md §4).

Target ``rho_omega = rho_bar + rho_0(. - 1/omega)``, model ``rho_hat(t; theta) = sum_i a_i e^{-w_i t}`` started at
``theta_0`` with ``rho_hat(theta_0) = rho_bar``, gradient flow ``theta' = -grad J``. The hitting times

.. math:: \tau_0 = \inf\{\tau: \|\theta(\tau) - \theta_0\|_2 > \delta\},\qquad
          \tau_0' = \inf\{\tau: |J(\theta(\tau)) - J(\theta_0)| > \delta\}

grow exponentially in ``1/omega``; the theorem bounds them below by
``S(omega) = omega^2 e^{w_l/omega} min(delta/sqrt(m), ln(1 + delta))`` (``w_l = min_i w_i(0)``).

Three integrations, chosen per point (:func:`hitting_times`, ``method="auto"``):

* **float64**: the compiled gradient flow (:class:`memtheory.GradientFlow`, Radau IIA with the analytic Jacobian,
  events on the dense output). It is trusted while the forces that end the plateau, about
  ``|grad J(theta_0)|^2``, are resolvable against the ``O(1)`` terms they are computed from:
  ``|grad J(theta_0)|^2 >= 1e-9`` (:data:`FLOAT64_MIN_FORCE`), i.e. up to ``1/omega ~ 20`` for ``w_min = 0.5``.
* **reduced** (beyond, when the initial weights sit on the slow manifold, within ``1e-3 delta`` of the
  least-squares weights of the initial rates): the slow-manifold flow of the rates, ``w' = -grad_w J(a*(w), w)``
  with ``a*(w) = C(w)^{-1} L[rho](w)``, at ``-2 log10 |grad J(theta_0)| + 40`` digits (Arb via python-flint,
  or mpmath: ``arithmetic``, :mod:`memtheory.compile.arith`), integrated by
  RODAS4 with the exact Schur-complement Hessian. Its modelling error, ``10 tau_a / tau`` with the weights'
  relaxation time ``tau_a = 1/(2 lambda_min(C))``, is reported (``model_error``) and must be below 1e-8 for
  "auto" to keep the result. This is what reaches ``1/omega = 2000`` (``tau_0 ~ 1e852``) in under a minute.
* **mpmath** (otherwise): the full flow in ``(a, w)`` in arbitrary precision, RODAS4 with the exact Hessian
  (:mod:`memtheory.theory.plateau.systems` over :mod:`memtheory.dynamics.rodas`); 40-50 steps per decade of ``tau`` for ten rates.

Before any integration the premise ``rho_hat(theta_0) = rho_bar`` is measured against the memory term
(:mod:`memtheory.theory.plateau.premise`); a start whose mismatch drives the flow more than ``1e-3`` of the
memory term raises :class:`~memtheory.errors.PremiseError`. Rates that nearly coalesce are measured by the Gram
matrix's condition number (:func:`gram_condition`): it raises the default digits of the arbitrary-precision
flows, and explicit digits too few for it are a :class:`~memtheory.errors.PremiseError`.

Each reports an error estimate (the difference to a rerun at a 30x tighter tolerance, and the modelling error)
and they agree to ``1e-6`` where two apply.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import mpmath as mp
import numpy as np
import sympy as sp

from ...compile.arith import arithmetic as _arithmetic
from ...display import Displayable
from ...errors import InvalidArgumentError, NotIntegrableError, PrecisionError, PremiseError
from ...exact import exact, exact_values, to_float, to_mpf
from ...kernels.kernel import Kernel
from ...symbolic.latex import to_latex
from ...symbolic.parse import symbol
from .premise import PlateauPremise, measure_premise
from .premise import check_premise as _check_premise

__all__ = ["HittingTimes", "PlateauScan", "hitting_times", "scan", "bound", "bound_expr", "latex", "initial_state",
           "slow_manifold_offset", "gram_condition", "FLOAT64_MIN_FORCE"]

_METHODS = ("auto", "float64", "mpmath", "reduced")

#: float64 is trusted while ``|grad J(theta_0)|^2`` (the escape forces) is at least this (16 - 9 = 7 digits).
FLOAT64_MIN_FORCE = 1e-9
#: Tolerances: float64 (rtol, atol) and the mpmath integrator's component-wise rtol.
_F64_TOL = (1e-11, 1e-14)
_MP_RTOL = 1e-6
#: Step budgets: float64 run; mpmath steps after the first hitting time (the second may lie in a slow singular
#: regime, e.g. rates coalescing while weights diverge; it is then reported as censored).
_F64_MAX_STEPS = 5000
_MP_AFTER_EVENT_STEPS = 300
_RED_AFTER_EVENT_STEPS = 40
#: "auto" uses the slow-manifold flow when the initial weights are this close (relative to delta) to the
#: least-squares weights, and keeps its result when the slaving error of tau_0 is below _SLAVING_TOL.
_OFFSET_FRACTION = 1e-3
_SLAVING_TOL = 1e-8
_FLOAT_MAX_LOG10 = math.log10(np.finfo(float).max)
#: float64 integrations resolve a displacement ``delta`` only down to about this times ``max(1, ||theta_0||)``
#: (their relative error is ~1e-11); below it the first-order law is used, or the mpmath flow.
_F64_MIN_DELTA = 1e-6
#: The first-order law ``tau_0 = delta/||g||``, ``tau_0' = delta/||g||^2`` is used when its relative second-order
#: correction is below this.
_FIRST_ORDER_TOL = 1e-8


# ============================================================================================ result types
@dataclass(repr=False)
class HittingTimes(Displayable):
    """Hitting times of one plateau run.

    Attributes
    ----------
    tau0, tau0_prime : float or None
        ``tau_0`` (distance) and ``tau_0'`` (loss) as floats; None when beyond float range or not reached;
        ``inf`` when the flow converged to a minimum short of ``delta``.
    log10_tau0, log10_tau0_prime : float
        Their base-10 logarithms (always finite when reached; ``inf`` when never reached; ``nan`` when the run
        stopped before reaching them).
    J0 : float
        ``J(theta_0)``.
    log10_grad_norm : float
        ``log10 ||grad J(theta_0)||_2``.
    method : str
        ``"float64"``, ``"mpmath"`` (full flow), ``"reduced"`` (slow-manifold flow of the rates) or
        ``"first order"`` (a ``delta`` too small for a flow integration: the first-order law, see
        :func:`hitting_times`).
    dps : int or None
        mpmath digits (None for float64).
    rel_error : float or None
        Estimated relative error of the hitting times: the difference to a rerun at a 30x tighter tolerance,
        and for ``"reduced"`` at least the slaving error ``model_error``.
    status : str
        ``"events"`` (both located), ``"first order"`` (the first-order law) or the integrator's reason to stop.
    message : str
    theta0_mismatch : float or None
        ``||rho_hat(theta_0) - rho_bar||_2`` when ``rho_bar`` is known (0 for a proper plateau start).
    log10_mismatch_gradient, log10_memory_gradient : float or None
        The premise measured (:func:`memtheory.theory.plateau.premise.measure_premise`): ``log10`` of the norms
        of the mismatch's gradient ``grad ||rho_hat - rho_bar||^2`` at ``theta_0`` (an upper bound, its rounding
        bound, when ``premise["resolved"]`` is False) and of the memory term of ``grad J(theta_0)``.
    premise : dict or None
        The whole measurement (:class:`~memtheory.theory.plateau.premise.PlateauPremise` as a dict).
    model_error : float or None
        ``"reduced"`` only: the relative error of the times from slaving the weights to the rates,
        ``10 max tau_a / tau`` (included in ``rel_error``).
    tau0_mp, tau0_prime_mp : mpmath.mpf or None
        The times at full precision (mpmath path) or as mpf (float64 path).
    seconds : float
    log10_gram_condition : float or None
        ``log10`` of the condition number of the Gram matrix ``C_ij = 1/(w_i + w_j)`` of the initial rates (the
        arbitrary-precision paths): rates that nearly coalesce make it large, and the digits of the flow are
        raised by what it exceeds (:func:`gram_condition`).
    """

    tau0: float | None
    tau0_prime: float | None
    log10_tau0: float
    log10_tau0_prime: float
    J0: float
    log10_grad_norm: float
    method: str
    dps: int | None
    rel_error: float | None
    status: str
    message: str
    theta0_mismatch: float | None = None
    log10_mismatch_gradient: float | None = None
    log10_memory_gradient: float | None = None
    premise: dict | None = None
    model_error: float | None = None
    tau0_mp: object = field(default=None, repr=False)
    tau0_prime_mp: object = field(default=None, repr=False)
    seconds: float = 0.0
    log10_gram_condition: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (no mpf objects)."""
        out = asdict(self)
        out.pop("tau0_mp")
        out.pop("tau0_prime_mp")
        return _json_floats(out)


def _json_floats(d: dict) -> dict:
    """``d`` with non-finite float values made JSON-safe: NaN (not reached) -> None, +-inf -> "inf"/"-inf"."""
    for key, value in d.items():
        if isinstance(value, float) and not math.isfinite(value):
            d[key] = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return d


def _as_float(x) -> float | None:
    """An mpf/float time as float; None if beyond float range or not available."""
    if x is None:
        return None
    if x == mp.inf:
        return math.inf
    v = float(x)
    return v if math.isfinite(v) else None


def _log10(x) -> float:
    if x is None:
        return math.nan
    if x == mp.inf:
        return math.inf
    return float(mp.log10(x)) if x > 0 else -math.inf


# ============================================================================================ validation
def _validate(rho, a0, w0, delta):
    """``(a0, w0, a0_exact, w0_exact, delta)``: float arrays for the float64 path, exact Rationals for the
    arbitrary-precision paths and the premise (a float counts as its exact binary value)."""
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    try:
        delta = to_float(exact(delta, "delta"))
    except InvalidArgumentError:
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}") from None
    if not delta > 0:
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}")
    a0x, w0x = exact_values(a0, "a0")[0], exact_values(w0, "w0")[0]
    if not a0x or len(a0x) != len(w0x):
        raise InvalidArgumentError(f"a0 and w0 must be non-empty and of equal length, got {len(a0x)} and {len(w0x)}")
    if any(v <= 0 for v in w0x):
        raise InvalidArgumentError(f"all rates must be > 0 (w0 = {[str(v) for v in w0x]})")
    if len(set(w0x)) != len(w0x):
        raise InvalidArgumentError("the rates w0 must be distinct (the Gram matrix of equal rates is singular)")
    a0f = np.array([float(v) for v in a0x])
    w0f = np.array([float(v) for v in w0x])
    if not (np.all(np.isfinite(a0f)) and np.all(np.isfinite(w0f))):
        raise InvalidArgumentError("a0 and w0 must be finite")
    return a0f, w0f, a0x, w0x, float(delta)


# ============================================================================================ one point
def initial_state(rho: Kernel, a0, w0, dps: int = 30, max_dps: int = 20000) -> tuple[float, float]:
    """``J(theta_0)`` and ``log10 ||grad J(theta_0)||`` at the start of the flow.

    Computed in mpmath from the exact ``theta_0`` (numbers as :func:`memtheory.exact.exact` takes them), with the digits doubled from ``dps``
    until the gradient's norm exceeds ``1e6`` times its rounding bound
    (:meth:`~memtheory.theory.plateau.systems.MPObjective.rounding_bound`), so an exponentially small gradient
    is measured, not rounded to zero.
    """
    from .systems import MPObjective

    theta = exact_values(a0, "a0")[0] + exact_values(w0, "w0")[0]
    dps = max(15, int(dps))
    while True:
        obj = MPObjective(rho, len(theta) // 2, dps)
        with mp.workdps(dps):
            x = [to_mpf(v) for v in theta]
            J, g, _ = obj.evaluate(x)
            gnorm = mp.sqrt(mp.fsum(v * v for v in g))
            err = mp.sqrt(mp.fsum(v * v for v in obj.rounding_bound(x)[1]))
            if gnorm > 1e6 * err or gnorm == err == 0 or dps >= max_dps:
                return float(J), (float(mp.log10(gnorm)) if gnorm > 0 else -math.inf)
        dps = min(max_dps, 2 * dps)


def _first_order(rho: Kernel, a0, w0, delta: float):
    """``tau_0 ~ delta/||g||`` and ``tau_0' ~ delta/||g||^2`` (``g = grad J(theta_0)``) with the relative size of
    their second-order corrections, ``delta ||H g||/||g||^2`` and ``delta |g^T H g|/||g||^4`` (``H`` the Hessian):
    from ``theta(tau) = theta_0 - tau g + tau^2 H g/2 + ...`` and ``J(tau) = J_0 - tau ||g||^2 + tau^2 g^T H g + ...``.
    Returns ``(tau0, tau0_prime, correction, dps)`` in mpmath (None when ``g = 0``)."""
    from ...losses.l2 import l2_loss, resolved_mp_loss
    from ...models.linear import DiagonalRNN

    model = DiagonalRNN(a0, w0)
    dps = resolved_mp_loss(model, rho, True, False, 30).dps
    res = l2_loss(model, rho, gradient=True, hessian=True, dps=dps + 10)
    with mp.workdps(dps + 10):
        g = list(res.grad)
        g2 = mp.fsum(x * x for x in g)
        if g2 == 0:
            return None
        hg = [mp.fsum(res.hess[i][j] * g[j] for j in range(len(g))) for i in range(len(g))]
        ghg = mp.fsum(x * y for x, y in zip(g, hg))
        d = mp.mpf(delta)
        correction = max(d * mp.sqrt(mp.fsum(x * x for x in hg)) / g2, d * abs(ghg) / g2**2)
        return d / mp.sqrt(g2), d / g2, float(correction), dps


def _float64_run(rho, a0, w0, delta, rtol, atol):
    from ...dynamics.flow import GradientFlow

    flow = GradientFlow(rho, a0.size)
    # stop once both times are located; a run missing one goes on to tau = 1e300, where it is at rest
    sol = flow.solve(np.concatenate([a0, w0]), 1e300, method="radau", rtol=rtol, atol=atol,
                     events={"distance": delta, "loss": delta}, terminal="all",
                     max_steps=_F64_MAX_STEPS)
    t = {}
    for name in ("distance", "loss"):
        hits = sol.t_events.get(name, np.zeros(0))
        t[name] = mp.mpf(float(hits[0])) if hits.size else None
    if t["distance"] is not None and t["loss"] is not None:
        status, message = "events", "both hitting times located"
    elif sol.status < 0:
        status = "censored" if t["distance"] is not None or t["loss"] is not None else "failed"
        message = (f"{sol.message}; the missing hitting time is later than tau = {sol.t[-1]:.6g} (after a plateau "
                   "the flow may enter a slow singular regime, e.g. rates coalescing)")
    else:  # status 0 (a time missing, so the run went on): tau = 1e300 was reached with the flow at rest
        for name in ("distance", "loss"):
            if t[name] is None:
                t[name] = mp.inf
        status, message = "converged", "the flow came to rest short of a threshold (checked to tau = 1e300)"
    return t["distance"], t["loss"], status, message


@dataclass
class _MPRun:
    t0: object
    t1: object
    status: str
    message: str
    model_error: float  # largest modelling error of the located times (0 for the full flow)


def _mp_run(rho, a0, w0, delta, rtol, dps, tau_max, reduced=False, arithmetic="flint") -> _MPRun:
    """The arbitrary-precision run from the exact ``theta_0 = (a0, w0)`` (tuples of Rationals)."""
    from .systems import MPObjective, integrate_rodas

    obj = MPObjective(rho, len(a0), dps, arithmetic)
    with mp.workdps(dps):
        theta0 = [to_mpf(v) for v in (*a0, *w0)]
    run = integrate_rodas(obj, theta0, delta, rtol=rtol, tau_max=tau_max, record=False, reduced=reduced,
                          after_event_steps=_RED_AFTER_EVENT_STEPS if reduced else _MP_AFTER_EVENT_STEPS)
    return _MPRun(run.tau0, run.tau0_prime, run.status, run.message, max(run.model_error.values(), default=0.0))


def slow_manifold_offset(rho: Kernel, a0, w0, dps: int = 50, arithmetic: str = "mpmath") -> float:
    """``||a*(w_0) - a_0||``: how far the initial weights are from the least-squares weights of the initial
    rates (the weights cover this distance in the initial layer, before the reduced flow applies), computed in
    ``arithmetic`` at ``dps`` digits."""
    from .systems import MPObjective, ReducedSystem

    theta = exact_values(a0, "a0")[0] + exact_values(w0, "w0")[0]
    m = len(theta) // 2
    with mp.workdps(dps):
        system = ReducedSystem(MPObjective(rho, m, dps, arithmetic), [to_mpf(v) for v in theta])
        ar = system.arith
        with ar.workdps(dps):
            a = system.weights(system.w0)
            return float(ar.sqrt(ar.fsum((a[k] - system.theta0[k]) ** 2 for k in range(m))))


#: The flow's default guard digits (:func:`~memtheory.theory.plateau.systems.flow_precision`) cover a Gram
#: condition number up to 10^_GRAM_COVERED with 10 digits to spare; beyond, the digits are raised by the excess.
_GRAM_COVERED = 27


def gram_condition(w0) -> float:
    """``log10`` of the 2-norm condition number of the Gram matrix ``C_ij = 1/(w_i + w_j)`` of the rates ``w0``
    (exact numbers), from mpmath's symmetric eigenvalues at enough digits to resolve ``lambda_min``.

    The reduced flow solves ``C a = L[rho]`` and both flows' steps solve systems of that conditioning, so their
    rounding errors are ``~cond 10^-dps`` of ``O(1)`` terms; they must stay far below the escape forces
    ``|grad J(theta_0)|^2``. Rates that nearly coalesce make ``C`` nearly singular.
    """
    w = exact_values(w0, "w0")[0]
    m = len(w)
    if m == 1:
        return 0.0
    dps = 60
    while True:
        with mp.workdps(dps):
            ww = [to_mpf(v) for v in w]
            lam = mp.eigsy(mp.matrix([[1 / (ww[i] + ww[j]) for j in range(m)] for i in range(m)]),
                           eigvals_only=True)
            lo, hi = min(lam), max(lam)
            if lo > mp.mpf(10) ** (20 - dps) * hi or dps >= 4000:
                return float(mp.log10(hi / lo)) if lo > 0 else math.inf
        dps *= 2


def _coalescence_text(w0) -> str:
    """``w_i = .., w_j = ..``: the closest pair of rates (relative gap)."""
    w = exact_values(w0, "w0")[0]
    pairs = [(abs(w[i] - w[j]) / max(w[i], w[j]), i, j) for i in range(len(w)) for j in range(i + 1, len(w))]
    gap, i, j = min(pairs)
    digits = 6 + (int(math.ceil(-math.log10(float(gap)))) if gap > 0 else 0)
    with mp.workdps(digits + 10):
        return f"w_{i + 1} = {mp.nstr(to_mpf(w[i]), digits)} and w_{j + 1} = {mp.nstr(to_mpf(w[j]), digits)}"


def _rel_diff(x, y) -> float:
    if x is None or y is None:
        return math.nan
    if x == mp.inf or y == mp.inf:
        return 0.0 if x == y else math.inf
    return float(abs(x - y) / max(abs(x), abs(y)))


def hitting_times(rho: Kernel, a0, w0, delta: float, *, method: str = "auto", dps: int | None = None,
                  rtol: float | None = None, error_estimate: bool = True, tau_max=None,
                  check_premise: bool = True, premise: PlateauPremise | None = None,
                  arithmetic: str | None = None) -> HittingTimes:
    """Hitting times ``tau_0`` and ``tau_0'`` of the gradient flow from ``theta_0 = (a0, w0)``.

    Parameters
    ----------
    rho : Kernel
        Target kernel (e.g. :func:`memtheory.kernels.memory_family` at one omega).
    a0, w0 : array_like
        Initial weights and (distinct, positive) rates: int, decimal strings (``"0.4"``), Fractions, SymPy
        Rationals, mpf or floats (a float counts as its exact binary value: ``0.4`` is not ``2/5``). They stay
        exact on the arbitrary-precision paths; the float64 path rounds them once.
    delta : float
        Threshold of both events (> 0).
    method : {"auto", "float64", "mpmath", "reduced"}
        ``"float64"``: the compiled flow (forcing it past ``|grad J(theta_0)|^2 >= FLOAT64_MIN_FORCE`` raises
        :class:`~memtheory.errors.PrecisionError`). ``"mpmath"``: the full flow in arbitrary precision.
        ``"reduced"``: the slow-manifold flow of the rates in arbitrary precision (weights slaved to the rates,
        :class:`memtheory.theory.plateau.systems.ReducedSystem`; a warning when its slaving error exceeds 1e-6).
        ``"auto"``: float64 where it is trusted; beyond, ``"reduced"`` when the initial weights are within
        ``1e-3 delta`` of the slow manifold (:func:`slow_manifold_offset`) and its slaving error at ``tau_0``
        is below 1e-8, else ``"mpmath"``.
    dps : int, optional
        mpmath digits (default: ``-2 log10 |grad J(theta_0)| + 40``, see
        :func:`memtheory.theory.plateau.systems.flow_precision`).
    rtol : float, optional
        Integration tolerance (float64: relative, default 1e-11 with atol 1e-14; mpmath: component-wise
        relative on ``theta - theta_0``, default 1e-6).
    error_estimate : bool
        Rerun at a 30x tighter tolerance and report the relative difference as ``rel_error`` (doubles the cost).
    tau_max : number, optional
        mpmath path: stop at this training time.
    check_premise : bool
        Measure the premise ``rho_hat(theta_0) = rho_bar`` against the memory term
        (:func:`memtheory.theory.plateau.premise.measure_premise`, before any integration) and raise
        :class:`~memtheory.errors.PremiseError` when the mismatch's gradient exceeds ``1e-3`` of the memory
        term's. False: measure and report only.
    premise : PlateauPremise, optional
        The premise already measured for the same ``rho``, ``a0``, ``w0`` (:func:`scan` measures every point
        before integrating any).
    arithmetic : {"flint", "mpmath"}, optional
        Number type of the arbitrary-precision flows (:mod:`memtheory.compile.arith`): Arb's balls used as
        floating point (faster, ``benchmarks/bench_plateau.py``) or mpmath's ``mpf``; the same algorithm, the
        same times to far better than the tolerance (``tests/test_arith.py``). Default: flint.

    Returns
    -------
    HittingTimes

    Raises
    ------
    PremiseError
        ``theta_0`` does not reproduce ``rho_bar`` to far better than the memory signal (e.g. a rate typed as
        the binary float 0.4 against a kernel rate 2/5): the flow would time the mismatch, not the memory. Or
        an explicit ``dps`` too small for rates that nearly coalesce (:func:`gram_condition`).

    Examples
    --------
    >>> import memtheory as mt
    >>> bar, spike = mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5)
    >>> rho = mt.kernels.memory_family(bar, spike, omega=1/6)
    >>> r = mt.plateau.hitting_times(rho, [1, 0], [0.5, 2.0], 0.05)
    >>> r.method, r.status, round(r.J0, 6)
    ('float64', 'events', 0.886227)

    Far beyond what float64 resolves (``|grad J(theta_0)| ~ 2e-41``), on the slow manifold:

    >>> far = mt.kernels.memory_family(bar, spike, omega=1/200)
    >>> r = mt.plateau.hitting_times(far, [1, 0], [0.5, 2.0], 0.05, error_estimate=False)
    >>> r.method, r.dps, round(r.log10_tau0, 3), r.model_error < 1e-70
    ('reduced', 122, 80.559, True)
    """
    start = time.perf_counter()
    a0, w0, a0x, w0x, delta = _validate(rho, a0, w0, delta)
    if method not in _METHODS:
        raise InvalidArgumentError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
    if arithmetic is not None:
        arithmetic = _arithmetic(arithmetic).name
    if premise is None:
        premise = measure_premise(rho, a0x, w0x)
    if check_premise:
        _check_premise(premise, a0x, w0x)
    start_dps = 30 if premise.log10_memory_gradient is None or not math.isfinite(premise.log10_memory_gradient) \
        else max(30, int(math.ceil(-premise.log10_memory_gradient)) + 25)
    J0, lg = initial_state(rho, a0x, w0x, dps=start_dps)
    force_ok = 2 * lg >= math.log10(FLOAT64_MIN_FORCE)
    if delta < _F64_MIN_DELTA * max(1.0, float(np.linalg.norm(np.concatenate([a0, w0])))):
        # a displacement float64 cannot resolve against theta_0: the first-order law where it holds
        first = _first_order(rho, a0x, w0x, delta)
        if first is not None and first[2] <= _FIRST_ORDER_TOL:
            t0, t1, corr, fdps = first
            return HittingTimes(_as_float(t0), _as_float(t1), _log10(t0), _log10(t1), J0, lg, "first order", fdps,
                                corr, "first order",
                                f"delta = {delta:g} is below what a float64 flow resolves; first-order law "
                                f"tau_0 = delta/|g|, tau_0' = delta/|g|^2 (relative second-order correction "
                                f"{corr:.2g})", premise.theta0_mismatch, premise.log10_mismatch_gradient,
                                premise.log10_memory_gradient, premise.to_dict(), None, t0, t1,
                                time.perf_counter() - start)
        if method == "float64":
            raise PrecisionError(f"delta = {delta:g} is below what a float64 flow resolves (relative "
                                 f"{_F64_MIN_DELTA:g} of |theta_0|); use method='mpmath' or 'auto'")
        force_ok = False  # "auto": the mpmath flow
    if method == "float64" and not force_ok:
        raise PrecisionError(
            f"float64 cannot resolve this plateau: the escape forces are ~|grad J(theta_0)|^2 = 1e{2 * lg:.1f} "
            f"< {FLOAT64_MIN_FORCE:g} relative to O(1) terms; use method='mpmath' or 'auto'")
    model_error = None
    if method == "float64" or (method == "auto" and force_ok):
        used, used_dps = "float64", None
        rt, at = (rtol, _F64_TOL[1] * rtol / _F64_TOL[0]) if rtol is not None else _F64_TOL
        t0, t1, status, message = _float64_run(rho, a0, w0, delta, rt, at)
        err = None
        if error_estimate:
            u0, u1, _, _ = _float64_run(rho, a0, w0, delta, rt / 30, at / 30)
            err = max(_rel_diff(t0, u0), _rel_diff(t1, u1))
    else:
        from .systems import flow_precision

        log10_cond = gram_condition(w0x)
        excess = max(0, int(math.ceil(log10_cond)) - _GRAM_COVERED)
        used_dps = int(dps) if dps is not None else flow_precision(lg) + excess
        need = int(math.ceil(-2 * min(lg, 0.0) + log10_cond)) + 13
        if used_dps < need:
            raise PremiseError(
                f"the rates {_coalescence_text(w0x)} nearly coalesce: the Gram matrix's condition number 1e"
                f"{log10_cond:.1f} amplifies the rounding at {used_dps} digits beyond 1e-3 of the escape forces "
                f"|grad J(theta_0)|^2 = 1e{2 * lg:.1f}; pass dps >= {need} (or the default) or separate the rates")
        rt = rtol if rtol is not None else _MP_RTOL
        used, note = method, ""
        offset = (slow_manifold_offset(rho, a0x, w0x, used_dps, arithmetic or "flint")
                  if method in ("auto", "reduced") else 0.0)
        on_manifold = offset <= _OFFSET_FRACTION * delta
        if method == "reduced" and not on_manifold:
            warnings.warn(f"the initial weights are {offset:.3g} from the slow manifold (more than "
                          f"{_OFFSET_FRACTION:g} delta): the escape may happen in the weights' initial layer, "
                          "which the slow-manifold flow skips; use method='mpmath'", stacklevel=2)
        if method == "auto":
            used = "reduced" if on_manifold else "mpmath"
            if not on_manifold:
                note = (f" (full flow: the initial weights are {offset:.3g} from the slow manifold, more than "
                        f"{_OFFSET_FRACTION:g} delta)")
        run = _mp_run(rho, a0x, w0x, delta, rt, used_dps, tau_max, used == "reduced",
                      arithmetic or "flint")
        if method == "auto" and used == "reduced" and not run.model_error <= _SLAVING_TOL:
            note = (f" (full flow: the slow-manifold flow's slaving error {run.model_error:.2g} exceeds "
                    f"{_SLAVING_TOL:g})")
            used = "mpmath"
            run = _mp_run(rho, a0x, w0x, delta, rt, used_dps, tau_max, False, arithmetic or "flint")
        t0, t1, status, message = run.t0, run.t1, run.status, run.message + note
        if used == "reduced":
            model_error = run.model_error
        err = None
        if error_estimate:
            rerun = _mp_run(rho, a0x, w0x, delta, rt / 30, used_dps, tau_max, used == "reduced",
                            arithmetic or "flint")
            err = max(_rel_diff(t0, rerun.t0), _rel_diff(t1, rerun.t1))
        if err is not None and not math.isfinite(err):
            err = None
        if model_error is not None and (t0 is not None or t1 is not None):
            err = max(err or 0.0, model_error)
    if premise.holds is None:
        warnings.warn(f"the premise rho_hat(theta_0) = rho_bar was not measured: {premise.reason}; the times are "
                      "those of this target, not checked to be the theorem's plateau", stacklevel=2)
    if premise.holds is False:
        warnings.warn(f"theta_0 does not reproduce rho_bar: the mismatch's gradient is 10^{premise.log10_ratio:.3g} "
                      f"times the memory term's (||rho_hat(theta_0) - rho_bar|| = {premise.theta0_mismatch:.3g}); "
                      "the times measure the mismatch, not the memory", stacklevel=2)
    if method == "reduced" and model_error is not None and model_error > 1e-6:
        warnings.warn(f"the slow-manifold flow is not accurate here: slaving error {model_error:.2g} (the plateau "
                      "is not long compared with the weights' relaxation time); use method='mpmath'", stacklevel=2)
    return HittingTimes(_as_float(t0), _as_float(t1), _log10(t0), _log10(t1), J0, lg, used, used_dps, err,
                        status, message, premise.theta0_mismatch, premise.log10_mismatch_gradient,
                        premise.log10_memory_gradient, premise.to_dict(), model_error, t0, t1,
                        time.perf_counter() - start, None if used == "float64" else log10_cond)


# ============================================================================================ the bound
def bound_expr() -> sp.Expr:
    """The theorem's scale ``S(omega) = omega^2 e^{w_l/omega} min(delta/sqrt(m), ln(1 + delta))`` (SymPy)."""
    om, wl, delta, m = sp.symbols("omega w_l delta m", positive=True)
    return om**2 * sp.exp(wl / om) * sp.Min(delta / sp.sqrt(m), sp.log(1 + delta))


def bound(inv_omega, w_l: float, delta: float, m: int) -> np.ndarray:
    """``log10 S(omega)`` at ``1/omega = inv_omega`` (log10: ``S`` overflows float64 for ``1/omega`` in the
    thousands)."""
    x = np.asarray(inv_omega, dtype=float)
    c = min(delta / math.sqrt(m), math.log1p(delta))
    return (-2 * np.log(x) + w_l * x + math.log(c)) / math.log(10)


def initial_loss_expr(spike: Kernel) -> sp.Expr:
    """``J(theta_0) = int_{-1/omega}^inf rho_0(s)^2 ds`` (SymPy), the exact initial loss for a proper start."""
    s, om = sp.Symbol("s", real=True), sp.Symbol("omega", positive=True)
    e = spike.expr.xreplace({symbol("t"): s}).xreplace({symbol(k): v for k, v in spike.exact_params.items()})
    return _convergent(lambda: sp.simplify(sp.integrate(e**2, (s, -1 / om, sp.oo))), spike,
                       "is not square-integrable on (-1/omega, oo): J(theta_0) is infinite")


def _convergent(compute, spike: Kernel, what: str) -> sp.Expr:
    """``compute()`` (a SymPy integral), or NotIntegrableError when it diverges or SymPy cannot decide it."""
    try:
        value = compute()
    except (ValueError, TypeError, NotImplementedError):  # e.g. "Only real AccumulationBounds are supported"
        value = sp.oo
    if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan, sp.AccumBounds):
        raise NotIntegrableError(f"the spike {spike.expr} {what}")
    return value


def initial_gradient_expr(spike: Kernel) -> sp.Expr:
    """Leading asymptotics ``dJ/da_k(theta_0) ~ -2 e^{-w_k/omega} int e^{-w_k s} rho_0(s) ds`` (SymPy; the
    integral over the real line, in closed form when SymPy finds it, e.g. for a Gaussian spike)."""
    s = sp.Symbol("s", real=True)
    wk, om = sp.Symbol("w_k", positive=True), sp.Symbol("omega", positive=True)
    e = spike.expr.xreplace({symbol("t"): s}).xreplace({symbol(k): v for k, v in spike.exact_params.items()})
    integral = _convergent(lambda: sp.simplify(sp.integrate(sp.exp(-wk * s) * e, (s, -sp.oo, sp.oo))), spike,
                           "has no two-sided Laplace transform int e^{-w_k s} rho_0(s) ds: the asymptotics "
                           "do not apply")
    return -2 * sp.exp(-wk / om) * integral


def latex(what: str = "bound", spike: Kernel | None = None) -> str:
    """LaTeX of ``"bound"`` (the theorem's scale), ``"J0"`` or ``"gradient"`` (need ``spike``).

    Examples
    --------
    >>> import memtheory as mt
    >>> print(mt.plateau.latex("bound"))
    \\tau_0 \\gtrsim \\omega^{2} e^{\\frac{w_{l}}{\\omega}} \\min\\left(\\frac{\\delta}{m^{1/2}}, \\log{\\left(\\delta + 1 \\right)}\\right)
    """
    if what == "bound":
        return r"\tau_0 \gtrsim " + to_latex(bound_expr())
    if what in ("J0", "gradient"):
        if not isinstance(spike, Kernel):
            raise InvalidArgumentError(f"latex({what!r}) needs the spike rho_0 as a Kernel")
        if what == "J0":
            return r"J(\theta_0) = " + to_latex(initial_loss_expr(spike))
        return r"\frac{\partial J}{\partial a_k}(\theta_0) \simeq " + to_latex(initial_gradient_expr(spike))
    raise InvalidArgumentError(f"latex() knows 'bound', 'J0' and 'gradient', got {what!r}")


# ============================================================================================ scans
@dataclass(repr=False)
class PlateauScan(Displayable):
    """A sweep over ``1/omega`` (see :func:`scan`).

    Attributes
    ----------
    inv_omegas : ndarray
    rows : list of HittingTimes
    fit : dict
        ``slope`` (of ``ln tau_0`` against ``1/omega``), ``stderr``, ``intercept``, ``r2``, ``range``,
        ``npoints``; also ``slope_prime`` etc. for ``tau_0'``.
    log10_bound : ndarray
        ``log10 S(omega)``.
    log10_ratio : ndarray
        ``log10 (tau_0 / S(omega))``.
    w_l, delta, m : float, float, int
    """

    inv_omegas: np.ndarray
    rows: list
    fit: dict
    log10_bound: np.ndarray
    log10_ratio: np.ndarray
    w_l: float
    delta: float
    m: int

    _COLUMNS = ("inv_omega", "J0", "log10_grad_norm", "log10_tau0", "log10_tau0_prime", "log10_bound",
                "log10_ratio", "method", "status", "seconds")

    def _display_rows(self) -> list[tuple[str, object]]:
        fit = self.fit or {}
        return [("m", self.m), ("w_l", self.w_l), ("delta", self.delta), ("points", len(self.rows)),
                ("fit_slope", fit.get("slope")), ("fit_stderr", fit.get("stderr")), ("fit_r2", fit.get("r2")),
                ("fit_range", fit.get("range"))]

    def _display_table(self) -> tuple[list[str], list[list]]:
        return list(self._COLUMNS), [[d.get(k) for k in self._COLUMNS] for d in self.table()]

    def table(self) -> list[dict]:
        """One JSON-ready dict per ``1/omega`` (keys of the CLI's ``rows``)."""
        out = []
        for x, r, b, q in zip(self.inv_omegas, self.rows, self.log10_bound, self.log10_ratio):
            d = {"inv_omega": float(x), "J0": r.J0, "log10_grad_norm": r.log10_grad_norm, "tau0": r.tau0,
                 "tau0_prime": r.tau0_prime, "log10_tau0": r.log10_tau0, "log10_tau0_prime": r.log10_tau0_prime,
                 "method": r.method, "dps": r.dps, "rel_error": r.rel_error, "model_error": r.model_error,
                 "status": r.status, "theta0_mismatch": r.theta0_mismatch,
                 "log10_mismatch_gradient": r.log10_mismatch_gradient,
                 "log10_memory_gradient": r.log10_memory_gradient,
                 "log10_bound": float(b), "log10_ratio": float(q), "seconds": r.seconds}
            if r.status == "error":  # a point whose computation raised (scan records it and goes on)
                d["message"] = r.message
            out.append(_json_floats(d))
        return out

    def to_dict(self) -> dict:
        """``{"rows": ..., "fit": ...}`` (the CLI's JSON)."""
        return {"rows": self.table(), "fit": self.fit, "w_l": self.w_l, "delta": self.delta, "m": self.m}

    def plot(self, ax=None, path: str | None = None):
        """``log10 tau_0`` and ``log10 tau_0'`` against ``1/omega`` with the bound's line and the fit."""
        if ax is None:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6.4, 4.4))
        else:
            fig = ax.figure
        x = self.inv_omegas
        y0 = np.array([r.log10_tau0 for r in self.rows])
        y1 = np.array([r.log10_tau0_prime for r in self.rows])
        ok0, ok1 = np.isfinite(y0), np.isfinite(y1)
        ax.plot(x[ok0], y0[ok0], "o", label=r"$\tau_0$ (distance)")
        ax.plot(x[ok1], y1[ok1], "x", label=r"$\tau_0'$ (loss)")
        ax.plot(x, self.log10_bound, "k--", label=r"bound $S(\omega)$, exponent $w_l$")
        if self.fit.get("slope") is not None:
            lo, hi = self.fit["range"]
            xx = np.linspace(lo, hi, 50)
            # the axis is log10 tau: the slope in its units is the fit's (of ln tau) divided by ln 10
            ln10 = math.log(10)
            ax.plot(xx, (self.fit["intercept"] + self.fit["slope"] * xx) / ln10, "C0-", lw=0.8,
                    label=(f"fit: slope {self.fit['slope'] / ln10:.4f} ± {self.fit['stderr'] / ln10:.4f} decades "
                           f"per unit $1/\\omega$ ($\\ln\\tau_0$: {self.fit['slope']:.3f})"))
        ax.set_xlabel(r"$1/\omega$")
        ax.set_ylabel(r"$\log_{10}\tau$")
        ax.legend()
        if path is not None:
            from ..._plotting import figure_path

            fig.savefig(figure_path(path), dpi=120, bbox_inches="tight")
        return fig


def fit_exponent(inv_omegas, log10_tau, fit_range=None) -> dict:
    """Least-squares slope of ``ln tau`` against ``1/omega`` with its standard error and ``R^2``."""
    x = np.asarray(inv_omegas, dtype=float)
    y = np.asarray(log10_tau, dtype=float) * math.log(10)
    sel = np.isfinite(y)
    if fit_range is not None:
        lo, hi = fit_range
        sel &= (x >= lo) & (x <= hi)
    x, y = x[sel], y[sel]
    if np.unique(x).size < 2:  # no slope through one abscissa (repeated values of 1/omega)
        return {"slope": None, "stderr": None, "intercept": None, "r2": None, "npoints": int(x.size),
                "range": None if fit_range is None else [float(v) for v in fit_range]}
    A = np.vstack([x, np.ones_like(x)]).T
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    ss_res, ss_tot = float(resid @ resid), float(((y - y.mean()) ** 2).sum())
    stderr = math.sqrt(ss_res / (x.size - 2) / float(((x - x.mean()) ** 2).sum())) if x.size > 2 else 0.0
    return {"slope": float(coef[0]), "stderr": stderr, "intercept": float(coef[1]),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0, "npoints": int(x.size),
            "range": [float(x.min()), float(x.max())]}


def _family(family, inv_omega: float) -> Kernel:
    if isinstance(family, str):
        family = Kernel(family, omega=1.0) if "omega" in family else Kernel(family)
    if isinstance(family, Kernel):
        if "omega" not in family.params:
            raise InvalidArgumentError(f"the target family must contain the symbol omega: {family.expr}")
        return family.with_params(omega=1 / exact(inv_omega, "1/omega"))
    if callable(family):
        rho = family(1.0 / inv_omega)
        if not isinstance(rho, Kernel):
            raise InvalidArgumentError("a callable family must return a Kernel for each omega")
        return rho
    raise InvalidArgumentError(f"family must be a Kernel with parameter omega, an expression or a callable, "
                               f"got {type(family).__name__}")


def _scan_point(family, a0, w0, delta, premises, kwargs, point):
    """One point of :func:`scan` (module level, so that worker processes can run it)."""
    x = point["inv_omega"]
    return hitting_times(_family(family, sp.Rational(x)), a0, w0, delta, premise=premises[x], **kwargs)


def _failed_row(error: str) -> HittingTimes:
    """The row of a point whose computation raised: no times, status ``"error"``, the error as message."""
    nan = math.nan
    return HittingTimes(None, None, nan, nan, nan, nan, "none", None, None, "error", error)


def _family_key(family) -> str:
    """What identifies a family in a scan's store: the kernel's exact repr, or the callable's name."""
    if isinstance(family, (Kernel, str)):
        return repr(family)
    return f"{getattr(family, '__module__', '?')}.{getattr(family, '__qualname__', type(family).__name__)}"


def scan(family, a0, w0, delta: float, inv_omegas, *, fit_range=None, workers: int | None = 1,
         backend="processes", store=None, progress: bool = False, **kwargs) -> PlateauScan:
    """Hitting times over a sweep of ``1/omega``, the fitted exponent and the theorem's bound.

    The points run through :func:`memtheory.sweep.run` (one point per ``1/omega``, the largest first).

    Parameters
    ----------
    family : Kernel, str or callable
        A kernel with a parameter ``omega`` (e.g. :func:`memtheory.kernels.memory_family`), an expression in
        ``t`` and ``omega``, or ``omega -> Kernel`` (a module-level function when the points run in other
        processes).
    a0, w0, delta :
        As in :func:`hitting_times`.
    inv_omegas : sequence of float
        Values of ``1/omega`` (> 0, distinct).
    fit_range : (float, float), optional
        Range of ``1/omega`` for the fit (default: all points).
    workers : int or None
        Local worker processes (default 1: this process; None: all cores). The points are independent;
        2 on a 2-core machine about halves the wall time of a long scan.
    backend : {"processes", "serial"}, str or distributed.Client
        Where the points run (:func:`memtheory.sweep.run`): local processes, or a Dask scheduler address or
        client (then ``workers`` is ignored).
    store : path, optional
        SQLite result store: each point is written when it finishes, a rerun computes only the missing ones.
    progress : bool
        Progress bar per point (stderr).
    **kwargs :
        Passed to :func:`hitting_times` (method, rtol, dps, error_estimate, check_premise).

    Returns
    -------
    PlateauScan
        A point that raised has a row with status ``"error"`` and the error as its message (a warning says
        how many); the fit uses the others.

    Raises
    ------
    PremiseError
        At the first point whose ``theta_0`` does not reproduce ``rho_bar`` to far better than the memory
        signal: the premises of all points are measured before any is integrated.
    """
    import functools

    from ... import sweep

    exact_xs, _ = exact_values(inv_omegas, "inv_omegas")  # the family's omega is 1/x exactly
    xs = np.array([to_float(x) for x in exact_xs], dtype=float)
    if xs.size == 0 or not np.all(np.isfinite(xs)) or np.any(xs <= 0):
        raise InvalidArgumentError("inv_omegas must be finite numbers > 0")
    if np.unique(xs).size != xs.size:
        raise InvalidArgumentError(f"inv_omegas must be distinct, got {xs.tolist()}")
    _, w0f, a0, w0, delta = _validate(_family(family, exact_xs[0]), a0, w0, delta)
    premises = [measure_premise(_family(family, x), a0, w0) for x in exact_xs]
    if kwargs.get("check_premise", True):
        for p in premises:
            _check_premise(p, a0, w0)
    # a point is 1/omega written exactly (a SymPy Rational as text, e.g. "17/2")
    points = [{"inv_omega": str(x)} for x in exact_xs]
    func = functools.partial(_scan_point, family, a0, w0, delta,
                             {pt["inv_omega"]: p for pt, p in zip(points, premises)}, dict(kwargs))
    key = {"family": _family_key(family), "a0": [str(v) for v in a0], "w0": [str(v) for v in w0], "delta": delta,
           "options": {k: repr(v) for k, v in sorted(kwargs.items())}}
    local = isinstance(backend, str) and backend in ("processes", "serial")
    res = sweep.run(func, points, backend=backend, workers=workers if local else None, store=store, key=key,
                    weights=[float(x) for x in xs], progress=progress, desc="plateau")
    rows = [_failed_row(v.error) if isinstance(v, sweep.PointError) else v for v in res.values]
    failed = [float(x) for x, v in zip(xs, res.values) if isinstance(v, sweep.PointError)]
    if failed:
        warnings.warn(f"{len(failed)} of {xs.size} plateau points failed (1/omega = {failed}); their rows have "
                      f"status 'error'", stacklevel=2)
    m = len(a0)
    w_l = float(w0f.min())
    lb = bound(xs, w_l, delta, m)
    l0 = np.array([r.log10_tau0 for r in rows])
    fit = fit_exponent(xs, l0, fit_range)
    fit_p = fit_exponent(xs, [r.log10_tau0_prime for r in rows], fit_range)
    for k in ("slope", "stderr", "intercept", "r2"):
        fit[k + "_prime"] = fit_p[k]
    fit["w_l"] = w_l
    return PlateauScan(xs, rows, fit, lb, l0 - lb, w_l, delta, m)
