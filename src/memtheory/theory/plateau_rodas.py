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
* **Step growth.** On a plateau's drift phase the solution is nearly linear in ``tau`` and the error estimate
  stays flat while ``h`` grows; the controller then lets ``h`` grow by the *observed* error order (floored at 1)
  instead of the asymptotic order 4 (still subject to the error test).

Two systems
-----------
:class:`FullSystem` integrates ``theta = (a, w)``. Its cost is the step count: the Gram matrix
``C_ij = 1/(w_i + w_j)`` of ten rates in [0.5, 4] has relaxation times from 0.12 to 8.8e10, the weights are
slaved to the rates with that sensitivity, and the accepted steps stay near ``h ~ 5e-3 tau`` (40-50 steps per
decade of ``tau``): ``1/omega = 60`` (``tau_0 = 2.7e13``) takes ~100 s, ``1/omega = 80`` (``tau_0 = 4.9e21``)
16933 steps and 829 s.

:class:`ReducedSystem` integrates the rates alone on the slow manifold ``a = a*(w) = C(w)^{-1} L[rho](w)``, the
choice for long plateaus (justification in its docstring: ``J`` is quadratic in ``a``, so slaving is exact up
to the weights' relaxation time). Measured against the full flow: m = 2 at ``1/omega = 40`` (``tau_0 = 3.4e12``,
both at rtol 1e-8) 3.5e-10; m = 10 at ``1/omega = 80`` 8.4e-7 (the full flow's own error at rtol 1e-6 after
16933 steps; the reduced flow took 24 s). Cost for ten rates at rtol 1e-6: ``1/omega = 100`` (``tau_0 = 1.2e30``,
79 digits) ~10 s, ``1/omega = 2000`` (``tau_0 = 2.3e852``, ``|grad J_0| = 2.6e-431``, 902 digits) ~45 s; the
steps are ~130 through the initial relaxation of the loaded rate, then ~2.4-4 decades of ``tau`` per step, then
a few dozen through the escape.

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

__all__ = ["MPObjective", "FullSystem", "ReducedSystem", "RodasRun", "integrate_rodas", "flow_precision"]

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

    def moments(self, w, kmax: int) -> list:
        """``L[t^k rho](w_i)`` for ``k = 0..kmax`` at ``dps`` digits (lists of mpf; zeros for ``k > kmax``)."""
        zero = [mp.mpf(0)] * self.m
        with mp.workdps(self.dps):
            return [list(self.rho.laplace(list(w), moment=k, dps=self.dps)) if k <= kmax else zero
                    for k in range(3)]

    def evaluate(self, theta, hessian: bool = False, moments=None):
        """``(J, grad, hess)`` at ``theta = (a, w)`` (sequences of mpf); ``hess`` is None unless requested.

        ``grad`` and ``hess`` are Python lists (of lists) of mpf. ``moments`` (from :meth:`moments` at the same
        rates, up to ``k = 2`` with the Hessian) saves their evaluation.
        """
        m = self.m
        if hessian:
            self.njev += 1
        else:
            self.nfev += 1
        with mp.workdps(self.dps):
            a = np.array(theta[:m], dtype=object)
            w = np.array(theta[m:], dtype=object)
            if moments is None:
                moments = self.moments(list(w), 2 if hessian else 1)
            moments = [np.array(mk, dtype=object) for mk in moments]
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
class _System:
    """What both systems share: the objective, ``theta_0`` at ``dps`` digits, the loss event's reference."""

    def __init__(self, objective: MPObjective, theta0):
        self.obj = objective
        self.m, self.dps = objective.m, objective.dps
        with mp.workdps(self.dps):
            self.theta0 = [mp.mpf(v) for v in theta0]
        if len(self.theta0) != 2 * self.m:
            raise InvalidArgumentError(f"theta0 must have {2 * self.m} entries, got {len(self.theta0)}")

    def initial_loss(self):
        """``J(theta_0)``, the reference of the loss event."""
        return self.obj.evaluate(self.theta0)[0]

    def monitor(self, x, tau, events_found: int):
        """Nothing to watch by default: ``None`` (see :meth:`ReducedSystem.monitor`)."""
        return None

    def model_error(self, tau):
        """The flow is integrated as it is: no modelling error (0)."""
        return 0.0


class FullSystem(_System):
    """The flow ``theta' = -grad J`` in the original coordinates ``theta = (a, w)``."""

    def __init__(self, objective: MPObjective, theta0):
        super().__init__(objective, theta0)
        self.n = objective.n

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


class ReducedSystem(_System):
    r"""The slow-manifold flow ``w' = -grad_w J(a*(w), w)``, ``a*(w) = C(w)^{-1} L[rho](w)``.

    ``J`` is quadratic in the weights, ``J = a^T C a - 2 a^T L[rho](w) + ||rho||^2`` with the Gram matrix
    ``C_ij = 1/(w_i + w_j)``, so for fixed rates the weights relax *linearly* to the least-squares weights
    ``a*(w)`` with the rates ``2 lambda(C)``; the slowest takes ``tau_a = 1/(2 lambda_min(C))`` (8.8e10 for ten
    rates geometric on [0.5, 4]). On a plateau whose length is ``>> tau_a`` the weights are slaved to the rates
    (Tikhonov/Fenichel: the error of the reduced flow is a shift of the times by ``O(tau_a)``), and the rates
    follow the gradient flow of ``J_min(w) = min_a J(a, w)``, whose gradient is ``grad_w J`` at ``a*(w)``
    (envelope theorem) and whose Hessian is the Schur complement
    ``H_ww - H_wa H_aa^{-1} H_aw`` of the full Hessian at ``(a*(w), w)``: exact, no finite differences.

    The state is ``w`` (``m`` components); ``theta(w) = (a*(w), w)`` enters the distance event, and
    ``J(theta_0)`` (not ``J_min(w_0)``) is the reference of the loss event.

    Validity is monitored, not assumed: :meth:`model_error` reports ``10 max tau_a / tau`` for an event at
    ``tau`` (``max`` over the rates visited; the measured shifts are 1.2-4.6 ``tau_a``), and :meth:`monitor`
    stops the run when two rates coalesce (``C`` singular: the slow manifold ends there and the weights diverge).
    """

    #: Stop when the smallest relative gap between two rates falls below this fraction of its initial value.
    COALESCENCE = 0.05
    #: Digits used for ``lambda_min(C)`` (enough for condition numbers up to ~1e40).
    EIG_DPS = 50

    def __init__(self, objective: MPObjective, theta0):
        super().__init__(objective, theta0)
        self.n = self.m
        self.w0 = self.theta0[self.m:]
        if not all(v > 0 for v in self.w0):
            raise InvalidArgumentError("all rates must be > 0")
        self.gap0 = _min_gap(self.w0)
        if self.gap0 == 0:
            raise InvalidArgumentError("the rates must be distinct (the Gram matrix of equal rates is singular)")
        self._cache: dict = {}
        self.tau_a_max = self.slaving_time(self.w0)

    # -------------------------------------------------------------------- the slow manifold
    def _point(self, w, kmax: int):
        """``(moments, a*(w), LU of C(w))`` at the rates ``w`` (cached for the last few rate vectors)."""
        key = (tuple(w), kmax)
        hit = self._cache.get(key) or (self._cache.get((tuple(w), 2)) if kmax < 2 else None)
        if hit is not None:
            return hit
        with mp.workdps(self.dps):
            mom = self.obj.moments(w, kmax)
            m = self.m
            F = _lu([[1 / (w[i] + w[j]) for j in range(m)] for i in range(m)])
            if F is None:
                raise ConvergenceError("the Gram matrix of the rates is singular (two rates coincide)")
            a = _lu_solve(F, mom[0])
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = (mom, a, F)
        return mom, a, F

    def weights(self, w):
        """The least-squares weights ``a*(w) = C(w)^{-1} L[rho](w)``."""
        return list(self._point(w, 1)[1])

    def slaving_time(self, w):
        """``tau_a = 1/(2 lambda_min(C(w)))``: the slowest relaxation time of the weights at the rates ``w``.

        float64 (``numpy.linalg.eigvalsh``) when ``lambda_min >= 1e-12 lambda_max`` (relative error below 1e-3,
        plenty for an error estimate), else mpmath at :attr:`EIG_DPS` digits.
        """
        wf = np.array([float(v) for v in w])
        lam = np.linalg.eigvalsh(1.0 / np.add.outer(wf, wf))
        if lam[0] >= 1e-12 * lam[-1]:
            return mp.mpf(1 / (2 * float(lam[0])))
        with mp.workdps(min(self.dps, self.EIG_DPS)):
            ww = [+v for v in w]
            C = mp.matrix([[1 / (ww[i] + ww[j]) for j in range(self.m)] for i in range(self.m)])
            lam = min(mp.eigsy(C, eigvals_only=True))
            return mp.inf if lam <= 0 else 1 / (2 * lam)

    # -------------------------------------------------------------------- the system interface
    def initial_state(self):
        return list(self.w0)

    def rhs(self, w):
        mom, a, _ = self._point(w, 1)
        g = self.obj.evaluate(list(a) + list(w), moments=mom)[1]
        return [-v for v in g[self.m:]]

    def jacobian(self, w):
        """``(J_min, f, df/dw, S)`` with ``S`` the Schur complement (the Hessian of ``J_min``)."""
        m = self.m
        mom, a, F = self._point(w, 2)
        J, g, H = self.obj.evaluate(list(a) + list(w), hessian=True, moments=mom)
        # H_aa^{-1} H_aw with H_aa = 2 C (J is quadratic in a): the factorisation of C made for a*(w) serves
        cols = [[v / 2 for v in _lu_solve(F, [H[i][m + j] for i in range(m)])] for j in range(m)]
        S = [[H[m + i][m + j] - mp.fsum(H[m + i][k] * cols[j][k] for k in range(m)) for j in range(m)]
             for i in range(m)]
        S = [[(S[i][j] + S[j][i]) / 2 for j in range(m)] for i in range(m)]
        return J, [-v for v in g[m:]], [[-v for v in row] for row in S], S

    def theta(self, w):
        return self.weights(w) + list(w)

    def control(self, w):
        return [w[k] - self.w0[k] for k in range(self.m)]

    def loss(self, w):
        mom, a, _ = self._point(w, 1)
        return self.obj.evaluate(list(a) + list(w), moments=mom)[0]

    def in_domain(self, w) -> bool:
        return all(v > 0 for v in w)

    def monitor(self, w, tau, events_found: int):
        """Track ``max tau_a`` and stop when two rates coalesce: ``None`` or ``(status, message)``."""
        self.tau_a_max = max(self.tau_a_max, self.slaving_time(w))
        gap = _min_gap(w)
        if gap < self.COALESCENCE * self.gap0:
            i, j = _closest_pair(w)
            status = "censored" if events_found else "coalescence"
            return status, (f"rates w_{i + 1} = {mp.nstr(w[i], 8)} and w_{j + 1} = {mp.nstr(w[j], 8)} coalesce at "
                            f"tau ~ {mp.nstr(tau, 8)}: the slow manifold ends there (the Gram matrix becomes "
                            "singular and the weights diverge), later times are not computed")
        return None

    def model_error(self, tau):
        """Relative error of an event time ``tau`` from slaving the weights: ``10 max tau_a / tau``."""
        return float(min(mp.mpf(1), 10 * self.tau_a_max / tau)) if tau > 0 else 1.0


def _min_gap(w):
    """Smallest relative gap ``|w_i - w_j| / max(w_i, w_j)`` between two rates (``inf`` for one rate)."""
    v = sorted(w)
    return min((abs(v[k + 1] - v[k]) / v[k + 1] for k in range(len(v) - 1)), default=mp.inf)


def _closest_pair(w):
    pairs = [(abs(w[i] - w[j]) / max(w[i], w[j]), i, j) for i in range(len(w)) for j in range(i + 1, len(w))]
    return min(pairs)[1:]


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
        """One step of size ``h``: ``(y_new, err_vector)``; ``(None, None)`` when a stage leaves the domain
        (a rate <= 0, where the target's Laplace moments may not exist)."""
        n = len(y)
        g = []
        for i in range(6):
            if i == 0:
                rhs = list(f0)
            else:
                arg = [y[k] + mp.fsum(self.A[i][j] * g[j][k] for j in range(i)) for k in range(n)]
                if not self.sys.in_domain(arg):
                    return None, None
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
    model_error : dict
        Per event (``"distance"``, ``"loss"``), the relative error of the time from the system's model
        (0 for the full flow; the slaving estimate for :class:`ReducedSystem`).
    reduced : bool
        Whether the slow-manifold flow was integrated.
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


def _log10(x) -> float:
    return float(mp.log10(x)) if x > 0 else -math.inf


def integrate_rodas(objective: MPObjective, theta0, delta: float, rtol: float = 1e-5, tau_max=None,
                    max_steps: int = 20000, after_event_steps: int = 300, max_growth: float = 1e4,
                    record: bool = True, reduced: bool = False) -> RodasRun:
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
    reduced : bool
        Integrate the slow-manifold flow of the rates (:class:`ReducedSystem`) instead of the full flow; valid
        when the hitting times are long compared with the weights' relaxation time (``model_error`` of the
        result says by how much).

    Returns
    -------
    RodasRun

    Examples
    --------
    >>> import mpmath as mp
    >>> import memtheory as mt
    >>> from memtheory.theory.plateau_rodas import MPObjective, integrate_rodas
    >>> rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), 1/100)
    >>> run = integrate_rodas(MPObjective(rho, 2, 80), [1, 0, 0.5, 2], 0.05, rtol=1e-6, reduced=True,
    ...                       after_event_steps=0)
    >>> mp.nstr(run.tau0, 6), run.model_error["distance"] < 1e-30
    ('5.57886e+37', True)
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}")
    if not (isinstance(rtol, (int, float)) and 1e-14 <= rtol <= 1e-2):
        raise InvalidArgumentError(f"rtol must be in [1e-14, 1e-2], got {rtol!r}")
    with mp.workdps(objective.dps):
        system = (ReducedSystem if reduced else FullSystem)(objective, theta0)
        return _integrate(system, mp.mpf(delta), float(rtol), tau_max, int(max_steps), int(after_event_steps),
                          mp.mpf(max_growth), record)


def _integrate(system, delta, rtol, tau_max, max_steps, after_event_steps, max_growth, record):
    n = system.n
    rod = _Rodas(system)
    theta0 = system.theta0
    tau_max = None if tau_max is None else mp.mpf(tau_max)
    y = system.initial_state()
    _, f, Jac, S = system.jacobian(y)
    J0 = system.initial_loss()
    d2 = delta * delta
    found: dict = {}
    errors: dict = {}
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
    first_event_step = None
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
        if y_new is None:  # a stage left the domain: shorter step
            counts["nrej"] += 1
            last_rejected = True
            h = h / 4
            continue
        c_old, c_new = system.control(y), system.control(y_new)
        scale = [atol + rt * max(abs(c_old[k]), abs(c_new[k]), nu * running[k]) for k in range(n)]
        err = mp.sqrt(mp.fsum((e[k] / scale[k]) ** 2 for k in range(n)) / n)
        if err == 0:
            fac = max_growth
        else:
            fac = mp.mpf("0.9") * err ** mp.mpf("-0.25")
            if h_old is not None and err_old and not last_rejected:  # Gustafsson's predictive controller
                fac = min(fac, fac * h / h_old * (err_old / err) ** mp.mpf("0.25"))
                fac = max(fac, _observed_order_growth(h / h_old, err, err_old))
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
            samples.append((_log10(tau), _log10(dist2) / 2, float(J_new - J0)))
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
    return _finish(system, rod, y, tau, found, status, message, rtol, counts, samples, errors)


def _observed_order_growth(q, err, err_old):
    """Step growth allowed by the *observed* error growth: on a plateau's drift phase the solution is nearly
    linear in ``tau`` and the error estimate stays flat while ``h`` grows by ``q`` (order 4 is the asymptotic
    worst case, not what happens there). With the observed exponent ``p = ln(err/err_old)/ln q`` (floored at 1)
    the step that keeps the estimate below 1/2 is ``(0.5/err)^(1/p)``; the next error test still decides."""
    if q < 2 or err >= mp.mpf("0.5"):
        return mp.mpf(0)
    p = max(mp.mpf(1), mp.log(err / err_old) / mp.log(q))
    return (mp.mpf("0.5") / err) ** (1 / p) if p < 4 else mp.mpf(0)


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
        z = rod.step(y, f, F, x)[0]
        if z is None:
            raise ConvergenceError(f"event location left the domain at tau ~ {mp.nstr(tau + x, 8)}")
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
    obj = system.obj
    return RodasRun(found.get("distance"), found.get("loss"), tau, status, message, obj.dps, rtol, counts["nacc"],
                    counts["nrej"], counts["nsafe"], obj.nfev, obj.njev, rod.ndec, dict(errors or {}),
                    isinstance(system, ReducedSystem), system.theta(y), samples)
