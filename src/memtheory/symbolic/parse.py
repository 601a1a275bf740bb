"""Safe parsing of user expressions (kernels, losses) into SymPy.

User strings are never passed to ``eval``. The text is parsed by Python's :mod:`ast` into a syntax tree, every
node is checked against a whitelist, and the SymPy expression is built node by node. Allowed:

* numbers (a decimal literal is the exact :class:`sympy.Rational` its text spells, so ``0.1`` is ``1/10`` and
  ``1.0000000000000000000001`` keeps all its digits);
* the operators ``+ - * / **`` and unary ``+ -``; comparisons and ``&``/``|``/``~`` inside ``Piecewise`` conditions;
* the symbol ``t`` (or whatever variables the caller allows), the parameters the caller names, and the
  constants ``pi`` and ``E``;
* the functions in :data:`FUNCTIONS`.

Anything else -- attribute access, subscripts, lambdas, dunder names, unknown functions or symbols, keyword
arguments -- raises :class:`~memtheory.errors.UnsafeExpressionError` with a one-line message naming the token.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping

import sympy as sp

from ..errors import InvalidArgumentError, UnsafeExpressionError
from ..exact import exact
from .functions import erfcx

__all__ = ["FUNCTIONS", "CONSTANTS", "parse_expression", "symbol"]

#: Whitelisted function names and the SymPy callables they map to.
FUNCTIONS: dict[str, object] = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "erf": sp.erf,
    "erfc": sp.erfc,
    "erfcx": erfcx,
    "gamma": sp.gamma,
    "airyai": sp.airyai,
    "Heaviside": sp.Heaviside,
    "Piecewise": sp.Piecewise,
    "Abs": sp.Abs,
    "abs": sp.Abs,
    "Min": sp.Min,
    "Max": sp.Max,
}

#: Named constants.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_BINOPS = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
    ast.Div: lambda x, y: x / y,
    ast.Pow: lambda x, y: x**y,
    ast.BitAnd: lambda x, y: sp.And(x, y),
    ast.BitOr: lambda x, y: sp.Or(x, y),
}
_CMPOPS = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}
_MAX_LENGTH = 10_000
_MAX_DIGITS = 10_000


def symbol(name: str) -> sp.Symbol:
    """The canonical SymPy symbol for a variable or parameter name (real-valued).

    ``t`` is declared positive (time); every other name, the Laplace variable ``s`` included, is real (so
    that validity conditions such as ``s + lam > 0`` stay conditions instead of simplifying away).
    """
    if name == "t":
        return sp.Symbol(name, positive=True)
    return sp.Symbol(name, real=True)


def parse_expression(
    text: str,
    params: Iterable[str] = (),
    variables: Iterable[str] = ("t",),
) -> sp.Expr:
    """Parse a user expression safely into SymPy.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))"``.
    params : iterable of str
        Parameter names the expression may use (become real symbols).
    variables : iterable of str
        Free variables the expression may use (default ``("t",)``).

    Returns
    -------
    sympy.Expr
        The expression, with floats converted to exact rationals.

    Raises
    ------
    UnsafeExpressionError
        On a syntax error or any token outside the whitelist; the message names the token.

    Examples
    --------
    >>> parse_expression("exp(-0.5*t) + 2", params=()) - 2   # floats become exact rationals
    exp(-t/2)
    """
    if not isinstance(text, str):
        raise UnsafeExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > _MAX_LENGTH:
        raise UnsafeExpressionError(f"expression is longer than {_MAX_LENGTH} characters")
    names = {name: symbol(name) for name in (*variables, *params)}
    for name in names:
        if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS or name in CONSTANTS:
            raise UnsafeExpressionError(f"invalid parameter name {name!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpressionError(f"cannot parse {text!r}: {exc.msg} at column {exc.offset}") from None
    result = _Builder(names, text.strip()).build(tree.body)
    if isinstance(result, tuple) or not isinstance(result, sp.Basic):
        raise UnsafeExpressionError(f"{text!r} is not a scalar expression")
    return result


class _Builder:
    """Walk a checked :mod:`ast` tree and build the SymPy expression."""

    def __init__(self, names: Mapping[str, sp.Symbol], source: str = ""):
        self.names = names
        self.source = source

    def build(self, node: ast.AST):
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise UnsafeExpressionError(f"unsupported syntax {_describe(node)}")
        return method(node)

    def _Constant(self, node: ast.Constant):
        value = node.value
        if value is True:
            return sp.true
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnsafeExpressionError(f"unsupported literal {value!r}")
        if isinstance(value, int):
            return sp.Integer(value)
        # the literal's own text, not the float Python read it as: "0.1" is 1/10, every typed digit counts
        text = ast.get_source_segment(self.source, node) if self.source else None
        try:
            return exact(text if text else repr(value))
        except InvalidArgumentError as exc:
            raise UnsafeExpressionError(str(exc)) from None

    def _Name(self, node: ast.Name):
        name = node.id
        if name in self.names:
            return self.names[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in ("True", "true"):
            return sp.true
        if name in FUNCTIONS:
            raise UnsafeExpressionError(f"function {name!r} used without arguments")
        known = ", ".join(sorted(self.names)) or "none"
        raise UnsafeExpressionError(f"unknown symbol {name!r} (allowed symbols: {known}; pass parameters by name)")

    def _BinOp(self, node: ast.BinOp):
        if isinstance(node.op, ast.BitXor):
            raise UnsafeExpressionError("operator '^' is not allowed: write powers as '**'")
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise UnsafeExpressionError(f"unsupported operator {type(node.op).__name__}")
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow) and getattr(right, "is_number", False) and getattr(left, "is_number", False):
            # Exact powers are evaluated by SymPy: bound the number of digits of the result.
            size = abs(float(right)) * math.log10(max(abs(float(left)), 2.0)) if left.is_finite else math.inf
            if not size <= _MAX_DIGITS:
                raise UnsafeExpressionError(f"numeric power {left}**{right} is too large to evaluate exactly")
        return op(left, right)

    def _UnaryOp(self, node: ast.UnaryOp):
        operand = self.build(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert):
            return sp.Not(operand)
        raise UnsafeExpressionError(f"unsupported unary operator {type(node.op).__name__}")

    def _Compare(self, node: ast.Compare):
        left = self.build(node.left)
        parts = []
        for op, comparator in zip(node.ops, node.comparators):
            rel = _CMPOPS.get(type(op))
            if rel is None:
                raise UnsafeExpressionError(f"unsupported comparison {type(op).__name__}")
            right = self.build(comparator)
            parts.append(rel(left, right))
            left = right
        return sp.And(*parts)

    def _Tuple(self, node: ast.Tuple):
        return tuple(self.build(elt) for elt in node.elts)

    def _Call(self, node: ast.Call):
        if not isinstance(node.func, ast.Name):
            raise UnsafeExpressionError(f"unsupported call target {_describe(node.func)}")
        name = node.func.id
        if name not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise UnsafeExpressionError(f"unknown function {name!r} (allowed: {allowed})")
        if node.keywords:
            raise UnsafeExpressionError(f"keyword arguments are not allowed in {name}()")
        args = [self.build(arg) for arg in node.args]
        if name == "Piecewise":
            if not args or not all(isinstance(a, tuple) and len(a) == 2 for a in args):
                raise UnsafeExpressionError("Piecewise takes (expression, condition) pairs")
            return sp.Piecewise(*args)
        if any(isinstance(a, tuple) for a in args):
            raise UnsafeExpressionError(f"tuple argument to {name}()")
        if name == "gamma" and args and args[0].is_number and abs(float(args[0])) > 1000:
            # SymPy evaluates gamma of an exact integer as a factorial: refuse huge ones.
            raise UnsafeExpressionError(f"gamma({args[0]}) is too large to evaluate exactly")
        try:
            return FUNCTIONS[name](*args)
        except (TypeError, ValueError) as exc:
            raise UnsafeExpressionError(f"bad arguments to {name}(): {exc}") from None


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}'"
    if isinstance(node, ast.Subscript):
        return "subscript '[...]'"
    if isinstance(node, ast.Lambda):
        return "'lambda'"
    return f"{type(node).__name__}"
