"""Losses: the exact L2 kernel loss (closed form, three backends, and certified enclosures)."""

from __future__ import annotations

from .l2 import CertifiedLoss, LossResult, certified_l2_loss, l2_loss

__all__ = ["LossResult", "CertifiedLoss", "l2_loss", "certified_l2_loss"]
