"""``memtheory approx``: best exponential sums, the Jackson and universal constructions, widths (docs/theory.md §3).

Examples::

    memtheory approx best --target "(1+t)**(-1.5)" --m 1,2,4,8 --json
    memtheory approx best --target "(1+t)**(-p)" --param p=2 --m 4,8 --min-rate 0.1
    memtheory approx jackson --target "(1+t)*exp(-2*t)" --alpha 1 --beta 1 --m 2,4,8,16
    memtheory approx universal --target "exp(-t)*(1+t)" --m 2,4,8 --scale 1
    memtheory approx width --target "(1+t)**(-2)" --eps 1e-2,1e-3 --norm L2
"""

from __future__ import annotations

import math

from ..common import (UsageError, certified_arg, dumps, epilog, floats, kernel, plot_path, sweep_args, sweep_options,
                      target_args)
from ..registry import register_latex_target

EXAMPLES = {
    "best": "memtheory approx best --target '(1+t)**(-1.5)' --m 1,2,4,8 --json",
    "digits": "memtheory approx best --target '(1+t)**(-1.5)' --m 4 --dps 30",
    "store": "memtheory approx best --target '(1+t)**(-1.5)' --m 2,4,6,8 --store best.sqlite",
    "jackson": "memtheory approx jackson --target '(1+t)*exp(-2*t)' --alpha 1 --beta 1 --m 2,4,8,16",
    "certified": "memtheory approx jackson --target '(1+t)*exp(-2*t)' --alpha 1 --beta 1 --certified --dps 30",
    "universal": "memtheory approx universal --target 'exp(-t)*(1+t)' --m 2,4,8 --scale 1",
    "width": "memtheory approx width --target '(1+t)**(-2)' --eps 1e-2,1e-3 --norm L2",
}


def register(sub) -> None:
    """Add the ``approx`` sub-command."""
    p = sub.add_parser(
        "approx", help="approximation theory: best exponential sums, Jackson/universal constructions, widths",
        description="Approximate a memory kernel by linear RNNs (sums of exponentials).",
        epilog=epilog(EXAMPLES.values()))
    p.add_argument("what", choices=["best", "jackson", "universal", "width"],
                   help="best: L2-best exponential sums; jackson / universal: the constructions of the proofs; "
                        "width: smallest width reaching --eps")
    target_args(p)
    p.add_argument("--m", help="widths M1,M2,... (best/jackson/universal; for width the largest width tried)")
    p.add_argument("--min-rate", type=float, default=None, help="stability margin: rates >= R (best, width)")
    p.add_argument("--alpha", type=int, default=1, help="Jackson smoothness order alpha >= 1 (default 1)")
    p.add_argument("--beta", type=float, default=None, help="Jackson decay rate beta > 0 (required for jackson)")
    p.add_argument("--scale", type=float, default=1.0, help="universal: rate unit (rates scale*(1..m))")
    p.add_argument("--eps", help="width: accuracies E1,E2,...")
    p.add_argument("--norm", default="L1", choices=["L1", "L2", "sup"], help="width: error norm (default L1)")
    p.add_argument("--plot", metavar="FILE", help="save a figure (error against width) to FILE")
    certified_arg(p)
    sweep_args(p)  # approx best: one point per width
    p.set_defaults(func=_handler)


def _widths(args, required: bool = True) -> list[int]:
    if args.m is None:
        if required:
            raise UsageError(f"approx {args.what} needs --m M1,M2,...")
        return []
    values = floats(args.m, "m")
    if any(v != int(v) or v < 1 for v in values):
        raise UsageError(f"--m takes positive integers, got {args.m!r}")
    return [int(v) for v in values]


def _handler(args) -> int:
    from ... import approximation as approx
    from ...errors import ConvergenceError

    plot_path(args.plot)
    rho = kernel(args)
    if args.certified:
        return _certified_jackson(args, rho)
    swept = any(getattr(args, k) is not None for k in ("workers", "scheduler", "store"))
    if swept and args.what != "best":
        raise UsageError(f"--workers, --scheduler and --store apply to approx best (one point per width), not "
                         f"approx {args.what}")
    if args.what == "best":
        ms = _widths(args)
        options = sweep_options(args)
        if not swept:  # in this process, with the bar moving as the continuation walks through the widths
            options.update(backend="serial", workers=None)
        fits = approx.best_exponential_sums(rho, ms, min_rate=args.min_rate, dps=args.dps, **options)
        rows = [f.to_dict(args.dps) for f in fits]  # with --dps: decimal strings of all the digits asked for
        out = {"target": args.target, "min_rate": args.min_rate, "rows": rows}
        if len(fits) >= 3 and all(f.l2_error > 0 for f in fits):
            out["root_exponential_fit"] = approx.fit_root_exponential([f.m for f in fits],
                                                                      [f.l2_error for f in fits]).to_dict()
        series = ([f.m for f in fits], [f.l2_error for f in fits], "L2 error of the best sum")
        if args.dps:
            width = args.dps + 7
            text = [f"{'m':>3} {'L2 error':>{width}} {'loss':>{width}} {'log10 cond':>10} {'dps':>5} "
                    f"{'converged':>9}"]
            text += [f"{f.m:>3} {r['l2_error']:>{width}} {r['loss']:>{width}} {f.log10_cond:>10.1f} "
                     f"{str(f.dps or '-'):>5} {'yes' if f.converged else 'NO':>9}" for f, r in zip(fits, rows)]
        else:
            text = [f"{'m':>3} {'L2 error':>12} {'loss':>12} {'margin':>10} {'log10 cond':>10} {'dps':>5} "
                    f"{'converged':>9}"]
            text += [f"{f.m:>3} {f.l2_error:>12.4e} {f.loss:>12.4e} {f.margin:>10.3e} {f.log10_cond:>10.1f} "
                     f"{str(f.dps or '-'):>5} {'yes' if f.converged else 'NO':>9}" for f in fits]
        if not all(f.converged for f in fits):
            text.append("NO: the optimiser stopped before its tolerance; the loss is an upper bound of the optimum")
        if "root_exponential_fit" in out:
            fit = out["root_exponential_fit"]
            text.append(f"fit: L2 error ~ {fit['A']:.3g} exp(-{fit['c']:.3f} sqrt(m))  (r2 = {fit['r2']:.4f})")
    elif args.what in ("jackson", "universal"):
        if args.dps is not None:
            raise UsageError(f"--dps applies to 'best' and 'width'; approx {args.what} chooses the digits "
                                    "its exact coefficients need by itself")
        ms = _widths(args)
        if args.what == "jackson":
            if args.beta is None:
                raise UsageError("approx jackson needs --beta (and --alpha, default 1)")
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
            raise UsageError("approx width needs --eps E1,E2,...")
        eps = floats(args.eps, "eps")
        m_max = max(_widths(args, required=False) or [60])
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
        print(dumps(out))
    else:
        print("\n".join(line for line in text if line))
    return 0


def _certified_jackson(args, rho) -> int:
    """``approx jackson --certified``: the Jackson constant gamma enclosed rigorously (no construction)."""
    from ... import approximation as approx
    from ...certified import certified_dps

    if args.what != "jackson":
        raise UsageError(f"--certified applies to approx jackson (the constant gamma), not approx {args.what}")
    if args.m is not None or args.plot:
        raise UsageError("--m and --plot run the float64 construction; approx jackson --certified encloses gamma "
                         "only (drop them, or drop --certified)")
    if args.beta is None:
        raise UsageError("approx jackson needs --beta (and --alpha, default 1)")
    bound = approx.jackson_bound(rho, args.alpha, args.beta, certified=True, dps=certified_dps(args.dps))
    if args.json:
        print(dumps({"target": args.target, "bound": bound.to_dict()}))
    else:
        cert = bound.certified_dict()
        print(f"gamma = {bound.gamma:.6g} (max at t = {bound.argmax_t:.6g}, k = {bound.argmax_k}); "
              f"hypotheses hold: {bound.hypotheses_hold}")
        print(f"certified (dps {cert['dps']}): gamma in [{', '.join(cert['gamma'])}] (branch and bound on "
              f"[0, {cert['range'][1]}] plus a certified tail bound)")
        for line in bound.violations:
            print(line)
    return 0


def _plot(path: str, ms, errors, label: str, title: str) -> None:
    from ..._plotting import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(5, 3.6))
    ax.semilogy(ms, errors, "o-", label=label)
    ax.set_xlabel("width m")
    ax.set_ylabel("error")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _latex_jackson_args(p) -> None:
    p.add_argument("--target", help="kernel expression in t: compute gamma and print the bound with numbers")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="kernel parameter value (repeatable)")
    p.add_argument("--alpha", type=int, default=None, help="smoothness order alpha >= 1 (with --target)")
    p.add_argument("--beta", type=float, default=None, help="decay rate beta > 0 (with --target)")


def _latex_jackson(args) -> dict:
    import sympy as sp

    from ...symbolic.latex import to_latex

    from ... import approximation as approx

    num, den = sp.fraction(approx.JacksonBound.symbolic())
    # the paper's order C(alpha) gamma d: the constant, then the kernel's gamma, then the dimension
    factors = sorted(sp.Mul.make_args(num), key=lambda f: (not f.is_Function, -ord(str(f)[0])))
    numerator = r"\, ".join(to_latex(f) for f in factors)
    parts = {"bound": r"\sup_t \|H_t - \hat H_t\| \le \frac{" + numerator + "}{" + to_latex(den) + "}",
             "gamma": r"\gamma = \max_{k = 1, \dots, \alpha + 1} \sup_{t \ge 0} "
                      r"\frac{\left|e^{\beta t} y^{(k)}(t)\right|}{\beta^{k}}, \qquad y^{(k)} = \rho^{(k-1)}"}
    if args.target is None:
        if args.alpha is not None or args.beta is not None or args.param:
            raise UsageError("--alpha, --beta and --param go with --target EXPR")
        return parts
    if args.alpha is None or args.beta is None:
        raise UsageError("latex jackson --target needs --alpha and --beta")
    rho = kernel(args)
    bound = approx.jackson_bound(rho, args.alpha, args.beta)
    parts["kernel"] = r"\rho(t) = " + rho.latex()
    parts["instance"] = bound.latex()
    parts["hypotheses"] = (r"\text{hypotheses hold}" if bound.hypotheses_hold else
                           r"\text{hypotheses fail: " + "; ".join(bound.violations).replace("_", r"\_") + "}")
    return parts


register_latex_target(
    "jackson", "the Jackson-type bound C(alpha) gamma d/(beta m^alpha), symbolic or for a kernel",
    ["memtheory latex jackson", "memtheory latex jackson --target '(1+t)*exp(-2*t)' --alpha 1 --beta 1"],
    _latex_jackson_args, _latex_jackson)
