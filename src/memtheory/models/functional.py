"""Linear functionals ``H_t(x) = \\int_0^\\infty rho(s) x(t - s) ds`` on sampled inputs (THEORY.md §1).

:class:`LinearFunctional` evaluates the output on a sampled input by FFT convolution, in one of three
conventions:

* ``"reference"``: ``y_k = sum_{s<=k} rho(s dt) x_{k-s}`` -- the reference code of [IAT] (no ``dt`` weight);
* ``"quadrature"``: ``y_k = dt sum_{s<=k} rho(s dt) x_{k-s}`` -- a Riemann sum of the integral;
* ``"zoh"``: ``y_k = sum_{j<=k} x_{k-j} \\int_{j dt}^{(j+1) dt} rho`` -- exact for inputs held constant on each
  sample interval, the output at ``(k+1) dt``; it matches :meth:`LinearRNN.simulate` with ``method="zoh"``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from ..errors import InvalidArgumentError
from ..kernels.kernel import Kernel

__all__ = ["LinearFunctional"]

_CONVENTIONS = ("reference", "quadrature", "zoh")


class LinearFunctional:
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

    def weights(self, n: int, dt: float, convention: str = "quadrature") -> np.ndarray:
        """The convolution weights ``g_j``, ``j = 0..n-1``, so that ``y_k = sum_j g_j x_{k-j}``."""
        if convention not in _CONVENTIONS:
            raise InvalidArgumentError(f"convention must be one of {', '.join(_CONVENTIONS)}, got {convention!r}")
        if not (np.isfinite(dt) and dt > 0):
            raise InvalidArgumentError(f"dt must be a finite number > 0, got {dt!r}")
        lags = np.arange(n) * dt
        if convention == "zoh":
            if not isinstance(self.rho, Kernel):
                raise InvalidArgumentError("convention 'zoh' needs a Kernel (it integrates rho over each step)")
            edges = np.asarray(self.rho.step_response(np.arange(n + 1) * dt), float)
            return np.diff(edges)
        g = np.asarray(self.rho(lags), dtype=float)
        return g * dt if convention == "quadrature" else g

    def evaluate(self, x, dt: float = 1.0, convention: str = "quadrature") -> np.ndarray:
        """Outputs ``y_k`` for inputs ``x`` of shape (T,) or (batch, T) (zero input before ``k = 0``)."""
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise InvalidArgumentError("x must be numeric") from None
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise InvalidArgumentError(f"x must have shape (T,) or (batch, T), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InvalidArgumentError("x must be finite (no NaN/inf)")
        T = x.shape[-1]
        g = self.weights(T, dt, convention)
        kernel = g if x.ndim == 1 else g[None, :]
        return fftconvolve(x, kernel, axes=-1)[..., :T]

    __call__ = evaluate
