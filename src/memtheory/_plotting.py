"""matplotlib for the figures the package writes to files: one place that chooses the backend.

The command line (``--plot FILE``) and the proofs checks write figures and need no window: :func:`pyplot`
selects the non-interactive Agg backend *unless* ``matplotlib.pyplot`` is already imported, i.e. unless the
user (a notebook, a script with its own backend) has chosen one, which is then kept. The ``plot()`` methods of
the library's results import ``matplotlib.pyplot`` themselves and leave the backend to matplotlib and the user.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import InvalidArgumentError

__all__ = ["pyplot", "save_figure", "figure_path", "FIGURE_FORMATS"]

#: The extensions matplotlib's Agg canvas writes (a figure path must end in one of them).
FIGURE_FORMATS = ("avif", "eps", "gif", "jpeg", "jpg", "pdf", "pgf", "png", "ps", "raw", "rgba", "svg", "svgz",
                  "tif", "tiff", "webp")


def pyplot() -> Any:
    """``matplotlib.pyplot``, with the Agg backend if no backend was chosen before."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_path(path: Any) -> str:
    """``path`` checked as the file of a figure: not a directory, a known extension, creatable.

    Checked before any computation, so that a long run does not end in a failed write; nothing is left behind
    (a probe file is removed again). matplotlib would silently add ``.png`` to a path without extension (``--plot
    DIR`` wrote ``DIR.png``): such paths are refused.

    Raises
    ------
    InvalidArgumentError
        With the reason: a directory, no or an unknown extension (the message lists the known ones), or the
        file cannot be created (the operating system's reason).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidArgumentError(f"figure path must be a file name, got {path!r}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InvalidArgumentError(f"{path!r} is a directory; give a file name such as "
                                   f"{os.path.join(path, 'figure.png')!r}")
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in FIGURE_FORMATS:
        what = f"the unknown extension {'.' + ext!r}" if ext else "no extension"
        raise InvalidArgumentError(f"{path!r} has {what}; use one of {', '.join('.' + f for f in FIGURE_FORMATS)}")
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {path!r} ({exc.strerror or exc})") from None
    if not existed:
        os.remove(path)
    return path


def save_figure(fig: Any, path: str, dpi: int = 120, **kwargs: Any) -> None:
    """Lay out ``fig``, write it to ``path`` (checked by :func:`figure_path`) and close it.

    Raises
    ------
    InvalidArgumentError
        If ``path`` cannot hold a figure (see :func:`figure_path`) or the write fails.
    """
    try:
        figure_path(path)
        fig.tight_layout()
        try:
            fig.savefig(path, dpi=dpi, **kwargs)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot write {path!r} ({exc.strerror or exc})") from None
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
