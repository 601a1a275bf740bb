"""Generators of the coefficient tables embedded in the compiled special functions (mpmath, not compiled).

The compiled modules hold their tables as float64 literals; these functions recompute them at high precision,
so that the tests can audit the literals (``tests/test_special.py``).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from .erf import ERFCX_K

__all__ = ["erfcx_chebyshev_table", "lgamma1p_table"]


def erfcx_chebyshev_table(n_terms: int = 30, dps: int = 50, nodes: int = 96) -> np.ndarray:
    """Recompute :data:`memtheory.compile.special.erf.ERFCX_CHEB` with mpmath.

    Chebyshev interpolation of ``g(t) = (1 + 2x) erfcx(x)``, ``x = 3 (1 + t)/(1 - t)``, at ``nodes``
    Chebyshev points of the first kind; the coefficients decay below 1e-19 by ``n = 30``.

    Parameters
    ----------
    n_terms : int, default 30
        Number of coefficients returned.
    dps : int, default 50
        mpmath working precision (decimal digits).
    nodes : int, default 96
        Number of interpolation nodes (``> n_terms``; aliasing error ~ ``|c_(2 nodes - n_terms)|``).

    Returns
    -------
    ndarray of float64
        The coefficients, ``c[0]`` halved (as the Clenshaw sum of the erf module expects).
    """
    with mp.workdps(dps):
        k = mp.mpf(ERFCX_K)
        theta = [mp.pi * (j + mp.mpf(1) / 2) / nodes for j in range(nodes)]
        vals = []
        for th in theta:
            t = mp.cos(th)
            x = k * (1 + t) / (1 - t)
            vals.append((1 + 2 * x) * mp.exp(x * x) * mp.erfc(x))
        coef = []
        for n in range(n_terms):
            c = 2 * mp.fsum(v * mp.cos(n * th) for v, th in zip(vals, theta)) / nodes
            coef.append(c / 2 if n == 0 else c)
        return np.array([float(c) for c in coef])


def lgamma1p_table(kmax: int = 31, dps: int = 40) -> np.ndarray:
    """Recompute :data:`memtheory.compile.special.gamma.LGAMMA1P_COEF` with mpmath.

    The coefficients are ``(-1)^k (zeta(k) - 1)/k`` for ``k = 2..kmax``.

    Parameters
    ----------
    kmax : int, default 31
        Last power.
    dps : int, default 40
        mpmath working precision (decimal digits).

    Returns
    -------
    ndarray of float64
        The coefficients.
    """
    with mp.workdps(dps):
        return np.array([float((-1) ** k * (mp.zeta(k) - 1) / k) for k in range(2, kmax + 1)])
