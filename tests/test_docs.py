"""The documentation builds without a warning, its tutorials print what the pages say, and the docstring examples run.

* ``sphinx-build -W --keep-going -b html``: every page renders; the formulas generated from the code
  (``code-math``) evaluate; the API reference imports every module it lists.
* ``sphinx-build -W --keep-going -b doctest``: the tutorials' ``testcode`` blocks run and their output matches
  the ``testoutput`` blocks.
* every ``>>>`` example in the package's docstrings runs (``doctest`` over every module of ``memtheory``).

The builds run in a subprocess into a temporary directory; nothing is written into ``docs/``.
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import memtheory

DOCS = Path(__file__).resolve().parents[1] / "docs"

sphinx = pytest.importorskip("sphinx", reason="the docs need the test extras (sphinx, myst-parser)")
pytest.importorskip("myst_parser", reason="the docs need the test extras (sphinx, myst-parser)")


def _sphinx_build(builder: str, out: Path, doctrees: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, "-d", str(doctrees),
           str(DOCS), str(out / builder)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("docs")


def _check(result: subprocess.CompletedProcess, builder: str) -> None:
    report = f"sphinx-build -b {builder} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, report


def test_html_builds_without_warnings(docs_html):
    result, html = docs_html
    _check(result, "html")
    for page in ("index", "getting-started", "foundation", "dynamics", "approximation", "nonlinear", "findings",
                 "api", "tutorials/verify-bounds", "tutorials/latex", "tutorials/explore"):
        assert (html / f"{page}.html").is_file(), page
    if (DOCS / "plateau.md").exists():
        assert (html / "plateau.html").is_file()
    # a formula generated from the code at build time (code-math) is on the page
    assert r"\mathcal{L}[t \rho](w_{2})" in (html / "dynamics.html").read_text(encoding="utf-8")


def test_tutorials_output_matches(build_dir):
    result = _sphinx_build("doctest", build_dir, build_dir / "doctrees")
    _check(result, "doctest")
    summary = (build_dir / "doctest" / "output.txt").read_text(encoding="utf-8")
    assert "0 failures in tests" in summary, summary
    assert "0 failures in setup code" in summary, summary


def _modules() -> list[str]:
    names = ["memtheory"]
    for info in pkgutil.walk_packages(memtheory.__path__, "memtheory."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, module=module):
        runner.run(test, out=lambda text: None)
    failed, attempted = runner.summarize(verbose=False)
    if failed:
        # rerun verbosely into the report
        report: list[str] = []
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(module, name, module=module):
            runner.run(test, out=report.append)
        pytest.fail(f"{failed} of {attempted} docstring examples of {name} failed:\n" + "".join(report))
