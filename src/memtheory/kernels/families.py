"""Kernel families of docs/theory.md §1, each a parametric :class:`~memtheory.kernels.kernel.Kernel`.

Parameters stay symbols in the expression (with their values attached), so a sweep over a family parameter
reuses the compiled code. The reference code of [IAT] (github.com/radarFudan/Curse-of-memory) names six
kernels; :func:`reference` builds them.
"""

from __future__ import annotations


from ..errors import InvalidArgumentError
from ..exact import exact
from ..symbolic.parse import symbol
from .kernel import Kernel

__all__ = [
    "exponential",
    "power_law",
    "gaussian_bump",
    "airy",
    "window",
    "sine",
    "memory_family",
    "reference",
    "REFERENCE_NAMES",
]


def _finite(name: str, value: object) -> object:
    """Check a family parameter (any exact or binary number, see :mod:`memtheory.exact`); returned as given, so
    the kernel records whether it was typed exactly."""
    _exact_of(name, value)
    return value


def _exact_of(name: str, value: object):
    try:
        return exact(value, name)
    except InvalidArgumentError:
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}") from None


def _positive(name: str, value: object) -> object:
    if not _exact_of(name, value) > 0:
        raise InvalidArgumentError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def exponential(rate: float = 1.0) -> Kernel:
    """``rho(t) = exp(-rate t)``, ``rate > 0`` (short memory, time scale ``1/rate``)."""
    return Kernel("exp(-rate*t)", rate=_positive("rate", rate))


def power_law(p: float, scale: float = 1.0) -> Kernel:
    """``rho(t) = (1 + scale t)^(-p)``: long memory. In L1 iff ``p > 1``, in L2 iff ``p > 1/2``."""
    return Kernel("(1 + scale*t)**(-p)", p=_positive("p", p), scale=_positive("scale", scale))


def gaussian_bump(center: float, width: float) -> Kernel:
    """``rho(t) = exp(-(t - center)^2 / (2 width^2))``: memory localised at lag ``center``."""
    return Kernel("exp(-(t - center)**2/(2*width**2))", center=_finite("center", center),
                  width=_positive("width", width))


def airy(shift: float = 6.0, scale: float = 1.0) -> Kernel:
    """``rho(t) = Ai(scale (t - shift))``: oscillates for ``t < shift``, decays super-exponentially after."""
    return Kernel("airyai(scale*(t - shift))", shift=_finite("shift", shift), scale=_positive("scale", scale))


def window(a: float, b: float) -> Kernel:
    """``rho(t) = 1{a < t < b}`` with ``0 <= a < b``, written ``Heaviside(t - a, 0) - Heaviside(t - b, 1)``.

    The second arguments are the steps' values at their edges, so ``rho(a) = rho(b) = 0`` (SymPy's default
    ``Heaviside(0) = 1/2`` would give 1/2 there, which matters for data sampled on a grid through the edges).
    """
    if not 0 <= _exact_of("a", a) < _exact_of("b", b):
        raise InvalidArgumentError(f"window needs 0 <= a < b, got a={a!r}, b={b!r}")
    return Kernel("Heaviside(t - a, 0) - Heaviside(t - b, 1)", a=a, b=b)


def sine(freq: float = 1.0) -> Kernel:
    """``rho(t) = sin(freq t)``: no decay (not integrable; its Laplace transform exists for s > 0)."""
    return Kernel("sin(freq*t)", freq=_positive("freq", freq))


def memory_family(bar: Kernel, spike: Kernel, omega: float) -> Kernel:
    """The optimisation analysis' target ``rho_omega(t) = rho_bar(t) + spike(t - 1/omega)`` (docs/theory.md §1, §4).

    Parameters
    ----------
    bar : Kernel
        The representable short-memory part ``rho_bar``.
    spike : Kernel
        The localised part ``rho_0`` (centred near 0, sub-Gaussian tails), moved to lag ``1/omega``.
    omega : float
        ``omega > 0``; small omega = long memory. Stays a parameter named ``omega``.
    """
    if not isinstance(bar, Kernel) or not isinstance(spike, Kernel):
        raise InvalidArgumentError("bar and spike must be Kernel objects")
    _positive("omega", omega)
    if "omega" in bar.params or "omega" in spike.params:
        raise InvalidArgumentError("bar and spike must not use a parameter named 'omega'")
    t, om = symbol("t"), symbol("omega")
    moved = Kernel(spike.expr.xreplace({t: t - 1 / om}), omega=omega, **spike.exact_params)
    return bar + moved


#: Names accepted by :func:`reference`.
REFERENCE_NAMES = ("exp", "pol", "shift", "twoparts", "airy", "sin")

_REFERENCE = {
    "exp": "exp(-t)",
    "pol": "(1 + 0.1*t)**(-1.1)",
    "shift": "Heaviside(t - 9, 0) - Heaviside(t - 11, 1)",  # 0 at t = 9 and 11, like the reference
    "twoparts": "exp(-t) + exp(-(t - 9)**2)",
    "airy": "airyai(t - 6)",
    "sin": "sin(t)",
}


def reference(name: str) -> Kernel:
    """The reference code's dataset kernels: exp ``e^{-t}``, pol ``(1+0.1t)^{-1.1}``, shift ``1{9<t<11}``,
    twoparts ``e^{-t} + e^{-(t-9)^2}``, airy ``Ai(t-6)``, sin ``sin t``."""
    if name not in _REFERENCE:
        raise InvalidArgumentError(f"unknown reference kernel {name!r}; choose from {', '.join(REFERENCE_NAMES)}")
    return Kernel(_REFERENCE[name])

