"""The ``memtheory`` command line (memtheory.cli): outputs checked against independent mpmath quadrature,
JSON shapes, exit codes (0 success, 2 usage error with one line on stderr)."""

from __future__ import annotations

import json
import subprocess
import sys

import mpmath as mp
import pytest
from conftest import RTOL40, RTOL64, assert_rel, binf, dec_text, quad, quad_logsub

import memtheory
from memtheory.cli import main


def run(argv, capsys):
    """(exit code, stdout, stderr) of ``main(argv)``; argparse's own exits are caught."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------------------------------ version, latex
def test_version_subprocess():
    proc = subprocess.run([sys.executable, "-m", "memtheory.cli", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"memtheory {memtheory.__version__}"


def test_version_in_process(capsys):
    rc, out, _ = run(["--version"], capsys)
    assert rc == 0 and memtheory.__version__ in out


def test_latex_loss(capsys):
    rc, out, err = run(["latex", "loss", "--m", "2"], capsys)
    assert rc == 0 and err == ""
    assert out.startswith("J(\\theta) = ")
    for token in ("a_{1}", "a_{2}", "w_{1}", "w_{2}", "\\mathcal{L}[\\rho](w_{1})"):
        assert token in out
    assert "a_{3}" not in out and "d\\tau" not in out


def test_latex_loss_flow(capsys):
    rc, out, _ = run(["latex", "loss", "--m", "3", "--flow"], capsys)
    assert rc == 0
    assert "a_{3}" in out
    assert out.count("\\frac{d") == 6 and "\\frac{d a_{1}}{d\\tau}" in out and "\\frac{d w_{3}}{d\\tau}" in out
    assert "\\mathcal{L}[t \\rho](w_{2})" in out


# ------------------------------------------------------------------------------------------ loss
def _loss_reference(a, w, rho, pts, dps=30):
    with mp.workdps(dps):
        am, wm = [dec_text(x) for x in a], [dec_text(x) for x in w]

        def diff(t):
            return mp.fsum(ai * mp.exp(-wi * t) for ai, wi in zip(am, wm)) - rho(t)

        J = quad(lambda t: diff(t) ** 2, pts, rel=mp.mpf(10) ** -(dps - 18))
        ga = [2 * quad(lambda t: diff(t) * mp.exp(-wi * t), pts) for wi in wm]
        gw = [-2 * ai * quad(lambda t: t * diff(t) * mp.exp(-wi * t), pts) for ai, wi in zip(am, wm)]
    return J, ga, gw


ISSUE_TARGET = "exp(-t/2) + exp(-(t - 1/omega)**2/(2*sigma**2))"


def _issue_rho(t):
    return mp.exp(-t / 2) + mp.exp(-((t - 1 / dec_text(0.1)) ** 2) / (2 * dec_text(0.5) ** 2))


def test_loss_json(capsys):
    argv = ["loss", "--target", ISSUE_TARGET, "--param", "omega=0.1", "--param", "sigma=0.5",
            "--a", "1,0.2", "--w", "0.5,2", "--json"]
    rc, out, err = run(argv, capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert {"loss", "grad_a", "grad_w"} <= set(data)
    assert len(data["grad_a"]) == 2 and len(data["grad_w"]) == 2
    J, ga, gw = _loss_reference([1.0, 0.2], [0.5, 2.0], _issue_rho, [0, 4, 8, 10, 12, 20, 60, mp.inf])
    assert_rel([data["loss"]], [J], RTOL64, "loss")
    assert_rel(data["grad_a"], ga, RTOL64, "grad_a")
    assert_rel(data["grad_w"], gw, RTOL64, "grad_w")


def test_loss_json_dps(capsys):
    argv = ["loss", "--target", "exp(-t) + exp(-(t - 9)**2)", "--a", "0.8,-0.3", "--w", "0.7,1.9", "--dps", "40",
            "--json"]
    rc, out, err = run(argv, capsys)
    assert rc == 0, err
    data = json.loads(out)
    J, ga, gw = _loss_reference([0.8, -0.3], [0.7, 1.9], lambda t: mp.exp(-t) + mp.exp(-((t - 9) ** 2)),
                                [0, 3, 6, 9, 12, 20, mp.inf], dps=50)
    with mp.workdps(50):
        assert_rel([mp.mpf(data["loss"])], [J], RTOL40, "loss dps=40")
        assert_rel([mp.mpf(x) for x in data["grad_a"]], ga, RTOL40, "grad_a dps=40")
        assert_rel([mp.mpf(x) for x in data["grad_w"]], gw, RTOL40, "grad_w dps=40")


def test_loss_text_output(capsys):
    rc, out, _ = run(["loss", "--target", "exp(-t)", "--a", "1", "--w", "2"], capsys)
    assert rc == 0
    assert "J" in out and "dJ/da" in out and "dJ/dw" in out
    # J = 1/4 - 2/3 + 1/2 = 1/12 for a = 1, w = 2 against e^{-t}
    first = out.splitlines()[0]
    assert abs(float(first.split("=")[1]) - 1 / 12) <= 1e-15


# ------------------------------------------------------------------------------------------ laplace
def test_laplace_json(capsys):
    rc, out, err = run(["laplace", "--target", "(1+t)**(-1.5)", "--s", "0.5,1,2", "--moment", "1", "--json"], capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert {"s", "values"} <= set(data)
    assert data["s"] == [0.5, 1.0, 2.0]
    with mp.workdps(30):
        ref = [quad_logsub(lambda t: t * (1 + t) ** mp.mpf("-1.5") * mp.exp(-dec_text(s) * t),
                           [0, 1, 1 / dec_text(s), 10 / dec_text(s), mp.inf], 1) for s in data["s"]]
    assert_rel(data["values"], ref, RTOL64, "laplace --json")


def test_laplace_json_dps(capsys):
    rc, out, err = run(["laplace", "--target", "exp(-(t - c)**2/2)", "--param", "c=3", "--s", "0.1,4",
                        "--moment", "2", "--dps", "40", "--json"], capsys)
    assert rc == 0, err
    data = json.loads(out)
    with mp.workdps(50):
        vals = [mp.mpf(v) for v in data["values"]]
        ref = [quad(lambda t: t**2 * mp.exp(-((t - 3) ** 2) / 2 - dec_text(s) * t), [0, 1, 3, 5, 10, mp.inf])
               for s in (0.1, 4)]
        assert_rel(vals, ref, RTOL40, "laplace --dps 40")


def test_laplace_text_output(capsys):
    rc, out, _ = run(["laplace", "--target", "exp(-2*t)", "--s", "1,3"], capsys)
    assert rc == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert abs(float(lines[0].split("=")[1]) - 1 / 3) <= 1e-15 and abs(float(lines[1].split("=")[1]) - 0.2) <= 1e-15


def test_laplace_below_double_range_needs_dps(capsys):
    rc, out, err = run(["laplace", "--target", "exp(-(t - 800)**2/2)", "--s", "1"], capsys)
    assert rc != 0
    assert len(err.strip().splitlines()) == 1 and "dps" in err
    rc, out, err = run(["laplace", "--target", "exp(-(t - 800)**2/2)", "--s", "1", "--dps", "40", "--json"], capsys)
    assert rc == 0, err
    with mp.workdps(50):
        val = mp.mpf(json.loads(out)["values"][0])
        ref = quad(lambda t: mp.exp(-((t - 800) ** 2) / 2 - t), [0, 780, 790, 799, 810, 820, mp.inf])
        assert_rel([val], [ref], RTOL40)


# ------------------------------------------------------------------------------------------ verify
def test_verify_quick_json(capsys):
    rc, out, err = run(["verify", "--quick", "loss_closed_form", "--json"], capsys)
    data = json.loads(out)
    assert set(data) >= {"passed", "checks"}
    assert data["passed"] is True and rc == 0
    (check,) = data["checks"]
    assert {"name", "passed", "measured"} <= set(check)
    assert check["name"] == "loss_closed_form" and check["passed"] is True
    assert isinstance(check["measured"], dict) and check["measured"]


def test_verify_unknown_check(capsys):
    rc, out, err = run(["verify", "no_such_check", "--json"], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "no_such_check" in err


@pytest.mark.slow
def test_verify_all_subprocess():
    proc = subprocess.run([sys.executable, "-m", "memtheory.cli", "verify", "--json"], capture_output=True,
                          text=True, timeout=1800)
    data = json.loads(proc.stdout)
    assert (proc.returncode == 0) == data["passed"]
    assert all({"name", "passed", "measured"} <= set(c) for c in data["checks"])
    assert data["passed"], [c["name"] for c in data["checks"] if not c["passed"]]


# ------------------------------------------------------------------------------------------ errors
LOSS = ["loss", "--target"]
USAGE_ERRORS = [
    (LOSS + ["t.__class__", "--a", "1", "--w", "1"], "__class__"),
    (LOSS + ["__import__('os').system('true')", "--a", "1", "--w", "1"], "system"),
    (LOSS + ["exp(-lam*t)", "--a", "1", "--w", "1"], "lam"),
    (LOSS + ["exp(-t)", "--a", "1,2", "--w", "1"], "--a"),
    (LOSS + ["exp(-t)", "--a", "x", "--w", "1"], "--a"),
    (LOSS + ["exp(-t)", "--a", "1", "--w", "-1"], "w"),
    (LOSS + ["exp(-t)", "--a", "1", "--w", "0"], "w"),
    (LOSS + ["exp(-t)", "--a", "nan", "--w", "1"], "a"),
    (LOSS + ["sin(t)", "--a", "1", "--w", "1"], "sin"),
    (LOSS + ["exp(-t)", "--a", "1", "--w", "1", "--param", "noequals"], "--param"),
    (LOSS + ["exp(-a*t)", "--a", "1", "--w", "1", "--param", "a=abc"], "abc"),
    (["laplace", "--target", "exp(-t)", "--s", "a,b"], "--s"),
    (["laplace", "--target", "sin(t)", "--s", "0"], "s"),
    (["laplace", "--target", "exp(-t)", "--s", "1", "--dps", "1"], "dps"),
    (["laplace", "--target", "exp(-t)", "--s", "1", "--moment", "-1"], "moment"),
    (["latex", "loss", "--m", "0"], "m"),
]


@pytest.mark.parametrize("argv, token", USAGE_ERRORS)
def test_usage_errors_exit_2_with_one_line(argv, token, capsys):
    rc, out, err = run(argv, capsys)
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert token in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["loss", "--a", "1", "--w", "1"],  # missing --target
    ["frobnicate"],
    ["laplace", "--target", "exp(-t)", "--s", "1", "--moment", "x"],
    ["latex", "loss", "--m", "two"],
    ["loss", "--target", "exp(-t)", "--a", "1", "--w", "1", "--bogus"],
])
def test_argparse_usage_errors_exit_2_with_one_line(argv, capsys):
    rc, out, err = run(argv, capsys)
    assert rc == 2
    n_lines = len(err.strip().splitlines())
    assert n_lines == 1, f"stderr has {n_lines} lines:\n{err}"


def test_usage_error_subprocess_exit_code():
    proc = subprocess.run([sys.executable, "-m", "memtheory.cli", "loss", "--target", "t.__class__", "--a", "1",
                           "--w", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "__class__" in proc.stderr
    assert proc.stdout == ""


def test_no_command(capsys):
    rc, out, err = run([], capsys)
    assert rc == 2


def test_output_into_a_closed_pipe_exits_quietly():
    """``memtheory ... | head``: no BrokenPipeError traceback, exit status 141 (as if killed by SIGPIPE)."""
    import subprocess
    import sys

    s = ",".join(str(1 + i / 100) for i in range(3000))  # ~100 kB of output, more than a pipe buffer
    code = ("import sys; from memtheory.cli import main; "
            f"sys.exit(main(['laplace', '--target', 'exp(-t)', '--s', '{s}']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
