r"""Perturbation error ``E_m(beta)`` and the stable-approximation diagnostics of [IAT] (docs/theory.md §5).

Definitions
-----------
``E_m(beta) = sup_{|theta~ - theta_m|_2 <= beta} ||H - H_hat(.; theta~)||`` with ``theta = (W, U, b, c)`` and
``|theta|_2 = max(|W|_2, |U|_2, |b|_2, |c|_2)`` (every tensor moves in its own spectral-norm ball). An
approximation is ``beta_0``-stable when the errors go to 0 and ``E(beta) = limsup_m E_m(beta)`` is continuous
on ``[0, beta_0]``; it is unstable when ``E(0) = 0`` but ``E(beta) -> E(0+) > 0``, which shows as ``E_m`` curves
whose crossings move to smaller ``beta`` as the width ``m`` grows.

:func:`perturbation_error` evaluates it two ways:

* ``definition="paper"``: the supremum over the ball is replaced by a maximum over ``repeats`` sampled points
  on its boundary (each tensor moved by a Gaussian direction scaled to spectral norm ``beta``; the same
  directions at every ``beta``) plus, with ``include_shift``, the deterministic point ``W -> W + beta I`` (every
  eigenvalue of the continuous-time matrix moved by ``beta`` towards instability, the worst case for
  stability). A diagonal model is perturbed inside its structure (``W`` diagonal, whose spectral norm is the
  max-abs of the diagonal) unless ``structure="full"``.
* ``definition="reference"`` (github.com/radarFudan/Curse-of-memory ``src/perturb.py``): every parameter tensor
  gets Gaussian noise rescaled to max-abs ``beta`` (seeds ``0..repeats-1``, the same at every ``beta``; one
  repeat for ``beta <= 1e-5``); the reported error is the running maximum over the repeats *and over all
  smaller* ``beta``. With the ``"relu"`` parameterisation the reference evaluates in eval mode, where the ReLU
  projection is replaced by the identity after a final projection, so perturbed rates can become negative:
  reproduced by converting the model to the ``"direct"`` parameterisation first.

The error ``||H - H_hat||`` is

* ``norm="l2"``: the exact ``J = ||rho - rho_hat||_{L^2}^2`` of a linear model (closed form,
  :func:`memtheory.l2_loss`), the expected squared output error under white noise (Ito isometry); ``inf`` for a
  perturbed model that is not Hurwitz;
* ``norm="mse"`` / ``"twe_mse"``: the mean squared error on a test set (the reference's time-weighted
  ``twe_MSE`` for the latter), with non-finite outputs counted as ``inf``;
* ``norm="sup"`` / ``"w1"``: the paper's norms (:mod:`memtheory.theory.error_norms`): the functional sup-norm
  ``sup_{|x|_inf <= 1} sup_t |H_t - H_hat_t|`` of [IAT] Definition 3.5 and the W^1 norm of its Theorem 3.9.
  Exact for a linear model and a Kernel target (``||e||_1`` and ``||e||_1 + |e(0)| + ||e'||_1`` of the error
  kernel ``e``, by quadrature); otherwise sampled on a test set whose inputs have ``|x|_inf <= 1`` (data of a
  linear functional, generated white noise or an ``LFDataset``, have every sequence rescaled to ``|x|_inf = 1``
  with its targets, exact by linearity; an ``(x, y)`` pair must already satisfy it).

Parameters of linear models: a :class:`~memtheory.models.DiagonalRNN` ``(a, w)`` is read as ``W = -diag(w)``,
``U = u``, ``c`` with the balanced split ``u_i = sqrt|a_i|``, ``c_i = sign(a_i) sqrt|a_i|``; with a
``parameterisation`` ``f`` the raw parameters ``v_i`` with ``f(v_i) = -w_i`` are perturbed instead (the stable
reparameterisations of [IAT] §4 / [SSSM]). Linear RNNs have no bias ``b``.

:func:`stability_summary` turns curves for several widths into the diagnostics: the stable radius of each
curve (the largest ``beta`` up to which ``E_m`` stays below the error of the zero model), whether the radii
share a common value or shrink with ``m``, and where consecutive curves cross.

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks. ICLR 2024
(arXiv 2305.19190), Definitions 3.5-3.7 and Figure 1. [SSSM] S. Wang, Q. Li. StableSSM. ICML 2024.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ..display import Displayable
from .._validation import as_grid, check_int
from ..errors import InvalidArgumentError, NotHurwitzError, PrecisionError
from ..kernels.kernel import Kernel
from ..losses import l2_loss
from ..models.functional import LinearFunctional, causal_convolution
from ..models.linear import DiagonalRNN, LinearRNN
from ..models.nonlinear import NonlinearRNN
from ..models.reparam import Parameterisation, get_parameterisation
from ..training import LFDataset, lf_dataset, reference_time_weights
from .error_norms import PAPER_NORMS, linear_error_norm, sampled_error_norm

__all__ = [
    "DEFINITIONS",
    "NORMS",
    "PerturbationResult",
    "StabilitySummary",
    "perturbation_error",
    "perturbation_errors",
    "reference_betas",
    "stability_summary",
]

DEFINITIONS = ("paper", "reference")
NORMS = ("auto", "l2", "mse", "twe_mse", *PAPER_NORMS)
_REFERENCE_SMALL_BETA = 1e-5  # the reference code draws one repeat at or below this perturbation
_TINY = 1e-300


def reference_betas(n: int = 21, interval: float = 0.5, include_zero: bool = True) -> np.ndarray:
    """The reference code's grid ``{0} U {1e-3 * 2^(i * interval), i = 0..n-1}`` (its runs: 21, 0.5)."""
    b = 1e-3 * 2.0 ** (np.arange(n) * interval)
    return np.concatenate([[0.0], b]) if include_zero else b


# =========================================================================== results


@dataclass(frozen=True, repr=False)
class PerturbationResult(Displayable):
    """Perturbation-error curve of one model.

    Attributes
    ----------
    betas : ndarray
        Perturbation radii, ascending.
    errors : ndarray
        ``E(beta)``: maximum over the draws at each radius ("paper"), or running maximum over draws and smaller
        radii ("reference"). ``inf`` where a draw was unstable (exact norm) or diverged.
    samples : ndarray (n_betas, n_draws)
        Error of every draw (``nan`` where no draw was made).
    unstable_fraction : ndarray
        Fraction of the draws at each radius that were unstable / non-finite.
    definition, norm : str
    repeats : int
        Random draws per radius.
    trivial_error : float
        Error of the zero model (``||rho||^2`` or the test set's mean squared target): the stability threshold.
    width : int
        Width ``m`` of the model.
    details : dict
        Settings (structure, parameterisation, test-set size, ``include_shift``...).
    """

    betas: np.ndarray
    errors: np.ndarray
    samples: np.ndarray
    unstable_fraction: np.ndarray
    definition: str
    norm: str
    repeats: int
    trivial_error: float
    width: int
    details: dict = field(default_factory=dict)

    def stable_radius(self, threshold: float | None = None) -> float:
        """Largest ``beta`` of the grid up to which ``E(beta') <= threshold`` for every ``beta' <= beta``.

        ``threshold`` defaults to :attr:`trivial_error` (an error above the zero model's means the perturbed
        model is useless). Returns 0 if even ``E(betas[0])`` exceeds it; the largest grid value if none does
        (then the radius is only bounded below, see :meth:`radius_is_lower_bound`).
        """
        thr = self.trivial_error if threshold is None else float(threshold)
        bad = ~(np.isfinite(self.errors) & (self.errors <= thr))
        if not bad.any():
            return float(self.betas[-1])
        j = int(np.argmax(bad))
        return float(self.betas[j - 1]) if j > 0 else 0.0

    def radius_is_lower_bound(self, threshold: float | None = None) -> bool:
        """True when no radius of the grid exceeded the threshold."""
        thr = self.trivial_error if threshold is None else float(threshold)
        return bool(np.all(np.isfinite(self.errors) & (self.errors <= thr)))

    def to_dict(self) -> dict:
        """JSON-ready dict (``inf`` as ``null``)."""
        return {"betas": self.betas.tolist(), "errors": _json_list(self.errors),
                "unstable_fraction": self.unstable_fraction.tolist(), "definition": self.definition,
                "norm": self.norm, "repeats": self.repeats, "trivial_error": self.trivial_error,
                "width": self.width, "stable_radius": self.stable_radius(), "details": dict(self.details)}

    def plot(self, ax=None, label: str | None = None, **kwargs: Any):
        """Log-log plot of ``E(beta)``; unstable radii are drawn at the top of the axes as crosses."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3.5))
        b = np.where(self.betas > 0, self.betas, np.nan)
        e = np.where(np.isfinite(self.errors) & (self.errors > 0), self.errors, np.nan)
        line, = ax.loglog(b, e, marker=".", label=label or f"m = {self.width}", **kwargs)
        inf = ~np.isfinite(self.errors) & (self.betas > 0)
        if inf.any():
            top = np.nanmax(e) * 10 if np.isfinite(np.nanmax(e)) else 1.0
            known = ax.get_legend_handles_labels()[1]
            mark = "unstable: $E = \\infty$ (drawn at the top)"
            ax.scatter(self.betas[inf], np.full(inf.sum(), top), marker="x", color=line.get_color(),
                       label=mark if mark not in known else "_nolegend_")
        ax.set_xlabel(r"perturbation $\beta$")
        ax.set_ylabel(r"$E_m(\beta)$")
        return ax


@dataclass(frozen=True, repr=False)
class StabilitySummary(Displayable):
    """Diagnostics of perturbation-error curves over widths (see :func:`stability_summary`).

    Attributes
    ----------
    widths : list of int
    betas : ndarray
    errors : ndarray (n_widths, n_betas)
    radii : list of float
        Stable radius of each curve (:meth:`PerturbationResult.stable_radius`).
    radii_lower_bound : list of bool
        Whether the radius is only a lower bound (no blow-up on the grid).
    common_radius : float or None
        ``min(radii)`` when ``max/min <= common_factor``, else None.
    radii_shrink : bool
        ``radius(largest m) < radius(smallest m) / shrink_factor``.
    crossings : list of dict
        ``{"m_small", "m_large", "beta"}`` for consecutive widths: where the larger model's curve first
        reaches the smaller one's (``beta`` None: no crossing on the grid; 0.0: not ordered at the first radius).
    crossings_move_left : bool or None
        The crossing radii (those found, in order of ``m``) decrease: Spearman rank correlation with ``m`` at most
        -0.5 (with 3 or more crossings) and the last below half the first; None with fewer than 2 crossings.
    ordered_fraction : float
        Fraction of (radius, consecutive pair) with ``E_{m'} <= E_m`` for ``m' > m``.
    approximation_improves : bool
        ``E_m(0)`` decreases with ``m`` (first vs last by at least a factor 2, or all below ``1e-12`` of the zero
        model's error).
    verdict : str
        ``"unstable"`` (radii shrink and crossings move left), ``"stable"`` (common radius, no left-moving
        crossings) or ``"undecided"``.
    reason : str
    """

    widths: list
    betas: np.ndarray
    errors: np.ndarray
    radii: list
    radii_lower_bound: list
    common_radius: float | None
    radii_shrink: bool
    crossings: list
    crossings_move_left: bool | None
    ordered_fraction: float
    approximation_improves: bool
    verdict: str
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"widths": list(self.widths), "betas": self.betas.tolist(),
                "errors": [_json_list(r) for r in self.errors], "radii": list(self.radii),
                "radii_lower_bound": list(self.radii_lower_bound), "common_radius": self.common_radius,
                "radii_shrink": self.radii_shrink, "crossings": list(self.crossings),
                "crossings_move_left": self.crossings_move_left, "ordered_fraction": self.ordered_fraction,
                "approximation_improves": self.approximation_improves, "verdict": self.verdict,
                "reason": self.reason}


def _json_list(a: np.ndarray) -> list:
    return [float(x) if math.isfinite(x) else None for x in np.asarray(a, dtype=float)]


# =========================================================================== perturbation error


def perturbation_error(
    model: Any,
    target: Any,
    betas: Any,
    repeats: int = 30,
    norm: str = "auto",
    definition: str = "paper",
    seed: int = 0,
    *,
    parameterisation: str | Parameterisation | None = None,
    structure: str = "auto",
    include_shift: bool = True,
    tensors: Sequence[str] | None = None,
    test_data: Any = None,
    n_test: int = 1000,
    T: int = 100,
    dt: float | None = None,
    convention: str = "reference",
    time_weights: Any = None,
    test_seed: int = 12345,
    lags: Any = None,
) -> PerturbationResult:
    """Perturbation error ``E_m(beta)`` of a model approximating a target (module docstring).

    Parameters
    ----------
    model : DiagonalRNN, LinearRNN or NonlinearRNN
        The trained / fitted model ``theta_m``.
    target : Kernel, LinearFunctional, callable rho, LFDataset or (x, y)
        The target functional (a kernel) or a test set.
    betas : array_like
        Radii ``>= 0`` (sorted internally; include 0 for the unperturbed error).
    repeats : int
        Random draws per radius.
    norm : {"auto", "l2", "mse", "twe_mse", "sup", "w1"}
        ``"auto"``: ``"l2"`` for a linear model and a Kernel target, else ``"twe_mse"`` for the reference
        definition and ``"mse"`` for the paper's. ``"sup"`` and ``"w1"`` are the paper's norms (exact for a
        linear model and a Kernel target without ``test_data``, else sampled; module docstring).
    definition : {"paper", "reference"}
        Spectral-norm ball (sampled, plus the eigenvalue shift) or the reference code's max-abs noise with
        running maximum.
    seed : int
        Seed of the perturbation directions (draw ``r`` uses ``(seed, r)`` at every radius).
    parameterisation : str or Parameterisation, optional
        Linear diagonal models only: perturb raw ``v`` with eigenvalues ``f(v)`` (continuous-time maps).
    structure : {"auto", "diagonal", "full"}
        Perturbation of a DiagonalRNN's ``W`` (``"auto"`` = ``"diagonal"``); LinearRNN and the paper definition
        for NonlinearRNN always perturb the full matrix.
    include_shift : bool
        Paper definition: also evaluate ``W -> W + beta I`` (continuous-time convention; for a residual model
        ``W_+ -> W_+ - beta I``).
    tensors : sequence of str, optional
        Perturb only these parameter tensors (default all): ``"W"`` (for a diagonal model its diagonal or the raw
        ``v``), ``"U"``, ``"b"``, ``"c"``; for the reference definition of a NonlinearRNN its raw names
        (``"w"``, ``"P"``, ``"W"``, ``"U"``, ``"b"``, ``"c"``, ``"c0"``).
    test_data, n_test, T, dt, convention, test_seed
        Test set for the sampled norms: given, or ``lf_dataset(target, n_test, T, dt, test_seed, convention)``
        (``dt`` defaults to the model's for a NonlinearRNN, else 1).
    time_weights : array (T,), optional
        Loss weights of ``"mse"`` (``"twe_mse"`` uses the reference's; not for ``"sup"`` / ``"w1"``).
    lags : array_like, optional
        ``norm="sup"`` of a linear model: the exact norm of the discrete functional on these lags
        (:func:`memtheory.theory.error_norms.linear_error_norm`), e.g. the paper's grid ``t = 1..100``.

    Returns
    -------
    PerturbationResult

    Raises
    ------
    InvalidArgumentError
        Negative or non-finite ``beta``, unknown definition / norm / structure, mismatched shapes, a norm that
        does not apply to the model, test inputs beyond ``|x|_inf <= 1`` for ``"sup"`` / ``"w1"``.
    NotHurwitzError
        The unperturbed linear model is unstable.

    Examples
    --------
    >>> import memtheory as mt
    >>> from memtheory.theory.stability import perturbation_error
    >>> res = perturbation_error(mt.DiagonalRNN([1.0], [1.0]), mt.kernels.exponential(1.0), [0, 0.5, 2], repeats=4)
    >>> float(res.errors[0]), bool(res.errors[-1] == float("inf"))
    (0.0, True)
    """
    if definition not in DEFINITIONS:
        raise InvalidArgumentError(f"definition: unknown {definition!r}; allowed: {', '.join(DEFINITIONS)}")
    if norm not in NORMS:
        raise InvalidArgumentError(f"norm: unknown {norm!r}; allowed: {', '.join(NORMS)}")
    if structure not in ("auto", "diagonal", "full"):
        raise InvalidArgumentError(f"structure: unknown {structure!r}; allowed: auto, diagonal, full")
    bs = _betas(betas)
    seed = check_int("seed", seed, lo=0)
    if not (isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool) and repeats >= 1):
        raise InvalidArgumentError(f"repeats: must be an integer >= 1, got {repeats!r}")
    linear = isinstance(model, (DiagonalRNN, LinearRNN))
    if not linear and not isinstance(model, NonlinearRNN):
        raise InvalidArgumentError(f"model: must be a DiagonalRNN, LinearRNN or NonlinearRNN, got {type(model).__name__}")
    if norm == "auto":
        if linear and _kernel_of(target) is not None:
            norm = "l2"
        else:
            norm = "twe_mse" if definition == "reference" else "mse"
    evaluator = _Evaluator(model, target, norm, test_data, n_test, T, dt, convention, time_weights, test_seed, lags)
    adapter = _adapter(model, definition, structure, parameterisation)
    if tensors is not None:
        names = list(tensors)
        unknown = set(names) - set(adapter.tensors)
        if unknown or not names:
            raise InvalidArgumentError(f"tensors: unknown {sorted(unknown)} (or empty); this model has "
                                       f"{', '.join(adapter.tensors)}")
        adapter.active = set(names)
    include_shift = bool(include_shift and definition == "paper" and (adapter.active is None or "W" in adapter.active))
    draws = repeats + (1 if include_shift else 0)
    samples = np.full((bs.size, draws), np.nan)
    base = adapter.tensors
    from ..sweep import progress

    for j, beta in enumerate(bs):
        progress.report(j / bs.size)  # radius by radius (a no-op outside a sweep point)
        if beta == 0.0:
            samples[j, 0] = evaluator(adapter.build(base))
            continue
        n_rand = repeats if (definition == "paper" or beta > _REFERENCE_SMALL_BETA) else 1
        for r in range(n_rand):
            samples[j, r] = evaluator(adapter.build(adapter.perturb(base, beta, np.random.default_rng([seed, r]),
                                                                    definition)))
        if include_shift:
            samples[j, -1] = evaluator(adapter.build(adapter.shift(base, beta)))
    drawn = ~np.isnan(samples)
    per_beta = np.where(drawn, samples, -np.inf).max(axis=1)
    if definition == "reference":
        errors = np.maximum.accumulate(per_beta)
    else:
        errors = per_beta
    unstable = np.array([np.mean(~np.isfinite(s[d])) for s, d in zip(samples, drawn)])
    details = {"structure": adapter.structure, "parameterisation": adapter.par_name, "split": "balanced"
               if isinstance(model, DiagonalRNN) else None, "include_shift": include_shift,
               "seed": int(seed), "tensors": sorted(adapter.active) if adapter.active else "all",
               **evaluator.details}
    return PerturbationResult(bs, errors, samples, unstable, definition, norm, int(repeats),
                              float(evaluator.trivial), adapter.width, details)


def _betas(betas: Any) -> np.ndarray:
    bs = as_grid(betas, "betas", "list")
    if np.any(bs < 0):
        raise InvalidArgumentError(f"beta: a perturbation radius must be >= 0, got {float(bs[bs < 0][0])!r}")
    return np.unique(bs)


# --------------------------------------------------------------------------- error evaluation


def _kernel_of(target: Any) -> Kernel | None:
    if isinstance(target, Kernel):
        return target
    if isinstance(target, LinearFunctional) and isinstance(target.rho, Kernel):
        return target.rho
    return None


class _Evaluator:
    """Maps a candidate model (or None for an invalid / unstable one) to its error."""

    def __init__(self, model, target, norm, test_data, n_test, T, dt, convention, time_weights, test_seed, lags=None):
        self.norm = norm
        self.lags = None if lags is None else np.asarray(lags, dtype=float)
        self.linear = isinstance(model, (DiagonalRNN, LinearRNN))
        self.details: dict = {}
        self.exact = False
        if norm in PAPER_NORMS and self.linear and test_data is None and _kernel_of(target) is not None:
            if isinstance(model, LinearRNN) and model.d != 1:
                raise InvalidArgumentError(f"norm: the exact {norm!r} needs a scalar input (d = 1)")
            if time_weights is not None:
                raise InvalidArgumentError(f"time_weights: not used by the {norm!r} norm")
            self.rho = _kernel_of(target)
            self.exact = True
            self.trivial = _zero_model_norm(self.rho, norm, self.lags)
            self.details = {"evaluation": "exact (quadrature of the error kernel)" if lags is None else
                            f"exact (sum over {self.lags.size} lags)"}
            return
        if lags is not None:
            raise InvalidArgumentError("lags: only for norm 'sup' of a linear model and a Kernel target")
        if norm == "l2":
            rho = _kernel_of(target)
            if not self.linear or rho is None:
                raise InvalidArgumentError("norm: 'l2' (exact) needs a linear model and a Kernel target")
            if isinstance(model, LinearRNN) and model.d != 1:
                raise InvalidArgumentError("norm: 'l2' needs a scalar input (d = 1)")
            self.rho = rho
            self.trivial = float(rho.square_integral())
            return
        step = model.dt if isinstance(model, NonlinearRNN) else (1.0 if dt is None else dt)
        if isinstance(model, NonlinearRNN) and dt is not None and not math.isclose(dt, model.dt):
            raise InvalidArgumentError(f"dt: the model's step is {model.dt}, got {dt!r}")
        x, y = self._test_set(target, test_data, n_test, T, step, convention, test_seed, _input_dim(model))
        if norm in PAPER_NORMS:
            data = test_data if test_data is not None else target
            x, y = _unit_inputs(x, y, linear_data=not isinstance(data, (tuple, list)), norm=norm)
            if time_weights is not None:
                raise InvalidArgumentError(f"time_weights: not used by the {norm!r} norm")
        self.x, self.y, self.dt, self.convention = x, y, float(step), convention
        Tn = x.shape[1]
        if norm in PAPER_NORMS:
            self.tw = None
            self.trivial = sampled_error_norm(np.zeros_like(y), y, float(step), norm)
            self.details = {"evaluation": "sampled on the test set (|x|_inf <= 1)", "n_test": int(x.shape[0]),
                            "T": int(Tn), "dt": float(step), "convention": convention}
            return
        if norm == "twe_mse":
            if time_weights is not None:
                raise InvalidArgumentError("time_weights: 'twe_mse' uses the reference weights; use norm='mse'")
            tw = reference_time_weights(Tn)
        elif time_weights is None:
            tw = np.ones(Tn)
        else:
            tw = np.asarray(time_weights, dtype=float)
            if tw.shape != (Tn,) or not np.all(np.isfinite(tw)) or np.any(tw < 0):
                raise InvalidArgumentError(f"time_weights: must be {Tn} finite numbers >= 0")
        self.tw = tw
        self.trivial = float(np.mean(tw[None, :] * y**2))
        self.details = {"n_test": int(x.shape[0]), "T": int(Tn), "dt": float(step), "convention": convention}

    @staticmethod
    def _test_set(target, test_data, n_test, T, dt, convention, test_seed, d):
        data = test_data if test_data is not None else target
        if isinstance(data, LFDataset):
            return data.x, data.y
        if isinstance(data, (tuple, list)) and len(data) == 2:
            x = np.asarray(data[0], dtype=float)
            y = np.asarray(data[1], dtype=float)
            if x.ndim == 2:
                x = x[:, :, None]
            if x.ndim != 3 or y.shape != x.shape[:2] or x.shape[2] != d:
                raise InvalidArgumentError(f"test_data: x must be (n, T, {d}) and y (n, T); got {x.shape}, {y.shape}")
            return x, y
        rho = data.rho if isinstance(data, LinearFunctional) else data
        if not callable(rho):
            raise InvalidArgumentError(f"target: must be a Kernel, LinearFunctional, callable rho or a test set, "
                                       f"got {type(target).__name__}")
        ds = lf_dataset(rho, n_test, T, dt, seed=test_seed, convention=convention, input_dim=d)
        return ds.x, ds.y

    def __call__(self, cand) -> float:
        if cand is None:
            return math.inf
        if self.exact:
            try:
                return linear_error_norm(cand, self.rho, self.norm, lags=self.lags).value
            except NotHurwitzError:
                return math.inf
        if self.norm in PAPER_NORMS:
            out = self._outputs(cand)
            return math.inf if out is None else sampled_error_norm(out, self.y, self.dt, self.norm)
        if self.norm == "l2":
            try:
                J = float(l2_loss(cand, self.rho).loss)
            except NotHurwitzError:
                return math.inf
            except PrecisionError:  # beyond float64 (a rate within ~1e-300 of 0): mpmath, then float (inf)
                J = float(l2_loss(cand, self.rho, dps=30).loss)
            return max(J, 0.0)
        out = self._outputs(cand)
        if out is None or not np.all(np.isfinite(out)):
            return math.inf
        with np.errstate(over="ignore", invalid="ignore"):
            val = float(np.mean(self.tw[None, :] * (out - self.y) ** 2))
        return val if math.isfinite(val) else math.inf

    def _outputs(self, cand):
        if isinstance(cand, NonlinearRNN):
            with np.errstate(over="ignore", invalid="ignore"):
                return cand.forward(self.x)
        if isinstance(cand, LinearRNN) and not cand.is_hurwitz:
            return None
        lags = self.dt * np.arange(self.x.shape[1])
        if isinstance(cand, DiagonalRNN):
            kern = cand.kernel(lags)[:, None]
        else:
            kern = cand.kernel(lags).reshape(lags.size, -1)
        g = kern * self.dt if self.convention == "quadrature" else kern
        return causal_convolution(self.x, g)


def _zero_model_norm(rho: Kernel, norm: str, lags=None) -> float:
    """``sup`` / ``w1`` norm of the target itself (the error of the zero model)."""
    zero = DiagonalRNN([0.0], [1.0])
    return float(linear_error_norm(zero, rho, norm, lags=lags).value)


def _unit_inputs(x: np.ndarray, y: np.ndarray, linear_data: bool, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """Test inputs in the unit ball of the sup-norm: data of a linear functional (generated, or an LFDataset) are
    rescaled per sequence, an ``(x, y)`` pair must already lie in it (a nonlinear target cannot be rescaled)."""
    peak = np.max(np.abs(x), axis=(1, 2))
    if linear_data:
        scale = np.where(peak > 0, peak, 1.0)
        return x / scale[:, None, None], y / scale[:, None]
    if np.any(peak > 1.0 + 1e-12):
        raise InvalidArgumentError(f"test_data: the {norm!r} norm is defined over inputs with |x|_inf <= 1, got an "
                                   f"input of sup-norm {float(np.max(peak)):.6g}")
    return x, y


def _input_dim(model) -> int:
    if isinstance(model, NonlinearRNN):
        return model.input_dim
    if isinstance(model, LinearRNN):
        return model.d
    return 1


# --------------------------------------------------------------------------- parameter adapters


def _adapter(model, definition, structure, parameterisation):
    if parameterisation is not None and not isinstance(model, DiagonalRNN):
        raise InvalidArgumentError("parameterisation: only for a DiagonalRNN (a NonlinearRNN carries its own)")
    if isinstance(model, DiagonalRNN):
        if not model.is_real:
            raise InvalidArgumentError("model: a DiagonalRNN with complex modes; use its to_linear()")
        if structure == "full":
            if parameterisation is not None:
                raise InvalidArgumentError("parameterisation: needs structure 'diagonal'")
            return _FullLinear(_balanced_linear(model))
        return _DiagonalLinear(model, parameterisation)
    if isinstance(model, LinearRNN):
        if structure == "diagonal":
            raise InvalidArgumentError("structure: 'diagonal' needs a DiagonalRNN")
        model.require_hurwitz("the perturbation error")
        return _FullLinear(model)
    if definition == "paper":
        return _NonlinearPaper(model)
    return _NonlinearReference(model)


def _balanced_split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.sqrt(np.abs(a))
    return r.copy(), np.where(a < 0, -r, r)


def _balanced_linear(model: DiagonalRNN) -> LinearRNN:
    u, c = _balanced_split(model.a)
    return LinearRNN(np.diag(-model.w), u[:, None], c)


def _direction(g: np.ndarray, kind: str, definition: str) -> np.ndarray:
    """Unit direction of a Gaussian draw: spectral norm (paper) or max-abs (reference)."""
    if definition == "reference" or kind == "diag":
        n = np.max(np.abs(g))
    elif kind == "matrix":
        n = np.linalg.norm(g, 2)
    else:
        n = np.linalg.norm(g)
    return g / n if n > 0 else g


class _Adapter:
    tensors: dict
    kinds: dict
    structure: str = ""
    par_name: str | None = None
    width: int = 0

    active: set | None = None

    def perturb(self, base: dict, beta: float, rng: np.random.Generator, definition: str) -> dict:
        out = {}
        for name, val in base.items():
            g = rng.standard_normal(np.shape(val))  # drawn for every tensor: same directions whatever is active
            if self.active is None or name in self.active:
                out[name] = val + beta * _direction(np.asarray(g), self.kinds[name], definition)
            else:
                out[name] = val
        return out


class _DiagonalLinear(_Adapter):
    """DiagonalRNN as ``(W diagonal or raw v, U, c)``; candidates are DiagonalRNNs (None if unstable)."""

    def __init__(self, model: DiagonalRNN, parameterisation):
        u, c = _balanced_split(model.a)
        self.width = model.m
        self.structure = "diagonal"
        if parameterisation is None:
            self.par = None
            rec = -model.w.copy()  # diagonal of the continuous-time W
        else:
            self.par = get_parameterisation(parameterisation)
            if self.par.kind != "continuous":
                raise InvalidArgumentError(f"parameterisation: {self.par.name!r} is a discrete map; a continuous-"
                                           "time DiagonalRNN needs a continuous one (exp, softplus, best, direct...)")
            rec = np.array([_invert(self.par, -wi) for wi in model.w])
        self.par_name = None if self.par is None else self.par.name
        self.tensors = {"W": rec, "U": u, "c": c}
        self.kinds = {"W": "diag", "U": "vector", "c": "vector"}

    def build(self, p: dict):
        lam = p["W"] if self.par is None else self.par(p["W"])
        if not np.all(np.isfinite(lam)) or np.any(lam >= 0):
            return None
        return DiagonalRNN(p["U"] * p["c"], -lam)

    def shift(self, base: dict, beta: float) -> dict:
        out = dict(base)
        if self.par is None:
            out["W"] = base["W"] + beta
        else:  # the raw move of size beta that raises each eigenvalue most
            up = self.par(base["W"] + beta)
            down = self.par(base["W"] - beta)
            out["W"] = np.where(up >= down, base["W"] + beta, base["W"] - beta)
        return out


class _FullLinear(_Adapter):
    """LinearRNN ``(W, U, c)``; candidates are LinearRNNs (None if not Hurwitz)."""

    def __init__(self, model: LinearRNN):
        self.width = model.m
        self.structure = "full"
        self.tensors = {"W": np.array(model.W), "U": np.array(model.U), "c": np.array(model.c)}
        self.kinds = {"W": "matrix", "U": "matrix", "c": "vector"}

    def build(self, p: dict):
        cand = LinearRNN(p["W"], p["U"], p["c"])
        return cand if cand.is_hurwitz else None

    def shift(self, base: dict, beta: float) -> dict:
        return {**base, "W": base["W"] + beta * np.eye(base["W"].shape[0])}


class _NonlinearPaper(_Adapter):
    """NonlinearRNN as ``theta = (W_+, U, b, c)`` of its full form (``c_0`` is not part of theta)."""

    def __init__(self, model: NonlinearRNN):
        self.model = model.to_full()
        self.width = model.width
        self.structure = "full"
        self.par_name = model.parameterisation.name if model.structure != "full" else None
        self.tensors = {k: v for k, v in self.model.get_params().items() if k in ("W", "U", "b", "c")}
        self.kinds = {"W": "matrix", "U": "matrix", "b": "vector", "c": "vector"}

    def build(self, p: dict):
        cand = self.model.copy()
        cand.set_params(p)
        return cand

    def shift(self, base: dict, beta: float) -> dict:
        return {**base, "W": base["W"] - beta * np.eye(base["W"].shape[0])}


class _NonlinearReference(_Adapter):
    """NonlinearRNN raw tensors (the reference perturbs every ``nn.Parameter``); ReLU rates -> direct."""

    def __init__(self, model: NonlinearRNN):
        m = model.copy()
        if m.structure != "full" and m.parameterisation.name == "relu":
            r, _ = m.rates()
            m = NonlinearRNN(m.U, m.b, m.c, w=-r, P=getattr(m, "P", None), activation=m.activation,
                             parameterisation="direct", dt=m.dt,
                             output_bias=float(m.c0) if m.has_output_bias else None)
        self.model = m
        self.width = model.width
        self.structure = m.structure
        self.par_name = m.parameterisation.name if m.structure != "full" else None
        self.tensors = m.get_params()
        self.kinds = {k: "matrix" if np.ndim(v) == 2 else "vector" for k, v in self.tensors.items()}

    def build(self, p: dict):
        if "w" in p and not self.model.parameterisation.in_domain(p["w"]):
            return None
        cand = self.model.copy()
        cand.set_params(p)
        return cand


def _invert(par: Parameterisation, lam: float) -> float:
    """Raw ``v`` with ``f(v) = lam`` for a monotone continuous map (closed forms, else bracketing)."""
    name = par.name
    if name == "direct":
        return float(lam)
    if not (lam < 0):
        raise InvalidArgumentError(f"parameterisation: eigenvalue {lam} is not stable (< 0)")
    if name == "exp":
        return math.log(-lam)
    if name == "softplus":
        return math.log(math.expm1(-lam))
    if name == "best":
        q = -1.0 / lam  # a v^2 + b
        if q < par.b:
            raise InvalidArgumentError(f"parameterisation: rate {-lam} exceeds 1/b = {1 / par.b} of the 'best' map")
        return math.sqrt((q - par.b) / par.a)
    lo, hi = par.spec.value_range
    if not (lo < lam < hi):
        raise InvalidArgumentError(f"parameterisation: eigenvalue {lam} outside the range {par.spec.value_range}")
    f = lambda v: float(par(np.array([v]))[0]) - lam  # noqa: E731
    a, b = -1.0, 1.0
    while f(a) * f(b) > 0 and b < 1e6:
        a, b = 2 * a, 2 * b
    return brentq(f, a, b, xtol=1e-14)


# =========================================================================== the grid over widths
def _perturbation_point(models: Mapping[int, Any], target: Any, betas: np.ndarray, kwargs: dict,
                        point: dict) -> PerturbationResult:
    """One width of :func:`perturbation_errors` (module level, so that worker processes can run it)."""
    return perturbation_error(models[point["m"]], target, betas, **kwargs)


def perturbation_errors(models: Mapping[int, Any], target: Any, betas: Any, *, workers: int | None = 1,
                        backend: Any = "processes", store: Any = None, progress: bool = False,
                        **kwargs: Any) -> dict[int, PerturbationResult]:
    """:func:`perturbation_error` of several models (one per width), as one sweep (:func:`memtheory.sweep.run`).

    Parameters
    ----------
    models : mapping
        ``{m: model}``.
    target, betas :
        As in :func:`perturbation_error`.
    workers : int or None
        Local worker processes (default 1: this process; None: all cores).
    backend : {"processes", "serial"}, str or distributed.Client
        Where the widths run (a Dask scheduler address or client: then ``workers`` is ignored).
    store : path, optional
        SQLite result store: each width is written when it finishes; a rerun computes only the missing ones.
    progress : bool
        Progress bar per width (stderr).
    **kwargs :
        Passed to :func:`perturbation_error` (repeats, definition, seed, parameterisation, tensors, ...).

    Returns
    -------
    dict
        ``{m: PerturbationResult}`` in the order of ``models``.

    Raises
    ------
    RuntimeError
        If a width fails (the others are computed, and stored when there is a store).
    """
    import functools
    import hashlib
    import pickle

    from .. import sweep

    if not models:
        raise InvalidArgumentError("perturbation_errors needs at least one model")
    b = _betas(betas)
    key = {"target": repr(target) if isinstance(target, Kernel) else type(target).__name__, "betas": b.tolist(),
           "options": {k: repr(v) for k, v in sorted(kwargs.items())},
           "models": {str(m): hashlib.sha256(pickle.dumps(model)).hexdigest() for m, model in models.items()}}
    local = isinstance(backend, str) and backend in ("processes", "serial")
    res = sweep.run(functools.partial(_perturbation_point, dict(models), target, b, dict(kwargs)),
                    [{"m": int(m)} for m in models], backend=backend, workers=workers if local else None,
                    store=store, key=key, weights=[float(m) for m in models], progress=progress, desc="perturb")
    res.raise_failures()
    return dict(zip(models, res.values))


# =========================================================================== summary over widths


def stability_summary(
    results: Mapping[int, PerturbationResult] | Sequence[PerturbationResult],
    *,
    threshold: float | None = None,
    common_factor: float = 2.0,
    shrink_factor: float = 4.0,
) -> StabilitySummary:
    """Stable radii, crossings and a verdict for perturbation-error curves of several widths.

    Parameters
    ----------
    results : mapping width -> PerturbationResult, or a sequence (widths from ``result.width``)
        Curves on the same ``betas``.
    threshold : float, optional
        Error above which a perturbed model counts as failed (default: each curve's ``trivial_error``).
    common_factor : float
        Radii within this factor of each other are "common".
    shrink_factor : float
        The radii "shrink" when the largest width's is below the smallest's divided by this.

    Returns
    -------
    StabilitySummary
    """
    items = sorted(results.items()) if isinstance(results, Mapping) else sorted((r.width, r) for r in results)
    if len(items) < 2:
        raise InvalidArgumentError("results: need curves for at least two widths")
    betas = items[0][1].betas
    for m, r in items:
        if r.betas.shape != betas.shape or not np.allclose(r.betas, betas):
            raise InvalidArgumentError(f"results: width {m} uses different betas")
    widths = [int(m) for m, _ in items]
    errors = np.array([r.errors for _, r in items])
    radii = [r.stable_radius(threshold) for _, r in items]
    lower = [r.radius_is_lower_bound(threshold) for _, r in items]
    rpos = [x for x in radii if x > 0]
    common = min(radii) if (rpos and len(rpos) == len(radii) and max(radii) / min(radii) <= common_factor) else None
    shrink = radii[-1] < radii[0] / shrink_factor
    crossings = [_crossing(betas, errors[i], errors[i + 1], widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
    found = [c["beta"] for c in crossings if c["beta"] is not None and c["beta"] > 0]
    move_left = None
    if len(found) >= 2:
        trend = _spearman(np.arange(len(found)), np.log(found)) if len(found) >= 3 else -1.0
        move_left = bool(trend <= -0.5 and found[-1] < found[0] / 2)
    ordered = _ordered_fraction(errors)
    e0 = errors[:, 0]
    triv = items[0][1].trivial_error
    improves = bool(np.all(e0 <= 1e-12 * triv) or (e0[-1] <= e0[0] / 2))
    if shrink and move_left:
        verdict = "unstable"
        reason = (f"radii shrink {radii[0]:.3g} -> {radii[-1]:.3g} as m grows {widths[0]} -> {widths[-1]}; "
                  f"crossings move left {[round(b, 8) for b in found]}")
    elif common is not None and not move_left and not shrink:
        verdict = "stable"
        reason = f"common stable radius {common:.3g} (radii {[float(f'{r:.3g}') for r in radii]}); no crossing moves left"
    else:
        verdict = "undecided"
        reason = f"radii {[float(f'{r:.3g}') for r in radii]}, crossings {found}, move left: {move_left}"
    return StabilitySummary(widths, betas, errors, radii, lower, common, bool(shrink), crossings, move_left,
                            ordered, improves, verdict, reason)


def _log(e: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(e, _TINY))


def _crossing(betas, e_small, e_large, m_small, m_large) -> dict:
    """Where ``E_{m_large}`` first reaches ``E_{m_small}`` (log-beta interpolation)."""
    out = {"m_small": m_small, "m_large": m_large, "beta": None}
    d = np.empty(betas.size)
    for j in range(betas.size):
        a, b = e_large[j], e_small[j]
        if not np.isfinite(a) and not np.isfinite(b):
            d[j] = np.nan
        elif not np.isfinite(a):
            d[j] = np.inf
        elif not np.isfinite(b):
            d[j] = -np.inf
        else:
            d[j] = _log(np.array([a]))[0] - _log(np.array([b]))[0]
    if not (d[0] < 0):
        out["beta"] = 0.0
        return out
    for j in range(1, betas.size):
        if np.isnan(d[j]):
            b0, b1 = betas[j - 1], betas[j]
            out["beta"] = float(b1 if b0 == 0 else math.sqrt(b0 * b1))
            return out
        if d[j] >= 0:
            b0, b1 = betas[j - 1], betas[j]
            if b0 == 0:
                out["beta"] = float(b1)
            elif not np.isfinite(d[j]) or not np.isfinite(d[j - 1]):
                out["beta"] = float(math.sqrt(b0 * b1))
            else:
                frac = -d[j - 1] / (d[j] - d[j - 1])
                out["beta"] = float(math.exp(math.log(b0) + frac * (math.log(b1) - math.log(b0))))
            return out
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(np.sum(rx**2) * np.sum(ry**2)))
    return float(np.sum(rx * ry) / den) if den > 0 else 0.0


def _ordered_fraction(errors: np.ndarray) -> float:
    ok = total = 0
    for i in range(errors.shape[0] - 1):
        for j in range(errors.shape[1]):
            a, b = errors[i, j], errors[i + 1, j]
            if not np.isfinite(a) and not np.isfinite(b):
                continue
            total += 1
            ok += int(b <= a * (1 + 1e-9))
    return ok / total if total else 1.0
