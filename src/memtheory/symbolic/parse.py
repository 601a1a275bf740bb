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
arguments, a condition where a number is expected (``t < 1`` as a kernel, ``exp(-t) & (t < 1)``) or a number
where a condition is expected (``~exp(-t)``) -- raises :class:`~memtheory.errors.UnsafeExpressionError` with a
one-line message naming the token.

Size limits keep parsing fast and free of Python's recursion limit: at most :data:`MAX_LENGTH` characters and
:data:`MAX_DEPTH` levels of nesting (parentheses, calls, powers). Chains of ``+ - * /`` and of unary signs are
built iteratively, so ``1 + t + t**2 + ...`` with thousands of terms parses in one SymPy ``Add``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping

import sympy as sp

from ..errors import InvalidArgumentError, UnsafeExpressionError
from ..exact import exact
from .functions import erfcx

__all__ = ["FUNCTIONS", "CONSTANTS", "MAX_LENGTH", "MAX_DEPTH", "parse_expression", "symbol"]

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
#: Longest expression accepted (characters).
MAX_LENGTH = 10_000
#: Deepest nesting accepted (parentheses, function calls, powers; chains of + - * / and unary signs are flat).
MAX_DEPTH = 100
_MAX_DIGITS = 10_000
_CHAIN_OPS = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}


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
    if len(text) > MAX_LENGTH:
        raise UnsafeExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    names = {name: symbol(name) for name in (*variables, *params)}
    for name in names:
        if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS or name in CONSTANTS:
            raise UnsafeExpressionError(f"invalid parameter name {name!r}")
    source = _SIGN_RUN.sub(_collapse_signs, text.strip())
    try:
        tree = _parse_tree(source)
    except SyntaxError as exc:
        if "too many nested parentheses" in str(exc.msg):
            raise UnsafeExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} "
                                        "levels)") from None
        raise UnsafeExpressionError(f"cannot parse {_short(text)}: {exc.msg} at column {exc.offset}") from None
    except (RecursionError, MemoryError):
        raise UnsafeExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)") from None
    try:
        result = _Builder(names, source).build(tree.body)
    except RecursionError:  # SymPy's own recursion on a huge (but shallow) expression
        raise UnsafeExpressionError(f"expression {_short(text)} is too large to build") from None
    if isinstance(result, tuple) or not isinstance(result, sp.Basic):
        raise UnsafeExpressionError(f"{_short(text)} is not a scalar expression")
    if _is_condition(result):
        raise UnsafeExpressionError(f"{_short(text)} is a condition, not a number; for a step write "
                                    "Heaviside(t - a) or Piecewise((value, condition), (0, True))")
    return result


def _parse_tree(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")`` for any text within :data:`MAX_LENGTH` characters.

    Python's parser reads ``t*1*1*...`` as a left-nested tree with one level per operator, and converting it into
    Python objects counts each level against the interpreter's recursion limit (1,000 by default: about 2,900
    operators fail). A text of ``n`` characters has at most ``n/2`` binary operators, so the limit is raised to
    cover that depth while parsing; deep *nesting* (parentheses, powers) is refused by :class:`_Builder` at
    :data:`MAX_DEPTH` levels, and the tree walk is iterative along chains.
    """
    import sys

    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(previous + len(source) // 2 + 100)  # each binary operator takes two characters or more
    try:
        return ast.parse(source, mode="eval")
    finally:
        sys.setrecursionlimit(previous)


#: Runs of two or more signs (``--t``, ``1 - -2``): Python reads them as nested unary operators, which its parser
#: cannot nest beyond a few thousand; a run means the same as one sign (``-`` for an odd number of minus signs).
_SIGN_RUN = re.compile(r"(?<![0-9.][eE])[+-](?:\s*[+-])+")  # not after a number's exponent: 1e--5 stays invalid


def _collapse_signs(match: re.Match) -> str:
    return "-" if match.group(0).count("-") % 2 else "+"


def _short(text: str, limit: int = 60) -> str:
    """``repr`` of a user text, cut to ``limit`` characters (messages stay one short line)."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _is_condition(x) -> bool:
    """Whether ``x`` is a truth value (a relation, ``And``/``Or``/``Not``, ``True``) rather than a number."""
    return isinstance(x, sp.logic.boolalg.Boolean) and not isinstance(x, sp.Expr)  # a Symbol is both


class _Builder:
    """Walk a checked :mod:`ast` tree and build the SymPy expression."""

    def __init__(self, names: Mapping[str, sp.Symbol], source: str = ""):
        self.names = names
        self.source = source
        self.depth = 0

    def build(self, node: ast.AST):
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise UnsafeExpressionError(f"unsupported syntax {_describe(node)}")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise UnsafeExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
            return method(node)
        finally:
            self.depth -= 1

    def number(self, node: ast.AST, where: str):
        """Build ``node``, which must be a number-valued expression (not a condition)."""
        value = self.build(node)
        if _is_condition(value):
            raise UnsafeExpressionError(f"a condition ({value}) cannot be used as a number in {where}")
        if isinstance(value, tuple):
            raise UnsafeExpressionError(f"a tuple cannot be used as a number in {where}")
        return value

    def condition(self, node: ast.AST, where: str):
        """Build ``node``, which must be a condition (a relation, ``&``, ``|``, ``~``, ``True``)."""
        value = self.build(node)
        if not _is_condition(value):
            raise UnsafeExpressionError(f"{where} takes conditions such as 't < 1', got {value}")
        return value

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
        if type(node.op) in _CHAIN_OPS:
            return self._chain(node)
        if isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            where = "'&'" if isinstance(node.op, ast.BitAnd) else "'|'"
            return op(self.condition(node.left, where), self.condition(node.right, where))
        left, right = self.number(node.left, "'**'"), self.number(node.right, "'**'")
        if getattr(right, "is_number", False) and getattr(left, "is_number", False):
            # Exact powers are evaluated by SymPy: bound the number of digits of the result.
            size = abs(float(right)) * math.log10(max(abs(float(left)), 2.0)) if left.is_finite else math.inf
            if not size <= _MAX_DIGITS:
                raise UnsafeExpressionError(f"numeric power {left}**{right} is too large to evaluate exactly")
        return op(left, right)

    def _chain(self, node: ast.BinOp):
        """A left-nested chain of ``+ -`` (or ``* /``), built iteratively into one ``Add`` (``Mul``)."""
        kind = _CHAIN_OPS[type(node.op)]
        ops = []
        while isinstance(node, ast.BinOp) and _CHAIN_OPS.get(type(node.op)) == kind:
            ops.append((node.op, node.right))
            node = node.left
        self.depth += 1  # the chain counts as one level of nesting
        try:
            where = "a sum" if kind == "sum" else "a product"
            terms = [self.number(node, where)]
            for op, right in reversed(ops):
                value = self.number(right, where)
                if isinstance(op, ast.Sub):
                    value = -value
                elif isinstance(op, ast.Div):
                    value = 1 / value if value != 0 else sp.zoo
                terms.append(value)
        finally:
            self.depth -= 1
        return sp.Add(*terms) if kind == "sum" else sp.Mul(*terms)

    def _UnaryOp(self, node: ast.UnaryOp):
        sign = 1
        while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign = -sign if isinstance(node.op, ast.USub) else sign
            node = node.operand
        if not isinstance(node, ast.UnaryOp):
            operand = self.number(node, "a sign")
            return -operand if sign < 0 else operand
        if isinstance(node.op, ast.Invert):
            operand = sp.Not(self.condition(node.operand, "'~'"))
            if sign < 0:
                raise UnsafeExpressionError(f"a condition ({operand}) cannot be used as a number in a sign")
            return operand
        raise UnsafeExpressionError(f"unsupported unary operator {type(node.op).__name__}")

    def _Compare(self, node: ast.Compare):
        left = self.number(node.left, "a comparison")
        parts = []
        for op, comparator in zip(node.ops, node.comparators):
            rel = _CMPOPS.get(type(op))
            if rel is None:
                raise UnsafeExpressionError(f"unsupported comparison {type(op).__name__}")
            right = self.number(comparator, "a comparison")
            try:
                parts.append(rel(left, right))
            except TypeError as exc:  # SymPy refuses to order complex numbers
                raise UnsafeExpressionError(f"cannot compare {left} and {right}: {exc}") from None
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
        if name == "Piecewise":
            pairs = []
            for arg in node.args:
                if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                    raise UnsafeExpressionError("Piecewise takes (expression, condition) pairs")
                pairs.append((self.number(arg.elts[0], "a Piecewise value"),
                              self.condition(arg.elts[1], "a Piecewise condition")))
            if not pairs:
                raise UnsafeExpressionError("Piecewise takes (expression, condition) pairs")
            try:
                return sp.Piecewise(*pairs)
            except (TypeError, ValueError) as exc:
                raise UnsafeExpressionError(f"bad Piecewise: {exc}") from None
        args = [self.number(arg, f"{name}()") for arg in node.args]
        if name in ("Min", "Max") and not args:
            raise UnsafeExpressionError(f"{name}() needs at least one argument")
        if any(a.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for a in args):  # gamma(1/0): no finite value
            raise UnsafeExpressionError(f"{name}() of a value that is not finite")
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
