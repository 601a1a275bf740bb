"""SymPy -> Arb (python-flint ball arithmetic): the certified backend of the compile layer.

:func:`arb_function` turns a SymPy expression into a Python function over balls: called with ``flint.arb``
arguments it returns a real ball containing the expression's value at every point of the argument balls (the
closed forms of certified Laplace moments, the interval evaluations of the Jackson constant); called with
``flint.acb`` arguments and ``analytic=True`` it is an integrand for :func:`flint.acb.integral`, returning a
non-finite ball wherever it cannot prove itself analytic (branch cuts, kinks), as that routine requires.

Numbers are exact: integers stay integers, rationals ``p/q`` become the ball ``arb(p)/q`` at the working precision,
a SymPy ``Float`` its exact binary value. Elementary functions are methods of the balls; the special functions
(``erfcx``, ``gauss_moment``, ``airyai``, ...) are the ``arb`` implementations of
:mod:`memtheory.compile.registry`. A function with no rigorous implementation there (``arb=None``), an unknown
function or a non-real constant raises :class:`~memtheory.errors.CertificationError` when the expression is
compiled, never a number with an unproven radius.

``Piecewise`` is evaluated branch by branch with three-valued conditions: a condition the ball decides picks
its branch; an undecided one (the ball straddles the boundary) keeps both branches and returns the union of their
balls, which contains the true value whichever side the exact point is on. In integrands (complex balls) a
``Piecewise`` is refused: its analytic extension is not known.

The working precision is flint's global ``flint.ctx.prec``; :func:`workprec` sets it for a block and
:func:`dps_to_prec` converts decimal digits.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction

import mpmath as mp
import sympy as sp
from flint import acb, arb, ctx, fmpq, fmpz

from ..errors import CertificationError, InvalidArgumentError
from .codegen import exact_integer_literals
from .registry import SPECIAL_FUNCTIONS

__all__ = ["arb_function", "to_arb", "workprec", "dps_to_prec", "ArbNamespace"]

#: Guard bits added to the precision of ``dps`` decimal digits.
GUARD_BITS = 24


def dps_to_prec(dps: int) -> int:
    """Bits of working precision for ``dps`` decimal digits (plus :data:`GUARD_BITS`).

    Parameters
    ----------
    dps : int
        Decimal digits.

    Returns
    -------
    int
        ``ceil(dps log2 10) + GUARD_BITS``.
    """
    return int(math.ceil(dps * math.log2(10))) + GUARD_BITS


@contextlib.contextmanager
def workprec(bits: int) -> Iterator[None]:
    """Set flint's working precision to ``bits`` inside the block (restored afterwards).

    Parameters
    ----------
    bits : int
        Precision in bits.
    """
    old = ctx.prec
    ctx.prec = int(bits)
    try:
        yield
    finally:
        ctx.prec = old


def to_arb(value) -> arb:
    """A number as a ball, exactly where it can be: the point ball of an exact binary value, else the rounding
    of an exact rational at the working precision.

    Parameters
    ----------
    value : int, float, str, fractions.Fraction, sympy number, mpmath.mpf or flint.arb
        A float is its exact binary value; a decimal string (``"0.3"``) or a rational ``p/q`` is exact, rounded
        once into a ball of radius one unit in the last bit; a SymPy constant expression (``sqrt(2)``, ``pi``)
        is evaluated in ball arithmetic.

    Returns
    -------
    flint.arb

    Raises
    ------
    InvalidArgumentError
        If the value is not a finite real number.
    """
    if isinstance(value, arb):
        return value
    if isinstance(value, bool):
        raise InvalidArgumentError(f"expected a real number, got {value!r}")
    if isinstance(value, int):
        return arb(fmpz(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(f"expected a finite real number, got {value!r}")
        return arb(value)  # exact: a double is a dyadic rational
    if isinstance(value, mp.mpf):
        if not mp.isfinite(value):
            raise InvalidArgumentError(f"expected a finite real number, got {value!r}")
        sign, mant, e, _ = value._mpf_  # exact binary value: (-1)^sign mant 2^e
        return arb(fmpz(-int(mant) if sign else int(mant))) * arb(2) ** int(e) if mant else arb(0)
    if isinstance(value, Fraction):
        return arb(fmpq(value.numerator, value.denominator))
    if isinstance(value, str):
        try:
            frac = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise InvalidArgumentError(f"expected a decimal or rational number, got {value!r}") from None
        return arb(fmpq(frac.numerator, frac.denominator))
    if hasattr(value, "is_Number") or isinstance(value, sp.Basic):
        expr = sp.sympify(value)
        if expr.is_Rational:
            return arb(fmpq(int(expr.p), int(expr.q)))
        if expr.is_Float:
            rat = sp.Rational(expr)
            return arb(fmpq(int(rat.p), int(rat.q)))
        if expr.free_symbols or expr.is_real is False:
            raise InvalidArgumentError(f"expected a real number, got {value!r}")
        ball = arb_function((), expr)()
        if not ball.is_finite():
            raise InvalidArgumentError(f"expected a finite real number, got {value!r}")
        return ball
    raise InvalidArgumentError(f"expected a real number, got {type(value).__name__} {value!r}")


# --------------------------------------------------------------------------------------------- the namespace
class ArbNamespace:
    """The functions generated ball code calls: elementary functions as ball methods, three-valued comparisons
    and ``Piecewise``. Every function takes the integration flag ``an`` last (ignored where entire)."""

    @staticmethod
    def exp(x, an):
        return x.exp()

    @staticmethod
    def log(x, an):
        return x.log(analytic=an) if isinstance(x, acb) else x.log()

    @staticmethod
    def sqrt(x, an):
        return x.sqrt(analytic=an) if isinstance(x, acb) else x.sqrt()

    @staticmethod
    def pow(x, e, an):
        if isinstance(x, acb) or isinstance(e, acb):
            return acb(x).pow(e, analytic=an)
        return arb(x) ** e

    @staticmethod
    def sin(x, an):
        return x.sin()

    @staticmethod
    def cos(x, an):
        return x.cos()

    @staticmethod
    def tan(x, an):
        return x.tan()

    @staticmethod
    def tanh(x, an):
        return x.tanh()

    @staticmethod
    def sinh(x, an):
        return x.sinh()

    @staticmethod
    def cosh(x, an):
        return x.cosh()

    @staticmethod
    def atan(x, an):
        if isinstance(x, acb) and an and not bool(abs(x.imag) < 1):
            return acb("nan")
        return x.atan()

    @staticmethod
    def erf(x, an):
        return x.erf()

    @staticmethod
    def Abs(x, an):  # noqa: N802 - SymPy's name
        return x.real_abs(analytic=an) if isinstance(x, acb) else abs(x)

    @staticmethod
    def Min(*args):  # noqa: N802 - SymPy's name
        *xs, an = args
        out = xs[0]
        for y in xs[1:]:
            out = acb(out).real_min(y, analytic=an) if isinstance(out, acb) or isinstance(y, acb) \
                else arb(out).min(arb(y))
        return out

    @staticmethod
    def Max(*args):  # noqa: N802 - SymPy's name
        *xs, an = args
        out = xs[0]
        for y in xs[1:]:
            out = acb(out).real_max(y, analytic=an) if isinstance(out, acb) or isinstance(y, acb) \
                else arb(out).max(arb(y))
        return out

    @staticmethod
    def pi():
        return arb.pi()

    @staticmethod
    def e():
        return arb.const_e()

    @staticmethod
    def euler():
        return arb.const_euler()

    # ---------------------------------------------------------------- three-valued logic
    @staticmethod
    def rel(op: str, a, b):
        """``True``/``False`` where the balls decide ``a op b``, ``None`` where they do not."""
        a, b = arb(a), arb(b)
        if op == "ge":
            return True if a >= b else (False if a < b else None)
        if op == "gt":
            return True if a > b else (False if a <= b else None)
        if op == "le":
            return True if a <= b else (False if a > b else None)
        if op == "lt":
            return True if a < b else (False if a >= b else None)
        if op == "eq":
            return True if a == b else (False if a != b else None)
        if op == "ne":
            return True if a != b else (False if a == b else None)
        raise CertificationError(f"unknown comparison {op!r}")

    @staticmethod
    def and_(*cs):
        if any(c is False for c in cs):
            return False
        return True if all(c is True for c in cs) else None

    @staticmethod
    def or_(*cs):
        if any(c is True for c in cs):
            return True
        return False if all(c is False for c in cs) else None

    @staticmethod
    def not_(c):
        return None if c is None else not c

    @staticmethod
    def piecewise(*pairs):
        """Value of the first branch whose condition holds; the union of the candidates' balls where the
        conditions are undecided on the argument balls."""
        candidates = []
        for cond, value in pairs:
            c = cond()
            if c is False:
                continue
            candidates.append(arb(value()))
            if c is True:
                break
        else:
            candidates.append(arb("nan"))  # no branch is certain to hold: SymPy's value is nan there
        out = candidates[0]
        for v in candidates[1:]:
            out = out.union(v)
        return out


_ELEMENTARY = {"exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan", "erf", "Abs", "Min", "Max"}
_RELATIONS = {sp.GreaterThan: "ge", sp.StrictGreaterThan: "gt", sp.LessThan: "le", sp.StrictLessThan: "lt",
              sp.Equality: "eq", sp.Unequality: "ne"}


class _Printer:
    """Python source of a SymPy expression over balls (see the module docstring)."""

    def __init__(self, names: dict, complex_mode: bool):
        self.names = names
        self.complex_mode = complex_mode
        self.special = {fn.sympy: fn for fn in SPECIAL_FUNCTIONS}

    def __call__(self, e) -> str:  # noqa: C901 - one case per node type
        if e is sp.true or e == sp.true:
            return "True"
        if e is sp.false or e == sp.false:
            return "False"
        if isinstance(e, sp.Symbol):
            if e not in self.names:
                raise CertificationError(f"symbol {e} has no value in the certified evaluation")
            return self.names[e]
        if e.is_Integer:
            return f"_Z({int(e)})"
        if e.is_Rational:
            return f"_Q({int(e.p)}, {int(e.q)})"
        if e.is_Float:
            r = sp.Rational(e)
            return f"_Q({int(r.p)}, {int(r.q)})"
        if e is sp.pi:
            return "_F.pi()"
        if e is sp.E:
            return "_F.e()"
        if e is sp.EulerGamma:
            return "_F.euler()"
        if e.is_Number or e.is_NumberSymbol or e in (sp.I, sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise CertificationError(f"no real ball for the constant {e}")
        if isinstance(e, sp.Add):
            return "(" + " + ".join(self(a) for a in e.args) + ")"
        if isinstance(e, sp.Mul):
            return "(" + " * ".join(self(a) for a in e.args) + ")"
        if isinstance(e, sp.Pow):
            base, ex = e.args
            if ex.is_Integer:
                return f"({self(base)})**({int(ex)})"
            if ex == sp.Rational(1, 2):
                return f"_F.sqrt({self(base)}, _an)"
            if ex == -sp.Rational(1, 2):
                return f"(1/_F.sqrt({self(base)}, _an))"
            if base is sp.E:
                return f"_F.exp({self(ex)}, _an)"
            return f"_F.pow({self(base)}, {self(ex)}, _an)"
        if isinstance(e, sp.Piecewise):
            if self.complex_mode:
                raise CertificationError(f"Piecewise in an integrand has no certified analytic extension: {e}")
            pairs = ", ".join(f"((lambda: {self(c)}), (lambda: {self(v)}))" for v, c in e.args)
            return f"_F.piecewise({pairs})"
        if type(e) in _RELATIONS:
            if self.complex_mode:
                raise CertificationError(f"comparison in an integrand has no certified analytic extension: {e}")
            return f"_F.rel({_RELATIONS[type(e)]!r}, {self(e.lhs)}, {self(e.rhs)})"
        if isinstance(e, sp.And):
            return "_F.and_(" + ", ".join(self(a) for a in e.args) + ")"
        if isinstance(e, sp.Or):
            return "_F.or_(" + ", ".join(self(a) for a in e.args) + ")"
        if isinstance(e, sp.Not):
            return f"_F.not_({self(e.args[0])})"
        if isinstance(e, sp.Function):
            name = type(e).__name__
            if name in self.special:
                fn = self.special[name]
                if fn.arb is None:
                    raise CertificationError(f"{name} has no rigorous ball implementation: certified mode cannot "
                                             f"bound {e}")
                used = e.args[: fn.nargs]
                printed = []
                for i, arg in enumerate(used):
                    if i in fn.int_args:
                        if not arg.is_Integer:
                            raise CertificationError(f"{name}: argument {i} must be an integer, got {arg}")
                        printed.append(str(int(arg)))
                    else:
                        printed.append(self(arg))
                return f"_S[{name!r}]({', '.join(printed)}, analytic=_an)"
            if name in _ELEMENTARY:
                return f"_F.{name}({', '.join(self(a) for a in e.args)}, _an)"
        raise CertificationError(f"{type(e).__name__} has no rigorous ball implementation: certified mode cannot "
                                 f"bound {e}")


@functools.lru_cache(maxsize=512)
def _compiled(args: tuple, expr: sp.Expr, complex_mode: bool) -> Callable:
    names = {sym: f"_x{i}" for i, sym in enumerate(args)}
    with exact_integer_literals():  # integers of any length (2**(2**13)) in the generated source
        body = _Printer(names, complex_mode)(expr)
        params = ", ".join([*names.values(), "_an=False"])
        source = f"def _f({params}):\n    return {body}\n"
        namespace = {"_Z": lambda n: arb(fmpz(n)), "_Q": lambda p, q: arb(fmpq(p, q)), "_F": ArbNamespace,
                     "_S": {fn.sympy: fn.arb for fn in SPECIAL_FUNCTIONS if fn.arb is not None}}
        exec(compile(source, "<memtheory.compile.arb>", "exec"), namespace)  # generated from a SymPy tree
    func = namespace["_f"]
    func.source = source
    return func


def arb_function(args: Sequence[sp.Symbol], expr, complex_mode: bool = False) -> Callable:
    """Ball-arithmetic callable of ``expr``.

    Parameters
    ----------
    args : sequence of sympy.Symbol
        The positional arguments, in order.
    expr : sympy.Expr or sympy.Boolean
        The expression; a condition (relations, ``And``, ``Or``) gives a three-valued function
        (``True``/``False``/``None`` = undecided on the balls).
    complex_mode : bool, default False
        Compile for complex balls (an integrand of :func:`flint.acb.integral`): ``Piecewise`` and comparisons
        are refused. The function takes the keyword ``_an`` (the integration flag).

    Returns
    -------
    callable
        ``f(*balls, _an=False)``; its ``source`` attribute is the generated code.

    Raises
    ------
    CertificationError
        If the expression uses a function or constant with no rigorous ball implementation.

    Examples
    --------
    >>> import sympy as sp
    >>> from flint import arb
    >>> x = sp.Symbol("x")
    >>> f = arb_function([x], sp.erfc(x) + sp.Rational(1, 3))
    >>> f(arb(0)).overlaps(arb(4) / 3), f(arb(0)).rad() < 1e-15
    (True, True)
    """
    return _compiled(tuple(args), sp.sympify(expr), bool(complex_mode))
