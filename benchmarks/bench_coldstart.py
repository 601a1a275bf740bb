"""Cold and warm first calls of ``memtheory loss``, ``memtheory laplace`` and one plateau point, each its own process.

*Cold*: a fresh environment -- numba's cache (``NUMBA_CACHE_DIR``) and memtheory's (``MEMTHEORY_CACHE_DIR``,
``XDG_CACHE_HOME``) are new empty directories. *Warm*: the same command again with the caches the cold run left.
Each command runs in two modes, in one run of this script:

* ``tiered`` (the default): generated code runs interpreted until it is hot (:mod:`memtheory.compile.tiers`);
* ``compiled`` (``MEMTHEORY_COMPILE=compiled``, the behaviour before the tiers): numba compiles every generated
  function at its first call.

Prints, per command and mode, the wall time and the CPU time (user + system of the child process), the number of
functions numba compiled (machine-code files written to the fresh numba cache) and the ratios compiled / tiered;
the load average before and after, since under load only the ratios and the CPU times are meaningful. Both
modes must print the same output (checked).

Run: ``python benchmarks/bench_coldstart.py [--repeat N] [--only loss,laplace,plateau]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "loss": ["loss", "--target", "exp(-t)+exp(-2*t)", "--a", "1,1", "--w", "1,2", "--json"],
    "laplace": ["laplace", "--target", "exp(-t)+exp(-2*t)", "--s", "0.5,1", "--moment", "1", "--json"],
    "plateau": ["plateau", "--target", "exp(-t/2) + exp(-2*(t - 1/omega)**2)", "--a0", "1,0", "--w0", "0.5,2",
                "--delta", "0.05", "--inv-omega", "4", "--json"],
}


def run(argv: list[str], caches: Path, mode: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``python -m memtheory.cli ARGV`` with the caches under ``caches``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(caches / "numba"), MEMTHEORY_CACHE_DIR=str(caches / "memtheory"),
               XDG_CACHE_HOME=str(caches / "xdg"), MEMTHEORY_COMPILE=mode)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "memtheory.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({mode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _without_timings(text: str) -> str:
    """The output with its timing fields removed (a plateau row holds its own seconds)."""
    import json

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k != "seconds"}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return json.dumps(strip(json.loads(text)), sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs per command and mode (default 1)")
    parser.add_argument("--only", default=",".join(COMMANDS), help="commands to time (default all)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows = {}
    for name in names:
        outputs = set()
        for mode in ("tiered", "compiled"):
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="memtheory-bench-cold-") as tmp:
                    caches = Path(tmp)
                    cold = run(COMMANDS[name], caches, mode)
                    compiled = len(list((caches / "numba").rglob("*.nbc")))
                    warm = run(COMMANDS[name], caches, mode)
                outputs.update({_without_timings(cold[2]), _without_timings(warm[2])})
                rows.setdefault((name, mode), []).append((cold[:2], warm[:2], compiled))
        same = "same output" if len(outputs) == 1 else f"OUTPUTS DIFFER: {sorted(outputs)}"
        print(f"\n{name}: {' '.join(COMMANDS[name])}   [{same}]")
        best = {}
        for mode in ("tiered", "compiled"):
            runs = rows[(name, mode)]
            cold_wall = min(r[0][0] for r in runs)
            cold_cpu = min(r[0][1] for r in runs)
            warm_wall = min(r[1][0] for r in runs)
            warm_cpu = min(r[1][1] for r in runs)
            best[mode] = (cold_wall, cold_cpu, warm_wall, warm_cpu)
            print(f"  {mode:9s} cold {cold_wall:7.2f} s wall {cold_cpu:7.2f} s cpu ({runs[0][2]:3d} functions "
                  f"compiled)   warm {warm_wall:6.2f} s wall {warm_cpu:6.2f} s cpu")
        t, c = best["tiered"], best["compiled"]
        print(f"  compiled / tiered: cold {c[0] / t[0]:5.2f}x wall {c[1] / t[1]:5.2f}x cpu   "
              f"warm {c[2] / t[2]:5.2f}x wall {c[3] / t[3]:5.2f}x cpu")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
