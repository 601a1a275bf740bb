"""The sweep engine: a list (or grid) of points, a function of one point, a backend, an optional store.

:func:`run` submits every point not already in the store, writes each result to the store the moment it
arrives, shows one progress bar (per point, on stderr, with the estimate weighted by the points' expected
costs), and returns the results in the order of the points, read back from the store when there is one. A
point that raises is recorded with its error (:class:`PointError`) and the others go on. A point that reports
its own progress (:mod:`memtheory.sweep.progress`) moves the bar while it runs, and a sweep run inside another
sweep's point reports its completion to that point. A warning raised in a worker process is raised again in
this process, once per sweep, with its category, when its point's result arrives. On Ctrl-C (or SIGTERM) the
workers are stopped (queued points cancelled, running ones terminated) before ``KeyboardInterrupt`` propagates
(or the signal takes its course; :mod:`memtheory.sweep.signals`); every row written before stays in the store,
and a rerun computes only the rest.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..display import Displayable
from ..errors import InvalidArgumentError, MemtheoryError, PointFailedError
from . import progress as _progress
from .backends import make_backend
from .signals import SweepSignals
from .store import ResultStore, code_version, point_key

__all__ = ["grid", "run", "SweepResult", "PointError", "describe"]

#: Seconds between two redraws of the progress bar while no point finishes.
_TICK = 1.0


def grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """The Cartesian product of named axes, as a list of points (the last axis varies fastest).

    Examples
    --------
    >>> from memtheory.sweep import grid
    >>> grid(m=[2, 4], inv_omega=[8.0, 10.0])
    [{'m': 2, 'inv_omega': 8.0}, {'m': 2, 'inv_omega': 10.0}, {'m': 4, 'inv_omega': 8.0}, {'m': 4, 'inv_omega': 10.0}]
    """
    if not axes:
        raise InvalidArgumentError("grid() needs at least one axis")
    names = list(axes)
    values = [list(v) for v in axes.values()]
    for name, vals in zip(names, values):
        if not vals:
            raise InvalidArgumentError(f"grid axis {name!r} is empty")
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


@dataclass(repr=False)
class PointError(Displayable):
    """A point whose function raised.

    Attributes
    ----------
    point : object
    error : str
        ``"Type: message"``.
    traceback : str or None
    exception : Exception or None
        The exception itself, when it came back from the worker (not when read from a store).
    """

    point: Any
    error: str
    traceback: str | None = field(default=None, repr=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass(repr=False)
class SweepResult(Displayable):
    """What :func:`run` returns.

    Attributes
    ----------
    points : list
        The points, in the order given.
    values : list
        ``values[i]`` is the result of ``points[i]``, or a :class:`PointError`.
    computed : int
        Points computed by this run.
    reused : int
        Points read from the store (finished by an earlier run of the same sweep and code).
    seconds : float
        Wall time of the run.
    backend : str
        ``"serial"``, ``"processes"`` or ``"dask"``.
    workers : int
    point_seconds : list
        Run time of each point (``None`` when unknown).
    """

    points: list
    values: list
    computed: int
    reused: int
    seconds: float
    backend: str
    workers: int
    point_seconds: list = field(default_factory=list)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("points", len(self.points)), ("failed", len(self.failures)), ("computed", self.computed),
                ("reused", self.reused), ("seconds", self.seconds), ("backend", self.backend),
                ("workers", self.workers)]

    @property
    def failures(self) -> list[PointError]:
        """The failed points."""
        return [v for v in self.values if isinstance(v, PointError)]

    def raise_failures(self) -> None:
        """Raise for the first failed point (no-op if none): its own exception when that is a memtheory error
        (so a bad input keeps its type), else :class:`~memtheory.errors.PointFailedError` naming how many
        failed."""
        bad = self.failures
        if not bad:
            return
        if isinstance(bad[0].exception, MemtheoryError) and len(bad) == 1:
            raise bad[0].exception
        raise PointFailedError(f"{len(bad)} of {len(self.points)} points failed; first: {point_key(bad[0].point)}: "
                               f"{bad[0].error}")


def describe(func: Callable, extra: Any = None) -> str:
    """The JSON description of a sweep of ``func`` (the store refuses a file holding another description).

    ``func``'s qualified name and ``extra`` (JSON-able: the settings the points share); without ``extra``, for
    a ``functools.partial``, its bound arguments (their ``repr``, which must not be an address like
    ``<... at 0x...>``).
    """
    parts: dict[str, Any] = {}
    target = func.func if isinstance(func, functools.partial) else func
    if isinstance(func, functools.partial) and extra is None:
        bound = repr((func.args, sorted(func.keywords.items())))
        if " at 0x" in bound:
            raise InvalidArgumentError("a stored sweep's function arguments must have a stable repr; pass key= "
                                       "describing the sweep")
        parts["arguments"] = bound
    parts["function"] = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    if extra is not None:
        parts["key"] = extra
    return json.dumps(parts, sort_keys=True, default=repr)


class _Bar:
    """The progress bar: advances by each point's weight, shows points done, redrawn every second."""

    def __init__(self, enabled: bool, desc: str | None, total: float, done: float, npoints: int, finished: int,
                 unit: str):
        from tqdm.auto import tqdm

        self.npoints, self.finished, self.failed, self.unit = npoints, finished, 0, unit
        self._bar = tqdm(total=total, initial=done, disable=not enabled, desc=desc or "sweep", file=sys.stderr,
                         smoothing=0, dynamic_ncols=True,
                         bar_format="{desc}: {percentage:5.1f}%|{bar}| [{elapsed}<{remaining}]{postfix}")
        self._postfix()
        self._stop = threading.Event()
        self._thread = None
        if enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _postfix(self) -> None:
        text = f"{self.finished}/{self.npoints} {self.unit}" + (f", {self.failed} failed" if self.failed else "")
        self._bar.set_postfix_str(text, refresh=False)

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            self._bar.refresh()

    def advance(self, weight: float, failed: bool) -> None:
        self.finished += 1
        self.failed += bool(failed)
        self._postfix()
        self._update(weight)

    def move(self, amount: float) -> None:
        """Part of a running point's weight done (it reported its progress)."""
        if amount > 0:
            self._update(amount)

    def _update(self, amount: float) -> None:
        # many small fractions of a weight add up to a little more than the weight in floating point: never past
        # the total (the bar would warn and show a negative time left)
        self._bar.update(max(0.0, min(amount, self._bar.total - self._bar.n)))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * _TICK)
        self._bar.close()


def _func_file(func: Callable) -> list[str]:
    """The source file of ``func`` when it lives outside the memtheory package (part of the code version)."""
    target = func.func if isinstance(func, functools.partial) else func
    try:
        path = inspect.getsourcefile(target)
    except TypeError:
        return []
    if not path:
        return []
    package = Path(__file__).resolve().parent.parent
    p = Path(path).resolve()
    return [] if p.is_relative_to(package) or not p.exists() else [str(p)]


class _Progress:
    """A sweep's progress: finished weights and the reported fractions of running points, shown on the bar and
    reported to the enclosing sweep point, if any (:mod:`memtheory.sweep.progress`)."""

    def __init__(self, bar: _Bar, weights: list[float], done: float):
        self.bar, self.w, self.total = bar, weights, sum(weights)
        self.done = done
        self.partial: dict[int, float] = {}
        self._over: set[int] = set()  # finished points (a late fraction from a worker's queue is ignored)
        self.outer = _progress.current()
        self._lock = threading.Lock()

    def fraction(self, index: int, fraction: float) -> None:
        """Point ``index`` reports ``fraction`` of itself done."""
        with self._lock:
            old = self.partial.get(index, 0.0)
            if index in self._over or fraction <= old or fraction > 1.0:
                return
            self.partial[index] = fraction
            self.bar.move((fraction - old) * self.w[index])
        self._tell_outer()

    def finished(self, index: int, failed: bool) -> None:
        """Point ``index`` finished."""
        with self._lock:
            old = self.partial.pop(index, 0.0)
            self._over.add(index)
            self.done += self.w[index]
            self.bar.advance((1.0 - old) * self.w[index], failed)
        self._tell_outer()

    def _tell_outer(self) -> None:
        if self.outer is not None:
            running = sum(self.partial[i] * self.w[i] for i in list(self.partial))
            self.outer.report((self.done + running) / self.total)


def _raise_again(records: list, seen: set) -> None:
    """Raise in this process the warnings a worker collected, each distinct one once per sweep."""
    for category, message, filename, lineno in records:
        key = (category, message, filename, lineno)
        if key in seen:
            continue
        seen.add(key)
        module = Path(filename).stem if filename else "<worker>"
        warnings.warn_explicit(message, category, filename, lineno, module=module)


def run(func: Callable[[Any], Any], points: Sequence[Any], *, backend: Any = "processes",
        workers: int | None = None, store: str | Path | None = None, key: Any = None,
        weights: Sequence[float] | None = None, progress: bool = False, desc: str | None = None,
        unit: str = "points", retry_failed: bool = True, timeout: float = 5.0, code_files: Sequence[str | Path] = (),
        on_result: Callable[[int, Any], None] | None = None) -> SweepResult:
    """Run ``func`` on every point.

    Parameters
    ----------
    func : callable
        ``func(point) -> value``. For the process and Dask backends it must be picklable (a module-level
        function or a ``functools.partial`` of one), and so must its value.
    points : sequence
        The points (JSON-able: numbers, strings, lists, dicts; :func:`grid` builds a product). No duplicates.
    backend : {"processes", "serial"}, str or distributed.Client
        Local processes (default; all the cores available unless ``workers``), this process, a Dask
        scheduler address, or a ``distributed.Client``.
    workers : int, optional
        Local worker processes (>= 1).
    store : path, optional
        The SQLite result store (:class:`memtheory.sweep.store.ResultStore`): finished points are skipped,
        each new one is written as it finishes, and the values returned are read back from it.
    key : JSON-able, optional
        Describes the sweep beyond ``func`` (the settings its points share); a store of another sweep is refused.
    weights : sequence of float, optional
        Expected relative cost of each point (default all 1): the heaviest are submitted first and the progress
        bar's estimate is weighted by them.
    progress : bool
        Show the progress bar (stderr).
    desc : str, optional
        The bar's label.
    unit : str
        What the bar counts (``"12/40 points"``).
    retry_failed : bool
        Recompute points the store records as failed (default) instead of returning their errors.
    timeout : float
        Seconds to wait for a scheduler address to answer.
    code_files : sequence of path
        Source files outside memtheory whose contents are part of the code version (``func``'s own file is).
    on_result : callable, optional
        ``on_result(index, value)`` in this process as each point finishes (``value`` a :class:`PointError`
        for a failed point), after its row is stored; points read from the store are reported first.

    Returns
    -------
    SweepResult

    Notes
    -----
    Progress: a point may report the fraction of itself done (:mod:`memtheory.sweep.progress`); on this
    process and on local worker processes the bar moves with it (on a Dask cluster, per finished point). A
    sweep run inside a point of another sweep reports its weighted completion to that point.

    Warnings: a warning raised by a point in a worker process (local processes or Dask) is raised again here
    when the point's result arrives, with the same category, message and source location, once per sweep
    however many points raised it; this process's warning filters decide whether it is shown (or becomes an
    error, which then stops the sweep like Ctrl-C, keeping the finished rows). Points run in this process
    (serial) raise their warnings directly.

    Raises
    ------
    InvalidArgumentError
        Bad points, weights or workers.
    StoreMismatchError
        The store holds another sweep.
    SweepBackendError
        A scheduler address that does not answer.

    Examples
    --------
    >>> from memtheory import sweep
    >>> res = sweep.run(abs, [-2, 3, -5], backend="serial")
    >>> res.values, res.computed
    ([2, 3, 5], 3)
    """
    start = time.perf_counter()
    pts = list(points)
    if not pts:
        raise InvalidArgumentError("a sweep needs at least one point")
    keys = [point_key(p) for p in pts]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InvalidArgumentError(f"the points of a sweep must be distinct; {dup} appears twice")
    if weights is None:
        w = [1.0] * len(pts)
    else:
        w = [float(x) for x in weights]
        if len(w) != len(pts) or not all(math.isfinite(x) and x > 0 for x in w):
            raise InvalidArgumentError(f"weights must be {len(pts)} finite numbers > 0")
    with SweepSignals() as stop:  # Ctrl-C / SIGTERM: raised where the sweep can stop, once its workers are
        db = None
        if store is not None:
            db = ResultStore(store, describe(func, key), code_version(*_func_file(func), *code_files))
        try:
            done = db.finished(retry_failed) if db is not None else set()
            todo = sorted((i for i, k in enumerate(keys) if k not in done), key=lambda i: -w[i])
            values: list[Any] = [None] * len(pts)
            seconds: list[Any] = [None] * len(pts)
            with stop.running_here():  # connecting to a scheduler can hang: a signal stops it at once
                be = make_backend(backend, workers, len(todo), timeout) if todo else make_backend("serial")
            here = be.name == "serial"  # points run in this process: a signal interrupts them at once
            already = sum(w[i] for i in range(len(pts)) if keys[i] in done)
            bar = _Bar(progress, desc, sum(w), already, len(pts), len(pts) - len(todo), unit)
            tracker = _Progress(bar, w, already)

            def fraction(index: int, f: float) -> None:
                with stop.deferred():  # not inside the bar's locks
                    tracker.fraction(index, f)

            seen_warnings: set = set()
            try:
                stop.check()
                if on_result is not None:
                    for i, k in enumerate(keys):
                        if k in done:
                            row = db.get(k)
                            on_result(i, row.value if row.status == "ok"
                                      else PointError(pts[i], row.error, row.traceback))
                for i in todo:
                    be.submit(i, func, pts[i])
                while be.pending():
                    with stop.running_here(here):
                        outcomes = be.wait(_TICK, fraction)
                    stop.check()  # before storing: a worker the signal killed too is not a failed point
                    for i, error, value, tb, secs, caught in outcomes:
                        if db is not None:
                            db.put(keys[i], value, error=error, traceback=tb, seconds=secs)
                        values[i] = value if error is None else PointError(pts[i], error, tb, value)
                        seconds[i] = secs
                        tracker.finished(i, error is not None)
                        _raise_again(caught, seen_warnings)
                        if on_result is not None:
                            on_result(i, values[i])
            except BaseException:
                stop.immediate = False  # a second signal does not interrupt the clean-up
                be.close(abort=True)
                bar.close()
                raise
            bar.close()
            be.close()
            if db is not None:  # the table is what the store holds
                for i, k in enumerate(keys):
                    row = db.get(k)
                    if row.status == "ok":
                        values[i] = row.value
                    elif not isinstance(values[i], PointError):  # failed in an earlier run
                        values[i] = PointError(pts[i], row.error, row.traceback)
                    seconds[i] = row.seconds
        finally:
            if db is not None:
                db.close()
    return SweepResult(pts, values, len(todo), len(pts) - len(todo), time.perf_counter() - start, be.name,
                       be.workers, seconds)

