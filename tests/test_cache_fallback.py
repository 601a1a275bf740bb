"""An unusable cache location never breaks ``import memtheory``: the caches move to a temporary directory with
one warning each, and results are unchanged. Each case runs in a fresh interpreter (numba picks its cache
location when a ``cache=True`` function is defined, i.e. at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# J = int (e^{-t} - e^{-t/7})^2 dt = 1/2 - 2/(1 + 1/7) + 7/2 = 9/4, by hand
PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import memtheory as mt
    J = mt.l2_loss(mt.DiagonalRNN([1.0], [1.0]), mt.Kernel("exp(-t/7)")).loss
print(json.dumps({"J": J, "warnings": [str(w.message) for w in caught if "cache" in str(w.message)]}))
"""

#: Makes every directory read-only except the temporary fallbacks: the write probe that numba and memtheory use
#: (tempfile.TemporaryFile in the directory) fails as it does on a read-only file system.
READ_ONLY = """
import os, tempfile
_orig = tempfile.TemporaryFile
_ALLOWED = os.path.join(os.path.realpath(tempfile.gettempdir()), "memtheory-")
def _read_only(*args, dir=None, **kwargs):
    if dir is not None and not os.path.realpath(dir).startswith(_ALLOWED):
        raise PermissionError(13, "Permission denied")
    return _orig(*args, dir=dir, **kwargs)
tempfile.TemporaryFile = _read_only
"""


def _probe(env_changes: dict, prefix: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_changes)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(prefix) + textwrap.dedent(PROBE)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_read_only_package_and_home(tmp_path):
    """The issue's case: site-packages and HOME read-only made ``import memtheory`` fail ("cannot cache function
    'softplus': no locator available"). Now one warning per cache and the right value."""
    out = _probe({"HOME": str(tmp_path)}, READ_ONLY)
    assert out["J"] == pytest.approx(2.25, rel=1e-14)
    numba_warnings = [w for w in out["warnings"] if "numba cache" in w]
    own_warnings = [w for w in out["warnings"] if "memtheory cache" in w]
    assert len(numba_warnings) == 1 and len(own_warnings) == 1, out["warnings"]
    assert "Permission denied" in numba_warnings[0] and "memtheory-numba-cache-" in numba_warnings[0]


@pytest.mark.parametrize("case", ["file", "proc_home"])
def test_broken_memtheory_cache_dir(case, tmp_path):
    if case == "file":
        bad = tmp_path / "not-a-directory"
        bad.write_text("")
        env = {"MEMTHEORY_CACHE_DIR": str(bad)}
    else:
        env = {"HOME": "/proc", "XDG_CACHE_HOME": "", "MEMTHEORY_CACHE_DIR": ""}  # empty means unset
    out = _probe(env)
    assert out["J"] == pytest.approx(2.25, rel=1e-14)
    assert len(out["warnings"]) == 1 and "memtheory cache" in out["warnings"][0], out["warnings"]


def test_writable_directory_reports_the_reason(tmp_path):
    from memtheory._cachedirs import writable_directory

    assert writable_directory(tmp_path / "new" / "dir") is None
    (tmp_path / "f").write_text("")
    assert writable_directory(tmp_path / "f") is not None
