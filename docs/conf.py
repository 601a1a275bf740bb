"""Sphinx configuration of the memtheory documentation (MyST Markdown, MathJax, autodoc + napoleon).

Build:   sphinx-build -W --keep-going -b html docs docs/_build/html
Checks:  sphinx-build -W --keep-going -b doctest docs docs/_build/doctest   (the tutorials' code and output)
Both run in the test suite (tests/test_docs.py). No network access is needed, to build or to view: no
intersphinx, MathJax is served from the build (tests/test_docs_browser.py loads the pages in a headless browser
and fails on any network request).
"""

from __future__ import annotations

import sys
from pathlib import Path

import memtheory

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# -- project -------------------------------------------------------------------------------------------------------
project = "memtheory"
author = "memtheory developers"
copyright = "memtheory developers"
version = release = memtheory.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # MathJax 3 from the sphinx-mathjax-offline package, copied into _static/mathjax: the pages load no CDN and
    # render their formulas offline (mathjax_path points at the copy)
    "sphinx-mathjax-offline",
    "memtheory_docs",  # docs/_ext: code-math, code-latex, optional-toctree, api-modules
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_ext",
    "figures/*.md",  # tables written by the proofs checks next to their figures, not pages
]

# -- MyST ----------------------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- pages listed by optional-toctree only when they exist --------------------------------------------------------
optional_docs = ["plateau"]

# -- formulas from the code (code-math / code-latex): the namespace their expressions run in ---------------------
code_math_setup = """
import sympy as sp
import memtheory as mt
from memtheory import approximation as approx
from memtheory.theory import reparam
"""

# -- API reference --------------------------------------------------------------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections state the types
autosummary_generate = False  # nothing is written into the source tree
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Types in the numpydoc sections ("ndarray (n, T, d)") become cross-references word by word; a one-letter word such
# as "m" or "d" then matches several documented attributes. Those ambiguous guesses are not errors of the docs.
suppress_warnings = ["ref.python"]


# (module, "members" | "summary"): the sections of api.rst, in order.
api_modules = [
    ("memtheory", "summary"),
    ("memtheory.kernels", "members"),
    ("memtheory.symbolic", "members"),
    ("memtheory.models", "members"),
    ("memtheory.models.nonlinear", "members"),
    ("memtheory.losses", "members"),
    ("memtheory.certified", "members"),
    ("memtheory.dynamics.flow", "members"),
    ("memtheory.theory.approximation", "members"),
    ("memtheory.theory.plateau", "members"),
    ("memtheory.theory.memory", "members"),
    ("memtheory.theory.stability", "members"),
    ("memtheory.training", "members"),
    ("memtheory.sweep", "members"),
    ("memtheory.sweep.progress", "members"),
    ("memtheory.verify", "members"),
    ("memtheory.errors", "members"),
]

# -- doctest builder (tutorials) ---------------------------------------------------------------------------------
# No global set-up: every page imports what it uses, so that its blocks run when pasted into a fresh python.
doctest_global_setup = ""
# Plain ">>>" blocks (the docstrings pulled in by autodoc) are run by tests/test_docs.py over every module instead.
doctest_test_doctest_blocks = ""

# -- HTML ----------------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"memtheory {release}"
html_static_path: list[str] = []
