"""Figures say what they show: slopes in the units of their axis, every marker in the legend."""

from __future__ import annotations

import math

import matplotlib
import numpy as np

import memtheory as mt
from memtheory.theory.plateau import hitting
from memtheory.theory.stability import PerturbationResult

matplotlib.use("Agg")

SPIKE = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"


def test_plateau_plot_slope_is_in_the_axis_units():
    scan = hitting.scan(mt.Kernel(SPIKE, omega=0.25), [1, 0], [0.5, 2], 0.05, [4, 5, 6])
    fig = scan.plot()
    ax = fig.axes[0]
    assert ax.get_ylabel() == r"$\log_{10}\tau$"
    label = next(t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("fit"))
    # independent: the least-squares slope of the plotted log10 tau_0 against 1/omega
    x = np.array([4.0, 5.0, 6.0])
    y = np.array([r.log10_tau0 for r in scan.rows])
    slope = np.polyfit(x, y, 1)[0]
    assert f"slope {slope:.4f}" in label and "decades" in label
    assert f"{slope * math.log(10):.3f}" in label  # the ln-slope, named as such


def test_perturbation_plot_legend_names_the_unstable_markers():
    def result(m, errors):
        return PerturbationResult(np.array([0.0, 0.1, 0.2]), np.array(errors), np.zeros((3, 1)), np.zeros(3), "paper",
                                  "mse", 1, 1.0, m)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    result(2, [0.01, 0.1, np.inf]).plot(ax)
    result(3, [0.01, np.inf, np.inf]).plot(ax)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["m = 2", "unstable: $E = \\infty$ (drawn at the top)", "m = 3"]
    plt.close(fig)
