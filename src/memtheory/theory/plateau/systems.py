r"""The plateau gradient flows in arbitrary precision, full and reduced, for RODAS4 in mpmath (docs/theory.md §4).

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
RODAS4 in mpmath (:func:`memtheory.dynamics.rodas.integrate_system`, whose notes describe the method: a
curvature safeguard, component-wise relative error, hitting times by the Illinois method, step growth by the
observed order) with the exact Jacobian ``-hess J`` of the generated assembly (never finite differences). Both
systems below satisfy its contract (:class:`memtheory.dynamics.rodas.RodasSystem`); the error is controlled on
the offsets ``theta - theta_0`` (of the rates, for the reduced flow), which span many orders of magnitude
(weights ``~eps``, rates up to ``delta``) while the escape is driven by the small ones.

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
79 digits) ~10 s, ``1/omega = 2000`` (``tau_0 = 2.3e852``, ``|grad J_0| = 2.6e-431``, 902 digits) 17 s of CPU
for both runs of its error estimate (``benchmarks/bench_plateau.py``, flint); the steps are ~130 through the
initial relaxation of the loaded rate (~300 at the estimate's 30x tighter tolerance), then ~9 decades of
``tau`` per step (the step may grow 1e16-fold, :func:`integrate_rodas`), then a few dozen through the escape.

Arithmetic
----------
One algorithm over two number types (:mod:`memtheory.compile.arith`): Arb's ``arb`` used as floating point
(``arithmetic="flint"``, what :func:`memtheory.plateau.hitting_times` uses by default) or mpmath's ``mpf``
(``"mpmath"``, :class:`MPObjective`'s default), at ``dps`` digits; exponents are
unbounded in both (``tau = 1e900`` and gradients of ``1e-870`` are ordinary numbers). The Laplace moments at the
current rates are the kernel's closed forms compiled once for the arithmetic, the three moments ``k = 0, 1, 2``
together (they share their exponentials and ``erfc``); a kernel with a quadrature remainder uses
:meth:`memtheory.Kernel.laplace` in mpmath. The loss, gradient and Hessian are the library's generated assembly
over the same numbers. The two arithmetics give the same hitting times to the requested digits
(``tests/test_arith.py``); ``benchmarks/bench_plateau.py`` measures the speed-up.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp

from ...compile.arith import Arithmetic
from ...compile.arith import arithmetic as _arithmetic
from ...dynamics.mplinalg import ldl, ldl_inner, ldl_solve
from ...dynamics.rodas import RodasRun, RodasSystem, check_arguments, integrate_system
from ...errors import ConvergenceError, InvalidArgumentError
from ...kernels.kernel import S, Kernel
from ...losses.assembly import loss_module

__all__ = ["MPObjective", "FullSystem", "ReducedSystem", "integrate_rodas", "flow_precision"]


class MPObjective:
    """``J``, ``grad J`` and ``hess J`` of ``rho_hat(theta) = sum_i a_i e^{-w_i t}`` against ``rho`` in arbitrary
    precision.

    The same generated assembly as :func:`memtheory.l2_loss` (plain Python over the arithmetic's numbers), fed
    with the kernel's Laplace moments at the current rates, evaluated at ``dps`` digits without ever passing
    through float64.

    Parameters
    ----------
    rho : Kernel
        Square-integrable target.
    m : int
        Width.
    dps : int
        Working precision (decimal digits).
    arithmetic : {"mpmath", "flint"} or Arithmetic
        The number type (see the module notes); numbers passed in and returned are of this type.
    """

    def __init__(self, rho: Kernel, m: int, dps: int, arithmetic: str | Arithmetic = "mpmath"):
        if not isinstance(rho, Kernel):
            raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
        self.rho = rho
        self.m = int(m)
        self.n = 2 * self.m
        self.dps = int(dps)
        self.arith = _arithmetic(arithmetic)
        self._mod = loss_module(self.arith.name if self.arith.name != "mpmath" else "python")
        self.nfev = 0
        self.njev = 0
        forms = [rho.laplace_form(k) for k in range(3)]
        self._closed = None
        if all(f.residual == 0 for f in forms):
            # the exact parameter values substituted: what depends on them alone (e^{-(c + 1/omega)^2/(2 sigma^2)}
            # of a Gaussian spike, an exponential at 900 digits) becomes a constant, evaluated once per precision
            values = {p: sp.sympify(rho.exact_params[p.name]) for p in rho.param_symbols}
            self._closed = self.arith.lambdify((S,), [f.closed.xreplace(values) for f in forms])
        with self.arith.workdps(self.dps):
            self.norm = self.arith.num(rho.square_integral(dps=self.dps))
            self.zero = self.arith.num(0)

    def moments(self, w, kmax: int) -> list:
        """``L[t^k rho](w_i)`` for ``k = 0..2`` at ``dps`` digits (three lists; zeros for ``k > kmax`` when the
        moments come from quadrature, all three from the compiled closed forms, which share their work)."""
        ar = self.arith
        with ar.workdps(self.dps):
            if self._closed is not None:
                cols = [self._closed(ar.num(v)) for v in w]
                return [[ar.clean(c[k]) for c in cols] for k in range(3)]
            zero = [self.zero] * self.m
            wm = [ar.to_mpf(v) for v in w]
            return [[ar.num(v) for v in self.rho.laplace(wm, moment=k, dps=self.dps)] if k <= kmax else zero
                    for k in range(3)]

    def evaluate(self, theta, hessian: bool = False, moments=None):
        """``(J, grad, hess)`` at ``theta = (a, w)`` (sequences of the arithmetic's numbers); ``hess`` is None
        unless requested.

        ``grad`` and ``hess`` are Python lists (of lists). ``moments`` (from :meth:`moments` at the same rates)
        saves their evaluation.
        """
        m = self.m
        if hessian:
            self.njev += 1
        else:
            self.nfev += 1
        ar = self.arith
        with ar.workdps(self.dps):
            a = np.array(theta[:m], dtype=object)
            w = np.array(theta[m:], dtype=object)
            if moments is None:
                moments = self.moments(list(w), 2 if hessian else 1)
            moments = [np.array(mk, dtype=object) for mk in moments]
            grad = np.empty(self.n, dtype=object)
            grad.fill(self.zero)
            hess = np.empty((self.n, self.n) if hessian else (1, 1), dtype=object)
            hess.fill(self.zero)
            J = self._mod.assemble(a, w, *moments, self.norm, grad, hess, True, hessian)
            clean = ar.clean
            return clean(J), [clean(g) for g in grad], ([[clean(h) for h in row] for row in hess] if hessian
                                                        else None)

    def rounding_bound(self, theta, moments=None):
        """Bounds on the rounding errors of ``J`` and ``grad J`` at ``theta`` (as :func:`memtheory.l2_loss`
        bounds them at ``dps`` digits): ``eps`` times the sums of the absolute values of the terms, with
        ``eps = (4m + 8) 10^-dps``.

        Returns
        -------
        (mpf, list of mpf)
        """
        m = self.m
        ar = self.arith
        with ar.workdps(self.dps):
            a = np.array(theta[:m], dtype=object)
            w = np.array(theta[m:], dtype=object)
            if moments is None:
                moments = self.moments(list(w), 1)
            moments = [np.array([abs(v) for v in mk], dtype=object) for mk in moments]
            gmag = np.empty(self.n, dtype=object)
            gmag.fill(self.zero)
            hmag = np.empty((1, 1), dtype=object)
            Jmag = self._mod.assemble_magnitude(a, w, *moments, abs(self.norm), gmag, hmag, True, False)
            eps = ar.num(10) ** (-self.dps) * (4 * m + 8)
            return eps * Jmag, [eps * g for g in gmag]


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


# ============================================================================================ systems
class _System(RodasSystem):
    """What both systems share: the objective, ``theta_0`` at ``dps`` digits, the loss event's reference and the
    objective's evaluation counters (the rest of :class:`~memtheory.dynamics.rodas.RodasSystem`'s contract is
    each system's)."""

    def __init__(self, objective: MPObjective, theta0):
        self.obj = objective
        self.m, self.dps = objective.m, objective.dps
        self.arith = objective.arith
        with self.arith.workdps(self.dps):
            self.theta0 = [self.arith.num(v) for v in theta0]
        if len(self.theta0) != 2 * self.m:
            raise InvalidArgumentError(f"theta0 must have {2 * self.m} entries, got {len(self.theta0)}")

    @property
    def nfev(self) -> int:
        """Evaluations of the objective and its gradient."""
        return self.obj.nfev

    @property
    def njev(self) -> int:
        """Evaluations with the Hessian."""
        return self.obj.njev

    def initial_loss(self):
        """``J(theta_0)``, the reference of the loss event."""
        return self.obj.evaluate(self.theta0)[0]


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

    #: A reduced model of the full flow (reported as ``RodasRun.reduced``).
    reduced = True
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
        """``(moments, a*(w), L D L^T of C(w))`` at the rates ``w`` (cached for the last few rate vectors)."""
        key = (tuple(w), kmax)
        hit = self._cache.get(key) or (self._cache.get((tuple(w), 2)) if kmax < 2 else None)
        if hit is not None:
            return hit
        ar = self.arith
        with ar.workdps(self.dps):
            mom = self.obj.moments(w, kmax)
            m = self.m
            C = [[None] * m for _ in range(m)]
            for i in range(m):
                for j in range(i + 1):
                    C[i][j] = C[j][i] = 1 / (w[i] + w[j])
            F = ldl(C, self.arith.num(0), ar)  # C is positive definite for distinct rates
            if F is None:
                raise ConvergenceError("the Gram matrix of the rates is singular (two rates coincide)")
            a = ldl_solve(F, mom[0], ar)
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
            ww = [+self.arith.to_mpf(v) for v in w]
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
        # H_wa H_aa^{-1} H_aw with H_aa = 2 C (J is quadratic in a): the factorisation of C made for a*(w) serves
        ar = self.arith
        T = ldl_inner(F, [H[i][m:] for i in range(m)], ar)
        S = [[None] * m for _ in range(m)]
        for i in range(m):
            for j in range(i, m):
                S[i][j] = S[j][i] = ar.clean((H[m + i][m + j] + H[m + j][m + i]) / 2 - T[i][j] / 2)
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
            nstr = self.arith.nstr
            return status, (f"rates w_{i + 1} = {nstr(w[i], 8)} and w_{j + 1} = {nstr(w[j], 8)} coalesce at "
                            f"tau ~ {nstr(tau, 8)}: the slow manifold ends there (the Gram matrix becomes "
                            "singular and the weights diverge), later times are not computed")
        return None

    def model_error(self, tau):
        """Relative error of an event time ``tau`` from slaving the weights: ``10 max tau_a / tau``."""
        tau = self.arith.to_mpf(tau)
        return float(min(mp.mpf(1), 10 * self.tau_a_max / tau)) if tau > 0 else 1.0


def _min_gap(w):
    """Smallest relative gap ``|w_i - w_j| / max(w_i, w_j)`` between two rates (``inf`` for one rate)."""
    v = sorted(w)
    return min((float(abs(v[k + 1] - v[k]) / v[k + 1]) for k in range(len(v) - 1)), default=math.inf)


def _closest_pair(w):
    pairs = [(abs(w[i] - w[j]) / max(w[i], w[j]), i, j) for i in range(len(w)) for j in range(i + 1, len(w))]
    return min(pairs)[1:]


def integrate_rodas(objective: MPObjective, theta0, delta: float, rtol: float = 1e-5, tau_max=None,
                    max_steps: int = 20000, after_event_steps: int = 300, max_growth: float | None = None,
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
    rtol, tau_max, max_steps, after_event_steps, record
        As in :func:`memtheory.dynamics.rodas.integrate_system`; ``rtol`` applies component-wise to
        ``theta - theta_0`` (see the module notes) and ``tau_max`` is a training time.
    max_growth : float, optional
        Largest step-size growth factor per step. Default: ``1e16`` for the reduced flow, whose rates drift
        almost linearly in ``tau`` across the plateau, so that the error estimate and not the cap sets the step
        there (``1e4`` held ten rates at ``1/omega = 2000`` to 4 decades of ``tau`` per step for 800 decades;
        ``1e16`` lets the controller take ~9, with no more rejected steps); ``1e4`` for the full flow.
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
    >>> from memtheory.theory.plateau.systems import MPObjective, integrate_rodas
    >>> rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), 1/100)
    >>> run = integrate_rodas(MPObjective(rho, 2, 80), [1, 0, 0.5, 2], 0.05, rtol=1e-6, reduced=True,
    ...                       after_event_steps=0)
    >>> mp.nstr(run.tau0, 6), run.model_error["distance"] < 1e-30
    ('5.57886e+37', True)
    """
    check_arguments(delta, rtol)
    if max_growth is None:
        max_growth = 1e16 if reduced else 1e4
    with objective.arith.workdps(objective.dps):
        system = (ReducedSystem if reduced else FullSystem)(objective, theta0)
        return integrate_system(system, delta, rtol, tau_max, max_steps, after_event_steps, max_growth, record)
