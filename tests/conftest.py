"""Shared helpers for the foundation tests: independent mpmath references computed from the definitions.

Nothing here calls memtheory. Every reference is a quadrature (mpmath tanh-sinh with breakpoints, or
``quadosc`` for undamped oscillations) of the mathematical definition, at more digits than the accuracy
checked, and each quadrature asserts that its own error estimate is far below the tolerance it serves.

Parameter conventions mirror the library's documented ones (``memtheory.exact``): a Python float given to the API
is its exact *binary* value, whether it is a kernel parameter, a Laplace point or a model parameter ``(a, w)``, so
the references build it with :func:`dec` (which is :func:`binf` for floats and the decimal for strings); numbers
typed on the command line are exact *decimals* (``0.1 -> 1/10``), built with :func:`dec_text`.
"""

from __future__ import annotations

import os

import mpmath as mp
import numpy as np
import pytest
from hypothesis import settings as _hyp_settings

# Property tests draw the same examples on every run (CI must not go red on an unlucky draw; a new edge case is
# found by running with HYPOTHESIS_PROFILE=explore, which draws fresh examples).
_hyp_settings.register_profile("ci", derandomize=True, database=None, max_examples=100)
_hyp_settings.register_profile("explore", derandomize=False, database=None, max_examples=2000)
_hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The suite runs on two worker processes (pytest-xdist, ``-n 2`` in pyproject's addopts). Tests sharing a costly
# session fixture go to one worker, so the fixture is built once: the documentation build (test_docs and
# test_docs_browser).
_GROUPS = {"test_docs.py": "docs", "test_docs_browser.py": "docs"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = _GROUPS.get(item.path.name)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


#: Relative accuracy required in float64 and with dps=40 (the issue's contract).
RTOL64 = 1e-9
RTOL40 = 1e-25
#: Digits of the references (well beyond the 25 digits checked).
REF_DPS = 50


def dec(x) -> mp.mpf:
    """The exact value the library takes for ``x``: a float's binary value, a string's decimal."""
    if isinstance(x, mp.mpf):
        return x
    return mp.mpf(float(x)) if isinstance(x, (float, np.floating)) else mp.mpf(x)


def dec_text(x) -> mp.mpf:
    """The exact decimal a float's shortest repr spells (what the command line reads ``0.1`` as: ``1/10``)."""
    if isinstance(x, mp.mpf):
        return x
    return mp.mpf(repr(float(x))) if isinstance(x, (float, np.floating)) else mp.mpf(x)


def binf(x) -> mp.mpf:
    """The exact binary value of a float64."""
    return mp.mpf(float(x))


def quad(f, points, rel: float = 1e-30, abs_floor=None, method: str = "tanh-sinh"):
    """``mp.quad(f, points)`` at the current precision; asserts the error estimate is below ``rel * |value|``.

    ``abs_floor`` allows an absolute error estimate for integrals that may vanish.
    """
    pts = sorted(set(points), key=lambda p: (p == mp.inf, p))
    # mpmath stops refining once the *absolute* error is below 2^-prec: normalise the integrand by its size at
    # the breakpoints so that exponentially small integrals (1e-300 and below) are computed to relative accuracy.
    finite = [p for p in pts if p != mp.inf]
    probes = finite + [(a + b) / 2 for a, b in zip(finite[:-1], finite[1:])] + [finite[-1] + 1]
    scale = max(abs(f(p)) for p in probes)
    if scale == 0 or not mp.isfinite(scale):
        scale = mp.mpf(1)
    val, err = mp.quad(lambda x: f(x) / scale, pts, error=True, method=method)
    val, err = val * scale, err * scale
    bound = rel * abs(val)
    if abs_floor is not None:
        bound = max(bound, abs_floor)
    assert err <= bound or err == 0, f"reference quadrature not converged: value {val}, error {err}"
    return val


def quad_logsub(f, points, c, rel: float = 1e-30):
    """``int_0^inf f(t) dt`` after the substitution ``t = (e^x - 1)/c`` (algebraic tails become exponential).

    ``points`` are breakpoints in ``t`` (0 and inf included); tanh-sinh converges badly on slowly decaying
    algebraic tails, so power-law references use this form.
    """
    c = dec(c)
    xs = [mp.inf if p == mp.inf else mp.log1p(c * p) for p in points]

    def g(x):
        # Beyond x = 1e4 every integrand used here is below e^{-1000} (algebraic decay t^(-1.1) or faster becomes
        # e^{-0.1 x}); skipping it avoids evaluating exp of astronomically large numbers at the far nodes.
        if x > 10_000:
            return mp.mpf(0)
        return f(mp.expm1(x) / c) * mp.exp(x) / c

    return quad(g, xs, rel=rel)


def laplace_ref(f, s, k: int, points, dps: int = REF_DPS, rel=None, logsub=None):
    """``int_0^inf t^k f(t) e^{-s t} dt`` by quadrature of the definition (``points``: breakpoints incl. 0, inf).

    ``logsub=c`` integrates in ``x = log(1 + c t)`` (for power-law tails).
    """
    rel = rel if rel is not None else mp.mpf(10) ** -(dps - 18)  # 1e-12 at 30 digits, 1e-32 at 50
    with mp.workdps(dps):
        sv = dec(s)
        points = points() if callable(points) else points
        g = lambda t: t**k * f(t) * mp.exp(-sv * t)  # noqa: E731
        if logsub is not None:
            return +quad_logsub(g, points, logsub, rel=rel)
        return +quad(g, points, rel=rel)


def rel_err(got, ref) -> float:
    """|got - ref| / |ref| computed in mpmath (so that 1e-25 is measurable)."""
    with mp.workdps(REF_DPS):
        got = mp.mpf(got) if not isinstance(got, mp.mpf) else got
        ref = mp.mpf(ref) if not isinstance(ref, mp.mpf) else ref
        if ref == 0:
            return float(abs(got))
        return float(abs(got - ref) / abs(ref))


def assert_rel(got, ref, rtol: float, what: str = "") -> None:
    """Elementwise relative comparison with mpmath arithmetic; the message shows both numbers."""
    got_l = list(got) if isinstance(got, (list, tuple, np.ndarray)) else [got]
    ref_l = list(ref) if isinstance(ref, (list, tuple, np.ndarray)) else [ref]
    assert len(got_l) == len(ref_l), f"{what}: {len(got_l)} values, expected {len(ref_l)}"
    for i, (g, r) in enumerate(zip(got_l, ref_l)):
        e = rel_err(g, r)
        assert e <= rtol, (f"{what}[{i}]: got {mp.nstr(mp.mpf(g), 30)}, expected {mp.nstr(mp.mpf(r), 30)}, "
                           f"rel. error {e:.3g} > {rtol:g}")


# ------------------------------------------------------------------------------ kernels from their definitions
def gaussian_points(center, width, extra=(), s=None):
    """Breakpoints for a Gaussian bump times e^{-st} on [0, inf): around the centre and around the peak of the
    integrand, ``center - s width^2``."""
    c, w = dec(center), dec(width)
    pts = [mp.mpf(0), mp.inf, *extra]
    peaks = [c] if s is None else [c, c - dec(s) * w**2]
    for peak in peaks:
        pts += [peak + j * w for j in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20, 40) if peak + j * w > 0]
    return pts


def airy_points(shift, scale, zeros: bool = False):
    """Breakpoints for Ai(scale (t - shift)) on [0, T], T = shift + 40/scale: the turning point and decay region,
    and with ``zeros=True`` the zeros in (0, shift) (needed where |Ai| has kinks).

    The range ends at x = scale (t - shift) = 40, where 0 < Ai(x) < exp(-2/3 x^1.5) = e^{-168} ~ 1e-73 and decays
    super-exponentially: the neglected tail (even times t^2) is far below the 1e-25 relative accuracy checked
    for integrals of size >= 1e-40, and mpmath's Airy function is very slow at large arguments.
    """
    sh, sc = dec(shift), dec(scale)
    pts = [mp.mpf(0), sh, sh + 40 / sc]  # (more breakpoints in the decay region only slow mpmath down)
    k = 1
    while zeros:
        z = sh + mp.airyaizero(k) / sc
        if z <= 0:
            break
        pts.append(z)
        k += 1
    return [p for p in pts if p >= 0]


def power_points(scale, s):
    """Breakpoints for (1 + scale t)^(-p) e^{-s t}."""
    sc = dec(scale)
    pts = [mp.mpf(0), mp.inf, 1 / sc, 10 / sc]
    if s and float(s) > 0:
        sv = dec(s)
        pts += [1 / sv, 10 / sv, 40 / sv]
    return pts


def mp_expm_kernel(W, U, c, t, dps: int = 30):
    """c^T e^{W t} U with mpmath's matrix exponential (independent of scipy's expm)."""
    with mp.workdps(dps):
        Wm = mp.matrix([[binf(x) for x in row] for row in np.asarray(W)])
        Um = mp.matrix([binf(x) for x in np.asarray(U).reshape(-1)])
        cm = mp.matrix([[binf(x) for x in np.asarray(c)]])
        return (cm * mp.expm(Wm * binf(t)) * Um)[0, 0]


# ------------------------------------------------------------------------------------------ the documentation build
@pytest.fixture(scope="session")
def docs_html(tmp_path_factory):
    """One ``sphinx-build -W --keep-going -b html`` of docs/ per test session: ``(CompletedProcess, html dir)``,
    shared by tests/test_docs.py (no warnings) and tests/test_docs_browser.py (the pages in a browser)."""
    import subprocess
    import sys
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    out = tmp_path_factory.mktemp("docs-html")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees"),
           str(docs), str(out / "html")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False), out / "html"
