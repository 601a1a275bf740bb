"""Argument preparation of the compiled integrators: validation, and adaptation of the user functions.

The user functions are jitted if they are plain Python, evaluated once at the initial point (which checks that
numba can compile them for the signatures of :mod:`memtheory.dynamics.constants` and that their values have the
right shape), and wrapped in an adapter when numba types their result differently (e.g. a non-contiguous array
or an integer). Absent optional functions are replaced by compiled defaults.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Callable, Sequence

import numpy as np
from numba import njit, types
from numba.core.registry import CPUDispatcher

from memtheory.dynamics.constants import (
    HIGH_ORDER_RTOL,
    METHOD_CODE,
    METHODS,
    M_AUTO,
    M_DOP853,
    TERM_ALL,
    TERM_FIRST,
    TERM_NONE,
)
from memtheory.dynamics.tableaux import ERK_DOP853, ERK_DOPRI5
from memtheory.errors import InvalidArgumentError

__all__ = [
    "prepare_problem",
    "as_vector",
    "validate_span",
    "validate_tolerances",
    "validate_method",
    "explicit_pair",
    "validate_steps",
    "thread_count",
]


# --------------------------------------------------------------------------------------------------
# Defaults for absent optional functions (module-level, cached; compiled on first use).
# --------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _no_events(t, y, p):
    return np.empty(0)


@njit(cache=True, nogil=True)
def _no_jac(t, y, p):
    return np.zeros((y.shape[0], y.shape[0]))


@njit(cache=True, nogil=True)
def _no_domain(t, y, p):
    return 1.0



# --------------------------------------------------------------------------------------------------
# Python layer: validation and conversion of the user functions.
# --------------------------------------------------------------------------------------------------
def _as_jitted(fn: Callable, name: str) -> CPUDispatcher:
    """Return a numba dispatcher for ``fn`` (jit-compiling a plain Python function)."""
    if isinstance(fn, CPUDispatcher):
        return fn
    if not callable(fn):
        raise InvalidArgumentError(f"{name} must be a numba-jitted function, got {type(fn).__name__}")
    return njit(fn)


def _wrap_vector(fn: CPUDispatcher) -> CPUDispatcher:
    """Adapter returning a fresh contiguous float64 vector (for functions typed differently)."""

    @njit
    def wrapped(t, y, p):
        r = fn(t, y, p)
        out = np.empty(r.shape[0])
        for i in range(r.shape[0]):
            out[i] = r[i]
        return out

    return wrapped


def _wrap_matrix(fn: CPUDispatcher) -> CPUDispatcher:
    @njit
    def wrapped(t, y, p):
        r = fn(t, y, p)
        out = np.empty((r.shape[0], r.shape[1]))
        for i in range(r.shape[0]):
            for j in range(r.shape[1]):
                out[i, j] = r[i, j]
        return out

    return wrapped


def _wrap_scalar(fn: CPUDispatcher) -> CPUDispatcher:
    @njit
    def wrapped(t, y, p):
        return float(fn(t, y, p))

    return wrapped


_ARG_TYPES = (types.float64, types.float64[::1], types.float64[::1])


def _compiled_return_type(fn: CPUDispatcher) -> Any:
    """Return type of ``fn`` compiled for ``(float64, float64[::1], float64[::1])`` (None if absent)."""
    for sig, cres in fn.overloads.items():
        if tuple(sig) == _ARG_TYPES:
            return cres.signature.return_type
    return None


#: Dispatcher -> {kind: the function to pass to the loop}: a dispatcher typed as the loop expects is passed
#: itself, one typed differently once wrapped; either is remembered, so that repeated calls (every solve of a
#: flow) neither re-inspect its overloads nor re-create (and recompile) the adapter.
_ADAPTED: "weakref.WeakKeyDictionary[CPUDispatcher, dict]" = weakref.WeakKeyDictionary()


def _prepare_function(fn: Callable, name: str, kind: str, t0: float, y0: np.ndarray,
                      p: np.ndarray) -> tuple[CPUDispatcher, Any]:
    """Jit ``fn`` if needed, evaluate it once at ``(t0, y0, p)`` and adapt its type to the signature.

    ``kind`` is ``"vector"``, ``"matrix"`` or ``"scalar"``. Returns the function to pass to the compiled
    loop and the value at the initial point. The value is computed on every call (it validates this
    problem's ``y0`` and ``p``); the adaptation is remembered per dispatcher.
    """
    disp = _as_jitted(fn, name)
    known = _ADAPTED.get(disp, {}).get(kind)
    if known is not None:
        try:
            return known, disp(float(t0), y0, p)
        except Exception as exc:  # user exceptions at this initial point
            raise InvalidArgumentError(
                f"{name}(t, y, p) could not be evaluated with t: float64, y: float64[::1] (n={y0.shape[0]}), "
                f"p: float64[::1] (len {p.shape[0]}): {exc}") from exc
    original = disp
    try:
        value = disp(float(t0), y0, p)
    except Exception as exc:  # numba typing errors, user exceptions
        raise InvalidArgumentError(
            f"{name}(t, y, p) could not be compiled or evaluated by numba with t: float64, "
            f"y: float64[::1] (n={y0.shape[0]}), p: float64[::1] (len {p.shape[0]}): {exc}") from exc
    expected = {"vector": types.float64[::1], "matrix": types.float64[:, ::1],
                "scalar": types.float64}[kind]
    rtype = _compiled_return_type(disp)
    if rtype != expected:
        wrapper = {"vector": _wrap_vector, "matrix": _wrap_matrix, "scalar": _wrap_scalar}[kind]
        disp = wrapper(disp)
        try:
            disp(float(t0), y0, p)
        except Exception as exc:
            raise InvalidArgumentError(
                f"{name}(t, y, p) must return a float64 {'array' if kind != 'scalar' else 'scalar'}; "
                f"numba typed its result as {rtype}: {exc}") from exc
    _ADAPTED.setdefault(original, {})[kind] = disp
    return disp, value


def as_vector(x: Any, name: str, allow_empty: bool = False) -> np.ndarray:
    """``x`` as an owned, contiguous, finite 1-D float64 array (non-empty unless ``allow_empty``)."""
    try:
        a = np.array(x, dtype=np.float64, order="C", copy=True)  # owned, writeable, contiguous
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be a 1-D array of floats: {exc}") from exc
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0 and not allow_empty:
        raise InvalidArgumentError(f"{name} must not be empty")
    if not np.all(np.isfinite(a)):
        raise InvalidArgumentError(f"{name} must be finite (no NaN or inf)")
    return a


def validate_span(t_span: Sequence[float]) -> tuple[float, float]:
    """``(t0, t_end)`` as floats, checked finite with ``t_end > t0`` and a finite difference."""
    try:
        t0, t_end = (float(v) for v in t_span)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"t_span must be a pair (t0, t_end) of floats: {exc}") from exc
    if not (np.isfinite(t0) and np.isfinite(t_end)):
        raise InvalidArgumentError(f"t_span must be finite, got ({t0}, {t_end})")
    if not t_end > t0:
        raise InvalidArgumentError(f"t_span must satisfy t_end > t0, got ({t0}, {t_end})")
    if not np.isfinite(t_end - t0):
        raise InvalidArgumentError(f"t_end - t0 overflows double precision: ({t0}, {t_end})")
    return t0, t_end


def validate_tolerances(rtol: float, atol: Any, n: int) -> tuple[float, np.ndarray]:
    """``(rtol, atol)`` with ``rtol >= 10 eps`` and ``atol > 0`` broadcast to shape ``(n,)``."""
    try:
        rtol = float(rtol)
        a = np.asarray(atol, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"rtol and atol must be numbers: {exc}") from exc
    if not (np.isfinite(rtol) and rtol > 0):
        raise InvalidArgumentError(f"rtol must be a finite number > 0, got {rtol}")
    if rtol < 10 * np.finfo(float).eps:
        raise InvalidArgumentError(f"rtol must be >= 10 * machine epsilon (2.2e-15), got {rtol}")
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise InvalidArgumentError(f"atol must be a scalar or have shape ({n},), got shape {a.shape}")
    if not (np.all(np.isfinite(a)) and np.all(a > 0)):
        raise InvalidArgumentError("atol must be finite and > 0")
    return rtol, np.array(a, dtype=np.float64, order="C", copy=True)


def validate_method(method: str) -> int:
    """The code of ``method`` (one of :data:`~memtheory.dynamics.constants.METHODS`)."""
    if method not in METHOD_CODE:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {METHODS}")
    return METHOD_CODE[method]


def explicit_pair(method_code: int, rtol: float) -> int:
    """The explicit pair of a run (:mod:`memtheory.dynamics.tableaux` index).

    ``"dop853"`` runs DOP853 and ``"dopri5"`` DOPRI5; ``"auto"`` starts with DOP853 when
    ``rtol < HIGH_ORDER_RTOL`` (1e-7), where its eighth order needs far fewer steps, and with DOPRI5 otherwise
    (``"radau"`` has no explicit phase; DOPRI5 is returned).
    """
    if method_code == M_DOP853 or (method_code == M_AUTO and rtol < HIGH_ORDER_RTOL):
        return ERK_DOP853
    return ERK_DOPRI5


def _event_flags(n_ev: int, direction: Any, terminal: Any) -> tuple[np.ndarray, np.ndarray]:
    if direction is None:
        d = np.zeros(n_ev, dtype=np.int64)
    else:
        d = np.asarray(direction)
        d = np.full(n_ev, int(d)) if d.ndim == 0 else d.astype(np.int64)
        if d.shape != (n_ev,) or not np.all(np.isin(d, (-1, 0, 1))):
            raise InvalidArgumentError(
                f"direction must be -1, 0, +1 or a sequence of those of length n_events={n_ev}")
    if terminal is None:
        term = np.zeros(n_ev, dtype=np.int64)
    elif isinstance(terminal, str) or np.ndim(terminal) == 0:
        term = np.full(n_ev, _terminal_flag(terminal), dtype=np.int64)
    else:
        term = np.array([_terminal_flag(v) for v in terminal], dtype=np.int64)
        if term.shape != (n_ev,):
            raise InvalidArgumentError(f"terminal must be a bool, 'all' or a sequence of those of length "
                                       f"n_events={n_ev}")
    return np.ascontiguousarray(d, dtype=np.int64), np.ascontiguousarray(term, dtype=np.int64)


def _terminal_flag(value: Any) -> int:
    """The loop's terminal flag of one event: ``"all"`` -> ``TERM_ALL``, else ``TERM_FIRST`` if true."""
    if isinstance(value, str):
        if value != "all":
            raise InvalidArgumentError(f"terminal must be a bool or 'all', got {value!r}")
        return TERM_ALL
    return TERM_FIRST if bool(value) else TERM_NONE


def prepare_problem(rhs: Callable, jac: Callable | None, events: Callable | None, n_events: int,
                    direction: Any, terminal: Any, domain: Callable | None, y0: np.ndarray, p: np.ndarray,
                    t0: float, method_code: int) -> tuple:
    """Validate and adapt the user functions at the initial point (shared by both front ends).

    Parameters
    ----------
    rhs, jac, events, n_events, direction, terminal, domain
        As in :func:`memtheory.dynamics.integrators.integrate`.
    y0, p : ndarray
        Initial state and parameters (validated float64 vectors).
    t0 : float
        Initial time.
    method_code : int
        The method's code.

    Returns
    -------
    tuple
        ``(rhs_f, jac_f, ev_f, dom_f, use_fd, direction, terminal)``: the functions to pass to the compiled
        loop (defaults for the absent ones), whether the Jacobian is by finite differences, and the per-event
        direction and terminal flags as int64 arrays.
    """
    n = y0.shape[0]
    rhs_f, f0 = _prepare_function(rhs, "rhs", "vector", t0, y0, p)
    f0 = np.asarray(f0)
    if f0.shape != (n,):
        raise InvalidArgumentError(f"rhs(t0, y0, p) has shape {f0.shape}, expected ({n},) like y0")
    if not np.all(np.isfinite(f0)):
        raise InvalidArgumentError("rhs(t0, y0, p) is not finite")
    use_fd = jac is None
    if use_fd:
        jac_f = _no_jac
    else:
        jac_f, j0 = _prepare_function(jac, "jac", "matrix", t0, y0, p)
        if np.shape(j0) != (n, n):
            raise InvalidArgumentError(f"jac(t0, y0, p) has shape {np.shape(j0)}, expected ({n}, {n})")
    if events is None:
        if n_events:
            raise InvalidArgumentError("n_events > 0 requires an events function")
        ev_f, n_ev = _no_events, 0
    else:
        ev_f, g0 = _prepare_function(events, "events", "vector", t0, y0, p)
        n_ev = int(np.shape(g0)[0]) if np.ndim(g0) == 1 else -1
        if n_ev < 0 or (n_events and n_events != n_ev):
            raise InvalidArgumentError(
                f"events(t0, y0, p) has shape {np.shape(g0)}, expected ({n_events or 'n_events'},)")
    d_arr, term_arr = _event_flags(n_ev, direction, terminal)
    if domain is None:
        dom_f = _no_domain
    else:
        dom_f, d0 = _prepare_function(domain, "domain", "scalar", t0, y0, p)
        if not float(d0) > 0:
            raise InvalidArgumentError(f"the initial state is outside the domain: domain(t0, y0, p) = {d0}")
    return rhs_f, jac_f, ev_f, dom_f, use_fd, d_arr, term_arr


def thread_count(num_threads: int | None) -> int:
    """Validated worker-thread count (default: CPUs available to this process)."""
    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        avail = os.cpu_count() or 1
    if num_threads is None:
        return avail
    if int(num_threads) != num_threads or int(num_threads) < 1:
        raise InvalidArgumentError(f"num_threads must be a positive integer, got {num_threads}")
    return int(num_threads)


def validate_steps(max_steps: int, first_step: float | None, max_step: float) -> tuple[int, float, float]:
    """``(max_steps, first_step, max_step)`` checked; ``first_step = 0.0`` stands for the automatic choice."""
    if int(max_steps) < 1:
        raise InvalidArgumentError(f"max_steps must be >= 1, got {max_steps}")
    fs = 0.0 if first_step is None else float(first_step)
    if first_step is not None and not (np.isfinite(fs) and fs > 0):
        raise InvalidArgumentError(f"first_step must be finite and > 0, got {first_step}")
    ms = float(max_step)
    if not ms > 0:
        raise InvalidArgumentError(f"max_step must be > 0, got {max_step}")
    return int(max_steps), fs, ms

