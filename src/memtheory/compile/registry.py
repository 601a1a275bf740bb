"""The special functions known to the compile layer: one table, from which every backend is derived.

Each :class:`SpecialFunction` says, for one SymPy function, how the numba printer calls it
(:class:`memtheory.compile.codegen.NumbaPrinter` gets one ``_print_<name>`` method per entry), which mpmath and
numpy callables replace it in :func:`~memtheory.compile.codegen.mpmath_function` and
:func:`~memtheory.compile.codegen.numpy_function`, and which ball implementation (python-flint's Arb,
:mod:`memtheory.compile.arb_special`) the certified backend :mod:`memtheory.compile.arb` calls. Adding a special
function means adding its SymPy class (:mod:`memtheory.symbolic.functions`), its compiled implementation
(:mod:`memtheory.compile.special`) and one entry here; an entry without a rigorous ball implementation keeps
``arb=None``, and certified mode then refuses expressions that use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath as mp
import scipy.special

from . import arb_special as abs_
from . import mpmath_special as mps
from . import numpy_special as nps

__all__ = ["SpecialFunction", "SPECIAL_FUNCTIONS", "special_function", "mpmath_namespace", "numpy_namespace",
           "arb_namespace"]

_SP_PREFIX = "_sp."


@dataclass(frozen=True)
class SpecialFunction:
    """How one SymPy function is evaluated by each backend.

    Parameters
    ----------
    sympy : str
        Name of the SymPy function class (``type(expr).__name__``), also its name in the lambdify namespaces.
    numba : str
        Callee in generated numba source: ``_sp.<name>`` for a function of :mod:`memtheory.compile.special`,
        ``math.<name>``, or a helper defined by the generated module's header (``_heaviside``).
    nargs : int
        Number of leading arguments passed to the numba callee (an entry may pass fewer than SymPy holds).
    mpmath : callable or None, default None
        Arbitrary-precision implementation; None keeps lambdify's own mpmath translation.
    numpy : callable or None, default None
        Vectorised float64 implementation; None keeps lambdify's own scipy/numpy translation.
    arb : callable or None, default None
        Ball implementation (``flint.arb``/``flint.acb`` arguments, keyword ``analytic``; see
        :mod:`memtheory.compile.arb_special`) for certified enclosures; None: no rigorous implementation, and
        :mod:`memtheory.compile.arb` refuses the function with a
        :class:`~memtheory.errors.CertificationError`.
    int_args : tuple of int, default ()
        Positions of arguments printed as Python integer literals (orders of moments); they must be SymPy
        integers in the expression.
    accuracy : tuple of float, default (1e-15, 0.0)
        ``(relative, absolute)`` accuracy contract of the float64 implementation (``|error| <= relative |value| +
        absolute``; the tests of :mod:`memtheory.compile.special` assert it): what
        :func:`memtheory.compile.rounding.rounding_error` charges for one call.
    """

    sympy: str
    numba: str
    nargs: int
    mpmath: Callable | None = None
    numpy: Callable | None = None
    arb: Callable | None = None
    int_args: tuple[int, ...] = ()
    accuracy: tuple[float, float] = (1e-15, 0.0)

    @property
    def special_name(self) -> str | None:
        """Name of the numba implementation in :mod:`memtheory.compile.special`, or None if it lives elsewhere."""
        return self.numba[len(_SP_PREFIX):] if self.numba.startswith(_SP_PREFIX) else None

    def numba_call(self, printed_args: list[str]) -> str:
        """Numba source of a call, given the printed arguments (only the first ``nargs`` are used).

        Parameters
        ----------
        printed_args : list of str
            Source text of the arguments.

        Returns
        -------
        str
            ``callee(arg0, arg1, ...)``.
        """
        return f"{self.numba}({', '.join(printed_args[: self.nargs])})"


#: Every special function the compile layer knows: those of :mod:`memtheory.symbolic.functions`, then SymPy's.
SPECIAL_FUNCTIONS: tuple[SpecialFunction, ...] = (
    SpecialFunction("erfcx", "_sp.erfcx", 1, mps.mp_erfcx, scipy.special.erfcx, abs_.arb_erfcx,
                    accuracy=(2e-14, 0.0)),
    SpecialFunction("scaled_uppergamma", "_sp.scaled_upper_gamma", 2, mps.mp_scaled_uppergamma,
                    nps.np_scaled_uppergamma, abs_.arb_scaled_uppergamma, accuracy=(1e-13, 0.0)),
    SpecialFunction("gauss_moment", "_sp.gauss_moment", 2, mps.mp_gauss_moment, nps.np_gauss_moment,
                    abs_.arb_gauss_moment, int_args=(0,), accuracy=(1e-13, 0.0)),
    SpecialFunction("finite_laplace", "_sp.finite_laplace", 3, mps.mp_finite_laplace, nps.np_finite_laplace,
                    abs_.arb_finite_laplace, int_args=(0,), accuracy=(1e-13, 0.0)),
    SpecialFunction("airyai", "_sp.airy_ai", 1, mp.airyai, nps.np_airyai, abs_.arb_airyai, accuracy=(1e-12, 1e-14)),
    SpecialFunction("Heaviside", "_heaviside", 2, mps.mp_heaviside, nps.np_heaviside, abs_.arb_heaviside,
                    accuracy=(0.0, 0.0)),
    SpecialFunction("uppergamma", "_sp.upper_gamma", 2, arb=abs_.arb_uppergamma, accuracy=(1e-13, 0.0)),
    SpecialFunction("gamma", "math.gamma", 1, arb=abs_.arb_gamma),
    SpecialFunction("loggamma", "math.lgamma", 1, arb=abs_.arb_loggamma),
    SpecialFunction("erfc", "math.erfc", 1, mps.mp_erfc, arb=abs_.arb_erfc),
)

_BY_NAME = {fn.sympy: fn for fn in SPECIAL_FUNCTIONS}


def special_function(name: str) -> SpecialFunction:
    """The registry entry of the SymPy function called ``name``.

    Parameters
    ----------
    name : str
        SymPy class name, e.g. ``"erfcx"``.

    Returns
    -------
    SpecialFunction
        Its entry.

    Raises
    ------
    KeyError
        If the function is not in the registry.
    """
    return _BY_NAME[name]


def _namespace(backend: str) -> dict[str, Callable]:
    """The lambdify namespace of one backend: SymPy name -> that backend's implementation.

    Parameters
    ----------
    backend : {"mpmath", "numpy", "arb"}
        The :class:`SpecialFunction` field that holds the backend's implementations.

    Returns
    -------
    dict
        One item per entry with an implementation for ``backend`` (the others keep lambdify's own translation).
    """
    return {fn.sympy: getattr(fn, backend) for fn in SPECIAL_FUNCTIONS if getattr(fn, backend) is not None}


def mpmath_namespace() -> dict[str, Callable]:
    """The lambdify namespace of the mpmath backend: SymPy name -> :attr:`SpecialFunction.mpmath`, where set."""
    return _namespace("mpmath")


def numpy_namespace() -> dict[str, Callable]:
    """The lambdify namespace of the numpy backend: SymPy name -> :attr:`SpecialFunction.numpy`, where set."""
    return _namespace("numpy")


def arb_namespace() -> dict[str, Callable]:
    """The ball implementations of the certified backend: SymPy name -> :attr:`SpecialFunction.arb`, where set
    (a registered function missing here has no rigorous implementation)."""
    return _namespace("arb")
