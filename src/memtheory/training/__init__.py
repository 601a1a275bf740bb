"""Training nonlinear RNNs on linear-functional tasks: datasets, the Adam optimiser and a BPTT training loop.

* :mod:`~memtheory.training.datasets`: the LF task of [IAT] and its reference code (white-noise inputs, targets
  a causal convolution with a memory kernel ``rho``; conventions ``"reference"`` and ``"quadrature"``) and the
  reference code's time weights;
* :mod:`~memtheory.training.optim`: Adam (optionally AdamW), gradient-norm clipping, step-size schedules;
* :mod:`~memtheory.training.schedules`: the reference code's ``ReduceLROnPlateau`` and ``EarlyStopping``;
* :mod:`~memtheory.training.penalty`: its stability-margin penalty; :mod:`~memtheory.training.teachers`: its
  random-RNN-teacher ("Filter") data;
* :mod:`~memtheory.training.loop`: :func:`train`, minibatch Adam on the mean (time-weighted) squared error with
  gradients from :meth:`memtheory.models.nonlinear.NonlinearRNN.loss_and_grad` (numba BPTT, parallel over the
  batch).

References
----------
[IAT] S. Wang, Z. Li, Q. Li. Inverse Approximation Theory for Nonlinear Recurrent Neural Networks.
ICLR 2024 (arXiv 2305.19190).
"""

from __future__ import annotations

from .datasets import LFDataset, lf_dataset, reference_time_weights
from .loop import TrainResult, train
from .optim import Adam
from .schedules import EarlyStopping, ReduceLROnPlateau

__all__ = ["Adam", "EarlyStopping", "LFDataset", "ReduceLROnPlateau", "TrainResult", "lf_dataset",
           "reference_time_weights", "train"]
