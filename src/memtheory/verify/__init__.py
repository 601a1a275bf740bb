"""The proofs checks' runner (``memtheory verify``): the check convention, running, figures and the report.

:mod:`~memtheory.verify.runner` holds the convention a check module follows and runs checks;
:mod:`~memtheory.verify.report` writes the Markdown/JSON report; :mod:`~memtheory.verify.figures` the helpers
the checks draw with.
"""

from __future__ import annotations

from .figures import kernel_latex, pyplot, width_axis
from .report import jsonable, report_dict, report_markdown, write_report
from .runner import (
    FIGURES_ENV,
    SIZES,
    BrokenCheck,
    CheckResult,
    available_checks,
    check_cost,
    check_store,
    check_workers,
    run_size,
    main_for,
    resolve_checks,
    run_check,
    run_checks,
    artifact_stem,
    write_artifacts,
)

__all__ = [
    "BrokenCheck",
    "CheckResult",
    "FIGURES_ENV",
    "SIZES",
    "available_checks",
    "check_cost",
    "check_store",
    "check_workers",
    "run_size",
    "resolve_checks",
    "run_check",
    "run_checks",
    "main_for",
    "write_artifacts",
    "artifact_stem",
    "report_markdown",
    "report_dict",
    "write_report",
    "jsonable",
    "pyplot",
    "width_axis",
    "kernel_latex",
]
