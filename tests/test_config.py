"""The run configuration (npscore/config.py): the one home of a model, its SDE and a checkpoint's record."""
import json

import numpy as np
import pytest

from conftest import dev, host
from npscore import io, lowdim
from npscore.config import NOTES_MLP, ModelConfig, RunConfig
from npscore.nn import MLP, NoiseConditionalMLP, ResidualMLP
from npscore.sde import VESDE, VPSDE


def test_build_model_gives_the_architecture_the_config_names():
    res = RunConfig(loss="ncsn").build_model(2)
    assert isinstance(res, NoiseConditionalMLP) and isinstance(res.mlp, ResidualMLP)
    assert res.mlp.n_blocks == 3 and res.mlp.n_fourier == 16 and res.sigma_features == 8
    assert isinstance(RunConfig(loss="ism").build_model(3), ResidualMLP)
    plain = RunConfig(loss="dsm", model=NOTES_MLP).build_model(2)
    assert isinstance(plain, MLP) and plain.sizes == [2, 128, 128, 2] and plain.activation == "softplus"
    notes = RunConfig(loss="ncsn", model=NOTES_MLP).build_model(2)
    assert type(notes.mlp) is MLP and notes.sigma_features == 0 and notes.scale_input


def test_build_sde_follows_the_loss_and_the_schedule():
    assert isinstance(RunConfig(loss="sde-vp").build_sde(), VPSDE)
    ve = RunConfig(loss="sde-ve", sigmas=(3.0, 1.0, 0.1)).build_sde()
    assert isinstance(ve, VESDE) and (ve.sigma_min, ve.sigma_max) == (0.1, 3.0)
    with pytest.raises(ValueError, match=r"^sigmas must be set"):
        RunConfig(loss="ncsn").build_sde()


def test_json_round_trip_and_bad_fields_are_named():
    c = RunConfig("moons", "sde-ve", ModelConfig(hidden=64, n_blocks=2), steps=5, sigmas=(2.0, 0.5), step_scale=1e-5)
    assert RunConfig.from_json(c.to_json()) == c
    assert RunConfig.from_json(json.loads(c.to_json())) == c
    with pytest.raises(ValueError, match=r"^--loss must be one of"):
        RunConfig(loss="nope")
    with pytest.raises(ValueError, match=r"^arch must be one of"):
        ModelConfig(arch="cnn")
    with pytest.raises(ValueError, match=r"^the checkpoint: its config is damaged or from an unknown version"):
        RunConfig.from_json('{"data": "moons", "loss": "ncsn", "model": {"hidden": -1}}')
    with pytest.raises(ValueError, match=r"^x.npz: its config is from another kind of run"):
        RunConfig.from_json('{"base": [], "sigmas": [1.0]}', "x.npz")
    with pytest.raises(ValueError, match=r"^the checkpoint: its config is not JSON"):
        RunConfig.from_json("{not json")


def test_a_record_from_before_the_model_was_recorded_reads_as_the_notes_mlp():
    old = {"data": "two-modes", "loss": "ncsn", "hidden": 32, "sigma_max": 2.0, "sigma_min": 0.1, "conditional": True,
           "sigmas": [2.0, 0.5, 0.1], "step_scale": 1e-5, "n_steps_each": 10, "seed": 3, "n_train": 100}
    c = RunConfig.from_json(json.dumps(old))
    assert c.model == ModelConfig(arch="mlp", hidden=32, activation="softplus", sigma_features=0)
    assert (c.seed, c.n_train, c.sigmas, c.n_steps_each) == (3, 100, (2.0, 0.5, 0.1), 10)


def test_a_checkpoint_rebuilds_the_same_model(tmp_path):
    x = lowdim.split("moons", 500, 50, 0)[0]
    config = RunConfig("moons", "ncsn", ModelConfig(hidden=16, n_blocks=1, fourier_features=4), steps=3, n_train=500)
    fitted, state, curve = lowdim.fit_config(config, x, progress=False)
    path = str(tmp_path / "checkpoint.npz")
    io.save_checkpoint(path, fitted.params, state, curve, fitted.config.to_dict())
    again, _ = lowdim.load_fitted(path)
    assert again.config == fitted.config
    y = dev(np.random.default_rng(0).standard_normal((4, 2)).astype("float32"))
    assert np.array_equal(host(again.model.apply(again.params, y, 0.3)), host(fitted.model.apply(fitted.params, y, 0.3)))


def _mnist_record(config):
    from npscore.mnist.base import data_base
    x = dev(np.random.default_rng(0).uniform(0, 1, (32, 784)).astype("float32"))
    return config.to_record([2.0, 0.5, 0.01], data_base(x))


def test_an_mnist_record_round_trips_and_says_what_it_is():
    from npscore.config import kind_of
    from npscore.commands.mnist_config import MNIST_PRESETS, MnistConfig
    gpu = MNIST_PRESETS["gpu"]
    record = json.loads(json.dumps(_mnist_record(gpu)))                 # as a checkpoint stores it
    back = MnistConfig.from_record(record, "c.npz")
    recorded = ("hidden", "depth", "sigma_features", "bound", "window", "gate_input", "gate_steps", "seed",
                "batch", "lr", "checkpoint_every")
    assert [getattr(back, k) for k in recorded] == [getattr(gpu, k) for k in recorded]
    assert kind_of(record) == "npscore mnist" and kind_of(RunConfig().to_dict()) == "npscore train"
    assert kind_of({"base": [], "hidden": 8}) == "npscore mnist"                 # before the kind field
    no_gate = MnistConfig.from_record(_mnist_record(gpu.replace(window=0)))
    assert no_gate.window == 0 and no_gate.gate_input == "x"


@pytest.mark.parametrize("change, says", [
    (lambda r: r.pop("depth"), r"^c.npz: its config is damaged or from an unknown version \('depth'\); train again$"),
    (lambda r: r.update(hidden="wide"), "^c.npz: its config is damaged"),
    (lambda r: r.update(scale_input=False), r"^c.npz: its config is from an older npscore mnist \(scale_input False"),
    (lambda r: r.update(kind="npscore train"), r"^c.npz: its config is from another kind of run \(npscore train\)"),
])
def test_a_damaged_or_foreign_mnist_record_is_one_line(change, says):
    from npscore.commands.mnist_config import MNIST_PRESETS, MnistConfig
    record = _mnist_record(MNIST_PRESETS["cpu"])
    change(record)
    with pytest.raises(ValueError, match=says):
        MnistConfig.from_record(record, "c.npz")


def test_each_kind_of_config_refuses_the_other():
    from npscore.commands.mnist_config import MNIST_PRESETS
    with pytest.raises(ValueError, match="from another kind of run"):
        RunConfig.from_json(json.dumps(_mnist_record(MNIST_PRESETS["cpu"])), "c.npz")
