"""Where memtheory and numba keep their on-disk caches, with a fallback when the usual place is unusable.

Two caches: memtheory's generated modules (:func:`cache_root`: ``$MEMTHEORY_CACHE_DIR`` or
``$XDG_CACHE_HOME/memtheory``, default ``~/.cache/memtheory``) and numba's machine code of the ``cache=True``
functions (next to the package's sources, or numba's user-wide directory, or ``$NUMBA_CACHE_DIR``). When the
location is unusable -- the variable names a file, the directory is read-only, ``HOME`` is ``/proc``, the package
and the home directory are both read-only -- the cache moves to a fresh temporary directory for this process,
with one :class:`RuntimeWarning` saying where and why. Compiled code then lasts for the process only; nothing
fails.
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root", "ensure_numba_cache", "writable_directory"]

#: Environment variable naming memtheory's cache directory.
CACHE_ENV = "MEMTHEORY_CACHE_DIR"


def writable_directory(path: str | os.PathLike) -> str | None:
    """Create ``path`` if needed and check a file can be written in it; None if it works, else the reason."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _fallback(what: str, path: str | os.PathLike, reason: str) -> str:
    tmp = tempfile.mkdtemp(prefix="memtheory-cache-" if what == "memtheory" else f"memtheory-{what}-cache-")
    warnings.warn(f"memtheory: cannot use {os.fspath(path)!r} for the {what} cache ({reason}); using {tmp!r} for "
                  "this process", RuntimeWarning, stacklevel=4)
    return tmp


def cache_root() -> Path:
    """memtheory's cache directory (created), or a temporary one (with a warning) if it is unusable.

    Read from the environment on every call (the check runs once per setting).
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        return _checked_root(Path(root))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return _checked_root(Path(base) / "memtheory")


@functools.cache
def _checked_root(path: Path) -> Path:
    reason = writable_directory(path / "generated")
    return path if reason is None else Path(_fallback("memtheory", path, reason))


@functools.cache
def ensure_numba_cache() -> str | None:
    """Give numba a writable cache location before the package's ``cache=True`` functions are defined.

    numba looks for a writable place in order: ``$NUMBA_CACHE_DIR``, a ``__pycache__`` next to the source file,
    its user-wide directory; with none, defining a ``cache=True`` function raises ("no locator available") and
    ``import memtheory`` would fail. If none is writable for this package, numba's cache directory is set to a
    temporary one. Returns the directory chosen, or None when numba's own choice works.
    """
    from numba.core import config

    if config.CACHE_DIR:
        reason = writable_directory(config.CACHE_DIR)
        if reason is None:
            return None
        config.CACHE_DIR = _fallback("numba", config.CACHE_DIR, reason)
        return config.CACHE_DIR
    in_tree = Path(__file__).resolve().parent / "__pycache__"
    if writable_directory(in_tree) is None:
        return None
    from numba.misc.appdirs import AppDirs

    user_wide = AppDirs(appname="numba", appauthor=False).user_cache_dir
    reason = writable_directory(user_wide)
    if reason is None:
        return None
    config.CACHE_DIR = _fallback("numba", f"{in_tree} and {user_wide}", reason)
    return config.CACHE_DIR
