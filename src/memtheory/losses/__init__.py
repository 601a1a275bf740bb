"""Losses: the exact L2 kernel loss (closed form, three backends)."""

from __future__ import annotations

from .l2 import LossResult, l2_loss

__all__ = ["LossResult", "l2_loss"]
