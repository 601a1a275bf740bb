"""proofs_checks.paper_values: the values read off the paper's plots and the comparison of curves with them,
against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memtheory.theory.stability import PerturbationResult
from proofs_checks.paper_values import (PAPER, TOP, comparison_rows, comparison_table, curve_value, ratio_summary,
                                        ratios_at)


def _result(betas, errors):
    b, e = np.asarray(betas, float), np.asarray(errors, float)
    return PerturbationResult(b, e, e[:, None], np.zeros(b.size), "reference", "mse", 1, 1.0, 8, {})


def test_curve_value_is_the_grid_value_or_the_log_log_interpolation():
    betas, errs = [0.0, 1e-3, 1e-1, 10.0], [0.5, 1.0, 100.0, np.inf]
    assert curve_value(betas, errs, 0.0) == 0.5
    assert curve_value(betas, errs, 1e-3) == 1.0
    # halfway in log beta between 1e-3 and 1e-1: the geometric mean of 1 and 100
    assert curve_value(betas, errs, 1e-2) == pytest.approx(10.0, rel=1e-12)
    # a power law E = beta^2 on the grid is reproduced exactly between its points
    g = np.geomspace(1e-4, 1.0, 9)
    assert curve_value(g, g**2, 3e-3) == pytest.approx(9e-6, rel=1e-12)
    assert curve_value(betas, errs, 1.0) is None  # the upper neighbour is not finite
    assert curve_value(betas, errs, 1e-4) is None  # below the smallest positive radius
    assert curve_value(betas, errs, 20.0) is None  # beyond the grid


def test_rows_ratios_and_the_plot_top():
    res = {8: _result([0.0, 1e-3, 1e-1, 1.0], [0.2, 0.4, 40.0, 1e9])}
    plotted = {0.0: {8: 0.1, 16: 1.0}, 1e-2: {8: 2.0}, 1.0: {8: 1e6}}
    rows = comparison_rows(res, plotted, top=1e7)
    assert [(r["m"], r["beta"]) for r in rows] == [(8, 0.0), (8, 1e-2), (8, 1.0)]  # no curve of width 16
    assert rows[0]["ratio"] == pytest.approx(2.0)
    assert rows[1]["ours"] == pytest.approx(4.0) and rows[1]["ratio"] == pytest.approx(2.0)
    assert rows[2].get("clipped") is True  # 1e6 is in the plot's top decade and ours is above it
    summary = ratio_summary(rows)
    assert summary["n"] == 2 and summary["within_factor_3"] == 2 and summary["geometric_mean"] == pytest.approx(2.0)
    assert ratios_at(rows) == [2.0]
    assert "above the plot" in comparison_table({"s": rows})
    assert ratio_summary([]) == {"n": 0}


def test_the_stored_panels_are_the_papers_shapes():
    for name, panel in PAPER.items():
        widths = {tuple(sorted(row)) for row in panel.values()}
        assert len(widths) == 1, name  # one set of widths per panel
        for row in panel.values():
            assert all(v > 0 and math.isfinite(v) for v in row.values()), name
    assert PAPER["7b"][0.0] == {8: 0.5, 16: 0.05, 32: 0.005, 64: 0.002}  # the values the issue quotes
    assert set(TOP) == {"7a", "7b", "8a", "8b"}
    # every curve the paper plots grows with the radius, as a running maximum does
    for name, panel in PAPER.items():
        ticks = sorted(panel)
        for m in panel[ticks[0]]:
            vals = [panel[b][m] for b in ticks]
            assert vals == sorted(vals), (name, m)
