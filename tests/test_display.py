"""REPL and Jupyter display: every public result has a short repr, an HTML table, and symbolic ones LaTeX.

Each public class that derives from :class:`memtheory.display.Displayable` is built here by the public function
that returns it, on a small real input, and its ``repr`` is held under :data:`memtheory.display.MAX_REPR`
characters, its ``_repr_html_`` parsed as an HTML table whose rows are the summary's fields, and (symbolic objects)
its ``_repr_latex_`` parsed back by SymPy's LaTeX parser where the notation allows.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import inspect
import pkgutil
from html.parser import HTMLParser

import numpy as np
import pytest
import sympy as sp

import memtheory as mt
import memtheory.sweep  # noqa: F401 - mt.sweep
from memtheory import display
from memtheory.display import MAX_REPR, Displayable, format_value
from memtheory.theory import approximation as approx
from memtheory.theory import memory, reparam, stability
from memtheory.dynamics.rodas import RodasRun
from memtheory.theory.plateau import hitting
from memtheory.theory.plateau.systems import MPObjective, integrate_rodas
from memtheory.training import datasets, loop
from memtheory.training.series import TrainedPoint, train_series
from memtheory.verify import runner

SPIKE = "exp(-t/2) + exp(-2*(t - 1/omega)**2)"
T = mt.symbolic.parse.symbol("t")


def _flow_solution():
    return mt.GradientFlow(mt.kernels.exponential(1.0), m=1).solve([0.5, 2.0], tau_end=50.0, dense=True)


def _ode():
    return mt.integrate(lambda t, y, p: -p[0] * y, None, [1.0], (0.0, 2.0), [1.0], dense=True)


def _batch():
    from memtheory.dynamics.integrators import integrate_batch

    return integrate_batch(lambda t, y, p: -p[0] * y, None, [1.0], (0.0, 1.0), np.ones((3, 1)))


def _dataset():
    return datasets.lf_dataset(mt.kernels.exponential(1.0), 8, 6, seed=1)


def _nonlinear():
    return mt.NonlinearRNN(np.ones((2, 1)), np.zeros(2), np.ones(2), W=np.diag([0.5, 1.0]), activation="tanh")


def _perturbation(m=2):
    model = mt.NonlinearRNN(np.ones((m, 1)), np.zeros(m), np.ones(m) / m, W=np.diag(np.linspace(0.5, 1.0, m)),
                            activation="linear")
    return stability.perturbation_error(model, (_dataset().x, _dataset().y), [0.0, 0.1], repeats=2, T=6, n_test=8)


def _train():
    ds = _dataset()
    return loop.train(_nonlinear(), (ds.x, ds.y), epochs=2, batch_size=4, progress=False)


def _series():
    ds = _dataset()
    return train_series(lambda width, seed: _nonlinear(), (ds.x, ds.y), [(2, 0)], backend="serial", epochs=2,
                        batch_size=4)[0]


def _check():
    return runner.CheckResult("demo", True, {"x": 1.0}, claim="the theory says x = 1", details="x = 1.0 (|err| 0)",
                              seconds=0.5)


JACK = mt.Kernel("(1+t)*exp(-2*t)")
#: class -> a function building an instance through the public API (small inputs).
FACTORIES = {
    mt.Kernel: lambda: mt.Kernel("exp(-lam*t)*(1+t)", lam=2),
    mt.kernels.LaplaceResult: lambda: mt.kernels.exponential(1.0).laplace([0.5, 1.0], dps=30, full_output=True),
    mt.LossResult: lambda: mt.l2_loss(mt.DiagonalRNN([1.0, 0.5], [0.5, 2.0]), mt.kernels.exponential(1.0),
                                      gradient=True, hessian=True, dps=30),
    mt.DiagonalRNN: lambda: mt.DiagonalRNN(np.ones(500), np.linspace(1, 2, 500)),
    mt.LinearRNN: lambda: mt.LinearRNN(-np.eye(50), np.ones(50), np.ones(50)),
    mt.NonlinearRNN: _nonlinear,
    mt.models.SSM: lambda: mt.models.SSM.random(1, 4),
    TrainedPoint: _series,
    mt.LinearFunctional: lambda: mt.LinearFunctional(mt.kernels.exponential(1.0)),
    mt.FlowSolution: _flow_solution,
    mt.GradientFlow: lambda: mt.GradientFlow(mt.kernels.exponential(1.0), m=1),
    mt.dynamics.flow.LossFlow: lambda: mt.GradientFlow.from_loss("(x - 1)**2", ["x"]),
    mt.ODEResult: _ode,
    mt.dynamics.results.DenseSolution: lambda: _ode().sol,
    mt.dynamics.results.BatchResult: _batch,
    mt.symbolic.loss.SymbolicLoss: lambda: mt.symbolic.l2_loss(2),
    mt.symbolic.laplace.LaplaceForm: lambda: mt.Kernel("(1+t)**(-1.5)").laplace_form(0),
    approx.BestSum: lambda: approx.best_exponential_sum(mt.Kernel("(1+t)**(-1.5)"), 2),
    approx.RootExponentialFit: lambda: approx.fit_root_exponential(np.arange(1, 9),
                                                                   3 * np.exp(-2 * np.sqrt(np.arange(1, 9)))),
    approx.ApproximationErrors: lambda: approx.universal(JACK, 3).errors,
    approx.Construction: lambda: approx.universal(JACK, 3),
    approx.JacksonBound: lambda: approx.jackson_bound(JACK, 1, 1.0, ms=[2, 4]),
    approx.WidthResult: lambda: approx.width_needed(mt.kernels.exponential(1.0) + mt.Kernel("exp(-3*t)"), 1e-3,
                                                    norm="L2"),
    approx.WidthSweep: lambda: approx.width_sweep([1.0], [1e-2, 1e-3], norm="L2"),
    approx.StabilityMargins: lambda: approx.stability_margins(mt.Kernel("(1+t)**(-1.5)"), [1, 2, 3]),
    memory.MemoryFunction: lambda: memory.memory_function(mt.kernels.exponential(1.0), np.linspace(0, 10, 2000)),
    memory.DecayFit: lambda: memory.classify_decay(np.linspace(0, 10, 200), np.exp(-np.linspace(0, 10, 200))),
    stability.PerturbationResult: _perturbation,
    stability.StabilitySummary: lambda: stability.stability_summary([_perturbation(2), _perturbation(3)]),
    reparam.MapSpec: lambda: reparam.MapSpec.from_registry("best"),
    reparam.GradientScale: lambda: reparam.gradient_scale("softplus"),
    reparam.BestDerivation: lambda: reparam.best_map_derivation(),
    reparam.CriterionResult: lambda: reparam.stability_criterion("exp", [0.01, 0.1]),
    mt.models.reparam.ParameterisationSpec: lambda: mt.models.reparam.PARAMETERISATIONS["best"],
    mt.models.reparam.Parameterisation: lambda: mt.models.reparam.get_parameterisation("best"),
    hitting.HittingTimes: lambda: hitting.hitting_times(mt.Kernel(SPIKE, omega=0.25), [1, 0], [0.5, 2], 0.05),
    mt.plateau.PlateauPremise: lambda: mt.plateau.measure_premise(mt.Kernel(SPIKE, omega=0.25), [1, 0], [0.5, 2]),
    hitting.PlateauScan: lambda: hitting.scan(mt.Kernel(SPIKE, omega=0.25), [1, 0], [0.5, 2], 0.05, [4, 5, 6]),
    datasets.LFDataset: _dataset,
    loop.TrainResult: _train,
    runner.CheckResult: _check,
    mt.sweep.SweepResult: lambda: mt.sweep.run(abs, [-1, 2], backend="serial"),
    mt.sweep.PointError: lambda: mt.sweep.run(math.sqrt, [-1.0], backend="serial").failures[0],
    mt.sweep.StoredPoint: lambda: mt.sweep.StoredPoint('{"n":3}', "ok", 9, None, None, 0.5),
    mt.certified.Enclosure: lambda: mt.Kernel("exp(-t)").laplace(["1/2"], dps=30, certified=True)[0],
    mt.certified.SupEnclosure: lambda: mt.certified.certified_sup(sp.sin(T), T, 0, 3),
    mt.certified.Envelope: lambda: mt.certified.envelope(T**2 * sp.exp(-T), T, 2),
    mt.losses.CertifiedLoss: lambda: mt.losses.certified_l2_loss(["1"], ["2"], mt.Kernel("exp(-t)"), hessian=True),
    RodasRun: lambda: integrate_rodas(MPObjective(mt.kernels.exponential(1.0), 1, 30), [0.2, 2.0], 0.3,
                                      rtol=1e-6),
}


def _public_displayables():
    found = set()
    for info in pkgutil.walk_packages(mt.__path__, "memtheory."):
        if ".special" in info.name or info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) and issubclass(obj, Displayable) and obj is not Displayable:
                found.add(obj)
    return found


def test_every_public_displayable_is_covered():
    missing = {c.__qualname__ for c in _public_displayables()} - {c.__qualname__ for c in FACTORIES}
    assert not missing, f"add a factory for {sorted(missing)}"


def test_public_result_dataclasses_are_displayable():
    """A public dataclass holding results must derive from Displayable (else its repr dumps every array)."""
    # registries and internals; ExactNumber, Continuity and NormValue are values of a few scalar fields, whose
    # dataclass repr is already one short line; a Tableau (coefficient data of the flow solvers) has a one-line repr
    exempt = {"LatexTarget", "SpecialFunction", "CompiledKernel", "FitState", "Series", "ExactNumber", "Continuity",
              "NormValue", "Tableau"}
    bad = []
    for info in pkgutil.walk_packages(mt.__path__, "memtheory."):
        if ".special" in info.name or info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and not issubclass(obj, Displayable) \
                    and name not in exempt:
                bad.append(f"{info.name}.{name}")
    assert not bad


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.rows, self._cell, self._row = [], [], None, None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.rows.append(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def instances():
    return {cls: make() for cls, make in FACTORIES.items() if make is not None}


@pytest.mark.parametrize("cls", [c for c, f in FACTORIES.items() if f is not None], ids=lambda c: c.__name__)
def test_repr_is_one_screen_and_html_is_a_table(instances, cls):
    obj = instances[cls]
    assert isinstance(obj, cls)
    text = repr(obj)
    assert len(text) < MAX_REPR
    assert text.startswith(type(obj).__name__ + "(") and text.endswith(")")
    assert "object at 0x" not in text
    # every summary row is shown in the text, with the same formatting the HTML uses
    rows = obj._display_rows()
    if type(obj).__repr__ is Displayable.__repr__:
        for name, value in rows:
            assert f"{name}={format_value(value)}" in text
    else:  # the Kernel's repr is the call that re-creates it
        assert eval(text, {"Kernel": mt.Kernel}).latex() == obj.latex()
    parser = _Table()
    parser.feed(obj._repr_html_())
    assert parser.tags[0] == "table" and parser.tags.count("table") in (1, 2)
    field_rows = parser.rows[: len(rows)]
    assert [r[0] for r in field_rows] == [n for n, _ in rows]
    table = obj._display_table()
    if table is not None:
        header, trows = table
        assert parser.rows[len(rows)] == list(header)
        assert len(parser.rows) == len(rows) + 1 + min(len(trows), 200) + (len(trows) > 200)


def test_large_results_are_summarised(instances):
    sol = instances[mt.FlowSolution]
    assert sol.t.size > 10
    text = repr(sol)
    assert f"array({sol.t.size},)" in text and f"array({sol.theta.shape[0]}, 2)" in text
    assert f"loss_final={format_value(sol.loss[-1])}" in text
    big = instances[mt.DiagonalRNN]
    assert "array(500,)" in repr(big) and len(repr(big)) < 200
    # a plateau scan shows its table, one row per 1/omega
    scan = instances[hitting.PlateauScan]
    lines = repr(scan).splitlines()
    assert any(line.split()[:1] == ["inv_omega"] for line in lines)
    assert sum(1 for line in lines if line.split()[:1] in (["4"], ["5"], ["6"])) == 3


def test_format_value_against_direct_formatting():
    import mpmath as mp

    assert format_value(np.arange(3.0)) == "array(3,) [0, 1, 2]"
    assert format_value(np.arange(10.0)) == "array(10,) [0, 1, 2, ..., 9]"
    assert format_value(mp.mpf(1) / 3) == mp.nstr(mp.mpf(1) / 3, 12)
    assert format_value(1 / 3) == f"{1 / 3:.6g}"
    assert format_value("x" * 500).endswith("...") and len(format_value("x" * 500)) == 72
    assert format_value(10**40).endswith("(41 digits)")


LATEX_CLASSES = [mt.Kernel, mt.symbolic.loss.SymbolicLoss, mt.symbolic.laplace.LaplaceForm, approx.JacksonBound,
                 reparam.MapSpec, reparam.GradientScale, reparam.BestDerivation, mt.models.reparam.ParameterisationSpec]


@pytest.mark.parametrize("cls", LATEX_CLASSES, ids=lambda c: c.__name__)
def test_symbolic_objects_render_as_latex(instances, cls):
    tex = instances[cls]._repr_latex_()
    assert tex.startswith("$") and tex.endswith("$") and len(tex) < 20000
    assert tex.count("{") == tex.count("}")
    assert tex.count(r"\left") == tex.count(r"\right")
    assert tex.count(r"\begin{aligned}") == tex.count(r"\end{aligned}")


def test_latex_reprs_parse_back():
    """The kernel's and the map's LaTeX, parsed by SymPy, are the expressions they print (independent check)."""
    pytest.importorskip("lark")
    from sympy.parsing.latex import parse_latex

    def parse(text, backend):  # the lark grammar reads e^{x} as a symbol e to the power x
        return parse_latex(text, backend=backend).subs(sp.Symbol("e"), sp.E)
    rho = mt.Kernel("lam/(1 + t)**2 + omega*t", lam=2, omega=1)  # Greek names print as letters
    body = rho._repr_latex_().strip("$").replace(r"\displaystyle", "").split("=", 1)[1]
    assert r"\lambda" in body and r"\omega" in body
    t, lam, omega = sp.symbols("t lambda omega")
    assert sp.simplify(parse(body, backend="lark") - (lam / (1 + t) ** 2 + omega * t)) == 0
    spec = reparam.MapSpec.from_registry("softplus")
    body = spec._repr_latex_().strip("$").replace(r"\displaystyle", "").split("=")[-1]
    w = sp.Symbol("w")
    assert sp.simplify(parse(body, backend="lark") + sp.log(1 + sp.exp(w))) == 0


def test_display_module_is_documented():
    assert display.__doc__ and all(getattr(display, n).__doc__ for n in display.__all__ if n != "MAX_REPR")
