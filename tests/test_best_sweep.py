"""Best exponential sums at the requested digits and through the sweep engine.

* ``approx best --dps N --json`` printed loss, l2_error and w as float64: now decimal strings of N digits, checked
  against an independent mpmath quadrature of ``||sum_i a_i e^{-w_i t} - rho||^2`` at the printed coefficients;
  the text table shows the same digits.
* ``approx best`` over several widths runs through :func:`memtheory.sweep.run` (``--workers``, ``--store``) with
  the same results as in one process (each width walks the continuation from width 1 in its worker).
"""

from __future__ import annotations

import json

import mpmath as mp
import pytest

import memtheory as mt
from cli_run import run

TARGET = "(1+t)**(-1.5)"


def _quadrature_loss(a, w, dps: int = 50):
    """``int_0^inf (sum_i a_i e^{-w_i t} - (1 + t)^{-3/2})^2 dt`` by mpmath quadrature."""
    with mp.workdps(dps):
        a = [mp.mpf(x) for x in a]
        w = [mp.mpf(x) for x in w]

        def f(t):
            return (mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(a, w)) - (1 + t) ** mp.mpf(-1.5)) ** 2

        return mp.quad(f, [0, 0.25, 1, 4, 16, 64, 256, mp.inf])


def test_best_json_at_dps_prints_every_digit_and_matches_quadrature(capsys):
    dps = 30
    rc, out, err = run(["approx", "best", "--target", TARGET, "--m", "2,3", "--dps", str(dps), "--json"], capsys)
    assert rc == 0, err
    rows = json.loads(out)["rows"]
    for row in rows:
        for name in ("loss", "l2_error", "relative_l2_error", "margin"):
            assert isinstance(row[name], str)
            assert len(row[name].split("e")[0].replace(".", "").replace("-", "").lstrip("0")) == dps, row[name]
        assert all(isinstance(x, str) for x in row["a"] + row["w"])
        assert float(row["w"][0]) == mp.mpf(row["w"][0])  # the rates are binary floats, printed exactly
        ref = _quadrature_loss(row["a"], row["w"])
        with mp.workdps(50):
            loss = mp.mpf(row["loss"])
            # the coefficients printed at 30 digits move the loss (at its optimum) by far less than 1e-28 of it
            assert abs(loss - ref) <= mp.mpf(10) ** -26 * ref, (row["m"], loss, ref)
            assert abs(mp.mpf(row["l2_error"]) - mp.sqrt(ref)) <= mp.mpf(10) ** -26 * mp.sqrt(ref)
    # the text table shows the same digits
    rc, text, err = run(["approx", "best", "--target", TARGET, "--m", "2,3", "--dps", str(dps)], capsys)
    assert rc == 0, err
    for row in rows:
        assert row["loss"] in text and row["l2_error"] in text


def test_best_without_dps_stays_float64_numbers(capsys):
    rc, out, err = run(["approx", "best", "--target", TARGET, "--m", "2", "--json"], capsys)
    assert rc == 0, err
    row = json.loads(out)["rows"][0]
    assert isinstance(row["loss"], float) and isinstance(row["w"][0], float)
    assert row["loss"] == pytest.approx(float(_quadrature_loss(row["a_exact"], row["w"], 30)), rel=1e-12)


def test_best_sums_through_the_sweep_engine_equal_one_process(tmp_path):
    """Two worker processes (each width continued from width 1 in its worker) and a store: identical results."""
    rho = mt.Kernel("(1+t)**(-2)")
    serial = mt.approximation.best_exponential_sums(rho, [3, 1, 2])
    store = tmp_path / "best.sqlite"
    par = mt.approximation.best_exponential_sums(rho, [3, 1, 2], backend="processes", workers=2, store=store)
    assert [f.to_dict() for f in par] == [f.to_dict() for f in serial]
    assert [f.m for f in par] == [3, 1, 2]
    import sqlite3

    with sqlite3.connect(store) as db:  # one row per width, written as it finished
        assert db.execute("SELECT count(*) FROM points").fetchone()[0] == 3
    again = mt.approximation.best_exponential_sums(rho, [1, 2, 3], backend="serial", store=store)
    assert [f.to_dict() for f in again] == [f.to_dict() for f in (serial[1], serial[2], serial[0])]


def test_best_cli_workers_and_store(tmp_path, capsys):
    argv = ["approx", "best", "--target", "(1+t)**(-2)", "--m", "1,2", "--json"]
    rc, out_serial, err = run(argv, capsys)
    assert rc == 0, err
    store = str(tmp_path / "s.sqlite")
    for _ in range(2):  # the second run reads both widths from the store
        rc, out_store, err = run(argv + ["--store", store], capsys)
        assert rc == 0, err
        assert json.loads(out_store) == json.loads(out_serial)
    rc, out, err = run(["approx", "width", "--target", "(1+t)**(-2)", "--eps", "1e-2", "--workers", "2"], capsys)
    assert rc == 2 and "apply to approx best" in err
    rc, out, err = run(argv + ["--workers", "0"], capsys)
    assert rc == 2 and "--workers must be >= 1" in err
