"""The run folder (npscore/runfolder.py) as `npscore train`, `demo`, `mnist` and `sample` use it, on real
folders: a file npscore did not write is never moved, replaced or deleted; a kill at any moment leaves
the old set or the new one, whole; system folders are refused before any work."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import arrays
from mnist_fakes import fake_mnist
from npscore.commands import cli, runfolder

FAST = ["--steps", "200", "--hidden", "16", "--blocks", "1", "--fourier-features", "4", "--samples", "100",
        "--no-progress", "--loss", "dsm", "--sampler", "langevin"]


def _train(capsys, out, *flags, data="moons"):
    code = cli.main(["train", "--out", str(out), "--data", data, *FAST, *flags])
    return code, capsys.readouterr()


def _user_files(folder):
    """A folder of a user's own: data, notes, and files named like a run's outputs in a subfolder."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "mine.npy", np.random.default_rng(0).standard_normal((200, 2)))
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "results").mkdir(exist_ok=True)
    (folder / "results" / "metrics.json").write_text("{}")
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _untouched(before):
    return all(p.exists() and p.read_bytes() == b for p, b in before.items())


def _npscore_entries(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".npscore"))


# ---------------------------------------------------------------- what a user's folder keeps
def test_a_folder_holding_the_data_and_notes_keeps_them_through_runs_and_force(tmp_path, capsys):
    proj = tmp_path / "proj"
    mine = _user_files(proj)
    assert _train(capsys, proj, data=str(proj / "mine.npy"))[0] == 0
    assert _untouched(mine) and (proj / "checkpoint.npz").exists() and (proj / "samples.png").exists()
    manifest = runfolder.read_manifest(str(proj))
    assert manifest["stage"] == "complete" and "mine.npy" not in manifest["files"]
    assert set(manifest["files"]) == {"checkpoint.npz", "metrics.json", "samples.npz", "samples.png", "loss.png",
                                      "score_field.png"}
    code, said = _train(capsys, proj, data=str(proj / "mine.npy"))
    assert code == 2 and "holds a finished run of npscore train" in said.err and "--force to replace it" in said.err
    assert _train(capsys, proj, "--force", "--seed", "1", data=str(proj / "mine.npy"))[0] == 0
    assert _untouched(mine) and json.load(open(proj / "metrics.json"))["seed"] == 1
    assert _npscore_entries(proj) == [".npscore-run.json"]                 # no lock, journal or staging left


def test_out_dot_in_a_scratch_working_directory_keeps_its_files(tmp_path, capsys, monkeypatch):
    mine = _user_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _train(capsys, ".", data="mine.npy")[0] == 0
    assert _train(capsys, ".", "--force", data="mine.npy")[0] == 0
    assert _untouched(mine) and (tmp_path / "checkpoint.npz").exists()


def test_a_symlinked_out_stays_a_link_and_its_target_gets_the_run(tmp_path, capsys):
    target = tmp_path / "target"
    mine = _user_files(target)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert _train(capsys, link)[0] == 0
    assert _train(capsys, link, "--force")[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(target) and _untouched(mine)
    assert (target / "checkpoint.npz").exists() and _npscore_entries(target) == [".npscore-run.json"]


def test_a_file_of_the_users_named_like_an_output_is_refused_even_with_force(tmp_path, capsys):
    (tmp_path / "metrics.json").write_text("mine")
    for flags in ((), ("--force",), ("--resume",)):
        code, said = _train(capsys, tmp_path, *flags)
        assert code == 2 and "holds metrics.json, which no npscore run of this folder wrote" in said.err
    assert (tmp_path / "metrics.json").read_text() == "mine" and not (tmp_path / "training.npz").exists()


@pytest.mark.parametrize("out", ["/", "/usr", "/etc/npscore-out", "/home"])
def test_system_folders_are_refused_before_any_work(out, capsys):
    code, said = _train(capsys, out)
    assert code == 2 and "is a folder of the system" in said.err
    assert not os.path.exists(os.path.join(out, runfolder.LOCK)) and not os.path.exists("/etc/npscore-out")


def test_a_failed_run_leaves_no_folder_and_no_lock(tmp_path, capsys):
    np.save(tmp_path / "few.npy", np.zeros((10, 2)))
    code, said = _train(capsys, tmp_path / "out", data=str(tmp_path / "few.npy"))
    assert code == 2 and "holds 10 rows" in said.err and not (tmp_path / "out").exists()
    code, said = _train(capsys, tmp_path, data=str(tmp_path / "few.npy"))      # an existing folder stays as it was
    assert code == 2 and sorted(os.listdir(tmp_path)) == ["few.npy"]


def test_demo_run_twice_into_one_folder_is_refused_without_force(tmp_path, capsys):
    flags = ["demo", "--out", str(tmp_path), "--steps", "50", "--samples", "100", "--no-progress"]
    assert cli.main(flags) == 0
    capsys.readouterr()
    assert cli.main(flags) == 2 and "holds a finished run of npscore demo" in capsys.readouterr().err
    assert cli.main(flags + ["--force"]) == 0


def test_a_second_command_on_the_folder_fails_at_once(tmp_path, capsys):
    with runfolder.RunFolder(str(tmp_path), ()):
        code, said = _train(capsys, tmp_path)
        assert code == 2 and "another npscore command is writing to this folder" in said.err
        data = fake_mnist(tmp_path / "mnist")
        code = cli.main(["mnist", "--out", str(tmp_path), "--data", str(data), "--steps", "10", "--no-progress"])
        assert code == 2 and "another npscore command is writing" in capsys.readouterr().err
    assert not (tmp_path / runfolder.LOCK).exists()


# ---------------------------------------------------------------- kills at named moments
def _paused(command, stage, tmp_path, sig=signal.SIGKILL):
    """Run ``command`` until it reaches the pause point ``stage``, then send it ``sig``."""
    marker = tmp_path / f"paused-{stage}"
    env = {**os.environ, "NPSCORE_PAUSE_AT": stage, "NPSCORE_PAUSE_FILE": str(marker)}
    # SIGINT back to its default in the child: a shell's background job starts with it ignored, and
    # Python then installs no KeyboardInterrupt handler
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "timed out"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc


def _train_command(out, *flags):
    return [sys.executable, "-m", "npscore", "train", "--out", str(out), "--data", "moons", *FAST, *flags]


def _seeds(out):
    """The seed of each file of the run in ``out`` that records one."""
    return {json.load(open(out / "metrics.json"))["seed"],
            json.loads(str(arrays(out / "checkpoint.npz")["config"]))["seed"]}


@pytest.mark.parametrize("stage", ["checkpoint-100", "sampling", "publish-staged", "publish-committed",
                                   "publish-moving"])
def test_sigkill_at_each_moment_of_train_leaves_one_whole_set_and_the_users_files(stage, tmp_path):
    out = tmp_path / "out"
    mine = _user_files(out)
    subprocess.run(_train_command(out), check=True, capture_output=True)
    _paused(_train_command(out, "--force", "--seed", "1"), stage, tmp_path)
    assert _untouched(mine)
    runfolder.settle(str(out))                             # what any reader of the folder does first
    seeds = _seeds(out)
    new = stage in ("publish-committed", "publish-moving")
    assert seeds == ({1} if new else {0})
    diverged = "error" in json.load(open(out / "metrics.json"))["samplers"]["langevin"]
    with np.load(out / "samples.npz") as f:                   # the samples are the metrics' run's
        assert ("langevin" not in f.files) if diverged else f["langevin"].shape == (100, 2)
    code = subprocess.run(_train_command(out, "--force", "--seed", "2"), capture_output=True).returncode
    assert code == 0 and _seeds(out) == {2} and _untouched(mine)
    assert _npscore_entries(out) == [".npscore-run.json"] and not (out / "training.npz").exists()


def test_resume_after_sigint_matches_the_uninterrupted_run_array_for_array(tmp_path):
    """Ctrl-C in training (exit 130), at a checkpoint the run cannot pass on its own, keeps that
    checkpoint; --resume ends with the same params, optimiser state, losses and samples as the run
    that was never stopped."""
    steps = ["--steps", "600"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run(_train_command(whole, *steps), check=True, capture_output=True)
    proc = _paused(_train_command(cut, *steps), "checkpoint-300", tmp_path, signal.SIGINT)
    assert proc.returncode == 130 and b"interrupted" in proc.stderr.read()
    assert not (cut / "checkpoint.npz").exists() and int(arrays(cut / "training.npz")["opt_step"]) == 300
    said = subprocess.run(_train_command(cut, *steps), capture_output=True, text=True)
    assert said.returncode == 2 and "holds an unfinished run of npscore train (training.npz)" in said.stderr
    subprocess.run(_train_command(cut, *steps, "--resume"), check=True, capture_output=True)
    for name in ("checkpoint.npz", "samples.npz"):
        a, b = arrays(whole / name), arrays(cut / name)
        assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a if k != "config"), name
    assert not (cut / "training.npz").exists()


MNIST_FAST = ["--steps", "20", "--batch-size", "4", "--hidden", "8", "--depth", "1", "--window", "0",
              "--checkpoint-every", "10", "--samples", "8", "--no-progress"]


def _mnist_command(out, data, *flags):
    return [sys.executable, "-m", "npscore", "mnist", "--out", str(out), "--data", str(data), *MNIST_FAST, *flags]


@pytest.mark.parametrize("stage", ["checkpoint-10", "sampling", "publish-committed"])
def test_sigkill_in_mnist_leaves_the_users_files_and_says_what_to_do(stage, tmp_path):
    data = fake_mnist(tmp_path / "mnist", n_train=64, n_test=64)
    out = tmp_path / "out"
    mine = _user_files(out)
    _paused(_mnist_command(out, data), stage, tmp_path)
    assert _untouched(mine)
    said = subprocess.run(_mnist_command(out, data), capture_output=True, text=True)
    assert said.returncode == 2
    trained = stage != "checkpoint-10"                      # the model is published before its sampling
    if trained:
        assert "holds a trained model, not yet sampled, of npscore mnist" in said.stderr
        assert f"npscore sample --checkpoint {out / 'checkpoint.npz'}" in said.stderr
        model = arrays(out / "checkpoint.npz")
    else:
        assert "holds an unfinished run of npscore mnist" in said.stderr
    subprocess.run(_mnist_command(out, data, "--resume"), check=True, capture_output=True)
    assert _untouched(mine) and {"samples.npz", "samples.png", "metrics.json"} <= set(os.listdir(out))
    if trained:                                             # --resume sampled the model it had, not a new one
        again = arrays(out / "checkpoint.npz")
        assert all(np.array_equal(model[k], again[k]) for k in model if k != "config")
    assert runfolder.read_manifest(str(out))["stage"] == "complete" and not (out / "training.npz").exists()


def test_sample_into_the_run_folder_keeps_the_model_and_force_replaces_only_the_samples(tmp_path, capsys):
    data = fake_mnist(tmp_path / "mnist", n_train=64, n_test=64)
    out = tmp_path / "out"
    assert cli.main(["mnist", "--out", str(out), "--data", str(data), *MNIST_FAST]) == 0
    capsys.readouterr()
    sample = ["sample", "--checkpoint", str(out / "checkpoint.npz"), "--out", str(out), "--data", str(data),
              "--samples", "8", "--no-progress", "--seed", "3"]
    assert cli.main(sample) == 2 and "--force to replace it" in capsys.readouterr().err
    model = (out / "checkpoint.npz").read_bytes()
    assert cli.main(sample + ["--force"]) == 0
    assert (out / "checkpoint.npz").read_bytes() == model and (out / "classifier.npz").exists()
