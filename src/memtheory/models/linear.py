"""Continuous-time linear RNNs and their memory kernels (docs/theory.md §2).

``dh/dt = W h + U x``, ``y = c^T h``, ``h(-inf) = 0``. When ``W`` is Hurwitz the model is the linear functional
with kernel ``rho_hat(t) = [c^T e^{Wt} U]^T``. :class:`LinearRNN` holds ``(W, U, c)``; :class:`DiagonalRNN` is the
diagonal case ``rho_hat(t) = sum_i a_i e^{-w_i t}`` with ``theta = (a, w)``, the parameterisation of the
optimisation analysis (docs/theory.md §4). Complex conjugate pairs are allowed in a DiagonalRNN (the modal form of a
real W); the exact L2 loss (:func:`memtheory.l2_loss`) needs real ``w_i > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..display import Displayable
from ..errors import InvalidArgumentError, NotHurwitzError
from ..exact import as_float64, exact_values, float64_exactly, typed_exactly

__all__ = ["LinearRNN", "DiagonalRNN", "discretize"]


def _finite_array(x, name: str, ndim: int | tuple[int, ...], dtype=float) -> np.ndarray:
    try:
        arr = np.array(x, dtype=dtype)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be numeric, got {x!r}") from None
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        raise InvalidArgumentError(f"{name} must have {' or '.join(map(str, ndims))} dimension(s), "
                                   f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} must be finite (no NaN/inf)")
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class DiagonalRNN(Displayable):
    """Diagonal linear RNN with kernel ``rho_hat(t) = sum_i a_i exp(-w_i t)``.

    Parameters
    ----------
    a : array_like, shape (m,)
        Output weights ``a_i = c_i u_i`` (real, or complex in conjugate pairs for a modal form).
    w : array_like, shape (m,)
        Decay rates; ``Re w_i > 0`` is required (stability). Complex rates come in conjugate pairs.

    Examples
    --------
    >>> import memtheory as mt
    >>> model = mt.DiagonalRNN([1.0, -0.5], [1.0, 3.0])
    >>> float(model.kernel(0.0))
    0.5
    """

    a: np.ndarray
    w: np.ndarray

    def __post_init__(self):
        # What the caller passed, kept when it is not already a float array: the exact values of the
        # arbitrary-precision paths come from it (the float64 arrays below are its one rounding).
        raw = {"a": self._kept(self.a), "w": self._kept(self.w)}
        is_complex = np.iscomplexobj(self.a) or np.iscomplexobj(self.w)
        dtype = complex if is_complex else float
        a = _finite_array(self._rounded(raw["a"], "a", is_complex) or self.a, "a", 1, dtype)
        w = _finite_array(self._rounded(raw["w"], "w", is_complex) or self.w, "w", 1, dtype)
        if a.shape != w.shape or a.size == 0:
            raise InvalidArgumentError(f"a and w must have the same non-zero length, got {a.shape} and {w.shape}")
        if np.any(w.real <= 0):
            bad = w[w.real <= 0][0]
            raise NotHurwitzError(f"rates must have Re w > 0 (stable), got w = {bad}")
        if is_complex and np.all(a.imag == 0) and np.all(w.imag == 0):
            a, w = a.real.copy(), w.real.copy()
        a.setflags(write=False)
        w.setflags(write=False)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "_raw", raw)

    @staticmethod
    def _kept(values) -> tuple | None:
        """``values`` as a tuple of what was passed, or None for float arrays and scalars (nothing to keep)."""
        if isinstance(values, np.ndarray) and values.dtype.kind in "fc" or np.isscalar(values):
            return None
        items = np.asarray(values, dtype=object)
        return tuple(items) if items.ndim == 1 else None

    @staticmethod
    def _rounded(raw: tuple | None, name: str, is_complex: bool) -> list[float] | None:
        """The float64 values of exact inputs (strings such as ``"3/10"`` included), rounded once, correctly."""
        if raw is None or is_complex:
            return None
        if all(isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool) for v in raw):
            return None  # already binary numbers: numpy's conversion is exact (ints) or the identity (floats)
        return as_float64(list(raw), name).tolist()

    def _exact(self, name: str) -> tuple[tuple, bool]:
        if not self.is_real:
            raise InvalidArgumentError("exact values exist for real models only (complex modal form given)")
        raw = self._raw.get(name) if hasattr(self, "_raw") else None
        return exact_values(list(getattr(self, name)) if raw is None else list(raw), name)

    @property
    def exact_a(self) -> tuple:
        """The weights as exact SymPy numbers (a binary float is its exact value; see :mod:`memtheory.exact`)."""
        return self._exact("a")[0]

    @property
    def exact_w(self) -> tuple:
        """The rates as exact SymPy numbers."""
        return self._exact("w")[0]

    @property
    def inputs_exact(self) -> bool:
        """Whether the weights and rates are the numbers typed: ``False`` if one was a binary float such as
        ``0.3`` (use ``"0.3"`` or ``Fraction(3, 10)`` for three tenths)."""
        if not self.is_real:
            return typed_exactly(self.a.real) and typed_exactly(self.a.imag) and typed_exactly(
                self.w.real) and typed_exactly(self.w.imag)
        raw = self._raw if hasattr(self, "_raw") else {}
        return all(typed_exactly(getattr(self, n) if raw.get(n) is None else list(raw[n])) for n in ("a", "w"))

    @property
    def float64_exact(self) -> bool:
        """Whether the float64 arrays :attr:`a`, :attr:`w` are the typed numbers unchanged."""
        return self.inputs_exact and (not self.is_real or all(
            float64_exactly(list(self._raw[n]) if getattr(self, "_raw", {}).get(n) is not None else getattr(self, n))
            for n in ("a", "w")))

    @property
    def m(self) -> int:
        """Width (number of modes)."""
        return self.a.size

    @property
    def theta(self) -> np.ndarray:
        """Parameters ``theta = (a_1..a_m, w_1..w_m)``."""
        return np.concatenate([self.a, self.w])

    @classmethod
    def from_theta(cls, theta) -> DiagonalRNN:
        """Inverse of :attr:`theta`."""
        theta = np.asarray(theta)
        if theta.ndim != 1 or theta.size % 2:
            raise InvalidArgumentError(f"theta must be a 1-D array of even length 2m, got shape {theta.shape}")
        m = theta.size // 2
        return cls(theta[:m], theta[m:])

    @property
    def is_real(self) -> bool:
        """True when all coefficients and rates are real."""
        return not np.iscomplexobj(self.a)

    def kernel(self, t) -> np.ndarray:
        """``rho_hat(t) = sum_i a_i e^{-w_i t}`` (real part for conjugate-paired modal forms)."""
        t = np.asarray(t, dtype=float)
        vals = np.exp(-np.multiply.outer(t, self.w)) @ self.a
        return vals.real if np.iscomplexobj(vals) else vals

    def to_linear(self) -> LinearRNN:
        """A real :class:`LinearRNN` with the same kernel (2x2 rotation blocks for conjugate pairs)."""
        if self.is_real:
            return LinearRNN(np.diag(-self.w), np.ones((self.m, 1)), self.a)
        m = self.m
        W = np.zeros((m, m))
        U = np.zeros((m, 1))
        c = np.zeros(m)
        i = 0
        used = np.zeros(m, bool)
        row = 0
        while i < m:
            if used[i]:
                i += 1
                continue
            w, a = self.w[i], self.a[i]
            if abs(w.imag) == 0:
                W[row, row], U[row, 0], c[row] = -w.real, 1.0, a.real
                used[i] = True
                row += 1
            else:
                j = _conjugate_partner(self.w, self.a, i, used)
                used[i] = used[j] = True
                # a e^{-wt} + conj: 2 Re(a e^{-wt}) with w = al + i be: block [[-al, be], [-be, -al]]
                al, be = w.real, w.imag
                W[row:row + 2, row:row + 2] = [[-al, -be], [be, -al]]
                U[row, 0], U[row + 1, 0] = 1.0, 0.0
                # e^{Bt} e1 = e^{-al t} (cos(be t), sin(be t)); 2 Re(a e^{-i be t}) = 2 (Re a cos + Im a sin)
                c[row], c[row + 1] = 2 * a.real, 2 * a.imag
                row += 2
            i += 1
        return LinearRNN(W, U, c)

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("m", self.a.size), ("a", self.a), ("w", self.w)]


def _conjugate_partner(w: np.ndarray, a: np.ndarray, i: int, used: np.ndarray) -> int:
    scale = max(1.0, abs(w[i]))
    for j in range(w.size):
        if j != i and not used[j] and abs(w[j] - np.conj(w[i])) <= 1e-9 * scale \
                and abs(a[j] - np.conj(a[i])) <= 1e-9 * max(1.0, abs(a[i])):
            return j
    raise InvalidArgumentError(f"complex mode w={w[i]} has no conjugate partner: the kernel would not be real")


@dataclass(frozen=True, eq=False, repr=False)
class LinearRNN(Displayable):
    """Continuous-time linear RNN ``dh/dt = W h + U x``, ``y = c^T h`` with kernel ``[c^T e^{Wt} U]^T``.

    Parameters
    ----------
    W : array_like, shape (m, m)
        Recurrent matrix (Hurwitz for a bounded functional).
    U : array_like, shape (m, d) or (m,)
        Input matrix (a vector means d = 1).
    c : array_like, shape (m,)
        Output weights (scalar output).
    """

    W: np.ndarray
    U: np.ndarray
    c: np.ndarray

    def __post_init__(self):
        W = _finite_array(self.W, "W", 2)
        U = _finite_array(self.U, "U", (1, 2))
        c = _finite_array(self.c, "c", 1)
        if U.ndim == 1:
            U = U[:, None]
        m = W.shape[0]
        if W.shape != (m, m) or m == 0:
            raise InvalidArgumentError(f"W must be square and non-empty, got shape {W.shape}")
        if U.shape[0] != m:
            raise InvalidArgumentError(f"U must have {m} rows to match W, got shape {U.shape}")
        if c.shape != (m,):
            raise InvalidArgumentError(f"c must have shape ({m},) to match W, got {c.shape}")
        for name, arr in (("W", W), ("U", U), ("c", c)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def m(self) -> int:
        """Width."""
        return self.W.shape[0]

    def _display_rows(self) -> list[tuple[str, object]]:
        return [("m", self.m), ("d", self.d), ("W", self.W), ("U", self.U), ("c", self.c)]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.U.shape[1]

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of W."""
        return np.linalg.eigvals(self.W)

    @property
    def spectral_abscissa(self) -> float:
        """``max Re lambda(W)``; negative iff W is Hurwitz."""
        return float(np.max(self.eigenvalues.real))

    @property
    def is_hurwitz(self) -> bool:
        """Whether every eigenvalue of W has negative real part (the kernel is integrable)."""
        return self.spectral_abscissa < 0

    def require_hurwitz(self, what: str = "this quantity") -> None:
        """Raise :class:`NotHurwitzError` unless W is Hurwitz."""
        if not self.is_hurwitz:
            raise NotHurwitzError(f"{what} diverges: W is not Hurwitz (max Re lambda = {self.spectral_abscissa:.6g})")

    def kernel(self, t, method: str = "expm") -> np.ndarray:
        """``rho_hat(t) = [c^T e^{Wt} U]^T``; shape ``t.shape`` for d = 1, ``t.shape + (d,)`` otherwise.

        ``method="expm"`` uses scipy's matrix exponential at each t; ``"modal"`` the eigendecomposition.
        """
        t = np.asarray(t, dtype=float)
        if method == "modal":
            diag = self.to_diagonal()
            out = np.real(np.exp(-np.multiply.outer(t, diag.w)) @ diag.a_full)
        elif method == "expm":
            flat = t.reshape(-1)
            out = np.array([self.c @ sla.expm(self.W * tk) @ self.U for tk in flat]).reshape(t.shape + (self.d,))
        else:
            raise InvalidArgumentError(f"method must be 'expm' or 'modal', got {method!r}")
        return out[..., 0] if self.d == 1 else out

    def to_diagonal(self) -> _ModalForm:
        """Modal form ``rho_hat(t) = sum_i a_i e^{-w_i t}`` with ``w_i = -lambda_i`` (complex pairs allowed).

        For d = 1 the result is a :class:`DiagonalRNN`-compatible object (``.a``, ``.w``, ``.to_linear()``).
        Raises if W is not diagonalisable to working accuracy (the eigenvector matrix is too ill-conditioned).
        """
        lam, V = np.linalg.eig(self.W)
        cond = np.linalg.cond(V)
        if not np.isfinite(cond) or cond > 1e10:
            raise InvalidArgumentError(f"W is not diagonalisable to working accuracy (cond(V) = {cond:.3g})")
        left = np.linalg.solve(V, self.U.astype(complex))  # rows: v~_i^T U
        coeffs = (self.c @ V)[:, None] * left  # (m, d)
        return _ModalForm(-lam, coeffs, cond)

    def lyapunov_gram(self) -> np.ndarray:
        """``P`` with ``W P + P W^T + U U^T = 0``, so that ``\\int_0^\\infty rho_hat^2 = c^T P c``."""
        self.require_hurwitz("the Gramian")
        return sla.solve_continuous_lyapunov(self.W, -self.U @ self.U.T)

    def kernel_square_integral(self) -> float:
        """``\\int_0^\\infty |rho_hat(t)|^2 dt`` by the Lyapunov equation."""
        return float(self.c @ self.lyapunov_gram() @ self.c)

    def simulate(self, x, dt: float, method: str = "zoh") -> np.ndarray:
        """Output on a sampled input, ``h_0 = 0``.

        Parameters
        ----------
        x : array_like, shape (T,) or (T, d)
            Input samples; ``x_k`` is held on ``[k dt, (k+1) dt)``.
        dt : float
            Sampling step.
        method : {"zoh", "euler", "bilinear"}
            Zero-order hold (exact for piecewise-constant input): ``A = e^{dt W}``, ``B = W^{-1}(A - I) U``;
            forward Euler ``h_{k+1} = h_k + dt (W h_k + U x_k)``; bilinear (Tustin).

        Returns
        -------
        numpy.ndarray, shape (T,)
            ``y_k = c^T h_{k+1}``, the output once ``x_k`` has been consumed (so ``y_k`` depends on ``x_0..x_k``).
        """
        A, B = discretize(self.W, self.U, dt, method)
        x = _finite_array(x, "x", (1, 2))
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.d:
            raise InvalidArgumentError(f"x must have {self.d} channel(s), got shape {x.shape}")
        h = np.zeros(self.m)
        out = np.empty(x.shape[0])
        Bx = x @ B.T
        for k in range(x.shape[0]):
            h = A @ h + Bx[k]
            out[k] = self.c @ h
        return out


@dataclass(frozen=True, eq=False)
class _ModalForm:
    """Modal form of a LinearRNN: ``rho_hat(t) = sum_i a_i e^{-w_i t}``, complex, with per-channel coefficients."""

    w: np.ndarray
    a_full: np.ndarray
    cond: float

    @property
    def a(self) -> np.ndarray:
        """Coefficients for scalar input (d = 1)."""
        if self.a_full.shape[1] != 1:
            raise InvalidArgumentError("the modal form has several input channels: use a_full")
        return self.a_full[:, 0]

    def to_rnn(self) -> DiagonalRNN:
        """As a :class:`DiagonalRNN` (d = 1; requires a Hurwitz W)."""
        return DiagonalRNN(self.a, self.w)

    def to_linear(self) -> LinearRNN:
        """Back to a real LinearRNN (d = 1)."""
        return self.to_rnn().to_linear()


def discretize(W, U, dt: float, method: str = "zoh") -> tuple[np.ndarray, np.ndarray]:
    """Discretise ``dh/dt = W h + U x`` with step ``dt``: returns ``(A, B)`` with ``h_{k+1} = A h_k + B x_k``.

    ``"zoh"``: ``A = e^{dt W}``, ``B = W^{-1}(A - I) U`` (computed without inverting W, via the block
    exponential); ``"euler"``: ``A = I + dt W``, ``B = dt U``; ``"bilinear"``:
    ``A = (I - dt/2 W)^{-1}(I + dt/2 W)``, ``B = (I - dt/2 W)^{-1} dt U``.
    """
    W = np.asarray(W, float)
    U = np.asarray(U, float)
    if U.ndim == 1:
        U = U[:, None]
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InvalidArgumentError(f"dt must be a finite number > 0, got {dt!r}")
    m, d = U.shape
    eye = np.eye(m)
    if method == "zoh":
        block = np.zeros((m + d, m + d))
        block[:m, :m] = W * dt
        block[:m, m:] = U * dt
        E = sla.expm(block)
        return E[:m, :m], E[:m, m:]
    if method == "euler":
        return eye + dt * W, dt * U
    if method == "bilinear":
        left = eye - dt / 2 * W
        return np.linalg.solve(left, eye + dt / 2 * W), np.linalg.solve(left, dt * U)
    raise InvalidArgumentError(f"method must be 'zoh', 'euler' or 'bilinear', got {method!r}")
