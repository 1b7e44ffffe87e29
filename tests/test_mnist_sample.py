"""npscore.mnist.sample: annealed Langevin's default step and the reverse-SDE path."""
import json

import numpy as np
import pytest

from conftest import host
from npscore import backend, schedules
from npscore.mnist import classifier, run, sample as msample
from npscore.sampling import annealed_langevin
from mnist_fakes import train_small, fake_mnist


def test_annealed_langevin_defaults_to_a_fraction_of_technique_4(tmp_path):
    """Without ``step_scale`` the MNIST sampler runs ``STEP_FRACTION`` times technique 4's step,
    and metrics.json records the step it ran."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = train_small(tmp_path / "a", data)
    sigmas, d = config["sigmas"], run.load_data(str(data))
    clf = classifier.train_classifier(d["x_train"], d["y_train"], steps=5, progress=False)
    run.sample_and_evaluate(model, params, sigmas, str(tmp_path / "out"), d, clf, n=8,
                            sampler="annealed-langevin", n_steps_each=2, log=lambda *a: None)
    eps = msample.STEP_FRACTION * schedules.step_scale(sigmas[0] / sigmas[1], 2, sigmas[-1])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["step_scale"] == pytest.approx(eps)
    rng = backend.rng(0, 7)
    x0 = sigmas[0] * rng.normal((8, 784), "float32")
    expect = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=eps, n_steps_each=2)
    with np.load(tmp_path / "out" / "samples.npz", allow_pickle=False) as f:
        assert np.array_equal(f["images"], np.clip(host(expect), 0.0, 1.0))


def test_reverse_sde_sampler(tmp_path):
    """The reverse-SDE path: the same seed gives the same images, another seed others."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = train_small(tmp_path / "a", data)
    sig = config["sigmas"]
    a = run.sample(model, params, sig, 6, 0, sampler="reverse-sde")
    b = run.sample(model, params, sig, 6, 0, sampler="reverse-sde")
    assert a.shape == (6, 784) and np.array_equal(host(a), host(b))
    assert not np.array_equal(host(a), host(run.sample(model, params, sig, 6, 1, sampler="reverse-sde")))
    with pytest.raises(ValueError, match=r"sampler must be one of"):
        run.sample(model, params, sig, 6, 0, sampler="ddpm")


def test_a_model_that_sees_few_images_at_once_samples_them_in_chunks(tmp_path):
    """With ``sample_batch`` k, chunk j is the sampler run alone on rows jk..(j+1)k of the prior draw,
    with its own stream; the last chunk may be short."""
    data = fake_mnist(tmp_path / "data")
    model, params, _, _, config = train_small(tmp_path / "a", data)
    sig = config["sigmas"]
    model.sample_batch = 4
    got = host(run.sample(model, params, sig, 10, 3, sampler="reverse-sde"))
    x1 = sig[0] * backend.rng(3, 7).normal((10, 784), "float32")
    want = [host(msample._run(model, params, sig, "reverse-sde", x1[k:k + 4], backend.rng(3, 1000 + k // 4),
                              10, None, False, msample.SDE_STEPS)) for k in (0, 4, 8)]
    assert got.shape == (10, 784) and np.array_equal(got, np.concatenate(want))
    model.sample_batch = None
    assert not np.array_equal(got, host(run.sample(model, params, sig, 10, 3, sampler="reverse-sde")))
