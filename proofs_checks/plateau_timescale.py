"""Check ``plateau_timescale``: the plateau of [CoM] / JMLR §6 lasts exponentially long in the memory length.

Setting (JMLR-style, docs/theory.md §4): width m = 10, ``rho_omega = e^{-t/2} + exp(-(t - 1/omega)^2/(2 sigma^2))`` with
``sigma = 0.5``, ``theta_0 = (a_0, w_0)`` with ``a_0 = (1, 0, ..., 0)`` and ``w_0`` geometric on [0.5, 4] (so
``rho_hat(theta_0) = rho_bar`` and ``w_l = 0.5``), ``delta = 0.05``, gradient flow of the exact L2 loss.
Companion series (same target, m = 2, ``w_0 = (0.5, 2)``): a width where the float64 range is already in the
asymptotic regime.

Measured (three sizes; the default decides every assertion below, ``--full`` is the paper-scale series):

* 1/omega = 8..18 in float64 (the compiled flow), each with its error estimate: ``J(theta_0)``,
  ``log10 |grad J(theta_0)|``, ``tau_0``, ``tau_0'``; the full flow in mpmath (RODAS4) on the overlap at 12
  (full run: 12 and 16); full run only: the full mpmath flow at 30 and 45 (minutes each);
* the extended scan 1/omega = 100, 200, 500, 1000 (full run: also 2000; ``|grad J_0|`` down to 1e-431,
  ``tau_0`` up to 1e852): ``method="auto"`` picks the slow-manifold flow of the rates in mpmath
  (:class:`memtheory.theory.plateau.systems.ReducedSystem`), each point with its error estimate (30x tighter
  tolerance) and slaving error; 1/omega = 200 again at twice the digits (full run: 500);
* the asymptotic law ``tau_0 = K omega^2 e^{2 w_l/omega}``: ``z = ln tau_0 + 2 ln(1/omega) - 2 w_l/omega`` tends
  to ``ln K`` (fitted with its first correction, ``z = ln K + c omega``, on 100..500, predicting the points
  beyond: 1000, and 2000 in the full run).

The points of each scan run on :func:`memtheory.verify.check_workers` processes, kept in the stores of
:func:`memtheory.verify.check_store` when the run has one (a full run killed half-way resumes); the check
reports its progress phase by phase (:mod:`memtheory.sweep.progress`).

Verdict: ``J(theta_0)`` does not depend on omega (spread < 1e-9), ``log10 |grad J(theta_0)|`` is linear in
1/omega over all points (R^2 > 0.99), ``ln tau_0`` is linear in 1/omega over 8..18 and over 100..2000 (R^2 > 0.99
each), ``tau_0 >= S(omega)`` (the theorem's scale, constant 1) at every point, mpmath and float64 agree to 1e-6
on the overlap, the extended points have estimated errors below 1e-6 and move by less than 1e-6 when the digits
are doubled, and the asymptotic law fitted on 100..500 predicts the farther points (``|Delta ln tau_0| < 0.1``).
The quick run asserts the first six on four float64 points, one overlap point and two extended points without
error estimates.
Reported: the exponent in each range next to ``w_l`` and ``2 w_l``; how far the float64 line's extrapolation
misses (the exponent changes between the ranges); the m = 2 series, whose float64 range predicts its
1/omega = 2000 within a factor 1.5.
"""

from __future__ import annotations

import math

import numpy as np

import memtheory as mt
from memtheory import plateau
from memtheory.sweep import progress
from memtheory.verify import CheckResult, check_store, check_workers, main_for, pyplot

NAME = "plateau_timescale"
#: CPU seconds of each size (default: CheckResult.cpu_seconds of a run, measured; the others as before):
#: the runner starts the costliest checks first and weights the progress bar by it.
COST = {"quick": 30.0, "default": 160.0, "full": 1500.0}
CLAIM = ("plateau time tau_0 >~ omega^2 e^{w_l/omega} min(delta/sqrt(m), ln(1+delta)): exponential in 1/omega; "
         "J(theta_0) independent of omega, grad J(theta_0) exponentially small")
CRITERION = ('passes when every listed assertion holds: J(theta_0) spread < 1e-9 relative; log10|grad J(theta_0)| '
             'and ln tau_0 (8..18 and the far points) linear in 1/omega with R^2 > 0.99; tau_0 > S(omega) at every '
             'point; mpmath and float64 agree to 1e-6 on the overlap; far points use the slow-manifold flow with '
             'estimated errors < 1e-6 and the digit-doubling change < 1e-6; the law fitted on 100..500 predicts the '
             'farther points to |d ln tau_0| < 0.1. Default: float64 8..18, overlap 12, far 100..1000, doubling at '
             '200; full: also overlap 16, mpmath flows at 30 and 45, far 2000, doubling at 500; quick: the first six '
             'assertions on 8..14, overlap 10, far 100 and 200 without error estimates.')

M = 10
DELTA = 0.05
W2 = np.array([0.5, 2.0])  # the companion series' rates


def setting():
    """``(family, a0, w0)`` of the check."""
    bar, spike = mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5)
    family = mt.kernels.memory_family(bar, spike, omega=0.1)
    a0 = np.r_[1.0, np.zeros(M - 1)]
    w0 = np.geomspace(0.5, 4.0, M)
    return family, a0, w0


def z_of(row, x: float, w_l: float) -> float:
    """``ln tau_0 + 2 ln(1/omega) - 2 w_l/omega`` (tends to ``ln K`` when ``tau_0 ~ K omega^2 e^{2 w_l/omega}``)."""
    return row.log10_tau0 * math.log(10) + 2 * math.log(x) - 2 * w_l * x


def sizes(quick: bool = False, full: bool = False) -> dict:
    """The points of each part of the check at a size (module docstring)."""
    if quick:
        return {"float64": [8.0, 10.0, 12.0, 14.0], "overlap": [10.0], "middle": [], "far": [100.0, 200.0],
                "doubled_at": None, "m2_far": [200.0], "error_estimate": False}
    return {"float64": [float(x) for x in range(8, 19)], "overlap": [12.0, 16.0] if full else [12.0],
            "middle": [30.0, 45.0] if full else [],
            "far": [100.0, 200.0, 500.0, 1000.0] + ([2000.0] if full else []),
            "doubled_at": 500.0 if full else 200.0, "m2_far": [200.0, 2000.0], "error_estimate": True}


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: four float64 points, one mpmath overlap point, two reduced points without
    error estimates, no precision doubling; ``full``: the paper-scale series, see :func:`sizes`)."""
    family, a0, w0 = setting()
    w_l = float(w0.min())
    size = sizes(quick, full)
    xs, overlap, middle, far = size["float64"], size["overlap"], size["middle"], size["far"]
    doubled_at, estimate = size["doubled_at"], size["error_estimate"]
    procs = 1 if quick else check_workers()
    # the parts' shares of the run time (CPU seconds measured part by part, default size)
    with progress.part(0.0, 0.12):
        f64 = plateau.scan(family, a0, w0, DELTA, xs, method="float64", error_estimate=estimate, workers=procs,
                           store=check_store("float64"))
    with progress.part(0.12, 0.6 if middle else 0.35):
        mpr = plateau.scan(family, a0, w0, DELTA, overlap + middle, method="mpmath", error_estimate=False,
                           workers=procs, store=check_store("mpmath"))
    with progress.part(0.6 if middle else 0.35, 0.85):
        ext = plateau.scan(family, a0, w0, DELTA, far, error_estimate=estimate, workers=procs,
                           store=check_store("far"))
    rows64 = dict(zip(xs, f64.rows))
    rows_mp = dict(zip(overlap + middle, mpr.rows))
    rows_far = dict(zip(far, ext.rows))
    doubling, base = None, None
    with progress.part(0.85, 0.95):
        if doubled_at is not None:
            base = rows_far[doubled_at]
            doubled = plateau.hitting_times(family.with_params(omega=1 / doubled_at), a0, w0, DELTA,
                                            dps=2 * base.dps, error_estimate=False)
            doubling = abs(float((doubled.tau0_mp - base.tau0_mp) / base.tau0_mp)) if base.tau0_mp else math.inf
    # companion series m = 2: float64 range and far points
    a2 = np.array([1.0, 0.0])
    near2 = [20.0, 24.0, 28.0]
    far2 = size["m2_far"]
    steps = progress.Steps(len(near2 + far2), start=0.95)
    rows2 = {}
    for x in near2 + far2:
        rows2[x] = plateau.hitting_times(family.with_params(omega=1 / x), a2, W2, DELTA, error_estimate=False)
        steps.advance()

    all_rows = ([(x, rows64[x]) for x in xs] + [(x, rows_mp[x]) for x in middle]
                + [(x, rows_far[x]) for x in far])
    J0 = np.array([r.J0 for _, r in all_rows])
    g_fit = plateau.fit_exponent([x for x, _ in all_rows], [r.log10_grad_norm for _, r in all_rows])
    agree = {}
    for x in overlap:
        a, b = rows64.get(x), rows_mp[x]
        if a is None:
            a = plateau.hitting_times(family.with_params(omega=1 / x), a0, w0, DELTA, method="float64",
                                      error_estimate=False)
        for key, u, v in (("tau0", a.tau0_mp, b.tau0_mp), ("tau0_prime", a.tau0_prime_mp, b.tau0_prime_mp)):
            if u is not None and v is not None and math.isfinite(float(u)) and math.isfinite(float(v)):
                agree[f"{key}@{x:g}"] = abs(float(u) - float(v)) / abs(float(u))
    lb = {x: float(plateau.bound([x], w_l, DELTA, M)[0]) for x, _ in all_rows}
    ratios = {x: r.log10_tau0 - lb[x] for x, r in all_rows if math.isfinite(r.log10_tau0)}
    far_fit = ext.fit
    # the asymptotic law with its first correction, z = ln K + c omega, fitted on 100..500 predicts the rest
    z = {x: z_of(r, x, w_l) for x, r in rows_far.items() if math.isfinite(r.log10_tau0)}
    train = [x for x in far if x <= 500.0 and x in z][: max(1, len(z) - 1)]
    if len(train) >= 2:
        corr, lnK = (float(v) for v in np.polyfit([1 / x for x in train], [z[x] for x in train], 1))
    else:
        corr, lnK = 0.0, (float(z[train[0]]) if train else math.nan)
    predicted = {x: abs(z[x] - lnK - corr / x) for x in z if x not in train}
    tail = [x for x in far if x >= 500.0 and x in z]
    asym_slope = None
    if len(tail) >= 2:  # slope of ln tau_0 + 2 ln(1/omega) against 1/omega: the exponent without the prefactor
        asym_slope = (z[tail[-1]] - z[tail[0]]) / (tail[-1] - tail[0]) + 2 * w_l
    line64 = {x: (f64.fit["intercept"] + f64.fit["slope"] * x) / math.log(10) - r.log10_tau0
              for x, r in rows_far.items()}
    lnK2 = float(np.mean([z_of(rows2[x], x, w_l) for x in near2]))
    miss2 = {x: z_of(rows2[x], x, w_l) - lnK2 for x in far2}
    errs = {x: r.rel_error for x, r in rows_far.items()}

    checks = {
        "J0 independent of omega (spread < 1e-9)": float(J0.max() - J0.min()) < 1e-9 * float(J0.mean()),
        "log10 |grad J0| linear in 1/omega (R^2 > 0.99)": g_fit["r2"] is not None and g_fit["r2"] > 0.99,
        "ln tau_0 linear in 1/omega on 8..18 (R^2 > 0.99)": f64.fit["r2"] is not None and f64.fit["r2"] > 0.99,
        f"ln tau_0 linear in 1/omega on {far[0]:g}..{far[-1]:g} (R^2 > 0.99)":
            far_fit["r2"] is not None and far_fit["r2"] > 0.99 and far_fit["npoints"] == len(far),
        "tau_0 >= S(omega) at every point": len(ratios) == len(all_rows) and min(ratios.values()) > 0,
        "mpmath = float64 to 1e-6 on the overlap": bool(agree) and max(agree.values()) <= 1e-6,
        "extended points: slow-manifold flow, estimated error < 1e-6":
            all(r.method == "reduced" for r in rows_far.values())
            and (quick or all(e is not None and e < 1e-6 for e in errs.values())),
        "doubling the digits moves tau_0 < 1e-6": quick or doubling < 1e-6,
        "asymptotic law tau_0 = K omega^2 e^{2 w_l/omega} predicts the far points (|d ln tau| < 0.1)":
            quick or (bool(predicted) and max(predicted.values()) < 0.1),
    }
    passed = all(checks.values())
    summary = (f"ln tau0 slope {f64.fit['slope']:.3f} on 1/omega {xs[0]:g}..{xs[-1]:g}, "
               f"{far_fit['slope']:.4f} on {far[0]:g}..{far[-1]:g} (w_l = 0.5, 2 w_l = 1); "
               f"tau0(1/omega={far[-1]:g}) = 1e{rows_far[far[-1]].log10_tau0:.2f}")
    lines = [f"{'1/omega':>7} {'J0':>10} {'log10|g0|':>10} {'log10 tau0':>11} {'log10 tau0p':>11} "
             f"{'log10 S':>8} {'method':>8} {'dps':>5} {'rel_err':>8}"]
    for x, r in all_rows:
        err = "-" if r.rel_error is None else f"{r.rel_error:.1e}"
        lines.append(f"{x:>7g} {r.J0:>10.7f} {r.log10_grad_norm:>10.3f} {r.log10_tau0:>11.4f} "
                     f"{r.log10_tau0_prime:>11.4f} {lb[x]:>8.3f} {r.method:>8} {r.dps or '-':>5} {err:>8}")
    table = "```\n" + "\n".join(lines) + "\n```"
    details = (
        f"J0 = {J0.mean():.10f} for all 1/omega (spread {J0.max() - J0.min():.1e}); d ln|grad J0|/d(1/omega) "
        f"= {g_fit['slope']:.4f} (R^2 {g_fit['r2']:.5f}; -w_l = -0.5) over {xs[0]:g}..{far[-1]:g}. "
        f"ln tau_0 = {f64.fit['intercept']:.3f} + {f64.fit['slope']:.4f} (+- {f64.fit['stderr']:.4f})/omega on "
        f"{xs[0]:g}..{xs[-1]:g} (R^2 {f64.fit['r2']:.5f}); ln tau_0' slope {f64.fit['slope_prime']:.4f}; "
        + ("" if not middle else "full mpmath flow at " + ", ".join(
            f"{x:g}: log10 tau_0 = {rows_mp[x].log10_tau0:.3f}" for x in middle) + "; ")
        + f"slow-manifold flow on {far[0]:g}..{far[-1]:g}: slope {far_fit['slope']:.5f} "
        f"(+- {far_fit['stderr']:.5f}, R^2 {far_fit['r2']:.6f}), "
        + ("" if asym_slope is None else f"exponent without the omega^2 prefactor {asym_slope:.5f} on "
           f"{tail[0]:g}..{tail[-1]:g}, ")
        + f"z = ln K + c omega with ln K = {lnK:.3f}, c = {corr:.1f} (from {', '.join(f'{x:g}' for x in train)}), "
        "prediction misses "
        + ", ".join(f"{x:g}: {v:.3f}" for x, v in predicted.items())
        + f"; rel. errors {', '.join(f'{x:g}: {e:.1e}' for x, e in errs.items() if e is not None)}"
        + ("" if doubling is None else
           f"; doubling the digits at {doubled_at:g} ({base.dps} -> {2 * base.dps}): {doubling:.1e}")
        + ". min log10(tau_0/S) = "
        + f"{min(ratios.values()):.3f}; mpmath vs float64: " + ", ".join(f"{k}: {v:.1e}" for k, v in agree.items())
        + ". The float64 line extrapolated falls short by "
        + ", ".join(f"{x:g}: {v:.1f}" for x, v in line64.items())
        + f" decades (the exponent changes from ~w_l to 2 w_l). Companion m = 2: ln K = {lnK2:.3f} from the "
        "float64 range 20..28 predicts " + ", ".join(f"{x:g} within {v:+.3f}" for x, v in miss2.items())
        + ". The theorem's exponent w_l is a lower bound; the asymptotic exponent is 2 w_l.")
    measured = {"settings": {"m": M, "delta": DELTA, "sigma": 0.5, "w0": "geomspace(0.5, 4, 10)",
                             "size": "quick" if quick else "full" if full else "default", **size, "workers": procs},
                "float64": f64.to_dict(), "mpmath": mpr.to_dict(), "extended": ext.to_dict(), "agreement": agree,
                "grad_slope_ln": g_fit["slope"], "log10_ratio_min": min(ratios.values()),
                "asymptotic": {"lnK": lnK, "correction": corr, "trained_on": train, "misses": predicted, "exponent": asym_slope,
                               "two_w_l": 2 * w_l},
                "float64_line_shortfall_decades": line64,
                "doubling": None if doubling is None else {"inv_omega": doubled_at, "dps": [base.dps, 2 * base.dps],
                                                           "rel_change": doubling},
                "m2": {"lnK": lnK2, "misses": miss2,
                       "rows": {f"{x:g}": rows2[x].to_dict() for x in near2 + far2}},
                "table": table, "checks": checks}

    def figure():
        plt = pyplot()
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.4))
        pts = [(x, r) for x, r in all_rows if math.isfinite(r.log10_tau0)]
        for method, marker in (("float64", "o"), ("mpmath", "s"), ("reduced", "D")):
            sel = [(x, r.log10_tau0) for x, r in pts if r.method == method]
            if sel:
                ax.plot(*zip(*sel), marker, mfc="none", label={"float64": "float64 flow", "mpmath": "mpmath flow",
                                                              "reduced": "slow-manifold flow (mpmath)"}[method])
        xx = np.linspace(xs[0], far[-1], 400)
        ax.plot(xx, plateau.bound(xx, w_l, DELTA, M), "k--", lw=1, label=r"bound $S(\omega)$, exponent $w_l$")
        if math.isfinite(lnK):
            ax.plot(xx, (lnK + corr / xx - 2 * np.log(xx) + 2 * w_l * xx) / math.log(10), "C3-", lw=0.8,
                    label=r"$K\omega^2 e^{2w_l/\omega}$")
        ax.set_xlabel(r"$1/\omega$")
        ax.set_ylabel(r"$\log_{10}\tau_0$")
        ax.set_title("plateau time, m = 10, Gaussian spike sigma = 0.5, delta = 0.05", fontsize=9)
        ax.legend(fontsize=7)
        zz = [(x, z_of(r, x, w_l)) for x, r in pts]
        bx.plot(*zip(*zz), "o-", ms=4, label="m = 10")
        bx.plot(list(rows2), [z_of(r, x, w_l) for x, r in rows2.items()], "s-", ms=4, label="m = 2")
        bx.set_xscale("log")
        bx.set_xlabel(r"$1/\omega$")
        bx.set_ylabel(r"$\ln\tau_0 + 2\ln(1/\omega) - 2w_l/\omega$")
        bx.set_title(r"approach to $\tau_0 = K\omega^2 e^{2w_l/\omega}$", fontsize=9)
        bx.legend(fontsize=7)
        fig.tight_layout()
        return fig

    return CheckResult(NAME, passed, measured, CLAIM, details, summary=summary, figures={NAME: figure},
                       latex={NAME: plateau.latex("bound"),
                              f"{NAME}_J0": plateau.latex("J0", mt.kernels.gaussian_bump(0, 0.5)),
                              f"{NAME}_gradient": plateau.latex("gradient", mt.kernels.gaussian_bump(0, 0.5))}, criterion=CRITERION)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
