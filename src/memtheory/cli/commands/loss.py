"""``memtheory loss``: the exact L2 loss and its gradient; ``memtheory latex loss``: J, its gradient, flow, Hessian."""

from __future__ import annotations

import argparse

from ..common import (UsageError, certified_arg, certified_pairs, dumps, epilog, exacts, kernel, number, plot_path,
                      target_args)
from ..registry import register_latex_target

EXAMPLES = [
    "memtheory loss --target 'exp(-t)' --a 1,0.5 --w 0.5,2 --json",
    "memtheory loss --target '(1+t)**(-1.5)' --a 1 --w 0.5 --dps 30 --plot loss.png",
    "memtheory loss --target 'exp(-2*t/5) + airyai(t - 6)' --a 0.7,-0.2 --w 0.3,1.1 --certified --dps 40 --json",
    "memtheory loss --target '(1+t)**(-1.5)' --a 0.7,-0.2 --w 0.3,1.1 --hessian --certified --dps 40",
]


def register(sub) -> None:
    """Add the ``loss`` sub-command."""
    p = sub.add_parser("loss", help="exact L2 loss and gradient of a diagonal RNN against a kernel",
                       description="Exact L2 loss J = ||rho_hat - rho||_2^2 of rho_hat(t) = sum_i a_i exp(-w_i t) "
                                   "and its gradient (closed form).",
                       epilog=epilog(EXAMPLES))
    target_args(p)
    p.add_argument("--a", required=True, help="coefficients a_1,...,a_m")
    p.add_argument("--w", required=True, help="rates w_1,...,w_m (> 0)")
    p.add_argument("--hessian", action="store_true",
                   help="also print the Hessian in theta = (a, w) (with --certified: its enclosures too)")
    p.add_argument("--plot", metavar="FILE", help="save the target and the model kernel to FILE")
    certified_arg(p)
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    from ...losses import l2_loss
    from ...models import DiagonalRNN

    plot_path(args.plot)
    a, w = exacts(args.a, "a"), exacts(args.w, "w")  # exact decimals, rounded once by the float64 path
    if len(a) != len(w):
        raise UsageError(f"--a and --w must have the same length, got {len(a)} and {len(w)}")
    if args.certified and args.plot:
        raise UsageError("--plot draws float64 curves; it does not combine with --certified")
    model, rho = DiagonalRNN(a, w), kernel(args)
    cert = None
    if args.certified:
        from ...certified import certified_dps
        from ...losses import certified_l2_loss

        # the typed decimals, exactly (not their float64 roundings)
        cert = certified_l2_loss(a, w, rho, gradient=True, hessian=args.hessian, dps=certified_dps(args.dps))
    res = l2_loss(model, rho, gradient=True, hessian=args.hessian, dps=args.dps)
    if args.plot:
        _plot(args.plot, model, rho, args.target)
    if args.json:
        extra = {"plot": args.plot} if args.plot else {}
        if cert is not None:
            extra["certified"] = {"loss": certified_pairs(cert.loss), "grad_a": certified_pairs(cert.grad_a),
                                  "grad_w": certified_pairs(cert.grad_w), "dps": cert.dps}
            if cert.hess is not None:
                extra["certified"]["hess"] = [certified_pairs(row) for row in cert.hess]
        print(dumps({**res.to_dict(), **extra}))
    else:
        # all requested digits (an mpf prints 15 by default), the gradients as numbers, not quoted strings
        print(f"J      = {number(res.loss, res.dps) if res.dps else res.loss}")
        print("dJ/da  = [" + ", ".join(str(number(x, res.dps)) for x in res.grad_a) + "]")
        print("dJ/dw  = [" + ", ".join(str(number(x, res.dps)) for x in res.grad_w) + "]")
        if res.hess is not None:
            print("hess J (theta = a_1..a_m, w_1..w_m):")
            for row in res.hess:
                print("  [" + ", ".join(str(number(x, res.dps)) for x in row) + "]")
        if cert is not None:
            print(f"certified (dps {cert.dps}): J in [{', '.join(cert.loss.pair())}]")
            for name, encs in (("a", cert.grad_a), ("w", cert.grad_w)):
                for i, e in enumerate(encs, start=1):
                    print(f"  dJ/d{name}_{i} in [{', '.join(e.pair())}]")
            if cert.hess is not None:
                names = [f"a_{i}" for i in range(1, len(a) + 1)] + [f"w_{i}" for i in range(1, len(w) + 1)]
                for i, row in enumerate(cert.hess):
                    for j, e in enumerate(row[: i + 1]):  # symmetric: the lower triangle
                        print(f"  d2J/d{names[i]}d{names[j]} in [{', '.join(e.pair())}]")
    return 0


def _plot(path: str, model, rho, label: str) -> None:
    import numpy as np

    from ..._plotting import pyplot, save_figure

    rates = np.asarray(model.w, float)
    t_end = max(10.0, 8.0 / float(np.min(rates)))
    t = np.linspace(0.0, t_end, 600)
    fig, ax = pyplot().subplots(figsize=(5.5, 3.6))
    ax.plot(t, rho(t), label=f"target {label}")
    ax.plot(t, model.kernel(t), "--", label="model sum_i a_i exp(-w_i t)")
    ax.set_xlabel("t")
    ax.set_ylabel("kernel")
    ax.legend(fontsize=7)
    save_figure(fig, path)


#: Widths printed with explicit entries by default; wider losses print in index notation (sums over j).
EXPLICIT_WIDTH = 6


def _latex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=int, default=2,
                   help=f"model width (default 2); widths above {EXPLICIT_WIDTH} print in index notation")
    p.add_argument("--gradient", action="store_true", help="also print the gradient")
    p.add_argument("--flow", action="store_true", help="also print the gradient-flow equations")
    p.add_argument("--hessian", action="store_true", help="also print the Hessian")
    p.add_argument("--general", action="store_true", help="also print J for general width m (sums)")
    p.add_argument("--explicit", action="store_true",
                   help="explicit entries also for widths above 6 (at most 12: the Hessian has (2m)^2 entries)")


def _latex(args: argparse.Namespace) -> dict:
    from ...errors import InvalidArgumentError
    from ...symbolic.loss import MAX_EXPLICIT_WIDTH, general_latex, l2_loss

    m = args.m
    if m < 1:
        raise UsageError(f"--m must be an integer >= 1, got {m}")
    whats = ["loss"] + [w for w in ("gradient", "flow", "hessian") if getattr(args, w)]
    if m > EXPLICIT_WIDTH and not args.explicit:
        parts = {w: general_latex(w, m) for w in whats}
    else:
        try:
            loss = l2_loss(m)
        except InvalidArgumentError:
            raise UsageError(f"--m {m} --explicit: explicit entries are printed for m <= {MAX_EXPLICIT_WIDTH} "
                             f"(the Hessian would have {(2 * m) ** 2} entries); without --explicit the width is "
                             "printed in index notation") from None
        parts = {w: loss.latex(w) for w in whats}
    if args.general:
        parts["general"] = general_latex("loss")
    return parts


register_latex_target(
    "loss", "the exact L2 loss J(theta) of width m, its gradient, gradient flow and Hessian",
    ["memtheory latex loss --m 2 --flow", "memtheory latex loss --m 1 --gradient --hessian --json",
     "memtheory latex loss --m 100 --flow --hessian --document"],
    _latex_args, _latex)
