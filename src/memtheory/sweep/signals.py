"""How a sweep stops on SIGINT (Ctrl-C) and SIGTERM: its workers first, then the signal.

A signal handler that raises (Python's Ctrl-C handler raises ``KeyboardInterrupt``) raises at whatever
bytecode the main thread is running. While a sweep waits for its worker processes that is the lock handling of
``concurrent.futures`` and of the progress bar, which other threads share: an exception raised there leaves a
``Condition``'s lock released (the ``with`` block then fails with ``RuntimeError: release unlocked lock``) or a
future's lock held (the pool's thread blocks on it for ever, and so does the interpreter's exit, which joins
that thread). So during a sweep (:class:`SweepSignals`, used by :func:`memtheory.sweep.run`) the handlers only
record the signal; the sweep raises it at its next tick, where it stops cleanly (at most a second later),
stops its workers, and only then hands the signal to the handler that was there before. A point running in
this process is interrupted at once, as Python does.

Only the handlers this module knows how to hand a signal back to are taken over: Python's default
``KeyboardInterrupt`` handler, the default action (``SIG_DFL``: after the clean-up the signal is sent again and
ends the process as it would have), :func:`sigterm_raises`'s handler, and the handler of an enclosing sweep. An
ignored signal stays ignored; any other handler is left as it is (it runs when the signal arrives).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Terminated", "sigterm_raises", "SweepSignals"]

#: The signals a sweep stops on.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (inside :func:`sigterm_raises`): the computation stops like on Ctrl-C.

    A subclass of ``KeyboardInterrupt``, so that code that cleans up on Ctrl-C cleans up on SIGTERM too.
    """


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block (main thread), SIGTERM raises :class:`Terminated` instead of ending the process at once.

    So a command can stop the way it does on Ctrl-C: a sweep stops its worker processes first (a SIGTERM that
    ends the parent at once leaves them running), and the caller prints one line. Elsewhere than the main thread
    the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Stop(BaseException):
    """A signal that arrived during a sweep, raised where the sweep stops cleanly (never seen outside it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class SweepSignals:
    """SIGINT and SIGTERM while a sweep runs: a context manager (effective in the main thread only).

    While ``immediate`` is false (the sweep waits for its workers, stores results, draws its bar) a signal is only
    recorded, and :meth:`check` raises it; while it is true (a point runs in this process) the signal is raised
    at once. Either way the exception is internal: on leaving the block the handlers are restored and the signal
    is handed to the one that was there before, after the sweep's clean-up -- ``KeyboardInterrupt`` for Ctrl-C,
    :class:`Terminated` under :func:`sigterm_raises`, the signal sent again when its action is the default.
    """

    def __init__(self):
        self.signum: int | None = None
        self.immediate = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SweepSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                handler = signal.getsignal(signum)
                if _known(handler):
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        if self.immediate:
            self.immediate = False  # a second signal during the clean-up is only recorded
            raise _Stop(signum)

    def check(self) -> None:
        """Raise the signal recorded, if any (the sweep is at a point where it can stop cleanly)."""
        if self.signum is not None:
            self.immediate = False
            raise _Stop(self.signum)

    @contextmanager
    def running_here(self, here: bool = True) -> Iterator[None]:
        """Inside the block a point runs in this process (when ``here``): a signal is raised at once."""
        if not here:
            yield
            return
        self.check()
        self.immediate = True
        try:
            yield
        finally:
            self.immediate = False

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside the block (sweep code called from a point running here: its progress) a signal waits for the
        end of the block."""
        was, self.immediate = self.immediate, False
        try:
            yield
        finally:
            self.immediate = was
        if was:
            self.check()

    def __exit__(self, kind, exc, tb) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self.signum is None or self.signum not in self._previous:
            return False
        signum = self.signum
        handler = self._previous[signum]
        if handler == signal.SIG_DFL:
            os.kill(os.getpid(), signum)  # the default action (SIGTERM: the process ends here)
            raise KeyboardInterrupt  # not reached for a terminating signal
        try:
            handler(signum, None)  # Python's or sigterm_raises's handler raises; an enclosing sweep's records
        except BaseException as raised:
            raise raised from None  # the internal exception is no part of the story
        raise _Stop(signum)  # for the enclosing sweep: it stops at its next tick


def _known(handler: Callable | int | None) -> bool:
    """Whether :class:`SweepSignals` can hand a signal back to ``handler`` (see the module docstring)."""
    if handler is signal.default_int_handler or handler is _raise_terminated or handler == signal.SIG_DFL:
        return True
    return isinstance(getattr(handler, "__self__", None), SweepSignals)
