"""Two tiers of one generated float64 module: the Python interpreter first, numba's machine code once it is hot.

A generated module (:func:`memtheory.compile.codegen.load_module`) is numba code, and numba compiles a function
on its first call: seconds per module in a fresh environment, while a command that evaluates a closed form a
handful of times (``memtheory loss``, ``memtheory laplace``) needs microseconds of arithmetic. So the SAME source
is also run by the Python interpreter (:func:`interpreted_module`: numba's decorators are no-ops there), and a
:class:`TieredModule` calls the interpreted functions until their work passes a budget, then the compiled ones.

The two tiers give the same float64 numbers, bit for bit: the same operations in the same order (numba does not
reassociate or fuse floating-point operations without ``fastmath``) and the same elementary functions -- the
interpreted ``math`` is :data:`NUMBA_MATH`, which calls the C functions that numba's compiled code calls (numba's
own ``gamma``, ``lgamma``, ``erf``, ... and the C library's ``exp``, ``pow``, ...; CPython's ``math`` has its own
``lgamma`` and ``gamma``, which differ in the last bits). Where the interpreter and numba would *behave*
differently -- a float division by zero, an overflow (Python raises, numba returns ``inf``), a negative number
raised to a fractional power (Python's result is complex) -- the interpreted call raises, and the call is redone
by the compiled tier, which decides (its result, or its exception); only a float division by zero, where numba
raises the same ``ZeroDivisionError``, is raised at once. The test suite compares the tiers on the kernel
families and on the loss assembly.

``MEMTHEORY_COMPILE=compiled`` in the environment runs the compiled tier from the first call (the behaviour
before the tiers existed; :mod:`benchmarks.bench_coldstart` compares the two).
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable, Sequence
from types import ModuleType, SimpleNamespace

import numpy as np

from ..errors import InvalidArgumentError
from . import codegen

__all__ = ["COMPILE_ENV", "COMPILE_MODES", "NUMBA_MATH", "TieredModule", "compile_mode", "interpreted_module", "no_jit",
           "real_abs"]

#: Environment variable choosing how generated float64 code runs: ``tiered`` (default) or ``compiled``.
COMPILE_ENV = "MEMTHEORY_COMPILE"
#: Its values: interpreted until hot, then compiled; or compiled from the first call.
COMPILE_MODES = ("tiered", "compiled")


def compile_mode() -> str:
    """The mode in :data:`COMPILE_ENV` (read on every call; unset or empty means ``tiered``).

    Raises
    ------
    InvalidArgumentError
        If the variable holds something else.
    """
    mode = os.environ.get(COMPILE_ENV, "").strip().lower() or "tiered"
    if mode not in COMPILE_MODES:
        raise InvalidArgumentError(f"${COMPILE_ENV} must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
    return mode


# ------------------------------------------------------------------------------------- numba's elementary functions
_UNARY = ("acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "erf", "erfc", "exp", "expm1", "fabs",
          "gamma", "lgamma", "log", "log10", "log1p", "log2", "sin", "sinh", "sqrt", "tan", "tanh")
_BINARY = ("atan2", "fmod", "pow")


def _c_function(name: str, nargs: int) -> Callable | None:
    """The C function numba's compiled code calls for ``math.<name>`` (numba's helper library binds the C math
    functions it knows into LLVM's symbol table; the others resolve to the process's C library)."""
    from numba import _helperlib

    proto = ctypes.CFUNCTYPE(ctypes.c_double, *([ctypes.c_double] * nargs))
    address = _helperlib.c_helpers.get(name)
    if address is None:
        try:
            address = ctypes.cast(getattr(ctypes.CDLL(None), name), ctypes.c_void_p).value
        except AttributeError:  # pragma: no cover - every C99 library has these
            return None
    return proto(address)


def _numba_math() -> SimpleNamespace:
    functions = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    for names, nargs in ((_UNARY, 1), (_BINARY, 2)):
        for name in names:
            fn = _c_function(name, nargs)
            if fn is not None:
                functions[name] = fn
    return SimpleNamespace(**functions)


#: ``math`` as numba's compiled code evaluates it (C functions called through ctypes; constants from ``math``).
NUMBA_MATH = _numba_math()


def real_abs(x):
    """``abs`` of a real number for the interpreted tier; a complex one (Python's ``(-2.0)**0.5``, ``nan`` in numba)
    raises ``TypeError``, so that the compiled tier decides."""
    if isinstance(x, complex):
        raise TypeError("complex intermediate (numba computes nan here)")
    return abs(x)


def no_jit(*args, **kwargs):
    """numba's ``njit`` as a no-op for the interpreted tier: ``@njit`` and ``@njit(cache=True, ...)`` return the
    function."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


_INTERPRETED_HEADER = "from memtheory.compile.tiers import NUMBA_MATH as math, no_jit as njit, real_abs as abs\n"


def interpreted_module(source: str, name: str) -> ModuleType:
    """Import a generated module's ``source`` for the Python interpreter, numba's decorators as no-ops.

    Parameters
    ----------
    source : str
        The full module source (:func:`memtheory.compile.codegen.numba_source`): its ``import math`` and
        ``from numba import njit`` lines are replaced by :data:`NUMBA_MATH`, :func:`no_jit` and :func:`real_abs`.
    name : str
        The compiled module's name; the interpreted one is ``<name>_interpreted``, written next to it in the
        cache directory (:func:`memtheory.compile.codegen.import_source`: its bytecode is cached by Python, which
        matters for the long rounding-error bounds of special functions).

    Returns
    -------
    module
        The module's functions and constants.
    """
    lines = [line for line in source.splitlines() if line not in ("import math", "from numba import njit")]
    return codegen.import_source(_INTERPRETED_HEADER + "\n".join(lines) + "\n", f"{name}_interpreted")


#: What makes the interpreted tier hand a call to the compiled one (see the module docstring).
_HAND_OVER = (ArithmeticError, ValueError, TypeError)


class TieredModule:
    """One generated module called through two tiers: interpreted while cheap, compiled once it is hot.

    Parameters
    ----------
    body : str
        The module's body, as for :func:`memtheory.compile.codegen.load_module`.
    tag : str
        The compiled module's name tag (its file name in the cache directory).
    budget : int
        Units of work (the caller's measure: evaluations of a closed form, element pairs of the loss) the
        interpreted tier may run in this process before every call goes to the compiled tier.

    Notes
    -----
    A function the compiled tier already holds machine code for in this process (its dispatcher has a
    signature: the module was compiled or loaded from numba's disk cache, by this object or by other code that
    loaded the same module) is always called compiled.
    """

    def __init__(self, body: str, tag: str, budget: int):
        self.body, self.tag = body, tag
        self.source = codegen.numba_source(body)
        self.name = codegen.module_name(self.source, tag)
        self.budget = int(budget)
        #: Work run by the interpreted tier so far.
        self.work = 0

    @property
    def compiled(self) -> ModuleType:
        """The numba module (written and imported on first use; numba compiles each function at its first call)."""
        return codegen.load_module(self.body, self.tag)

    @property
    def interpreted(self) -> ModuleType:
        """The same source run by the Python interpreter."""
        return interpreted_module(self.source, self.name)

    def tier(self, name: str, work: int) -> str:
        """``"interpreted"`` or ``"compiled"``: where a call of ``name`` costing ``work`` units runs now."""
        if compile_mode() == "compiled" or self.work + work > self.budget:
            return "compiled"
        loaded = codegen.loaded_module(self.name)
        if loaded is not None and getattr(loaded, name).signatures:
            return "compiled"
        return "interpreted"

    def call(self, name: str, args: Sequence, work: int, outputs: Sequence[int] = ()):
        """``name(*args)`` in the tier :meth:`tier` chooses.

        Parameters
        ----------
        name : str
            A function of the module.
        args : sequence
            Its arguments.
        work : int
            The call's cost in the caller's units (counted against the budget when interpreted).
        outputs : sequence of int
            Positions of the arrays the function writes into: restored before the compiled tier redoes a call
            the interpreted tier gave up on (they may be accumulated into, ``+=``).
        """
        if self.tier(name, work) == "compiled":
            return getattr(self.compiled, name)(*args)
        self.work += work
        saved = [(i, np.array(args[i], copy=True)) for i in outputs]
        try:
            with np.errstate(divide="raise", over="ignore", under="ignore", invalid="ignore"):
                return getattr(self.interpreted, name)(*args)
        except _HAND_OVER as exc:
            if _float_division_by_zero(exc):  # numba raises the same (its Python error model): nothing to compile
                raise ZeroDivisionError(f"{self.name}.{name}: float division by zero") from None
            for i, copy in saved:
                args[i][...] = copy
            return getattr(self.compiled, name)(*args)


def _float_division_by_zero(exc: BaseException) -> bool:
    """Whether the interpreted tier stopped at a float division ``x / 0.0`` (CPython's ``ZeroDivisionError`` or
    numpy's ``FloatingPointError`` for its scalars), where numba's compiled code raises ``ZeroDivisionError`` too.
    Anything else, a zero raised to a negative power included (numba: ``inf``), goes to the compiled tier."""
    message = str(exc)
    if type(exc) is ZeroDivisionError:
        return message == "float division by zero"
    return (isinstance(exc, FloatingPointError) and message.startswith("divide by zero encountered in")
            and message.endswith(" divide"))
