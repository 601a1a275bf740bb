"""The result store of a sweep: one SQLite file, one row per finished point (docs/scaling.md).

Why SQLite: it is one file, ships with Python (no new dependency), and every write is a transaction, so a
point's row is either fully there or absent, whatever kills the process (``kill -9``, a power cut, Ctrl-C).
Rows are written one at a time as points finish, which suits a row store; a columnar format (Parquet) writes
whole row groups and would need a file per point or a rewrite per point to lose nothing.

Layout: table ``meta`` (``format``, ``sweep``: the JSON description of the sweep the file belongs to) and table
``points`` with one row per ``(point, code version)``: the point (canonical JSON), ``status`` (``"ok"`` or
``"failed"``), the result (pickled), the error (type, message and traceback) of a failed point, the seconds it
took, and when it finished. A store is opened for one sweep; opening it for another raises
:class:`~memtheory.errors.StoreMismatchError`. Results are pickled: open only stores you made.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..display import Displayable
from ..errors import InvalidArgumentError, StoreMismatchError

__all__ = ["ResultStore", "StoredPoint", "point_key", "code_version", "STORE_FORMAT"]

#: Version of the file layout (a store of another layout is refused).
STORE_FORMAT = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    result BLOB,
    error TEXT,
    traceback TEXT,
    seconds REAL,
    finished REAL NOT NULL,
    PRIMARY KEY (key, version)
);
"""


def _canonical(value: Any) -> Any:
    """``value`` with tuples as lists and NumPy scalars as Python numbers; refuses non-finite floats and
    anything JSON cannot hold exactly."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) or type(value).__module__ == "numpy" and hasattr(value, "item"):
        item = value.item() if hasattr(value, "item") else value
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgumentError(f"a sweep point must hold finite numbers, got {item!r}")
        return item
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidArgumentError("the keys of a sweep point must be strings")
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise InvalidArgumentError(f"a sweep point holds numbers, strings, lists and dicts; got {type(value).__name__}")


def point_key(point: Any) -> str:
    """The canonical JSON of a point (sorted keys, floats written exactly): its key in the store.

    Examples
    --------
    >>> from memtheory.sweep import point_key
    >>> point_key({"m": 2, "inv_omega": 0.1})
    '{"inv_omega":0.1,"m":2}'
    """
    return json.dumps(_canonical(point), sort_keys=True, separators=(",", ":"), allow_nan=False)


_VERSION_CACHE: dict[tuple[str, ...], str] = {}


def code_version(*extra_files: str | os.PathLike) -> str:
    """``"<package version>+<hash>"``: the hash of every Python source file of memtheory (and ``extra_files``,
    e.g. the module of a function defined outside the package). Any edit of the code changes it, so results
    computed by other code are never taken for this code's.
    """
    from .. import __version__

    root = Path(__file__).resolve().parent.parent
    files = sorted(root.rglob("*.py")) + sorted(Path(f).resolve() for f in extra_files)
    cache_key = tuple(str(f) for f in files)
    if cache_key not in _VERSION_CACHE:
        digest = hashlib.sha256()
        for f in files:
            digest.update(str(f.relative_to(root) if f.is_relative_to(root) else f.name).encode())
            digest.update(f.read_bytes())
        _VERSION_CACHE[cache_key] = f"{__version__}+{digest.hexdigest()[:16]}"
    return _VERSION_CACHE[cache_key]


@dataclass(repr=False)
class StoredPoint(Displayable):
    """One row of a store.

    Attributes
    ----------
    key : str
        The point's canonical JSON (:func:`point_key`).
    status : str
        ``"ok"`` or ``"failed"``.
    value : object
        The result (``None`` for a failed point).
    error : str or None
        ``"Type: message"`` of a failed point.
    traceback : str or None
        Its traceback (as text).
    seconds : float or None
        Run time of the point.
    """

    key: str
    status: str
    value: Any
    error: str | None
    traceback: str | None
    seconds: float | None

    _display_fields = ("key", "status", "error", "seconds")

    @property
    def point(self) -> Any:
        """The point (decoded from its key)."""
        return json.loads(self.key)


class ResultStore:
    """A sweep's results in one SQLite file (module docstring).

    Parameters
    ----------
    path : path
        The file (created with its tables if absent).
    sweep : str
        The JSON description of the sweep; a file holding another sweep is refused.
    version : str
        The code version rows are written and looked up under (:func:`code_version`).

    Raises
    ------
    StoreMismatchError
        If the file belongs to another sweep or has another layout.
    InvalidArgumentError
        If the file cannot be opened as a store (not SQLite, a directory, unwritable).
    """

    def __init__(self, path: str | os.PathLike, sweep: str, version: str):
        self.path = Path(path)
        self.sweep = sweep
        self.version = version
        if self.path.is_dir():
            raise InvalidArgumentError(f"store {str(self.path)!r} is a directory, not a file")
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                meta = dict(self._db.execute("SELECT key, value FROM meta"))
                if not meta:
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)",
                                         [("format", STORE_FORMAT), ("sweep", sweep), ("created", repr(time.time()))])
        except sqlite3.DatabaseError as exc:
            raise InvalidArgumentError(f"cannot use {str(self.path)!r} as a result store: {exc}") from None
        if meta and meta.get("format") != STORE_FORMAT:
            self.close()
            raise StoreMismatchError(f"store {str(self.path)!r} has layout {meta.get('format')!r}, not "
                                     f"{STORE_FORMAT!r}")
        if meta and meta.get("sweep") != sweep:
            self.close()
            raise StoreMismatchError(f"store {str(self.path)!r} holds another sweep: "
                                     f"{_difference(meta.get('sweep'), sweep)}; use another file")

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, exc, tb):
                db.execute("COMMIT" if kind is None else "ROLLBACK")
                return False

        return _Tx()

    def finished(self, retry_failed: bool = True) -> set[str]:
        """Keys of the points already in the store under this code version (``ok`` ones, and failed ones
        unless ``retry_failed``)."""
        sql = "SELECT key FROM points WHERE version = ?" + (" AND status = 'ok'" if retry_failed else "")
        return {k for (k,) in self._db.execute(sql, (self.version,))}

    def put(self, key: str, value: Any = None, *, error: str | None = None, traceback: str | None = None,
            seconds: float | None = None) -> None:
        """Write one finished point (a result, or ``error`` for a failed one) in its own transaction."""
        status = "ok" if error is None else "failed"
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if error is None else None
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (key, self.version, status, blob, error, traceback, seconds, time.time()))

    def get(self, key: str) -> StoredPoint | None:
        """The row of ``key`` under this code version (None if absent)."""
        row = self._db.execute("SELECT key, status, result, error, traceback, seconds FROM points "
                               "WHERE key = ? AND version = ?", (key, self.version)).fetchone()
        return None if row is None else _row(row)

    def rows(self) -> list[StoredPoint]:
        """Every row under this code version, in the order the points finished."""
        cur = self._db.execute("SELECT key, status, result, error, traceback, seconds FROM points "
                               "WHERE version = ? ORDER BY finished, rowid", (self.version,))
        return [_row(r) for r in cur]

    def versions(self) -> dict[str, int]:
        """``{code version: number of rows}`` (rows of other versions are kept, never reused)."""
        return dict(self._db.execute("SELECT version, COUNT(*) FROM points GROUP BY version"))

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _row(row) -> StoredPoint:
    key, status, blob, error, tb, seconds = row
    return StoredPoint(key, status, pickle.loads(blob) if blob is not None else None, error, tb, seconds)


def _shorten(text: str | None, n: int = 100) -> str:
    """``text`` within ``n`` characters: its middle cut (head and tail kept)."""
    text = str(text)
    return text if len(text) <= n else text[: n // 2 - 1] + "…" + text[len(text) - (n - n // 2):]


_ABSENT = object()


def _difference(stored: str | None, this: str) -> str:
    """Where the sweep description ``stored`` (JSON, from :func:`memtheory.sweep.describe`) first differs from
    ``this``: the first differing key and both values, e.g. ``key.delta is 0.05 there, 0.1 here``."""
    try:
        path, there, here = _first_difference(json.loads(stored), json.loads(this), "")
    except (TypeError, ValueError):  # not JSON: from the first differing character
        a, b = str(stored), this
        i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return (f"its description differs from character {i}: {_shorten(a[i:], 60)!r} there, "
                f"{_shorten(b[i:], 60)!r} here")

    def show(value: Any) -> str:
        return "absent" if value is _ABSENT else _shorten(json.dumps(value, sort_keys=True), 80)

    return f"{path or 'the description'} is {show(there)} there, {show(here)} here"


def _first_difference(a: Any, b: Any, path: str) -> tuple[str, Any, Any]:
    """``(path, a's value, b's value)`` of the first key (sorted) or item where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return sub, a.get(key, _ABSENT), b.get(key, _ABSENT)
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], sub)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return path, a, b
