"""The report of a ``memtheory verify`` run: Markdown, JSON and the files beside them.

Report (``memtheory verify --out DIR``)
---------------------------------------
``DIR/report.md`` (one row per check: name, what was measured, what the theory says, PASS/FAIL, seconds of wall
time and of CPU time, what its
claims rest on (enclosures or floating-point agreement); then a section per check with the theory, the pass
criterion (the condition the check's code tests, with its thresholds), the verdict, what was measured, what each
claim rests on, the measured table, the LaTeX and the figures), ``DIR/report.json``
(``{"passed", "size", "quick", "full", "seconds", "cpu_seconds", "checks": [CheckResult.to_dict(), ...]}``, each
check with its ``"criterion"``, the ``"size"`` it ran at, its wall ``"seconds"`` and its ``"cpu_seconds"``),
the figures ``DIR/<stem>.png``,
the LaTeX snippets ``DIR/<stem>.tex`` and the tables ``DIR/<NAME>.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .runner import CheckResult, artifact_stem, run_size

#: How the report names each size of a run.
_SIZE_TEXT = {"quick": "quick run (reduced sizes)", "default": "default run (sizes that decide each claim)",
              "full": "full run (paper scale)"}

__all__ = ["report_markdown", "report_dict", "write_report", "jsonable"]


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _criterion(r: CheckResult) -> str:
    """The criterion line of a check's section (a check that states none is said to, not left blank)."""
    text = " ".join(str(r.criterion).split())
    if not text:
        return "(not stated by the check)"
    return text[0].upper() + text[1:]


def _size_of(r: CheckResult, size: str) -> str:
    return r.size or size


def report_markdown(results: list[CheckResult], quick: bool = False, seconds: float | None = None, *,
                    full: bool = False) -> str:
    """The Markdown report: a summary table (one row per check) and a section per check (theory, criterion,
    verdict, measured numbers, runtime, the size that ran)."""
    size = run_size(quick, full)
    n_pass = sum(r.passed for r in results)
    total = sum(r.seconds for r in results) if seconds is None else seconds
    cpu = sum(r.cpu_seconds for r in results)
    lines = ["# memtheory proofs checks", "",
             f"{n_pass} of {len(results)} checks passed ({_SIZE_TEXT[size]}, {total:.1f} s of wall time, "
             f"{cpu:.1f} CPU-seconds in the checks).", ""]
    other = [r.name for r in results if _size_of(r, size) != size]
    if other:
        lines += [f"Checks without a {size} size ran their default size: {', '.join(other)}.", ""]
    lines += ["| check | measured | theory | verdict | seconds | CPU s | size | rests on |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| [{r.name}](#{r.name}) | {_cell(r.short())} | {_cell(r.claim)} | "
                     f"{'PASS' if r.passed else '**FAIL**'} | {r.seconds:.1f} | {r.cpu_seconds:.1f} | "
                     f"{_size_of(r, size)} | "
                     f"{_cell(r.evidence_summary())} |")
    for r in results:
        lines += ["", f"## {r.name}", "",
                  f"**{'PASS' if r.passed else 'FAIL'}** in {r.seconds:.1f} s, {r.cpu_seconds:.1f} CPU-s "
                  f"({_size_of(r, size)} size).", "",
                  f"*Theory:* {r.claim}", "", f"*Criterion:* {_criterion(r)}", "",
                  f"*Measured:* {r.details.strip() if r.details else r.short()}"]
        if r.details and "\n" in r.details.strip():
            lines[-1] = "*Measured:*"
            lines += ["", "```", r.details.strip(), "```"]
        if r.evidence:
            lines += ["", "| claim | rests on |", "|---|---|"]
            kinds = {"enclosure": "**enclosure** (certified)", "floating point": "floating-point agreement"}
            lines += [f"| {_cell(k)} | {kinds[v]} |" for k, v in r.evidence.items()]
        else:
            lines += ["", "*Rests on:* floating-point agreement (no claim of this check is certified by an "
                      "enclosure)."]
        checks = r.measured.get("checks") if isinstance(r.measured, dict) else None
        if isinstance(checks, dict) and checks:
            lines += ["", "| assertion | holds |", "|---|---|"]
            lines += [f"| {_cell(k)} | {'yes' if v else '**no**'} |" for k, v in checks.items()]
        table = r.measured.get("table") if isinstance(r.measured, dict) else None
        if isinstance(table, str) and table.strip():
            lines += ["", table.strip()]
        errors = r.measured.get("artifact_errors") if isinstance(r.measured, dict) else None
        if errors:
            lines += ["", "Figures that failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items())]
        for key, tex in r.latex.items():
            lines += ["", f"`{artifact_stem(r.name, key)}.tex`:", "", "$$", str(tex).strip(), "$$"]
        for stem, fname in r.figures.items():
            if isinstance(fname, (str, Path)):
                lines += ["", f"![{stem}]({fname})"]
    return "\n".join(lines) + "\n"


def report_dict(results: list[CheckResult], quick: bool = False, seconds: float | None = None, *,
                full: bool = False) -> dict:
    """The JSON report: ``{"passed", "size", "quick", "full", "seconds", "cpu_seconds", "checks":
    [CheckResult.to_dict(), ...]}`` (``size``: ``"quick"``, ``"default"`` or ``"full"``; ``seconds``: the wall
    time of the run; ``cpu_seconds``: the checks' CPU time summed; each check has the ``"size"`` it ran at)."""
    size = run_size(quick, full)
    total = sum(r.seconds for r in results) if seconds is None else seconds
    checks = []
    for r in results:
        d = r.to_dict()
        d["size"] = _size_of(r, size)
        checks.append(d)
    return {"passed": all(r.passed for r in results), "size": size, "quick": bool(quick), "full": bool(full),
            "seconds": total, "cpu_seconds": sum(r.cpu_seconds for r in results), "checks": checks}


def write_report(results: list[CheckResult], directory: str | os.PathLike, quick: bool = False,
                 seconds: float | None = None, *, full: bool = False) -> dict[str, Path]:
    """Write ``report.md`` and ``report.json`` to ``directory`` (figures and LaTeX: :func:`~memtheory.verify.runner.write_artifacts`).

    Returns
    -------
    dict
        ``{"markdown": path, "json": path}``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "report.md", out / "report.json"
    md.write_text(report_markdown(results, quick, seconds, full=full))
    js.write_text(json.dumps(report_dict(results, quick, seconds, full=full), indent=1, default=jsonable) + "\n")
    return {"markdown": md, "json": js}


def jsonable(x: Any) -> Any:
    """``json.dumps`` default for what JSON lacks: numbers (mpmath, numpy) as floats, anything else as text."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)
