"""Where a sweep's points run: in this process, in local worker processes, or on a Dask cluster.

Every backend runs :func:`call_point` on each point, which catches the point's own exception and returns it as
data, so a failing point never stops the others. A backend has three operations: ``submit`` a point,
``wait`` (up to a timeout) for some to finish, and ``close`` (``abort=True`` on Ctrl-C: cancel what is queued and
stop the workers at once).

* :class:`SerialBackend`: in this process, one point per ``wait``.
* :class:`ProcessBackend`: a pool of ``spawn``-ed worker processes (a fresh interpreter each: no forked
  numba or BLAS thread state). The workers ignore SIGINT: on Ctrl-C the parent stops them (terminate), so one
  process reports the interrupt, not every worker with its own traceback.
* :class:`DaskBackend`: a ``distributed.Client`` (given, or connected to a scheduler address within a timeout).
  Needs the optional extra ``memtheory[cluster]``; nothing here imports Dask unless this backend is asked for.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from .._validation import check_int
from ..errors import InvalidArgumentError, SweepBackendError

__all__ = ["Outcome", "call_point", "SerialBackend", "ProcessBackend", "DaskBackend", "make_backend",
           "default_workers", "connect"]

#: ``(index, error or None, value (the exception of a failed point), traceback text or None, seconds)``.
Outcome = tuple[int, "str | None", Any, "str | None", float]


def call_point(func: Callable[[Any], Any], point: Any) -> tuple[str | None, Any, str | None, float]:
    """Run ``func(point)``; return ``(None, value, None, seconds)``, or ``("Type: message", exception,
    traceback, seconds)`` when it raises an ``Exception`` (the exception object when it pickles, else None;
    ``KeyboardInterrupt`` and ``SystemExit`` pass through)."""
    start = time.perf_counter()
    try:
        value = func(point)
    except Exception as exc:  # noqa: BLE001 -- a failing point is recorded, the others go on
        try:  # the exception itself travels back when it can (a typed error keeps its type)
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 -- unpicklable: its text is enough
            exc = None
        return (f"{type(exc).__name__}: {exc}" if exc is not None else _describe_exc(), exc, traceback.format_exc(),
                time.perf_counter() - start)
    return (None, value, None, time.perf_counter() - start)


def _describe_exc() -> str:
    import sys

    kind, exc, _ = sys.exc_info()
    return f"{kind.__name__}: {exc}"


def default_workers() -> int:
    """Worker processes of the local default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SerialBackend:
    """Points run one at a time in this process (in submission order)."""

    name = "serial"
    workers = 1

    def __init__(self):
        self._queue: deque = deque()

    def submit(self, index: int, func: Callable, point: Any) -> None:
        """Queue a point."""
        self._queue.append((index, func, point))

    def pending(self) -> int:
        """Points not yet finished."""
        return len(self._queue)

    def wait(self, timeout: float) -> list[Outcome]:
        """Run the next point (the timeout does not apply: a point in this process cannot be waited on)."""
        index, func, point = self._queue.popleft()
        return [(index, *call_point(func, point))]

    def close(self, abort: bool = False) -> None:
        """Forget what is queued."""
        self._queue.clear()


def _ignore_sigint() -> None:  # pragma: no cover - runs in the worker processes
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessBackend:
    """A pool of ``workers`` spawned processes on this machine.

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1).
    """

    name = "processes"

    def __init__(self, workers: int):
        self.workers = check_int("workers", workers, lo=1)
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_ignore_sigint)
        self._futures: dict[cf.Future, int] = {}

    def submit(self, index: int, func: Callable, point: Any) -> None:
        """Send a point to the pool."""
        self._futures[self._pool.submit(call_point, func, point)] = index

    def pending(self) -> int:
        """Points not yet finished."""
        return len(self._futures)

    def wait(self, timeout: float) -> list[Outcome]:
        """The points that finish within ``timeout`` seconds (possibly none)."""
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        for fut in done:
            index = self._futures.pop(fut)
            try:
                out.append((index, *fut.result()))
            except Exception as exc:  # noqa: BLE001 -- e.g. a worker killed (BrokenProcessPool), an unpicklable value
                out.append((index, f"{type(exc).__name__}: {exc}", None, traceback.format_exc(), 0.0))
        return out

    def close(self, abort: bool = False) -> None:
        """Shut the pool down; ``abort``: cancel the queue and terminate the workers now."""
        if not abort:
            self._pool.shutdown(wait=True)
            return
        for fut in self._futures:
            fut.cancel()
        # the executor has no public way to stop running workers before Python 3.14 (terminate_workers)
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for proc in processes:
            proc.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + 1.0
        for proc in processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()


def _dask():
    try:
        import distributed
    except ImportError:
        raise SweepBackendError("the Dask backend needs the optional extra memtheory[cluster] "
                                "(pip install 'memtheory[cluster]')") from None
    return distributed


def connect(address: str, timeout: float = 5.0):
    """A ``distributed.Client`` connected to the scheduler at ``address`` (``tcp://host:port`` or
    ``host:port``).

    Raises
    ------
    SweepBackendError
        If no scheduler answers within ``timeout`` seconds, or Dask is not installed.
    """
    distributed = _dask()
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise InvalidArgumentError(f"scheduler address {address!r} is not valid: {exc}") from None
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SweepBackendError(f"no Dask scheduler answers at {address!r} within {timeout:g} s "
                                f"({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 -- something answered that is not a Dask scheduler (garbage frames)
        raise SweepBackendError(f"no Dask scheduler at {address!r}: what answers there does not speak Dask's "
                                f"protocol ({type(exc).__name__})") from None


class DaskBackend:
    """Points run as tasks of a Dask ``distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client or str
        A client (left open at the end), or a scheduler address (connected with :func:`connect`, closed at the
        end).
    timeout : float
        Seconds to wait for the scheduler at an address.
    """

    name = "dask"

    def __init__(self, client: Any, timeout: float = 5.0):
        _dask()
        self._own = isinstance(client, str)
        self.client = connect(client, timeout) if self._own else client
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self.client.scheduler_info().get("workers", {}).values()))
        self._futures: dict[Any, int] = {}

    def submit(self, index: int, func: Callable, point: Any) -> None:
        """Send a point to the cluster."""
        self._futures[self.client.submit(call_point, func, point, pure=False)] = index

    def pending(self) -> int:
        """Points not yet finished."""
        return len(self._futures)

    def wait(self, timeout: float) -> list[Outcome]:
        """The points that finish within ``timeout`` seconds (possibly none)."""
        # polled: distributed.wait() looks for a default client, and a client given to a sweep need not be one
        deadline = time.monotonic() + timeout
        while not any(f.done() for f in self._futures) and time.monotonic() < deadline:
            time.sleep(0.02)
        out = []
        for fut in [f for f in self._futures if f.done()]:
            index = self._futures.pop(fut)
            try:
                out.append((index, *fut.result()))
            except Exception as exc:  # noqa: BLE001 -- a worker lost, a task cancelled by the cluster
                out.append((index, f"{type(exc).__name__}: {exc}", None, traceback.format_exc(), 0.0))
        return out

    def close(self, abort: bool = False) -> None:
        """Cancel what is left (``abort``) and close the client if this backend opened it."""
        if self._futures:
            try:
                self.client.cancel(list(self._futures), force=True)
            except Exception:  # noqa: BLE001 -- the cluster may already be gone; nothing left to cancel
                pass
            self._futures.clear()
        if self._own:
            self.client.close(timeout=2 if abort else 10)


def make_backend(backend: Any = "processes", workers: int | None = None, npoints: int | None = None,
                 timeout: float = 5.0):
    """The backend object of a sweep.

    Parameters
    ----------
    backend : {"processes", "serial"}, str or distributed.Client
        ``"processes"`` (local pool; ``workers`` default: the cores available), ``"serial"``, a Dask scheduler
        address, or a ``distributed.Client``.
    workers : int, optional
        Local worker processes (>= 1). One worker, or one point to compute, runs serially (no pool to start).
    npoints : int, optional
        Points to compute (caps the pool size).
    timeout : float
        Seconds to wait for a scheduler address.
    """
    if workers is not None:
        workers = check_int("workers", workers, lo=1)
    if backend is None or backend == "processes":
        n = workers if workers is not None else default_workers()
        if npoints is not None:
            n = min(n, max(1, npoints))
        return SerialBackend() if n == 1 else ProcessBackend(n)
    if backend == "serial":
        return SerialBackend()
    if isinstance(backend, str):
        if workers is not None:
            raise InvalidArgumentError("workers applies to the local backends; a Dask cluster has its own workers")
        if ":" not in backend:
            raise InvalidArgumentError(f"backend must be 'processes', 'serial', a Dask scheduler address "
                                       f"(tcp://host:port) or a distributed.Client, got {backend!r}")
        return DaskBackend(backend, timeout)
    if type(backend).__name__ == "Client" and hasattr(backend, "submit"):
        return DaskBackend(backend, timeout)
    raise InvalidArgumentError(f"backend must be 'processes', 'serial', a Dask scheduler address or a "
                               f"distributed.Client, got {type(backend).__name__}")
