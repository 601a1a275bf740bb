"""Generated code for pair-separable losses ``J = sum_ij P(x_i, x_j) + sum_i Q(x_i) + N``.

The element formulas ``P`` and ``Q`` (SymPy, :mod:`memtheory.symbolic.loss`) are differentiated symbolically
(first and second derivatives in ``x_i = (a_i, w_i)`` and ``x_j``) and printed into one assembly routine that
accumulates the loss, gradient and Hessian. The same source is loaded twice:

* as a numba module (``@njit(cache=True)``), the float64 backend, run interpreted while a process calls it little
  (:func:`float_assembly`, :mod:`memtheory.compile.tiers`: the same numbers without compiling it);
* as plain Python, the mpmath backend (arrays of ``mpf``; constants printed as exact ratios).

A second routine accumulates the same sums with every term replaced by its absolute value (the *magnitude*
of each output). Rounding error in float64 is at most a small multiple of ``eps * magnitude``; comparing the
result with that bound detects cancellation (docs/theory.md §4: at a plateau the gradient is exponentially smaller
than its O(1) terms) so that the caller can switch to mpmath instead of returning noise.
"""

from __future__ import annotations

import functools
from types import ModuleType, SimpleNamespace

import sympy as sp

from ..compile import codegen
from ..compile.tiers import TieredModule
from ..symbolic.functions import LaplaceMoment
from ..symbolic.loss import PAIR_TERM, SINGLE_TERM, element_symbols

__all__ = ["INTERPRETED_BUDGET", "float_assembly", "loss_module", "magnitude"]

#: Element pairs (``m^2`` per call) the float64 assembly runs interpreted per process before its calls go to
#: numba's machine code: at most about 0.2 s of interpretation (8 us a pair with the Hessian, 1.6 us without),
#: against seconds to compile it in a fresh environment and tenths of a second to load it from numba's cache.
INTERPRETED_BUDGET = 20_000


def magnitude(expr: sp.Expr) -> sp.Expr:
    """Replace every sum by the sum of absolute values (a bound on what rounding errors scale with).

    Denominators are kept as ``1/|d|``; the positive sums ``w_i + w_j`` are computed without cancellation.
    """
    if expr.is_Number:
        return abs(expr)
    if expr.is_Symbol or isinstance(expr, LaplaceMoment):
        return sp.Abs(expr)
    if isinstance(expr, sp.Add):
        return sp.Add(*(magnitude(a) for a in expr.args))
    if isinstance(expr, sp.Mul):
        return sp.Mul(*(magnitude(a) for a in expr.args))
    if isinstance(expr, sp.Pow):
        if expr.exp.is_negative:
            return sp.Abs(expr.base) ** expr.exp
        return magnitude(expr.base) ** expr.exp
    raise NotImplementedError(f"magnitude of {expr.func.__name__}")


class _PyPrinter(codegen.NumbaPrinter):
    """Plain-Python printer for the mpmath backend: exact rationals."""

    def _print_Rational(self, expr):
        return f"_R({expr.p}, {expr.q})"

    def _print_Integer(self, expr):
        # a Python int: exact, and a product int * mpf (or arb) costs no conversion; never divided by another int
        # (a Rational prints as _R, a negative power as 1.0/...)
        return str(expr.p)


def _moment_symbols(expr: sp.Expr, names: dict) -> sp.Expr:
    return expr.replace(
        lambda e: isinstance(e, LaplaceMoment),
        lambda e: sp.Symbol(f"L{int(e.args[0])}_{'i' if e.args[1] == names['w_i_sym'] else 'j'}"),
    )


def _print_element(expr: sp.Expr, printer, names: dict) -> str:
    return printer.doprint(_moment_symbols(expr, names))


def _routine(name: str, doc: str, printer, transform, cse: bool = False) -> str:
    """Source of one assembly routine; ``transform`` maps each element derivative before printing.

    With ``cse`` (the arbitrary-precision backends, where every operation costs a Python call and a product of
    hundreds of digits), the accumulations of each block (the gradient terms and the Hessian terms of the single
    element; the loss term with the gradient terms, and the Hessian terms, of the pair element) share their
    common subexpressions, computed once into local variables; a symmetric pair
    term ``P(x_i, x_j) = P(x_j, x_i)`` is visited once per unordered pair (the off-diagonal pairs count twice,
    :func:`_pair_blocks`), and each negative power of a denominator is a power of its reciprocal, one division
    per pair: half the products and a quarter of the divisions of the plain loop.
    """
    a_i, w_i, a_j, w_j = element_symbols()
    xi, xj = (a_i, w_i), (a_j, w_j)
    names = {"w_i_sym": w_i}
    P, Q = PAIR_TERM, SINGLE_TERM
    blocks = [0]

    def pr(e):
        return _print_element(transform(e), printer, names)

    def accumulate(indent: str, items: list, prepared: bool = False) -> list:
        """``target += expr`` lines for ``items = [(target, expr), ...]`` (``prepared``: already transformed,
        with the moments as symbols)."""
        if not cse:
            return [f"{indent}{target} += {pr(e)}" for target, e in items]
        exprs = [e if prepared else _moment_symbols(transform(e), names) for _, e in items]
        blocks[0] += 1
        temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(f"_b{blocks[0]}_"))
        return ([f"{indent}{t} = {printer.doprint(v)}" for t, v in temps]
                + [f"{indent}{target} += {printer.doprint(r)}" for (target, _), r in zip(items, reduced)])

    def index(owner: str, component: int) -> str:
        return owner if component == 0 else f"m + {owner}"

    grad_items = [(f"grad[{index(o, d)}]", sp.diff(P, v)) for o, xs in (("i", xi), ("j", xj))
                  for d, v in enumerate(xs)]
    hess_items = [(f"hess[{index(o1, d1)}, {index(o2, d2)}]", sp.diff(P, v1, v2))
                  for o1, x1 in (("i", xi), ("j", xj)) for o2, x2 in (("i", xi), ("j", xj))
                  for d1, v1 in enumerate(x1) for d2, v2 in enumerate(x2) if sp.diff(P, v1, v2) != 0]
    lines = [
        "@_jit",
        f"def {name}(a, w, L0, L1, L2, norm, grad, hess, want_grad, want_hess):",
        f'    """{doc}"""',
        "    m = a.shape[0]",
        f"    J = {pr(NORM)}",
        "    for i in range(m):",
        "        a_i = a[i]",
        "        w_i = w[i]",
        "        L0_i = L0[i]",
        "        L1_i = L1[i]",
        "        L2_i = L2[i]",
        f"        J += {pr(Q)}",
        "        if want_grad:",
    ]
    lines += accumulate("            ", [(f"grad[{index('i', d)}]", sp.diff(Q, v)) for d, v in enumerate(xi)])
    lines.append("        if want_hess:")
    lines += accumulate("            ", [(f"hess[{index('i', d1)}, {index('i', d2)}]", sp.diff(Q, v1, v2))
                                        for d1, v1 in enumerate(xi) for d2, v2 in enumerate(xi)
                                        if sp.diff(Q, v1, v2) != 0])
    if not cse:
        lines += [
            "        for j in range(m):",
            "            a_j = a[j]",
            "            w_j = w[j]",
            f"            J += {pr(P)}",
            "            if want_grad:",
        ]
        lines += accumulate("                ", grad_items)
        lines.append("            if want_hess:")
        lines += accumulate("                ", hess_items)
    else:
        prep = [("J", P)] + grad_items + hess_items
        prep = [(t, _moment_symbols(transform(e), names)) for t, e in prep]
        for head, indent, block in _pair_blocks(prep, xi, xj, printer):
            lines += head
            loss = [(t, e) for t, e in block if t == "J"]
            grads = [(t, e) for t, e in block if t.startswith("grad")]
            hesses = [(t, e) for t, e in block if t.startswith("hess")]
            # the loss term shares its subexpressions with the gradient's; the Hessian's block is its own, so that
            # J and the gradient are the same numbers whether the Hessian is wanted or not
            lines.append(f"{indent}if want_grad:")
            lines += accumulate(indent + "    ", loss + grads, prepared=True)
            lines.append(f"{indent}else:")
            lines += accumulate(indent + "    ", loss, prepared=True)
            lines.append(f"{indent}if want_hess:")
            lines += accumulate(indent + "    ", hesses, prepared=True)
    lines.append("    return J")
    return "\n".join(lines) + "\n"


def _pair_blocks(items: list, xi: tuple, xj: tuple, printer) -> list:
    """The pair loop of the arbitrary-precision assembly: ``[(head lines, indent, items), ...]``.

    ``items`` are ``(target, expr)`` of the pair element (the loss ``"J"`` first), ready to print with
    ``printer``. ``P(x_i, x_j) = P(x_j, x_i)`` (checked on the loss term), so the pair ``(j, i)`` contributes to
    each target what ``(i, j)`` contributes to the mirrored one: the loop runs over ``j > i`` with every term
    doubled, plus the diagonal pair ``j = i`` (``x_j`` set to ``x_i``, the contributions to the same target
    summed). Each negative integer power of a denominator ``d`` becomes a power of a local ``_rk = 1/d``,
    computed once per pair.
    """
    (a_i, w_i), (a_j, w_j) = xi, xj
    swap = {a_i: a_j, a_j: a_i, w_i: w_j, w_j: w_i}
    loss = items[0][1]
    symmetric = sp.simplify(loss - loss.xreplace(swap)) == 0

    def reciprocals(block: list) -> tuple[list, list]:
        """``block`` with ``d**-k`` replaced by ``_rk**k`` and the lines that compute the ``_rk``."""
        bases: dict = {}
        for _, e in block:
            for p in e.atoms(sp.Pow):
                if p.exp.is_Integer and p.exp < 0 and p.base not in bases:
                    bases[p.base] = sp.Symbol(f"_r{len(bases)}")

        def sub(e):
            return e.replace(lambda x: isinstance(x, sp.Pow) and x.exp.is_Integer and x.exp < 0 and x.base in bases,
                             lambda x: bases[x.base] ** (-x.exp))

        return [(t, sub(e)) for t, e in block], list(bases.items())

    def with_reciprocals(head: list, indent: str, block: list):
        block, recips = reciprocals(block)
        return head + [f"{indent}{r} = 1/({printer.doprint(d)})" for d, r in recips], indent, block

    if not symmetric:  # the L2 loss's pair term is an inner product, a_i a_j <e^{-w_i t}, e^{-w_j t}>
        raise ValueError(f"the pair term {loss} is not symmetric in x_i and x_j")
    off = [(t, 2 * e) for t, e in items]
    diagonal: dict = {}
    for t, e in items:  # j = i: the targets of j are those of i
        key = t.replace("j", "i")
        diagonal[key] = diagonal.get(key, 0) + e.xreplace({a_j: a_i, w_j: w_i})
    diag = [(t, e) for t, e in diagonal.items() if e != 0]
    return [with_reciprocals(["        for j in range(i + 1, m):", "            a_j = a[j]", "            w_j = w[j]"],
                             "            ", off),
            with_reciprocals(["        # the diagonal pair j = i"], "        ", diag)]


NORM = sp.Symbol("norm")


@functools.lru_cache(maxsize=None)
def _python_source() -> str:
    """The source of the arbitrary-precision backends (one generation per version of the code, kept in the cache
    directory, for both: SymPy's simplification of the element derivatives takes seconds)."""
    return codegen.cached_source("l2loss-python", lambda: _source(_PyPrinter(), cse=True))


@functools.lru_cache(maxsize=None)
def _simplified(expr: sp.Expr) -> sp.Expr:
    """``sp.simplify`` of an element derivative, once per process (every routine of every backend simplifies the
    same derivatives; SymPy's simplification is most of the time of generating the sources)."""
    return sp.simplify(expr)


def _source(printer, cse: bool = False) -> str:
    exact = _routine("assemble", "Loss; gradient and Hessian accumulated into grad (2m) and hess (2m x 2m).",
                     printer, _simplified, cse)
    bound = _routine("assemble_magnitude", "Sums of |terms| of each output (rounding errors scale with these).",
                     printer, lambda e: magnitude(_simplified(e)), cse)
    return exact + "\n\n" + bound


@functools.lru_cache(maxsize=None)
def _numba_body() -> str:
    """The body of the float64 module (one generation per version of the code, kept in the cache directory, for
    both tiers)."""
    return codegen.cached_source("l2loss-numba",
                                 lambda: "_jit = njit(cache=True)\n\n\n" + _source(codegen.NumbaPrinter()))


@functools.lru_cache(maxsize=None)
def float_assembly() -> TieredModule:
    """The float64 assembly routines through the two tiers of :mod:`memtheory.compile.tiers`.

    Call ``float_assembly().call("assemble", args, work=m * m, outputs=(6, 7))`` with the arguments of the
    numba routines (:func:`loss_module`); the interpreted tier runs the same source, with the same numbers,
    until :data:`INTERPRETED_BUDGET` element pairs are spent in this process.
    """
    return TieredModule(_numba_body(), "l2loss", INTERPRETED_BUDGET)


@functools.lru_cache(maxsize=None)
def loss_module(backend: str = "numba") -> ModuleType | SimpleNamespace:
    """The assembly routines for ``backend`` in ``{"numba", "python", "flint"}`` (python: for mpmath numbers;
    flint: the same source for python-flint's ``arb``, :mod:`memtheory.compile.arith`)."""
    if backend == "numba":
        return codegen.load_module(_numba_body(), tag="l2loss")
    if backend in ("python", "flint"):
        import mpmath

        src = _python_source()
        if backend == "python":
            ratio = lambda p, q: mpmath.mpf(p) / q if q != 1 else mpmath.mpf(p)  # noqa: E731
        else:
            import flint

            ratio = lambda p, q: flint.arb(p) / q if q != 1 else flint.arb(p)  # noqa: E731
        namespace = {"_jit": lambda f: f, "_R": ratio, "math": mpmath, "abs": abs}
        exec(compile(src, "<memtheory.losses.assembly:python>", "exec"), namespace)  # generated, not user input
        return SimpleNamespace(assemble=namespace["assemble"], assemble_magnitude=namespace["assemble_magnitude"],
                               source=src)
    raise ValueError(f"backend must be 'numba', 'python' or 'flint', got {backend!r}")
