"""Training a series of (width, seed) points through the sweep engine (memtheory.training.series).

References: the direct loop -- :func:`memtheory.training.train` called here on the same untrained models with
the same shuffling seeds and thread count -- and the serial series; the parallel series must equal both bit for
bit. Resume is read from the store's own rows (SQLite).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from memtheory import Kernel
from memtheory.errors import InvalidArgumentError
from memtheory.training import lf_dataset, train
from memtheory.training.series import train_series

import sweep_points

POINTS = [(2, 0), (3, 0), (2, 1)]
OPTIONS = {"epochs": 3, "batch_size": 8, "lr": 1e-2, "keep_best": True}


def _data():
    rho = Kernel("exp(-t/4)")
    return (lf_dataset(rho, 24, 40, 1.0, seed=0, convention="reference"),
            lf_dataset(rho, 8, 40, 1.0, seed=1, convention="reference"))


def _params(model) -> list[np.ndarray]:
    return [np.asarray(p).copy() for p in (model.U, model.b, model.c, model.recurrent_matrix())]


def test_parallel_training_series_equals_the_serial_one_and_the_direct_loop(tmp_path):
    data, val = _data()
    direct = []
    for m, seed in POINTS:
        model = sweep_points.small_tanh_rnn(m, seed)
        fit = train(model, data, seed=1000 * seed + m, progress=False, val_data=val, n_threads=1, **OPTIONS)
        direct.append((model, fit))
    serial = train_series(sweep_points.small_tanh_rnn, data, POINTS, val_data=val, backend="serial", **OPTIONS)
    store = tmp_path / "train.sqlite"
    par = train_series(sweep_points.small_tanh_rnn, data, POINTS, val_data=val, workers=2, store=store, **OPTIONS)
    assert [(p.width, p.seed) for p in par] == POINTS
    for (model, fit), s, p in zip(direct, serial, par):
        assert fit.loss_history.tolist() == s.fit.loss_history.tolist() == p.fit.loss_history.tolist()
        assert fit.best_epoch == s.fit.best_epoch == p.fit.best_epoch
        for a, b, c in zip(_params(model), _params(s.model), _params(p.model)):
            assert np.array_equal(a, b) and np.array_equal(a, c)
    # resume: a rerun with the store trains nothing (the rows and their finishing times are unchanged)
    with sqlite3.connect(store) as db:
        before = db.execute("SELECT key, finished FROM points ORDER BY key").fetchall()
    again = train_series(sweep_points.small_tanh_rnn, data, POINTS, val_data=val, workers=2, store=store, **OPTIONS)
    with sqlite3.connect(store) as db:
        after = db.execute("SELECT key, finished FROM points ORDER BY key").fetchall()
    assert len(before) == 3 and after == before
    assert [a.fit.loss_history.tolist() for a in again] == [p.fit.loss_history.tolist() for p in par]


def test_bad_training_series_input():
    data, _ = _data()
    with pytest.raises(InvalidArgumentError, match="seed"):
        train_series(sweep_points.small_tanh_rnn, data, POINTS, seed=3, backend="serial")
    with pytest.raises(InvalidArgumentError, match="width, seed"):
        train_series(sweep_points.small_tanh_rnn, data, [(2, 0, 1)], backend="serial")
    with pytest.raises(InvalidArgumentError, match="at least one"):
        train_series(sweep_points.small_tanh_rnn, data, [], backend="serial")
    with pytest.raises(InvalidArgumentError):
        train_series(sweep_points.small_tanh_rnn, data, [(0, 0)], backend="serial")
