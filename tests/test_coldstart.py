"""Cold start: generated float64 code runs interpreted until it is hot, with the numbers of numba's machine code.

The two tiers of :mod:`memtheory.compile.tiers` are compared bit for bit: the interpreted tier (CPython running the
generated source, with numba's C math functions) against the compiled tier (numba's LLVM machine code of the same
source), on the kernel families' generated modules and on the loss assembly. A fresh environment (new empty cache
directories) runs ``memtheory loss`` without compiling anything, checked through numba's own compile events, and
its numbers are checked against an mpmath quadrature of the definition. No test here is timed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
from numba import njit

import memtheory as mt
from memtheory.compile import codegen, tiers
from memtheory.compile.tiers import COMPILE_ENV, NUMBA_MATH, TieredModule
from memtheory.errors import InvalidArgumentError
from memtheory.kernels.compiled import compile_kernel
from memtheory.losses.assembly import float_assembly

#: Closed-form kernels (no quadrature residual) whose generated modules are compared; the first in the default
#: suite (its module is small), the rest with ``-m slow``.
FAST_KERNELS = {
    "two_exponentials": lambda: mt.Kernel("exp(-t) + exp(-2*t)"),
}
SLOW_KERNELS = {
    "gaussian": lambda: mt.kernels.gaussian_bump("5.0", "0.8"),
    "exp": lambda: mt.kernels.reference("exp"),
    "shift": lambda: mt.kernels.reference("shift"),
    "twoparts": lambda: mt.kernels.reference("twoparts"),
    "window": lambda: mt.kernels.window("0.5", "2"),
    "memory_family": lambda: mt.kernels.memory_family(mt.kernels.exponential("0.4"),
                                                      mt.kernels.gaussian_bump("0.0", "0.7"), "0.1"),
    "polynomial_exp": lambda: mt.Kernel("t*exp(-t) + t**2*exp(-3*t/2)"),
    "damped_cosine": lambda: mt.Kernel("exp(-t)*cos(3*t)"),
    "shifted_gaussian": lambda: mt.Kernel("exp(-(t - c)**2/2)", c=3),
}

RNG = np.random.default_rng(20261202)
#: Rates: moderate ones, very small and very large ones (underflow, overflow of exponentials), and 0.
S_VALUES = np.concatenate([RNG.uniform(0.01, 5.0, 30), 10.0 ** RNG.uniform(-8, 3, 30),
                           [0.0, 1e-300, 1e300, 700.0, 800.0, 0.5]])


def _both(code: TieredModule, name: str, args: tuple, outputs: tuple):
    """``name(*args)`` by the interpreted tier (None if it hands the call over) and by the compiled tier."""
    results = []
    for module in (code.interpreted, code.compiled):
        a = tuple(x.copy() if isinstance(x, np.ndarray) else x for x in args)
        try:
            with np.errstate(divide="raise", over="ignore", under="ignore", invalid="ignore"):
                value = getattr(module, name)(*a)
        except (ArithmeticError, ValueError, TypeError) as exc:
            if module is code.compiled:
                value = type(exc).__name__
            else:
                results.append(None)
                continue
        results.append((value, [a[i] for i in outputs]))
    return results


def _same(x, y) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        return x == y
    if isinstance(x, np.ndarray):
        return x.shape == y.shape and np.array_equal(x.view(np.int64), y.view(np.int64))
    return np.float64(x).view(np.int64) == np.float64(y).view(np.int64) if x is not None else y is None


def _compare_kernel(rho) -> int:
    """Compare the tiers on every float64 entry point of ``rho``'s module; returns how many calls the
    interpreted tier ran itself (the others it handed over to the compiled tier)."""
    ck = compile_kernel(rho)
    assert not ck.has_residual
    p, bps = rho.param_array(), np.zeros(0)
    ran = 0
    for s in S_VALUES:
        x = np.array([s])
        calls = [("moments_at", (x, p, 2, bps, np.zeros((3, 1)), np.zeros((3, 1))), (4, 5)),
                 ("closed_errors_at", (x, p, 2, np.zeros((3, 1))), (3,))]
        calls += [("laplace_at", (x, k, p, bps, 1e-13, np.zeros(1), np.zeros(1)), (5, 6)) for k in range(3)]
        for name, args, outputs in calls:
            interpreted, compiled = _both(ck.code, name, args, outputs)
            if interpreted is None:
                continue  # handed over: the compiled tier decides (checked in test_hand_over)
            ran += 1
            assert _same(interpreted[0], compiled[0]), (name, s, interpreted, compiled)
            for a, b in zip(interpreted[1], compiled[1]):
                assert _same(a, b), (name, s, a, b)
    return ran


@pytest.mark.parametrize("name", sorted(FAST_KERNELS))
def test_kernel_tiers_agree_bit_for_bit(name):
    """The interpreted and compiled tiers of a kernel module give the same bits wherever the interpreted tier
    runs (which is nearly everywhere: only poles, overflow and the like are handed over)."""
    ran = _compare_kernel(FAST_KERNELS[name]())
    assert ran >= 0.8 * 5 * S_VALUES.size


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_KERNELS))
def test_kernel_tiers_agree_bit_for_bit_families(name):
    ran = _compare_kernel(SLOW_KERNELS[name]())
    assert ran >= 0.5 * 5 * S_VALUES.size


def test_assembly_tiers_agree_bit_for_bit():
    """The loss, gradient and Hessian (and their magnitudes) of the float64 assembly, interpreted and compiled,
    on random widths 1..6 and rates over four decades."""
    code = float_assembly()
    rng = np.random.default_rng(7)
    for _ in range(60):
        m = int(rng.integers(1, 7))
        a, (L0, L1, L2) = rng.normal(size=m), rng.normal(size=(3, m))
        w = 10.0 ** rng.uniform(-2, 2, m)
        norm = float(rng.uniform(0.1, 3.0))
        for name in ("assemble", "assemble_magnitude"):
            for grad, hess in ((True, True), (True, False), (False, False)):
                args = (a, w, L0, L1, L2, norm, np.zeros(2 * m), np.zeros((2 * m, 2 * m)), grad, hess)
                interpreted, compiled = _both(code, name, args, (6, 7))
                assert interpreted is not None
                assert _same(interpreted[0], compiled[0]), (name, m, interpreted[0], compiled[0])
                for x, y in zip(interpreted[1], compiled[1]):
                    assert _same(x, y), (name, m)


def test_numba_math_is_numbas():
    """The interpreted tier's ``math`` returns what numba's compiled ``math`` returns, bit for bit, including where
    CPython's own ``math`` differs (``lgamma``, ``gamma``) or raises (overflow, poles)."""
    names = ["exp", "log", "sqrt", "erf", "erfc", "gamma", "lgamma", "expm1", "log1p", "sin", "cos", "tanh"]
    xs = [0.3, 1.7, 12.5, -2.5, 0.0, 1000.0, -1000.0, 1e-300]
    for name in names:
        compiled = njit(eval(f"lambda x: math.{name}(x)", {"math": math}))
        for x in xs:
            got = getattr(NUMBA_MATH, name)(x)
            assert _same(got, compiled(x)), (name, x, got, compiled(x))
    assert math.lgamma(0.3) != NUMBA_MATH.lgamma(0.3)  # why CPython's math is not used (this build's libm)
    pow2 = njit(lambda x, y: math.pow(x, y))
    assert _same(NUMBA_MATH.pow(2.5, 0.3), pow2(2.5, 0.3))


HAND_OVER_BODY = '''
@njit(cache=True)
def power(x, y, out):
    out[0] += 1.0
    out[0] += abs(x ** y)
    return out[0]


@njit(cache=True)
def quotient(x, out):
    out[0] = 1.0 / x
    return 0
'''


def test_hand_over_restores_outputs_and_lets_numba_decide(tmp_path, monkeypatch):
    """Where CPython raises and numba does not (0.0 ** -1.5, a complex power), the interpreted tier hands the call
    over: the output it had already accumulated into is restored and the compiled tier's result returned. A
    float division by zero raises in both (numba's Python error model), so the interpreted tier raises it."""
    monkeypatch.setenv("MEMTHEORY_CACHE_DIR", str(tmp_path))
    code = TieredModule(HAND_OVER_BODY, "handover_test", budget=10**9)
    out = np.array([5.0])
    assert code.call("power", (2.0, 2.0, out), 1, (2,)) == 10.0  # interpreted: 5 + 1 + 4
    assert codegen.loaded_module(code.name) is None  # nothing compiled yet
    out = np.array([5.0])
    assert code.call("power", (0.0, -1.5, out), 1, (2,)) == math.inf and out[0] == math.inf
    out = np.array([5.0])
    assert math.isnan(code.call("power", (-2.0, 0.5, out), 1, (2,)))  # CPython: a complex number
    assert math.isnan(out[0])
    with pytest.raises(ZeroDivisionError):
        code.compiled.quotient(0.0, np.zeros(1))
    fresh = TieredModule(HAND_OVER_BODY + "\n# not compiled\n", "handover_test", budget=10**9)
    for x in (0.0, np.float64(0.0)):  # CPython's and numpy's division by zero: raised without compiling
        with pytest.raises(ZeroDivisionError):
            fresh.call("quotient", (x, np.zeros(1)), 1, (1,))
    assert codegen.loaded_module(fresh.name) is None


def test_budget_and_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMTHEORY_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    code = TieredModule(HAND_OVER_BODY, "budget_test", budget=3)
    out = np.zeros(1)
    assert code.tier("power", 2) == "interpreted"
    code.call("power", (1.0, 1.0, out), 2, (2,))
    assert code.work == 2 and code.tier("power", 1) == "interpreted" and code.tier("power", 2) == "compiled"
    code.call("power", (1.0, 1.0, out), 2, (2,))  # over the budget: compiled
    assert code.work == 2 and codegen.loaded_module(code.name).power.signatures
    assert code.tier("power", 0) == "compiled"  # machine code exists in this process: always used
    fresh = TieredModule(HAND_OVER_BODY + "\n# another module\n", "budget_test", budget=10**9)
    monkeypatch.setenv(COMPILE_ENV, "compiled")
    assert fresh.tier("power", 1) == "compiled"
    monkeypatch.setenv(COMPILE_ENV, "interpreter")
    with pytest.raises(InvalidArgumentError, match=COMPILE_ENV):
        tiers.compile_mode()


def test_cached_source(tmp_path, monkeypatch):
    """A generated source is generated once per version of the code and read back; a damaged file is regenerated,
    an unwritable directory only costs the regeneration."""
    monkeypatch.setenv("MEMTHEORY_CACHE_DIR", str(tmp_path))
    calls = []

    def generate():
        calls.append(1)
        return "x = 1\n"

    assert codegen.cached_source("test", generate) == "x = 1\n"
    assert codegen.cached_source("test", generate) == "x = 1\n" and len(calls) == 1
    (path,) = (tmp_path / "generated").glob("test-*.src")
    assert codegen.package_stamp() in path.name
    path.write_text("garbage")
    assert codegen.cached_source("test", generate) == "x = 1\n" and len(calls) == 2
    path.unlink()
    os.chmod(tmp_path / "generated", 0o500)
    try:
        assert codegen.cached_source("test", generate) == "x = 1\n" and len(calls) == 3
    finally:
        os.chmod(tmp_path / "generated", 0o700)


#: ``memtheory loss`` in a fresh process, with numba's compile events recorded (a cache load is not a compile).
CLI_SCRIPT = r"""
import contextlib, io, json, sys
from numba.core import event
from memtheory.cli.main import main

compiled = []


class Record(event.Listener):
    def on_start(self, ev):
        func = ev.data["dispatcher"].py_func
        compiled.append(func.__module__ + "." + func.__qualname__)

    def on_end(self, ev):
        pass


out = io.StringIO()
with event.install_listener("numba:compile", Record()), contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "result": json.loads(out.getvalue()), "compiled": compiled}))
"""

A, W = ["0.5", "1"], ["1", "3"]


def _loss_reference():
    """J and grad J of rho_hat = 0.5 e^{-t} + e^{-3t} against e^{-t} + e^{-2t}, by mpmath quadrature."""
    with mp.workdps(30):
        a, w = [mp.mpf(x) for x in A], [mp.mpf(x) for x in W]

        def err(t):
            return sum(ai * mp.exp(-wi * t) for ai, wi in zip(a, w)) - mp.exp(-t) - mp.exp(-2 * t)

        J = mp.quad(lambda t: err(t) ** 2, [0, 1, 10, mp.inf])
        ga = [2 * mp.quad(lambda t, wi=wi: err(t) * mp.exp(-wi * t), [0, 1, 10, mp.inf]) for wi in w]
        gw = [-2 * ai * mp.quad(lambda t, wi=wi: err(t) * t * mp.exp(-wi * t), [0, 1, 10, mp.inf])
              for ai, wi in zip(a, w)]
        return float(J), [float(x) for x in ga], [float(x) for x in gw]


def test_fresh_environment_loss_compiles_nothing_and_is_right(tmp_path):
    """The issue's cold start: ``memtheory loss`` with fresh cache directories compiles no function at all and
    prints the loss and gradient of the definition; a second process (warm) prints the same."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "MEMTHEORY_CACHE_DIR": str(tmp_path / "mt"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop(COMPILE_ENV, None)
    argv = ["loss", "--target", "exp(-t) + exp(-2*t)", "--a", ",".join(A), "--w", ",".join(W), "--json"]
    J, ga, gw = _loss_reference()
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", CLI_SCRIPT, *argv], env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for run in runs:
        assert run["code"] == 0 and run["compiled"] == [], run["compiled"]
        res = run["result"]
        assert res["loss"] == pytest.approx(J, rel=1e-13, abs=1e-15)
        np.testing.assert_allclose(res["grad_a"], ga, rtol=1e-13)
        np.testing.assert_allclose(res["grad_w"], gw, rtol=1e-13)
        assert res["loss_error"] >= abs(res["loss"] - J)
    assert runs[0]["result"] == runs[1]["result"]
    assert list((tmp_path / "mt" / "generated").glob("l2loss-numba-*.src"))  # the second process read it back
