"""Threads of the numerical runtime: numba's thread pool and the BLAS library's, set for a block of code.

The numba-parallel kernels (:mod:`memtheory.models.rnn_kernels`) run one chunk of the batch per numba thread,
and each thread calls its own small GEMMs; BLAS must then run single-threaded, or its own pool and numba's
threads oversubscribe the cores (about 2x slower on 2 cores). The BLAS thread count is set through the
OpenBLAS that SciPy ships (the one numba's ``np.dot`` calls), found with ``ctypes``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numba

__all__ = ["numba_threads", "single_threaded_blas"]


def _find_blas_threading() -> tuple[Any, Any] | None:
    """``(set_num_threads, get_num_threads)`` of the OpenBLAS that numba's ``np.dot`` calls, if found."""
    try:
        import scipy.linalg.cython_blas as cython_blas

        lib = ctypes.CDLL(cython_blas.__file__)
    except (ImportError, OSError):  # pragma: no cover - platform dependent
        return None
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("", "64_"):
            setter, getter = f"{prefix}set_num_threads{suffix}", f"{prefix}get_num_threads{suffix}"
            if hasattr(lib, setter) and hasattr(lib, getter):
                fset, fget = getattr(lib, setter), getattr(lib, getter)
                fset.argtypes, fset.restype, fget.restype = [ctypes.c_int], None, ctypes.c_int
                return fset, fget
    return None  # pragma: no cover


_BLAS_THREADING = _find_blas_threading()


@contextmanager
def _blas_threads(n: int) -> Iterator[None]:
    """BLAS runs ``n`` threads inside the block; the previous count is restored on exit."""
    fset, fget = _BLAS_THREADING
    previous = fget()
    fset(n)
    try:
        yield
    finally:
        fset(previous)


def single_threaded_blas() -> AbstractContextManager[None]:
    """Context manager: BLAS single-threaded inside the numba-parallel kernels (each thread calls its own GEMMs).

    Without this OpenBLAS's own pool and numba's threads oversubscribe the cores (about 2x slower on 2
    cores). Restores the previous setting on exit. Does nothing if the BLAS library exposes no thread control
    or numba runs a single thread.

    Examples
    --------
    >>> from memtheory._runtime import single_threaded_blas
    >>> with single_threaded_blas():
    ...     pass
    """
    if _BLAS_THREADING is None or numba.get_num_threads() == 1:
        return nullcontext()
    return _blas_threads(1)


@contextmanager
def numba_threads(n: int | None) -> Iterator[None]:
    """Context manager: numba's parallel regions use ``min(n, NUMBA_NUM_THREADS)`` threads inside the block.

    Parameters
    ----------
    n : int or None
        Threads (``>= 1``, checked by the caller); None keeps the current count.

    The count in force on entry is restored on exit, whatever the block changed.
    """
    previous = numba.get_num_threads()
    if n is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
