"""Threads of the numerical runtime: numba's thread pool and the BLAS libraries', set for a block of code.

Two OpenBLAS libraries live in the process: numpy's (``numpy.linalg``, ``@`` on arrays) and SciPy's (the one
numba's ``np.dot`` calls inside compiled kernels). Both are found with ``ctypes`` (:func:`blas_threads`).

* The numba-parallel kernels (:mod:`memtheory.models.rnn_kernels`) run one chunk of the batch per numba thread,
  and each thread calls its own small GEMMs; BLAS then runs single-threaded (:func:`single_threaded_blas`), or
  its own pool and numba's threads oversubscribe the cores (about 2x slower on 2 cores).
* A thread count chosen for memtheory bounds BLAS too: ``NUMBA_NUM_THREADS=n`` in the environment when memtheory
  is imported limits both BLAS libraries to ``n`` threads (and sets ``OPENBLAS_NUM_THREADS`` /
  ``MKL_NUM_THREADS`` to ``n``, unless they are set, before numpy loads and for child processes), and
  :func:`numba_threads` (the ``n_threads`` argument of :func:`memtheory.training.train`) limits them inside its
  block. So "one thread" means one core, not one numba thread plus a BLAS pool.

This module imports nothing heavy at import time: ``memtheory`` imports it first, so that the environment
variables are set before numpy loads.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

__all__ = ["BLAS_ENV_VARS", "apply_environment_thread_limit", "blas_limit", "blas_threads", "environment_thread_limit",
           "numba_threads", "set_blas_threads", "single_threaded_blas"]

#: Environment variables that set the BLAS pools' size when the libraries load.
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def environment_thread_limit() -> int | None:
    """The thread count ``NUMBA_NUM_THREADS`` asks for (None if unset or not a positive integer)."""
    raw = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if not raw.isdigit() or int(raw) < 1:
        return None
    return int(raw)


_LIMIT = environment_thread_limit()
if _LIMIT is not None:  # before numpy loads (if it has not yet): its BLAS pool starts limited
    for _var in BLAS_ENV_VARS:
        os.environ.setdefault(_var, str(_LIMIT))


def _thread_functions(module_file: str) -> tuple[Any, Any] | None:
    """``(set_num_threads, get_num_threads)`` of the OpenBLAS a compiled module links to, if found."""
    try:
        lib = ctypes.CDLL(module_file)
    except OSError:  # pragma: no cover - platform dependent
        return None
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("", "64_"):
            setter, getter = f"{prefix}set_num_threads{suffix}", f"{prefix}get_num_threads{suffix}"
            if hasattr(lib, setter) and hasattr(lib, getter):
                fset, fget = getattr(lib, setter), getattr(lib, getter)
                fset.argtypes, fset.restype, fget.restype = [ctypes.c_int], None, ctypes.c_int
                return fset, fget
    return None  # pragma: no cover


@functools.cache
def _libraries() -> dict[str, tuple[Any, Any]]:
    """The thread controls of SciPy's BLAS (numba's ``np.dot``) and numpy's, by name (found once)."""
    found: dict[str, tuple[Any, Any]] = {}
    try:
        import scipy.linalg.cython_blas as cython_blas
    except ImportError:  # pragma: no cover - SciPy is a dependency
        cython_blas = None
    if cython_blas is not None:
        fns = _thread_functions(cython_blas.__file__)
        if fns is not None:
            found["scipy"] = fns
    try:
        import numpy._core._multiarray_umath as umath
    except ImportError:  # pragma: no cover - numpy < 2
        import numpy.core._multiarray_umath as umath
    fns = _thread_functions(umath.__file__)
    if fns is not None:
        found["numpy"] = fns
    return found


def blas_threads() -> dict[str, int]:
    """Current thread counts of the BLAS libraries memtheory controls (``"scipy"``: numba's, ``"numpy"``).

    Examples
    --------
    >>> from memtheory._runtime import blas_threads
    >>> all(n >= 1 for n in blas_threads().values())
    True
    """
    return {name: int(fget()) for name, (_, fget) in _libraries().items()}


def set_blas_threads(n: int) -> None:
    """Set every controlled BLAS library to ``n >= 1`` threads."""
    for fset, _ in _libraries().values():
        fset(int(n))


def _limit_blas(n: int) -> None:
    """Lower every BLAS library running more than ``n`` threads to ``n``."""
    for name, count in blas_threads().items():
        if count > n:
            _libraries()[name][0](n)


def _restore_blas(previous: dict[str, int]) -> None:
    for name, count in previous.items():
        _libraries()[name][0](count)


def apply_environment_thread_limit() -> None:
    """Limit the loaded BLAS libraries to ``NUMBA_NUM_THREADS`` threads, if that variable was set.

    ``memtheory`` calls it once imported: numpy may have been loaded before it, with a pool of every core.
    """
    if _LIMIT is not None:
        _limit_blas(_LIMIT)


@contextmanager
def _kernel_blas_single() -> Iterator[None]:
    fset, fget = _libraries()["scipy"]
    previous = fget()
    fset(1)
    try:
        yield
    finally:
        fset(previous)


def single_threaded_blas() -> AbstractContextManager[None]:
    """Context manager: the BLAS of numba's ``np.dot`` single-threaded inside the compiled kernels.

    The kernels' parallelism is numba's (one chunk of the batch per thread, each calling its own GEMMs); a
    BLAS pool on top would oversubscribe the cores (about 2x slower on 2 cores) or, with one numba thread, use
    more cores than asked for. Restores the previous setting on exit. Does nothing if the BLAS library exposes
    no thread control.

    Examples
    --------
    >>> from memtheory._runtime import single_threaded_blas
    >>> with single_threaded_blas():
    ...     pass
    """
    if "scipy" not in _libraries():  # pragma: no cover - platform dependent
        return nullcontext()
    return _kernel_blas_single()


@contextmanager
def blas_limit(n: int) -> Iterator[None]:
    """Context manager: every controlled BLAS library uses at most ``n`` threads inside the block.

    For loops of many small dense problems (the best sums' Levenberg-Marquardt steps: symmetric eigenproblems
    of at most 200 x 200): a pool of threads costs more than it gives there, and on a busy machine its threads
    wait for cores (a 30 x 30 ``eigh`` measured at 6 ms under load against 60 us on one thread). The counts in
    force on entry are restored on exit.

    Examples
    --------
    >>> from memtheory._runtime import blas_limit, blas_threads
    >>> with blas_limit(1):
    ...     all(n == 1 for n in blas_threads().values())
    True
    """
    previous = blas_threads()
    _limit_blas(n)
    try:
        yield
    finally:
        _restore_blas(previous)


@contextmanager
def numba_threads(n: int | None) -> Iterator[None]:
    """Context manager: numba's parallel regions and BLAS use at most ``n`` threads inside the block.

    Parameters
    ----------
    n : int or None
        Threads (``>= 1``, checked by the caller): numba uses ``min(n, NUMBA_NUM_THREADS)``, each BLAS library
        ``min(n, its current count)``. None keeps the current counts.

    The counts in force on entry are restored on exit, whatever the block changed.
    """
    import numba

    previous = numba.get_num_threads()
    previous_blas = blas_threads()
    if n is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        _limit_blas(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
        _restore_blas(previous_blas)
