"""Sweeps: one engine for every grid of independent computations (docs/scaling.md).

>>> from memtheory import sweep
>>> sweep.run(abs, [-1, 2], backend="serial").values
[1, 2]

* :func:`run` (:mod:`.engine`): points, a function of one point, a backend (``"serial"``, ``"processes"`` --
  the local default, all cores -- or a Dask ``distributed.Client`` / scheduler address), an optional result
  store, a progress bar, Ctrl-C that stops the workers.
* :class:`ResultStore` (:mod:`.store`): one SQLite file per sweep; each finished point written at once, keyed
  by the point and the code version; reruns skip finished points.
* :mod:`.backends`: where the points run.
* :mod:`.progress`: how a long point reports how far it has got (the bar moves within a point).
* :mod:`.signals`: how a sweep stops on Ctrl-C and SIGTERM (its workers first, then the signal).
"""

from . import progress, signals
from .backends import DaskBackend, ProcessBackend, SerialBackend, connect, default_workers, make_backend
from .engine import PointError, SweepResult, describe, grid, run
from .store import ResultStore, StoredPoint, code_version, point_key

__all__ = ["run", "grid", "SweepResult", "PointError", "describe", "ResultStore", "StoredPoint", "point_key",
           "code_version", "make_backend", "connect", "default_workers", "SerialBackend", "ProcessBackend",
           "DaskBackend"]
