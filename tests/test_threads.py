"""One thread means one thread: ``NUMBA_NUM_THREADS`` and ``train(n_threads=...)`` bound the BLAS pools too.

The check in a fresh interpreter reads the thread counts of both OpenBLAS libraries (numpy's and SciPy's, the one
numba's ``np.dot`` calls) and measures the process's CPU time against its wall time over a width-256 BPTT (BLAS
GEMMs inside the numba kernel) and numpy matrix products: one thread can never use more CPU time than wall time,
whatever else runs on the machine; a second BLAS thread shows up as CPU time above wall time (1.98 cores at
width 256 before the limit existed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from memtheory._runtime import blas_threads, numba_threads
from memtheory.models.nonlinear import NonlinearRNN
from memtheory.training import train

_PROBE = r"""
import json, os, sys, time
if sys.argv[1] == "numpy-first":
    import numpy  # loaded before memtheory: its BLAS pool exists already, memtheory must lower it
import numpy as np
import memtheory
from memtheory._runtime import blas_threads
from memtheory.models.nonlinear import NonlinearRNN

rng = np.random.default_rng(0)
model = NonlinearRNN.random(1, 256, activation="tanh", structure="full", seed=0)
x, y = rng.standard_normal((256, 12, 1)), rng.standard_normal((256, 12))
a = rng.standard_normal((700, 700))
model.loss_and_grad(x, y)  # compile / load the kernel
a @ a
t0, c0 = time.perf_counter(), os.times()
for _ in range(4):
    model.loss_and_grad(x, y)
    a @ a
c1, t1 = os.times(), time.perf_counter()
print(json.dumps({"counts": blas_threads(), "cpu": (c1.user + c1.system) - (c0.user + c0.system),
                  "wall": t1 - t0, "env": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _probe(order: str, env_update: dict[str, str | None]) -> dict:
    env = dict(os.environ)
    for key, value in env_update.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.run([sys.executable, "-c", _PROBE, order], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


_UNSET = {"OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None, "OMP_NUM_THREADS": None}


@pytest.mark.parametrize("order", ["memtheory-first", "numpy-first"])
def test_numba_num_threads_one_means_one_blas_thread(order):
    res = _probe(order, {**_UNSET, "NUMBA_NUM_THREADS": "1"})
    assert set(res["counts"]) == {"numpy", "scipy"}
    assert res["counts"] == {"numpy": 1, "scipy": 1}
    assert res["env"] == "1"  # child processes inherit the limit
    # one thread cannot accumulate more CPU time than wall time (small allowance for clock granularity)
    assert res["cpu"] <= 1.05 * res["wall"] + 0.05, res


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell one BLAS thread from two")
def test_without_the_limit_blas_keeps_its_pool():
    """The control: the probe sees two BLAS threads when nothing limits them (so the check above can fail)."""
    res = _probe("numpy-first", {**_UNSET, "NUMBA_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": "2"})
    assert res["counts"]["numpy"] == 2
    assert res["env"] == "2"


def test_train_n_threads_bounds_blas_inside_and_restores_after():
    before = blas_threads()
    seen = []
    model = NonlinearRNN.random(1, 4, activation="tanh", structure="conjugated", parameterisation="softplus", seed=0)
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((16, 5, 1)), rng.standard_normal((16, 5)))
    train(model, data, epochs=2, batch_size=8, progress=False, n_threads=1,
          callback=lambda epoch, loss, m: seen.append(blas_threads()))
    assert seen and all(counts == {name: 1 for name in before} for counts in seen)
    assert blas_threads() == before
    with numba_threads(None):
        assert blas_threads() == before
