"""Numba-compiled kernels: ``rho(t, p)`` and the Laplace moments ``L[t^k rho](s)``, parameters as arguments.

This is the one float64 evaluation of Laplace moments: :meth:`Kernel.laplace <memtheory.kernels.kernel.Kernel.laplace>`
(float64), the losses of :mod:`memtheory.losses` and the gradient flows of :mod:`memtheory.dynamics` all call the
numba module that :func:`compile_kernel` generates per *kernel structure* (the SymPy expression with its parameters
as symbols) from the closed forms of :mod:`memtheory.symbolic.laplace`, so

* a sweep over parameter values (omega, sigma, p, ...) compiles once;
* the gradient flows call the moments from inside their compiled right-hand side;
* a process that evaluates a closed form a few times (``memtheory loss``, ``memtheory laplace``) compiles nothing:
  a module of closed forms runs in the Python interpreter until :data:`INTERPRETED_BUDGET` evaluations are spent,
  with the same numbers (:mod:`memtheory.compile.tiers`); a module with a quadrature residual is always compiled.

Terms without a closed form (an Airy function) are integrated by the compiled adaptive Gauss-Kronrod quadrature of
:mod:`memtheory.compile.special` (``laplace_quad`` for ``s > 0``; for ``s <= 0``, where the kernel must be
integrable, ``gauss_kronrod`` on the pieces between the breakpoints and on the last piece mapped to ``[0, 1)``),
whose error estimate is returned with the values.

Every function of a generated module is cached on disk (``@njit(cache=True)``), those with a quadrature included:
they pass the integrand as a first-class function (:func:`~memtheory.compile.special.quadrature.as_integrand`), so
the quadrature's algorithm is compiled once for all kernels and a kernel structure seen before costs no compilation
in a new process.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..compile import codegen
from ..compile.rounding import rounding_error
from ..compile.tiers import TieredModule
from ..errors import NotIntegrableError
from ..symbolic.parse import symbol

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["CompiledKernel", "compile_kernel", "breakpoints", "QUAD_RTOL", "LAPLACE_RTOL"]

#: Relative tolerance of the compiled quadrature in :meth:`CompiledKernel.moments` (losses, gradient flows).
QUAD_RTOL = 1e-12
#: Relative tolerance of the compiled quadrature in :meth:`CompiledKernel.laplace` (``Kernel.laplace``).
LAPLACE_RTOL = 1e-13
#: Most subintervals of one compiled quadrature.
QUAD_LIMIT = 4000
#: Closed-form evaluations (points times moments) a kernel module runs interpreted per process before its calls
#: go to numba's machine code (:mod:`memtheory.compile.tiers`): a few hundredths of a second of interpretation
#: for exponential closed forms (about 1 us an evaluation), against seconds to compile the module in a fresh
#: environment.
INTERPRETED_BUDGET = 20_000

_T = symbol("t")
_S = symbol("s")


@dataclass(frozen=True)
class CompiledKernel:
    """Compiled functions of one kernel structure.

    Attributes
    ----------
    code : TieredModule
        The generated module, run interpreted while a process calls it little and compiled by numba once it is
        hot (:mod:`memtheory.compile.tiers`; the same numbers). Its compiled tier, :attr:`module`, is the numba
        module: ``rho(t, p)``; ``moment(s, k, p, bps, rtol)`` returning ``(value, closed
        part, quadrature error, status)`` of one moment at one ``s`` (status 0 = converged); ``moments(s, p, kmax,
        bps, out, err)`` (fills ``out[k]``, ``err[k]`` for ``k <= min(kmax, 2)`` and returns a quadrature status),
        ``moments_at(w, p, kmax, bps, L, E)`` (all rates at once into ``L[k, i]``); ``laplace_at(s, k, p, bps,
        rtol, values, errors)`` (one moment at many ``s``) and, with a residual, ``laplace_half_line`` (the same
        for ``s <= 0``).
    param_names : tuple of str
        The order of the parameter array ``p``.
    has_residual : bool
        Whether some terms are integrated numerically.
    kmax : int
        The highest moment compiled (at least 2).
    """

    code: TieredModule
    param_names: tuple
    has_residual: bool
    kmax: int = 2

    @property
    def module(self) -> ModuleType:
        """The numba module (what compiled code, such as the gradient flows, calls)."""
        return self.code.compiled

    def _run(self, name: str, args: tuple, work: int, outputs: tuple):
        """``name(*args)``: through the tiers for closed forms; compiled for a residual (its quadrature passes
        the integrand as a compiled first-class function)."""
        if self.has_residual:
            return getattr(self.code.compiled, name)(*args)
        return self.code.call(name, args, work, outputs)

    def moments(self, kernel: Kernel, w, kmax: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """``L[k, i] = L[t^k rho](w_i)`` for k <= kmax (<= 2), with quadrature error estimates (float64).

        Raises
        ------
        NotIntegrableError
            If the compiled quadrature does not converge at some ``w_i``.
        """
        w = np.ascontiguousarray(w, dtype=float)
        L = np.zeros((3, w.size))
        E = np.zeros((3, w.size))
        try:
            status = self._run("moments_at", (w, kernel.param_array(), kmax, breakpoints(kernel), L, E),
                               w.size * (kmax + 1), (4, 5))
        except ZeroDivisionError:  # a closed form's pole (exp(t) at w = 1): the caller decides point by point
            L[:] = np.nan
            return L, E
        if status != 0:
            raise NotIntegrableError(f"compiled quadrature of the Laplace moments failed (status {status}) "
                                     f"for {kernel.substituted()} at w = {w.tolist()}")
        return L, E

    def laplace(self, kernel: Kernel, s, moment: int = 0,
                rtol: float = LAPLACE_RTOL) -> tuple[np.ndarray, np.ndarray]:
        """``L[t^moment rho](s_i)`` and absolute error estimates (float64), ``moment <= kmax``.

        The error estimate is the forward rounding-error estimate of the closed part
        (:func:`memtheory.compile.rounding.rounding_error`: the condition of its sums, the accuracy contracts of
        its special functions) plus the quadrature's estimate. Nothing is checked here
        (:meth:`Kernel.laplace <memtheory.kernels.kernel.Kernel.laplace>` checks the domain first): a point where
        the closed form divides by zero or the quadrature fails gets a non-finite value. Quadratures that stop
        at their subinterval limit or at the roundoff floor return their value with its (larger) error estimate.
        """
        if not 0 <= moment <= self.kmax:
            raise ValueError(f"moment {moment} was not compiled (kmax = {self.kmax})")
        s = np.ascontiguousarray(s, dtype=float).reshape(-1)
        p = kernel.param_array()
        bps = breakpoints(kernel)
        values = np.empty(s.shape)
        errors = np.empty(s.shape)
        half_line = (s <= 0) if self.has_residual else np.zeros(s.shape, bool)
        for mask, fn in ((~half_line, "laplace_at"), (half_line, "laplace_half_line")):
            if mask.any():
                idx = np.flatnonzero(mask)
                v, e = _call(lambda *args, fn=fn: self._run(fn, args, args[0].size, (5, 6)), s[idx], moment, p,
                             bps, rtol)
                values[idx], errors[idx] = v, e
        return values, errors

    def closed_errors(self, kernel: Kernel, w, kmax: int = 2) -> np.ndarray:
        """Rounding-error estimates ``E[k, i]`` of the closed parts of ``L[t^k rho](w_i)``, ``k <= kmax <= 2``.

        The counterpart of :meth:`moments`, whose errors hold only the quadrature's estimate: the losses add
        these when they bound their own rounding error.
        """
        w = np.ascontiguousarray(w, dtype=float)
        E = np.zeros((3, w.size))
        with np.errstate(all="ignore"):
            try:
                self._run("closed_errors_at", (w, kernel.param_array(), kmax, E), w.size * (kmax + 1), (3,))
            except ZeroDivisionError:  # a pole of the closed form: the moments are decided point by point
                E[:] = np.inf
        return E


def _call(fn, s: np.ndarray, k: int, p: np.ndarray, bps: np.ndarray, rtol: float):
    """``fn(s, k, p, bps, rtol, values, errors)``; a point whose closed form raises (numba's Python error model:
    ``1/s`` at ``s = 0``) gets ``nan`` instead of stopping the others."""
    values = np.empty(s.shape)
    errors = np.empty(s.shape)
    try:
        fn(s, k, p, bps, rtol, values, errors)
    except (ArithmeticError, ValueError):
        for i in range(s.size):
            try:
                fn(s[i:i + 1], k, p, bps, rtol, values[i:i + 1], errors[i:i + 1])
            except (ArithmeticError, ValueError):
                values[i] = errors[i] = np.nan
    return values, errors


def breakpoints(kernel: Kernel) -> np.ndarray:
    """Feature points of the residual (quadrature) part at the kernel's parameter values."""
    form = kernel.laplace_form(0)
    if form.residual == 0:
        return np.zeros(0)
    return np.asarray(kernel.breakpoints(form), dtype=float)


def compile_kernel(kernel: Kernel, kmax: int = 2) -> CompiledKernel:
    """Compile (or fetch from the cache) the numba functions of ``kernel``'s structure, moments ``0..kmax``.

    Parameters
    ----------
    kernel : Kernel
        The kernel; only its structure (expression and the value-dependent choices of its Laplace forms) is
        compiled, its parameter values are arguments.
    kmax : int
        The highest moment ``L[t^k rho]`` the module evaluates (at least 2, the moments of the losses).
    """
    kmax = max(2, int(kmax))
    forms = tuple(kernel.laplace_form(k) for k in range(kmax + 1))
    return _compile(kernel.expr, kernel.param_symbols, forms)


def _residual_of_all_moments(forms: tuple) -> sp.Expr:
    """The residual of ``L[rho]``; the quadratures of moment k weight it by ``t^k``, which needs the residual of
    ``L[t^k rho]`` to be ``t^k`` times it (the rules of :mod:`memtheory.symbolic.laplace` do not depend on k)."""
    residual = forms[0].residual
    for k, form in enumerate(forms):
        if sp.expand(form.residual - _T**k * residual) != 0:
            raise NotImplementedError(f"the residual of L[t^{k} rho] is not t^{k} times that of L[rho]: "
                                      f"{form.residual} vs {residual}")
    return residual


# ``closed`` and ``moment`` are dispatch layers over the per-moment closed forms: inlined in numba's IR, so that
# the loops below call ``closed{k}`` directly (two extra calls per moment cost the gradient flows ~15%).
_MOMENT_CLOSED = '''

@njit(cache=True, inline="always")
def moment(s, k, p, bps, rtol):
    c = closed(k, s, p)
    return c, c, 0.0, 0
'''

_MOMENT_RESIDUAL = '''

@njit(cache=True, inline="always")
def moment(s, k, p, bps, rtol):
    c = closed(k, s, p)
    v, e, n, ier = _sp.laplace_quad(as_integrand(_residual), p, s, float(k), bps, 0.0, rtol, QUAD_LIMIT)
    return c + v, c, e, ier
'''

# ``moments`` (all moments at one s, the hot path of the losses and flows): with a residual, the closed part plus
# the quadrature of each moment; without one only the closed forms, written out as in a hand-made loop.
_MOMENTS_RESIDUAL = '''

@njit(cache=True)
def moments(s, p, kmax, bps, out, err):
    status = 0
    for k in range(kmax + 1):
        v, c, e, ier = moment(s, k, p, bps, QUAD_RTOL)
        out[k] = v
        err[k] = e
        if ier != 0:
            status = ier
    return status
'''

_MOMENTS_CLOSED = '''

@njit(cache=True)
def moments(s, p, kmax, bps, out, err):
    for k in range(kmax + 1):
        out[k] = closed(k, s, p)
        err[k] = 0.0
    return 0
'''

_LOOPS = '''


@njit(cache=True)
def moments_at(w, p, kmax, bps, L, E):
    status = 0
    out = np.zeros(3)
    err = np.zeros(3)
    for i in range(w.shape[0]):
        st = moments(w[i], p, kmax, bps, out, err)
        if st != 0:
            status = st
        for k in range(kmax + 1):
            L[k, i] = out[k]
            E[k, i] = err[k]
    return status


@njit(cache=True)
def laplace_at(s, k, p, bps, rtol, values, errors):
    for i in range(s.shape[0]):
        v, c, e, ier = moment(s[i], k, p, bps, rtol)
        values[i] = v
        errors[i] = closed_err(k, s[i], p) + e


@njit(cache=True)
def closed_errors_at(w, p, kmax, E):
    for i in range(w.shape[0]):
        for k in range(kmax + 1):
            E[k, i] = closed_err(k, w[i], p)
'''

# s <= 0 (integrable kernels only). One integrand for all pieces: q = [mapped, a, s, k, p...] gives
# t^k e^{-st} residual(t) at t = x, or, with mapped = 1, on the last piece [a, inf) mapped to [0, 1) by
# t = a + x/(1 - x).
_HALF_LINE = '''

@njit(cache=True)
def _half_line_integrand(x, q):
    t = x
    jac = 1.0
    if q[0] != 0.0:
        v = 1.0 - x
        t = q[1] + x / v
        jac = 1.0 / (v * v)
    r = _residual(t, q[4:])
    if r == 0.0:
        return 0.0
    return r * t**q[3] * math.exp(-q[2] * t) * jac


@njit(cache=True)
def laplace_half_line(s, k, p, bps, rtol, values, errors):
    # element loops, not slice assignments: those compile numba's shape-mismatch error message (~2 s)
    edges = np.zeros(bps.shape[0] + 1)
    for j in range(bps.shape[0]):
        edges[j + 1] = bps[j]
    q = np.zeros(p.shape[0] + 4)
    for j in range(p.shape[0]):
        q[j + 4] = p[j]
    q[3] = float(k)
    half_line = as_integrand(_half_line_integrand)
    for i in range(s.shape[0]):
        c = closed(k, s[i], p)
        q[2] = s[i]
        q[0] = 0.0
        total = 0.0
        err = 0.0
        for j in range(edges.shape[0] - 1):
            v, e, n, ier = _sp.gauss_kronrod(half_line, edges[j], edges[j + 1], q, 0.0, rtol, QUAD_LIMIT)
            total += v
            err += e
        q[0] = 1.0
        q[1] = edges[edges.shape[0] - 1]
        v, e, n, ier = _sp.gauss_kronrod(half_line, 0.0, 1.0, q, 0.0, rtol, QUAD_LIMIT)
        values[i] = c + (total + v)
        errors[i] = closed_err(k, s[i], p) + (err + e)
'''


@functools.cache
def _special_sources_stamp() -> str:
    """SHA-256 (first 16 hex digits) of the source files of :mod:`memtheory.compile.special` (not imported here:
    importing it compiles or loads its functions, which closed forms without special functions do not need)."""
    digest = hashlib.sha256()
    for path in sorted((Path(codegen.__file__).parent / "special").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=128)
def _compile(expr: sp.Expr, params: tuple, forms: tuple) -> CompiledKernel:
    names = {_T: sp.Symbol("_t"), _S: sp.Symbol("_s"), **{sym: sp.Symbol(f"_k_{sym.name}") for sym in params}}
    printer = codegen.NumbaPrinter()

    def pr(e):
        return printer.doprint(sp.sympify(e).xreplace(names))

    residual = _residual_of_all_moments(forms)
    has_residual = residual != 0
    kmax = len(forms) - 1
    unpack = "".join(f"    _k_{sym.name} = p[{i}]\n" for i, sym in enumerate(params))
    lines = [
        # numba's cache of this module holds the machine code of the compiled special functions and quadrature it
        # calls; the stamp of their sources makes an edit of them give a new module (a fresh cache), not stale code
        f"SPECIAL_SOURCES = {_special_sources_stamp()!r}",
        f"QUAD_RTOL = {QUAD_RTOL!r}",
        f"QUAD_LIMIT = {QUAD_LIMIT!r}",
        "",
        "",
        "@njit(cache=True)",
        "def rho(_t, p):",
        unpack + f"    return {pr(expr)}",
        "",
        "",
        "@njit(cache=True)",
        "def _residual(_t, p):",
        unpack + f"    return {pr(residual) if has_residual else '0.0'}",
        "",
    ]
    for k, form in enumerate(forms):
        lines += ["", "@njit(cache=True)", f"def closed{k}(_s, p):",
                  unpack + f"    return {pr(form.closed) if form.closed != 0 else '0.0'}", ""]
    lines += ["", '@njit(cache=True, inline="always")', "def closed(k, _s, p):"]
    lines += [f"    if k == {k}:\n        return closed{k}(_s, p)" for k in range(kmax)]
    lines += [f"    return closed{kmax}(_s, p)"]
    # the forward rounding-error estimate of each closed form (compile.rounding)
    for k, form in enumerate(forms):
        bound = rounding_error(form.closed, exact=(_S,)) if form.closed != 0 else 0
        lines += ["", "", "@njit(cache=True)", f"def closed_err{k}(_s, p):",
                  unpack + f"    return {pr(bound) if bound != 0 else '0.0'}"]
    lines += ["", "", '@njit(cache=True, inline="always")', "def closed_err(k, _s, p):"]
    lines += [f"    if k == {k}:\n        return closed_err{k}(_s, p)" for k in range(kmax)]
    lines += [f"    return closed_err{kmax}(_s, p)", ""]
    body = "\n".join(lines) + (_MOMENT_RESIDUAL + _MOMENTS_RESIDUAL if has_residual else
                                _MOMENT_CLOSED + _MOMENTS_CLOSED) + _LOOPS
    if has_residual:
        body = ("import memtheory.compile.special as _sp\n"
                "from memtheory.compile.special.quadrature import as_integrand\n\n" + body + _HALF_LINE)
    return CompiledKernel(TieredModule(body, "kernel", INTERPRETED_BUDGET), tuple(sym.name for sym in params),
                          has_residual, kmax)
