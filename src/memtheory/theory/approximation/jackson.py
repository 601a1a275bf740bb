r"""The Jackson-type rate of [CoM] (docs/theory.md §3): its bound, its hypotheses and its construction.

Theorem (as restated in docs/theory.md). Let ``y(t) = H_t(1_{t >= 0}) = \int_0^t rho`` be the step response, so
``y^{(k)} = rho^{(k-1)}``. If for some ``alpha in N+``, ``beta > 0`` and all ``k = 1..alpha+1``: ``y in C^{alpha+1}``,
``e^{beta t} y^{(k)}(t) -> 0`` and ``sup_t |e^{beta t} y^{(k)}(t)| / beta^k <= gamma``, then for every ``m`` a
width-``m`` linear RNN achieves ``sup_t ||H_t - Ĥ_t|| <= C(alpha) gamma d / (beta m^alpha)``.

* :func:`jackson_bound` checks the hypotheses (continuity of ``rho^{(j)}``, ``j <= alpha``, at the kernel's
  breakpoints; decay of ``e^{beta t} y^{(k)}`` far out), computes ``gamma`` by SymPy derivatives and mpmath
  maximisation (grid + golden-section refinement, maximiser reported), and returns the bound as a SymPy
  expression with ``C(alpha)`` symbolic. Given widths it also measures the constant the construction below
  needs on this kernel.
* :func:`jackson` is the construction of the proof (our reconstruction): ``s = e^{-beta t/(alpha+1)}``,
  ``rho(t) = s q(s)``; ``q`` is approximated on ``s in (0, 1]`` by Chebyshev interpolation of degree ``m - 1``
  (or by L2 projection), giving the rates ``j beta/(alpha+1)``, ``j = 1..m``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath as mp
import numpy as np
import sympy as sp
from numpy.polynomial import chebyshev as C

from ...symbolic.latex import to_latex
from ...display import Displayable, latex_repr, rows_table
from ..._validation import check_positive
from ...compile import codegen
from ...errors import InvalidArgumentError
from ...kernels.kernel import Kernel
from ...symbolic.parse import symbol
from .best_sum import check_width
from .constructions import (
    Construction,
    approximation_errors,
    cheb_to_monomial,
    kernel_breakpoints,
    l2_only_errors,
    universal,
)

__all__ = ["JacksonBound", "Continuity", "continuity_at", "jackson", "jackson_bound"]

T = symbol("t")


# ================================================================================================= result
@dataclass(frozen=True, repr=False)
class JacksonBound(Displayable):
    """The Jackson-type bound ``C(alpha) gamma d / (beta m^alpha)`` for one kernel and ``(alpha, beta)``.

    Attributes
    ----------
    alpha : int
    beta : float
    d : int
        Input dimension (1 for a scalar kernel).
    gamma : float
        ``max_k sup_t |e^{beta t} y^{(k)}(t)| / beta^k`` over ``k = 1..alpha+1`` (``inf`` if unbounded).
    gamma_by_k : tuple of float
        The sup for each ``k``.
    argmax_t, argmax_k : float, int
        Where the maximum is attained (time and derivative order).
    hypotheses_hold : bool
        Whether ``y in C^{alpha+1}`` and ``e^{beta t} y^{(k)} -> 0`` for all ``k`` (checked numerically).
    violations : tuple of str
        Which hypotheses fail, with the numbers.
    tail : tuple of (float, float)
        ``(t, max_k |e^{beta t} y^{(k)}(t)| / beta^k)`` at far-out times: the decay check.
    c_empirical : float or None
        ``max_m err_1(m) beta m^alpha / (gamma d)`` over the widths measured: the smallest ``C(alpha)`` for which
        the bound holds for :func:`jackson`'s construction on this kernel (an upper estimate of what the best
        width-``m`` approximation needs, a lower estimate of the constant any proof via this construction gives).
    table : tuple of dict
        Per width: ``m``, ``l1`` (construction error), ``bound_over_C`` (``gamma d/(beta m^alpha)``), ``ratio``.
    certified : dict or None
        With ``certified=True``: ``gamma`` (an :class:`~memtheory.certified.Enclosure` of ``gamma``),
        ``gamma_by_k`` (one per ``k``), ``range`` (the compact range ``[0, T]`` of the branch and bound), ``tail``
        (the certified bound of ``sup_{t >= T}`` per ``k``) and ``dps``.
    """

    alpha: int
    beta: float
    d: int
    gamma: float
    gamma_by_k: tuple
    argmax_t: float
    argmax_k: int
    hypotheses_hold: bool
    violations: tuple
    tail: tuple
    c_empirical: float | None = None
    table: tuple = field(default=())
    certified: dict | None = None

    @property
    def expr(self) -> sp.Expr:
        """The bound with the numbers in, ``C_alpha`` and ``m`` symbolic."""
        m = sp.Symbol("m", positive=True)
        Ca = sp.Symbol(f"C_{{{self.alpha}}}", positive=True)
        g = sp.Float(self.gamma, 8) if math.isfinite(self.gamma) else sp.oo
        return Ca * g * self.d / (sp.nsimplify(self.beta) * m**self.alpha)

    @staticmethod
    def symbolic() -> sp.Expr:
        """The bound ``C(alpha) gamma d / (beta m^alpha)`` with every quantity symbolic."""
        alpha, beta, gamma, d, m = sp.symbols("alpha beta gamma d m", positive=True)
        return sp.Function("C")(alpha) * gamma * d / (beta * m**alpha)

    def latex(self) -> str:
        r"""LaTeX of ``sup_t ||H_t - Ĥ_t|| <= bound``."""
        return r"\sup_t \|H_t - \hat H_t\| \le " + to_latex(self.expr)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("alpha", self.alpha), ("beta", self.beta), ("d", self.d), ("gamma", self.gamma),
                ("argmax_k", self.argmax_k), ("argmax_t", self.argmax_t), ("hypotheses_hold", self.hypotheses_hold),
                ("violations", self.violations), ("c_empirical", self.c_empirical)]

    def _display_table(self) -> tuple[list[str], list[list]] | None:
        return rows_table(self.table)

    def _repr_latex_(self) -> str:
        return latex_repr(self.latex())

    def value(self, m, C: float = 1.0) -> np.ndarray:
        """Numeric bound at widths ``m`` for a given constant ``C(alpha)``."""
        return C * self.gamma * self.d / (self.beta * np.asarray(m, float) ** self.alpha)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        fin = (lambda x: x if math.isfinite(x) else None)
        return {"alpha": self.alpha, "beta": self.beta, "d": self.d, "gamma": fin(self.gamma),
                "gamma_by_k": [fin(g) for g in self.gamma_by_k], "argmax_t": self.argmax_t,
                "argmax_k": self.argmax_k, "hypotheses_hold": self.hypotheses_hold,
                "violations": list(self.violations), "tail": [list(p) for p in self.tail],
                "c_empirical": self.c_empirical, "table": [dict(r) for r in self.table],
                "latex": self.latex(), **({"certified": self.certified_dict()} if self.certified else {})}

    def certified_dict(self) -> dict | None:
        """The certified enclosures as JSON: ``gamma`` and ``gamma_by_k`` as outward-rounded decimal pairs."""
        if not self.certified:
            return None
        c = self.certified
        return {"gamma": list(c["gamma"].pair()), "gamma_by_k": [list(e.pair()) for e in c["gamma_by_k"]],
                "range": [0, str(c["range"])], "tail": [mp.nstr(x, 6) for x in c["tail"]], "dps": c["dps"]}


# ================================================================================================= derivatives
class _Step(sp.Function):
    """Heaviside step whose derivative is taken as 0 (classical derivative away from the breakpoints)."""

    nargs = 1

    def fdiff(self, argindex: int = 1):
        return sp.S.Zero


def _smooth_form(expr: sp.Expr) -> sp.Expr:
    """Rewrite Heaviside/Abs/sign/Max/Min through ``_Step`` so derivatives are the piecewise-classical ones."""
    expr = expr.replace(sp.Heaviside, lambda *args: _Step(args[0]))
    expr = expr.replace(sp.Abs, lambda g: g * (2 * _Step(g) - 1))
    expr = expr.replace(sp.sign, lambda g: 2 * _Step(g) - 1)

    def _max(*args):
        out = args[0]
        for b in args[1:]:
            out = out + (b - out) * _Step(b - out)
        return out

    def _min(*args):
        out = args[0]
        for b in args[1:]:
            out = out + (b - out) * _Step(out - b)
        return out

    expr = expr.replace(sp.Max, _max).replace(sp.Min, _min)
    return expr


def _mp_fn(expr: sp.Expr):
    """mpmath callable of an expression in t (``_Step`` evaluated as Heaviside)."""
    return codegen.mpmath_function([T], expr.replace(_Step, lambda g: sp.Heaviside(g)))


@functools.lru_cache(maxsize=64)
def _derivatives(expr: sp.Expr, order: int) -> tuple:
    """``rho^{(j)}``, ``j = 0..order`` (piecewise classical), as SymPy expressions."""
    f = _smooth_form(expr)
    out = [f]
    for _ in range(order):
        out.append(sp.diff(out[-1], T))
    return tuple(out)


def _breakpoints(rho: Kernel, expr: sp.Expr) -> list:
    """Roots in (0, inf) of the arguments of step-like functions and of Piecewise conditions: exact SymPy numbers
    where SymPy solves for them (``2 log 2``), floats otherwise."""
    exact_pts: dict[float, sp.Expr] = {}
    for node in sp.preorder_traversal(expr):
        args = []
        if isinstance(node, _Step):
            args = [node.args[0]]
        elif isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                for rel in cond.atoms(sp.core.relational.Relational):
                    args.append(rel.lhs - rel.rhs)
        for g in args:
            try:
                roots = sp.solve(sp.Eq(g, 0), T)
            except Exception:  # unsolvable argument: no breakpoint from it
                roots = []
            for r in roots:
                if r.is_number and r.is_real and float(r) > 0:
                    exact_pts.setdefault(float(r), r)
    pts = dict(exact_pts)
    for x in kernel_breakpoints(rho):
        if not any(abs(x - y) <= 1e-12 * max(1.0, abs(y)) for y in exact_pts):
            pts[float(x)] = x
    return [pts[k] for k in sorted(pts)]


@dataclass(frozen=True)
class Continuity:
    """Whether a function is continuous at a point, with its one-sided limits.

    Attributes
    ----------
    continuous : bool
    left, right : mpmath.mpf
        The one-sided limits (or the values nearest the point, for the numerical test; ``inf`` if unbounded).
    kind : str
        ``"continuous"``, ``"discontinuous"`` or ``"unbounded"``.
    how : str
        ``"symbolically"`` (the one-sided pieces evaluated exactly at the point) or ``"numerically"`` (the jump
        measured at steps ``h = 10^-6 .. 10^-18`` must shrink with ``h``).
    """

    continuous: bool
    left: object
    right: object
    kind: str
    how: str


def _side_piece(expr: sp.Expr, point: sp.Expr, side: int) -> sp.Expr:
    """``expr`` with every step function and Piecewise fixed to the branch it takes just to one side of ``point``
    (``side = -1`` left, ``+1`` right): a classical expression whose value at ``point`` is the one-sided limit."""
    with mp.workdps(80):
        near = mp.mpf(sp.N(point, 90)) + side * mp.mpf(10) ** -40

        def sign_near(g: sp.Expr) -> int:
            return int(mp.sign(_mp_fn(g)(near)))

        def fix(node: sp.Expr) -> sp.Expr:
            if isinstance(node, _Step):
                return sp.Integer(1 if sign_near(node.args[0]) > 0 else 0)
            if isinstance(node, sp.Piecewise):
                for branch, cond in node.args:
                    if cond == sp.true or bool(codegen.mpmath_function([T], cond)(near)):
                        return branch
                raise InvalidArgumentError(f"no branch of {node} holds near t = {point}")
            return node

        return expr.replace(lambda e: isinstance(e, (_Step, sp.Piecewise)), fix)


def continuity_at(f: sp.Expr, point) -> Continuity:
    """Decide whether ``f(t)`` (Heaviside, Abs, sign, Max, Min and Piecewise allowed) is continuous at
    ``t = point``.

    Symbolically where SymPy can: each side's classical piece (:func:`_side_piece`) is evaluated at the exact
    point and the two limits compared to 40 digits (a Hölder-0.1 derivative such as that of ``|s - 1/2|^1.1`` is
    continuous, however steep). Otherwise numerically, with a test that scales with the step: the jump
    ``|f(p + h) - f(p - h)|`` at ``h = 10^-6, 10^-12, 10^-18`` must shrink as ``h`` does (a jump does not), and
    ``|f|`` must stay bounded.
    """
    f = _smooth_form(f)  # Heaviside, Abs, sign, Max, Min as step functions (a no-op on rewritten expressions)
    p = point if isinstance(point, sp.Basic) else sp.Rational(*float(point).as_integer_ratio())
    try:
        left_piece, right_piece = _side_piece(f, p, -1), _side_piece(f, p, +1)
        vl, vr = left_piece.subs(T, p), right_piece.subs(T, p)
        if vl.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or vr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise ValueError("a one-sided piece is singular at the point")
        with mp.workdps(60):
            left, right = mp.mpf(sp.N(vl, 60)), mp.mpf(sp.N(vr, 60))
            scale = max(abs(left), abs(right), mp.mpf(1))
            same = abs(left - right) <= mp.mpf(10) ** -40 * scale
        return Continuity(bool(same), left, right, "continuous" if same else "discontinuous", "symbolically")
    except (ValueError, TypeError, ZeroDivisionError, InvalidArgumentError, AttributeError):
        pass
    fn = _mp_fn(f)
    with mp.workdps(60):
        pm = mp.mpf(sp.N(p, 70))
        jumps, sides = [], []
        for e in (6, 12, 18):
            h = mp.mpf(10) ** -e
            try:
                lv, rv = fn(pm - h), fn(pm + h)
            except (ZeroDivisionError, ValueError):
                return Continuity(False, mp.inf, mp.inf, "unbounded", "numerically")
            jumps.append(abs(rv - lv))
            sides.append((lv, rv))
        (l1, r1), (l3, r3) = sides[0], sides[-1]
        if not (mp.isfinite(l3) and mp.isfinite(r3)) or max(abs(l3), abs(r3)) > 1e3 * max(abs(l1), abs(r1), 1):
            return Continuity(False, l3, r3, "unbounded", "numerically")
        scale = max(abs(l3), abs(r3), mp.mpf(1))
        # a jump stays; a (Hölder-)continuous function's difference shrinks: by 10^-12 h^gamma over 12 decades
        shrinks = jumps[-1] <= mp.mpf(10) ** -30 * scale or (jumps[-1] < 0.5 * jumps[0] and jumps[1] < jumps[0])
        return Continuity(bool(shrinks), l3, r3, "continuous" if shrinks else "discontinuous", "numerically")


# ================================================================================================= the bound
def _golden_max(f, a, b, iters: int = 90):
    """Maximise ``f`` (mpf -> mpf) on [a, b] by golden-section search; returns ``(t, f(t))``."""
    gr = (mp.sqrt(5) - 1) / 2
    c, d = b - gr * (b - a), a + gr * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - gr * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + gr * (b - a)
            fd = f(d)
    return (c, fc) if fc > fd else (d, fd)


def _certified_gamma(ders: tuple, bps: list, alpha: int, beta, t_scale: float, dps: int) -> dict:
    """Enclosures of ``gamma_k = sup_t |e^{beta t} y^{(k)}(t)| / beta^k``, ``k = 1..alpha+1``: interval branch and
    bound on ``[0, T]`` (mean-value form between the steps) plus a certified envelope bound of the sup beyond
    ``T``; ``T`` starts at ``30 t_scale`` and doubles until that tail bound is below the compact range's sup."""
    from flint import arb

    from ...certified import Enclosure, certified_sup, tail_sup_bound
    from ...compile.arb import dps_to_prec, workprec
    from ...errors import CertificationError
    from ...exact import exact

    b = exact(beta, "beta")
    steps = sorted({node.args[0] for e in ders for node in sp.preorder_traversal(e) if isinstance(node, _Step)},
                   key=str)
    steps_h = [e.replace(_Step, lambda g: sp.Heaviside(g)) for e in steps]
    points = [exact(p, "breakpoint") for p in bps]
    out, tails = [], []
    with workprec(dps_to_prec(dps)):
        for k in range(1, alpha + 2):
            g = sp.exp(b * T) * ders[k - 1] / b**k
            # the mean-value form needs f' on each box: valid between steps (decided on the box), not across a
            # Piecewise boundary, which the box test does not see
            dg = None if g.has(sp.Piecewise) else sp.diff(g, T).replace(_Step, lambda x: sp.Heaviside(x))
            g = g.replace(_Step, lambda x: sp.Heaviside(x))
            horizon = sp.Integer(int(math.ceil(30 * t_scale)))
            for _ in range(12):
                sup = certified_sup(g, T, 0, horizon, points=[p for p in points if p < horizon],
                                    rel_tol=10.0 ** -min(dps - 6, 30), derivative=dg, steps=steps_h)
                tail = tail_sup_bound(g, T, horizon)
                if tail is not None and tail <= sup.lower:
                    break
                horizon *= 2
            else:
                raise CertificationError(f"gamma_{k}: no certified bound of sup_(t >= T) |e^(beta t) y^({k})(t)| "
                                         f"below the sup on [0, T] up to T = {horizon}")
            upper = sup.upper if sup.upper > tail else tail
            out.append(Enclosure(sup.lower.union(upper), dps))
            tails.append(mp.mpf(float(tail.mid())))
        gamma = out[0]
        for e in out[1:]:  # the max of enclosures: [max lo, max hi]
            lo = gamma.ball.lower() if gamma.ball.lower() > e.ball.lower() else e.ball.lower()
            hi = gamma.ball.upper() if gamma.ball.upper() > e.ball.upper() else e.ball.upper()
            gamma = Enclosure(arb(lo).union(arb(hi)), dps)
    return {"gamma": gamma, "gamma_by_k": tuple(out), "range": horizon, "tail": tuple(tails), "dps": dps}


def jackson_bound(rho: Kernel, alpha: int, beta: float, ms=None, d: int = 1, t_scale: float | None = None,
                  dps: int = 30, certified: bool = False) -> JacksonBound:
    """Check the hypotheses of the Jackson-type theorem and compute ``gamma`` and the bound.

    Parameters
    ----------
    rho : Kernel
        The memory kernel (scalar: ``d = 1``).
    alpha : int
        Smoothness order, ``alpha >= 1``.
    beta : float
        Exponential decay rate, ``beta > 0``.
    ms : sequence of int, optional
        Widths at which to run :func:`jackson` and measure the constant the construction needs.
    d : int
        Input dimension in the bound (the kernels here are scalar, ``d = 1``).
    t_scale : float, optional
        Time scale of the kernel's features (default: ``max(1, 1/beta, largest breakpoint)``). The sup is
        searched on ``[0, 30 t_scale]`` (600 points) and geometrically up to ``1e5 t_scale`` (300 points),
        then refined by golden section in mpmath; the decay is checked at ``1e3..1e7 t_scale``.
    dps : int
        mpmath digits for the evaluations (``e^{beta t}`` is huge and ``y^{(k)}`` tiny far out); with
        ``certified``, the digits of the ball arithmetic (at least 16).
    certified : bool, default False
        Also enclose ``gamma`` rigorously (:attr:`JacksonBound.certified`): the sup of each
        ``|e^{beta t} y^{(k)}| / beta^k`` by interval branch and bound in Arb on ``[0, T]`` plus a certified
        envelope bound beyond ``T`` (:mod:`memtheory.certified`).

    Returns
    -------
    JacksonBound

    Raises
    ------
    CertificationError
        With ``certified``, if the derivatives have no rigorous ball evaluation or no certified tail bound.

    Examples
    --------
    >>> import memtheory as mt
    >>> jb = mt.approximation.jackson_bound(mt.Kernel("(1+t)*exp(-2*t)"), alpha=1, beta=1.0)
    >>> round(jb.gamma, 6), round(jb.argmax_t, 6), jb.argmax_k     # 2 e^{-1/2} at t = 1/2, from y'' = rho'
    (1.213061, 0.5, 2)
    """
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    alpha = _check_alpha(alpha)
    beta = check_positive("beta", beta)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise InvalidArgumentError(f"d must be an integer >= 1, got {d!r}")
    expr = rho.substituted()
    ders = _derivatives(expr, alpha)
    bps = _breakpoints(rho, ders[0])
    if t_scale is None:
        t_scale = max([1.0, 1.0 / beta] + [float(b) for b in bps])
    t_scale = check_positive("t_scale", t_scale)
    violations = []
    fns = [_mp_fn(e) for e in ders]
    with mp.workdps(dps):
        mbeta = mp.mpf(beta)
        # --- continuity of rho^{(j)}, j = 0..alpha, at the breakpoints (y in C^{alpha+1})
        for bp in bps:
            for j, dj in enumerate(ders):
                verdict = continuity_at(dj, bp)
                if not verdict.continuous:
                    violations.append(f"rho^({j}) is {verdict.kind} at t = {float(bp):g} (left "
                                      f"{mp.nstr(verdict.left, 6)}, right {mp.nstr(verdict.right, 6)}, decided "
                                      f"{verdict.how}): y is not C^{j + 1}")

        def g(k: int, t):  # |e^{beta t} y^{(k)}(t)| / beta^k, y^{(k)} = rho^{(k-1)}
            try:
                v = fns[k - 1](t)
            except (ZeroDivisionError, ValueError):
                return mp.inf
            return abs(mp.exp(mbeta * t) * v) / mbeta**k

        grid = sorted(set(np.linspace(0.0, 30 * t_scale, 600).tolist() +
                          np.geomspace(30 * t_scale, 1e5 * t_scale, 300).tolist() +
                          [float(b) + s * 1e-9 * t_scale for b in bps for s in (-1, 1)
                           if float(b) - 1e-9 * t_scale > 0]))
        gammas, where = [], []
        for k in range(1, alpha + 2):
            vals = [g(k, mp.mpf(x)) for x in grid]
            best = max(range(len(grid)), key=lambda i: vals[i])
            if not mp.isfinite(vals[best]):
                gammas.append(math.inf)
                where.append(float(grid[best]))
                continue
            cand = sorted(range(len(grid)), key=lambda i: -vals[i])[:3]
            top_t, top_v = mp.mpf(grid[best]), vals[best]
            for i in cand:
                lo = mp.mpf(grid[max(0, i - 1)])
                hi = mp.mpf(grid[min(len(grid) - 1, i + 1)])
                for a_, b_ in ((lo, mp.mpf(grid[i])), (mp.mpf(grid[i]), hi)):
                    if b_ > a_ and not any(a_ < float(bp_) < b_ for bp_ in bps):
                        t_, v_ = _golden_max(lambda x, k=k: g(k, x), a_, b_)
                        if v_ > top_v:
                            top_t, top_v = t_, v_
            gammas.append(float(top_v))
            where.append(float(top_t))
        # --- decay of e^{beta t} y^{(k)} far out
        tail = []
        far = [t_scale * 10.0**e for e in (3, 4, 5, 6, 7)]
        for tf in far:
            tail.append((tf, float(max(g(k, mp.mpf(tf)) for k in range(1, alpha + 2)))))
    finite = [x for x in gammas if math.isfinite(x)]
    gmax = max(gammas)
    tail_vals = [v for _, v in tail]
    decays = all(math.isfinite(v) for v in tail_vals) and tail_vals[-1] <= 1e-8 * max(finite or [1.0]) and \
        all(b <= a * (1 + 1e-9) or b < 1e-30 for a, b in zip(tail_vals[2:], tail_vals[3:]))
    if not decays:
        violations.append("e^{beta t} y^(k)(t) does not tend to 0 (values "
                          + ", ".join(f"{v:.3g} at t={t:g}" for t, v in tail) + ")")
        if not all(math.isfinite(v) for v in tail_vals) or tail_vals[-1] > max(finite or [0.0]):
            gmax = math.inf
    k_star = int(np.argmax(gammas)) + 1
    cert = None
    if certified:
        from ...certified import certified_dps

        cert = _certified_gamma(ders, bps, alpha, beta, t_scale, certified_dps(dps))
    jb = JacksonBound(alpha, beta, int(d), float(gmax), tuple(float(x) for x in gammas), where[k_star - 1],
                      k_star, not violations, tuple(violations), tuple(tail), certified=cert)
    if ms is None:
        return jb
    rows, c_emp = [], 0.0
    for m in ms:
        cons = jackson(rho, m, alpha, beta)
        base = float(jb.value(m, 1.0)[()]) if math.isfinite(jb.gamma) else math.inf
        ratio = cons.errors.l1 / base if base > 0 else math.inf
        rows.append({"m": int(m), "l1": cons.errors.l1, "l2": cons.errors.l2, "bound_over_C": base, "ratio": ratio})
        c_emp = max(c_emp, ratio)
    return JacksonBound(jb.alpha, jb.beta, jb.d, jb.gamma, jb.gamma_by_k, jb.argmax_t, jb.argmax_k,
                        jb.hypotheses_hold, jb.violations, jb.tail, float(c_emp), tuple(rows), cert)


def _check_alpha(alpha) -> int:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, np.integer)) or alpha < 1:
        raise InvalidArgumentError(f"alpha must be an integer >= 1, got {alpha!r}")
    return int(alpha)


# ================================================================================================= construction
def jackson(rho: Kernel, m: int, alpha: int, beta: float, method: str = "chebyshev",
            errors: bool = True) -> Construction:
    """The construction of the Jackson-type theorem: rates ``j beta/(alpha+1)``, ``j = 1..m``.

    With ``kappa = beta/(alpha+1)`` and ``s = e^{-kappa t}`` the kernel is ``rho(t) = s q(s)``,
    ``q(s) = rho(-log(s)/kappa) / s``. The hypotheses make ``q`` continuous on ``[0, 1]`` with ``q(0) = 0``
    (``e^{beta t} rho -> 0``) and smooth enough for a polynomial rate; ``q`` is replaced by a polynomial of degree
    ``m - 1`` and ``rho_hat(t) = s q_m(s) = sum_{j=1}^m a_j e^{-j kappa t}``.

    Parameters
    ----------
    rho : Kernel
        The kernel (its values at the interpolation nodes; float64).
    m : int
        Width (>= 1).
    alpha : int
        ``alpha >= 1``.
    beta : float
        ``beta > 0``.
    method : {"chebyshev", "projection"}
        ``"chebyshev"``: interpolation of ``q`` at the ``m`` Chebyshev points of the first kind on (0, 1)
        (near-best in sup norm in ``s``, Lebesgue constant ``O(log m)``); ``"projection"``: the L2-best
        coefficients for these rates (same as :func:`universal` with ``scale = beta/(alpha+1)``).
    errors : bool
        Compute the L1 and sup errors too (quadrature).

    Returns
    -------
    Construction

    Examples
    --------
    >>> import memtheory as mt
    >>> c = mt.approximation.jackson(mt.Kernel("(1+t)*exp(-2*t)"), 8, alpha=1, beta=1.0)
    >>> c.w[:3], c.errors.l1 < 1e-4
    ((0.5, 1.0, 1.5), True)
    """
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    m = check_width(m)
    alpha = _check_alpha(alpha)
    beta = check_positive("beta", beta)
    kappa = beta / (alpha + 1)
    params = {"alpha": alpha, "beta": beta}
    if method == "projection":
        u = universal(rho, m, scale=kappa, errors=errors)
        return Construction("jackson", m, kappa, u.a, u.w, u.errors, u.coefficient_norm, "L2 projection", params,
                            u.cheb, u.a_exact)
    if method != "chebyshev":
        raise InvalidArgumentError(f"method must be 'chebyshev' or 'projection', got {method!r}")

    def q(x):
        s = (np.asarray(x, float) + 1) / 2
        t = -np.log(s) / kappa
        with np.errstate(all="ignore"):
            return np.asarray(rho(t), float) * np.exp(kappa * t)

    q_cheb = C.chebinterpolate(q, m - 1) if m > 1 else np.array([float(q(np.array([0.0]))[0])])
    if not np.all(np.isfinite(q_cheb)):
        raise InvalidArgumentError(f"rho(t) e^(kappa t) is not finite at the interpolation nodes (kappa = {kappa:g}):"
                                   " the kernel does not decay like e^(-beta t/(alpha+1))")
    # exact: P(s) = s q(s) = (x + 1)/2 q  (Chebyshev coefficients as exact rationals)
    qf = [Fraction(float(c)) for c in q_cheb]
    xq = [Fraction(0)] * (len(qf) + 1)  # x * q in the Chebyshev basis
    for k, ck in enumerate(qf):
        if k == 0:
            xq[1] += ck
        else:
            xq[k + 1] += ck / 2
            xq[k - 1] += ck / 2
    P = [(xq[k] + (qf[k] if k < len(qf) else 0)) / 2 for k in range(len(xq))]
    q_mono = cheb_to_monomial([float(c) for c in q_cheb])  # exact: coefficients of q in s
    a_frac = q_mono  # rho_hat = sum_{j=1}^m a_j s^j with a_j = q_{j-1}
    coef_norm = float(sum(abs(x) for x in a_frac))
    nd = 25 + max(0, math.ceil(math.log10(max(1.0, coef_norm))))
    with mp.workdps(nd + 5):
        a_exact = tuple(mp.nstr(mp.mpf(x.numerator) / x.denominator, nd) for x in a_frac)
    a = tuple(float(x) for x in a_frac)
    w = tuple(kappa * j for j in range(1, m + 1))
    cheb = tuple(float(x) for x in P)
    cons = Construction("jackson", m, kappa, a, w, None, coef_norm,
                        "Chebyshev interpolation", params, cheb, a_exact)
    errs = approximation_errors(rho, cons) if errors else l2_only_errors(rho, a_exact, w)
    return Construction("jackson", m, kappa, a, w, errs, cons.coefficient_norm, "Chebyshev interpolation", params,
                        cheb, a_exact)

