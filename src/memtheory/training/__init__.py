"""Linear-functional datasets, the Adam optimiser and a BPTT training loop for nonlinear RNNs."""

from __future__ import annotations

from .loop import Adam, LFDataset, TrainResult, lf_dataset, reference_time_weights, train

__all__ = ["Adam", "LFDataset", "TrainResult", "lf_dataset", "reference_time_weights", "train"]
