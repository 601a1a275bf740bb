"""The BPTT training loop for nonlinear RNNs: minibatch Adam on the mean (time-weighted) squared error.

Gradients come from :meth:`memtheory.models.nonlinear.NonlinearRNN.loss_and_grad` or
:meth:`memtheory.models.ssm.SSM.loss_and_grad` (numba BPTT, parallel over the batch); data are :class:`~memtheory.training.datasets.LFDataset` or arrays ``(x, y)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..display import Displayable
from .._runtime import numba_threads
from ..errors import ConvergenceError, InvalidArgumentError
from ..models.nonlinear import NonlinearRNN
from ..models.ssm import SSM
from .._validation import as_generator, check_int, check_positive
from .datasets import LFDataset, reference_time_weights
from .optim import Adam, clip_grad_norm, step_size_schedule
from .penalty import margin_penalty
from .schedules import EarlyStopping, ReduceLROnPlateau

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True, repr=False)
class TrainResult(Displayable):
    """Outcome of :func:`train`.

    Attributes
    ----------
    loss_history : ndarray (epochs,)
        Mean training loss over each epoch's minibatches (as the reference's epoch-averaged train/loss).
    val_history : ndarray (epochs,)
        Validation loss after each epoch (empty without validation data).
    step_losses : ndarray (steps,)
        Loss of every minibatch.
    epochs, steps : int
        Epochs run and optimiser steps taken.
    seconds : float
        Wall time of the loop.
    samples_per_second : float
        Training throughput (forward + BPTT + update).
    best_epoch : int
        Epoch whose parameters the model holds at the end: the last one, or with ``keep_best`` the one with the
        lowest validation (training) loss.
    """

    loss_history: np.ndarray
    val_history: np.ndarray
    step_losses: np.ndarray
    epochs: int
    steps: int
    seconds: float
    samples_per_second: float
    best_epoch: int = -1

    @property
    def final_loss(self) -> float:
        """Last epoch's mean training loss."""
        return float(self.loss_history[-1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {"loss_history": self.loss_history.tolist(), "val_history": self.val_history.tolist(),
                "epochs": self.epochs, "steps": self.steps, "seconds": self.seconds,
                "samples_per_second": self.samples_per_second, "final_loss": self.final_loss,
                "best_epoch": self.best_epoch}

def _unpack_data(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, LFDataset):
        return data.x, data.y
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x = np.asarray(data[0], dtype=np.float64)
        y = np.asarray(data[1], dtype=np.float64)
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3 or y.shape != x.shape[:2]:
            raise InvalidArgumentError(f"{name}: x must be (n, T, d) and y (n, T); got {x.shape} and {y.shape}")
        return x, y
    raise InvalidArgumentError(f"{name}: must be an LFDataset or a tuple (x, y), got {type(data).__name__}")

def _resolve_time_weights(time_weights: Any, T: int) -> np.ndarray | None:
    if time_weights is None:
        return None
    if isinstance(time_weights, str):
        if time_weights != "reference":
            raise InvalidArgumentError(f"time_weights: unknown {time_weights!r}; allowed: 'reference', an array, None")
        return reference_time_weights(T)
    return np.asarray(time_weights, dtype=np.float64)

def train(
    model: NonlinearRNN | SSM,
    dataset: LFDataset | tuple[np.ndarray, np.ndarray],
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    *,
    time_weights: str | np.ndarray | None = None,
    grad_clip: float | None = None,
    val_data: LFDataset | tuple[np.ndarray, np.ndarray] | None = None,
    optimizer: Adam | None = None,
    n_threads: int | None = None,
    callback: Callable[[int, float, NonlinearRNN], bool | None] | None = None,
    lr_schedule: str | Callable[[int], float] | None = None,
    lr_min: float = 0.0,
    warmup: int = 0,
    keep_best: bool = False,
    plateau: ReduceLROnPlateau | None = None,
    early_stopping: EarlyStopping | None = None,
    margin_weight: float | None = None,
) -> TrainResult:
    """Train ``model`` in place by minibatch Adam on the mean (time-weighted) squared error.

    Parameters
    ----------
    model : NonlinearRNN or SSM
        Updated in place; box-constrained reparameterisations are projected after every step.
    dataset : LFDataset or (x, y)
        Training data, ``x`` of shape (n, T, d), ``y`` of shape (n, T).
    epochs, batch_size : int
        Passes over the data and minibatch size (the last minibatch of an epoch may be smaller).
    lr : float
        Adam step size (ignored when ``optimizer`` is given).
    seed : int, numpy Generator or None
        Shuffling randomness.
    progress : bool
        Show a tqdm bar over epochs. Independently of it, each finished epoch is reported to
        :mod:`memtheory.sweep.progress` (the fraction of ``epochs`` done), so that a sweep point or a proofs check
        that trains moves its bar epoch by epoch (a no-op outside a sweep point).
    time_weights : "reference", array (T,) or None
        Loss weights ``omega_k``; ``"reference"`` = :func:`reference_time_weights`.
    grad_clip : float, optional
        Clip the total gradient norm (the reference trains with 0.5).
    val_data : LFDataset or (x, y), optional
        Evaluated after each epoch.
    optimizer : Adam, optional
        Reuse an optimiser (its state continues).
    n_threads : int, optional
        numba threads for this call (default: all, i.e. every core).
    callback : callable, optional
        ``callback(epoch, epoch_loss, model)``; returning True stops training.
    lr_schedule : {"cosine"}, callable or None
        Step size per epoch: ``"cosine"`` anneals from ``lr`` (or the optimiser's step size) to ``lr_min``
        over ``epochs`` (``lr_min + (lr - lr_min)(1 + cos(pi e / epochs)) / 2`` in epoch ``e``); a callable
        maps the epoch index to the step size; None keeps it constant.
    lr_min : float
        Final step size of the cosine schedule (default 0).
    warmup : int
        Epochs of linear warm-up: the step size of epoch ``e < warmup`` is multiplied by ``(e + 1) / warmup``
        (default 0: none). Keeps the first Adam steps, which move every parameter by about ``lr``, from pushing
        slow eigenvalues across the stability boundary.
    keep_best : bool
        At the end, restore the parameters of the epoch with the lowest validation loss (the training loss
        without ``val_data``), as the reference code's checkpoint on ``val/loss`` does. The result's
        ``best_epoch`` names that epoch.
    plateau : ReduceLROnPlateau, optional
        The reference's ``ReduceLROnPlateau`` on the validation loss (the training loss without ``val_data``):
        after each epoch the step size becomes ``plateau.step(loss)``; its ``lr`` replaces ``lr``. Not together
        with ``lr_schedule`` or ``warmup``.
    early_stopping : EarlyStopping, optional
        Lightning's ``EarlyStopping`` on the same loss: training ends after the epoch where it says stop.
    margin_weight : float, optional
        Add the reference's stability-margin penalty ``margin_weight * relu(1 - margin)`` to every minibatch loss
        (:mod:`memtheory.training.penalty`; the reference's weight is 0.01). The recorded losses are the MSE
        without it, as the reference logs ``train/loss``.

    Returns
    -------
    TrainResult

    Raises
    ------
    InvalidArgumentError
        Bad arguments or data that do not fit the model.
    ConvergenceError
        The loss became NaN or infinite (lower ``lr`` or set ``grad_clip``).
    """
    if not isinstance(model, (NonlinearRNN, SSM)):
        raise InvalidArgumentError(f"model: must be a NonlinearRNN or an SSM, got {type(model).__name__}")
    x, y = _unpack_data(dataset, "dataset")
    if x.shape[2] != model.input_dim:
        raise InvalidArgumentError(f"dataset: input dimension {x.shape[2]} != model input_dim {model.input_dim}")
    epochs = check_int("epochs", epochs, lo=1)
    batch_size = check_int("batch_size", batch_size, lo=1)
    if grad_clip is not None:
        grad_clip = check_positive("grad_clip", grad_clip)
    tw = _resolve_time_weights(time_weights, x.shape[1])
    val = _unpack_data(val_data, "val_data") if val_data is not None else None
    if plateau is not None and not isinstance(plateau, ReduceLROnPlateau):
        raise InvalidArgumentError(f"plateau: must be a ReduceLROnPlateau, got {type(plateau).__name__}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise InvalidArgumentError(f"early_stopping: must be an EarlyStopping, got {type(early_stopping).__name__}")
    if margin_weight is not None:
        margin_penalty(model, margin_weight)  # checks the weight and that the model has a margin
    if plateau is not None and (lr_schedule is not None or warmup):
        raise InvalidArgumentError("plateau: a metric-driven schedule cannot be combined with lr_schedule / warmup")
    opt = optimizer if optimizer is not None else Adam(lr=lr)
    if plateau is not None:
        opt.lr = plateau.lr
    schedule = step_size_schedule(lr_schedule, opt.lr, lr_min, epochs, warmup)
    rng = as_generator(seed)
    threads = None if n_threads is None else check_int("n_threads", n_threads, lo=1)
    with numba_threads(threads):
        return _train_loop(model, x, y, tw, val, opt, rng, epochs, batch_size, grad_clip, progress, callback,
                           schedule, bool(keep_best), plateau, early_stopping, margin_weight)


def _train_loop(model, x, y, tw, val, opt, rng, epochs, batch_size, grad_clip, progress, callback, schedule,
                keep_best, plateau=None, early_stopping=None, margin_weight=None) -> TrainResult:
    n = x.shape[0]
    epoch_losses: list[float] = []
    val_losses: list[float] = []
    step_losses: list[float] = []
    params = model.get_vector()
    best: tuple[float, int, np.ndarray] | None = None
    from ..sweep.progress import report as report_progress

    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="train", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        if schedule is not None:
            opt.lr = check_positive(f"lr_schedule({epoch})", schedule(epoch))
        order = rng.permutation(n)
        total = 0.0
        for lo in range(0, n, batch_size):
            idx = np.sort(order[lo : lo + batch_size])
            loss, grads = model.loss_and_grad(x[idx], y[idx], tw)
            if margin_weight is not None:
                _, g_pen = margin_penalty(model, margin_weight)
                grads["w"] = grads["w"] + g_pen
            if not math.isfinite(loss):
                raise ConvergenceError(f"train: loss became {loss} at epoch {epoch}; lower lr or set grad_clip")
            opt.step(params, clip_grad_norm(model.pack(grads), grad_clip))
            model.set_vector(params)
            model.project()
            params = model.get_vector()
            step_losses.append(loss)
            total += loss * len(idx)
        epoch_losses.append(total / n)
        if val is not None:
            val_losses.append(model.loss(val[0], val[1], tw))
        if keep_best:
            score = val_losses[-1] if val is not None else epoch_losses[-1]
            if math.isfinite(score) and (best is None or score < best[0]):
                best = (score, epoch, params.copy())
        bar.set_postfix(loss=f"{epoch_losses[-1]:.3e}")
        report_progress((epoch + 1) / epochs)  # epoch by epoch to an enclosing sweep point's bar, if any
        monitored = val_losses[-1] if val is not None else epoch_losses[-1]
        if plateau is not None:
            opt.lr = plateau.step(monitored)
        if callback is not None and callback(epoch, epoch_losses[-1], model):
            break
        if early_stopping is not None and early_stopping.step(monitored):
            break
    bar.close()
    seconds = time.perf_counter() - start
    n_epochs = len(epoch_losses)
    best_epoch = n_epochs - 1
    if best is not None:
        best_epoch = best[1]
        model.set_vector(best[2])
    return TrainResult(
        loss_history=np.array(epoch_losses), val_history=np.array(val_losses), step_losses=np.array(step_losses),
        epochs=n_epochs, steps=len(step_losses), seconds=seconds,
        samples_per_second=n * n_epochs / seconds if seconds > 0 else math.inf, best_epoch=best_epoch,
    )
