"""matplotlib for the figures the package writes to files: one place that chooses the backend.

The command line (``--plot FILE``) and the proofs checks write figures and need no window: :func:`pyplot`
selects the non-interactive Agg backend *unless* ``matplotlib.pyplot`` is already imported, i.e. unless the
user (a notebook, a script with its own backend) has chosen one, which is then kept. The ``plot()`` methods of
the library's results import ``matplotlib.pyplot`` themselves and leave the backend to matplotlib and the user.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, with the Agg backend if no backend was chosen before."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str, dpi: int = 120) -> None:
    """Lay out ``fig``, write it to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
