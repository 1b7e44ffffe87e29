"""npscore.mnist.train: checkpoints, exact resume, the local gate trained alone, and models rebuilt from
their checkpoints (old ones included)."""

import numpy as np
import pytest

from conftest import dev, host
from npscore import io
from npscore.mnist import base as mbase, run
from npscore.mnist.idx import load_mnist
from npscore.mnist.model import make_model
from npscore.optim import Adam
from mnist_fakes import interrupted_before_the_gate, train_small, fake_mnist


def test_resume_gives_the_uninterrupted_numbers(tmp_path, monkeypatch):
    data = fake_mnist(tmp_path / "data")
    _, full, losses_full, _, config = train_small(tmp_path / "a", data, 30, batch=8)
    assert config["gate_trained"] and len(losses_full) == 35 and len(full) == 7       # 30 steps, then 5 of the gate
    for steps in (20, 30):                       # stopped in the MLP's steps, or before the gate's
        out = tmp_path / f"b{steps}"
        interrupted_before_the_gate(monkeypatch, out, data, steps, batch=8)
        _, resumed, losses_res, _, _ = train_small(out, data, 30, batch=8, resume=True)
        assert losses_res == losses_full
        for (W1, b1), (W2, b2) in zip(full, resumed):
            assert np.array_equal(host(W1), host(W2)) and np.array_equal(host(b1), host(b2))
    with pytest.raises(ValueError, match=r"trained with steps=30; this run asks for 40 \(--steps: give the run's own"):
        train_small(tmp_path / "a", data, 40, batch=8, resume=True)
    _, again, _, seconds, _ = train_small(tmp_path / "a", data, 30, batch=8, resume=True)   # sampled as it is
    assert seconds == 0.0 and all(np.array_equal(host(W1), host(W2)) for (W1, _), (W2, _) in zip(full, again))
    # and the checkpoint round-trips through allow_pickle=False
    model, params, config = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert config["hidden"] == 8 and np.array_equal(host(params[-1][0]), host(full[-1][0]))


@pytest.mark.parametrize("gate_input", ["x", "denoised"])
def test_the_gate_trains_alone_on_the_frozen_ema(tmp_path, gate_input):
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, _ = train_small(tmp_path / "a", data, 10, window=3, gate_steps=5, gate_input=gate_input)
    mlp_only, mlp_params, _, _, _ = train_small(tmp_path / "b", data, 10, window=0)
    assert model.window == 3 and mlp_only.window == 0 and len(params) == len(mlp_params) + 1
    for (W1, b1), (W2, b2) in zip(params, mlp_params):
        assert np.array_equal(host(W1), host(W2)) and np.array_equal(host(b1), host(b2))
    assert np.abs(host(params[-1][0])).max() > 0
    # the checkpoint's model reads what it was trained to read
    loaded, loaded_params, _ = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert loaded.gate_input == gate_input
    x = dev(load_mnist(str(data), "test")[0][:3])
    assert np.array_equal(host(loaded.apply(loaded_params, x, 0.3)), host(model.apply(params, x, 0.3)))


def test_checkpoint_of_another_model_or_run_is_named(tmp_path):
    data = fake_mnist(tmp_path / "data")
    model = train_small(tmp_path / "a", data, window=0)[0]
    with pytest.raises(ValueError, match=r"array param_0 is of shape \(817, 8\); .* needs \(817, 16\)"):
        io.load_checkpoint(str(tmp_path / "a" / "checkpoint.npz"),
                           make_model(16, model.base, sigma_features=16, depth=5))
    with pytest.raises(ValueError, match=r"trained with hidden=8; this run asks for 16 \(--hidden"):
        train_small(tmp_path / "a", data, 10, hidden=16, window=0, resume=True)
    with pytest.raises(ValueError, match="trained with lr=0.001"):
        train_small(tmp_path / "a", data, 10, lr=0.01, window=0, resume=True)
    other = fake_mnist(tmp_path / "other", seed=1)
    with pytest.raises(ValueError, match="the training images differ from those .* was trained on"):
        train_small(tmp_path / "a", other, 10, window=0, resume=True)


def test_checkpoint_rebuilds_depth_sigma_features_bound_and_gate(tmp_path, monkeypatch):
    data = fake_mnist(tmp_path / "data")
    kw = {"depth": 3, "sigma_features": 2, "bound": 0.5, "window": 5}
    model, params, _, _, _ = train_small(tmp_path / "a", data, **kw)
    loaded_model, loaded, config = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert [config[k] for k in ("depth", "sigma_features", "residual_bound", "gate_window")] == [3, 2, 0.5, 5]
    assert loaded_model.sizes == [784, 8, 8, 8, 784] and loaded_model.mlp.cond_dim == 5 and loaded_model.bound == 0.5
    assert loaded_model.window == 5
    x = load_mnist(str(data), "train")[0][:4]
    assert np.array_equal(host(loaded_model.apply(loaded, x, 0.3)), host(model.apply(params, x, 0.3)))
    assert np.abs(host(params[-1][0])).max() > 0                                     # the gate was trained
    interrupted_before_the_gate(monkeypatch, tmp_path / "b", data, **kw)           # resumable: the gate untrained
    assert run.load_model(str(tmp_path / "b" / "training.npz"))[0].window == 0
    with pytest.raises(ValueError, match="trained with depth=3; this run asks for 2"):
        train_small(tmp_path / "b", data, 20, **{**kw, "depth": 2}, resume=True)
    with pytest.raises(ValueError, match="trained with residual_bound=0.5; this run asks for 1.0"):
        train_small(tmp_path / "b", data, 20, **{**kw, "bound": 1.0}, resume=True)
    with pytest.raises(ValueError, match="trained with gate_window=5; this run asks for 3"):
        train_small(tmp_path / "b", data, 20, **{**kw, "window": 3}, resume=True)


def test_checkpoint_from_before_the_gate_loads_as_the_ungated_model(tmp_path):
    """Checkpoints whose config has no "gated" hold the model e / sigma + s_base, and load as it."""
    data = fake_mnist(tmp_path / "data")
    x, _ = load_mnist(str(data), "train")
    base = mbase.data_base(x)
    old = make_model(8, base, gated=False)
    params = old.init(0, "float32")
    path = str(tmp_path / "old.npz")
    io.save_checkpoint(path, params, Adam().init(params), [1.0], {"hidden": 8, "base": base.to_lists(),
                                                                   "sigmas": [1.0, 0.1]})
    model, loaded, config = run.load_model(path)
    assert not model.gated and model.mlp.sizes[-1] == 784
    xs = x[:4] + 0.1
    assert np.allclose(host(model.apply(loaded, xs, 0.1)), host(old.apply(params, xs, 0.1)))
    new = train_small(tmp_path / "n", data)[0]
    assert new.gated and new.scale_input and not model.scale_input and new.K == 2 + mbase.BINS and new.mlp.sizes[-1] == new.K * 784
    assert run.load_model(str(tmp_path / "n" / "checkpoint.npz"))[0].gated
