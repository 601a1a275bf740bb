"""Benchmark: the plateau flows on Arb (python-flint) against the same flows on mpmath, in one run.

The arbitrary-precision plateau flows (:mod:`memtheory.theory.plateau.systems`, RODAS4 of
:mod:`memtheory.dynamics.rodas`) are one algorithm over an arithmetic (:mod:`memtheory.compile.arith`). This
script runs

1. the command-line scan ``memtheory plateau --target "exp(-2*t/5) + exp(-(t - 1/omega)**2/(2*(7/10)**2))"
   --a0 1,0,0 --w0 0.4,1.5,3.0 --delta 0.05 --inv-omega 100,200,500,1000,2000`` (through the API, with the
   error estimate, as the command does): per point ``log10 tau_0``, its error estimate and the wall time;
2. the consistency of 1/omega = 1000 and 2000 with the 100..500 points: ``z = ln tau_0 + 2 ln(1/omega) -
   2 w_l/omega`` tends to ``ln K`` (``tau_0 ~ K omega^2 e^{2 w_l/omega}``, docs/theory.md §4); ``z = ln K + c omega``
   fitted on 100..500 predicts ``ln tau_0`` at 1000 and 2000;
3. the stability of those two points under doubling the digits;
4. the speed ratio mpmath / flint of single runs (no error estimate) at 1/omega = 1000 and 2000, of the full
   flow of ten rates at 1/omega = 10 (42 digits; flint's tau_0' there was once wrong, now the same to ~1e-10),
   and of the ``plateau_timescale`` check's m = 10 point at 1/omega = 2000;
5. the time to the one-line premise error for ``--w0 0.40000001,1.5,3`` at 1/omega = 1000 (the command itself).

Seconds depend on the machine and its load: each is given as wall time and as the process's CPU time (on a
loaded machine the CPU time is what a quiet one would take); the ratios of one run are the result. Run:
``python benchmarks/bench_plateau.py [--quick]`` (``--quick``: no mpmath m = 10 run, no doubling at 2000).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import time

import mpmath as mp
import numpy as np
import sympy as sp

import memtheory as mt
from memtheory import plateau
from memtheory.cli import main as cli

TARGET = "exp(-2*t/5) + exp(-(t - 1/omega)**2/(2*(7/10)**2))"
A0, W0, DELTA = ["1", "0", "0"], ["0.4", "1.5", "3.0"], 0.05
XS = [100, 200, 500, 1000, 2000]


def timed(f, *args, **kwargs):
    """``(result, wall seconds, CPU seconds)``."""
    t, c = time.perf_counter(), time.process_time()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t, time.process_time() - c


def point(x, **kwargs):
    family = mt.Kernel(TARGET, omega=1)
    return plateau.hitting_times(family.with_params(omega=sp.Rational(1, x)), A0, W0, DELTA, **kwargs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    quick = ap.parse_args().quick

    print("1. the scan (flint, with the error estimate, as the command runs it)")
    rows = {}
    for x in XS:
        rows[x] = r = (out := timed(point, x))[0]
        print(f"   1/omega = {x:5d}: log10 tau0 = {r.log10_tau0:.6f}  rel_error = {r.rel_error:.2g}  "
              f"method = {r.method}  dps = {r.dps}  wall {out[1]:5.1f} s, CPU {out[2]:5.1f} s  status = {r.status}")

    print("2. 1000 and 2000 against the 2 w_l law fitted on 100..500 (z = ln tau0 + 2 ln x - 2 w_l x = ln K + c/x)")
    w_l = 0.4
    z = {x: rows[x].log10_tau0 * math.log(10) + 2 * math.log(x) - 2 * w_l * x for x in XS}
    fit = np.polyfit([1 / x for x in XS[:3]], [z[x] for x in XS[:3]], 1)
    for x in XS[3:]:
        pred = np.polyval(fit, 1 / x)
        print(f"   1/omega = {x}: ln tau0 measured - predicted = {z[x] - pred:+.4f} (ln tau0 = "
              f"{rows[x].log10_tau0 * math.log(10):.3f}); z = {z[x]:.4f}")
    print(f"   ln K = {fit[1]:.4f}, c = {fit[0]:.3f}; slope of ln tau0 on 1000..2000 = "
          f"{(rows[2000].log10_tau0 - rows[1000].log10_tau0) * math.log(10) / 1000:.5f} (2 w_l = {2 * w_l})")

    print("3. doubling the digits")
    for x in XS[3:] if not quick else XS[3:4]:
        base = rows[x]
        doubled = point(x, dps=2 * base.dps, error_estimate=False)
        with mp.workdps(2 * base.dps):
            change = abs(doubled.tau0_mp - base.tau0_mp) / base.tau0_mp
        print(f"   1/omega = {x}: {base.dps} -> {2 * base.dps} digits changes tau0 by {mp.nstr(change, 3)} "
              f"(relative; rel_error estimate {base.rel_error:.2g})")

    print("4. speed: the same algorithm over mpmath and over flint (single runs, no error estimate)")
    for x in XS[3:]:
        f, _, tf = timed(point, x, error_estimate=False, arithmetic="flint")
        m, _, tm = timed(point, x, error_estimate=False, arithmetic="mpmath")
        with mp.workdps(f.dps):
            agree = abs(f.tau0_mp - m.tau0_mp) / m.tau0_mp
        print(f"   m = 3, 1/omega = {x}: CPU mpmath {tm:6.1f} s, flint {tf:6.1f} s, ratio {tm / tf:4.1f}x; "
              f"tau0 agree to {mp.nstr(agree, 3)}")
    family = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), omega=1)
    a10, w10 = np.r_[1.0, np.zeros(9)], np.geomspace(0.5, 4.0, 10)
    rho_full = family.with_params(omega=sp.Rational(1, 10))
    full = {}
    for name in ("flint", "mpmath"):
        full[name] = timed(plateau.hitting_times, rho_full, a10, w10, DELTA, method="mpmath", dps=42,
                           error_estimate=False, arithmetic=name)
    (ff, _, tff), (fm, _, tfm) = full["flint"], full["mpmath"]
    with mp.workdps(42):
        agree = abs(ff.tau0_prime_mp - fm.tau0_prime_mp) / fm.tau0_prime_mp
    print(f"   full flow, m = 10, 1/omega = 10, 42 digits: CPU mpmath {tfm:.1f} s, flint {tff:.1f} s, ratio "
          f"{tfm / tff:.1f}x; tau0' {mp.nstr(ff.tau0_prime_mp, 10)} (flint) against {mp.nstr(fm.tau0_prime_mp, 10)} "
          f"(mpmath), relative difference {mp.nstr(agree, 3)}")
    rho10 = family.with_params(omega=sp.Rational(1, 2000))
    f10, w_f10, tf10 = timed(plateau.hitting_times, rho10, a10, w10, DELTA)
    print(f"   plateau_timescale's m = 10 point at 1/omega = 2000 (with the error estimate, as the check runs it): "
          f"flint wall {w_f10:.1f} s, CPU {tf10:.1f} s, log10 tau0 = {f10.log10_tau0:.4f}, rel_error "
          f"{f10.rel_error:.2g}")
    if not quick:
        m10, _, tm10 = timed(plateau.hitting_times, rho10, a10, w10, DELTA, arithmetic="mpmath")
        print(f"   the same in mpmath: CPU {tm10:.1f} s, ratio {tm10 / tf10:.1f}x; log10 tau0 = {m10.log10_tau0:.4f}")

    print("5. the premise error (the command, in this process)")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, t, c = timed(cli, ["plateau", "--target", TARGET, "--a0", "1,0,0", "--w0", "0.40000001,1.5,3",
                                 "--delta", "0.05", "--inv-omega", "1000", "--json"])
    print(f"   exit code {code} after {t:.2f} s (CPU {c:.2f} s); {err.getvalue().count(chr(10))} line on stderr:")
    print("   " + err.getvalue().strip())


if __name__ == "__main__":
    main()
