"""The :class:`Kernel`: a memory kernel rho(t) with its Laplace moments, norms and step response.

A linear, causal, time-homogeneous functional is ``H_t(x) = \\int_0^\\infty rho(s) x(t - s) ds`` (docs/theory.md §1);
``rho`` is its memory kernel. A :class:`Kernel` holds ``rho`` as a SymPy expression in ``t`` and named
parameters, with exact parameter values (:mod:`memtheory.exact`: ``"0.1"`` is ``1/10``, a float ``0.1`` its
binary value, flagged by :attr:`Kernel.inputs_exact`). Everything numeric is derived from that one expression:

* ``rho(t)``: vectorised float64 evaluation;
* ``laplace(s, moment=k, dps=None)``: ``\\int_0^\\infty t^k rho(t) e^{-st} dt``, closed form when the rules of
  :mod:`memtheory.symbolic.laplace` find one (quadrature with an error estimate for the rest), float64 by default
  (through the compiled moments of :mod:`memtheory.kernels.compiled`, the same code the losses and gradient flows
  call) and mpmath at ``dps`` digits on request;
* ``norm(p)``: L1 (quadrature of ``|rho|``) and L2 (closed form of ``\\int rho^2`` where possible);
* ``step_response(t)`` = ``\\int_0^t rho``; ``memory_function(t)`` = ``|rho(t)|`` (docs/theory.md §5).

Float64 results that under- or overflow are never returned silently: a :class:`~memtheory.errors.PrecisionError`
says which ``dps`` gives the value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp
from flint import arb

from ..symbolic.latex import to_latex
from ..display import MAX_REPR, Displayable, latex_repr
from .._validation import FLOAT64_TINY, as_float_array, check_dps, check_int, require_float
from ..certified import (certified_dps, constant_ball, enclosure, half_line_integral, laplace_balls, missing_digits,
                         refine)
from ..compile import codegen
from ..compile.arith import FLINT
from ..compile.arb import arb_function, dps_to_prec, to_arb, workprec
from ..errors import CertificationError, InvalidArgumentError, NotIntegrableError, PrecisionError, UnsafeExpressionError
from ..symbolic.laplace import LaplaceForm, laplace_form
from ..exact import as_float64, exact, exact_number, float64_exactly, is_float64, to_mpf, typed_exactly
from ..symbolic.parse import parse_expression, symbol
from ..symbolic.steps import piecewise_to_heaviside
from .compiled import CompiledKernel, compile_kernel

__all__ = ["Kernel", "LaplaceResult", "RESERVED_NAMES", "FLOAT64_RTOL", "MAX_MOMENT", "MAX_CLOSED_MOMENT"]

#: Largest relative error estimate a float64 Laplace moment may carry before :meth:`Kernel.laplace` recomputes it in
#: arbitrary precision (cancellation in the closed form, an unconverged quadrature).
FLOAT64_RTOL = 1e-11

T = symbol("t")
S = symbol("s")


@dataclass(frozen=True, repr=False)
class LaplaceResult(Displayable):
    """Values of a Laplace moment with an error estimate.

    Attributes
    ----------
    values : numpy.ndarray or list of mpmath.mpf
        ``L[t^k rho](s)`` at each ``s``.
    errors : numpy.ndarray or list of mpmath.mpf
        Absolute error estimates (0 for pure closed forms evaluated in float64 beyond rounding).
    method : str
        ``"closed form"``, ``"quadrature"`` or ``"closed form + quadrature"``.
    dps : int or None
        mpmath digits used (None for float64).
    inputs_exact : bool
        Whether the values are those of the numbers as typed: ``False`` when a parameter or an ``s`` was a binary
        float such as ``0.3`` (its binary value was used), or when the float64 path rounded an input that is not
        a float64 (``"0.3"`` at ``dps=None``). See :mod:`memtheory.exact`.
    """

    values: object
    errors: object
    method: str
    dps: int | None
    inputs_exact: bool = True

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        conv = (lambda v: [mp.nstr(x, self.dps) for x in v]) if self.dps else (lambda v: [float(x) for x in v])
        return {"values": conv(self.values), "errors": conv(self.errors), "method": self.method, "dps": self.dps,
                "inputs_exact": self.inputs_exact}


#: Highest Laplace moment k of L[t^k rho] with a closed form: the closed forms are k-fold derivatives in s, whose
#: symbolic size grows with k (k = 40 of (1 + t)^(-3/2) does not finish in minutes), and the float64 path compiles
#: every moment up to k (k = 25 of e^(-t): 27 s). Higher moments are integrals of t^k rho(t) e^(-st) by mpmath
#: quadrature (float64 values: at 30 digits, rounded once).
MAX_CLOSED_MOMENT = 20

#: Highest Laplace moment k of L[t^k rho]: the quadrature of the higher moments is tested up to here (against
#: exact moments and independent quadratures at 80 digits, tests/test_kernels.py).
MAX_MOMENT = 100

#: Names a kernel parameter cannot take, with the reason.
RESERVED_NAMES = {"s": "the Laplace variable of the transforms"}


class Kernel(Displayable):
    """A memory kernel rho(t), t >= 0, given by a safe expression and named parameters.

    Parameters
    ----------
    expr : str or sympy.Expr
        The kernel in the variable ``t``, e.g. ``"exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))"``. Strings are
        parsed safely (:func:`memtheory.symbolic.parse.parse_expression`).
    **params : int, str, Fraction, Rational, float, mpf
        Values of the parameters the expression uses. Every free symbol other than ``t`` needs a value. Each is
        kept exact (:mod:`memtheory.exact`): ``"0.3"`` is ``3/10``, a float ``0.3`` its binary value.

    Examples
    --------
    >>> import memtheory as mt
    >>> rho = mt.Kernel("exp(-lam*t)", lam=0.5)
    >>> float(rho.laplace(1.5)[0])
    0.5
    >>> round(rho.norm(2, squared=True), 12)
    1.0
    """

    def __init__(self, expr: str | sp.Expr, **params: float):
        names = sorted(params)
        if isinstance(expr, str):
            parsed = parse_expression(expr, names)
        elif isinstance(expr, sp.Basic):
            parsed = sp.sympify(expr)
        else:
            raise InvalidArgumentError(f"expr must be a string or SymPy expression, got {type(expr).__name__}")
        if not isinstance(parsed, sp.Expr) or isinstance(parsed, sp.logic.boolalg.BooleanAtom):
            raise UnsafeExpressionError(f"kernel {str(parsed)[:60]!r} is not a number-valued expression (a condition "
                                        "or a set?); for a step write Heaviside(t - a) or Piecewise((value, "
                                        "condition), (0, True))")
        reserved = sorted(set(params) & set(RESERVED_NAMES))
        if reserved:
            raise UnsafeExpressionError(f"parameter name {reserved[0]!r} is reserved ({RESERVED_NAMES[reserved[0]]}); "
                                        "rename the parameter")
        numbers = {name: exact_number(value, name) for name, value in params.items()}
        values = {name: num.value for name, num in numbers.items()}
        free = {sym.name for sym in parsed.free_symbols} - {"t"}
        missing = free - set(values)
        if missing:
            raise UnsafeExpressionError(f"no value given for parameter(s) {', '.join(sorted(missing))}")
        unused = set(values) - free
        for name in unused:
            del values[name]
        # Canonical symbols (t positive, parameters real) whatever the caller's assumptions were.
        parsed = parsed.xreplace({sym: symbol(sym.name) for sym in parsed.free_symbols})
        if parsed.has(sp.I) or parsed.has(sp.zoo, sp.oo, sp.nan):
            raise UnsafeExpressionError(f"kernel {str(parsed)[:60]} is not a finite real expression")
        parsed = piecewise_to_heaviside(parsed, symbol("t"))
        with_values = parsed.xreplace({symbol(k): v for k, v in values.items()})
        if with_values.has(sp.I, sp.zoo, sp.oo, sp.nan):
            given = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
            raise UnsafeExpressionError(f"kernel {str(parsed)[:60]} is not finite with {given}")
        self._expr: sp.Expr = parsed
        self._values: dict[str, sp.Expr] = dict(sorted(values.items()))
        # parameters given as binary floats that are not the decimal they print as (0.3, not 0.5)
        self._inexact: frozenset[str] = frozenset(n for n in values if not numbers[n].typed_exact)
        # per instance (expression and values never change): the Laplace form of each moment, the compiled module
        self._forms: dict[int, LaplaceForm] = {}
        self._compiled: dict[int, CompiledKernel] = {}
        # the float64 ||rho||^2 by full_output (every float64 L2 loss against this kernel needs it)
        self._squares: dict[bool, object] = {}

    def __getstate__(self) -> dict:
        # The caches hold compiled modules, which neither pickle nor deep-copy: a copy (another process of a
        # sweep, copy.deepcopy) starts with empty caches and rebuilds what it uses.
        return {"_expr": self._expr, "_values": self._values, "_inexact": self._inexact}

    def __setstate__(self, state: dict) -> None:
        self._expr = state["_expr"]
        self._values = state["_values"]
        self._inexact = state.get("_inexact", frozenset())
        self._forms = {}
        self._compiled = {}
        self._squares = {}

    # ------------------------------------------------------------------ basic accessors
    @property
    def expr(self) -> sp.Expr:
        """The SymPy expression in ``t`` and the parameter symbols."""
        return self._expr

    @property
    def params(self) -> dict[str, float]:
        """Parameter values as floats (exact values: :attr:`exact_params`)."""
        return {k: float(v) for k, v in self._values.items()}

    @property
    def exact_params(self) -> dict[str, sp.Expr]:
        """Parameter values as exact SymPy numbers."""
        return dict(self._values)

    @property
    def inputs_exact(self) -> bool:
        """Whether every parameter is the number typed (``False`` if one was a binary float such as ``0.3``;
        see :mod:`memtheory.exact`)."""
        return not self._inexact

    def float64_exact(self) -> bool:
        """Whether the float64 paths use the parameters unchanged (each typed exactly and a float64)."""
        return self.inputs_exact and all(is_float64(v) for v in self._values.values())

    def _carrying(self, kernel: Kernel, *others: Kernel, replaced: Iterable[str] = (),
                  inexact_factor: bool = False) -> Kernel:
        """``kernel`` remembering which parameters of ``self`` (and ``others``) were inexact, and whether a
        binary-float factor (``0.3 * rho``) went into its expression."""
        inexact = set(kernel._inexact) | (set(self._inexact) - set(replaced)) | ({_FACTOR} if inexact_factor else set())
        for other in others:
            inexact |= set(other._inexact)
        kernel._inexact = frozenset(n for n in inexact if n in kernel._values or n == _FACTOR)
        return kernel

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        """Parameter symbols, sorted by name (the order of the compiled functions' parameter array)."""
        return tuple(symbol(name) for name in self._values)

    def param_array(self) -> np.ndarray:
        """Parameter values as a float64 array in :attr:`param_symbols` order."""
        return np.array([float(v) for v in self._values.values()], dtype=float)

    def substituted(self) -> sp.Expr:
        """The expression with the parameter values substituted (exact)."""
        return self._expr.xreplace(self._subs())

    def _subs(self) -> dict:
        return {symbol(k): v for k, v in self._values.items()}

    def with_params(self, **params: float) -> Kernel:
        """A copy with some parameter values changed (same structure: compiled code is reused)."""
        unknown = set(params) - set(self._values)
        if unknown:
            raise InvalidArgumentError(f"unknown parameter(s) {', '.join(sorted(unknown))}; kernel has "
                                       f"{', '.join(self._values) or 'none'}")
        return self._carrying(Kernel(self._expr, **{**self._values, **params}), replaced=params)

    def latex(self) -> str:
        r"""LaTeX of ``rho(t)`` (parameters symbolic), e.g. ``e^{- \frac{t}{2}}``."""
        return to_latex(self._expr)

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={v}" for k, v in self._values.items())
        text = f"Kernel({str(self._expr)!r}{', ' if vals else ''}{vals})"
        return text if len(text) <= MAX_REPR else text[: MAX_REPR - 20] + f"... ({len(text)} chars)"

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("rho(t)", str(self._expr)), *self._values.items()]

    def _display_headline(self) -> str:
        return repr(self)

    def _repr_latex_(self) -> str:
        return latex_repr(r"\rho(t) = " + self.latex())

    # ------------------------------------------------------------------ arithmetic
    def _merged(self, other: Kernel) -> tuple[sp.Expr, sp.Expr, dict]:
        values = dict(self._values)
        other_expr = other._expr
        renames = {}
        for name, value in other._values.items():
            if name in values and values[name] != value:
                k = 2
                while f"{name}_{k}" in values or f"{name}_{k}" in other._values:
                    k += 1
                renames[symbol(name)] = symbol(f"{name}_{k}")
                values[f"{name}_{k}"] = value
            else:
                values[name] = value
        return self._expr, other_expr.xreplace(renames), values

    def __add__(self, other: Kernel | float) -> Kernel:
        if isinstance(other, Kernel):
            a, b, values = self._merged(other)
            return self._carrying(Kernel(a + b, **values), other)
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Kernel:
        return self._carrying(Kernel(-self._expr, **self._values))

    def __sub__(self, other: Kernel) -> Kernel:
        if isinstance(other, Kernel):
            return self + (-other)
        return NotImplemented

    def __mul__(self, other: float) -> Kernel:
        if isinstance(other, Kernel):
            return NotImplemented
        factor = exact_number(other, "factor")
        out = self._carrying(Kernel(factor.value * self._expr, **self._values))
        return out if factor.typed_exact else self._carrying(out, inexact_factor=True)

    __rmul__ = __mul__

    def __truediv__(self, other: float) -> Kernel:
        divisor = exact_number(other, "divisor")
        if divisor.value == 0:
            raise InvalidArgumentError("cannot divide a kernel by zero")
        out = self._carrying(Kernel(self._expr / divisor.value, **self._values))
        return out if divisor.typed_exact else self._carrying(out, inexact_factor=True)

    # ------------------------------------------------------------------ evaluation
    def __call__(self, t, dps: int | None = None):
        """Evaluate ``rho(t)`` (vectorised float64; a list of mpf with ``dps``)."""
        if dps is not None:
            f = _mp_callable(self._expr, self.param_symbols, T)
            with mp.workdps(check_dps(dps)):
                pv = self._mp_params()
                return [f(x if isinstance(x, mp.mpf) else mp.mpf(x.item() if isinstance(x, np.generic) else x), *pv)
                        for x in np.atleast_1d(t)]
        t_arr = as_float_array(t, "t")
        f = _np_callable(self._expr, self.param_symbols, T)
        out = np.asarray(f(t_arr, *self.param_array()), dtype=float)
        return np.broadcast_to(out, t_arr.shape).copy() if out.shape != t_arr.shape else out

    def memory_function(self, t):
        """Memory function of the linear functional, ``M(H)(t) = |rho(t)|`` (docs/theory.md §5)."""
        return np.abs(self(t))

    def _mp_params(self) -> list:
        return [to_mpf(v) for v in self._values.values()]

    # ------------------------------------------------------------------ Laplace transforms
    def laplace_form(self, moment: int = 0) -> LaplaceForm:
        """The symbolic split of ``L[t^moment rho](s)`` into closed form and residual (parameters symbolic).

        Moments above :data:`MAX_CLOSED_MOMENT` are all residual (``t^k rho(t)``, integrated by quadrature), on the
        domain of convergence of the transform itself (the conditions of moment 0).
        """
        moment = check_int("moment", moment, lo=0)
        if moment > MAX_MOMENT:
            raise InvalidArgumentError(
                f"moment must be an integer in [0, {MAX_MOMENT}], got {moment}: moments above {MAX_CLOSED_MOMENT} "
                f"are computed by quadrature, which is tested up to k = {MAX_MOMENT}")
        if moment in self._forms:
            return self._forms[moment]
        if moment > MAX_CLOSED_MOMENT:  # quadrature of t^k rho(t) e^(-st), on the domain of the transform
            base = self.laplace_form(0)
            form = LaplaceForm(sp.S.Zero, T**moment * self._expr, base.conditions, base.assumptions)
            self._forms[moment] = form
            return form
        values = self._subs()
        forms = _FORMS.setdefault((self._expr, moment), [])
        for form in forms:
            if form.holds_for(values):
                break
        else:
            form = laplace_form(self._expr, T, S, moment, values)
            forms.append(form)
        self._forms[moment] = form
        return form

    def laplace(self, s, moment: int = 0, dps: int | None = None, full_output: bool = False,
                certified: bool = False):
        """``L[t^k rho](s) = \\int_0^\\infty t^k rho(t) e^{-st} dt`` at each ``s``.

        Parameters
        ----------
        s : float or array_like
            Evaluation points (must make the integral converge, typically ``s > 0``). With ``certified`` each
            point is exact: a float is its binary value, a string (``"0.3"``, ``"3/10"``) an exact decimal.
        moment : int
            ``0 <= k <= MAX_MOMENT`` (100). Up to :data:`MAX_CLOSED_MOMENT` (20) by closed forms where the rules
            have them; above, by mpmath quadrature of ``t^k rho(t) e^{-st}`` (float64: at 30 digits, rounded once).
        dps : int, optional
            Decimal digits; default float64 (with ``certified``: 30). At ``dps`` the closed part is evaluated in
            Arb balls (its error is then the ball's radius, a bound), by mpmath where a ball does not settle;
            the residual by mpmath quadrature. Values are returned as mpmath ``mpf``.
        full_output : bool
            Return a :class:`LaplaceResult` with error estimates instead of the values.
        certified : bool, default False
            Return rigorous enclosures (:class:`~memtheory.certified.Enclosure`, one per ``s``) computed in
            Arb ball arithmetic at ``dps`` digits: closed forms in balls, the residual by Arb's rigorous
            quadrature plus a certified tail bound (docs/certified.md). ``full_output`` is ignored.

        Returns
        -------
        numpy.ndarray (float64), list of mpmath.mpf (with ``dps``), LaplaceResult, or list of Enclosure

        Raises
        ------
        NotIntegrableError
            If the transform diverges at some ``s`` (e.g. ``s <= 0`` for ``sin t``).
        PrecisionError
            If a float64 value under- or overflows double range; the message gives a ``dps`` that works.
        CertificationError
            With ``certified``, if some part has no rigorous bound (a function without a ball implementation, a
            residual without a certified tail bound).
        """
        form = self.laplace_form(moment)
        if certified:
            return self._laplace_certified(s, moment, form, certified_dps(dps))
        if dps is None:
            result = self._laplace_float(np.atleast_1d(as_float_array(as_float64(s, "s"), "s")), moment, form)
            inputs_exact = self.float64_exact() and float64_exactly(s)
        else:
            result = self._laplace_mp(s, moment, form, check_dps(dps))
            inputs_exact = self.inputs_exact and typed_exactly(s)
        result = dataclasses.replace(result, inputs_exact=inputs_exact)
        if not full_output:
            _require_resolved(result.values, result.errors, f"L[t^{moment} rho]")
        return result if full_output else result.values

    def _check_conditions(self, form: LaplaceForm, s_values, moment: int) -> None:
        s_arr = np.asarray(s_values, dtype=float).reshape(-1)
        ok = np.ones(s_arr.shape, bool)
        if form.conditions:
            # the parameters as arrays of the shape of s: numpy's logical_and.reduce cannot mix array and scalar
            # operands
            p = [np.full(s_arr.shape, v) for v in self.param_array()]
            for cond in form.conditions:
                f = _np_callable(cond, self.param_symbols, S)
                try:
                    holds = np.broadcast_to(np.asarray(f(s_arr, *p), dtype=bool), s_arr.shape)
                except (TypeError, ValueError, OverflowError):
                    # a condition numpy cannot vectorise, or with integers beyond float range (s + 10**400 > 0):
                    # decided exactly, one point at a time
                    exact_cond = cond.xreplace(self._subs())
                    holds = np.array([bool(exact_cond.xreplace({S: sp.Rational(float(sv))})) for sv in s_arr],
                                     dtype=bool)
                ok &= holds
        if not ok.all():
            bad = s_arr[~ok][0]
            conds = sp.And(*form.conditions).xreplace(self._subs())
            raise NotIntegrableError(
                f"L[t^{moment} rho](s) diverges (or leaves its closed form's domain) at s = {bad:g} for "
                f"rho = {self.substituted()}; conditions: {conds}")

    def _laplace_float(self, s: np.ndarray, moment: int, form: LaplaceForm) -> LaplaceResult:
        """Float64 values through the compiled moments (:mod:`memtheory.kernels.compiled`); values that are not
        finite or below double range are decided in arbitrary precision."""
        shape = s.shape
        s = s.reshape(-1)
        self._check_conditions(form, s, moment)
        if form.residual != 0:
            self._check_residual_integrable(form, s, moment)
        if moment > MAX_CLOSED_MOMENT:  # no compiled form: mpmath quadrature at 30 digits, rounded once
            ref = self._laplace_mp(list(s), moment, form, 30)
            values, errors = np.empty(s.shape), np.empty(s.shape)
            for idx, (true, err) in enumerate(zip(ref.values, ref.errors)):
                require_float(true, f"L[t^{moment} rho]({s[idx]:g})")
                values[idx] = float(true)
                errors[idx] = float(err + abs(true - mp.mpf(values[idx])))
            return LaplaceResult(values.reshape(shape), errors.reshape(shape), "quadrature", None)
        kmax = max(2, moment)
        if kmax not in self._compiled:
            self._compiled[kmax] = compile_kernel(self, kmax)
        values, errors = self._compiled[kmax].laplace(self, s, moment)
        method = [name for name, part in (("closed form", form.closed), ("quadrature", form.residual)) if part != 0]
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | (np.abs(values) < FLOAT64_TINY) | ~(errors <= FLOAT64_RTOL * np.abs(values))
        if bad.any():
            # Decide in arbitrary precision: values below or beyond double range raise, values whose float64
            # error estimate is too large (cancellation, an unconverged quadrature) are replaced by the mpmath
            # value rounded once, with its error estimate plus the rounding.
            ref = self._laplace_mp(s[bad], moment, form, 30)
            for idx, true, err in zip(np.flatnonzero(bad), ref.values, ref.errors):
                require_float(true, f"L[t^{moment} rho]({s[idx]:g})")
                values[idx] = float(true)
                errors[idx] = float(err + abs(true - mp.mpf(values[idx])))
        return LaplaceResult(values.reshape(shape), errors.reshape(shape), " + ".join(method) or "closed form", None)

    def _check_residual_integrable(self, form: LaplaceForm, s: np.ndarray, moment: int) -> None:
        """For ``s <= 0`` the quadrature of the residual needs ``t^k r(t) e^{-s t}`` integrable (``t^k rho``, not
        only ``rho``: ``1/(1 + t^2)`` has a transform at 0 but no first moment there)."""
        residual = form.residual.xreplace(self._subs())
        for sv in sorted({float(x) for x in s if x <= 0}):
            if not _integrable(residual * sp.exp(-exact(sv) * T), 1):
                raise NotIntegrableError(
                    f"L[t^{moment} rho](s) diverges at s = {sv:g}: t^{moment} rho(t) e^(-s t) is not integrable for "
                    f"rho = {self.substituted()}")

    def _laplace_mp(self, s, moment: int, form: LaplaceForm, dps: int) -> LaplaceResult:
        s_list = list(np.atleast_1d(s)) if not isinstance(s, (list, tuple)) else list(s)
        s_float = as_float64(np.array(s_list, dtype=object), "s")
        self._check_conditions(form, s_float, moment)
        if form.residual != 0:
            self._check_residual_integrable(form, s_float, moment)
        values, errors, method = [], [], []
        closed = (_mp_callable(sp.Tuple(*sp.Add.make_args(form.closed)), self.param_symbols, S)
                  if form.closed != 0 else None)
        resid = _mp_callable(form.residual, self.param_symbols, T) if form.residual != 0 else None
        balls = _ball_callable(form.closed, tuple(self.param_symbols)) if closed is not None else None
        in_balls = self._ball_values(balls, s_list, dps) if balls is not None else [None] * len(s_list)
        for sv, found in zip(s_list, in_balls):
            val, err = mp.mpf(0), mp.mpf(0)
            if closed is not None:
                val, err = found if found is not None else self._mp_closed(closed, sv, dps, moment)
            with mp.workdps(dps):
                if resid is not None:
                    q, e = self._mp_residual(resid, form, sv, moment)
                    val += q
                    err += e
                values.append(+val)
                errors.append(err + mp.eps * abs(val))
        if closed is not None:
            method.append("closed form")
        if resid is not None:
            method.append("quadrature")
        return LaplaceResult(values, errors, " + ".join(method), dps)

    def _ball_values(self, func, s_list: list, dps: int) -> list:
        """A closed form at each ``s`` in Arb ball arithmetic: per point the midpoint and the radius of a ball that
        contains the exact value, at the precision that makes the radius at most ``10^-(dps + 2)`` of the value,
        or None where the balls do not settle.

        The radius bounds every rounding (cancellation included, which widens the ball): it is a true error
        bound, and the ball functions are 10-40x faster than mpmath's (the incomplete gamma, erfc). The precision
        starts at ``dps + 10`` digits; a ball that is too wide is recomputed with the digits its radius says are
        missing (:func:`memtheory.certified.missing_digits`) plus 10, up to five times and the mpmath path's cap
        of ``max(20 dps, dps + 2000)`` digits. A point whose ball does not settle (a value that is exactly zero
        in a wide ball, a non-finite intermediate) gets None and the mpmath evaluation decides it.
        """
        points = [sv if isinstance(sv, (mp.mpf, float, int)) else exact(sv, "s") for sv in s_list]
        out: list = [None] * len(points)
        todo = list(range(len(points)))
        work, cap = dps + 10, max(20 * dps, dps + 2000)
        for _ in range(5):
            if not todo:
                break
            retry, need = [], 0
            with workprec(dps_to_prec(work)), mp.workprec(dps_to_prec(work)):
                params = [to_arb(v) for v in self._values.values()]
                for idx in todo:
                    try:
                        ball = func(to_arb(points[idx]), *params)
                    except (ZeroDivisionError, ValueError, CertificationError):
                        continue
                    if not ball.is_finite():
                        continue
                    missing = missing_digits([ball], dps + 2)
                    if missing == 0:  # the midpoint and radius exactly (both fit the working precision)
                        out[idx] = (FLINT.to_mpf(ball.mid()), FLINT.to_mpf(ball.rad()))
                    else:
                        retry.append(idx)
                        need = max(need, missing)
            if work >= cap:
                break
            todo, work = retry, min(cap, work + need + 10)
        return out

    def _mp_closed(self, terms, sv, dps: int, moment: int) -> tuple[mp.mpf, mp.mpf]:
        """A closed form at ``s = sv`` to ``dps`` digits, at the working precision its cancellation needs.

        ``terms`` evaluates the closed form's terms (its top-level sum) at once. At ``p = dps + 10`` digits their
        sum has the error estimate ``16 * 10^-p * sum |terms|``: the condition of the sum times a few ulps of
        each term (parameters and ``s`` are converted exactly at each precision). While that exceeds
        ``10^-(dps + 2)`` of the value, the digits the cancellation costs, ``log10(sum |terms| / |sum|)``, are
        added and the terms recomputed.
        """
        prec, cap = dps + 10, max(20 * dps, dps + 2000)
        exact_s = exact(sv, "s")
        zeros = 0
        while True:
            with mp.workdps(prec):
                point = to_mpf(exact_s)
                try:
                    vals = terms(point, *self._mp_params())
                except ZeroDivisionError:
                    raise NotIntegrableError(f"L[t^{moment} rho](s) diverges at s = {sv}") from None
                value = mp.fsum(vals)
                size = mp.fsum(abs(x) for x in vals)
                error = 16 * mp.eps * size
                if error <= mp.mpf(10) ** (-(dps + 2)) * abs(value) or prec >= cap or not mp.isfinite(value):
                    return value, error
                if value == 0:
                    zeros += 1
                    if zeros > 2:  # an exact cancellation (a zero of the transform): 0 within the estimate
                        return value, error
                    lost = prec
                else:
                    lost = int(mp.ceil(mp.log10(size / abs(value))))
            prec = min(cap, max(prec + 10, dps + 12 + lost))

    def _mp_residual(self, resid, form: LaplaceForm, sv, moment: int = 0) -> tuple[mp.mpf, mp.mpf]:
        """``\\int_0^\\infty residual(t) e^{-st} dt`` at the working precision, with an error estimate that also
        compares two subdivisions (mpmath's own estimate misses oscillation and endpoint singularities). For a
        moment ``k`` above :data:`MAX_CLOSED_MOMENT` the second subdivision also splits around the peak
        ``t = k/s`` of ``t^k e^{-st}``."""
        pv = self._mp_params()
        sv = to_mpf(exact(sv, "s"))
        pts = [mp.mpf(x) for x in self.breakpoints(form)]
        extra = set(pts) | {mp.mpf(2) ** j for j in range(-6, 8)}
        if moment > MAX_CLOSED_MOMENT and sv > 0:
            peak, width = moment / sv, mp.sqrt(moment) / sv
            extra |= {x for x in (peak / 2, peak - 3 * width, peak - width, peak, peak + width, peak + 3 * width,
                                  2 * peak) if x > 0}
        extra = sorted(extra)

        def f(x):
            try:
                return resid(x, *pv) * mp.exp(-sv * x)
            except ZeroDivisionError:  # a pole (or 0/0) of rho at a quadrature node inside (0, inf)
                raise NotIntegrableError(
                    f"rho(t) is not finite at t = {mp.nstr(x, 15)} (a pole or 0/0 of {self.substituted()}): "
                    "its Laplace transform is not an integral of a finite function; rewrite the kernel there "
                    "(e.g. by its limit)") from None

        q1, e1 = mp.quad(f, [0, *pts, mp.inf], error=True)
        q2, e2 = mp.quad(f, [0, *extra, mp.inf], error=True)
        return q2, max(e1, e2, abs(q1 - q2))

    def _laplace_certified(self, s, moment: int, form: LaplaceForm, dps: int) -> list:
        s_list = [exact(x, "s") for x in (s if isinstance(s, (list, tuple)) else np.atleast_1d(s).tolist())]
        self._check_conditions(form, np.array([float(x) for x in s_list]), moment)
        points = self.breakpoints(form, exact=True)

        def compute(work: int) -> list:
            with workprec(dps_to_prec(work)):
                return laplace_balls(form, self._subs(), s_list, moment, points)

        balls, work = refine(compute, dps)  # more digits where cancellation widened the balls
        with workprec(dps_to_prec(work)):
            return [enclosure(b, work, f"L[t^{moment} rho]({sv})") for b, sv in zip(balls, s_list)]

    def breakpoints(self, form: LaplaceForm, exact: bool = False) -> list:
        """Points ``t > 0`` where the residual of ``form`` has features (zeros of linear function arguments), at
        this kernel's parameter values: the breakpoints of its quadrature.

        Parameters
        ----------
        form : LaplaceForm
            A form of this kernel (:meth:`laplace_form`); ``LaplaceForm(0, expr)`` gives the points of ``expr``.
        exact : bool, default False
            Return the exact SymPy numbers instead of floats (the split points of certified quadrature).

        Returns
        -------
        list of float or of sympy numbers
            Sorted, distinct.
        """
        roots = _linear_exact_roots(form.residual.xreplace(self._subs()))
        return list(roots) if exact else [float(r) for r in roots]

    # ------------------------------------------------------------------ norms
    def is_integrable(self, p: int = 1) -> bool:
        """Whether ``\\int_0^\\infty |rho|^p < infinity`` (tail analysis of the expression; p = 1 or 2)."""
        if p not in (1, 2):
            raise InvalidArgumentError(f"p must be 1 or 2, got {p!r}")
        return _integrable(self.substituted(), int(p))

    def norm(self, p: int = 2, squared: bool = False, dps: int | None = None):
        """The Lp norm of rho on [0, inf), p = 1 or 2.

        Parameters
        ----------
        p : {1, 2}
            Which norm.
        squared : bool
            Return ``||rho||_2^2`` (only with p = 2).
        dps : int, optional
            mpmath digits (returns an ``mpf``).

        Raises
        ------
        NotIntegrableError
            If rho is not in Lp (e.g. ``sin t``, ``(1+t)^(-1)`` for p = 1).
        """
        if p not in (1, 2):
            raise InvalidArgumentError(f"p must be 1 or 2, got {p!r}")
        if squared and p != 2:
            raise InvalidArgumentError("squared=True is only meaningful for p = 2")
        if not self.is_integrable(p):
            raise NotIntegrableError(f"rho = {self.substituted()} is not in L{p}[0, inf)")
        if p == 2:
            sq = self.square_integral(dps=dps)
            if squared:
                return sq
            return mp.sqrt(sq) if dps else math.sqrt(sq)
        return self._l1_norm(dps)

    def square_integral(self, dps: int | None = None, full_output: bool = False, certified: bool = False):
        """``\\int_0^\\infty rho(t)^2 dt`` (closed form where the rules apply, quadrature otherwise).

        ``rho^2`` is expanded term by term (``(sum_i r_i)^2 = sum_ij r_i r_j``, each product kept as one term), so
        its transform is a sum of closed forms; their cancellation (``(e^{-t} - e^{-(1+d) t})^2``) is handled by
        :meth:`integral`.

        Parameters
        ----------
        dps : int, optional
            mpmath digits (returns an ``mpf``); default float64.
        full_output : bool
            Return ``(value, error)``, the error an estimate of the absolute error (see :meth:`integral`).
        certified : bool, default False
            Return a rigorous :class:`~memtheory.certified.Enclosure` (see :meth:`integral`; default 30 digits).
        """
        cached = dps is None and not certified  # float64: computed once per kernel (its value never changes)
        if cached and bool(full_output) in self._squares:
            return self._squares[bool(full_output)]
        if not self.is_integrable(2):
            raise NotIntegrableError(f"rho = {self.substituted()} is not square-integrable")
        terms = sp.Add.make_args(sp.expand(self._expr, deep=False, mul=True, multinomial=False, power_exp=False))
        square = sp.Add(*[(1 if i == j else 2) * terms[i] * terms[j]
                          for i in range(len(terms)) for j in range(i, len(terms))])
        value = Kernel(square, **self._values).integral(dps=dps, full_output=full_output, certified=certified)
        if cached:
            self._squares[bool(full_output)] = value
        return value

    def integral(self, dps: int | None = None, full_output: bool = False, certified: bool = False):
        """``\\int_0^\\infty rho(t) dt`` = ``L[rho](0)``; where the closed form's terms diverge one by one at
        ``s = 0`` (a window is a difference of two steps) the limit ``s -> 0+`` of their sum is taken.

        Parameters
        ----------
        dps : int, optional
            mpmath digits (returns an ``mpf``); default float64.
        full_output : bool
            Return ``(value, error)``: the error estimate of :meth:`laplace` at ``s = 0`` (the limit, when
            taken, is evaluated at twice the digits, its error estimated from the difference with ``dps``).
        certified : bool, default False
            Return a rigorous :class:`~memtheory.certified.Enclosure` computed in Arb ball arithmetic (the
            closed form at ``s = 0`` or its limit, the residual by certified quadrature with a tail bound;
            ``dps`` defaults to 30, ``full_output`` is ignored).
        """
        if not self.is_integrable(1):
            raise NotIntegrableError(f"rho = {self.substituted()} is not integrable on [0, inf)")
        if certified:
            return self._integral_certified(certified_dps(dps))
        zero = [0.0] if dps is None else [mp.mpf(0)]
        try:
            res = self.laplace(zero, 0, dps=dps, full_output=True)
            value = res.values[0] if dps else float(res.values[0])
            error = res.errors[0] if dps else float(res.errors[0])
            if not full_output:
                _require_resolved([value], [error], "int_0^inf rho")
            return (value, error) if full_output else value
        except NotIntegrableError:
            pass
        form = self.laplace_form(0)
        at_zero = _limit_at_zero(form.closed.xreplace(self._subs()))
        digits = dps or 20

        def evaluate(d):
            with mp.workdps(d):
                val = mp.mpf(0) if at_zero == 0 else codegen.mpmath_function((), at_zero)()
                err = mp.mpf(0)
                if form.residual != 0:
                    resid = _mp_callable(form.residual.xreplace(self._subs()), (), T)
                    pts = [mp.mpf(x) for x in self.breakpoints(form)]
                    try:
                        q, err = mp.quad(resid, [0, *pts, mp.inf], error=True)
                    except ZeroDivisionError:  # a node on a pole of rho inside (0, inf)
                        raise NotIntegrableError(f"rho = {self.substituted()} is not finite at a quadrature node "
                                                 "inside (0, inf): a pole there") from None
                    val += q
                return val, err

        low, err_low = evaluate(digits)
        high, err_high = evaluate(2 * digits + 10)
        with mp.workdps(digits):
            value = +high
            error = abs(high - low) + err_low + err_high + mp.eps * abs(value)
        if dps is None:
            value, error = float(value), float(error)
        if not full_output:
            _require_resolved([value], [error], "int_0^inf rho")
        return (value, error) if full_output else value

    def _integral_certified(self, dps: int):
        try:
            return self.laplace([0], 0, dps=dps, certified=True)[0]
        except (NotIntegrableError, CertificationError):
            pass  # the closed form's terms diverge one by one at s = 0: take the limit of their sum
        form = self.laplace_form(0)
        at_zero = _limit_at_zero(form.closed.xreplace(self._subs()))
        residual = form.residual.xreplace(self._subs())

        def compute(work: int) -> list:
            with workprec(dps_to_prec(work)):
                ball = constant_ball(at_zero, "int_0^inf rho") if at_zero != 0 else arb(0)
                if residual != 0:
                    ball += half_line_integral(residual, T, self.breakpoints(form, exact=True))
                return [ball]

        (ball,), work = refine(compute, dps)
        with workprec(dps_to_prec(work)):
            return enclosure(ball, work, "int_0^inf rho")

    def _l1_norm(self, dps: int | None):
        """``int |rho|``: the closed form where ``rho >= 0`` is evident; otherwise the quadrature of the exact error
        norms (:func:`memtheory.theory.error_norms.kernel_tail_l1`: sign changes located on a log grid past every
        feature, slow tails followed until a proven envelope bounds the rest, a PrecisionError where it cannot
        reach 1e-12), and with ``dps`` an mpmath quadrature between the sign changes that must agree with it."""
        from ..theory.error_norms import kernel_tail_l1  # the one L1 quadrature (it builds on Kernel)

        expr = self.substituted()
        if _nonnegative(expr):
            return self.integral(dps=dps)
        ref = kernel_tail_l1(self, 0.0, rtol=1e-12)
        if not dps:
            return ref.value
        f = _mp_callable(expr, (), T)
        with mp.workdps(dps):
            pts = self._sign_changes(f, self._l1_horizon(expr, dps, ref.value)) + self.feature_points()
            pts = sorted(set([0.0, *pts, *np.geomspace(1, 1e4, 9).tolist()]))
            val = mp.fsum(abs(mp.quad(f, [a, b])) if b - a > 0 else 0 for a, b in zip(pts[:-1], pts[1:]))
            val += abs(mp.quad(f, [pts[-1], mp.inf]))
            if abs(float(val) - ref.value) > ref.error + 1e-12 * ref.value:
                raise PrecisionError(f"the L1 norm at dps={dps}: the mpmath quadrature ({mp.nstr(val, 15)}) misses "
                                     f"sign changes of rho that the double-precision one finds ({ref.value!r}); use "
                                     "dps=None")
            return +val

    def feature_points(self) -> list[float]:
        """Points in ``t > 0`` where the expression changes character: zeros of linear function arguments
        (step edges, the turning point of an Airy function, the centre of a bump)."""
        return self.breakpoints(LaplaceForm(0, self._expr))

    def _l1_horizon(self, expr, dps: int, norm: float) -> float:
        """Where the mpmath L1 quadrature may stop looking for sign changes: past every feature, and (where an
        envelope rule covers rho) where the envelope's tail integral is below ``10^-dps`` of the norm."""
        from ..certified.tails import tail_integral_bound

        horizon = 2 * max(self.feature_points(), default=0.0) + 60.0
        while True:
            try:
                bound = tail_integral_bound(expr, T, sp.Integer(int(horizon)))
            except CertificationError:  # no envelope rule: the agreement with double precision is the check
                return horizon
            if bound is None or float(bound) <= 10.0 ** -dps * norm:  # None: no envelope valid from here on (the
                return horizon  # agreement with double precision is then the check)
            if horizon >= 1e4:
                raise PrecisionError(f"the L1 norm at dps={dps}: the tail of rho past t = {horizon:g} may still hold "
                                     f"{float(bound):.3g}, above 10^-{dps} of the norm, and its sign changes are not "
                                     f"followed that far; use dps=None (1e-12)")
            horizon *= 2

    def _sign_changes(self, f, horizon: float) -> list:
        """Sign changes of rho on [0, horizon], refined by bisection in mpmath."""
        grid = np.linspace(0.0, horizon, max(6001, int(8 * horizon)))[1:]
        vals = np.array([float(f(mp.mpf(x))) for x in grid])
        roots = []
        for i in np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0):
            try:
                roots.append(mp.findroot(f, (mp.mpf(grid[i]), mp.mpf(grid[i + 1])), solver="anderson"))
            except (ValueError, ZeroDivisionError):
                roots.append(mp.mpf((grid[i] + grid[i + 1]) / 2))
        return roots

    # ------------------------------------------------------------------ step response
    def step_response(self, t, dps: int | None = None):
        """``y(t) = \\int_0^t rho(u) du``, the response to a unit step (closed form if SymPy finds one)."""
        prim = _primitive(self._expr)
        if prim is not None:
            # The primitive is derived with symbolic parameters; at special values (p = 1 in (1+ct)^(-p)) it can
            # be 0/0: then (and only then) the quadrature below is used.
            try:
                if dps is not None:
                    f = _mp_callable(prim, self.param_symbols, T)
                    with mp.workdps(check_dps(dps)):
                        pv = self._mp_params()
                        vals = [f(mp.mpf(x), *pv) for x in np.atleast_1d(t)]
                        if all(mp.isfinite(v) for v in vals):
                            return vals
                else:
                    t_arr = as_float_array(t, "t")
                    f = _np_callable(prim, self.param_symbols, T)
                    with np.errstate(all="ignore"):
                        vals = np.broadcast_to(np.asarray(f(t_arr, *self.param_array()), float), t_arr.shape).copy()
                    if np.all(np.isfinite(vals)):
                        return vals
            except (ZeroDivisionError, ValueError):
                pass
        feats = self.feature_points()
        if dps is not None:
            f = _mp_callable(self._expr, self.param_symbols, T)
            with mp.workdps(check_dps(dps)):
                pv = self._mp_params()
                return [mp.quad(lambda u: f(u, *pv), [0, *[p for p in feats if p < x], mp.mpf(x)])
                        for x in np.atleast_1d(t)]
        from scipy import integrate

        t_arr = as_float_array(t, "t")
        g = _np_callable(self._expr, self.param_symbols, T)
        p = self.param_array()
        out = np.empty(t_arr.shape)
        for idx in np.ndindex(t_arr.shape):
            x = float(t_arr[idx])
            pts = [0.0, *[q for q in feats if 0 < q < x], x]
            out[idx] = sum(integrate.quad(lambda u: float(g(u, *p)), a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
                           for a, b in zip(pts[:-1], pts[1:]))
        return out


# ---------------------------------------------------------------------------------------------- helpers
_FACTOR = "(a binary-float factor)"  # the mark, among the inexact parameter names, of such a factor


@functools.lru_cache(maxsize=512)
def _np_callable(expr, params, var):
    return codegen.numpy_function((var, *params), expr)


@functools.lru_cache(maxsize=512)
def _mp_callable(expr, params, var):
    return codegen.mpmath_function((var, *params), expr)


@functools.lru_cache(maxsize=256)
def _ball_callable(closed: sp.Expr, params: tuple):
    """A closed form in ``s`` and the parameters compiled to ball arithmetic, or None where a function in it has
    no ball implementation (mpmath evaluates it then)."""
    try:
        return arb_function((S, *params), closed)
    except CertificationError:
        return None


@functools.lru_cache(maxsize=512)
def _linear_exact_roots(expr: sp.Expr) -> tuple:
    """Zeros ``t > 0`` of the linear arguments of the functions in ``expr`` and centres ``t > 0`` of its Gaussian
    factors ``exp(quadratic)`` (parameters substituted), exact. Without the centres a quadrature on ``[0, inf)``
    can step over a narrow bump far out (a bump at t = 500 times a power law)."""
    pts = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and node.args:
            arg = node.args[0]
            if arg.has(T) and arg.is_polynomial(T) and sp.degree(arg, T) in (1, 2):
                if sp.degree(arg, T) == 1:
                    root = sp.solve(arg, T)
                elif isinstance(node, sp.exp):
                    poly = sp.Poly(arg, T)
                    root = [-poly.coeff_monomial(T) / (2 * poly.coeff_monomial(T**2))]
                else:
                    continue
                if root and root[0].is_number and float(root[0]) > 0:
                    pts.setdefault(float(root[0]), root[0])
    return tuple(pts[k] for k in sorted(pts))


#: Derived Laplace forms per (expression, moment); several when value-dependent decisions differ.
_FORMS: dict[tuple, list[LaplaceForm]] = {}


#: A bare value (no ``full_output``) is returned only if its own error estimate is below this fraction of it.
_BARE_RTOL = 1e-9


def _require_resolved(values, errors, what: str) -> None:
    """Refuse to return bare values whose own error estimate exceeds :data:`_BARE_RTOL` of them: an oscillating tail
    that the quadrature could not follow, a singularity inside the range. ``full_output=True`` still gives the value
    with its estimate. (With ``dps`` a bare value is not promised ``dps`` digits where a quadrature limits it: its
    estimate is what ``full_output`` returns.)"""
    for v, e in zip(values, errors):
        if not (abs(e) <= _BARE_RTOL * abs(v)):
            raise PrecisionError(f"{what}: the quadrature's error estimate {float(e):.3g} exceeds {_BARE_RTOL:.0e} of "
                                 f"the value {float(v):.12g} (a slowly decaying oscillation, or a singularity inside "
                                 f"(0, inf)); full_output=True returns both")


@functools.lru_cache(maxsize=256)
def _integrable(expr: sp.Expr, p: int) -> bool:
    """Whether ``|rho|^p`` is integrable on (0, inf), from its decay rate measured in arbitrary precision.

    The local power-law exponent ``alpha`` of ``max |rho|^p`` over 64 points in ``[t0, 1.5 t0]`` is measured
    far out (t0 = 1e9..1e12, beyond every scale of a sensible kernel) and near 0 (t = 1e-12..1e-9):
    integrable iff it decays faster than ``t^(-1.001)`` at infinity (exponential and compact decay give
    ``alpha = inf``) and blows up slower than ``t^(-0.999)`` at 0. Oscillating kernels (``sin t``) have
    ``alpha = 0``; an oscillating factor of a decaying one (``cos(t) (1+t)^-1.2``) is at its peak within a few per
    cent at one of the 64 points (with 7, the peaks of neighbouring decades differed by up to a factor 2 and
    ``cos(t) (1+t)^-1.2`` was reported not integrable). A decay as slow as ``t^(-1.0005)`` is reported as not
    integrable (documented limitation).
    """
    fn = _mp_callable(expr, (), T)

    def samples(digits):
        with mp.workdps(digits):

            def peak(t0):
                return max(abs(fn(t0 * (1 + mp.mpf(j) / 128))) for j in range(64)) ** p

            return ([peak(mp.mpf(10) ** k) for k in (9, 10, 11, 12)],
                    [abs(fn(mp.mpf(10) ** -k)) ** p for k in (9, 10, 11, 12)])

    # Terms that cancel (a difference of two nearly equal power laws is ~1e-7 t near 0) need more digits than
    # the samples' size suggests: the digits are doubled until two precisions agree.
    digits = 30
    far, near = samples(digits)
    while digits < 480:
        far2, near2 = samples(2 * digits)
        agree = all(abs(x - y) <= mp.mpf("1e-6") * abs(y) for x, y in zip(far + near, far2 + near2)
                    if mp.isfinite(x) and mp.isfinite(y))
        far, near, digits = far2, near2, 2 * digits
        if agree:
            break
    if not all(mp.isfinite(v) for v in far + near):
        return False
    for lo, hi in zip(far[:-1], far[1:]):
        if hi == 0:
            continue
        if lo == 0 or -mp.log10(hi / lo) < 1.001:
            return False
    for lo, hi in zip(near[:-1], near[1:]):  # lo at the larger t
        if hi != 0 and (lo == 0 or mp.log10(hi / lo) > 0.999):
            # a kernel whose own time scale is below 1e-12 (exp(-10^400 t)) still rises steeply there although it is
            # bounded: a finite limit at 0+ settles it (continuous and bounded near 0, so integrable there)
            return _finite_at_zero(expr)
    return True


def _finite_at_zero(expr: sp.Expr) -> bool:
    """Whether SymPy finds a finite ``lim_{t -> 0+} rho(t)`` (False when it cannot decide)."""
    try:
        return bool(sp.limit(expr, T, 0, "+").is_finite)
    except (NotImplementedError, ValueError, TypeError, RecursionError, ArithmeticError):
        return False


@functools.lru_cache(maxsize=128)
def _limit_at_zero(expr: sp.Expr) -> sp.Expr:
    """``lim_{s -> 0+}`` of a closed-form transform whose terms diverge separately at 0."""
    val = sp.limit(expr, S, 0, "+")
    if not val.is_finite:
        raise NotIntegrableError(f"the integral diverges (limit of the transform at s = 0 is {val})")
    return val


def _nonnegative(expr: sp.Expr) -> bool:
    """Whether rho >= 0 on [0, inf) is evident from its structure (sums/products of positive shapes)."""
    if expr.is_nonnegative:
        return True
    if isinstance(expr, sp.Add):
        return all(_nonnegative(a) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return all(_nonnegative(a) for a in expr.args)
    if isinstance(expr, sp.exp):
        return bool(expr.args[0].is_real is not False)
    if isinstance(expr, sp.Pow):
        return _nonnegative(expr.base) or (expr.exp.is_Integer and expr.exp.is_even)
    if isinstance(expr, sp.Heaviside):
        return True
    return False


@functools.lru_cache(maxsize=256)
def _primitive(expr: sp.Expr):
    """Closed form of ``\\int_0^t expr`` or None (kernels with Airy or Piecewise go to quadrature)."""
    if expr.has(sp.airyai, sp.Piecewise, sp.Heaviside):
        return None
    u = sp.Dummy("u", positive=True)
    try:
        res = sp.integrate(expr.xreplace({T: u}), (u, 0, T), conds="none")
    except Exception:  # SymPy raises a zoo of exception types on hard integrals
        return None
    if res.has(sp.Integral, sp.zoo, sp.nan, sp.meijerg, sp.Min, sp.Max, sp.Piecewise):
        return None
    return res
