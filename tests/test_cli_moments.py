"""Laplace moments above k = 20 (they were refused): quadrature of t^k rho(t) e^{-st}, checked at 60 digits against
exact moments and an independent mpmath quadrature at 80 digits, k = 25 and 40, through the CLI and the API; the
float64 path rounds the 30-digit value once and its error estimate bounds the error."""

from __future__ import annotations

import json

import mpmath as mp
import pytest

import memtheory as mt
from cli_run import run


def _exact(target: str, k: int, s):
    """Independent references at 80 digits: closed forms of the moments, or a quadrature split on a fixed grid."""
    with mp.workdps(80):
        s = mp.mpf(s)
        if target == "exp(-t)":
            return mp.factorial(k) / (1 + s) ** (k + 1)
        if target.startswith("Piecewise"):  # int_0^2 t^k e^{-(1+s)t} dt, a lower incomplete gamma
            return mp.gammainc(k + 1, 0, 2 * (1 + s)) / (1 + s) ** (k + 1)
        f = {"(1+t)**(-1.5)": lambda t: (1 + t) ** mp.mpf(-1.5),
             "exp(-(t-3)**2/2)": lambda t: mp.exp(-(t - 3) ** 2 / 2)}[target]
        return mp.quad(lambda t: t**k * f(t) * mp.exp(-s * t), mp.linspace(0, 400, 81) + [mp.inf])


@pytest.mark.parametrize("k", [25, 40])
@pytest.mark.parametrize("target", ["exp(-t)", "(1+t)**(-1.5)", "exp(-(t-3)**2/2)",
                                    "Piecewise((exp(-t), t < 2), (0, True))"])
def test_high_moments_at_60_digits(target, k, capsys):
    rc, out, err = run(["laplace", "--target", target, "--s", "1,2.5", "--moment", str(k), "--dps", "60", "--json"],
                       capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["method"] == "quadrature"
    for s, value, error in zip(("1", "2.5"), doc["values"], doc["errors"]):
        assert len(value.split("e")[0].replace(".", "").replace("-", "").lstrip("0")) == 60  # every digit printed
        ref = _exact(target, k, s)
        with mp.workdps(80):
            assert abs(mp.mpf(value) - ref) <= mp.mpf(error) + mp.mpf(10) ** -59 * abs(ref), (s, value, ref)
            assert abs(mp.mpf(value) - ref) <= mp.mpf(10) ** -58 * abs(ref)


@pytest.mark.parametrize("target", ["exp(-t)", "Piecewise((exp(-t), t < 2), (0, True))"])
def test_the_highest_moment(target, capsys):
    """k = 100 (the limit), against its exact value: the peak of t^100 e^{-2t} lies at t = 50."""
    test_high_moments_at_60_digits(target, 100, capsys)


def test_high_moment_in_float64_is_bounded_by_its_error():
    rho = mt.Kernel("(1+t)**(-1.5)")
    res = rho.laplace([1.0, 2.5], moment=25, full_output=True)
    for s, v, e in zip(("1", "2.5"), res.values, res.errors):
        ref = _exact("(1+t)**(-1.5)", 25, s)
        with mp.workdps(80):
            assert abs(mp.mpf(float(v)) - ref) <= e
        assert e <= 1e-15 * abs(float(ref))


def test_moment_limits_and_the_domain_of_the_transform(capsys):
    rc, out, err = run(["laplace", "--target", "exp(-t)", "--s", "1", "--moment", "101"], capsys)
    assert rc == 2 and "tested up to k = 100" in err
    rc, out, err = run(["laplace", "--target", "exp(t)", "--s", "0.5", "--moment", "25"], capsys)
    assert rc == 2 and "diverges" in err  # e^t has a transform only for s > 1, whatever the moment
