"""``memtheory approx``: best exponential sums, the Jackson and universal constructions, widths (THEORY.md §3).

Examples::

    memtheory approx best --target "(1+t)**(-1.5)" --m 1,2,4,8 --json
    memtheory approx best --target "(1+t)**(-p)" --param p=2 --m 4,8 --min-rate 0.1
    memtheory approx jackson --target "(1+t)*exp(-2*t)" --alpha 1 --beta 1 --m 2,4,8,16
    memtheory approx universal --target "exp(-t)*(1+t)" --m 2,4,8 --scale 1
    memtheory approx width --target "(1+t)**(-2)" --eps 1e-2,1e-3 --norm L2
"""

from __future__ import annotations

import json
import math

_EXAMPLES = {
    "best": "memtheory approx best --target '(1+t)**(-1.5)' --m 1,2,4,8 --json",
    "jackson": "memtheory approx jackson --target '(1+t)*exp(-2*t)' --alpha 1 --beta 1 --m 2,4,8,16",
    "universal": "memtheory approx universal --target 'exp(-t)*(1+t)' --m 2,4,8 --scale 1",
    "width": "memtheory approx width --target '(1+t)**(-2)' --eps 1e-2,1e-3 --norm L2",
}


def register(sub, common) -> None:
    """Add the ``approx`` sub-command."""
    p = sub.add_parser(
        "approx", help="approximation theory: best exponential sums, Jackson/universal constructions, widths",
        description="Approximate a memory kernel by linear RNNs (sums of exponentials).",
        epilog=common.epilog(_EXAMPLES.values()))
    p.add_argument("what", choices=["best", "jackson", "universal", "width"],
                   help="best: L2-best exponential sums; jackson / universal: the constructions of the proofs; "
                        "width: smallest width reaching --eps")
    common.target_args(p)
    p.add_argument("--m", help="widths M1,M2,... (best/jackson/universal; for width the largest width tried)")
    p.add_argument("--min-rate", type=float, default=None, help="stability margin: rates >= R (best, width)")
    p.add_argument("--alpha", type=int, default=1, help="Jackson smoothness order alpha >= 1 (default 1)")
    p.add_argument("--beta", type=float, default=None, help="Jackson decay rate beta > 0 (required for jackson)")
    p.add_argument("--scale", type=float, default=1.0, help="universal: rate unit (rates scale*(1..m))")
    p.add_argument("--eps", help="width: accuracies E1,E2,...")
    p.add_argument("--norm", default="L1", choices=["L1", "L2", "sup"], help="width: error norm (default L1)")
    p.add_argument("--plot", metavar="FILE", help="save a figure (error against width) to FILE")
    p.set_defaults(func=lambda args: _handler(args, common))


def _widths(args, common, required: bool = True) -> list[int]:
    if args.m is None:
        if required:
            raise common.UsageError(f"approx {args.what} needs --m M1,M2,...")
        return []
    values = common.floats(args.m, "m")
    if any(v != int(v) or v < 1 for v in values):
        raise common.UsageError(f"--m takes positive integers, got {args.m!r}")
    return [int(v) for v in values]


def _handler(args, common) -> int:
    import memtheory.approximation as approx
    from memtheory.errors import ConvergenceError

    rho = common.kernel(args)
    if args.what == "best":
        ms = _widths(args, common)
        fits = approx.best_exponential_sums(rho, ms, min_rate=args.min_rate, dps=args.dps)
        rows = [f.to_dict() for f in fits]
        out = {"target": args.target, "min_rate": args.min_rate, "rows": rows}
        if len(fits) >= 3 and all(f.l2_error > 0 for f in fits):
            out["root_exponential_fit"] = approx.fit_root_exponential([f.m for f in fits],
                                                                      [f.l2_error for f in fits]).to_dict()
        series = ([f.m for f in fits], [f.l2_error for f in fits], "L2 error of the best sum")
        text = [f"{'m':>3} {'L2 error':>12} {'loss':>12} {'margin':>10} {'log10 cond':>10} {'dps':>5}"]
        text += [f"{f.m:>3} {f.l2_error:>12.4e} {f.loss:>12.4e} {f.margin:>10.3e} {f.log10_cond:>10.1f} "
                 f"{str(f.dps or '-'):>5}" for f in fits]
        if "root_exponential_fit" in out:
            fit = out["root_exponential_fit"]
            text.append(f"fit: L2 error ~ {fit['A']:.3g} exp(-{fit['c']:.3f} sqrt(m))  (r2 = {fit['r2']:.4f})")
    elif args.what in ("jackson", "universal"):
        if args.dps is not None:
            raise common.UsageError(f"--dps applies to 'best' and 'width'; approx {args.what} chooses the digits "
                                    "its exact coefficients need by itself")
        ms = _widths(args, common)
        if args.what == "jackson":
            if args.beta is None:
                raise common.UsageError("approx jackson needs --beta (and --alpha, default 1)")
            bound = approx.jackson_bound(rho, args.alpha, args.beta)
            cons = [approx.jackson(rho, m, args.alpha, args.beta) for m in ms]
            ratios = [c.errors.l1 / float(bound.value(c.m)) for c in cons] if math.isfinite(bound.gamma) else []
            c_emp = max(ratios) if ratios else None
            out = {"target": args.target, "bound": bound.to_dict(), "c_empirical": c_emp,
                   "rows": [{**c.to_dict(), "bound_over_C": float(bound.value(c.m))} for c in cons]}
            text = [f"gamma = {bound.gamma:.6g} (max at t = {bound.argmax_t:.6g}, k = {bound.argmax_k}); "
                    f"hypotheses hold: {bound.hypotheses_hold}", *bound.violations, bound.latex(),
                    f"empirical C({args.alpha}) for this construction: {c_emp:.4g}" if c_emp is not None else ""]
        else:
            cons = [approx.universal(rho, m, scale=args.scale) for m in ms]
            out = {"target": args.target, "rows": [c.to_dict() for c in cons]}
            text = []
        text.insert(0, f"{'m':>3} {'L1 error':>12} {'L2 error':>12} {'sup error':>12} {'sum |a_j|':>10}")
        text[1:1] = [f"{c.m:>3} {c.errors.l1:>12.4e} {c.errors.l2:>12.4e} {c.errors.sup:>12.4e} "
                     f"{c.coefficient_norm:>10.3g}" for c in cons]
        series = ([c.m for c in cons], [c.errors.l1 for c in cons], f"L1 error of the {args.what} construction")
    else:
        if args.eps is None:
            raise common.UsageError("approx width needs --eps E1,E2,...")
        eps = common.floats(args.eps, "eps")
        m_max = max(_widths(args, common, required=False) or [60])
        rows = []
        for e in eps:
            try:
                rows.append(approx.width_needed(rho, e, norm=args.norm, min_rate=args.min_rate, m_max=m_max,
                                                dps=args.dps).to_dict())
            except ConvergenceError as exc:
                rows.append({"eps": e, "norm": args.norm, "min_rate": args.min_rate, "m": None, "error": None,
                             "message": str(exc)})
        out = {"target": args.target, "rows": rows}
        text = [f"{'eps':>10} {'m':>4} {'error':>12}"]
        text += [f"{r['eps']:>10.3g} {str(r['m']):>4} "
                 + ("-" if r["error"] is None else format(r["error"], "12.4e")) for r in rows]
        done = [r for r in rows if r["m"] is not None]
        series = ([r["m"] for r in done], [r["error"] for r in done], f"{args.norm} error at the width needed")
    if args.plot:
        _plot(args.plot, *series, args.target)
        out["plot"] = args.plot
    if args.json:
        print(json.dumps(out, default=_jsonable))
    else:
        print("\n".join(line for line in text if line))
    return 0


def _jsonable(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def _plot(path: str, ms, errors, label: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogy(ms, errors, "o-", label=label)
    ax.set_xlabel("width m")
    ax.set_ylabel("error")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
