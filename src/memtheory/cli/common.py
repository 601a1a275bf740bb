"""What every ``memtheory`` sub-command shares: option parsing, usage errors, examples, output formatting.

Conventions for every sub-command (checked by the tests for each one): ``--help`` ends with runnable examples
(the parser's ``epilog``, built with :func:`epilog`; each ``memtheory ...`` line is executed by the tests),
``--json`` prints one JSON document on stdout (always valid JSON, written by :func:`dumps`: a non-finite value is
``null`` and its path is listed under ``"nonfinite"`` with the reason; mpmath values are decimal strings with all
their digits), ``--plot FILE`` / ``--out`` write files (checked by :func:`plot_path` before any computation), usage
errors
(:class:`UsageError`) are one line on stderr with a hint and exit with code 2, a failed check or a numerical
failure exits with 1.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from typing import Any

__all__ = ["UsageError", "Parser", "floats", "exacts", "exact_option", "params", "kernel", "number", "epilog",
           "examples_of", "target_args", "dumps", "plot_path", "sweep_args", "sweep_options",
           "certified_arg", "certified_pairs"]


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


def certified_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--certified`` (rigorous enclosures in Arb ball arithmetic at ``--dps`` digits)."""
    p.add_argument("--certified", action="store_true",
                   help="also print rigorous enclosures [lo, hi] (Arb ball arithmetic at --dps digits, default 30)")


def certified_pairs(enclosures) -> list:
    """JSON of enclosures: ``[lo, hi]`` decimal strings rounded outward, for one or a list of them."""
    if hasattr(enclosures, "pair"):
        return list(enclosures.pair())
    return [certified_pairs(e) for e in enclosures]


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
    """JSON number for floats, decimal string for mpmath values (``dps`` significant digits).

    With ``dps`` every value is a decimal string of ``dps`` significant digits (floats included, so that one
    document holds one type per field); without, a float.
    """
    import mpmath as mp

    if dps:
        if not _finite(x):
            return _nonfinite_text(x)
        with mp.workdps(dps + 5):  # convert at the value's precision, not at the default 15 digits
            return mp.nstr(mp.mpf(x), dps, strip_zeros=False)
    return mp.nstr(x, mp.mp.dps) if isinstance(x, mp.mpf) else float(x)


def _finite(x: Any) -> bool:
    import mpmath as mp

    try:
        return bool(mp.isfinite(x if isinstance(x, mp.mpf) else mp.mpf(x)))
    except (TypeError, ValueError):
        return False


def _nonfinite_text(x: Any) -> str:
    """``'inf'``, ``'-inf'`` or ``'nan'`` for a non-finite number."""
    import mpmath as mp

    v = mp.mpf(x)
    return "nan" if mp.isnan(v) else ("inf" if v > 0 else "-inf")


_NONFINITE_TEXT = {"inf": "inf", "+inf": "inf", "infinity": "inf", "-inf": "-inf", "-infinity": "-inf", "nan": "nan"}


def _plain(x: Any, path: str, nonfinite: dict[str, str]) -> Any:
    """``x`` with JSON's types only; non-finite numbers become ``None`` and are recorded in ``nonfinite``."""
    import mpmath as mp
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _plain(v, f"{path}.{k}" if path else str(k), nonfinite) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_plain(v, f"{path}[{i}]", nonfinite) for i, v in enumerate(list(x))]
    if x is None or isinstance(x, (bool, np.bool_)):
        return None if x is None else bool(x)
    if isinstance(x, str):
        if x.strip().lower() in _NONFINITE_TEXT:
            nonfinite[path] = _NONFINITE_TEXT[x.strip().lower()]
            return None
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, mp.mpf):
        if not mp.isfinite(x):
            nonfinite[path] = _nonfinite_text(x)
            return None
        return mp.nstr(x, mp.mp.dps, strip_zeros=False)
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(value):
        nonfinite[path] = _nonfinite_text(value)
        return None
    return value


def dumps(obj: Any) -> str:
    """One valid JSON document for ``obj``: the encoder of every ``--json`` output.

    JSON has no infinity or NaN: a non-finite value (float, numpy or mpmath number, or its text ``"inf"``) is
    written as ``null`` and, when ``obj`` is a dict, its path (``"values[0]"``, ``"rows[2].tau0"``) is listed under
    ``"nonfinite"`` with the reason (``"inf"``, ``"-inf"`` or ``"nan"``). numpy arrays and scalars become lists and
    numbers; an mpmath number left in ``obj`` becomes a decimal string (results convert their own values at
    their precision first, see :func:`number`); anything else is written as its text.

    Examples
    --------
    >>> dumps({"loss": float("inf"), "grad": [1.0, float("nan")]})
    '{"loss": null, "grad": [1.0, null], "nonfinite": {"loss": "inf", "grad[1]": "nan"}}'
    """
    nonfinite: dict[str, str] = {}
    plain = _plain(obj, "", nonfinite)
    if nonfinite and isinstance(plain, dict):
        plain["nonfinite"] = {**(plain.get("nonfinite") or {}), **nonfinite}
    return json.dumps(plain, allow_nan=False)


def plot_path(path: str | None, option: str = "--plot") -> str | None:
    """Check a figure path before any computation (:func:`memtheory._plotting.figure_path`); None passes.

    Raises
    ------
    UsageError
        If ``path`` is a directory, has no or an unknown extension, or cannot be created.
    """
    if path is None:
        return None
    from .._plotting import figure_path
    from ..errors import InvalidArgumentError

    try:
        return figure_path(path)
    except InvalidArgumentError as exc:
        raise UsageError(f"{option}: {exc}") from None


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


def sweep_args(p: argparse.ArgumentParser) -> None:
    """Add the options of a command whose points run through :func:`memtheory.sweep.run`: ``--workers``,
    ``--scheduler``, ``--store``, ``--progress`` / ``--no-progress``."""
    g = p.add_argument_group("sweep", "where the points run, where their results are kept, progress")
    g.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default 1; each costs a few seconds to start, so more pay off "
                        "for points of a second or longer)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on a Dask cluster: its scheduler's address tcp://HOST:PORT (needs the "
                        "cluster extra: pip install 'memtheory[cluster]')")
    g.add_argument("--store", metavar="FILE",
                   help="SQLite result store: each point is written when it finishes; rerunning the same "
                        "command computes only the points not yet there")
    g.add_argument("--progress", action="store_true", default=None,
                   help="progress bar on stderr (default: on, except with --json)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def sweep_options(args: argparse.Namespace) -> dict[str, Any]:
    """``{"backend", "workers", "store", "progress"}`` of the options added by :func:`sweep_args`, checked."""
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("give --workers (local processes) or --scheduler (a Dask cluster), not both")
    if args.store is not None and args.store.strip() == "":
        raise UsageError("--store needs a file name")
    progress = args.progress if args.progress is not None else not getattr(args, "json", False)
    if args.scheduler is not None:
        return {"backend": args.scheduler, "workers": None, "store": args.store, "progress": progress}
    return {"backend": "processes", "workers": args.workers or 1, "store": args.store, "progress": progress}
