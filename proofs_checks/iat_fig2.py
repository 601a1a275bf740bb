"""Check ``iat_fig2``: [IAT] Fig. 2 -- tanh RNNs approximate polynomial memory, but not stably.

Settings (ours; the paper trains tanh RNNs; for the verdict the approximants are constructed so that the approximation
quality is controlled and the check runs in seconds):

* target ``rho(t) = (1 + t)^{-1.5}``; test set: the reference code's LF data (white noise ``x_k ~ N(0, 1)``,
  ``y_k = sum_{s <= k} rho(s) x_{k-s}``, ``dt = 1``), 128 sequences of ``T = 2000`` steps (quick: 32), a
  horizon long enough to resolve radii down to about ``5/T``;
* width-``m`` tanh RNNs (residual form ``h_k = h_{k-1} + tanh(U x_k + b - W_+ h_{k-1})``, ``dt = 1``) built
  from the L2-best exponential sums ``sum_i a_i e^{-w_i t}`` of ``rho`` (widths 2..6; quick 2, 4, 6):
  ``W_+ = diag(1 - e^{-w_i})`` (so the linearised discrete kernel is exactly ``sum_i a_i e^{-w_i k}``), input
  gain ``eps = 0.1`` (``U = eps sqrt|a|``, ``c = sign(a) sqrt|a| / eps``, ``b = 0``): genuinely nonlinear
  models whose test error decreases with ``m``;
* the paper's perturbation error: ``(W_+, U, b, c)`` in the spectral-norm ball, 10 Gaussian boundary points
  (quick: 3) plus ``W_+ - beta I``, error = test MSE; ``beta in {0} U {5e-4 * 2^(k/2)}``.

Verdict (numbers from :func:`memtheory.stability.stability_summary`): approximation -- ``E_m(0)`` decreases
with ``m``; no stability -- the stable radii shrink (largest width below a quarter of the smallest's), the
crossings of consecutive curves move left, so the radius of the family tends to 0 while the errors do.

Trained series (the reference code's settings, reported next to the verdict): tanh RNNs with a full recurrent
matrix, random initialisation (:meth:`memtheory.models.nonlinear.NonlinearRNN.random`, seed = width), widths
8, 16, 32, 64 (quick: 8, 16), trained by :func:`memtheory.training.train` (BPTT, Adam lr 1e-3, batch 128,
clipping 0.5) for 200 epochs (quick: 20) on 4096 LF sequences of ``T = 100``; the reference code's perturbation
error (max-abs noise, running maximum; ``beta in {0} U {1e-3 2^(i/2), i = 0..20}``, 5 repeats) on 256 test
sequences. Asserted: ``E_m(0)`` decreases with ``m``. Reported: radii, crossings, verdict and the slowest
eigenvalue of ``W_+`` -- with a training horizon of 100 steps the trained models' slowest modes stay near
``1/T`` and the stability verdict is measured, not assumed.
"""

from __future__ import annotations

import numpy as np

from memtheory import Kernel
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.stability import perturbation_error, stability_summary
from memtheory.training import lf_dataset
from memtheory.verify import CheckResult, kernel_latex, main_for, pyplot

NAME = "iat_fig2"
CLAIM = ("[IAT] Fig. 2: tanh RNNs approximate (t+1)^-1.5 (E_m(0) -> 0) without stability (radii shrink, "
         "E_m(beta) crossings move left)")

EPS = 0.1


def tanh_approximant(a: np.ndarray, w: np.ndarray, eps: float = EPS) -> NonlinearRNN:
    """The tanh RNN built from ``sum_i a_i e^{-w_i t}`` (module docstring)."""
    u = np.sqrt(np.abs(a))
    c = np.where(a < 0, -u, u)
    r = -np.expm1(-np.asarray(w))
    return NonlinearRNN(eps * u[:, None], np.zeros(a.size), c / eps, w=-r, activation="tanh",
                        parameterisation="direct", dt=1.0, output_bias=None)


def run(quick: bool = False) -> CheckResult:
    """Run the check (``quick``: widths 2, 4, 6, 32 test sequences, 3 draws, octave grid)."""
    from memtheory.theory.best_sum import best_exponential_sums

    widths = [2, 4, 6] if quick else [2, 3, 4, 5, 6]
    repeats = 3 if quick else 10
    n_test, T = (32, 2000) if quick else (128, 2000)
    k = np.arange(-24, 24, 2 if quick else 1) / 2
    bs = np.concatenate([[0.0], 5e-4 * 2.0**k])
    rho = Kernel("(t + 1)**(-1.5)")
    test = lf_dataset(rho, n_test, T, 1.0, seed=1, convention="reference")
    fits = best_exponential_sums(rho, widths)
    res = {}
    nonlinearity = {}
    for f in fits:
        model = tanh_approximant(np.array(f.a), np.array(f.w))
        _, states = model.forward(test.x[:8], return_states=True)
        pre = model.U[None, None, :, 0] * test.x[:8] - states @ model.recurrent_matrix().T
        nonlinearity[f.m] = float(np.max(np.abs(pre)))
        res[f.m] = perturbation_error(model, (test.x, test.y), bs, repeats=repeats, definition="paper", norm="mse")
    s = stability_summary(res)
    e0 = [res[m].errors[0] for m in widths]
    trained = trained_series(rho, quick)
    checks = {
        "approximation: E_m(0) decreasing": all(b < a for a, b in zip(e0, e0[1:])),
        "no stability: radii shrink": s.radii_shrink,
        "no stability: crossings move left": s.crossings_move_left is True,
        "verdict unstable": s.verdict == "unstable",
        "trained series: E_m(0) decreasing": all(b < a for a, b in zip(trained["E0"], trained["E0"][1:])),
    }
    measured = {
        "settings": {"target": "(t+1)^-1.5", "widths": widths, "eps": EPS, "n_test": n_test, "T": T,
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
    measured["table"] = "\n".join(lines)
    found = [c["beta"] for c in s.crossings if c["beta"]]
    ts = trained["summary"]
    details = (f"E_m(0) {[f'{e:.2g}' for e in e0]}; radii {[f'{r:.2g}' for r in s.radii]}; crossings "
               f"{[f'{b:.2g}' for b in found]}; {s.verdict}. Trained series (widths {trained['widths']}, "
               f"{trained['epochs']} epochs): E_m(0) {[f'{e:.2g}' for e in trained['E0']]}, slowest eigenvalue of "
               f"W_+ {[f'{v:.2g}' for v in trained['min_eig']]}, radii {[f'{r:.2g}' for r in ts['radii']]}, "
               f"crossings move left: {ts['crossings_move_left']}, verdict {ts['verdict']}")
    summary = (f"E_m(0) {e0[0]:.2g} -> {e0[-1]:.2g}; radii {s.radii[0]:.2g} -> {s.radii[-1]:.2g}; {s.verdict}")
    latex = {"target": kernel_latex(rho),
             "model": r"h_k = h_{k-1} + \tanh(U x_k + b - W_+ h_{k-1}),\quad \hat y_k = c^\top h_k"}
    return CheckResult(NAME, all(checks.values()), measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(res, trained["results"])}, latex=latex)


def trained_series(rho: Kernel, quick: bool) -> dict:
    """Train tanh RNNs with the reference code's settings (module docstring) and measure their perturbation
    error (reference definition)."""
    from memtheory.training import train

    widths = [8, 16] if quick else [8, 16, 32, 64]
    epochs = 20 if quick else 200
    data = lf_dataset(rho, 4096, 100, 1.0, seed=0, convention="reference")
    test = lf_dataset(rho, 256, 100, 1.0, seed=1, convention="reference")
    betas = np.concatenate([[0.0], 1e-3 * 2.0 ** (np.arange(21) / 2)])
    results, min_eig, seconds = {}, [], []
    for m in widths:
        model = NonlinearRNN.random(1, m, activation="tanh", structure="full", dt=1.0, seed=m)
        fit = train(model, data, epochs=epochs, batch_size=128, lr=1e-3, grad_clip=0.5, progress=False, seed=m)
        seconds.append(fit.seconds)
        min_eig.append(float(np.linalg.eigvals(model.recurrent_matrix()).real.min()))
        results[m] = perturbation_error(model, (test.x, test.y), betas, repeats=5, definition="reference",
                                        norm="mse")
    s = stability_summary(results)
    return {"widths": widths, "epochs": epochs, "E0": [results[m].errors[0] for m in widths],
            "min_eig": min_eig, "train_seconds": seconds, "results": results,
            "summary": {"radii": s.radii, "crossings": s.crossings, "crossings_move_left": s.crossings_move_left,
                        "verdict": s.verdict, "reason": s.reason}}


def _figure(res: dict, trained: dict):
    """The check's figure (made only when the runner writes figures)."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    for m, r in sorted(res.items()):
        r.plot(ax, label=f"m = {m}")
    ax.set_title("tanh RNNs from L2-best sums on (t+1)^-1.5 (paper def.)", fontsize=9)
    ax.legend(fontsize=7)
    for m, r in sorted(trained.items()):
        r.plot(bx, label=f"m = {m}")
    bx.set_title("trained tanh RNNs, reference settings (reference def.)", fontsize=9)
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
