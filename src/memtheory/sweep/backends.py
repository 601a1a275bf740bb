"""Where a sweep's points run: in this process, in local worker processes, or on a Dask cluster.

Every backend runs :func:`call_point` on each point, which catches the point's own exception and returns it as
data, so a failing point never stops the others. In a worker process (processes or Dask) the point runs inside
:func:`call_in_worker`: the warnings it raises are collected (once each) and travel back with its result, for
the engine to raise again in the parent; in a local worker process, the fractions the point reports through
:mod:`memtheory.sweep.progress` travel to the parent on a queue while it runs. A backend has three operations: ``submit`` a point,
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
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

from .._validation import check_int
from ..errors import InvalidArgumentError, SchedulerUnreachableError, SweepBackendError

__all__ = ["Outcome", "WarningRecord", "call_point", "call_in_worker", "SerialBackend", "ProcessBackend", "DaskBackend", "make_backend",
           "default_workers", "connect"]

#: A warning raised in a worker: ``(category, message text, filename, lineno)``.
WarningRecord = tuple[type, str, str, int]

#: ``(index, error or None, value (the exception of a failed point), traceback text or None, seconds,
#: warnings)`` with ``warnings`` a list of :data:`WarningRecord` (empty for points run in this process, whose
#: warnings were raised here already).
Outcome = tuple[int, "str | None", Any, "str | None", float, list]

#: Most distinct warnings one point sends back (the rest are counted in one last warning).
_MAX_WARNINGS = 50


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


class _WarningCollector:
    """``warnings.showwarning`` replacement that keeps each distinct warning once."""

    def __init__(self):
        self.records: list[WarningRecord] = []
        self._seen: set = set()
        self.dropped = 0

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        key = (category, str(message), filename, lineno)
        if key in self._seen:
            return
        if len(self.records) >= _MAX_WARNINGS:
            self.dropped += 1
            return
        self._seen.add(key)
        self.records.append(key)


def _picklable_category(category: type) -> type:
    """``category`` if it pickles by reference (the parent can import it), else ``UserWarning``."""
    try:
        pickle.loads(pickle.dumps(category))
        return category
    except Exception:  # noqa: BLE001 -- a warning class defined in a closure, say
        return UserWarning


def call_in_worker(func: Callable[[Any], Any], point: Any, index: int | None = None
                   ) -> tuple[str | None, Any, str | None, float, list]:
    """:func:`call_point` in a worker process: also collect the warnings ``func`` raises (each distinct one
    once, under the "always" filter: the parent's filters decide what is shown) and, when this worker has a
    progress queue (local processes), forward the fractions the point reports.

    Returns
    -------
    tuple
        ``call_point``'s four items and the list of :data:`WarningRecord`.
    """
    from . import progress

    collector = _WarningCollector()
    queue = _PROGRESS_QUEUE
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = collector
        if queue is not None and index is not None:
            with progress.listening(progress.Forwarder(queue.put, index)):
                outcome = call_point(func, point)
        else:
            outcome = call_point(func, point)
    records = [(_picklable_category(c), m, f, n) for c, m, f, n in collector.records]
    if collector.dropped:
        records.append((RuntimeWarning, f"{collector.dropped} more distinct warnings of this point not shown",
                        __file__, 0))
    return (*outcome, records)


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

    def wait(self, timeout: float, on_progress: Callable[[int, float], None] | None = None) -> list[Outcome]:
        """Run the next point (the timeout does not apply: a point in this process cannot be waited on);
        the fractions it reports go to ``on_progress(index, fraction)``."""
        from . import progress

        index, func, point = self._queue.popleft()
        if on_progress is None:
            return [(index, *call_point(func, point), [])]
        with progress.listening(lambda f: on_progress(index, f)):
            return [(index, *call_point(func, point), [])]

    def close(self, abort: bool = False) -> None:
        """Forget what is queued."""
        self._queue.clear()


#: In a local worker process: the queue its points' progress fractions go to (None elsewhere).
_PROGRESS_QUEUE = None


def _init_worker(queue=None) -> None:  # pragma: no cover - runs in the worker processes
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the workers); progress goes to ``queue``.

    The worker was started with SIGINT blocked (:meth:`ProcessBackend.submit`), so a Ctrl-C during its start-up
    (seconds of imports) waits; ignoring SIGINT now discards it, and unblocking lets nothing through.
    """
    global _PROGRESS_QUEUE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if queue is not None:
        queue.cancel_join_thread()  # a worker stopped mid-sweep must not hang on unsent progress
    _PROGRESS_QUEUE = queue


def _drain(queue, on_progress: Callable[[int, float], None] | None) -> None:
    """Hand every ``(index, fraction)`` waiting on ``queue`` to ``on_progress``."""
    import queue as queues

    while True:
        try:
            index, fraction = queue.get_nowait()
        except (queues.Empty, OSError, EOFError, ValueError):
            return
        if on_progress is not None:
            on_progress(index, fraction)


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
        ctx = multiprocessing.get_context("spawn")
        self._progress = ctx.Queue()
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                            initargs=(self._progress,))
        self._futures: dict[cf.Future, int] = {}

    def submit(self, index: int, func: Callable, point: Any) -> None:
        """Send a point to the pool.

        The pool starts its worker processes here, on demand; they are started with SIGINT blocked (a process
        inherits its parent's signal mask): a Ctrl-C to the terminal's process group during a worker's start-up
        would otherwise interrupt its imports, with a traceback per worker. In this process a Ctrl-C meanwhile
        waits until the point is sent (microseconds, or the milliseconds of starting a process).
        """
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._futures[self._pool.submit(call_in_worker, func, point, index)] = index
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def pending(self) -> int:
        """Points not yet finished."""
        return len(self._futures)

    def wait(self, timeout: float, on_progress: Callable[[int, float], None] | None = None) -> list[Outcome]:
        """The points that finish within ``timeout`` seconds (possibly none); the fractions the running points
        reported meanwhile go to ``on_progress(index, fraction)``."""
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        _drain(self._progress, on_progress)
        out = []
        for fut in done:
            index = self._futures.pop(fut)
            try:
                out.append((index, *fut.result()))
            except Exception as exc:  # noqa: BLE001 -- e.g. a worker killed (BrokenProcessPool), an unpicklable value
                out.append((index, f"{type(exc).__name__}: {exc}", None, traceback.format_exc(), 0.0, []))
        return out

    def close(self, abort: bool = False) -> None:
        """Shut the pool down; ``abort``: cancel the queue and terminate the workers now."""
        if not abort:
            self._pool.shutdown(wait=True)
            self._progress.close()
            return
        # the executor has no public way to stop running workers before Python 3.14 (terminate_workers); its
        # shutdown forgets them, so they are listed first
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        # the queued points are cancelled by the pool's own thread (cancel_futures): a future cancelled here
        # while that thread marks the pool broken (its workers terminated below) makes it raise
        # InvalidStateError, a traceback on stderr
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()
        deadline = time.monotonic() + 1.0
        for proc in processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
        self._progress.close()


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

    Before a client is made, a plain socket checks, within ``timeout`` seconds, that something listens at a
    ``tcp://`` address and that it speaks first, as a Dask scheduler does (it sends its handshake on accepting
    a connection): a ``distributed.Client`` pointed at a closed port or at a server that never answers retries,
    hangs past its own timeout, and leaves a half-made client whose clean-up prints a traceback.

    Raises
    ------
    SchedulerUnreachableError
        If nothing listens at the address, or what listens does not answer as a Dask scheduler within
        ``timeout`` seconds (bad input: the address names no scheduler).
    SweepBackendError
        If Dask is not installed.
    """
    distributed = _dask()
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host_port = parse_host_port(location) if scheme in ("tcp", "tls") else None
    except ValueError as exc:
        raise InvalidArgumentError(f"scheduler address {address!r} is not valid: {exc}") from None
    if host_port is not None:
        _probe(address, host_port, timeout, speaks_first=scheme == "tcp")
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r} within {timeout:g} s "
                                        f"({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 -- something answered that is not a Dask scheduler (garbage frames)
        raise SchedulerUnreachableError(f"no Dask scheduler at {address!r}: what answers there does not speak "
                                        f"Dask's protocol ({type(exc).__name__})") from None


def _probe(address: str, host_port: tuple[str, int], timeout: float, speaks_first: bool) -> None:
    """Check that something listens at ``host_port`` and, if ``speaks_first``, sends bytes within ``timeout``."""
    import socket

    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection(host_port, timeout=timeout)
    except socket.timeout:
        raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r}: the connection was not "
                                        f"accepted within {timeout:g} s") from None
    except OSError as exc:
        raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r}: "
                                        f"{exc.strerror or type(exc).__name__}") from None
    with sock:
        if not speaks_first:
            return
        first = b""
        try:
            while len(first) < 8:  # a Dask frame starts with its length, 8 bytes little-endian
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                more = sock.recv(8 - len(first))
                if not more:
                    break
                first += more
        except socket.timeout:
            raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r}: something accepts "
                                            f"connections there but sends nothing within {timeout:g} s (a Dask "
                                            f"scheduler sends its handshake at once)") from None
        except OSError as exc:
            raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r}: "
                                            f"{exc.strerror or type(exc).__name__}") from None
    if len(first) < 8:
        raise SchedulerUnreachableError(f"no Dask scheduler answers at {address!r}: something accepts connections "
                                        f"there and closes them")
    if not 0 < int.from_bytes(first, "little") < 2**24:  # a handshake is a few hundred bytes
        raise SchedulerUnreachableError(f"no Dask scheduler at {address!r}: what answers there does not speak "
                                        f"Dask's protocol")


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
        self._futures[self.client.submit(call_in_worker, func, point, pure=False)] = index

    def pending(self) -> int:
        """Points not yet finished."""
        return len(self._futures)

    def wait(self, timeout: float, on_progress: Callable[[int, float], None] | None = None) -> list[Outcome]:
        """The points that finish within ``timeout`` seconds (possibly none). The fractions a point reports
        stay on its worker (``on_progress`` is not called): on a cluster the bar moves per point."""
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
                out.append((index, f"{type(exc).__name__}: {exc}", None, traceback.format_exc(), 0.0, []))
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
