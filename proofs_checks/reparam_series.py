"""The trained series of [IAT] Figs. 7 and 8: RNNs trained with the reference code's recipe, their perturbation
errors (compared with the paper's plotted values by :mod:`proofs_checks.paper_values`).

Shared by the checks ``iat_fig7`` (ReLU RNNs without and with the softplus reparameterisation) and ``iat_fig8``
(softplus-reparameterised hardtanh and tanh RNNs); not a check itself (no ``NAME``).

The experiment, as the paper's released code runs it (github.com/radarFudan/Curse-of-memory: ``scripts/lf_all.sh``,
``configs/experiment/LF/*.yaml``, ``src/models/lf_module.py``, ``src/perturb.py``):

* task: the LF data "pol", white-noise inputs ``x_k ~ N(0, 1)`` and targets ``y_k = sum_{s <= k} rho(s) x_{k-s}``
  with ``rho(t) = (1 + t/10)^{-1.1}``, ``T = 100`` steps of ``dt = 1``, stored as float32 (the reference's tensors);
* model: the residual RNN ``h_k = h_{k-1} + sigma(U x_k + b - W_+ h_{k-1})``, ``y_k = c^T h_k + c_0`` with
  ``W_+ = P^T diag(r(w)) P`` (structure "conjugated", ``P`` trainable, initialised orthogonal), ``r = relu(w)``
  (the reference's ``rnn``: no reparameterisation, the rates are the raw weights clamped at 0) or
  ``r = softplus(w)`` (``softplusrnn``); the reference's initialisation (:meth:`NonlinearRNN.random`);
* training: Adam (the reference's AdamW with weight decay 0), learning rate 0.01, ``ReduceLROnPlateau(factor 0.1,
  patience 10)`` on the validation loss, gradient clipping 0.5, the time-weighted MSE (``twe_MSE``, weights
  ``((k+1)/(T+1))^2`` on outputs and targets), the stability-margin penalty ``0.01 relu(1 - min_i r_i)`` (for
  ``r = relu(w)`` the minimum over the positive weights, as the reference's training mode takes it), the
  parameters of the best validation epoch kept (its checkpoint on ``val/loss``), and its early stopping across
  widths: after at least 2 epochs, width ``m`` stops as soon as its validation loss is below half the best
  validation loss of the previous width (the first width: below 100); one numba thread, so that the trained
  models do not depend on the machine's cores;
* perturbation error: the reference's ``perturb.py`` (:func:`perturbation_error` with ``definition="reference"``):
  every raw parameter tensor moved by Gaussian noise rescaled to max-abs ``beta`` (ReLU rates evaluated without the
  clamp, as in its eval mode), ``beta in {0} U {1e-3 * 2^(i/2), i = 0..20}``, 30 draws per radius, error = the test
  loss (the same time-weighted MSE, not the sup norm of [IAT] Definition 3.5), running maximum over draws and
  smaller radii; widths 8, 16, 32, 64.

Sizes (:data:`SIZES`): ``full`` is the reference's (128000 / 12800 / 12800 sequences, batch 512, up to 1000 epochs,
which the early stopping cuts to 2-24: 33-42 CPU-minutes per check, measured once); the default and ``quick`` runs
keep the recipe and scale down the widths (default 8, 16, 32; quick 8, 16), the data, the epochs and the draws, and
say so in their settings. The minimum number of epochs is scaled so that the first width takes about as many Adam
steps as the reference's two epochs of 250 minibatches (default: 30 epochs of 16 minibatches). The reference plots
its ``beta = 0`` point at ``beta = 1e-4`` (its notebook ``notebooks/perturbation_error.ipynb`` sets
``data["perturbation"][0] = 1e-4`` before a log-log plot), so the plotted values "at 1e-4" are ``E_m(0)``.

Each width is one :mod:`memtheory.sweep` point (:func:`train_width`), kept in the run's store when ``memtheory
verify`` has one (``--store FILE``, :func:`memtheory.verify.check_store`): a ``--full`` run stopped half-way
resumes at the first width it had not finished (a width's point names the stopping threshold its predecessor
set, so a stored width is reused only after the same predecessors).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from memtheory import Kernel, sweep
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.sweep import progress
from memtheory.theory.stability import PerturbationResult, perturbation_error, reference_betas, stability_summary
from memtheory.training import ReduceLROnPlateau, lf_dataset, reference_time_weights, train
from memtheory.verify import check_store, run_size

__all__ = ["RECIPE", "SIZES", "TARGET", "TABLE_BETAS", "divergence_radius",
           "float32_data", "initial_model", "reference_series", "series_sizes", "train_width"]

#: The reference's LF kernel "pol".
TARGET = "(1 + t/10)**(-11/10)"

#: The reference's training recipe (module docstring).
RECIPE = {"T": 100, "dt": 1.0, "lr": 0.01, "plateau_factor": 0.1, "plateau_patience": 10, "grad_clip": 0.5,
          "margin_weight": 0.01, "time_weights": "twe_MSE (((k+1)/(T+1))^2, the reference's)",
          "structure": "conjugated", "optimizer": "Adam (the reference's AdamW, weight decay 0)",
          "keep_best": "validation loss", "min_epochs": "2 (default / quick: about the same number of Adam steps)",
          "early_stopping": "after min_epochs, width m stops once its validation loss is below half the previous "
                            "width's best one (the first width: below 100)"}

#: The reference's first stopping threshold and the factor applied to each width's best validation loss.
FIRST_THRESHOLD, THRESHOLD_FACTOR = 100.0, 0.5

#: Sizes of the three runs; ``full`` is the reference's. ``approximates``: a width "approximates" when its
#: ``E_m(0)`` is below this fraction of the zero model's error (the test loss of ``y = 0``); relaxed for ``quick``,
#: whose 300 Adam steps on 256 sequences cannot reach the 5% of the longer runs.
SIZES = {
    "quick": {"widths": [8, 16], "n_train": 256, "n_val": 64, "n_test": 64, "min_epochs": 20, "epochs": 30,
              "batch_size": 16, "repeats": 3, "approximates": 0.25},
    "default": {"widths": [8, 16, 32], "n_train": 1024, "n_val": 256, "n_test": 128, "min_epochs": 30,
                "epochs": 60, "batch_size": 64, "repeats": 10, "approximates": 0.05},
    "full": {"widths": [8, 16, 32, 64], "n_train": 128000, "n_val": 12800, "n_test": 12800, "min_epochs": 2,
             "epochs": 1000, "batch_size": 512, "repeats": 30, "approximates": 0.05},
}

#: Radii shown in the comparison tables: beta = 0 and every sixth point of the reference grid.
TABLE_BETAS = (0.0, 1e-3, 8e-3, 0.064, 0.512)


def series_sizes(quick: bool, full: bool) -> dict:
    """The sizes of a run (:func:`memtheory.verify.run_size`: ``quick`` and ``full`` exclude each other), with its
    name under ``"size"``."""
    name = run_size(quick, full)
    return {"size": name, **SIZES[name]}


def float32_data(rho: Kernel, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LF data of ``rho`` (reference convention, ``T = 100``, ``dt = 1``) rounded to float32 as the reference
    stores them, returned in float64 for the float64 models."""
    ds = lf_dataset(rho, n, RECIPE["T"], RECIPE["dt"], seed=seed, convention="reference")
    return ds.x.astype(np.float32).astype(np.float64), ds.y.astype(np.float32).astype(np.float64)


def initial_model(activation: str, parameterisation: str, m: int, seed: int = 0) -> NonlinearRNN:
    """The untrained width-``m`` model of a series (the reference's initialisation, structure "conjugated")."""
    return NonlinearRNN.random(1, m, activation=activation, structure="conjugated",
                               parameterisation=parameterisation, dt=RECIPE["dt"], seed=np.random.default_rng([seed, m]))


def reference_series(activation: str, parameterisation: str, sizes: Mapping, seed: int = 0) -> dict:
    """Train one model per width with the recipe and measure its perturbation errors (module docstring).

    The widths train one after the other, not as a sweep (:func:`memtheory.training.series.train_series`): the
    reference's early stopping makes each width's stopping threshold depend on the previous width's loss.

    Parameters
    ----------
    activation : str
        ``"relu"``, ``"hardtanh"`` or ``"tanh"``.
    parameterisation : str
        ``"relu"`` (no reparameterisation) or ``"softplus"``.
    sizes : mapping
        One of :data:`SIZES` (widths, data sizes, epochs, batch size, draws).
    seed : int
        Seed of the data, the initialisations and the shuffling. Training runs on one numba thread: the BPTT
        gradient sums per-thread chunks, so a thread count of its own would make the trained models (and the
        numbers the docs quote) depend on the machine's cores.

    Returns
    -------
    dict
        ``results`` ({m: PerturbationResult}), ``models``, ``summary`` (:func:`stability_summary` as a dict), and
        per width ``E0``, ``val_loss`` (best epoch), ``final_val_loss`` (last epoch), ``threshold`` (its stopping
        threshold), ``epochs_run``, ``best_epoch``, ``margin`` (smallest rate of ``W_+``), ``seconds`` (training) and
        ``divergence_radius`` (:func:`divergence_radius`); ``trivial_error`` (the zero model's test loss) and
        ``relative_E0`` (``E_m(0)`` divided by it).
    """
    out: dict = {"widths": list(sizes["widths"]), "E0": [], "val_loss": [], "epochs_run": [], "best_epoch": [],
                 "margin": [], "seconds": [], "threshold": [], "final_val_loss": [], "results": {}, "models": {}}
    threshold = FIRST_THRESHOLD
    steps = progress.Steps(len(sizes["widths"]))
    for m in sizes["widths"]:
        point = {"activation": activation, "parameterisation": parameterisation, "m": int(m), "seed": int(seed),
                 "threshold": float(threshold),
                 "sizes": {k: v for k, v in sizes.items() if k not in ("size", "widths", "approximates")}}
        with steps.step():  # one point, kept in the run's store (--store) so that a killed --full run resumes
            width = sweep.run(train_width, [point], backend="serial",
                              store=check_store(f"{activation}-{parameterisation}-{m}")).values[0]
        if isinstance(width, sweep.PointError):  # the width's own error, as if it had run here
            if width.exception is not None:
                raise width.exception
            raise RuntimeError(f"reference_series: width {m} failed: {width.error}")
        model, res, best = width["model"], width["result"], width["val_loss"]
        out["threshold"].append(threshold)
        out["final_val_loss"].append(width["final_val_loss"])
        threshold = THRESHOLD_FACTOR * best  # its train.py re-validates the best checkpoint and halves that loss
        out["results"][m] = res
        out["models"][m] = model
        out["E0"].append(float(res.errors[0]))
        out["val_loss"].append(best)
        out["epochs_run"].append(width["epochs_run"])
        out["best_epoch"].append(width["best_epoch"])
        out["margin"].append(float(model.rates()[0].min()) + 0.0)  # + 0.0: no "-0" for a clamped rate
        out["seconds"].append(width["seconds"])
    _series_data.cache_clear()  # a full series' data are about 250 MB: not kept once its widths are done
    out["summary"] = stability_summary(out["results"]).to_dict()
    out["trivial_error"] = float(out["results"][sizes["widths"][0]].trivial_error)
    out["divergence_radius"] = [divergence_radius(out["results"][m]) for m in sizes["widths"]]
    out["relative_E0"] = [e / out["trivial_error"] for e in out["E0"]]
    return out


@functools.lru_cache(maxsize=2)
def _series_data(n_train: int, n_val: int, n_test: int, seed: int) -> tuple:
    """Training, validation and test data of a series (float32-rounded, :func:`float32_data`), built once per
    process for the widths of a series."""
    rho = Kernel(TARGET)
    return (float32_data(rho, n_train, seed=3 * seed), float32_data(rho, n_val, seed=3 * seed + 1),
            float32_data(rho, n_test, seed=3 * seed + 2))


def train_width(point: Mapping) -> dict:
    """One width of :func:`reference_series`: train with the recipe down to the point's stopping ``threshold``,
    then measure the perturbation errors.

    ``point`` holds ``activation``, ``parameterisation``, ``m``, ``seed``, ``threshold`` and ``sizes`` (one of
    :data:`SIZES`); a :mod:`memtheory.sweep` point, so that a store keeps each finished width. Returns the trained
    ``model``, its ``result`` (:class:`PerturbationResult`), ``val_loss`` (best epoch), ``final_val_loss`` (last
    epoch), ``epochs_run``, ``best_epoch`` and ``seconds`` (training). Progress: the epochs are 4/5 of the
    point, the radii the rest.
    """
    sizes, m, seed, threshold = point["sizes"], int(point["m"]), int(point["seed"]), float(point["threshold"])
    data, val, test = _series_data(sizes["n_train"], sizes["n_val"], sizes["n_test"], seed)
    tw = reference_time_weights(RECIPE["T"])
    model = initial_model(point["activation"], point["parameterisation"], m, seed)
    final = []

    def stop_below(epoch, loss, current):  # the reference's stopping_threshold
        final.append(current.loss(val[0], val[1], tw))
        return bool(epoch + 1 >= sizes["min_epochs"] and final[-1] < threshold)

    with progress.part(0.0, 0.8):  # epoch by epoch (train reports each)
        fit = train(model, data, epochs=sizes["epochs"], batch_size=sizes["batch_size"], lr=RECIPE["lr"],
                    seed=np.random.default_rng([seed, m]), progress=False, n_threads=1, time_weights=tw,
                    grad_clip=RECIPE["grad_clip"], val_data=val,
                    keep_best=True, margin_weight=RECIPE["margin_weight"], callback=stop_below,
                    plateau=ReduceLROnPlateau(RECIPE["lr"], factor=RECIPE["plateau_factor"],
                                              patience=RECIPE["plateau_patience"]))
    with progress.part(0.8, 1.0):  # radius by radius
        res = perturbation_error(model, test, reference_betas(), repeats=sizes["repeats"], definition="reference",
                                 norm="twe_mse", seed=seed)
    return {"model": model, "result": res, "val_loss": float(fit.val_history[fit.best_epoch]),
            "final_val_loss": float(final[-1]), "epochs_run": int(fit.epochs), "best_epoch": int(fit.best_epoch),
            "seconds": float(fit.seconds)}


def divergence_radius(result: PerturbationResult, factor: float = 1e6) -> float:
    """Smallest radius at which ``E_m(beta)`` exceeds ``factor`` times the zero model's error (the perturbed
    recurrence diverges: a rate pushed across the stability boundary grows like ``e^{beta T}``, beyond any
    approximation error); ``inf`` when no radius of the grid does."""
    over = np.nonzero(~(result.errors <= factor * result.trivial_error))[0]
    return float(result.betas[over[0]]) if over.size else math.inf


