"""Arithmetics for the arbitrary-precision algorithms: one algorithm, the number type swapped.

The plateau flows (:mod:`memtheory.theory.plateau.systems`), RODAS4 (:mod:`memtheory.dynamics.rodas`) and their
linear algebra (:mod:`memtheory.dynamics.mplinalg`) are written once against an :class:`Arithmetic`: a small
object that provides the numbers (conversion, constants, ``fsum``, ``sqrt``, ``exp``, ``log``), the working
precision (:meth:`Arithmetic.workdps`), printing, and compiled closed forms (:meth:`Arithmetic.lambdify`, whose
special functions come from the registry). Two instances:

* :data:`MPMATH`: mpmath's ``mpf`` (with gmpy2), the reference;
* :data:`FLINT`: Arb's balls (python-flint's ``arb``) used as floating-point numbers at the same precision. The
  elementary operations, ``exp`` and ``erfc`` are several times faster than mpmath's at hundreds of digits
  (``benchmarks/bench_plateau.py``). The radii are not a certificate here: the algorithms drop them where a value
  is carried from one step to the next (:meth:`Arithmetic.clean`), since a ball propagated through thousands of
  linearly implicit steps only measures the wrapping effect. Functions Arb lacks (``erfcx``, the Gaussian
  moments, the scaled incomplete gamma, ...) are evaluated by their mpmath implementation at the same precision
  and converted.

Both give the same numbers to the working precision (``tests/test_arith.py``); mpmath's ``mpf`` is what the
results are returned in (:meth:`Arithmetic.to_mpf`).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable, Sequence

import flint
import mpmath as mp
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

from ..errors import InvalidArgumentError
from ..exact import to_mpf as exact_to_mpf
from .registry import SPECIAL_FUNCTIONS, mpmath_namespace

__all__ = ["Arithmetic", "MPMATH", "FLINT", "arithmetic", "ARITHMETICS"]


class Arithmetic:
    """The number type of an arbitrary-precision algorithm (see the module notes).

    Attributes
    ----------
    name : str
        ``"mpmath"`` or ``"flint"``.
    inf : number
        Positive infinity of the type.
    """

    name = "abstract"
    inf: object = None

    # -------------------------------------------------------------------- precision
    def workdps(self, dps: int):
        """Context manager: work at ``dps`` decimal digits (mpmath's precision is set as well)."""
        raise NotImplementedError

    # -------------------------------------------------------------------- numbers
    def num(self, x):
        """``x`` (int, decimal string, mpf, SymPy Rational, a number of this type) at the working precision."""
        raise NotImplementedError

    def to_mpf(self, x):
        """``x`` as an mpmath ``mpf`` (at mpmath's working precision)."""
        raise NotImplementedError

    def clean(self, x):
        """``x`` without bookkeeping that must not travel from step to step (a ball's radius); identity for mpf."""
        return x

    def fsum(self, terms: Iterable):
        """Sum of ``terms``."""
        raise NotImplementedError

    def sqrt(self, x):
        """Square root."""
        raise NotImplementedError

    def exp(self, x):
        """Exponential."""
        raise NotImplementedError

    def log(self, x):
        """Natural logarithm."""
        raise NotImplementedError

    def log10(self, x):
        """Base-10 logarithm."""
        return self.log(x) / self.log(self.num(10))

    def nstr(self, x, n: int = 8) -> str:
        """``x`` with ``n`` significant digits."""
        return mp.nstr(self.to_mpf(x), n)

    # -------------------------------------------------------------------- compiled closed forms
    def lambdify(self, args: Sequence[sp.Symbol], exprs) -> Callable:
        """A callable of ``args`` returning the list of the values of ``exprs`` (an expression or a list) over
        this arithmetic.

        Common subexpressions are evaluated once per call, and the constant subexpressions (``49/100``,
        ``sqrt(2)``, ``sqrt(pi)``) once per working precision.
        """
        exprs = list(exprs) if isinstance(exprs, (list, tuple)) else [exprs]
        table: dict = {}
        body = tuple(_hoist(e, table) for e in exprs)
        consts = tuple(table.values())
        fn = self._lambdify(tuple(args) + consts, body)
        const_fn = self._lambdify((), tuple(table)) if table else None
        cache: dict = {}

        def call(*values):
            if const_fn is None:
                return fn(*values)
            key = mp.mp.prec
            c = cache.get(key)
            if c is None:  # as exact numbers: a divisor must not carry a radius (see mplinalg's notes)
                c = cache[key] = tuple(self.clean(self.num(v)) for v in const_fn())
            return fn(*values, *c)

        return call

    def _lambdify(self, args: tuple, exprs: tuple) -> Callable:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<arithmetic {self.name}>"


class _Mpmath(Arithmetic):
    name = "mpmath"
    inf = mp.inf

    def workdps(self, dps: int):
        return mp.workdps(int(dps))

    def num(self, x):
        if isinstance(x, sp.Basic):
            return exact_to_mpf(x)
        return mp.mpf(x)

    def to_mpf(self, x):
        return x if isinstance(x, mp.mpf) else mp.mpf(x)

    def fsum(self, terms):
        return mp.fsum(terms)

    def sqrt(self, x):
        return mp.sqrt(x)

    def exp(self, x):
        return mp.exp(x)

    def log(self, x):
        return mp.log(x)

    def log10(self, x):
        return mp.log10(x)

    def nstr(self, x, n: int = 8) -> str:
        return mp.nstr(x, n)

    def _lambdify(self, args, exprs):
        return _lambdify_mpmath(args, exprs)


class _Flint(Arithmetic):
    name = "flint"
    flint = flint

    @property
    def inf(self):
        return flint.arb.pos_inf()

    def workdps(self, dps: int):
        return _FlintPrecision(int(dps))

    def num(self, x):
        arb = flint.arb
        if type(x) is int or isinstance(x, arb):
            return arb(x) if type(x) is int else x
        if isinstance(x, sp.Rational):
            return (arb(int(x.p)) / int(x.q)).mid()  # rounded once, to an exact number
        if isinstance(x, mp.mpf):
            return _arb_of_mpf(arb, x)
        if isinstance(x, float):
            return arb(x)
        if isinstance(x, str):
            return _arb_of_mpf(arb, mp.mpf(x))  # correctly rounded at the working precision
        if isinstance(x, sp.Basic):  # an exact number that is not a Rational (sqrt(2), pi/4)
            return _arb_of_mpf(arb, exact_to_mpf(x))
        return arb(x).mid()

    def to_mpf(self, x):
        if isinstance(x, mp.mpf):
            return x
        m = x.mid()
        if m.is_nan():
            return mp.nan
        if not m.is_finite():
            return mp.inf if m > 0 else mp.ninf
        man, exp = m.man_exp()
        return mp.mpf((int(man), int(exp)))

    def clean(self, x):
        return x.mid()

    def fsum(self, terms):
        return sum(terms, flint.arb(0))  # the same additions in the same order, without a Python loop

    def sqrt(self, x):
        return self.num(x).sqrt()

    def exp(self, x):
        return self.num(x).exp()

    def log(self, x):
        return self.num(x).log()

    def _lambdify(self, args, exprs):
        return _lambdify_flint(args, exprs)


class _FlintPrecision:
    """Work at ``dps`` digits in mpmath and, at the same binary precision, in Arb (restored on exit)."""

    __slots__ = ("dps", "old_mp", "old_arb")

    def __init__(self, dps: int):
        self.dps = dps

    def __enter__(self):
        self.old_mp, self.old_arb = mp.mp.prec, flint.ctx.prec
        mp.mp.dps = self.dps
        flint.ctx.prec = mp.mp.prec
        return self

    def __exit__(self, *exc):
        mp.mp.prec = self.old_mp
        flint.ctx.prec = self.old_arb
        return False


def _arb_of_mpf(arb, x):
    """An mpf as an exact arb (no rounding: the binary mantissa and exponent are carried over)."""
    if not x:
        return arb(0)
    if not mp.isfinite(x):
        return arb.pos_inf() if x > 0 else arb.neg_inf()
    sign, man, exp, _ = x._mpf_
    return arb((-int(man) if sign else int(man), int(exp)))


#: The arithmetics by name.
MPMATH = _Mpmath()
FLINT = _Flint()
ARITHMETICS = {"mpmath": MPMATH, "flint": FLINT}


def arithmetic(name) -> Arithmetic:
    """The :class:`Arithmetic` called ``name`` (``"mpmath"`` or ``"flint"``), or ``name`` if it is one."""
    if isinstance(name, Arithmetic):
        return name
    if name not in ARITHMETICS:
        raise InvalidArgumentError(f"arithmetic must be one of {', '.join(map(repr, ARITHMETICS))}, got {name!r}")
    return ARITHMETICS[name]


# ============================================================================================ closed forms
def _hoist(e, table: dict):
    """``e`` with its constant subexpressions other than integers (and rational exponents) replaced by symbols
    (``table``: constant -> symbol)."""
    if not isinstance(e, sp.Basic) or e.is_Atom and not e.is_number:
        return e
    if isinstance(e, sp.Expr) and e.is_number and not e.is_Integer:
        if e not in table:
            table[e] = sp.Symbol(f"_c{len(table)}")
        return table[e]
    if not e.args:
        return e
    if isinstance(e, sp.Pow) and e.exp.is_Rational:
        return sp.Pow(_hoist(e.base, table), e.exp, evaluate=False)
    return e.func(*[_hoist(a, table) for a in e.args])


@functools.lru_cache(maxsize=256)
def _lambdify_mpmath(args, exprs):
    ns = mpmath_namespace()
    return sp.lambdify(args, list(exprs), modules=[ns, "mpmath"], cse=True)


class _FlintPrinter(MpmathPrinter):
    """mpmath's printer with the constants as calls (Arb evaluates them at the current precision)."""

    def _print_Pi(self, expr):
        return "_pi()"

    def _print_Exp1(self, expr):
        return "_e()"

    def _print_EulerGamma(self, expr):
        return "_euler()"


def _via_mpmath(fn: Callable, int_args: tuple[int, ...]) -> Callable:
    """An mpmath implementation called on arb arguments (converted exactly) and converted back."""

    def call(*args):
        conv = [int(a) if i in int_args else (FLINT.to_mpf(a) if isinstance(a, flint.arb) else a)
                for i, a in enumerate(args)]
        return FLINT.num(fn(*conv))

    return call


def _on_balls(fn: Callable, int_args: tuple[int, ...]) -> Callable:
    """A ball implementation called with its arguments as Arb balls (integer arguments as ints)."""

    def call(*args):
        return fn(*[int(a) if i in int_args else (a if isinstance(a, flint.arb) else FLINT.num(a))
                    for i, a in enumerate(args)])

    return call


def flint_namespace() -> dict:
    """The lambdify namespace of the flint arithmetic: Arb's elementary functions and constants, and, for each
    registry entry, Arb's function where :attr:`~memtheory.compile.registry.SpecialFunction.arb` names one, else
    its mpmath implementation through exact conversions."""
    arb = flint.arb

    def unary(name):
        return lambda x: getattr(x if isinstance(x, arb) else FLINT.num(x), name)()

    ns = {"mpf": FLINT.num, "_pi": arb.pi, "_e": arb.const_e, "_euler": arb.const_euler}
    for name in ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "asin", "acos",
                 "erf", "erfc", "gamma", "expm1", "log1p"):
        ns[name] = unary(name)
    ns["lgamma"] = ns["loggamma"] = unary("lgamma")
    ns["power"] = lambda x, y: FLINT.num(x) ** y
    mp_ns = mpmath_namespace()
    for fn in SPECIAL_FUNCTIONS:
        if fn.arb is not None:  # the registry's ball implementation (memtheory.compile.arb_special)
            ns[fn.sympy] = _on_balls(fn.arb, fn.int_args)
        elif fn.sympy in ns:  # an Arb function of the same name (erfc)
            continue
        elif fn.sympy in mp_ns:
            ns[fn.sympy] = _via_mpmath(mp_ns[fn.sympy], fn.int_args)
    return ns


@functools.lru_cache(maxsize=256)
def _lambdify_flint(args, exprs):
    ns = flint_namespace()
    printer = _FlintPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                             "user_functions": {k: k for k in ns}})
    f = sp.lambdify(args, list(exprs), modules=[ns], printer=printer, cse=True)
    # names mpmath's printer uses that Arb has no entry for (gammainc, inf, ...): mpmath's, through conversions
    for name in f.__code__.co_names:
        if name not in f.__globals__ and not hasattr(builtins, name):
            target = getattr(mp, name, None)
            if target is None:
                raise InvalidArgumentError(f"arithmetic 'flint' cannot evaluate {name!r} in {exprs}")
            f.__globals__[name] = (FLINT.num(target) if isinstance(target, (mp.mpf, mp.ctx_mp.constant))
                                   else _via_mpmath(target, ()))
    return f
