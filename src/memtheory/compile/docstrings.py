"""Shared numpydoc fragments of the compile layer.

The functions of one family document the same arguments in the same words: the real argument of the compiled
special functions, the integrand and the tolerances of the two quadratures, the argument of the mpmath
implementations. Each such fragment is written once and put into the docstrings that name it with a line
``{name}`` by :func:`fill_doc`, so that the help text of every function is complete and the fragments cannot
drift apart.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["fill_doc"]

_F = TypeVar("_F", bound=Callable)


def fill_doc(**fragments: str) -> Callable[[_F], _F]:
    """Decorator replacing each docstring line ``{name}`` by the fragment ``name``, indented like that line.

    Apply it below ``@numba.njit`` so that the dispatcher copies the completed docstring.

    Parameters
    ----------
    **fragments : str
        Numpydoc text by placeholder name; leading and trailing blank lines and the common indentation of a
        fragment are removed before it is inserted.

    Returns
    -------
    callable
        A decorator that completes ``func.__doc__`` in place and returns ``func``.

    Raises
    ------
    KeyError
        If the docstring has a placeholder line with no fragment of that name.
    ValueError
        If a fragment is not used by the docstring.
    """

    def decorate(func: _F) -> _F:
        if func.__doc__ is None:  # docstrings stripped (python -OO)
            return func
        used = set()
        lines = []
        for line in func.__doc__.split("\n"):
            stripped = line.strip()
            if not (stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1].isidentifier()):
                lines.append(line)
                continue
            name = stripped[1:-1]
            indent = line[: len(line) - len(line.lstrip())]
            body = textwrap.dedent(fragments[name]).strip("\n")
            lines += [indent + text if text else "" for text in body.split("\n")]
            used.add(name)
        unused = set(fragments) - used
        if unused:
            raise ValueError(f"{func.__qualname__}: docstring fragments not used: {sorted(unused)}")
        func.__doc__ = "\n".join(lines)
        return func

    return decorate
