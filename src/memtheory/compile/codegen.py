"""SymPy -> numba / mpmath / numpy: the compile layer of "one formula, three backends".

A closed form is written once as a SymPy expression. This module turns it into

* **numba**: Python source is generated from the expression by :class:`NumbaPrinter`, written to a file in the
  cache directory (named by a hash of the source) and imported; its functions are ``@njit(cache=True)``, so a
  second process reuses the machine code. Parameters stay *arguments* (a float64 array ``p``), so a sweep over
  a parameter compiles once; modules are cached per expression structure.
* **mpmath**: :func:`mpmath_function`, a ``lambdify`` with the special functions of
  :mod:`memtheory.symbolic.functions` mapped to arbitrary-precision implementations.
* **numpy**: :func:`numpy_function`, vectorised float64 evaluation for plotting and quick checks.

How each backend evaluates a special function (``erfcx``, ``gauss_moment``, ``airyai``, ...) is one entry of
:mod:`memtheory.compile.registry`; the printer's methods and the two lambdify namespaces are derived from it.

The cache directory is ``$MEMTHEORY_CACHE_DIR`` or ``$XDG_CACHE_HOME/memtheory`` (``~/.cache/memtheory``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from .._cachedirs import cache_root
from ..errors import PrecisionError
from .registry import SPECIAL_FUNCTIONS, SpecialFunction, mpmath_namespace, numpy_namespace

__all__ = [
    "NumbaPrinter",
    "numba_source",
    "import_source",
    "load_module",
    "loaded_module",
    "module_name",
    "cache_dir",
    "cached_source",
    "package_stamp",
    "exact_integer_literals",
    "mpmath_function",
    "numpy_function",
    "print_numba",
]

_MODULES: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """The directory holding generated modules (and, next to them, numba's cache).

    Under :func:`memtheory._cachedirs.cache_root`, which falls back to a temporary directory (one warning) when
    the configured one cannot be written.
    """
    path = cache_root() / "generated"
    path.mkdir(parents=True, exist_ok=True)
    return path


class NumbaPrinter(PythonCodePrinter):
    """Print scalar SymPy expressions as numba-compilable Python (``math`` functions, compiled specials).

    The ``_print_<name>`` methods of the special functions are added below, one per entry of
    :data:`memtheory.compile.registry.SPECIAL_FUNCTIONS`.
    """

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, "inline": True, **(settings or {})})

    def _print_Rational(self, expr):
        return _float_literal(expr)

    def _print_Integer(self, expr):
        return _float_literal(expr)

    def _print_Float(self, expr):
        return _float_literal(expr)

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp.is_Integer and abs(exp) <= 8:
            b = self.parenthesize(base, 1000)
            e = int(exp)
            body = "*".join([b] * abs(e))
            return f"({body})" if e > 0 else f"(1.0/({body}))"
        if exp == sp.Rational(1, 2):
            return f"math.sqrt({self._print(base)})"
        if exp == -sp.Rational(1, 2):
            return f"(1.0/math.sqrt({self._print(base)}))"
        return f"({self.parenthesize(base, 1000)}**{self.parenthesize(exp, 1000)})"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_fabs(self, expr):
        """:class:`memtheory.compile.rounding.fabs`, the unevaluated absolute value of the error estimates."""
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"


def _float_literal(expr) -> str:
    """The float64 literal of an exact number; a number beyond float64 range cannot be compiled.

    (It used to print ``inf``, which is no Python name: numba failed with "name 'inf' is not defined".)
    """
    try:
        value = float(expr)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise PrecisionError(f"the constant {sp.sstr(expr.evalf(6))} is beyond float64 range (about 1e308): pass "
                             "dps (e.g. dps=30; mpmath's exponent range is unbounded) to evaluate in mpmath")
    return repr(value)


def _print_special(fn: SpecialFunction):
    """The ``_print_<name>`` method of :class:`NumbaPrinter` for one registry entry."""

    def method(self, expr):
        used = expr.args[: fn.nargs]
        return fn.numba_call([str(int(arg)) if i in fn.int_args else self._print(arg) for i, arg in enumerate(used)])

    method.__name__ = f"_print_{fn.sympy}"
    method.__doc__ = f"``{fn.sympy}(...)`` -> ``{fn.numba}(...)`` (:mod:`memtheory.compile.registry`)."
    return method


for _fn in SPECIAL_FUNCTIONS:
    setattr(NumbaPrinter, f"_print_{_fn.sympy}", _print_special(_fn))
del _fn


_HEADER = '''"""Generated by memtheory.compile.codegen. Do not edit: regenerated from SymPy expressions."""
import math
import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _heaviside(x, h0):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return 0.0
    return h0

'''


def numba_source(body: str) -> str:
    """Full module source: the standard header (imports, helpers) followed by ``body``."""
    imports = "import memtheory.compile.special as _sp\n" if "_sp." in body else ""
    return _HEADER.replace("from numba import njit\n", "from numba import njit\n" + imports) + body


def module_name(source: str, tag: str = "gen") -> str:
    """The module name of a generated ``source``: ``memtheory_<tag>_<hash of the source>``."""
    return f"memtheory_{tag}_{hashlib.sha256(source.encode()).hexdigest()[:20]}"


def loaded_module(name: str) -> ModuleType | None:
    """The generated module ``name`` if this process has loaded it (:func:`load_module`), else None."""
    return _MODULES.get(name)


def load_module(body: str, tag: str = "gen") -> ModuleType:
    """Write ``numba_source(body)`` to the cache directory (once) and import it.

    The file name is a hash of the source, so identical expression structures share one module and numba's
    on-disk cache (``cache=True``) stays valid between processes.
    """
    source = numba_source(body)
    return import_source(source, module_name(source, tag))


def import_source(source: str, name: str) -> ModuleType:
    """Write a generated module's ``source`` to the cache directory as ``<name>.py`` (once) and import it.

    Python keeps its bytecode next to it, so a later process does not compile the source again; a module is
    imported once per process.
    """
    if name in _MODULES:
        return _MODULES[name]
    directory = cache_dir()
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _MODULES[name] = module
    return module


@functools.cache
def package_stamp() -> str:
    """SHA-256 (first 20 hex digits) of every source file of the memtheory package and of SymPy's version.

    The key of the generated sources cached by :func:`cached_source`: any edit of the package (of the formulas,
    the printers, the registry) gives new keys, so a cached source is never stale.
    """
    digest = hashlib.sha256(f"sympy {sp.__version__}\0".encode())
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cached_source(tag: str, generate: Callable[[], str]) -> str:
    """A generated source, read from the cache directory when a process of the same code has generated it.

    Generating some sources takes seconds of SymPy (the loss assembly simplifies every element derivative);
    the text is a function of the package's code and SymPy's version only, so it is stored once per
    :func:`package_stamp` as ``<tag>-<stamp>.src`` next to the generated modules and read back by later
    processes (and by the workers of a sweep). An unreadable or unwritable file is regenerated, never fatal.

    Parameters
    ----------
    tag : str
        Names the source (one file per tag and stamp).
    generate : callable
        ``generate()`` returns the source text.
    """
    header = f"# memtheory generated source {tag} {package_stamp()}\n"
    path = cache_dir() / f"{tag}-{package_stamp()}.src"
    try:
        text = path.read_text()
        if text.startswith(header):
            return text[len(header):]
    except (OSError, UnicodeDecodeError):
        pass
    source = generate()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(header + source)
        os.replace(tmp, path)
    except OSError:
        pass
    return source


def print_numba(expr: sp.Expr, printer: NumbaPrinter | None = None) -> str:
    """Numba source text of one scalar expression."""
    return (printer or NumbaPrinter()).doprint(expr)


# --------------------------------------------------------------------------------------------- mpmath / numpy
_MP_NAMESPACE = mpmath_namespace()
_NP_NAMESPACE = numpy_namespace()


@contextlib.contextmanager
def exact_integer_literals():
    """Let generated source spell integers of any length (``2**(2**13)`` squared has 4933 digits).

    Python refuses to convert integers of more than 4300 digits to and from decimal text (a guard against slow
    parsing of untrusted input); the source printed here is the library's own, from expressions whose size the
    parser already bounds, so the guard is lifted while it is printed and compiled, and restored after."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def mpmath_function(args: Sequence[sp.Symbol], expr):
    """Arbitrary-precision callable of ``expr`` (evaluate inside ``mpmath.workdps(...)``)."""
    with exact_integer_literals():
        return sp.lambdify(args, expr, modules=[_MP_NAMESPACE, "mpmath"])


def numpy_function(args: Sequence[sp.Symbol], expr):
    """Vectorised float64 callable of ``expr`` (numpy + scipy.special)."""
    with exact_integer_literals():
        return sp.lambdify(args, expr, modules=[_NP_NAMESPACE, "scipy", "numpy"])
