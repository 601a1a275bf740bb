"""Tests of memtheory.theory.stability: perturbation errors (paper and reference definitions) and the summary [IAT]."""

from __future__ import annotations

import math

import numpy as np
import pytest

import memtheory as mt
from memtheory.errors import InvalidArgumentError
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.theory.stability import (
    PerturbationResult,
    perturbation_error,
    reference_betas,
    stability_summary,
)
from memtheory.training import lf_dataset, reference_time_weights

RHO = mt.Kernel("exp(-t) + exp(-3*t)/2")
MODEL = mt.DiagonalRNN([0.8, 0.3], [1.2, 2.5])


def test_unperturbed_error_is_the_exact_loss():
    res = perturbation_error(MODEL, RHO, [0.0, 0.1], repeats=3)
    assert res.norm == "l2" and res.definition == "paper"
    assert res.errors[0] == pytest.approx(float(mt.l2_loss(MODEL, RHO).loss), rel=1e-14)
    assert res.trivial_error == pytest.approx(float(RHO.square_integral()), rel=1e-14)
    assert res.samples.shape == (2, 4)  # 3 random draws + the eigenvalue shift
    assert res.errors[1] == pytest.approx(np.max(res.samples[1]), rel=0)


def test_exact_matches_sampling():
    """The exact J of every perturbed diagonal model equals the test-set MSE (quadrature convention, white noise).

    Same seeds -> the same perturbed models in both runs. Sampling error: 1200 sequences, late-time window of 500
    steps (correlation time ~100 steps) -> about 2% standard error; the Riemann sum (dt = 0.01) adds < 1%.
    """
    dt, T, burn = 0.01, 2000, 1500
    betas = [0.0, 0.05, 0.3]
    exact = perturbation_error(MODEL, RHO, betas, repeats=3, seed=5)
    tw = np.zeros(T)
    tw[burn:] = T / (T - burn)  # the loss averages over all T: weights select the stationary window
    data = lf_dataset(RHO, 1200, T, dt, seed=3, convention="quadrature")
    sampled = perturbation_error(MODEL, data, betas, repeats=3, seed=5, norm="mse", dt=dt, convention="quadrature",
                                 time_weights=tw)
    assert sampled.norm == "mse"
    mask = ~np.isnan(exact.samples)
    rel = np.abs(sampled.samples[mask] - exact.samples[mask]) / exact.samples[mask]
    assert np.all(rel < 0.08), rel
    assert abs(np.mean(sampled.samples[mask] / exact.samples[mask]) - 1) < 0.04


def test_shift_reaches_instability_at_the_smallest_rate():
    res = perturbation_error(MODEL, RHO, [0.0, 1.0, 1.19, 1.21, 2.0], repeats=2)
    assert np.all(np.isfinite(res.errors[:3]))
    assert np.all(np.isinf(res.errors[3:]))  # w - beta <= 0 for beta >= 1.2
    assert res.unstable_fraction[3] > 0
    no_shift = perturbation_error(MODEL, RHO, [1.21], repeats=2, include_shift=False, seed=0)
    assert no_shift.samples.shape == (1, 2)


def test_reference_definition_running_max_and_repeats():
    bs = reference_betas()
    assert bs[0] == 0 and bs.size == 22 and bs[1] == pytest.approx(1e-3) and bs[-1] == pytest.approx(1e-3 * 2**10)
    res = perturbation_error(MODEL, RHO, [0.0, 1e-6, 1e-3, 1e-2, 0.1], repeats=4, definition="reference")
    assert np.all(np.diff(res.errors) >= 0)  # running maximum over smaller beta
    drawn = (~np.isnan(res.samples)).sum(axis=1)
    assert drawn.tolist() == [1, 1, 4, 4, 4]  # one repeat at or below 1e-5, as the reference code
    # running max over smaller beta: E(beta) >= every draw at beta' <= beta
    for j in range(res.betas.size):
        assert res.errors[j] >= np.nanmax(res.samples[: j + 1])


def test_full_structure_and_linear_rnn():
    full = perturbation_error(MODEL, RHO, [0.0, 0.05], repeats=3, structure="full")
    diag = perturbation_error(MODEL, RHO, [0.0], repeats=3)
    assert full.details["structure"] == "full"
    assert full.errors[0] == pytest.approx(diag.errors[0], rel=1e-9)
    lin = mt.LinearRNN(-np.diag([1.0, 2.0]), [[1.0], [0.5]], [0.7, 0.2])
    res = perturbation_error(lin, RHO, [0.0, 0.01], repeats=2)
    assert res.errors[0] == pytest.approx(float(mt.l2_loss(lin, RHO).loss), rel=1e-12)


def test_reparameterised_perturbations_stay_stable():
    bs = [0.0, 0.5, 2.0, 5.0]
    direct = perturbation_error(MODEL, RHO, bs, repeats=3, tensors=["W"])
    for par in ("exp", "softplus", mt.models.reparam.get_parameterisation("best", a=1.0, b=0.1)):
        res = perturbation_error(MODEL, RHO, bs, repeats=3, parameterisation=par, tensors=["W"])
        assert res.errors[0] == pytest.approx(direct.errors[0], rel=1e-9)  # the inverse map round-trips
        assert np.all(np.isfinite(res.errors))
    assert np.isinf(direct.errors[-1])


def test_tensors_selection():
    only_c = perturbation_error(MODEL, RHO, [0.0, 0.1], repeats=3, tensors=["c"])
    assert only_c.details["tensors"] == ["c"] and not only_c.details["include_shift"]
    with pytest.raises(InvalidArgumentError, match="tensors"):
        perturbation_error(MODEL, RHO, [0.1], tensors=["b"])


def test_nonlinear_models_both_definitions():
    model = NonlinearRNN.random(1, 6, activation="tanh", structure="conjugated", parameterisation="relu", seed=1)
    data = lf_dataset(mt.kernels.power_law(1.5), 64, 50, 1.0, seed=2)
    ref = perturbation_error(model, data, [0.0, 1e-3, 1e-2], repeats=2, definition="reference")
    assert ref.norm == "twe_mse"
    assert ref.errors[0] == pytest.approx(model.loss(data.x, data.y, reference_time_weights(50)), rel=1e-12)
    assert ref.details["parameterisation"] == "direct"  # relu rates perturbed freely (reference eval mode)
    pap = perturbation_error(model, data, [0.0, 1e-2], repeats=2, definition="paper")
    assert pap.norm == "mse" and pap.details["structure"] == "full"
    assert pap.errors[0] == pytest.approx(model.loss(data.x, data.y), rel=1e-10)
    assert pap.samples.shape == (2, 3)
    # a kernel target builds its own test set
    gen = perturbation_error(model, mt.kernels.power_law(1.5), [0.0], n_test=16, T=20)
    assert gen.details["n_test"] == 16 and gen.details["T"] == 20


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match="beta"):
        perturbation_error(MODEL, RHO, [0.1, -0.01])
    with pytest.raises(InvalidArgumentError, match="betas"):
        perturbation_error(MODEL, RHO, [math.nan])
    with pytest.raises(InvalidArgumentError, match="definition"):
        perturbation_error(MODEL, RHO, [0.1], definition="torch")
    with pytest.raises(InvalidArgumentError, match="norm"):
        perturbation_error(MODEL, RHO, [0.1], norm="l7")
    with pytest.raises(InvalidArgumentError, match="repeats"):
        perturbation_error(MODEL, RHO, [0.1], repeats=0)
    with pytest.raises(InvalidArgumentError, match="model"):
        perturbation_error("rnn", RHO, [0.1])
    with pytest.raises(InvalidArgumentError, match="l2"):
        perturbation_error(NonlinearRNN.random(1, 3, seed=0), RHO, [0.1], norm="l2")
    with pytest.raises(InvalidArgumentError, match="test_data"):
        perturbation_error(MODEL, (np.zeros((4, 10, 2)), np.zeros((4, 10))), [0.1], norm="mse")
    with pytest.raises(mt.NotHurwitzError):
        perturbation_error(mt.LinearRNN([[0.5]], [[1.0]], [1.0]), RHO, [0.1])
    with pytest.raises(InvalidArgumentError, match="discrete"):
        perturbation_error(MODEL, RHO, [0.1], parameterisation="lru")


def _curve(betas, errors, m, trivial=1.0):
    errors = np.asarray(errors, dtype=float)
    return PerturbationResult(np.asarray(betas, float), errors, errors[:, None], np.zeros(len(betas)), "paper", "l2",
                              1, trivial, m)


def test_stable_radius_and_summary_verdicts():
    bs = [0.0, 0.01, 0.1, 1.0]
    r = _curve(bs, [0.1, 0.2, 2.0, math.inf], 2)
    assert r.stable_radius() == 0.01 and not r.radius_is_lower_bound()
    assert _curve(bs, [0.1, 0.1, 0.1, 0.1], 2).radius_is_lower_bound()
    assert _curve(bs, [5.0, 5.0, 5.0, 5.0], 2).stable_radius() == 0.0
    # unstable family: better at 0, radii shrink, crossings move left
    bs = np.concatenate([[0.0], np.geomspace(1e-4, 1, 9)])
    fam = {}
    for m, (e0, rad) in {2: (1e-2, 0.3), 4: (1e-3, 0.03), 8: (1e-4, 3e-3), 16: (1e-5, 3e-4)}.items():
        fam[m] = _curve(bs, [e0 + b**2 if b < rad else math.inf for b in bs], m)
    s = stability_summary(fam)
    assert s.verdict == "unstable" and s.radii_shrink and s.crossings_move_left and s.approximation_improves
    # stable family: common radius, ordered curves
    fam2 = {m: _curve(bs, [10.0 ** -m + b**2 if b < 0.5 else math.inf for b in bs], m) for m in (1, 2, 3)}
    s2 = stability_summary(fam2)
    assert s2.verdict == "stable" and s2.common_radius == pytest.approx(bs[bs < 0.5][-1])
    assert s2.to_dict()["verdict"] == "stable"
    with pytest.raises(InvalidArgumentError):
        stability_summary({2: fam[2]})
    with pytest.raises(InvalidArgumentError, match="betas"):
        stability_summary({2: fam[2], 3: _curve([0.0, 1.0], [0.0, 0.0], 3)})
