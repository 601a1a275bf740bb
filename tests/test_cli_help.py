"""CLI consistency: every sub-command (and every ``memtheory latex`` target) has runnable examples in its
``--help`` epilog, usage errors are one line with a hint and exit code 2, and ``memtheory latex`` covers the
symbolic objects (loss, Jackson bound, reparameterisation gradient scales, kernels)."""

from __future__ import annotations

import argparse
import json
import math
import shlex

import pytest

import memtheory.cli as cli
from memtheory.cli import LATEX_TARGETS, build_parser, examples_of, main


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _all_parsers():
    root = build_parser()
    out = {"memtheory": root}
    for name, p in _subparsers(root).items():
        out[p.prog] = p
        if name == "latex":
            out.update({q.prog: q for q in _subparsers(p).values()})
    return out


PARSERS = _all_parsers()


def _run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_has_runnable_examples(prog, tmp_path, monkeypatch, capsys):
    """Each example of the epilog runs (in a scratch directory, so files it writes land there) and exits 0."""
    parser = PARSERS[prog]
    examples = examples_of(parser)
    assert examples, f"'{prog} --help' has no example"
    assert "examples:" in parser.format_help()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMTHEORY_FIGURES_DIR", raising=False)
    for example in examples:
        argv = shlex.split(example)[1:]
        extra = ["--no-progress"] if argv[0] == "verify" else []
        code, out, err = _run(capsys, argv + extra)
        assert code == 0, f"{example}: exit {code}\n{err}"
        if "--json" in argv:
            json.loads(out)


def test_every_command_has_json():
    for prog, parser in PARSERS.items():
        if prog in ("memtheory", "memtheory latex"):
            continue
        opts = {s for a in parser._actions for s in a.option_strings}
        assert "--json" in opts, prog


@pytest.mark.parametrize("argv, token", [
    (["approx", "best", "--target", "exp(-t)", "--bogus"], "--bogus"),
    (["memory", "--t", "1,2", "--kind", "step"], "step"),
    (["perturb", "--target", "exp(-t)", "--repeats", "x"], "repeats"),
    (["reparam", "--maps", "tanh"], "tanh"),
    (["latex"], "OBJECT"),
    (["latex", "plateau_nonexistent"], "plateau_nonexistent"),
    (["latex", "loss", "--m", "0"], "m"),
    (["latex", "jackson", "--alpha", "1"], "--target"),
    (["latex", "jackson", "--target", "exp(-t)", "--alpha", "1"], "--beta"),
    (["latex", "reparam", "--maps", "tanh"], "tanh"),
    (["latex", "kernel", "--target", "t.__class__"], "__class__"),
    (["verify", "--frobnicate"], "--frobnicate"),
])
def test_usage_errors_one_line_with_hint(argv, token, capsys):
    code, out, err = _run(capsys, argv)
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert token in lines[0] and "--help'" in lines[0], lines[0]


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = _run(capsys, [])
    assert code == 2 and "examples:" in err


# ------------------------------------------------------------------------------------------------- latex
def _latex_json(capsys, *argv):
    code, out, err = _run(capsys, ["latex", *argv, "--json"])
    assert code == 0, err
    return json.loads(out)["parts"]


def test_latex_targets_registered():
    assert {"loss", "jackson", "reparam", "kernel"} <= set(LATEX_TARGETS)


def test_latex_loss_parts(capsys):
    parts = _latex_json(capsys, "loss", "--m", "1", "--gradient", "--hessian", "--general")
    assert list(parts) == ["loss", "gradient", "hessian", "general"]
    assert parts["loss"].startswith(r"J(\theta) = ")
    for term in (r"\|\rho\|^{2}_{2}", r"\frac{a_{1}^{2}}{2 w_{1}}", r"2 a_{1} \mathcal{L}[\rho](w_{1})"):
        assert term in parts["loss"]  # (the printed order of the terms varies with the SymPy version)
    assert parts["hessian"].startswith(r"\nabla^2 J") and r"\mathcal{L}[t^{2} \rho](w_{1})" in parts["hessian"]
    assert r"\sum" in parts["general"]


def test_latex_jackson(capsys):
    parts = _latex_json(capsys, "jackson")
    assert set(parts) == {"bound", "gamma"}
    assert r"\beta m^{\alpha}" in parts["bound"] and r"C(\alpha)" in parts["bound"]
    parts = _latex_json(capsys, "jackson", "--target", "(1+t)*exp(-2*t)", "--alpha", "1", "--beta", "1")
    gamma = 2 * math.exp(-0.5)  # sup_t (1 + 2t) e^{-t}, at t = 1/2
    assert f"{gamma:.7f}" in parts["instance"] and "C_{1}" in parts["instance"]
    assert parts["hypotheses"] == r"\text{hypotheses hold}"
    parts = _latex_json(capsys, "jackson", "--target", "exp(-2*t)*(1 + Heaviside(t - 1)*(t - 1)**2)", "--alpha", "2",
                        "--beta", "1")
    assert parts["hypotheses"].startswith(r"\text{hypotheses fail")


def test_latex_reparam(capsys):
    parts = _latex_json(capsys, "reparam", "--maps", "exp,best", "--derive", "--criterion")
    assert parts["scale_exp"].endswith("e^{- w}")
    assert parts["scale_best"].endswith(r"2 a \left|{w}\right|")
    assert parts["best_continuous"].startswith(r"\begin{aligned}")
    assert r"\sqrt{\beta^{2} + \frac{4 b}{a}}" in parts["criterion_best"]


def test_latex_kernel_and_out_file(capsys, tmp_path):
    out = tmp_path / "k.tex"
    code, stdout, err = _run(capsys, ["latex", "kernel", "--target", "exp(-2*t)*(1+t)", "--laplace", "--out", str(out)])
    assert code == 0, err
    assert out.read_text() == stdout
    assert r"\mathcal{L}[\rho](s) = " in stdout and r"\frac{1}{\left(s + 2\right)^{2}}" in stdout


def test_latex_registry_extension(monkeypatch, capsys):
    """A target registered by a sub-command module (e.g. the plateau bound) appears in `memtheory latex`."""
    monkeypatch.setattr(cli.registry, "LATEX_TARGETS", dict(LATEX_TARGETS))

    def args(p):
        p.add_argument("--k", type=int, default=2)

    cli.register_latex_target("demo", "a demo bound", ["memtheory latex demo --k 3"], args,
                              lambda a: {"bound": f"T \\ge {a.k}"})
    code, out, err = _run(capsys, ["latex", "demo", "--k", "3"])
    assert code == 0 and out.strip() == r"T \ge 3"
    with pytest.raises(ValueError):
        cli.register_latex_target("bad", "x", ["memtheory latex other"], None, lambda a: {})


def test_loss_plot(tmp_path, capsys):
    plot = tmp_path / "l.png"
    code, out, err = _run(capsys, ["loss", "--target", "exp(-t)", "--a", "1", "--w", "2", "--json", "--plot", str(plot)])
    assert code == 0, err
    assert json.loads(out)["plot"] == str(plot) and plot.read_bytes()[:4] == b"\x89PNG"
