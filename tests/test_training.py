"""npscore.training.fit: the divergence guard keeps the last good checkpoint; the EMA follows its
recursion."""
import numpy as np
import pytest

from conftest import dev, host
from npscore import MLP, backend, io
from npscore.optim import SGD, Adam
from npscore.training import fit


def test_divergence_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    model = MLP([2, 16, 16, 2])
    x = dev(np.random.default_rng(0).standard_normal((256, 2)))
    from npscore.losses import dsm

    def loss(p, rng):
        return dsm(model, p, x, 0.1, rng=rng, check=False)
    path = str(tmp_path / "c.npz")
    with pytest.raises(RuntimeError, match=r"training stopped (at|near) step \d+: the loss"):
        fit(loss, model.init(0), Adam(lr=1e3), 3000, 0, segment=50, checkpoint=path, progress=False)
    params, state, losses, _ = io.load_checkpoint(path, model)
    assert all(np.isfinite(backend.to_numpy(a)).all() for W, b in params for a in (W, b))
    assert all(np.isfinite(losses)) and state["step"] == len(losses)


def test_ema_follows_its_recursion():
    """With constant gradients SGD moves the params by -lr each step; the EMA is
    a_k = r_k a_{k-1} + (1 - r_k) p_k with r_k = min(r, (1 + k) / (10 + k))."""
    p0 = [(dev(np.zeros((1, 1))), dev(np.zeros(1)))]
    grads = [(dev(np.ones((1, 1))), dev(np.ones(1)))]
    _, state, _ = fit(lambda p, rng: (backend.xp().asarray(1.0), grads), p0, SGD(lr=0.1), 30, 0, ema=0.9,
                      progress=False)
    a = 0.0
    for k in range(30):
        r = min(0.9, (1 + k) / (10 + k))
        a = r * a + (1 - r) * (-0.1 * (k + 1))
    assert float(host(state["ema"][0][0])[0, 0]) == pytest.approx(a, rel=1e-12)
    assert float(host(state["ema"][0][1])[0]) == pytest.approx(a, rel=1e-12)
    assert state["step"] == 30
