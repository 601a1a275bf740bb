"""Numba-compiled kernels: ``rho(t, p)`` and the Laplace moments ``L[t^k rho](s)``, parameters as arguments.

:func:`compile_kernel` generates one numba module per *kernel structure* (the SymPy expression with its
parameters as symbols) from the same closed forms the float64/mpmath paths of :class:`Kernel` use, so

* a sweep over parameter values (omega, sigma, p, ...) compiles once;
* the gradient flows of :mod:`memtheory.dynamics` call the moments from inside their compiled right-hand side.

Terms without a closed form (an Airy function) are integrated by the compiled adaptive Gauss-Kronrod
quadrature of :mod:`memtheory.compile.special`, whose error estimate is returned with the values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import sympy as sp

from ..compile import codegen
from ..errors import NotIntegrableError
from .kernel import S, T, Kernel

__all__ = ["CompiledKernel", "compile_kernel"]

#: Relative tolerance of the compiled quadrature of terms without a closed form.
QUAD_RTOL = 1e-12


@dataclass(frozen=True)
class CompiledKernel:
    """Compiled functions of one kernel structure.

    Attributes
    ----------
    module : module
        The generated numba module: ``rho(t, p)``, ``moments(s, p, kmax, bps, out, err)`` (fills ``out[k]``,
        ``err[k]`` for ``k <= kmax`` and returns a quadrature status, 0 = converged), ``moments_at(w, p, kmax,
        bps, L, E)`` (all rates at once into ``L[k, i]``).
    param_names : tuple of str
        The order of the parameter array ``p``.
    has_residual : bool
        Whether some terms are integrated numerically.
    """

    module: ModuleType
    param_names: tuple
    has_residual: bool

    def moments(self, kernel: Kernel, w, kmax: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """``L[k, i] = L[t^k rho](w_i)`` for k <= kmax, with quadrature error estimates (float64)."""
        w = np.ascontiguousarray(w, dtype=float)
        L = np.zeros((3, w.size))
        E = np.zeros((3, w.size))
        status = self.module.moments_at(w, kernel.param_array(), kmax, breakpoints(kernel), L, E)
        if status != 0:
            raise NotIntegrableError(f"compiled quadrature of the Laplace moments failed (status {status}) "
                                     f"for {kernel.substituted()} at w = {w.tolist()}")
        return L, E


def breakpoints(kernel: Kernel) -> np.ndarray:
    """Feature points of the residual (quadrature) part at the kernel's parameter values."""
    form = kernel.laplace_form(0)
    if form.residual == 0:
        return np.zeros(0)
    return np.asarray(kernel._breakpoints(form), dtype=float)


def compile_kernel(kernel: Kernel) -> CompiledKernel:
    """Compile (or fetch from the cache) the numba functions of ``kernel``'s structure."""
    forms = tuple(kernel.laplace_form(k) for k in range(3))
    return _compile(kernel.expr, kernel.param_symbols, forms)


@functools.lru_cache(maxsize=128)
def _compile(expr: sp.Expr, params: tuple, forms: tuple) -> CompiledKernel:
    names = {T: sp.Symbol("_t"), S: sp.Symbol("_s"), **{sym: sp.Symbol(f"_k_{sym.name}") for sym in params}}
    printer = codegen.NumbaPrinter()

    def pr(e):
        return printer.doprint(sp.sympify(e).xreplace(names))

    residual = forms[0].residual
    has_residual = residual != 0
    unpack = "".join(f"    _k_{sym.name} = p[{i}]\n" for i, sym in enumerate(params))
    lines = [
        "@njit(cache=True)",
        "def rho(_t, p):",
        unpack + f"    return {pr(expr)}",
        "",
        "",
        "@njit(cache=True)",
        "def _residual(_t, p):",
        unpack + f"    return {pr(residual) if residual != 0 else '0.0'}",
        "",
    ]
    for k, form in enumerate(forms):
        lines += ["", "@njit(cache=True)", f"def closed{k}(_s, p):",
                  unpack + f"    return {pr(form.closed) if form.closed != 0 else '0.0'}", ""]
    quad = (
        "        v, e, n, ier = _sp.laplace_quad(_residual, p, s, float(k), bps, 0.0, QUAD_RTOL, 4000)\n"
        "        out[k] += v\n"
        "        err[k] += e\n"
        "        if ier != 0:\n"
        "            status = ier\n"
    ) if has_residual else ""
    lines += [
        "",
        f"QUAD_RTOL = {QUAD_RTOL!r}",
        "",
        "",
        f"@njit(cache={not has_residual})",
        "def moments(s, p, kmax, bps, out, err):",
        "    status = 0",
        "    for k in range(kmax + 1):",
        "        if k == 0:",
        "            out[k] = closed0(s, p)",
        "        elif k == 1:",
        "            out[k] = closed1(s, p)",
        "        else:",
        "            out[k] = closed2(s, p)",
        "        err[k] = 0.0",
        quad,
        "    return status",
        "",
        "",
        f"@njit(cache={not has_residual})",
        "def moments_at(w, p, kmax, bps, L, E):",
        "    status = 0",
        "    out = np.zeros(3)",
        "    err = np.zeros(3)",
        "    for i in range(w.shape[0]):",
        "        st = moments(w[i], p, kmax, bps, out, err)",
        "        if st != 0:",
        "            status = st",
        "        for k in range(kmax + 1):",
        "            L[k, i] = out[k]",
        "            E[k, i] = err[k]",
        "    return status",
        "",
    ]
    body = "\n".join(lines)
    if has_residual:
        body = "import memtheory.compile.special as _sp\n\n" + body
    module = codegen.load_module(body, tag="kernel")
    return CompiledKernel(module, tuple(sym.name for sym in params), has_residual)
