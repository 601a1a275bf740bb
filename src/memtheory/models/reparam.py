"""The one registry of scalar reparameterisations ``lambda = f(w)`` of recurrent weights, with numba kernels.

A reparameterisation writes an eigenvalue of the recurrent matrix as ``lambda = f(w)`` of a raw,
unconstrained (or box-constrained) trainable number ``w`` [IAT §4, SSSM]. Two kinds exist:

* ``continuous``: ``f(w)`` is an eigenvalue of the continuous-time matrix ``W`` of
  ``dh/dt = sigma(W h + U x + b)``; stable (Hurwitz) means ``f(w) < 0``.
* ``discrete``: ``f(w)`` is an eigenvalue of the one-step transition ``A = I - dt W_+`` of the
  residual recurrence; stable means ``|f(w)| < 1``.

Every map is defined once, in :data:`PARAMETERISATIONS`, by a SymPy expression in the raw weight :data:`W`
(with the constants :data:`A`, :data:`B` of the "best" maps, defaults ``a = 1``, ``b = 0.5``), its kind, its
raw domain and its stable domain. :mod:`memtheory.theory.reparam` analyses these expressions symbolically;
the compiled kernels :func:`map_value` / :func:`map_derivative` evaluate them numerically::

    name           kind        f(w)                      range of f           raw domain   stable domain
    direct         continuous  w                         R (Hurwitz iff w<0)  R            (-inf, 0)
    relu           continuous  -max(w, 0)                (-inf, 0]            R            (0, inf)
    exp            continuous  -exp(w)                   (-inf, 0)            R            R
    softplus       continuous  -log(1 + exp(w))          (-inf, 0)            R            R
    best           continuous  -1/(a w^2 + b)            [-1/b, 0)            R            R
    lru_residual   continuous  exp(-exp(w)) - 1          (-1, 0)              R            R
    discrete_direct discrete   w                         (-1, 1)              (-1, 1)      (-1, 1)
    lru            discrete    exp(-exp(w))              (0, 1)               R            R
    sigmoid        discrete    1/(1 + exp(-w))           (0, 1)               R            R
    inverse        discrete    1 - 1/w                   (-1, 1)              (0.5, inf)   (0.5, inf)
    discrete_best  discrete    1 - 1/(a w^2 + b)         [1 - 1/b, 1)         R            R (for b > 1/2)

Two domains. The *raw domain* is where the trainable ``w`` may range: the reference code clamps
``discrete_direct`` to ``[-1 + eps, 1 - eps]`` and ``inverse`` to ``[0.5 + eps, inf)`` during training, which
:meth:`Parameterisation.project` reproduces. The *stable domain* is where ``f(w)`` is stable; the symbolic
analysis (gradient scales, StableSSM's criterion) lives there. They differ for "direct", whose raw weight is
deliberately unconstrained (it is the unstable baseline of the curse-of-memory experiments) while its analysis
needs ``w < 0``, and for "relu" (``f = 0`` for ``w <= 0``: marginally stable). "discrete_best" with the default
``b = 1/2`` reaches ``f(0) = -1``; it is stable for every ``w`` iff ``b > 1/2``.

Compiled code. The kernels are written by hand for numerical care rather than printed from the expressions:
softplus uses ``log1p`` on both branches (no overflow for large ``w``, full precision for very negative
``w``), the LRU derivative is ``-exp(w - exp(w))`` (finite where ``exp(w) exp(-exp(w))`` would be
``inf * 0``), the residual LRU uses ``expm1``. The registration (name, integer code, kind, domains, constants)
comes from the one table, and the test suite checks each kernel against its expression and its
``sympy.diff`` on a grid to 1e-14 relative.

The gradient scale (how strongly a loss gradient in ``lambda`` is amplified in ``w`` near the stability
boundary) is ``|f'(w)| / f(w)^2`` for continuous maps and ``|f'(w)| / (1 - f(w))^2`` for discrete maps
([SSSM]; docs/theory.md §6); the "best" map keeps it equal to ``2 a |w|``.

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks.
ICLR 2024 (arXiv 2305.19190). [SSSM] S. Wang, Q. Li. StableSSM: Alleviating the Curse of Memory in
State-space Models through Stable Reparameterization. ICML 2024 (arXiv 2311.14495).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from numba import njit

from ..symbolic.latex import to_latex
from ..display import Displayable, latex_repr
from ..errors import InvalidArgumentError

__all__ = [
    "Parameterisation",
    "ParameterisationSpec",
    "PARAMETERISATIONS",
    "get_parameterisation",
    "lru_input_scale",
    "map_array",
    "map_derivative",
    "map_gap",
    "map_value",
]

#: The raw weight ``w`` of the SymPy expressions (real).
W = sp.Symbol("w", real=True)
#: Constant ``a > 0`` of the "best" maps.
A = sp.Symbol("a", positive=True)
#: Constant ``b > 0`` of the "best" maps.
B = sp.Symbol("b", positive=True)

# Integer codes used inside compiled code (numba treats these globals as compile-time constants).
DIRECT, RELU, EXP, SOFTPLUS, BEST, LRU_RESIDUAL = 0, 1, 2, 3, 4, 5
DISCRETE_DIRECT, LRU, SIGMOID, INVERSE, DISCRETE_BEST = 10, 11, 12, 13, 14

_PROJECTION_EPS = 1e-7  # the reference code's clamp margin


# --------------------------------------------------------------------------- scalar maps (numba)


@njit(cache=True)
def softplus(w: float) -> float:
    """Return ``log(1 + exp(w))`` without overflow or loss of precision."""
    if w > 0.0:
        return w + math.log1p(math.exp(-w))
    return math.log1p(math.exp(w))


@njit(cache=True)
def sigmoid(w: float) -> float:
    """Return ``1 / (1 + exp(-w))`` without overflow."""
    if w >= 0.0:
        return 1.0 / (1.0 + math.exp(-w))
    e = math.exp(w)
    return e / (1.0 + e)


@njit(cache=True)
def map_value(code: int, w: float, a: float, b: float) -> float:
    """Evaluate the map with integer ``code`` at ``w`` (``a``, ``b``: constants of the "best" maps)."""
    if code == DIRECT or code == DISCRETE_DIRECT:
        return w
    if code == RELU:
        return -w if w > 0.0 else 0.0
    if code == EXP:
        return -math.exp(w)
    if code == SOFTPLUS:
        return -softplus(w)
    if code == BEST:
        return -1.0 / (a * w * w + b)
    if code == LRU_RESIDUAL:
        return math.expm1(-math.exp(w))
    if code == LRU:
        return math.exp(-math.exp(w))
    if code == SIGMOID:
        return sigmoid(w)
    if code == INVERSE:
        return 1.0 - 1.0 / w
    if code == DISCRETE_BEST:
        return 1.0 - 1.0 / (a * w * w + b)
    return math.nan


@njit(cache=True)
def map_derivative(code: int, w: float, a: float, b: float) -> float:
    """Evaluate ``f'(w)`` of the map with integer ``code`` (ReLU: derivative 0 at ``w = 0``)."""
    if code == DIRECT or code == DISCRETE_DIRECT:
        return 1.0
    if code == RELU:
        return -1.0 if w > 0.0 else 0.0
    if code == EXP:
        return -math.exp(w)
    if code == SOFTPLUS:
        return -sigmoid(w)
    if code == BEST or code == DISCRETE_BEST:
        q = a * w * w + b
        return 2.0 * a * w / (q * q)
    if code == LRU_RESIDUAL or code == LRU:
        return -math.exp(w - math.exp(w))  # = -e^w e^{-e^w}, finite for large w
    if code == SIGMOID:
        s = sigmoid(w)
        return s * (1.0 - s)
    if code == INVERSE:
        return 1.0 / (w * w)
    return math.nan


@njit(cache=True)
def map_gap(code: int, w: float, a: float, b: float) -> float:
    """Distance of ``f(w)`` from the stability boundary without cancellation: ``-f(w)`` for a continuous map,
    ``1 - f(w)`` for a discrete one (``1 - exp(-e^w) = -expm1(-e^w)`` keeps its digits where ``f(w)`` rounds to 1:
    ``w < -37``)."""
    if code == DISCRETE_DIRECT:
        return 1.0 - w
    if code == LRU:
        return -math.expm1(-math.exp(w))
    if code == SIGMOID:
        return sigmoid(-w)
    if code == INVERSE:
        return 1.0 / w
    if code == DISCRETE_BEST:
        return 1.0 / (a * w * w + b)
    return -map_value(code, w, a, b)  # continuous maps: -f(w) is computed directly (e^w, softplus, ...)


@njit(cache=True)
def map_array(code: int, w: np.ndarray, a: float, b: float, value: np.ndarray, deriv: np.ndarray) -> None:
    """Fill ``value[i] = f(w[i])`` and ``deriv[i] = f'(w[i])`` for 1-D contiguous arrays."""
    for i in range(w.shape[0]):
        value[i] = map_value(code, w[i], a, b)
        deriv[i] = map_derivative(code, w[i], a, b)


@njit(cache=True)
def _gap_array(code: int, w: np.ndarray, a: float, b: float, out: np.ndarray) -> None:
    for i in range(w.shape[0]):
        out[i] = map_gap(code, w[i], a, b)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True, repr=False)
class ParameterisationSpec(Displayable):
    """Static description of one registered map: its definition and how compiled code reaches it.

    Attributes
    ----------
    name, code, kind : str, int, str
        Registry name, integer code used in compiled code, ``"continuous"`` or ``"discrete"``.
    expr : sympy.Expr
        The definition ``f(w)`` in :data:`W` (and :data:`A`, :data:`B` for the "best" maps).
    formula : str
        Human-readable ``f(w)`` (the same expression, written for display).
    value_range : tuple of float
        Closure of the image of ``f`` (with the default constants for the "best" maps).
    domain : tuple of float
        Raw domain: open interval of allowed raw values ``w`` (training projects into it).
    stable_domain : tuple of float
        Open interval of ``w`` where ``f(w)`` is stable (``f < 0`` / ``|f| < 1``); "discrete_best": for
        ``b > 1/2``.
    parameters : dict
        Names and default values of the map's constants.
    source : str
        Where the map comes from.
    """

    name: str
    code: int
    kind: str
    expr: sp.Expr
    formula: str
    value_range: tuple[float, float]
    domain: tuple[float, float]
    stable_domain: tuple[float, float]
    parameters: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("name", self.name), ("kind", self.kind), ("f(w)", self.formula), ("domain", self.domain),
                ("stable_domain", self.stable_domain), ("source", self.source)]

    def _repr_latex_(self) -> str:
        return latex_repr(r"\lambda = f(w) = " + to_latex(self.expr))


_INF = math.inf
_R = (-_INF, _INF)
_BEST = {"a": 1.0, "b": 0.5}
_Q = A * W**2 + B
PARAMETERISATIONS: dict[str, ParameterisationSpec] = {
    s.name: s
    for s in (
        # name, code, kind, f(w), display, value range, raw domain, stable domain[, constants], source
        ParameterisationSpec("direct", DIRECT, "continuous", W, "w", _R, _R, (-_INF, 0.0),
                             source="raw eigenvalue (unstable baseline)"),
        ParameterisationSpec("relu", RELU, "continuous", -sp.Max(W, 0), "-max(w, 0)", (-_INF, 0.0), _R,
                             (0.0, _INF), source="reference diagonalrnn / rnn (W_+ = relu(w))"),
        ParameterisationSpec("exp", EXP, "continuous", -sp.exp(W), "-exp(w)", (-_INF, 0.0), _R, _R,
                             source="[IAT] exponential reparameterisation"),
        ParameterisationSpec("softplus", SOFTPLUS, "continuous", -sp.log(1 + sp.exp(W)), "-log(1 + exp(w))",
                             (-_INF, 0.0), _R, _R, source="[IAT] / reference softplusrnn"),
        ParameterisationSpec("best", BEST, "continuous", -1 / _Q, "-1/(a w^2 + b)", (-2.0, 0.0), _R, _R,
                             dict(_BEST), source="[SSSM] best reparameterisation"),
        ParameterisationSpec("lru_residual", LRU_RESIDUAL, "continuous", sp.exp(-sp.exp(W)) - 1,
                             "exp(-exp(w)) - 1", (-1.0, 0.0), _R, _R, source="reference LRU module (residual form)"),
        ParameterisationSpec("discrete_direct", DISCRETE_DIRECT, "discrete", W, "w", (-1.0, 1.0), (-1.0, 1.0),
                             (-1.0, 1.0), source='reference unified "linear" (clamped to (-1, 1))'),
        ParameterisationSpec("lru", LRU, "discrete", sp.exp(-sp.exp(W)), "exp(-exp(w))", (0.0, 1.0), _R, _R,
                             source='LRU; reference unified "lru"'),
        ParameterisationSpec("sigmoid", SIGMOID, "discrete", 1 / (1 + sp.exp(-W)), "1/(1 + exp(-w))", (0.0, 1.0),
                             _R, _R, source='reference unified "sigmoid"'),
        ParameterisationSpec("inverse", INVERSE, "discrete", 1 - 1 / W, "1 - 1/w", (-1.0, 1.0), (0.5, _INF),
                             (0.5, _INF), source='reference unified "inverse"'),
        ParameterisationSpec("discrete_best", DISCRETE_BEST, "discrete", 1 - 1 / _Q, "1 - 1/(a w^2 + b)",
                             (-1.0, 1.0), _R, _R, dict(_BEST), source="[SSSM] best map, discrete form"),
    )
}


@dataclass(frozen=True, repr=False)
class Parameterisation(Displayable):
    """A registered map with its constants bound; vectorised over numpy arrays.

    Create with :func:`get_parameterisation`. Calling the object evaluates ``f`` elementwise.

    Attributes
    ----------
    spec : ParameterisationSpec
        The registry entry.
    a, b : float
        Constants of the "best" maps (ignored by the others).
    """

    spec: ParameterisationSpec
    a: float = 1.0
    b: float = 0.5

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("name", self.spec.name), ("f(w)", self.spec.formula), ("a", self.a), ("b", self.b)]

    @property
    def name(self) -> str:
        """Registry name."""
        return self.spec.name

    @property
    def kind(self) -> str:
        """``"continuous"`` (eigenvalue of ``W``) or ``"discrete"`` (eigenvalue of ``A``)."""
        return self.spec.kind

    @property
    def code(self) -> int:
        """Integer code used by the compiled kernels."""
        return self.spec.code

    def value_and_derivative(self, w: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(f(w), f'(w))`` as float64 arrays of the shape of ``w``."""
        arr = np.ascontiguousarray(w, dtype=np.float64)
        flat = arr.reshape(-1)
        val = np.empty_like(flat)
        der = np.empty_like(flat)
        map_array(self.code, flat, float(self.a), float(self.b), val, der)
        return val.reshape(arr.shape), der.reshape(arr.shape)

    def __call__(self, w: Any) -> np.ndarray:
        """Return ``f(w)`` elementwise."""
        return self.value_and_derivative(w)[0]

    def derivative(self, w: Any) -> np.ndarray:
        """Return ``f'(w)`` elementwise."""
        return self.value_and_derivative(w)[1]

    def gap(self, w: Any) -> np.ndarray:
        """``-f(w)`` (continuous) or ``1 - f(w)`` (discrete) elementwise, without cancellation (:func:`map_gap`):
        the distance of the eigenvalue from the stability boundary ``0`` or ``1``."""
        arr = np.ascontiguousarray(w, dtype=np.float64)
        out = np.empty(arr.size)
        _gap_array(self.code, arr.reshape(-1), float(self.a), float(self.b), out)
        return out.reshape(arr.shape)

    def gradient_scale(self, w: Any) -> np.ndarray:
        """Return ``|f'|/f^2`` (continuous) or ``|f'|/(1 - f)^2`` (discrete) elementwise ([SSSM])."""
        der = self.derivative(w)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.abs(der) / self.gap(w) ** 2

    def in_domain(self, w: Any) -> bool:
        """Whether every raw value lies in the open domain of the map."""
        lo, hi = self.spec.domain
        arr = np.asarray(w, dtype=np.float64)
        return bool(np.all((arr > lo) & (arr < hi)))

    def project(self, w: np.ndarray) -> np.ndarray:
        """Clip raw values into the domain (margin 1e-7, as the reference code's training clamp)."""
        lo, hi = self.spec.domain
        if math.isinf(lo) and math.isinf(hi):
            return w
        return np.clip(w, lo + _PROJECTION_EPS, hi - _PROJECTION_EPS)

    def random_raw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` random raw weights, the models' initialisation: ``-|N(0, 1)|`` for "direct" (stable start),
        uniform on a bounded domain, ``lo + 0.5 + |N(0, 1)|`` on a half-bounded one, ``N(0, 1)`` otherwise."""
        if self.name == "direct":
            return -np.abs(rng.standard_normal(m))
        lo, hi = self.spec.domain
        if math.isfinite(lo) and math.isfinite(hi):
            return rng.uniform(lo, hi, m)
        if math.isfinite(lo):
            return lo + 0.5 + np.abs(rng.standard_normal(m))
        return rng.standard_normal(m)

    def rates(self, w: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the residual-form rates ``r = diag(W_+)`` and ``dr/dw``.

        Continuous maps: ``r = -f(w)`` (so ``W = -W_+`` has eigenvalue ``f(w)``). Discrete maps:
        ``r = (1 - f(w))/dt`` (so the linear one-step map ``I - dt W_+`` has eigenvalue ``f(w)``).
        """
        der = self.derivative(w)
        if self.kind == "continuous":
            return self.gap(w), -der
        return self.gap(w) / dt, -der / dt

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        out = {"name": self.name, "kind": self.kind, "formula": self.spec.formula, "domain": self.spec.domain}
        if self.spec.parameters:
            out.update(a=self.a, b=self.b)
        return out


def get_parameterisation(name: str | Parameterisation, **params: float) -> Parameterisation:
    """Return the registered map ``name`` with constants ``params`` bound.

    Parameters
    ----------
    name : str or Parameterisation
        A key of :data:`PARAMETERISATIONS` (a :class:`Parameterisation` is returned unchanged).
    **params : float
        Constants of the map; only ``a > 0`` and ``b > 0`` of "best" / "discrete_best".

    Raises
    ------
    InvalidArgumentError
        Unknown name, unknown constant, or a constant out of range.
    """
    if isinstance(name, Parameterisation):
        if params:
            raise InvalidArgumentError("params: cannot rebind constants of an existing Parameterisation")
        return name
    spec = PARAMETERISATIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidArgumentError(
            f"parameterisation: unknown name {name!r}; allowed: {', '.join(sorted(PARAMETERISATIONS))}"
        )
    unknown = set(params) - set(spec.parameters)
    if unknown:
        allowed = ", ".join(spec.parameters) or "none"
        raise InvalidArgumentError(f"params: {sorted(unknown)} not accepted by {name!r}; allowed: {allowed}")
    consts = {**spec.parameters, **params}
    for key, val in consts.items():
        if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
            raise InvalidArgumentError(f"{key}: must be a finite number > 0, got {val!r}")
    return Parameterisation(spec, **{k: float(v) for k, v in consts.items()})


def lru_input_scale(lam: Any, gap: Any = None) -> np.ndarray:
    """The LRU's input normalisation ``sqrt(1 - |lambda|^2)`` (the reference's ``weight_residual``).

    For a diagonal recurrence ``h_k = lambda h_{k-1} + sqrt(1 - |lambda|^2) u_k`` it keeps the stationary variance
    of ``h`` equal to that of a white-noise input ``u`` (``sum_k |lambda|^{2k} (1 - |lambda|^2) = 1``). The
    reference code (``src/models/recurrent/lru.py``) applies it with ``lambda = exp(-exp(w)) - 1``.

    Parameters
    ----------
    lam : array_like
        Eigenvalues with ``|lambda| <= 1`` (complex allowed).
    gap : array_like, optional
        ``1 - lambda`` computed without cancellation (:meth:`Parameterisation.gap`), for real ``lambda``: then
        ``1 - lambda^2 = gap (2 - gap)`` keeps its digits where ``lambda`` rounds to 1 (``lambda = exp(-e^w)``
        with ``w < -37``, whose scale ``sqrt(2 e^w)`` is not 0).

    Returns
    -------
    ndarray

    Raises
    ------
    InvalidArgumentError
        Non-finite values or ``|lambda| > 1``.

    Examples
    --------
    >>> from memtheory.models.reparam import lru_input_scale
    >>> lru_input_scale([0.6, 0.0]).tolist()
    [0.8, 1.0]
    """
    a = np.asarray(lam)
    if not np.all(np.isfinite(a)):
        raise InvalidArgumentError("lam: must be finite")
    mag2 = np.abs(a) ** 2
    if np.any(mag2 > 1.0):
        raise InvalidArgumentError(f"lam: the LRU scale needs |lambda| <= 1, got {float(np.sqrt(mag2.max())):.6g}")
    if gap is None:
        return np.sqrt(1.0 - mag2)
    d = np.asarray(gap, dtype=float)
    if np.iscomplexobj(a) or d.shape != a.shape or not np.all((d >= 0) & (d <= 2)):
        raise InvalidArgumentError("gap: must be 1 - lambda in [0, 2] for real lambda, of lam's shape")
    return np.sqrt(d * (2.0 - d))
