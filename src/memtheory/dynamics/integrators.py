"""Adaptive ODE integration in numba: Dormand--Prince 5(4) and 8(5,3), Radau IIA 5, automatic stiffness switching.

Problem convention (the gradient flows of :mod:`memtheory` are wired onto it):

* ``rhs(t, y, p) -> float64[::1]``: the vector field, ``y`` a 1-D float64 state, ``p`` a 1-D float64
  parameter array;
* ``jac(t, y, p) -> float64[:, ::1]``: the analytic Jacobian ``d rhs / dy`` (``None``: forward differences);
* ``events(t, y, p) -> float64[::1]`` (optional): ``n_events`` event functions; event ``e`` is a sign change
  of component ``e`` in the allowed ``direction`` (+1 upward, -1 downward, 0 both); ``terminal`` events stop
  the integration (at their first occurrence, or, flagged ``"all"``, once every one of them has occurred);
* ``domain(t, y, p) -> float64`` (optional): must stay positive. A trial step that leaves the domain is
  rejected and retried with a step ending at 90% of the crossing located on its interpolant; when the
  solution genuinely reaches the boundary the integration stops with ``status = -2``: either two
  successive steps locate the same crossing (the exit time, on the interpolant, is returned), or the
  step size underflows / steps keep being rejected right at the boundary (typically because the
  right-hand side is singular or undefined there; the last point inside is returned). The state
  returned is always finite.

All four are numba-jitted functions. They are passed to the compiled integration loop as numba
*first-class functions* (``numba.types.FunctionType``): the loop is compiled once, for every right-hand
side with this signature, and cached on disk across processes (the cache is keyed on the contents of
the integrator's source files, see :mod:`memtheory.dynamics.cache`); the user functions are called
through a function pointer. (Passing them as plain dispatcher arguments would specialise, and recompile,
the whole loop for every right-hand side, and such specialisations cannot be cached.) A cold compile
takes about 35-40 s of CPU (``method="radau"`` has an entry point of its own without the explicit pairs, about
30 s); loading from the cache well under a second. The function pointers are looked up
once per user function and passed as integers (:mod:`memtheory.dynamics.pointers`), and the adaptation of a
user function is remembered (:func:`memtheory.dynamics.prepare.prepare_problem`), so that a call costs little
more than the integration itself.

Methods (``method=``):

``"dopri5"``
    explicit Dormand--Prince 5(4), PI step-size control, 4th-order dense output.
``"dop853"``
    explicit Dormand--Prince 8(5,3) (Hairer's DOP853): twelve stages per step, an error estimate from the
    embedded fifth- and third-order solutions, a 7th-order dense output built (three more stages) only on the
    steps whose interpolant is used (events that fire, ``t_eval`` points, ``dense=True``). At tight
    tolerances it needs far fewer right-hand side evaluations than ``dopri5`` (measured on a forced pendulum
    at ``rtol = 1e-11``: 2.8x fewer, with a 10x smaller error). Both explicit pairs are tableaux
    (:mod:`memtheory.dynamics.tableaux`) run by one step engine (:mod:`memtheory.dynamics.explicit`).
``"radau"``
    implicit Radau IIA of order 5 with the simplified Newton iteration of RADAU5, using the analytic
    Jacobian; L-stable, for stiff problems; the step can grow by a factor 10 per step, so a solution that
    is constant over ``[1, 1e12]`` costs about one step per decade (69 steps from ``t = 0``), and
    ``t_end = 1e300`` is fine (:mod:`memtheory.dynamics.radau`).
``"auto"``
    starts with an explicit pair chosen by tolerance -- ``dop853`` when ``rtol < 1e-7``, ``dopri5`` otherwise
    -- and switches (once, irreversibly) to ``radau`` when the explicit steps are limited by stability:
    Hairer's test ``h |lambda| > 3.25`` (DOP853: 6.1) on 15 accepted steps, or, after 15 steps with
    ``h |lambda| > 0.8`` (1.5), ``h rho(J) > 1.5`` (2.8) with the spectral radius of the Jacobian estimated by
    power iteration (see :func:`memtheory.dynamics.control.stiffness_update`); ``method_used`` reports
    ``"dop853->radau"`` or ``"dopri5->radau"`` and ``t_switch`` the switching time.

The whole integration loop (steps, step-size control, events, domain, output) runs in compiled code
(:mod:`memtheory.dynamics.loop`); :func:`integrate` only validates the input
(:mod:`memtheory.dynamics.prepare`) and packages the result (:mod:`memtheory.dynamics.results`).
:func:`integrate_batch` integrates many initial conditions / parameter vectors: a thread pool calls the
compiled ``nogil`` solver on chunks of trajectories. (A ``numba.prange`` loop would work too, with
first-class functions, but its compiled function has to link and re-optimise the whole integrator a second
time, doubling the cold compile time; the thread pool reuses the single compiled entry point.)

References
----------
E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I: Nonstiff Problems*,
2nd ed., Springer (1993): §II.4 (step-size control, starting step), §II.5 (Dormand--Prince),
§II.6 (dense output), §IV.2 of vol. II for the stiffness test.
E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II: Stiff and Differential-Algebraic
Problems*, 2nd ed., Springer (1996): §IV.8 (implementation of Radau IIA, RADAU5).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from memtheory.dynamics.cache import compiled_solver
from memtheory.dynamics.constants import DOMAIN_SIGNATURE, JAC_SIGNATURE, M_RADAU, METHODS, RHS_SIGNATURE
from memtheory.dynamics.pointers import pointer_array
from memtheory.dynamics.prepare import (
    as_vector,
    explicit_pair,
    prepare_problem,
    thread_count,
    validate_method,
    validate_span,
    validate_steps,
    validate_tolerances,
)
from memtheory.dynamics.results import BatchResult, DenseSolution, ODEResult, batch_result, ode_result
from memtheory.errors import InvalidArgumentError

__all__ = [
    "ODEResult",
    "BatchResult",
    "DenseSolution",
    "integrate",
    "integrate_batch",
    "METHODS",
    "RHS_SIGNATURE",
    "JAC_SIGNATURE",
    "DOMAIN_SIGNATURE",
]


def integrate(
    rhs: Callable,
    jac: Callable | None,
    y0: Any,
    t_span: Sequence[float],
    p: Any = None,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float | np.ndarray = 1e-10,
    t_eval: Any = None,
    events: Callable | None = None,
    n_events: int = 0,
    direction: Any = None,
    terminal: Any = None,
    domain: Callable | None = None,
    dense: bool = False,
    max_steps: int = 1_000_000,
    first_step: float | None = None,
    max_step: float = np.inf,
) -> ODEResult:
    """Integrate ``dy/dt = rhs(t, y, p)`` on ``t_span`` with an adaptive compiled solver.

    Parameters
    ----------
    rhs : callable
        numba-jitted ``rhs(t, y, p) -> float64[::1]`` (a plain Python function is jitted).
    jac : callable or None
        numba-jitted ``jac(t, y, p) -> float64[:, ::1]``, the Jacobian ``d rhs/dy``; None uses forward
        differences in the stiff solver (``n`` extra ``rhs`` calls per Jacobian).
    y0 : array_like, shape (n,)
        Initial state (finite).
    t_span : (float, float)
        ``(t0, t_end)`` with ``t_end > t0``, both finite (``t_end`` may be as large as ``1e300``).
    p : array_like, shape (n_p,), optional
        Parameters passed to every user function (default: empty).
    method : {"auto", "dopri5", "dop853", "radau"}
        Integrator; see the module docstring.
    rtol, atol : float, float or array_like of shape (n,)
        Relative and absolute tolerances (``> 0``); the local error of component ``i`` is kept below
        ``atol_i + rtol |y_i|`` (Radau uses radau5.f's transformed tolerances, see
        :func:`memtheory.dynamics.radau.radau_tolerances`).
    t_eval : array_like, optional
        Increasing output times in ``[t0, t_end]``, filled from the dense output; None outputs every
        accepted step.
    events : callable, optional
        numba-jitted ``events(t, y, p) -> float64[::1]``.
    n_events : int
        Number of event functions (0: inferred from ``events(t0, y0, p)``).
    direction : int or sequence of int, optional
        Per-event crossing direction: +1 (from negative to positive), -1, or 0 (both; default).
    terminal : bool, "all", or sequence of bool / "all", optional
        Per-event flag (one value: the same for every event). True: stop at the event's first occurrence;
        ``"all"``: stop once every event flagged ``"all"`` has occurred, at the first occurrence of the last of
        them (each event's first time is then in ``t_events``, and no step is taken beyond the last); False
        (default): never stop.
    domain : callable, optional
        numba-jitted ``domain(t, y, p) -> float64`` that must stay ``> 0``.
    dense : bool
        Store the step interpolants and return a callable ``sol``.
    max_steps : int
        Maximum number of accepted steps.
    first_step : float, optional
        Initial step size (default: Hairer's starting-step heuristic).
    max_step : float
        Largest step size.

    Returns
    -------
    ODEResult

    Raises
    ------
    InvalidArgumentError
        On invalid input: ``t_end <= t0``, ``y0`` not 1-D or not matching ``rhs``, non-finite ``y0`` or
        ``p``, unknown ``method``, ``rtol``/``atol`` not positive, ``t_eval`` outside ``t_span`` or not
        increasing, an initial state outside the domain, user functions that numba cannot compile.

    Examples
    --------
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def rhs(t, y, p):
    ...     return -p[0] * y
    >>> @njit
    ... def jac(t, y, p):
    ...     return -p[0] * np.eye(y.shape[0])
    >>> res = integrate(rhs, jac, [1.0], (0.0, 1.0), [2.0], rtol=1e-10, atol=1e-12)
    >>> bool(abs(res.y_final[0] - np.exp(-2.0)) < 1e-9)
    True
    """
    method_code = validate_method(method)
    t0, t_end = validate_span(t_span)
    y0a = as_vector(y0, "y0")
    pa = as_vector([] if p is None else p, "p", allow_empty=True)
    rtol_f, atol_a = validate_tolerances(rtol, atol, y0a.shape[0])
    max_steps_i, fs, ms = validate_steps(max_steps, first_step, max_step)
    erk = explicit_pair(method_code, rtol_f)
    if t_eval is None:
        te = np.empty(0)
    else:
        te = as_vector(t_eval, "t_eval", allow_empty=True)
        if te.size and (te[0] < t0 or te[-1] > t_end or np.any(np.diff(te) < 0)):
            raise InvalidArgumentError("t_eval must be non-decreasing and lie within t_span")
    rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr = prepare_problem(
        rhs, jac, events, n_events, direction, terminal, domain, y0a, pa, t0, method_code)
    fptrs = pointer_array(rhs_f, jac_f, ev_f, dom_f)  # (the dispatchers stay referenced during the call)
    solver = compiled_solver(method_code != M_RADAU)  # method="radau": the entry point without explicit pairs
    out = solver(fptrs, y0a[None, :], t0, t_end, pa[None, :], rtol_f, atol_a, te, d_arr, term_arr, domain is not None,
                 use_fd, method_code, t_eval is None, bool(dense), max_steps_i, fs, ms, 0, 1, erk)
    return ode_result(out, d_arr.shape[0], method_code, max_steps_i, dom_f, pa, t0, bool(dense), erk)


def integrate_batch(
    rhs: Callable,
    jac: Callable | None,
    y0: Any,
    t_span: Sequence[float],
    p: Any = None,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float | np.ndarray = 1e-10,
    events: Callable | None = None,
    n_events: int = 0,
    direction: Any = None,
    terminal: Any = None,
    domain: Callable | None = None,
    max_steps: int = 1_000_000,
    first_step: float | None = None,
    max_step: float = np.inf,
    num_threads: int | None = None,
    chunks_per_thread: int = 4,
) -> BatchResult:
    """Integrate many initial conditions and/or parameter vectors in parallel.

    The trajectories are split into chunks; a thread pool runs the compiled, ``nogil`` solver on the
    chunks (each chunk is one call into compiled code that loops over its trajectories, so there is no
    Python per trajectory or per step, and the threads run truly in parallel). Only final states, first
    event times, statuses and work counters are kept.

    Parameters
    ----------
    rhs, jac, events, direction, terminal, domain, method, rtol, atol, max_steps, first_step, max_step
        As in :func:`integrate`.
    y0 : array_like, shape (m, n) or (n,)
        Initial states (a single state is shared by all parameter vectors).
    t_span : (float, float)
        Common integration interval.
    p : array_like, shape (m, n_p) or (n_p,), optional
        Parameter vectors (a single vector is shared by all initial states).
    num_threads : int, optional
        Number of worker threads (default: the number of CPUs available to the process).
    chunks_per_thread : int
        Number of chunks per thread (more chunks balance uneven trajectories better; each chunk costs
        about 0.2 ms of Python overhead).

    Returns
    -------
    BatchResult
    """
    method_code = validate_method(method)
    t0, t_end = validate_span(t_span)
    Y0 = np.asarray(y0, dtype=np.float64)
    P = np.asarray([] if p is None else p, dtype=np.float64)
    if Y0.ndim == 1:
        Y0 = Y0[None, :]
    if P.ndim == 1:
        P = P[None, :]
    if Y0.ndim != 2 or P.ndim != 2 or Y0.shape[1] == 0:
        raise InvalidArgumentError(f"y0 must have shape (m, n) or (n,), p shape (m, n_p) or (n_p,); got "
                                   f"{np.shape(y0)} and {np.shape(p)}")
    m = max(Y0.shape[0], P.shape[0])
    if Y0.shape[0] not in (1, m) or P.shape[0] not in (1, m):
        raise InvalidArgumentError(f"y0 has {Y0.shape[0]} rows and p has {P.shape[0]}; they must agree "
                                   "or one of them must be a single row")
    Y0 = np.array(np.broadcast_to(Y0, (m, Y0.shape[1])), dtype=np.float64, order="C")
    P = np.array(np.broadcast_to(P, (m, P.shape[1])), dtype=np.float64, order="C")
    if not (np.all(np.isfinite(Y0)) and np.all(np.isfinite(P))):
        raise InvalidArgumentError("y0 and p must be finite (no NaN or inf)")
    rtol_f, atol_a = validate_tolerances(rtol, atol, Y0.shape[1])
    erk = explicit_pair(method_code, rtol_f)
    max_steps_i, fs, ms = validate_steps(max_steps, first_step, max_step)
    rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr = prepare_problem(
        rhs, jac, events, n_events, direction, terminal, domain, Y0[0].copy(), P[0].copy(), t0,
        method_code)
    if domain is not None:
        for k in range(1, m):
            if not float(dom_f(t0, Y0[k].copy(), P[k].copy())) > 0:
                raise InvalidArgumentError(f"initial state {k} is outside the domain")
    n_threads = thread_count(num_threads)
    solver = compiled_solver(method_code != M_RADAU)
    args = (pointer_array(rhs_f, jac_f, ev_f, dom_f), Y0, t0, t_end, P, rtol_f, atol_a, np.empty(0), d_arr, term_arr,
            domain is not None, use_fd, method_code, False, False, max_steps_i, fs, ms)
    n_chunks = max(1, min(m, n_threads * max(1, int(chunks_per_thread))))
    edges = np.linspace(0, m, n_chunks + 1).round().astype(np.int64)
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if n_threads == 1:
        parts = [solver(*args, k0, k1, erk) for k0, k1 in bounds]
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(lambda kk: solver(*args, kk[0], kk[1], erk), bounds))
    return batch_result(parts, max_steps_i)
