"""npscore.mnist.run: the metrics' rows of a run, the presets of npscore mnist, and the classifier's
accuracy."""
import json

import numpy as np
import pytest

from conftest import MNIST, host, needs_mnist
from npscore import backend, io as npscore_io
from npscore.commands import cli
from npscore.mnist import classifier, run, train as mtrain
from npscore.mnist.idx import load_mnist
from npscore.sampling import annealed_langevin
from mnist_fakes import train_small, fake_mnist


def test_sample_and_evaluate_reports_every_row(tmp_path):
    """The metrics file holds the model (clipped, as saved), the model unclipped, the floor and the
    Gaussian fit both as drawn and clipped to [0, 1]; the saved images are the clipped ones."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = train_small(tmp_path / "a", data)
    d = run.load_data(str(data))
    clf = classifier.train_classifier(d["x_train"], d["y_train"], steps=5, progress=False)
    sigmas = config["sigmas"]
    assert sigmas[-1] == pytest.approx(mtrain.SIGMA_MIN) and len(sigmas) > 10
    m = run.sample_and_evaluate(model, params, sigmas, str(tmp_path / "out"), d, clf, n=24,
                                sampler="annealed-langevin", n_steps_each=2, step_scale=1e-5, log=lambda *a: None)
    rows = ["model", "model unclipped", "mnist_test (floor)", "gaussian_fit (baseline)", "gaussian_fit clipped"]
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert all(np.isfinite(saved[k]["classifier_fid"]) and 0 <= saved[k]["speckle"] <= 1 for k in rows)
    assert saved["n_samples"] == 24 and saved["step_scale"] == 1e-5 and saved["n_steps_each"] == 2
    rng = backend.rng(0, 7)                          # the sampler really used step_scale = 1e-5
    x0 = sigmas[0] * rng.normal((24, 784), "float32")
    expect = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=1e-5, n_steps_each=2)
    assert saved["gaussian_fit clipped"]["classifier_fid"] != saved["gaussian_fit (baseline)"]["classifier_fid"]
    with np.load(tmp_path / "out" / "samples.npz", allow_pickle=False) as f:
        images = f["images"]
    assert images.shape == (24, 784) and images.min() >= 0.0 and images.max() <= 1.0
    assert np.array_equal(images, np.clip(host(expect), 0.0, 1.0))
    ref = classifier.feature_stats(clf, d["x_test"])
    again = classifier.evaluate(clf, backend.asarray(images), ref)
    assert again["classifier_fid"] == pytest.approx(m["model"]["classifier_fid"], rel=1e-6)


def test_a_preset_fills_only_the_flags_not_given(tmp_path):
    """``npscore mnist --preset gpu --hidden 16 ...``: the flags given win, the rest come from the preset."""
    data = fake_mnist(tmp_path / "data")
    out = tmp_path / "out"
    assert cli.main(["mnist", "--data", str(data), "--out", str(out), "--preset", "gpu", "--hidden", "16",
                     "--depth", "1", "--steps", "2", "--gate-steps", "1", "--samples", "0", "--no-progress"]) == 0
    model, _, config = run.load_model(str(out / "checkpoint.npz"))
    gpu = run.PRESETS["gpu"]
    for key in ("batch", "checkpoint_every"):
        assert getattr(gpu, key) != getattr(run.PRESETS["cpu"], key) and config[key] == getattr(gpu, key)
    assert (config["hidden"], config["depth"], config["gate_steps"]) == (16, 1, 1)
    assert (model.window, model.gate_input, model.sigma_features) == (gpu.window, gpu.gate_input, gpu.sigma_features)


@pytest.mark.parametrize("preset, flags, named", [("unet-cpu", ["--hidden", "64", "--bound", "2"], "--hidden, --bound"),
                                                  ("cpu", ["--channels", "8,8,8"], "--channels")])
def test_a_flag_of_the_other_model_is_refused_before_any_work(tmp_path, capsys, preset, flags, named):
    """A flag that only the other model reads would be ignored: it is an error naming it, and no folder
    is made; each preset's help lists only the settings its model reads."""
    out = tmp_path / "out"
    assert cli.main(["mnist", "--out", str(out), "--preset", preset, *flags]) == 2
    assert f"{named}: a setting of the" in capsys.readouterr().err and not out.exists()
    assert "hidden" not in run.PRESETS["unet-cpu"].describe() and "channels" in run.PRESETS["unet-cpu"].describe()
    assert "channels" not in run.PRESETS["cpu"].describe() and "gate_steps" in run.PRESETS["cpu"].describe()


@needs_mnist
def test_classifier_reaches_97_percent():
    x, y = load_mnist(str(MNIST), "train")
    xt, yt = load_mnist(str(MNIST), "test")
    clf = classifier.train_classifier(x, y, steps=3000, progress=False)
    assert clf.accuracy(xt, yt) >= 0.97


def test_the_unet_runs_through_train_resume_sample_and_likelihood(tmp_path, monkeypatch, capsys):
    """``npscore mnist --preset unet-cpu`` at tiny settings: the checkpoint rebuilds the U-Net it trained,
    a run interrupted after its first checkpoint and resumed ends with the uninterrupted parameters,
    and ``npscore sample`` and ``npscore likelihood`` take its checkpoint with no model flag of their own."""
    data = fake_mnist(tmp_path / "data")
    tiny = ["--data", str(data), "--preset", "unet-cpu", "--channels", "2,4,4", "--batch", "4", "--steps", "4",
            "--checkpoint-every", "2", "--samples", "0", "--no-progress"]
    assert cli.main(["mnist", "--out", str(tmp_path / "a"), *tiny]) == 0
    model, full, config = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert type(model).__name__ == "UNet" and model.channels == (2, 4, 4)
    assert config["sigmas"][-1] == pytest.approx(0.002)

    def stop(stage):
        if stage == "checkpoint-2":
            raise KeyboardInterrupt
    monkeypatch.setattr(npscore_io, "pause_point", stop)
    assert cli.main(["mnist", "--out", str(tmp_path / "b"), *tiny]) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert cli.main(["mnist", "--out", str(tmp_path / "b"), "--resume", *tiny]) == 0
    assert "resuming from step 2 of" in capsys.readouterr().out
    resumed = run.load_model(str(tmp_path / "b" / "checkpoint.npz"))[1]
    assert all(np.array_equal(host(a), host(b)) for la, lb in zip(full, resumed) for a, b in zip(la, lb))
    d = run.load_data(str(data))
    classifier.train_classifier(d["x_train"], d["y_train"], steps=5, progress=False).save(str(tmp_path / "clf.npz"))
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "a" / "checkpoint.npz"), "--data", str(data),
                     "--classifier", str(tmp_path / "clf.npz"), "--out", str(tmp_path / "s"), "--samples", "4",
                     "--sde-steps", "3", "--no-progress"]) == 0
    with np.load(tmp_path / "s" / "samples.npz", allow_pickle=False) as f:
        assert f["images"].shape == (4, 784) and np.isfinite(f["images"]).all()
    capsys.readouterr()
    assert cli.main(["likelihood", "--checkpoint", str(tmp_path / "a" / "checkpoint.npz"), "--data", str(data),
                     "--n", "2", "--steps", "3", "--probes", "1", "--no-progress"]) == 0
    report = capsys.readouterr().out
    assert "bits/dim" in report and "can score below 0.37" in report and "Hutchinson's estimate only" in report
    assert cli.main(["likelihood", "--checkpoint", str(tmp_path / "a" / "checkpoint.npz"), "--data", str(data),
                     "--n", "2", "--steps", "3", "--trace", "exact", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--trace) exact:" in err and "holds a UNet" in err and "give --trace hutchinson" in err
