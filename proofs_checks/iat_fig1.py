"""Check ``iat_fig1``: [IAT] Fig. 1 -- exponential memory has a common stable radius, polynomial memory does not.

Settings (the paper's Fig. 1 in continuous time, exact):

* targets ``rho(t) = e^{-lambda t}`` with ``lambda = ln(10/9)`` (the continuous-time version of the paper's
  ``0.9^t``) and ``rho(t) = (1 + t)^{-1.1}``;
* least-squares linear RNNs: the L2-best exponential sums (``memtheory.theory.approximation.best_sum``, variable
  projection) of widths 2, 4, 6, 8, 14 (quick: 2, 4, 6, 8), read as ``W = -diag(w)``, balanced ``U, c``;
* the paper's perturbation error: ``theta = (W, U, c)`` in the spectral-norm ball of radius ``beta`` (diagonal
  structure), 30 Gaussian points on its boundary (quick: 6) plus the eigenvalue shift ``W + beta I``; the error
  is the exact ``J = ||rho - rho_hat||_2^2`` (closed form, ``inf`` once a perturbed rate reaches 0);
* ``beta in {0} U {5e-4 * 2^(k/2), k = -24..23}``: the paper's grid ``5e-4 * 2^k`` refined to half-octaves and
  extended down to resolve the radii of the widest models (quick: whole octaves).

Verdict (with numbers, from :func:`memtheory.theory.stability.stability_summary`; radius = largest ``beta`` up to
which ``E_m`` stays below the zero model's error ``||rho||^2``):

* exponential: the radii are common (all equal) and lie below ``2 lambda/3 = 0.0702``, the radius predicted
  for the shift (``J(beta) = ||rho||^2`` at ``beta = 2 lambda / 3``), above half of it; no crossing moves left;
* polynomial: ``E_m(0)`` decreases with ``m``; the radii shrink monotonically, each within a factor
  ``[1/2, 1]`` of the smallest rate ``min w_i`` of its model (the instability is an eigenvalue reaching the
  imaginary axis); the crossings of consecutive curves move left.
"""

from __future__ import annotations

import math

import numpy as np

from memtheory import Kernel, kernels
from memtheory.sweep import progress
from memtheory.theory.stability import perturbation_error, stability_summary
from memtheory.verify import CheckResult, kernel_latex, main_for
from memtheory.verify.figures import perturbation_figure

NAME = "iat_fig1"
#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 30.0
CLAIM = ("[IAT] Fig. 1: least-squares linear RNNs on exponential memory share a stable radius; on polynomial "
         "memory the radii shrink with the width and the E_m(beta) crossings move left")
CRITERION = ('passes when every listed assertion holds: exponential memory has equal radii for all widths, each in '
             "[lambda/3, 2 lambda/3], no crossing moving left and the verdict 'stable'; polynomial memory has "
             'E_m(0) strictly decreasing, radii strictly shrinking, each radius in [min w/2, min w] of its model, '
             "crossings moving left and the verdict 'unstable'.")

LAM = math.log(10 / 9)


def betas(quick: bool) -> np.ndarray:
    k = np.arange(-24, 24, 2 if quick else 1) / 2
    return np.concatenate([[0.0], 5e-4 * 2.0**k])


def curves(rho: Kernel, widths, bs: np.ndarray, repeats: int):
    """L2-best fits and their exact perturbation-error curves."""
    from memtheory.theory.approximation import best_exponential_sums

    fits = best_exponential_sums(rho, list(widths))
    steps = progress.Steps(len(fits))  # the bar moves width by width
    results = {}
    for f in fits:
        results[f.m] = perturbation_error(f.model, rho, bs, repeats=repeats, definition="paper", norm="l2", seed=0)
        steps.advance()
    return fits, results


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: 4 widths, 6 draws, octave grid). ``full`` runs the default sizes, which are already the
    paper's (or the theorem's) scale."""
    widths = [2, 4, 6, 8] if quick else [2, 4, 6, 8, 14]
    repeats = 6 if quick else 30
    bs = betas(quick)
    targets = {"exponential": Kernel("exp(-lam*t)", lam=LAM), "polynomial": kernels.power_law(1.1)}
    measured: dict = {"settings": {"widths": widths, "repeats": repeats, "betas": bs.tolist(), "definition": "paper",
                                   "norm": "exact J = ||rho - rho_hat||_2^2", "structure": "diagonal",
                                   "fit": "L2-best exponential sums"}}
    all_curves = {}
    checks = {}
    for k, label in enumerate(targets):
        rho = targets[label]
        with progress.part(k / len(targets), (k + 1) / len(targets)):
            fits, res = curves(rho, widths, bs, repeats)
        summ = stability_summary(res)
        all_curves[label] = res
        min_rates = {f.m: float(min(f.w)) for f in fits}
        row = {"verdict": summ.verdict, "reason": summ.reason, "radii": dict(zip(summ.widths, summ.radii)),
               "min_rate": min_rates, "E0": {m: float(r.errors[0]) for m, r in res.items()},
               "crossings": summ.crossings, "crossings_move_left": summ.crossings_move_left,
               "common_radius": summ.common_radius, "trivial_error": res[widths[0]].trivial_error}
        measured[label] = row
        if label == "exponential":
            pred = 2 * LAM / 3
            checks["exp: common radius"] = summ.common_radius is not None and max(summ.radii) == min(summ.radii)
            checks["exp: radius in [pred/2, pred]"] = all(pred / 2 <= r <= pred for r in summ.radii)
            checks["exp: no crossing moves left"] = summ.crossings_move_left is not True
            checks["exp: verdict stable"] = summ.verdict == "stable"
            row["predicted_radius"] = pred
        else:
            e0 = [res[m].errors[0] for m in widths]
            checks["pol: E_m(0) decreasing"] = all(b < a for a, b in zip(e0, e0[1:]))
            checks["pol: radii shrinking"] = all(b < a for a, b in zip(summ.radii, summ.radii[1:]))
            checks["pol: radius in [min w / 2, min w]"] = all(
                min_rates[m] / 2 <= r <= min_rates[m] for m, r in zip(summ.widths, summ.radii))
            checks["pol: crossings move left"] = summ.crossings_move_left is True
            checks["pol: verdict unstable"] = summ.verdict == "unstable"
    measured["checks"] = checks
    measured["table"] = _table(measured, widths)
    passed = all(checks.values())
    exp_r = measured["exponential"]["radii"]
    pol = measured["polynomial"]
    cross = [c["beta"] for c in pol["crossings"]]
    details = (f"exp: radii {sorted(set(exp_r.values()))} (pred. <= {2 * LAM / 3:.4f}), {measured['exponential']['verdict']}; "
               f"pol: radii {[f'{r:.2g}' for r in pol['radii'].values()]}, crossings "
               f"{[f'{c:.2g}' if c else c for c in cross]}, {pol['verdict']}")
    summary = (f"exp: radii {sorted(set(exp_r.values()))}, {measured['exponential']['verdict']}; pol: radii "
               f"{min(pol['radii'].values()):.2g}..{max(pol['radii'].values()):.2g}, {pol['verdict']}")
    latex = {label: kernel_latex(rho) for label, rho in targets.items()}
    return CheckResult(NAME, passed, measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(all_curves, measured["table"])}, latex=latex, criterion=CRITERION)


def _table(measured: dict, widths) -> str:
    lines = ["| target | m | E_m(0) | min rate | stable radius | crossing with next m |",
             "|---|---|---|---|---|---|"]
    for label in ("exponential", "polynomial"):
        row = measured[label]
        cross = {c["m_small"]: c["beta"] for c in row["crossings"]}
        for m in widths:
            c = cross.get(m)
            lines.append(f"| {label} | {m} | {row['E0'][m]:.3g} | {row['min_rate'][m]:.3g} | {row['radii'][m]:.3g} | "
                         f"{_cross(c)} |")
    return "\n".join(lines)


def _cross(c) -> str:
    if c is None:
        return "-"
    return "none (curves equal at beta = 0)" if c == 0 else f"{c:.3g}"


def _figure(all_curves: dict, table: str):
    """The check's figure (made only when the runner writes figures)."""
    return perturbation_figure({f"{label} memory": res for label, res in all_curves.items()}, figsize=(10, 3.8),
                               suptitle="[IAT] Fig. 1: perturbation error of L2-best linear RNNs (x = unstable)")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
