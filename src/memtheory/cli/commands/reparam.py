"""``memtheory reparam``: gradient scales of reparameterisations, the best map, StableSSM's criterion ([SSSM]).

Examples::

    memtheory reparam --w=-1,0.5,2 --json
    memtheory reparam --maps exp,best --derive --latex
    memtheory reparam --criterion 0.001,0.01,0.1 --plot scales.png
"""

from __future__ import annotations

import math

from ..common import UsageError, dumps, epilog, floats, plot_path
from ..registry import register_latex_target

EXAMPLES = [
    "memtheory reparam --maps exp,softplus,best,inverse,direct --w 0.6,1,2 --json",
    "memtheory reparam --derive --criterion 0.001,0.01,0.1",
]


def register(sub) -> None:
    """Add the ``reparam`` sub-command."""
    p = sub.add_parser(
        "reparam", help="gradient scales |f'|/f^2 of reparameterisations, the best map, StableSSM criterion",
        description="Stable reparameterisations lambda = f(w) in SymPy.", epilog=epilog(EXAMPLES))
    p.add_argument("--maps", default="direct,exp,softplus,best,inverse",
                   help="maps (direct, exp, softplus, best, inverse, lru, discrete_best)")
    p.add_argument("--w", help="evaluate the gradient scales at W1,W2,... (points outside a map's domain: null)")
    p.add_argument("--a", type=float, default=1.0, help="best-map constant a (default 1)")
    p.add_argument("--b", type=float, default=0.5, help="best-map constant b (default 0.5)")
    p.add_argument("--derive", action="store_true", help="show the SymPy derivation of the best map")
    p.add_argument("--criterion", metavar="BETAS", help="evaluate StableSSM's criterion g_f(beta) at B1,B2,...")
    p.add_argument("--latex", action="store_true", help="print LaTeX")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", metavar="FILE", help="save the gradient-scale curves to FILE")
    p.set_defaults(func=_handler)


def _maps(text: str) -> list[str]:
    """The map names of ``--maps``, checked against the registry."""
    from ...theory import reparam as R

    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in R.MAPS]
    if unknown or not names:
        raise UsageError(f"--maps: unknown {unknown}; available: {', '.join(R.MAPS)}")
    return names


def _handler(args) -> int:
    import numpy as np

    from ...theory import reparam as R

    plot_path(args.plot)
    names = _maps(args.maps)
    ws = floats(args.w, "w") if args.w else None
    out: dict = {"maps": {}}
    for n in names:
        gs = R.gradient_scale(n, args.a, args.b)
        row = gs.to_dict()
        if ws is not None:
            lo, hi = R.MAPS[n].domain
            with np.errstate(all="ignore"):
                vals = [float(gs(np.array([x]))[0]) if lo < x < hi else None for x in ws]
            row["w"] = ws
            row["values"] = [v if v is not None and math.isfinite(v) else None for v in vals]
        out["maps"][n] = row
    if args.derive:
        out["best_map"] = {k: R.best_map_derivation(k).to_dict() for k in ("continuous", "discrete")}
    if args.criterion:
        betas = floats(args.criterion, "criterion")
        if any(b < 0 for b in betas):
            raise UsageError("--criterion takes radii >= 0")
        out["criterion"] = {n: R.stability_criterion(n, betas, a=args.a, b=args.b).to_dict()
                            for n in names if n in R.MAIN_MAPS or R.MAPS[n].kind == "continuous"}
    if args.plot:
        from ..._plotting import pyplot

        pyplot()  # the figure goes to a file: Agg, no window
        R.plot_gradient_scales(args.plot, names, args.a, args.b)
    if args.json:
        print(dumps(out))
        return 0
    for n, row in out["maps"].items():
        print(f"{n:>14}  {R.gradient_scale(n, args.a, args.b).latex if args.latex else 'f(w) = ' + row['f'] + ',  scale = ' + row['scale']}")
        if ws is not None:
            print(" " * 16 + ", ".join(f"w={w:g}: {'-' if v is None else f'{v:.6g}'}" for w, v in zip(ws, row["values"])))
    if args.derive:
        for k in ("continuous", "discrete"):
            d = R.best_map_derivation(k)
            if args.latex:
                print(d.latex())
            else:
                print(f"best map ({k}): ODE {d.ode}; general solution {d.general}; {d.stability_condition}; "
                      f"f(w) = {d.f}; scale = {d.scale}")
    if args.criterion:
        for n, c in out["criterion"].items():
            vals = ", ".join("inf" if v is None else f"{v:.4g}" for v in c["values"])
            print(f"criterion g_{n}(beta) at {c['betas']}: {vals}  (stable: {c['stable']})")
    return 0


def _latex_args(p) -> None:
    p.add_argument("--maps", default="direct,exp,softplus,best,inverse",
                   help="maps (direct, exp, softplus, best, inverse, lru, discrete_best)")
    p.add_argument("--a", type=float, default=1.0, help="best-map constant a (default 1)")
    p.add_argument("--b", type=float, default=0.5, help="best-map constant b (default 0.5)")
    p.add_argument("--derive", action="store_true", help="also print the derivation of the best maps")
    p.add_argument("--criterion", action="store_true", help="also print StableSSM's criterion for the best map")


def _latex(args) -> dict:
    from ...symbolic.latex import to_latex

    from ...theory import reparam as R

    names = _maps(args.maps)
    parts = {f"scale_{n}": R.gradient_scale(n, args.a, args.b).latex for n in names}
    if args.derive:
        parts.update({f"best_{k}": R.best_map_derivation(k).latex() for k in ("continuous", "discrete")})
    if args.criterion:
        expr = R.best_criterion_expr()
        parts["criterion_definition"] = (r"g_f(\beta) = \sup_w |f(w)| \sup_{|\tilde w - w| \le \beta} \int_0^\infty "
                                         r"\left|e^{f(\tilde w) t} - e^{f(w) t}\right| dt")
        parts["criterion_best"] = r"g_{\mathrm{best}}(\beta) = " + to_latex(expr)
    return parts


register_latex_target(
    "reparam", "gradient scales |f'|/f^2 of reparameterisations, the best map, StableSSM criterion",
    ["memtheory latex reparam --maps exp,best", "memtheory latex reparam --maps best --derive --criterion"],
    _latex_args, _latex)
