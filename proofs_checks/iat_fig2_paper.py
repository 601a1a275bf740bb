"""Check ``iat_fig2_paper``: [IAT] Fig. 2 with the paper's own training recipe (its Appendix D) and its error norm.

Next to ``iat_fig2`` (our recipe: long horizon ``T = 1000``, diagonal direct rates, cosine schedule), this check
runs the recipe of the paper's Appendix D, nonlinear case:

* target ``rho(t) = (t + 1)^{-1.5}``; LF data in the reference code's convention (white noise ``x_k = dt xi_k``,
  ``y_k = sum_{s <= k} rho(s dt) x_{k-s}``) with ``dt = 0.1``: training on the timestamps ``0.1, 0.2, ..., 3.2``
  (``T = 32`` steps), evaluation on ``0.1, ..., 10.0`` (``T = 100``);
* tanh RNNs in the residual form ``h_k = h_{k-1} + dt tanh(U x_k + b - W_+ h_{k-1})``, ``y_k = c^T h_k + c_0``
  (the forward-Euler step of ``dh/dt = tanh(W h + U x + b)``), full ``W_+`` without reparameterisation,
  ``NonlinearRNN.random(structure="full")`` (``W_+ = Q^T diag(softplus(N(0, 1))) Q``, the reference's scales);
* Adam, learning rate 0.005, batch 128, MSE, up to 1000 epochs, stopping when the validation loss (the test
  inputs on the training horizon) falls below ``1e-8``, the best validation epoch kept (the reference's
  checkpoint on ``val/loss``); no gradient clipping (the appendix states none);
* ``beta in {0} U {1e-11 * 2^k, k = 0..35}``, 3 perturbations per radius (the paper's definition: Gaussian
  points on the boundary of the spectral-norm ball of ``(W_+, U, b, c)``, plus the eigenvalue shift
  ``W_+ - beta I``), the maximum taken;
* the paper's norm ``||H - H_hat|| = sup_x sup_t |H_t(x) - H_hat_t(x)|``, sampled: the maximum over the test
  sequences (evaluation horizon ``t <= 10``; their inputs already satisfy ``|x|_inf <= 1``, about 0.4 at most, so
  they are used as drawn, in the distribution the models were trained on) and over time
  (``perturbation_error(norm="sup", test_data=...)``).

Sizes: full (``full=True``) is the paper's -- widths 8, 16, 32, 64, 12800 training and 12800 test sequences, 1000
epochs; the default run widths 8, 16, 32, 1280 / 1280 sequences, 100 epochs; quick widths 8, 16, 256 / 256
sequences, 15 epochs.

Claim and verdict. The paper's claim for Fig. 2 is approximation without stability: ``E_m(0)`` falls with ``m``
while the stable radii (the largest ``beta`` up to which ``E_m`` stays below the zero model's error) shrink. Every
run asserts what the recipe is there to produce -- the models are stable at ``beta = 0``, approximate on the
evaluation horizon (every ``E_m(0)`` below half the zero model's error) and fit the training horizon better with
width (the widest validation loss no larger than the narrowest's); the *full* run, at the paper's scale, also
asserts the paper's level of approximation: every ``E_m(0)`` below 3 times the value the paper plots (about 0.1 at
every width: :data:`proofs_checks.paper_values.PAPER`, read to half a decade). The instability is *measured and
reported* -- the stability verdict of :func:`memtheory.theory.stability.stability_summary` with the radii, and
whether the paper's instability is shown -- not counted either way: the paper's own plotted values, read at its
ticks, give one radius for every width too (``E_m`` about 0.1, 0.5, 5, 20 at ``beta = 1e-3, 1e-2, 0.1, 1``), so
the shrinking its caption describes is below what the figure resolves, and the runs here do not show it (below).
An earlier version asserted the instability at the full size and failed there. Measured at
the default size: ``E_m(0) = 0.16, 0.11, 0.24`` (zero model 1.29) -- trained on ``t <= 3.2``, the widest model
extrapolates worst to ``t <= 10`` (test MSE 2.3e-4, 3.9e-4, 4.9e-3 while its validation loss is the lowest) --
radii 0.34, 0.17, 0.17, verdict "stable": the paper's instability is not shown at this size. Nor in a larger run
measured once (12800 training sequences, widths 8..64, 30 epochs): ``E_m(0) = 0.13, 0.15, 0.080, 0.067``, every
radius 0.34 (the top of the grid), verdict "undecided". The full run (1068 s of wall time on 2 shared cores)
passes: every width trains to a validation loss near 3e-7 and approximates (``E_m(0) = 0.034, 0.050, 0.027,
0.041``, 0.34-0.50 times the paper's 0.1), but ``E_m(0)`` does not fall with the width and the radii (0.086, 0.34,
0.17, 0.34) do not shrink: "undecided", the paper's instability not shown.
"""

from __future__ import annotations

import numpy as np

from memtheory import Kernel
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.theory.stability import perturbation_error, stability_summary
from memtheory.sweep import progress
from memtheory.training import lf_dataset, train
from memtheory.verify import CheckResult, kernel_latex, main_for, run_size
from memtheory.verify.figures import perturbation_figure
from proofs_checks.paper_values import PAPER as PLOTTED
from proofs_checks.paper_values import comparison_rows, comparison_table, ratio_summary, ratio_text

NAME = "iat_fig2_paper"
CLAIM = ("[IAT] Fig. 2 with the paper's Appendix D recipe: trained tanh RNNs approximate (t+1)^-1.5 (full run: at the "
         "level the paper plots); whether the approximation is unstable, as the paper says, is measured and reported")
CRITERION = ("passes when every trained model is stable at beta = 0 (min Re eig W_+ > 0), every E_m(0) (sup norm on "
             "the test set, t <= 10) is below half the zero model's error and the widest width's validation loss "
             "(training horizon) is no larger than the narrowest's; the full run also requires every E_m(0) below 3 "
             "times the paper's plotted E_m(0). stability_summary's verdict (the paper's instability) is reported, "
             "not asserted.")

#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 9.0

DT = 0.1
T_TRAIN, T_EVAL = 32, 100
BETAS = np.concatenate([[0.0], 1e-11 * 2.0 ** np.arange(36)])
#: "Approximates": every E_m(0) below this fraction of the zero model's error.
APPROX_FRACTION = 0.5
PAPER = {"lr": 0.005, "batch_size": 128, "stop_loss": 1e-8, "repeats": 3}


def settings(quick: bool, full: bool) -> dict:
    """Sizes of the run (module docstring)."""
    if full:
        return {"widths": [8, 16, 32, 64], "n_train": 12800, "n_test": 12800, "epochs": 1000}
    if quick:
        return {"widths": [8, 16], "n_train": 1280, "n_test": 256, "epochs": 40}
    return {"widths": [8, 16, 32], "n_train": 1280, "n_test": 1280, "epochs": 100}


def _stop_at(val_x: np.ndarray, val_y: np.ndarray, level: float):
    """``train`` callback: stop once the validation loss is below ``level`` (the paper's stopping rule)."""
    def callback(epoch: int, loss: float, model: NonlinearRNN) -> bool:
        return model.loss(val_x, val_y) < level
    return callback


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (sizes in :func:`settings`; ``full``: the paper's, and the paper's claim asserted)."""
    run_size(quick, full)  # quick and full exclude each other
    cfg = settings(quick, full)
    rho = Kernel("(t + 1)**(-3/2)")
    data = lf_dataset(rho, cfg["n_train"], T_TRAIN, DT, seed=0, convention="reference")
    test = lf_dataset(rho, cfg["n_test"], T_EVAL, DT, seed=1, convention="reference")
    val_x, val_y = test.x[:, :T_TRAIN], test.y[:, :T_TRAIN]
    results, rows = {}, []
    share = progress.Steps(len(cfg["widths"]))  # the bar: width by width, each 90% training, 10% perturbing
    for m in cfg["widths"]:
        model = NonlinearRNN.random(1, m, activation="tanh", structure="full", dt=DT, seed=m)
        with share.step():
            with progress.part(0.0, 0.9):  # train reports each epoch
                fit = train(model, data, epochs=cfg["epochs"], batch_size=PAPER["batch_size"], lr=PAPER["lr"],
                            val_data=(val_x, val_y), keep_best=True, progress=False, seed=m,
                            callback=_stop_at(val_x, val_y, PAPER["stop_loss"]))
            margin = float(np.linalg.eigvals(model.recurrent_matrix()).real.min())
            with progress.part(0.9, 1.0):
                res = perturbation_error(model, (test.x, test.y), BETAS, repeats=PAPER["repeats"],
                                         definition="paper", norm="sup")
        results[m] = res
        rows.append({"m": m, "epochs": fit.epochs, "best_epoch": fit.best_epoch,
                     "val_loss": float(fit.val_history[fit.best_epoch]), "test_mse": model.loss(test.x, test.y),
                     "E0": float(res.errors[0]), "margin": margin, "train_seconds": fit.seconds})
    s = stability_summary(results)
    e0 = [r["E0"] for r in rows]
    trivial = results[cfg["widths"][0]].trivial_error
    checks = {
        "every trained model stable at beta = 0": min(r["margin"] for r in rows) > 0,
        "approximation: every E_m(0) below half the zero model's error": max(e0) < trivial * APPROX_FRACTION,
        "training: the widest validation loss no larger than the narrowest's": (
            rows[-1]["val_loss"] <= rows[0]["val_loss"]),
    }
    comparison = comparison_rows(results, PLOTTED["2"])
    paper0 = PLOTTED["2"][min(PLOTTED["2"])]  # its smallest tick, 1e-5: the flat start of its curves, E_m(0)
    if full:  # the paper plots no width 32: the level it plots is the same (0.1) for its widths 4, 8, 16, 64
        level = float(np.median(list(paper0.values())))
        checks[f"[paper] every E_m(0) below 3 x the paper's plotted level ({level:g})"] = max(e0) < 3 * level
    for r, radius in zip(rows, s.radii):
        r["radius"] = radius
    measured = {
        "settings": {**cfg, **PAPER, "target": "(t+1)^-1.5", "dt": DT, "train_times": "0.1..3.2 (T = 32)",
                     "eval_times": "0.1..10.0 (T = 100)", "model": "residual tanh RNN, full W_+, no "
                     "reparameterisation, NonlinearRNN.random(structure='full')",
                     "betas": "{0} U {1e-11 2^k, k = 0..35}",
                     "definition": "paper (spectral-norm ball boundary + shift)", "norm": "sup over the test set and t",
                     "gradient_clip": None, "claim_asserted": "approximation at the paper's level (instability reported, not asserted)"
                     if full else "approximation (instability reported, not asserted)"},
        "widths": cfg["widths"], "rows": rows, "trivial_error": trivial, "radii": s.radii,
        "crossings": s.crossings, "crossings_move_left": s.crossings_move_left, "radii_shrink": s.radii_shrink,
        "verdict": s.verdict, "reason": s.reason, "checks": checks,
        "comparison": comparison, "ratios": ratio_summary(comparison),
        "E0_over_paper": {r["m"]: r["E0"] / paper0[r["m"]] for r in rows if r["m"] in paper0},
        "instability_shown": s.verdict == "unstable",
    }
    lines = ["| m | epochs (best) | val loss (T = 32) | test MSE (T = 100) | E_m(0) (sup) | slowest Re eig W_+ | "
             "stable radius |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['m']} | {r['epochs']} ({r['best_epoch']}) | {r['val_loss']:.3g} | {r['test_mse']:.3g} | "
                     f"{r['E0']:.3g} | {r['margin']:.3g} | {r['radius']:.3g} |")
    measured["table"] = "\n".join(lines) + "\n\n" + comparison_table({"tanh RNNs (Fig. 2)": comparison})
    shown = "shown" if s.verdict == "unstable" else "not shown"
    details = (f"Appendix D recipe (widths {cfg['widths']}, {cfg['n_train']} sequences, up to {cfg['epochs']} epochs): "
               f"E_m(0) {[f'{e:.3g}' for e in e0]} (zero model {trivial:.3g}); stable radii "
               f"{[f'{r:.3g}' for r in s.radii]}; verdict '{s.verdict}' -- the paper's instability is {shown} at "
               f"this size (reported, not asserted); ours / paper: E_m(0) "
               f"{[float(f'{v:.2g}') for v in measured['E0_over_paper'].values()]} (widths "
               f"{list(measured['E0_over_paper'])}), over its ticks {ratio_text(measured['ratios'])}")
    summary = (f"E_m(0) {e0[0]:.2g} -> {e0[-1]:.2g}; radii {s.radii[0]:.2g} -> {s.radii[-1]:.2g}; "
               f"instability {shown} ('{s.verdict}')")
    latex = {"target": kernel_latex(rho),
             "model": r"h_k = h_{k-1} + \Delta t \tanh(U x_k + b - W_+ h_{k-1}),\quad \hat y_k = c^\top h_k + c_0"}
    return CheckResult(NAME, all(checks.values()), measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: perturbation_figure(
                           {"tanh RNNs, Appendix D recipe (sup norm)": results}, figsize=(6, 3.8), title_size=9)},
                       latex=latex, criterion=CRITERION)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
