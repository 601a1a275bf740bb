r"""Stable reparameterisations in SymPy: gradient scales, the derivation of the "best" map, StableSSM's criterion.

A recurrent eigenvalue is written ``lambda = f(w)`` of a trainable ``w`` ([IAT] §4, [SSSM]). The maps are the
registered ones of :data:`memtheory.models.reparam.PARAMETERISATIONS` (each defined there once, as a SymPy
expression; :data:`MAPS` is the view of the analysed ones on their stable domains). For each map this module
gives, as SymPy expressions with LaTeX and compiled numpy callables,

* the **gradient scale** ``|f'(w)| / f(w)^2`` (continuous time, ``lambda < 0``) or ``|f'(w)| / (1 - f(w))^2``
  (discrete time, ``|lambda| < 1``): how a loss gradient in the memory time scale ``1/|lambda|`` (or
  ``1/(1 - lambda)``) is amplified in ``w``. Direct: ``1/w^2`` (blows up at the boundary ``w -> 0``), exp:
  ``e^{-w}``, softplus: ``sigmoid(w)/log(1 + e^w)^2``, best: ``2 a |w|``, inverse (discrete ``1 - 1/w``): ``1``;
* the **derivation of the best map**: asking ``|f'|/f^2 = |d(1/f)/dw| = 2 a |w|`` (gradient proportional to the
  weight, as for a quadratic loss) is the ODE ``d(1/f)/dw = -2 a w``, solved by ``dsolve``:
  ``1/f = C - a w^2``; stability for every ``w`` forces ``C = -b < 0``, so ``f = -1/(a w^2 + b)``. Discrete:
  ``d(1/(1 - f))/dw = 2 a w`` gives ``f = 1 - 1/(a w^2 + b)``, stable (``|f| < 1``) for all ``w`` iff ``b > 1/2``;
* **StableSSM's criterion** (in the form used here; not confirmed verbatim against [SSSM]):
  ``g_f(beta) = sup_w |f(w)| sup_{|w~ - w| <= beta} int_0^inf |e^{f(w~) t} - e^{f(w) t}| dt``; ``f`` is stable if
  ``g_f`` is continuous with ``g_f(0) = 0``. For scalar exponentials the integral has the closed form
  ``|1/f(w~) - 1/f(w)|`` when both are negative (the two exponentials never cross) and is ``inf`` otherwise,
  so ``g_f(beta) = sup_w sup_delta |1 - f(w)/f(w + delta)|``. Closed forms: exp and softplus
  ``e^beta - 1`` (softplus: the supremum is the limit ``w -> -inf``), best
  ``a beta (beta + sqrt(beta^2 + 4 b/a)) / (2 b)`` (:func:`best_criterion_expr`), direct ``inf`` for every ``beta > 0``. The discrete analogue
  uses ``(1 - |f|) sum_k |f~^k - f^k|`` (closed form ``|(1 - f)/(1 - f~) - 1|`` for ``f, f~ in [0, 1)``); for
  the inverse map ``1 - 1/w`` it is ``|delta|/w`` while ``f, f~ >= 0``; it is evaluated on the long-memory
  branch ``w >= 1`` (``lambda >= 0``): near ``w = 1/2`` (``lambda = -1``) a perturbation leaves the domain and
  ``g`` is infinite (the reference code clamps ``w`` there).

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks. ICLR 2024.
[SSSM] S. Wang, Q. Li. StableSSM: Alleviating the Curse of Memory in State-space Models through Stable
Reparameterization. ICML 2024 (arXiv 2311.14495).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ..symbolic.latex import to_latex
from ..display import Displayable, latex_repr
from ..errors import InvalidArgumentError
from ..models.reparam import PARAMETERISATIONS, A, B, W, get_parameterisation

__all__ = [
    "MAPS",
    "BestDerivation",
    "CriterionResult",
    "GradientScale",
    "MapSpec",
    "MAIN_MAPS",
    "SYMBOLIC_MAPS",
    "best_map_derivation",
    "best_criterion_closed_form",
    "best_criterion_expr",
    "best_criterion_symbolic",
    "gradient_scale",
    "map_expression",
    "plot_criterion",
    "plot_gradient_scales",
    "scalar_exponential_integral",
    "scalar_exponential_integral_symbolic",
    "stability_criterion",
]

T = sp.Symbol("t", nonnegative=True)
BETA = sp.Symbol("beta", nonnegative=True)


@dataclass(frozen=True, repr=False)
class MapSpec(Displayable):
    """A reparameterisation ``lambda = f(w)`` as the symbolic analysis sees it (a view of the registry entry).

    Attributes
    ----------
    name, kind : str
        Registry name; ``"continuous"`` (stable iff ``f < 0``) or ``"discrete"`` (stable iff ``|f| < 1``).
    expr : sympy.Expr
        ``f`` in ``w`` (and ``a``, ``b`` for the best maps).
    domain : tuple of float
        The map's *stable* domain (open interval of ``w`` where ``f(w)`` is stable), where the gradient scale
        and the criterion are analysed; for "direct" ``(-inf, 0)``, while its raw weight may range over ``R``
        (:attr:`memtheory.models.reparam.ParameterisationSpec.domain`).
    note : str
        Where the map comes from.
    """

    name: str
    kind: str
    expr: sp.Expr
    domain: tuple[float, float]
    note: str = ""

    def _repr_latex_(self) -> str:
        return latex_repr(r"\lambda = f(w) = " + to_latex(self.expr))

    @classmethod
    def from_registry(cls, name: str) -> MapSpec:
        """The view of the registered map ``name`` of :data:`memtheory.models.reparam.PARAMETERISATIONS`."""
        spec = PARAMETERISATIONS[name]
        return cls(spec.name, spec.kind, spec.expr, spec.stable_domain, spec.source)


#: Registered maps analysed symbolically, in display order (the smooth maps of [IAT] and [SSSM], and LRU).
SYMBOLIC_MAPS = ("direct", "exp", "softplus", "best", "inverse", "lru", "discrete_best")

#: The analysed maps by name, read from the one registry :data:`memtheory.models.reparam.PARAMETERISATIONS`.
MAPS: dict[str, MapSpec] = {name: MapSpec.from_registry(name) for name in SYMBOLIC_MAPS}

#: The maps of the issue (exp, softplus, best, inverse, direct).
MAIN_MAPS = ("direct", "exp", "softplus", "best", "inverse")


def _spec(name: str) -> MapSpec:
    if name not in MAPS:
        raise InvalidArgumentError(f"map: unknown {name!r}; allowed: {', '.join(MAPS)}")
    return MAPS[name]


def _constants(a: float, b: float) -> dict:
    for key, val in (("a", a), ("b", b)):
        if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
            raise InvalidArgumentError(f"{key}: must be a finite number > 0, got {val!r}")
    return {A: sp.nsimplify(a), B: sp.nsimplify(b)}


def map_expression(name: str) -> sp.Expr:
    """``f(w)`` of map ``name`` as SymPy (constants ``a``, ``b`` symbolic)."""
    return _spec(name).expr


# =========================================================================== gradient scales


@dataclass(frozen=True, repr=False)
class GradientScale(Displayable):
    """Gradient scale of one map.

    Attributes
    ----------
    name, kind : str
    f : sympy.Expr
        The map.
    definition : sympy.Expr
        ``|f'|/f^2`` or ``|f'|/(1 - f)^2`` before simplification.
    expr : sympy.Expr
        Simplified (with ``w`` in the map's domain).
    latex : str
        ``\\frac{|f'(w)|}{f(w)^2} = ...``.
    """

    name: str
    kind: str
    f: sp.Expr
    definition: sp.Expr
    expr: sp.Expr
    latex: str
    _a: float = 1.0
    _b: float = 0.5
    _fn: Any = field(default=None, repr=False, compare=False)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("name", self.name), ("kind", self.kind), ("f", self.f), ("scale", self.expr)]

    def _repr_latex_(self) -> str:
        return latex_repr(self.latex)

    def __call__(self, w: Any) -> np.ndarray:
        """Numeric values (constants as given to :func:`gradient_scale`)."""
        return np.asarray(self._fn(np.asarray(w, dtype=float)), dtype=float) * np.ones(np.shape(w))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"name": self.name, "kind": self.kind, "f": str(self.f), "scale": str(self.expr), "latex": self.latex}


@lru_cache(maxsize=None)
def _simplified_scale(name: str) -> tuple[sp.Expr, sp.Expr]:
    spec = _spec(name)
    f = spec.expr
    df = sp.diff(f, W)
    gap = f if spec.kind == "continuous" else 1 - f
    definition = sp.Abs(df) / gap**2
    lo, hi = spec.domain
    # Simplify with the sign information of the domain (w < 0 for direct, w > 1/2 for inverse).
    if hi <= 0:
        wd = sp.Symbol("w", negative=True)
    elif lo >= 0:
        wd = sp.Symbol("w", positive=True)
    else:
        wd = None
    expr = definition if wd is None else definition.xreplace({W: wd})
    expr = sp.simplify(sp.powsimp(sp.simplify(expr)))
    if wd is not None:
        expr = expr.xreplace({wd: W})
    return definition, expr


def gradient_scale(name: str, a: float = 1.0, b: float = 0.5) -> GradientScale:
    """The gradient scale ``|f'|/f^2`` (continuous) or ``|f'|/(1 - f)^2`` (discrete) of map ``name``.

    Examples
    --------
    >>> from memtheory.theory.reparam import gradient_scale
    >>> str(gradient_scale("exp").expr), str(gradient_scale("best").expr)
    ('exp(-w)', '2*a*Abs(w)')
    """
    spec = _spec(name)
    definition, expr = _simplified_scale(name)
    consts = _constants(a, b)
    fn = sp.lambdify(W, expr.xreplace(consts), modules="numpy")
    lhs = r"\frac{|f'(w)|}{f(w)^2}" if spec.kind == "continuous" else r"\frac{|f'(w)|}{(1 - f(w))^2}"
    latex = f"f(w) = {to_latex(spec.expr)},\\quad {lhs} = {to_latex(expr)}"
    return GradientScale(name, spec.kind, spec.expr, definition, expr, latex, float(a), float(b), fn)


# =========================================================================== the best map


@dataclass(frozen=True, repr=False)
class BestDerivation(Displayable):
    """SymPy derivation of the best reparameterisation.

    Attributes
    ----------
    kind : str
    ode : sympy.Eq
        ``d(1/f)/dw = -2 a w`` (continuous) or ``d(1/(1 - f))/dw = 2 a w`` (discrete).
    general : sympy.Expr
        General solution for ``1/f`` (or ``1/(1 - f)``) with constant ``C1``.
    f : sympy.Expr
        The map after imposing stability for every ``w`` (``C1 = -b`` / ``C1 = b``).
    stability_condition : str
    scale : sympy.Expr
        Its gradient scale, simplified (``2 a |w|``).
    steps : list of (str, str)
        Description and LaTeX of each step.
    """

    kind: str
    ode: sp.Eq
    general: sp.Expr
    f: sp.Expr
    stability_condition: str
    scale: sp.Expr
    steps: list

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("kind", self.kind), ("ode", self.ode), ("f", self.f), ("scale", self.scale),
                ("stability_condition", self.stability_condition), ("steps", len(self.steps))]

    def _repr_latex_(self) -> str:
        return latex_repr(self.latex())

    def latex(self) -> str:
        """The steps as an ``aligned`` block."""
        return "\\begin{aligned}\n" + " \\\\\n".join(f"&\\text{{{d}}}\\quad {x}" for d, x in self.steps) + "\n\\end{aligned}"

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"kind": self.kind, "ode": str(self.ode), "general": str(self.general), "f": str(self.f),
                "stability_condition": self.stability_condition, "scale": str(self.scale),
                "steps": [list(s) for s in self.steps]}


@lru_cache(maxsize=None)
def best_map_derivation(kind: str = "continuous") -> BestDerivation:
    """Derive the best map by solving the gradient-scale ODE with ``sympy.dsolve`` (module docstring)."""
    if kind not in ("continuous", "discrete"):
        raise InvalidArgumentError(f"kind: must be 'continuous' or 'discrete', got {kind!r}")
    g = sp.Function("g")
    C1 = sp.Symbol("C1")
    if kind == "continuous":
        ode = sp.Eq(g(W).diff(W), -2 * A * W)
        sol = sp.dsolve(ode, g(W)).rhs  # C1 - a w^2 = 1/f
        f_general = 1 / sol
        # f < 0 for every real w  <=>  C1 - a w^2 < 0 for all w  <=>  C1 < 0: write C1 = -b, b > 0.
        f = sp.simplify(f_general.subs(C1, -B))
        cond = "f(w) < 0 for all real w  <=>  C1 < 0; C1 = -b with b > 0"
        steps = [
            ("gradient scale", r"\frac{|f'|}{f^2} = \left|\frac{d}{dw}\frac{1}{f}\right| = 2a|w|"),
            ("ODE for g = 1/f", to_latex(ode)),
            ("dsolve", f"g(w) = {to_latex(sol)}"),
            ("stability for all w", r"C_1 = -b,\ b > 0"),
            ("best map", f"f(w) = {to_latex(f)}"),
        ]
        check = sp.Abs(sp.diff(f, W)) / f**2
    else:
        ode = sp.Eq(g(W).diff(W), 2 * A * W)
        sol = sp.dsolve(ode, g(W)).rhs  # C1 + a w^2 = 1/(1 - f)
        f = sp.simplify(1 - 1 / sol.subs(C1, B))
        cond = "|f(w)| < 1 for all real w  <=>  1/(1-f) = a w^2 + b > 1/2 for all w  <=>  b > 1/2"
        steps = [
            ("gradient scale", r"\frac{|f'|}{(1-f)^2} = \left|\frac{d}{dw}\frac{1}{1-f}\right| = 2a|w|"),
            ("ODE for g = 1/(1-f)", to_latex(ode)),
            ("dsolve", f"g(w) = {to_latex(sol)}"),
            ("stability for all w", r"C_1 = b > \tfrac12"),
            ("best map", f"f(w) = {to_latex(f)}"),
        ]
        check = sp.Abs(sp.diff(f, W)) / (1 - f) ** 2
    scale = sp.simplify(check)
    steps.append(("check", f"{to_latex(scale)}"))
    return BestDerivation(kind, ode, sol, f, cond, scale, steps)


# =========================================================================== StableSSM criterion


def scalar_exponential_integral(lam: Any, mu: Any) -> np.ndarray:
    """``int_0^inf |e^{mu t} - e^{lam t}| dt = |1/mu - 1/lam|`` for ``lam, mu < 0`` (``inf`` otherwise).

    The exponentials are ordered for every ``t > 0`` (``mu < lam`` implies ``e^{mu t} < e^{lam t}``), so the
    absolute value comes out of the integral: ``int (e^{lam t} - e^{mu t}) dt = -1/lam + 1/mu``.
    """
    lam = np.asarray(lam, dtype=float)
    mu = np.asarray(mu, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.abs(1.0 / mu - 1.0 / lam)
    return np.where((lam < 0) & (mu < 0), val, np.inf)


def scalar_exponential_integral_symbolic() -> sp.Expr:
    """The integral for ``mu < lam < 0`` computed by SymPy (``1/mu - 1/lam`` up to sign): a check of the closed form."""
    lam = sp.Symbol("lambda", negative=True)
    mu = sp.Symbol("mu", negative=True)
    return sp.simplify(sp.integrate(sp.exp(lam * T) - sp.exp(mu * T), (T, 0, sp.oo)))


def _discrete_sum(lam: Any, mu: Any, kmax: int = 200000) -> np.ndarray:
    """``sum_{k>=0} |mu^k - lam^k|`` (closed form for both in [0, 1); summed otherwise, ``inf`` if unstable)."""
    shape = np.broadcast(np.asarray(lam), np.asarray(mu)).shape
    lamb, mub = np.broadcast_arrays(np.atleast_1d(np.asarray(lam, dtype=float)), np.atleast_1d(np.asarray(mu, dtype=float)))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(1.0 / (1.0 - mub) - 1.0 / (1.0 - lamb))
    out = np.where((np.abs(lamb) >= 1) | (np.abs(mub) >= 1), np.inf, out)
    neg = (lamb < 0) | (mub < 0)
    neg &= np.isfinite(out)
    for idx in zip(*np.nonzero(neg)):
        l, m = float(lamb[idx]), float(mub[idx])
        r = max(abs(l), abs(m))
        n = int(min(kmax, max(64, math.ceil(40.0 / max(1e-300, -math.log(r)))))) if r > 0 else 1
        k = np.arange(n)
        out[idx] = float(np.sum(np.abs(m**k - l**k)))
    return out.reshape(shape)


@dataclass(frozen=True, repr=False)
class CriterionResult(Displayable):
    """StableSSM criterion ``g_f(beta)`` of one map.

    Attributes
    ----------
    name, kind : str
    betas : ndarray
    values : ndarray
        Numerical ``g_f(beta)`` (supremum over the ``w`` grid and ``|delta| <= beta``).
    closed_form : ndarray or None
        Known closed form (exp, softplus: ``e^beta - 1``; best: see module docstring; direct: ``inf``).
    argmax_w : ndarray
        ``w`` attaining the maximum on the grid.
    quadrature_check : float
        Largest relative difference between the closed-form integral and scipy quadrature at sampled points.
    stable : bool
        ``g_f(beta) -> 0`` as ``beta -> 0``, judged at the smallest positive radius:
        ``g(beta_min) <= 10 beta_min max(1, sqrt(a/b))`` (finite and linear in ``beta``).
    w_range : tuple of float
    """

    name: str
    kind: str
    betas: np.ndarray
    values: np.ndarray
    closed_form: np.ndarray | None
    argmax_w: np.ndarray
    quadrature_check: float
    stable: bool
    w_range: tuple

    def to_dict(self) -> dict:
        """JSON-ready dict (``inf`` -> None)."""
        conv = lambda a: [float(x) if math.isfinite(x) else None for x in a]  # noqa: E731
        return {"name": self.name, "kind": self.kind, "betas": self.betas.tolist(), "values": conv(self.values),
                "closed_form": None if self.closed_form is None else conv(self.closed_form),
                "argmax_w": conv(self.argmax_w), "quadrature_check": self.quadrature_check, "stable": self.stable,
                "w_range": list(self.w_range)}


def best_criterion_expr() -> sp.Expr:
    """StableSSM's criterion of the best map as SymPy: ``g(beta) = a beta (beta + sqrt(beta^2 + 4 b/a)) / (2 b)``.

    The one statement of the formula: :func:`best_criterion_closed_form` evaluates it,
    :func:`best_criterion_symbolic` derives it by maximisation from the registered map.

    Derivation: for ``f = -1/(a w^2 + b)``, ``|1 - f(w)/f(w + delta)| = a |2 w delta + delta^2| / (a w^2 + b)``;
    its maximum over ``w`` for ``delta = beta`` is at ``w^2 + beta w - b/a = 0``.

    Examples
    --------
    >>> from memtheory.theory.reparam import best_criterion_expr
    >>> print(best_criterion_expr())
    a*beta*(beta + sqrt(beta**2 + 4*b/a))/(2*b)
    """
    return A * BETA * (BETA + sp.sqrt(BETA**2 + 4 * B / A)) / (2 * B)


@lru_cache(maxsize=None)
def _best_criterion_function():
    return sp.lambdify((BETA, A, B), best_criterion_expr(), modules="numpy")


def best_criterion_closed_form(betas: Any, a: float = 1.0, b: float = 0.5) -> np.ndarray:
    """``g(beta)`` of the best map ``f = -1/(a w^2 + b)``, evaluated from :func:`best_criterion_expr`."""
    bt = np.asarray(betas, dtype=float)
    return _best_criterion_function()(bt, float(a), float(b))


def best_criterion_symbolic() -> tuple[sp.Expr, list]:
    """Derive :func:`best_criterion_expr` by SymPy: maximise ``f(w)/f(w + beta) - 1`` of the best map over ``w``.

    Returns
    -------
    expr : sympy.Expr
        The maximum (value at the stationary point that is positive for ``a = b = beta = 1``), simplified;
        equal to :func:`best_criterion_expr`.
    values : list of sympy.Expr
        The values at all stationary points.
    """
    f = map_expression("best")
    h = sp.factor(sp.cancel(f / f.subs(W, W + BETA) - 1))  # a beta (beta + 2 w) / (a w^2 + b)
    crit = sp.solve(sp.Eq(sp.diff(h, W), 0), W)
    vals = [sp.simplify(h.subs(W, c)) for c in crit]
    # the positive root gives the maximum for beta > 0
    root = [c for c in crit if sp.simplify(c.subs({A: 1, B: 1, BETA: 1})) > 0][0]
    return sp.simplify(sp.radsimp(h.subs(W, root))), vals


def stability_criterion(
    name: str,
    betas: Any,
    *,
    a: float = 1.0,
    b: float = 0.5,
    w_range: tuple[float, float] | None = None,
    n_w: int = 4001,
    n_delta: int = 41,
    quad_points: int = 6,
) -> CriterionResult:
    """Evaluate StableSSM's criterion ``g_f(beta)`` numerically on a ``w`` grid (module docstring).

    Parameters
    ----------
    name : str
        A key of :data:`MAPS`.
    betas : array_like
        Radii ``>= 0``.
    a, b : float
        Constants of the best maps.
    w_range : (float, float), optional
        Grid of ``w`` (default ``(-40, 40)`` clipped to the map's domain; direct ``(-40, -1e-9)``; inverse
        ``(0.5, 200)``).
    n_w, n_delta : int
        Grid sizes in ``w`` and in ``delta in [-beta, beta]`` (endpoints included).
    quad_points : int
        Number of ``(w, delta)`` pairs whose integral is recomputed by quadrature (continuous maps) or by
        direct summation (discrete).

    Returns
    -------
    CriterionResult
    """
    spec = _spec(name)
    bs = np.atleast_1d(np.asarray(betas, dtype=float))
    if bs.ndim != 1 or not np.all(np.isfinite(bs)) or np.any(bs < 0):
        raise InvalidArgumentError("betas: must be finite numbers >= 0")
    consts = _constants(a, b)
    f = sp.lambdify(W, spec.expr.xreplace(consts), modules="numpy")
    if name == "softplus":  # overflow-free evaluation for large |w| (the registry's map is already -softplus)
        par = get_parameterisation("softplus")
        f = lambda w: par(w)  # noqa: E731
    lo, hi = spec.domain
    if w_range is None:
        lo_r = max(lo, -40.0) if math.isfinite(lo) else -40.0
        hi_r = min(hi, 40.0) if math.isfinite(hi) else (200.0 if name == "inverse" else 40.0)
        if name == "direct":
            hi_r = -1e-9
        if name == "inverse":
            lo_r = 1.0  # the long-memory branch lambda in [0, 1); on (1/2, 1) a perturbation can leave the domain
        w_range = (lo_r, hi_r)
    wg = np.linspace(w_range[0], w_range[1], n_w)
    if name in ("direct",):  # resolve the approach to the boundary
        wg = -np.geomspace(-w_range[0], -w_range[1], n_w)
    fw = np.asarray(f(wg), dtype=float) * np.ones_like(wg)
    vals = np.empty(bs.size)
    argw = np.empty(bs.size)
    def inner_sup(wv: np.ndarray, fv: np.ndarray, beta: float) -> np.ndarray:
        deltas = np.linspace(-beta, beta, n_delta)
        wt = wv[:, None] + deltas[None, :]
        inside = (wt > lo) & (wt < hi)
        with np.errstate(all="ignore"):
            ft = np.asarray(f(np.where(inside, wt, wv[:, None])), dtype=float) * np.ones_like(wt)
        if spec.kind == "continuous":
            integral = scalar_exponential_integral(fv[:, None], ft)
            weight = np.abs(fv)
        else:
            integral = _discrete_sum(fv[:, None], ft)
            weight = 1.0 - np.abs(fv)
        integral = np.where(inside, integral, np.inf)
        out = np.max(integral, axis=1) * weight
        return np.where(np.isnan(out), -np.inf, out)

    vals = np.empty(bs.size)
    argw = np.empty(bs.size)
    for i, beta in enumerate(bs):
        if beta == 0:
            vals[i], argw[i] = 0.0, float("nan")
            continue
        inner = inner_sup(wg, fw, beta)
        j = int(np.argmax(inner))
        vals[i], argw[i] = float(inner[j]), float(wg[j])
        if math.isfinite(vals[i]) and 0 < j < wg.size - 1:  # refine around the grid maximum
            wf = np.linspace(wg[j - 1], wg[j + 1], 201)
            fine = inner_sup(wf, np.asarray(f(wf), dtype=float) * np.ones_like(wf), beta)
            k = int(np.argmax(fine))
            if fine[k] > vals[i]:
                vals[i], argw[i] = float(fine[k]), float(wf[k])
    closed = _criterion_closed(name, bs, a, b)
    qcheck = _quadrature_check(spec, f, wg, bs, quad_points, lo, hi)
    pos = np.flatnonzero(bs > 0)
    stable = True
    if pos.size:
        b0, g0 = bs[pos[0]], vals[pos[0]]
        stable = bool(math.isfinite(g0) and g0 <= 10 * b0 * max(1.0, math.sqrt(a / b)))
    return CriterionResult(name, spec.kind, bs, vals, closed, argw, qcheck, stable, tuple(float(x) for x in w_range))


def _criterion_closed(name: str, bs: np.ndarray, a: float, b: float) -> np.ndarray | None:
    if name in ("exp", "softplus"):
        return np.expm1(bs)
    if name == "best":
        return best_criterion_closed_form(bs, a, b)
    if name == "direct":
        return np.where(bs > 0, np.inf, 0.0)
    return None


def _quadrature_check(spec, f, wg, bs, n, lo, hi) -> float:
    """Relative difference of the closed-form integral (or sum) and scipy quadrature (or direct summation)."""
    from scipy import integrate

    rng = np.random.default_rng(0)
    worst = 0.0
    pos = bs[bs > 0]
    if pos.size == 0 or n <= 0:
        return 0.0
    for _ in range(n):
        w0 = float(rng.choice(wg))
        d = float(rng.uniform(-1, 1) * rng.choice(pos))
        if not (lo < w0 + d < hi):
            continue
        l, m = float(np.asarray(f(np.array([w0])))[0]), float(np.asarray(f(np.array([w0 + d])))[0])
        if spec.kind == "continuous":
            if not (l < 0 and m < 0) or max(abs(l), abs(m)) / min(abs(l), abs(m)) > 1e6:
                continue
            closed = float(scalar_exponential_integral(l, m))
            c = min(abs(l), abs(m))  # integrate in s = c t: both rates O(1) or larger
            num, _ = integrate.quad(lambda x: abs(math.exp(m * x / c) - math.exp(l * x / c)), 0, np.inf,
                                    epsabs=1e-14, epsrel=1e-11, limit=500)
            num /= c
        else:
            if not (abs(l) < 1 and abs(m) < 1) or max(abs(l), abs(m)) > 0.999:
                continue
            closed = float(_discrete_sum(np.array(l), np.array(m)))
            k = np.arange(100000)
            num = float(np.sum(np.abs(m**k - l**k)))
        if closed > 0:
            worst = max(worst, abs(closed - num) / closed)
    return worst


# =========================================================================== plots


def plot_gradient_scales(path: str | None = None, names: Any = None, a: float = 1.0, b: float = 0.5,
                         w_range: tuple[float, float] = (-6.0, 6.0)):
    """Gradient scales of the continuous and the discrete maps (log axis); saved to ``path`` if given."""
    import matplotlib.pyplot as plt
    names = list(names) if names is not None else list(MAPS)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for name in names:
        gs = gradient_scale(name, a, b)
        lo, hi = MAPS[name].domain
        w = np.linspace(max(lo, w_range[0]) + 1e-3, min(hi, w_range[1]) - 1e-3, 600)
        if name == "inverse":
            w = np.linspace(0.5 + 1e-3, w_range[1], 600)
        with np.errstate(all="ignore"):
            v = gs(w)
        ax = axes[0] if gs.kind == "continuous" else axes[1]
        tex = to_latex(gs.expr).replace(r"\left|", "|").replace(r"\right|", "|")  # mathtext has no \left|
        ax.semilogy(w, v, label=f"{name}: ${tex}$")
    for ax, title in zip(axes, ("continuous: $|f'|/f^2$", "discrete: $|f'|/(1-f)^2$")):
        ax.set_title(title)
        ax.set_xlabel("w")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.set_ylim(1e-3, 1e3)
    fig.tight_layout()
    if path:
        from .._plotting import figure_path

        fig.savefig(figure_path(path), dpi=120)
    return fig


def plot_criterion(results: list[CriterionResult], path: str | None = None):
    """``g_f(beta)`` of several maps on log axes (``inf`` drawn at the top); saved to ``path`` if given."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for r in results:
        pos = r.betas > 0
        v = np.where(np.isfinite(r.values), r.values, np.nan)
        ax.loglog(r.betas[pos], v[pos], marker=".", label=r.name)
        if np.any(~np.isfinite(r.values[pos])):
            ax.scatter(r.betas[pos][~np.isfinite(r.values[pos])], np.full((~np.isfinite(r.values[pos])).sum(), 1e2),
                       marker="x", label=f"{r.name}: inf")
    ax.set_xlabel(r"$\beta$")
    ax.set_ylabel(r"$g_f(\beta)$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path:
        from .._plotting import figure_path

        fig.savefig(figure_path(path), dpi=120)
    return fig
