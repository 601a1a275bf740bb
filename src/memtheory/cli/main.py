"""The ``memtheory`` command line: a thin layer over the API.

Examples::

    memtheory --version
    memtheory latex loss --m 2 --flow
    memtheory latex jackson --target "(1+t)*exp(-2*t)" --alpha 1 --beta 1
    memtheory loss --target "exp(-t/2) + exp(-(t-1/omega)**2/(2*sigma**2))" --param omega=0.1 --param sigma=0.5 \\
        --a 1,0.2 --w 0.5,2 --json
    memtheory laplace --target "(1+t)**(-1.5)" --s 0.5,1,2 --moment 1 --dps 30 --json
    memtheory verify --quick --out report

Conventions for every sub-command (also those of :mod:`memtheory.clicommands`): ``--help`` ends with runnable
examples (the parser's ``epilog``, built with :meth:`Common.epilog`), ``--json`` prints one JSON document on
stdout, ``--plot FILE`` / ``--out`` write files, usage errors are one line on stderr with a hint and exit with
code 2, a failed check or a numerical failure exits with 1. LaTeX targets of ``memtheory latex`` live in the
registry :data:`LATEX_TARGETS`; a sub-command module adds one with :meth:`Common.latex_target`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__
from .errors import MemtheoryError

__all__ = ["main", "build_parser", "LATEX_TARGETS", "LatexTarget", "register_latex_target"]


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


def _cmd_loss(args) -> int:
    from .losses import l2_loss
    from .models import DiagonalRNN

    a, w = _floats(args.a, "a"), _floats(args.w, "w")
    if len(a) != len(w):
        raise _UsageError(f"--a and --w must have the same length, got {len(a)} and {len(w)}")
    model, rho = DiagonalRNN(a, w), _kernel(args)
    res = l2_loss(model, rho, gradient=True, dps=args.dps)
    if args.plot:
        _plot_loss(args.plot, model, rho, args.target)
    if args.json:
        print(json.dumps({**res.to_dict(), **({"plot": args.plot} if args.plot else {})}))
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


def _plot_loss(path: str, model, rho, label: str) -> None:
    import numpy as np

    from .verify import pyplot

    plt = pyplot()
    rates = np.asarray(model.w, float)
    t_end = max(10.0, 8.0 / float(np.min(rates)))
    t = np.linspace(0.0, t_end, 600)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(t, rho(t), label=f"target {label}")
    ax.plot(t, model.kernel(t), "--", label="model sum_i a_i exp(-w_i t)")
    ax.set_xlabel("t")
    ax.set_ylabel("kernel")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cmd_verify(args) -> int:
    import time

    from tqdm import tqdm

    from .verify import (
        FIGURES_ENV,
        report_dict,
        resolve_checks,
        run_check,
        write_report,
    )

    checks = resolve_checks(args.names)
    if args.list:
        rows = {n: getattr(m, "CLAIM", "") for n, m in checks.items()}
        print(json.dumps(rows) if args.json else "\n".join(f"{n:28s} {c}" for n, c in rows.items()))
        return 0
    directory = args.out or os.environ.get(FIGURES_ENV) or None
    if directory is not None:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise _UsageError(f"--out: cannot create directory {directory!r} ({exc.strerror})") from None
    if not args.json:
        print(f"{'check':28s} {'':5s} {'time':>8s}  measured", flush=True)
    results = []
    start = time.perf_counter()
    bar = tqdm(total=len(checks), file=sys.stderr, unit="check", disable=args.no_progress, dynamic_ncols=True)
    try:
        for name, module in checks.items():
            bar.set_description(name)
            result = run_check(name, module, quick=args.quick, directory=directory)
            results.append(result)
            if not args.json:
                verdict = "PASS" if result.passed else "FAIL"
                bar.write(f"{result.name:28s} {verdict:5s} {result.seconds:7.1f}s  {result.short()}", file=sys.stdout)
            bar.update(1)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    passed = all(r.passed for r in results)
    out = report_dict(results, args.quick, seconds)
    if args.out:
        paths = write_report(results, args.out, args.quick, seconds)
        out["report"] = str(paths["markdown"])
    if args.json:
        print(json.dumps(out, default=str))
    else:
        print(f"\n{sum(r.passed for r in results)} of {len(results)} checks passed in {seconds:.1f} s")
        if args.out:
            print(f"report: {out['report']}")
    return 0 if passed else 1


# ================================================================================================= LaTeX targets
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


def register_latex_target(name: str, help: str, examples, arguments: Callable | None, render: Callable) -> None:
    """Add a target to :data:`LATEX_TARGETS` (a sub-command module calls this through ``common.latex_target``).

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
        ``render(args) -> dict`` of part name to LaTeX; raise ``common.UsageError`` for bad options.
    """
    bad = [e for e in examples if not e.startswith(f"memtheory latex {name}")]
    if not examples or bad:
        raise ValueError(f"latex target {name!r}: examples must start with 'memtheory latex {name}', got {bad}")
    LATEX_TARGETS[name] = LatexTarget(name, help, tuple(examples), arguments or (lambda p: None), render)


def _latex_loss_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=int, default=2, help="model width (default 2)")
    p.add_argument("--gradient", action="store_true", help="also print the gradient")
    p.add_argument("--flow", action="store_true", help="also print the gradient-flow equations")
    p.add_argument("--hessian", action="store_true", help="also print the Hessian")
    p.add_argument("--general", action="store_true", help="also print J for general width m (sums)")


def _latex_loss(args) -> dict:
    from .symbolic.loss import general_loss_latex, l2_loss

    loss = l2_loss(args.m)
    parts = {"loss": loss.latex("loss")}
    for what in ("gradient", "flow", "hessian"):
        if getattr(args, what):
            parts[what] = loss.latex(what)
    if args.general:
        parts["general"] = general_loss_latex()
    return parts


def _latex_jackson_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="kernel expression in t: compute gamma and print the bound with numbers")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="kernel parameter value (repeatable)")
    p.add_argument("--alpha", type=int, default=None, help="smoothness order alpha >= 1 (with --target)")
    p.add_argument("--beta", type=float, default=None, help="decay rate beta > 0 (with --target)")


def _latex_jackson(args) -> dict:
    import sympy as sp

    from .theory.jackson import JacksonBound, jackson_bound

    num, den = sp.fraction(JacksonBound.symbolic())
    parts = {"bound": r"\sup_t \|H_t - \hat H_t\| \le \frac{" + sp.latex(num) + "}{" + sp.latex(den) + "}",
             "gamma": r"\gamma = \max_{k = 1, \dots, \alpha + 1} \sup_{t \ge 0} "
                      r"\frac{\left|e^{\beta t} y^{(k)}(t)\right|}{\beta^{k}}, \qquad y^{(k)} = \rho^{(k-1)}"}
    if args.target is None:
        if args.alpha is not None or args.beta is not None or args.param:
            raise _UsageError("--alpha, --beta and --param go with --target EXPR")
        return parts
    if args.alpha is None or args.beta is None:
        raise _UsageError("latex jackson --target needs --alpha and --beta")
    bound = jackson_bound(_kernel(args), args.alpha, args.beta)
    parts["kernel"] = r"\rho(t) = " + _kernel(args).latex()
    parts["instance"] = bound.latex()
    parts["hypotheses"] = (r"\text{hypotheses hold}" if bound.hypotheses_hold else
                           r"\text{hypotheses fail: " + "; ".join(bound.violations).replace("_", r"\_") + "}")
    return parts


def _latex_reparam_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--maps", default="direct,exp,softplus,best,inverse",
                   help="maps (direct, exp, softplus, best, inverse, lru, discrete_best)")
    p.add_argument("--a", type=float, default=1.0, help="best-map constant a (default 1)")
    p.add_argument("--b", type=float, default=0.5, help="best-map constant b (default 0.5)")
    p.add_argument("--derive", action="store_true", help="also print the derivation of the best maps")
    p.add_argument("--criterion", action="store_true", help="also print StableSSM's criterion for the best map")


def _latex_reparam(args) -> dict:
    import sympy as sp

    from .theory import reparam as R

    names = [s.strip() for s in args.maps.split(",") if s.strip()]
    unknown = [n for n in names if n not in R.MAPS]
    if unknown or not names:
        raise _UsageError(f"--maps: unknown {unknown}; available: {', '.join(R.MAPS)}")
    parts = {f"scale_{n}": R.gradient_scale(n, args.a, args.b).latex for n in names}
    if args.derive:
        parts.update({f"best_{k}": R.best_map_derivation(k).latex() for k in ("continuous", "discrete")})
    if args.criterion:
        expr = R.A * R.BETA * (R.BETA + sp.sqrt(R.BETA**2 + 4 * R.B / R.A)) / (2 * R.B)  # best_criterion_closed_form
        parts["criterion_definition"] = (r"g_f(\beta) = \sup_w |f(w)| \sup_{|\tilde w - w| \le \beta} \int_0^\infty "
                                         r"\left|e^{f(\tilde w) t} - e^{f(w) t}\right| dt")
        parts["criterion_best"] = r"g_{\mathrm{best}}(\beta) = " + sp.latex(expr)
    return parts


def _latex_kernel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", required=True, help="kernel expression in t, e.g. 'exp(-t/2)'")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    p.add_argument("--laplace", action="store_true", help="also print the closed form of its Laplace transform")


def _latex_kernel(args) -> dict:
    import sympy as sp

    rho = _kernel(args)
    parts = {"kernel": r"\rho(t) = " + rho.latex()}
    if args.laplace:
        form = rho.laplace_form(0)
        tex = sp.latex(form.closed)
        if form.residual != 0:
            tex += r" + \int_0^\infty \left(" + sp.latex(form.residual) + r"\right) e^{-s t}\,dt"
        parts["laplace"] = r"\mathcal{L}[\rho](s) = " + tex
    return parts


register_latex_target("loss", "the exact L2 loss J(theta) of width m, its gradient, gradient flow and Hessian",
                      ["memtheory latex loss --m 2 --flow", "memtheory latex loss --m 1 --gradient --hessian --json"],
                      _latex_loss_args, _latex_loss)
register_latex_target("jackson", "the Jackson-type bound C(alpha) gamma d/(beta m^alpha), symbolic or for a kernel",
                      ["memtheory latex jackson",
                       "memtheory latex jackson --target '(1+t)*exp(-2*t)' --alpha 1 --beta 1"],
                      _latex_jackson_args, _latex_jackson)
register_latex_target("reparam", "gradient scales |f'|/f^2 of reparameterisations, the best map, StableSSM criterion",
                      ["memtheory latex reparam --maps exp,best", "memtheory latex reparam --maps best --derive --criterion"],
                      _latex_reparam_args, _latex_reparam)
register_latex_target("kernel", "a kernel rho(t) (and its Laplace transform)",
                      ["memtheory latex kernel --target 'exp(-lam*t)*(1+t)' --param lam=2 --laplace"],
                      _latex_kernel_args, _latex_kernel)


def _cmd_latex(args) -> int:
    parts = LATEX_TARGETS[args.latex_object].render(args)
    text = "\n\n".join(parts.values())
    if args.out:
        try:
            with open(args.out, "w") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise _UsageError(f"--out: cannot write {args.out!r} ({exc.strerror})") from None
    if args.json:
        print(json.dumps({"object": args.latex_object, "parts": parts, **({"out": args.out} if args.out else {})}))
    else:
        print(text)
    return 0


# ================================================================================================= parser
class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line (with a hint) and exit with code 2.

    Examples in the ``epilog`` keep their line breaks (raw description formatter by default).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _epilog(examples) -> str:
    """The ``epilog`` of a sub-command: its runnable examples, one per line."""
    return "examples:\n" + "\n".join(f"  {e}" for e in examples)


def examples_of(parser: argparse.ArgumentParser) -> list[str]:
    """The example command lines in a parser's ``epilog`` (lines starting with ``memtheory ``)."""
    return [line.strip() for line in (parser.epilog or "").splitlines() if line.strip().startswith("memtheory ")]


class Common:
    """Helpers shared by the sub-commands (see :mod:`memtheory.clicommands`)."""

    UsageError = _UsageError
    floats = staticmethod(_floats)
    params = staticmethod(_params)
    kernel = staticmethod(_kernel)
    number = staticmethod(_num)
    epilog = staticmethod(_epilog)
    latex_target = staticmethod(register_latex_target)

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


def _subparsers(parser: argparse.ArgumentParser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="memtheory", description="Theory of memory in recurrent models: "
                     "closed forms, numerical checks and LaTeX.",
                     epilog=_epilog(["memtheory latex loss --m 2 --flow", "memtheory verify --list"])
                     + "\n\nRun 'memtheory COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"memtheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    latex = sub.add_parser("latex", help="print LaTeX of symbolic objects (loss, jackson, reparam, kernel, ...)",
                           description="Print the LaTeX of a symbolic object.")

    target_args = Common.target_args

    p = sub.add_parser("loss", help="exact L2 loss and gradient of a diagonal RNN against a kernel",
                       description="Exact L2 loss J = ||rho_hat - rho||_2^2 of rho_hat(t) = sum_i a_i exp(-w_i t) "
                                   "and its gradient (closed form).",
                       epilog=_epilog(["memtheory loss --target 'exp(-t)' --a 1,0.5 --w 0.5,2 --json",
                                       "memtheory loss --target '(1+t)**(-1.5)' --a 1 --w 0.5 --dps 30 "
                                       "--plot loss.png"]))
    target_args(p)
    p.add_argument("--a", required=True, help="coefficients a_1,...,a_m")
    p.add_argument("--w", required=True, help="rates w_1,...,w_m (> 0)")
    p.add_argument("--plot", metavar="FILE", help="save the target and the model kernel to FILE")
    p.set_defaults(func=_cmd_loss)

    p = sub.add_parser("laplace", help="Laplace moments of a kernel",
                       description="Laplace moments L[t^k rho](s) of a kernel (closed forms where available).",
                       epilog=_epilog(["memtheory laplace --target '(1+t)**(-1.5)' --s 0.5,1 --moment 1",
                                       "memtheory laplace --target 'exp(-(t-c)**2/2)' --param c=3 --s 0.1,4 "
                                       "--dps 40 --json"]))
    target_args(p)
    p.add_argument("--s", required=True, help="points s_1,s_2,...")
    p.add_argument("--moment", type=int, default=0, help="k in L[t^k rho] (default 0)")
    p.set_defaults(func=_cmd_laplace)

    p = sub.add_parser("verify", help="run the proofs checks and print what was measured against the theory",
                       description="Run the proofs checks (proofs_checks/), with a progress bar on stderr. With "
                                   "--out DIR, write DIR/report.md, DIR/report.json, the figures (.png) and the "
                                   "LaTeX (.tex). Exit code 1 if a check fails.",
                       epilog=_epilog(["memtheory verify universal_approximation --quick --json",
                                       "memtheory verify jackson_rate --quick --out report", "memtheory verify --list"]))
    p.add_argument("names", nargs="*", help="checks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="reduced sizes (the whole run takes about a minute)")
    p.add_argument("--out", metavar="DIR", help="write report.md, report.json, figures and LaTeX to DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--list", action="store_true", help="list the checks and their claims, run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_verify)
    _register_extensions(sub)

    # latex targets last, so that the sub-command modules have registered theirs
    latex.epilog = _epilog([t.examples[0] for t in LATEX_TARGETS.values()])
    objects = latex.add_subparsers(dest="latex_object", metavar="OBJECT", required=True)
    for target in LATEX_TARGETS.values():
        q = objects.add_parser(target.name, help=target.help, description=f"LaTeX of {target.help}.",
                               epilog=_epilog(target.examples))
        target.arguments(q)
        q.add_argument("--json", action="store_true", help="print JSON {object, parts}")
        q.add_argument("--out", metavar="FILE", help="also write the LaTeX to FILE")
    latex.set_defaults(func=_cmd_latex)
    for name, p in sub.choices.items():
        p.set_defaults(_prog=p.prog)
    for p in objects.choices.values():
        p.set_defaults(_prog=p.prog)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 1 failed check or error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    prog = getattr(args, "_prog", f"memtheory {args.command}")
    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (``memtheory ... | head``): no traceback; exit like a process killed by SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except _UsageError as exc:
        print(f"{prog}: error: {exc} (see '{prog} --help')", file=sys.stderr)
        return 2
    except MemtheoryError as exc:
        usage = isinstance(exc, ValueError)
        print(f"{prog}: error: {exc}" + (f" (see '{prog} --help')" if usage else ""), file=sys.stderr)
        return 2 if usage else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
