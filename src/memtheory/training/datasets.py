"""Linear-functional datasets: white-noise inputs and the targets of a memory kernel, and the reference loss weights.

The LF ("linear functional") task of [IAT] and of its reference code (github.com/radarFudan/Curse-of-memory):
white-noise inputs and targets ``y_k = sum_{s<=k} rho(s dt) x_{k-s}``, a causal discrete convolution with a
memory kernel ``rho`` (:func:`memtheory.models.functional.causal_convolution`, by FFT).

Conventions of :func:`lf_dataset` (the sampled conventions of :mod:`memtheory.models.functional`, each with its
input scaling):

* ``"reference"`` (the reference code's ``LF_generate``): ``x_k = dt * xi_k``, ``xi_k ~ N(0, 1)`` i.i.d., and
  ``y_k = sum_{s=0}^{k} rho(s dt) x_{k-s}`` (no further ``dt``). With ``dt = 1`` this is the paper setting.
* ``"quadrature"``: ``x_k = xi_k / sqrt(dt)`` (sampled white noise) and ``y_k = dt sum_{s=0}^{k} rho(s dt)
  x_{k-s}``, the left Riemann sum of ``H_t(x) = int_0^t rho(s) x(t - s) ds``; then
  ``E[y_k^2] = dt sum_{s<=k} rho(s dt)^2 -> ||rho||_{L^2}^2`` (Ito isometry, docs/theory.md §1), so the MSE of
  a model with kernel ``rho_hat`` approximates ``||rho - rho_hat||_{L^2}^2``.

Both share the same noise for the same seed: the quadrature targets equal the reference targets divided
by ``sqrt(dt)`` and the quadrature inputs are the reference inputs times ``dt^{-3/2}``.

Time-weighted MSE: the reference code's ``twe_MSE`` multiplies outputs and targets by
``v_k = ((k+1)/(T+1))^p / mean_j ((j+1)/(T+1))^p`` (``p = 2``) before the MSE, i.e. the loss weights are
``omega_k = v_k^2`` (:func:`reference_time_weights`); late times count more.

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks.
ICLR 2024 (arXiv 2305.19190).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..display import Displayable
from ..errors import InvalidArgumentError
from ..models.functional import SAMPLED_CONVENTIONS, causal_convolution
from .._validation import as_generator, as_real, check_int, check_positive

__all__ = ["LFDataset", "lf_dataset", "reference_time_weights"]


@dataclass(frozen=True, repr=False)
class LFDataset(Displayable):
    """Inputs and targets of a linear-functional task.

    Attributes
    ----------
    x : ndarray (n, T, d)
        Inputs.
    y : ndarray (n, T)
        Targets ``y_k = (dt) sum_{s<=k} rho(s dt)^T x_{k-s}`` (see the module docstring).
    dt : float
        Sample spacing.
    convention : str
        ``"reference"`` or ``"quadrature"``.
    kernel : ndarray (T,) or (T, d)
        ``rho(k dt)``, ``k = 0..T-1``.
    """

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    dt: float
    convention: str
    kernel: np.ndarray = field(repr=False)

    _display_fields = ("x", "y", "dt", "convention", "kernel")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def T(self) -> int:  # noqa: N802 - the paper's symbol
        """Sequence length."""
        return self.x.shape[1]

    def split(self, n_first: int) -> tuple[LFDataset, LFDataset]:
        """Split into the first ``n_first`` samples and the rest (e.g. train / validation)."""
        if not (isinstance(n_first, (int, np.integer)) and 0 < n_first < len(self)):
            raise InvalidArgumentError(f"n_first: must be an integer in [1, {len(self) - 1}], got {n_first!r}")
        first = LFDataset(self.x[:n_first], self.y[:n_first], self.dt, self.convention, self.kernel)
        rest = LFDataset(self.x[n_first:], self.y[n_first:], self.dt, self.convention, self.kernel)
        return first, rest

    def to_dict(self) -> dict[str, Any]:
        """Summary without the arrays (JSON-friendly)."""
        return {"n_samples": len(self), "T": self.T, "input_dim": self.x.shape[2], "dt": self.dt,
                "convention": self.convention}

def _kernel_values(rho: Callable[[np.ndarray], Any], T: int, dt: float, d: int) -> np.ndarray:
    """``rho(k dt)`` for ``k < T`` as ``(T, d)``, checked for shape and finiteness."""
    t = dt * np.arange(T, dtype=np.float64)
    try:
        out = rho(t)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"rho: must be a vectorised callable t -> rho(t) on a float array (wrap scalar code in "
            f"np.vectorize); calling it failed: {exc}"
        ) from exc
    vals = as_real(out, "rho(t)")
    if vals.shape == (T,):
        vals = np.repeat(vals[:, None], d, axis=1) if d == 1 else None
    if vals is None or vals.shape != (T, d):
        raise InvalidArgumentError(f"rho: must return shape ({T},)" + (f" or ({T}, {d})" if d > 1 else "")
                                   + " for an array of T times")
    if not np.all(np.isfinite(vals)):
        raise InvalidArgumentError("rho: returned non-finite values on [0, (T-1) dt]")
    return vals

def lf_dataset(
    rho: Callable[[np.ndarray], Any],
    n_samples: int,
    T: int,
    dt: float = 1.0,
    seed: int | np.random.Generator | None = 0,
    convention: str = "reference",
    input_dim: int = 1,
    gaussian_input: bool = False,
) -> LFDataset:
    """White-noise inputs and the targets of the linear functional with memory kernel ``rho``.

    Parameters
    ----------
    rho : callable
        Vectorised ``t -> rho(t)`` (a memtheory ``Kernel`` qualifies); for ``input_dim > 1`` it may return
        ``(len(t), input_dim)`` (the functional ``sum_j rho_j * x_j``), a 1-D result is used for ``d = 1``.
    n_samples, T : int
        Number of sequences and their length.
    dt : float
        Sample spacing (the reference code's default is 1).
    seed : int, numpy Generator or None
        Source of randomness (the only one).
    convention : {"reference", "quadrature"}
        Input scaling and output quadrature, see the module docstring.
    input_dim : int
        Input dimension ``d``.
    gaussian_input : bool
        The reference code's ``Gaussian_input``: the inputs are the cumulative sums over time of the white noise
        above (a discretised Brownian path, a Gaussian process), the targets the same convolution of them.

    Returns
    -------
    LFDataset
    """
    n_samples = check_int("n_samples", n_samples, lo=1)
    T = check_int("T", T, lo=1)
    d = check_int("input_dim", input_dim, lo=1)
    dt = check_positive("dt", dt)
    if convention not in SAMPLED_CONVENTIONS:
        raise InvalidArgumentError(
            f"convention: unknown {convention!r}; allowed: {', '.join(SAMPLED_CONVENTIONS)}"
        )
    if not callable(rho):
        raise InvalidArgumentError(f"rho: must be callable, got {type(rho).__name__}")
    kern = _kernel_values(rho, T, dt, d)
    xi = as_generator(seed).standard_normal((n_samples, T, d))
    if not isinstance(gaussian_input, (bool, np.bool_)):
        raise InvalidArgumentError(f"gaussian_input: must be True or False, got {gaussian_input!r}")
    x = dt * xi if convention == "reference" else xi / math.sqrt(dt)
    if gaussian_input:
        x = np.cumsum(x, axis=1)
    y = causal_convolution(x, kern) if convention == "reference" else dt * causal_convolution(x, kern)
    return LFDataset(x, y, dt, convention, kern if d > 1 else kern[:, 0])

def reference_time_weights(T: int, p: float = 2.0) -> np.ndarray:
    """Loss weights ``omega_k = v_k^2`` of the reference code's time-weighted MSE (``twe_MSE``).

    ``v_k = ((k+1)/(T+1))^p`` normalised to mean 1; the reference multiplies outputs and targets by
    ``v_k`` inside the MSE, hence the square.
    """
    T = check_int("T", T, lo=1)
    if not (isinstance(p, (int, float)) and math.isfinite(p) and p >= 0):
        raise InvalidArgumentError(f"p: must be a finite number >= 0, got {p!r}")
    v = ((np.arange(1, T + 1) / (T + 1.0)) ** p).astype(np.float64)
    v *= T / v.sum()
    return v**2
