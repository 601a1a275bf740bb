"""``memtheory verify``: run the proofs checks and print what each measured against what the theory says."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..common import UsageError, dumps, epilog, sweep_args, sweep_options

EXAMPLES = [
    "memtheory verify universal_approximation --quick --json",
    "memtheory verify jackson_rate --quick --out report",
    "memtheory verify --list",
    "memtheory verify loss_closed_form inverse_linear --quick --workers 2 --json",
    "memtheory verify inverse_linear --quick --store verify.sqlite",
]


def register(sub) -> None:
    """Add the ``verify`` sub-command."""
    p = sub.add_parser("verify", help="run the proofs checks and print what was measured against the theory",
                       description="Run the proofs checks (proofs_checks/), with a progress bar on stderr, on all "
                                   "cores unless --workers says otherwise. Three sizes: --quick (reduced, about a "
                                   "minute), the default (sizes that decide each claim; the budget: 3 minutes on "
                                   "2 quiet cores) and --full (paper scale, any length; with --store FILE a rerun "
                                   "resumes). With --out DIR, write DIR/report.md, DIR/report.json, the figures "
                                   "(.png) and the LaTeX (.tex). Exit code 1 if a check fails.",
                       epilog=epilog(EXAMPLES))
    p.add_argument("names", nargs="*", help="checks to run (default: all)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced sizes (the whole run takes about a minute)")
    size.add_argument("--full", action="store_true",
                      help="paper scale (the papers' sizes or larger; tens of minutes: use --store to resume)")
    p.add_argument("--out", metavar="DIR", help="write report.md, report.json, figures and LaTeX to DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--list", action="store_true", help="list the checks and their claims, run nothing")
    sweep_args(p)
    for action in p._actions:  # the checks are independent points: this command's default is every core
        if action.dest == "workers":
            action.help = ("local worker processes for the checks and their grids (default: every core; "
                           "--workers 1 runs the checks one after the other in this process)")
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...verify import FIGURES_ENV, report_dict, resolve_checks, run_checks, write_report

    checks = resolve_checks(args.names)
    if args.list:
        rows = {n: getattr(m, "CLAIM", "") for n, m in checks.items()}
        print(dumps(rows) if args.json else "\n".join(f"{n:28s} {c}" for n, c in rows.items()))
        return 0
    directory = args.out or os.environ.get(FIGURES_ENV) or None
    if directory is not None:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out: cannot create directory {directory!r} ({exc.strerror})") from None
    options = sweep_options(args)
    if args.workers is None and args.scheduler is None:
        from ...sweep import default_workers

        options["workers"] = default_workers()  # the checks are independent: use every core
    size = "quick" if args.quick else "full" if args.full else "default"
    if not args.json:
        where = (f"on {options['workers']} worker process{'es' if options['workers'] != 1 else ''}"
                 if options["workers"] else f"on the Dask cluster at {options['backend']}")
        print(f"{len(checks)} checks, {size} size, {where}", flush=True)
        print(f"{'check':28s} {'':5s} {'time':>8s} {'CPU':>8s}  measured", flush=True)

    def report(result) -> None:
        if not args.json:
            verdict = "PASS" if result.passed else "FAIL"
            tqdm.write(f"{result.name:28s} {verdict:5s} {result.seconds:7.1f}s {result.cpu_seconds:7.1f}s  "
                       f"{result.short()}", file=sys.stdout)
            sys.stdout.flush()

    start = time.perf_counter()
    results = run_checks(list(checks), quick=args.quick, full=args.full, progress=report, directory=directory,
                         workers=options["workers"], backend=options["backend"], store=options["store"],
                         bar=options["progress"])
    seconds = time.perf_counter() - start
    passed = all(r.passed for r in results)
    out = report_dict(results, args.quick, seconds, full=args.full)
    if args.out:
        paths = write_report(results, args.out, args.quick, seconds, full=args.full)
        out["report"] = str(paths["markdown"])
    if args.json:
        print(dumps(out))
    else:
        print(f"\n{sum(r.passed for r in results)} of {len(results)} checks passed in {seconds:.1f} s of wall time, "
              f"{out['cpu_seconds']:.1f} CPU-seconds in the checks ({size} size)")
        if args.out:
            print(f"report: {out['report']}")
    return 0 if passed else 1
