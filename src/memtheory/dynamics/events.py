"""Dense-output interpolation, event detection and root location on one accepted step.

Every accepted step of either integrator leaves a polynomial interpolant ``u(theta)``,
``theta = (s - t_old)/h`` in [0, 1], stored as an ``(8, n)`` coefficient array and a ``kind`` flag:

* ``KIND_DOPRI`` (0): the continuous extension of an explicit pair (:mod:`memtheory.dynamics.tableaux`),
  ``u = r0 + theta (r1 + (1 - theta) (r2 + theta (r3 + (1 - theta) (r4 + theta (r5 + ...)))))``: Shampine's
  fourth-order one of Dormand--Prince 5(4) (rows ``r5..r7`` zero), the seventh-order one of DOP853;
* ``KIND_RADAU`` (1): the Radau IIA collocation polynomial, ``u = r0 + theta (r1 + theta (r2 + theta r3))``.

Both interpolants match the step's end points exactly (``u(0) = y_old``, ``u(1) = y_new``), so a sign
change of an event function between the end points is bracketed on the interpolant. The crossing is
located with Brent's method (inverse quadratic interpolation safeguarded by bisection) on ``theta`` to
a few ulps, i.e. far below the required ``1e-12`` relative accuracy in ``t``; the overall accuracy of an
event time is therefore that of the interpolant (the integration tolerance divided by ``|dg/dt|``).

An event ``e`` fires on a step when ``g_e`` goes from ``< 0`` to ``>= 0`` (direction ``+1`` or ``0``) or from
``> 0`` to ``<= 0`` (direction ``-1`` or ``0``); a zero at the start of a step is not an event (it was
reported at the end of the previous one). Its terminal flag (:mod:`memtheory.dynamics.constants`) says whether
it stops the run: ``TERM_NONE`` never, ``TERM_FIRST`` at its first occurrence, ``TERM_ALL`` once every event
flagged ``TERM_ALL`` has occurred (at the first occurrence of the last of them). Two crossings of the same
component within one step are not resolved (the usual limitation of step-wise event detection); tighten
``max_step`` if that matters.

The same root finder locates the exit time from the domain (``domain(t, y, p) > 0``).

References
----------
R. P. Brent, *Algorithms for Minimization without Derivatives*, Prentice-Hall (1973), ch. 4.
L. F. Shampine, "Interpolation for Runge-Kutta methods", SIAM J. Numer. Anal. 22 (1985).
E. Hairer, S. P. Norsett, G. Wanner, *Solving ODEs I*, §II.6 (dense output), and E. Hairer, G. Wanner,
*Solving ODEs II*, §IV.8 (collocation polynomial of Radau IIA).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.constants import TERM_ALL, TERM_FIRST
from memtheory.dynamics.dopri import INLINE
from memtheory.dynamics.explicit import erk_interp
from memtheory.dynamics.radau import radau_interp

__all__ = ["KIND_DOPRI", "KIND_RADAU", "interp", "find_root", "detect_events", "events_fire"]

KIND_DOPRI = 0
KIND_RADAU = 1

_EPS = 2.220446049250313e-16


@njit(nogil=True)
def interp(kind, coef, theta, out):
    """Evaluate the interpolant of a step (``kind``, ``coef``) at ``theta`` into ``out``."""
    if kind == KIND_DOPRI:
        erk_interp(coef, theta, out)
    else:
        radau_interp(coef, theta, out)


@njit(nogil=True, inline=INLINE)
def _gval(events, domain, which, t_old, h, kind, coef, theta, p, yw):
    """Event component ``which`` (or the domain function if ``which < 0``) on the interpolant."""
    if kind == KIND_DOPRI:
        erk_interp(coef, theta, yw)
    else:
        radau_interp(coef, theta, yw)
    s = t_old + theta * h
    if which < 0:
        return domain(s, yw, p)
    return events(s, yw, p)[which]


@njit(nogil=True)
def find_root(events, domain, which, t_old, h, kind, coef, p, ga, gb, yw):
    """Brent's method for the sign change of ``g(theta)`` on [0, 1], with ``g(0) = ga``, ``g(1) = gb``.

    Parameters
    ----------
    events, domain : first-class functions
        Event and domain functions.
    which : int
        Event component, or -1 for the domain function.
    t_old, h, kind, coef
        The step and its interpolant.
    p : ndarray
        Parameters.
    ga, gb : float
        Values at the ends (``ga * gb <= 0``, ``ga != 0``).
    yw : ndarray
        Work array of length n.

    Returns
    -------
    float
        ``theta`` of the crossing, to within ``4 eps`` (the last iterate at which ``g`` has the sign of
        ``gb`` or is zero, so the state there is on the far side of the crossing).
    """
    if gb == 0.0:
        return 1.0
    a, b = 0.0, 1.0
    fa, fb = ga, gb
    c, fc = a, fa
    d = b - a
    e = d
    for _ in range(200):
        if (fb > 0.0) == (fc > 0.0):
            c, fc = a, fa
            d = b - a
            e = d
        if abs(fc) < abs(fb):
            a, fa = b, fb
            b, fb = c, fc
            c, fc = a, fa
        tol1 = 4.0 * _EPS * max(abs(b), 1e-300)
        xm = 0.5 * (c - b)
        if abs(xm) <= tol1 or fb == 0.0:
            break
        if abs(e) >= tol1 and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                pp = 2.0 * xm * s
                q = 1.0 - s
            else:
                q = fa / fc
                r = fb / fc
                pp = s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if pp > 0.0:
                q = -q
            pp = abs(pp)
            if 2.0 * pp < min(3.0 * xm * q - abs(tol1 * q), abs(e * q)):
                e = d
                d = pp / q
            else:
                d = xm
                e = d
        else:
            d = xm
            e = d
        a, fa = b, fb
        if abs(d) > tol1:
            b += d
        else:
            b += tol1 if xm > 0.0 else -tol1
        fb = _gval(events, domain, which, t_old, h, kind, coef, b, p, yw)
        if not np.isfinite(fb):
            # The interpolant left the region where g is defined: fall back to the bracket midpoint.
            b = 0.5 * (a + c)
            fb = _gval(events, domain, which, t_old, h, kind, coef, b, p, yw)
            if not np.isfinite(fb):
                break
    # Return the end of the final bracket lying on the side of gb (past the crossing).
    if fb == 0.0 or (fb > 0.0) == (gb > 0.0):
        return min(max(b, 0.0), 1.0)
    return min(max(c, 0.0), 1.0)


@njit(nogil=True)
def detect_events(events, domain, t_old, h, kind, coef, p, g_old, g_new, direction, terminal, pending, yw,
                  found_idx, found_theta):
    """Find the events that fire on a step and locate them.

    Parameters
    ----------
    events, domain : first-class functions
    t_old, h, kind, coef
        The accepted step and its interpolant.
    p : ndarray
    g_old, g_new : ndarray
        Event values at the start and the end of the step.
    direction, terminal : ndarray of int64
        Per-event direction (+1, -1, 0) and terminal flag (``TERM_NONE``, ``TERM_FIRST``, ``TERM_ALL``).
    pending : ndarray of int64
        1 for each ``TERM_ALL`` event that has not occurred yet (updated: the events found here are cleared).
    yw : ndarray
        Work array of length n.
    found_idx, found_theta : ndarray
        Outputs (length >= number of events): the events that fired, sorted by ``theta``.

    Returns
    -------
    (int, float)
        Number of events found and the ``theta`` at which the run stops (2.0 if it goes on): the first
        occurrence of a ``TERM_FIRST`` event, or that of the last ``TERM_ALL`` event to occur when no other
        remains pending after this step.
    """
    nf = 0
    theta_term = 2.0
    theta_all = -1.0  # the latest first occurrence of a TERM_ALL event on this step
    for ev in range(g_old.shape[0]):
        go = g_old[ev]
        gn = g_new[ev]
        up = go < 0.0 and gn >= 0.0
        down = go > 0.0 and gn <= 0.0
        if (up and direction[ev] >= 0) or (down and direction[ev] <= 0):
            th = find_root(events, domain, ev, t_old, h, kind, coef, p, go, gn, yw)
            found_idx[nf] = ev
            found_theta[nf] = th
            nf += 1
            if terminal[ev] == TERM_FIRST and th < theta_term:
                theta_term = th
            elif terminal[ev] == TERM_ALL and pending[ev] != 0:
                pending[ev] = 0
                theta_all = max(theta_all, th)
    if theta_all >= 0.0:
        remaining = 0
        for ev in range(pending.shape[0]):
            remaining += pending[ev]
        if remaining == 0:
            theta_term = min(theta_term, theta_all)
    # insertion sort by theta
    for i in range(1, nf):
        ti = found_theta[i]
        ii = found_idx[i]
        j = i - 1
        while j >= 0 and found_theta[j] > ti:
            found_theta[j + 1] = found_theta[j]
            found_idx[j + 1] = found_idx[j]
            j -= 1
        found_theta[j + 1] = ti
        found_idx[j + 1] = ii
    return nf, theta_term


@njit(nogil=True, inline=INLINE)
def events_fire(g_old, g_new, direction):
    """Whether some event fires between ``g_old`` and ``g_new`` (the rule of :func:`detect_events`).

    The loop asks before building an interpolant that costs right-hand side evaluations (DOP853's).
    """
    for ev in range(g_old.shape[0]):
        go = g_old[ev]
        gn = g_new[ev]
        if (go < 0.0 and gn >= 0.0 and direction[ev] >= 0) or (go > 0.0 and gn <= 0.0 and direction[ev] <= 0):
            return True
    return False
