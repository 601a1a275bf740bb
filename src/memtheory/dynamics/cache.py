"""The on-disk cache of the compiled integrator, keyed on the contents of all the integrator's source files.

numba's ``cache=True`` keys the cache of a function on its own source file only, but the machine code of the
entry point :func:`memtheory.dynamics.loop.solve_chunk` contains the code of everything it calls (the step
kernels, the event location, the controllers, the buffers; the constants they read are frozen into it).
:func:`attach_cache` therefore replaces the cache's source stamp by :func:`sources_stamp`, the SHA-256 of every
file of :data:`SOURCES`: editing any of them invalidates the cache. The helpers themselves are not cached (they
are only compiled when the entry point is).

A cold compile takes about 35-40 s of CPU (the Radau-only entry point about 30 s); loading from the cache well
under a second.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings

from numba import njit
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.registry import CPUDispatcher

from memtheory.dynamics.constants import CHUNK_ARGS
from memtheory.dynamics.loop import solve_chunk, solve_chunk_radau

__all__ = ["SOURCES", "sources_stamp", "attach_cache", "compiled_solver"]

#: Files of this package whose code is compiled into the entry point (the cache key).
SOURCES = ("constants.py", "tableaux.py", "dopri.py", "explicit.py", "radau.py", "events.py", "buffers.py",
           "control.py", "pointers.py", "loop.py")


def sources_stamp(directory: str | None = None) -> tuple[str, ...]:
    """SHA-256 of the source files of the compiled integrator (the on-disk cache key).

    Parameters
    ----------
    directory : str, optional
        Where the files of :data:`SOURCES` are read (default: this package's directory).

    Returns
    -------
    tuple of str
        One hexadecimal digest per file of :data:`SOURCES`, in that order.
    """
    here = os.path.dirname(os.path.abspath(__file__)) if directory is None else directory
    stamps = []
    for name in SOURCES:
        with open(os.path.join(here, name), "rb") as fh:
            stamps.append(hashlib.sha256(fh.read()).hexdigest())
    return tuple(stamps)


def attach_cache(disp: CPUDispatcher) -> bool:
    """Give ``disp`` a disk cache invalidated by a change of *any* of the integrator's source files.

    Parameters
    ----------
    disp : numba.core.registry.CPUDispatcher
        The dispatcher of the entry point (not compiled yet).

    Returns
    -------
    bool
        True if the cache is attached; False (no disk cache, with a ``RuntimeWarning``) if this numba
        version's cache internals differ.
    """
    try:
        cache = FunctionCache(disp.py_func)
        cache._cache_file = IndexDataCacheFile(cache_path=cache._cache_path,
                                               filename_base=cache._impl.filename_base,
                                               source_stamp=sources_stamp())
        disp._cache = cache
        return True
    except Exception:  # pragma: no cover - depends on numba internals
        warnings.warn("memtheory.dynamics: could not enable the on-disk cache of the integrator; it will be "
                      "compiled in every process", RuntimeWarning, stacklevel=3)
        return False


@functools.cache
def compiled_solver(explicit: bool = True) -> CPUDispatcher:
    """The compiled entry point (compiled, or loaded from the on-disk cache, on first use).

    ``explicit``: the entry point of every method (:func:`~memtheory.dynamics.loop.solve_chunk`); False, the
    one of ``method="radau"`` (:data:`~memtheory.dynamics.loop.solve_chunk_radau`, without the explicit pairs:
    a third less to compile).

    Compiled for the single signature :data:`~memtheory.dynamics.constants.CHUNK_ARGS` (the user functions
    as the addresses of :mod:`memtheory.dynamics.pointers`, rebuilt into first-class functions inside), after
    which compilation is disabled, so that the integrator is never specialised on a user function. Building
    it lazily keeps ``import memtheory`` fast.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The entry point, compiled with ``nogil=True``.
    """
    disp = njit(nogil=True)(solve_chunk if explicit else solve_chunk_radau)
    attach_cache(disp)
    disp.compile(CHUNK_ARGS)
    disp.disable_compile()
    return disp
