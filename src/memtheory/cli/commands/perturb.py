"""``memtheory perturb``: perturbation error E_m(beta) of least-squares linear RNNs and the stability verdict ([IAT]).

Examples::

    memtheory perturb --target "(1+t)**(-1.1)" --widths 2,4,6 --json
    memtheory perturb --target "exp(-t)" --a 1 --w 1 --betas 0,0.01,0.1,1
    memtheory perturb --target "(1+t)**(-1.1)" --widths 2,4,6 --parameterisation exp --tensors W --plot pe.png
"""

from __future__ import annotations

import numpy as np

from ..common import (UsageError, dumps, epilog, exacts, floats, kernel, plot_path, sweep_args, sweep_options,
                      target_args)

EXAMPLES = [
    "memtheory perturb --target '(1+t)**(-1.1)' --widths 2,4,6 --repeats 10 --json",
    "memtheory perturb --target 'exp(-t)' --a 1 --w 1 --betas 0,0.01,0.1,1",
]


def register(sub) -> None:
    """Add the ``perturb`` sub-command."""
    p = sub.add_parser(
        "perturb", help="perturbation error E_m(beta) of linear RNNs (exact L2) and the stable-radius verdict",
        description="Perturbation error of L2-best linear RNNs (--widths) or of one diagonal model (--a, --w), "
                    "exact through the closed-form loss.", epilog=epilog(EXAMPLES))
    target_args(p, dps=False)
    p.add_argument("--widths", help="widths M1,M2,...: fit the L2-best exponential sums of the target")
    p.add_argument("--a", help="one model: coefficients a_1,...,a_m")
    p.add_argument("--w", help="one model: rates w_1,...,w_m (> 0)")
    p.add_argument("--betas", help="radii B1,B2,... (default {0} U 5e-4*2^(k/2), k = -24..23)")
    p.add_argument("--definition", default="paper", choices=["paper", "reference"], help="perturbation definition")
    p.add_argument("--repeats", type=int, default=30, help="random draws per radius (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the directions")
    p.add_argument("--parameterisation", help="perturb raw v with eigenvalue f(v): direct, exp, softplus, best")
    p.add_argument("--tensors", help="perturb only these of W,U,c (default all)")
    p.add_argument("--plot", metavar="FILE", help="save the E_m(beta) curves to FILE")
    sweep_args(p)
    p.set_defaults(func=_handler)


def _handler(args) -> int:
    from ...models import DiagonalRNN
    from ...theory.stability import perturbation_errors, stability_summary

    plot_path(args.plot)
    rho = kernel(args)
    if (args.widths is None) == (args.a is None and args.w is None):
        raise UsageError("give either --widths or both --a and --w")
    if args.seed < 0:  # checked here, before the sweep starts its progress bar
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    if args.betas:
        betas = np.array(floats(args.betas, "betas"))
    else:
        betas = np.concatenate([[0.0], 5e-4 * 2.0 ** (np.arange(-24, 24) / 2)])
    if args.widths is not None:
        ws = floats(args.widths, "widths")
        if any(v != int(v) or v < 1 for v in ws):
            raise UsageError(f"--widths takes positive integers, got {args.widths!r}")
        from ...theory.approximation import best_exponential_sums

        models = {f.m: f.model for f in best_exponential_sums(rho, [int(v) for v in ws])}
    else:
        if args.a is None or args.w is None:
            raise UsageError("--a and --w go together")
        a, w = exacts(args.a, "a"), exacts(args.w, "w")
        if len(a) != len(w):
            raise UsageError(f"--a and --w must have the same length, got {len(a)} and {len(w)}")
        models = {len(a): DiagonalRNN(a, w)}
    tensors = [s.strip() for s in args.tensors.split(",")] if args.tensors else None
    options = sweep_options(args)
    results = perturbation_errors(models, rho, betas, repeats=args.repeats, definition=args.definition,
                                  seed=args.seed, parameterisation=args.parameterisation, tensors=tensors, **options)
    out = {"target": args.target, "definition": args.definition, "betas": results[next(iter(results))].betas.tolist(),
           "curves": [{"m": m, **r.to_dict()} for m, r in results.items()]}
    for c in out["curves"]:
        c.pop("betas", None)
    summary = stability_summary(results) if len(results) >= 2 else None
    if summary is not None:
        s = summary.to_dict()
        s.pop("errors")
        s.pop("betas")
        out["summary"] = s
    if args.plot:
        from ..._plotting import pyplot, save_figure

        fig, ax = pyplot().subplots(figsize=(5.5, 3.8))
        for m, r in results.items():
            r.plot(ax, label=f"m = {m}")
        ax.legend(fontsize=7)
        ax.set_title(f"perturbation error, {args.target}")
        save_figure(fig, args.plot)
    if args.json:
        print(dumps(out))
    else:
        for m, r in results.items():
            # the radii are sorted; the first need not be 0 (--betas 0.1 gives E(0.1), not E(0))
            print(f"m = {m}: E({r.betas[0]:g}) = {r.errors[0]:.4e}, stable radius {r.stable_radius():.4g}"
                  f"{' (lower bound)' if r.radius_is_lower_bound() else ''}")
        if summary is not None:
            print(f"verdict: {summary.verdict} ({summary.reason})")
    return 0
