"""How the public special functions are compiled: eagerly for one float64 signature, cached on disk.

:func:`special_function` compiles the public functions of a family that share a signature and fills the family's
shared docstring fragments in (:func:`memtheory.compile.docstrings.fill_doc`); :data:`real_function` is the one
for the functions of one real argument (``erfcx``, ``log_erfc``, ``airy_ai``, ``airy_ai_prime``), the incomplete
gamma functions have theirs in :mod:`~memtheory.compile.special.gamma`.
"""

from __future__ import annotations

from collections.abc import Callable

import numba

from ..docstrings import fill_doc

__all__ = ["special_function", "real_function", "REAL_ARGUMENT"]

#: Parameters section of a function of one real argument ``x``.
REAL_ARGUMENT = """
Parameters
----------
x : float
    Real argument.
"""


def special_function(signature: str, **fragments: str) -> Callable[[Callable], Callable]:
    """Decorator compiling a public special function eagerly for ``signature``, cached on disk.

    Parameters
    ----------
    signature : str
        numba signature, e.g. ``"float64(float64)"`` (integer arguments are then converted by the dispatcher).
    **fragments : str
        Docstring fragments by placeholder name, filled in before compiling
        (:func:`~memtheory.compile.docstrings.fill_doc`).

    Returns
    -------
    callable
        A decorator turning a Python function into a numba dispatcher, callable from Python and compiled code.
    """

    def decorate(func: Callable) -> Callable:
        return numba.njit(signature, cache=True)(fill_doc(**fragments)(func))

    return decorate


#: Decorator of a special function of one real argument: ``float64(float64)``, its ``{parameters}`` filled
#: with :data:`REAL_ARGUMENT`.
real_function = special_function("float64(float64)", parameters=REAL_ARGUMENT)
