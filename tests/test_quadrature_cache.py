"""The float64 Laplace transform of a kernel with a quadrature remainder is cached on disk, and it is right.

The compiled adaptive quadrature (:mod:`memtheory.compile.special.quadrature`) receives its integrand as a numba
first-class function, so it is compiled once for every integrand, and the generated kernel modules that call it
(:mod:`memtheory.kernels.compiled`) are cached on disk. These tests check it structurally: numba reports every
function it compiles (a cache load is not a compile) through its ``numba:compile`` event, which a listener records
in two fresh processes sharing one fresh cache directory. The values are checked against mpmath quadratures of
the definition (references independent of the library: mpmath's own ``erf`` and ``airyai``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
from conftest import RTOL64

import memtheory as mt

QUADRATURE_MODULE = "memtheory.compile.special.quadrature"
GENERATED_PREFIX = "memtheory_kernel_"

#: Runs in a fresh process: the transforms of the kernels in argv[1] (expression, points, moment), and every
#: function numba compiled while computing them, as JSON.
SCRIPT = r"""
import json
import sys

from numba.core import event

import memtheory as mt

compiled = []


class Record(event.Listener):
    def on_start(self, ev):
        func = ev.data["dispatcher"].py_func
        compiled.append([func.__module__, func.__qualname__])

    def on_end(self, ev):
        pass


values = []
with event.install_listener("numba:compile", Record()):
    for expr, s, moment in json.loads(sys.argv[1]):
        values.append(mt.Kernel(expr).laplace(s, moment=moment).tolist())
print(json.dumps({"values": values, "compiled": compiled}))
"""


def _run(cases: list, cache_dir: str) -> dict:
    env = {**os.environ, "MEMTHEORY_CACHE_DIR": cache_dir}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cases)], capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _count(compiled: list, module: str, name: str) -> int:
    return sum(1 for mod, qualname in compiled if mod == module and qualname == name)


def test_second_process_compiles_nothing_for_a_quadrature_kernel(tmp_path):
    """s > 0 (``laplace_quad``) and s <= 0 (``gauss_kronrod`` on the half line), two kernels with different
    integrands: the first process compiles each quadrature routine at most once (not once per integrand); the
    second, with the same cache directory, compiles nothing at all and gives the same numbers."""
    cases = [["1/(1+t**2)", [0.5, 2.0], 0], ["1/(1+t**2)", [-0.0], 0], ["1/(1+t**2)", [0.5], 1],
             ["airyai(t-6)", [0.5, 2.0], 0], ["airyai(t-6)", [-1.0, -0.0], 0]]
    first = _run(cases, str(tmp_path))
    compiled = first["compiled"]
    generated = {mod for mod, _ in compiled if mod.startswith(GENERATED_PREFIX)}
    assert len(generated) == 2, compiled  # one module per kernel structure, compiled in this fresh cache
    for name in ("_adaptive", "_qk21", "laplace_quad", "gauss_kronrod"):
        assert _count(compiled, QUADRATURE_MODULE, name) <= 1, (name, compiled)
    second = _run(cases, str(tmp_path))
    assert second["compiled"] == []
    assert second["values"] == first["values"]


def _laplace_ref(f, s: float, k: int, points: list) -> mp.mpf:
    """``int_0^inf t^k e^(-s t) f(t) dt`` by mpmath (tanh-sinh on the given pieces) at 30 digits."""
    with mp.workdps(30):
        s = mp.mpf(s)
        return mp.quad(lambda t: t**k * mp.exp(-s * t) * f(t), [0, *points, mp.inf])


#: (kernel, mpmath integrand, break points of the reference quadrature, (s, moment) pairs); s <= 0 is the
#: half-line quadrature of an integrable t^k rho(t) e^(-s t).
REFERENCE_CASES = {
    "rational": ("1/(1+t**2)", lambda t: 1 / (1 + t**2), [1, 4, 16, 64],
                 [(0.5, 0), (2.0, 0), (-0.0, 0), (0.5, 1), (2.0, 2)]),
    "exp_erf": ("exp(-t)*erf(t)", lambda t: mp.exp(-t) * mp.erf(t), [1, 4, 16],
                [(0.5, 0), (2.0, 1), (-0.0, 0), (-0.5, 0), (-0.5, 2)]),
    "airy": ("airyai(t-6)", lambda t: mp.airyai(t - 6), [1, 2, 3, 4, 5, 6, 8, 12],
             [(0.1, 0), (1.0, 1), (3.0, 2), (-0.0, 0), (-1.0, 1)]),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_quadrature_kernels_agree_with_mpmath(name):
    expr, f, points, cases = REFERENCE_CASES[name]
    rho = mt.Kernel(expr)
    for s, k in cases:
        res = rho.laplace([s], moment=k, full_output=True)
        ref = float(_laplace_ref(f, s, k, points))
        assert abs(res.values[0] - ref) <= RTOL64 * abs(ref), (name, s, k, res.values[0], ref)
        assert 0 <= res.errors[0] <= RTOL64 * abs(res.values[0])
    values = rho.laplace([s for s, k in cases if k == 0])
    np.testing.assert_array_equal(values, [rho.laplace([s])[0] for s, k in cases if k == 0])  # one call = many
