"""Training a series of models -- widths by seeds -- as one sweep (:func:`memtheory.sweep.run`).

Each ``(width, seed)`` is an independent point: the model is built by ``make_model(width, seed)`` and trained by
:func:`memtheory.training.train` on the shared data, in this process or in worker processes (local or Dask),
with an optional result store (each trained model written as it finishes; a rerun trains only the rest).

A point trains with a fixed number of numba threads (``n_threads``, default 1): the BPTT gradient sums the
batch in one chunk per thread, so the thread count changes the rounding of the sum. Fixing it makes a point's
result independent of where it runs: the parallel series equals the serial one bit for bit.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..display import Displayable
from ..errors import InvalidArgumentError
from ..models.nonlinear import NonlinearRNN
from .._validation import check_int
from .datasets import LFDataset
from .loop import TrainResult, train

__all__ = ["TrainedPoint", "train_series"]


@dataclass(repr=False)
class TrainedPoint(Displayable):
    """One trained model of :func:`train_series`.

    Attributes
    ----------
    width, seed : int
        The point.
    model : NonlinearRNN
        The trained model.
    fit : TrainResult
        Its training history.
    """

    width: int
    seed: int
    model: NonlinearRNN
    fit: TrainResult

    _display_fields = ("width", "seed", "fit")


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, LFDataset):
        return np.asarray(data.x), np.asarray(data.y)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return np.asarray(data[0], dtype=np.float64), np.asarray(data[1], dtype=np.float64)
    raise InvalidArgumentError(f"data must be an LFDataset or (x, y), got {type(data).__name__}")


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _qualname(func: Callable) -> str:
    target = func.func if isinstance(func, functools.partial) else func
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    if isinstance(func, functools.partial):
        name += repr((func.args, sorted(func.keywords.items())))
    return name


def _train_point(make_model: Callable[[int, int], NonlinearRNN], data: tuple, val: tuple | None, n_threads: int,
                 options: dict, point: dict) -> TrainedPoint:
    """One ``(width, seed)`` of :func:`train_series` (module level, so that worker processes can run it); the
    point's progress is :func:`train`'s, epoch by epoch."""
    m, seed = int(point["m"]), int(point["seed"])
    model = make_model(m, seed)
    if not isinstance(model, NonlinearRNN):
        raise InvalidArgumentError(f"make_model({m}, {seed}) must return a NonlinearRNN, got {type(model).__name__}")
    fit = train(model, data, seed=1000 * seed + m, progress=False, val_data=val, n_threads=n_threads, **options)
    return TrainedPoint(m, seed, model, fit)


def train_series(make_model: Callable[[int, int], NonlinearRNN], data: Any, points: Sequence[Any], *,
                 val_data: Any = None, n_threads: int = 1, backend: Any = "processes", workers: int | None = 1,
                 store: Any = None, progress: bool = False, **train_options: Any) -> list[TrainedPoint]:
    """Train one model per ``(width, seed)`` point, as one sweep.

    Parameters
    ----------
    make_model : callable
        ``make_model(width, seed) -> NonlinearRNN``, the untrained model of a point (a module-level function,
        or a ``functools.partial`` of one, when the points run in other processes).
    data : LFDataset or (x, y)
        Training data, shared by every point.
    points : sequence of (int, int)
        ``(width, seed)`` pairs (or dicts ``{"m": width, "seed": seed}``), distinct.
    val_data : LFDataset or (x, y), optional
        Validation data (for ``keep_best``).
    n_threads : int
        numba threads each point trains with (module docstring: fixed, so that the result does not depend on
        the backend). With ``workers`` processes on as many cores, 1 uses every core.
    backend : {"processes", "serial"}, str or distributed.Client
        Where the points train (:func:`memtheory.sweep.run`).
    workers : int or None
        Local worker processes (default 1: this process; None: all cores).
    store : path, optional
        SQLite result store: each trained model is written when it finishes; a rerun trains only the rest.
    progress : bool
        Progress bar on stderr, moving with each point's epochs.
    **train_options :
        Passed to :func:`memtheory.training.train` (``epochs``, ``batch_size``, ``lr``, ``lr_schedule``,
        ``keep_best``, ...). Each point shuffles with seed ``1000 * seed + width``.

    Returns
    -------
    list of TrainedPoint
        In the order of ``points``.

    Raises
    ------
    InvalidArgumentError
        Bad points or options (``seed``, ``progress``, ``val_data`` and ``n_threads`` are this function's own).
    PointFailedError
        If a point fails (the others are trained, and stored when there is a store); a memtheory error of a
        single failed point is raised as itself.

    Examples
    --------
    >>> from memtheory import Kernel
    >>> from memtheory.models.nonlinear import NonlinearRNN
    >>> from memtheory.training import lf_dataset
    >>> from memtheory.training.series import train_series
    >>> data = lf_dataset(Kernel("exp(-t)"), 32, 20, 1.0, seed=0, convention="reference")
    >>> out = train_series(lambda m, s: NonlinearRNN.random(1, m, activation='tanh', seed=s), data, [(2, 0), (4, 0)], epochs=2,
    ...                    batch_size=16, backend="serial")
    >>> [(p.width, p.fit.epochs) for p in out]
    [(2, 2), (4, 2)]
    """
    from .. import sweep

    for own in ("seed", "progress", "val_data", "n_threads"):
        if own in train_options:
            raise InvalidArgumentError(f"train_series sets {own!r} itself; it is not a training option here")
    n_threads = check_int("n_threads", n_threads, lo=1)
    pts = []
    for p in points:
        if isinstance(p, dict):
            m, seed = p.get("m"), p.get("seed")
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            m, seed = p
        else:
            raise InvalidArgumentError(f"a point is (width, seed), got {p!r}")
        pts.append({"m": check_int("width", m, lo=1), "seed": int(seed)})
    if not pts:
        raise InvalidArgumentError("train_series needs at least one (width, seed) point")
    x, y = _arrays(data)
    val = _arrays(val_data) if val_data is not None else None
    key = {"model": _qualname(make_model), "data": _digest(x, y), "val": None if val is None else _digest(*val),
           "n_threads": n_threads, "options": {k: repr(v) for k, v in sorted(train_options.items())}}
    local = isinstance(backend, str) and backend in ("processes", "serial")
    func = functools.partial(_train_point, make_model, (x, y), val, n_threads, dict(train_options))
    res = sweep.run(func, pts, backend=backend, workers=workers if local else None, store=store, key=key,
                    weights=[float(p["m"]) + 8.0 for p in pts], progress=progress, desc="train", unit="models")
    res.raise_failures()
    return list(res.values)
