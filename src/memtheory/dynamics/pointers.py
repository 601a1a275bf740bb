"""Function pointers of the user functions, resolved once per function and handed to the compiled loop as integers.

numba passes a dispatcher argument to a function compiled for a first-class function type by *unboxing* it on
every call: it looks up the compile result for the signature and the addresses of its two entry points (the
C wrapper and the numba-convention function), which costs tens of microseconds per function and call -- more
than a whole short integration. Here the two addresses are looked up once per (dispatcher, signature)
(:func:`function_pointers`, cached) and passed to the entry point as an ``int64`` array; inside compiled code
:func:`rhs_from_address`, :func:`jac_from_address` and :func:`domain_from_address` rebuild the first-class
function values from them. Calls go through the numba-convention address (exactly as after numba's own
unboxing), so exceptions raised in a user function still propagate to the caller.

The addresses stay valid as long as the dispatcher lives: :func:`function_pointers` keeps a reference to it,
and the callers hold the dispatchers for the duration of the call.
"""

from __future__ import annotations

import weakref

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic

from memtheory.dynamics.constants import DOM_T, JAC_T, RHS_T

__all__ = ["function_pointers", "pointer_array", "rhs_from_address", "jac_from_address", "domain_from_address"]

_CACHE: "weakref.WeakKeyDictionary[CPUDispatcher, dict]" = weakref.WeakKeyDictionary()


def function_pointers(disp: CPUDispatcher, ftype: types.FunctionType) -> tuple[int, int]:
    """``(c_address, jit_address)`` of ``disp`` compiled for the signature of ``ftype`` (cached per dispatcher).

    Parameters
    ----------
    disp : numba.core.registry.CPUDispatcher
        A jitted function typed as ``ftype.signature`` for these argument types (the front end evaluates the
        user functions once first; a dispatcher not yet compiled for them is compiled here).
    ftype : numba.types.FunctionType
        One of :data:`~memtheory.dynamics.constants.RHS_T`, ``JAC_T``, ``DOM_T``.

    Returns
    -------
    (int, int)
        The address of numba's C wrapper and of the numba-calling-convention function.
    """
    per_disp = _CACHE.get(disp)
    if per_disp is None:
        per_disp = _CACHE[disp] = {}
    addresses = per_disp.get(id(ftype))  # (hashing numba types is slow; the three types are module constants)
    if addresses is None:
        key = ftype.signature.args
        if key not in disp.overloads:  # e.g. a default for an absent function, never called from Python
            disp.compile(ftype.signature)
        cres = disp.overloads[key]
        lib = cres.library
        addresses = per_disp[id(ftype)] = (lib.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name),
                                           lib.get_pointer_to_function(cres.fndesc.llvm_func_name))
    return addresses


def pointer_array(rhs: CPUDispatcher, jac: CPUDispatcher, events: CPUDispatcher,
                  domain: CPUDispatcher) -> np.ndarray:
    """The ``int64[8]`` argument of the entry point: both addresses of ``rhs``, ``jac``, ``events``, ``domain``."""
    out = []
    for disp, ftype in ((rhs, RHS_T), (jac, JAC_T), (events, RHS_T), (domain, DOM_T)):
        out.extend(function_pointers(disp, ftype))
    return np.array(out, dtype=np.int64)


def _builder(ftype):
    def codegen(context, builder, signature, args):
        vp = ir.IntType(8).as_pointer()
        sfunc = cgutils.create_struct_proxy(ftype)(context, builder)
        sfunc.c_addr = builder.inttoptr(args[0], vp)
        sfunc.py_addr = vp(None)
        sfunc.jit_addr = builder.inttoptr(args[1], vp)
        return sfunc._getvalue()

    return codegen


@intrinsic
def rhs_from_address(typingctx, c_addr, jit_addr):
    """First-class ``rhs``/``events`` function from its two addresses (compiled code only)."""
    return RHS_T(types.int64, types.int64), _builder(RHS_T)


@intrinsic
def jac_from_address(typingctx, c_addr, jit_addr):
    """First-class ``jac`` function from its two addresses (compiled code only)."""
    return JAC_T(types.int64, types.int64), _builder(JAC_T)


@intrinsic
def domain_from_address(typingctx, c_addr, jit_addr):
    """First-class ``domain`` function from its two addresses (compiled code only)."""
    return DOM_T(types.int64, types.int64), _builder(DOM_T)
