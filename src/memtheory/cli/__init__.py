"""The ``memtheory`` command line: a thin layer over the API.

Examples::

    memtheory --version
    memtheory latex loss --m 2 --flow
    memtheory latex jackson --target "(1+t)*exp(-2*t)" --alpha 1 --beta 1
    memtheory loss --target "exp(-t/2) + exp(-(t-1/omega)**2/(2*sigma**2))" --param omega=0.1 --param sigma=0.5 \\
        --a 1,0.2 --w 0.5,2 --json
    memtheory laplace --target "(1+t)**(-1.5)" --s 0.5,1,2 --moment 1 --dps 30 --json
    memtheory verify --quick --out report

One mechanism for every sub-command (:mod:`memtheory.cli.main`): a module of :mod:`memtheory.cli.commands`
registers its parser and the ``memtheory latex`` targets of its objects (:mod:`memtheory.cli.registry`); the
shared option parsing and conventions are :mod:`memtheory.cli.common`.
"""

from __future__ import annotations

from .common import examples_of
from .main import COMMANDS, build_parser, main
from .registry import LATEX_TARGETS, LatexTarget, register_latex_target

__all__ = ["main", "build_parser", "examples_of", "COMMANDS", "LATEX_TARGETS", "LatexTarget",
           "register_latex_target"]
