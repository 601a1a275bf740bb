"""Check ``universal_approximation``: the construction of the universal approximation theorem converges.

docs/theory.md §3 [CoM]: with ``s = e^{-t}`` the polynomials ``p(s)``, ``p(0) = 0``, are dense, and
``p(e^{-t}) = sum_j a_j e^{-j t}`` is a linear RNN with ``W = -diag(1, ..., m)``; so every target of §1 is
approximated to any accuracy. The check builds the construction (L2-projected coefficients, rates ``1..m``) for a
smooth exponentially decaying kernel, the reference ``twoparts`` kernel (a bump at lag 9) and a power law, and
measures the L1 error (the bound on ``sup_t |H_t - Ĥ_t|``) and the L2 error for growing ``m``.

Verdict: the L2 error never increases with ``m`` (nested spans) and falls at least 4-fold, and the L1 error at
least 2-fold, between ``m = 1`` and the largest width, for every kernel (quick mode: both merely decrease); the
measured decay exponents are reported. They differ widely: the theorem gives density, not a rate, and the slow
kernels (a bump at a long lag, a power law) are the long-memory ones.
"""

from __future__ import annotations

import numpy as np

from memtheory import Kernel, kernels
from memtheory.theory.approximation import universal
from memtheory.verify import CheckResult, kernel_latex, main_for
from memtheory.verify.figures import Series, log_figure

NAME = "universal_approximation"
#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 2.5
CLAIM = "universal construction (rates 1..m, L2 projection): errors -> 0 as m grows, for every kernel"
CRITERION = ('passes when, for every kernel, the L2 error never increases with m (relative slack 1e-10) and, from '
             'm = 1 to the largest width, the L1 error falls at least 2-fold and the L2 error at least 4-fold '
             '(quick: both merely decrease).')

#: name: (kernel, rate unit of the construction). The rate unit sets where s = e^{-scale t} resolves the kernel:
#: the twoparts bump at lag 9 sits at s = e^{-9} ~ 1e-4 with scale 1 (hopeless for polynomials of degree 24)
#: and at s = e^{-2.25} with scale 1/4.
KERNELS = {
    "(1+t) e^{-2t}": (Kernel("(1+t)*exp(-2*t)"), 1.0),
    "twoparts e^{-t}+e^{-(t-9)^2}": (kernels.reference("twoparts"), 0.25),
    "(1+t)^{-1.5}": (kernels.power_law(1.5), 0.03),
}


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: widths up to 8 instead of 24). ``full`` runs the default sizes, which are already the
    paper's (or the theorem's) scale."""
    ms = [1, 2, 4, 8] if quick else [1, 2, 4, 8, 16, 24]
    rows, passed = {}, True
    for name, (rho, scale) in KERNELS.items():
        cons = [universal(rho, m, scale=scale) for m in ms]
        l1 = [c.errors.l1 for c in cons]
        l2 = [c.errors.l2 for c in cons]
        monotone = all(b <= a * (1 + 1e-10) for a, b in zip(l2, l2[1:]))
        if quick:
            falls = l1[-1] < l1[0] and l2[-1] < l2[0]
        else:
            falls = l1[-1] <= l1[0] / 2 and l2[-1] <= l2[0] / 4
        k = len(ms) // 2
        slope = float(np.polyfit(np.log(ms[k:]), np.log(l1[k:]), 1)[0])
        rows[name] = {"scale": scale, "m": ms, "l1": l1, "l2": l2,
                      "coefficient_norm": [c.coefficient_norm for c in cons],
                      "l2_monotone": monotone, "errors_fall": falls, "l1_rate_exponent_tail": slope}
        passed = passed and monotone and falls
    details = "; ".join(f"{n}: L1 {r['l1'][0]:.2e} -> {r['l1'][-1]:.2e} (~m^{r['l1_rate_exponent_tail']:.1f})"
                        for n, r in rows.items())
    summary = "L1 error m=1 -> m=" + str(ms[-1]) + ": " + ", ".join(
        f"{r['l1'][0]:.1e} -> {r['l1'][-1]:.1e}" for r in rows.values())
    latex = {f"kernel{i}": kernel_latex(rho) for i, (rho, _) in enumerate(KERNELS.values(), start=1)}
    latex["construction"] = r"\hat\rho_m(t) = \sum_{j=1}^{m} a_j e^{-j c t} = p(e^{-c t}),\quad p(0) = 0"
    return CheckResult(NAME, passed, {"kernels": rows}, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(rows)}, latex=latex, criterion=CRITERION)


def _figure(rows):
    """The check's figure (made only when the runner writes figures)."""
    series = []
    for name, r in rows.items():
        series.append(Series(r["m"], r["l1"], "o-", f"{name} (L1)"))
        series.append(Series(r["m"], r["l2"], "s--", f"{name} (L2)", {"alpha": 0.5}))
    return log_figure(series, xlabel="width m (rates scale x (1, ..., m))",
                      ylabel="error of the universal construction", title="Universal approximation construction",
                      widths=[x for r in rows.values() for x in r["m"]])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
