"""memtheory.models.SSM against an independent numpy step loop: forward pass, loss gradient (central differences
of the loop's loss), memory function, training through memtheory.training, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from memtheory.errors import InvalidArgumentError
from memtheory.models import SSM
from memtheory.theory.memory import memory_function
from memtheory.training import train

ACT = {"linear": lambda z: z, "tanh": np.tanh, "hardtanh": lambda z: np.clip(z, -1, 1),
       "relu": lambda z: np.maximum(z, 0)}


def loop_forward(model: SSM, x: np.ndarray, w=None, B=None, b=None, c=None, c0=None) -> np.ndarray:
    """A plain per-step loop with the model's equations, the eigenvalues computed here from the raw weights."""
    w = model.w if w is None else w
    B = model.B if B is None else B
    b = model.b if b is None else b
    c = model.c if c is None else c
    c0 = float(model.c0) if c0 is None else c0
    name = model.parameterisation.name
    lam = {"lru": lambda v: np.exp(-np.exp(v)), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
           "discrete_direct": lambda v: v}[name](w)
    g = np.sqrt(1 - lam**2) if model.input_scaling == "lru" else np.ones_like(lam)
    x = x[:, :, None] if x.ndim == 2 else x
    n, T, _ = x.shape
    y = np.empty((n, T))
    for s in range(n):
        h = np.zeros(len(w))
        for k in range(T):
            h = lam * h + g * (B @ x[s, k])
            y[s, k] = c @ ACT[model.activation](h + b) + c0
    return y


@pytest.mark.parametrize("activation", ["linear", "tanh", "hardtanh", "relu"])
@pytest.mark.parametrize("scaling", [None, "lru"])
def test_forward_matches_a_step_loop(activation, scaling):
    model = SSM.random(2, 5, activation=activation, input_scaling=scaling, seed=1)
    x = np.random.default_rng(2).standard_normal((3, 17, 2))
    np.testing.assert_allclose(model.forward(x), loop_forward(model, x), rtol=0, atol=1e-13)


@pytest.mark.parametrize("par", ["lru", "sigmoid", "discrete_direct"])
@pytest.mark.parametrize("scaling", [None, "lru"])
def test_gradient_matches_central_differences_of_the_loop(par, scaling):
    rng = np.random.default_rng(5)
    model = SSM.random(2, 4, activation="tanh", parameterisation=par, input_scaling=scaling, seed=3)
    x = rng.standard_normal((4, 12, 2))
    y = rng.standard_normal((4, 12))
    tw = rng.uniform(0.5, 2.0, 12)
    loss, grads = model.loss_and_grad(x, y, tw)

    def loop_loss(**kw):
        return float(np.mean(tw[None, :] * (loop_forward(model, x, **kw) - y) ** 2))

    assert abs(loss - loop_loss()) < 1e-13
    h = 1e-6
    for name in model.param_names:
        base = getattr(model, name)
        num = np.zeros(base.shape)
        for idx in np.ndindex(base.shape):
            up, dn = base.copy(), base.copy()
            up[idx] += h
            dn[idx] -= h
            key = name if name != "c0" else "c0"
            num[idx] = (loop_loss(**{key: float(up) if name == "c0" else up})
                        - loop_loss(**{key: float(dn) if name == "c0" else dn})) / (2 * h)
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-9, err_msg=name)


def test_linear_ssm_kernel_and_memory_function_are_the_modal_sum():
    model = SSM.random(1, 6, activation="linear", input_scaling="lru", seed=4)
    lam = np.exp(-np.exp(model.w))
    t = np.arange(30)
    direct = np.array([np.sum(model.c * np.sqrt(1 - lam**2) * model.B[:, 0] * lam**k) for k in t])
    np.testing.assert_allclose(model.kernel(t), direct, rtol=0, atol=1e-15)
    # impulse response of the forward pass = the kernel
    x = np.zeros((1, 30))
    x[0, 0] = 1.0
    np.testing.assert_allclose(model.forward(x)[0] - model.forward(0 * x)[0], direct, atol=1e-14)
    for kind in ("heaviside", "impulse", "reversed"):
        mf = memory_function(model, t.astype(float), kind)
        np.testing.assert_allclose(mf.values, np.abs(direct), rtol=1e-9, atol=1e-14, err_msg=kind)


def test_nonlinear_memory_function_against_the_loop_as_a_black_box():
    model = SSM.random(1, 8, activation="tanh", input_scaling="lru", seed=6)
    t = np.arange(40.0)
    mine = memory_function(model, t, "heaviside")
    box = memory_function(lambda x: loop_forward(model, x), t, "heaviside", dt=1.0)
    np.testing.assert_allclose(mine.values, box.values, rtol=0, atol=1e-12)
    fit = mine.classify()
    # the state is linear: h_k - h_rest is a sum of the modes lambda_i^k, so M decays at -log max |lambda_i|
    assert fit.verdict == "exponential"
    assert abs(fit.rate + np.log(np.max(np.abs(model.eigenvalues())))) < 0.02 * fit.rate


def test_trains_through_memtheory_training():
    rng = np.random.default_rng(0)
    teacher = SSM.random(1, 4, activation="tanh", input_scaling="lru", seed=10)
    x = rng.standard_normal((256, 40, 1))
    y = teacher.forward(x)
    student = SSM.random(1, 8, activation="tanh", input_scaling="lru", seed=11)
    before = student.loss(x, y)
    res = train(student, (x, y), epochs=30, batch_size=64, lr=0.01, progress=False)
    assert res.final_loss < 0.2 * before
    assert student.stability_margin() > 0


def test_errors():
    with pytest.raises(InvalidArgumentError, match="discrete map"):
        SSM.random(1, 4, parameterisation="softplus")
    with pytest.raises(InvalidArgumentError, match="input_scaling"):
        SSM.random(1, 4, input_scaling="s4")
    with pytest.raises(InvalidArgumentError, match="activation"):
        SSM.random(1, 4, activation="gelu")
    with pytest.raises(InvalidArgumentError, match="shape"):
        SSM(np.zeros(3), np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(InvalidArgumentError, match="domain"):
        SSM(np.full(2, 1.5), np.zeros((2, 1)), np.zeros(2), parameterisation="discrete_direct")
    model = SSM.random(2, 3)
    with pytest.raises(InvalidArgumentError, match="x: must have shape"):
        model.forward(np.zeros((2, 5)))
    with pytest.raises(InvalidArgumentError, match="integer times"):
        model.kernel([0.5])
    with pytest.raises(InvalidArgumentError, match="NonlinearRNN"):  # the stability-margin penalty is the RNNs'
        train(SSM.random(1, 3), (np.zeros((4, 5, 1)), np.zeros((4, 5))), epochs=1, progress=False,
              margin_weight=0.01)


@pytest.mark.parametrize("w0", [-40.0, -60.0])
def test_lru_scale_and_its_gradient_keep_their_digits_where_lambda_rounds_to_one(w0):
    """lambda = exp(-e^w) rounds to 1 for w < -37.4, where sqrt(1 - lambda^2) = sqrt(2 e^w) (3e-9 at w = -40) used
    to be 0 and the gradient 0 * inf = NaN. Checked against a loop that computes 1 - lambda^2 as
    -expm1(-2 e^w) in mpmath and against central differences of its loss."""
    import mpmath as mp

    rng = np.random.default_rng(7)
    model = SSM.random(1, 3, activation="tanh", input_scaling="lru", seed=4)
    model.w = np.array([w0, -1.0, 0.5])
    exact = [float(mp.sqrt(-mp.expm1(-2 * mp.exp(v)))) for v in model.w]
    np.testing.assert_allclose(model.input_scale(), exact, rtol=1e-14)
    x = rng.standard_normal((3, 15))
    y = rng.standard_normal((3, 15))

    def loss_at(w):  # the loop in mpmath at 30 digits
        with mp.workdps(30):
            lam = [mp.exp(-mp.exp(v)) for v in w]
            g = [mp.sqrt(-mp.expm1(-2 * mp.exp(v))) for v in w]
            total = mp.mpf(0)
            for s in range(3):
                h = [mp.mpf(0)] * 3
                for k in range(15):
                    h = [lam[i] * h[i] + g[i] * x[s, k] * model.B[i, 0] for i in range(3)]
                    out = mp.fsum(model.c[i] * mp.tanh(h[i] + model.b[i]) for i in range(3)) + float(model.c0)
                    total += (out - y[s, k]) ** 2
            return total / 45

    loss, grads = model.loss_and_grad(x, y)
    assert abs(loss - float(loss_at([mp.mpf(v) for v in model.w]))) < 1e-13
    assert np.all(np.isfinite(grads["w"]))
    step = mp.mpf("1e-8")
    with mp.workdps(30):
        num = [float((loss_at([mp.mpf(v) + step * e for v, e in zip(model.w, row)])
                      - loss_at([mp.mpf(v) - step * e for v, e in zip(model.w, row)])) / (2 * step))
               for row in np.eye(3)]
    np.testing.assert_allclose(grads["w"], num, rtol=1e-7)


def test_stability_gaps_are_computed_without_cancellation():
    """``1 - f(w)`` of the discrete maps and ``-f(w)`` of the continuous ones at raw values where ``f`` rounds to
    its boundary, against mpmath."""
    import mpmath as mp

    from memtheory.models.reparam import get_parameterisation, lru_input_scale

    cases = {"lru": (-50.0, lambda v: -mp.expm1(-mp.exp(v))), "sigmoid": (45.0, lambda v: 1 / (1 + mp.exp(v))),
             "inverse": (1e17, lambda v: 1 / v), "discrete_best": (3e8, lambda v: 1 / (v**2 + mp.mpf(1) / 2)),
             "exp": (-50.0, lambda v: mp.exp(v)), "lru_residual": (-50.0, lambda v: -mp.expm1(-mp.exp(v)))}
    with mp.workdps(40):
        for name, (w, ref) in cases.items():
            par = get_parameterisation(name)
            got = float(par.gap(np.array([w]))[0])
            assert got == pytest.approx(float(ref(mp.mpf(w))), rel=1e-14), name
            assert np.isfinite(par.gradient_scale(np.array([w]))[0]), name
    lam = np.array([1.0, 0.6])
    np.testing.assert_allclose(lru_input_scale(lam, gap=np.array([1e-20, 0.4])), [np.sqrt(2e-20), 0.8], rtol=1e-15)
    with pytest.raises(InvalidArgumentError, match="gap"):
        lru_input_scale(lam, gap=np.array([-0.1, 0.4]))
