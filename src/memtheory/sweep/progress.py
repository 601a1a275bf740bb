"""The progress hook: how a long computation inside a sweep point reports how far it has got.

A sweep's progress bar (:func:`memtheory.sweep.run` with ``progress=True``) advances by each point's weight
when the point finishes. A point that takes minutes (a proofs check, a plateau point far out) would leave the bar
still for minutes; with this hook the point reports the fraction of itself done, and the bar moves by that
fraction of the point's weight at once -- also when the point runs in a worker process (the fraction travels
to the parent with the results).

A computation reports with :func:`report` (a fraction in ``[0, 1]``), with :class:`Steps` (``k`` of ``n``
equal steps) or, for several phases of unequal cost, inside :func:`part` blocks, which map the fractions
reported inside onto a sub-interval of the enclosing one. A :func:`memtheory.sweep.run` called inside a point
reports its own weighted completion the same way, so nested sweeps compose without any code in the point::

    from memtheory.sweep import progress

    def my_check(point):
        with progress.part(0.0, 0.7):     # the scan: 70 % of the time
            scan = plateau.scan(...)      # its points move the outer bar
        steps = progress.Steps(4, start=0.7)
        for width in (2, 4, 8, 16):
            ...
            steps.advance()

Outside a sweep point (nobody listening), every call here is a no-op costing a few hundred nanoseconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import InvalidArgumentError

__all__ = ["report", "part", "Steps", "listening", "listening_active", "current", "Listener", "Forwarder"]

#: Seconds between two fractions forwarded from a worker process (fewer messages; the bar redraws every second).
FORWARD_INTERVAL = 0.5

_local = threading.local()


class Listener:
    """One level of listening: reports fractions of its interval ``[start, stop]`` to a callback."""

    __slots__ = ("callback", "start", "stop", "last")

    def __init__(self, callback: Callable[[float], None]):
        self.callback, self.start, self.stop, self.last = callback, 0.0, 1.0, 0.0

    def report(self, fraction: float) -> None:
        """``fraction`` of the current interval done (ignored unless it moves forward)."""
        value = self.start + (self.stop - self.start) * _clamp(fraction)
        if value > self.last:
            self.last = value
            self.callback(value)


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current() -> Listener | None:
    """The innermost listener of this thread (``None`` outside any sweep point)."""
    stack = _stack()
    return stack[-1] if stack else None


def listening_active() -> bool:
    """Whether a listener (an enclosing sweep point) receives what :func:`report` says."""
    return bool(_stack())


@contextmanager
def listening(callback: Callable[[float], None]) -> Iterator[Listener]:
    """Inside the block, fractions reported (:func:`report`) go to ``callback(fraction)``.

    Used by the sweep engine and its backends around each point; ``callback`` receives fractions of the whole
    point, in ``[0, 1]``, increasing.
    """
    stack = _stack()
    entry = Listener(callback)
    stack.append(entry)
    try:
        yield entry
    finally:
        stack.pop()


def _clamp(fraction: float) -> float:
    f = float(fraction)
    if f != f:  # NaN
        raise InvalidArgumentError("a progress fraction must be a number in [0, 1], got nan")
    return min(1.0, max(0.0, f))


def report(fraction: float) -> None:
    """Say that ``fraction`` (in ``[0, 1]``, clipped) of the current computation is done.

    Inside a :func:`part` block the fraction is of that part. Fractions that go backwards are ignored (a bar
    never moves back). No-op when no sweep point is listening.
    """
    stack = _stack()
    if stack:
        stack[-1].report(fraction)


@contextmanager
def part(start: float, stop: float) -> Iterator[None]:
    """Inside the block, fraction ``f`` reported means ``start + f (stop - start)`` of the enclosing
    computation; at the end of the block the whole part counts as done.

    Parameters
    ----------
    start, stop : float
        The sub-interval of ``[0, 1]`` this part covers (``0 <= start <= stop <= 1``).
    """
    start, stop = float(start), float(stop)
    if not 0.0 <= start <= stop <= 1.0:
        raise InvalidArgumentError(f"a progress part needs 0 <= start <= stop <= 1, got [{start}, {stop}]")
    entry = current()
    if entry is None:
        yield
        return
    lo, hi = entry.start, entry.stop
    entry.start, entry.stop = lo + (hi - lo) * start, lo + (hi - lo) * stop
    try:
        entry.report(0.0)
        yield
    finally:
        entry.report(1.0)
        entry.start, entry.stop = lo, hi


class Steps:
    """``n`` equal steps of a computation: each :meth:`advance` reports one more done.

    Parameters
    ----------
    n : int
        Number of steps (>= 1).
    start, stop : float
        The part of the enclosing computation the steps cover (default all of it).
    """

    def __init__(self, n: int, start: float = 0.0, stop: float = 1.0):
        if int(n) != n or n < 1:
            raise InvalidArgumentError(f"Steps needs n >= 1 steps, got {n!r}")
        if not 0.0 <= float(start) <= float(stop) <= 1.0:
            raise InvalidArgumentError(f"Steps needs 0 <= start <= stop <= 1, got [{start}, {stop}]")
        self.n, self.done, self.start, self.stop = int(n), 0, float(start), float(stop)

    def advance(self, k: int = 1) -> None:
        """``k`` more steps done."""
        self.done = min(self.n, self.done + int(k))
        report(self.start + (self.stop - self.start) * self.done / self.n)

    @contextmanager
    def step(self) -> Iterator[None]:
        """One step as a block: fractions reported inside are of this step; the step counts as done at the end."""
        lo = self.start + (self.stop - self.start) * self.done / self.n
        hi = self.start + (self.stop - self.start) * min(self.n, self.done + 1) / self.n
        with part(lo, hi):
            yield
        self.done = min(self.n, self.done + 1)


class Forwarder:
    """A listener in a worker process: sends ``(index, fraction)`` through ``send`` at most every
    :data:`FORWARD_INTERVAL` seconds (and always the first fraction and any fraction of 1)."""

    def __init__(self, send: Callable[[tuple[int, float]], None], index: int):
        self._send, self._index, self._last = send, index, 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= FORWARD_INTERVAL:
            self._last = now
            try:
                self._send((self._index, fraction))
            except Exception:  # noqa: BLE001 -- progress is a courtesy: a closed channel must not fail a point
                pass
