"""A plateau scan of 16 points: serial against ``--workers 2`` (and a local Dask cluster of 2 workers), in one run.

Prints the wall times, the ratios serial / parallel, and whether the tables agree to the last digit. The points
are those of the ``plateau_timescale`` check's float64 range (m = 10, 1/omega = 8..15.5, error estimates on),
each a few tenths of a second to a few seconds; the worker processes' start-up (imports, loading the compiled
flow from the disk cache) is part of the parallel times.

With ``--heavy`` the points are the check's arbitrary-precision ones (m = 10, 1/omega = 24..39, on Arb, about
10-25 s each): since the float64 points stop at their hitting times they take 0.1-2 s, so a 16-point float64 scan
is shorter than two workers' start-up (imports, loading the compiled flow: about 3-4 s each), and the ratio
measures that start-up, not the sweep.

Run: ``python benchmarks/bench_sweep.py [--no-dask] [--heavy]``.
"""

from __future__ import annotations

import sys
import time

from memtheory import plateau
from proofs_checks.plateau_timescale import DELTA, setting

XS = [8.0 + 0.5 * k for k in range(16)]


def table(scan) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in scan.table()]


def main() -> None:
    family, a0, w0 = setting()
    heavy = "--heavy" in sys.argv
    xs, method = ([24.0 + k for k in range(16)], "mpmath") if heavy else (XS, "float64")
    plateau.hitting_times(family.with_params(omega=1 / 8), a0, w0, DELTA)  # compile (or load) the flow first
    print(f"16 points, m = {len(a0)}, 1/omega = {xs[0]:g}..{xs[-1]:g}, method {method}")
    t = time.perf_counter()
    serial = plateau.scan(family, a0, w0, DELTA, xs, method=method)
    t_serial = time.perf_counter() - t
    print(f"serial:        {t_serial:7.2f} s")
    t = time.perf_counter()
    par = plateau.scan(family, a0, w0, DELTA, xs, method=method, workers=2)
    t_par = time.perf_counter() - t
    print(f"2 processes:   {t_par:7.2f} s   ratio {t_serial / t_par:5.2f}x   identical: {table(par) == table(serial)}")
    if "--no-dask" in sys.argv:
        return
    try:
        import distributed
    except ImportError:
        print("Dask: not installed (pip install 'memtheory[cluster]')")
        return
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        plateau.scan(family, a0, w0, DELTA, XS[:2], method="float64", backend=cluster.scheduler_address)  # warm
        t = time.perf_counter()
        dsk = plateau.scan(family, a0, w0, DELTA, xs, method=method, backend=cluster.scheduler_address)
        t_dask = time.perf_counter() - t
    print(f"Dask, 2 workers (started, warm): {t_dask:7.2f} s   ratio {t_serial / t_dask:5.2f}x   "
          f"identical: {table(dsk) == table(serial)}")


if __name__ == "__main__":
    main()
