"""Fail safe: every damaged file and bad argument is one line, found before the work it
would waste; no run is lost; divergence and NaN are caught. The cases of docs/troubleshooting.md."""
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from conftest import ROOT
from npscore import io
from npscore.commands import cli
from npscore.mnist import run
from mnist_fakes import fake_mnist


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(err, *fragments):
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny MNIST run: its data folder, output folder and checkpoint."""
    tmp = tmp_path_factory.mktemp("run")
    data = fake_mnist(tmp / "data")
    x = run.load_data(str(data), test=False)["x_train"]
    run.train(str(tmp / "out"), x, steps=10, batch=4, hidden=8, checkpoint_every=10, window=0, progress=False,
              log=lambda *a: None)
    return data, tmp / "out", tmp / "out" / "checkpoint.npz"


def _damaged(good, tmp_path):
    """The damaged copies of a checkpoint the tests make themselves, with what the message says."""
    raw = good.read_bytes()
    cases = {}
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    cases["truncated.npz"] = "not a readable .npz archive"
    flipped = bytearray(raw)
    with zipfile.ZipFile(good) as z:                 # flip a bit inside the first member's data
        info = z.infolist()[0]
    flipped[info.header_offset + 30 + len(info.filename) + 40] ^= 0x10
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    cases["flipped.npz"] = "not a readable .npz archive"
    (tmp_path / "empty.npz").write_bytes(b"")
    cases["empty.npz"] = "an empty file"
    (tmp_path / "text.npz").write_text("hello, not a checkpoint\n")
    cases["text.npz"] = "not a .npz archive (it does not start as a zip file)"
    with np.load(good, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(tmp_path / "missing.npz", **{k: v for k, v in arrays.items() if k != "opt_step"})
    cases["missing.npz"] = "must hold opt_step"
    np.savez(tmp_path / "badjson.npz", **{**arrays, "config": np.asarray("{not json")})
    cases["badjson.npz"] = "'config' entry is not valid JSON"
    return cases


def test_every_damaged_checkpoint_is_one_line_naming_the_file(trained, tmp_path, capsys):
    data, _, good = trained
    for name, says in _damaged(good, tmp_path).items():
        path = tmp_path / name
        code, err = _cli(capsys, "sample", "--checkpoint", path, "--data", data, "--out", tmp_path / "o",
                         "--samples", "2")
        assert code == 2, name
        _one_line(err, str(path), says)
        out = tmp_path / f"resume_{name}"
        out.mkdir()
        os.replace(path, out / "checkpoint.npz")
        code, err = _cli(capsys, "mnist", "--resume", "--steps", "20", "--data", data, "--out", out, "--samples", "0")
        assert code == 2, name
        _one_line(err, "checkpoint.npz")


def test_damaged_classifier_and_gzip_files(trained, tmp_path, capsys):
    data, _, good = trained
    clf = tmp_path / "clf.npz"
    clf.write_bytes(good.read_bytes()[:100])
    code, err = _cli(capsys, "sample", "--checkpoint", good, "--data", data, "--classifier", clf, "--out", tmp_path)
    assert code == 2
    _one_line(err, str(clf), "not a readable .npz archive")
    bad = tmp_path / "mnist"
    bad.mkdir()
    for f in os.listdir(data):
        (bad / f).write_bytes((data / f).read_bytes())
    raw = bytearray((bad / "t10k-images-idx3-ubyte.gz").read_bytes())
    raw[20:40] = bytes(20)                          # corrupt deflate data
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(raw))
    out = tmp_path / "o"
    code, err = _cli(capsys, "mnist", "--data", bad, "--out", out, "--steps", "10", "--hidden", "8")
    assert code == 2
    _one_line(err, "t10k-images-idx3-ubyte.gz", "corrupt or truncated gzip")
    assert not (out / "checkpoint.npz").exists()    # the damaged test split stopped it before training


@pytest.mark.parametrize("argv, says", [
    (["demo", "--samples", "0"], "argument --samples: must be an int >= 1; got '0'"),
    (["mnist", "--samples", "-5"], "argument --samples: must be an int >= 0; got '-5'"),
    (["mnist", "--steps-each", "0"], "argument --steps-each: must be an int >= 1; got '0'"),
    (["mnist", "--window", "4"], "argument --window: must be 0 or an odd int; got '4'"),
    (["mnist", "--window", "-1"], "argument --window: must be an int >= 0; got '-1'"),
    (["check", "--batch", "-1"], "argument --batch: must be an int >= 1; got '-1'"),
    (["mnist", "--step-scale", "inf"], "argument --step-scale: must be a positive finite number; got 'inf'"),
    (["check", "--sizes", "2,x,2"], "argument --sizes: must be comma-separated ints"),
    (["mnist", "--channels", "4,0,8"], "argument --channels: must be three comma-separated widths >= 1"),
    (["mnist", "--channels", "4,8"], "argument --channels: must be three comma-separated widths >= 1"),
    (["mnist", "--channels", "4,x,8"], "argument --channels: must be comma-separated ints such as 16,32,32"),
])
def test_arguments_are_checked_before_any_work(argv, says, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2 and says in capsys.readouterr().err


def test_an_unusable_out_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for argv in (["demo", "--steps", "100000"], ["mnist", "--data", tmp_path / "nowhere"]):
        code, err = _cli(capsys, *argv, "--out", blocker / "sub")
        assert code == 2
        _one_line(err, "--out", "is not a writable folder")


def test_no_run_is_lost(trained, tmp_path, capsys):
    data, out, path = trained
    before = path.read_bytes()
    code, err = _cli(capsys, "mnist", "--data", data, "--out", out, "--steps", "20", "--hidden", "8")
    assert code == 2
    _one_line(err, "holds a trained model, not yet sampled, of npscore mnist (checkpoint.npz): pass --resume", "--force",
              "npscore sample --checkpoint")
    code, err = _cli(capsys, "mnist", "--data", data, "--out", out, "--steps", "5", "--resume",
                     "--hidden", "8", "--batch", "4", "--checkpoint-every", "10")
    assert code == 2
    _one_line(err, "was trained with steps=10; this run asks for 5 (--steps: give the run's own")
    code, err = _cli(capsys, "mnist", "--data", data, "--out", tmp_path / "fresh", "--resume")
    assert code == 2
    _one_line(err, "holds no run to resume; leave out --resume")
    assert path.read_bytes() == before


def test_temporary_files_are_cleaned(tmp_path):
    stale = tmp_path / (io.TMP_PREFIX + "abc.npz")
    stale.write_bytes(b"half")
    assert io.clean_stale(str(tmp_path)) == [stale.name] and not stale.exists()

    def fail(tmp):
        with open(tmp, "w") as f:
            f.write("partial")
        raise OSError("disk full")
    with pytest.raises(OSError):
        io.atomic_write(str(tmp_path / "x.json"), fail)
    assert os.listdir(tmp_path) == []


def test_files_are_readable_by_others(tmp_path):
    io.atomic_write_json(str(tmp_path / "m.json"), {"a": 1})
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(tmp_path / "m.json").st_mode & 0o777 == 0o644 & ~mask


def test_the_backend_comes_from_the_environment_when_needed():
    env = {**os.environ, "NPSCORE_BACKEND": "foo"}
    r = subprocess.run([sys.executable, "-m", "npscore", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "usage: npscore" in r.stdout
    r = subprocess.run([sys.executable, "-m", "npscore", "check"], capture_output=True, text=True, env=env)
    assert r.returncode == 2
    _one_line(r.stderr.strip(), "backend must be one of numpy, cupy; got 'foo'")
    os.environ["NPSCORE_BACKEND"] = "cupy"
    try:
        assert cli.build_parser().parse_args(["demo"]).backend == "cupy"
    finally:
        del os.environ["NPSCORE_BACKEND"]


def test_troubleshooting_page_lists_the_cases():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for fragment in ("truncated", "bit-flipped", "empty", "missing key", "bad JSON", "corrupt deflate",
                     "--resume", "--force", "diverg", "NPSCORE_BACKEND"):
        assert fragment in text, fragment


# ---------------------------------------------------------------- one true line for each case of issue 36
def test_a_bad_npscore_backend_names_the_variable():
    env = {**os.environ, "NPSCORE_BACKEND": "garbage"}
    r = subprocess.run([sys.executable, "-m", "npscore", "check"], capture_output=True, text=True, env=env)
    assert r.returncode == 2
    _one_line(r.stderr.strip(), "the environment variable NPSCORE_BACKEND", "got 'garbage'", "--backend overrides it")


def test_mnist_sigma_max_below_the_smallest_level_is_refused_before_the_data(tmp_path, capsys):
    code, err = _cli(capsys, "mnist", "--sigma-max", "0.001", "--data", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert code == 2 and not (tmp_path / "o").exists()
    _one_line(err, "sigma_max (--sigma-max) must exceed the smallest noise level 0.01", "got 0.001")


def _train_tiny(capsys, tmp_path, *flags):
    return _cli(capsys, "train", "--out", tmp_path / "o", "--steps", "100", "--samples", "100", "--hidden", "16",
                "--blocks", "1", "--no-progress", *flags)


def test_noise_levels_out_of_reach_of_the_data_are_refused_before_training(tmp_path, capsys):
    code, err = _train_tiny(capsys, tmp_path, "--sigma-min", "1e-20")
    assert code == 2 and "--lr" not in err
    _one_line(err, "--sigma-min 1e-20 is below what float32 resolves of data of scale")
    code, err = _train_tiny(capsys, tmp_path, "--sigma-max", "1e300")
    assert code == 2
    _one_line(err, "--sigma-max 1e+300 is far above the data's scale")


def test_a_large_lr_that_makes_a_sampler_diverge_says_so_and_how_to_fix_it(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path / "o"), "--data", "moons", "--lr", "0.5", "--steps", "300",
                     "--samples", "200", "--hidden", "16", "--blocks", "1", "--no-progress"])
    said = capsys.readouterr().out
    assert code == 0 and "diverged: the score was trained with --lr 0.5, above the default 0.001" in said
    assert "lower --lr" in said


def test_a_checkpoint_edited_or_damaged_is_named_with_what_is_wrong(tmp_path, capsys):
    import json
    assert _train_tiny(capsys, tmp_path, "--loss", "ncsn", "--sampler", "reverse-sde")[0] == 0
    good = dict(np.load(tmp_path / "o" / "checkpoint.npz"))
    config = json.loads(str(good["config"]))
    edits = {"negative.npz": ({**config, "sigmas": [-1.0] + config["sigmas"][1:]}, None, "noise levels must be"),
             "nan.npz": ({**config, "sigmas": [float("nan")] + config["sigmas"][1:]}, None, "noise levels must be"),
             "scale.npz": ({**config, "standardization": [[0.0, 0.0], 0.0]}, None, "standardisation scale must be"),
             "param.npz": (config, "param_0", "array param_0 holds NaN or inf")}
    for name, (edited, nan_key, says) in edits.items():
        arrays = {**good, "config": np.asarray(json.dumps(edited))}
        if nan_key:
            arrays[nan_key] = good[nan_key].copy()
            arrays[nan_key].flat[0] = np.nan
        np.savez(tmp_path / name, **arrays)
        code, err = _cli(capsys, "likelihood", "--checkpoint", tmp_path / name, "--no-progress")
        assert code == 2 and "x must be finite" not in err
        _one_line(err, f"{name}: ", says, "train again")


def test_resume_with_other_settings_or_data_names_the_flag_or_the_file(tmp_path, capsys):
    np.save(tmp_path / "d.npy", np.random.default_rng(0).standard_normal((200, 2)))
    flags = ["--data", tmp_path / "d.npy", "--loss", "dsm", "--sampler", "langevin"]
    assert _train_tiny(capsys, tmp_path, *flags)[0] == 0
    (tmp_path / "o" / "checkpoint.npz").rename(tmp_path / "o" / "training.npz")    # as if cut off in training
    manifest = tmp_path / "o" / ".npscore-run.json"
    manifest.write_text(manifest.read_text().replace("checkpoint.npz", "training.npz"))
    code, err = _train_tiny(capsys, tmp_path, *flags, "--resume", "--hidden", "32")
    _one_line(err, "was trained with --hidden 16; this command asks for 32")
    code, err = _train_tiny(capsys, tmp_path, *flags, "--resume", "--lr", "0.01")
    _one_line(err, "was trained with --lr 0.001; this command asks for 0.01")
    np.save(tmp_path / "d.npy", np.random.default_rng(1).standard_normal((200, 2)))
    code, err = _train_tiny(capsys, tmp_path, *flags, "--resume")
    assert code == 2
    _one_line(err, "d.npy has changed since", "began training on it", "--force to train afresh")


def test_a_model_checkpoint_given_as_the_classifier_is_named_and_kept(trained, tmp_path, capsys):
    data, out, path = trained
    before = path.read_bytes()
    code, err = _cli(capsys, "sample", "--checkpoint", path, "--classifier", path, "--data", data,
                     "--out", tmp_path / "s", "--samples", "4", "--no-progress")
    assert code == 2 and path.read_bytes() == before and "delete" not in err
    _one_line(err, "a score model's checkpoint, not an npscore MNIST classifier", "--classifier")


def test_a_gradient_check_too_big_for_memory_is_refused_before_it_allocates(capsys):
    code, err = _cli(capsys, "check", "--sizes", "2,100000,100000,2")
    assert code == 2
    _one_line(err, "--sizes 2,100000,100000,2: the check needs about", "GiB", "choose smaller widths")
