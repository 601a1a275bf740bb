"""Tests of ``memtheory approx`` (the CLI is a thin layer: check its wiring, JSON schema and usage errors)."""

from __future__ import annotations

import json

import pytest

from memtheory import approximation as approx
from memtheory import kernels
from memtheory.cli import build_parser, main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_best_json_schema_and_values(capsys):
    code, out, _ = _run(capsys, "approx", "best", "--target", "(1+t)**(-1.5)", "--m", "1,2,3", "--json")
    assert code == 0
    data = json.loads(out)
    rows = data["rows"]
    assert [r["m"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert {"m", "loss", "l2_error", "a", "w", "cond", "dps"} <= set(r)
        assert r["loss"] == pytest.approx(r["l2_error"] ** 2, rel=1e-12)
        assert len(r["a"]) == len(r["w"]) == r["m"]
    api = approx.best_exponential_sums(kernels.power_law(1.5), [1, 2, 3])
    assert [r["l2_error"] for r in rows] == pytest.approx([f.l2_error for f in api], rel=1e-12)
    assert data["root_exponential_fit"]["c"] > 0


def test_best_with_params_min_rate_and_plot(capsys, tmp_path):
    fig = tmp_path / "best.png"
    code, out, _ = _run(capsys, "approx", "best", "--target", "(1+t)**(-p)", "--param", "p=2", "--m", "2,4",
                        "--min-rate", "0.1", "--plot", str(fig))
    assert code == 0 and fig.exists() and fig.stat().st_size > 1000
    assert "L2 error" in out


def test_jackson_and_universal_text(capsys):
    code, out, _ = _run(capsys, "approx", "jackson", "--target", "(1+t)*exp(-2*t)", "--alpha", "1", "--beta", "1",
                        "--m", "2,4")
    assert code == 0
    assert "gamma = 1.21306" in out and "hypotheses hold: True" in out
    code, out, _ = _run(capsys, "approx", "universal", "--target", "exp(-t)*(1+t)", "--m", "2,4", "--json")
    data = json.loads(out)
    assert [r["m"] for r in data["rows"]] == [2, 4]
    assert data["rows"][1]["errors"]["l2"] < data["rows"][0]["errors"]["l2"]


def test_width_json(capsys):
    code, out, _ = _run(capsys, "approx", "width", "--target", "(1+t)**(-2)", "--eps", "1e-2,1e-3", "--norm", "L2",
                        "--json")
    assert code == 0
    assert [r["m"] for r in json.loads(out)["rows"]] == [3, 5]
    code, out, _ = _run(capsys, "approx", "width", "--target", "(1+t)**(-2)", "--eps", "1e-12", "--norm", "L2",
                        "--m", "2", "--json")
    row = json.loads(out)["rows"][0]
    assert row["m"] is None and "not reached" in row["message"]


@pytest.mark.parametrize("argv,needle", [
    (["approx", "best", "--target", "exp(-t)"], "--m"),
    (["approx", "best", "--target", "exp(-t)", "--m", "0"], "positive integers"),
    (["approx", "jackson", "--target", "exp(-t)", "--m", "2"], "--beta"),
    (["approx", "width", "--target", "exp(-t)"], "--eps"),
    (["approx", "best", "--target", "sin(t)", "--m", "2"], "square-integrable"),
    (["approx", "best", "--target", "exp(-t)", "--m", "2", "--min-rate", "-1"], "min_rate"),
    (["approx", "universal", "--target", "exp(-t)", "--m", "2", "--dps", "30"], "--dps"),
])
def test_usage_errors_exit_2(capsys, argv, needle):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert needle in err


def test_help_has_runnable_examples():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = sub.choices["approx"].format_help()
    for what in ("best", "jackson", "universal", "width"):
        assert f"memtheory approx {what} --target" in text


def test_help_examples_run(capsys, tmp_path, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)  # the examples write files (--store)
    from memtheory.cli.commands.approx import EXAMPLES

    for example in EXAMPLES.values():
        argv = shlex.split(example)[1:]
        assert main(argv) == 0, example
        capsys.readouterr()
