"""Metric-driven training controls of the reference code: a plateau step-size schedule and early stopping.

The reference code (github.com/radarFudan/Curse-of-memory) trains with PyTorch's
``torch.optim.lr_scheduler.ReduceLROnPlateau`` on ``val/loss`` (its configs: ``mode=min, factor=0.1,
patience=10``) and Lightning's ``EarlyStopping`` callback on ``val/loss``. :class:`ReduceLROnPlateau` and
:class:`EarlyStopping` implement their rules (mode ``min``) as small state machines fed one metric value per epoch;
:func:`memtheory.training.train` accepts them as ``plateau=`` and ``early_stopping=`` (monitoring the validation
loss, or the training loss without validation data).

ReduceLROnPlateau (PyTorch's defaults): a value ``v`` improves on the best ``b`` when ``v < b (1 - threshold)``
(``threshold_mode="rel"``) or ``v < b - threshold`` (``"abs"``); after more than ``patience`` epochs in a row
without improvement the step size becomes ``max(lr factor, min_lr)`` (unless that changes it by at most ``eps``),
the count restarts and ``cooldown`` epochs follow in which bad epochs are not counted.

EarlyStopping (Lightning's): ``v`` improves when ``v < b - min_delta``; training stops once ``patience``
epochs in a row did not improve (and at once on a non-finite value).
"""

from __future__ import annotations

import math
from typing import Any

from .._validation import check_choice, check_int
from ..errors import InvalidArgumentError

__all__ = ["EarlyStopping", "ReduceLROnPlateau"]


def _nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidArgumentError(f"{name}: must be a finite number >= 0, got {value!r}")
    return float(value)


def _metric(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"metric: must be a number, got {value!r}")
    return float(value)


class ReduceLROnPlateau:
    """Step size divided by ``1 / factor`` when the monitored loss stops improving (PyTorch's rule, mode min).

    Parameters
    ----------
    lr : float
        Initial step size.
    factor : float
        Multiplier ``0 < factor < 1`` (the reference: 0.1).
    patience : int
        Epochs without improvement tolerated (the reference: 10).
    threshold : float
        Relative (or absolute) improvement required.
    threshold_mode : {"rel", "abs"}
    cooldown : int
        Epochs after a reduction in which bad epochs are not counted.
    min_lr : float
        Lower bound of the step size.
    eps : float
        Reductions smaller than this are skipped.

    Examples
    --------
    >>> from memtheory.training.schedules import ReduceLROnPlateau
    >>> plateau = ReduceLROnPlateau(1.0, factor=0.5, patience=1)
    >>> [plateau.step(v) for v in (3.0, 3.0, 3.0, 2.0)]
    [1.0, 1.0, 0.5, 0.5]
    """

    def __init__(self, lr: float, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        self.lr = _nonneg("lr", lr)
        if self.lr == 0:
            raise InvalidArgumentError("lr: must be > 0")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise InvalidArgumentError(f"factor: must be a number in (0, 1), got {factor!r}")
        self.factor = float(factor)
        self.patience = check_int("patience", patience, lo=0)
        self.threshold = _nonneg("threshold", threshold)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int("cooldown", cooldown, lo=0)
        self.min_lr = _nonneg("min_lr", min_lr)
        self.eps = _nonneg("eps", eps)
        self.best = math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _improves(self, value: float) -> bool:
        if self.threshold_mode == "rel":
            return value < self.best * (1.0 - self.threshold)
        return value < self.best - self.threshold

    def step(self, value: float) -> float:
        """Record one epoch's monitored value; returns the step size for the next epoch."""
        value = _metric(value)
        if self._improves(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.eps:
                self.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr


class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs (Lightning's rule).

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping (Lightning's default 3).
    min_delta : float
        Smallest decrease that counts as an improvement.

    Examples
    --------
    >>> from memtheory.training.schedules import EarlyStopping
    >>> stop = EarlyStopping(patience=2)
    >>> [stop.step(v) for v in (3.0, 2.0, 2.0, 2.5)]
    [False, False, False, True]
    """

    def __init__(self, patience: int = 3, min_delta: float = 0.0):
        self.patience = check_int("patience", patience, lo=1)
        self.min_delta = _nonneg("min_delta", min_delta)
        self.best = math.inf
        self.wait_count = 0
        self.stopped = False

    def step(self, value: float) -> bool:
        """Record one epoch's monitored value; True when training should stop."""
        value = _metric(value)
        if not math.isfinite(value):
            self.stopped = True
        elif value < self.best - self.min_delta:
            self.best = value
            self.wait_count = 0
        else:
            self.wait_count += 1
            self.stopped = self.wait_count >= self.patience
        return self.stopped
