"""Numba-compiled special functions and a compiled adaptive quadrature.

Every public special function here is an ``@numba.njit`` function compiled eagerly for float64
scalars (integer arguments are converted), cached on disk, and callable both from Python and from
other compiled code. Nothing here raises: an argument outside the domain gives
``nan`` (documented per function); the Python-level callers of the package validate their input first.

Generated numba source calls these functions as ``_sp.<name>`` after ``import memtheory.compile.special as
_sp``; :mod:`memtheory.compile.registry` says which SymPy function prints as which name.

Modules
-------
:mod:`~memtheory.compile.special.erf`
    ``erfcx`` (scaled complementary error function) and ``log_erfc``.
:mod:`~memtheory.compile.special.gamma`
    ``upper_gamma``, ``scaled_upper_gamma`` and ``log_upper_gamma`` for any real order.
:mod:`~memtheory.compile.special.airy`
    ``airy_ai`` and ``airy_ai_prime``.
:mod:`~memtheory.compile.special.moments`
    ``gauss_moment`` and ``finite_laplace``, the Laplace moments of a Gaussian bump and of a window.
:mod:`~memtheory.compile.special.quadrature`
    ``gauss_kronrod`` and ``laplace_quad`` (adaptive Gauss-Kronrod 10/21) and their ``IER_*`` status codes.
:mod:`~memtheory.compile.special.doubledouble`
    Double-double arithmetic, used by the Airy functions and by ``erfcx``.
:mod:`~memtheory.compile.special.compilation`
    The decorator that compiles the public functions and fills their shared docstring fragments.
:mod:`~memtheory.compile.special.constants`
    Floating-point constants shared by the modules above.
:mod:`~memtheory.compile.special.tables`
    mpmath generators of the embedded coefficient tables (not compiled; the tests audit the literals with them).

Each module's docstring gives its algorithms and their accuracy.

Accuracy
--------
The "measured" errors quoted in the modules are maxima over ~10^4 random points against mpmath at 40 digits;
``tests/test_special.py`` asserts the (10-100 times looser) contract tolerances: relative 2e-14 for
``erfcx``, 1e-14 for ``log_erfc``, 1e-13 for the incomplete gamma functions, 1e-12 relative / 1e-14
absolute near the zeros for Airy, and 1e-10 for the quadratures.
"""

from __future__ import annotations

from . import quadrature
from .airy import airy_ai, airy_ai_prime
from .erf import erfcx, log_erfc
from .gamma import log_upper_gamma, scaled_upper_gamma, upper_gamma
from .moments import finite_laplace, gauss_moment
from .quadrature import (
    IER_INVALID,
    IER_LIMIT,
    IER_NONFINITE,
    IER_OK,
    IER_ROUNDOFF,
    IER_TAIL,
    gauss_kronrod,
    laplace_quad,
)

__all__ = [
    "erfcx",
    "log_erfc",
    "upper_gamma",
    "scaled_upper_gamma",
    "log_upper_gamma",
    "airy_ai",
    "airy_ai_prime",
    "gauss_moment",
    "finite_laplace",
    "gauss_kronrod",
    "laplace_quad",
    *(name for name in quadrature.__all__ if name.startswith("IER_")),  # the quadrature status codes
]
