"""Runner for the proofs checks (``memtheory verify``): the check convention, discovery and running.

Convention for a check (one module ``proofs_checks/<name>.py`` per theorem or paper result)
-------------------------------------------------------------------------------------------
A check module defines

* ``NAME`` (str): the check's name (the module name);
* ``CLAIM`` (str): what the theory says, one line (the report's "theory" column);
* ``CRITERION`` (str): the condition the code tests to decide pass/fail, with its thresholds, in one or two
  sentences (shown in the report next to the claim and the verdict); it must state exactly what ``run`` tests;
* ``run(quick: bool = False, full: bool = False) -> CheckResult`` (``full`` may be left out: the runner passes
  it only to a ``run`` that accepts it, and a check without it runs its default size under ``--full``);
* optionally ``COST`` (float, or ``{"quick": s, "default": s, "full": s}``): the CPU seconds its runs take
  (:attr:`CheckResult.cpu_seconds` of a run: on a machine shared with other jobs the wall time says more about
  the load than about the check; default :data:`DEFAULT_COST`). The runner starts the costliest checks first
  when they run in parallel, and weights the progress bar by it.

Three sizes (:data:`SIZES`), each measuring the same quantity and deciding pass/fail honestly on it:

* ``quick`` (``run(quick=True)``): *genuinely reduced* -- fewer widths, draws, grid points or digits
  (thresholds may be relaxed only where the reduced sizes cannot resolve the default threshold; say so in the
  docstring and the ``CRITERION``). The whole ``memtheory verify --quick`` stays near one minute on 2 cores,
  so a quick check takes a few seconds.
* ``default`` (``run()``): sizes that *decide* the claim (the ``CRITERION`` states what is tested), within the
  budget of the whole default ``memtheory verify``: under 3 minutes on 2 quiet cores.
* ``full`` (``run(full=True)``): paper scale, any length (the sizes of the papers' figures, or larger).

A check states the settings it ran (sizes, seeds, norms) in ``measured`` and reports its progress through
:mod:`memtheory.sweep.progress` (points of a scan, widths: the bar moves at least every 10 s). The points of a
grid inside a check run through :mod:`memtheory.sweep` with :func:`check_workers` worker processes.

A check writes no files itself. It returns what it made in its :class:`CheckResult`; the runner writes it to the
``--out`` directory (or to ``$MEMTHEORY_FIGURES_DIR`` when that is set and there is no ``--out``), and
otherwise writes nothing:

* ``figures``: ``{stem: figure}`` where ``figure`` is a zero-argument callable returning a matplotlib
  ``Figure`` (preferred: the plotting cost is paid only when figures are written), a ``Figure``, or the path of
  an existing image file. The file is ``<stem>.png``; a stem that is neither ``NAME`` nor starts with
  ``NAME_`` is prefixed with ``NAME_``. The main figure's stem is ``NAME``. Inside the callable use
  :func:`pyplot` to get ``matplotlib.pyplot`` with a non-interactive backend; the runner closes the figure.
* ``latex``: ``{stem: latex}`` for the symbolic objects the check uses (kernels, the loss, bounds, gradient
  scales, ...), written as ``<stem>.tex`` (same stem rule) and shown in the report. Plain strings, no ``$``.
* ``measured["table"]`` (optional, Markdown): shown in the report's section and written as ``NAME.md``;
  ``measured["checks"]`` (optional, ``{assertion: bool}``): the individual assertions of the verdict, listed in
  the report.
* ``summary``: a short "what was measured" (one line, about 100 characters) for the report's table;
  ``details`` is the full verdict with the numbers (defaults are derived from each other when one is empty).
* ``evidence``: ``{claim: kind}`` saying what each key claim of the verdict rests on: ``"enclosure"`` (a
  rigorous Arb enclosure, :mod:`memtheory.certified`, contains the number or decides the inequality) or
  ``"floating point"`` (agreement of floating-point computations within a tolerance). The report shows it per
  check; a check that declares nothing is reported as resting on floating-point agreement throughout.

A sketch::

    NAME = "my_check"
    CLAIM = "what the theorem says"
    CRITERION = "passes when every error is below 1e-6"

    def run(quick: bool = False) -> CheckResult:
        ms = [2, 4] if quick else [2, 4, 8, 16]
        errors = ...
        passed = ...

        def figure():
            plt = pyplot()
            fig, ax = plt.subplots()
            ax.loglog(ms, errors)
            return fig

        return CheckResult(NAME, passed, {"m": ms, "errors": errors}, CLAIM, details="...",
                           summary="error ~ m^-1.9", figures={NAME: figure}, latex={NAME: r"J = ..."},
                           criterion=CRITERION)

Running a check module as a script (``python -m proofs_checks.my_check``) should call :func:`main_for` so that
``$MEMTHEORY_FIGURES_DIR`` keeps working there too.

The report written from the results is :mod:`memtheory.verify.report`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..display import Displayable
from .._plotting import pyplot
from ..errors import InvalidArgumentError

__all__ = ["BrokenCheck", "CheckResult", "DEFAULT_COST", "EVIDENCE_KINDS", "FIGURES_ENV", "SIZES", "available_checks",
           "check_cost", "check_store", "check_workers", "main_for", "process_cpu_seconds", "resolve_checks",
           "run_check", "run_checks", "run_size", "shorten_at_boundary", "artifact_stem", "write_artifacts"]

#: What a claim of a check can rest on (:attr:`CheckResult.evidence`).
EVIDENCE_KINDS = ("enclosure", "floating point")

#: Environment variable naming a directory for the checks' figures when ``--out`` is not given.
FIGURES_ENV = "MEMTHEORY_FIGURES_DIR"

_SUMMARY_CHARS = 110
#: Seconds assumed for a check without ``COST`` (a typical check's default run on 2 cores).
DEFAULT_COST = 15.0
#: The sizes a check runs at (module docstring): ``memtheory verify --quick``, ``memtheory verify``,
#: ``memtheory verify --full``.
SIZES = ("quick", "default", "full")

#: Worker processes the check running in this process may use for its own grids (set by :func:`run_check`).
_CHECK_WORKERS = 1
#: ``(store of the run, check name, size)`` of the check running in this process, when the run has a store.
_CHECK_STORE: tuple[str, str, str] | None = None


def check_store(part: str) -> str | None:
    """The result store for one of the running check's own sweeps, when the ``memtheory verify`` run has one
    (``--store FILE``): ``FILE.<check>.<size>.<part>.sqlite`` beside it, so that a long check killed half-way
    (``--full``) recomputes only the points it had not finished. ``None`` without a store.

    Parameters
    ----------
    part : str
        Names the sweep within the check (letters, digits, ``_`` and ``-``).
    """
    if not part or not all(c.isalnum() or c in "_-" for c in part):
        raise InvalidArgumentError(f"a check store's part is a name of letters, digits, _ and -, got {part!r}")
    if _CHECK_STORE is None:
        return None
    store, name, size = _CHECK_STORE
    return f"{store}.{name}.{size}.{part}.sqlite"


def check_workers() -> int:
    """The worker processes the check now running may use for the points of its grids (plateau points,
    widths), through :mod:`memtheory.sweep`: the ``--workers`` of ``memtheory verify`` (1 outside a run).

    The results of a check must not depend on it (the points are independent; the sweep returns them in
    order).
    """
    return _CHECK_WORKERS


def run_size(quick: bool = False, full: bool = False) -> str:
    """The size name (``"quick"``, ``"default"`` or ``"full"``) of ``quick``/``full``.

    Raises
    ------
    InvalidArgumentError
        If both are set.
    """
    if quick and full:
        raise InvalidArgumentError("quick and full exclude each other: a run has one size")
    return "quick" if quick else "full" if full else "default"


def check_cost(module: Any, size: str = "default") -> float:
    """Expected seconds of a check's run at ``size``: its ``COST`` (a number: the default run, a quick run
    taken as a tenth and a full run as 5 times that; or a dict by size), else :data:`DEFAULT_COST`."""
    cost = getattr(module, "COST", None)
    if isinstance(cost, dict):
        value = cost.get(size, cost.get("default", DEFAULT_COST))
    else:
        value = float(cost) if cost is not None else DEFAULT_COST
        value *= {"quick": 0.1, "default": 1.0, "full": 5.0}[size]
    value = float(value)
    return value if value > 0 and value == value else DEFAULT_COST


def process_cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by this process and by the child processes it has waited for
    (a pool shut down: its workers' time is counted once they have been joined)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _accepts_full(run: Callable) -> bool:
    """Whether ``run`` takes a ``full`` argument (by name, or ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "full" or p.kind is p.VAR_KEYWORD for p in params)



def shorten_at_boundary(text: str, limit: int) -> str:
    """``text`` cut at a space outside any formula (balanced ``{}``, ``()``, ``[]`` and ``$``) and ended with an
    ellipsis, at most ``limit`` characters in all: a summary is never cut mid-formula (``e^{-2`` ...)."""
    depth, dollars, best = 0, 0, 0
    room = limit - 2  # for the " …"
    for i, ch in enumerate(text[:room + 1]):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif ch == "$":
            dollars += 1
        elif ch == " " and depth == 0 and dollars % 2 == 0:
            best = i
    cut = text[:best].rstrip(" ,;:") if best else text[:room]
    return cut + " …"

@dataclass(repr=False)
class CheckResult(Displayable):
    """Outcome of one proofs check.

    Attributes
    ----------
    name : str
    passed : bool
    measured : dict
        What was measured (numbers, JSON-ready). ``measured["table"]``, a Markdown string, goes into the report.
    claim : str
        What the theory says.
    details : str
        Human-readable verdict with the numbers.
    seconds : float
        Run time, wall clock (set by the runner).
    cpu_seconds : float
        CPU time of the run, user and system, of the process that ran it and of the worker processes it started
        and waited for (its own grids' pools; set by the runner). On a machine shared with other jobs the wall
        time grows with the load, the CPU time hardly: it is the measure of a check's cost.
    summary : str
        Short "what was measured" for the report's table (default: ``details``, shortened).
    figures : dict
        ``{stem: callable returning a Figure | Figure | path}``; after the runner has written them,
        ``{stem: file name}`` (module docstring).
    latex : dict
        ``{stem: LaTeX}`` of the symbolic objects the check uses.
    evidence : dict
        ``{claim: "enclosure" | "floating point"}``: what each key claim rests on (module docstring).
    criterion : str
        The condition that decides ``passed``, with its thresholds (the check module's ``CRITERION``; the runner
        fills it in from the module when a check leaves it empty).
    size : str
        The size that ran: ``"quick"``, ``"default"`` or ``"full"`` (set by the runner; a check whose ``run``
        takes no ``full`` runs ``"default"`` under ``--full``).
    """

    name: str
    passed: bool
    measured: dict = field(default_factory=dict)
    claim: str = ""
    details: str = ""
    seconds: float = 0.0
    summary: str = ""
    figures: dict = field(default_factory=dict)
    latex: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    criterion: str = ""
    size: str = ""
    cpu_seconds: float = 0.0

    def __post_init__(self):
        bad = {k: v for k, v in self.evidence.items() if v not in EVIDENCE_KINDS}
        if bad:
            raise InvalidArgumentError(f"evidence kinds must be one of {EVIDENCE_KINDS}, got {bad}")

    def certified_claims(self) -> list[str]:
        """The claims that rest on rigorous enclosures."""
        return [k for k, v in self.evidence.items() if v == "enclosure"]

    def evidence_summary(self) -> str:
        """One cell of the report: how many claims rest on enclosures, e.g. ``"2 of 3 claims certified"``."""
        if not self.evidence:
            return "floating point"
        n = len(self.certified_claims())
        return f"{n} of {len(self.evidence)} claims certified"

    _display_fields = ("name", "passed", "size", "seconds", "cpu_seconds", "claim", "details")

    def short(self) -> str:
        """The one-line "what was measured" of the report table."""
        text = " ".join((self.summary or self.details or "").split())
        return text if len(text) <= _SUMMARY_CHARS else shorten_at_boundary(text, _SUMMARY_CHARS)

    def to_dict(self) -> dict:
        """JSON-ready dict: ``name, passed, size, measured, claim, criterion, details, seconds, cpu_seconds, summary,
        figures, latex, evidence``.

        ``figures`` lists the file names written (empty when none were), ``latex`` maps stems to LaTeX.
        """
        return {"name": self.name, "passed": bool(self.passed), "size": self.size, "measured": self.measured,
                "claim": self.claim,
                "criterion": self.criterion,
                "details": self.details, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "summary": self.short(),
                "figures": sorted(str(v) for v in self.figures.values() if isinstance(v, (str, Path))),
                "latex": {str(k): str(v) for k, v in self.latex.items()},
                "evidence": {str(k): str(v) for k, v in self.evidence.items()}}


class BrokenCheck:
    """Stand-in for a check module that failed to import: running it reports the import error."""

    def __init__(self, name: str, error: BaseException):
        self.NAME = name
        self.CLAIM = "(module failed to import)"
        self.CRITERION = "(module failed to import)"
        self.error = error

    def run(self, quick: bool = False, full: bool = False) -> CheckResult:
        raise self.error


def available_checks() -> dict[str, Any]:
    """Map of check name to module, from the ``proofs_checks`` package (import failures become failing checks)."""
    import proofs_checks

    checks = {}
    for info in sorted(pkgutil.iter_modules(proofs_checks.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"proofs_checks.{info.name}")
        except Exception as exc:  # reported as a failed check, not a crash of the whole run
            checks[info.name] = BrokenCheck(info.name, exc)
            continue
        if hasattr(module, "run") and hasattr(module, "NAME"):
            checks[module.NAME] = module
    return checks


def resolve_checks(names: Iterable[str] | None = None) -> dict[str, Any]:
    """``{name: module}`` for the named checks in the given order (all when ``names`` is empty).

    Raises
    ------
    InvalidArgumentError
        If a name is not a check.
    """
    checks = available_checks()
    names = list(names or checks)
    unknown = [n for n in names if n not in checks]
    if unknown:
        raise InvalidArgumentError(f"unknown check(s) {', '.join(unknown)}; available: {', '.join(checks)}")
    return {n: checks[n] for n in names}


def artifact_stem(check: str, key: str) -> str:
    """The file stem of a check's figure or LaTeX ``key``: ``key`` itself if it is ``check`` or starts with
    ``check_``, else ``check_key``."""
    key = str(key)
    return key if key == check or key.startswith(check + "_") else f"{check}_{key}"


def _discard_figures(result: CheckResult) -> None:
    """Close Figure objects that will not be written and forget the figure makers."""
    for value in result.figures.values():
        if hasattr(value, "savefig"):
            pyplot().close(value)
    result.figures = {}


def write_artifacts(result: CheckResult, directory: str | os.PathLike) -> list[str]:
    """Write a result's figures (``.png``), LaTeX (``.tex``) and table (``NAME.md``) to ``directory``.

    ``result.figures`` is replaced by ``{stem: file name}`` of the figures written. A figure that cannot be
    made is recorded under ``measured["artifact_errors"]`` (the verdict is the check's, not the plot's).

    Returns
    -------
    list of str
        File names written (relative to ``directory``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    figures: dict[str, str] = {}
    for key, value in result.figures.items():
        stem = artifact_stem(result.name, key)
        fname = f"{stem}.png"
        try:
            if callable(value) and not hasattr(value, "savefig"):
                value = value()
            if isinstance(value, (str, os.PathLike)):
                src = Path(value)
                fname = f"{stem}{src.suffix or '.png'}"
                if src.resolve() != (out / fname).resolve():
                    shutil.copyfile(src, out / fname)
            elif value is not None:
                value.savefig(out / fname, dpi=130)
                pyplot().close(value)
            else:
                continue
        except Exception as exc:  # noqa: BLE001 -- a broken plot must not hide the check's numbers
            result.measured.setdefault("artifact_errors", {})[fname] = f"{type(exc).__name__}: {exc}"
            print(f"memtheory verify: figure {fname} of {result.name} failed: {exc}", file=sys.stderr)
            continue
        figures[stem] = fname
        written.append(fname)
    result.figures = figures
    for key, tex in result.latex.items():
        fname = f"{artifact_stem(result.name, key)}.tex"
        (out / fname).write_text(str(tex).rstrip() + "\n")
        written.append(fname)
    table = result.measured.get("table") if isinstance(result.measured, dict) else None
    if isinstance(table, str) and table.strip():
        (out / f"{result.name}.md").write_text(table.rstrip() + "\n")
        written.append(f"{result.name}.md")
    return written


def run_check(name: str, module: Any, quick: bool = False, directory: str | os.PathLike | None = None, *,
              full: bool = False, workers: int = 1, store: str | os.PathLike | None = None) -> CheckResult:
    """Run one check; an exception becomes a failed check with its cause, the run time is recorded.

    Parameters
    ----------
    name : str
        The check's name.
    module : module
        The check module (``run``, ``CLAIM``).
    quick : bool
        Reduced sizes.
    directory : path, optional
        Where to write the figures, LaTeX and table (:func:`write_artifacts`); ``None``: write nothing.
    full : bool
        Paper scale, passed as ``run(full=True)`` to a ``run`` that accepts it (else the default size runs).
    workers : int
        Worker processes the check may use for its grids (:func:`check_workers`).
    store : path, optional
        The run's result store: the check's own sweeps keep their points beside it (:func:`check_store`).
    """
    global _CHECK_WORKERS, _CHECK_STORE

    size = run_size(quick, full)
    start, cpu_start = time.perf_counter(), process_cpu_seconds()
    saved, _CHECK_WORKERS = (_CHECK_WORKERS, _CHECK_STORE), max(1, int(workers))
    _CHECK_STORE = None if store is None else (str(store), name, size)
    try:
        if full and _accepts_full(module.run):
            result = module.run(quick=False, full=True)
        else:
            size = "default" if full else size
            result = module.run(quick=quick)
        if not isinstance(result, CheckResult):
            raise TypeError(f"run() returned {type(result).__name__}, not CheckResult")
    except Exception as exc:  # a crashing check is a failed check, reported with its cause
        result = CheckResult(name, False, {"error": f"{type(exc).__name__}: {exc}"}, getattr(module, "CLAIM", ""),
                             traceback.format_exc(limit=3), summary=f"error: {type(exc).__name__}: {exc}")
    finally:
        _CHECK_WORKERS, _CHECK_STORE = saved
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = process_cpu_seconds() - cpu_start
    result.size = size
    if not result.claim:
        result.claim = getattr(module, "CLAIM", "")
    if not result.criterion:
        result.criterion = getattr(module, "CRITERION", "")
    if directory is not None:
        write_artifacts(result, directory)
    else:
        _discard_figures(result)
    return result


def _check_point(quick: bool, directory: str | None, full: bool, workers: int, store: str | None,
                 point: dict) -> CheckResult:
    """One check as a sweep point (module level: worker processes resolve the check by its name)."""
    name = point["check"]
    return run_check(name, resolve_checks([name])[name], quick=quick, directory=directory, full=full,
                     workers=workers, store=store)


def run_checks(names: list[str] | None = None, quick: bool = False, progress: Callable | None = None,
               directory: str | os.PathLike | None = None, *, full: bool = False, workers: int | None = 1,
               backend: Any = "processes", store: str | os.PathLike | None = None,
               bar: bool = False) -> list[CheckResult]:
    """Run the named checks (all when ``names`` is empty); exceptions become failed checks.

    The checks are the points of one sweep (:func:`memtheory.sweep.run`): with ``workers > 1`` (or a Dask
    ``backend``) they run in parallel, the costliest first (:func:`check_cost`); with a ``store`` a rerun
    skips the checks already finished by the same code at the same size. A check runs the points of its own
    grids on ``workers`` processes (:func:`check_workers`) when it runs alone or at the full size; when several
    checks of a quick or default run share the workers it runs them in its own process: the checks already keep
    the cores busy, and a pool of its own costs every worker the package's import and the check's warm-up
    (measured: about 4 CPU-s per 2-worker pool for the import alone, several pools per check).

    Parameters
    ----------
    names : list of str, optional
        Checks to run, in order.
    quick : bool
        Reduced sizes (``memtheory verify --quick``).
    progress : callable, optional
        Called with each :class:`CheckResult` as it completes (in this process).
    directory : path, optional
        Where to write figures, LaTeX and tables; default ``$MEMTHEORY_FIGURES_DIR`` if set, else nowhere.
    full : bool
        Paper scale (``memtheory verify --full``): ``run(full=True)`` for the checks that accept it.
    workers : int or None
        Local worker processes (default 1: this process; None: all cores).
    backend : {"processes", "serial"}, str or distributed.Client
        Where the checks run (a Dask scheduler address or client: then ``workers`` is ignored).
    store : path, optional
        SQLite result store of this run: a rerun skips the checks finished; the checks' own sweeps keep their
        points in stores beside it (:func:`check_store`), so a check killed half-way resumes.
    bar : bool
        Progress bar on stderr, weighted by the checks' costs and moved by the sub-steps the checks report
        (:mod:`memtheory.sweep.progress`).

    Returns
    -------
    list of CheckResult
        In the order of ``names``.

    Raises
    ------
    InvalidArgumentError
        Unknown checks, or both ``quick`` and ``full``.
    """
    import functools

    from .. import sweep

    size = run_size(quick, full)
    checks = resolve_checks(names)
    if directory is None:
        directory = os.environ.get(FIGURES_ENV) or None
    directory = None if directory is None else str(Path(directory).resolve())
    order = list(checks)
    files = sorted({str(Path(m.__file__).resolve()) for m in checks.values() if getattr(m, "__file__", None)})
    weights = [check_cost(checks[n], size) for n in order]
    local = isinstance(backend, str) and backend in ("processes", "serial")
    n_workers = (sweep.default_workers() if workers is None else int(workers)) if local else 1
    if local and n_workers < 1:
        raise InvalidArgumentError(f"workers must be >= 1, got {workers}")

    def done(index: int, value: Any) -> None:
        if isinstance(value, sweep.PointError):  # the worker itself failed (run_check catches the check's errors)
            value = CheckResult(order[index], False, {"error": value.error}, getattr(checks[order[index]], "CLAIM", ""),
                                value.traceback or value.error, summary=f"error: {value.error}", size=size)
        results[index] = value
        if progress is not None:
            progress(value)

    results: list[Any] = [None] * len(order)
    key = {"quick": quick, "directory": directory}
    if full:  # a store of a quick or default run stays valid (its key is unchanged)
        key["full"] = True
    inner = None if store is None else str(Path(store).resolve())
    shared = len(order) > 1 and n_workers > 1 and not full  # the checks keep the workers busy (docstring)
    grid_workers = 1 if shared else n_workers
    sweep.run(functools.partial(_check_point, quick, directory, full, grid_workers, inner),
              [{"check": n} for n in order], backend=backend, workers=n_workers if local else None, store=store, key=key, weights=weights,
              progress=bar, desc="verify" if size == "default" else f"verify --{size}", unit="checks",
              code_files=files, on_result=done)
    return results


def main_for(name: str, quick: bool | None = None, full: bool | None = None) -> int:
    """Run one check as a script (``python -m proofs_checks.NAME [--quick | --full]``); figures go to
    ``$MEMTHEORY_FIGURES_DIR``.

    Returns the exit code (0 pass, 1 fail).
    """
    quick = ("--quick" in sys.argv[1:]) if quick is None else quick
    full = ("--full" in sys.argv[1:]) if full is None else full
    (result,) = run_checks([name], quick=quick, full=full)
    print(result.details, "PASS" if result.passed else "FAIL")
    return 0 if result.passed else 1
