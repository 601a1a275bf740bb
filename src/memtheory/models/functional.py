"""Linear functionals ``H_t(x) = \\int_0^\\infty rho(s) x(t - s) ds`` on sampled inputs (docs/theory.md §1).

Sampled, a linear functional is a causal discrete convolution ``y_k = sum_{j<=k} g_j x_{k-j}`` (zero input
before ``k = 0``). :func:`causal_convolution` computes it by FFT; it is the one convolution of the package
(the LF datasets of :mod:`memtheory.training` and the test-set errors of :mod:`memtheory.theory.stability`
call it too). The weights ``g_j`` follow one of the :data:`CONVENTIONS`:

* ``"reference"``: ``g_j = rho(j dt)``, i.e. ``y_k = sum_{j<=k} rho(j dt) x_{k-j}`` -- the reference code of
  [IAT] (no ``dt`` weight);
* ``"quadrature"``: ``g_j = dt rho(j dt)``, i.e. ``y_k = dt sum_{j<=k} rho(j dt) x_{k-j}`` -- the left Riemann
  sum of the integral;
* ``"zoh"``: ``g_j = \\int_{j dt}^{(j+1) dt} rho``, i.e. ``y_k = sum_{j<=k} x_{k-j} \\int_{j dt}^{(j+1) dt} rho``
  -- exact for inputs held constant on each sample interval, the output at ``(k+1) dt``; it matches
  :meth:`LinearRNN.simulate` with ``method="zoh"``. It needs the integral of ``rho`` (a Kernel's
  ``step_response``), not only its samples.

:data:`SAMPLED_CONVENTIONS` are those that need only the samples ``rho(j dt)`` (any vectorised callable).

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks.
ICLR 2024 (arXiv 2305.19190).
"""

from __future__ import annotations

import numpy as np

from ..display import Displayable
from .._validation import as_real, check_choice
from ..errors import InvalidArgumentError
from ..kernels.kernel import Kernel

__all__ = ["CONVENTIONS", "SAMPLED_CONVENTIONS", "LinearFunctional", "causal_convolution"]

CONVENTIONS: tuple[str, ...] = ("reference", "quadrature", "zoh")
"""Weights ``g_j`` of a sampled linear functional (module docstring): samples, ``dt`` times samples, step integrals."""

SAMPLED_CONVENTIONS: tuple[str, ...] = ("reference", "quadrature")
"""The :data:`CONVENTIONS` whose weights need only the samples ``rho(j dt)``."""


def causal_convolution(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Causal discrete convolution ``y_k = sum_{j<=k} g_j x_{k-j}`` by FFT, zero input before ``k = 0``.

    Parameters
    ----------
    x : ndarray (T,), (n, T) or (n, T, d)
        Inputs, time along the axis of length ``T``.
    weights : ndarray (L,) or, for 3-D ``x``, (L, d)
        Weights ``g_j``, ``j = 0..L-1`` (usually ``L = T``; lags ``>= T`` do not reach the outputs).

    Returns
    -------
    ndarray (T,), (n, T) or (n, T)
        ``y[..., k]``; for 3-D inputs the channels are summed,
        ``y[n, k] = sum_{j<=k} sum_i g[j, i] x[n, k - j, i]``.

    Raises
    ------
    InvalidArgumentError
        Shapes that do not fit together.
    """
    from scipy.signal import fftconvolve  # here, not at import: scipy.signal costs a second of every start-up

    x = np.asarray(x)
    weights = np.asarray(weights)
    if x.ndim == 3:
        if weights.ndim != 2 or weights.shape[1] != x.shape[2]:
            raise InvalidArgumentError(f"weights: must have shape (L, {x.shape[2]}) for inputs of shape {x.shape}, "
                                       f"got {weights.shape}")
        T = x.shape[1]
        full = fftconvolve(x, weights[None, :, :], mode="full", axes=1)
        return full[:, :T, :].sum(axis=2)
    if x.ndim not in (1, 2) or weights.ndim != 1:
        raise InvalidArgumentError(f"x, weights: need x of shape (T,), (n, T) with weights (L,), or (n, T, d) with "
                                   f"weights (L, d); got {x.shape} and {weights.shape}")
    T = x.shape[-1]
    kernel = weights if x.ndim == 1 else weights[None, :]
    return fftconvolve(x, kernel, axes=-1)[..., :T]


class LinearFunctional(Displayable):
    """The functional with memory kernel ``rho``: ``y = H(x)``.

    Parameters
    ----------
    rho : Kernel or callable
        The memory kernel (any vectorised callable ``t -> rho(t)`` works; ``"zoh"`` needs a Kernel).

    Examples
    --------
    >>> import numpy as np, memtheory as mt
    >>> H = mt.LinearFunctional(mt.kernels.exponential(1.0))
    >>> H.evaluate(np.array([1.0, 0.0, 0.0]), dt=1.0, convention="reference").round(4).tolist()
    [1.0, 0.3679, 0.1353]
    """

    def __init__(self, rho):
        if not callable(rho):
            raise InvalidArgumentError(f"rho must be a Kernel or a callable, got {type(rho).__name__}")
        self.rho = rho

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("rho", self.rho)]

    def weights(self, n: int, dt: float, convention: str = "quadrature") -> np.ndarray:
        """The convolution weights ``g_j``, ``j = 0..n-1``, so that ``y_k = sum_j g_j x_{k-j}``."""
        check_choice("convention", convention, CONVENTIONS)
        if not (np.isfinite(dt) and dt > 0):
            raise InvalidArgumentError(f"dt must be a finite number > 0, got {dt!r}")
        lags = np.arange(n) * dt
        if convention == "zoh":
            if not isinstance(self.rho, Kernel):
                raise InvalidArgumentError("convention 'zoh' needs a Kernel (it integrates rho over each step)")
            edges = np.asarray(self.rho.step_response(np.arange(n + 1) * dt), float)
            return np.diff(edges)
        g = as_real(self.rho(lags), "rho(t)")
        return g * dt if convention == "quadrature" else g

    def evaluate(self, x, dt: float = 1.0, convention: str = "quadrature") -> np.ndarray:
        """Outputs ``y_k`` for inputs ``x`` of shape (T,) or (batch, T) (zero input before ``k = 0``)."""
        x = as_real(x, "x")
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise InvalidArgumentError(f"x must have shape (T,) or (batch, T), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InvalidArgumentError("x must be finite (no NaN/inf)")
        return causal_convolution(x, self.weights(x.shape[-1], dt, convention))

    __call__ = evaluate
