"""The ``memtheory`` command line: :func:`build_parser` and :func:`main`.

Every sub-command is a module of :mod:`memtheory.cli.commands` with a ``register(subparsers)`` function that adds
its parser (whose ``func`` default is the handler, returning the exit code); on import the module registers the
``memtheory latex`` targets of its objects (:func:`memtheory.cli.registry.register_latex_target`).
:data:`COMMANDS` lists the modules in the order of ``memtheory --help``; ``latex`` is filled last, once every
target is known.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from .. import __version__
from ..errors import MemtheoryError
from ..sweep.signals import Terminated, sigterm_raises
from .commands import latex
from .common import Parser, UsageError, epilog

__all__ = ["COMMANDS", "TRACEBACK_ENV", "build_parser", "main"]

#: Set this environment variable to see the Python traceback of an unexpected error instead of its one line.
TRACEBACK_ENV = "MEMTHEORY_TRACEBACK"

#: The sub-command modules of :mod:`memtheory.cli.commands`, in the order of ``memtheory --help``.
COMMANDS = ("latex", "loss", "laplace", "verify", "approx", "memory", "perturb", "plateau", "reparam")
#: Imported here, so that their ``memtheory latex`` targets are registered once :mod:`memtheory.cli` is imported.
_MODULES = tuple(importlib.import_module(f"{__package__}.commands.{name}") for name in COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = Parser(prog="memtheory", description="Theory of memory in recurrent models: "
                    "closed forms, numerical checks and LaTeX.",
                    epilog=epilog(["memtheory latex loss --m 2 --flow", "memtheory verify --list"])
                    + "\n\nRun 'memtheory COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"memtheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    latex_parser = latex.register(sub)
    for module in _MODULES:
        if module is not latex:
            module.register(sub)
    latex.finish(latex_parser)
    for p in sub.choices.values():
        p.set_defaults(_prog=p.prog)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 1 failed check or error, 2 usage error, 130 interrupted,
    143 terminated).

    Every error is one line on stderr: usage errors and bad input (:class:`~memtheory.errors.InvalidArgumentError`)
    exit with 2, numerical failures (:class:`~memtheory.errors.PrecisionError`, ...) with 1; any other exception
    is a bug, reported on one line as an internal error (exit 1; ``MEMTHEORY_TRACEBACK=1`` re-raises it).

    Ctrl-C (SIGINT) prints ``... interrupted`` and exits with 130; SIGTERM prints ``... terminated`` and exits with
    143. Both are 128 + the signal's number, the code a shell gives a process the signal ended, so a caller (a
    batch scheduler, ``timeout``, a script) still tells a user's Ctrl-C from a request to stop. SIGTERM is handled
    (:func:`memtheory.sweep.signals.sigterm_raises`) rather than left to end the process at once, because a sweep
    must stop its worker processes first: killed at once, the parent leaves them running. In both cases the sweep
    engine has stopped its workers before the line is printed, and its store holds every finished point.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    prog = getattr(args, "_prog", f"memtheory {args.command}")
    with sigterm_raises():
        return _run(args, prog)


def _run(args: argparse.Namespace, prog: str) -> int:
    """``args.func(args)``, every exception turned into one line and an exit code (see :func:`main`)."""
    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (``memtheory ... | head``): no traceback; exit like a process killed by SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except KeyboardInterrupt as exc:
        # Ctrl-C or SIGTERM: the sweep engine has stopped its workers and its store holds every finished point;
        # one line, the shell's exit code for the signal, and a second Ctrl-C during the exit does nothing
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        terminated = isinstance(exc, Terminated)
        print(f"{prog}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except UsageError as exc:
        print(f"{prog}: error: {exc} (see '{prog} --help')", file=sys.stderr)
        return 2
    except MemtheoryError as exc:
        usage = isinstance(exc, ValueError)
        print(f"{prog}: error: {_one_line(exc)}" + (f" (see '{prog} --help')" if usage else ""), file=sys.stderr)
        return 2 if usage else 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches the user
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} (a bug: please report the command; "
              f"{TRACEBACK_ENV}=1 shows the traceback)", file=sys.stderr)
        return 1


def _one_line(exc: BaseException, limit: int = 400) -> str:
    """The message of ``exc`` on one line, at most about ``limit`` characters.

    A long message is long because it quotes something long (an expression, a number of hundreds of digits):
    that is shortened inside -- the longest quoted part or word first, its head and tail kept and the number of
    characters cut said in its middle -- so that the sentence around it stays whole and readable.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    while len(text) > limit:
        start, stop = _longest_part(text)
        part = text[start:stop]
        keep = max(2 * _KEPT, len(part) - (len(text) - limit) - len(_cut_marker(len(part))))
        if keep >= len(part) - len(_cut_marker(len(part))):  # nothing left to shorten: cut the middle of the text
            start, stop, part = 0, len(text), text
            keep = max(2 * _KEPT, limit - len(_cut_marker(len(text))))
            if keep >= len(part) - len(_cut_marker(len(part))):
                break
        head, tail = (keep + 1) // 2, keep // 2
        text = text[:start] + part[:head] + _cut_marker(len(part) - head - tail) + part[len(part) - tail:] + text[stop:]
    return text


#: Characters kept at each end of a shortened part of a message.
_KEPT = 30


def _cut_marker(n: int) -> str:
    return f"...[{n} characters cut]..."


def _longest_part(text: str) -> tuple[int, int]:
    """``(start, stop)`` of the longest quoted part (``'...'``, ``"..."``) or word of ``text`` not yet shortened."""
    import re

    best = (0, 0)
    for match in re.finditer(r"'[^']*'|\"[^\"]*\"|\S+", text):
        inner = (match.start() + 1, match.end() - 1) if match.group()[0] in "'\"" else match.span()
        if "characters cut]" not in text[inner[0]:inner[1]] and inner[1] - inner[0] > best[1] - best[0]:
            best = inner
    return best
