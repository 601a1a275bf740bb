r"""The exact L2 kernel loss ``J = ||rho_hat - rho||_2^2`` with gradient and Hessian (docs/theory.md §4).

For a :class:`~memtheory.models.linear.DiagonalRNN` the Laplace closed form
``J = sum_ij a_i a_j/(w_i+w_j) - 2 sum_i a_i L[rho](w_i) + ||rho||^2`` is evaluated by code generated from the
SymPy element formulas (:mod:`memtheory.losses.assembly`): numba in float64, plain Python over mpmath numbers
with ``dps``. The float64 path carries a rounding-error bound; when an output has no correct digits (the
exponentially small plateau gradients of docs/theory.md §4) the computation is redone in mpmath with enough digits,
and a value outside float64 range raises :class:`~memtheory.errors.PrecisionError` instead of returning 0.

For a general :class:`~memtheory.models.linear.LinearRNN`: ``||rho_hat||^2 = c^T P c`` (Lyapunov), the cross term
``\int rho_hat rho`` through the modal form (closed form for real modes, quadrature otherwise).
"""

from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp

from ..display import Displayable
from ..exact import to_mpf
from ..certified import Enclosure, enclosure
from ..errors import InvalidArgumentError, NotHurwitzError, PrecisionError, PrecisionWarning
from .._validation import check_dps, require_float
from ..kernels.kernel import FLOAT64_RTOL, Kernel
from ..models.linear import DiagonalRNN, LinearRNN
from ..compile import codegen
from ..kernels.compiled import compile_kernel
from .assembly import float_assembly, loss_module

__all__ = ["LossResult", "CertifiedLoss", "l2_loss", "certified_l2_loss"]

_EPS = np.finfo(float).eps


@dataclass(frozen=True, repr=False)
class LossResult(Displayable):
    """Loss value with optional gradient and Hessian in ``theta = (a_1..a_m, w_1..w_m)``.

    Attributes
    ----------
    loss : float or mpmath.mpf
    grad : numpy.ndarray or None
        Shape (2m,) (object array of mpf with ``dps``).
    hess : numpy.ndarray or None
        Shape (2m, 2m).
    dps : int or None
        mpmath digits used (None: float64 throughout).
    loss_error, grad_error : float or array
        Estimated absolute errors (rounding and quadrature).
    inputs_exact : bool
        Whether the numbers computed with are the ones typed: ``False`` when a weight, rate or kernel parameter was
        a binary float such as ``0.3`` (its binary value was used), or when the float64 path rounded an input that
        is not a float64 (``"0.3"`` with ``dps=None``). See :mod:`memtheory.exact`.
    """

    loss: object
    grad: object = None
    hess: object = None
    dps: int | None = None
    loss_error: object = 0.0
    grad_error: object = None
    inputs_exact: bool = True

    @property
    def grad_a(self):
        """``dJ/da``."""
        return None if self.grad is None else self.grad[: self.grad.shape[0] // 2]

    @property
    def grad_w(self):
        """``dJ/dw``."""
        return None if self.grad is None else self.grad[self.grad.shape[0] // 2:]

    def to_dict(self) -> dict:
        """JSON-ready dict with keys ``loss``, ``grad_a``, ``grad_w`` (and ``hess``, ``dps``, ``loss_error``).

        float64 results are floats; with ``dps`` every value is a decimal string with all ``dps`` significant
        digits and ``loss_error`` a decimal string of 5 digits (it may be far below float64's range).
        """
        conv = (lambda x: mp.nstr(x, self.dps, strip_zeros=False)) if self.dps else float
        with mp.workdps(max(self.dps or 15, 15)):
            err = mp.nstr(mp.mpf(self.loss_error), 5) if self.dps else float(self.loss_error)
        out = {"loss": conv(self.loss), "dps": self.dps, "loss_error": err, "inputs_exact": self.inputs_exact}
        if self.grad is not None:
            out["grad_a"] = [conv(x) for x in self.grad_a]
            out["grad_w"] = [conv(x) for x in self.grad_w]
        if self.hess is not None:
            out["hess"] = [[conv(x) for x in row] for row in self.hess]
        return out

    def __iter__(self):
        """Unpack as ``J, grad`` (or ``J, grad, hess``) when those were requested."""
        yield self.loss
        if self.grad is not None:
            yield self.grad
        if self.hess is not None:
            yield self.hess


@dataclass(frozen=True, repr=False)
class CertifiedLoss(Displayable):
    """Rigorous enclosures of the loss, its gradient and Hessian in ``theta = (a_1..a_m, w_1..w_m)``.

    Attributes
    ----------
    loss : Enclosure
    grad : tuple of Enclosure or None
        Length 2m.
    hess : tuple of tuple of Enclosure or None
        2m x 2m.
    dps : int
        Digits asked for; each enclosure's ``dps`` is the working precision it needed (more where the loss's
        cancellation widened the balls, :func:`memtheory.certified.refine`).
    """

    loss: Enclosure
    grad: tuple | None = None
    hess: tuple | None = None
    dps: int = 30

    def _display_rows(self) -> list[tuple[str, object]]:
        lo, hi = self.loss.pair(min(self.loss.digits(), 12))
        rows = [("loss", f"[{lo}, {hi}]"), ("dps", self.dps)]
        if self.grad is not None:
            rows.append(("grad", f"{len(self.grad)} enclosures, max rel. width "
                                 f"{max(e.rel_width for e in self.grad):.1e}"))
        if self.hess is not None:
            rows.append(("hess", f"{len(self.hess)} x {len(self.hess)} enclosures"))
        return rows

    @property
    def grad_a(self):
        """Enclosures of ``dJ/da``."""
        return None if self.grad is None else self.grad[: len(self.grad) // 2]

    @property
    def grad_w(self):
        """Enclosures of ``dJ/dw``."""
        return None if self.grad is None else self.grad[len(self.grad) // 2:]

    def to_dict(self) -> dict:
        """JSON-ready dict of decimal pairs ``[lo, hi]`` (rounded outward): ``loss``, ``grad_a``, ``grad_w``
        (and ``hess``) plus ``dps``."""
        out = {"loss": list(self.loss.pair())}
        if self.grad is not None:
            out["grad_a"] = [list(e.pair()) for e in self.grad_a]
            out["grad_w"] = [list(e.pair()) for e in self.grad_w]
        if self.hess is not None:
            out["hess"] = [[list(e.pair()) for e in row] for row in self.hess]
        out["dps"] = self.dps
        return out


def certified_l2_loss(a, w, rho: Kernel, gradient: bool = True, hessian: bool = False,
                      dps: int | None = None) -> CertifiedLoss:
    """Rigorous enclosures of ``J(theta)`` (and ``grad J``, ``hess J``) for exact ``theta = (a, w)``.

    The Laplace moments ``L[t^k rho](w_i)`` and ``||rho||^2`` are certified enclosures
    (:meth:`Kernel.laplace <memtheory.kernels.Kernel.laplace>` with ``certified=True``); the loss, gradient
    and Hessian are assembled by the same generated code as the float64 and mpmath paths
    (:mod:`memtheory.losses.assembly`), over Arb balls.

    Parameters
    ----------
    a, w : sequences of numbers
        Coefficients and rates (``w_i > 0``), read exactly (:func:`memtheory.exact.exact`): floats as their
        binary values, strings (``"0.3"``, ``"3/10"``) as exact decimals.
    rho : Kernel
        Square-integrable target.
    gradient, hessian : bool
        Also enclose ``grad J`` / ``hess J``.
    dps : int, optional
        Digits of the ball arithmetic (default 30; at least 16).

    Returns
    -------
    CertifiedLoss

    Raises
    ------
    CertificationError
        If some part of the loss has no rigorous bound (a moment or the norm).
    NotIntegrableError
        If rho is not square-integrable.

    Examples
    --------
    >>> import memtheory as mt
    >>> res = mt.losses.certified_l2_loss(["1"], ["1"], mt.Kernel("exp(-t)"), dps=30)
    >>> res.loss.contains(0), res.grad_a[0].contains(0)
    (True, True)
    """
    from flint import arb

    from ..certified import certified_dps, refine
    from ..exact import exact
    from ..compile.arb import dps_to_prec, to_arb, workprec

    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    dps = certified_dps(dps)
    a_q = [exact(x, "a") for x in np.atleast_1d(np.asarray(a, dtype=object)).tolist()]
    w_q = [exact(x, "w") for x in np.atleast_1d(np.asarray(w, dtype=object)).tolist()]
    if len(a_q) != len(w_q) or not a_q:
        raise InvalidArgumentError(f"a and w must have the same positive length, got {len(a_q)} and {len(w_q)}")
    if any(x <= 0 for x in w_q):
        raise InvalidArgumentError(f"rates w must be > 0, got {[str(x) for x in w_q]}")
    m = len(a_q)
    kmax = 2 if hessian else (1 if gradient else 0)
    mod = loss_module("flint")

    def compute(work: int) -> list:
        """``[J, grad..., hess...]`` as balls at ``work`` digits (the loss cancels: see refine)."""
        moments = [rho.laplace(w_q, moment=k, dps=work, certified=True) if k <= kmax else None for k in range(3)]
        norm = rho.square_integral(dps=work, certified=True)
        with workprec(dps_to_prec(work)):
            zero = arb(0)
            L = [np.array([e.ball for e in mk] if mk is not None else [zero] * m, dtype=object) for mk in moments]
            av = np.array([to_arb(x) for x in a_q], dtype=object)
            wv = np.array([to_arb(x) for x in w_q], dtype=object)
            grad = np.empty(2 * m, dtype=object)
            grad.fill(zero)
            hess = np.empty((2 * m, 2 * m), dtype=object)
            hess.fill(zero)
            J = mod.assemble(av, wv, L[0], L[1], L[2], norm.ball, grad, hess, gradient, hessian)
        return [J, *(grad if gradient else ()), *(hess.reshape(-1) if hessian else ())]

    balls, work = refine(compute, dps)  # more digits where the loss's cancellation widened the balls
    with workprec(dps_to_prec(work)):
        loss = enclosure(balls[0], work, "J")
        g = tuple(enclosure(x, work, f"dJ/dtheta_{i + 1}") for i, x in enumerate(balls[1: 1 + 2 * m])) \
            if gradient else None
        flat = balls[1 + (2 * m if gradient else 0):]
        h = tuple(tuple(enclosure(x, work, "hess J") for x in flat[i * 2 * m: (i + 1) * 2 * m]) for i in range(2 * m)) \
            if hessian else None
    return CertifiedLoss(loss, g, h, dps)


def l2_loss(model, rho: Kernel, gradient: bool = False, hessian: bool = False, dps: int | None = None,
            check: bool = True, certified: bool = False) -> LossResult | CertifiedLoss:
    """Exact ``J(theta) = \\int_0^\\infty (rho_hat - rho)^2 dt`` of a linear RNN against a kernel.

    Parameters
    ----------
    model : DiagonalRNN or LinearRNN
        The model; gradient and Hessian are in ``theta = (a, w)`` and need a real DiagonalRNN.
    rho : Kernel
        Square-integrable target kernel.
    gradient, hessian : bool
        Also return ``grad J`` and ``hess J``.
    dps : int, optional
        mpmath decimal digits. Default: float64, switching to mpmath by itself when float64 cancellation leaves
        an output without correct digits (the values are then returned as float64 if representable).
    check : bool
        Whether to bound the float64 rounding error (cheap; turn off only in hot loops).
    certified : bool, default False
        Return rigorous enclosures instead (:func:`certified_l2_loss` at the model's ``exact_a``, ``exact_w``; ``dps``
        digits of ball arithmetic, default 30; a real DiagonalRNN only).

    Returns
    -------
    LossResult or CertifiedLoss
        Unpacks as ``J, grad`` when ``gradient=True`` (a LossResult).

    Raises
    ------
    NotIntegrableError
        If rho is not square-integrable.
    PrecisionError
        If an output underflows/overflows float64 (pass ``dps``).

    Warns
    -----
    PrecisionWarning
        With an explicit ``dps``, when an output is within its own rounding bound (no correct digit).

    Examples
    --------
    >>> import memtheory as mt
    >>> rho = mt.kernels.exponential(1.0)
    >>> J, grad = mt.l2_loss(mt.DiagonalRNN([1.0], [1.0]), rho, gradient=True)
    >>> float(J), float(abs(grad).max())
    (0.0, 0.0)
    """
    if not isinstance(rho, Kernel):
        raise InvalidArgumentError(f"rho must be a Kernel, got {type(rho).__name__}")
    if certified:
        if not isinstance(model, DiagonalRNN) or not model.is_real:
            raise InvalidArgumentError("certified mode needs a real DiagonalRNN (theta = (a, w) real)")
        return certified_l2_loss(model.exact_a, model.exact_w, rho, gradient, hessian, dps)
    if isinstance(model, LinearRNN):
        return _linear_rnn_loss(model, rho, gradient, hessian, dps)
    if not isinstance(model, DiagonalRNN):
        raise InvalidArgumentError(f"model must be a DiagonalRNN or LinearRNN, got {type(model).__name__}")
    if not model.is_real:
        if gradient or hessian:
            raise InvalidArgumentError("gradient/Hessian need a real DiagonalRNN (theta = (a, w) real)")
        return _linear_rnn_loss(model.to_linear(), rho, False, False, dps)
    if dps is not None:
        res = _diagonal_mp(model, rho, gradient, hessian, check_dps(dps))
        _warn_unresolved(res, dps)
        return dataclasses.replace(res, inputs_exact=model.inputs_exact and rho.inputs_exact)
    res = _diagonal_float(model, rho, gradient, hessian, check)
    return dataclasses.replace(res, inputs_exact=model.float64_exact and rho.float64_exact())


def _warn_unresolved(res: LossResult, dps: int) -> None:
    """PrecisionWarning for outputs that are within their rounding bound at the caller's ``dps``."""
    names = [("J", res.loss, res.loss_error)]
    if res.grad is not None:
        names += [(f"dJ/dtheta_{i + 1}", g, e) for i, (g, e) in enumerate(zip(res.grad, res.grad_error))]
    bad = [name for name, v, e in names if e > 0 and abs(v) <= e]
    if bad:
        import warnings

        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        warnings.warn(f"at dps={dps} {shown} carry no correct digit (|value| <= rounding bound, returned as "
                      "loss_error/grad_error): cancellation needs more digits; raise dps or omit it to let "
                      "l2_loss choose", PrecisionWarning, stacklevel=3)


def _moments_float(model: DiagonalRNN, rho: Kernel, kmax: int,
                   check: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """Laplace moments ``L[k, i] = L[t^k rho](w_i)`` by the compiled kernel, with error estimates.

    With ``check`` the errors hold the closed forms' rounding-error estimates besides the quadrature's
    (:meth:`~memtheory.kernels.compiled.CompiledKernel.closed_errors`), and a moment whose estimate exceeds
    :data:`~memtheory.kernels.kernel.FLOAT64_RTOL` of its value (cancellation) is recomputed by
    :meth:`Kernel.laplace <memtheory.kernels.kernel.Kernel.laplace>`, which then takes it from mpmath.

    Returns ``(L, E, representable)``; ``representable`` is False when some moment under- or overflows
    float64 (its true value, checked in arbitrary precision, is outside double range), in which case the
    loss must be computed in mpmath.
    """
    ck = compile_kernel(rho)
    L, E = ck.moments(rho, model.w, kmax)
    if check:
        E = E + ck.closed_errors(rho, model.w, kmax)
    with np.errstate(invalid="ignore"):
        suspicious = (~np.isfinite(L) | (np.abs(L) < np.finfo(float).tiny)
                      | (check & ~(E <= FLOAT64_RTOL * np.abs(L))))
    suspicious[kmax + 1:] = False
    if suspicious.any():
        for k, i in zip(*np.nonzero(suspicious)):
            try:
                res = rho.laplace([model.w[i]], moment=int(k), full_output=True)
            except PrecisionError:
                return L, E, False
            L[k, i], E[k, i] = res.values[0], res.errors[0]
    return L, E, True


def _diagonal_float(model: DiagonalRNN, rho: Kernel, gradient: bool, hessian: bool, check: bool) -> LossResult:
    m = model.m
    kmax = 2 if hessian else (1 if gradient else 0)
    (L0, L1, L2), (e0, e1, e2), representable = _moments_float(model, rho, kmax, check)
    if not representable:
        return _to_float(resolved_mp_loss(model, rho, gradient, hessian, 60), model, rho)
    norm, norm_err = rho.square_integral(full_output=True)
    code = float_assembly()  # interpreted while this process calls it little, then compiled: the same numbers
    a, w = np.ascontiguousarray(model.a), np.ascontiguousarray(model.w)
    grad = np.zeros(2 * m)
    hess = np.zeros((2 * m, 2 * m))
    try:
        J = code.call("assemble", (a, w, L0, L1, L2, norm, grad, hess, gradient, hessian), m * m, (6, 7))
    except ZeroDivisionError:  # a power of w underflowed (w = 1e-300): mpmath decides, or PrecisionError
        return _to_float(resolved_mp_loss(model, rho, gradient, hessian, 60), model, rho)
    outputs = np.concatenate([[J], grad if gradient else [], hess.ravel() if hessian else []])
    if not np.all(np.isfinite(outputs)):  # overflow (a = 1e308): mpmath has the value, or PrecisionError
        return _to_float(resolved_mp_loss(model, rho, gradient, hessian, 60), model, rho)
    if not check:
        return LossResult(J, grad if gradient else None, hess if hessian else None)
    # Error estimate: rounding of the assembly, (#terms) * eps * magnitude, plus the errors of the inputs
    # propagated to first order: J = sum a_i a_j/(w_i + w_j) - 2 sum a_i L0_i + ||rho||^2, dJ/da_i = ... - 2 L0_i,
    # dJ/dw_i = ... + 2 a_i L1_i (dL0/dw = -L1).
    gmag = np.zeros(2 * m)
    hmag = np.zeros((2 * m, 2 * m))
    with np.errstate(over="ignore", invalid="ignore"):  # an infinite bound sends the outputs to mpmath below
        Jmag = code.call("assemble_magnitude", (a, w, L0, L1, L2, norm, gmag, hmag, gradient, hessian), m * m,
                         (6, 7))
        rounding = (4 * m + 8) * _EPS
        J_err = rounding * Jmag + 2 * float(np.dot(np.abs(a), e0)) + norm_err
        g_err = rounding * gmag + np.concatenate([2 * e0, 2 * np.abs(a) * e1])
        rel_in = max(_EPS, float(np.max(np.abs(np.concatenate([e0, e1, e2])) /
                                        np.maximum(np.abs(np.concatenate([L0, L1, L2])), 1e-300))))
        h_err = (rounding + 4 * max(rel_in, 8 * _EPS)) * hmag
    if not (math.isfinite(J_err) and np.all(np.isfinite(g_err)) and np.all(np.isfinite(h_err))):
        J_err = math.inf  # the bound overflowed: the outputs are recomputed in mpmath
    unreliable = abs(J) < 1e3 * J_err and J_err > 0
    if gradient:
        unreliable = unreliable or bool(np.any((np.abs(grad) < 1e3 * g_err) & (g_err > 0)))
    if hessian:
        unreliable = unreliable or bool(np.any((np.abs(hess) < 1e3 * h_err) & (hmag > 0)))
    if not unreliable:
        return LossResult(J, grad if gradient else None, hess if hessian else None, None, J_err,
                          g_err if gradient else None)
    # Cancellation: recompute with enough digits to resolve every output, then return float64 if representable.
    smallest = min([abs(J)] + ([float(np.min(np.abs(grad[g_err > 0])))] if gradient and np.any(g_err > 0) else []))
    log_mag = math.log10(max(Jmag, 1.0)) if math.isfinite(Jmag) else 310.0  # an overflowed magnitude: > 1.8e308
    digits = 30 + int(max(0.0, log_mag - math.log10(max(smallest, 1e-300))))
    return _to_float(resolved_mp_loss(model, rho, gradient, hessian, min(digits, 2000)), model, rho)


def resolved_mp_loss(model: DiagonalRNN, rho: Kernel, gradient: bool, hessian: bool, dps: int,
                     max_dps: int = 20000) -> LossResult:
    """The mpmath loss, with the precision doubled until every output is resolved against its rounding bound.

    Starting at ``dps`` digits, the loss (and the gradient, if asked) is recomputed at twice the digits until
    each value exceeds ``1e6`` times its rounding bound, is exactly zero, or ``max_dps`` is reached.

    Returns
    -------
    LossResult
        The result at the first precision that resolves every output (its ``dps`` field says which).
    """
    res = _diagonal_mp(model, rho, gradient, hessian, dps)
    previous = None
    while True:
        outs = [res.loss] + (list(res.grad) if gradient else [])
        errs = [res.loss_error] + (list(res.grad_error) if gradient else [])
        if all(e == 0 or abs(v) > 1e6 * e for v, e in zip(outs, errs)) or dps >= max_dps:
            return res
        # An exact zero stays zero at every precision: stop when the bound is already below any float64 value.
        if all(e == 0 or abs(v) > 1e6 * e or e < mp.mpf(10) ** (-400) for v, e in zip(outs, errs)):
            return res
        worst = max(e for e in errs)
        if previous is not None and worst > previous / 2:  # more digits do not help: a quadrature limits it
            raise PrecisionError(f"the L2 loss is not resolved: its error bound stays at {mp.nstr(worst, 3)} from "
                                 f"{dps // 2} to {dps} digits (a quadrature of the kernel, e.g. of a slowly "
                                 f"decaying oscillation, limits it, not rounding)")
        previous = worst
        dps = min(max_dps, 2 * dps)
        res = _diagonal_mp(model, rho, gradient, hessian, dps)


def _to_float(res: LossResult, model: DiagonalRNN, rho: Kernel) -> LossResult:
    """Float64 copy of an mpmath result; a value within its own (sub-float64) error bound of 0 is 0, unless some
    term of the moments lies below that bound (then the value may be that term, not 0: PrecisionError)."""
    loss = res.loss
    tiny = None
    if loss != 0 and abs(loss) <= res.loss_error:
        loss = mp.mpf(0)
    require_float(loss, "J")
    grad = hess = g_err = None
    if res.grad is not None:
        for i, g in enumerate(res.grad):
            if res.grad_error is not None and abs(g) <= res.grad_error[i] and res.grad_error[i] > 0:
                if tiny is None:
                    tiny = _smallest_term(model, rho, 1 if res.hess is None else 2)
                if tiny != 0 and tiny <= res.grad_error[i] * 1e6:
                    raise PrecisionError(
                        f"dJ/dtheta_{i + 1} is not resolved: |value| <= {mp.nstr(res.grad_error[i], 3)} at "
                        f"{res.dps} digits, while the Laplace moments hold a term {mp.nstr(tiny, 3)} times smaller "
                        "than the others: the derivative may be of that size, below float64 range (resolving it "
                        f"takes about {int(-mp.log10(tiny)) + 30} digits)")
                g = mp.mpf(0)  # exactly zero within a bound far below float64 range
            require_float(g, f"dJ/dtheta_{i + 1}")
        grad = np.array([float(g) for g in res.grad])
        g_err = np.array([float(e) for e in res.grad_error])
    if res.hess is not None:
        for row in res.hess:
            for h in row:
                require_float(h, "hess J")  # only a range check: the Hessian's entries are not resolved one by one
        hess = np.array([[float(h) for h in row] for row in res.hess])
    return LossResult(float(loss), grad, hess, None, float(res.loss_error), g_err)


def _smallest_term(model: DiagonalRNN, rho: Kernel, kmax: int):
    """The smallest non-zero term of the closed forms of ``L[t^k rho](w_i)``, ``k <= kmax``, relative to the
    largest (30 digits, mpmath's exponent range): 0 when no term is negligible against another."""
    from ..kernels.kernel import S

    smallest = mp.mpf(0)
    with mp.workdps(30):
        for k in range(kmax + 1):
            form = rho.laplace_form(k)
            terms = sp.Add.make_args(sp.expand(form.closed.xreplace(
                {sym: val for sym, val in zip(rho.param_symbols, rho.exact_params.values())})))
            for w in model.w:
                vals = []
                for term in terms:
                    try:
                        vals.append(abs(codegen.mpmath_function((S,), term)(mp.mpf(float(w)))))
                    except (ZeroDivisionError, ValueError, TypeError):
                        continue
                big = max(vals, default=mp.mpf(0))
                for v in vals:
                    if v != 0 and big != 0 and v < mp.mpf(10) ** -300 * big:
                        rel = v / big
                        smallest = rel if smallest == 0 else min(smallest, rel)
    return smallest


def _diagonal_mp(model: DiagonalRNN, rho: Kernel, gradient: bool, hessian: bool, dps: int) -> LossResult:
    m = model.m
    kmax = 2 if hessian else (1 if gradient else 0)
    with mp.workdps(dps):
        # the exact weights and rates, rounded once at the working precision
        a = np.array([to_mpf(x) for x in model.exact_a], dtype=object)
        w = np.array([to_mpf(x) for x in model.exact_w], dtype=object)
        moments, qerr = [], mp.mpf(0)
        for k in range(3):
            if k <= kmax:
                res = rho.laplace(list(w), moment=k, dps=dps, full_output=True)
                moments.append(np.array(res.values, dtype=object))
                qerr = max([qerr] + [abs(e) / max(abs(v), mp.mpf(10) ** (-dps * 10)) for v, e in
                                     zip(res.values, res.errors)])
            else:
                moments.append(np.array([mp.mpf(0)] * m, dtype=object))
        norm, norm_err = rho.square_integral(dps=dps, full_output=True)
        mod = loss_module("python")

        def zeros(shape):
            arr = np.empty(shape, dtype=object)
            arr.fill(mp.mpf(0))
            return arr

        grad, hess = zeros(2 * m), zeros((2 * m, 2 * m))
        J = mod.assemble(a, w, *moments, norm, grad, hess, gradient, hessian)
        gmag, hmag = zeros(2 * m), zeros((2 * m, 2 * m))
        Jmag = mod.assemble_magnitude(a, w, *moments, norm, gmag, hmag, gradient, hessian)
        eps = mp.mpf(10) ** (-dps) * (4 * m + 8) + 4 * qerr
        return LossResult(+J, grad if gradient else None, hess if hessian else None, dps, eps * Jmag + norm_err,
                          np.array([eps * g for g in gmag], dtype=object) if gradient else None)


def _linear_rnn_loss(model: LinearRNN, rho: Kernel, gradient: bool, hessian: bool, dps: int | None) -> LossResult:
    if gradient or hessian:
        raise InvalidArgumentError("gradient/Hessian are defined in theta = (a, w) of a DiagonalRNN; use "
                                   "model.to_diagonal().to_rnn() for a diagonalisable W")
    if model.d != 1:
        raise InvalidArgumentError(f"l2_loss needs a scalar input (d = 1), got d = {model.d}")
    if not model.is_hurwitz:
        raise NotHurwitzError(f"the loss diverges: W is not Hurwitz (max Re lambda = {model.spectral_abscissa:.6g})")
    modal = model.to_diagonal()
    if np.all(np.abs(modal.w.imag) <= 1e-12 * np.abs(modal.w)):
        return l2_loss(DiagonalRNN(modal.a.real, modal.w.real), rho, dps=dps)
    if dps is not None:
        raise PrecisionError("dps for a LinearRNN with complex modes is not supported: the cross term uses "
                             "float64 quadrature")
    from scipy import integrate

    hat2 = model.kernel_square_integral()
    from ..symbolic.laplace import LaplaceForm

    pts = [0.0, *rho.breakpoints(LaplaceForm(0, rho.substituted()))]
    f = (lambda t: float(rho(t)) * float(model.kernel(t, method="modal")))
    cross, err = 0.0, 0.0
    for lo, hi in zip(pts, pts[1:] + [np.inf]):
        v, e = integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=400)
        cross, err = cross + v, err + e
    J = hat2 - 2 * cross + rho.square_integral()
    return LossResult(J, loss_error=2 * err + 8 * _EPS * (abs(hat2) + 2 * abs(cross)))
