"""What the trainable models share: their arrays checked on the way in, and their parameters as a dict or a vector.

:class:`TrainableParameters` is the one implementation of ``get_params`` / ``set_params`` / ``get_vector`` /
``set_vector`` / ``pack`` / ``n_params`` / ``copy``, and of ``loss`` with its checks of targets and time weights,
for every model whose trainable arrays are attributes named by its ``param_names``
(:class:`~memtheory.models.nonlinear.NonlinearRNN`, :class:`~memtheory.models.ssm.SSM`); the optimiser and the
training loop see a model only through these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_real
from ..errors import InvalidArgumentError

__all__ = ["TrainableParameters", "as_real_array"]


def as_real_array(value: Any, name: str, shape: tuple[int, ...] | None = None, ndim: int | None = None) -> np.ndarray:
    """Float64 contiguous copy of ``value``, checked for shape and finiteness.

    Parameters
    ----------
    value : array_like
        The input.
    name : str
        Its name in error messages.
    shape : tuple of int, optional
        Required shape.
    ndim : int, optional
        Required number of dimensions.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InvalidArgumentError
        Not real, of another shape, or not finite.
    """
    arr = as_real(value, name, copy=True)  # a C-ordered copy
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgumentError(f"{name}: must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise InvalidArgumentError(f"{name}: must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name}: must be finite (no NaN or inf)")
    return arr


class TrainableParameters:
    """Copies, the loss, and parameters as a dict and as one vector, for a model with ``param_names``, a
    ``parameterisation`` of its raw recurrent weights ``w`` (whose domain ``set_params`` checks) and a
    ``forward(x)`` of shape ``(batch, T)``."""

    param_names: tuple[str, ...]

    def copy(self):
        """A copy with its own arrays; the other attributes (the parameterisation, settings) are shared."""
        new = object.__new__(type(self))
        new.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return new

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of the trainable arrays (``c0`` has shape ``()``)."""
        return {name: getattr(self, name).copy() for name in self.param_names}

    def set_params(self, params: dict[str, Any]) -> None:
        """Replace trainable arrays (same shapes, finite); keys not given are kept."""
        unknown = set(params) - set(self.param_names)
        if unknown:
            raise InvalidArgumentError(f"params: unknown names {sorted(unknown)}; allowed: {self.param_names}")
        for name, value in params.items():
            arr = as_real_array(value, name, shape=getattr(self, name).shape)
            if name == "w" and not self.parameterisation.in_domain(arr):
                raise InvalidArgumentError(f"w: outside the domain {self.parameterisation.spec.domain}")
            setattr(self, name, arr)

    def get_vector(self) -> np.ndarray:
        """All trainable parameters concatenated in :attr:`param_names` order."""
        return np.concatenate([getattr(self, n).ravel() for n in self.param_names])

    def set_vector(self, vector: np.ndarray) -> None:
        """Inverse of :meth:`get_vector`; checks the shape only (it is called every optimiser step)."""
        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (self.n_params,):
            raise InvalidArgumentError(f"vector: must have shape ({self.n_params},), got {vector.shape}")
        pos = 0
        for name in self.param_names:
            cur = getattr(self, name)
            setattr(self, name, vector[pos : pos + cur.size].reshape(cur.shape).copy())
            pos += cur.size

    def pack(self, grads: dict[str, np.ndarray]) -> np.ndarray:
        """Concatenate a gradient dictionary in :attr:`param_names` order."""
        return np.concatenate([np.ravel(grads[n]) for n in self.param_names])

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(getattr(self, n).size for n in self.param_names)

    def loss(self, x: Any, y: Any, time_weights: Any = None) -> float:
        """``L = 1/(B T) sum omega_k (y_k - target_k)^2`` (``time_weights`` = ``omega``, default 1)."""
        out = self.forward(x)
        yy = self._check_targets(y, out.shape)
        tw = self._check_weights(time_weights, out.shape[1])
        return float(np.mean(tw[None, :] * (out - yy) ** 2))

    def _check_targets(self, y: Any, shape: tuple[int, int]) -> np.ndarray:
        arr = as_real_array(y, "y")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.shape != shape:
            raise InvalidArgumentError(f"y: must have shape {shape} (batch, T), got {arr.shape}")
        return np.ascontiguousarray(arr)

    def _check_weights(self, time_weights: Any, T: int) -> np.ndarray:
        if time_weights is None:
            return np.ones(T)
        tw = as_real_array(time_weights, "time_weights", shape=(T,))
        if np.any(tw < 0):
            raise InvalidArgumentError("time_weights: must be >= 0")
        return tw
