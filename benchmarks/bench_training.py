"""Benchmark: training-epoch throughput of the numba BPTT against the reference algorithm, in one run.

Setting ([IAT] reference code, github.com/radarFudan/Curse-of-memory): the residual tanh RNN
``h_k = h_{k-1} + dt tanh(U x_k + b - P^T diag(softplus(w)) P h_{k-1})``, ``y_k = c^T h_k + c_0`` (the reference's
``softplusrnn`` with its linear encoder/decoder), width 64, ``T = 100``, batch 512, the time-weighted MSE
(``twe_MSE``), gradient clipping 0.5 and Adam, on LF data (white noise, ``rho = (1 + 0.1 t)^{-1.1}``), float64.
One epoch = 8 minibatches (4096 sequences).

Compared, each in its own subprocess (so that the OpenMP pools of numba and torch do not compete):

* ``memtheory``: :func:`memtheory.training.train` (numba forward + BPTT, parallel over the batch, Adam), with the
  default OpenMP settings and with ``OMP_WAIT_POLICY=passive``;
* ``torch``: the reference algorithm -- a Python loop over the 100 time steps building the autograd graph,
  ``loss.backward()``, ``clip_grad_norm_``, ``torch.optim.Adam`` -- on CPU with 2 threads and with 1 thread
  (the faster one is the reference). PyTorch is *not* a dependency of memtheory: install it in the benchmark
  environment only (``--install-torch`` runs ``pip install torch==2.13.0`` into the running interpreter's
  environment; use a dedicated venv);
* ``numpy``: the same per-time-step loop in numpy with hand-written BPTT (the fallback when torch is missing).

After timing, the loss and every gradient of one minibatch are compared between memtheory and torch (and the
numpy loop) at the same parameters: they agree to rounding (about 1e-11 relative). The implementations run in
interleaved rounds (the machine may be shared: every implementation sees the same load drift); reported are the
best and the median seconds per epoch (compile and warm-up excluded), samples per second, and the ratios (best
against best, and medians). Run: ``python benchmarks/bench_training.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

WIDTH, T, BATCH, N_SAMPLES, DT, LR, CLIP = 64, 100, 512, 4096, 1.0, 1e-3, 0.5


def _data(n: int = N_SAMPLES):
    import memtheory as mt
    from memtheory.training import lf_dataset

    return lf_dataset(mt.kernels.reference("pol"), n, T, DT, seed=0)


def _model():
    from memtheory.models.nonlinear import NonlinearRNN

    return NonlinearRNN.random(1, WIDTH, activation="tanh", structure="conjugated", parameterisation="softplus",
                               dt=DT, seed=0)


# =========================================================================== workers


def worker_memtheory(epochs: int) -> dict:
    from memtheory.training import Adam, train

    data = _data()
    model = _model()
    opt = Adam(lr=LR)
    train(model, (data.x[:BATCH], data.y[:BATCH]), epochs=1, batch_size=BATCH, progress=False,
          time_weights="reference", grad_clip=CLIP, optimizer=opt)  # compile + warm-up
    times = []
    for e in range(epochs):
        t0 = time.perf_counter()
        train(model, data, epochs=1, batch_size=BATCH, progress=False, time_weights="reference", grad_clip=CLIP,
              optimizer=opt, seed=e)
        times.append(time.perf_counter() - t0)
    return {"epoch_seconds": times}


def _torch_setup(threads: int = 2):
    import torch

    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float64)
    model = _model()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.get_params().items()}
    return torch, model, p


def _torch_loss(torch, p, x, y, tw):
    """The reference forward: a Python loop over time steps building the autograd graph."""
    enc = x @ p["U"].T + p["b"]  # encoder Linear(1, m), (B, T, m)
    sp = torch.nn.functional.softplus(p["w"])
    h = torch.zeros(x.shape[0], WIDTH)
    hidden = []
    for i in range(x.shape[1]):
        h = h + DT * torch.tanh(enc[:, i, :] - ((h @ p["P"].T) * sp) @ p["P"])
        hidden.append(h)
    out = torch.stack(hidden, dim=1) @ p["c"] + p["c0"]  # decoder Linear(m, 1)
    return torch.mean(tw * (out - y) ** 2)


def worker_torch(epochs: int, check: bool, threads: int = 2) -> dict:
    from memtheory.training import reference_time_weights

    torch, model, p = _torch_setup(threads)
    data = _data()
    tw = torch.tensor(reference_time_weights(T))
    result: dict = {"torch_version": torch.__version__, "threads": torch.get_num_threads()}
    opt = torch.optim.Adam(list(p.values()), lr=LR)
    x_all, y_all = torch.tensor(data.x), torch.tensor(data.y)

    def epoch(seed: int) -> None:
        order = torch.randperm(N_SAMPLES, generator=torch.Generator().manual_seed(seed))
        for lo in range(0, N_SAMPLES, BATCH):
            idx = order[lo:lo + BATCH]
            opt.zero_grad()
            loss = _torch_loss(torch, p, x_all[idx], y_all[idx], tw)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(p.values()), CLIP)
            opt.step()

    idx0 = slice(0, BATCH)
    loss = _torch_loss(torch, p, x_all[idx0], y_all[idx0], tw)  # warm-up
    loss.backward()
    opt.zero_grad()
    times = []
    for e in range(epochs):
        t0 = time.perf_counter()
        epoch(e)
        times.append(time.perf_counter() - t0)
    result["epoch_seconds"] = times
    if check:  # after timing (numba's OpenMP pool would compete with torch's): same parameters, same minibatch
        model.set_params({k: v.detach().numpy() for k, v in p.items()})
        for v in p.values():
            v.grad = None
        xb, yb = data.x[:BATCH], data.y[:BATCH]
        loss = _torch_loss(torch, p, torch.tensor(xb), torch.tensor(yb), tw)
        loss.backward()
        ours, grads = model.loss_and_grad(xb, yb, reference_time_weights(T))
        rel = {k: float(np.max(np.abs(p[k].grad.numpy() - grads[k])) / max(1e-300, float(np.max(np.abs(grads[k])))))
               for k in grads}
        result["check"] = {"loss_rel": abs(float(loss) - ours) / ours, "grad_rel": rel}
    return result


def _numpy_loss_grad(params, x, y, tw):
    """Per-time-step numpy loop: forward storing states, then BPTT by hand (what one writes without autograd)."""
    U, b, c, c0, w, P = (params[k] for k in ("U", "b", "c", "c0", "w", "P"))
    sp = np.logaddexp(0.0, w)
    Wp = P.T @ (sp[:, None] * P)
    B = x.shape[0]
    enc = x @ U.T + b
    H = np.zeros((T + 1, B, WIDTH))
    D = np.empty((T, B, WIDTH))
    for k in range(T):
        z = np.tanh(enc[:, k, :] - H[k] @ Wp.T)
        D[k] = 1.0 - z * z
        H[k + 1] = H[k] + DT * z
    out = H[1:].transpose(1, 0, 2) @ c + c0
    err = out - y
    loss = float(np.mean(tw * err**2))
    E = 2.0 * tw * err / (B * T)  # dL/dy, (B, T)
    g = {k: np.zeros_like(v) for k, v in params.items()}
    g["c"] = np.einsum("bt,tbi->i", E, H[1:])
    g["c0"] = np.array(E.sum())
    lam = np.zeros((B, WIDTH))
    gW = np.zeros((WIDTH, WIDTH))
    gU = np.zeros_like(U)
    gb = np.zeros_like(b)
    for k in range(T - 1, -1, -1):
        lam += E[:, k, None] * c
        delta = DT * lam * D[k]
        gb += delta.sum(0)
        gU += delta.T @ x[:, k, :]
        gW -= delta.T @ H[k]
        lam -= delta @ Wp
    g["U"], g["b"] = gU, gb
    PG = P @ gW
    g["w"] = np.einsum("ij,ij->i", PG, P) / (1.0 + np.exp(-w))
    g["P"] = sp[:, None] * (PG + P @ gW.T)
    return loss, g


def worker_numpy(epochs: int) -> dict:
    from memtheory.training import Adam, reference_time_weights

    data = _data()
    model = _model()
    params = model.get_params()
    tw = reference_time_weights(T)
    names = list(params)
    vec = np.concatenate([params[k].ravel() for k in names])
    opt = Adam(lr=LR)
    loss, g = _numpy_loss_grad(params, data.x[:BATCH], data.y[:BATCH], tw)
    ours, grads = model.loss_and_grad(data.x[:BATCH], data.y[:BATCH], tw)
    check = {"loss_rel": abs(loss - ours) / ours,
             "grad_rel": {k: float(np.max(np.abs(g[k] - grads[k])) / np.max(np.abs(grads[k]))) for k in grads}}
    rng = np.random.default_rng(0)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(N_SAMPLES)
        for lo in range(0, N_SAMPLES, BATCH):
            idx = np.sort(order[lo:lo + BATCH])
            _, g = _numpy_loss_grad(params, data.x[idx], data.y[idx], tw)
            gv = np.concatenate([g[k].ravel() for k in names])
            n = np.linalg.norm(gv)
            if n > CLIP:
                gv *= CLIP / n
            opt.step(vec, gv)
            pos = 0
            for k in names:
                params[k] = vec[pos:pos + params[k].size].reshape(params[k].shape)
                pos += params[k].size
        times.append(time.perf_counter() - t0)
    return {"epoch_seconds": times, "check": check}


# =========================================================================== driver


def _spawn(kind: str, epochs: int, env_extra: dict | None = None, check: bool = False, threads: int = 2) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--epochs", str(epochs), "--threads",
           str(threads)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


MT_DEFAULT, MT_PASSIVE = "memtheory (default OpenMP)", "memtheory (OMP_WAIT_POLICY=passive)"
TORCH2, TORCH1, NUMPY = "torch per-step loop, 2 threads", "torch per-step loop, 1 thread", "numpy per-step loop"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one round instead of three")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per implementation and round (default 2)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of interleaved runs (default 3, quick 1)")
    ap.add_argument("--install-torch", action="store_true",
                    help="pip install torch==2.13.0 into THIS interpreter's environment if missing (benchmark venv only)")
    ap.add_argument("--worker", choices=["memtheory", "torch", "numpy"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    if args.worker:
        epochs = args.epochs
        fn = {"memtheory": lambda: worker_memtheory(epochs),
              "torch": lambda: worker_torch(epochs, args.check, args.threads),
              "numpy": lambda: worker_numpy(epochs)}[args.worker]
        print(json.dumps(fn()))
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    if args.install_torch and not _has_torch():
        subprocess.run([sys.executable, "-m", "pip", "install", "torch==2.13.0"], check=False)
    have_torch = _has_torch()
    # Interleaved rounds: the machine may be shared, so every implementation sees the same load drift; the
    # ratio uses the best epoch of each (the least disturbed), medians are reported too.
    plan = [(MT_DEFAULT, "memtheory", {}, 2), (MT_PASSIVE, "memtheory", {"OMP_WAIT_POLICY": "passive"}, 2)]
    if have_torch:
        plan += [(TORCH2, "torch", {}, 2), (TORCH1, "torch", {}, 1)]
    times: dict = {name: [] for name, *_ in plan}
    extra: dict = {}
    for r in range(rounds):
        for name, kind, env, threads in plan:
            res = _spawn(kind, args.epochs, env, check=(kind == "torch" and r == 0), threads=threads)
            if "error" in res:
                extra[name] = res
                continue
            times[name] += res.pop("epoch_seconds")
            extra.setdefault(name, {}).update(res)
    numpy_run = _spawn("numpy", 1)
    if "error" not in numpy_run:
        times[NUMPY] = numpy_run.pop("epoch_seconds")
    extra[NUMPY] = numpy_run
    report = {"setting": {"width": WIDTH, "T": T, "batch": BATCH, "samples_per_epoch": N_SAMPLES, "dtype": "float64",
                          "model": "conjugated softplus tanh RNN", "loss": "twe_MSE", "cpus": os.cpu_count(),
                          "rounds": rounds, "epochs_per_round": args.epochs, "torch_available": have_torch},
              "runs": {}}
    for name, ts in times.items():
        if not ts:
            report["runs"][name] = extra.get(name, {"error": "no timings"})
            continue
        report["runs"][name] = {**extra.get(name, {}), "epoch_seconds": ts, "best_epoch_seconds": float(min(ts)),
                                "median_epoch_seconds": float(np.median(ts)), "samples_per_second": N_SAMPLES / min(ts)}
    refs = [n for n in (TORCH2, TORCH1) if "best_epoch_seconds" in report["runs"].get(n, {})]
    if refs:
        base_name = min(refs, key=lambda n: report["runs"][n]["best_epoch_seconds"])
        report["reference_algorithm"] = base_name + " (the faster torch configuration)"
    else:
        base_name = NUMPY
        report["reference_algorithm"] = NUMPY + " (torch not installed: numpy fallback)"
    base = report["runs"].get(base_name, {}).get("best_epoch_seconds")
    base_med = report["runs"].get(base_name, {}).get("median_epoch_seconds")
    for name in (MT_DEFAULT, MT_PASSIVE):
        r = report["runs"].get(name, {})
        if base and "best_epoch_seconds" in r:
            r["speedup_vs_reference"] = base / r["best_epoch_seconds"]
            r["speedup_vs_reference_medians"] = base_med / r["median_epoch_seconds"]
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"training epoch: width {WIDTH}, T {T}, batch {BATCH}, {N_SAMPLES} sequences, float64, "
          f"{os.cpu_count()} CPUs, {rounds} interleaved round(s) x {args.epochs} epochs; reference algorithm: "
          f"{report['reference_algorithm']}")
    print(f"  {'':40s} {'best s/epoch':>12s} {'median':>8s} {'samples/s':>10s}")
    for name, r in report["runs"].items():
        if "error" in r:
            print(f"  {name:40s} FAILED: {r['error']}")
            continue
        extra_s = (f"  speedup {r['speedup_vs_reference']:.1f}x (medians {r['speedup_vs_reference_medians']:.1f}x)"
                   if "speedup_vs_reference" in r else "")
        print(f"  {name:40s} {r['best_epoch_seconds']:12.3f} {r['median_epoch_seconds']:8.3f} "
              f"{r['samples_per_second']:10.0f}{extra_s}")
        if "check" in r:
            c = r["check"]
            print(f"  {'':40s} check vs memtheory BPTT: loss rel {c['loss_rel']:.1e}, worst grad rel "
                  f"{max(c['grad_rel'].values()):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
