r"""The plateau theorem's premise ``rho_hat(theta_0) = rho_bar``, measured against the memory term (docs/theory.md §4).

The target is ``rho = rho_bar + rho_0(. - 1/omega)`` and the flow starts at ``theta_0`` with
``rho_hat(theta_0) = rho_bar``. The loss splits accordingly,

.. math:: J(\theta) = \underbrace{\|\hat\rho(\theta) - \bar\rho\|_2^2}_{J_{\bar\rho}(\theta)}
          \; - \; 2 \sum_i a_i\, \mathcal{L}[\rho - \bar\rho](w_i) \; + \; \text{const},

so ``grad J(theta_0)`` is the sum of the *mismatch term* ``grad J_bar(theta_0)`` (zero when the premise holds)
and the *memory term* ``g_mem`` with components ``-2 L[rho - rho_bar](w_k)`` and
``2 a_k L[t (rho - rho_bar)](w_k)``, of size ``~e^{-w_l/omega}``. The plateau being timed is the theorem's
only while the mismatch term is negligible against the memory term: :func:`measure_premise` computes both
norms in arbitrary precision from exact inputs (the memory term from the closed form of ``rho - rho_bar``
itself, not as a difference; the mismatch term at ``-log10 |g_mem| + 25`` digits, with the assembly's rounding
bound, so that an exact start reads as a bound far below the memory term) and :func:`check_premise` raises
:class:`~memtheory.errors.PremiseError` when their ratio exceeds :data:`PREMISE_RATIO`.

A rate typed as the binary float 0.4 misses a kernel's rate 2/5 by ``2e-17``: at ``1/omega = 1000`` its
mismatch term (``~1e-16``) is ``10^170`` times the memory term. Typing the numbers exactly (decimal strings,
Rationals) removes it; :mod:`memtheory.exact` keeps them exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import mpmath as mp
import sympy as sp

from ...display import Displayable
from ...errors import InvalidArgumentError, PremiseError
from ...exact import exact_values, to_mpf
from ...kernels.kernel import Kernel
from ...symbolic.parse import symbol

__all__ = ["PREMISE_RATIO", "PlateauPremise", "measure_premise", "check_premise", "rho_bar_of",
           "rho_bar_with_reason"]

#: The premise holds while ``|grad J_bar(theta_0)| <= PREMISE_RATIO |g_mem|``.
PREMISE_RATIO = 1e-3
#: Digits beyond ``-log10 |g_mem|`` at which the mismatch term is computed (its rounding bound is then
#: ``~10^-(GUARD - 3)`` of the memory term, far below the threshold).
_GUARD = 25
_MAX_DPS = 20000


# ============================================================================================ rho_bar
def rho_bar_of(rho: Kernel) -> Kernel | None:
    """``rho_bar(t) = lim_{omega -> 0+} rho(t)`` for a kernel with a parameter ``omega`` (None otherwise or when
    SymPy cannot take the limit; :func:`rho_bar_with_reason` says which)."""
    return rho_bar_with_reason(rho)[0]


def rho_bar_with_reason(rho: Kernel) -> tuple[Kernel | None, str | None]:
    """``(rho_bar, reason)``: :func:`rho_bar_of` and, when it is None, why (one line)."""
    if "omega" not in rho.params:
        return None, (f"the kernel {rho.expr} has no parameter omega, so rho_bar = lim_(omega->0+) rho is not "
                      "defined")
    om = symbol("omega")
    expr = rho.expr.xreplace({symbol(k): v for k, v in rho.exact_params.items() if k != "omega"})
    try:
        bar = sp.limit(expr, om, 0, "+")
    except Exception as exc:  # SymPy may fail on unusual expressions: the check is then skipped, not faked
        return None, f"SymPy could not take lim_(omega->0+) of {expr} ({type(exc).__name__})"
    if bar.has(sp.nan, sp.zoo, sp.oo, sp.Limit) or om in bar.free_symbols:
        return None, f"lim_(omega->0+) of {expr} is not a kernel of t (SymPy gives {bar})"
    if bar == 0:
        return None, f"lim_(omega->0+) of {expr} is 0: there is no rho_bar for theta_0 to reproduce"
    return Kernel(bar), None


def _memory_part(rho: Kernel, bar: Kernel) -> Kernel | None:
    """``rho - rho_bar`` as a kernel of its own (omega kept as a parameter), or None when it is 0."""
    om = symbol("omega")
    expr = rho.expr.xreplace({symbol(k): v for k, v in rho.exact_params.items() if k != "omega"}) - bar.expr
    if expr == 0:
        return None
    return Kernel(expr, omega=rho.exact_params["omega"]) if expr.has(om) else Kernel(expr)


# ============================================================================================ measurement
@dataclass(frozen=True, repr=False)
class PlateauPremise(Displayable):
    """The premise ``rho_hat(theta_0) = rho_bar`` measured against the memory term (see the module notes).

    Attributes
    ----------
    rho_bar : str or None
        ``lim_{omega -> 0+} rho`` (None when it is unknown: a kernel without ``omega``, or SymPy found no
        limit; nothing is measured then).
    theta0_mismatch : float or None
        ``||rho_hat(theta_0) - rho_bar||_2``.
    log10_mismatch_gradient : float or None
        ``log10 ||grad J_bar(theta_0)||``, the mismatch term; when ``resolved`` is False it is the log10 of the
        rounding bound at ``dps`` digits (the term is at most that, e.g. for an exact start).
    log10_memory_gradient : float or None
        ``log10 ||g_mem||``, the memory term.
    log10_ratio : float or None
        ``log10_mismatch_gradient - log10_memory_gradient``.
    resolved : bool
        Whether the mismatch term exceeds its rounding bound (else only the bound is known).
    holds : bool or None
        ``ratio <= PREMISE_RATIO`` (None when not measured).
    dps : int or None
        Digits of the mismatch term.
    reason : str or None
        Why ``holds`` is None (one line; None when the premise was measured).
    """

    rho_bar: str | None
    theta0_mismatch: float | None = None
    log10_mismatch_gradient: float | None = None
    log10_memory_gradient: float | None = None
    log10_ratio: float | None = None
    resolved: bool = False
    holds: bool | None = None
    dps: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def _norm(v):
    return mp.sqrt(mp.fsum(x * x for x in v))


def _log10(x) -> float:
    return float(mp.log10(x)) if x > 0 else -math.inf


def memory_gradient(part: Kernel, a, w, dps: int) -> list:
    """The memory term of ``grad J(theta_0)``: ``(-2 L[rho - rho_bar](w_k), 2 a_k L[t (rho - rho_bar)](w_k))``.

    Parameters
    ----------
    part : Kernel
        ``rho - rho_bar``.
    a, w : sequence of exact SymPy numbers
        ``theta_0``.
    dps : int
        Digits.

    Returns
    -------
    list of mpf
        ``2m`` components, ordered like ``theta = (a, w)``.
    """
    with mp.workdps(dps):
        wm = [to_mpf(v) for v in w]
        L0 = part.laplace(wm, moment=0, dps=dps)
        L1 = part.laplace(wm, moment=1, dps=dps)
        return [-2 * v for v in L0] + [2 * to_mpf(ak) * v for ak, v in zip(a, L1)]


def _resolved_memory_gradient(part: Kernel, a, w) -> tuple[list, int]:
    """The memory term at the digits where two evaluations (``d`` and ``d + 30``) agree to 1e-10 relative: the
    closed form of ``rho - rho_bar`` has no cancellation to speak of unless SymPy kept it as a difference."""
    dps = 30
    g = memory_gradient(part, a, w, dps)
    while dps < _MAX_DPS:
        g2 = memory_gradient(part, a, w, dps + 30)
        with mp.workdps(dps + 30):
            n2 = _norm(g2)
            if n2 == 0 or _norm([x - y for x, y in zip(g, g2)]) <= mp.mpf("1e-10") * n2:
                return g2, dps + 30
        dps *= 2
        g = memory_gradient(part, a, w, dps)
    return g, dps


def measure_premise(rho: Kernel, a0, w0) -> PlateauPremise:
    """Measure the premise ``rho_hat(theta_0) = rho_bar`` against the memory term (see the module notes).

    Parameters
    ----------
    rho : Kernel
        The target at one ``omega`` (a kernel with the parameter ``omega``, e.g. from
        :func:`memtheory.kernels.memory_family`).
    a0, w0 : sequence
        ``theta_0``; numbers as :func:`memtheory.exact.exact` takes them (a float counts as its binary value).

    Returns
    -------
    PlateauPremise
        With ``holds = None`` and a ``reason`` when ``rho_bar`` is unknown, ``rho = rho_bar`` or the memory
        term vanishes.

    Examples
    --------
    >>> import sympy as sp
    >>> import memtheory as mt
    >>> from memtheory.theory.plateau.premise import measure_premise
    >>> rho = mt.Kernel("exp(-2*t/5) + exp(-2*(t - 1/omega)**2)", omega=sp.Rational(1, 200))
    >>> exact = measure_premise(rho, [1, 0], ["0.4", 2])
    >>> exact.holds, exact.resolved, round(exact.log10_memory_gradient, 2)
    (True, False, -32.03)
    >>> typed = measure_premise(rho, [1, 0], [0.4, 2])       # the binary float 0.4 != 2/5
    >>> typed.holds, round(typed.log10_mismatch_gradient, 2), round(typed.log10_ratio, 1)
    (False, -15.73, 16.3)
    """
    from .systems import MPObjective

    a, w = exact_values(a0, "a0")[0], exact_values(w0, "w0")[0]
    if len(a) != len(w) or not a:
        raise InvalidArgumentError(f"a0 and w0 must be non-empty and of equal length, got {len(a)} and {len(w)}")
    bar, reason = rho_bar_with_reason(rho)
    if bar is None:
        return PlateauPremise(None, reason=reason)
    part = _memory_part(rho, bar)
    if part is None:
        return PlateauPremise(str(bar.expr), reason="rho = rho_bar: the target has no memory term to measure "
                                                    "the mismatch against")
    g_mem, _ = _resolved_memory_gradient(part, a, w)
    with mp.workdps(60):
        n_mem = _norm(g_mem)
    if n_mem == 0:
        return PlateauPremise(str(bar.expr), log10_memory_gradient=-math.inf,
                              reason="the memory term of grad J(theta_0) is 0 at these rates")
    lg_mem = _log10(n_mem)
    dps = min(_MAX_DPS, max(30, int(math.ceil(-lg_mem)) + _GUARD))
    obj = MPObjective(bar, len(a), dps)
    with mp.workdps(dps):
        theta = [to_mpf(v) for v in (*a, *w)]
        J_bar, g_bar, _ = obj.evaluate(theta)
        _, g_err = obj.rounding_bound(theta)
        n_bar, n_err = _norm(g_bar), _norm(g_err)
        resolved = n_bar > n_err
        lg_bar = _log10(n_bar if resolved else n_err)
        mismatch = float(mp.sqrt(J_bar)) if J_bar > 0 else 0.0
    log10_ratio = lg_bar - lg_mem
    return PlateauPremise(str(bar.expr), mismatch, lg_bar, lg_mem, log10_ratio, bool(resolved),
                          bool(log10_ratio <= math.log10(PREMISE_RATIO)), dps)


def _vector_text(values) -> str:
    """``[...]`` of exact numbers: short ratios as they are, others with 17 significant digits."""
    with mp.workdps(40):
        return "[" + ", ".join(str(v) if v.is_Rational and v.q < 10**4 else mp.nstr(to_mpf(v), 17)
                               for v in values) + "]"


def check_premise(premise: PlateauPremise, a0, w0) -> None:
    """Raise :class:`~memtheory.errors.PremiseError` (one line) when the measured premise does not hold.

    Parameters
    ----------
    premise : PlateauPremise
        From :func:`measure_premise`.
    a0, w0 : sequence
        ``theta_0`` (named in the message).
    """
    if premise.holds is not False:
        return
    with mp.workdps(20):
        mis = mp.nstr(mp.power(10, premise.log10_mismatch_gradient), 3)
        mem = mp.nstr(mp.power(10, premise.log10_memory_gradient), 3)
    a, w = exact_values(a0, "a0")[0], exact_values(w0, "w0")[0]
    raise PremiseError(
        f"theta_0 = (a0 = {_vector_text(a)}, w0 = {_vector_text(w)}) does not reproduce rho_bar = "
        f"{premise.rho_bar} (||rho_hat(theta_0) - rho_bar|| = {premise.theta0_mismatch:.3g}): the mismatch's "
        f"gradient {mis} exceeds {PREMISE_RATIO:g} of the memory term's gradient {mem}, so the flow would time "
        "the mismatch, not the memory; type the rates and weights exactly (decimal strings or Rationals such as "
        "'0.4' or '2/5', not binary floats) so that rho_hat(theta_0) = rho_bar")
