"""Benchmark: the compiled float64 gradient flows against scipy.integrate.solve_ivp, ratios measured in one run.

1. **One trajectory**, m = 3, Gaussian-spike kernel ``rho = e^{-t/2} + exp(-(t - 6)^2 / (2 * 0.5^2))``, from
   ``a = (1, 0, 0)``, ``w = geomspace(0.5, 4, 3)``, ``rtol = 1e-10`` (``atol = 1e-12``), ``tau = 2`` and ``1e4``:
   ``GradientFlow.solve`` (``method="auto"``: DOP853, then Radau IIA on stiffness; and ``method="dopri5"`` /
   ``"radau"`` for comparison) against scipy LSODA with a numpy right-hand side of the same closed form, in two
   spellings: the SymPy closed form lambdified to numpy + scipy.special (``memtheory.compile.codegen.numpy_function``,
   what the package's own numpy path evaluates) and a hand-written one with ``scipy.special.erfcx`` (what a
   careful user writes; ~50x cheaper per call). Reported: seconds (best of several), evaluations, the ratio, the
   agreement of the final states, and where our time goes (per-call set-up, right-hand side, the rest).
2. **Per plateau point**, m = 10, same kernel family at ``1/omega = 8..18`` (``a = (1, 0, ..)``,
   ``w = geomspace(0.5, 4, 10)``, ``delta = 0.05``): both hitting times ``tau_0`` (``||theta - theta_0|| = delta``)
   and ``tau_0'`` (``|J - J_0| = delta``) by ``GradientFlow.solve`` with both events terminal, against a plain
   scipy ``solve_ivp(method="DOP853")`` run with the erfcx right-hand side and the same events, both at the
   plateau code's float64 tolerances (rtol 1e-11, atol 1e-14); also the float64 point of
   ``memtheory.plateau.hitting_times`` as the ``plateau_timescale`` check runs it (Radau to tau = 1e300, no error
   estimate), which is not this file's code and does more than the two times.
3. **Ensembles**: ``GradientFlow.solve_ensemble`` over the omega sweep of 2. (one call, the trajectories in the
   compiled loop one after the other, 1 and 2 threads) against a Python loop of ``solve`` calls.
4. **The float64 plateau point, before and after stopping at its hitting times**, m = 2, spike target
   ``exp(-t/2) + exp(-2*(t - 1/omega)**2)``, ``a0 = (1, 0)``, ``w0 = (1/2, 2)``, ``delta = 0.05``,
   ``1/omega = 4..18``: the run of ``memtheory.plateau.hitting_times``'s float64 path (Radau, rtol 1e-11,
   atol 1e-14, at most 5000 steps, to tau = 1e300) with both events non-terminal (how the point was computed
   before) against ``terminal="all"`` (stop once both are located, how it is computed now): seconds, steps,
   whether the hitting times are identical; and the whole point (``method="float64"``, with its error
   estimate, a second run at a 30x tighter tolerance).

Timings on a loaded machine are noisy; the ratios of one run are the result. Run:
``python benchmarks/bench_flow.py [--quick] [--json] [--sections 1234]`` (``--quick``: fewer repeats and plateau
points; ``--sections``: which of the four to run).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import sympy as sp
from numba import njit
from scipy.integrate import solve_ivp
from scipy.special import erfcx

import memtheory as mt
from memtheory import plateau

RATE, SIGMA, DELTA = 0.5, 0.5, 0.05


def family(inv_omega: float) -> mt.Kernel:
    return mt.kernels.memory_family(mt.kernels.exponential(RATE), mt.kernels.gaussian_bump(0, SIGMA),
                                    omega=1 / inv_omega)


def start(m: int) -> np.ndarray:
    a0 = np.zeros(m)
    a0[0] = 1.0
    return np.concatenate([a0, np.geomspace(0.5, 4.0, m)])


def _moments(w, lag):
    """Laplace moments ``M_0, M_1`` of ``rho`` at the rates ``w`` (the Gaussian part through erfcx)."""
    pre = np.exp(-lag**2 / (2 * SIGMA**2))
    z = (w * SIGMA**2 - lag) / (np.sqrt(2) * SIGMA)
    j0 = np.sqrt(np.pi) / 2 * erfcx(z)
    return (1 / (RATE + w) + np.sqrt(2) * SIGMA * pre * j0,
            1 / (RATE + w) ** 2 + 2 * SIGMA**2 * pre * (0.5 - z * j0))


def erfcx_rhs(lag: float):
    """``-grad J`` in numpy from the closed-form Laplace moments."""

    def f(t, theta):
        m = theta.size // 2
        a, w = theta[:m], theta[m:]
        m0, m1 = _moments(w, lag)
        S = w[:, None] + w[None, :]
        ga = 2 * ((a[None, :] / S).sum(1) - m0)
        gw = -2 * a * ((a[None, :] / S**2).sum(1) - m1)
        return -np.concatenate([ga, gw])

    return f


def erfcx_loss(lag: float):
    """``J(theta) - ||rho||^2`` in numpy (the constant cancels in ``J - J_0``)."""

    def loss(theta):
        m = theta.size // 2
        a, w = theta[:m], theta[m:]
        return float((np.outer(a, a) / (w[:, None] + w[None, :])).sum() - 2 * a @ _moments(w, lag)[0])

    return loss


def lambdified_rhs(rho: mt.Kernel):
    """``-grad J`` in numpy from the SymPy closed form of the Laplace moments, lambdified by memtheory."""
    S_ = mt.kernels.kernel.S
    lap0 = mt.compile.codegen.numpy_function((S_, *rho.param_symbols), rho.laplace_form(0).closed)
    lap1 = mt.compile.codegen.numpy_function((S_, *rho.param_symbols), rho.laplace_form(1).closed)
    p = rho.param_array()

    def f(t, theta):
        m = theta.size // 2
        a, w = theta[:m], theta[m:]
        S = w[:, None] + w[None, :]
        ga = 2 * ((a[None, :] / S).sum(1) - lap0(w, *p))
        gw = -2 * a * ((a[None, :] / S**2).sum(1) - lap1(w, *p))
        return -np.concatenate([ga, gw])

    return f


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def rhs_cost(flow, theta, p, calls: int = 2000, repeat: int = 15) -> float:
    """Seconds per call of the compiled right-hand side, called from compiled code (best of ``repeat`` loops)."""
    rhs = flow.module.rhs

    @njit
    def loop(y, p, k):
        s = 0.0
        for _ in range(k):
            y[0] += 1e-15
            s += rhs(0.0, y, p)[0]
        return s

    loop(theta.copy(), p, 10)
    return best_of(lambda: loop(theta.copy(), p, calls), repeat)[0] / calls


def trajectories(quick: bool) -> dict:
    m, rtol, atol = 3, 1e-10, 1e-12
    rho, theta0 = family(6.0), start(m)
    flow = mt.GradientFlow(rho, m)
    flow.solve(theta0, 2.0)  # compile / load
    rep = 3 if quick else 7
    setup, _ = best_of(lambda: flow.solve(theta0, 1e-9, rtol=rtol, atol=atol), 20 * rep)
    f_erfcx, f_lamb = erfcx_rhs(6.0), lambdified_rhs(rho)
    out = {"setup_s": setup,
           "numpy_rhs_s": {"erfcx": best_of(lambda: f_erfcx(0.0, theta0), 200)[0],
                           "lambdified": best_of(lambda: f_lamb(0.0, theta0), 20)[0]},
           "rows": []}
    for tau in (2.0, 1e4):
        row = {"tau": tau}
        for method in ("auto", "dopri5", "radau"):
            if method == "dopri5" and tau > 100:
                continue  # stiff: 1e5 stability-limited steps
            sec, sol = best_of(lambda: flow.solve(theta0, tau, method=method, rtol=rtol, atol=atol), rep)
            row[method] = {"s": sec, "nfev": sol.nfev, "njev": sol.njev, "nsteps": sol.nsteps,
                           "method_used": sol.method_used, "theta": sol.theta[-1]}
        ours = row["auto"]
        per_rhs = rhs_cost(flow, ours["theta"], flow.params(theta0))  # measured next to the solve it explains
        ours["rhs_s"] = per_rhs
        ours["rhs_share"] = ours["nfev"] * per_rhs / ours["s"]
        for name, f in (("erfcx", f_erfcx), ("lambdified", f_lamb)):
            reps = 1 if name == "lambdified" else (2 if quick else 3)
            sec, ref = best_of(lambda: solve_ivp(f, (0.0, tau), theta0, method="LSODA", rtol=rtol, atol=atol),
                               reps)
            row[f"lsoda_{name}"] = {"s": sec, "nfev": int(ref.nfev), "njev": int(ref.njev), "ratio": sec / ours["s"],
                                    "state_diff": float(np.max(np.abs(ref.y[:, -1] - ours["theta"])))}
        out["rows"].append(row)
    return out


def plateau_points(quick: bool) -> dict:
    m, rtol, atol = 10, 1e-11, 1e-14
    xs = [8.0, 12.0, 16.0, 18.0] if quick else [float(x) for x in range(8, 19)]
    theta0 = start(m)
    flow = mt.GradientFlow(family(8.0), m)
    rep = 2 if quick else 3
    rows = []
    for x in xs:
        rho = family(x)
        f, loss = erfcx_rhs(x), erfcx_loss(x)
        J0 = loss(theta0)

        def ev_dist(t, y):
            return np.linalg.norm(y - theta0) - DELTA

        def ev_loss(t, y):
            return abs(loss(y) - J0) - DELTA

        ev_dist.terminal = ev_loss.terminal = False
        ev_dist.direction = ev_loss.direction = 1
        ours_flow = mt.GradientFlow(rho, m)  # the same compiled module (cached): per-point construction
        events = {"distance": DELTA, "loss": DELTA}
        # both runs go to 5% past the later hitting time (a terminal event stops at the first one; after the
        # plateau the flow does not come to rest for a long time, so "to infinity" is no fair horizon)
        first = ours_flow.solve(theta0, 1e6, rtol=rtol, atol=atol, events=events, terminal={"loss": True})
        horizon = 1.05 * max(first.t_events["distance"][0], first.t_events["loss"][0])
        sec, sol = best_of(lambda: ours_flow.solve(theta0, horizon, method="auto", rtol=rtol, atol=atol,
                                                   events=events, terminal=False), rep)
        t_ref = time.perf_counter()
        ref = solve_ivp(f, (0.0, horizon), theta0, method="DOP853", rtol=rtol, atol=atol,
                        events=[ev_dist, ev_loss])
        ref_s = time.perf_counter() - t_ref
        t_pl = time.perf_counter()
        hp = plateau.hitting_times(rho, theta0[:m], theta0[m:], DELTA, method="float64", error_estimate=False)
        pl_s = time.perf_counter() - t_pl
        tau0, tau1 = sol.t_events["distance"][0], sol.t_events["loss"][0]
        rows.append({"inv_omega": x, "tau0": tau0, "tau0_prime": tau1, "ours_s": sec, "ours_nfev": sol.nfev,
                     "ours_method": sol.method_used, "dop853_s": ref_s, "dop853_nfev": int(ref.nfev),
                     "ratio": ref_s / sec,
                     "tau0_reldiff": abs(ref.t_events[0][0] - tau0) / tau0 if len(ref.t_events[0]) else np.nan,
                     "tau0p_reldiff": abs(ref.t_events[1][0] - tau1) / tau1 if len(ref.t_events[1]) else np.nan,
                     "plateau_point_s": pl_s, "plateau_tau0_reldiff": abs(float(hp.tau0_mp) - tau0) / tau0})
    return {"rows": rows}


def ensembles(quick: bool) -> dict:
    m, rtol, atol = 10, 1e-11, 1e-14
    xs = np.linspace(8, 18, 8 if quick else 22)
    theta0 = start(m)
    flow = mt.GradientFlow(family(8.0), m)
    bases = [flow.kernel_params(family(x)) for x in xs]
    thetas = np.tile(theta0, (len(xs), 1))
    ev = {"distance": DELTA, "loss": DELTA}
    horizon = 1e6  # the loss event (terminal) fires after the distance event at these points
    flow.solve_ensemble(thetas[:2], horizon, events=ev, bases=bases[:2], rtol=rtol, atol=atol,
                        terminal={"loss": True})

    def loop():
        out = []
        for b in bases:
            p = flow.params(theta0, ev, b)
            out.append(mt.dynamics.integrate(flow.module.rhs, flow.module.jac, theta0, (0.0, horizon), p, rtol=rtol,
                                             atol=atol, events=flow.module.events, direction=[1, 1],
                                             terminal=[False, True], domain=flow.module.domain).t_events[0][0])
        return np.array(out)

    rep = 1 if quick else 2
    loop_s, t_loop = best_of(loop, rep)
    res = {"trajectories": len(xs), "loop_s": loop_s}
    for threads in (1, 2):
        sec, out = best_of(lambda: flow.solve_ensemble(thetas, horizon, events=ev, bases=bases, rtol=rtol, atol=atol,
                                                       terminal={"loss": True}, chunk=len(xs), num_threads=threads),
                           rep)
        res[f"batch_{threads}_s"] = sec
        res[f"batch_{threads}_same"] = bool(np.array_equal(out["t_events"]["distance"], t_loop))
    return res


SPIKE_TARGET = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"


def plateau_stop(quick: bool) -> dict:
    """Section 4: the float64 plateau point's flow run to tau = 1e300 against the run stopped at both times."""
    xs = [4, 8, 12, 16, 18] if quick else list(range(4, 19))
    target = mt.Kernel(SPIKE_TARGET, omega=1)
    a0, w0 = ["1", "0"], ["0.5", "2"]
    theta0 = np.array([1.0, 0.0, 0.5, 2.0])
    # the float64 plateau point's two runs (its tolerances, and 30x tighter for the error estimate) and step
    # budget (memtheory.theory.plateau.hitting)
    tols = [(1e-11, 1e-14), (1e-11 / 30, 1e-14 / 30)]
    kw = dict(method="radau", events={"distance": DELTA, "loss": DELTA}, max_steps=5000)
    rep = 2 if quick else 3
    rows = []
    for x in xs:
        rho = target.with_params(omega=sp.Rational(1, x))
        flow = mt.GradientFlow(rho, 2)
        flow.solve(theta0, 1.0, **kw)  # compile / load
        row = {"inv_omega": x, "before_s": 0.0, "after_s": 0.0, "before_steps": [], "after_steps": [],
               "same_times": True}
        for rtol, atol in tols:
            sec, before = best_of(lambda: flow.solve(theta0, 1e300, rtol=rtol, atol=atol, terminal=False, **kw), 1)
            row["before_s"] += sec
            sec, after = best_of(lambda: flow.solve(theta0, 1e300, rtol=rtol, atol=atol, terminal="all", **kw), rep)
            row["after_s"] += sec
            row["before_steps"].append(before.nsteps)
            row["after_steps"].append(after.nsteps)
            row["same_times"] &= all(before.t_events[e][:1].tolist() == after.t_events[e][:1].tolist()
                                     for e in kw["events"])
        row["point_s"], point = best_of(lambda: plateau.hitting_times(rho, a0, w0, DELTA, method="float64"), rep)
        row.update(tau0=float(point.tau0_mp), tau0_prime=float(point.tau0_prime_mp), status=point.status)
        rows.append(row)
    return {"rows": rows}


def print_trajectories(tr: dict) -> None:
    print("1. one trajectory, m = 3, rtol 1e-10")
    npr = tr["numpy_rhs_s"]
    print(f"   per-call set-up (solve to tau = 1e-9): {tr['setup_s'] * 1e6:.0f} us; numpy rhs: erfcx "
          f"{npr['erfcx'] * 1e6:.0f} us/call, lambdified {npr['lambdified'] * 1e6:.0f} us/call")
    for row in tr["rows"]:
        a = row["auto"]
        print(f"   tau = {row['tau']:g}: memtheory auto {a['s'] * 1e3:.2f} ms ({a['method_used']}, {a['nfev']} rhs, "
              f"{a['njev']} jac, {a['nsteps']} steps); where it goes: set-up {tr['setup_s'] * 1e3:.2f} ms, rhs "
              f"{a['nfev']} x {a['rhs_s'] * 1e6:.2f} us = {a['nfev'] * a['rhs_s'] * 1e3:.2f} ms "
              f"({100 * a['rhs_share']:.0f}%), the rest (steps, Jacobians, LU, output) "
              f"{(a['s'] - tr['setup_s'] - a['nfev'] * a['rhs_s']) * 1e3:.2f} ms")
        for method in ("dopri5", "radau"):
            if method in row:
                r = row[method]
                print(f"      {method:6s} {r['s'] * 1e3:8.2f} ms ({r['nfev']} rhs, {r['nsteps']} steps)")
        for name in ("erfcx", "lambdified"):
            r = row[f"lsoda_{name}"]
            print(f"      LSODA, {name:10s} rhs: {r['s'] * 1e3:9.1f} ms ({r['nfev']} rhs, {r['njev']} jac)  ratio "
                  f"{r['ratio']:7.1f}x  max|state diff| {r['state_diff']:.1e}")


def print_plateau_points(pl: dict) -> None:
    print("2. per plateau point, m = 10 (both hitting times; rtol 1e-11, atol 1e-14)")
    for r in pl["rows"]:
        print(f"   1/omega = {r['inv_omega']:4.0f}: tau0 = {r['tau0']:.6e}  memtheory {r['ours_s'] * 1e3:7.1f} ms "
              f"({r['ours_method']}, {r['ours_nfev']} rhs)  scipy DOP853 {r['dop853_s'] * 1e3:8.1f} ms "
              f"({r['dop853_nfev']} rhs)  ratio {r['ratio']:6.1f}x  tau0/tau0' rel diff {r['tau0_reldiff']:.1e}/"
              f"{r['tau0p_reldiff']:.1e}   plateau.hitting_times float64 point {r['plateau_point_s'] * 1e3:7.1f} ms")


def print_ensembles(e: dict) -> None:
    print(f"3. ensemble of {e['trajectories']} plateau points: loop of integrate calls {e['loop_s']:.3f} s, "
          f"solve_ensemble 1 thread {e['batch_1_s']:.3f} s ({e['loop_s'] / e['batch_1_s']:.2f}x), 2 threads "
          f"{e['batch_2_s']:.3f} s ({e['loop_s'] / e['batch_2_s']:.2f}x); identical hitting times: "
          f"{e['batch_1_s'] and e['batch_1_same'] and e['batch_2_same']}")


def print_plateau_stop(ps: dict) -> None:
    print(f"4. the float64 plateau point, m = 2, {SPIKE_TARGET}, a0 = (1, 0), w0 = (1/2, 2), delta = {DELTA}: its two "
          "flow runs (rtol 1e-11 and 1e-11/30) to tau = 1e300 with non-terminal events (before) and stopped once "
          "both times are located (after)")
    for r in ps["rows"]:
        print(f"   1/omega = {r['inv_omega']:2d}: tau0 = {r['tau0']:.6e}, tau0' = {r['tau0_prime']:.6e} "
              f"({r['status']})  before {r['before_s'] * 1e3:6.1f} ms ({'+'.join(map(str, r['before_steps']))} "
              f"steps)  after {r['after_s'] * 1e3:5.1f} ms ({'+'.join(map(str, r['after_steps']))} steps)  ratio "
              f"{r['before_s'] / r['after_s']:5.1f}x  same times: {r['same_times']}  whole point now "
              f"{r['point_s'] * 1e3:5.1f} ms")


#: Section number -> (key of the results, what runs it, what prints it).
_SECTIONS = {"1": ("trajectory", trajectories, print_trajectories),
             "2": ("plateau", plateau_points, print_plateau_points),
             "3": ("ensemble", ensembles, print_ensembles),
             "4": ("plateau_stop", plateau_stop, print_plateau_stop)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sections", default="1234", help="which sections to run, e.g. 4 (default: all)")
    args = parser.parse_args()
    res = {key: run(args.quick) for k, (key, run, _) in _SECTIONS.items() if k in args.sections}
    if args.json:
        print(json.dumps(res, indent=1, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
        return
    for key, _, show in _SECTIONS.values():
        if key in res:
            show(res[key])


if __name__ == "__main__":
    main()
