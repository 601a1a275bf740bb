"""Results of the compiled integrators: :class:`ODEResult`, :class:`BatchResult` and :class:`DenseSolution`.

:func:`ode_result` and :func:`batch_result` package the raw output of the compiled entry point
(:func:`memtheory.dynamics.loop.solve_chunk`): termination reasons become a ``status`` and a message
(:data:`MESSAGES`), the output buffers are cut to their counts, and the step interpolants become a callable
dense solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from memtheory.dynamics.constants import (
    M_AUTO,
    M_RADAU,
    NACC,
    NREJ,
    R_DOMAIN,
    R_DOMAIN_SMALL,
    R_END,
    R_EVENT,
    R_MAX_STEPS,
    R_NEWTON,
    R_NONFINITE,
    R_SINGULAR,
    R_STEP_SMALL,
    STATUS,
)
from memtheory.dynamics.events import KIND_DOPRI
from memtheory.dynamics.radau import NFEV, NJEV, NLU
from memtheory.dynamics.tableaux import ERK_DOPRI5, ERK_NAMES
from memtheory.errors import InvalidArgumentError

from ..display import Displayable

__all__ = ["MESSAGES", "DenseSolution", "ODEResult", "BatchResult", "method_used", "ode_result",
           "batch_result"]

#: Termination reason -> message template (fields ``max_steps``, ``t``, ``d``: the domain value).
MESSAGES = {
    R_END: "The solver successfully reached the end of the integration interval.",
    R_EVENT: "A terminal event occurred.",
    R_MAX_STEPS: "The maximum number of steps (max_steps={max_steps}) was reached at t={t:.17g}.",
    R_STEP_SMALL: "The step size became too small at t={t:.17g} (requested accuracy not achievable).",
    R_NONFINITE: "The right-hand side returned non-finite values near t={t:.17g}; the step size "
                 "became too small.",
    R_DOMAIN: "The solution left the domain (domain(t, y, p) reached 0) at t={t:.17g}.",
    R_DOMAIN_SMALL: "The solution reached the boundary of the domain near t={t:.17g} (domain value "
                    "{d:.3g}): the step size underflowed, or every step had to be shrunk, because steps "
                    "left the domain or produced non-finite values beyond it.",
    R_SINGULAR: "The Newton matrix became singular near t={t:.17g}; the step size became too small.",
    R_NEWTON: "The Newton iteration of the implicit method did not converge near t={t:.17g}, even with a "
              "fresh Jacobian; the step size became too small (is the Jacobian correct?).",
}


def method_used(method_code: int, final_mode: int, t_switch: float, erk: int = ERK_DOPRI5) -> str:
    """The ``method_used`` of a result: ``"dopri5"``, ``"dop853"``, ``"radau"``, or ``"dopri5->radau"`` /
    ``"dop853->radau"`` (an ``"auto"`` switch).

    Parameters
    ----------
    method_code : int
        The requested method (:data:`memtheory.dynamics.constants.METHOD_CODE`).
    final_mode : int
        The method of the last step (``M_DOPRI``, the explicit pair, or ``M_RADAU``).
    t_switch : float
        Switching time (NaN: no switch).
    erk : int
        The explicit pair (:data:`memtheory.dynamics.tableaux.ERK_NAMES` index).
    """
    explicit = ERK_NAMES[erk]
    if method_code == M_AUTO and np.isfinite(t_switch):
        return f"{explicit}->radau"
    return "radau" if final_mode == M_RADAU else explicit


class DenseSolution(Displayable):
    """Piecewise-polynomial continuous solution built from the stored step interpolants.

    Calling ``sol(t)`` with a scalar returns the state (shape ``(n,)``); with a 1-D array of times it
    returns shape ``(len(t), n)`` (time-major, like :attr:`ODEResult.y`). Times must lie in
    ``[t_min, t_max]``, the integrated interval.
    """

    def __init__(self, t_start: np.ndarray, h: np.ndarray, kind: np.ndarray, coef: np.ndarray,
                 t_min: float, t_max: float) -> None:
        self.t_start = t_start
        self.h = h
        self.kind = kind
        self.coef = coef
        self.t_min = float(t_min)
        self.t_max = float(t_max)

    @property
    def n_steps(self) -> int:
        """Number of stored steps."""
        return int(self.t_start.shape[0])

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("t_min", self.t_min), ("t_max", self.t_max), ("n_steps", self.n_steps)]

    def __call__(self, t: float | np.ndarray) -> np.ndarray:
        tt = np.asarray(t, dtype=np.float64)
        scalar = tt.ndim == 0
        tt = np.atleast_1d(tt)
        if tt.ndim != 1:
            raise InvalidArgumentError(f"t must be a scalar or a 1-D array, got shape {tt.shape}")
        slack = 1e-12 * max(abs(self.t_min), abs(self.t_max), 1e-300)
        if not np.all(np.isfinite(tt)) or np.any(tt < self.t_min - slack) or np.any(tt > self.t_max + slack):
            raise InvalidArgumentError(
                f"t must lie in the integrated interval [{self.t_min!r}, {self.t_max!r}]")
        if self.n_steps == 0:
            raise InvalidArgumentError("the dense solution holds no step")
        idx = np.clip(np.searchsorted(self.t_start, tt, side="right") - 1, 0, self.n_steps - 1)
        th = ((tt - self.t_start[idx]) / self.h[idx])[:, None]
        c = self.coef[idx]
        th1 = 1 - th
        u = c[:, 6] + th * c[:, 7]
        for row, w in ((5, th1), (4, th), (3, th1), (2, th), (1, th1)):
            u = c[:, row] + w * u
        dop = c[:, 0] + th * u
        rad = c[:, 0] + th * (c[:, 1] + th * (c[:, 2] + th * c[:, 3]))
        out = np.where((self.kind[idx] == KIND_DOPRI)[:, None], dop, rad)
        return out[0] if scalar else out


@dataclass(frozen=True, eq=False, repr=False)
class ODEResult(Displayable):
    """Result of :func:`~memtheory.dynamics.integrators.integrate` (fields follow :class:`scipy.integrate.OdeResult`, but ``y`` is
    time-major).

    Attributes
    ----------
    t : ndarray, shape (k,)
        Output times (every accepted step, or the requested ``t_eval`` reached).
    y : ndarray, shape (k, n)
        States at ``t`` (row ``i`` is the state at ``t[i]``).
    t_events : list of ndarray
        For each event function, the times at which it fired.
    y_events : list of ndarray
        For each event function, the states at those times, shape ``(k_e, n)``.
    nfev, njev, nlu : int
        Right-hand side evaluations (including finite-difference Jacobians), Jacobian evaluations,
        LU decompositions (the real and the complex factorisation of a Radau step count as two).
    nsteps, nrejected : int
        Accepted and rejected steps.
    status : int
        0 reached ``t_end``, 1 terminal event, -1 failure, -2 left the domain.
    message : str
        Human-readable termination reason.
    success : bool
        ``status >= 0``.
    method_used : str
        ``"dopri5"``, ``"dop853"``, ``"radau"``, ``"dopri5->radau"`` or ``"dop853->radau"``.
    t_switch : float or None
        Time of the switch to the stiff solver (``method="auto"``).
    t_final : float
        Time at which the integration stopped.
    y_final : ndarray, shape (n,)
        State at ``t_final``.
    sol : DenseSolution or None
        Continuous solution on ``[t0, t_final]`` when ``dense=True``.
    """

    t: np.ndarray
    y: np.ndarray
    t_events: list[np.ndarray]
    y_events: list[np.ndarray]
    nfev: int
    njev: int
    nlu: int
    nsteps: int
    nrejected: int
    status: int
    message: str
    success: bool
    method_used: str
    t_switch: float | None
    t_final: float
    y_final: np.ndarray
    sol: DenseSolution | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (arrays as lists; the dense solution is omitted)."""
        return {
            "t": self.t.tolist(), "y": self.y.tolist(),
            "t_events": [a.tolist() for a in self.t_events],
            "y_events": [a.tolist() for a in self.y_events],
            "nfev": self.nfev, "njev": self.njev, "nlu": self.nlu, "nsteps": self.nsteps,
            "nrejected": self.nrejected, "status": self.status, "message": self.message,
            "success": self.success, "method_used": self.method_used, "t_switch": self.t_switch,
            "t_final": self.t_final, "y_final": self.y_final.tolist(),
        }


@dataclass(frozen=True, eq=False, repr=False)
class BatchResult(Displayable):
    """Result of :func:`~memtheory.dynamics.integrators.integrate_batch` for ``m`` trajectories.

    Attributes
    ----------
    t_final : ndarray, shape (m,)
        Stopping time of each trajectory.
    y_final : ndarray, shape (m, n)
        Final states.
    status : ndarray of int, shape (m,)
        Status per trajectory (same codes as :attr:`ODEResult.status`).
    t_events : ndarray, shape (m, n_events)
        Time of the *first* occurrence of each event (NaN if it never fired).
    n_events : ndarray of int, shape (m, n_events)
        Number of occurrences of each event.
    nsteps, nrejected, nfev, njev, nlu : ndarray of int, shape (m,)
        Work counters per trajectory.
    switched : ndarray of bool, shape (m,)
        Whether ``method="auto"`` switched to the stiff solver.
    t_switch : ndarray, shape (m,)
        Switching time (NaN if no switch).
    messages : list of str
        Termination message per trajectory.
    """

    t_final: np.ndarray
    y_final: np.ndarray
    status: np.ndarray
    t_events: np.ndarray
    n_events: np.ndarray
    nsteps: np.ndarray
    nrejected: np.ndarray
    nfev: np.ndarray
    njev: np.ndarray
    nlu: np.ndarray
    switched: np.ndarray
    t_switch: np.ndarray
    messages: list[str]

    @property
    def success(self) -> np.ndarray:
        """Boolean mask of trajectories with ``status >= 0``."""
        return self.status >= 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary."""
        out: dict[str, Any] = {}
        for name in ("t_final", "y_final", "status", "t_events", "n_events", "nsteps", "nrejected",
                     "nfev", "njev", "nlu", "switched", "t_switch"):
            out[name] = getattr(self, name).tolist()
        out["messages"] = list(self.messages)
        return out


def ode_result(out: tuple, n_ev: int, method_code: int, max_steps: int, dom_f: Callable,
               p: np.ndarray, t0: float, dense: bool, erk: int = ERK_DOPRI5) -> ODEResult:
    """Package the output of the compiled entry point for one trajectory as an :class:`ODEResult`.

    Parameters
    ----------
    out : tuple
        What :func:`memtheory.dynamics.loop.solve_chunk` returned for the single trajectory.
    n_ev : int
        Number of event functions.
    method_code : int
        The requested method.
    max_steps : int
        The step limit (for the message).
    dom_f : callable
        The domain function (its value at the final state enters the message of a boundary stop).
    p : ndarray
        The parameters.
    t0 : float
        Initial time.
    dense : bool
        Whether the step interpolants were stored (then ``sol`` is a :class:`DenseSolution`).
    erk : int
        The explicit pair the loop used.
    """
    (reasons, t_fins, y_fins, _, _, counts, t_sws, modes,
     ts, ys, nt, ev_i, ev_t, ev_y, nev, d_t, d_h, d_k, d_c, nd) = out
    reason = int(reasons[0])
    t_fin, y_fin, cnt, t_switch, mode = float(t_fins[0]), y_fins[0].copy(), counts[0], t_sws[0], modes[0]
    ts, ys = ts[:nt].copy(), ys[:nt].copy()
    ev_i, ev_t, ev_y = ev_i[:nev], ev_t[:nev], ev_y[:nev]
    d_t, d_h, d_k, d_c = d_t[:nd].copy(), d_h[:nd].copy(), d_k[:nd].copy(), d_c[:nd].copy()
    status = STATUS[reason]
    d_val = float(dom_f(float(t_fin), y_fin, p)) if reason == R_DOMAIN_SMALL else 0.0
    message = MESSAGES[reason].format(max_steps=max_steps, t=float(t_fin), d=d_val)
    t_events = [ev_t[ev_i == e].copy() for e in range(n_ev)]
    y_events = [ev_y[ev_i == e].copy() for e in range(n_ev)]
    sol = DenseSolution(d_t, d_h, d_k, d_c, t0, float(t_fin)) if dense else None
    return ODEResult(
        t=ts, y=ys, t_events=t_events, y_events=y_events, nfev=int(cnt[NFEV]), njev=int(cnt[NJEV]),
        nlu=int(cnt[NLU]), nsteps=int(cnt[NACC]), nrejected=int(cnt[NREJ]), status=status,
        message=message, success=status >= 0, method_used=method_used(method_code, int(mode), t_switch, erk),
        t_switch=float(t_switch) if np.isfinite(t_switch) else None, t_final=float(t_fin),
        y_final=np.asarray(y_fin).copy(), sol=sol)


def batch_result(parts: list[tuple], max_steps: int) -> BatchResult:
    """Concatenate the per-chunk summaries of the compiled entry point into a :class:`BatchResult`.

    Parameters
    ----------
    parts : list of tuple
        What :func:`memtheory.dynamics.loop.solve_chunk` returned for each chunk, in trajectory order.
    max_steps : int
        The step limit (for the messages).
    """
    reasons, t_fin, y_fin, t_first, n_evs, counts, t_sw, modes = (
        np.concatenate([part[i] for part in parts]) for i in range(8))
    status = np.array([STATUS[int(r)] for r in reasons], dtype=np.int64)
    messages = [MESSAGES[int(r)].format(max_steps=max_steps, t=float(tf), d=float("nan"))
                for r, tf in zip(reasons, t_fin)]
    return BatchResult(
        t_final=t_fin, y_final=y_fin, status=status, t_events=t_first, n_events=n_evs,
        nsteps=counts[:, NACC].copy(), nrejected=counts[:, NREJ].copy(), nfev=counts[:, NFEV].copy(),
        njev=counts[:, NJEV].copy(), nlu=counts[:, NLU].copy(), switched=np.isfinite(t_sw),
        t_switch=t_sw, messages=messages)
