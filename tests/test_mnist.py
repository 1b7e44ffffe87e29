"""IDX reader (on files the tests write, and the real MNIST when present),
checkpoints, exact resume, the metrics' rows, the MNIST CLI's errors, and the classifier's accuracy."""
import gzip
import json

import numpy as np
import pytest

from conftest import MNIST, dev, host, needs_mnist
from npscore import backend, cli, io, schedules
from npscore.mnist import base as mbase, classifier, run
from npscore.mnist.idx import load_mnist, mnist_dir, read_idx
from npscore.mnist.model import make_model
from npscore.optim import Adam
from npscore.sampling import annealed_langevin


def write_idx(path, array, magic_type=0x08, gz=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, magic_type, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = head + array.tobytes()
    raw = raw[: len(raw) - truncate] if truncate else raw
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if gz else raw)


def fake_mnist(folder, n_train=64, n_test=32, seed=0, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sfx = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, 28, 28)), gz=gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n), gz=gz)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_reader_round_trip(tmp_path, gz):
    fake_mnist(tmp_path, gz=gz)
    x, y = load_mnist(str(tmp_path), "train")
    raw = read_idx(str(tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))))
    assert x.shape == (64, 784) and y.shape == (64,)
    assert np.allclose(host(x), raw.reshape(64, 784) / 255.0)
    xd, _ = load_mnist(str(tmp_path), "test", dequantize=True, rng=backend.rng(0))
    raw_t = read_idx(str(tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else "")))).reshape(32, 784)
    d = host(xd) * 256 - raw_t
    assert d.min() > -1e-3 and d.max() < 1 + 1e-3 and d.std() > 0.2     # uniform dequantisation


def test_reader_errors_name_the_file(tmp_path):
    fake_mnist(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    write_idx(bad / "x.idx", np.zeros((3, 4)), truncate=5)
    with pytest.raises(ValueError, match=r"x.idx: dimensions \[3, 4\] need 12 data bytes, file has 7"):
        read_idx(str(bad / "x.idx"))
    (bad / "text.idx").write_text("hello, not an IDX file")
    with pytest.raises(ValueError, match="text.idx: not an unsigned-byte IDX file"):
        read_idx(str(bad / "text.idx"))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        read_idx(str(tmp_path / "train-labels-idx1-ubyte.gz"), 2051)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(str(bad / "missing.idx"))
    (bad / "trunc.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(100))[:20])
    with pytest.raises(ValueError, match="trunc.gz: corrupt or truncated gzip"):
        read_idx(str(bad / "trunc.gz"))
    # wrong image size: 27 x 27 images under the right name
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    write_idx(wrong / "train-images-idx3-ubyte.gz", np.zeros((4, 27, 27)))
    write_idx(wrong / "train-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(ValueError, match=r"images must be N x 28 x 28; got \[4, 27, 27\]"):
        load_mnist(str(wrong), "train")


def test_missing_directory_says_where_files_go(tmp_path, monkeypatch):
    monkeypatch.delenv("NPSCORE_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*NPSCORE_MNIST_DIR"):
        mnist_dir(None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist_dir(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte\\(.gz\\) is missing"):
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"")
        load_mnist(str(tmp_path), "test")
    monkeypatch.setenv("NPSCORE_MNIST_DIR", str(fake_mnist(tmp_path / "env")))
    assert load_mnist(None, "train")[0].shape == (64, 784)


@needs_mnist
def test_real_mnist_counts():
    x, y = load_mnist(str(MNIST), "test")
    assert x.shape == (10000, 784) and 0 <= float(host(x).min()) and float(host(x).max()) == 1.0
    assert list(np.bincount(y)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _train(out, data, steps=10, **kw):
    x = load_mnist(str(data), "train")[0]
    kw = {"batch_size": 4, "hidden": 8, "checkpoint_every": 10, "gate_steps": 5, "progress": False,
          "log": lambda *a: None, **kw}
    return run.train(str(out), x, steps=steps, **kw)


def _interrupted_before_the_gate(monkeypatch, *args, **kw):
    """A run stopped as the local gate's training starts: its checkpoint is the rest's, at ``steps``."""
    fit = run.fit

    def stop_at_the_gate(*a, **k):
        if k.get("desc") == "local gate":
            raise KeyboardInterrupt
        return fit(*a, **k)
    monkeypatch.setattr(run, "fit", stop_at_the_gate)
    with pytest.raises(KeyboardInterrupt):
        _train(*args, **kw)
    monkeypatch.setattr(run, "fit", fit)


def test_resume_gives_the_uninterrupted_numbers(tmp_path, monkeypatch):
    data = fake_mnist(tmp_path / "data")
    _, full, losses_full, _, config = _train(tmp_path / "a", data, 30, batch_size=8)
    assert config["gate_trained"] and len(losses_full) == 35 and len(full) == 7       # 30 steps, then 5 of the gate
    for steps in (20, 30):                       # stopped in the MLP's steps, or before the gate's
        out = tmp_path / f"b{steps}"
        _interrupted_before_the_gate(monkeypatch, out, data, steps, batch_size=8)
        _, resumed, losses_res, _, _ = _train(out, data, 30, batch_size=8, resume=True)
        assert losses_res == losses_full
        for (W1, b1), (W2, b2) in zip(full, resumed):
            assert np.array_equal(host(W1), host(W2)) and np.array_equal(host(b1), host(b2))
    with pytest.raises(ValueError, match="its local gate is trained on the finished model, which cannot be resumed"):
        _train(tmp_path / "a", data, 40, batch_size=8, resume=True)
    # and the checkpoint round-trips through allow_pickle=False
    model, params, config = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert config["hidden"] == 8 and np.array_equal(host(params[-1][0]), host(full[-1][0]))


@pytest.mark.parametrize("gate_input", ["x", "denoised"])
def test_the_gate_trains_alone_on_the_frozen_ema(tmp_path, gate_input):
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, _ = _train(tmp_path / "a", data, 10, window=3, gate_steps=5, gate_input=gate_input)
    mlp_only, mlp_params, _, _, _ = _train(tmp_path / "b", data, 10, window=0)
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
    model = _train(tmp_path / "a", data, window=0)[0]
    with pytest.raises(ValueError, match=r"array param_0 is of shape \(817, 8\); .* needs \(817, 16\)"):
        io.load_checkpoint(str(tmp_path / "a" / "checkpoint.npz"),
                           make_model(16, model.base, sigma_features=16, depth=5))
    with pytest.raises(ValueError, match="param_0 is of shape"):
        _train(tmp_path / "a", data, 20, hidden=16, window=0, resume=True)
    with pytest.raises(ValueError, match="trained with lr=0.001"):
        _train(tmp_path / "a", data, 20, lr=0.01, window=0, resume=True)


def test_checkpoint_rebuilds_depth_sigma_features_bound_and_gate(tmp_path, monkeypatch):
    data = fake_mnist(tmp_path / "data")
    kw = {"depth": 3, "sigma_features": 2, "bound": 0.5, "window": 5}
    model, params, _, _, _ = _train(tmp_path / "a", data, **kw)
    loaded_model, loaded, config = run.load_model(str(tmp_path / "a" / "checkpoint.npz"))
    assert [config[k] for k in ("depth", "sigma_features", "residual_bound", "gate_window")] == [3, 2, 0.5, 5]
    assert loaded_model.sizes == [784, 8, 8, 8, 784] and loaded_model.mlp.cond_dim == 5 and loaded_model.bound == 0.5
    assert loaded_model.window == 5
    x = load_mnist(str(data), "train")[0][:4]
    assert np.array_equal(host(loaded_model.apply(loaded, x, 0.3)), host(model.apply(params, x, 0.3)))
    assert np.abs(host(params[-1][0])).max() > 0                                     # the gate was trained
    _interrupted_before_the_gate(monkeypatch, tmp_path / "b", data, **kw)           # resumable: the gate untrained
    assert run.load_model(str(tmp_path / "b" / "checkpoint.npz"))[0].window == 0
    with pytest.raises(ValueError, match="holds 8 parameter arrays; .* needs 6"):
        _train(tmp_path / "b", data, 20, **{**kw, "depth": 2}, resume=True)
    with pytest.raises(ValueError, match="trained with residual_bound=0.5; this run asks for 1.0"):
        _train(tmp_path / "b", data, 20, **{**kw, "bound": 1.0}, resume=True)
    with pytest.raises(ValueError, match="trained with gate_window=5; this run asks for 3"):
        _train(tmp_path / "b", data, 20, **{**kw, "window": 3}, resume=True)


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
    new = _train(tmp_path / "n", data)[0]
    assert new.gated and new.scale_input and not model.scale_input and new.K == 2 + mbase.BINS and new.mlp.sizes[-1] == new.K * 784
    assert run.load_model(str(tmp_path / "n" / "checkpoint.npz"))[0].gated


def test_sample_and_evaluate_reports_every_row(tmp_path):
    """The metrics file holds the model (clipped, as saved), the model unclipped, the floor and the
    Gaussian fit both as drawn and clipped to [0, 1]; the saved images are the clipped ones."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = _train(tmp_path / "a", data)
    d = run.load_data(str(data))
    clf = classifier.train_classifier(d["x_train"], d["y_train"], steps=5, progress=False)
    sigmas = config["sigmas"]
    assert sigmas[-1] == pytest.approx(run.SIGMA_MIN) and len(sigmas) > 10
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


def test_annealed_langevin_defaults_to_a_fraction_of_technique_4(tmp_path):
    """Without ``step_scale`` the MNIST sampler runs ``STEP_FRACTION`` times technique 4's step,
    and metrics.json records the step it ran."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = _train(tmp_path / "a", data)
    sigmas, d = config["sigmas"], run.load_data(str(data))
    clf = classifier.train_classifier(d["x_train"], d["y_train"], steps=5, progress=False)
    run.sample_and_evaluate(model, params, sigmas, str(tmp_path / "out"), d, clf, n=8,
                            sampler="annealed-langevin", n_steps_each=2, log=lambda *a: None)
    eps = run.STEP_FRACTION * schedules.step_scale(sigmas[0] / sigmas[1], 2, sigmas[-1])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["step_scale"] == pytest.approx(eps)
    rng = backend.rng(0, 7)
    x0 = sigmas[0] * rng.normal((8, 784), "float32")
    expect = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=eps, n_steps_each=2)
    with np.load(tmp_path / "out" / "samples.npz", allow_pickle=False) as f:
        assert np.array_equal(f["images"], np.clip(host(expect), 0.0, 1.0))


def test_speckle_counts_lit_pixels_without_lit_neighbours():
    img = np.zeros((2, 28, 28))
    img[0, 5, 5] = 1.0                               # isolated
    img[0, 10, 10:13] = 1.0                          # a stroke of three
    img[1, 0, 0] = img[1, 27, 27] = 0.9             # two isolated, in corners
    assert run.speckle(backend.asarray(img.reshape(2, 784))) == pytest.approx(3 / 6)
    assert run.speckle(backend.asarray(np.zeros((1, 784)))) == 0.0


def test_neighbours_shifts_each_image_by_every_offset_but_zero():
    img = np.zeros((2, 784))
    img[1, 5 * 28 + 5] = 1.0
    win = run.neighbours(img, 2)
    offsets = [(di, dj) for di in range(-2, 3) for dj in range(-2, 3) if (di, dj) != (0, 0)]
    assert win.shape == (24, 2, 28, 28) and not win[:, 0].any()
    for w, (di, dj) in enumerate(offsets):                # at (i, j) the pixel (i + di, j + dj)
        assert win[w, 1, 5 - di, 5 - dj] == 1.0 and win[w, 1].sum() == 1.0
    corner = np.zeros((1, 784))
    corner[0, 0] = 1.0                                    # seen only from (1, 0), (0, 1), (1, 1): no wrapping
    assert run.neighbours(corner, 1).sum() == 3.0


def test_reverse_sde_sampler(tmp_path):
    """The reverse-SDE path: the same seed gives the same images, another seed others."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = _train(tmp_path / "a", data)
    sig = config["sigmas"]
    a = run.sample(model, params, sig, 6, 0, sampler="reverse-sde")
    b = run.sample(model, params, sig, 6, 0, sampler="reverse-sde")
    assert a.shape == (6, 784) and np.array_equal(host(a), host(b))
    assert not np.array_equal(host(a), host(run.sample(model, params, sig, 6, 1, sampler="reverse-sde")))
    with pytest.raises(ValueError, match=r"sampler \(--sampler\) must be one of"):
        run.sample(model, params, sig, 6, 0, sampler="ddpm")


def test_cli_sampler_choices_come_from_the_registry(capsys):
    parser = cli.build_parser()
    from npscore.sampling import SAMPLERS
    assert set(run.SAMPLERS) <= set(SAMPLERS)
    for command in (["mnist"], ["sample", "--checkpoint", "c.npz"]):
        for name in run.SAMPLERS:
            assert parser.parse_args(command + ["--sampler", name]).sampler == name
        with pytest.raises(SystemExit):
            parser.parse_args(command + ["--sampler", "ddpm"])
        assert "argument --sampler: invalid choice: 'ddpm'" in capsys.readouterr().err


def test_a_preset_fills_only_the_flags_not_given(tmp_path):
    """``npscore mnist --preset gpu --hidden 16 ...``: the flags given win, the rest come from the preset."""
    data = fake_mnist(tmp_path / "data")
    out = tmp_path / "out"
    assert cli.main(["mnist", "--data", str(data), "--out", str(out), "--preset", "gpu", "--hidden", "16",
                     "--depth", "1", "--steps", "2", "--gate-steps", "1", "--samples", "0", "--no-progress"]) == 0
    model, _, config = run.load_model(str(out / "checkpoint.npz"))
    gpu = run.PRESETS["gpu"]
    for key in ("batch_size", "checkpoint_every"):
        assert getattr(gpu, key) != getattr(run.PRESETS["cpu"], key) and config[key] == getattr(gpu, key)
    assert (config["hidden"], config["depth"], config["gate_steps"]) == (16, 1, 1)
    assert (model.window, model.gate_input, model.sigma_features) == (gpu.window, gpu.gate_input, gpu.sigma_features)


@needs_mnist
def test_classifier_reaches_97_percent():
    x, y = load_mnist(str(MNIST), "train")
    xt, yt = load_mnist(str(MNIST), "test")
    clf = classifier.train_classifier(x, y, steps=3000, progress=False)
    assert clf.accuracy(xt, yt) >= 0.97
