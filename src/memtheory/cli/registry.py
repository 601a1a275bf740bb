"""The registry of ``memtheory latex`` targets.

A sub-command module adds the LaTeX of its symbolic objects with :func:`register_latex_target` when its
``register`` runs; ``memtheory latex`` (:mod:`memtheory.cli.commands.latex`) offers every registered target.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["LatexTarget", "LATEX_TARGETS", "register_latex_target"]


@dataclass(frozen=True)
class LatexTarget:
    """One object printable by ``memtheory latex``.

    Attributes
    ----------
    name : str
        Sub-command name (``memtheory latex NAME``).
    help : str
        One line for ``memtheory latex --help``.
    examples : tuple of str
        Runnable examples (``memtheory latex NAME ...``), shown in ``--help`` and run by the tests.
    arguments : callable
        ``arguments(parser)`` adds the target's options (``--json`` and ``--out`` are added for every target).
    render : callable
        ``render(args) -> dict`` of part name to LaTeX (printed in order, separated by blank lines).
    """

    name: str
    help: str
    examples: tuple
    arguments: Callable[[argparse.ArgumentParser], None]
    render: Callable[[argparse.Namespace], dict]


#: Registry of ``memtheory latex`` targets, in the order shown by ``--help``.
LATEX_TARGETS: dict[str, LatexTarget] = {}


def register_latex_target(name: str, help: str, examples: Iterable[str], arguments: Callable | None,
                          render: Callable) -> None:
    """Add a target to :data:`LATEX_TARGETS`.

    Parameters
    ----------
    name : str
        ``memtheory latex NAME``.
    help : str
        One line.
    examples : sequence of str
        Runnable examples, each starting with ``memtheory latex NAME``.
    arguments : callable or None
        ``arguments(parser)`` adds the target's options.
    render : callable
        ``render(args) -> dict`` of part name to LaTeX; raise :class:`~memtheory.cli.common.UsageError` for bad
        options.
    """
    examples = tuple(examples)
    bad = [e for e in examples if not e.startswith(f"memtheory latex {name}")]
    if not examples or bad:
        raise ValueError(f"latex target {name!r}: examples must start with 'memtheory latex {name}', got {bad}")
    LATEX_TARGETS[name] = LatexTarget(name, help, examples, arguments or (lambda p: None), render)
