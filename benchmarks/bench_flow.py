"""Benchmark: compiled gradient flows against scipy.integrate.solve_ivp, in one run.

For m = 4, 16, 64 the flow of the exact L2 loss of a diagonal RNN against a long-memory target
(rho = e^{-0.5 t} + Gaussian spike at lag 1/omega) is integrated from a plateau start by

* memtheory: ``GradientFlow.solve`` (numba DOPRI5 -> Radau IIA with the analytic Hessian), and
* what a user would write instead: ``solve_ivp`` with a vectorised numpy right-hand side of the *same* closed
  form (RK45 and LSODA; Radau with finite-difference Jacobian, as solve_ivp does by default),

at the same tolerances. Reported: agreement of the final states and of the hitting time tau_0
(``||theta - theta_0|| = delta``), and the speed ratio per trajectory (compile time reported separately).
Then the ensemble throughput on 1 and 2 threads. Run: ``python benchmarks/bench_flow.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.integrate import solve_ivp

import memtheory as mt

RTOL, ATOL = 1e-8, 1e-10


def problem(m: int, inv_omega: float = 6.0):
    rho = mt.kernels.memory_family(mt.kernels.exponential(0.5), mt.kernels.gaussian_bump(0, 0.5), omega=1 / inv_omega)
    w0 = np.geomspace(0.5, 4.0, m)
    a0 = np.zeros(m)
    a0[0] = 1.0
    return rho, np.concatenate([a0, w0])


def numpy_rhs(rho: mt.Kernel, m: int):
    """The closed-form gradient in plain numpy (what a user would write from docs/theory.md §4)."""
    lap0 = mt.compile.codegen.numpy_function((mt.kernels.kernel.S, *rho.param_symbols), rho.laplace_form(0).closed)
    lap1 = mt.compile.codegen.numpy_function((mt.kernels.kernel.S, *rho.param_symbols), rho.laplace_form(1).closed)
    p = rho.param_array()

    def f(t, theta):
        a, w = theta[:m], theta[m:]
        S = w[:, None] + w[None, :]
        ga = 2 * ((a[None, :] / S).sum(1) - lap0(w, *p))
        gw = -2 * a * ((a[None, :] / S**2).sum(1) - lap1(w, *p))
        return -np.concatenate([ga, gw])

    return f


def distance_event(theta0, delta):
    def ev(t, y):
        return np.linalg.norm(y - theta0) - delta

    ev.terminal = False
    ev.direction = 1
    return ev


def timeit(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> dict:
    tau_end, delta = 200.0, 0.05
    rows = []
    for m in ([4, 16] if quick else [4, 16, 64]):
        rho, theta0 = problem(m)
        t0 = time.perf_counter()
        flow = mt.GradientFlow(rho, m)
        sol = flow.solve(theta0, tau_end, rtol=RTOL, atol=ATOL, events={"distance": delta}, terminal=False)
        compile_s = time.perf_counter() - t0
        ours = timeit(lambda: flow.solve(theta0, tau_end, rtol=RTOL, atol=ATOL, events={"distance": delta},
                                         terminal=False), 3)
        f = numpy_rhs(rho, m)
        row = {"m": m, "compile_s": round(compile_s, 2), "memtheory_s": ours, "method_used": sol.method_used}
        for method in ("RK45", "LSODA", "Radau"):
            if method == "Radau" and m > 16 and quick:
                continue
            ev = distance_event(theta0, delta)
            t_start = time.perf_counter()
            ref = solve_ivp(f, (0, tau_end), theta0, method=method, rtol=RTOL, atol=ATOL, events=ev)
            elapsed = time.perf_counter() - t_start
            row[f"{method}_s"] = elapsed
            row[f"{method}_ratio"] = elapsed / ours
            row[f"{method}_state_diff"] = float(np.max(np.abs(ref.y[:, -1] - sol.theta[-1])))
            if len(ref.t_events[0]) and len(sol.t_events["distance"]):
                row[f"{method}_tau0_reldiff"] = float(abs(ref.t_events[0][0] - sol.t_events["distance"][0])
                                                      / sol.t_events["distance"][0])
        rows.append(row)
    # Ensembles: omega sweep of the m = 16 problem on 1 and 2 threads (trajectories of ~10 ms each, so that
    # thread start-up is negligible).
    rho, theta0 = problem(16)
    flow = mt.GradientFlow(rho, 16)
    inv = np.linspace(3, 8, 16 if quick else 64)
    bases = [flow.kernel_params(rho.with_params(omega=1 / x)) for x in inv]
    thetas = np.tile(theta0, (len(inv), 1))
    flow.solve_ensemble(thetas[:2], 1e6, events={"distance": delta}, bases=bases[:2])  # compile
    ens = {}
    for threads in (1, 2):
        ens[threads] = timeit(lambda: flow.solve_ensemble(thetas, 1e6, events={"distance": delta}, bases=bases,
                                                          chunk=len(inv), num_threads=threads), 3)
    single = timeit(lambda: [flow.solve(theta0, 1e6, events={"distance": delta}) for _ in range(4)], 2) / 4
    return {"rows": rows, "ensemble": {"trajectories": len(inv), "seconds_1_thread": ens[1],
                                       "seconds_2_threads": ens[2], "speedup_2_threads": ens[1] / ens[2],
                                       "per_trajectory_s": ens[2] / len(inv), "single_solve_s": single}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = run(args.quick)
    if args.json:
        print(json.dumps(res, indent=1))
        return
    for row in res["rows"]:
        print(f"m={row['m']:3d}  compile {row['compile_s']:.1f}s  memtheory {row['memtheory_s'] * 1e3:8.2f} ms "
              f"({row['method_used']})")
        for method in ("RK45", "LSODA", "Radau"):
            if f"{method}_s" in row:
                print(f"       {method:6s} {row[f'{method}_s'] * 1e3:9.1f} ms  ratio {row[f'{method}_ratio']:8.1f}x  "
                      f"max|state diff| {row[f'{method}_state_diff']:.1e}  "
                      f"tau0 rel diff {row.get(f'{method}_tau0_reldiff', float('nan')):.1e}")
    e = res["ensemble"]
    print(f"ensemble of {e['trajectories']} omega values: 1 thread {e['seconds_1_thread']:.3f}s, 2 threads "
          f"{e['seconds_2_threads']:.3f}s (speed-up {e['speedup_2_threads']:.2f}x); per trajectory "
          f"{e['per_trajectory_s'] * 1e3:.2f} ms vs single solve {e['single_solve_s'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
