"""``memtheory verify``: the runner (memtheory.verify), the report written with ``--out`` and the exit codes.

Most tests run fake checks (monkeypatched ``available_checks``) so that passing, failing and crashing checks, their
figures, LaTeX and tables are known exactly; two run a real quick check end to end.
"""

from __future__ import annotations

import inspect
import json
import types

import pytest

import memtheory.verify as V
from memtheory.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _figure():
    plt = V.pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def _module(name: str, passed: bool = True, crash: bool = False, figure=None, quick_seen: list | None = None):
    """A fake check module: NAME, CLAIM, run(quick)."""

    def run(quick: bool = False) -> V.CheckResult:
        if quick_seen is not None:
            quick_seen.append(quick)
        if crash:
            raise RuntimeError(f"{name} exploded")
        return V.CheckResult(name, passed, {"value": 1.5, "table": f"| a | b |\n|---|---|\n| {name} | 2 |",
                                            "checks": {"value below 2": passed}},
                             f"claim of {name}", f"{name}: value 1.5 " + "x" * 200, summary=f"value of {name} = 1.5",
                             figures={name: figure or _figure, "extra": _figure}, latex={name: r"J = \frac{1}{2}"})

    return types.SimpleNamespace(NAME=name, CLAIM=f"claim of {name}", run=run)


@pytest.fixture
def fake_checks(monkeypatch):
    """Install fake checks; returns the dict to fill."""
    import memtheory.sweep

    checks: dict = {}
    monkeypatch.setattr(V.runner, "available_checks", lambda: dict(checks))
    # the fake checks exist in this process only: the command's default (every core) would look for them in
    # worker processes
    monkeypatch.setattr(memtheory.sweep, "default_workers", lambda: 1)
    monkeypatch.delenv(V.FIGURES_ENV, raising=False)
    return checks


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------- report files
def test_out_writes_report_figures_latex(fake_checks, tmp_path, capsys):
    fake_checks["alpha"] = _module("alpha")
    fake_checks["beta"] = _module("beta")
    out = tmp_path / "rep"
    code, stdout, err = _run(capsys, "verify", "--out", str(out), "--json", "--progress")
    assert code == 0, err
    data = json.loads(stdout)  # stdout is only the JSON; the progress bar went to stderr
    assert data["passed"] is True and data["report"] == str(out / "report.md")
    assert "verify" in err and "2/2 checks" in err  # tqdm's bar (--json alone shows none)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["report.md", "report.json", "alpha.png", "alpha_extra.png", "beta.png", "beta_extra.png",
                            "alpha.tex", "beta.tex", "alpha.md", "beta.md"])
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000
    assert (out / "alpha.tex").read_text() == "J = \\frac{1}{2}\n"
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True and report["quick"] is False and report["seconds"] >= 0
    (a, b) = report["checks"]
    assert {"name", "passed", "measured", "claim", "details", "seconds"} <= set(a)  # the original keys
    assert a["name"] == "alpha" and a["measured"]["value"] == 1.5 and a["claim"] == "claim of alpha"
    assert a["figures"] == ["alpha.png", "alpha_extra.png"] and a["latex"] == {"alpha": "J = \\frac{1}{2}"}
    assert a["summary"] == "value of alpha = 1.5"
    md = (out / "report.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| [")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[0] == "[alpha](#alpha)" and cells[1] == "value of alpha = 1.5" and cells[2] == "claim of alpha"
    assert cells[3] == "PASS" and float(cells[4]) >= 0 and float(cells[5]) >= 0
    assert cells[6] == "default" and cells[7] == "floating point"
    assert a["cpu_seconds"] >= 0 and report["cpu_seconds"] == pytest.approx(sum(c["cpu_seconds"] for c in (a, b)))
    assert "## beta" in md and "![alpha_extra](alpha_extra.png)" in md and "| beta | 2 |" in md
    assert "J = \\frac{1}{2}" in md and "| value below 2 | yes |" in md


def test_failing_check_exit_1_and_report(fake_checks, tmp_path, capsys):
    fake_checks["good"] = _module("good")
    fake_checks["bad"] = _module("bad", passed=False)
    code, stdout, _ = _run(capsys, "verify", "--out", str(tmp_path), "--no-progress")
    assert code == 1
    assert "bad" in stdout and "FAIL" in stdout and "1 of 2 checks passed" in stdout
    md = (tmp_path / "report.md").read_text()
    assert "| **FAIL** |" in md and "| PASS |" in md and "| value below 2 | **no** |" in md
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is False
    code, _, _ = _run(capsys, "verify", "good", "--no-progress")  # only the passing one
    assert code == 0


def test_crashing_check_is_a_failure_with_its_cause(fake_checks, tmp_path, capsys):
    fake_checks["boom"] = _module("boom", crash=True)
    code, stdout, _ = _run(capsys, "verify", "--json", "--out", str(tmp_path), "--no-progress")
    assert code == 1
    (check,) = json.loads(stdout)["checks"]
    assert check["passed"] is False and "RuntimeError: boom exploded" in check["measured"]["error"]
    assert "boom exploded" in (tmp_path / "report.md").read_text()


def test_broken_figure_recorded_not_fatal(fake_checks, tmp_path, capsys):
    def bad_figure():
        raise ValueError("no axes today")

    fake_checks["fig"] = _module("fig", figure=bad_figure)
    code, stdout, err = _run(capsys, "verify", "--json", "--out", str(tmp_path), "--no-progress")
    assert code == 0
    (check,) = json.loads(stdout)["checks"]
    assert check["figures"] == ["fig_extra.png"]
    assert "no axes today" in check["measured"]["artifact_errors"]["fig.png"] and "no axes today" in err
    assert not (tmp_path / "fig.png").exists() and (tmp_path / "fig_extra.png").exists()


def test_no_files_without_out(fake_checks, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    seen: list = []
    fake_checks["alpha"] = _module("alpha", quick_seen=seen)
    code, stdout, _ = _run(capsys, "verify", "--quick", "--json", "--no-progress")
    assert code == 0 and seen == [True]
    assert list(tmp_path.iterdir()) == []
    (check,) = json.loads(stdout)["checks"]
    assert check["figures"] == [] and check["latex"] == {"alpha": "J = \\frac{1}{2}"}


def test_figures_env_dir_still_works(fake_checks, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(V.FIGURES_ENV, str(tmp_path / "figs"))
    fake_checks["alpha"] = _module("alpha")
    code, _, _ = _run(capsys, "verify", "--no-progress")
    assert code == 0
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {"alpha.png", "alpha_extra.png", "alpha.tex", "alpha.md"}


def test_usage_errors(fake_checks, tmp_path, capsys):
    fake_checks["alpha"] = _module("alpha")
    code, _, err = _run(capsys, "verify", "nope")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nope" in err and "alpha" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _run(capsys, "verify", "--out", str(blocker / "sub"), "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err


def test_list(fake_checks, capsys):
    fake_checks["alpha"] = _module("alpha")
    code, stdout, _ = _run(capsys, "verify", "--list", "--json")
    assert code == 0 and json.loads(stdout) == {"alpha": "claim of alpha"}


def test_summary_defaults_to_shortened_details():
    r = V.CheckResult("x", True, details="word " * 100)
    assert r.short().endswith("…") and len(r.short()) <= 110
    assert V.CheckResult("x", True, details="short").short() == "short"


def test_stem_rule():
    stem = V.artifact_stem
    assert stem("chk", "chk") == "chk" and stem("chk", "chk_b") == "chk_b" and stem("chk", "b") == "chk_b"


# --------------------------------------------------------------------------------------------- figure helpers
def test_log_figure_draws_series_on_log_axes():
    from matplotlib.colors import to_rgba

    from memtheory.verify.figures import Series, log_figure

    fig = log_figure([Series([2, 4, 8], [1.0, 0.1, 0.01], "o-", "errors"),
                      Series([2, 8], [1.0, 0.01], ":", options={"color": "gray"})],
                     xlabel="width m", ylabel="error", title="t", widths=[2, 4, 8], title_size=9)
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.title.get_fontsize()) == ("width m", "error", "t", 9)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8"]
    assert list(ax.lines[0].get_ydata()) == [1.0, 0.1, 0.01] and ax.lines[0].get_marker() == "o"
    assert to_rgba(ax.lines[1].get_color()) == to_rgba("gray")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["errors"]  # unlabelled series stay out
    V.pyplot().close(fig)


def test_perturbation_figure_one_panel_per_key_curves_in_width_order():
    from memtheory.verify.figures import perturbation_figure

    class Curve:
        def __init__(self, drawn):
            self.drawn = drawn

        def plot(self, ax, label=None):
            self.drawn.append(label)
            ax.loglog([1e-3, 1e-2], [1.0, 2.0], label=label)

    drawn: list = []
    fig = perturbation_figure({"a": {4: Curve(drawn), 2: Curve(drawn)}, "b": {3: Curve(drawn)}}, figsize=(6, 3),
                              suptitle="E", sharey=True)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"] and fig.get_suptitle() == "E"
    assert drawn == ["m = 2", "m = 4", "m = 3"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["m = 2", "m = 4"]
    V.pyplot().close(fig)


# --------------------------------------------------------------------------------------------- the real checks
def test_every_check_has_quick_mode_and_claim():
    checks = V.available_checks()
    assert len(checks) >= 9
    for name, module in checks.items():
        assert not isinstance(module, V.BrokenCheck), f"{name} failed to import: {module.error}"
        sig = inspect.signature(module.run)
        assert "quick" in sig.parameters and sig.parameters["quick"].default is False, name
        assert isinstance(module.CLAIM, str) and module.CLAIM.strip(), name


def test_real_quick_check_report(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(V.FIGURES_ENV, raising=False)
    code, stdout, _ = _run(capsys, "verify", "jackson_rate", "--quick", "--out", str(tmp_path), "--json",
                           "--no-progress")
    assert code == 0
    (check,) = json.loads(stdout)["checks"]
    assert check["passed"] and check["measured"]["cases"]["(1+t) e^{-2t}"]["m"] == [2, 4, 8, 16]
    assert (tmp_path / "jackson_rate.png").read_bytes()[:8] == PNG_MAGIC
    tex = (tmp_path / "jackson_rate_case1.tex").read_text()
    assert "1.2130613" in tex  # gamma = 2 e^{-1/2}
    assert "jackson_rate" in (tmp_path / "report.md").read_text()
    assert check["evidence"]["gamma = 2 e^{-1/2} for (1+t) e^{-2t}"] == "enclosure"
    assert "2 of 4 claims certified" in (tmp_path / "report.md").read_text()
    assert check["measured"]["cases"]["(1+t) e^{-2t}"]["closed_form_in_enclosure"]


@pytest.mark.slow
def test_quick_run_all_checks_within_budget(tmp_path):
    """The whole quick run passes and stays near a minute (generous bound for a loaded 2-core machine)."""
    import time

    start = time.perf_counter()
    results = V.run_checks(quick=True, directory=tmp_path)
    elapsed = time.perf_counter() - start
    assert all(r.passed for r in results), [r.name for r in results if not r.passed]
    assert elapsed < 120, elapsed
    assert all((tmp_path / f).exists() for r in results for f in r.figures.values())


def test_evidence_says_what_each_claim_rests_on():
    from memtheory.errors import InvalidArgumentError

    res = V.CheckResult("c", True, {}, "claim", "details",
                        evidence={"J within 1e-9 of the true J": "enclosure", "rate >= alpha": "floating point"})
    md = V.report_markdown([res])
    assert "| rests on |" in md and "1 of 2 claims certified" in md
    assert "| J within 1e-9 of the true J | **enclosure** (certified) |" in md
    assert "| rate >= alpha | floating-point agreement |" in md
    assert res.to_dict()["evidence"] == {"J within 1e-9 of the true J": "enclosure",
                                         "rate >= alpha": "floating point"}
    assert res.certified_claims() == ["J within 1e-9 of the true J"]
    plain = V.CheckResult("p", True)
    assert "floating-point agreement (no claim of this check is certified" in V.report_markdown([plain])
    with pytest.raises(InvalidArgumentError, match="evidence kinds"):
        V.CheckResult("b", True, evidence={"x": "proof"})


def test_report_summaries_are_never_cut_mid_formula():
    from memtheory.verify.runner import shorten_at_boundary

    text = "C^1 kernel e^{-2 t} (1 + t): L1 ~ m^-2.8, bound $C(\\alpha) \\gamma d / (\\beta m^\\alpha)$ holds " * 3
    for limit in range(12, 110, 7):
        cut = shorten_at_boundary(text, limit)
        body = cut.removesuffix(" …")
        assert cut.endswith(" …") and len(cut) <= limit and text.startswith(body)
        assert body.count("{") == body.count("}") and body.count("(") == body.count(")")
        assert body.count("$") % 2 == 0
