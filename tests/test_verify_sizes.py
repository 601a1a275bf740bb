"""The three sizes of ``memtheory verify`` (quick / default / full), the workers a check may use, and the report
saying which size ran.

References: stand-in check modules whose ``run`` records the arguments it received (what the runner passed is
compared with what each signature accepts), and the report's text and JSON read back.
"""

from __future__ import annotations

import json
import types

import pytest

import memtheory.verify as V
from memtheory.errors import InvalidArgumentError
from memtheory.verify.runner import DEFAULT_COST


def _module(with_full: bool, cost=None):
    calls = []
    if with_full:
        def run(quick: bool = False, full: bool = False):
            calls.append({"quick": quick, "full": full, "workers": V.check_workers()})
            return V.CheckResult("sized", True, {}, "claim", "ok")
    else:
        def run(quick: bool = False):
            calls.append({"quick": quick, "workers": V.check_workers()})
            return V.CheckResult("plain", True, {}, "claim", "ok")
    mod = types.SimpleNamespace(NAME="sized" if with_full else "plain", CLAIM="claim", CRITERION="x < 1", run=run,
                                calls=calls)
    if cost is not None:
        mod.COST = cost
    return mod


def test_full_is_passed_only_to_a_run_that_accepts_it_and_the_result_says_which_size_ran():
    sized, plain = _module(True), _module(False)
    assert V.run_check("sized", sized, full=True).size == "full"
    assert V.run_check("plain", plain, full=True).size == "default"  # no full size: its default ran
    assert V.run_check("sized", sized).size == "default"
    assert V.run_check("plain", plain, quick=True).size == "quick"
    assert sized.calls[0] == {"quick": False, "full": True, "workers": 1}
    assert plain.calls == [{"quick": False, "workers": 1}, {"quick": True, "workers": 1}]
    with pytest.raises(InvalidArgumentError, match="exclude"):
        V.run_size(quick=True, full=True)


def test_a_check_sees_the_workers_of_the_run_only_while_it_runs():
    sized = _module(True)
    V.run_check("sized", sized, workers=3)
    assert sized.calls[-1]["workers"] == 3 and V.check_workers() == 1


def test_checks_sharing_the_workers_run_their_grids_in_their_own_process(monkeypatch):
    # several checks of a default or quick run: 1 worker each for their grids; one check alone, or a full run: all
    def checks(*names):
        mods = {}
        for n in names:
            mod = _module(True)
            mod.NAME = n
            mods[n] = mod
        monkeypatch.setattr(V.runner, "available_checks", lambda: dict(mods))
        return mods

    mods = checks("a", "b")
    V.run_checks(["a", "b"], workers=3, backend="serial")
    V.run_checks(["a", "b"], quick=True, workers=3, backend="serial")
    V.run_checks(["a", "b"], full=True, workers=3, backend="serial")
    assert [c["workers"] for c in mods["a"].calls] == [1, 1, 3]
    assert [c["workers"] for c in mods["b"].calls] == [1, 1, 3]
    alone = checks("a")
    V.run_checks(["a"], workers=3, backend="serial")
    assert alone["a"].calls[-1]["workers"] == 3


def test_check_cost_by_size():
    assert V.check_cost(_module(True, cost=100.0)) == 100.0
    assert V.check_cost(_module(True, cost=100.0), "quick") == 10.0
    assert V.check_cost(_module(True, cost={"quick": 2, "default": 50, "full": 900}), "full") == 900.0
    assert V.check_cost(_module(True)) == DEFAULT_COST


def test_the_report_states_the_size_of_the_run_and_of_each_check(tmp_path):
    a = V.run_check("sized", _module(True), full=True)
    b = V.run_check("plain", _module(False), full=True)
    md = V.report_markdown([a, b], full=True)
    assert "full run (paper scale)" in md and "ran their default size: plain" in md
    assert "| full |" in md and "| default |" in md
    d = V.report_dict([a, b], full=True)
    assert d["size"] == "full" and [c["size"] for c in d["checks"]] == ["full", "default"]
    paths = V.write_report([a], tmp_path, quick=False)
    assert json.loads(paths["json"].read_text())["size"] == "default"
    assert "default run (sizes that decide each claim" in paths["markdown"].read_text()
    assert "quick run" in V.report_markdown([V.run_check("plain", _module(False), quick=True)], quick=True)


def test_every_check_takes_the_three_sizes():
    """The shared convention ``run(quick=False, full=False)``: a check that drops ``full`` would silently run its
    default size under ``memtheory verify --full``."""
    import inspect

    for name, module in V.available_checks().items():
        params = inspect.signature(module.run).parameters
        assert list(params)[:2] == ["quick", "full"], name
        assert params["quick"].default is False and params["full"].default is False, name


def test_a_check_gets_stores_for_its_own_sweeps_beside_the_runs_store(tmp_path):
    seen = []

    def run(quick: bool = False, full: bool = False):
        seen.append(V.check_store("scan"))
        return V.CheckResult("stored", True, {}, "claim", "ok")

    mod = types.SimpleNamespace(NAME="stored", CLAIM="claim", run=run)
    V.run_check("stored", mod, full=True, store=tmp_path / "run.sqlite")
    V.run_check("stored", mod)
    assert seen == [f"{tmp_path / 'run.sqlite'}.stored.full.scan.sqlite", None]
    assert V.check_store("scan") is None  # outside a check
    with pytest.raises(InvalidArgumentError, match="part"):
        V.check_store("../x")


def test_a_checks_cpu_seconds_count_its_own_time_and_the_child_processes_it_waited_for():
    # reference: the CPU time the check and its child measure themselves (time.process_time in each process)
    import subprocess
    import sys
    import time

    seen = {}

    def run(quick: bool = False):
        start = time.process_time()
        while time.process_time() - start < 0.2:
            pass
        seen["own"] = time.process_time() - start
        code = ("import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3:\n    pass\n"
                "print(time.process_time())\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seen["child"] = float(out.stdout.split()[-1])
        return V.CheckResult("burner", True, {}, "claim", "ok")

    mod = types.SimpleNamespace(NAME="burner", CLAIM="claim", CRITERION="x < 1", run=run)
    result = V.run_check("burner", mod)
    assert seen["child"] >= 0.3 and seen["own"] >= 0.2
    assert result.cpu_seconds >= seen["own"] + seen["child"]
    assert result.to_dict()["cpu_seconds"] == result.cpu_seconds
