"""The on-disk cache key of the compiled integrator covers every source file compiled into it.

numba keys a cache on the source file of the cached function only; the entry point of the integrator
(:func:`memtheory.dynamics.loop.solve_chunk`) contains the machine code of every numba function it reaches and
the module-level numbers those read. :mod:`memtheory.dynamics.cache` therefore stamps the cache with the
contents of all of them (``SOURCES``). These tests find the compiled files from the code itself, so a new
compiled module added to the loop but not to the key makes them fail. Nothing is compiled here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
import types

import pytest
from numba import njit
from numba.core.dispatcher import Dispatcher

import memtheory.dynamics
from memtheory.dynamics import cache, loop

PACKAGE_DIR = os.path.dirname(os.path.abspath(memtheory.dynamics.__file__))


def _names(code: types.CodeType) -> set[str]:
    """Global names a function's code (and the code nested in it) may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _reachable_dispatchers() -> dict[str, list[str]]:
    """Source file -> numba functions reachable from the entry point through the globals they read."""
    found: dict[str, list[str]] = {}
    seen: set = set()
    stack = [loop.solve_chunk, loop.solve_chunk_radau]  # (the Radau-only one reaches a subset)
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        found.setdefault(os.path.abspath(inspect.getsourcefile(fn)), []).append(fn.__qualname__)
        for name in _names(fn.__code__):
            obj = fn.__globals__.get(name)
            if isinstance(obj, Dispatcher):
                stack.append(obj.py_func)
            elif isinstance(obj, types.ModuleType) and obj.__name__.startswith("memtheory."):
                for attr in vars(obj).values():  # module.function() calls: every dispatcher of that module
                    if isinstance(attr, Dispatcher):
                        stack.append(attr.py_func)
    return found


def _package_imports(path: str) -> set[str]:
    """Files of memtheory modules a source file imports names from (module-level numbers are frozen in)."""
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    package = "memtheory.dynamics"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                modname = f"{base}.{node.module}" if node.module else base
            else:
                modname = node.module or ""
            if modname.startswith("memtheory."):
                module = importlib.import_module(modname)
                if hasattr(module, "__file__") and not module.__file__.endswith("__init__.py"):
                    out.add(os.path.abspath(module.__file__))
    return out


def _compiled_files() -> set[str]:
    files = set(_reachable_dispatchers())
    for path in list(files):
        files |= _package_imports(path)
    return files


def test_entry_point_reaches_the_step_kernels():
    """Sanity check of the walk itself: the kernels of every stage of the loop are found."""
    found = {os.path.basename(f): names for f, names in _reachable_dispatchers().items()}
    assert {"solve_chunk", "integrate_loop"} <= {name.rsplit(".", 1)[-1] for name in found["loop.py"]}
    for name, kernel in [("explicit.py", "erk_attempt"), ("dopri.py", "initial_step"), ("radau.py", "radau_attempt"),
                         ("events.py", "detect_events"), ("control.py", "stiffness_update"),
                         ("buffers.py", "push_point")]:
        assert kernel in found[name], (name, found.get(name))


def test_cache_key_lists_every_compiled_source_file():
    listed = {os.path.join(PACKAGE_DIR, name) for name in cache.SOURCES}
    compiled = _compiled_files()
    outside = sorted(f for f in compiled if os.path.dirname(f) != PACKAGE_DIR)
    assert not outside, f"code outside memtheory.dynamics is compiled into the integrator: {outside}"
    missing = sorted(os.path.basename(f) for f in compiled - listed)
    assert not missing, f"compiled into the integrator but not in memtheory.dynamics.cache.SOURCES: {missing}"
    for path in listed:
        assert os.path.isfile(path), path


def test_changing_any_listed_file_changes_the_stamp(tmp_path):
    for name in cache.SOURCES:
        shutil.copy(os.path.join(PACKAGE_DIR, name), tmp_path / name)
    base = cache.sources_stamp(str(tmp_path))
    assert base == cache.sources_stamp()
    assert len(base) == len(cache.SOURCES) == len(set(cache.SOURCES))
    for k, name in enumerate(cache.SOURCES):
        path = tmp_path / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        stamp = cache.sources_stamp(str(tmp_path))
        assert stamp[k] != base[k], name
        assert stamp[:k] + stamp[k + 1:] == base[:k] + base[k + 1:]
        path.write_bytes(original)
    assert cache.sources_stamp(str(tmp_path)) == base


def test_attached_cache_uses_the_stamp_of_all_sources():
    disp = njit(nogil=True)(loop.solve_chunk)  # a fresh dispatcher: nothing is compiled
    if not cache.attach_cache(disp):  # pragma: no cover - numba's cache internals differ
        pytest.skip("this numba version's cache internals differ")
    assert disp._cache._cache_file._source_stamp == cache.sources_stamp()
