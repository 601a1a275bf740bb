"""The pass criterion of every proofs check: stated by the module, carried by the result, shown in the report.

The real quick runs re-evaluate the criterion *as stated in its text* from the measured numbers of the result (an
independent reading of the verdict): the stated condition must give the check's verdict.
"""

from __future__ import annotations

import inspect
import json
import types

import pytest

import memtheory.verify as V
from memtheory.cli import main


def test_every_check_states_a_criterion_and_passes_it_on():
    checks = V.available_checks()
    assert len(checks) >= 9
    for name, module in checks.items():
        assert not isinstance(module, V.BrokenCheck), f"{name} failed to import: {module.error}"
        text = getattr(module, "CRITERION", "")
        assert isinstance(text, str) and text.startswith("passes when") and len(text.split()) >= 8, name
        assert "criterion=CRITERION" in inspect.getsource(module.run), name


def test_criterion_field_is_last_and_optional():
    res = V.CheckResult("c", True, {"x": 1}, "claim", "details", 1.5)  # positional constructions unchanged
    assert res.seconds == 1.5 and res.criterion == ""
    assert V.CheckResult("c", True, criterion="passes when x < 1").to_dict()["criterion"] == "passes when x < 1"


def test_runner_fills_criterion_from_module():
    module = types.SimpleNamespace(NAME="c", CLAIM="claim", CRITERION="passes when x < 2",
                                   run=lambda quick=False: V.CheckResult("c", True, {"x": 1}))
    assert V.run_check("c", module).criterion == "passes when x < 2"
    crashing = types.SimpleNamespace(NAME="c", CLAIM="claim", CRITERION="passes when x < 2",
                                     run=lambda quick=False: 1 / 0)
    res = V.run_check("c", crashing)
    assert not res.passed and res.criterion == "passes when x < 2"


def test_report_shows_criterion_per_check():
    a = V.CheckResult("a", True, {}, "theory of a", "a: 1.5", criterion="passes when the error is below 1e-6")
    b = V.CheckResult("b", False, {}, "theory of b", "b: 3")
    md = V.report_markdown([a, b])
    sec_a = md.split("## a\n")[1].split("## b\n")[0]
    assert "*Theory:* theory of a" in sec_a and "*Criterion:* Passes when the error is below 1e-6" in sec_a
    assert sec_a.index("*Theory:*") < sec_a.index("*Criterion:*") < sec_a.index("*Measured:*")
    assert "*Criterion:* (not stated by the check)" in md.split("## b\n")[1]
    d = V.report_dict([a, b])
    assert [c["criterion"] for c in d["checks"]] == ["passes when the error is below 1e-6", ""]


def _jackson_verdict(cases: dict) -> bool:
    """jackson_rate's CRITERION, evaluated from its measured numbers."""
    ok = True
    for name, r in cases.items():
        tail = r["err_times_m_alpha"][len(r["m"]) // 2:]  # the quick run's larger widths
        ok &= r["hypotheses_hold"] and r["measured_rate"] >= r["alpha"]
        ok &= all(b <= 1.05 * a for a, b in zip(tail, tail[1:])) and r["gamma_certified_rel_err"] < 1e-10
        if name.startswith("(1+t)"):
            ok &= (r["gamma_rel_err"] < 1e-10 and abs(r["argmax_t"] - 0.5) < 1e-6 and r["argmax_k"] == 2
                   and r["closed_form_in_enclosure"])
        else:
            ok &= not r["alpha2_hypotheses_hold"]
    return bool(ok)


def _loss_verdict(kernels: dict) -> bool:
    """loss_closed_form's CRITERION (quick run: no gradient part), evaluated from its measured numbers."""
    ok = kernels["sin"]["refused"]
    for name, r in kernels.items():
        if name != "sin":
            ok &= (r["rel_err_float64"] < 1e-9 and r["rel_err_dps40"] < 1e-25 and r["certified_rel_err_float64"] < 1e-9
                   and r["certified_rel_err_dps40"] < 1e-25 and r["quadrature_within_1e-25_of_enclosure"])
    return bool(ok)


def _curse_verdict(measured: dict) -> bool:
    """curse_width's CRITERION, evaluated from its measured widths (the tail law recomputed from eps, omega)."""
    ok = True
    for om, v in measured["free"].items():
        ok &= v["p"] is not None and v["p"] < 0.5 / float(om)
    for key, v in measured["margin"].items():  # JSON keys: omega as text
        om = float(key)
        ok &= v["p"] is not None and v["p"] >= 0.5 / om
        free = {r["eps"]: r["m"] for r in measured["free"].get(key, {"rows": []})["rows"]}
        for r in v["rows"]:
            if r["m"] is None or not r["m"] <= 30:
                return False
            ok &= 0.25 <= r["m"] / (0.1 * (om * r["eps"]) ** (-1 / om)) <= 4
            if free.get(r["eps"]) is not None:
                ok &= r["m"] >= free[r["eps"]]
    return bool(ok)


def _inverse_verdict(kernels: dict) -> bool:
    """inverse_linear's CRITERION (quick run: 30-fold fall), evaluated from its measured margins."""
    ok = True
    for r in kernels.values():
        mg = r["margin"]
        if r["kind"] == "power law":
            ok &= all(b < a for a, b in zip(mg, mg[1:])) and mg[-1] < mg[0] / 30
        else:
            ok &= min(mg) >= r["beta"] / 2
    return bool(ok)


def _universal_verdict(kernels: dict) -> bool:
    """universal_approximation's CRITERION (quick run: both errors merely decrease), from its measured errors."""
    ok = True
    for r in kernels.values():
        l1, l2 = r["l1"], r["l2"]
        ok &= all(b <= a * (1 + 1e-10) for a, b in zip(l2, l2[1:])) and l1[-1] < l1[0] and l2[-1] < l2[0]
    return bool(ok)


@pytest.mark.parametrize("name, verdict, key", [("jackson_rate", _jackson_verdict, "cases"),
                                                ("loss_closed_form", _loss_verdict, "kernels"),
                                                ("curse_width", _curse_verdict, None),
                                                ("inverse_linear", _inverse_verdict, "kernels"),
                                                ("universal_approximation", _universal_verdict, "kernels")])
def test_real_quick_check_report_states_its_criterion(name, verdict, key, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(V.FIGURES_ENV, raising=False)
    code = main(["verify", name, "--quick", "--out", str(tmp_path), "--json", "--no-progress"])
    stdout = capsys.readouterr().out
    (check,) = json.loads(stdout)["checks"]
    text = V.available_checks()[name].CRITERION
    assert check["criterion"] == text
    assert verdict(check["measured"] if key is None else check["measured"][key]) == check["passed"] == (code == 0)
    md = (tmp_path / "report.md").read_text()
    assert "*Criterion:* " + text[0].upper() + " ".join(text.split())[1:] in md
    assert json.loads((tmp_path / "report.json").read_text())["checks"][0]["criterion"] == text
