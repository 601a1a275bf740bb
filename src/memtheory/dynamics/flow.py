r"""Gradient flows ``d theta / d tau = -grad J(theta)`` compiled from SymPy (docs/theory.md §4).

:class:`GradientFlow` builds the flow of the exact L2 loss of the diagonal model against a kernel: its
right-hand side ``-grad J`` and Jacobian ``-hess J`` come from the SymPy element formulas of
:mod:`memtheory.symbolic.loss` (through the generated assembly of :mod:`memtheory.losses.assembly`) and the
kernel's compiled Laplace moments (:mod:`memtheory.kernels.compiled`); they are glued in one generated numba
module and handed to the compiled integrators of :mod:`memtheory.dynamics.integrators`.
:meth:`GradientFlow.from_loss` does the same for any SymPy loss in named parameters.

The parameter array ``p`` of the compiled functions is laid out as::

    p = [kernel parameters (nk) | ||rho||^2 | delta_distance | delta_loss | J(theta0) | theta0 (n) | breakpoints]

so that a sweep over kernel parameters, initial conditions or thresholds reuses the compiled code.
Two events are always available: ``"distance"`` (``||theta - theta0||_2 = delta``, the hitting time ``tau_0``
of docs/theory.md §4) and ``"loss"`` (``|J(theta) - J(theta0)| = delta``, ``tau_0'``). For the diagonal flow the
domain is ``min_i w_i > 0``: a rate reaching 0 stops the run with ``status = -2``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
import sympy as sp

from ..symbolic.latex import aligned, to_latex
from ..display import Displayable
from ..compile import codegen
from ..errors import InvalidArgumentError
from ..kernels.compiled import breakpoints, compile_kernel
from ..kernels.kernel import Kernel
from ..losses.assembly import loss_module
from ..symbolic.loss import l2_loss as symbolic_l2_loss
from ..symbolic.parse import parse_expression
from . import integrators

__all__ = ["GradientFlow", "FlowSolution", "EVENTS"]

#: Names of the built-in events, in the order of the compiled event function.
EVENTS = ("distance", "loss")
#: Threshold of an event that was not requested (finite: the integrators refuse non-finite parameters).
_NEVER = 1e300


@dataclass(frozen=True, eq=False, repr=False)
class FlowSolution(Displayable):
    """A computed trajectory, with scipy-OdeResult-like fields (``theta`` is time-major).

    Attributes
    ----------
    t : ndarray, shape (k,)
        Training times tau.
    theta : ndarray, shape (k, n)
        States.
    loss : ndarray, shape (k,)
        ``J(theta(t))`` (same compiled code as the flow).
    t_events : dict of str to ndarray
        Times of each requested event (``"distance"``, ``"loss"``).
    theta_events : dict of str to ndarray
        States at those times.
    nfev, njev : int
        Right-hand side and Jacobian evaluations.
    status : int
        0 reached ``tau_end``; 1 terminal event; -1 failure; -2 left the domain (a rate reached 0).
    message : str
    method_used : str
    sol : callable or None
        Dense output ``sol(t) -> theta`` when ``dense=True``.
    """

    t: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    t_events: dict
    theta_events: dict
    nfev: int
    njev: int
    status: int
    message: str
    method_used: str
    nsteps: int = 0
    sol: object = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        """``status >= 0``."""
        return self.status >= 0

    def _display_rows(self) -> list[tuple[str, object]]:
        last = [("theta_final", self.theta[-1]), ("loss_final", self.loss[-1])] if self.t.size else []
        return [("status", self.status), ("message", self.message), ("method_used", self.method_used),
                ("t", self.t), ("theta", self.theta), *last, ("t_events", self.t_events), ("nsteps", self.nsteps),
                ("nfev", self.nfev), ("njev", self.njev)]

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"t": self.t.tolist(), "theta": self.theta.tolist(), "loss": self.loss.tolist(),
                "t_events": {k: v.tolist() for k, v in self.t_events.items()},
                "theta_events": {k: v.tolist() for k, v in self.theta_events.items()},
                "nfev": self.nfev, "njev": self.njev, "status": self.status, "message": self.message,
                "method_used": self.method_used, "nsteps": self.nsteps}


class _FlowBase(Displayable):
    """Shared solve/ensemble machinery; subclasses provide the compiled module and the parameter layout."""

    module: ModuleType
    n: int
    has_domain: bool

    def _base_params(self) -> np.ndarray:
        raise NotImplementedError

    def _display_rows(self) -> list[tuple[str, object]]:
        rows = [("n", self.n), ("has_domain", self.has_domain)]
        for name in ("rho", "m", "expr"):
            if name in vars(self):
                rows.insert(0, (name, getattr(self, name)))
        return rows

    def _extra(self) -> np.ndarray:
        return np.zeros(0)

    def _validate_theta(self, theta0) -> np.ndarray:
        try:
            theta0 = np.array(theta0, dtype=float)
        except (TypeError, ValueError):
            raise InvalidArgumentError("theta0 must be numeric") from None
        if theta0.shape != (self.n,):
            raise InvalidArgumentError(f"theta0 must have shape ({self.n},), got {theta0.shape}")
        if not np.all(np.isfinite(theta0)):
            raise InvalidArgumentError("theta0 must be finite (no NaN/inf)")
        return theta0

    def params(self, theta0, events: dict | None = None, base: np.ndarray | None = None) -> np.ndarray:
        """The compiled functions' parameter array for initial state ``theta0`` and event thresholds."""
        events = dict(events or {})
        unknown = set(events) - set(EVENTS)
        if unknown:
            raise InvalidArgumentError(f"unknown event(s) {', '.join(sorted(unknown))}; available: {EVENTS}")
        for name, delta in events.items():
            if not (isinstance(delta, (int, float)) and np.isfinite(delta) and delta > 0):
                raise InvalidArgumentError(f"event {name!r} needs a threshold delta > 0, got {delta!r}")
        base = self._base_params() if base is None else base
        theta0 = self._validate_theta(theta0)
        head = np.concatenate([base, [events.get("distance", _NEVER), events.get("loss", _NEVER), 0.0], theta0,
                               self._extra()])
        head[len(base) + 2] = self.module.loss(theta0, head)
        return head

    def loss(self, theta) -> np.ndarray:
        """``J(theta)`` for one state (shape (n,)) or many (shape (k, n)), by the compiled code."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        p = self.params(theta[0])
        return np.array([self.module.loss(np.ascontiguousarray(th), p) for th in theta])

    def rhs(self, theta) -> np.ndarray:
        """``-grad J(theta)``."""
        theta = self._validate_theta(theta)
        return self.module.rhs(0.0, theta, self.params(theta))

    def jacobian(self, theta) -> np.ndarray:
        """``-hess J(theta)``."""
        theta = self._validate_theta(theta)
        return self.module.jac(0.0, theta, self.params(theta))

    def solve(self, theta0, tau_end: float, method: str = "auto", rtol: float = 1e-8, atol: float = 1e-10,
              events: dict | None = None, terminal: bool | str | dict = True, dense: bool = False, t_eval=None,
              max_steps: int = 1_000_000) -> FlowSolution:
        """Integrate the flow from ``theta0`` up to ``tau_end``.

        Parameters
        ----------
        theta0 : array_like, shape (n,)
            Initial state (``(a_1..a_m, w_1..w_m)`` for the diagonal flow).
        tau_end : float
            Final training time (> 0; up to 1e300: the stiff solver's step grows geometrically).
        method : {"auto", "dopri5", "dop853", "radau"}
            ``"auto"`` starts explicit (DOP853 when ``rtol < 1e-7``, else DOPRI5) and switches to Radau IIA on
            stiffness.
        rtol, atol : float
            Tolerances.
        events : dict, optional
            ``{"distance": delta}`` and/or ``{"loss": delta}``: the times when ``||theta - theta0|| = delta`` and
            ``|J - J(theta0)| = delta``, located on the dense output.
        terminal : bool, "all" or dict
            When the events stop the run. True: at the first occurrence of any of them; ``"all"``: once every
            requested event has occurred, at the first occurrence of the last of them (``t_events`` then holds
            each event's first time, and a run in which some event never occurs goes on to ``tau_end``, status
            0); False: never (every occurrence up to ``tau_end`` is recorded). A dict gives the flag (True,
            False or ``"all"``) per event name (missing names: False); the run stops at the first occurrence of
            an event flagged True, or once every event flagged ``"all"`` has occurred, whichever comes first.
        dense : bool
            Keep a continuous solution ``sol(t)``.
        t_eval : array_like, optional
            Output times (default: every accepted step).

        Returns
        -------
        FlowSolution
        """
        if not (isinstance(tau_end, (int, float)) and np.isfinite(tau_end) and tau_end > 0):
            raise InvalidArgumentError(f"tau_end must be a finite number > 0, got {tau_end!r}")
        p = self.params(theta0, events)
        names = [e for e in EVENTS if e in (events or {})]
        term = _terminal_flags(names, terminal)
        res = integrators.integrate(
            self.module.rhs, self.module.jac, p[self._theta_slice()], (0.0, float(tau_end)), p, method=method,
            rtol=rtol, atol=atol, t_eval=t_eval, events=self.module.events if names else None,
            n_events=len(EVENTS) if names else 0, direction=[1, 1] if names else None,
            terminal=[term.get(e, False) for e in EVENTS] if names else None,
            domain=self.module.domain if self.has_domain else None, dense=dense, max_steps=max_steps)
        loss = np.array([self.module.loss(np.ascontiguousarray(y), p) for y in res.y])
        t_ev = {e: res.t_events[EVENTS.index(e)] for e in names}
        y_ev = {e: res.y_events[EVENTS.index(e)] for e in names}
        return FlowSolution(res.t, res.y, loss, t_ev, y_ev, res.nfev, res.njev, res.status, res.message,
                            res.method_used, res.nsteps, res.sol)

    def _theta_slice(self) -> slice:
        k = len(self._base_params()) + 3
        return slice(k, k + self.n)

    def solve_ensemble(self, theta0s, tau_end: float, events: dict | None = None, method: str = "auto",
                       rtol: float = 1e-8, atol: float = 1e-10, terminal: bool | str | dict = True,
                       bases: list[np.ndarray] | None = None, progress: bool = False,
                       chunk: int = 64, num_threads: int | None = None) -> dict:
        """Integrate many initial conditions (and/or kernel parameter sets) in parallel over cores.

        Parameters
        ----------
        theta0s : array_like, shape (k, n)
            Initial states.
        bases : list of ndarray, optional
            Per-trajectory kernel parameter blocks (from :meth:`GradientFlow.kernel_params`); default: this
            flow's kernel for all.
        progress : bool
            Show a tqdm progress bar (over chunks of ``chunk`` trajectories).
        num_threads : int, optional
            Worker threads (default: the CPUs available to the process).

        Returns
        -------
        dict
            ``theta_final`` (k, n), ``tau_final``, ``status``, ``t_events`` (dict name -> (k,) array, NaN when the
            event did not fire), ``nsteps``, ``loss_final``, ``J0``.
        """
        from tqdm.auto import tqdm

        theta0s = np.atleast_2d(np.asarray(theta0s, dtype=float))
        k = theta0s.shape[0]
        if bases is not None and len(bases) != k:
            raise InvalidArgumentError(f"bases must have one entry per trajectory ({k}), got {len(bases)}")
        P = np.array([self.params(theta0s[i], events, None if bases is None else bases[i]) for i in range(k)])
        names = [e for e in EVENTS if e in (events or {})]
        term = _terminal_flags(names, terminal)
        out = {"theta_final": np.zeros_like(theta0s), "tau_final": np.zeros(k), "status": np.zeros(k, int),
               "nsteps": np.zeros(k, int), "t_events": {e: np.full(k, np.nan) for e in names}}
        starts = range(0, k, chunk)
        for start in tqdm(starts, disable=not progress, desc="trajectories", unit="chunk"):
            sl = slice(start, min(k, start + chunk))
            res = integrators.integrate_batch(
                self.module.rhs, self.module.jac, theta0s[sl], (0.0, float(tau_end)), P[sl], method=method,
                rtol=rtol, atol=atol, events=self.module.events if names else None,
                n_events=len(EVENTS) if names else 0, direction=[1, 1] if names else None,
                terminal=[term.get(e, False) for e in EVENTS] if names else None,
                domain=self.module.domain if self.has_domain else None, num_threads=num_threads)
            out["theta_final"][sl] = res.y_final
            out["tau_final"][sl] = res.t_final
            out["status"][sl] = res.status
            out["nsteps"][sl] = res.nsteps
            for e in names:
                out["t_events"][e][sl] = res.t_events[:, EVENTS.index(e)]
        out["loss_final"] = np.array([self.module.loss(np.ascontiguousarray(th), P[i])
                                      for i, th in enumerate(out["theta_final"])])
        out["J0"] = P[:, len(self._base_params()) + 2] if k else np.zeros(0)
        return out


def _terminal_flags(names: list[str], terminal: bool | str | dict) -> dict:
    """Event name -> terminal flag of each requested event (validated by the integrators: a bool or ``"all"``)."""
    if isinstance(terminal, dict):
        unknown = set(terminal) - set(EVENTS)
        if unknown:
            raise InvalidArgumentError(f"unknown event(s) in terminal: {', '.join(sorted(unknown))}")
        return {e: terminal.get(e, False) for e in names}
    return {e: terminal for e in names}


class GradientFlow(_FlowBase):
    """The gradient flow of the exact L2 loss of a width-``m`` diagonal RNN against a kernel.

    Parameters
    ----------
    rho : Kernel
        Square-integrable target kernel.
    m : int
        Width; the state is ``theta = (a_1..a_m, w_1..w_m)``.

    Examples
    --------
    >>> import memtheory as mt
    >>> flow = mt.GradientFlow(mt.kernels.exponential(1.0), m=1)
    >>> sol = flow.solve([0.5, 2.0], tau_end=200.0)
    >>> [round(float(x), 6) for x in sol.theta[-1]]
    [1.0, 1.0]
    """

    has_domain = True

    def __init__(self, rho: Kernel, m: int):
        if not isinstance(rho, Kernel):
            raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise InvalidArgumentError(f"m must be an integer >= 1, got {m!r}")
        self.rho = rho
        self.m = int(m)
        self.n = 2 * self.m
        self._norm = rho.square_integral()
        self._ck = compile_kernel(rho)
        self.module = _diagonal_flow_module(self._ck.module.__name__, len(rho.param_symbols), self._ck.has_residual)
        self._bps = breakpoints(rho)
        # the kernel block of ``p``, converted from SymPy once (per solve it cost more than a short integration)
        self._kernel_block = np.concatenate([rho.param_array(), [self._norm]])

    def kernel_params(self, rho: Kernel | None = None) -> np.ndarray:
        """Kernel block of ``p`` (parameters, ``||rho||^2``) for ``rho`` (same structure) or this flow's kernel."""
        if rho is None:
            return self._kernel_block.copy()
        if rho.expr != self.rho.expr:
            raise InvalidArgumentError("rho must have the same structure (expression) as the flow's kernel")
        return np.concatenate([rho.param_array(), [rho.square_integral()]])

    def _base_params(self) -> np.ndarray:
        return self._kernel_block

    def _extra(self) -> np.ndarray:
        return self._bps

    def latex(self) -> str:
        """The flow equations as LaTeX."""
        return symbolic_l2_loss(self.m).latex("flow")

    @classmethod
    def from_loss(cls, expr: str | sp.Expr, params: list[str], domain: str | None = None,
                  **constants: float) -> LossFlow:
        """The gradient flow of any loss written in SymPy (or as a safe string) in named parameters.

        Parameters
        ----------
        expr : str or sympy.Expr
            The loss ``J(params; constants)``.
        params : list of str
            The state variables, in order.
        domain : str, optional
            An expression that must stay > 0 (e.g. ``"Min(w1, w2)"``); the run stops when it reaches 0.
        **constants : float
            Values of the other symbols (they stay arguments of the compiled code).

        Examples
        --------
        >>> import memtheory as mt
        >>> flow = mt.GradientFlow.from_loss("(x - c)**2 + y**2", ["x", "y"], c=1.0)
        >>> [round(float(v), 8) for v in flow.solve([0.0, 1.0], 50.0).theta[-1]]
        [1.0, 0.0]
        """
        return LossFlow(expr, params, domain, **constants)


class LossFlow(_FlowBase):
    """Gradient flow of a user loss; built by :meth:`GradientFlow.from_loss`."""

    def __init__(self, expr, params, domain=None, **constants):
        if not params or len(set(params)) != len(params):
            raise InvalidArgumentError("params must be a non-empty list of distinct names")
        names = list(params) + sorted(constants)
        J = parse_expression(expr, names, variables=()) if isinstance(expr, str) else sp.sympify(expr)
        syms = [sp.Symbol(n, real=True) for n in names]
        J = J.xreplace({s: syms[names.index(s.name)] for s in J.free_symbols if s.name in names})
        missing = {s.name for s in J.free_symbols} - set(names)
        if missing:
            raise InvalidArgumentError(f"no value given for symbol(s) {', '.join(sorted(missing))}")
        dom = None
        if domain is not None:
            dom = parse_expression(domain, names, variables=()) if isinstance(domain, str) else sp.sympify(domain)
            dom = dom.xreplace({s: syms[names.index(s.name)] for s in dom.free_symbols if s.name in names})
        self.expr = J
        self.state_symbols = tuple(syms[: len(params)])
        self.const_symbols = tuple(syms[len(params):])
        self._consts = np.array([float(constants[n]) for n in sorted(constants)], dtype=float)
        self.n = len(params)
        self.has_domain = dom is not None
        self.module = _loss_flow_module(J, self.state_symbols, self.const_symbols, dom)

    def _base_params(self) -> np.ndarray:
        return self._consts

    def latex(self) -> str:
        """The flow equations as LaTeX."""
        grad = [sp.diff(self.expr, v) for v in self.state_symbols]
        return aligned([(f"\\frac{{d {to_latex(v)}}}{{d\\tau}}", to_latex(sp.simplify(-g)))
                        for v, g in zip(self.state_symbols, grad)])


_GLUE_COMMON = '''
@njit(cache=CACHE)
def events(t, y, p):
    n = y.shape[0]
    off = NB + 3
    dist = 0.0
    for i in range(n):
        d = y[i] - p[off + i]
        dist += d * d
    out = np.empty(2)
    out[0] = np.sqrt(dist) - p[NB]
    out[1] = abs(loss(y, p) - p[NB + 2]) - p[NB + 1]
    return out
'''


@functools.lru_cache(maxsize=64)
def _diagonal_flow_module(kernel_module: str, nk: int, has_residual: bool) -> ModuleType:
    # every kernel module is cached on disk (its quadrature takes the integrand as a first-class function), so the
    # flow module is too; ``has_residual`` stays in the key of this cache only
    loss_mod = loss_module("numba").__name__
    cache = "True"
    body = f'''import {kernel_module} as _ker
import {loss_mod} as _loss

NK = {nk}
NB = NK + 1
CACHE = {cache}


@njit(cache=CACHE)
def _evaluate(y, p, kmax, grad, hess):
    n = y.shape[0]
    m = n // 2
    a = y[:m].copy()
    w = y[m:].copy()
    L = np.zeros((3, m))
    E = np.zeros((3, m))
    bps = p[NB + 3 + n:]
    _ker.moments_at(w, p[:NK], kmax, bps, L, E)
    return _loss.assemble(a, w, L[0], L[1], L[2], p[NK], grad, hess, kmax >= 1, kmax >= 2)


@njit(cache=CACHE)
def loss(y, p):
    g = np.zeros(0)
    h = np.zeros((0, 0))
    return _evaluate(y, p, 0, g, h)


@njit(cache=CACHE)
def rhs(t, y, p):
    n = y.shape[0]
    g = np.zeros(n)
    h = np.zeros((0, 0))
    _evaluate(y, p, 1, g, h)
    return -g


@njit(cache=CACHE)
def jac(t, y, p):
    n = y.shape[0]
    g = np.zeros(n)
    h = np.zeros((n, n))
    _evaluate(y, p, 2, g, h)
    return -h


@njit(cache=CACHE)
def domain(t, y, p):
    m = y.shape[0] // 2
    return np.min(y[m:])
''' + _GLUE_COMMON
    return codegen.load_module(body, tag="flow")


def _loss_flow_module(J: sp.Expr, state: tuple, consts: tuple, dom: sp.Expr | None) -> ModuleType:
    printer = codegen.NumbaPrinter()
    names = {s: sp.Symbol(f"_v_{s.name}") for s in (*state, *consts)}
    n, nc = len(state), len(consts)
    unpack = "".join(f"    _v_{s.name} = y[{i}]\n" for i, s in enumerate(state))
    unpack += "".join(f"    _v_{s.name} = p[{i}]\n" for i, s in enumerate(consts))

    def pr(e):
        return printer.doprint(sp.sympify(e).xreplace(names))

    grad = [sp.diff(J, v) for v in state]
    lines = [f"NB = {nc}", "CACHE = True", "", "", "@njit(cache=True)", "def loss(y, p):",
             unpack + f"    return {pr(J)}", "", "", "@njit(cache=True)", "def rhs(t, y, p):", unpack,
             f"    out = np.empty({n})"]
    lines += [f"    out[{i}] = -({pr(g)})" for i, g in enumerate(grad)]
    lines += ["    return out", "", "", "@njit(cache=True)", "def jac(t, y, p):", unpack,
              f"    out = np.empty(({n}, {n}))"]
    lines += [f"    out[{i}, {j}] = -({pr(sp.diff(grad[i], state[j]))})" for i in range(n) for j in range(n)]
    lines += ["    return out", "", "", "@njit(cache=True)", "def domain(t, y, p):", unpack,
              f"    return {pr(dom) if dom is not None else '1.0'}", ""]
    return codegen.load_module("\n".join(lines) + _GLUE_COMMON, tag="lossflow")
