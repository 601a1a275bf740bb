"""``memtheory memory``: memory functions of kernels and random RNN teachers, with the decay verdict ([IAT]).

Examples::

    memtheory memory --target "(1+t)**(-1.5)" --t 0,1,10,100 --json
    memtheory memory --target "exp(-t/2)" --t 0,1,2,4,8 --classify
    memtheory memory --rnn 16 --activation tanh --seed 0 --dt 0.5 --t 0,5,10,20,40 --kind impulse --classify
"""

from __future__ import annotations

from ..common import UsageError, dumps, epilog, floats, kernel, plot_path

EXAMPLES = [
    "memtheory memory --target '(1+t)**(-1.5)' --t 0,1,10,100 --json",
    "memtheory memory --rnn 16 --activation tanh --seed 0 --dt 0.5 --t 0,5,10,20,40 --kind impulse --classify",
]


def register(sub) -> None:
    """Add the ``memory`` sub-command."""
    p = sub.add_parser(
        "memory", help="memory function M(t) of a kernel (exact |rho(t)|) or of a random RNN teacher (simulated)",
        description="Memory function of a target or model ([IAT]).", epilog=epilog(EXAMPLES))
    p.add_argument("--target", help="kernel expression in t, e.g. 'exp(-t/2)' (exact: M(t) = |rho(t)|)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="kernel parameter value (repeatable)")
    p.add_argument("--rnn", type=int, metavar="WIDTH", help="instead of --target: a random residual RNN teacher "
                   "(reference initialisation, conjugated softplus structure)")
    p.add_argument("--activation", default="tanh", help="--rnn activation: tanh, hardtanh, relu, linear")
    p.add_argument("--seed", type=int, default=0, help="--rnn seed (and the reference method's level)")
    p.add_argument("--dt", type=float, default=0.5, help="--rnn step (default 0.5)")
    p.add_argument("--t", required=True, help="times T1,T2,... (>= 0)")
    p.add_argument("--kind", default="heaviside", choices=["heaviside", "impulse", "reversed"], help="test input")
    p.add_argument("--method", default="grid", choices=["grid", "optimise", "reference"],
                   help="--rnn: sup over the level grid, grid + zoom, or the reference code's single level")
    p.add_argument("--levels", help="--rnn: input levels L1,L2,... (default +-10^(-2..1) in half decades)")
    p.add_argument("--classify", action="store_true", help="also fit exponential / power law and give a verdict")
    p.add_argument("--json", action="store_true", help="print JSON (values under 'values')")
    p.add_argument("--plot", metavar="FILE", help="save a semilog plot of M(t) to FILE")
    p.set_defaults(func=_handler)


def _handler(args) -> int:
    from ...theory.memory import memory_function
    from ...models.nonlinear import NonlinearRNN

    plot_path(args.plot)
    t = floats(args.t, "t")
    if (args.target is None) == (args.rnn is None):
        raise UsageError("give exactly one of --target EXPR or --rnn WIDTH")
    if args.target is not None:
        obj = kernel(args)
        label = args.target
    else:
        if args.rnn < 1:
            raise UsageError(f"--rnn takes a width >= 1, got {args.rnn}")
        obj = NonlinearRNN.random(1, args.rnn, activation=args.activation, structure="conjugated",
                                  parameterisation="softplus", dt=args.dt, seed=args.seed)
        label = f"random {args.activation} RNN, m = {args.rnn}, seed {args.seed}"
    levels = floats(args.levels, "levels") if args.levels else None
    mf = memory_function(obj, t, kind=args.kind, levels=levels, method=args.method, seed=args.seed)
    out = {"target": label, **mf.to_dict()}
    fit = None
    if args.classify:
        if len(t) < 4:
            raise UsageError("--classify needs at least 4 times")
        fit = mf.classify()
        out["classification"] = fit.to_dict()
    if args.plot:
        from ..._plotting import pyplot, save_figure

        pyplot()  # the figure goes to a file: Agg, no window
        ax = mf.plot(label=label)
        ax.legend(fontsize=7)
        save_figure(ax.figure, args.plot)
    if args.json:
        print(dumps(out))
    else:
        print(f"{'t':>10} {'M(t)':>14}   ({args.kind}, {mf.method})")
        for tv, v in zip(mf.t, mf.values):
            print(f"{tv:>10g} {v:>14.6e}")
        if fit is not None:
            print(f"verdict: {fit.verdict} (rate {fit.rate:.4g}, exponent {fit.exponent:.4g}; {fit.reason})")
    return 0
