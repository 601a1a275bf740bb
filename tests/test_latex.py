r"""LaTeX output: the printing conventions, ``latex loss`` for any width, complete documents, and two independent
checks of every ``memtheory latex`` target -- pdflatex compiles it, and SymPy's LaTeX parser reads it back as the
expression it was printed from.

Round trips (``sympy.parsing.latex.parse_latex``, lark backend) cover what that grammar reads:

* the explicit loss, gradient, flow and Hessian (widths 1-3): the custom operators are replaced by placeholder
  symbols on both sides first (``\mathcal{L}[t^k \rho](w_i)`` -> ``P_i, Q_i, R_i`` for k = 0, 1, 2 and
  ``\|\rho\|_2^2`` -> ``N``);
* kernels and Laplace closed forms made of fractions and powers; the symbolic Jackson bound (``C(\alpha)`` ->
  ``C``); the gradient scales of the exp and best maps and StableSSM's criterion of the best map.

Not covered, and why: the grammar does not read a factor ``e^{x}`` juxtaposed with another (``s^{1/2} e^{s}``,
``\omega^{2} e^{w_l/\omega}``: the plateau bound, J(theta_0), the power law's transform), ``\Gamma(a, s)``,
``\operatorname{erfc}``, multi-digit subscripts, ``\sum`` with ``\substack`` or ``IndexedBase`` symbols (the index
notation); the index notation is checked instead by summing it out for m = 3 and comparing with the derivatives
of the explicit loss (:func:`test_index_notation_equals_explicit_derivatives`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

import memtheory as mt
from memtheory.cli import main
from memtheory.cli.registry import LATEX_TARGETS
from memtheory.errors import InvalidArgumentError
from memtheory.symbolic.functions import LaplaceMoment
from memtheory.symbolic.latex import aligned, document, symbol_latex, to_latex
from memtheory.symbolic.loss import MAX_EXPLICIT_WIDTH, NORM_SYMBOL, general_terms, l2_loss


def _run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _parts(capsys, *argv):
    code, out, err = _run(capsys, ["latex", *argv, "--json"])
    assert code == 0, err
    return json.loads(out)["parts"]


# ---------------------------------------------------------------------------------------------- conventions
def test_greek_names_and_powers():
    assert symbol_latex("lam") == r"\lambda" and symbol_latex("lamda") == r"\lambda"
    assert symbol_latex("lam_2") == r"\lambda_{2}" and symbol_latex("lam2") == r"\lambda_{2}"
    assert symbol_latex("eps") == r"\varepsilon" and symbol_latex("sigma") == r"\sigma"
    assert symbol_latex("w_l") == r"w_{l}" and symbol_latex("lambert") == "lambert"
    s, t = sp.symbols("s t", positive=True)
    assert to_latex(sp.sqrt(s)) == "s^{1/2}" and to_latex(1 / sp.sqrt(s)) == "s^{-1/2}"
    assert to_latex((1 + t) ** sp.Rational(-3, 2)) == r"\left(t + 1\right)^{-3/2}"
    assert to_latex(sp.sqrt(1 + t)) == r"\sqrt{t + 1}" and to_latex(sp.sqrt(2)) == r"\sqrt{2}"
    assert to_latex(sp.Function("C")(sp.Symbol("alpha"))) == r"C(\alpha)"
    assert mt.Kernel("exp(-lam*t)*(1+t)", lam=2).latex() == r"\left(t + 1\right) e^{- \lambda t}"


def test_power_law_transform_prints_plain_powers(capsys):
    parts = _parts(capsys, "kernel", "--target", "(1+t)**(-1.5)", "--laplace")
    assert parts["laplace"] == r"\mathcal{L}[\rho](s) = s^{1/2} e^{s} \Gamma\left(- \frac{1}{2}, s\right)"
    assert r"\left(s\right)^{-" not in parts["laplace"]
    # the printed closed form is the transform: s^{1/2} e^s Gamma(-1/2, s) against mpmath quadrature at s = 0.7
    import mpmath as mp

    with mp.workdps(30):
        s = mp.mpf("0.7")
        printed = mp.sqrt(s) * mp.exp(s) * mp.gammainc(mp.mpf(-0.5), s)
        assert abs(printed - mp.quad(lambda x: (1 + x) ** -1.5 * mp.exp(-s * x), [0, 1, mp.inf])) < mp.mpf(10) ** -25


def test_jackson_bound_and_aligned_flow(capsys):
    parts = _parts(capsys, "jackson")
    assert parts["bound"] == r"\sup_t \|H_t - \hat H_t\| \le \frac{C(\alpha)\, \gamma\, d}{\beta m^{\alpha}}"
    parts = _parts(capsys, "loss", "--m", "2", "--flow", "--gradient")
    for what in ("flow", "gradient"):
        lines = parts[what].splitlines()
        assert lines[0] == r"\begin{aligned}" and lines[-1] == r"\end{aligned}"
        assert all(" &= " in line for line in lines[1:-1]) and len(lines) == 6
    assert aligned([("x", "1"), ("y", "2")], r"\le") == "\\begin{aligned}\nx &\\le 1 \\\\\ny &\\le 2\n\\end{aligned}"


# ---------------------------------------------------------------------------------------------- latex loss, any m
def test_explicit_loss_is_not_simplified_and_builds_the_hessian_to_m6():
    loss = l2_loss(6)
    assert "hessian" not in vars(loss) and "gradient" not in vars(loss)  # derived only when used
    H = loss.hessian
    assert H.shape == (12, 12) and H == H.T
    # independent: two entries differentiated directly from the loss
    a1, w1, w2 = loss.theta[0], loss.theta[6], loss.theta[7]
    assert sp.simplify(H[6, 7] - sp.diff(loss.loss, w1, w2)) == 0
    assert sp.simplify(H[0, 6] - sp.diff(loss.loss, a1, w1)) == 0
    assert len(loss.latex("hessian")) > 1000


def test_index_notation_equals_explicit_derivatives():
    """Summing the index notation out for m = 3 gives the derivatives of the explicit loss (computed by SymPy's
    diff of the m^2-term sum, an independent route)."""
    m = 3
    terms = general_terms(m)
    j, k, l, _ = terms["indices"]
    A, W = terms["bases"]
    loss = l2_loss(m)
    a, w = loss.theta[:m], loss.theta[m:]
    sym = {"a": a, "w": w}

    def explicit(expr, kk=None, ll=None):
        expr = expr.subs({x: v for x, v in ((k, kk), (l, ll)) if v is not None}).doit()
        return expr.xreplace({A[i + 1]: a[i] for i in range(m)} | {W[i + 1]: w[i] for i in range(m)})

    assert sp.simplify(explicit(terms["loss"]) - loss.loss) == 0
    for u in ("a", "w"):
        for kk in range(1, m + 1):
            assert sp.simplify(explicit(terms["gradient"][u], kk) - sp.diff(loss.loss, sym[u][kk - 1])) == 0
    for (u, v), h in terms["hessian"].items():
        for kk in range(1, m + 1):
            for ll in range(1, m + 1):
                ref = sp.diff(loss.loss, sym[u][kk - 1], sym[v][ll - 1])
                assert sp.simplify(explicit(h, kk, ll) - ref) == 0, (u, v, kk, ll)


def test_latex_loss_any_width(capsys):
    parts = _parts(capsys, "loss", "--m", "100000", "--flow", "--hessian")
    assert r"\sum_{j=1}^{100000}" in parts["flow"] and r"k, l = 1, \dots, 100000" in parts["hessian"]
    code, out, err = _run(capsys, ["latex", "loss", "--m", "100000", "--explicit"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "index notation" in err
    code, out, err = _run(capsys, ["latex", "loss", "--m", "0"])
    assert code == 2 and "--m" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(InvalidArgumentError, match="pair terms"):
        l2_loss(MAX_EXPLICIT_WIDTH + 1)
    parts = _parts(capsys, "loss", "--m", "7", "--explicit", "--gradient")
    assert r"w_{7}" in parts["gradient"] and r"\sum" not in parts["gradient"]


# ---------------------------------------------------------------------------------------------- documents
def _examples():
    out = []
    for target in LATEX_TARGETS.values():
        for example in target.examples:
            argv = [a for a in shlex.split(example)[1:] if a != "--json"]
            out.append(argv)
    out += [["latex", "loss", "--m", str(m), "--gradient", "--flow", "--hessian"] for m in (3, 6)]
    out.append(["latex", "loss", "--m", "40", "--gradient", "--flow", "--hessian", "--general"])
    return out


@pytest.mark.parametrize("argv", _examples(), ids=lambda a: " ".join(a[1:]))
def test_every_target_compiles_with_pdflatex(capsys, tmp_path, argv):
    code, out, err = _run(capsys, [*argv, "--document"])
    assert code == 0, err
    assert out.startswith(r"\documentclass") and r"\usepackage{amsmath" in out and out.rstrip().endswith(r"\end{document}")
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex not installed (Debian: apt-get install texlive-latex-base); the document was not compiled")
    (tmp_path / "doc.tex").write_text(out)
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_document_wraps_parts():
    tex = document({"a": "x = 1", "b": aligned([("y", "2")])}, title="t_1")
    assert tex.count(r"\begin{equation*}") == 2 and r"\section*{t\_1}" in tex


# ---------------------------------------------------------------------------------------------- round trips
_MOMENT = re.compile(r"\\mathcal\{L\}\[(?:t(?:\^\{(\d)\})? )?\\rho\]\(w_\{(\d)\}\)")
_PLACE = "PQR"


def _placeholders(tex: str) -> str:
    """Custom operators -> placeholder symbols (the moments L[t^k rho](w_i) -> P_i, Q_i, R_i; the norm -> N)."""
    def moment(mt_):
        k = 0 if mt_.group(0).startswith(r"\mathcal{L}[\rho]") else int(mt_.group(1) or 1)
        return f"{_PLACE[k]}_{{{mt_.group(2)}}}"
    return _MOMENT.sub(moment, tex).replace(r"\|\rho\|^{2}_{2}", "N")


def _expected(expr):
    """The same placeholders on the SymPy side, and every symbol without assumptions (as the parser makes them)."""
    expr = sp.sympify(expr).replace(lambda e: isinstance(e, LaplaceMoment),
                                    lambda e: sp.Symbol(f"{_PLACE[int(e.args[0])]}_{e.args[1].name.split('_')[1]}"))
    expr = expr.xreplace({NORM_SYMBOL: sp.Symbol("N")})
    return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols})


def _readings(tree):
    """Every reading of an ambiguous parse that is an expression without undefined functions: a factor before a
    parenthesis reads as a product or as a function call; the product is the reading meant."""
    import lark

    if isinstance(tree, lark.Tree):
        return [r for child in tree.children for r in _readings(child)]
    if isinstance(tree, (sp.Expr, sp.MatrixBase)) and not tree.atoms(AppliedUndef):
        return [tree]
    return []


def _roundtrip(tex: str, expr) -> None:
    pytest.importorskip("lark", reason="SymPy's LaTeX parser needs lark (test extra)")
    from sympy.parsing.latex import parse_latex

    parsed = parse_latex(_placeholders(tex), backend="lark")
    for reading in _readings(parsed):
        syms = {s: sp.Symbol(re.sub(r"[{}]", "", str(s)).replace("lambda", "lam")) for s in reading.free_symbols}
        diff = reading.xreplace(syms).xreplace({sp.Symbol("e"): sp.E}) - _expected(expr)
        if (sp.simplify(diff) == sp.zeros(*diff.shape)) if isinstance(diff, sp.MatrixBase) else sp.simplify(diff) == 0:
            return
    raise AssertionError(f"{tex!r} parses as {parsed!r}, not {expr}")


def _rhs(line: str) -> str:
    return line.split("&=", 1)[1].strip().rstrip("\\").strip()


@pytest.mark.parametrize("m", [1, 2, 3])
def test_loss_outputs_roundtrip(capsys, m):
    parts = _parts(capsys, "loss", "--m", str(m), "--gradient", "--flow", "--hessian")
    loss = l2_loss(m)
    _roundtrip(parts["loss"].split("=", 1)[1], loss.loss)
    for what, sign in (("gradient", 1), ("flow", -1)):
        lines = parts[what].splitlines()[1:-1]
        assert len(lines) == 2 * m
        for line, g in zip(lines, loss.gradient):
            _roundtrip(_rhs(line), sign * g)
    if m <= 2:
        _roundtrip(parts["hessian"].split("=", 1)[1], loss.hessian)


def test_kernel_jackson_reparam_roundtrip(capsys):
    s, t, lam = sp.symbols("s t lam")
    parts = _parts(capsys, "kernel", "--target", "exp(-lam*t)*(1+t)", "--param", "lam=2", "--laplace")
    _roundtrip(parts["laplace"].split("=", 1)[1], 1 / (lam + s) + 1 / (lam + s) ** 2)
    parts = _parts(capsys, "kernel", "--target", "lam/(1+t)**2 + (1+t)**(-1.5)", "--param", "lam=2")
    _roundtrip(parts["kernel"].split("=", 1)[1], lam / (1 + t) ** 2 + (1 + t) ** sp.Rational(-3, 2))
    parts = _parts(capsys, "jackson")
    alpha, beta, gamma, d, m, C = sp.symbols("alpha beta gamma d m C")
    bound = parts["bound"].split(r"\le", 1)[1].replace(r"C(\alpha)", "C").replace(r"\,", "")
    _roundtrip(bound, C * gamma * d / (beta * m**alpha))
    parts = _parts(capsys, "reparam", "--maps", "exp,best", "--criterion")
    w, a, b = sp.symbols("w a b")
    for name, f, scale in (("exp", -sp.exp(w), sp.exp(-w)), ("best", -1 / (a * w**2 + b), 2 * a * sp.Abs(w))):
        lhs, rhs = parts[f"scale_{name}"].split(r",\quad")
        _roundtrip(lhs.split("=", 1)[1], f)
        _roundtrip(rhs.split("=", 1)[1], scale)
    _roundtrip(parts["criterion_best"].split("=", 1)[1],
               a * beta * (beta + sp.sqrt(beta**2 + 4 * b / a)) / (2 * b))
