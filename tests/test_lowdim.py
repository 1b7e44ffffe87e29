"""`npscore train` (npscore/lowdim.py): every objective and sampler on low-dimensional data, data as it
comes, and the likelihood of its checkpoints (the run folder: tests/test_runfolder.py)."""
import json
import os

import numpy as np
import pytest

from conftest import arrays as _arrays, dev, host
from npscore.config import NOTES_MLP, RunConfig
from npscore import backend, lowdim, metrics
from npscore.commands import cli, likelihood_report as likelihood
from npscore.densities import GaussianMixture

THREE = dict(w=np.array([0.25, 0.35, 0.4]), means=np.array([[-3.5, 0.0], [3.5, 0.5], [0.0, 5.5]]),
             covs=np.array([[[0.6, 0.4], [0.4, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[1.0, 0.0], [0.0, 0.15]]]))


def three_modes():
    """A 3-component anisotropic 2-D mixture, modes about 7 units apart."""
    return GaussianMixture(dev(THREE["w"]), dev(THREE["means"]), dev(THREE["covs"]))


# ---------------------------------------------------------------- npscore train
def test_train_refuses_what_cannot_work(tmp_path, capsys):
    code = cli.main(["train", "--data", "swiss-roll", "--loss", "esm", "--out", str(tmp_path)])
    assert code == 2 and "--loss esm needs the data's true score" in capsys.readouterr().err
    code = cli.main(["train", "--loss", "dsm", "--sampler", "reverse-sde", "--out", str(tmp_path)])
    assert code == 2 and "--sampler reverse-sde cannot run a model trained with --loss dsm" in capsys.readouterr().err


@pytest.mark.parametrize("loss", ["ism", "sde-vp", "sde-subvp"])
def test_train_writes_figures_metrics_and_a_checkpoint_the_likelihood_reads(loss, tmp_path, capsys):
    x = host(three_modes().sample(3000, backend.rng(5)))
    np.save(tmp_path / "mine.npy", x)
    out = tmp_path / "out"
    m = lowdim.run(str(out), RunConfig(str(tmp_path / "mine.npy"), loss, steps=200), n_samples=300, floor_draws=3,
                   progress=False, log=lambda *a: None)
    assert set(m["samplers"]) == set(lowdim.samplers_for(loss))
    for name in ("samples.png", "score_field.png", "loss.png", "metrics.json", "samples.npz", "checkpoint.npz"):
        assert (out / name).stat().st_size > 0
    assert m["energy_floor"]["mean"] > 0 and m["energy_floor"]["std"] > 0 and "mode_fractions" not in \
        m["samplers"][lowdim.samplers_for(loss)[0]]
    if loss.startswith("sde-"):
        text = likelihood.report(str(out / "checkpoint.npz"), n=50, n_steps=20, n_probes=2, progress=False)
        assert "exact" in text and "hutchinson" in text and "NLL" in text
        assert 0 < m["held_out_nll"] < 10                  # a finite, sane NLL of 2-D data in nats
    else:
        with pytest.raises(ValueError, match="has no noise levels"):
            likelihood.report(str(out / "checkpoint.npz"), n=50, progress=False)


@pytest.mark.filterwarnings("error::RuntimeWarning")      # a diverging sampler is reported, not warned of
def test_a_three_mode_mixture_from_a_file_is_sampled_right(tmp_path):
    """`npscore train --data FILE.npy --arch mlp --no-standardize` (the notes' MLP, the fastest model) on a
    3-component anisotropic mixture: every sampler that starts from noise gets the mode fractions within 0.03 and the
    energy distance within 3 times the floor's mean (the full defaults: examples/own_data.py)."""
    mix = three_modes()
    np.save(tmp_path / "mixture.npy", host(mix.sample(20000, backend.rng(0))))
    m = lowdim.run(str(tmp_path / "out"), RunConfig(str(tmp_path / "mixture.npy"), "ncsn", NOTES_MLP, steps=10000,
                                                    standardize=False),
                   n_samples=2000, floor_draws=10, progress=False, log=lambda *a: None)
    with np.load(tmp_path / "out" / "samples.npz") as f:
        samples = {k: f[k] for k in f.files}
    fresh = mix.sample(2000, backend.rng(9))
    floor = m["energy_floor"]["mean"]
    assert "non-finite" in m["samplers"]["langevin"]["error"]       # diverges here (examples/README.md), said so
    for name in ("annealed_langevin", "reverse_sde", "predictor_corrector", "probability_flow"):
        x = dev(samples[name])
        fractions = np.array(metrics.mode_fractions(mix, x))
        assert np.abs(fractions - THREE["w"]).max() <= 0.03, (name, fractions)
        assert metrics.energy_distance(x, fresh) <= 3 * floor, name


# ---------------------------------------------------------------- the run folder
FAST = ["--steps", "300", "--hidden", "16", "--blocks", "1", "--fourier-features", "4", "--samples", "100",
        "--no-progress"]


def _train(capsys, out, *flags):
    code = cli.main(["train", "--out", str(out), *FAST, *flags])
    return code, capsys.readouterr()


def test_data_as_it_comes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ints.npy", np.round(2 * rng.standard_normal((400, 2))).astype("int64"))
    assert _train(capsys, tmp_path / "a", "--data", str(tmp_path / "ints.npy"), "--loss", "dsm")[0] == 0
    np.save(tmp_path / "same.npy", np.full((100, 2), 3.0))
    code, said = _train(capsys, tmp_path / "b", "--data", str(tmp_path / "same.npy"))
    assert code == 2 and "same.npy: all 80 rows are the same point; a score needs data with spread" in said.err
    np.save(tmp_path / "two.npy", rng.standard_normal((49, 2)))
    code, said = _train(capsys, tmp_path / "c", "--data", str(tmp_path / "two.npy"))
    assert code == 2 and "holds 49 rows; npscore train needs at least 50" in said.err
    assert not (tmp_path / "c" / "training.npz").exists()               # refused before any training
    far = 1e8 + 3.0 * rng.standard_normal((400, 2))
    np.save(tmp_path / "far.npy", far)
    assert _train(capsys, tmp_path / "d", "--data", str(tmp_path / "far.npy"), "--loss", "dsm")[0] == 0
    m = json.load(open(tmp_path / "d" / "metrics.json"))
    assert m["standardization"][0] == pytest.approx(list(far[np.random.default_rng(0).permutation(400)[80:]]
                                                         .mean(0)), rel=1e-12)
    with np.load(tmp_path / "d" / "samples.npz") as f:                  # written back in the data's units
        assert abs(f["langevin"].mean() - 1e8) < 100
    big = rng.standard_normal((30000, 2))
    np.save(tmp_path / "big.npy", big)
    assert _train(capsys, tmp_path / "e", "--data", str(tmp_path / "big.npy"), "--loss", "dsm")[0] == 0
    assert json.load(open(tmp_path / "e" / "metrics.json"))["held_out_points"] == 100   # the metrics subsample


def test_a_divergence_names_its_likely_cause_and_no_checkpoint_that_is_not_there(tmp_path, capsys):
    code, said = _train(capsys, tmp_path, "--data", "moons", "--lr", "1000")
    assert code == 2 and "--lr 1000 is large (the default is 0.001): lower it" in said.err
    assert "checkpoint" not in said.err and "RuntimeWarning" not in said.err
    code, said = _train(capsys, tmp_path / "s", "--data", "moons", "--sigma-max", "1e300")
    assert code == 2 and "--sigma-max 1e+300 is far above the data's scale" in said.err and "--lr" not in said.err


def test_the_likelihood_reads_a_file_run_from_anywhere_and_says_what_it_used(tmp_path, capsys, monkeypatch):
    x = host(three_modes().sample(300, backend.rng(5)))
    np.save(tmp_path / "mine.npy", x)
    monkeypatch.chdir(tmp_path)
    assert _train(capsys, "out", "--data", "mine.npy", "--loss", "ncsn", "--sampler", "reverse-sde")[0] == 0
    config = json.loads(str(_arrays(tmp_path / "out" / "checkpoint.npz")["config"]))
    assert config["data"] == str(tmp_path / "mine.npy")                 # stored absolute
    monkeypatch.chdir(tmp_path.parent)
    ckpt = str(tmp_path / "out" / "checkpoint.npz")
    text = likelihood.report(ckpt, n=1000, n_steps=10, trace="exact", progress=False)
    assert "60 held-out points (of the 1000 asked: the held-out part has no more)" in text
    np.save(tmp_path / "wide.npy", np.zeros((100, 3)))
    with pytest.raises(ValueError, match=r"wide.npy: has D = 3 columns; the model in .* was trained on D = 2"):
        likelihood.report(ckpt, data=str(tmp_path / "wide.npy"), n=10, progress=False)
    os.rename(tmp_path / "mine.npy", tmp_path / "moved.npy")
    with pytest.raises(FileNotFoundError, match=r"the data path recorded in .*checkpoint.npz; --data names the rows"):
        likelihood.report(ckpt, n=10, progress=False)


def test_samples_that_ran_away_are_reported_as_a_divergence():
    from npscore.commands import lowdim_eval
    x = backend.rng(0).normal((500, 2))
    assert lowdim_eval._ran_away(x * 3, x) is None
    far = x * 1.0
    far[:3] *= 1e6                                       # three chains of 500 went off
    said = lowdim_eval._ran_away(far, x)
    assert said.startswith("3 of 500 samples ran away: up to ") and "whose points lie within" in said
