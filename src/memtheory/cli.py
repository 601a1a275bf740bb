"""The ``memtheory`` command line: a thin layer over the API.

Examples::

    memtheory --version
    memtheory latex loss --m 2 --flow
    memtheory loss --target "exp(-t/2) + exp(-(t-1/omega)**2/(2*sigma**2))" --param omega=0.1 --param sigma=0.5 \\
        --a 1,0.2 --w 0.5,2 --json
    memtheory laplace --target "(1+t)**(-1.5)" --s 0.5,1,2 --moment 1 --dps 30 --json
    memtheory verify --json
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import MemtheoryError

__all__ = ["main", "build_parser"]


class _UsageError(Exception):
    """A command-line usage error (exit code 2)."""


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise _UsageError(f"--{name} takes comma-separated numbers, got {text!r}") from None
    if not values:
        raise _UsageError(f"--{name} needs at least one number")
    return values


def _params(items: list[str] | None) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _UsageError(f"--param takes NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise _UsageError(f"--param {name}: {value!r} is not a number") from None
    return out


def _kernel(args):
    from .kernels import Kernel

    return Kernel(args.target, **_params(args.param))


def _num(x, dps: int | None = None):
    """JSON number for floats, decimal string for mpmath values (``dps`` significant digits)."""
    import mpmath as mp

    return mp.nstr(x, dps or mp.mp.dps) if isinstance(x, mp.mpf) else float(x)


def _cmd_latex(args) -> int:
    from .symbolic.loss import l2_loss

    loss = l2_loss(args.m)
    if args.object != "loss":
        raise _UsageError(f"unknown object {args.object!r} (available: loss)")
    parts = [loss.latex("loss")]
    if args.gradient:
        parts.append(loss.latex("gradient"))
    if args.flow:
        parts.append(loss.latex("flow"))
    if args.hessian:
        parts.append(loss.latex("hessian"))
    print("\n\n".join(parts))
    return 0


def _cmd_loss(args) -> int:
    from .losses import l2_loss
    from .models import DiagonalRNN

    a, w = _floats(args.a, "a"), _floats(args.w, "w")
    if len(a) != len(w):
        raise _UsageError(f"--a and --w must have the same length, got {len(a)} and {len(w)}")
    res = l2_loss(DiagonalRNN(a, w), _kernel(args), gradient=True, dps=args.dps)
    if args.json:
        print(json.dumps(res.to_dict()))
    else:
        print(f"J      = {res.loss}")
        print(f"dJ/da  = {[_num(x, res.dps) for x in res.grad_a]}")
        print(f"dJ/dw  = {[_num(x, res.dps) for x in res.grad_w]}")
    return 0


def _cmd_laplace(args) -> int:
    rho = _kernel(args)
    s = _floats(args.s, "s")
    # With --dps the decimal values are taken exactly (0.1 -> 1/10), as floats in kernel expressions are.
    res = rho.laplace(s, moment=args.moment, dps=args.dps, full_output=True)
    values = [_num(v, res.dps) for v in res.values]
    if args.json:
        print(json.dumps({"s": s, "values": values, "moment": args.moment, "method": res.method,
                          "errors": [_num(e, 5) for e in res.errors], "dps": res.dps}))
    else:
        for sv, v in zip(s, values):
            print(f"L[t^{args.moment} rho]({sv:g}) = {v}")
    return 0


def _cmd_verify(args) -> int:
    from .verify import run_checks

    def progress(result):
        if not args.json:
            verdict = "PASS" if result.passed else "FAIL"
            print(f"{result.name:28s} {verdict:5s} {result.seconds:7.1f}s  {result.details}", flush=True)

    if not args.json:
        print(f"{'check':28s} {'':5s} {'time':>8s}  measured")
    results = run_checks(args.names, quick=args.quick, progress=progress)
    passed = all(r.passed for r in results)
    if args.json:
        print(json.dumps({"passed": passed, "checks": [r.to_dict() for r in results]}, default=str))
    else:
        print(f"\n{sum(r.passed for r in results)} of {len(results)} checks passed")
    return 0 if passed else 1


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line (with a hint) and exit with code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class Common:
    """Helpers shared by the sub-commands (see :mod:`memtheory.clicommands`)."""

    UsageError = _UsageError
    floats = staticmethod(_floats)
    params = staticmethod(_params)
    kernel = staticmethod(_kernel)
    number = staticmethod(_num)

    @staticmethod
    def target_args(p: argparse.ArgumentParser, dps: bool = True) -> None:
        """Add ``--target``, ``--param``, ``--dps`` and ``--json``."""
        p.add_argument("--target", required=True, help="kernel expression in t, e.g. 'exp(-t/2)'")
        p.add_argument("--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
        if dps:
            p.add_argument("--dps", type=int, default=None, help="mpmath digits (default: float64)")
        p.add_argument("--json", action="store_true", help="print JSON")


def _register_extensions(sub) -> None:
    import importlib
    import pkgutil

    from . import clicommands

    for info in sorted(pkgutil.iter_modules(clicommands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{clicommands.__name__}.{info.name}")
        module.register(sub, Common)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="memtheory", description="Theory of memory in recurrent models: "
                                     "closed forms, numerical checks and LaTeX.")
    parser.add_argument("--version", action="version", version=f"memtheory {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("latex", help="print LaTeX of symbolic objects",
                       description="Print LaTeX. Example: memtheory latex loss --m 2 --flow")
    p.add_argument("object", choices=["loss"], help="what to print")
    p.add_argument("--m", type=int, default=2, help="model width (default 2)")
    p.add_argument("--flow", action="store_true", help="also print the gradient-flow equations")
    p.add_argument("--gradient", action="store_true", help="also print the gradient")
    p.add_argument("--hessian", action="store_true", help="also print the Hessian")
    p.set_defaults(func=_cmd_latex)

    target_args = Common.target_args

    p = sub.add_parser("loss", help="exact L2 loss and gradient of a diagonal RNN against a kernel",
                       description="Example: memtheory loss --target 'exp(-t)' --a 1,0.5 --w 0.5,2 --json")
    target_args(p)
    p.add_argument("--a", required=True, help="coefficients a_1,...,a_m")
    p.add_argument("--w", required=True, help="rates w_1,...,w_m (> 0)")
    p.set_defaults(func=_cmd_loss)

    p = sub.add_parser("laplace", help="Laplace moments of a kernel",
                       description="Example: memtheory laplace --target '(1+t)**(-1.5)' --s 0.5,1 --moment 1")
    target_args(p)
    p.add_argument("--s", required=True, help="points s_1,s_2,...")
    p.add_argument("--moment", type=int, default=0, help="k in L[t^k rho] (default 0)")
    p.set_defaults(func=_cmd_laplace)

    p = sub.add_parser("verify", help="run the proofs checks and print what was measured",
                       description="Example: memtheory verify loss_closed_form --json")
    p.add_argument("names", nargs="*", help="checks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="reduced sizes")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_verify)
    _register_extensions(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 1 failed check or error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except _UsageError as exc:
        print(f"memtheory {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemtheoryError as exc:
        print(f"memtheory {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
