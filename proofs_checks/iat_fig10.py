"""Check ``iat_fig10``: [IAT] Figs. 3/10 -- memory functions of random RNN teachers decay exponentially.

Settings (reference-code initialisation, ours for the rest): random width-16 residual RNNs
``NonlinearRNN.random(width=16, structure="conjugated", parameterisation="softplus")`` (the reference's
``softplusrnn`` initialisation: ``W_+ = P^T diag(softplus(w)) P``, ``w ~ N(0,1)``, ``P`` orthogonal; ``U, b, c``
as ``nn.Linear``) with ``dt = 0.5`` (so that the residual step is stable for every seed), activations tanh and
hardtanh (the theorem's classes A_1 and A_0), seeds 0..4 (quick: 0, 1). Memory functions on ``t = k dt``,
``k < 300``:

* Heaviside, the reference code's variant (one level ``x ~ N(0, 1)``, ``T = 1024`` steps from ``h = 0``,
  ``|y_{k+1} - y_k|``);
* Heaviside, the paper's definition over the level set ``{+-0.1, +-0.316, +-1}`` (warm-up to rest, normalised);
* impulse with the same level set.

Prediction: at an equilibrium of ``h' = sigma(U x + b - W_+ h)`` the pre-activation is 0 (tanh and hardtanh
vanish only there), so ``sigma' = 1`` and every input level relaxes at the same rate, that of ``I - dt W_+``:
``rate = -log(max_i |1 - dt lambda_i(W_+)|) / dt``.

Verdict: every memory function is classified "exponential" by :func:`memtheory.theory.memory.classify_decay`, and its
fitted rate is within 10% of the predicted rate: Heaviside and impulse agree. Recorded, not judged: ReLU teachers
(outside A_0 / A_1), whose state can only grow (``sigma >= 0``): after an impulse the offset does not relax exponentially.
"""

from __future__ import annotations

import numpy as np

from memtheory.theory.memory import classify_decay, memory_function
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.verify import CheckResult, main_for, pyplot

NAME = "iat_fig10"
#: CPU seconds of the default run (CheckResult.cpu_seconds, measured): the runner starts the costliest checks
#: first and weights the progress bar by it.
COST = 1.0
CLAIM = ("[IAT] Figs. 3/10: memory functions of random tanh/hardtanh RNN teachers decay exponentially, at the "
         "linearised rate, for Heaviside and impulse inputs alike")
CRITERION = ('passes when every memory function (Heaviside reference and grid, impulse grid; tanh and hardtanh; '
             "every seed) is classified 'exponential' by classify_decay and its fitted rate is within 10% "
             '(relative) of the linearised rate -log(max_i |1 - dt lambda_i(W_+)|)/dt; the ReLU teachers are '
             'recorded, not judged.')

DT = 0.5
WIDTH = 16
LEVELS = np.array([0.1, -0.1, 0.316, -0.316, 1.0, -1.0])
STEPS = 300


def teacher(activation: str, seed: int) -> NonlinearRNN:
    """A random teacher with the reference initialisation."""
    return NonlinearRNN.random(1, WIDTH, activation=activation, structure="conjugated", parameterisation="softplus",
                               dt=DT, seed=seed)


def predicted_rate(model: NonlinearRNN) -> float:
    """``-log(spectral radius of I - dt W_+)/dt``: the decay rate of the linearisation at any equilibrium."""
    lam = np.linalg.eigvals(model.recurrent_matrix())
    return float(-np.log(np.max(np.abs(1.0 - model.dt * lam))) / model.dt)


def run(quick: bool = False, full: bool = False) -> CheckResult:
    """Run the check (``quick``: seeds 0 and 1). ``full`` runs the default sizes, which are already the paper's (or the
    theorem's) scale."""
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    t = DT * np.arange(STEPS)
    rows = []
    curves = {}
    checks: dict = {}
    worst = 0.0
    for act in ("tanh", "hardtanh"):
        for seed in seeds:
            model = teacher(act, seed)
            pred = predicted_rate(model)
            ref = memory_function(model, None, method="reference", seed=seed)
            keep = ref.t <= t[-1]
            mfs = {"heaviside (reference)": (ref.t[keep], ref.values[keep]),
                   "heaviside (grid)": memory_function(model, t, "heaviside", LEVELS),
                   "impulse (grid)": memory_function(model, t, "impulse", LEVELS)}
            row = {"activation": act, "seed": seed, "predicted_rate": pred}
            for name, mf in mfs.items():
                tt, vv = mf if isinstance(mf, tuple) else (mf.t, mf.values)
                fit = classify_decay(tt, vv)
                rel = abs(fit.rate - pred) / pred
                worst = max(worst, rel)
                row[name] = {"verdict": fit.verdict, "rate": fit.rate, "rel_err_rate": rel, "r2_exp": fit.r2_exp,
                             "t_range": list(fit.t_range)}
                checks[f"{act} seed {seed} {name}: exponential"] = fit.verdict == "exponential"
                checks[f"{act} seed {seed} {name}: rate within 10%"] = rel < 0.10
                curves[(act, seed, name)] = (tt, vv)
            rows.append(row)
    relu = []
    for seed in seeds[:2]:
        model = teacher("relu", seed)
        h = classify_decay(t, memory_function(model, t, "heaviside", LEVELS).values)
        i = classify_decay(t, memory_function(model, t, "impulse", LEVELS).values)
        relu.append({"seed": seed, "heaviside": h.verdict, "impulse": i.verdict, "predicted_rate": predicted_rate(model)})
    measured = {"settings": {"width": WIDTH, "dt": DT, "structure": "conjugated", "parameterisation": "softplus",
                             "levels": LEVELS.tolist(), "t_max": float(t[-1]), "seeds": seeds,
                             "reference_T": 1024},
                "teachers": rows, "relu_recorded": relu, "worst_rel_err_rate": worst, "checks": checks}
    lines = ["| activation | seed | predicted rate | heaviside (ref.) | heaviside (grid) | impulse (grid) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[k]['rate']:.4f} ({r[k]['verdict']})" for k in ("heaviside (reference)", "heaviside (grid)",
                                                                       "impulse (grid)")]
        lines.append(f"| {r['activation']} | {r['seed']} | {r['predicted_rate']:.4f} | " + " | ".join(cells) + " |")
    measured["table"] = "\n".join(lines)
    passed = all(checks.values())
    n_exp = sum(v for k, v in checks.items() if k.endswith("exponential"))
    n_all = sum(1 for k in checks if k.endswith("exponential"))
    details = (f"{n_exp}/{n_all} memory functions exponential; worst rate error vs linearisation {worst:.1%}; "
               f"relu impulse verdicts {[r['impulse'] for r in relu]}")
    summary = f"{n_exp}/{n_all} memory functions exponential; worst rate error {worst:.1%}"
    latex = {"predicted_rate": r"r = -\frac{1}{\Delta t}\log \max_i \left|1 - \Delta t\,\lambda_i(W_+)\right|"}
    return CheckResult(NAME, passed, measured, CLAIM, details, summary=summary,
                       figures={NAME: lambda: _figure(curves, seeds[0], measured["table"])}, latex=latex, criterion=CRITERION)


def _figure(curves: dict, seed: int, table: str):
    """The check's figure (made only when the runner writes figures)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, act in zip(axes, ("tanh", "hardtanh")):
        for (a, s, name), (tt, vv) in curves.items():
            if a == act and s == seed:
                pos = vv > 0
                ax.semilogy(tt[pos], vv[pos], label=name)
        ax.set_title(f"random {act} RNN (seed {seed})")
        ax.set_xlabel("t")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("memory function")
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_for(NAME))
