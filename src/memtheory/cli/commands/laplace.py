"""``memtheory laplace``: Laplace moments of a kernel; ``memtheory latex kernel``: a kernel and its transform."""

from __future__ import annotations

import argparse

from ..common import certified_arg, certified_pairs, dumps, epilog, exacts, kernel, number, target_args
from ..registry import register_latex_target

EXAMPLES = [
    "memtheory laplace --target '(1+t)**(-1.5)' --s 0.5,1 --moment 1",
    "memtheory laplace --target 'exp(-(t-c)**2/2)' --param c=3 --s 0.1,4 --dps 40 --json",
    "memtheory laplace --target 'airyai(t - 6)' --s 0.5,2 --moment 1 --certified --dps 40",
]


def register(sub) -> None:
    """Add the ``laplace`` sub-command."""
    p = sub.add_parser("laplace", help="Laplace moments of a kernel",
                       description="Laplace moments L[t^k rho](s) of a kernel (closed forms where available).",
                       epilog=epilog(EXAMPLES))
    target_args(p)
    p.add_argument("--s", required=True, help="points s_1,s_2,...")
    p.add_argument("--moment", type=int, default=0, help="k in L[t^k rho] (default 0)")
    certified_arg(p)
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    rho = kernel(args)
    s = exacts(args.s, "s")  # exact decimals (0.1 is 1/10), rounded once by the float64 path
    cert = None
    if args.certified:
        from ...certified import certified_dps

        cert = rho.laplace(s, moment=args.moment, dps=certified_dps(args.dps), certified=True)
    res = rho.laplace(s, moment=args.moment, dps=args.dps, full_output=True)
    values = [number(v, res.dps) for v in res.values]
    if args.json:
        out = {"s": [float(x) for x in s], "values": values, "moment": args.moment, "method": res.method,
               "errors": [number(e, 5) if res.dps else number(e) for e in res.errors], "dps": res.dps, "inputs_exact": res.inputs_exact}
        if cert is not None:
            out["certified"] = certified_pairs(cert)
        print(dumps(out))
    else:
        for i, (text, v) in enumerate(zip([x.strip() for x in args.s.split(",") if x.strip()], values)):
            line = f"L[t^{args.moment} rho]({text}) = {v}"
            if cert is not None:
                line += f"  in [{', '.join(cert[i].pair())}] (certified)"
            print(line)
    return 0


def _latex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", required=True, help="kernel expression in t, e.g. 'exp(-t/2)'")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="parameter value (repeatable)")
    p.add_argument("--laplace", action="store_true", help="also print the closed form of its Laplace transform")


def _latex(args: argparse.Namespace) -> dict:
    from ...symbolic.latex import to_latex

    rho = kernel(args)
    parts = {"kernel": r"\rho(t) = " + rho.latex()}
    if args.laplace:
        form = rho.laplace_form(0)
        tex = to_latex(form.closed)
        if form.residual != 0:
            tex += r" + \int_0^\infty \left(" + to_latex(form.residual) + r"\right) e^{-s t}\,dt"
        parts["laplace"] = r"\mathcal{L}[\rho](s) = " + tex
    return parts


register_latex_target("kernel", "a kernel rho(t) (and its Laplace transform)",
                      ["memtheory latex kernel --target 'exp(-lam*t)*(1+t)' --param lam=2 --laplace"],
                      _latex_args, _latex)
