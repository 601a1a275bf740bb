"""The sweep engine's progress hook (memtheory.sweep.progress) and warnings raised in worker processes.

References: the fractions a listener receives are compared with the ones the points report, computed by hand
(k/4 of each point, weighted by the points' equal weights); the warnings with the ones the same points raise
when run in this process.
"""

from __future__ import annotations

import warnings

import pytest

from memtheory import sweep
from memtheory.errors import InvalidArgumentError
from memtheory.sweep import progress

import sweep_points


def test_report_part_and_steps_map_fractions_onto_the_enclosing_interval():
    got: list[float] = []
    progress.report(0.5)  # nobody listening: a no-op
    assert not progress.listening_active()
    with progress.listening(got.append):
        assert progress.listening_active()
        with progress.part(0.0, 0.5):
            progress.report(0.5)  # a quarter of the whole
            progress.report(0.25)  # backwards: ignored
        steps = progress.Steps(4, start=0.5)
        with steps.step():
            progress.report(0.5)  # half of the first eighth after one half
        steps.advance()
        steps.advance(5)  # clipped at the last step
    assert got == [0.25, 0.5, 0.5625, 0.625, 0.75, 1.0]
    with pytest.raises(InvalidArgumentError):
        progress.Steps(0)
    with pytest.raises(InvalidArgumentError):
        with progress.part(0.6, 0.4):
            pass
    with progress.listening(got.append), pytest.raises(InvalidArgumentError, match="nan"):
        progress.report(float("nan"))


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_points_reporting_progress_move_the_enclosing_listener_within_a_point(backend):
    """Three points of equal weight, each reporting k/4 done: the listener sees fractions that are not
    multiples of 1/3 (sub-point progress reached it, from the worker processes too), increasing, ending at 1."""
    got: list[float] = []
    pts = [{"n": n, "sleep": 0.6} for n in range(3)]
    with progress.listening(got.append):
        res = sweep.run(sweep_points.reports_progress, pts, backend=backend, workers=2 if backend != "serial" else None)
    assert res.values == [0, 1, 2]
    assert got == sorted(got) and got[-1] == pytest.approx(1.0)
    within = [f for f in got if abs(3 * f - round(3 * f)) > 1e-9]
    assert within, got
    if backend == "serial":  # one point after the other: exactly k/12
        assert got == pytest.approx([k / 12 for k in range(1, 13)])


def test_a_sweep_inside_a_point_reports_its_completion_to_the_outer_one():
    got: list[float] = []
    with progress.listening(got.append):
        res = sweep.run(sweep_points.nested_sweep, [{"n": 2, "sleep": 0.0}], backend="serial")
    assert res.values == [[0, 1]]
    # the inner sweep's two points of four quarters each: eighths of the one outer point
    assert got == pytest.approx([k / 8 for k in range(1, 9)])


def _raised(run) -> list[tuple]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = run()
    return values, [(w.category, str(w.message), w.filename, w.lineno) for w in caught]


def test_a_warning_in_worker_processes_reaches_the_parent_once_with_its_category():
    pts = [{"n": n} for n in range(6)]
    serial, ref = _raised(lambda: sweep.run(sweep_points.warns_when_odd, pts, backend="serial").values)
    assert len(ref) == 9 and len(set(ref)) == 1  # 3 odd points x 3 warnings in this process, all alike
    par, got = _raised(lambda: sweep.run(sweep_points.warns_when_odd, pts, workers=2).values)
    assert par == serial == list(range(6))
    assert got == ref[:1]
    assert got[0][0] is sweep_points.PointWarning
    # the parent's filters decide: ignored here, nothing shown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", sweep_points.PointWarning)
        sweep.run(sweep_points.warns_when_odd, pts, workers=2)
    assert not caught


def test_a_warning_on_a_dask_worker_reaches_the_parent_once():
    distributed = pytest.importorskip("distributed", reason="Dask backend: install memtheory[cluster]")
    pts = [{"n": n} for n in range(4)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        values, got = _raised(lambda: sweep.run(sweep_points.warns_when_odd, pts,
                                                backend=cluster.scheduler_address).values)
    assert values == [0, 1, 2, 3]
    mine = [g for g in got if g[0] is sweep_points.PointWarning]  # Dask may warn of its own things
    assert len(mine) == 1 and mine[0][1] == "odd points are suspicious"



def _many_small_steps(point):
    steps = progress.Steps(3)
    for _ in range(3):
        with steps.step():
            for k in range(1, 41):
                progress.report(k / 40)  # epoch by epoch
    return point


@pytest.mark.parametrize("weight", [6.0, 0.7, 2.2])
def test_many_small_fractions_never_take_the_bar_past_its_total(weight, capsys):
    # 120 fractions of a weight of 6 add up to a little more than 6 in floating point (so do 0.7 and 2.2); tqdm
    # then warns ("clamping frac") and shows a negative time left
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = sweep.run(_many_small_steps, [0], backend="serial", weights=[weight], progress=True)
    assert res.values == [0]
    assert "<-" not in capsys.readouterr().err


def test_train_reports_each_epoch_to_the_enclosing_point():
    # the hook every training check and train_series rely on: one fraction per finished epoch, also when a
    # callback stops training early
    import numpy as np

    from memtheory.models.nonlinear import NonlinearRNN
    from memtheory.training import train
    from progress_probe import recorded

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 10, 1)), rng.standard_normal((16, 10))
    model = NonlinearRNN.random(1, 4, seed=0)
    _, fractions = recorded(train, model, (x, y), epochs=5, batch_size=8, progress=False)
    assert fractions == [pytest.approx(k / 5) for k in range(1, 6)]
    _, fractions = recorded(train, model, (x, y), epochs=5, batch_size=8, progress=False,
                            callback=lambda epoch, loss, m: epoch == 1)
    assert fractions == [pytest.approx(0.2), pytest.approx(0.4)]
