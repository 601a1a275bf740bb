"""Radau IIA of order 5 (Hairer's RADAU5 design): one implicit step, error estimate, dense output.

The three-stage Radau IIA collocation method (nodes ``c = ((4 - sqrt6)/10, (4 + sqrt6)/10, 1)``) is
L-stable and of order 5; it is the method of choice for stiff gradient flows with an analytic Jacobian.
The implementation follows Hairer & Wanner, *Solving ODEs II*, §IV.8 and their code ``radau5.f``
(with the simplifications of :func:`scipy.integrate.Radau`):

* **Simplified Newton iteration** on the stage increments ``Z = (z1, z2, z3)``, transformed with the
  eigenvector matrix ``T`` of ``A^{-1}`` (``T^{-1} A^{-1} T = diag(gamma, [[alpha, -beta], [beta, alpha]])``)
  so that one real ``n x n`` system ``(gamma/h I - J)`` and one complex ``n x n`` system
  ``((alpha - i beta)/h I - J)`` are factorised per step size instead of a ``3n x 3n`` real one.
  The Jacobian is frozen over steps while Newton converges quickly and the LU factors are kept while the
  step-size ratio stays in ``[1, 1.2)``.
* **Error estimate** (§IV.8, eq. (8.19)-(8.20)): ``err = (gamma/h I - J)^{-1} (f(t, y) + (e . Z)/h)``,
  with one extra filtering by ``f(t, y + err)`` on the first step and after a rejection; it is of order
  3 (``h^4``), so, as in ``radau5.f``, the user tolerances are transformed:
  ``rtol' = 0.1 rtol^(2/3)``, ``atol' = rtol' * atol / rtol``.
* **Step-size control**: Gustafsson's predictive controller with a safety factor depending on the
  number of Newton iterations, factor clipped to ``[0.2, 10]`` (so the step can grow geometrically).
* **Dense output**: the collocation polynomial ``u(t + x h) = y + q1 x + q2 x^2 + q3 x^3`` (order 3 at
  intermediate points, exact at the nodes), used for event location and output at requested times.

The LU decompositions are written here (partial pivoting, one generic routine for real and complex
matrices) so that everything runs in numba ``nopython`` mode without calling back into Python.

References
----------
E. Hairer, G. Wanner, *Solving Ordinary Differential Equations II: Stiff and Differential-Algebraic
Problems*, 2nd ed., Springer (1996), §IV.5 (Radau IIA), §IV.8 (implementation of implicit RK methods).
E. Hairer, G. Wanner, ``radau5.f`` (http://www.unige.ch/~hairer/software.html).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from memtheory.dynamics.dopri import INLINE, rms_norm, set_row

__all__ = [
    "NFEV",
    "NJEV",
    "NLU",
    "RADAU_C",
    "RADAU_T",
    "RADAU_TI",
    "RADAU_E",
    "RADAU_P",
    "MU_REAL",
    "MU_COMPLEX",
    "lu_factor",
    "lu_solve",
    "eval_jacobian",
    "radau_tolerances",
    "radau_attempt",
    "radau_dense",
    "radau_interp",
    "radau_predict_factor",
]

# Indices into the counter array shared with the driver.
NFEV = 0
NJEV = 1
NLU = 2

# Indices into the Radau state vector ``st`` (float64 array of length RADAU_STATE_SIZE).
ST_LU_H = 0  # step size for which the LU factors are valid (0: invalid)
ST_CUR_JAC = 1  # 1 if J was evaluated at the current point
ST_H_OLD = 2  # previous accepted step size (0: none)
ST_ERR_OLD = 3  # previous accepted error norm (0: none)
ST_HAVE_PREV = 4  # 1 if a previous accepted Radau step (and its dense output) exists
ST_PREV_H = 5  # its step size
ST_LAST_REJ = 6  # 1 if the last attempt was rejected
RADAU_STATE_SIZE = 7

NEWTON_MAXITER = 6
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

_S6 = 6.0 ** 0.5
#: Collocation nodes of Radau IIA (order 5).
RADAU_C = np.array([(4.0 - _S6) / 10.0, (4.0 + _S6) / 10.0, 1.0])
#: Error-estimate weights ``e / gamma``-scaled as in radau5.f (``dd1, dd2, dd3``).
RADAU_E = np.array([-13.0 - 7.0 * _S6, -13.0 + 7.0 * _S6, -1.0]) / 3.0
#: Real eigenvalue ``gamma`` of ``A^{-1}``.
MU_REAL = 3.0 + 3.0 ** (2.0 / 3.0) - 3.0 ** (1.0 / 3.0)
#: Complex eigenvalue ``alpha - i beta`` of ``A^{-1}``.
MU_COMPLEX = 3.0 + 0.5 * (3.0 ** (1.0 / 3.0) - 3.0 ** (2.0 / 3.0)) - 0.5j * (3.0 ** (5.0 / 6.0)
                                                                            + 3.0 ** (7.0 / 6.0))
#: Eigenvector matrix ``T`` (radau5.f) and its inverse.
RADAU_T = np.array([
    [0.09443876248897524, -0.14125529502095421, 0.03002919410514742],
    [0.25021312296533332, 0.20412935229379994, -0.38294211275726192],
    [1.0, 1.0, 0.0]])
RADAU_TI = np.array([
    [4.17871859155190428, 0.32768282076106237, 0.52337644549944951],
    [-4.17871859155190428, -0.32768282076106237, 0.47662355450055044],
    [0.50287263494578682, -2.57192694985560522, 0.59603920482822492]])
#: Dense output: ``q_j = sum_i P[i, j] z_i`` are the coefficients of ``x^(j+1)`` of the collocation
#: polynomial (the transposed inverse Vandermonde matrix of the nodes).
RADAU_P = np.ascontiguousarray(np.linalg.inv(np.vander(RADAU_C, 4, increasing=True)[:, 1:]).T)

_TI_C = RADAU_TI[1] + 1j * RADAU_TI[2]


@njit(nogil=True)
def lu_factor(a, piv):
    """In-place LU decomposition with partial pivoting (real or complex).

    Parameters
    ----------
    a : ndarray, shape (n, n)
        Matrix, overwritten by ``L`` (unit lower, below the diagonal) and ``U``.
    piv : ndarray of int64, shape (n,)
        Output: row interchanges (row ``k`` was swapped with ``piv[k]``).

    Returns
    -------
    bool
        False if the matrix is singular to working precision or not finite.
    """
    n = a.shape[0]
    for k in range(n):
        m = k
        amax = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > amax:
                amax = v
                m = i
        piv[k] = m
        if not (amax > 0.0) or not np.isfinite(amax):
            return False
        if m != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[m, j]
                a[m, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            a[i, k] *= inv
            lik = a[i, k]
            if lik != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= lik * a[k, j]
    return True


@njit(nogil=True)
def lu_solve(lu, piv, b):
    """Solve ``A x = b`` given the factors from :func:`lu_factor`; returns a new array."""
    n = lu.shape[0]
    x = b.copy()
    for k in range(n):
        m = piv[k]
        if m != k:
            tmp = x[k]
            x[k] = x[m]
            x[m] = tmp
    for i in range(n):
        s = x[i]
        for j in range(i):
            s -= lu[i, j] * x[j]
        x[i] = s
    for i in range(n - 1, -1, -1):
        s = x[i]
        for j in range(i + 1, n):
            s -= lu[i, j] * x[j]
        x[i] = s / lu[i, i]
    return x


@njit(nogil=True)
def eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt):
    """Evaluate the Jacobian into ``J``: analytic ``jac(t, y, p)``, or forward differences if ``use_fd``.

    The difference increment is Hairer's ``sqrt(eps * max(1e-5, |y_j|))``.
    """
    n = y.shape[0]
    cnt[NJEV] += 1
    if not use_fd:
        Jn = jac(t, y, p)
        for i in range(n):
            for j in range(n):
                J[i, j] = Jn[i, j]
        return
    yj = y.copy()
    for j in range(n):
        delt = np.sqrt(2.220446049250313e-16 * max(1e-5, abs(y[j])))
        yj[j] = y[j] + delt
        fj = rhs(t, yj, p)
        cnt[NFEV] += 1
        for i in range(n):
            J[i, j] = (fj[i] - f[i]) / delt
        yj[j] = y[j]


@njit(nogil=True, inline=INLINE)
def _factor_both(J, h, LUr, pivr, LUc, pivc):
    """Factorise ``gamma/h I - J`` (real) and ``(alpha - i beta)/h I - J`` (complex)."""
    n = J.shape[0]
    mr = MU_REAL / h
    mc = MU_COMPLEX / h
    for i in range(n):
        for j in range(n):
            LUr[i, j] = -J[i, j]
            LUc[i, j] = -J[i, j]
        LUr[i, i] += mr
        LUc[i, i] += mc
    if not lu_factor(LUr, pivr):
        return False
    return lu_factor(LUc, pivc)


@njit(nogil=True)
def radau_tolerances(rtol, atol):
    """Transformed tolerances and Newton tolerance of radau5.f.

    Returns ``(rtol', atol', newton_tol)`` with ``rtol' = 0.1 rtol^(2/3)``, ``atol' = rtol' atol/rtol``
    and ``newton_tol = max(10 eps / rtol', min(0.03, sqrt(rtol')))``.
    """
    rtol_r = 0.1 * rtol ** (2.0 / 3.0)
    atol_r = atol * (rtol_r / rtol)
    newton_tol = max(10.0 * 2.220446049250313e-16 / rtol_r, min(0.03, np.sqrt(rtol_r)))
    return rtol_r, atol_r, newton_tol


@njit(nogil=True, inline=INLINE)
def _newton(rhs, t, y, h, p, Z0, Z, scale, tol, LUr, pivr, LUc, pivc, cnt):
    """Simplified Newton iteration for the collocation system (transformed variables W = T^{-1} Z).

    Returns ``(converged, n_iter, rate, finite)`` (``rate < 0`` when fewer than two iterations were made,
    ``finite`` False if the right-hand side or the update became non-finite); on success ``Z`` holds the
    stage increments.
    """
    n = y.shape[0]
    mr = MU_REAL / h
    mc = MU_COMPLEX / h
    W = np.zeros((3, n))
    for k in range(3):
        for j in range(n):
            W[k, j] = RADAU_TI[k, 0] * Z0[0, j] + RADAU_TI[k, 1] * Z0[1, j] + RADAU_TI[k, 2] * Z0[2, j]
    for i in range(3):
        for j in range(n):
            Z[i, j] = Z0[i, j]
    F = np.empty((3, n))
    yz = np.empty(n)
    f_real = np.empty(n)
    f_cplx = np.empty(n, dtype=np.complex128)
    dW = np.empty((3, n))
    dW_norm_old = -1.0
    rate = -1.0
    converged = False
    finite = True
    k = 0
    for k in range(NEWTON_MAXITER):
        for i in range(3):
            for j in range(n):
                yz[j] = y[j] + Z[i, j]
            set_row(F, i, rhs(t + RADAU_C[i] * h, yz, p))
            cnt[NFEV] += 1
            for j in range(n):
                if not np.isfinite(F[i, j]):
                    finite = False
        if not finite:
            break
        for j in range(n):
            f_real[j] = (RADAU_TI[0, 0] * F[0, j] + RADAU_TI[0, 1] * F[1, j] + RADAU_TI[0, 2] * F[2, j]
                         - mr * W[0, j])
            f_cplx[j] = (_TI_C[0] * F[0, j] + _TI_C[1] * F[1, j] + _TI_C[2] * F[2, j]
                         - mc * (W[1, j] + 1j * W[2, j]))
        dwr = lu_solve(LUr, pivr, f_real)
        dwc = lu_solve(LUc, pivc, f_cplx)
        s = 0.0
        for j in range(n):
            dW[0, j] = dwr[j]
            dW[1, j] = dwc[j].real
            dW[2, j] = dwc[j].imag
            for i in range(3):
                v = dW[i, j] / scale[j]
                s += v * v
        dW_norm = np.sqrt(s / (3 * n)) if n > 0 else 0.0
        if not np.isfinite(dW_norm):
            finite = False
            break
        if dW_norm_old >= 0.0:
            rate = dW_norm / dW_norm_old if dW_norm_old > 0.0 else 0.0
            if rate >= 1.0 or rate ** (NEWTON_MAXITER - k) / (1.0 - rate) * dW_norm > tol:
                break
        for i in range(3):
            for j in range(n):
                W[i, j] += dW[i, j]
        for i in range(3):
            for j in range(n):
                Z[i, j] = RADAU_T[i, 0] * W[0, j] + RADAU_T[i, 1] * W[1, j] + RADAU_T[i, 2] * W[2, j]
        if dW_norm == 0.0 or (rate >= 0.0 and rate / (1.0 - rate) * dW_norm < tol):
            converged = True
            break
        dW_norm_old = dW_norm
    return converged, k + 1, rate, finite


@njit(nogil=True, inline=INLINE)
def _zero(M):
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            M[i, j] = 0.0


@njit(nogil=True, inline=INLINE)
def _initial_guess(y, h, st, prev_coef, Z0):
    """Starting stages: extrapolate the previous collocation polynomial (zeros on the first step)."""
    n = y.shape[0]
    if st[ST_HAVE_PREV] != 1.0:
        _zero(Z0)
        return
    hp = st[ST_PREV_H]
    ok = True
    for i in range(3):
        x = 1.0 + RADAU_C[i] * h / hp
        for j in range(n):
            u = prev_coef[0, j] + x * (prev_coef[1, j] + x * (prev_coef[2, j] + x * prev_coef[3, j]))
            Z0[i, j] = u - y[j]
            if not np.isfinite(Z0[i, j]):
                ok = False
    if not ok:
        _zero(Z0)


@njit(nogil=True)
def radau_attempt(rhs, jac, use_fd, t, y, f, h, p, rtol_r, atol_r, newton_tol,
                  J, LUr, pivr, LUc, pivc, st, prev_coef, Z, cnt):
    """One trial Radau IIA step of size ``h`` from ``(t, y)`` (``f = rhs(t, y, p)``).

    Parameters
    ----------
    rhs, jac : first-class functions
        Right-hand side and analytic Jacobian (``jac`` unused when ``use_fd``).
    use_fd : bool
        Use a forward-difference Jacobian.
    t, y, f, h, p
        Current time, state, derivative, trial step, parameters.
    rtol_r, atol_r, newton_tol
        Transformed tolerances from :func:`radau_tolerances`.
    J, LUr, pivr, LUc, pivc : ndarray
        Jacobian and LU factors (updated in place when needed).
    st : ndarray
        Radau state vector (see the ``ST_*`` indices).
    prev_coef : ndarray, shape (5, n)
        Dense coefficients of the previous accepted Radau step (for the starting guess).
    Z : ndarray, shape (3, n)
        Output: stage increments.
    cnt : ndarray of int64
        Counters (``NFEV``, ``NJEV``, ``NLU``), updated.

    Returns
    -------
    (int, float, int, float, ndarray)
        ``code`` (0: Newton converged, 1: Newton failed with a fresh Jacobian, 2: singular matrix,
        3: non-finite values), error norm, Newton iterations, convergence rate (< 0 if unknown), ``y_new``.
    """
    n = y.shape[0]
    y_new = y.copy()
    if st[ST_LU_H] != h:
        cnt[NLU] += 2
        if not _factor_both(J, h, LUr, pivr, LUc, pivc):
            st[ST_LU_H] = 0.0
            return 2, np.inf, 0, -1.0, y_new
        st[ST_LU_H] = h
    Z0 = np.empty((3, n))
    _initial_guess(y, h, st, prev_coef, Z0)
    scale = np.empty(n)
    for j in range(n):
        scale[j] = atol_r[j] + rtol_r * abs(y[j])
    while True:
        converged, n_iter, rate, finite = _newton(rhs, t, y, h, p, Z0, Z, scale, newton_tol, LUr, pivr,
                                                  LUc, pivc, cnt)
        if converged:
            break
        if not finite:
            return 3, np.inf, n_iter, rate, y_new
        if st[ST_CUR_JAC] == 1.0:
            return 1, np.inf, n_iter, rate, y_new
        eval_jacobian(jac, rhs, use_fd, t, y, f, p, J, cnt)
        st[ST_CUR_JAC] = 1.0
        cnt[NLU] += 2
        if not _factor_both(J, h, LUr, pivr, LUc, pivc):
            st[ST_LU_H] = 0.0
            return 2, np.inf, n_iter, rate, y_new
        st[ST_LU_H] = h
    ze = np.empty(n)
    b = np.empty(n)
    for j in range(n):
        y_new[j] = y[j] + Z[2, j]
        ze[j] = (RADAU_E[0] * Z[0, j] + RADAU_E[1] * Z[1, j] + RADAU_E[2] * Z[2, j]) / h
        b[j] = f[j] + ze[j]
        scale[j] = atol_r[j] + rtol_r * max(abs(y[j]), abs(y_new[j]))
    err_vec = lu_solve(LUr, pivr, b)
    err = rms_norm(err_vec, scale)
    if err > 1.0 and (st[ST_HAVE_PREV] != 1.0 or st[ST_LAST_REJ] == 1.0):
        ye = np.empty(n)
        for j in range(n):
            ye[j] = y[j] + err_vec[j]
        fe = rhs(t, ye, p)
        cnt[NFEV] += 1
        for j in range(n):
            b[j] = fe[j] + ze[j]
        err_vec = lu_solve(LUr, pivr, b)
        err = rms_norm(err_vec, scale)
    if not np.isfinite(err):
        return 3, np.inf, n_iter, rate, y_new
    return 0, err, n_iter, rate, y_new


@njit(nogil=True, inline=INLINE)
def radau_predict_factor(h, h_old, err, err_old):
    """Gustafsson's predictive step-size factor (as in scipy's Radau), unclipped."""
    if err == 0.0:
        return MAX_FACTOR
    if err_old <= 0.0 or h_old <= 0.0:
        multiplier = 1.0
    else:
        multiplier = h / h_old * (err_old / err) ** 0.25
    return min(1.0, multiplier) * err ** -0.25


@njit(nogil=True)
def radau_dense(y, Z, coef):
    """Coefficients of the collocation polynomial on an accepted step: rows ``y, q1, q2, q3``."""
    n = y.shape[0]
    for j in range(n):
        coef[0, j] = y[j]
        for k in range(3):
            coef[1 + k, j] = RADAU_P[0, k] * Z[0, j] + RADAU_P[1, k] * Z[1, j] + RADAU_P[2, k] * Z[2, j]
        for k in range(4, coef.shape[0]):
            coef[k, j] = 0.0


@njit(nogil=True, inline=INLINE)
def radau_interp(coef, theta, out):
    """Evaluate the collocation polynomial at ``theta`` in [0, 1] into ``out``."""
    for j in range(out.shape[0]):
        out[j] = coef[0, j] + theta * (coef[1, j] + theta * (coef[2, j] + theta * coef[3, j]))
