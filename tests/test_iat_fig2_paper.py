"""iat_fig2_paper ([IAT] Fig. 2 with the Appendix D recipe): the quick run, its criterion re-read from its numbers,
the recipe's settings, and its ingredients against direct computations (the sampled sup norm as a plain maximum,
the LF data at dt = 0.1 as a direct sum, the stopping rule)."""

from __future__ import annotations

import numpy as np
import pytest

from memtheory import Kernel
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.theory.stability import perturbation_error
from memtheory.training import lf_dataset, train
from progress_probe import largest_stall, recorded
from proofs_checks import iat_fig2_paper as F


@pytest.fixture(scope="module")
def recorded_quick():
    return recorded(F.run, quick=True)


@pytest.fixture(scope="module")
def quick(recorded_quick):
    return recorded_quick[0]


def test_progress_moves_epoch_by_epoch(recorded_quick):
    # two widths of 40 epochs, then their perturbations: the bar moves in steps of at most 1/80 (plus the
    # share of a width's perturbation, 5%), not from 0 to 1 at the end
    fractions = recorded_quick[1]
    assert fractions == sorted(fractions) and len(fractions) > 80
    assert largest_stall(fractions) < 0.06


def test_quick_run_passes_and_states_the_papers_settings(quick):
    assert quick.passed, quick.details
    s = quick.measured["settings"]
    assert s["lr"] == 0.005 and s["batch_size"] == 128 and s["stop_loss"] == 1e-8 and s["repeats"] == 3
    assert s["dt"] == 0.1 and "T = 32" in s["train_times"] and "T = 100" in s["eval_times"]
    assert F.settings(False, True) == {"widths": [8, 16, 32, 64], "n_train": 12800, "n_test": 12800, "epochs": 1000}
    np.testing.assert_array_equal(F.BETAS, np.concatenate([[0.0], [1e-11 * 2**k for k in range(36)]]))
    assert "not asserted" in quick.details or quick.measured["verdict"] == "unstable"


def test_criterion_re_read_from_the_measured_numbers(quick):
    m = quick.measured
    e0 = [r["E0"] for r in m["rows"]]
    ok = (min(r["margin"] for r in m["rows"]) > 0 and max(e0) < m["trivial_error"] * F.APPROX_FRACTION
          and m["rows"][-1]["val_loss"] <= m["rows"][0]["val_loss"])
    assert ok == quick.passed
    assert not any(k.startswith("[paper]") for k in m["checks"])  # the paper's part is asserted in the full run only


def test_sampled_sup_norm_is_the_plain_maximum():
    rho = Kernel("(t + 1)**(-3/2)")
    test = lf_dataset(rho, 16, F.T_EVAL, F.DT, seed=3, convention="reference")
    model = NonlinearRNN.random(1, 4, activation="tanh", structure="full", dt=F.DT, seed=2)
    res = perturbation_error(model, (test.x, test.y), [0.0], repeats=1, definition="paper", norm="sup")
    direct = np.max(np.abs(model.forward(test.x) - test.y))
    assert abs(res.errors[0] - direct) <= 1e-12 * direct


def test_lf_data_at_dt_0_1_is_the_direct_sum():
    rho = Kernel("(t + 1)**(-3/2)")
    d = lf_dataset(rho, 3, F.T_TRAIN, F.DT, seed=0, convention="reference")
    x = d.x[:, :, 0]
    k = np.arange(F.T_TRAIN)
    kern = (1 + F.DT * k) ** -1.5
    direct = np.array([[sum(kern[s] * x[n, j - s] for s in range(j + 1)) for j in k] for n in range(3)])
    np.testing.assert_allclose(d.y, direct, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(x)) < 1  # the inputs satisfy |x|_inf <= 1 as drawn (x = dt N(0, 1))


def test_stopping_rule_stops_training():
    rho = Kernel("(t + 1)**(-3/2)")
    d = lf_dataset(rho, 64, F.T_TRAIN, F.DT, seed=0, convention="reference")
    model = NonlinearRNN.random(1, 4, activation="tanh", structure="full", dt=F.DT, seed=1)
    res = train(model, d, epochs=50, batch_size=32, lr=0.005, progress=False,
                callback=F._stop_at(d.x, d.y, 1e9))
    assert res.epochs == 1
    res = train(model, d, epochs=3, batch_size=32, lr=0.005, progress=False, callback=F._stop_at(d.x, d.y, 0.0))
    assert res.epochs == 3
