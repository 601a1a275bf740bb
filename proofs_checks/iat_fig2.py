"""Check ``iat_fig2``: [IAT] Fig. 2 -- tanh RNNs approximate polynomial memory, but not stably.

Two series of width-``m`` tanh RNNs in the reference code's residual form
``h_k = h_{k-1} + tanh(U x_k + b - W_+ h_{k-1})``, ``y_k = c^T h_k`` (``dt = 1``), on the target
``rho(t) = (1 + t)^{-1.5}``. Both are measured on the same test set -- the reference code's LF data (white noise
``x_k ~ N(0, 1)``, ``y_k = sum_{s <= k} rho(s) x_{k-s}``), 128 sequences of ``T = 2000`` steps (quick: 32), a
horizon long enough to resolve radii down to about ``5/T`` -- with the paper's perturbation error:
``(W_+, U, b, c)`` in the spectral-norm ball, Gaussian boundary points plus ``W_+ - beta I``, error = test MSE,
``beta in {0} U {5e-4 * 2^(k/2)}``.

Trained series (ours; the paper trains, a recipe of our own, not the Appendix D recipe of docs/theory.md §8): diagonal ``W_+`` with the direct
(unconstrained) parameterisation, so training may move an eigenvalue anywhere, widths 2, 4, 8, 16, 32 (full: 2, 4,
8, 16, 32, 64; quick: 2, 8); initial ``U, b ~ U(-1, 1)``, ``c ~ U(-1, 1)/sqrt(m)`` (the reference code's scales) and rates
log-spaced on ``[1e-3, 1]``; trained by :func:`memtheory.training.train` (BPTT, Adam, lr 1e-2 with 10 warm-up
epochs and a cosine decay to 1e-4, batch 64, clipping 0.5, the parameters of the best validation epoch kept) for
100 epochs on 512 LF sequences of ``T = 1000``, batch 32 (full: 200 epochs on 1024, batch 64; quick: 60 epochs on
256, batch 16); perturbation error with 5 draws per radius (quick: 3). The widths train as one sweep
(:func:`memtheory.training.series.train_series`, one numba thread per model, so the result does not depend on
the workers) on :func:`memtheory.verify.check_workers` processes; with a store (``--store``) the trained models
and the perturbation errors are kept as they finish (:func:`memtheory.verify.check_store`). The training horizon is the point: with the reference code's ``T = 100`` the loss
never asks for memory beyond 100 steps, the slowest rates stay near ``1/T`` and no trend in the radii appears
(measured in an earlier version of this check, see docs/nonlinear.md).

Constructed series (ours; the mechanism without training noise): models built from the L2-best exponential sums
``sum_i a_i e^{-w_i t}`` of ``rho`` (widths 2..6; quick 2, 4, 6): ``W_+ = diag(1 - e^{-w_i})`` (so the
linearised discrete kernel is exactly ``sum_i a_i e^{-w_i k}``), input gain ``eps = 0.1`` (``U = eps sqrt|a|``,
``c = sign(a) sqrt|a| / eps``, ``b = 0``); 5 boundary points per radius (full: 10, quick: 3).

Verdict (numbers from :func:`memtheory.theory.stability.stability_summary`). Constructed series: approximation --
``E_m(0)`` decreases strictly with ``m``; no stability -- the stable radii shrink (largest width below a quarter of
the smallest's) and the crossings of consecutive curves move left (verdict "unstable"). Trained series:
approximation -- ``E_m(0)`` falls with ``m`` (rank correlation <= -0.8, 20-fold overall); no stability by the
definition -- the stable radii fall with ``m`` (rank correlation <= -0.8) and shrink at least 4-fold, i.e. every
``beta > 0`` eventually exceeds the radius, so ``E(beta) = limsup_m E_m(beta)`` stays large as ``beta -> 0``
while ``E_m(0) -> 0``; every trained model is stable (slowest eigenvalue of ``W_+`` > 0) and that stability
margin falls with the error as ``E_m(0)^s``, ``s`` in [0.25, 1] -- the tail law: a model whose slowest rate is
``r`` misses the target's tail beyond ``t ~ 1/r``, of squared mass ``~ t^{-2}``, so ``r ~ E^{1/2}``. The
crossings of the trained curves and the summary's verdict (which also asks them to move left) are reported,
not asserted: a crossing also reflects a model's sensitivity to its readout ``(U, c)``, which varies from one
training run to the next (with initialisation seed 1 one early crossing, 0.002 between widths 2 and 4, leaves
the verdict "undecided" although the radii shrink 11-fold). The quick run asserts only the approximation part
and the margins of the trained series.
"""

from __future__ import annotations

import numpy as np

from memtheory import Kernel
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.theory.stability import perturbation_errors, stability_summary
from memtheory.sweep import progress
from memtheory.training import lf_dataset
from memtheory.verify import CheckResult, check_store, check_workers, kernel_latex, main_for
from memtheory.verify.figures import perturbation_figure

NAME = "iat_fig2"
#: CPU seconds of each size (default: CheckResult.cpu_seconds of a run, measured; the others as before):
#: the runner starts the costliest checks first and weights the progress bar by it.
COST = {"quick": 25.0, "default": 140.0, "full": 900.0}
CLAIM = ("[IAT] Fig. 2: tanh RNNs, trained or constructed, approximate (t+1)^-1.5 (E_m(0) -> 0) without "
         "stability (stable radii shrink with m)")
CRITERION = ('passes when every listed assertion holds: constructed series with E_m(0) strictly decreasing, radii '
             "shrinking (largest width's below a quarter of the smallest's), crossings moving left and the verdict "
             "'unstable'; trained series with E_m(0) falling 20-fold (quick: 5-fold) at rank correlation <= -0.8 "
             'and every slowest eigenvalue of W_+ > 0; default and full runs also: trained radii shrinking 4-fold at '
             'rank correlation <= -0.8, and margin ~ E_m(0)^s with s in [0.25, 1]. Default: trained widths 2..32, '
             '100 epochs on 512 sequences, constructed draws 5; full: widths 2..64, 200 epochs on 1024, draws 10.')

EPS = 0.1


def tanh_approximant(a: np.ndarray, w: np.ndarray, eps: float = EPS) -> NonlinearRNN:
    """The tanh RNN built from ``sum_i a_i e^{-w_i t}`` (module docstring)."""
    u = np.sqrt(np.abs(a))
    c = np.where(a < 0, -u, u)
    r = -np.expm1(-np.asarray(w))
    return NonlinearRNN(eps * u[:, None], np.zeros(a.size), c / eps, w=-r, activation="tanh",
                        parameterisation="direct", dt=1.0, output_bias=None)


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: constructed widths 2, 4, 6, trained widths 2, 8 (60 short epochs), 32 test
    sequences, 3 draws, octave grid; ``full``: the paper-scale training of widths 2..64, module docstring)."""
    from memtheory.theory.approximation import best_exponential_sums

    workers = 1 if quick else check_workers()
    widths = [2, 4, 6] if quick else [2, 3, 4, 5, 6]
    repeats = 3 if quick else 10 if full else 5
    n_test, T = (32, 2000) if quick else (128, 2000)
    k = np.arange(-24, 24, 2 if quick else 1) / 2
    bs = np.concatenate([[0.0], 5e-4 * 2.0**k])
    rho = Kernel("(t + 1)**(-1.5)")
    test = lf_dataset(rho, n_test, T, 1.0, seed=1, convention="reference")
    fits = best_exponential_sums(rho, widths)
    nonlinearity = {}
    constructed = {}
    for f in fits:
        model = tanh_approximant(np.array(f.a), np.array(f.w))
        _, states = model.forward(test.x[:8], return_states=True)
        pre = model.U[None, None, :, 0] * test.x[:8] - states @ model.recurrent_matrix().T
        nonlinearity[f.m] = float(np.max(np.abs(pre)))
        constructed[f.m] = model
    with progress.part(0.0, 0.3):
        res = perturbation_errors(constructed, (test.x, test.y), bs, repeats=repeats, definition="paper",
                                  norm="mse", workers=workers, store=check_store("constructed"))
    s = stability_summary(res)
    e0 = [res[m].errors[0] for m in widths]
    with progress.part(0.3, 1.0):
        trained = trained_series(rho, test, bs, quick, full=full, workers=workers)
    ts = trained["summary"]
    te0 = trained["E0"]
    checks = {
        "approximation: E_m(0) decreasing": all(b < a for a, b in zip(e0, e0[1:])),
        "no stability: radii shrink": s.radii_shrink,
        "no stability: crossings move left": s.crossings_move_left is True,
        "verdict unstable": s.verdict == "unstable",
        "trained: E_m(0) falls with m": _falls(te0, 20.0 if not quick else 5.0),
        "trained: stability margin > 0 (stable models)": min(trained["margin"]) > 0,
    }
    if not quick:  # default and full
        checks.update({
            "trained: radii shrink (4-fold) and fall with m": ts["radii_shrink"] and _falls(ts["radii"], 4.0),
            "trained: margin ~ E_m(0)^s, s in [0.25, 1]": (trained["margin_slope"] is not None
                                                          and 0.25 <= trained["margin_slope"] <= 1.0),
        })
    measured = {
        "settings": {"size": "quick" if quick else "full" if full else "default", "workers": workers,
                     "target": "(t+1)^-1.5", "widths": widths, "eps": EPS, "n_test": n_test, "T": T,
                     "repeats": repeats, "definition": "paper", "norm": "test MSE", "betas": bs.tolist(),
                     "models": "tanh RNNs built from L2-best exponential sums (not trained)"},
        "E0": dict(zip(widths, e0)), "radii": dict(zip(s.widths, s.radii)),
        "min_rate": {f.m: float(min(f.w)) for f in fits}, "crossings": s.crossings,
        "crossings_move_left": s.crossings_move_left, "verdict": s.verdict, "reason": s.reason,
        "max_preactivation": nonlinearity, "trivial_error": res[widths[0]].trivial_error, "checks": checks,
        "trained": {k: v for k, v in trained.items() if k != "results"},
    }
    lines = ["| m | E_m(0) | min rate | stable radius | crossing with next m |", "|---|---|---|---|---|"]
    cross = {c["m_small"]: c["beta"] for c in s.crossings}
    for m in widths:
        c = cross.get(m)
        lines.append(f"| {m} | {measured['E0'][m]:.3g} | {measured['min_rate'][m]:.3g} | {measured['radii'][m]:.3g} | "
                     f"{'-' if c is None else f'{c:.3g}'} |")
    found = [c["beta"] for c in s.crossings if c["beta"]]
    lines += ["", "Trained (long horizon, paper definition):", "",
              "| m | E_m(0) | slowest eigenvalue of W_+ | stable radius | crossing with next m |",
              "|---|---|---|---|---|"]
    tcross = {c["m_small"]: c["beta"] for c in ts["crossings"]}
    for m, e, g, r in zip(trained["widths"], te0, trained["margin"], ts["radii"]):
        c = tcross.get(m)
        lines.append(f"| {m} | {e:.3g} | {g:.3g} | {r:.3g} | {'-' if c is None else f'{c:.3g}'} |")
    measured["table"] = "\n".join(lines)
    tfound = [c["beta"] for c in ts["crossings"] if c["beta"]]
    slope = trained["margin_slope"]
    details = (f"Constructed (L2-best sums, widths {widths}): E_m(0) {[f'{e:.2g}' for e in e0]}; radii "
               f"{[f'{r:.2g}' for r in s.radii]}; crossings {[f'{b:.2g}' for b in found]}; {s.verdict}. "
               f"Trained (widths {trained['widths']}, {trained['settings']['epochs']} epochs on T = "
               f"{trained['settings']['T']}): E_m(0) {[f'{e:.2g}' for e in te0]}; slowest eigenvalue of W_+ "
               f"{[f'{v:.2g}' for v in trained['margin']]} (d ln margin / d ln E_m(0) = "
               f"{'-' if slope is None else f'{slope:.2f}'}, tail law 0.5); radii "
               f"{[f'{r:.2g}' for r in ts['radii']]}; crossings {[f'{b:.2g}' for b in tfound]}; {ts['verdict']}")
    summary = (f"trained: E_m(0) {te0[0]:.2g} -> {te0[-1]:.2g}, radii {ts['radii'][0]:.2g} -> "
               f"{ts['radii'][-1]:.2g}, {ts['verdict']}; constructed: E_m(0) {e0[0]:.2g} -> {e0[-1]:.2g}, radii "
               f"{s.radii[0]:.2g} -> {s.radii[-1]:.2g}, {s.verdict}")
    latex = {"target": kernel_latex(rho),
             "model": r"h_k = h_{k-1} + \tanh(U x_k + b - W_+ h_{k-1}),\quad \hat y_k = c^\top h_k"}
    return CheckResult(NAME, all(checks.values()), measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(res, trained["results"])}, latex=latex, criterion=CRITERION)


#: Training of the full run (paper scale), the default run and the quick run.
TRAIN_FULL = {"T": 1000, "n": 1024, "epochs": 200, "batch_size": 64, "lr": 1e-2, "lr_min": 1e-4, "warmup": 10,
              "grad_clip": 0.5, "rate_floor": 1e-3}
TRAIN = {**TRAIN_FULL, "n": 512, "epochs": 100, "batch_size": 32}
TRAIN_QUICK = {**TRAIN_FULL, "n": 256, "epochs": 60, "batch_size": 16}
#: Widths of the trained series at each size.
#: (Widths 2..16 at the default training shrink the radii exactly 4-fold on the beta grid, 0.128 -> 0.032: not
#: the strict 4-fold the criterion asks; 32 is where they separate.)
TRAINED_WIDTHS = {"quick": [2, 8], "default": [2, 4, 8, 16, 32], "full": [2, 4, 8, 16, 32, 64]}


def initial_tanh_rnn(m: int, seed: int = 0) -> NonlinearRNN:
    """The untrained width-``m`` tanh RNN of the trained series (module docstring): reference-scale ``U, b, c``,
    diagonal ``W_+`` with rates log-spaced on ``[rate_floor, 1]``, direct (unconstrained) parameterisation."""
    rng = np.random.default_rng([m, seed])
    rates = np.geomspace(TRAIN_FULL["rate_floor"], 1.0, m)
    return NonlinearRNN(rng.uniform(-1, 1, (m, 1)), rng.uniform(-1, 1, m), rng.uniform(-1, 1, m) / np.sqrt(m),
                        w=-rates, activation="tanh", parameterisation="direct", dt=1.0, output_bias=0.0)


def trained_series(rho: Kernel, test, betas: np.ndarray, quick: bool, seed: int = 0, *, full: bool = False,
                   workers: int = 1) -> dict:
    """Train tanh RNNs on a long horizon (module docstring) and measure their perturbation error (paper
    definition, on the check's test set); the widths train as one sweep on ``workers`` processes."""
    from memtheory.training.series import train_series

    size = "quick" if quick else "full" if full else "default"
    cfg = {"quick": TRAIN_QUICK, "default": TRAIN, "full": TRAIN_FULL}[size]
    widths = TRAINED_WIDTHS[size]
    repeats = 3 if quick else 5
    data = lf_dataset(rho, cfg["n"], cfg["T"], 1.0, seed=0, convention="reference")
    val = lf_dataset(rho, cfg["n"] // 4, cfg["T"], 1.0, seed=2, convention="reference")
    with progress.part(0.0, 0.8):
        fitted = train_series(initial_tanh_rnn, data, [(m, seed) for m in widths], val_data=val, workers=workers,
                              epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"], lr_schedule="cosine",
                              lr_min=cfg["lr_min"], warmup=cfg["warmup"], grad_clip=cfg["grad_clip"], keep_best=True,
                              store=check_store("train"))
    models = {p.width: p.model for p in fitted}
    seconds = [p.fit.seconds for p in fitted]
    val_loss = [float(p.fit.val_history[p.fit.best_epoch]) for p in fitted]
    best_epoch = [p.fit.best_epoch for p in fitted]
    margin = [float(np.linalg.eigvals(models[m].recurrent_matrix()).real.min()) for m in widths]
    with progress.part(0.8, 1.0):
        results = perturbation_errors(models, (test.x, test.y), betas, repeats=repeats, definition="paper",
                                      norm="mse", workers=workers, store=check_store("trained"))
    s = stability_summary(results)
    e0 = np.array([results[m].errors[0] for m in widths])
    # tail law: a model whose slowest rate is r misses the target's tail beyond t ~ 1/r, whose squared mass is
    # (1+t)^(1-2p)/(2p-1): E ~ r^(2p-1), so r ~ E^(1/(2p-1)) = E^(1/2) for p = 3/2
    slope = float(np.polyfit(np.log(e0), np.log(np.maximum(margin, 1e-300)), 1)[0]) if min(margin) > 0 else None
    return {"widths": widths, "settings": {**cfg, "repeats": repeats, "seed": seed, "n_threads": 1,
                                           "init": "rates log-spaced on "
                                           "[rate_floor, 1], U, b ~ U(-1, 1), c ~ U(-1, 1)/sqrt(m)"},
            "E0": e0.tolist(), "val_loss": val_loss, "best_epoch": best_epoch, "margin": margin,
            "margin_slope": slope, "train_seconds": seconds, "results": results,
            "summary": {"radii": s.radii, "crossings": s.crossings, "crossings_move_left": s.crossings_move_left,
                        "radii_shrink": s.radii_shrink, "verdict": s.verdict, "reason": s.reason}}


def _falls(values: list[float], factor: float) -> bool:
    """``values`` (errors or radii, by increasing width) fall with the width: rank correlation with the width
    <= -0.8 and the last below the first divided by ``factor`` (training noise may swap two neighbours)."""
    from scipy.stats import spearmanr

    rank = spearmanr(np.arange(len(values)), values)[0] if len(values) > 2 else -1.0
    return bool(values[-1] < values[0] / factor and rank <= -0.8)


def _figure(res: dict, trained: dict):
    """The check's figure (made only when the runner writes figures)."""
    return perturbation_figure({"tanh RNNs from L2-best sums on (t+1)^-1.5 (paper def.)": res,
                                "trained tanh RNNs, T = 1000 (paper def.)": trained}, figsize=(11, 3.8), title_size=9)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
