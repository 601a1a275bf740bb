"""Check ``inverse_linear``: stability margins of the best approximants (the inverse, Bernstein-type side).

docs/theory.md §3 [CoM, JMLR]: if width-``m`` linear RNNs approximate the target with spectra bounded away from the
imaginary axis, ``max Re lambda(W_m) < -beta`` for all ``m``, then the memory decays like ``e^{-beta t}``. So
efficient approximation of a power-law memory *forces* the margin ``min_i w_i`` of the rates to 0, while for
exponentially decaying memory it can stay bounded away from 0.

The check computes the L2-best exponential sums (variable projection, arbitrary precision when needed) for two
power laws and two kernels with exponential decay ``e^{-beta t}`` times a power, and tracks the margin.
Verdict: for the power laws the margin decreases at every width and falls by more than 1000x (a fit of
``log margin`` against ``sqrt(m)`` is reported, the slope of an ``exp(-c sqrt(m))`` law); for the exponentially
decaying kernels the margin never drops below ``beta / 2`` (measured: it decreases towards ``beta`` itself).
"""

from __future__ import annotations

import numpy as np

from memtheory import Kernel, kernels
from memtheory.sweep import progress
from memtheory.theory.approximation import stability_margins
from memtheory.verify import CheckResult, kernel_latex, main_for
from memtheory.verify.figures import Series, log_figure

NAME = "inverse_linear"
#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 20.0
CLAIM = "best approximants' margin min_i w_i -> 0 for power-law memory, stays >= beta/2 for e^{-beta t} decay"
CRITERION = ('passes when, for each power law, the margin min_i w_i of the L2-best sum decreases strictly at every '
             'width and falls more than 1000-fold from the smallest to the largest width (quick: 30-fold); and, '
             'for each kernel with e^{-beta t} decay, the margin is >= beta/2 at every width.')

SLOW = {"(1+t)^{-1.5}": kernels.power_law(1.5), "(1+t)^{-1.2}": kernels.power_law(1.2)}
FAST = {"e^{-t}(1+t)^{-2}": (Kernel("exp(-t)*(1+t)**(-2)"), 1.0),
        "e^{-t/2}(1+t)^{-2}": (Kernel("exp(-t/2)*(1+t)**(-2)"), 0.5)}


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: widths up to 8, one kernel of each kind; full: up to 12). ``full`` runs the default
    sizes, which are already the paper's (or the theorem's) scale."""
    ms = [2, 4, 6, 8] if quick else [2, 4, 6, 8, 10, 12]
    slow = dict(list(SLOW.items())[:1]) if quick else SLOW
    fast = dict(list(FAST.items())[:1]) if quick else FAST
    rows, passed = {}, True
    steps = progress.Steps(len(slow) + len(fast))  # the bar moves kernel by kernel
    for name, rho in slow.items():
        sm = stability_margins(rho, ms)
        steps.advance()
        mg = [float(x) for x in sm.margins]
        ok = all(b < a for a, b in zip(mg, mg[1:])) and mg[-1] < mg[0] / (30 if quick else 1000)
        rows[name] = {"kind": "power law", "m": ms, "margin": mg, "l2_error": [r["l2_error"] for r in sm.rows],
                      "fit_log_margin_vs_sqrt_m": sm.fit.get("sqrt_m"), "passed": ok}
        passed = passed and ok
    for name, (rho, beta) in fast.items():
        sm = stability_margins(rho, ms)
        steps.advance()
        mg = [float(x) for x in sm.margins]
        ok = min(mg) >= beta / 2
        rows[name] = {"kind": "exponential decay", "beta": beta, "m": ms, "margin": mg, "margin_over_beta":
                      [x / beta for x in mg],
                      "l2_error": [r["l2_error"] for r in sm.rows], "min_margin": min(mg), "passed": ok}
        passed = passed and ok
    details = "; ".join(f"{n}: margin {r['margin'][0]:.3g} -> {r['margin'][-1]:.3g}" for n, r in rows.items())
    summary = "; ".join(f"{n}: min w {r['margin'][0]:.2g} -> {r['margin'][-1]:.2g}" for n, r in rows.items())
    kern = {**slow, **{n: rho for n, (rho, _) in fast.items()}}
    latex = {f"kernel{i}": kernel_latex(rho) for i, rho in enumerate(kern.values(), start=1)}
    return CheckResult(NAME, passed, {"kernels": rows}, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(rows)}, latex=latex, criterion=CRITERION)


def _figure(rows):
    """The check's figure (made only when the runner writes figures)."""
    series = [Series(np.sqrt(r["m"]), r["margin"], "o-" if r["kind"] == "power law" else "s--", name)
              for name, r in rows.items()]
    return log_figure(series, xlabel="sqrt(width m)", ylabel="margin min_i w_i of the L2-best sum",
                      title="Inverse side: margins -> 0 only for slow memory", scale="semilogy", legend_size=7)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
