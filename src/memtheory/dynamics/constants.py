"""Codes and signatures shared by the compiled integration loop and its Python front end.

The loop (:mod:`memtheory.dynamics.loop`) reports why it stopped as a *reason* code; the front end maps it to
the public ``status`` (:data:`STATUS`) and a message (:mod:`memtheory.dynamics.results`). The *rejection* codes
say why the last trial step was refused, the ``C_*`` indices address the controller scratch vector, and the
numba signatures fix the types of the user functions, which the loop receives as first-class functions.

numba freezes module-level numbers into the compiled code, so this module is part of the on-disk cache key of
the integrator (:mod:`memtheory.dynamics.cache`).
"""

from __future__ import annotations

from numba import types

__all__ = [
    "METHODS",
    "METHOD_CODE",
    "M_AUTO",
    "M_DOPRI",
    "M_RADAU",
    "M_DOP853",
    "HIGH_ORDER_RTOL",
    "RHS_SIGNATURE",
    "JAC_SIGNATURE",
    "DOMAIN_SIGNATURE",
    "RHS_T",
    "JAC_T",
    "DOM_T",
    "CHUNK_ARGS",
    "R_END",
    "R_EVENT",
    "R_MAX_STEPS",
    "R_STEP_SMALL",
    "R_NONFINITE",
    "R_DOMAIN",
    "R_DOMAIN_SMALL",
    "R_SINGULAR",
    "R_NEWTON",
    "STATUS",
    "TERM_NONE",
    "TERM_FIRST",
    "TERM_ALL",
    "REJ_NONE",
    "REJ_ERROR",
    "REJ_NONFINITE",
    "REJ_SINGULAR",
    "REJ_DOMAIN",
    "REJ_NEWTON",
    "C_FACOLD",
    "C_REJ",
    "C_HNEW",
    "C_ERR",
    "C_HLAMB",
    "C_NITER",
    "C_RATE",
    "C_SAFETY",
    "CTL_SIZE",
    "NCOUNT",
    "NACC",
    "NREJ",
]

#: Accepted values of ``method``.
METHODS = ("auto", "dopri5", "dop853", "radau")
#: ``method`` name -> code passed to the loop.
METHOD_CODE = {"auto": 0, "dopri5": 1, "radau": 2, "dop853": 3}
#: ``M_DOPRI`` is also the loop's mode "explicit pair" (which pair: the loop's ``erk`` argument).
M_AUTO, M_DOPRI, M_RADAU, M_DOP853 = 0, 1, 2, 3
#: ``method="auto"`` starts with DOP853 below this ``rtol``, with DOPRI5 otherwise.
HIGH_ORDER_RTOL = 1e-7

_F8 = types.float64
_V = types.float64[::1]
#: numba signature of ``rhs`` and ``events``.
RHS_SIGNATURE = _V(_F8, _V, _V)
#: numba signature of ``jac``.
JAC_SIGNATURE = types.float64[:, ::1](_F8, _V, _V)
#: numba signature of ``domain``.
DOMAIN_SIGNATURE = _F8(_F8, _V, _V)
#: First-class function types of the user functions.
RHS_T = types.FunctionType(RHS_SIGNATURE)
JAC_T = types.FunctionType(JAC_SIGNATURE)
DOM_T = types.FunctionType(DOMAIN_SIGNATURE)

#: The single signature the entry point :func:`memtheory.dynamics.loop.solve_chunk` is compiled for.
#: The user functions arrive as the int64 addresses of :func:`memtheory.dynamics.pointers.pointer_array`.
CHUNK_ARGS = (types.int64[::1], types.float64[:, ::1], _F8, _F8, types.float64[:, ::1],
              _F8, _V, _V, types.int64[::1], types.int64[::1], types.boolean, types.boolean, types.int64,
              types.boolean, types.boolean, types.int64, _F8, _F8, types.int64, types.int64, types.int64)

# Termination reasons of the compiled loop (mapped to status and message in Python).
R_END = 0
R_EVENT = 1
R_MAX_STEPS = 2
R_STEP_SMALL = 3
R_NONFINITE = 4
R_DOMAIN = 5
R_DOMAIN_SMALL = 6
R_SINGULAR = 7
R_NEWTON = 8
#: Termination reason -> public status (0 end reached, 1 terminal event, -1 failure, -2 left the domain).
STATUS = {R_END: 0, R_EVENT: 1, R_MAX_STEPS: -1, R_STEP_SMALL: -1, R_NONFINITE: -1, R_DOMAIN: -2,
          R_DOMAIN_SMALL: -2, R_SINGULAR: -1, R_NEWTON: -1}

# Terminal flags of an event: it never stops the run; it stops it at its first occurrence; it stops it once every
# event flagged TERM_ALL has occurred (at the first occurrence of the last of them).
TERM_NONE = 0
TERM_FIRST = 1
TERM_ALL = 2

# Why the last trial step was rejected.
REJ_NONE = 0
REJ_ERROR = 1
REJ_NONFINITE = 2
REJ_SINGULAR = 3
REJ_DOMAIN = 4
REJ_NEWTON = 5

# Controller scratch vector ``ctl`` indices.
C_FACOLD = 0  # dopri: previous error (PI controller)
C_REJ = 1  # dopri: 1 if the last trial was rejected
C_HNEW = 2  # proposed next step
C_ERR = 3  # error norm of the accepted trial
C_HLAMB = 4  # dopri: stiffness indicator h |lambda|
C_NITER = 5  # radau: Newton iterations
C_RATE = 6  # radau: Newton contraction rate
C_SAFETY = 7  # radau: safety factor
CTL_SIZE = 8

# Counter vector layout returned by the loop: nfev, njev, nlu (indices in memtheory.dynamics.radau), naccept,
# nreject.
NCOUNT = 5
NACC = 3
NREJ = 4
