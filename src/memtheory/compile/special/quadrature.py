"""Compiled adaptive Gauss-Kronrod quadrature: finite intervals and Laplace-type integrals.

Algorithm
---------
``gauss_kronrod`` is a globally adaptive Gauss-Kronrod 10/21 rule with the QUADPACK ``qk21`` error
estimate (Piessens et al. 1983): the subinterval with the largest error estimate (kept in a binary
heap) is bisected until ``sum(err) <= max(epsabs, epsrel |I|)``. ``laplace_quad`` runs the same
algorithm on ``t^k e^(-s t) f(t)`` over ``[0, T]`` split at the user's breakpoints, and extends the
range lazily with geometric intervals ``[T, 2T]`` (good for power laws spread over many decades):
the remaining tail is bounded by ``M int_T^inf t^k e^(-s t) dt = M Gamma(k+1, sT)/s^(k+1)`` with ``M``
the largest ``|f|`` seen on the last interval, and the tail is treated as one more "interval" with
that error, so it is extended whenever it dominates the error budget; it is not trusted before
``s T >= 36 + k`` (far past the maximum of the weight at ``t = k/s``), so that ``f`` has been sampled
wherever the weight matters. The bound assumes ``|f|`` does not grow beyond the last interval faster than it did on
it. Features much narrower than the interval containing them (a bump of width 0.5 at ``t = 50``
inside ``[32, 64]``) may be missed or resolved slowly: announce them as breakpoints.

Compilation and caching
-----------------------
The integrand ``f(t, args)`` is a compiled (``@numba.njit``) function with the signature
:data:`INTEGRAND_SIGNATURE`, ``float64(float64, float64[::1])``. The algorithm (``_adaptive``, with the rule and
the heap) receives it as a numba *first-class function* of type :data:`INTEGRAND_T` and calls it through a
function pointer, so it is compiled once, for that one type, and cached on disk, whatever the integrand (on first
use, not at import: closed forms that never integrate do not pay for it). ``gauss_kronrod`` and
``laplace_quad`` are thin wrappers (argument checks, defaults, conversion of ``f`` by :func:`as_integrand` and of
the arguments to the algorithm's one set of types) that numba specialises per argument types; they are not cached
on disk, because a specialisation on a dispatcher argument would miss the cache in every new process (numba issue
#9237).

Compiled code that should itself be cached (``@njit(cache=True)``) passes ``as_integrand(f)`` instead of the
dispatcher ``f``: the wrapper then sees the type :data:`INTEGRAND_T`, the same for every integrand, and the
caller does not embed the address of a Python object (passing a dispatcher as a value does, and numba refuses to
cache such code).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np
from numba import types
from numba.core import cgutils, errors
from numba.extending import intrinsic, overload

from ..docstrings import fill_doc
from .constants import EPS, INF, NAN, TINY
from .gamma import scaled_upper_gamma

if TYPE_CHECKING:
    from collections.abc import Callable

    #: A compiled integrand ``f(t, args) -> float`` (an ``@numba.njit`` dispatcher).
    Integrand = Callable[[float, np.ndarray], float]

__all__ = [
    "gauss_kronrod",
    "laplace_quad",
    "as_integrand",
    "INTEGRAND_SIGNATURE",
    "INTEGRAND_T",
    "IER_OK",
    "IER_LIMIT",
    "IER_ROUNDOFF",
    "IER_TAIL",
    "IER_NONFINITE",
    "IER_INVALID",
    "GK21_X",
    "GK21_WK",
    "GK21_WG",
]

# Gauss-Kronrod 10/21 rule (QUADPACK qk21): Kronrod abscissae (decreasing, the last is 0), Kronrod
# weights, and the weights of the 10-point Gauss rule at GK21_X[1], GK21_X[3], ..., GK21_X[9].
# The tests check exactness for polynomials of degree <= 31 and the Gauss part against numpy.
GK21_X = np.array(
    [
        0.995657163025808080735527280689003,
        0.973906528517171720077964012084452,
        0.930157491355708226001207180059508,
        0.865063366688984510732096688423493,
        0.780817726586416897063717578345042,
        0.679409568299024406234327365114874,
        0.562757134668604683339000099272694,
        0.433395394129247190799265943165784,
        0.294392862701460198131126603103866,
        0.148874338981631210884826001129720,
        0.0,
    ]
)
GK21_WK = np.array(
    [
        0.011694638867371874278064396062192,
        0.032558162307964727478818972459390,
        0.054755896574351996031381300244580,
        0.075039674810919952767043140916190,
        0.093125454583697605535065465083366,
        0.109387158802297641899210590325805,
        0.123491976262065851077600525452760,
        0.134709217311473325928054001771707,
        0.142775938577060080797094273138717,
        0.147739104901338491374841515972068,
        0.149445554002916905664936468389821,
    ]
)
GK21_WG = np.array(
    [
        0.066671344308688137593568809893332,
        0.149451349150580593145776339657697,
        0.219086362515982043995534934228163,
        0.269266719309996355091226921569469,
        0.295524224714752870173892994651338,
    ]
)

# Status codes returned as ``ier``.
IER_OK = 0  #: converged to the requested tolerance
IER_LIMIT = 1  #: the maximum number of subintervals was reached
IER_ROUNDOFF = 2  #: errors at their roundoff floor (or unbisectable) exceed the tolerance
IER_TAIL = 3  #: laplace_quad: the tail bound did not become negligible before t ~ 1e300
IER_NONFINITE = 4  #: the integrand returned nan or inf
IER_INVALID = 6  #: invalid input (non-finite limits, s <= 0, k <= -1, bad tolerances or breakpoints)

_F8 = types.float64
_VECTOR = types.float64[::1]
#: numba signature of an integrand: ``f(t, args) -> float`` with ``args`` a C-contiguous float64 vector.
INTEGRAND_SIGNATURE = _F8(_F8, _VECTOR)
#: First-class function type of the integrands, the one type the adaptive algorithm is compiled for.
INTEGRAND_T = types.FunctionType(INTEGRAND_SIGNATURE)


@intrinsic
def as_integrand(typingctx, f):
    """The integrand ``f`` as a first-class function of type :data:`INTEGRAND_T` (compiled code only).

    A dispatcher is compiled for :data:`INTEGRAND_SIGNATURE` and referred to by its symbol, not by the address
    of its Python object, so that compiled code calling ``laplace_quad(as_integrand(f), ...)`` can be cached
    on disk; a value of type :data:`INTEGRAND_T` is returned unchanged.

    Parameters
    ----------
    f : numba dispatcher or INTEGRAND_T
        An ``@numba.njit`` function ``f(t: float, args: ndarray) -> float``.

    Returns
    -------
    INTEGRAND_T
        The function value (calls go to the compiled function directly; it cannot be returned to Python).

    Raises
    ------
    numba.core.errors.TypingError
        At compile time, if ``f`` is neither, or does not compile for :data:`INTEGRAND_SIGNATURE`.
    """
    if isinstance(f, types.FunctionType):
        if f.get_precise() != INTEGRAND_T:
            raise errors.TypingError(f"the integrand has type {f}, not {INTEGRAND_T}")
        return INTEGRAND_T(f), lambda context, builder, signature, args: args[0]
    if not isinstance(f, types.Dispatcher):
        raise errors.TypingError(f"the integrand must be an @numba.njit function, got {f}")
    try:
        f.dispatcher.get_compile_result(INTEGRAND_SIGNATURE)
    except errors.NumbaError as exc:
        raise errors.TypingError(f"the integrand does not compile for {INTEGRAND_SIGNATURE}: {exc}") from exc

    def codegen(context, builder, signature, args):
        # numba's own cast of a dispatcher to a function type, without the Python object (py_addr stays NULL,
        # calls use jit_addr): that object's address would be a "dynamic global", which disables caching
        cres = f.dispatcher.get_compile_result(INTEGRAND_SIGNATURE)
        fnty = INTEGRAND_T.get_precise()
        value = cgutils.create_struct_proxy(fnty)(context, builder)
        voidptr = context.get_value_type(types.voidptr)
        wrapper = cgutils.get_or_insert_function(builder.module, context.get_value_type(fnty.ftype).pointee,
                                                 cres.fndesc.llvm_cfunc_wrapper_name)
        value.c_addr = builder.bitcast(wrapper, voidptr)
        value.py_addr = voidptr(None)
        value.jit_addr = builder.bitcast(context.declare_function(builder.module, cres.fndesc), voidptr)
        context.active_code_library.add_linking_library(cres.library)
        return value._getvalue()

    return INTEGRAND_T(f), codegen


def _float_vector(a):  # pragma: no cover - replaced by the overload below in compiled code
    """``a`` as a C-contiguous float64 vector (compiled code only)."""
    raise NotImplementedError


@overload(_float_vector)
def _float_vector_impl(a):
    if not (isinstance(a, types.Array) and a.ndim == 1):
        raise errors.TypingError(f"expected a 1-D array, got {a}")
    if a.dtype == types.float64:
        return lambda a: np.ascontiguousarray(a)  # no copy when already contiguous
    return lambda a: np.ascontiguousarray(a).astype(np.float64)


# Docstring fragments (memtheory.compile.docstrings.fill_doc): the integrand of the internal routines, the
# heap of subintervals, and what the two public quadratures share.
_INTEGRAND_DOC = """
f : INTEGRAND_T
    Integrand ``f(t, args) -> float`` (a first-class function, see :func:`as_integrand`).
args : ndarray of float64
    Extra parameters passed to ``f``.
"""
_HEAP_DOC = """
heap : ndarray of int64
    Heap storage.
size : int
    Current number of elements.
key : ndarray of float64
    Error estimates indexed by interval.
"""
_PUBLIC_DOC = {
    "integrand": """
        f : numba dispatcher or INTEGRAND_T
            Integrand, an ``@numba.njit`` function ``f(t: float, args: ndarray) -> float`` (compiled for
            :data:`INTEGRAND_SIGNATURE`), or in compiled code the first-class function ``as_integrand(f)``.
        """,
    "args": """
        args : ndarray of float64
            1-D array of extra parameters passed to ``f``.
        """,
    "tolerances": """
        epsabs : float, default 0.0
            Absolute tolerance.
        epsrel : float, default 1e-10
            Relative tolerance; with ``epsabs <= 0`` it must be at least ``50 eps`` (~1.1e-14).
        """,
    "neval": """
        neval : int
            Number of evaluations of ``f``.
        """,
    "notes": """
        Notes
        -----
        The adaptive algorithm is compiled once for every integrand and cached on disk; this wrapper is compiled
        per argument types and not cached (numba issue #9237). Compiled code meant to be cached passes
        :func:`as_integrand` ``(f)``: the wrapper's specialisation is then the same for every integrand.
        """,
}


@numba.njit(cache=True)
def _laplace_weight(t: float, s: float, k: float) -> float:
    """Weight ``t^k e^(-s t)`` of :func:`laplace_quad` at an interior node ``t > 0``.

    Parameters
    ----------
    t : float
        Positive node.
    s : float
        Laplace variable.
    k : float
        Power of ``t``.

    Returns
    -------
    float
        ``t^k e^(-s t)`` (computed as one exponential when the product would over/underflow).
    """
    if k == 0.0:
        return math.exp(-s * t)
    w = math.pow(t, k) * math.exp(-s * t)
    if w == w and w != INF and w != 0.0:
        return w
    return math.exp(k * math.log(t) - s * t)


@numba.njit(cache=True)
@fill_doc(integrand=_INTEGRAND_DOC)
def _qk21(
    f: Integrand, args: np.ndarray, a: float, b: float, s: float, k: float, weighted: bool
) -> tuple[float, float, float, float]:
    """Gauss-Kronrod 21-point rule on ``[a, b]`` with the QUADPACK error estimate.

    {integrand}
    a, b : float
        Interval.
    s, k : float
        Parameters of the weight ``t^k e^(-s t)``, used when ``weighted``.
    weighted : bool
        Whether to multiply ``f`` by the Laplace weight.

    Returns
    -------
    result : float
        21-point Kronrod estimate of the integral.
    abserr : float
        QUADPACK error estimate ``resasc min(1, (200 |K - G| / resasc)^1.5)``, at least
        ``50 eps resabs``.
    fmax : float
        Largest ``|f|`` (unweighted) at the 21 nodes.
    floor : float
        The roundoff floor ``50 eps resabs`` of ``abserr`` (bisecting cannot reduce it).
    """
    centr = 0.5 * (a + b)
    hlgth = 0.5 * (b - a)
    dhlgth = abs(hlgth)
    raw = f(centr, args)
    fmax = abs(raw)
    fc = raw * _laplace_weight(centr, s, k) if weighted else raw
    resg = 0.0
    resk = GK21_WK[10] * fc
    resabs = abs(resk)
    fv1 = np.empty(10)
    fv2 = np.empty(10)
    for j in range(10):
        absc = hlgth * GK21_X[j]
        t1 = centr - absc
        t2 = centr + absc
        r1 = f(t1, args)
        r2 = f(t2, args)
        fmax = max(fmax, abs(r1), abs(r2))
        if weighted:
            r1 *= _laplace_weight(t1, s, k)
            r2 *= _laplace_weight(t2, s, k)
        fv1[j] = r1
        fv2[j] = r2
        fsum = r1 + r2
        resk += GK21_WK[j] * fsum
        resabs += GK21_WK[j] * (abs(r1) + abs(r2))
        if j % 2 == 1:
            resg += GK21_WG[j // 2] * fsum
    reskh = 0.5 * resk
    resasc = GK21_WK[10] * abs(fc - reskh)
    for j in range(10):
        resasc += GK21_WK[j] * (abs(fv1[j] - reskh) + abs(fv2[j] - reskh))
    result = resk * hlgth
    resabs *= dhlgth
    resasc *= dhlgth
    abserr = abs((resk - resg) * hlgth)
    if resasc != 0.0 and abserr != 0.0:
        abserr = resasc * min(1.0, (200.0 * abserr / resasc) ** 1.5)
    floor = 0.0
    if resabs > TINY / (50.0 * EPS):
        floor = 50.0 * EPS * resabs
        abserr = max(floor, abserr)
    return result, abserr, fmax, floor


@numba.njit(cache=True)
@fill_doc(heap=_HEAP_DOC)
def _heap_push(heap: np.ndarray, size: int, key: np.ndarray, idx: int) -> int:
    """Push interval ``idx`` on a binary max-heap ordered by ``key``.

    {heap}
    idx : int
        Interval to push.

    Returns
    -------
    int
        New size.
    """
    i = size
    heap[i] = idx
    while i > 0:
        parent = (i - 1) // 2
        if key[heap[parent]] >= key[heap[i]]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@numba.njit(cache=True)
@fill_doc(heap=_HEAP_DOC)
def _heap_pop(heap: np.ndarray, size: int, key: np.ndarray) -> tuple[int, int]:
    """Pop the interval with the largest ``key`` from a non-empty binary max-heap.

    {heap}

    Returns
    -------
    idx, size : int
        The popped interval and the new size.
    """
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and key[heap[left + 1]] > key[heap[left]]:
            child = left + 1
        if key[heap[i]] >= key[heap[child]]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return top, size


@numba.njit(cache=True)
def _invalid_budget(epsabs: float, epsrel: float, limit: int) -> bool:
    """Whether ``limit < 1``, or ``epsabs <= 0`` with ``epsrel`` below the roundoff floor ``50 eps``."""
    return limit < 1 or (epsabs <= 0.0 and epsrel < 50.0 * EPS)


@numba.njit(cache=True)
def _laplace_tail(t_end: float, s: float, k: float, fmax: float) -> float:
    """Bound ``fmax int_T^inf t^k e^(-s t) dt = fmax Gamma(k+1, sT) / s^(k+1)`` of the tail.

    Parameters
    ----------
    t_end : float
        Current end ``T > 0`` of the integration range.
    s : float
        Laplace variable, ``s > 0``.
    k : float
        Power of ``t``, ``k > -1``.
    fmax : float
        Bound on ``|f|`` beyond ``T`` (estimated from the last interval).

    Returns
    -------
    float
        The tail bound (0 when it underflows).
    """
    if fmax == 0.0:
        return 0.0
    x = s * t_end
    scaled = scaled_upper_gamma(k + 1.0, x)  # Gamma(k+1, x) = scaled x^(k+1) e^-x
    return fmax * scaled * math.exp((k + 1.0) * math.log(t_end) - x)


@numba.njit(cache=True)
@fill_doc(integrand=_INTEGRAND_DOC)
def _adaptive(
    f: Integrand,
    args: np.ndarray,
    edges: np.ndarray,
    s: float,
    k: float,
    weighted: bool,
    tail: bool,
    epsabs: float,
    epsrel: float,
    limit: int,
) -> tuple[float, float, int, int]:
    """Globally adaptive GK21 over the segments ``edges``, optionally with a lazily extended tail.

    {integrand}
    edges : ndarray of float64
        Increasing finite points; the initial intervals are ``[edges[i], edges[i+1]]``.
    s, k : float
        Laplace weight parameters (used when ``weighted``).
    weighted : bool
        Multiply ``f`` by ``t^k e^(-s t)``.
    tail : bool
        Extend the range beyond ``edges[-1]`` with intervals ``[T, 2T]`` until the tail bound
        (:func:`_laplace_tail`) is negligible and ``s T >= 36 + k`` (far past the maximum of the weight,
        so that ``f`` has been sampled wherever the weight matters).
    epsabs, epsrel : float
        Absolute and relative tolerances.
    limit : int
        Maximum number of subintervals.

    Returns
    -------
    value, abserr : float
        Integral and error estimate (including the tail bound).
    neval : int
        Number of integrand evaluations.
    ier : int
        Status code (``IER_*``).
    """
    nseg = edges.shape[0] - 1
    cap = max(limit, nseg)
    alist = np.empty(cap)
    blist = np.empty(cap)
    rlist = np.empty(cap)
    elist = np.empty(cap)
    floors = np.empty(cap)
    heap = np.empty(cap, dtype=np.int64)
    size = 0
    n = 0
    area = 0.0
    errsum = 0.0
    fmax_last = 0.0
    for i in range(nseg):
        r, e, fm, fl = _qk21(f, args, edges[i], edges[i + 1], s, k, weighted)
        alist[n] = edges[i]
        blist[n] = edges[i + 1]
        rlist[n] = r
        elist[n] = e
        floors[n] = fl
        size = _heap_push(heap, size, elist, n)
        n += 1
        area += r
        errsum += e
        fmax_last = fm
    neval = 21 * nseg
    t_end = edges[nseg]
    tail_err = _laplace_tail(t_end, s, k, fmax_last) if tail else 0.0
    min_st = 36.0 + k
    frozen_err = 0.0
    ier = IER_OK
    while True:
        if not (area == area and abs(area) < INF and errsum == errsum):
            ier = IER_NONFINITE
            break
        # the tail bound is only trusted far past the maximum of the weight (s T >= 36 + k)
        tail_eff = tail_err if (not tail or s * t_end >= min_st) else INF
        tol = max(epsabs, epsrel * abs(area))
        if errsum + tail_eff <= tol:
            break
        if frozen_err > tol or (size == 0 and not tail):
            # the intervals left are at their roundoff floor or too narrow (QUADPACK ier=2)
            ier = IER_ROUNDOFF
            break
        if n >= cap:
            ier = IER_LIMIT
            break
        if tail and (size == 0 or tail_eff >= elist[heap[0]]):
            if t_end > 1e300:
                ier = IER_TAIL
                break
            t_new = 2.0 * t_end
            r, e, fm, fl = _qk21(f, args, t_end, t_new, s, k, weighted)
            neval += 21
            alist[n] = t_end
            blist[n] = t_new
            rlist[n] = r
            elist[n] = e
            floors[n] = fl
            size = _heap_push(heap, size, elist, n)
            n += 1
            area += r
            errsum += e
            t_end = t_new
            tail_err = _laplace_tail(t_end, s, k, fm)
            continue
        i, size = _heap_pop(heap, size, elist)
        a1 = alist[i]
        b2 = blist[i]
        mid = 0.5 * (a1 + b2)
        too_narrow = not (a1 < mid < b2) or (b2 - a1) <= 1000.0 * EPS * max(abs(a1), abs(b2))
        if too_narrow or elist[i] <= floors[i]:
            # bisection cannot reduce this error any more: freeze the interval (it stays in the sums)
            frozen_err += elist[i]
            continue
        r1, e1, _, fl1 = _qk21(f, args, a1, mid, s, k, weighted)
        r2, e2, _, fl2 = _qk21(f, args, mid, b2, s, k, weighted)
        neval += 42
        area += r1 + r2 - rlist[i]
        errsum += e1 + e2 - elist[i]
        blist[i] = mid
        rlist[i] = r1
        elist[i] = e1
        floors[i] = fl1
        alist[n] = mid
        blist[n] = b2
        rlist[n] = r2
        elist[n] = e2
        floors[n] = fl2
        size = _heap_push(heap, size, elist, i)
        size = _heap_push(heap, size, elist, n)
        n += 1
    # re-sum to remove the drift of the incremental updates
    area = 0.0
    errsum = 0.0
    for i in range(n):
        area += rlist[i]
        errsum += elist[i]
    return area, errsum + tail_err, neval, ier


@numba.njit
@fill_doc(**_PUBLIC_DOC)
def gauss_kronrod(
    f: Integrand,
    a: float,
    b: float,
    args: np.ndarray,
    epsabs: float = 0.0,
    epsrel: float = 1e-10,
    limit: int = 500,
) -> tuple[float, float, int, int]:
    """Adaptive Gauss-Kronrod (10/21) integral of ``f(t, args)`` over a finite interval.

    Parameters
    ----------
    {integrand}
    a, b : float
        Finite integration limits (``b < a`` gives the negated integral over ``[b, a]``).
    {args}
    {tolerances}
    limit : int, default 500
        Maximum number of subintervals.

    Returns
    -------
    value : float
        Estimate of ``int_a^b f(t, args) dt``.
    abserr : float
        Error estimate (QUADPACK ``qk21`` estimate, summed over the subintervals).
    {neval}
    ier : int
        0 converged; 1 ``limit`` reached; 2 roundoff: the subintervals whose error is at its roundoff
        floor ``50 eps int|f|`` (or that are too narrow to bisect) already exceed the tolerance, which
        is therefore not attainable in double precision (or ``f`` has a singularity); 4 the integrand
        returned ``nan``/``inf``; 6 invalid input (non-finite limits, bad tolerances, ``limit < 1``),
        with ``value = nan``. The value and error estimate are meaningful for ``ier`` 1 and 2.

    {notes}
    """
    if not (abs(a) < INF and abs(b) < INF) or _invalid_budget(epsabs, epsrel, limit):
        return NAN, NAN, 0, IER_INVALID
    if a == b:
        return 0.0, 0.0, 0, IER_OK
    sign = 1.0
    lo = a
    hi = b
    if b < a:
        sign = -1.0
        lo = b
        hi = a
    edges = np.empty(2)
    edges[0] = lo
    edges[1] = hi
    # runtime flags, not the constant False: numba would specialise _adaptive on the literal value
    flag = limit < 0
    value, err, neval, ier = _adaptive(
        as_integrand(f), _float_vector(args), edges, 0.0, 0.0, flag, flag, float(epsabs), float(epsrel), int(limit)
    )
    return sign * value, err, neval, ier


@numba.njit(cache=True)
def _laplace_edges(s: float, breakpoints: np.ndarray) -> np.ndarray:
    """Initial segments of :func:`laplace_quad`: ``0``, the sorted distinct positive breakpoints,
    and at least ``min(1, 1/s)``.

    Parameters
    ----------
    s : float
        Laplace variable, ``s > 0``.
    breakpoints : ndarray of float64
        User breakpoints (finite, ``>= 0``).

    Returns
    -------
    ndarray of float64
        Increasing edges starting at 0.
    """
    bp = np.sort(breakpoints)
    scale = min(1.0, 1.0 / s)
    out = np.empty(bp.shape[0] + 2)
    out[0] = 0.0
    m = 1
    for v in bp:
        if v > out[m - 1]:
            out[m] = v
            m += 1
    if out[m - 1] < scale:
        out[m] = scale
        m += 1
    return out[:m].copy()


@numba.njit
@fill_doc(**_PUBLIC_DOC)
def laplace_quad(
    f: Integrand,
    args: np.ndarray,
    s: float,
    k: float = 0.0,
    breakpoints: np.ndarray | None = None,
    epsabs: float = 0.0,
    epsrel: float = 1e-10,
    limit: int = 2000,
) -> tuple[float, float, int, int]:
    """Laplace-type integral ``int_0^inf t^k e^(-s t) f(t, args) dt`` by adaptive Gauss-Kronrod.

    The range ``[0, T]`` is split at the breakpoints (and at ``min(1, 1/s)``), then extended by
    geometric intervals ``[T, 2T]`` until ``s T >= 36 + k`` and the tail bound ``M Gamma(k+1, sT)/s^(k+1)``
    (``M`` = largest ``|f|`` on the last interval) is negligible; all intervals share one global error
    budget.

    Parameters
    ----------
    {integrand}
        It should not grow faster than ``e^(s t)``. It is only evaluated at interior Gauss-Kronrod nodes
        (never at ``t = 0`` or at a breakpoint), so integrable endpoint singularities are allowed.
    {args}
    s : float
        Laplace variable, ``s > 0``.
    k : float, default 0.0
        Power of ``t`` in the weight, ``k > -1`` (``-1 < k < 0`` converges slowly: endpoint singularity).
    breakpoints : 1-D ndarray of float64 or None, default None
        Points where ``f`` changes character (location and edges of narrow features, e.g.
        ``[49, 50, 51]`` for a bump of width 0.5 at 50). Features beyond the breakpoints that are
        narrower than the current interval can be missed, as with any quadrature.
    {tolerances}
    limit : int, default 2000
        Maximum number of subintervals (tail intervals included). Oscillatory ``f`` needs about
        ``(number of periods within ~40/s)`` subintervals.

    Returns
    -------
    value : float
        Estimate of the integral.
    abserr : float
        Error estimate (quadrature estimate plus the tail bound).
    {neval}
    ier : int
        0 converged; 1 ``limit`` reached; 2 roundoff (see :func:`gauss_kronrod`); 3 the tail bound did
        not become negligible before ``T ~ 1e300``; 4 non-finite integrand values; 6 invalid input
        (``s <= 0``, ``k <= -1``, non-finite or negative breakpoints, bad tolerances), with
        ``value = nan``.

    {notes}
    """
    if not (s > 0.0 and s < INF and k > -1.0 and k < INF) or _invalid_budget(epsabs, epsrel, limit):
        return NAN, NAN, 0, IER_INVALID
    if breakpoints is None:
        bp = np.empty(0)
    else:
        bp = _float_vector(breakpoints)
    for v in bp:
        if not (v >= 0.0 and v < INF):
            return NAN, NAN, 0, IER_INVALID
    edges = _laplace_edges(float(s), bp)
    flag = s > 0.0  # runtime True (see gauss_kronrod)
    return _adaptive(
        as_integrand(f), _float_vector(args), edges, float(s), float(k), flag, flag, float(epsabs), float(epsrel),
        int(limit)
    )
