"""Linear-functional datasets, the Adam optimiser and a BPTT training loop for nonlinear RNNs.

The LF ("linear functional") task of [IAT] and of its reference code (github.com/radarFudan/Curse-of-memory):
white-noise inputs and targets ``y_k = sum_{s<=k} rho(s dt) x_{k-s}``, a causal discrete convolution with a
memory kernel ``rho``, computed here by FFT. Models are trained with Adam on minibatches; gradients come
from :meth:`memtheory.models.nonlinear.NonlinearRNN.loss_and_grad` (numba BPTT, parallel over the batch).

Conventions of :func:`lf_dataset`:

* ``"reference"`` (the reference code's ``LF_generate``): ``x_k = dt * xi_k``, ``xi_k ~ N(0, 1)`` i.i.d., and
  ``y_k = sum_{s=0}^{k} rho(s dt) x_{k-s}`` (no further ``dt``). With ``dt = 1`` this is the paper setting.
* ``"quadrature"``: ``x_k = xi_k / sqrt(dt)`` (sampled white noise) and ``y_k = dt sum_{s=0}^{k} rho(s dt)
  x_{k-s}``, the left Riemann sum of ``H_t(x) = int_0^t rho(s) x(t - s) ds``; then
  ``E[y_k^2] = dt sum_{s<=k} rho(s dt)^2 -> ||rho||_{L^2}^2`` (Ito isometry, THEORY.md §1), so the MSE of a
  model with kernel ``rho_hat`` approximates ``||rho - rho_hat||_{L^2}^2``.

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from scipy.signal import fftconvolve
from tqdm.auto import tqdm

from ..errors import ConvergenceError, InvalidArgumentError
from ..models.nonlinear import NonlinearRNN

__all__ = ["Adam", "LFDataset", "TrainResult", "lf_dataset", "reference_time_weights", "train"]

CONVENTIONS = ("reference", "quadrature")


# =========================================================================== data


@dataclass(frozen=True)
class LFDataset:
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


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and seed >= 0):
        return np.random.default_rng(seed)
    raise InvalidArgumentError(f"seed: must be a nonnegative integer, a numpy Generator or None, got {seed!r}")


def _positive_int(value: Any, name: str) -> int:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise InvalidArgumentError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name}: must be a finite number > 0, got {value!r}")
    return float(value)


def _kernel_values(rho: Callable[[np.ndarray], Any], T: int, dt: float, d: int) -> np.ndarray:
    """``rho(k dt)`` for ``k < T`` as ``(T, d)``, checked for shape and finiteness."""
    t = dt * np.arange(T, dtype=np.float64)
    try:
        vals = np.asarray(rho(t), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"rho: must be a vectorised callable t -> rho(t) on a float array (wrap scalar code in "
            f"np.vectorize); calling it failed: {exc}"
        ) from exc
    if vals.shape == (T,):
        vals = np.repeat(vals[:, None], d, axis=1) if d == 1 else None
    if vals is None or vals.shape != (T, d):
        raise InvalidArgumentError(f"rho: must return shape ({T},)" + (f" or ({T}, {d})" if d > 1 else "")
                                   + " for an array of T times")
    if not np.all(np.isfinite(vals)):
        raise InvalidArgumentError("rho: returned non-finite values on [0, (T-1) dt]")
    return vals


def causal_convolution(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``y[n, k] = sum_{s<=k} sum_j kernel[s, j] x[n, k - s, j]`` by FFT (``x``: (n, T, d), kernel: (T, d))."""
    T = x.shape[1]
    full = fftconvolve(x, kernel[None, :, :], mode="full", axes=1)
    return full[:, :T, :].sum(axis=2)


def lf_dataset(
    rho: Callable[[np.ndarray], Any],
    n_samples: int,
    T: int,
    dt: float = 1.0,
    seed: int | np.random.Generator | None = 0,
    convention: str = "reference",
    input_dim: int = 1,
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

    Returns
    -------
    LFDataset
    """
    n_samples = _positive_int(n_samples, "n_samples")
    T = _positive_int(T, "T")
    d = _positive_int(input_dim, "input_dim")
    dt = _positive_float(dt, "dt")
    if convention not in CONVENTIONS:
        raise InvalidArgumentError(f"convention: unknown {convention!r}; allowed: {', '.join(CONVENTIONS)}")
    if not callable(rho):
        raise InvalidArgumentError(f"rho: must be callable, got {type(rho).__name__}")
    kern = _kernel_values(rho, T, dt, d)
    xi = _rng(seed).standard_normal((n_samples, T, d))
    if convention == "reference":
        x = dt * xi
        y = causal_convolution(x, kern)
    else:
        x = xi / math.sqrt(dt)
        y = dt * causal_convolution(x, kern)
    return LFDataset(x, y, dt, convention, kern if d > 1 else kern[:, 0])


def reference_time_weights(T: int, p: float = 2.0) -> np.ndarray:
    """Loss weights ``omega_k = v_k^2`` of the reference code's time-weighted MSE (``twe_MSE``).

    ``v_k = ((k+1)/(T+1))^p`` normalised to mean 1; the reference multiplies outputs and targets by
    ``v_k`` inside the MSE, hence the square.
    """
    T = _positive_int(T, "T")
    if not (isinstance(p, (int, float)) and math.isfinite(p) and p >= 0):
        raise InvalidArgumentError(f"p: must be a finite number >= 0, got {p!r}")
    v = ((np.arange(1, T + 1) / (T + 1.0)) ** p).astype(np.float64)
    v *= T / v.sum()
    return v**2


# =========================================================================== optimiser


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
        self.lr = _positive_float(lr, "lr")
        b1, b2 = betas
        for name, b in (("betas[0]", b1), ("betas[1]", b2)):
            if not (0.0 <= b < 1.0):
                raise InvalidArgumentError(f"{name}: must be in [0, 1), got {b!r}")
        self.betas = (float(b1), float(b2))
        self.eps = _positive_float(eps, "eps")
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


# =========================================================================== training loop


@dataclass(frozen=True)
class TrainResult:
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


def _clip(grad: np.ndarray, max_norm: float | None) -> np.ndarray:
    """Scale ``grad`` to total 2-norm ``max_norm`` if larger (torch ``clip_grad_norm_``)."""
    if max_norm is None:
        return grad
    norm = float(np.linalg.norm(grad))
    return grad * (max_norm / norm) if norm > max_norm else grad


def train(
    model: NonlinearRNN,
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
) -> TrainResult:
    """Train ``model`` in place by minibatch Adam on the mean (time-weighted) squared error.

    Parameters
    ----------
    model : NonlinearRNN
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
        Show a tqdm bar over epochs.
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
    if not isinstance(model, NonlinearRNN):
        raise InvalidArgumentError(f"model: must be a NonlinearRNN, got {type(model).__name__}")
    x, y = _unpack_data(dataset, "dataset")
    if x.shape[2] != model.input_dim:
        raise InvalidArgumentError(f"dataset: input dimension {x.shape[2]} != model input_dim {model.input_dim}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if grad_clip is not None:
        grad_clip = _positive_float(grad_clip, "grad_clip")
    tw = _resolve_time_weights(time_weights, x.shape[1])
    val = _unpack_data(val_data, "val_data") if val_data is not None else None
    opt = optimizer if optimizer is not None else Adam(lr=lr)
    schedule = _resolve_schedule(lr_schedule, opt.lr, lr_min, epochs, warmup)
    rng = _rng(seed)
    previous_threads = numba.get_num_threads()
    if n_threads is not None:
        numba.set_num_threads(min(_positive_int(n_threads, "n_threads"), numba.config.NUMBA_NUM_THREADS))
    try:
        return _train_loop(model, x, y, tw, val, opt, rng, epochs, batch_size, grad_clip, progress, callback,
                           schedule, bool(keep_best))
    finally:
        numba.set_num_threads(previous_threads)


def _resolve_schedule(lr_schedule: Any, lr: float, lr_min: float, epochs: int,
                      warmup: int) -> Callable[[int], float] | None:
    """The step size of each epoch as a function (None: constant)."""
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


def _train_loop(model, x, y, tw, val, opt, rng, epochs, batch_size, grad_clip, progress, callback, schedule,
                keep_best) -> TrainResult:
    n = x.shape[0]
    epoch_losses: list[float] = []
    val_losses: list[float] = []
    step_losses: list[float] = []
    params = model.get_vector()
    best: tuple[float, int, np.ndarray] | None = None
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="train", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        if schedule is not None:
            opt.lr = _positive_float(schedule(epoch), f"lr_schedule({epoch})")
        order = rng.permutation(n)
        total = 0.0
        for lo in range(0, n, batch_size):
            idx = np.sort(order[lo : lo + batch_size])
            loss, grads = model.loss_and_grad(x[idx], y[idx], tw)
            if not math.isfinite(loss):
                raise ConvergenceError(f"train: loss became {loss} at epoch {epoch}; lower lr or set grad_clip")
            opt.step(params, _clip(model.pack(grads), grad_clip))
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
        if callback is not None and callback(epoch, epoch_losses[-1], model):
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
