"""The Adam optimiser, gradient-norm clipping and step-size schedules of the training loop."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .._validation import check_positive

__all__ = ["Adam", "clip_grad_norm", "step_size_schedule"]


class Adam:
    """Adam with bias correction (Kingma & Ba 2015) and optional decoupled weight decay (AdamW).

    Parameters
    ----------
    lr : float
        Step size (default 1e-3).
    betas : tuple of float
        Exponential decay rates of the first and second moments (default 0.9, 0.999).
    eps : float
        Added to the square root of the second moment (default 1e-8).
    weight_decay : float
        Decoupled decay ``theta <- theta - lr * weight_decay * theta`` (default 0, plain Adam; the
        reference code uses torch AdamW with 0).
    """

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        self.lr = check_positive("lr", lr)
        b1, b2 = betas
        for name, b in (("betas[0]", b1), ("betas[1]", b2)):
            if not (0.0 <= b < 1.0):
                raise InvalidArgumentError(f"{name}: must be in [0, 1), got {b!r}")
        self.betas = (float(b1), float(b2))
        self.eps = check_positive("eps", eps)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise InvalidArgumentError(f"weight_decay: must be a finite number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.reset()

    def reset(self) -> None:
        """Forget the moment estimates and the step count."""
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Update ``params`` (1-D float array) in place from ``grad``; returns ``params``."""
        if params.shape != grad.shape or params.ndim != 1:
            raise InvalidArgumentError(f"grad: must be 1-D with the shape of params {params.shape}, got {grad.shape}")
        if self.m is None or self.m.shape != params.shape:
            self.m = np.zeros_like(params)
            self.v = np.zeros_like(params)
            self.t = 0
        b1, b2 = self.betas
        self.t += 1
        self.m *= b1
        self.m += (1.0 - b1) * grad
        self.v *= b2
        self.v += (1.0 - b2) * grad * grad
        m_hat = self.m / (1.0 - b1**self.t)
        v_hat = self.v / (1.0 - b2**self.t)
        if self.weight_decay:
            params -= self.lr * self.weight_decay * params
        params -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return params



def clip_grad_norm(grad: np.ndarray, max_norm: float | None) -> np.ndarray:
    """Scale ``grad`` to total 2-norm ``max_norm`` if larger (torch ``clip_grad_norm_``).

    Parameters
    ----------
    grad : ndarray
        The gradient (returned unchanged, not copied, when it is within the bound).
    max_norm : float or None
        The bound; None disables clipping.

    Returns
    -------
    ndarray
    """
    if max_norm is None:
        return grad
    norm = float(np.linalg.norm(grad))
    return grad * (max_norm / norm) if norm > max_norm else grad


def step_size_schedule(lr_schedule: Any, lr: float, lr_min: float, epochs: int,
                       warmup: int) -> Callable[[int], float] | None:
    """The step size of each epoch as a function of the epoch index (None: constant ``lr``).

    Parameters
    ----------
    lr_schedule : {"cosine"}, callable or None
        ``"cosine"`` anneals from ``lr`` to ``lr_min`` over ``epochs``; a callable maps the epoch to the step
        size; None keeps ``lr``.
    lr, lr_min : float
        Initial and final (cosine) step sizes, ``0 <= lr_min <= lr``.
    epochs : int
        Length of the cosine schedule.
    warmup : int
        Epochs of linear warm-up (factor ``(e + 1) / warmup`` in epoch ``e < warmup``); 0 for none.

    Returns
    -------
    callable or None

    Raises
    ------
    InvalidArgumentError
        ``lr_min`` outside ``[0, lr]``, a negative ``warmup``, an unknown schedule name.
    """
    if not (isinstance(lr_min, (int, float)) and math.isfinite(lr_min) and 0 <= lr_min <= lr):
        raise InvalidArgumentError(f"lr_min: must be a number in [0, lr = {lr}], got {lr_min!r}")
    if not (isinstance(warmup, (int, np.integer)) and warmup >= 0):
        raise InvalidArgumentError(f"warmup: must be an integer >= 0, got {warmup!r}")
    if lr_schedule is None:
        base = lambda e: lr
    elif callable(lr_schedule):
        base = lr_schedule
    elif lr_schedule == "cosine":
        base = lambda e: lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * e / epochs))
    else:
        raise InvalidArgumentError(f"lr_schedule: unknown {lr_schedule!r}; allowed: 'cosine', a callable, None")
    if warmup == 0:
        return None if lr_schedule is None else base
    return lambda e: base(e) * min(1.0, (e + 1) / warmup)
