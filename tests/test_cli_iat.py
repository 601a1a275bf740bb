"""Tests of the CLI sub-commands ``memory``, ``perturb`` and ``reparam`` [IAT]."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from memtheory.cli import build_parser, examples_of, main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_memory_kernel_json(capsys):
    code, out, _ = _run(capsys, "memory", "--target", "(1+t)**(-p)", "--param", "p=1.5", "--t", "0,1,10", "--json")
    assert code == 0
    data = json.loads(out)
    np.testing.assert_allclose(data["values"], [1.0, 2**-1.5, 11**-1.5], rtol=1e-14)
    assert data["exact"] and data["kind"] == "heaviside"


def test_memory_rnn_classify_and_plot(capsys, tmp_path):
    plot = tmp_path / "m.png"
    code, out, _ = _run(capsys, "memory", "--rnn", "8", "--dt", "0.5", "--t", "0,2,4,8,16,24", "--kind", "impulse",
                        "--levels", "0.1,-0.1", "--classify", "--json", "--plot", str(plot))
    assert code == 0 and plot.stat().st_size > 1000
    data = json.loads(out)
    assert len(data["values"]) == 6 and data["classification"]["verdict"] == "exponential"
    code, out, _ = _run(capsys, "memory", "--target", "exp(-t)", "--t", "0,1,2,3", "--classify")
    assert code == 0 and "verdict: exponential" in out


def test_memory_usage_errors(capsys):
    code, _, err = _run(capsys, "memory", "--t", "1")
    assert code == 2 and "exactly one" in err
    code, _, err = _run(capsys, "memory", "--target", "exp(-t)", "--t", "-1")
    assert code == 2 and "t:" in err
    code, _, err = _run(capsys, "memory", "--target", "exp(-t)", "--t", "1,2", "--classify")
    assert code == 2 and "4 times" in err
    with pytest.raises(SystemExit):
        main(["memory", "--target", "exp(-t)", "--t", "1", "--kind", "step"])


def test_perturb_single_model_and_widths(capsys, tmp_path):
    code, out, _ = _run(capsys, "perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--betas", "0,0.5,2",
                        "--repeats", "3", "--json")
    assert code == 0
    data = json.loads(out)
    curve = data["curves"][0]
    assert curve["errors"][0] == 0.0 and curve["errors"][-1] is None and curve["stable_radius"] == 0.5
    plot = tmp_path / "p.png"
    code, out, _ = _run(capsys, "perturb", "--target", "(1+t)**(-1.1)", "--widths", "2,4,6", "--repeats", "3",
                        "--json", "--plot", str(plot))
    assert code == 0 and plot.stat().st_size > 1000
    s = json.loads(out)["summary"]
    assert s["verdict"] == "unstable" and s["radii_shrink"]
    code, out, _ = _run(capsys, "perturb", "--target", "(1+t)**(-1.1)", "--widths", "2,4", "--repeats", "2",
                        "--parameterisation", "exp", "--tensors", "W", "--betas", "0,0.01,0.1")
    assert code == 0 and "verdict" in out


def test_perturb_text_names_the_radius_it_reports(capsys):
    """The text line shows the error at the smallest radius asked for, labelled with that radius: with
    --betas 0.1 it is E(0.1) (the exact L2 error of e^{-t} perturbed by 0.1), not E(0)."""
    code, out, _ = _run(capsys, "perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--betas", "0.1")
    assert code == 0 and "E(0.1) = " in out and "E(0) =" not in out
    code, out, _ = _run(capsys, "perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--betas", "0,0.1")
    assert code == 0 and "E(0) = 0.0000e+00" in out


def test_perturb_errors(capsys):
    code, _, err = _run(capsys, "perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--betas", "0,-0.1")
    assert code == 2 and "beta" in err
    code, _, err = _run(capsys, "perturb", "--target", "exp(-t)")
    assert code == 2 and "--widths" in err
    code, _, err = _run(capsys, "perturb", "--target", "exp(-t)", "--a", "1,2", "--w", "1")
    assert code == 2 and "same length" in err


def test_reparam(capsys, tmp_path):
    code, out, _ = _run(capsys, "reparam", "--w=-1,0.6,2", "--json", "--derive", "--criterion", "0.01,0.1")
    assert code == 0
    data = json.loads(out)
    assert data["maps"]["exp"]["values"] == pytest.approx([np.e, np.exp(-0.6), np.exp(-2)])
    assert data["maps"]["direct"]["values"] == [1.0, None, None]  # outside the domain w < 0
    assert data["maps"]["best"]["scale"] == "2*a*Abs(w)"
    assert data["best_map"]["continuous"]["f"] == "-1/(a*w**2 + b)"
    assert data["criterion"]["direct"]["values"] == [None, None]
    assert data["criterion"]["exp"]["values"] == pytest.approx(np.expm1([0.01, 0.1]), rel=1e-6)
    plot = tmp_path / "r.png"
    code, out, _ = _run(capsys, "reparam", "--maps", "exp,best", "--latex", "--derive", "--plot", str(plot))
    assert code == 0 and "\\frac" in out and plot.stat().st_size > 1000
    code, _, err = _run(capsys, "reparam", "--maps", "tanh")
    assert code == 2 and "unknown" in err


@pytest.mark.parametrize("command", ["memory", "perturb", "reparam"])
def test_help_examples_run(command, capsys):
    """Every example printed by --help runs and exits 0."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    examples = examples_of(sub.choices[command])  # the runnable examples of the epilog
    assert examples
    for ex in examples:
        argv = shlex.split(ex)[1:]
        if command == "perturb":
            argv += ["--repeats", "2", "--betas", "0,0.001,0.01"] if "--betas" not in argv else []
        assert main(argv) == 0, ex
    capsys.readouterr()
