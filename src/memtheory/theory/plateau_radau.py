r"""Radau IIA (order 5) in arbitrary precision for the plateau flow, with hitting-time events.

The systems of :mod:`memtheory.theory.plateau_systems` are integrated in training time ``tau`` with Hairer's
RADAU5 design (Hairer & Wanner, *Solving ODEs II*, §IV.8), transcribed to :class:`decimal.Decimal`:

* three-stage Radau IIA collocation (L-stable, stiffly accurate, order 5, stage order 3); its constants are
  computed at the working precision from their closed forms (nodes ``(4 -+ sqrt6)/10, 1``);
* simplified Newton iteration with the Jacobian frozen at the start of the step, in the variables transformed
  by the eigenvectors of ``A^{-1}``: one real ``n x n`` system ``(gamma/h) I + M`` and one complex system
  ``((alpha - i beta)/h) I + M`` (solved as a real ``2n x 2n`` system), both by LU with partial pivoting
  (``M = -df/dx``); zero starting values (on a plateau the increments are small compared with the state and
  extrapolating the collocation polynomial of stiff components is worse than no guess);
* radau5's error estimate ``(gamma/h I + M)^{-1}(f + e.Z/h)`` (refined once on the first step and after a
  rejection) with the transformed tolerance ``0.1 rtol^(2/3)``; Gustafsson's predictive controller;
* **component-wise relative error control**: every component is measured against its own size (with a floor
  of ``1e-3`` times its running maximum). The offsets span hundreds of orders of magnitude (weights ``1e-400``,
  rates ``1e-2``) and the escape is driven by the small ones, so a norm-wise control would ignore exactly the
  components that matter;
* **curvature safeguard**: a step is attempted only if ``(kappa gamma / h) I + S`` is positive definite, ``S``
  the symmetric curvature matrix supplied by the system (the Hessian of ``min_a J``), ``kappa = 1/2``; near the
  escape ``S`` has negative eigenvalues, and ``h |lambda_neg|`` of order ``gamma`` would make the stage matrix
  singular. In the quiet part of a plateau the step may grow by many decades per step (the error estimate is
  then ~1e-40): the safeguard is what stops it in time.

Hitting times are located by the Illinois method on the length of a full Radau step from the last accepted
point (the same Jacobian), so they carry the accuracy of the integration, not of the dense output.
"""

from __future__ import annotations

import decimal
import functools
import math
from dataclasses import dataclass, field
from decimal import Decimal

import mpmath as mp

from ..errors import ConvergenceError, InvalidArgumentError
from .plateau_systems import ldl, lu_factor, lu_solve, to_decimal, to_mpf

__all__ = ["RadauRun", "integrate", "radau_constants"]

#: A run stops with status "stalled" after STALL_STEPS consecutive steps shorter than STALL_RATIO * tau.
STALL_RATIO = Decimal("1e-7")
STALL_STEPS = 40
#: Newton iterations per step.
MAXIT = 7
#: Curvature safeguard: (KAPPA gamma/h) I + S must be positive definite.
KAPPA = Decimal("0.5")


@functools.lru_cache(maxsize=16)
def radau_constants(dps: int) -> dict:
    """Radau IIA (3 stages, order 5) constants at ``dps`` digits, computed from their closed forms.

    Returns
    -------
    dict
        ``c`` (nodes), ``A``, ``gamma``, ``alpha``, ``beta`` (eigenvalues ``gamma`` and ``alpha +- i beta`` of
        ``A^{-1}``), ``T`` and ``TI`` with ``TI A^{-1} T = [[gamma, 0, 0], [0, alpha, beta], [0, -beta, alpha]]``,
        the error weights ``e`` of radau5.f and ``P`` (collocation polynomial ``q = P Z``). Decimals.
    """
    with mp.workdps(dps + 30):
        s6 = mp.sqrt(6)
        c = [(4 - s6) / 10, (4 + s6) / 10, mp.mpf(1)]
        A = mp.matrix([[(88 - 7 * s6) / 360, (296 - 169 * s6) / 1800, (-2 + 3 * s6) / 225],
                       [(296 + 169 * s6) / 1800, (88 + 7 * s6) / 360, (-2 - 3 * s6) / 225],
                       [(16 - s6) / 36, (16 + s6) / 36, mp.mpf(1) / 9]])
        Ainv = A ** -1
        E, ER = mp.eig(Ainv)
        k_real = min(range(3), key=lambda k: abs(mp.im(E[k])))
        k_cplx = [k for k in range(3) if k != k_real and mp.im(E[k]) > 0][0]
        gamma = mp.re(E[k_real])
        alpha, beta = mp.re(E[k_cplx]), mp.im(E[k_cplx])
        vr = [mp.re(ER[i, k_real]) for i in range(3)]
        vc = [ER[i, k_cplx] for i in range(3)]
        T = mp.matrix([[vr[i], mp.re(vc[i]), mp.im(vc[i])] for i in range(3)])
        TI = T ** -1
        e = [-(13 + 7 * s6) / 3, (-13 + 7 * s6) / 3, mp.mpf(-1) / 3]
        P = mp.matrix([[c[i] ** k for k in (1, 2, 3)] for i in range(3)]) ** -1
        digits = dps + 10

        def dec(v):
            return to_decimal(mp.re(v), digits)

        return {"c": [dec(v) for v in c], "A": [[dec(A[i, j]) for j in range(3)] for i in range(3)],
                "gamma": dec(gamma), "alpha": dec(alpha), "beta": dec(beta),
                "T": [[dec(T[i, j]) for j in range(3)] for i in range(3)],
                "TI": [[dec(TI[i, j]) for j in range(3)] for i in range(3)],
                "e": [dec(v) for v in e], "P": [[dec(P[i, j]) for j in range(3)] for i in range(3)]}


class _Radau:
    """Factorisations and trial steps for one system."""

    def __init__(self, system):
        self.system = system
        self.k = radau_constants(system.dps)
        self.n = system.n
        self.ndec = 0
        self.jac_id = 0
        self.faccon = Decimal(1)
        self._key = None
        self._factors = None

    def factor(self, M, S, h):
        """``(real LU, complex LU)`` for step ``h``, or None when the curvature safeguard refuses ``h``."""
        key = (self.jac_id, h)
        if self._key == key:
            return self._factors
        k, n = self.k, self.n
        gh = k["gamma"] / h
        if S is not None and ldl(S, KAPPA * gh) is None:
            return None
        real = lu_factor([[M[i][j] + (gh if i == j else 0) for j in range(n)] for i in range(n)])
        ah, bh = k["alpha"] / h, k["beta"] / h
        big = [[Decimal(0)] * (2 * n) for _ in range(2 * n)]
        for i in range(n):
            Mi, top, bot = M[i], big[i], big[n + i]
            for j in range(n):
                top[j] = Mi[j]
                bot[n + j] = Mi[j]
            top[i] += ah
            bot[n + i] += ah
            top[n + i] = bh
            bot[i] = -bh
        cplx = lu_factor(big)
        if real is None or cplx is None:
            return None
        self.ndec += 2
        self._key, self._factors = key, (real, cplx)
        return self._factors

    def attempt(self, x, f0, factors, h, scale, newton_tol):
        """One Radau step from ``x`` (zero starting values); ``(ok, x_new, err_vec, Z, n_iter, rate)``."""
        k, n = self.k, self.n
        T, TI = k["T"], k["TI"]
        gam, alp, bet = k["gamma"], k["alpha"], k["beta"]
        real, cplx = factors
        rhs = self.system.rhs
        zero = Decimal(0)
        Z = [[zero] * n for _ in range(3)]
        W = [[zero] * n for _ in range(3)]
        ih = 1 / h
        old = None
        rate = Decimal(-1)
        it = 0
        for it in range(1, MAXIT + 1):
            F = [rhs([x[j] + Z[s][j] for j in range(n)]) for s in range(3)]
            TF = [[TI[r][0] * F[0][j] + TI[r][1] * F[1][j] + TI[r][2] * F[2][j] for j in range(n)]
                  for r in range(3)]
            R0 = [TF[0][j] - gam * ih * W[0][j] for j in range(n)]
            R1 = [TF[1][j] - (alp * W[1][j] + bet * W[2][j]) * ih for j in range(n)]
            R2 = [TF[2][j] - (alp * W[2][j] - bet * W[1][j]) * ih for j in range(n)]
            d0 = lu_solve(real, R0)
            d12 = lu_solve(cplx, R1 + R2)
            dW = [d0, d12[:n], d12[n:]]
            s2 = sum((dW[r][j] / scale[j]) ** 2 for r in range(3) for j in range(n))
            norm = (s2 / (3 * n)).sqrt()
            # a correction far below the tolerance has converged whatever the apparent rate (it is rounding)
            tiny = norm <= newton_tol * Decimal("0.01")
            if old is not None and not tiny:
                rate = norm / old if old > 0 else zero
                if rate >= 1 or rate ** (MAXIT - it) / (1 - rate) * norm > newton_tol:
                    return False, None, None, Z, it, rate
            for r in range(3):
                Wr, dr = W[r], dW[r]
                for j in range(n):
                    Wr[j] += dr[j]
            Z = [[T[s][0] * W[0][j] + T[s][1] * W[1][j] + T[s][2] * W[2][j] for j in range(n)] for s in range(3)]
            faccon = rate / (1 - rate) if (old is not None and zero <= rate < 1) else self.faccon
            if norm == 0 or tiny or faccon * norm < newton_tol:
                if old is not None and zero <= rate < 1:
                    self.faccon = max(faccon, Decimal("1e-4"))
                break
            old = norm
        else:
            return False, None, None, Z, MAXIT, rate
        e = k["e"]
        x_new = [x[j] + Z[2][j] for j in range(n)]
        ze = [(e[0] * Z[0][j] + e[1] * Z[1][j] + e[2] * Z[2][j]) * ih for j in range(n)]
        err = lu_solve(real, [f0[j] + ze[j] for j in range(n)])
        return True, x_new, err, Z, it, rate

    def refine_error(self, x, err, Z, h, factors):
        """radau5's second error estimate ``(gamma/h I + M)^{-1}(f(x + err) + e.Z/h)``."""
        k, n = self.k, self.n
        e = k["e"]
        fe = self.system.rhs([x[j] + err[j] for j in range(n)])
        ze = [(e[0] * Z[0][j] + e[1] * Z[1][j] + e[2] * Z[2][j]) / h for j in range(n)]
        return lu_solve(factors[0], [fe[j] + ze[j] for j in range(n)])


@dataclass(frozen=True)
class RadauRun:
    """Outcome of :func:`integrate`.

    Attributes
    ----------
    tau0, tau0_prime : mpmath.mpf or None
        Hitting times of ``||theta - theta_0|| = delta`` and ``|J - J(theta_0)| = delta``; None when not reached
        (then ``tau_end`` is a lower bound), ``mp.inf`` when the flow converged to a minimum short of the
        threshold.
    tau_end : mpmath.mpf
        Training time at which the run stopped.
    status : str
        ``"events"`` (both located), ``"censored"`` (first event located, the second not within the extra step
        budget), ``"converged"``, ``"stalled"``, ``"tau_max"``, ``"max_steps"`` or ``"domain"``.
    message : str
    dps : int
        Working precision (decimal digits).
    rtol : float
    nsteps, nrejected, nnewton, nsafeguard, nfev, njev, ndec : int
        Accepted steps, rejected steps (error and Newton), Newton failures, steps refused by the curvature
        safeguard, right-hand side and Jacobian evaluations, matrix factorisations.
    theta_end : list of mpmath.mpf
        ``(a, w)`` at ``tau_end``.
    samples : tuple
        ``(log10 tau, log10 ||theta - theta_0||, J - J(theta_0))`` at the accepted steps (floats; ``-inf`` for
        a zero distance).
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
    nnewton: int
    nsafeguard: int
    nfev: int
    njev: int
    ndec: int
    theta_end: list = field(repr=False)
    samples: tuple = field(repr=False, default=())


def _log10(x: Decimal) -> float:
    return float(x.log10()) if x > 0 else -math.inf


def _float(x: Decimal) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.copysign(math.inf, v)


def integrate(system, delta: float, rtol: float = 1e-8, tau_max=None, max_steps: int = 20000,
              after_event_steps: int = 400, record: bool = True) -> RadauRun:
    """Integrate the plateau flow from ``theta_0`` and locate both hitting times.

    Parameters
    ----------
    system : ProjectedSystem or compatible
        The flow (see :class:`memtheory.theory.plateau_systems.ProjectedSystem`).
    delta : float
        Threshold of both events (> 0).
    rtol : float
        Relative local tolerance (component-wise, see the module notes), in ``[1e-14, 1e-3]``.
    tau_max : number, optional
        Stop at this training time (default: no limit).
    max_steps : int
        Maximum number of accepted steps.
    after_event_steps : int
        Accepted steps allowed after the first hitting time to find the second one (after a plateau the flow
        may enter a long or singular phase, e.g. two rates coalescing; the second time is then reported as not
        reached, with ``tau_end`` as a lower bound).
    record : bool
        Keep samples of the trajectory.

    Returns
    -------
    RadauRun
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InvalidArgumentError(f"delta must be a finite number > 0, got {delta!r}")
    if not (isinstance(rtol, (int, float)) and 1e-14 <= rtol <= 1e-3):
        raise InvalidArgumentError(f"rtol must be in [1e-14, 1e-3], got {rtol!r}")
    with decimal.localcontext(system.context):
        return _integrate(system, Decimal(repr(float(delta))), float(rtol), tau_max, int(max_steps),
                          int(after_event_steps), record)


def _integrate(system, delta, rtol, tau_max, max_steps, after_event_steps, record):
    n = system.n
    rad = _Radau(system)
    rt = Decimal(repr(0.1 * rtol ** (2.0 / 3.0)))
    newton_tol = min(Decimal("0.03"), rt.sqrt())
    tau_max = None if tau_max is None else to_decimal(mp.mpf(tau_max), system.dps)
    x = system.initial_state()
    f, M, S = system.jacobian(x)
    samples = []
    found = {}
    if all(v == 0 for v in f):
        return _finish(system, rad, x, Decimal(0), {"distance": mp.inf, "loss": mp.inf}, "converged",
                       "theta_0 is a critical point (grad J = 0): the flow stays there", rtol, (0, 0, 0, 0),
                       samples)
    fscale = max(abs(v) for v in f)
    mscale = max(abs(M[i][i]) for i in range(n))
    xscale = max(abs(v) for v in x)
    atol = rt * Decimal("1e-6") * max(fscale / mscale, xscale * Decimal("1e-6"))
    tau = Decimal(0)
    h = Decimal("0.001") / mscale
    d2 = delta * delta
    running = [abs(v) for v in x]
    nu = Decimal("1e-3")
    nacc = nrej = nsafe = nnewt = stalled = 0
    first_event_step = None
    h_old = err_old = None
    last_rejected = True
    jac_current = True
    floor = Decimal(10) ** (-(system.dps - 8))
    status, message = "max_steps", f"the maximum number of steps ({max_steps}) was reached"
    while nacc < max_steps:
        if tau_max is not None and tau + h > tau_max:
            h = tau_max - tau
        if h <= tau * floor:
            raise ConvergenceError(f"step size underflow at tau = {mp.nstr(to_mpf(tau), 8)} ({nacc} steps, {nrej} "
                                   f"rejected, {nsafe} refused by the curvature safeguard)")
        factors = rad.factor(M, S, h)
        if factors is None:
            nsafe += 1
            last_rejected = True
            h = h / 4
            continue
        scale = [atol + rt * max(abs(x[j]), nu * running[j]) for j in range(n)]
        ok, x_new, evec, Z, n_iter, rate = rad.attempt(x, f, factors, h, scale, newton_tol)
        if not ok:
            nrej += 1
            nnewt += 1
            last_rejected = True
            if not jac_current:
                f, M, S = system.jacobian(x)
                rad.jac_id += 1
                jac_current = True
            else:
                h = h / 2
            continue
        scale = [atol + rt * max(abs(x[j]), abs(x_new[j]), nu * running[j]) for j in range(n)]
        err = _rms(evec, scale)
        if err > 1 and (h_old is None or last_rejected):
            evec = rad.refine_error(x, evec, Z, h, factors)
            err = _rms(evec, scale)
        safety = Decimal("0.9") * (2 * MAXIT + 1) / (2 * MAXIT + n_iter)
        if err == 0:
            fac = Decimal(10) ** 100
        else:
            fac = err ** Decimal("-0.25")
            if h_old is not None and err_old:
                fac = min(Decimal(1), h / h_old * (err_old / err) ** Decimal("0.25")) * fac
        if err > 1:
            nrej += 1
            last_rejected = True
            h = h * max(Decimal("0.2"), safety * fac)
            continue
        if not system.in_domain(x_new):
            nrej += 1
            last_rejected = True
            h = h / 4
            if h <= tau * floor * 1000:
                status, message = "domain", f"a rate reached 0 at tau ~ {mp.nstr(to_mpf(tau), 8)}"
                break
            continue
        # ---------------------------------------------------------------- accepted step
        nacc += 1
        dist2 = system.distance2(x_new)
        dJ = system.loss_change(x_new)
        if "distance" not in found and dist2 >= d2:
            found["distance"] = _locate(rad, x, f, M, S, tau, h, lambda z: system.distance2(z) - d2, dist2 - d2,
                                        scale, newton_tol)
        if "loss" not in found and abs(dJ) >= delta:
            found["loss"] = _locate(rad, x, f, M, S, tau, h, lambda z: abs(system.loss_change(z)) - delta,
                                    abs(dJ) - delta, scale, newton_tol)
        if found and first_event_step is None:
            first_event_step = nacc
        tau += h
        x = x_new
        for j in range(n):
            v = abs(x[j])
            if v > running[j]:
                running[j] = v
        if record:
            samples.append((_log10(tau), _log10(dist2) / 2, _float(dJ)))
        if len(found) == 2:
            status, message = "events", "both hitting times located"
            break
        if first_event_step is not None and nacc - first_event_step >= after_event_steps:
            missing = "loss" if "loss" not in found else "distance"
            status = "censored"
            message = (f"the {missing} event was not reached within {after_event_steps} steps after the first "
                       f"one (tau_end = {mp.nstr(to_mpf(tau), 8)} is a lower bound)")
            break
        if tau_max is not None and tau >= tau_max:
            status, message = "tau_max", f"tau_max = {mp.nstr(to_mpf(tau_max), 6)} reached"
            break
        stalled = stalled + 1 if h < tau * STALL_RATIO else 0
        if stalled >= STALL_STEPS:
            status = "stalled"
            message = (f"the step size stayed below {STALL_RATIO:.0e} tau for {STALL_STEPS} steps at tau = "
                       f"{mp.nstr(to_mpf(tau), 8)}: the flow entered a singular regime (e.g. two rates "
                       "coalescing) that the integration does not follow")
            break
        f, M, S = system.jacobian(x)
        rad.jac_id += 1
        jac_current = True
        h_old, err_old = h, err
        last_rejected = False
        if nacc % 10 == 0 and _converged(x, f, M, S, delta, d2, found, system, rt):
            status, message = "converged", "the flow converged to a local minimum short of the threshold"
            for name in ("distance", "loss"):
                found.setdefault(name, mp.inf)
            break
        # geometric growth; in the quiet part of a plateau (Newton converging at once, negligible error) the
        # step may jump by many decades: the curvature safeguard stops it before the escape.
        if n_iter > 2 or err > Decimal("1e-4"):
            grow = Decimal(10)
        elif err > Decimal("1e-12"):
            grow = Decimal(10000)
        else:
            grow = Decimal(10) ** 100
        h = h * min(grow, safety * fac)
    return _finish(system, rad, x, tau, found, status, message, rtol, (nacc, nrej, nnewt, nsafe), samples)


def _rms(v, scale) -> Decimal:
    return (sum((a / b) ** 2 for a, b in zip(v, scale)) / len(v)).sqrt()


def _converged(x, f, M, S, delta, d2, found, system, rt) -> bool:
    """Whether ``x`` sits at a strict local minimum whose thresholds are not crossed."""
    if S is not None and ldl(S) is None:
        return False
    F = lu_factor(M)
    if F is None:
        return False
    step = lu_solve(F, f)  # x* - x
    size = max(abs(v) for v in x)
    if max(abs(v) for v in step) > rt * Decimal("1e-3") * max(delta, size):
        return False
    limit = [xi + si for xi, si in zip(x, step)]
    if "distance" not in found and system.distance2(limit) >= d2:
        return False
    if "loss" not in found and abs(system.loss_change(limit)) >= delta:
        return False
    return True


def _locate(rad, x, f, M, S, tau, h, phi, phi_end, scale, newton_tol):
    """Crossing time of ``phi`` inside the accepted step ``[tau, tau + h]``: the Illinois method on the length of
    a full Radau step from ``x`` (same Jacobian)."""
    lo, hi = Decimal(0), h
    p_lo, p_hi = phi(x), phi_end
    side = 0
    tol = (tau + h) * Decimal("1e-17")
    for _ in range(100):
        if hi - lo <= tol:
            break
        c = (lo * p_hi - hi * p_lo) / (p_hi - p_lo)
        if not lo < c < hi:
            c = (lo + hi) / 2
        factors = rad.factor(M, None, c)
        ok, xc = False, None
        if factors is not None:
            ok, xc, _, _, _, _ = rad.attempt(x, f, factors, c, scale, newton_tol)
        if not ok:  # a shorter step than the accepted one: only as a precaution, bisect
            c = (lo + hi) / 2
            factors = rad.factor(M, None, c)
            ok, xc, _, _, _, _ = rad.attempt(x, f, factors, c, scale, newton_tol)
            if not ok:
                raise ConvergenceError("event location: Newton failed on a sub-step of an accepted step")
        pc = phi(xc)
        if pc >= 0:
            hi, p_hi = c, pc
            if side == 1:
                p_lo = p_lo / 2
            side = 1
        else:
            lo, p_lo = c, pc
            if side == -1:
                p_hi = p_hi / 2
            side = -1
    with mp.workdps(rad.system.dps):
        return to_mpf(tau + hi)


def _finish(system, rad, x, tau, found, status, message, rtol, counts, samples) -> RadauRun:
    nacc, nrej, nnewt, nsafe = counts
    with mp.workdps(system.dps):
        theta = [to_mpf(v) for v in system.theta(x)]
        tau_end = to_mpf(tau)
    return RadauRun(found.get("distance"), found.get("loss"), tau_end, status, message, system.dps, float(rtol),
                    nacc, nrej, nnewt, nsafe, system.nfev, system.njev, rad.ndec, theta, tuple(samples))
