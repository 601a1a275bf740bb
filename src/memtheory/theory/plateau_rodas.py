r"""The plateau gradient flow in arbitrary precision: RODAS4 in mpmath with the exact Hessian (THEORY.md §4).

What has to be resolved
-----------------------
On the plateau of ``rho_omega = rho_bar + rho_0(. - 1/omega)`` the gradient at ``theta_0`` is
``eps ~ e^{-w_min/omega}``; after the fast directions (the weights and the rates carrying weight) have relaxed,
the rates that carry no weight are driven by forces of order ``eps^2`` (a weight of size ``eps`` times a
residual moment of size ``eps``), and those forces end the plateau. They are computed by the library's loss
assembly as differences of ``O(1)`` terms, so the working precision must exceed ``-2 log10 eps`` digits plus a
guard (``0.87 w_min/omega + 40``): with fewer digits the escape forces are rounding noise, the flow settles at a
spurious equilibrium and the plateau looks infinite. The precision is therefore chosen from the *measured*
initial gradient (:func:`flow_precision`) and the result can be checked by rerunning at more digits.

Integrator
----------
RODAS4 (Hairer & Wanner, *Solving ODEs II*, §IV.7; coefficients of Hairer's ``rodas.f``): a Rosenbrock method of
order 4 with an embedded order-3 estimate, L-stable and stiffly accurate, linearly implicit (no Newton
iteration) with the exact Jacobian ``-hess J`` of the generated assembly (never finite differences).

* **Curvature safeguard.** Near the escape the Hessian has a negative eigenvalue ``lambda_neg``; a step with
  ``gamma h |lambda_neg|`` near 1 would make the stage matrix singular (and well before that, inaccurate). A
  step is attempted only if ``kappa I/(gamma h) + hess J`` is positive definite (``kappa = 1/2``, checked by an
  ``L D L^T`` factorisation); otherwise ``h`` is divided by 4.
* **Component-wise relative error** on the offsets ``theta - theta_0``: each component is measured against its
  own size (floor: ``1e-3`` of its running maximum). Offsets span many orders of magnitude (weights ``~eps``,
  rates up to ``delta``) and the escape is driven by the small ones, which a norm-wise control would ignore.
* Hitting times are located by the Illinois method on the length of a full RODAS4 step from the last accepted
  point (same Jacobian), to a relative accuracy far below the tolerance.

Cost and range (measured, m = 10, rtol = 1e-4): the Gram matrix ``C_ij = 1/(w_i + w_j)`` of ten rates in
[0.5, 4] has relaxation times from 1 to ~1e12, and on the plateau the weights are slaved to the rates with
that sensitivity: the linearly implicit stages see the curvature of the slow manifold and the accepted steps
stay near ``h ~ 5e-3 tau`` (about 40-50 steps per decade of ``tau``). ``1/omega = 20`` (tau_0 = 252) takes
25 s, ``1/omega = 60`` (tau_0 = 2.7e13) about 100 s; ``1/omega = 100`` (tau_0 > 1e29) needs thousands of steps.
The arithmetic is not the limit (mpmath with gmpy2 at 900 digits: gradient 6 ms, Hessian 18 ms for m = 10);
the step count is. Integrating in coordinates where the slaved weights are solved exactly
(``xi = a - C^{-1} L[rho](w)``) is the known remedy; it is not implemented (a first version with a
simplified Jacobian did not let the step grow).

The arithmetic is mpmath's ``mpf`` at ``dps`` digits (exponents are unbounded: ``tau = 1e900`` and gradients
of ``1e-870`` are ordinary numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from ..errors import ConvergenceError, InvalidArgumentError
from ..kernels.kernel import Kernel
from ..losses.assembly import loss_module

__all__ = ["MPObjective", "FullSystem", "RodasRun", "integrate_rodas", "flow_precision"]

# RODAS4 (Hairer's rodas.f, METH = 1); the embedded solution is the 6th stage value, the error its increment.
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
#: Curvature safeguard: (KAPPA/(gamma h)) I + hess J must be positive definite.
KAPPA = 0.5


class MPObjective:
    """``J``, ``grad J`` and ``hess J`` of ``rho_hat(theta) = sum_i a_i e^{-w_i t}`` against ``rho`` in mpmath.

    The same generated assembly as :func:`memtheory.l2_loss` (plain Python over ``mpf``), fed with the kernel's
    Laplace moments at the current rates, evaluated at ``dps`` digits without ever passing through float64.

    Parameters
    ----------
    rho : Kernel
        Square-integrable target.
    m : int
        Width.
    dps : int
        Working precision (decimal digits).
    """

    def __init__(self, rho: Kernel, m: int, dps: int):
        if not isinstance(rho, Kernel):
            raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
        self.rho = rho
        self.m = int(m)
        self.n = 2 * self.m
        self.dps = int(dps)
        self._mod = loss_module("python")
        self.nfev = 0
        self.njev = 0
        with mp.workdps(self.dps):
            self.norm = +rho.square_integral(dps=self.dps)

    def evaluate(self, theta, hessian: bool = False):
        """``(J, grad, hess)`` at ``theta = (a, w)`` (sequences of mpf); ``hess`` is None unless requested.

        ``grad`` and ``hess`` are Python lists (of lists) of mpf.
        """
        m = self.m
        if hessian:
            self.njev += 1
        else:
            self.nfev += 1
        with mp.workdps(self.dps):
            a = np.array(theta[:m], dtype=object)
            w = np.array(theta[m:], dtype=object)
            kmax = 2 if hessian else 1
            zero = [mp.mpf(0)] * m
            moments = [np.array(self.rho.laplace(list(w), moment=k, dps=self.dps) if k <= kmax else zero,
                                dtype=object) for k in range(3)]
            grad = np.empty(self.n, dtype=object)
            grad.fill(mp.mpf(0))
            hess = np.empty((self.n, self.n) if hessian else (1, 1), dtype=object)
            hess.fill(mp.mpf(0))
            J = self._mod.assemble(a, w, *moments, self.norm, grad, hess, True, hessian)
            return +J, [+g for g in grad], ([[+h for h in row] for row in hess] if hessian else None)


def flow_precision(log10_grad: float, guard: int = 40) -> int:
    """Digits needed to resolve the escape forces ``~|grad J(theta_0)|^2`` against ``O(1)`` terms.

    Parameters
    ----------
    log10_grad : float
        ``log10 ||grad J(theta_0)||``.
    guard : int
        Extra digits (Gram-matrix conditioning of the rates, ~12 for ten rates in [0.5, 4], and the tolerance).
    """
    return max(30, int(math.ceil(-2.0 * min(log10_grad, 0.0))) + int(guard))


# ============================================================================================ linear algebra
def _ldl(M, shift):
    """``L D L^T`` of the symmetric ``M + shift I`` (lists of mpf); None unless positive definite."""
    n = len(M)
    L = [[mp.mpf(0)] * n for _ in range(n)]
    D = [mp.mpf(0)] * n
    for j in range(n):
        Lj = L[j]
        d = M[j][j] + shift - mp.fsum(Lj[k] * Lj[k] * D[k] for k in range(j))
        if not d > 0:
            return None
        D[j] = d
        Lj[j] = mp.mpf(1)
        for i in range(j + 1, n):
            Li = L[i]
            Li[j] = (M[i][j] - mp.fsum(Li[k] * Lj[k] * D[k] for k in range(j))) / d
    return L, D


def _ldl_solve(F, b):
    L, D = F
    n = len(b)
    y = list(b)
    for i in range(n):
        Li = L[i]
        y[i] = y[i] - mp.fsum(Li[k] * y[k] for k in range(i))
    for i in range(n):
        y[i] = y[i] / D[i]
    for i in range(n - 1, -1, -1):
        y[i] = y[i] - mp.fsum(L[k][i] * y[k] for k in range(i + 1, n))
    return y


def _lu(M):
    """LU with partial pivoting of a square list-of-lists (copied); None if singular."""
    n = len(M)
    A = [list(row) for row in M]
    piv = list(range(n))
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(A[i][k]))
        if A[p][k] == 0:
            return None
        if p != k:
            A[k], A[p] = A[p], A[k]
            piv[k], piv[p] = piv[p], piv[k]
        inv = 1 / A[k][k]
        for i in range(k + 1, n):
            f = A[i][k] * inv
            if f:
                A[i][k] = f
                Ai, Ak = A[i], A[k]
                for j in range(k + 1, n):
                    Ai[j] -= f * Ak[j]
            else:
                A[i][k] = f
    return A, piv


def _lu_solve(F, b):
    A, piv = F
    n = len(b)
    y = [b[piv[i]] for i in range(n)]
    for i in range(n):
        y[i] = y[i] - mp.fsum(A[i][k] * y[k] for k in range(i))
    for i in range(n - 1, -1, -1):
        y[i] = (y[i] - mp.fsum(A[i][k] * y[k] for k in range(i + 1, n))) / A[i][i]
    return y


# ============================================================================================ systems
class FullSystem:
    """The flow ``theta' = -grad J`` in the original coordinates ``theta = (a, w)``."""

    def __init__(self, objective: MPObjective, theta0):
        self.obj = objective
        self.n, self.m, self.dps = objective.n, objective.m, objective.dps
        with mp.workdps(self.dps):
            self.theta0 = [mp.mpf(v) for v in theta0]
        if len(self.theta0) != self.n:
            raise InvalidArgumentError(f"theta0 must have {self.n} entries, got {len(self.theta0)}")

    def initial_state(self):
        return list(self.theta0)

    def rhs(self, x):
        return [-v for v in self.obj.evaluate(x)[1]]

    def jacobian(self, x):
        """``(J, f, df/dx, S)`` with ``S = hess J`` (curvature safeguard), from one evaluation."""
        J, g, H = self.obj.evaluate(x, hessian=True)
        return J, [-v for v in g], [[-v for v in row] for row in H], H

    def theta(self, x):
        return list(x)

    def control(self, x):
        """The vector whose components carry the component-wise error control: ``theta - theta_0``."""
        return [x[k] - self.theta0[k] for k in range(self.n)]

    def loss(self, x):
        return self.obj.evaluate(x)[0]

    def in_domain(self, x) -> bool:
        return all(v > 0 for v in x[self.m:])


# ============================================================================================ the method
class _Rodas:
    """RODAS4 steps for ``x' = f(x)`` with the Jacobian supplied by the system."""

    def __init__(self, system):
        self.sys = system
        self.gamma = mp.mpf(GAMMA)
        self.A = [[mp.mpf(v) for v in row] for row in _A]
        self.C = [[mp.mpf(v) for v in row] for row in _C]
        self.ndec = 0

    def factor(self, Jac, S, h):
        """Factorisation of ``I/(gamma h) - Jac``, or None when the curvature safeguard refuses ``h``."""
        inv = 1 / (self.gamma * h)
        self.ndec += 1
        if _ldl(S, KAPPA * inv) is None:
            return None
        n = len(Jac)
        self.ndec += 1
        return _lu([[(inv if i == j else 0) - Jac[i][j] for j in range(n)] for i in range(n)])

    def step(self, y, f0, F, h):
        """One step of size ``h``: ``(y_new, err_vector)``."""
        n = len(y)
        g = []
        for i in range(6):
            if i == 0:
                rhs = list(f0)
            else:
                arg = [y[k] + mp.fsum(self.A[i][j] * g[j][k] for j in range(i)) for k in range(n)]
                fi = self.sys.rhs(arg)
                rhs = [fi[k] + mp.fsum(self.C[i][j] * g[j][k] for j in range(i)) / h for k in range(n)]
            g.append(_lu_solve(F, rhs))
        y5 = [y[k] + mp.fsum(self.A[5][j] * g[j][k] for j in range(5)) for k in range(n)]
        return [y5[k] + g[5][k] for k in range(n)], g[5]


@dataclass
class RodasRun:
    """Outcome of :func:`integrate_rodas`.

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
        Accepted steps, steps rejected by the error test, steps refused by the curvature safeguard, gradient
        and Hessian evaluations, matrix factorisations.
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
    theta_end: list = field(repr=False, default_factory=list)
    samples: list = field(repr=False, default_factory=list)


def _log10(x) -> float:
    return float(mp.log10(x)) if x > 0 else -math.inf


def integrate_rodas(objective: MPObjective, theta0, delta: float, rtol: float = 1e-5, tau_max=None,
                    max_steps: int = 20000, after_event_steps: int = 300, max_growth: float = 1e4,
                    record: bool = True) -> RodasRun:
    """Integrate ``theta' = -grad J`` from ``theta_0`` in mpmath and locate both hitting times.

    Parameters
    ----------
    objective : MPObjective
        Loss, gradient and Hessian (its ``dps`` is the working precision).
    theta0 : sequence
        Initial ``(a, w)`` (converted at ``dps``).
    delta : float
        Threshold of both events (> 0).
    rtol : float
        Relative local tolerance, component-wise (see the module notes), in ``[1e-14, 1e-2]``.
    tau_max : number, optional
        Stop at this training time.
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
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}")
    if not (isinstance(rtol, (int, float)) and 1e-14 <= rtol <= 1e-2):
        raise InvalidArgumentError(f"rtol must be in [1e-14, 1e-2], got {rtol!r}")
    with mp.workdps(objective.dps):
        system = FullSystem(objective, theta0)
        return _integrate(system, mp.mpf(delta), float(rtol), tau_max, int(max_steps), int(after_event_steps),
                          mp.mpf(max_growth), record)


def _integrate(system, delta, rtol, tau_max, max_steps, after_event_steps, max_growth, record):
    n = system.n
    rod = _Rodas(system)
    theta0 = system.theta0
    tau_max = None if tau_max is None else mp.mpf(tau_max)
    y = system.initial_state()
    J0, f, Jac, S = system.jacobian(y)
    d2 = delta * delta
    found: dict = {}
    samples: list = []
    counts = {"nacc": 0, "nrej": 0, "nsafe": 0}
    if all(v == 0 for v in f):
        return _finish(system, rod, y, mp.mpf(0), {"distance": mp.inf, "loss": mp.inf}, "converged",
                       "theta_0 is a critical point (grad J = 0): the flow stays there", rtol, counts, samples)
    rt = mp.mpf(rtol)
    hscale = max(abs(Jac[i][i]) for i in range(n)) or mp.mpf(1)
    h = mp.mpf("0.01") / hscale
    tau = mp.mpf(0)
    c0 = system.control(y)
    running = [abs(v) for v in c0]
    nu = mp.mpf("1e-3")
    atol = mp.mpf(10) ** (-(system.dps - 10))
    floor = mp.mpf(10) ** (-(system.dps - 15))
    first_event_step = 0 if found else None
    h_old = err_old = None
    last_rejected = False
    status, message = "max_steps", f"the maximum number of steps ({max_steps}) was reached"
    while counts["nacc"] < max_steps:
        if tau_max is not None and tau + h > tau_max:
            h = tau_max - tau
        if h <= tau * floor:
            raise ConvergenceError(f"step size underflow at tau = {mp.nstr(tau, 8)} ({counts['nacc']} steps)")
        F = rod.factor(Jac, S, h)
        if F is None:
            counts["nsafe"] += 1
            last_rejected = True
            h = h / 4
            continue
        y_new, e = rod.step(y, f, F, h)
        c_old, c_new = system.control(y), system.control(y_new)
        scale = [atol + rt * max(abs(c_old[k]), abs(c_new[k]), nu * running[k]) for k in range(n)]
        err = mp.sqrt(mp.fsum((e[k] / scale[k]) ** 2 for k in range(n)) / n)
        if err == 0:
            fac = max_growth
        else:
            fac = mp.mpf("0.9") * err ** mp.mpf("-0.25")
            if h_old is not None and err_old and not last_rejected:  # Gustafsson's predictive controller
                fac = min(fac, fac * h / h_old * (err_old / err) ** mp.mpf("0.25"))
        inside = system.in_domain(y_new)
        if err > 1 or not inside:
            counts["nrej"] += 1
            last_rejected = True
            if not inside and err <= 1:
                h = h / 4
                if h <= tau * floor * 1000:
                    status, message = "domain", f"a rate reached 0 at tau ~ {mp.nstr(tau, 8)}"
                    break
            else:
                h = h * max(mp.mpf("0.2"), fac)
            continue
        # ------------------------------------------------------------------------ accepted step
        counts["nacc"] += 1
        th_new = system.theta(y_new)
        dist2 = _dist2(th_new, theta0)
        # the loss, gradient and Hessian at the new point serve the events and the next step
        J_new, f_new, Jac_new, S_new = system.jacobian(y_new)
        if "distance" not in found and dist2 >= d2:
            found["distance"] = _locate(rod, system, y, f, Jac, S, tau, h,
                                        lambda z: _dist2(system.theta(z), theta0) - d2, dist2 - d2)
        if "loss" not in found and abs(J_new - J0) >= delta:
            found["loss"] = _locate(rod, system, y, f, Jac, S, tau, h,
                                    lambda z: abs(system.loss(z) - J0) - delta, abs(J_new - J0) - delta)
        if found and first_event_step is None:
            first_event_step = counts["nacc"]
        tau += h
        y = y_new
        for k in range(n):
            running[k] = max(running[k], abs(c_new[k]))
        if record:
            samples.append((_log10(tau), _log10(dist2) / 2, float(J_new - J0)))
        if len(found) == 2:
            status, message = "events", "both hitting times located"
            break
        if first_event_step is not None and counts["nacc"] - first_event_step >= after_event_steps:
            missing = "loss" if "loss" not in found else "distance"
            status = "censored"
            message = (f"the {missing} event was not reached within {after_event_steps} steps after the first "
                       f"one (it is later than tau = {mp.nstr(tau, 8)}); after a plateau the flow may enter a "
                       "slow singular regime (rates coalescing, weights diverging)")
            break
        if tau_max is not None and tau >= tau_max:
            status, message = "tau_max", f"tau_max = {mp.nstr(tau_max, 6)} reached"
            break
        f, Jac, S = f_new, Jac_new, S_new
        if counts["nacc"] % 10 == 0 and _converged(f, Jac, y, system, delta, found):
            status, message = "converged", "the flow converged to a local minimum short of the threshold"
            for name in ("distance", "loss"):
                found.setdefault(name, mp.inf)
            break
        h_old, err_old = h, err
        last_rejected = False
        h = h * min(max_growth, fac)
    return _finish(system, rod, y, tau, found, status, message, rtol, counts, samples)


def _dist2(theta, theta0):
    return mp.fsum((theta[k] - theta0[k]) ** 2 for k in range(len(theta)))


def _converged(f, Jac, y, system, delta, found) -> bool:
    """At a local minimum short of the thresholds: the Newton step is tiny."""
    F = _lu(Jac)
    if F is None or "distance" in found:
        return False
    newton = _lu_solve(F, f)
    size = mp.sqrt(mp.fsum(v * v for v in newton))
    return size < delta * mp.mpf("1e-12") and _dist2(system.theta(y), system.theta0) < delta * delta


def _locate(rod, system, y, f, Jac, S, tau, h, phi, phi_end):
    """Illinois iteration for the root of ``phi(step(y, h'))`` on ``(0, h)``; returns ``tau + h'``."""
    lo, hi = mp.mpf(0), h
    f_lo, f_hi = phi(y), phi_end
    side = 0
    tol = (tau + h) * mp.mpf("1e-13")
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
        fx = phi(rod.step(y, f, F, x)[0])
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


def _finish(system, rod, y, tau, found, status, message, rtol, counts, samples) -> RodasRun:
    obj = system.obj
    return RodasRun(found.get("distance"), found.get("loss"), tau, status, message, obj.dps, rtol, counts["nacc"],
                    counts["nrej"], counts["nsafe"], obj.nfev, obj.njev, rod.ndec, system.theta(y), samples)
