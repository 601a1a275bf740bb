"""Every command that takes ``--dps`` prints all the requested digits, in text and in JSON (decimal strings, one
type per field), checked against independent mpmath values."""

from __future__ import annotations

import json
import re

import mpmath as mp
import pytest

from cli_run import run
from memtheory.cli.main import build_parser

DPS = 40


def _digits(text: str) -> int:
    """Significant digits of a decimal string."""
    mantissa = text.split("e")[0].lstrip("-+").replace(".", "")
    return len(mantissa.lstrip("0"))


def _commands_with_dps() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name for name, p in sub.choices.items() if any("--dps" in a.option_strings for a in p._actions)}


def test_every_command_with_dps_is_covered():
    assert _commands_with_dps() == {"loss", "laplace", "approx"}  # a new one must join the cases below


def test_loss_digits(capsys):
    argv = ["loss", "--target", "exp(-t/3)", "--a", "1", "--w", "1", "--dps", str(DPS)]
    rc, out, err = run(argv + ["--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    with mp.workdps(DPS + 10):  # J = 1/2 - 2/(1 + 1/3) + 3/2 = 1/2; dJ/dw = -1/2 + 2 L[t e^{-t/3}](1) = -1/2 + 9/8
        assert [doc["loss"], doc["grad_w"][0]] == [mp.nstr(mp.mpf(1) / 2, DPS, strip_zeros=False),
                                                    mp.nstr(mp.mpf(5) / 8, DPS, strip_zeros=False)]
    assert isinstance(doc["loss_error"], str)
    rc, text, err = run(argv, capsys)
    assert rc == 0 and doc["loss"] in text and doc["grad_w"][0] in text


def test_laplace_digits(capsys):
    argv = ["laplace", "--target", "exp(-t)", "--s", "1/3", "--moment", "1", "--dps", str(DPS)]
    rc, out, err = run(argv + ["--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    with mp.workdps(DPS + 10):  # L[t e^{-t}](1/3) = 1/(4/3)^2 = 9/16
        assert doc["values"] == [mp.nstr(mp.mpf(9) / 16, DPS, strip_zeros=False)]
    assert all(isinstance(e, str) for e in doc["errors"])
    rc, text, err = run(argv, capsys)
    assert rc == 0 and doc["values"][0] in text


def test_approx_best_digits(capsys):
    argv = ["approx", "best", "--target", "exp(-t) + exp(-3*t)", "--m", "1", "--dps", str(DPS)]
    rc, out, err = run(argv + ["--json"], capsys)
    assert rc == 0, err
    row = json.loads(out)["rows"][0]
    for name in ("loss", "l2_error", "relative_l2_error", "margin"):
        assert _digits(row[name]) == DPS, (name, row[name])
    with mp.workdps(DPS + 20):  # the loss of (a, w) from its closed form (an independent computation)
        a, w = mp.mpf(row["a"][0]), mp.mpf(row["w"][0])
        J = a**2 / (2 * w) - 2 * a * (1 / (w + 1) + 1 / (w + 3)) + (mp.mpf(1) / 2 + mp.mpf(2) / 4 + mp.mpf(1) / 6)
        assert abs(mp.mpf(row["loss"]) - J) <= mp.mpf(10) ** (2 - DPS) * J
    rc, text, err = run(argv, capsys)
    assert rc == 0 and row["loss"] in text and row["l2_error"] in text


def test_approx_jackson_certified_digits(capsys):
    rc, out, err = run(["approx", "jackson", "--target", "(1+t)*exp(-2*t)", "--alpha", "1", "--beta", "1",
                        "--certified", "--dps", str(DPS), "--json"], capsys)
    assert rc == 0, err
    lo, hi = json.loads(out)["bound"]["certified"]["gamma"]
    # gamma = sup_t e^{t} |d/dt ((1+t) e^{-2t})| = e^{-1/2} * 2 at t = 1/2 (the k = 2 term), enclosed at DPS digits
    with mp.workdps(DPS + 10):
        gamma = 2 * mp.exp(mp.mpf(-1) / 2)
        assert mp.mpf(lo) <= gamma <= mp.mpf(hi)
        # the branch and bound resolves gamma to about 30 digits at --dps 40; the endpoints print every digit
        # that separates them
        width = mp.mpf(hi) - mp.mpf(lo)
        assert width <= mp.mpf(10) ** -25
        assert min(_digits(lo), _digits(hi)) >= int(-mp.log10(width / gamma)) + 1
