"""How results show themselves in a REPL and in Jupyter: one screen of text, an HTML table, LaTeX.

Every public result class derives from :class:`Displayable`. Its ``repr`` is a summary -- the headline numbers,
the shapes of arrays, the status -- never the full arrays (``FlowSolution.theta`` has thousands of rows; a
``LossResult`` at ``dps=30`` holds arrays of mpf): at most :data:`MAX_REPR` characters. In Jupyter the same rows
render as an HTML table (``_repr_html_``), and results that are tables (a plateau scan, a width sweep) show that
table. Symbolic objects also define ``_repr_latex_`` (rendered math in a notebook), built with :func:`latex_repr`.

>>> import numpy as np
>>> from memtheory.display import format_value
>>> format_value(np.linspace(0.0, 1.0, 1001))
'array(1001,) [0, 0.001, 0.002, ..., 1]'
"""

from __future__ import annotations

import dataclasses
import html
import numbers
from collections.abc import Sequence

import mpmath as mp
import numpy as np

__all__ = ["Displayable", "format_value", "summary_text", "summary_html", "rows_table", "latex_repr", "MAX_REPR"]

#: Upper bound on the length of any result's ``repr`` (one screen).
MAX_REPR = 2000
#: Longest shown string or expression (characters), and the most array entries shown.
_MAX_STR, _MAX_ITEMS = 72, 4
#: Most table rows shown in text (head and tail are kept).
_MAX_ROWS = 12


def _scalar(v) -> str | None:
    """Short text of a number, or None when ``v`` is not a scalar number."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        s = str(int(v))
        return s if len(s) <= 20 else f"{s[:8]}...({len(s)} digits)"
    if isinstance(v, mp.mpf):
        return mp.nstr(v, 12)
    if isinstance(v, mp.mpc):
        return mp.nstr(v, 10)
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    if isinstance(v, numbers.Number):
        return _clip(str(v))
    return None


def _clip(text: str, limit: int = _MAX_STR) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _array(arr: np.ndarray) -> str:
    shape = "(" + ", ".join(str(n) for n in arr.shape) + ("," if arr.ndim == 1 else "") + ")"
    flat = arr.ravel()
    if flat.size == 0:
        return f"array{shape}"
    if flat.size <= _MAX_ITEMS + 1:
        items = [format_value(x) for x in flat]
    else:
        items = [format_value(x) for x in flat[: _MAX_ITEMS - 1]] + ["...", format_value(flat[-1])]
    return f"array{shape} [{', '.join(items)}]"


def format_value(v) -> str:
    """Short one-line text of a value: numbers to 6 digits (mpf to 12), arrays as shape and a few entries.

    Parameters
    ----------
    v : object
        Any value held by a result.

    Returns
    -------
    str
        At most about 80 characters.
    """
    s = _scalar(v)
    if s is not None:
        return s
    if v is None or isinstance(v, str) and not v:
        return repr(v)
    if isinstance(v, str):
        return _clip(v)
    if isinstance(v, np.ndarray):
        return _array(v)
    if isinstance(v, dict):
        keys = list(v)
        if len(keys) <= 3 and all(_scalar(x) is not None or x is None or isinstance(x, str) for x in v.values()):
            return _clip("{" + ", ".join(f"{k}: {format_value(x)}" for k, x in v.items()) + "}")
        return _clip(f"dict({len(keys)}: " + ", ".join(str(k) for k in keys) + ")")
    if isinstance(v, (list, tuple)):
        if all(_scalar(x) is not None for x in v):
            try:
                return _array(np.asarray(v, dtype=object if any(isinstance(x, (mp.mpf, mp.mpc)) for x in v)
                                         else None))
            except (TypeError, ValueError):
                pass
        short = [format_value(x) for x in v[:8]]
        if len(v) <= 8 and sum(map(len, short)) <= _MAX_STR:
            return "(" + ", ".join(short) + ("," if len(v) == 1 else "") + ")" if isinstance(v, tuple) \
                else "[" + ", ".join(short) + "]"
        kinds = sorted({type(x).__name__ for x in v})
        return f"{type(v).__name__}({len(v)} x {'/'.join(kinds) or '-'})"
    if isinstance(v, Displayable):
        return _clip(v._display_headline())
    return _clip(repr(v) if type(v).__repr__ is not object.__repr__ else f"<{type(v).__name__}>")


def _table_text(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    shown = list(rows)
    if len(shown) > _MAX_ROWS:
        shown = shown[: _MAX_ROWS // 2] + [None] + shown[-(_MAX_ROWS // 2 - 1):]
    cells = [[format_value(c) for c in r] if r is not None else None for r in shown]
    widths = [max([len(h)] + [len(_clip(r[k], 16)) for r in cells if r is not None]) for k, h in enumerate(header)]
    lines = ["  " + "  ".join(h.rjust(n) for h, n in zip(header, widths))]
    for r in cells:
        if r is None:
            lines.append(f"  ... ({len(rows) - _MAX_ROWS + 1} rows not shown)")
        else:
            lines.append("  " + "  ".join(_clip(c, 16).rjust(n) for c, n in zip(r, widths)))
    return lines


def summary_text(obj: Displayable) -> str:
    """The ``repr`` of a :class:`Displayable`: ``Name(field=value, ...)``, one field a line when long."""
    name = type(obj).__name__
    rows = [(k, format_value(v)) for k, v in obj._display_rows()]
    one = f"{name}(" + ", ".join(f"{k}={v}" for k, v in rows) + ")"
    table = obj._display_table()
    if len(one) <= 100 and table is None:
        return one
    lines = [f"{name}("] + [f"  {k}={v}," for k, v in rows]
    if table is not None:
        header, trows = table
        lines += [f"  table ({len(trows)} rows):"] + _table_text(header, trows)
    lines.append(")")
    text = "\n".join(lines)
    if len(text) > MAX_REPR:  # wide tables: drop lines from the end, say so
        keep = text[: MAX_REPR - 40].rsplit("\n", 1)[0]
        text = keep + "\n  ... (truncated)\n)"
    return text


def summary_html(obj: Displayable) -> str:
    """The ``_repr_html_`` of a :class:`Displayable`: a two-column table of the fields, then its table if any."""
    esc = html.escape
    out = [f'<table class="memtheory-summary"><caption>{esc(type(obj).__name__)}</caption>']
    for k, v in obj._display_rows():
        out.append(f"<tr><th style=\"text-align:left\">{esc(k)}</th><td style=\"text-align:left\">"
                   f"<code>{esc(format_value(v))}</code></td></tr>")
    out.append("</table>")
    table = obj._display_table()
    if table is not None:
        header, trows = table
        out.append('<table class="memtheory-table"><thead><tr>'
                   + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for r in trows[:200]:
            out.append("<tr>" + "".join(f"<td>{esc(format_value(c))}</td>" for c in r) + "</tr>")
        if len(trows) > 200:
            out.append(f"<tr><td colspan=\"{len(header)}\">... {len(trows) - 200} more rows</td></tr>")
        out.append("</tbody></table>")
    return "\n".join(out)


def rows_table(rows: Sequence[dict]) -> tuple[list[str], list[list]] | None:
    """``(header, rows)`` of a sequence of dicts (the header is the union of their keys, in first-seen order)."""
    if not rows:
        return None
    header: list[str] = []
    for r in rows:
        header += [k for k in r if k not in header]
    return header, [[r.get(k) for k in header] for r in rows]


def latex_repr(body: str) -> str:
    """Wrap LaTeX for Jupyter's ``_repr_latex_``: display math; several lines (``\\\\``) as an aligned block."""
    body = body.strip()
    if "\\\\" in body and "\\begin{aligned}" not in body:
        body = "\\begin{aligned}" + body + "\\end{aligned}"
    return f"$\\displaystyle {body}$"


class Displayable:
    """Mixin giving a result its short ``repr`` and HTML table (see the module docstring).

    A subclass lists the fields of its summary in ``_display_fields`` (default: every dataclass field shown by
    ``repr``), or overrides :meth:`_display_rows`; a result that is a table overrides :meth:`_display_table`.
    Dataclasses deriving from it are declared with ``repr=False`` so that this ``__repr__`` is kept.
    """

    _display_fields: tuple | None = None

    def _display_rows(self) -> list[tuple[str, object]]:
        """``(name, value)`` pairs of the summary."""
        names = self._display_fields
        if names is None:
            names = [f.name for f in dataclasses.fields(self) if f.repr and not f.name.startswith("_")] \
                if dataclasses.is_dataclass(self) else []
        return [(n, getattr(self, n)) for n in names]

    def _display_table(self) -> tuple[list[str], list[list]] | None:
        """``(header, rows)`` when the result is a table, else None."""
        return None

    def _display_headline(self) -> str:
        """One line naming the object (used when it appears inside another summary)."""
        rows = self._display_rows()[:3]
        return f"{type(self).__name__}(" + ", ".join(f"{k}={format_value(v)}" for k, v in rows) + ", ...)"

    def __repr__(self) -> str:
        return summary_text(self)

    def _repr_html_(self) -> str:
        return summary_html(self)
