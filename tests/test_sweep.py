"""The sweep engine (memtheory.sweep): backends, the result store, resume, failures, bad input.

References: direct loops over the same points (exact rational sums for the engine; the serial run of the same
scan for the parallel and Dask backends, which must agree to the last digit); the store's rows read back with
SQLite itself.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest

import memtheory as mt
from memtheory import plateau, sweep
from memtheory.errors import (InvalidArgumentError, SchedulerUnreachableError, StoreMismatchError,
                              SweepBackendError)

import sweep_points

HERE = Path(__file__).resolve().parent
A0, W0, DELTA = [1.0, 0.0], [0.5, 2.0], 0.05
XS16 = [2.0 + 0.5 * k for k in range(16)]
TARGET = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"


def family():
    return mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), omega=0.1)


def exact_basel(n: int) -> str:
    """The partial sum from exact fractions, rounded to 40 digits by mpmath once."""
    s = sum(Fraction(1, j * j) for j in range(1, n + 1))
    with mp.workdps(40):
        return mp.nstr(mp.mpf(s.numerator) / s.denominator, 40)


def without_seconds(scan) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in scan.table()]


@pytest.fixture(scope="module")
def serial16():
    return plateau.scan(family(), A0, W0, DELTA, XS16, error_estimate=False)


def test_grid_and_point_keys():
    pts = sweep.grid(m=[2, 4], x=[0.1, 0.25])
    assert pts == [{"m": 2, "x": 0.1}, {"m": 2, "x": 0.25}, {"m": 4, "x": 0.1}, {"m": 4, "x": 0.25}]
    assert sweep.point_key({"x": 0.1, "m": np.int64(2)}) == '{"m":2,"x":0.1}'
    assert sweep.point_key({"x": 1 / 3}) != sweep.point_key({"x": 0.3333333333333333 + 1e-16})
    with pytest.raises(InvalidArgumentError, match="finite"):
        sweep.point_key({"x": float("nan")})
    with pytest.raises(InvalidArgumentError, match="distinct"):
        sweep.run(abs, [1, 2, 1], backend="serial")
    with pytest.raises(InvalidArgumentError, match="empty"):
        sweep.grid(m=[])


def test_serial_and_processes_agree_with_exact_sums():
    pts = [{"n": n} for n in (1, 5, 17, 40, 99, 250)]
    ref = [exact_basel(p["n"]) for p in pts]
    serial = sweep.run(sweep_points.basel_partial_sum, pts, backend="serial")
    par = sweep.run(sweep_points.basel_partial_sum, pts, workers=2)
    assert serial.values == ref and par.values == ref
    assert (serial.backend, par.backend, par.workers, par.computed, par.reused) == ("serial", "processes", 2, 6, 0)


def test_scan_of_16_points_with_2_workers_equals_serial(serial16):
    par = plateau.scan(family(), A0, W0, DELTA, XS16, error_estimate=False, workers=2)
    assert without_seconds(par) == without_seconds(serial16)
    assert [r.tau0_mp for r in par.rows] == [r.tau0_mp for r in serial16.rows]
    assert par.fit == serial16.fit
    assert all(r.status == "events" for r in par.rows)


def test_scan_on_a_local_dask_cluster_equals_serial(serial16):
    distributed = pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        res = plateau.scan(family(), A0, W0, DELTA, XS16, error_estimate=False, backend=cluster.scheduler_address)
        with distributed.Client(cluster) as client:  # a client the caller owns is left open
            again = sweep.run(sweep_points.basel_partial_sum, [{"n": 7}], backend=client)
            assert client.status == "running"
    assert without_seconds(res) == without_seconds(serial16)
    assert again.values == [exact_basel(7)] and again.backend == "dask"


def test_store_keeps_points_resume_skips_them_and_reads_the_table_back(tmp_path):
    store = tmp_path / "s.sqlite"
    pts = [{"n": n} for n in (3, 8, 21)]
    first = sweep.run(sweep_points.basel_partial_sum, pts[:2], backend="serial", store=store)
    assert (first.computed, first.reused) == (2, 0)
    second = sweep.run(sweep_points.basel_partial_sum, pts, workers=2, store=store)
    assert (second.computed, second.reused) == (1, 2)
    assert second.values == [exact_basel(p["n"]) for p in pts]
    with sqlite3.connect(store) as db:  # the store itself, read without memtheory
        rows = db.execute("SELECT key, status, version FROM points ORDER BY key").fetchall()
    assert [r[0] for r in rows] == sorted(sweep.point_key(p) for p in pts)
    assert {r[1] for r in rows} == {"ok"} and {r[2] for r in rows} == {sweep.code_version(sweep_points.__file__)}


def test_a_failed_point_is_recorded_and_the_others_go_on(tmp_path):
    store = tmp_path / "f.sqlite"
    pts = [{"n": n} for n in range(1, 6)]
    res = sweep.run(sweep_points.fails_on_three, pts, workers=2, store=store)
    assert [v for v in res.values if not isinstance(v, sweep.PointError)] == [1, 4, 16, 25]
    (bad,) = res.failures
    assert bad.point == {"n": 3} and bad.error == "ValueError: three is refused" and "fails_on_three" in bad.traceback
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT status, error FROM points WHERE key = ?", (sweep.point_key({"n": 3}),)).fetchone() \
            == ("failed", "ValueError: three is refused")
    kept = sweep.run(sweep_points.fails_on_three, pts, backend="serial", store=store, retry_failed=False)
    assert kept.computed == 0 and kept.failures[0].error == bad.error
    retried = sweep.run(sweep_points.fails_on_three, pts, backend="serial", store=store)
    assert retried.computed == 1 and len(retried.failures) == 1
    with pytest.raises(mt.errors.PointFailedError, match="1 of 5 points failed"):
        retried.raise_failures()
    typed = sweep.run(sweep_points.typed_error_below_zero, [{"n": 1}, {"n": -1}], backend="serial")
    with pytest.raises(InvalidArgumentError, match="n must be >= 0, got -1"):  # a memtheory error keeps its type
        typed.raise_failures()


def test_a_failed_scan_point_has_an_error_row():
    # float64 resolves 1/omega = 4 but refuses 100 (its escape forces are below float64's reach): one row each
    with pytest.warns(UserWarning, match="1 of 2 plateau points failed"):
        res = plateau.scan(family(), A0, W0, DELTA, [4.0, 100.0], method="float64", error_estimate=False,
                           backend="serial")
    rows = res.table()
    assert rows[0]["status"] == "events" and rows[1]["status"] == "error" and rows[1]["tau0"] is None
    assert rows[1]["message"].startswith("PrecisionError: float64 cannot resolve this plateau")


def test_store_of_another_sweep_or_not_a_store_is_refused(tmp_path):
    store = tmp_path / "a.sqlite"
    sweep.run(sweep_points.basel_partial_sum, [{"n": 2}], backend="serial", store=store)
    with pytest.raises(StoreMismatchError, match=r'another sweep: function is "sweep_points.basel_partial_sum" '
                                                 r'there, "sweep_points.fails_on_three" here; use another file'):
        sweep.run(sweep_points.fails_on_three, [{"n": 2}], backend="serial", store=store)
    scan_store = tmp_path / "p.sqlite"
    plateau.scan(family(), A0, W0, DELTA, [4.0], error_estimate=False, store=scan_store)
    with pytest.raises(StoreMismatchError, match=r"another sweep: key\.delta is 0\.05 there, 0\.1 here"):
        plateau.scan(family(), A0, W0, 0.1, [4.0], error_estimate=False, store=scan_store)
    # descriptions alike for hundreds of characters: the message names the key where they part, both values
    long_store = tmp_path / "long.sqlite"
    settings = {"family": "x" * 300, "options": {"rtol": 1e-8, "method": "auto"}}
    sweep.run(abs, [1], backend="serial", store=long_store, key=settings)
    other = {"family": "x" * 300, "options": {"rtol": 1e-8, "method": "mpmath"}}
    with pytest.raises(StoreMismatchError, match=r'key\.options\.method is "auto" there, "mpmath" here'):
        sweep.run(abs, [1], backend="serial", store=long_store, key=other)
    with pytest.raises(StoreMismatchError, match=r"key\.options\.dps is absent there, 30 here"):
        sweep.run(abs, [1], backend="serial", store=long_store, key={**settings, "options": {**settings["options"],
                                                                                           "dps": 30}})
    junk = tmp_path / "junk.txt"
    junk.write_text("not a database\n" * 100)
    with pytest.raises(InvalidArgumentError, match="cannot use"):
        sweep.run(abs, [1], backend="serial", store=junk)
    with pytest.raises(InvalidArgumentError, match="directory"):
        sweep.run(abs, [1], backend="serial", store=tmp_path)


def test_resume_after_a_kill_half_way_gives_the_same_table(tmp_path):
    store = tmp_path / "k.sqlite"
    pts = [{"n": n, "sleep": 0.4} for n in range(1, 13)]
    code = ("import sys; sys.path.insert(0, sys.argv[2]); import sweep_points; from memtheory import sweep; "
            f"sweep.run(sweep_points.basel_partial_sum, {pts!r}, backend='serial', store=sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(store), str(HERE)])
    done = 0
    deadline = time.monotonic() + 300
    while done < len(pts) // 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if store.exists():
            try:
                with sqlite3.connect(store) as db:
                    done = db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:  # the tables are being created
                pass
    proc.kill()
    proc.wait()
    with sqlite3.connect(store) as db:
        killed_at = db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    assert len(pts) // 2 <= killed_at < len(pts)
    resumed = sweep.run(sweep_points.basel_partial_sum, pts, backend="serial", store=store)
    assert (resumed.reused, resumed.computed) == (killed_at, len(pts) - killed_at)
    fresh = sweep.run(sweep_points.basel_partial_sum, pts, backend="serial")
    assert resumed.values == fresh.values == [exact_basel(p["n"]) for p in pts]


def test_bad_backend_input():
    with pytest.raises(InvalidArgumentError, match="workers must be an integer >= 1"):
        sweep.run(abs, [1, 2], workers=0)
    with pytest.raises(InvalidArgumentError, match="workers must be"):
        sweep.run(abs, [1, 2], workers=True)
    with pytest.raises(InvalidArgumentError, match="backend must be"):
        sweep.run(abs, [1, 2], backend="threads")
    with pytest.raises(InvalidArgumentError, match="weights"):
        sweep.run(abs, [1, 2], backend="serial", weights=[1, -1])


def test_a_scheduler_that_does_not_answer_is_a_clear_error():
    pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    with pytest.raises(SchedulerUnreachableError, match="no Dask scheduler answers at 'tcp://127.0.0.1:9'"):
        sweep.run(abs, [1, 2], backend="tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(InvalidArgumentError, match="scheduler address 'tcp://host:port' is not valid"):
        sweep.run(abs, [1, 2], backend="tcp://host:port")


def test_cli_sweep_options(capsys, tmp_path):
    from memtheory.cli import main

    base = ["plateau", "--target", TARGET, "--a0", "1,0", "--w0", "0.5,2", "--delta", "0.05", "--inv-omega", "4,6",
            "--no-error-estimate", "--json"]
    assert main(base + ["--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers must be >= 1, got 0" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "not both" in capsys.readouterr().err
    store = tmp_path / "cli.sqlite"
    assert main(base + ["--store", str(store)]) == 0
    first = capsys.readouterr().out
    assert main(base + ["--store", str(store), "--inv-omega", "4,6"]) == 0
    assert capsys.readouterr().out.replace(" ", "")[:200] == first.replace(" ", "")[:200]
    assert main(base + ["--store", str(store), "--delta", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "holds another sweep" in err and len(err.strip().splitlines()) == 1
    if pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]"):
        assert main(base + ["--scheduler", "tcp://127.0.0.1:9"]) == 2
        err = capsys.readouterr().err
        assert "no Dask scheduler answers" in err and len(err.strip().splitlines()) == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCHEDULER_COMMANDS = {
    "plateau": ["plateau", "--target", TARGET, "--a0", "1,0", "--w0", "0.5,2", "--delta", "0.05", "--inv-omega", "4"],
    "perturb": ["perturb", "--target", "exp(-t)", "--a", "1", "--w", "1", "--betas", "0,0.01"],
    "approx best": ["approx", "best", "--target", "(1+t)**(-1.5)", "--m", "1,2"],
    "verify": ["verify", "loss_closed_form", "--quick"],
}


@pytest.mark.parametrize("command", list(SCHEDULER_COMMANDS))
def test_a_scheduler_address_where_nothing_listens_is_one_line_naming_it_exit_2(command, capsys):
    pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    from cli_run import run

    address = f"tcp://127.0.0.1:{_free_port()}"
    rc, out, err = run([*SCHEDULER_COMMANDS[command], "--scheduler", address], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"no Dask scheduler answers at '{address}': Connection refused" in err
    assert "Traceback" not in err and "MemoryError" not in err


def test_a_scheduler_address_that_accepts_and_never_speaks_is_one_line_exit_2():
    pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held = []

    def accept_and_stay_silent():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    try:
        proc = subprocess.run([sys.executable, "-m", "memtheory.cli", *SCHEDULER_COMMANDS["plateau"],
                               "--scheduler", f"tcp://127.0.0.1:{port}"], capture_output=True, text=True,
                              timeout=120)  # generous: the hang is what fails
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"at 'tcp://127.0.0.1:{port}': something accepts connections there but sends nothing" in proc.stderr


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, ...), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (spawned by multiprocessing; not its resource tracker)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (_stat(int(entry)) or [None, None])[1] == str(pid):
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                kids.append(int(entry))
    return kids


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (gone, or a zombie that has exited, is not running)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _await_workers(proc: subprocess.Popen, marker: str) -> str:
    """Read ``proc``'s stderr until ``marker`` appears, then until it has its worker processes; the text read."""
    err = ""
    while marker not in err:
        ch = proc.stderr.read(1)
        assert ch, f"the command ended before {marker!r} appeared: {err}"
        err += ch
    while not _children(proc.pid):
        assert proc.poll() is None, f"the command ended before it started its workers: {err}"
        time.sleep(0.05)
    return err


PLATEAU = ["plateau", "--target", TARGET, "--a0", "1,0", "--w0", "1/2,2", "--delta", "0.05",
           "--inv-omega", "4,6,8,10,12,14", "--workers", "2"]


def test_ctrl_c_stops_the_workers_with_one_line_and_exit_130(tmp_path):
    store = tmp_path / "int.sqlite"
    cmd = [sys.executable, "-m", "memtheory.cli", "plateau", "--target", TARGET, "--a0", "1,0", "--w0", "0.5,2",
           "--delta", "0.05", "--inv-omega", "30,40,50,60", "--method", "mpmath", "--workers", "2",
           "--store", str(store), "--progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    while "plateau:" not in err:  # the sweep has started once its progress bar is drawn
        ch = proc.stderr.read(1)
        assert ch, f"the command ended before its sweep started: {err}"
        err += ch
    time.sleep(3)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=60)
    err += rest
    assert proc.returncode == 130
    assert "Traceback" not in err
    lines = [s.strip() for s in err.replace("\r", "\n").splitlines() if s.strip() and not s.startswith("plateau:")]
    assert lines == ["memtheory plateau: interrupted"]
    assert not [pid for pid in workers if _running(pid)], "workers still running"  # not merely orphaned
    with sqlite3.connect(store) as db:  # the store is consistent: it opens and its rows are whole
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# a sweep of many short points: the pool's thread takes the futures' locks all the time, where a Ctrl-C raised
# at an arbitrary bytecode of the main thread left a lock held (the exit hung) or released ("release unlocked lock")
_BUSY_SWEEP = """
import sys
import sweep_points
from memtheory import sweep

started = []

def on_result(index, value):
    if not started:
        started.append(index)
        print("started", flush=True)

points = [{"n": 3, "sleep": 0.002, "k": k} for k in range(20000)]
try:
    sweep.run(sweep_points.basel_partial_sum, points, workers=2, progress=True, on_result=on_result)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def _interrupt_busy_sweep(delay: float) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) ``delay`` s into a busy sweep."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(mt.__file__).parents[1]), str(HERE)]))
    proc = subprocess.Popen([sys.executable, "-c", _BUSY_SWEEP], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        assert proc.stdout.readline() == "started\n"
        time.sleep(delay)
        workers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # generous: a hang is what fails
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (proc.returncode, out) == (130, "interrupted\n"), err[-2000:]
    assert "Traceback" not in err and "Error" not in err, err[-2000:]
    assert workers and not [pid for pid in workers if _running(pid)]


def test_ctrl_c_during_a_busy_sweep_raises_keyboard_interrupt_and_stops_the_workers():
    _interrupt_busy_sweep(0.3)


@pytest.mark.slow  # 10 runs of a few seconds; the fast sibling interrupts once
@pytest.mark.parametrize("delay", [0.1 * k for k in range(10)])
def test_ctrl_c_during_a_busy_sweep_at_varied_moments(delay):
    _interrupt_busy_sweep(delay)


@pytest.mark.slow  # 10 runs of the plateau command, each a few seconds until interrupted
def test_ctrl_c_at_varied_moments_of_plateau_workers_2_is_one_line_and_130_each_time():
    for k in range(10):
        proc = subprocess.Popen([sys.executable, "-m", "memtheory.cli", *PLATEAU], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            err = _await_workers(proc, "plateau:")
            time.sleep(0.4 * k)  # from the workers' start-up (imports) to their first points
            workers = _children(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            out, rest = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        err += rest
        lines = [s.strip() for s in err.replace("\r", "\n").splitlines() if s.strip() and not s.startswith("plateau:")]
        assert (proc.returncode, lines) == (130, ["memtheory plateau: interrupted"]), (k, err[-2000:])
        assert not [pid for pid in workers if _running(pid)], k


@pytest.mark.parametrize("command", [
    pytest.param(PLATEAU, id="plateau"),
    pytest.param(["verify", "--quick", "--workers", "2"], id="verify", marks=pytest.mark.slow),
])
def test_sigterm_stops_the_workers_with_one_line_and_exit_143(command):
    proc = subprocess.Popen([sys.executable, "-m", "memtheory.cli", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        bar = "plateau:" if command[0] == "plateau" else "verify --quick:"
        err = _await_workers(proc, bar)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)  # to the command only: it must stop its workers itself
        out, rest = proc.communicate(timeout=120)  # the workers hold its stderr open while they run
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    err += rest
    lines = [s.strip() for s in err.replace("\r", "\n").splitlines()
             if s.strip() and not s.startswith(bar)]
    assert proc.returncode == 143
    assert lines == [f"memtheory {command[0]}: terminated"], err[-2000:]
    assert not [pid for pid in workers if _running(pid)], "workers still running"


def test_perturbation_errors_over_widths_equal_the_direct_loop(tmp_path):
    from memtheory.theory.stability import perturbation_error, perturbation_errors

    rho = mt.Kernel("exp(-t) + exp(-3*t)/2")
    models = {1: mt.DiagonalRNN([1.2], [1.3]), 2: mt.DiagonalRNN([1.0, 0.5], [1.0, 3.0])}
    betas = [0.0, 0.01, 0.1]
    direct = {m: perturbation_error(model, rho, betas, repeats=4, seed=3) for m, model in models.items()}
    par = perturbation_errors(models, rho, betas, repeats=4, seed=3, workers=2, store=tmp_path / "pe.sqlite")
    again = perturbation_errors(models, rho, betas, repeats=4, seed=3, store=tmp_path / "pe.sqlite")
    for m in models:
        assert par[m].errors.tolist() == direct[m].errors.tolist() == again[m].errors.tolist()
    with pytest.raises(StoreMismatchError):
        perturbation_errors(models, rho, betas, repeats=5, seed=3, store=tmp_path / "pe.sqlite")


@pytest.mark.slow  # 20 s; the scan and perturbation sweeps in parallel stay in the default suite
def test_verify_checks_in_parallel_match_the_serial_run():
    from memtheory.verify import run_checks

    names = ["loss_closed_form", "inverse_linear"]
    serial = run_checks(names, quick=True)
    par = run_checks(names, quick=True, workers=2)
    assert [r.name for r in par] == names
    assert [r.passed for r in par] == [r.passed for r in serial] == [True, True]
    assert [r.claim for r in par] == [r.claim for r in serial]


def test_an_address_where_something_else_answers_is_a_clear_error():
    pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_garbage():
        conn, _ = server.accept()
        conn.sendall(b"\xff" * 64)  # not Dask's protocol: a frame header announcing an absurd length

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        with pytest.raises(SweepBackendError, match=f"127.0.0.1:{port}"):
            sweep.run(abs, [1, 2], backend=f"tcp://127.0.0.1:{port}", timeout=3)
    finally:
        server.close()
