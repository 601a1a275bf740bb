"""Runner for the proofs checks (``memtheory verify``).

Each module in the ``proofs_checks`` package defines ``NAME`` (the check's name), ``CLAIM`` (what the theory
says, one line) and ``run(quick: bool = False) -> CheckResult``. Checks are discovered by name, run in order
and summarised as a table or JSON.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import traceback
from dataclasses import asdict, dataclass, field

from .errors import InvalidArgumentError

__all__ = ["CheckResult", "available_checks", "run_checks"]


@dataclass
class CheckResult:
    """Outcome of one proofs check.

    Attributes
    ----------
    name : str
    passed : bool
    measured : dict
        What was measured (numbers, JSON-ready).
    claim : str
        What the theory says.
    details : str
        Human-readable summary of the verdict.
    seconds : float
        Run time.
    """

    name: str
    passed: bool
    measured: dict = field(default_factory=dict)
    claim: str = ""
    details: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


class _BrokenCheck:
    """Stand-in for a check module that failed to import: running it reports the import error."""

    def __init__(self, name: str, error: BaseException):
        self.NAME = name
        self.CLAIM = "(module failed to import)"
        self._error = error

    def run(self, quick: bool = False) -> CheckResult:
        raise self._error


def available_checks() -> dict[str, object]:
    """Map of check name to module, from the ``proofs_checks`` package (import failures become failing checks)."""
    import proofs_checks

    checks = {}
    for info in sorted(pkgutil.iter_modules(proofs_checks.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"proofs_checks.{info.name}")
        except Exception as exc:  # reported as a failed check, not a crash of the whole run
            checks[info.name] = _BrokenCheck(info.name, exc)
            continue
        if hasattr(module, "run") and hasattr(module, "NAME"):
            checks[module.NAME] = module
    return checks


def run_checks(names: list[str] | None = None, quick: bool = False, progress=None) -> list[CheckResult]:
    """Run the named checks (all when ``names`` is empty); exceptions become failed checks."""
    checks = available_checks()
    names = list(names or checks)
    unknown = [n for n in names if n not in checks]
    if unknown:
        raise InvalidArgumentError(f"unknown check(s) {', '.join(unknown)}; available: {', '.join(checks)}")
    results = []
    for name in names:
        module = checks[name]
        start = time.perf_counter()
        try:
            result = module.run(quick=quick)
        except Exception as exc:  # a crashing check is a failed check, reported with its cause
            result = CheckResult(name, False, {"error": f"{type(exc).__name__}: {exc}"}, getattr(module, "CLAIM", ""),
                                 traceback.format_exc(limit=3))
        result.seconds = time.perf_counter() - start
        results.append(result)
        if progress is not None:
            progress(result)
    return results
