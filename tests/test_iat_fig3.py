"""iat_fig3 (students of a random width-256 RNN teacher): the quick run, its criterion re-read from its numbers, and
its ingredients against independent computations (a direct step loop, a perturbation grown from rest)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memtheory.theory.memory import memory_function
from memtheory.training.teachers import RNNTeacher
from progress_probe import largest_stall, recorded
from proofs_checks import iat_fig3


@pytest.fixture(scope="module")
def recorded_quick():
    return recorded(iat_fig3.run, quick=True)


@pytest.fixture(scope="module")
def quick(recorded_quick):
    return recorded_quick[0]


def test_progress_moves_epoch_by_epoch(recorded_quick):
    fractions = recorded_quick[1]  # one student of 40 epochs
    assert fractions == sorted(fractions) and len(fractions) >= 40
    assert largest_stall(fractions) <= 1 / 40 + 1e-12


def test_quick_run_passes_and_states_its_settings(quick):
    assert quick.passed, quick.details
    s = quick.measured["settings"]
    assert s["teacher_width"] == 256 and s["widths"] == [16] and s["levels"] == iat_fig3.LEVELS.tolist()
    assert s["n_train"] == 1280 and s["T"] == 100 and "lru" in s["student"]
    assert "| teacher 0 | 256 |" in quick.measured["table"]


def test_criterion_re_read_from_the_measured_numbers(quick):
    m = quick.measured
    ok = True
    for row in m["teachers"] + m["students"]:
        for kind in ("heaviside", "impulse"):
            r = row[kind]
            pred = r.get("predicted_rate", row.get("predicted_rate"))
            ok &= r["verdict"] == "exponential" and abs(r["rate"] - pred) / pred < 0.15
    for seed in m["settings"]["seeds"]:
        mine = [s for s in m["students"] if s["seed"] == seed]
        ok &= mine[-1]["rel_val_mse"] < 0.10 and max(s["rel_val_mse"] for s in mine) <= 3 * mine[0]["rel_val_mse"]
        ok &= all(mine[-1][k]["match_error"] < 0.35 for k in ("heaviside", "impulse"))
    assert ok == quick.passed
    assert iat_fig3.CRITERION.startswith("passes when") and "15%" in iat_fig3.CRITERION


def _direct_impulse_memory(teacher: RNNTeacher, levels, steps: int) -> np.ndarray:
    """Impulse memory function by a plain loop: from the rest state, one step of input x, then zeros."""
    b = teacher.b_ih + teacher.b_hh
    rest = iat_fig3.teacher_rest_state(teacher, 0.0)
    y_rest = teacher.c @ rest + teacher.c0
    best = np.zeros(steps)
    for x in levels:
        h = rest.copy()
        vals = np.empty(steps)
        for k in range(steps):
            h = np.tanh(teacher.W_hh @ h + teacher.W_ih[:, 0] * (x if k == 0 else 0.0) + b)
            vals[k] = abs(teacher.c @ h + teacher.c0 - y_rest) / abs(x)
        best = np.maximum(best, vals)
    return best


def test_teacher_memory_function_against_a_direct_loop():
    teacher = RNNTeacher.random(1, 256, seed=0)
    t = np.arange(40.0)
    mf = memory_function(teacher.forward, t, "impulse", iat_fig3.LEVELS, dt=1.0)
    direct = _direct_impulse_memory(teacher, iat_fig3.LEVELS, 40)
    scale = direct.max()
    np.testing.assert_allclose(mf.values, direct, rtol=0, atol=1e-12 * scale)


def test_teacher_rate_against_a_perturbation_grown_from_rest():
    # An independent estimate of the linearised rate: a small perturbation of the rest state, iterated with the
    # full nonlinear map and renormalised; its per-step shrink factor tends to the spectral radius.
    teacher = RNNTeacher.random(1, 256, seed=1)
    b = teacher.b_ih + teacher.b_hh
    rest = iat_fig3.teacher_rest_state(teacher, 0.0)
    rng = np.random.default_rng(0)
    d = rng.standard_normal(256)
    d *= 1e-7 / np.linalg.norm(d)
    logs = []
    for _ in range(400):
        new = np.tanh(teacher.W_hh @ (rest + d) + b) - rest
        n = np.linalg.norm(new)
        logs.append(math.log(n / 1e-7))
        d = new * (1e-7 / n)
    # averaged over the last 300 steps (the leading eigenvalues may be a complex pair: average over rotations)
    est = -float(np.mean(logs[100:]))
    assert abs(est - iat_fig3.teacher_rate(teacher, 0.0)) < 0.01 * est


def test_student_rate_is_the_residual_step_spectrum():
    from memtheory.models.nonlinear import NonlinearRNN

    st = NonlinearRNN.random(1, 8, activation="tanh", structure="diagonal", parameterisation="lru", seed=3)
    f = np.exp(-np.exp(st.w))  # the LRU map: 1 - r_i
    assert abs(iat_fig3.student_rate(st) - (-math.log(f.max()))) < 1e-12


def test_block_max():
    t = np.arange(10.0)
    v = np.array([1, 3, 2, 0, 5, 4, 1, 1, 9, 9.0])
    tt, vv = iat_fig3.block_max(t, v, 4)
    assert tt.tolist() == [1.5, 5.5] and vv.tolist() == [3.0, 5.0]
