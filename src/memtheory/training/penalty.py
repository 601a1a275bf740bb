"""The reference code's stability-margin penalty, ``relu(1 - margin) * 0.01`` added to the training loss.

The reference (github.com/radarFudan/Curse-of-memory, ``src/models/lf_module.py``) adds
``torch.relu(1 - self.net.stability_margin()) * 0.01`` to every minibatch loss, where the margin of its diagonal
and softplus RNNs is the smallest decay rate of the recurrence (``softplus(min w)`` for the softplus model):
positive means stable, and the penalty pushes the slowest rate up towards 1. Here the margin of a
:class:`~memtheory.models.nonlinear.NonlinearRNN` with a diagonal or conjugated structure is
``min_i r_i``, the smallest eigenvalue of ``W_+`` (rates of ``dh/dt = -W_+ h``), with gradient
``dr_i/dw_i`` at the minimising ``i`` (the subgradient torch's ``min`` takes). For the ``"relu"`` map the minimum
runs over the positive raw weights only, as the reference's ``rnn`` / ``diagonalrnn`` take it in training mode
(``weight[weight > 0].min()``): a clamped rate ``relu(w) = 0`` has no gradient, and the penalty pushes the slowest
live rate instead (all rates clamped: the margin is 0, without gradient). A ``"full"`` model has no such
margin: asking for it is an error.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgumentError
from ..models.nonlinear import NonlinearRNN

__all__ = ["REFERENCE_MARGIN_WEIGHT", "margin_penalty", "stability_margin"]

#: The reference code's weight of the penalty.
REFERENCE_MARGIN_WEIGHT = 0.01


def stability_margin(model: NonlinearRNN) -> tuple[float, np.ndarray]:
    """Smallest rate ``min_i r_i`` of a diagonal / conjugated model and its gradient with respect to raw ``w``.

    Parameters
    ----------
    model : NonlinearRNN
        Structure ``"diagonal"`` or ``"conjugated"``.

    Returns
    -------
    margin : float
    grad_w : ndarray (m,)
        ``d margin / d w`` (non-zero at the first minimising index only).

    Raises
    ------
    InvalidArgumentError
        A model that is not a NonlinearRNN, or one with a full recurrent matrix (no margin).

    Examples
    --------
    >>> import memtheory as mt
    >>> from memtheory.training.penalty import stability_margin
    >>> margin, grad = stability_margin(mt.NonlinearRNN.random(1, 3, parameterisation="exp", seed=0))
    >>> bool(margin > 0), grad.shape
    (True, (3,))
    """
    if not isinstance(model, NonlinearRNN):
        raise InvalidArgumentError(f"model: must be a NonlinearRNN, got {type(model).__name__}")
    if model.structure == "full":
        raise InvalidArgumentError("penalty: a model with a full recurrent matrix has no stability margin (it is "
                                   "defined for the 'diagonal' and 'conjugated' structures)")
    r, dr = model.rates()
    candidates = np.arange(r.size)
    if model.parameterisation.name == "relu":
        positive = np.nonzero(model.w > 0)[0]  # the reference's training-mode margin: smallest positive weight
        if positive.size:
            candidates = positive
    i = int(candidates[np.argmin(r[candidates])])
    grad = np.zeros_like(r)
    grad[i] = dr[i]
    return float(r[i]), grad


def margin_penalty(model: NonlinearRNN, weight: float = REFERENCE_MARGIN_WEIGHT) -> tuple[float, np.ndarray]:
    """``weight * relu(1 - margin)`` and its gradient with respect to raw ``w`` (module docstring).

    Parameters
    ----------
    model : NonlinearRNN
        Structure ``"diagonal"`` or ``"conjugated"``.
    weight : float
        Penalty weight (the reference's 0.01).

    Returns
    -------
    value : float
    grad_w : ndarray (m,)
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise InvalidArgumentError(f"weight: must be a finite number >= 0, got {weight!r}")
    margin, grad = stability_margin(model)
    if margin >= 1.0:
        return 0.0, np.zeros_like(grad)
    return float(weight) * (1.0 - margin), -float(weight) * grad
