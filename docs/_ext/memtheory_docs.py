"""Sphinx helpers for the memtheory docs: formulas taken from the code, optional pages, the API listing.

* ``code-math`` (directive) and ``code-latex`` (role) evaluate a Python expression at build time and insert its
  value as displayed / inline math. The value is a LaTeX string (e.g. ``mt.symbolic.l2_loss(2).latex("flow")``)
  or a SymPy expression (printed with ``sympy.latex``). The expression runs in a namespace prepared by
  ``code_math_setup`` (conf.py), so the formulas on the pages are the code's own output and cannot drift from it.
  An expression that raises is a build error::

      ```{code-math} mt.symbolic.l2_loss(2).latex("flow")
      :align:
      ```

  ``:align:`` aligns the lines of a multi-line result (separated by ``\\\\``) at their first ``=``; ``:prefix:``
  puts LaTeX in front of the result (e.g. the left-hand side of a bound).

* ``optional-toctree`` is a ``toctree`` whose entries listed in ``optional_docs`` (conf.py) are dropped while the
  document does not exist; every other entry behaves as in ``toctree`` (a missing one is still an error).

* ``api-modules`` writes one section per module of ``api_modules`` (conf.py) with ``automodule``. For a module
  listed with ``summary``, the names of its ``__all__`` are listed in a table linking to where they are documented
  instead of being documented twice.
"""

from __future__ import annotations

import importlib
import re
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.directives.other import TocTree
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["setup"]


# =========================================================================== formulas from the code

_NAMESPACES: dict[str, dict] = {}  # setup code -> namespace (kept out of the pickled environment)


def _namespace(env) -> dict:
    """The evaluation namespace, built once per process from ``code_math_setup``."""
    setup_code = env.config.code_math_setup
    if setup_code not in _NAMESPACES:
        ns: dict = {}
        exec(setup_code, ns)  # noqa: S102 - trusted build configuration
        _NAMESPACES[setup_code] = ns
    return _NAMESPACES[setup_code]


def evaluate_latex(env, source: str) -> str:
    """Evaluate ``source`` and return LaTeX (strings as they are, SymPy objects through ``sympy.latex``)."""
    value = eval(source, _namespace(env))  # the docs' own expressions, as trusted as conf.py
    if isinstance(value, str):
        return value
    import sympy

    return sympy.latex(value)


def _align(latex: str) -> str:
    """Put an alignment point before the first top-level ``=`` of every line (an ``aligned`` block is kept)."""
    if "\\begin{aligned}" in latex:
        return latex
    lines = [line.strip() for line in re.split(r"\\\\\s*", latex) if line.strip()]
    out = []
    for line in lines:
        depth = 0
        for i, ch in enumerate(line):
            depth += ch == "{"
            depth -= ch == "}"
            if ch == "=" and depth == 0:
                line = line[:i] + "&" + line[i:]
                break
        out.append(line.rstrip(","))
    return " \\\\\n".join(out)


class CodeMath(SphinxDirective):
    """Displayed math whose LaTeX is the value of a Python expression (the directive's argument)."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False
    option_spec: ClassVar[dict] = {"align": directives.flag, "label": directives.unchanged,
                                   "prefix": directives.unchanged}

    def run(self):
        source = self.arguments[0].strip()
        try:
            latex = evaluate_latex(self.env, source)
        except Exception as exc:  # any failure of the code is a build error
            raise self.error(f"code-math: {source!r} raised {type(exc).__name__}: {exc}") from exc
        if "align" in self.options:
            latex = _align(latex)
        if "prefix" in self.options:
            latex = f"{self.options['prefix']} {latex}"
        node = nodes.math_block(latex, latex, docname=self.env.docname, number=None, nowrap=False,
                                label=self.options.get("label"))
        self.set_source_info(node)
        return [node]


class CodeLatex(SphinxRole):
    """Inline math whose LaTeX is the value of a Python expression (the role's text)."""

    def run(self):
        try:
            latex = evaluate_latex(self.env, self.text)
        except Exception as exc:  # noqa: BLE001 - any failure of the code is a build error
            msg = self.inliner.reporter.error(
                f"code-latex: {self.text!r} raised {type(exc).__name__}: {exc}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        return [nodes.math(latex, latex)], []


# =========================================================================== optional pages


class OptionalTocTree(TocTree):
    """``toctree`` that leaves out the optional documents that do not exist (yet)."""

    def run(self):
        optional = set(self.config.optional_docs)
        found = self.env.found_docs
        keep = []
        for line in self.content:
            entry = line.strip()
            if entry in optional and entry not in found:
                continue
            keep.append(line)
        self.content = StringList(keep, source=self.content.source(0) if self.content else "")
        return super().run()


# =========================================================================== API listing


class ApiModules(SphinxDirective):
    """One section per module of ``api_modules``: ``automodule`` with members, or a summary table."""

    has_content = False

    def run(self):
        rst: list[str] = []
        documented = [name for name, how in self.config.api_modules if how == "members"]
        for name, how in self.config.api_modules:
            rst += [name, "-" * len(name), "", f".. automodule:: {name}"]
            if how == "members":
                rst += ["   :members:", "   :show-inheritance:", ""]
            else:
                rst += ["   :no-index:", "", f".. currentmodule:: {name}", ""] + self._summary(name, documented)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(rst, source="api-modules"), container)
        return container.children

    @staticmethod
    def _summary(name: str, documented: list[str]) -> list[str]:
        """An autosummary table of ``name.__all__``, each entry pointing to the module that documents it."""
        module = importlib.import_module(name)
        lines = [".. autosummary::", ""]
        for attr in module.__all__:
            if attr.startswith("__"):
                continue
            # the documented module exporting this very object (``mt.l2_loss`` is the numeric loss of
            # memtheory.losses, not memtheory.symbolic's l2_loss of the same name)
            obj = getattr(module, attr)
            home = next((m for m in documented
                         if attr in getattr(importlib.import_module(m), "__all__", ())
                         and getattr(importlib.import_module(m), attr, None) is obj), None)
            if home is not None:
                target = f"{home}.{attr}"
            elif f"{name}.{attr}" in documented:
                target = f"{name}.{attr}"
            else:
                continue
            lines.append(f"   ~{target.removeprefix(name + '.')}")  # relative to the current module
        return lines + [""]


def setup(app):
    app.add_config_value("code_math_setup", "import memtheory as mt\n", "env")
    app.add_config_value("optional_docs", [], "env")
    app.add_config_value("api_modules", [], "env")
    app.add_directive("code-math", CodeMath)
    app.add_role("code-latex", CodeLatex())
    app.add_directive("optional-toctree", OptionalTocTree)
    app.add_directive("api-modules", ApiModules)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
