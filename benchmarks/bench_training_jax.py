"""Benchmark: memtheory's training epoch against JAX (``lax.scan`` + ``jit`` + ``grad``), in one run.

The strongest alternative a user would write for the benchmark's model -- the residual tanh RNN of the [IAT]
reference code (``softplusrnn``: ``h_k = h_{k-1} + dt tanh(U x_k + b - P^T diag(softplus(w)) P h_{k-1})``,
``y_k = c^T h_k + c_0``), float64, the time-weighted MSE, gradient clipping 0.5 and Adam -- is a JAX program: the
time loop a ``lax.scan``, the gradient ``jax.value_and_grad``, the whole optimiser step (clipping and Adam
included) one ``jax.jit``. Two variants: plain, and with ``jax.checkpoint`` on the scan body (recomputes the
step in the backward pass instead of storing its residuals).

Settings (``dt = 1``, LF data: white noise, ``rho = (1 + 0.1 t)^{-1.1}``; one epoch = 8 minibatches):

* width 8 and width 64, ``T = 100``, batch 512 (4096 sequences);
* width 64, ``T = 1000``, batch 64 (512 sequences);
* width 256, ``T = 100``, batch 512 (4096 sequences).

Both sides start from the same initial parameters (memtheory's ``NonlinearRNN.random(..., seed=0)``) and see
the same minibatches (the permutation of ``memtheory.training.train`` with ``seed = epoch``, sorted indices).
Before timing, the loss and every gradient of the first minibatch are compared between JAX and memtheory's BPTT
at the initial parameters (they agree to about 1e-13 relative).

Each implementation runs in its own subprocess, in two thread settings: the machine's cores (2 here), and pinned
to one core (``taskset -c 0``, ``NUMBA_NUM_THREADS=1``, one BLAS thread, XLA's Eigen pool single-threaded). The
runs are interleaved in rounds, so that every implementation sees the same load drift; reported are the best and
median seconds per epoch (compile and warm-up excluded) and the ratio of the best JAX variant to memtheory
(best against best). At width 256 the achieved rate ``6 m^2 T`` flop per sequence (forward ``W_+ h``, backward
``W_+^T delta`` and ``delta h^T``) is compared with the machine's dense matrix-multiply rate, measured with
numpy's BLAS (``dgemm``, 2048 x 2048) in the same thread setting.

JAX is not a dependency of memtheory: the JAX side runs in whatever interpreter ``--jax-python`` (or the
environment variable ``MEMTHEORY_BENCH_JAX_PYTHON``) names, which needs only ``jax`` and ``numpy``; without one
the JAX columns are skipped with a message. Run::

    python benchmarks/bench_training_jax.py --jax-python /path/to/venv-with-jax/bin/python [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

DT, LR, CLIP = 1.0, 1e-3, 0.5
STEPS_PER_EPOCH = 8
#: (name, width, T, batch)
CASES = [("w8", 8, 100, 512), ("w64", 64, 100, 512), ("w64_T1000", 64, 1000, 64), ("w256", 256, 100, 512)]
QUICK_CASES = [("w8", 8, 100, 512), ("w64", 64, 100, 512)]
PARAMS = ("w", "P", "U", "b", "c", "c0")


def flops_per_sequence(width: int, T: int) -> float:
    """Multiply-adds x 2 of the three width x width products per time step (forward and BPTT)."""
    return 6.0 * width * width * T


# =========================================================================== memtheory side (project env)


def make_case(path: str, width: int, T: int, batch: int) -> None:
    """Data, time weights and initial parameters of one case, saved to ``path`` (npz) for both sides."""
    import memtheory as mt
    from memtheory.models.nonlinear import NonlinearRNN
    from memtheory.training import lf_dataset, reference_time_weights

    n = batch * STEPS_PER_EPOCH
    data = lf_dataset(mt.kernels.reference("pol"), n, T, DT, seed=0)
    model = NonlinearRNN.random(1, width, activation="tanh", structure="conjugated", parameterisation="softplus",
                                dt=DT, seed=0)
    params = model.get_params()
    np.savez(path, x=data.x, y=data.y, tw=reference_time_weights(T), batch=batch,
             **{f"p_{k}": params[k] for k in PARAMS})


def _load(path: str) -> tuple[dict, dict]:
    z = np.load(path)
    params = {k: np.array(z[f"p_{k}"]) for k in PARAMS}
    return {k: z[k] for k in ("x", "y", "tw")} | {"batch": int(z["batch"])}, params


def dgemm_rate(n: int = 2048, repeats: int = 3) -> float:
    """Best GFLOP/s of numpy's ``a @ b`` (float64, n x n) in the current thread setting."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def worker_memtheory(path: str, epochs: int, check_path: str | None) -> dict:
    from memtheory._runtime import blas_threads
    from memtheory.models.nonlinear import NonlinearRNN
    from memtheory.training import Adam, train

    data, params = _load(path)
    B = data["batch"]
    model = NonlinearRNN.random(1, params["U"].shape[0], activation="tanh", structure="conjugated",
                                parameterisation="softplus", dt=DT, seed=0)
    model.set_params(params)
    result: dict = {"blas_threads": blas_threads()}
    if check_path is not None:  # the JAX side's loss and gradients on the first minibatch at the same parameters
        ref = np.load(check_path)
        loss, grads = model.loss_and_grad(data["x"][:B], data["y"][:B], data["tw"])
        result["check"] = {"loss_rel": abs(float(ref["loss"]) - loss) / loss,
                           "grad_rel": {k: float(np.max(np.abs(ref[f"g_{k}"] - grads[k]))
                                                 / max(1e-300, float(np.max(np.abs(grads[k]))))) for k in PARAMS}}
    opt = Adam(lr=LR)
    xy = (data["x"], data["y"])
    train(model, (data["x"][:B], data["y"][:B]), epochs=1, batch_size=B, progress=False, time_weights="reference",
          grad_clip=CLIP, optimizer=opt)  # compile (or load the cache) + warm-up step
    times = []
    for e in range(epochs):
        t0 = time.perf_counter()
        train(model, xy, epochs=1, batch_size=B, progress=False, time_weights="reference", grad_clip=CLIP,
              optimizer=opt, seed=e)
        times.append(time.perf_counter() - t0)
    result["epoch_seconds"] = times
    if params["U"].shape[0] >= 256:  # the physical limit of the wide case, in the same thread setting
        result["dgemm_gflops"] = dgemm_rate()
    return result


# =========================================================================== JAX side (numpy + jax only)


def worker_jax(path: str, epochs: int, checkpoint: bool, check_out: str | None) -> dict:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    data, params0 = _load(path)
    B = data["batch"]
    tw = jnp.asarray(data["tw"])

    def loss_fn(p, x, y):
        sp = jax.nn.softplus(p["w"])
        wp = p["P"].T @ (sp[:, None] * p["P"])  # W_+ = P^T diag(softplus(w)) P (symmetric)
        enc = jnp.swapaxes(x @ p["U"].T + p["b"], 0, 1)  # (T, B, m)

        def body(h, e):
            h = h + DT * jnp.tanh(e - h @ wp)
            return h, h

        if checkpoint:
            body = jax.checkpoint(body)
        _, hs = jax.lax.scan(body, jnp.zeros((x.shape[0], wp.shape[0])), enc)
        out = hs @ p["c"] + p["c0"]  # (T, B)
        return jnp.mean(tw[:, None] * (out - y.T) ** 2)

    grad_fn = jax.value_and_grad(loss_fn)

    @jax.jit
    def step(p, m, v, t, x, y):
        loss, g = grad_fn(p, x, y)
        norm = jnp.sqrt(sum(jnp.sum(gi * gi) for gi in jax.tree_util.tree_leaves(g)))
        scale = jnp.where(norm > CLIP, CLIP / norm, 1.0)
        g = jax.tree_util.tree_map(lambda gi: gi * scale, g)
        t = t + 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        m = jax.tree_util.tree_map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        v = jax.tree_util.tree_map(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
        p = jax.tree_util.tree_map(
            lambda pi, mi, vi: pi - LR * (mi / (1 - b1**t)) / (jnp.sqrt(vi / (1 - b2**t)) + eps), p, m, v)
        return p, m, v, t, loss

    p = {k: jnp.asarray(v) for k, v in params0.items()}
    result: dict = {"jax_version": jax.__version__, "checkpoint": checkpoint}
    if check_out is not None:
        loss, g = jax.jit(grad_fn)(p, jnp.asarray(data["x"][:B]), jnp.asarray(data["y"][:B]))
        np.savez(check_out, loss=float(loss), **{f"g_{k}": np.asarray(g[k]) for k in PARAMS})
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    t = jnp.asarray(0.0)
    x_all, y_all = data["x"], data["y"]
    n = x_all.shape[0]
    p, m, v, t, loss = step(p, m, v, t, jnp.asarray(x_all[:B]), jnp.asarray(y_all[:B]))  # compile + warm-up
    loss.block_until_ready()
    times = []
    for e in range(epochs):
        t0 = time.perf_counter()
        order = np.random.default_rng(e).permutation(n)  # the minibatches of memtheory.training.train(seed=e)
        for lo in range(0, n, B):
            idx = np.sort(order[lo:lo + B])
            p, m, v, t, loss = step(p, m, v, t, jnp.asarray(x_all[idx]), jnp.asarray(y_all[idx]))
        loss.block_until_ready()
        times.append(time.perf_counter() - t0)
    result["epoch_seconds"] = times
    return result


# =========================================================================== driver


PINNED_ENV = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def _spawn(python: str, args: list[str], pinned: bool) -> dict:
    env = dict(os.environ)
    cmd = [python, os.path.abspath(__file__), *args]
    if pinned:
        env.update(PINNED_ENV)
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _jax_python(arg: str | None) -> str | None:
    cand = arg or os.environ.get("MEMTHEORY_BENCH_JAX_PYTHON")
    if cand is None:
        import importlib.util

        return sys.executable if importlib.util.find_spec("jax") is not None else None
    probe = subprocess.run([cand, "-c", "import jax, numpy; print(jax.__version__)"], capture_output=True, text=True)
    return cand if probe.returncode == 0 else None


MT, JAX, JAXCK = "memtheory", "jax scan+jit+grad", "jax + checkpoint"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jax-python", help="interpreter with jax installed (default: $MEMTHEORY_BENCH_JAX_PYTHON, "
                                         "or this one if it has jax)")
    ap.add_argument("--quick", action="store_true", help="widths 8 and 64 only, one round")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per run (default 2)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 2, quick 1)")
    ap.add_argument("--cases", help="comma-separated subset of " + ",".join(c[0] for c in CASES))
    ap.add_argument("--settings", default="2cores,pinned", help="thread settings: 2cores, pinned (default both)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--worker", choices=["memtheory", "jax"], help=argparse.SUPPRESS)
    ap.add_argument("--case-file", help=argparse.SUPPRESS)
    ap.add_argument("--check-file", help=argparse.SUPPRESS)
    ap.add_argument("--checkpoint", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "memtheory":
        print(json.dumps(worker_memtheory(args.case_file, args.epochs, args.check_file)))
        return 0
    if args.worker == "jax":
        print(json.dumps(worker_jax(args.case_file, args.epochs, args.checkpoint, args.check_file)))
        return 0
    cases = QUICK_CASES if args.quick else CASES
    if args.cases:
        wanted = args.cases.split(",")
        cases = [c for c in CASES if c[0] in wanted]
    settings = [s for s in args.settings.split(",") if s]
    rounds = args.rounds or (1 if args.quick else 2)
    jax_py = _jax_python(args.jax_python)
    if jax_py is None and not args.json:
        print("JAX not found (give --jax-python or MEMTHEORY_BENCH_JAX_PYTHON): the JAX columns are skipped")
    tmp = tempfile.mkdtemp(prefix="bench_jax_")
    load0 = os.getloadavg()[0]
    report: dict = {"setting": {"dt": DT, "lr": LR, "clip": CLIP, "steps_per_epoch": STEPS_PER_EPOCH,
                                "rounds": rounds, "epochs_per_run": args.epochs, "cpus": os.cpu_count(),
                                "jax_python": jax_py}, "cases": {}}
    try:
        for name, width, T, batch in cases:
            case_file = os.path.join(tmp, f"{name}.npz")
            make_case(case_file, width, T, batch)
            entry: dict = {"width": width, "T": T, "batch": batch, "sequences": batch * STEPS_PER_EPOCH,
                           "runs": {}}
            if jax_py is not None:  # correctness first: JAX's gradient against memtheory's BPTT
                check_file = os.path.join(tmp, f"{name}_check.npz")
                _spawn(jax_py, ["--worker", "jax", "--case-file", case_file, "--epochs", "0", "--check-file",
                                check_file], False)
                res = _spawn(sys.executable, ["--worker", "memtheory", "--case-file", case_file, "--epochs", "0",
                                              "--check-file", check_file], False)
                entry["check"] = res.get("check", res)
            plan = [(MT, sys.executable, ["--worker", "memtheory"])]
            if jax_py is not None:
                plan += [(JAX, jax_py, ["--worker", "jax"]), (JAXCK, jax_py, ["--worker", "jax", "--checkpoint"])]
            for setting in settings:
                pinned = setting == "pinned"
                runs: dict = {impl: {"epoch_seconds": []} for impl, *_ in plan}
                for _ in range(rounds):
                    for impl, py, wargs in plan:
                        res = _spawn(py, [*wargs, "--case-file", case_file, "--epochs", str(args.epochs)], pinned)
                        if "error" in res:
                            runs[impl]["error"] = res["error"]
                            continue
                        runs[impl]["epoch_seconds"] += res.pop("epoch_seconds")
                        runs[impl].update(res)
                for impl, r in runs.items():
                    if r["epoch_seconds"]:
                        r["best"] = float(min(r["epoch_seconds"]))
                        r["median"] = float(np.median(r["epoch_seconds"]))
                        r["gflops"] = flops_per_sequence(width, T) * batch * STEPS_PER_EPOCH / r["best"] / 1e9
                jax_best = [runs[k]["best"] for k in (JAX, JAXCK) if "best" in runs.get(k, {})]
                if jax_best and "best" in runs[MT]:
                    runs[MT]["speedup_vs_best_jax"] = min(jax_best) / runs[MT]["best"]
                entry["runs"][setting] = runs
            report["cases"][name] = entry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["setting"]["load_average_start_end"] = [load0, os.getloadavg()[0]]
    if args.json:
        print(json.dumps(report))
        return 0
    _print(report)
    return 0


def _print(report: dict) -> None:
    s = report["setting"]
    print(f"training epoch ({s['steps_per_epoch']} minibatches), float64, {s['cpus']} CPUs, {s['rounds']} "
          f"interleaved round(s) x {s['epochs_per_run']} epochs; load average {s['load_average_start_end'][0]:.1f}"
          f" -> {s['load_average_start_end'][1]:.1f}")
    for name, e in report["cases"].items():
        print(f"\n{name}: width {e['width']}, T {e['T']}, batch {e['batch']}, {e['sequences']} sequences/epoch")
        if "check" in e:
            c = e["check"]
            if "grad_rel" in c:
                print(f"  JAX vs memtheory BPTT at the initial parameters: loss rel {c['loss_rel']:.1e}, worst "
                      f"gradient rel {max(c['grad_rel'].values()):.1e}")
            else:
                print(f"  gradient check FAILED: {c}")
        for setting, runs in e["runs"].items():
            print(f"  [{setting}] {'':22s} {'best s':>8s} {'median':>8s} {'GFLOP/s':>8s}")
            for impl, r in runs.items():
                if "best" not in r:
                    print(f"  {'':10s}{impl:22s} FAILED: {r.get('error', 'no timings')}")
                    continue
                extra = (f"  memtheory {r['speedup_vs_best_jax']:.2f}x the best JAX" if "speedup_vs_best_jax" in r
                         else "")
                if "dgemm_gflops" in r:
                    extra += (f"  (dgemm {r['dgemm_gflops']:.1f} GFLOP/s: "
                              f"{100 * r['gflops'] / r['dgemm_gflops']:.0f}% of it)")
                print(f"  {'':10s}{impl:22s} {r['best']:8.3f} {r['median']:8.3f} {r['gflops']:8.2f}{extra}")


if __name__ == "__main__":
    sys.exit(main())
