"""``memtheory plateau``: plateau hitting times over a sweep of 1/omega, the fitted exponent and the bound
(docs/theory.md §4); ``memtheory latex plateau``: the bound, J(theta_0) and the initial-gradient asymptotics."""

from __future__ import annotations

from ..common import (UsageError, dumps, epilog, exact_option, exacts, floats, params, plot_path, sweep_args,
                      sweep_options)
from ..registry import register_latex_target

_SPIKE = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"
EXAMPLES = [
    f"memtheory plateau --target '{_SPIKE}' --a0 1,0 --w0 0.5,2 --delta 0.05 --inv-omega 4,6,8 --json",
    f"memtheory plateau --target '{_SPIKE}' --a0 1,0 --w0 0.5,2 --delta 0.05 --inv-omega 4,6,8,10 "
    "--plot plateau.png --fit-range 6,10",
    f"memtheory plateau --target '{_SPIKE}' --a0 1,0 --w0 0.5,2 --delta 0.05 --inv-omega 100,200 "
    "--no-error-estimate",
]


def register(sub) -> None:
    """Add the ``plateau`` sub-command."""
    p = sub.add_parser(
        "plateau", help="plateau hitting times tau_0, tau_0' over 1/omega, exponent fit and the theorem's bound",
        description="Gradient flow of the exact L2 loss from theta_0 = (a0, w0) against a target family "
                    "rho_omega(t) (an expression in t and omega); for each 1/omega: J(theta_0), "
                    "log10 |grad J(theta_0)|, the hitting times tau_0 (||theta - theta_0|| > delta) and tau_0' "
                    "(|J - J(theta_0)| > delta). float64 where it resolves the plateau, mpmath beyond "
                    "(1/omega up to thousands).",
        epilog=epilog(EXAMPLES))
    p.add_argument("--target", required=True, help="kernel expression in t and omega")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="other parameter value (repeatable)")
    p.add_argument("--a0", required=True, help="initial weights A1,A2,...")
    p.add_argument("--w0", required=True, help="initial rates W1,W2,... (> 0, distinct)")
    p.add_argument("--delta", required=True, help="threshold of both hitting times (> 0)")
    p.add_argument("--inv-omega", required=True, help="values of 1/omega X1,X2,... (> 0)")
    p.add_argument("--method", default="auto", choices=["auto", "float64", "mpmath", "reduced"],
                   help="flow and arithmetic (default auto: float64 while it resolves the escape forces, then "
                        "the slow-manifold flow of the rates in mpmath where the weights are slaved, else the "
                        "full flow in mpmath)")
    p.add_argument("--fit-range", help="range LO,HI of 1/omega for the exponent fit (default: all points)")
    p.add_argument("--no-error-estimate", action="store_true",
                   help="skip the rerun at a tighter tolerance (halves the time; rel_error is then null)")
    p.add_argument("--json", action="store_true", help="print JSON (rows and fit)")
    p.add_argument("--plot", metavar="FILE", help="save log10 tau against 1/omega with the bound to FILE")
    sweep_args(p)
    p.set_defaults(func=_handler)


def _latex_args(p) -> None:
    p.add_argument("--spike", help="the spike rho_0(t) (centred at 0): also print J(theta_0) and dJ/da_k(theta_0)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="spike parameter value (repeatable)")


def _latex(args) -> dict:
    from ... import plateau
    from ...kernels import Kernel

    parts = {"bound": plateau.latex("bound")}
    if args.spike:
        spike = Kernel(args.spike, **params(args.param))
        parts["J0"] = plateau.latex("J0", spike)
        parts["gradient"] = plateau.latex("gradient", spike)
    return parts


def _handler(args) -> int:
    from ... import plateau
    from ...kernels import Kernel

    plot_path(args.plot)
    values = params(args.param)
    if "omega" in values:
        raise UsageError("omega is set by --inv-omega; do not pass it with --param")
    family = Kernel(args.target, omega=1.0, **values)
    if "omega" not in family.params:
        raise UsageError(f"--target must contain the symbol omega (the memory length 1/omega), got "
                                f"{args.target!r}")
    # exact decimals: w0 = 0.4 is 2/5, so theta_0 reproduces a target rate 2/5 exactly
    a0, w0 = exacts(args.a0, "a0"), exacts(args.w0, "w0")
    if len(a0) != len(w0):
        raise UsageError(f"--a0 and --w0 must have the same length, got {len(a0)} and {len(w0)}")
    xs = exacts(args.inv_omega, "inv-omega")
    delta = exact_option(args.delta, "delta")
    fit_range = None
    if args.fit_range:
        fit_range = floats(args.fit_range, "fit-range")
        if len(fit_range) != 2 or fit_range[0] >= fit_range[1]:
            raise UsageError(f"--fit-range takes LO,HI with LO < HI, got {args.fit_range!r}")
    options = sweep_options(args)
    res = plateau.scan(family, a0, w0, delta, xs, fit_range=fit_range, method=args.method,
                       error_estimate=not args.no_error_estimate, **options)
    out = res.to_dict()
    if args.plot:
        from ..._plotting import pyplot

        pyplot()  # the figure goes to a file: Agg, no window
        res.plot(path=args.plot)
        out["plot"] = args.plot
    failed = any(row["status"] == "error" for row in out["rows"])
    if args.json:
        print(dumps(out))
        return 1 if failed else 0
    print(f"{'1/omega':>8} {'J0':>10} {'log10|g0|':>10} {'tau0':>12} {'tau0_prime':>12} {'log10 tau0':>10} "
          f"{'log10 S':>9} {'method':>8} {'status':>9}")
    for row in out["rows"]:
        if row["status"] == "error":
            print(f"{row['inv_omega']:>8g} error: {row['message']}")
            continue
        print(f"{row['inv_omega']:>8g} {row['J0']:>10.6f} {row['log10_grad_norm']:>10.3f} "
              f"{_fmt(row['tau0'], '.5g'):>12} {_fmt(row['tau0_prime'], '.5g'):>12} "
              f"{_fmt(row['log10_tau0'], '.4f'):>10} {row['log10_bound']:>9.3f} {row['method']:>8} "
              f"{row['status']:>9}")
    fit = out["fit"]
    if fit["slope"] is not None:
        print(f"fit: ln tau0 = {fit['intercept']:.4f} + {fit['slope']:.4f} (+- {fit['stderr']:.4f}) / omega over "
              f"1/omega in {fit['range']} (R^2 = {fit['r2']:.5f}); bound exponent w_l = {fit['w_l']:g}")
    return 1 if failed else 0


def _fmt(value, spec: str) -> str:
    """A table cell: '-' for missing, 'inf' as is, numbers formatted."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else format(value, spec)


register_latex_target(
    "plateau", "the plateau bound S(omega), J(theta_0) and the initial-gradient asymptotics",
    ["memtheory latex plateau", "memtheory latex plateau --spike 'exp(-2*t**2)' --json"],
    _latex_args, _latex)
