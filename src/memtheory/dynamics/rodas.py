r"""RODAS4 in mpmath: a linearly implicit integrator for stiff flows in arbitrary precision, with hitting times.

Method
------
RODAS4 (Hairer & Wanner, *Solving ODEs II*, §IV.7; coefficients of Hairer's ``rodas.f``): a Rosenbrock method of
order 4 with an embedded order-3 estimate, L-stable and stiffly accurate, linearly implicit (no Newton
iteration) with the exact Jacobian supplied by the system (never finite differences). The arithmetic is mpmath's
``mpf`` at the system's ``dps`` digits, or Arb's ``arb`` used as floating point at the same precision (the
system's :class:`~memtheory.compile.arith.Arithmetic`, ``system.arith``: one algorithm, the number type swapped;
exponents are unbounded in both: ``tau = 1e900`` and gradients of ``1e-870`` are ordinary numbers); the linear
algebra is :mod:`memtheory.dynamics.mplinalg`. The run's times and end point are returned as ``mpf``.

* **Curvature safeguard.** Near the escape from a plateau the Hessian of the objective has a negative eigenvalue
  ``lambda_neg``; a step with ``gamma h |lambda_neg|`` near 1 would make the stage matrix singular (and well
  before that, inaccurate). A step is attempted only if ``kappa I/(gamma h) + S`` is positive definite
  (``kappa = 1/2``, :data:`KAPPA`; ``S`` is the system's curvature matrix, the Hessian for a gradient flow;
  checked by an ``L D L^T`` factorisation); otherwise ``h`` is divided by 4.
* **Component-wise relative error** on the system's control vector (e.g. the offsets ``theta - theta_0``): each
  component is measured against its own size (floor: ``1e-3`` of its running maximum). Offsets can span many
  orders of magnitude and the dynamics may be driven by the small ones, which a norm-wise control would ignore.
* **Hitting times** are located by the Illinois method on the length of a full RODAS4 step from the last
  accepted point (same Jacobian), to a relative accuracy far below the tolerance.
* **Step growth.** When the solution is nearly linear in ``tau`` the error estimate stays flat while ``h``
  grows; the controller then lets ``h`` grow by the *observed* error order (floored at 1) instead of the
  asymptotic order 4 (still subject to the error test).

Systems
-------
:func:`integrate_system` integrates any object with the attributes and methods of :class:`RodasSystem` (the
contract is documented there, as scipy's ``OdeSolver`` documents its own): the flow ``x' = f(x)`` of a state
``x`` that parametrises a point ``theta(x)`` with an objective ``J``, until the two hitting times
``||theta - theta_0|| = delta`` and ``|J - J(theta_0)| = delta``. The plateau flows of
:mod:`memtheory.theory.plateau.systems` are the systems of the library.

References
----------
E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II: Stiff and Differential-Algebraic Problems*,
2nd ed., Springer (1996), §IV.7 (Rosenbrock methods, RODAS) and ``rodas.f``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


from ..display import Displayable
from .._validation import check_positive
from ..compile.arith import MPMATH, Arithmetic
from ..errors import ConvergenceError, InvalidArgumentError
from .mplinalg import ldl, lu, lu_solve

__all__ = ["GAMMA", "KAPPA", "RodasSystem", "RodasRun", "integrate_system", "check_arguments"]

# RODAS4 (Hairer's rodas.f, METH = 1); the embedded solution is the 6th stage value, the error its increment.
#: Diagonal coefficient ``gamma`` of RODAS4.
GAMMA = "0.25"
_A = [[], ["1.544"], ["0.9466785280815826", "0.2557011698983284"],
      ["3.314825187068521", "2.896124015972201", "0.9986419139977817"],
      ["1.221224509226641", "6.019134481288629", "12.53708332932087", "-0.6878860361058950"],
      ["1.221224509226641", "6.019134481288629", "12.53708332932087", "-0.6878860361058950", "1"]]
_C = [[], ["-5.6688"], ["-2.430093356833875", "-0.2063599157091915"],
      ["-0.1073529058151375", "-9.594562251023355", "-20.47028614809616"],
      ["7.496443313967647", "-10.24680431464352", "-33.99990352819905", "11.70890893206160"],
      ["8.083246795921522", "-7.981132988064893", "-31.52159432874371", "16.31930543123136",
       "-6.058818238834054"]]
#: Curvature safeguard: (KAPPA/(gamma h)) I + S must be positive definite (S = hess J for a gradient flow).
KAPPA = 0.5


class RodasSystem:
    """The contract of a system integrated by :func:`integrate_system`.

    Subclass it (the defaults below then apply) or provide the same attributes and methods. States are lists
    of ``n`` numbers of the system's arithmetic (``arith``, mpmath's ``mpf`` by default); every method is called
    inside ``arith.workdps(dps)``.

    The flow is ``x' = f(x)``. The state parametrises a point ``theta(x)`` (the identity for a flow in the
    original coordinates; e.g. ``theta(w) = (a*(w), w)`` for a flow reduced to a slow manifold) at which a
    scalar objective ``J`` is evaluated; the run stops at the hitting times of ``||theta(x) - theta_0|| = delta``
    (event ``"distance"``) and ``|J - J(theta_0)| = delta`` (event ``"loss"``).

    Attributes
    ----------
    n : int
        Dimension of the state.
    dps : int
        Working precision (decimal digits).
    theta0 : list of mpf
        Reference point of the distance event.
    nfev, njev : int
        Evaluation counters (of ``f`` and of the Jacobian; the system counts), reported by the run.
    reduced : bool
        Whether the system is a reduced model of a larger flow (reported as :attr:`RodasRun.reduced`).
    arith : Arithmetic
        The number type of the states and of every value the methods return (default mpmath's ``mpf``).

    Notes
    -----
    Methods to provide:

    ``initial_state() -> list``
        The state at ``tau = 0``.
    ``rhs(x) -> list``
        ``f(x)``.
    ``jacobian(x) -> (J, f, Jac, S)``
        At ``x``: the objective, ``f(x)``, the Jacobian ``df/dx`` (list of lists) and the symmetric curvature
        matrix ``S`` of the safeguard (``S = hess J = -Jac`` for a gradient flow ``f = -grad J``).
    ``control(x) -> list``
        The vector whose components carry the component-wise error control (e.g. ``theta - theta_0``).
    ``theta(x) -> list``
        The point of the distance event.
    ``loss(x) -> mpf``
        ``J`` at ``x`` (locates the loss event).
    ``initial_loss() -> mpf``
        ``J(theta_0)``, the reference of the loss event.
    ``in_domain(x) -> bool``
        Whether ``f`` may be evaluated at ``x``: a stage or a step outside is refused and the step shortened.

    and, with defaults here: :meth:`monitor` and :meth:`model_error`.
    """

    n: int
    dps: int
    theta0: list
    nfev: int = 0
    njev: int = 0
    reduced: bool = False
    arith: Arithmetic = MPMATH

    def initial_state(self) -> list:
        """The state at ``tau = 0``."""
        raise NotImplementedError

    def rhs(self, x: list) -> list:
        """The vector field ``f(x)``."""
        raise NotImplementedError

    def jacobian(self, x: list) -> tuple:
        """``(J, f, df/dx, S)`` at ``x`` (see the class notes)."""
        raise NotImplementedError

    def control(self, x: list) -> list:
        """The vector of the component-wise error control."""
        raise NotImplementedError

    def theta(self, x: list) -> list:
        """The point of the distance event."""
        raise NotImplementedError

    def loss(self, x: list) -> Any:
        """The objective at ``x``."""
        raise NotImplementedError

    def initial_loss(self) -> Any:
        """``J(theta_0)``, the reference of the loss event."""
        raise NotImplementedError

    def in_domain(self, x: list) -> bool:
        """Whether the vector field may be evaluated at ``x``."""
        raise NotImplementedError

    def monitor(self, x: list, tau: Any, events_found: int) -> tuple[str, str] | None:
        """Called after every accepted step: ``None`` to go on, or ``(status, message)`` to stop the run.

        Nothing to watch by default: ``None``.
        """
        return None

    def model_error(self, tau: Any) -> float:
        """Relative error of an event time ``tau`` from the system's model: 0 by default (the flow as it is)."""
        return 0.0


class _Rodas:
    """RODAS4 steps for ``x' = f(x)`` with the Jacobian supplied by the system."""

    def __init__(self, system):
        self.sys = system
        self.ar = ar = _arith(system)
        self.gamma = ar.num(GAMMA)
        # the coefficients are known to 16 digits (rodas.f): as the nearest doubles they are exact binary numbers
        # of 53 bits (as accurate as the decimals), and a product with one costs a fraction of a full-precision one
        self.A = [[ar.num(float(v)) for v in row] for row in _A]
        self.C = [[ar.num(float(v)) for v in row] for row in _C]
        self.ndec = 0

    def factor(self, Jac, S, h):
        """Factorisation of ``I/(gamma h) - Jac``, or None when the curvature safeguard refuses ``h``.

        ``h`` is used as the number it stands for (:meth:`~memtheory.compile.arith.Arithmetic.clean`): a step
        size is the output of the controller, and Arb divides by an inexact ball only to the ball's accuracy."""
        h = self.ar.clean(h)
        inv = self.ar.clean(1 / (self.gamma * h))
        self.ndec += 1
        if ldl(S, KAPPA * inv, self.ar) is None:
            return None
        n = len(Jac)
        self.ndec += 1
        return lu([[(inv if i == j else 0) - Jac[i][j] for j in range(n)] for i in range(n)], self.ar)

    def step(self, y, f0, F, h):
        """One step of size ``h``: ``(y_new, err_vector)``; ``(None, None)`` when a stage leaves the domain
        (``system.in_domain`` is false there, e.g. a rate <= 0 where a kernel's Laplace moments may not
        exist)."""
        n = len(y)
        ar = self.ar
        fsum, clean = ar.fsum, ar.clean
        h = clean(h)  # the step size as an exact number (see factor)
        g = []
        for i in range(6):
            if i == 0:
                rhs = list(f0)
            else:
                arg = [clean(y[k] + fsum(self.A[i][j] * g[j][k] for j in range(i))) for k in range(n)]
                if not self.sys.in_domain(arg):
                    return None, None
                fi = self.sys.rhs(arg)
                rhs = [fi[k] + fsum(self.C[i][j] * g[j][k] for j in range(i)) / h for k in range(n)]
            g.append(lu_solve(F, rhs, ar))
        y5 = [y[k] + fsum(self.A[5][j] * g[j][k] for j in range(5)) for k in range(n)]
        return [clean(y5[k] + g[5][k]) for k in range(n)], g[5]


@dataclass(repr=False)
class RodasRun(Displayable):
    """Outcome of :func:`integrate_system` (and of :func:`memtheory.theory.plateau.systems.integrate_rodas`).

    Attributes
    ----------
    tau0, tau0_prime : mpmath.mpf or None
        Hitting times of ``||theta - theta_0|| = delta`` and ``|J - J(theta_0)| = delta``; None when not reached
        (``tau_end`` is then a lower bound); ``mp.inf`` when the flow converged to a minimum short of the
        threshold.
    tau_end : mpmath.mpf
        Training time at which the run stopped.
    status : str
        ``"events"``, ``"censored"`` (the second event not reached within ``after_event_steps``),
        ``"converged"``, ``"tau_max"``, ``"max_steps"`` or ``"domain"``.
    message : str
    dps : int
    rtol : float
    nsteps, nrejected, nsafeguard, nfev, njev, ndec : int
        Accepted steps, steps rejected by the error test, steps refused by the curvature safeguard, the
        system's evaluation counters (for the plateau flows: gradient and Hessian evaluations), matrix
        factorisations.
    model_error : dict
        Per event (``"distance"``, ``"loss"``), the relative error of the time from the system's model
        (``system.model_error``: 0 for a flow integrated as it is; the slaving estimate for
        :class:`memtheory.theory.plateau.systems.ReducedSystem`).
    reduced : bool
        Whether a reduced model (the slow-manifold flow) was integrated (``system.reduced``).
    theta_end : list of mpmath.mpf
    samples : list of tuple
        ``(log10 tau, log10 ||theta - theta_0||, J - J(theta_0))`` at accepted steps (floats).
    """

    tau0: object
    tau0_prime: object
    tau_end: object
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
    model_error: dict = field(default_factory=dict)
    reduced: bool = False
    theta_end: list = field(repr=False, default_factory=list)
    samples: list = field(repr=False, default_factory=list)


def _arith(system) -> Arithmetic:
    return getattr(system, "arith", MPMATH)


def _log10(ar: Arithmetic, x) -> float:
    return float(ar.log10(x)) if x > 0 else -math.inf


def check_arguments(delta: Any, rtol: Any) -> tuple[float, float]:
    """``(delta, rtol)`` of a run, checked: ``delta`` finite and ``> 0``, ``rtol`` in ``[1e-14, 1e-2]``."""
    delta = check_positive("delta", delta)
    if not (isinstance(rtol, (int, float)) and 1e-14 <= rtol <= 1e-2):
        raise InvalidArgumentError(f"rtol must be in [1e-14, 1e-2], got {rtol!r}")
    return delta, float(rtol)


def integrate_system(system: RodasSystem, delta: float, rtol: float = 1e-5, tau_max: Any = None,
                     max_steps: int = 20000, after_event_steps: int = 300, max_growth: float = 1e4,
                     record: bool = True) -> RodasRun:
    """Integrate ``system`` with RODAS4 from its initial state and locate both hitting times.

    Parameters
    ----------
    system : RodasSystem
        The flow (see :class:`RodasSystem` for the contract); integrated at its ``dps`` digits.
    delta : float
        Threshold of both events (> 0).
    rtol : float
        Relative local tolerance, component-wise on ``system.control``, in ``[1e-14, 1e-2]``.
    tau_max : number, optional
        Stop at this time.
    max_steps : int
        Maximum number of accepted steps.
    after_event_steps : int
        Accepted steps allowed after the first hitting time to find the second.
    max_growth : float
        Largest step-size growth factor per step.
    record : bool
        Keep samples of the trajectory.

    Returns
    -------
    RodasRun

    Raises
    ------
    ConvergenceError
        When the step size underflows, or an event location leaves the domain.
    """
    delta, rtol = check_arguments(delta, rtol)
    ar = _arith(system)
    with ar.workdps(system.dps):
        return _integrate(system, ar.num(delta), rtol, tau_max, int(max_steps), int(after_event_steps),
                          ar.num(max_growth), record)


def _integrate(system, delta, rtol, tau_max, max_steps, after_event_steps, max_growth, record):
    n = system.n
    rod = _Rodas(system)
    ar = rod.ar
    theta0 = system.theta0
    tau_max = None if tau_max is None else ar.num(tau_max)
    y = system.initial_state()
    _, f, Jac, S = system.jacobian(y)
    J0 = system.initial_loss()
    d2 = delta * delta
    found: dict = {}
    errors: dict = {}
    samples: list = []
    counts = {"nacc": 0, "nrej": 0, "nsafe": 0}
    if all(v == 0 for v in f):
        return _finish(system, rod, y, ar.num(0), {"distance": ar.inf, "loss": ar.inf}, "converged",
                       "theta_0 is a critical point (grad J = 0): the flow stays there", rtol, counts, samples)
    rt = ar.num(rtol)
    hscale = max(abs(Jac[i][i]) for i in range(n)) or ar.num(1)
    h = ar.num("0.01") / hscale
    tau = ar.num(0)
    c0 = system.control(y)
    running = [abs(v) for v in c0]
    nu = ar.num("1e-3")
    atol = ar.num(10) ** (-(system.dps - 10))
    floor = ar.num(10) ** (-(system.dps - 15))
    first_event_step = None
    h_old = err_old = None
    last_rejected = False
    status, message = "max_steps", f"the maximum number of steps ({max_steps}) was reached"
    while counts["nacc"] < max_steps:
        if tau_max is not None and tau + h > tau_max:
            h = tau_max - tau
        if h <= tau * floor:
            raise ConvergenceError(f"step size underflow at tau = {ar.nstr(tau, 8)} ({counts['nacc']} steps)")
        F = rod.factor(Jac, S, h)
        if F is None:
            counts["nsafe"] += 1
            last_rejected = True
            h = h / 4
            continue
        y_new, e = rod.step(y, f, F, h)
        if y_new is None:  # a stage left the domain: shorter step
            counts["nrej"] += 1
            last_rejected = True
            h = h / 4
            continue
        c_old, c_new = system.control(y), system.control(y_new)
        scale = [atol + rt * max(abs(c_old[k]), abs(c_new[k]), nu * running[k]) for k in range(n)]
        err = ar.sqrt(ar.fsum((e[k] / scale[k]) ** 2 for k in range(n)) / n)
        if err == 0:
            fac = max_growth
        else:
            fac = ar.num("0.9") * err ** ar.num("-0.25")
            if h_old is not None and err_old and not last_rejected:  # Gustafsson's predictive controller
                fac = min(fac, fac * h / h_old * (err_old / err) ** ar.num("0.25"))
                fac = max(fac, _observed_order_growth(ar, h / h_old, err, err_old))
        inside = system.in_domain(y_new)
        if err > 1 or not inside:
            counts["nrej"] += 1
            last_rejected = True
            if not inside and err <= 1:
                h = h / 4
                if h <= tau * floor * 1000:
                    status, message = "domain", f"a rate reached 0 at tau ~ {ar.nstr(tau, 8)}"
                    break
            else:
                h = h * max(ar.num("0.2"), fac)
            continue
        # ------------------------------------------------------------------------ accepted step
        counts["nacc"] += 1
        th_new = system.theta(y_new)
        dist2 = _dist2(ar, th_new, theta0)
        # the loss, gradient and Hessian at the new point serve the events and the next step
        J_new, f_new, Jac_new, S_new = system.jacobian(y_new)
        if "distance" not in found and dist2 >= d2:
            found["distance"] = _locate(rod, system, y, f, Jac, S, tau, h,
                                        lambda z: _dist2(ar, system.theta(z), theta0) - d2, dist2 - d2)
        if "loss" not in found and abs(J_new - J0) >= delta:
            found["loss"] = _locate(rod, system, y, f, Jac, S, tau, h,
                                    lambda z: abs(system.loss(z) - J0) - delta, abs(J_new - J0) - delta)
        stop = system.monitor(y_new, tau + h, len(found))
        for name in found:
            errors.setdefault(name, system.model_error(found[name]))
        if found and first_event_step is None:
            first_event_step = counts["nacc"]
        tau += h
        y = y_new
        for k in range(n):
            running[k] = max(running[k], abs(c_new[k]))
        if record:
            samples.append((_log10(ar, tau), _log10(ar, dist2) / 2, float(J_new - J0)))
        if len(found) == 2:
            status, message = "events", "both hitting times located"
            break
        if stop is not None:
            status, message = stop
            break
        if first_event_step is not None and counts["nacc"] - first_event_step >= after_event_steps:
            missing = "loss" if "loss" not in found else "distance"
            status = "censored"
            message = (f"the {missing} event was not reached within {after_event_steps} steps after the first "
                       f"one (it is later than tau = {ar.nstr(tau, 8)}); after a plateau the flow may enter a "
                       "slow singular regime (rates coalescing, weights diverging)")
            break
        if tau_max is not None and tau >= tau_max:
            status, message = "tau_max", f"tau_max = {ar.nstr(tau_max, 6)} reached"
            break
        f, Jac, S = f_new, Jac_new, S_new
        if counts["nacc"] % 10 == 0 and _converged(f, Jac, y, system, delta, found):
            status, message = "converged", "the flow converged to a local minimum short of the threshold"
            for name in ("distance", "loss"):
                found.setdefault(name, ar.inf)
            break
        h_old, err_old = h, err
        last_rejected = False
        h = h * min(max_growth, fac)
    return _finish(system, rod, y, tau, found, status, message, rtol, counts, samples, errors)


def _observed_order_growth(ar, q, err, err_old):
    """Step growth allowed by the *observed* error growth: on a plateau's drift phase the solution is nearly
    linear in ``tau`` and the error estimate stays flat while ``h`` grows by ``q`` (order 4 is the asymptotic
    worst case, not what happens there). With the observed exponent ``p = ln(err/err_old)/ln q`` (floored at 1)
    the step that keeps the estimate below 1/2 is ``(0.5/err)^(1/p)``; the next error test still decides."""
    if q < 2 or err >= ar.num("0.5"):
        return ar.num(0)
    p = max(ar.num(1), ar.log(err / err_old) / ar.log(q))
    return (ar.num("0.5") / err) ** (1 / p) if p < 4 else ar.num(0)


def _dist2(ar, theta, theta0):
    return ar.fsum((theta[k] - theta0[k]) ** 2 for k in range(len(theta)))


def _converged(f, Jac, y, system, delta, found) -> bool:
    """At a local minimum short of the thresholds: the Newton step is tiny."""
    ar = _arith(system)
    F = lu(Jac, ar)
    if F is None or "distance" in found:
        return False
    newton = lu_solve(F, f, ar)
    size = ar.sqrt(ar.fsum(v * v for v in newton))
    return size < delta * ar.num("1e-12") and _dist2(ar, system.theta(y), system.theta0) < delta * delta


def _locate(rod, system, y, f, Jac, S, tau, h, phi, phi_end):
    """Illinois iteration for the root of ``phi(step(y, h'))`` on ``(0, h)``; returns ``tau + h'``."""
    ar = rod.ar
    lo, hi = ar.num(0), h
    f_lo, f_hi = phi(y), phi_end
    side = 0
    tol = (tau + h) * ar.num("1e-13")
    for _ in range(200):
        if hi - lo <= tol:
            break
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else (lo + hi) / 2
        if not (lo < x < hi):
            x = (lo + hi) / 2
        F = rod.factor(Jac, S, x)
        if F is None:  # a shorter step than an accepted one always passes the safeguard; keep the bracket anyway
            x = (lo + hi) / 2
            F = rod.factor(Jac, S, x)
        z = rod.step(y, f, F, x)[0]
        if z is None:
            raise ConvergenceError(f"event location left the domain at tau ~ {ar.nstr(tau + x, 8)}")
        fx = phi(z)
        if fx == 0:
            return tau + x
        if (fx > 0) == (f_hi > 0):
            hi, f_hi = x, fx
            if side == 1:
                f_lo /= 2
            side = 1
        else:
            lo, f_lo = x, fx
            if side == -1:
                f_hi /= 2
            side = -1
    return tau + (lo + hi) / 2


def _finish(system, rod, y, tau, found, status, message, rtol, counts, samples, errors=None) -> RodasRun:
    """The run, its numbers as ``mpf`` (at the working precision) whatever the arithmetic."""
    to = rod.ar.to_mpf

    def opt(x):
        return None if x is None else to(x)

    return RodasRun(opt(found.get("distance")), opt(found.get("loss")), to(tau), status, message, system.dps, rtol,
                    counts["nacc"], counts["nrej"], counts["nsafe"], system.nfev, system.njev, rod.ndec,
                    dict(errors or {}), bool(system.reduced), [to(v) for v in system.theta(y)], samples)
