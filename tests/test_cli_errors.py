"""Bad input reaches no user as a traceback: every sub-command over a table of hostile inputs gives a one-line
error (exit 2 for bad input, 1 for a numerical failure), and inputs with a correct value give it (checked against
an independent mpmath quadrature). Also the shared JSON encoder (valid JSON for non-finite values, decimal strings
at the requested precision) and the figure-path check."""

from __future__ import annotations

import json

import mpmath as mp
import pytest

from cli_run import run
from memtheory.cli import main
from memtheory.cli.common import dumps, number

SPIKE = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"

#: (argv, exit code, a word the one-line message must contain)
BAD_INPUTS = [
    (["loss", "--target", "t < 1", "--a", "1", "--w", "1"], 2, "condition"),
    (["loss", "--target", "True", "--a", "1", "--w", "1"], 2, "condition"),
    (["loss", "--target", "exp(-t) & (t<1)", "--a", "1", "--w", "1"], 2, "conditions"),
    (["loss", "--target", "~exp(-t)", "--a", "1", "--w", "1"], 2, "conditions"),
    (["laplace", "--target", "1 < t < 2", "--s", "1"], 2, "condition"),
    (["laplace", "--target", "1/(t-1)", "--s", "1"], 2, "not finite at t = 1"),           # a pole inside (0, inf)
    (["laplace", "--target", "1/(t-1)", "--s", "1", "--dps", "30"], 2, "not finite at t = 1"),
    (["laplace", "--target", "Max()", "--s", "1"], 2, "Max"),
    (["laplace", "--target", "t" + "**1" * 3000, "--s", "1"], 2, "nested too deeply"),  # powers nest
    (["laplace", "--target", "exp(-s*t)", "--param", "s=2", "--s", "1"], 2, "reserved"),
    (["loss", "--target", "exp(-t**2/(2*sigma**2))", "--param", "sigma=0", "--a", "1", "--w", "1"], 2, "sigma=0"),
    (["laplace", "--target", "Piecewise((1, t < a), (0, True))", "--param", "a=1", "--s", "1"], 2, "Heaviside"),
    (["laplace", "--target", "Piecewise((1, t < 1))", "--s", "1"], 2, "undefined"),
    (["loss", "--target", "exp(-t)", "--a", "1", "--w", "1", "--plot", "/proc/x.png"], 2, "cannot write"),
    (["loss", "--target", "exp(-t)", "--a", "1", "--w", "1", "--plot", "out.nosuchext"], 2, "extension"),
    (["approx", "best", "--target", "exp(-t)", "--m", "1", "--plot", "/proc/x.png"], 2, "cannot write"),
    (["perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--plot", "/proc/x.png"], 2, "cannot write"),
    (["reparam", "--w", "1", "--plot", "/proc/x.png"], 2, "cannot write"),
    (["memory", "--target", "exp(-t)", "--t", "1", "--plot", "/proc/x.png"], 2, "cannot write"),
    (["plateau", "--target", SPIKE, "--a0", "1,0", "--w0", "0.5,2", "--delta", "0.05", "--inv-omega", "4",
      "--plot", "/proc/x.png"], 2, "cannot write"),
    (["plateau", "--target", SPIKE, "--a0", "1,0", "--w0", "0.5,2", "--delta", "0.05", "--inv-omega", "4,4,4"],
     2, "distinct"),
    (["latex", "plateau", "--spike", "sin(t)"], 2, "square-integrable"),
    (["memory", "--rnn", "4", "--t", "1e9"], 2, "GiB"),
    (["memory", "--rnn", "100000", "--t", "1"], 2, "74.5 GiB"),
    (["perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--seed", "-1"], 2, "seed"),
    # constants beyond float64 range: numba failed with "name 'inf' is not defined"
    (["loss", "--target", "exp(-t)*gamma(999.5)", "--a", "1", "--w", "1"], 1, "dps"),
    (["loss", "--target", "exp(-t)*(10**-10)**-1000", "--a", "1", "--w", "1"], 1, "dps"),
    (["loss", "--target", "exp(-t)*2**(2**13)", "--a", "1", "--w", "1"], 1, "dps"),
    (["loss", "--target", "exp(-t)*1e308*10", "--a", "1", "--w", "1"], 1, "dps"),
    (["laplace", "--target", "exp(-t*10**400)", "--s", "1"], 1, "dps"),
    (["laplace", "--target", "exp(-t)", "--s", "1", "--moment", "200"], 2, "moment"),
    (["laplace", "--target", "gamma(1/0)", "--s", "1"], 2, "not finite"),  # found by tests/test_fuzz.py
    # ZeroDivisionError inside compiled code
    (["loss", "--target", "exp(t)", "--a", "1", "--w", "1"], 2, "diverges"),
    (["loss", "--target", "exp(-t)", "--a", "1", "--w", "1e-300"], 1, "outside float64 range"),
    (["loss", "--target", "exp(-t)", "--a", "1e200", "--w", "1e-200"], 1, "outside float64 range"),
    # float64 overflow used to print J = inf: the exponent range is the limit, and --dps 30 gets the value
    (["loss", "--target", "exp(-t)", "--a", "1e308", "--w", "1"], 1, "--dps 30"),
    (["loss", "--target", "exp(-t)", "--a", "1e308", "--w", "1", "--json"], 1, "exponent"),
    (["loss", "--target", "exp(-t)", "--a", "1e200", "--w", "1"], 1, "--dps 30"),
]


@pytest.mark.parametrize("argv, code, word", BAD_INPUTS, ids=[" ".join(c[0])[:70] for c in BAD_INPUTS])
def test_bad_input_is_one_line(argv, code, word, capsys):
    rc, out, err = run(argv, capsys)
    assert rc == code, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    assert word in lines[0], lines[0]


def test_plot_to_a_directory_is_refused_before_computing(tmp_path, capsys):
    """``--plot DIR`` used to write a sibling ``DIR.png`` silently; now it is refused and nothing is written."""
    rc, out, err = run(["loss", "--target", "exp(-t)", "--a", "1", "--w", "1", "--plot", str(tmp_path)], capsys)
    assert rc == 2 and "directory" in err and out == ""
    assert not tmp_path.with_suffix(".png").exists() and list(tmp_path.iterdir()) == []


def test_unexpected_error_is_one_line(monkeypatch, capsys):
    """The last line of defence: an exception that is a bug is reported on one line (exit 1), not a traceback."""
    import memtheory.cli.commands.laplace as laplace

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(laplace, "kernel", boom)
    rc, out, err = run(["laplace", "--target", "exp(-t)", "--s", "1"], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "internal error: ZeroDivisionError" in err and "MEMTHEORY_TRACEBACK" in err
    monkeypatch.setenv("MEMTHEORY_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["laplace", "--target", "exp(-t)", "--s", "1"])


def test_a_message_quoting_a_huge_expression_is_shortened_inside_the_expression(monkeypatch, capsys):
    """The one line keeps the whole sentence: the expression it quotes loses its middle (head and tail kept, the
    number of characters cut said), not the end of the message."""
    import re

    import memtheory.cli.commands.laplace as laplace
    from memtheory.errors import InvalidArgumentError

    expression = " + ".join(f"t**{k}" for k in range(1000))

    def refuse(args):
        raise InvalidArgumentError(f"the kernel {expression!r} is not integrable on [0, oo): its tail grows")

    monkeypatch.setattr(laplace, "kernel", refuse)
    rc, out, err = run(["laplace", "--target", "exp(-t)", "--s", "1"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and len(err) < 600
    match = re.fullmatch(r"memtheory laplace: error: the kernel '(.*)\.\.\.\[(\d+) characters cut\]\.\.\.(.*)' is not "
                         r"integrable on \[0, oo\): its tail grows \(see 'memtheory laplace --help'\)", err.strip())
    assert match, err
    head, cut, tail = match.group(1), int(match.group(2)), match.group(3)
    assert expression.startswith(head) and expression.endswith(tail) and len(head) + cut + len(tail) == len(expression)
    # the command that showed it: a rate of 401 digits, quoted whole in the message
    rc, out, err = run(["loss", "--target", "exp(-t*10**400)", "--a", "1", "--w", "1", "--dps", "30"], capsys)
    assert len(err.strip().splitlines()) <= 1
    if rc:
        sentence = r"\.\.\.\[\d+ characters cut\]\.\.\.0+\*t\) .*\(see 'memtheory loss --help'\)$"
        assert re.search(sentence, err.strip()), err


# ------------------------------------------------------------------------------------ Piecewise: the right value
def test_piecewise_kernel_laplace_and_loss(capsys):
    """A Piecewise kernel gets its value (it used to crash): references by mpmath quadrature of the definition."""
    target = "Piecewise((exp(-t), t < 2), (t*exp(-t), t < 3), (0, True))"
    rc, out, err = run(["laplace", "--target", target, "--s", "0.5", "--dps", "30", "--json"], capsys)
    assert rc == 0, err
    with mp.workdps(40):
        ref = mp.quad(lambda t: mp.exp(-1.5 * t), [0, 2]) + mp.quad(lambda t: t * mp.exp(-1.5 * t), [2, 3])
        got = mp.mpf(json.loads(out)["values"][0])
        assert abs(got - ref) < mp.mpf(10) ** -28 * abs(ref)
    rc, out, err = run(["loss", "--target", "Piecewise((1, t < 1), (0, True))", "--a", "1", "--w", "2", "--json"],
                       capsys)
    assert rc == 0, err
    with mp.workdps(30):
        ref = mp.quad(lambda t: (mp.exp(-2 * t) - 1) ** 2, [0, 1]) + mp.quad(lambda t: mp.exp(-4 * t), [1, mp.inf])
    assert abs(json.loads(out)["loss"] - float(ref)) < 1e-12


# ------------------------------------------------------------------------------------------- the JSON encoder
def test_dumps_nonfinite_values_are_null_with_reason():
    import numpy as np

    text = dumps({"loss": float("inf"), "grad": np.array([1.0, -np.inf]), "x": mp.mpf("nan"), "s": "-inf",
                  "n": np.int64(3), "ok": np.bool_(True)})
    doc = json.loads(text)  # strict: Python's parser accepts NaN tokens, so check there are none
    assert "NaN" not in text and "Infinity" not in text
    assert doc["loss"] is None and doc["grad"] == [1.0, None] and doc["x"] is None and doc["s"] is None
    assert doc["nonfinite"] == {"loss": "inf", "grad[1]": "-inf", "x": "nan", "s": "-inf"}
    assert doc["n"] == 3 and doc["ok"] is True


def test_number_keeps_all_requested_digits():
    with mp.workdps(40):
        third = mp.mpf(1) / 3
    assert number(third, 40) == "0." + "3" * 40
    assert number(0.5, 20) == "0.50000000000000000000"
    assert number(float("inf"), 20) == "inf"


def test_loss_beyond_float64_range_raises_and_dps_gives_the_value(capsys):
    """``--a 1e308`` overflowed to J = inf: now a PrecisionError (CLI exit 1 suggesting --dps 30, API likewise),
    and at --dps 30 the value J = (a - 1)^2/2 (rho = e^{-t}, w = 1) with all its digits."""
    import memtheory as mt

    for a in (1e308, 1e200):
        with pytest.raises(mt.PrecisionError, match="exponent"):
            mt.l2_loss(mt.DiagonalRNN([a], [1.0]), mt.Kernel("exp(-t)"), gradient=True)
    with pytest.raises(mt.PrecisionError, match="exponent"):  # the Hessian's entries overflow: 1/w^3 at w = 1e-110
        mt.l2_loss(mt.DiagonalRNN([1.0], [1e-110]), mt.Kernel("exp(-t)"), hessian=True)
    rc, out, err = run(["loss", "--target", "exp(-t)", "--a", "1e308", "--w", "1", "--dps", "30", "--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    with mp.workdps(40):
        a = mp.mpf(10) ** 308
        assert mp.mpf(doc["loss"]) == mp.mpf(mp.nstr((a - 1) ** 2 / 2, 30))
        assert mp.mpf(doc["grad_a"][0]) == mp.mpf(mp.nstr(a - 1, 30))  # dJ/da = a - 1
        assert mp.mpf(doc["grad_w"][0]) == mp.mpf(mp.nstr(-a * (a - 1) / 2, 30))  # dJ/dw = -a^2/2 + a/2
    assert len(doc["loss"].split("e")[0].replace(".", "")) == 30  # the 30 digits asked for, as a decimal string


def test_long_products_and_sums_get_their_value(capsys):
    """``'*1' * 4000`` (4000 factors) failed with a 'too deeply nested' error: it is t, and the Laplace transform
    of t at s = 1 is 1; a 1200-term sum and a 4996-factor product of exp(-t) likewise get their value."""
    rc, out, err = run(["laplace", "--target", "t" + "*1" * 4000, "--s", "1", "--json"], capsys)
    assert rc == 0, err
    assert json.loads(out)["values"] == [pytest.approx(1.0, rel=1e-15)]
    rc, out, err = run(["laplace", "--target", "exp(-t)" + "+0*t" * 1200 + "+t*exp(-2*t)", "--s", "1", "--json"],
                       capsys)
    assert rc == 0, err
    assert json.loads(out)["values"] == [pytest.approx(0.5 + 1 / 9, rel=1e-15)]  # 1/(1+s) + 1/(2+s)^2
    rc, out, err = run(["loss", "--target", "exp(-t)" + "*1" * 4996, "--a", "1", "--w", "2", "--json"], capsys)
    assert rc == 0, err
    with mp.workdps(30):  # ||e^{-2t} - e^{-t}||^2 by quadrature
        ref = mp.quad(lambda t: (mp.exp(-2 * t) - mp.exp(-t)) ** 2, [0, mp.inf])
    assert json.loads(out)["loss"] == pytest.approx(float(ref), rel=1e-13)


def test_memory_of_a_kernel_beyond_float64_is_a_typed_error_with_its_value(capsys):
    """M(1000) = e^1000 = 1.97e434 is finite: never an inf (or a null) labelled exact, no numpy warnings; a pole
    (1/t at 0) is bad input."""
    for args in (["--t", "1000", "--json"], ["--t", "1000"], ["--t", "1e9"]):
        rc, out, err = run(["memory", "--target", "exp(t)", *args], capsys)
        assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1, err
        assert "beyond float64" in err and "Warning" not in err
    assert "1.9700711e+434" in run(["memory", "--target", "exp(t)", "--t", "1000"], capsys)[2]
    with mp.workdps(20):
        assert mp.nstr(mp.exp(1000), 8) == "1.9700711e+434"
    rc, out, err = run(["memory", "--target", "1/t", "--t", "0"], capsys)
    assert rc == 2 and "not finite at t = 0" in err and "Warning" not in err


def test_big_constants_get_their_value_in_mpmath(capsys):
    """What float64 refuses, mpmath computes: L[t^200 e^{-t}](1) = 200!/2^201 and L[Gamma(999.5) e^{-t}](1)."""
    rc, out, err = run(["laplace", "--target", "t**200*exp(-t)", "--s", "1", "--dps", "30", "--json"], capsys)
    assert rc == 0, err
    with mp.workdps(40):
        assert abs(mp.mpf(json.loads(out)["values"][0]) / (mp.factorial(200) / mp.mpf(2) ** 201) - 1) < 1e-28
    rc, out, err = run(["laplace", "--target", "exp(-t)*gamma(999.5)", "--s", "1", "--dps", "30", "--json"], capsys)
    assert rc == 0, err
    with mp.workdps(40):
        assert abs(mp.mpf(json.loads(out)["values"][0]) / (mp.gamma(mp.mpf(1999) / 2) / 2) - 1) < 1e-28


@pytest.mark.parametrize("target, c", [("exp(-t)*2**(2**13)", lambda: mp.mpf(2) ** 8192),
                                         ("exp(-t)*(10**-10)**-1000", lambda: mp.mpf(10) ** 10000),
                                         ("exp(-t)*gamma(999.5)", lambda: mp.gamma(mp.mpf(1999) / 2))])
def test_loss_of_constants_beyond_float64_at_dps(target, c, capsys):
    """The --dps 30 that the float64 error suggests gets the value: J = (c - 1)^2 / 2 and dJ/da = -(c - 1) for the
    target c e^{-t} and the model e^{-t}, c with thousands of digits (their squares exceed Python's 4300-digit limit
    on integer text)."""
    rc, out, err = run(["loss", "--target", target, "--a", "1", "--w", "1", "--dps", "30", "--json"], capsys)
    assert rc == 0, err
    res = json.loads(out)
    with mp.workdps(60):
        cc = c()
        assert abs(mp.mpf(res["loss"]) / ((cc - 1) ** 2 / 2) - 1) < 1e-28
        assert abs(mp.mpf(res["grad_a"][0]) / (-(cc - 1)) - 1) < 1e-28
        assert abs(mp.mpf(res["loss"]) - (cc - 1) ** 2 / 2) <= mp.mpf(res["loss_error"])


def test_loss_text_prints_every_requested_digit(capsys):
    """--dps 30 printed J with 15 digits and the gradients as quoted strings."""
    rc, out, err = run(["loss", "--target", "exp(-t/3)", "--a", "1", "--w", "1", "--dps", "30"], capsys)
    assert rc == 0, err
    lines = dict(line.split("=", 1) for line in out.strip().splitlines())
    with mp.workdps(40):  # J = 1/2 - 2/(1 + 1/3) + 3/2 = 1/2, dJ/da = 2(1/2 - 3/4) = -1/2
        assert mp.mpf(lines["J      "].strip()) == mp.mpf("0.5")
        assert lines["J      "].strip() == "0.500000000000000000000000000000"
        assert lines["dJ/da  "].strip() == "[-0.500000000000000000000000000000]"
    assert "'" not in out
