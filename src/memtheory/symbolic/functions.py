"""Special functions that SymPy lacks but our stable closed forms need.

Two functions appear in the numerically stable Laplace transforms of docs/theory.md §1:

* :class:`erfcx` -- the scaled complementary error function ``erfcx(x) = exp(x**2) * erfc(x)``. It keeps the
  Gaussian-bump transform accurate when ``erfc`` alone would underflow.
* :class:`scaled_uppergamma` -- ``S(a, x) = exp(x) * x**(-a) * Gamma(a, x)``, bounded (``~ 1/x``) for large ``x``.
  The power-law transform is ``L[(1+t)^(-p)](s) = S(1 - p, s)``.

Both carry their derivatives (so symbolic moments ``(-d/ds)^k`` work), a ``rewrite`` into standard SymPy
functions (so SymPy can check them), and LaTeX printing. The numeric backends map them to compiled (numba) and
arbitrary-precision (mpmath) implementations in :mod:`memtheory.compile`.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import ArgumentIndexError

__all__ = ["erfcx", "scaled_uppergamma", "gauss_moment", "finite_laplace", "LaplaceMoment"]


class erfcx(sp.Function):  # noqa: N801 - mathematical name
    r"""Scaled complementary error function :math:`\operatorname{erfcx}(x) = e^{x^2}\operatorname{erfc}(x)`."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x is sp.S.Zero:
            return sp.S.One
        return None

    def fdiff(self, argindex: int = 1):
        x = self.args[0]
        return 2 * x * erfcx(x) - 2 / sp.sqrt(sp.pi)

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.exp(x**2) * sp.erfc(x)

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = r"\operatorname{erfcx}\left(%s\right)" % arg
        return base if exp is None else r"%s^{%s}" % (base, exp)


class scaled_uppergamma(sp.Function):  # noqa: N801 - mathematical name
    r"""Scaled upper incomplete gamma :math:`S(a, x) = e^{x} x^{-a}\,\Gamma(a, x)` for ``x >= 0``.

    At ``x = 0`` it equals ``-1/a`` for ``a < 0`` (the limit) and diverges otherwise.
    """

    nargs = 2

    @classmethod
    def eval(cls, a, x):
        if x.is_zero and a.is_negative:
            return -1 / a
        return None

    def fdiff(self, argindex: int = 2):
        a, x = self.args
        if argindex == 2:
            return scaled_uppergamma(a, x) * (1 - a / x) - 1 / x
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_uppergamma(self, a, x, **kwargs):
        return sp.exp(x) * x ** (-a) * sp.uppergamma(a, x)

    def _latex(self, printer, exp=None):
        # the definition e^x x^{-a} Gamma(a, x), simplified as a product (x^{1/2}, not x^{-(-1/2)})
        a, x = self.args
        base = printer._print(sp.exp(x) * x ** (-a) * sp.uppergamma(a, x, evaluate=False))
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)


class gauss_moment(sp.Function):  # noqa: N801 - mathematical name
    r"""``J_k(z) = \int_0^\infty u^k e^{-u^2 - 2 z u} du`` (``z >= 0``): the Gaussian bump's Laplace moments.

    ``M_k = e^{-L^2/(2\sigma^2)} (\sqrt{2}\sigma)^{k+1} J_k(z)`` with ``z = (s\sigma^2 - L)/(\sqrt{2}\sigma)``.
    Evaluated without the cancellation of the erfcx recurrence (see :func:`memtheory.compile.special.gauss_moment`).
    """

    nargs = 2

    def fdiff(self, argindex: int = 2):
        k, z = self.args
        if argindex == 2:
            return -2 * gauss_moment(k + 1, z)
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_erfcx(self, k, z, **kwargs):
        if not k.is_Integer or k < 0:
            return None
        prev, cur = sp.Rational(1, 2), sp.sqrt(sp.pi) / 2 * erfcx(z)
        for i in range(1, int(k) + 1):
            nxt = sp.Rational(1, 2) - z * cur if i == 1 else sp.Rational(i - 1, 2) * prev - z * cur
            prev, cur = cur, nxt
        return cur

    def _latex(self, printer, exp=None):
        k, z = (printer._print(a) for a in self.args)
        base = r"J_{%s}\left(%s\right)" % (k, z)
        return base if exp is None else r"%s^{%s}" % (base, exp)


class finite_laplace(sp.Function):  # noqa: N801 - mathematical name
    r"""``F_j(s, w) = \int_0^w u^j e^{-s u} du``: the Laplace moments of a window, without cancellation."""

    nargs = 3

    def fdiff(self, argindex: int = 2):
        j, s_, w = self.args
        if argindex == 2:
            return -finite_laplace(j + 1, s_, w)
        if argindex == 3:
            return w**j * sp.exp(-s_ * w)
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_lowergamma(self, j, s_, w, **kwargs):
        return sp.lowergamma(j + 1, s_ * w) / s_ ** (j + 1)

    def _latex(self, printer, exp=None):
        j, s_, w = (printer._print(a) for a in self.args)
        base = r"\int_0^{%s} u^{%s} e^{-%s u}\,du" % (w, j, s_)
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)


class LaplaceMoment(sp.Function):
    r"""Placeholder :math:`\mathcal{L}[t^k \rho](s)` for the target's Laplace moments in symbolic losses.

    ``LaplaceMoment(k, s)``; its derivative in ``s`` is ``-LaplaceMoment(k + 1, s)``, which is exactly the rule
    :math:`\partial_s \mathcal{L}[t^k\rho] = -\mathcal{L}[t^{k+1}\rho]` used by the loss gradient and Hessian.
    """

    nargs = 2

    def fdiff(self, argindex: int = 2):
        k, s = self.args
        if argindex == 2:
            return -LaplaceMoment(k + 1, s)
        raise ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        k, s = self.args
        weight = "" if k == 0 else ("t " if k == 1 else "t^{%s} " % printer._print(k))
        base = r"\mathcal{L}[%s\rho](%s)" % (weight, printer._print(s))
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)
