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
