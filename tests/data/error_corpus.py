"""A corpus of hard kernels for the error-estimate tests (tests/test_error_corpus.py).

Each entry gives a kernel expression and an independent description of the same kernel from which the reference
values are computed in mpmath at high precision by textbook formulas, not by the library's Laplace rules:

* ``"exp"`` terms ``(c, a, lam, b, phi)``: ``c t^a e^{-lam t} cos(b t + phi)`` (``a > -1`` real, ``sin`` is
  ``phi = -pi/2``); ``L[t^k term](s) = c Re[e^{i phi} Gamma(a + k + 1) / (s + lam - i b)^(a + k + 1)]``, and a
  product of two terms is again a sum of two such terms (product-to-sum), so ``\\int rho^2`` is exact too;
* ``"power"`` terms ``(c, p, c0, c1, lam)``: ``c (c0 + c1 t)^(-p) e^{-lam t}`` (all with the same ``c0, c1``):
  ``t^k = ((c0 + c1 t) - c0)^k / c1^k`` expands the moment into incomplete gamma functions ``Gamma(q, x)``;
* ``"quad"``: smooth kernels without algebraic tails or oscillation (Gaussian bumps, steps, Airy): tanh-sinh
  quadrature of the expression at high precision between the given breakpoints.

Numbers are decimal strings (exact), as users type them. The groups: cancelling closed forms, slowly decaying
tails, oscillatory tails, endpoint singularities, and a few mixed shapes.
"""

PI_HALF = "-pi/2"  # phi of a sine: sin(x) = cos(x - pi/2)

CORPUS = [
    # --- cancelling closed forms
    {"expr": "exp(-t) - exp(-(1+1e-12)*t)", "exp": [("1", "0", "1", "0", "0"), ("-1", "0", "1.000000000001", "0", "0")]},
    {"expr": "exp(-t) - exp(-(1+1e-6)*t)", "exp": [("1", "0", "1", "0", "0"), ("-1", "0", "1.000001", "0", "0")]},
    {"expr": "1e6*(exp(-t) - exp(-(1+1e-6)*t))",
     "exp": [("1e6", "0", "1", "0", "0"), ("-1e6", "0", "1.000001", "0", "0")]},
    {"expr": "exp(-t/2) - exp(-t/2 - 1e-9*t)", "exp": [("1", "0", "0.5", "0", "0"), ("-1", "0", "0.500000001", "0", "0")]},
    {"expr": "exp(-t) - 2*exp(-2*t) + exp(-3*t)",
     "exp": [("1", "0", "1", "0", "0"), ("-2", "0", "2", "0", "0"), ("1", "0", "3", "0", "0")]},
    {"expr": "t*exp(-t) - t*exp(-(1+1e-8)*t)", "exp": [("1", "1", "1", "0", "0"), ("-1", "1", "1.00000001", "0", "0")]},
    {"expr": "1e8*exp(-t) - 1e8*exp(-1.0001*t)", "exp": [("1e8", "0", "1", "0", "0"), ("-1e8", "0", "1.0001", "0", "0")]},
    {"expr": "exp(-t)*cos(t) - exp(-t)*cos((1+1e-9)*t)",
     "exp": [("1", "0", "1", "1", "0"), ("-1", "0", "1", "1.000000001", "0")]},
    {"expr": "exp(-t) + 1e-6*t**(-0.45)*exp(-t)", "exp": [("1", "0", "1", "0", "0"), ("1e-6", "-0.45", "1", "0", "0")]},
    {"expr": "(1+t)**(-1.5) - (1+t)**(-1.5000001)",
     "power": [("1", "1.5", "1", "1", "0"), ("-1", "1.5000001", "1", "1", "0")]},
    # --- slowly decaying tails
    {"expr": "(1+t)**(-0.62)", "power": [("1", "0.62", "1", "1", "0")]},
    {"expr": "(1+t)**(-0.75)", "power": [("1", "0.75", "1", "1", "0")]},
    {"expr": "(1+t)**(-1.5)", "power": [("1", "1.5", "1", "1", "0")]},
    {"expr": "(1+t)**(-2)", "power": [("1", "2", "1", "1", "0")]},
    {"expr": "(1+2*t)**(-0.55)", "power": [("1", "0.55", "1", "2", "0")]},
    {"expr": "(1+t/10)**(-0.8)", "power": [("1", "0.8", "1", "0.1", "0")]},
    {"expr": "(1+t)**(-0.51)", "power": [("1", "0.51", "1", "1", "0")]},
    {"expr": "3*(2+t)**(-1.2)", "power": [("3", "1.2", "2", "1", "0")]},
    {"expr": "exp(-t)*(1+t)**(-0.5)", "power": [("1", "0.5", "1", "1", "1")]},
    {"expr": "exp(-100*t) + exp(-t/100)", "exp": [("1", "0", "100", "0", "0"), ("1", "0", "0.01", "0", "0")]},
    # --- oscillatory tails
    {"expr": "exp(-t/3)*cos(2*t)", "exp": [("1", "0", "1/3", "2", "0")]},
    {"expr": "sin(3*t)*exp(-t/2)", "exp": [("1", "0", "0.5", "3", PI_HALF)]},
    {"expr": "exp(-t/10)*cos(5*t)", "exp": [("1", "0", "0.1", "5", "0")]},
    {"expr": "exp(-t)*sin(20*t)", "exp": [("1", "0", "1", "20", PI_HALF)]},
    {"expr": "exp(-t/2)*cos(t)**2", "exp": [("0.5", "0", "0.5", "0", "0"), ("0.5", "0", "0.5", "2", "0")]},
    {"expr": "exp(-t)*sin(2*t)*cos(3*t)", "exp": [("0.5", "0", "1", "5", PI_HALF), ("-0.5", "0", "1", "1", PI_HALF)]},
    {"expr": "exp(-t/4)*sin(t + 1)", "exp": [("1", "0", "0.25", "1", "1 - pi/2")]},
    {"expr": "exp(-t/2)*cos(2*t) + exp(-t)", "exp": [("1", "0", "0.5", "2", "0"), ("1", "0", "1", "0", "0")]},
    # --- endpoint singularities
    {"expr": "t**(-0.45)*exp(-t)", "exp": [("1", "-0.45", "1", "0", "0")]},
    {"expr": "t**(-0.3)*exp(-2*t)", "exp": [("1", "-0.3", "2", "0", "0")]},
    {"expr": "t**(-0.49)*exp(-t/2)", "exp": [("1", "-0.49", "0.5", "0", "0")]},
    {"expr": "sqrt(t)*exp(-t)", "exp": [("1", "0.5", "1", "0", "0")]},
    {"expr": "2*t**0.3*exp(-t)", "exp": [("2", "0.3", "1", "0", "0")]},
    {"expr": "t**(-0.25)*exp(-t) + exp(-t/2)", "exp": [("1", "-0.25", "1", "0", "0"), ("1", "0", "0.5", "0", "0")]},
    {"expr": "t**(-0.4)*exp(-t) - t**(-0.4)*exp(-(1+1e-7)*t)",
     "exp": [("1", "-0.4", "1", "0", "0"), ("-1", "-0.4", "1.0000001", "0", "0")]},
    # --- other shapes
    {"expr": "t**2*exp(-t)", "exp": [("1", "2", "1", "0", "0")]},
    {"expr": "t**5*exp(-3*t)", "exp": [("1", "5", "3", "0", "0")]},
    {"expr": "1e-8*exp(-t) + exp(-2*t)", "exp": [("1e-8", "0", "1", "0", "0"), ("1", "0", "2", "0", "0")]},
    {"expr": "exp(-sqrt(2)*t)", "exp": [("1", "0", "sqrt(2)", "0", "0")]},
    {"expr": "exp(-(t-3)**2/2)", "quad": ["3"]},
    {"expr": "exp(-t/2) + exp(-2*(t - 4)**2)", "quad": ["4"]},
    {"expr": "exp(-(t-20)**2/(2*0.25))", "quad": ["20"]},
    {"expr": "Heaviside(t-1)*exp(-t)", "quad": ["1"]},
    {"expr": "Heaviside(t-1) - Heaviside(t-2)", "quad": ["1", "2"]},
]
