r"""Memory functions of targets and models, and the classification of their decay ([IAT] §3, docs/theory.md §5).

The memory function of a causal, time-homogeneous functional family ``H = {H_t}`` probes it with inputs that
switch at time 0 and measures how strongly the output still moves a time ``t`` later:

* ``"heaviside"`` (the paper's definition), ``u^x_t = x 1_{t >= 0}``:
  ``M(H)(t) = sup_{x != 0} |d/dt H_t(u^x)| / |x|_inf``;
* ``"impulse"``, a unit-mass pulse ``x delta_0``: ``M(H)(t) = sup_x |H_t(i^x) - H_t(0)| / |x|_inf``;
* ``"reversed"``, ``x 1_{t < 0}`` (input switched off at 0): ``M(H)(t) = sup_x |d/dt H_t| / |x|_inf``.

For a linear functional with kernel ``rho`` all three equal ``|rho(t)|_1`` (for ``d = 1``: ``|rho(t)|``), and
:func:`memory_function` returns that exactly for a :class:`~memtheory.kernels.Kernel`, a
:class:`~memtheory.models.LinearFunctional`, a :class:`~memtheory.models.DiagonalRNN` or a
:class:`~memtheory.models.LinearRNN` (``rho_hat(t) = c^T e^{Wt} U``; a non-Hurwitz ``W`` raises
:class:`~memtheory.errors.NotHurwitzError`).

Nonlinear models (:class:`~memtheory.models.nonlinear.NonlinearRNN`, the gated cells
:class:`~memtheory.models.gated.GRU` and :class:`~memtheory.models.gated.LSTM` and the state-space-form
:class:`~memtheory.models.ssm.SSM`, these three with ``dt = 1``) and black-box
callables are simulated on the sample grid ``t_k = k dt``. Conventions (the residual model's: ``y_k`` is the
output after reading ``x_k``):

* the model is first run for ``warmup`` steps with the pre-switch input (0, or ``x`` for ``"reversed"``) so
  that the state is at rest (``h_{-inf} = 0`` in the paper is the equilibrium of the zero-input dynamics,
  which differs from ``h = 0`` when the model has biases); the last warm-up output is ``y_{-1}``;
* a baseline sequence that never switches is simulated alongside and subtracted (it removes whatever
  transient the warm-up left);
* Heaviside / reversed: ``M(t_k) = |Delta_k| / (dt |x|_inf)`` with ``Delta_k = (y_k - y^0_k) - (y_{k-1} -
  y^0_{k-1})``; impulse (``x`` held for one step, i.e. mass ``x dt``): ``M(t_k) = |y_k - y^0_k| / (dt |x|_inf)``.
  For a linear residual model these equal ``|rho_disc(k dt)|``, its discrete kernel, exactly;
* the supremum over levels is a maximum over a stated set: a grid of amplitudes (default
  ``{1e-2, 10^-1.5, ..., 10}`` with both signs for ``d = 1``; sign vectors of ``{-1, 1}^d`` times the amplitudes
  for ``d > 1``) and, with ``method="optimise"``, a batched zoom in log-amplitude around each time's best
  level (``refine`` rounds, each halving the step);
* requested times between grid points are linearly interpolated.

Differences of outputs of size ``|y|`` cannot resolve ``M`` below about ``1e-16 |y|``: a memory function read that
way stops about 12 decades below its maximum, often before the slowest mode of the model dominates. A
:class:`~memtheory.models.nonlinear.NonlinearRNN` is therefore simulated on its pre-activations
(:meth:`~memtheory.models.nonlinear.NonlinearRNN.preactivations`, which keep their digits relative to their own
size as the state settles): ``Delta_k = dt c^T (sigma(z_k) - sigma(z^0_k))`` and ``y_k - y^0_k = c^T W_+^{-1}
(z^0_{k+1} - z_{k+1})``, the same numbers in exact arithmetic, resolved down to the underflow threshold. Its
:attr:`MemoryFunction.roundoff` carries an estimate of each value's round-off, and
:meth:`MemoryFunction.classify` fits the values above :data:`ROUNDOFF_MARGIN` times it (checked against a
110-digit step loop of the recurrence, 1e-56 deep).

``method="reference"`` reproduces the reference code (github.com/radarFudan/Curse-of-memory,
``src/memoryfunction.py``): one Gaussian level ``x ~ N(0, I_d)`` (numpy seed, not torch's), ``T = 1024`` steps
from ``h = 0`` without warm-up, values ``|y_{k+1} - y_k|`` at ``t = (k+1) dt`` (not divided by ``dt`` nor by
``|x|``).

:func:`classify_decay` fits ``log M = log C - lambda t`` (exponential) and ``log M = log C - p log(t + t0)``
(power law) to the upper envelope ``max_{s >= t} M(s)`` and gives a verdict.

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks. ICLR 2024
(arXiv 2305.19190), Definition of the memory function and Theorem 3.9.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np

from ..display import Displayable
from .._validation import as_generator, as_grid, check_array_size
from ..errors import InvalidArgumentError, NotHurwitzError, PrecisionError
from ..kernels.kernel import Kernel
from ..models.functional import LinearFunctional
from ..models.gated import GRU, LSTM
from ..models.linear import DiagonalRNN, LinearRNN
from ..models.nonlinear import NonlinearRNN, activation
from ..models.ssm import SSM

__all__ = [
    "KINDS",
    "METHODS",
    "ROUNDOFF_MARGIN",
    "VERDICTS",
    "DecayFit",
    "MemoryFunction",
    "classify_decay",
    "default_levels",
    "memory_function",
]

KINDS = ("heaviside", "impulse", "reversed")
METHODS = ("grid", "optimise", "reference")
VERDICTS = ("exponential", "power law", "not decaying", "undecided")

#: Values within this factor of their estimated round-off are not fitted (:meth:`MemoryFunction.classify`).
ROUNDOFF_MARGIN = 100.0
#: Relative resolution of memory functions read from differenced outputs: an impulse memory read from
#: pre-activations whose round-off reaches this fraction of its maximum (a very slow mode, ``W_+^{-1}`` large) is
#: read from the outputs instead.
DIFFERENCED_RESOLUTION = 1e-10
#: Default amplitudes of the level grid (log10 spacing 0.5).
DEFAULT_AMPLITUDES = 10.0 ** np.arange(-2.0, 1.01, 0.5)
_MAX_SIGN_VECTORS = 64


# =========================================================================== results


@dataclass(frozen=True, repr=False)
class MemoryFunction(Displayable):
    """A memory function sampled at times ``t``.

    Attributes
    ----------
    t : ndarray
        Times.
    values : ndarray
        ``M(t)``.
    kind : str
        ``"heaviside"``, ``"impulse"`` or ``"reversed"``.
    method : str
        ``"exact"`` (linear objects), ``"grid"``, ``"optimise"`` or ``"reference"``.
    exact : bool
        True for the closed form ``|rho(t)|``.
    dt : float or None
        Sample spacing of the simulation.
    levels : ndarray or None
        The input levels evaluated, shape ``(n, d)`` (the set the supremum is taken over).
    argmax_levels : ndarray or None
        For each time the level attaining the maximum, shape ``(len(t), d)``.
    details : dict
        Simulation settings (``steps``, ``warmup``, ``refine``, ``seed``...).
    roundoff : ndarray or None
        Estimated round-off error of each value, where the simulation knows it (a NonlinearRNN, simulated on its
        pre-activations: module docstring); None otherwise (exact values, black-box callables, gated cells, SSMs).
    """

    t: np.ndarray
    values: np.ndarray
    kind: str
    method: str
    exact: bool
    dt: float | None = None
    levels: np.ndarray | None = None
    argmax_levels: np.ndarray | None = None
    details: dict = field(default_factory=dict)
    roundoff: np.ndarray | None = None

    def classify(self, **kwargs: Any) -> DecayFit:
        """:func:`classify_decay` of these values; where the round-off of each value is known, the default floor is
        :data:`ROUNDOFF_MARGIN` times it (values resolved far below ``1e-12 max M`` then count)."""
        if "floor" not in kwargs and self.roundoff is not None:
            kwargs["floor"] = ROUNDOFF_MARGIN * self.roundoff
        return classify_decay(self.t, self.values, **kwargs)

    def to_dict(self) -> dict:
        """JSON-ready dict; the values are under ``"values"``."""
        out = {"t": self.t.tolist(), "values": self.values.tolist(), "kind": self.kind, "method": self.method,
               "exact": self.exact, "dt": self.dt, "details": dict(self.details)}
        if self.levels is not None:
            out["levels"] = self.levels.tolist()
            out["argmax_levels"] = self.argmax_levels.tolist()
        if self.roundoff is not None:
            out["roundoff"] = self.roundoff.tolist()
        return out

    def plot(self, ax=None, label: str | None = None, **kwargs: Any):
        """Semilog plot of ``M(t)`` (returns the axes)."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3.5))
        pos = self.values > 0
        ax.semilogy(self.t[pos], self.values[pos], label=label or f"{self.kind} ({self.method})", **kwargs)
        ax.set_xlabel("t")
        ax.set_ylabel("M(t)")
        return ax


@dataclass(frozen=True, repr=False)
class DecayFit(Displayable):
    """Exponential and power-law fits of a memory function and the verdict.

    Attributes
    ----------
    verdict : str
        ``"exponential"``, ``"power law"``, ``"not decaying"`` or ``"undecided"``.
    rate, log_prefactor_exp : float
        ``M ~ exp(log_prefactor_exp - rate t)``.
    exponent, log_prefactor_pow, shift : float
        ``M ~ exp(log_prefactor_pow) (t + shift)^(-exponent)``.
    r2_exp, r2_pow : float
        Coefficients of determination of the two fits (in ``log M``).
    rmse_exp, rmse_pow : float
        Root-mean-square residuals in ``log M`` (natural log).
    decades : float
        ``log10`` of the envelope's decay over the fitted range.
    n_points : int
        Points used (positive, above the floor).
    t_range : tuple of float
        First and last time used.
    reason : str
        Why the verdict was reached.
    """

    verdict: str
    rate: float
    log_prefactor_exp: float
    exponent: float
    log_prefactor_pow: float
    shift: float
    r2_exp: float
    r2_pow: float
    rmse_exp: float
    rmse_pow: float
    decades: float
    n_points: int
    t_range: tuple[float, float]
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["t_range"] = list(self.t_range)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


# =========================================================================== memory function


def default_levels(input_dim: int = 1, amplitudes: Any = None, seed: int | None = 0) -> np.ndarray:
    """The default level set, shape ``(n, d)``: ``+-`` amplitudes (``d = 1``) or sign vectors times amplitudes.

    For ``d > 1`` every vertex of ``{-1, 1}^d`` is used when there are at most 64, else 64 random ones
    (``seed``); the vertices are the extreme points of the ``|.|_inf`` unit ball.
    """
    amps = DEFAULT_AMPLITUDES if amplitudes is None else _positive_array(amplitudes, "amplitudes")
    d = int(input_dim)
    if d < 1:
        raise InvalidArgumentError(f"input_dim: must be >= 1, got {input_dim!r}")
    if d == 1:
        signs = np.array([[1.0], [-1.0]])
    elif 2**d <= _MAX_SIGN_VECTORS:
        grids = np.meshgrid(*([np.array([1.0, -1.0])] * d), indexing="ij")
        signs = np.stack([g.ravel() for g in grids], axis=1)
    else:
        rng = as_generator(seed)
        signs = rng.choice([-1.0, 1.0], size=(_MAX_SIGN_VECTORS, d))
    return (amps[:, None, None] * signs[None, :, :]).reshape(-1, d)


def memory_function(
    obj: Any,
    t: Any = None,
    kind: str = "heaviside",
    levels: Any = None,
    dt: float | None = None,
    *,
    method: str = "grid",
    refine: int = 4,
    warmup: int | None = None,
    T: int = 1024,
    input_dim: int | None = None,
    seed: int = 0,
    check_stability: bool = True,
) -> MemoryFunction:
    """Memory function ``M(H)(t)`` of a functional or a model ([IAT], docs/theory.md §5).

    Parameters
    ----------
    obj : Kernel, LinearFunctional, DiagonalRNN, LinearRNN, NonlinearRNN, GRU, LSTM, SSM or callable
        Linear objects give the exact ``|rho(t)|`` (``|.|_1`` over input channels). A callable is a black box
        mapping inputs ``(B, T)`` (``input_dim`` 1) or ``(B, T, d)`` to outputs ``(B, T)`` (or ``(B, T, p)``:
        the Euclidean norm over outputs is used), whose ``k``-th output has read inputs ``0..k``.
    t : array_like, optional
        Times ``>= 0``. Required for exact objects; for simulations the default is the whole grid
        (``k dt``, ``k < T``; reference method ``(k+1) dt``).
    kind : {"heaviside", "impulse", "reversed"}
        Test input (module docstring). All three coincide for linear functionals.
    levels : array_like, optional
        Input levels, shape ``(n,)`` (``d = 1``) or ``(n, d)``, nonzero. Default :func:`default_levels`.
    dt : float, optional
        Sample spacing: the model's ``dt`` for a NonlinearRNN (must match it if given), 1.0 for callables.
    method : {"grid", "optimise", "reference"}
        Supremum over the level set; the set plus a batched log-amplitude zoom (``refine`` rounds); or the
        reference code's single random level (module docstring).
    refine : int
        Zoom rounds of ``method="optimise"``.
    warmup : int, optional
        Steps of pre-switch input before time 0 (default: the number of evaluation steps); must be >= 1.
    T : int
        Steps of the reference method (default 1024, the reference code's).
    input_dim : int, optional
        Input dimension of a callable (default 1).
    seed : int
        Seed of the reference level (and of random sign vectors for ``d > 64``).
    check_stability : bool
        For a NonlinearRNN raise :class:`NotHurwitzError` unless ``W = -W_+`` is Hurwitz and the residual
        step ``I - dt W_+`` is Schur stable (the linearisation at the origin with slope 1).

    Returns
    -------
    MemoryFunction

    Raises
    ------
    NotHurwitzError
        Unstable linear model, nonlinear model failing the stability check, or a simulation that diverged.
    InvalidArgumentError
        Unknown kind or method, negative or non-finite times, bad levels, mismatched shapes.

    Examples
    --------
    >>> import memtheory as mt
    >>> from memtheory.theory.memory import memory_function
    >>> memory_function(mt.Kernel("exp(-t)"), [0.0, 1.0]).values.round(4).tolist()
    [1.0, 0.3679]
    """
    if kind not in KINDS:
        raise InvalidArgumentError(f"kind: unknown {kind!r}; allowed: {', '.join(KINDS)}")
    if method not in METHODS:
        raise InvalidArgumentError(f"method: unknown {method!r}; allowed: {', '.join(METHODS)}")
    exact = _exact_kernel(obj)
    if exact is not None:
        if t is None:
            raise InvalidArgumentError("t: required for an exact memory function (Kernel, linear model)")
        tt = _times(t)
        vals = exact(tt)
        return MemoryFunction(tt, vals, kind, "exact", True)
    forward, d, dt = _simulator(obj, dt, input_dim, check_stability)
    if method == "reference":
        return _reference(forward, d, dt, t, kind, T, seed)
    tt = None if t is None else _times(t)
    steps = T if tt is None else int(math.floor(tt.max() / dt + 1e-9)) + 2
    warm = steps if warmup is None else warmup
    if not (isinstance(warm, (int, np.integer)) and warm >= 1):
        raise InvalidArgumentError(f"warmup: must be an integer >= 1, got {warmup!r}")
    lev = default_levels(d, seed=seed) if levels is None else _levels(levels, d)
    check_array_size(f"simulating up to t = {tt.max() if tt is not None else T * dt:g} with dt = {dt:g} "
                     f"({warm + steps} steps, {lev.shape[0]} levels)",
                     (2 * lev.shape[0] if kind == "reversed" else lev.shape[0] + 1, warm + steps, d))
    if not (isinstance(refine, (int, np.integer)) and refine >= 0):
        raise InvalidArgumentError(f"refine: must be an integer >= 0, got {refine!r}")
    if isinstance(obj, NonlinearRNN) and (kind != "impulse" or _invertible(obj)):
        rows = 2 * lev.shape[0] if kind == "reversed" else lev.shape[0] + 1
        check_array_size(f"the pre-activations of a width-{obj.width} model over {warm + steps} steps (and their "
                         "round-off)", (2 * rows, warm + steps + 1, obj.width))

        def respond(levels_):
            return _preactivation_responses(obj, kind, levels_, steps, int(warm))
    else:
        respond = None
    if respond is not None:
        grid_vals, err, arg = _sup_over_levels(respond, lev)
        if kind == "impulse" and np.max(err) > DIFFERENCED_RESOLUTION * np.max(grid_vals):
            respond = None  # W_+^{-1} amplifies the round-off past what differenced outputs resolve: use them
    if respond is None:
        def respond(levels_):
            return _responses(forward, d, dt, kind, levels_, steps, int(warm)), None
        grid_vals, err, arg = _sup_over_levels(respond, lev)
    evaluated = lev
    if method == "optimise":
        grid_vals, err, arg, evaluated = _zoom(respond, lev, grid_vals, err, arg, refine)
    tk = dt * np.arange(steps)
    if tt is None:
        tt, vals, argl = tk, grid_vals, arg
    else:
        vals = np.interp(tt, tk, grid_vals)
        err = None if err is None else np.interp(tt, tk, err)
        idx = np.clip(np.rint(tt / dt).astype(int), 0, steps - 1)
        argl = arg[idx]
    details = {"steps": steps, "warmup": int(warm), "refine": int(refine) if method == "optimise" else 0,
               "n_levels": int(evaluated.shape[0])}
    return MemoryFunction(tt, vals, kind, method, False, dt, evaluated, argl, details, err)


# --------------------------------------------------------------------------- exact (linear) objects


def _exact_kernel(obj: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """``t -> |rho(t)|_1`` for linear objects, None otherwise."""
    if isinstance(obj, Kernel):
        return lambda t: _kernel_values(obj, t)
    if isinstance(obj, LinearFunctional):
        rho = obj.rho
        if isinstance(rho, Kernel):
            return lambda t: _kernel_values(rho, t)
        return lambda t: _abs_channels(np.asarray(rho(t), dtype=float), t)
    if isinstance(obj, DiagonalRNN):
        return lambda t: np.abs(obj.kernel(t))
    if isinstance(obj, LinearRNN):
        obj.require_hurwitz("the memory function")
        if obj.d == 1:
            return lambda t: np.abs(obj.kernel(t))
        return lambda t: np.abs(obj.kernel(t)).sum(axis=-1)
    return None


def _kernel_values(rho: Kernel, t: np.ndarray) -> np.ndarray:
    """``|rho(t)|`` in float64; a value float64 cannot hold is decided at 30 digits: a finite one beyond double
    range (``e^t`` at ``t = 1000``) raises PrecisionError with its value, a pole (``1/t`` at 0) InvalidArgumentError.
    Never an ``inf`` or ``nan`` labelled exact."""
    with np.errstate(all="ignore"):
        vals = np.abs(rho(t))
    bad = ~np.isfinite(vals)
    if not bad.any():
        return vals
    at = float(np.asarray(t, dtype=float)[bad].flat[0])
    try:
        value = rho([at], dps=30)[0]
    except (ZeroDivisionError, ValueError, OverflowError):
        value = mp.nan
    if isinstance(value, mp.mpf) and mp.isfinite(value):
        raise PrecisionError(f"the memory function |rho(t)| at t = {at:g} is {mp.nstr(abs(value), 8)}, beyond float64 "
                             f"range, for rho = {rho.substituted()} (log10 = {float(mp.log10(abs(value))):.6g})")
    raise InvalidArgumentError(f"rho(t) is not finite at t = {at:g} for rho = {rho.substituted()}: the memory function "
                               "is not defined there")


def _abs_channels(vals: np.ndarray, t: np.ndarray) -> np.ndarray:
    if vals.shape == t.shape:
        return np.abs(vals)
    if vals.shape[: t.ndim] == t.shape and vals.ndim == t.ndim + 1:
        return np.abs(vals).sum(axis=-1)
    raise InvalidArgumentError(f"rho: returned shape {vals.shape} for {t.shape} times")


# --------------------------------------------------------------------------- simulation


def _simulator(obj: Any, dt: float | None, input_dim: int | None, check: bool):
    """``(forward, d, dt)`` with ``forward(x: (B, T, d)) -> (B, T)`` (or ``(B, T, p)``)."""
    if isinstance(obj, NonlinearRNN):
        if dt is not None and not math.isclose(float(dt), obj.dt, rel_tol=1e-12):
            raise InvalidArgumentError(f"dt: the model's step is {obj.dt}; got {dt!r} (the residual form fixes it)")
        if input_dim is not None and input_dim != obj.input_dim:
            raise InvalidArgumentError(f"input_dim: the model has {obj.input_dim}, got {input_dim!r}")
        if check:
            _check_nonlinear_stability(obj)
        return obj.forward, obj.input_dim, obj.dt
    if isinstance(obj, (GRU, LSTM, SSM)):  # one input sample per step: dt = 1
        if dt is not None and not math.isclose(float(dt), 1.0, rel_tol=1e-12):
            raise InvalidArgumentError(f"dt: a {type(obj).__name__} reads one sample per step (dt = 1), got {dt!r}")
        if input_dim is not None and input_dim != obj.input_dim:
            raise InvalidArgumentError(f"input_dim: the model has {obj.input_dim}, got {input_dim!r}")
        return obj.forward, obj.input_dim, 1.0
    if callable(obj):
        step = 1.0 if dt is None else dt
        if not (isinstance(step, (int, float, np.floating)) and math.isfinite(step) and step > 0):
            raise InvalidArgumentError(f"dt: must be a finite number > 0, got {dt!r}")
        d = 1 if input_dim is None else input_dim
        if not (isinstance(d, (int, np.integer)) and d >= 1):
            raise InvalidArgumentError(f"input_dim: must be an integer >= 1, got {input_dim!r}")
        return (lambda x: obj(x[:, :, 0] if d == 1 else x)), int(d), float(step)
    raise InvalidArgumentError(
        f"obj: expected a Kernel, LinearFunctional, DiagonalRNN, LinearRNN, NonlinearRNN, GRU, LSTM, SSM or a "
        "callable, "
        f"got {type(obj).__name__}"
    )


def _check_nonlinear_stability(model: NonlinearRNN) -> None:
    Wp = model.recurrent_matrix()
    lam = np.linalg.eigvals(Wp)
    abscissa = float(np.max(-lam.real))
    if abscissa >= 0:
        raise NotHurwitzError(
            f"memory function of an unstable model: W = -W_+ is not Hurwitz (max Re lambda = {abscissa:.6g}); "
            "pass check_stability=False to simulate anyway"
        )
    radius = float(np.max(np.abs(1.0 - model.dt * lam)))
    if radius >= 1.0:
        raise NotHurwitzError(
            f"memory function of an unstable model: the residual step I - dt W_+ has spectral radius "
            f"{radius:.6g} >= 1 at dt = {model.dt} (linearisation at the origin); pass check_stability=False "
            "to simulate anyway"
        )


def _outputs(forward, x: np.ndarray) -> np.ndarray:
    y = np.asarray(forward(x), dtype=float)
    if y.ndim == 3:
        y = y if y.shape[2] > 1 else y[:, :, 0]
    if y.shape[:2] != x.shape[:2]:
        raise InvalidArgumentError(f"obj: the callable returned shape {y.shape} for inputs {x.shape}")
    if not np.all(np.isfinite(y)):
        raise NotHurwitzError("memory function: the simulation diverged (non-finite outputs): unstable model")
    return y


def _test_inputs(d: int, kind: str, lev: np.ndarray, total: int, warm: int) -> np.ndarray:
    """The switched inputs of every level (rows ``0..n-1``) and their baselines (the rest), ``total`` steps."""
    n = lev.shape[0]
    x = np.zeros((2 * n, total, d)) if kind == "reversed" else np.zeros((n + 1, total, d))
    if kind == "heaviside":
        x[:n, warm:, :] = lev[:, None, :]
    elif kind == "impulse":
        x[:n, warm, :] = lev
    else:  # reversed: x before the switch; baselines keep x forever
        x[:n, :warm, :] = lev[:, None, :]
        x[n:, :, :] = lev[:, None, :]
    return x


def _responses(forward, d: int, dt: float, kind: str, lev: np.ndarray, steps: int, warm: int) -> np.ndarray:
    """``M`` values of every level at ``t_k = k dt``, shape ``(n_levels, steps)``."""
    n = lev.shape[0]
    x = _test_inputs(d, kind, lev, warm + steps, warm)
    y = _outputs(forward, x)
    base = y[n:] if kind == "reversed" else np.broadcast_to(y[n:], (n,) + y.shape[1:])
    rel = y[:n, warm - 1 :] - base[:, warm - 1 :]  # index 0 is y_{-1}
    scale = dt * np.max(np.abs(lev), axis=1)
    if kind == "impulse":
        diff = rel[:, 1:]
    else:
        diff = np.diff(rel, axis=1)
    mag = np.linalg.norm(diff, axis=2) if diff.ndim == 3 else np.abs(diff)
    return mag / scale[:, None]


def _preactivation_responses(model: NonlinearRNN, kind: str, lev: np.ndarray, steps: int,
                             warm: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_responses` of a NonlinearRNN read from its pre-activations (:meth:`NonlinearRNN.preactivations`),
    with the estimated round-off of each value; both of shape ``(n_levels, steps)``.

    Heaviside / reversed: ``Delta_k = dt c^T (sigma(z_k) - sigma(z^0_k))``; impulse: ``y_k - y^0_k =
    c^T W_+^{-1} (z^0_{k+1} - z_{k+1})`` (both runs read 0 after the pulse). The round-off: the propagated error
    of each ``z`` (``preactivations(..., error=True)``; ``sigma`` is 1-Lipschitz) weighted by ``|c|`` or
    ``|W_+^{-T} c|``, plus a few unit round-offs of the terms summed (times the condition number of ``W_+`` for
    a solve).
    """
    n = lev.shape[0]
    total = warm + steps + (1 if kind == "impulse" else 0)
    Z, E = model.preactivations(_test_inputs(model.input_dim, kind, lev, total, warm), error=True)
    if not np.all(np.isfinite(Z)):
        raise NotHurwitzError("memory function: the simulation diverged (non-finite states): unstable model")
    rows = slice(n, None) if kind == "reversed" else slice(n, n + 1)
    u = float(np.finfo(float).eps)
    r = model.diagonal_rates()
    if kind == "impulse":
        window = slice(warm + 1, warm + steps + 1)
        if r is not None:
            v, kappa = model.c / r, 1.0
        else:
            Wp = model.recurrent_matrix()
            v, kappa = np.linalg.solve(Wp.T, model.c), float(np.linalg.cond(Wp))
        a, b = Z[:n, window], Z[rows, window]
        vals = np.abs((b - a) @ v)
        err = (E[:n, window] + E[rows, window]) @ np.abs(v) + 4 * u * kappa * (np.abs(b - a) @ np.abs(v))
    else:
        window = slice(warm, warm + steps)
        sa = activation(model.activation, Z[:n, window])
        sb = activation(model.activation, Z[rows, window])
        ac = np.abs(model.c)
        vals = model.dt * np.abs((sa - sb) @ model.c)
        err = model.dt * ((E[:n, window] + E[rows, window]) @ ac + 4 * u * ((np.abs(sa) + np.abs(sb)) @ ac))
    scale = model.dt * np.max(np.abs(lev), axis=1)[:, None]
    return vals / scale, err / scale


def _invertible(model: NonlinearRNN) -> bool:
    """Whether the impulse deviation ``c^T W_+^{-1} dz`` can be formed (else outputs are differenced: only a model
    simulated with ``check_stability=False`` can have a singular ``W_+``). A diagonal one divides elementwise
    (exact for any rate whose quotient is finite); a full one is solved, and its condition number enters the
    round-off."""
    Wp = model.recurrent_matrix()
    if not np.all(np.isfinite(Wp)):
        return False
    r = model.diagonal_rates()
    if r is not None:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return bool(np.all(r != 0) and np.all(np.isfinite(model.c / r)))
    return bool(np.linalg.cond(Wp) < 1e12)


def _sup_over_levels(respond, lev):
    resp, err = respond(lev)
    best = np.argmax(resp, axis=0)
    cols = np.arange(resp.shape[1])
    return resp[best, cols], (None if err is None else err[best, cols]), lev[best]


def _zoom(respond, lev, vals, err, arg, rounds):
    """Batched zoom in log-amplitude around each time's best level (step halves every round)."""
    amps = np.max(np.abs(lev), axis=1)
    logs = np.unique(np.round(np.log10(amps), 9))
    step = float(np.min(np.diff(logs))) if logs.size > 1 else 0.5
    evaluated = [lev]
    for r in range(rounds):
        h = step / 2 ** (r + 1)
        cands = np.concatenate([arg * 10.0**h, arg * 10.0 ** (-h)])
        cands = np.unique(np.round(cands, 12), axis=0)
        cvals, cerr, carg = _sup_over_levels(respond, cands)
        better = cvals > vals
        vals = np.where(better, cvals, vals)
        err = None if err is None else np.where(better, cerr, err)
        arg = np.where(better[:, None], carg, arg)
        evaluated.append(cands)
    return vals, err, arg, np.concatenate(evaluated)


def _reference(forward, d, dt, t, kind, T, seed):
    if kind != "heaviside":
        raise InvalidArgumentError(f"kind: the reference method is defined for 'heaviside' only, got {kind!r}")
    if not (isinstance(T, (int, np.integer)) and T >= 2):
        raise InvalidArgumentError(f"T: must be an integer >= 2, got {T!r}")
    rng = as_generator(seed)
    level = rng.standard_normal(d)
    x = np.broadcast_to(level, (1, T, d)).copy()
    y = _outputs(forward, x)[0]
    diff = np.diff(y, axis=0)
    mf = np.linalg.norm(diff, axis=1) if diff.ndim == 2 else np.abs(diff)
    tk = dt * np.arange(1, T)
    if t is None:
        tt, vals = tk, mf
    else:
        tt = _times(t)
        if tt.max() > tk[-1] + 1e-9 * dt:
            raise InvalidArgumentError(f"t: the reference method covers t <= {tk[-1]} (T = {T} steps)")
        vals = np.interp(tt, tk, mf)
    return MemoryFunction(tt, vals, kind, "reference", False, dt, level[None, :], np.broadcast_to(level, (tt.size, d)).copy(),
                          {"steps": int(T), "warmup": 0, "seed": int(seed), "normalised": False})


# --------------------------------------------------------------------------- argument checks


def _times(t: Any) -> np.ndarray:
    tt = as_grid(t, "t", "array of times", finite=False)
    if not np.all(np.isfinite(tt)) or np.any(tt < 0):
        raise InvalidArgumentError("t: times must be finite and >= 0")
    return tt


def _levels(levels: Any, d: int) -> np.ndarray:
    try:
        lev = np.asarray(levels, dtype=float)
    except (TypeError, ValueError):
        raise InvalidArgumentError("levels: must be numbers") from None
    if lev.ndim == 1 and d == 1:
        lev = lev[:, None]
    if lev.ndim != 2 or lev.shape[1] != d or lev.shape[0] == 0:
        raise InvalidArgumentError(f"levels: must have shape (n,) for d = 1 or (n, {d}), got {lev.shape}")
    if not np.all(np.isfinite(lev)):
        raise InvalidArgumentError("levels: must be finite")
    if np.any(np.max(np.abs(lev), axis=1) == 0):
        raise InvalidArgumentError("levels: every level must be nonzero (the memory function divides by |x|)")
    return lev


def _positive_array(x: Any, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidArgumentError(f"{name}: must be a non-empty list of finite numbers > 0")
    return arr


# =========================================================================== decay classification


def classify_decay(
    t: Any,
    M: Any,
    *,
    floor: float | None = None,
    ratio: float = 0.5,
    min_r2: float = 0.95,
    min_decay: float = 0.5,
    tail: float = 0.5,
) -> DecayFit:
    """Fit an exponential and a power law to a memory function and classify its decay.

    Both fits are least squares in ``log M`` on the upper envelope ``E(t) = max_{s >= t} M(s)`` (so zeros of
    oscillating kernels do not matter), at the records of ``M`` (``M = E``; for an oscillating ``M``, one with at
    least 8 peaks making up less than half of the records, only the peaks) with ``E > floor``: ``log E = c - lambda t`` and
    ``log E = c - p log(t + t0)`` (``t + t0 > 0``), with the shift ``t0`` chosen from
    ``{0} U geomspace(dt_min, span/10)`` (an exponential cannot be mimicked by a power law whose shift is
    comparable to the range). The fits use the *tail*: the last ``tail`` fraction of the points above the floor
    (decay classes are asymptotic: a sum of exponentials with spread rates looks convex in ``log M`` like a
    power law at small ``t``, but is a straight line once its slowest mode dominates).

    Verdict:

    * ``"not decaying"``: the envelope does not fall below ``min_decay`` times its first value (whole range);
    * ``"exponential"``: ``rmse_exp <= ratio * rmse_pow`` and ``r2_exp >= min_r2``;
    * ``"power law"``: ``rmse_pow <= ratio * rmse_exp`` and ``r2_pow >= min_r2``;
    * ``"undecided"`` otherwise (too short a range, or neither fits clearly better).

    Parameters
    ----------
    t, M : array_like
        Times and memory-function values (same length, at least 4 points).
    floor : float or array_like, optional
        Values at or below are treated as numerically zero (default ``1e-12 max M``); an array gives one floor per
        point (for example a multiple of :attr:`MemoryFunction.roundoff`).
    tail : float
        Fraction of the points (above the floor, latest times) used by the fits, in (0, 1].
    ratio, min_r2, min_decay : float
        Thresholds of the verdict.

    Returns
    -------
    DecayFit
    """
    tt = np.asarray(t, dtype=float).ravel()
    mm = np.asarray(M, dtype=float).ravel()
    if tt.shape != mm.shape or tt.size < 4:
        raise InvalidArgumentError(f"t, M: must have the same length >= 4, got {tt.shape} and {mm.shape}")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(mm))):
        raise InvalidArgumentError("t, M: must be finite")
    if np.any(mm < 0):
        raise InvalidArgumentError("M: a memory function is >= 0")
    if floor is not None:
        try:
            fl = np.asarray(floor, dtype=float)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"floor: must be a number or an array of numbers, got {floor!r}") from None
        if fl.ndim == 1 and fl.shape != tt.shape or fl.ndim > 1 or not np.all(np.isfinite(fl)) or np.any(fl < 0):
            raise InvalidArgumentError(f"floor: must be a finite number >= 0 or such an array of the shape of t, "
                                       f"got shape {fl.shape}")
    order = np.argsort(tt)
    tt, mm = tt[order], mm[order]
    env = np.maximum.accumulate(mm[::-1])[::-1]
    if env[0] <= 0:
        raise InvalidArgumentError("M: all values are zero")
    fl = 1e-12 * env[0] if floor is None else (fl[order] if fl.ndim == 1 else float(fl))
    # Fit points: the records of M (where M equals its envelope); for an oscillating M (many interior local
    # maxima among the records) only the peaks, so that the descending flanks do not bias the fits.
    record = (mm >= env) & (env > fl)
    left = np.concatenate([[False], mm[1:] >= mm[:-1]])  # interior maxima only: an endpoint is not a peak
    right = np.concatenate([mm[:-1] >= mm[1:], [False]])
    peak = record & left & right
    keep = peak if (peak.sum() >= 8 and peak.sum() < 0.5 * record.sum()) else record
    tk, ek = tt[keep], env[keep]
    nan = math.nan
    if tk.size < 4:
        return DecayFit("undecided", nan, nan, nan, nan, nan, nan, nan, nan, nan, 0.0, int(tk.size),
                        (float(tt[0]), float(tt[-1])), "fewer than 4 points above the floor")
    if not (0 < tail <= 1):
        raise InvalidArgumentError(f"tail: must be in (0, 1], got {tail!r}")
    falls = ek[-1] < min_decay * ek[0]
    fell_to = float(ek[-1] / ek[0])
    start = max(0, min(tk.size - 4, tk.size - int(math.ceil(tail * tk.size))))
    tk, ek = tk[start:], ek[start:]
    logs = np.log(ek)
    decades = float((logs[0] - logs[-1]) / math.log(10))
    rate, c_exp, r2e, rmse_e = _linfit(tk, logs)
    rate = -rate
    p, c_pow, shift, r2p, rmse_p = _powfit(tk, logs)
    t_range = (float(tk[0]), float(tk[-1]))
    if not falls:
        verdict, reason = "not decaying", f"envelope fell only to {fell_to:.3g} of its first value"
    elif rmse_e <= ratio * rmse_p and r2e >= min_r2:
        verdict, reason = "exponential", f"rmse(exp) {rmse_e:.3g} <= {ratio} rmse(power) {rmse_p:.3g}"
    elif rmse_p <= ratio * rmse_e and r2p >= min_r2:
        verdict, reason = "power law", f"rmse(power) {rmse_p:.3g} <= {ratio} rmse(exp) {rmse_e:.3g}"
    else:
        verdict, reason = "undecided", f"rmse(exp) {rmse_e:.3g}, rmse(power) {rmse_p:.3g}, r2 {r2e:.3f}/{r2p:.3f}"
    return DecayFit(verdict, float(rate), float(c_exp), float(p), float(c_pow), float(shift), float(r2e),
                    float(r2p), float(rmse_e), float(rmse_p), decades, int(tk.size), t_range, reason)


def _linfit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Slope, intercept, R^2 and RMSE of the least-squares line."""
    A = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = y - A @ coef
    ss = float(np.sum((y - y.mean()) ** 2))
    rss = float(np.sum(res**2))
    r2 = 1.0 - rss / ss if ss > 0 else (1.0 if rss == 0 else 0.0)
    return float(coef[0]), float(coef[1]), r2, math.sqrt(rss / x.size)


def _powfit(t: np.ndarray, logs: np.ndarray) -> tuple[float, float, float, float, float]:
    pos = t > 0
    span = float(t[-1] - t[0])
    tmin = float(np.min(np.diff(np.unique(t)))) if np.unique(t).size > 1 else 1.0
    shifts = [0.0]
    if span / 10 > tmin:
        shifts += list(np.geomspace(tmin, span / 10, 24))
    best = None
    for s in shifts:
        mask = pos if s == 0 else (t + s > 0)
        if mask.sum() < 3:
            continue
        slope, c, r2, rmse = _linfit(np.log(t[mask] + s), logs[mask])
        if best is None or rmse < best[4]:
            best = (-slope, c, s, r2, rmse)
    return best if best is not None else (math.nan, math.nan, 0.0, math.nan, math.inf)
