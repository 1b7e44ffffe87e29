import numpy as np
import pytest

from conftest import dev, host
from npscore.optim import SGD, Adam


def _quadratic(params, A, target):
    """f = 1/2 sum (W - target)^T A (W - target) per leaf; returns grads."""
    return [(A @ (W - target[0]), b - target[1]) for W, b in params]


@pytest.mark.parametrize("opt", [Adam(lr=0.05), SGD(lr=0.1, momentum=0.5)])
def test_optimiser_converges_to_the_minimiser_of_a_quadratic(opt):
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((4, 4))
    A = dev(Q @ Q.T / 4 + np.eye(4))                       # SPD: unique minimiser = target
    target = (dev(rng.standard_normal((4, 3))), dev(rng.standard_normal(3)))
    params = [(dev(np.zeros((4, 3))), dev(np.zeros(3)))]
    state = opt.init(params)
    for _ in range(2000):
        params, state = opt.update(params, _quadratic(params, A, target), state)
    assert np.allclose(host(params[0][0]), host(target[0]), atol=1e-4)
    assert np.allclose(host(params[0][1]), host(target[1]), atol=1e-4)
    assert state["step"] == 2000


def test_adam_first_step_is_lr_times_sign():
    p = [(dev(np.zeros((2, 2))), dev(np.zeros(2)))]
    g = [(dev(np.array([[3.0, -0.1], [1e-3, -7.0]])), dev(np.array([2.0, -2.0])))]
    opt = Adam(lr=0.01)
    p2, _ = opt.update(p, g, opt.init(p))
    assert np.allclose(host(p2[0][0]), -0.01 * np.sign(host(g[0][0])), rtol=1e-4)


@pytest.mark.parametrize("kwargs", [{"lr": 0}, {"lr": -1.0}, {"lr": float("nan")}, {"b1": 1.0}])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        Adam(**kwargs)


def test_sgd_follows_its_momentum_recursion_exactly():
    """m <- mu m + g; theta <- theta - lr m, for changing gradients, against the recursion written out."""
    rng = np.random.default_rng(1)
    gs = rng.standard_normal((5, 3))
    opt = SGD(lr=0.3, momentum=0.7)
    p = [(dev(np.zeros((1, 3))), dev(np.zeros(3)))]
    state = opt.init(p)
    m, theta = np.zeros(3), np.zeros(3)
    for g in gs:
        p, state = opt.update(p, [(dev(g[None]), dev(g))], state)
        m = 0.7 * m + g
        theta = theta - 0.3 * m
    assert np.allclose(host(p[0][0])[0], theta, rtol=1e-14) and np.allclose(host(p[0][1]), theta, rtol=1e-14)
    assert state["step"] == 5 and SGD().lr == 1e-2 and SGD().momentum == 0.0


def test_adam_follows_kingma_and_ba_exactly():
    rng = np.random.default_rng(2)
    gs = rng.standard_normal((6, 4))
    opt = Adam(lr=0.05, b1=0.8, b2=0.95, eps=1e-3)
    p = [(dev(np.zeros((1, 4))), dev(np.zeros(4)))]
    state = opt.init(p)
    m = v = theta = np.zeros(4)
    for t, g in enumerate(gs, start=1):
        p, state = opt.update(p, [(dev(g[None]), dev(g))], state)
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        theta = theta - 0.05 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.95 ** t)) + 1e-3)
    assert np.allclose(host(p[0][1]), theta, rtol=1e-12)
    assert (Adam().lr, Adam().b1, Adam().b2, Adam().eps) == (1e-3, 0.9, 0.999, 1e-8)


@pytest.mark.parametrize("make, says", [
    (lambda: SGD(lr=-1.0), "lr must be a positive finite number; got -1.0"),
    (lambda: SGD(momentum=1.0), r"momentum must be a number in \[0.0, 1.0\); got 1.0"),
    (lambda: SGD(momentum=-0.1), r"momentum must be a number in \[0.0, 1.0\)"),
    (lambda: Adam(b2=1.0), r"b2 must be a number in \[0.0, 1.0\)"),
    (lambda: Adam(b1=-0.5), r"b1 must be a number in \[0.0, 1.0\)"),
    (lambda: Adam(eps=0.0), "eps must be a positive finite number; got 0.0"),
])
def test_bad_hyperparameters_name_themselves(make, says):
    with pytest.raises(ValueError, match=says):
        make()
