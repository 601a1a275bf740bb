"""What every ``memtheory`` sub-command shares: option parsing, usage errors, examples, output formatting.

Conventions for every sub-command (checked by the tests for each one): ``--help`` ends with runnable examples
(the parser's ``epilog``, built with :func:`epilog`; each ``memtheory ...`` line is executed by the tests),
``--json`` prints one JSON document on stdout, ``--plot FILE`` / ``--out`` write files, usage errors
(:class:`UsageError`) are one line on stderr with a hint and exit with code 2, a failed check or a numerical
failure exits with 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

__all__ = ["UsageError", "Parser", "floats", "exacts", "exact_option", "params", "kernel", "number", "epilog",
           "examples_of", "target_args"]


class UsageError(Exception):
    """A command-line usage error (one line on stderr, exit code 2)."""


class Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line (with a hint) and exit with code 2.

    Examples in the ``epilog`` keep their line breaks (raw description formatter by default).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def floats(text: str, name: str) -> list[float]:
    """The comma-separated numbers of option ``--name`` as float64 (options that are float64 by nature: time
    grids, radii, tolerances). Weights, rates, parameters and the like are read by :func:`exacts`."""
    return [float(x) for x in exacts(text, name)]


def exacts(text: str, name: str) -> list[Any]:
    """The comma-separated numbers of option ``--name``, each the exact number its text spells (``0.4`` is
    ``2/5``, ``1/3`` a third; see :mod:`memtheory.exact`)."""
    from ..errors import InvalidArgumentError
    from ..exact import exact

    items = [x for x in text.split(",") if x.strip()]
    if not items:
        raise UsageError(f"--{name} needs at least one number")
    try:
        return [exact(x.strip(), f"--{name}") for x in items]
    except InvalidArgumentError as exc:
        raise UsageError(f"--{name} takes comma-separated numbers, got {text!r} ({exc})") from None


def exact_option(text: str, name: str) -> Any:
    """The one exact number of option ``--name``."""
    values = exacts(text, name)
    if len(values) != 1:
        raise UsageError(f"--{name} takes one number, got {text!r}")
    return values[0]


def params(items: list[str] | None) -> dict[str, Any]:
    """The ``--param NAME=VALUE`` options as a dict of exact numbers."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param takes NAME=VALUE, got {item!r}")
        out[name.strip()] = exact_option(value, f"param {name.strip()}")
    return out


def kernel(args: argparse.Namespace) -> Any:
    """The :class:`~memtheory.Kernel` of ``--target`` and ``--param``."""
    from ..kernels import Kernel

    return Kernel(args.target, **params(args.param))


def number(x: Any, dps: int | None = None) -> Any:
    """JSON number for floats, decimal string for mpmath values (``dps`` significant digits)."""
    import mpmath as mp

    return mp.nstr(x, dps or mp.mp.dps) if isinstance(x, mp.mpf) else float(x)


def epilog(examples: Iterable[str]) -> str:
    """The ``epilog`` of a sub-command: its runnable examples, one per line."""
    return "examples:\n" + "\n".join(f"  {e}" for e in examples)


def examples_of(parser: argparse.ArgumentParser) -> list[str]:
    """The example command lines in a parser's ``epilog`` (lines starting with ``memtheory ``)."""
    return [line.strip() for line in (parser.epilog or "").splitlines() if line.strip().startswith("memtheory ")]


def target_args(p: argparse.ArgumentParser, dps: bool = True) -> None:
    """Add ``--target``, ``--param``, ``--dps`` and ``--json``."""
    p.add_argument("--target", required=True, help="kernel expression in t, e.g. 'exp(-t/2)'")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    if dps:
        p.add_argument("--dps", type=int, default=None, help="mpmath digits (default: float64)")
    p.add_argument("--json", action="store_true", help="print JSON")
