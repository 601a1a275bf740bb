"""Check ``curse_width``: how the width needed grows with the memory exponent, with and without a margin.

docs/theory.md §3 recalls from [CoM] that for ``rho(t) ~ t^{-(1+omega)}`` the width needed for accuracy ``eps`` grows
like ``m ~ omega eps^{-1/omega}`` (not confirmed: measure it). For ``rho_omega = (1+t)^{-(1+omega)}`` the check
computes the smallest width whose L2-best exponential sum is within ``eps`` in L1 (the bound on
``sup_t |H_t - Ĥ_t|``), (a) with free rates and (b) with rates ``>= r = 0.1`` (a stability margin), and fits
``m ~ eps^{-p}``.

What a margin does: rates ``>= r`` resolve the kernel only up to ``t ~ m/r``; the L1 mass of the tail beyond
is ``(r/m)^omega / omega``, so ``eps ~ (r/m)^omega/omega``, i.e. ``m ~ r (omega eps)^{-1/omega}`` -- the
``eps^{-1/omega}`` law. With free rates the smallest rate can fall like ``exp(-c sqrt(m))`` and nothing of the
sort is forced (Braess-Hackbusch: root-exponential convergence).

Verdict: with free rates the fitted exponent ``p`` is below half the law's ``1/omega`` for every ``omega``
(no curse in raw expressivity); with the margin the widths are never smaller than the free ones, ``p`` is at
least half of ``1/omega``, and the ratio ``m / (r (omega eps)^{-1/omega})`` stays within [0.25, 4].
"""

from __future__ import annotations

import numpy as np

from memtheory.theory.approximation import width_sweep
from memtheory.sweep import progress
from memtheory.verify import CheckResult, main_for
from memtheory.verify.figures import Series, log_figure

NAME = "curse_width"
#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 30.0
CLAIM = "width for (1+t)^-(1+omega) at L1 accuracy eps: ~eps^(-1/omega) with a rate margin, far slower without"
CRITERION = ('passes when, with free rates, a width exponent p (m ~ eps^-p) is fitted and is below 0.5/omega for '
             'every omega; and, with rates >= 0.1, p >= 0.5/omega, every accuracy eps is reached within the width '
             'cap (30), each width is within [0.25, 4] times the tail law 0.1 (omega eps)^(-1/omega) and at least '
             'the free-rate width wherever the free run used the same eps.')

MARGIN = 0.1


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: omega = 1 only, two accuracies). ``full`` runs the default sizes, which are already the
    paper's (or the theorem's) scale."""
    if quick:
        free_grid = {1.0: [1e-1, 1e-2]}
        margin_grid = {1.0: [5e-2, 2e-2]}
    else:
        free_grid = {0.5: [1e-1, 1e-2], 1.0: [1e-1, 1e-2, 1e-3], 2.0: [1e-2, 1e-3, 1e-4]}
        margin_grid = {1.0: [5e-2, 2e-2, 1e-2], 2.0: [3e-4, 1e-4, 3e-5]}
    free, margin = {}, {}
    steps = progress.Steps(len(free_grid) + len(margin_grid))  # the bar moves sweep by sweep
    for om, eps in free_grid.items():
        free[om] = width_sweep([om], eps, norm="L1", m_max=40)
        steps.advance()
    for om, eps in margin_grid.items():
        margin[om] = width_sweep([om], eps, norm="L1", min_rate=MARGIN, m_max=30)
        steps.advance()
    measured, passed = {"free": {}, "margin": {}, "margin_rate": MARGIN}, True
    for om, sw in free.items():
        p = sw.exponents[om]["p"]
        ok = p is not None and p < 0.5 / om
        measured["free"][om] = {"rows": [dict(r) for r in sw.rows], "p": p, "law_p": 1 / om, "passed": ok}
        passed = passed and ok
    for om, sw in margin.items():
        p = sw.exponents[om]["p"]
        rows = []
        ok = p is not None and p >= 0.5 / om
        for r in sw.rows:
            row = dict(r)
            if r["m"] is not None:
                row["tail_law"] = MARGIN * (om * r["eps"]) ** (-1 / om)
                row["ratio_to_tail_law"] = r["m"] / row["tail_law"]
                ok = ok and 0.25 <= row["ratio_to_tail_law"] <= 4
                free_m = _free_width(om, r["eps"], free)
                if free_m is not None:
                    row["free_m"] = free_m
                    ok = ok and r["m"] >= free_m
            else:
                ok = False
            rows.append(row)
        measured["margin"][om] = {"rows": rows, "p": p, "law_p": 1 / om, "passed": ok}
        passed = passed and ok
    details = ("free rates: " + ", ".join(f"omega={om:g}: p={v['p']:.2f} (law {v['law_p']:.2f})"
                                          for om, v in measured["free"].items())
               + f"; rates >= {MARGIN}: " + ", ".join(f"omega={om:g}: p={v['p']:.2f} (law {v['law_p']:.2f})"
                                                      for om, v in measured["margin"].items()))
    summary = ("width exponent p, free rates: " + ", ".join(f"{v['p']:.2f}" for v in measured["free"].values())
               + "; with margin: " + ", ".join(f"{v['p']:.2f} (law {v['law_p']:.2f})"
                                            for v in measured["margin"].values()))
    latex = {"kernel": r"\rho_\omega(t) = (1 + t)^{-(1+\omega)}",
             "law": r"m \sim r\,(\omega\,\varepsilon)^{-1/\omega},\qquad r = " + f"{MARGIN:g}"}
    return CheckResult(NAME, passed, measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(measured)}, latex=latex, criterion=CRITERION)


def _free_width(om, eps, free):
    sw = free.get(om)
    if sw is None:
        return None
    for r in sw.rows:
        if r["eps"] == eps:
            return r["m"]
    return None


def _figure(measured):
    """The check's figure (made only when the runner writes figures)."""
    series = []
    for kind, style in (("free", "o-"), ("margin", "s--")):
        for om, v in measured[kind].items():
            pts = [(r["eps"], r["m"]) for r in v["rows"] if r["m"] is not None]
            if not pts:
                continue
            e, m = zip(*pts)
            label = f"omega={om:g}, {'free rates' if kind == 'free' else f'rates >= {MARGIN:g}'} (p={v['p']:.2f})"
            series.append(Series(1 / np.array(e), m, style, label))
    e = np.geomspace(1e1, 1e4, 20)
    series += [Series(e, MARGIN * (om / e) ** (-1 / om), ":", options={"color": "gray", "lw": 0.8})
               for om in sorted(set(measured["margin"]))]
    return log_figure(series, xlabel="1 / eps (L1 accuracy)", ylabel="width needed m",
                      title="Curse of memory: width law (dotted: r (omega eps)^(-1/omega))", figsize=(5.8, 4.0),
                      title_size=9)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
