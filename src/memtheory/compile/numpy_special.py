"""Vectorised float64 (numpy) implementations of the special functions of :mod:`memtheory.symbolic.functions`.

Where scipy has the function it is used directly (``scipy.special.erfcx``); the others loop over the broadcast
arguments with the compiled scalar functions of :mod:`memtheory.compile.special`, which is imported on first
call only (loading its machine code is not needed to build a numpy callable). :mod:`memtheory.compile.registry`
maps the SymPy functions to these for :func:`memtheory.compile.codegen.numpy_function`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import airy

__all__ = ["np_scaled_uppergamma", "np_gauss_moment", "np_finite_laplace", "np_heaviside", "np_airyai"]


def np_scaled_uppergamma(a, x) -> np.ndarray | float:
    """``exp(x) x^(-a) Gamma(a, x)`` elementwise over the broadcast ``a`` and ``x``.

    Parameters
    ----------
    a, x : array_like
        Orders and arguments (``x > 0``).

    Returns
    -------
    ndarray or float
        The values (a float for scalar input).
    """
    from . import special

    a_arr, x_arr = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    out = np.empty(a_arr.shape)
    for idx in np.ndindex(a_arr.shape):
        out[idx] = special.scaled_upper_gamma(float(a_arr[idx]), float(x_arr[idx]))
    return out if out.shape else float(out)


def _vectorised(name: str) -> Callable[..., np.ndarray | float]:
    """Elementwise numpy version of the compiled ``special.<name>(int, float, ...)``."""

    def call(*args):
        from . import special

        fn = getattr(special, name)
        arrays = np.broadcast_arrays(*[np.asarray(a, float) for a in args])
        out = np.empty(arrays[0].shape)
        for idx in np.ndindex(out.shape):
            vals = [float(a[idx]) for a in arrays]
            out[idx] = fn(int(vals[0]), *vals[1:])
        return out if out.shape else float(out)

    call.__name__ = f"np_{name}"
    call.__qualname__ = f"np_{name}"
    call.__doc__ = f"Elementwise :func:`memtheory.compile.special.{name}` (first argument an integer)."
    return call


#: ``J_k(z)`` elementwise (:func:`memtheory.compile.special.gauss_moment`).
np_gauss_moment = _vectorised("gauss_moment")
#: ``F_j(s, w)`` elementwise (:func:`memtheory.compile.special.finite_laplace`).
np_finite_laplace = _vectorised("finite_laplace")


def np_heaviside(x, h0=0.5) -> np.ndarray:
    """Heaviside step with value ``h0`` at 0 (``numpy.heaviside``).

    Parameters
    ----------
    x : array_like
        Arguments.
    h0 : array_like, default 0.5
        Value at ``x = 0``.

    Returns
    -------
    ndarray
        1, 0 or ``h0`` elementwise.
    """
    return np.heaviside(x, h0)


def np_airyai(x) -> np.ndarray:
    """Airy function ``Ai(x)`` (``scipy.special.airy``).

    Parameters
    ----------
    x : array_like
        Arguments.

    Returns
    -------
    ndarray
        ``Ai(x)`` elementwise.
    """
    return airy(x)[0]
