"""Your own data: the data sets, the schedules from the data, `npscore train`, and the
probability-flow likelihood against exact log-densities."""
import math

import numpy as np
import pytest

from conftest import dev, host
from npscore.config import NOTES_MLP, RunConfig
from npscore import backend, cli, likelihood, lowdim, schedules, toys
from npscore.densities import GaussianMixture
from npscore.sde import VESDE, VPSDE

THREE = dict(w=np.array([0.25, 0.35, 0.4]), means=np.array([[-3.5, 0.0], [3.5, 0.5], [0.0, 5.5]]),
             covs=np.array([[[0.6, 0.4], [0.4, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[1.0, 0.0], [0.0, 0.15]]]))


def three_modes():
    """A 3-component anisotropic 2-D mixture, modes about 7 units apart."""
    return GaussianMixture(dev(THREE["w"]), dev(THREE["means"]), dev(THREE["covs"]))


# ---------------------------------------------------------------- data sets
@pytest.mark.parametrize("name", sorted(toys.DATASETS))
def test_every_builtin_set_is_seeded_and_finite(name):
    a, mix = toys.load(name, 500, seed=3)
    b, _ = toys.load(name, 500, seed=3)
    c, _ = toys.load(name, 500, seed=4)
    assert a.shape == (500, 2) and np.isfinite(host(a)).all()
    assert np.array_equal(host(a), host(b)) and not np.array_equal(host(a), host(c))
    assert (mix is not None) == (name in ("two-modes", "two-modes-equal", "eight-gaussians"))


def test_files_npy_and_csv(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 3))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b,c", comments="")
    for f in ("x.npy", "x.csv"):
        assert np.allclose(host(toys.load(str(tmp_path / f), 0)[0]), x)
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    with pytest.raises(ValueError, match="bad.csv: not readable as"):
        toys.read_file(str(tmp_path / "bad.csv"))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        toys.read_file(str(tmp_path / "nan.npy"))
    with pytest.raises(FileNotFoundError, match="--data takes a built-in name"):
        toys.load(str(tmp_path / "missing.npy"), 10)


# ---------------------------------------------------------------- schedules
def test_ratio_solves_technique_2_and_is_capped_in_low_dimension():
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))                    # noqa: E731
    for D in (100, 784, 3072):
        g, c = schedules.ratio(D), math.sqrt(2 * D)
        assert phi(c * (g - 1) + 3 * g) - phi(c * (g - 1) - 3 * g) == pytest.approx(0.5, abs=1e-9)
    assert schedules.ratio(2) == schedules.MAX_RATIO
    assert 1.03 < schedules.ratio(3072) < 1.045                                # NCSNv2's CIFAR-10: ~1.04


def test_sigma_max_min_and_step_scale():
    x = dev(np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))
    assert schedules.sigma_max(x) == pytest.approx(5.0)
    assert schedules.sigma_min(x) == pytest.approx(0.5 * np.median([1.0, 2.0 ** 0.5 * 2.5, 1.0, 2.0]) / 2 ** 0.5,
                                                   rel=0.3)
    g, T, sl = 1.1, 5, 0.01
    eps = schedules.step_scale(g, T, sl)
    f = lambda a: (1 - a) ** (2 * T) * (g * g - 2 / (2 - a)) + 2 / (2 - a)   # noqa: E731
    a = eps / sl ** 2
    assert all(abs(f(a) - 1) <= abs(f(b) - 1) for b in (a * 0.9, a * 1.1))
    s = schedules.from_data(dev(np.random.default_rng(0).standard_normal((300, 2))), sigma_1=2.0, sigma_l=0.01)
    assert s.sigmas[0] == 2.0 and s.sigmas[-1] == pytest.approx(0.01) and s.ratio <= schedules.MAX_RATIO
    with pytest.raises(ValueError, match="sigma_min must be below"):
        schedules.from_data(dev(np.ones((3, 2)) * np.arange(3)[:, None]), sigma_1=0.1, sigma_l=0.5)


# ---------------------------------------------------------------- likelihood
@pytest.mark.parametrize("kind", ["VE", "VP"])
def test_ode_log_density_matches_the_mixture_to_the_integrators_error(kind):
    mix = three_modes()
    x = mix.sample(400, backend.rng(0))
    sde = VESDE(0.01, 20.0) if kind == "VE" else VPSDE()

    def marginal(t):
        """p_t of the mixture: N(m mu_k, m^2 Sigma_k + s^2 I) per component."""
        m, s = (float(host(a)[0]) for a in sde.marginal(t))
        return GaussianMixture(mix.weights, m * mix.means, m * m * mix.covs + s * s * dev(np.eye(2)))

    score = lambda y, t: marginal(t).score(y)                                # noqa: E731
    trace = lambda y, t: marginal(t).score_divergence(y)[None]               # noqa: E731
    end = lambda y: marginal(dev(np.array([1.0]))).log_prob(y)               # noqa: E731
    truth = host(marginal(dev(np.array([1e-3]))).log_prob(x))
    errors = [np.abs(host(likelihood.ode_log_prob(score, trace, sde, x, n, prior=end))[0] - truth).mean()
              for n in (50, 200)]
    assert errors[1] < 0.01 and errors[1] < errors[0] / 3                   # second order: 1/16 per 4x steps


def test_hutchinson_agrees_with_the_exact_trace_within_its_error(tmp_path):
    from npscore import NoiseConditionalMLP
    model = NoiseConditionalMLP([2, 16, 16, 2], scale_input=True)
    p = model.init(0)
    sde = VESDE(0.01, 5.0)
    x = backend.rng(1).normal((64, 2))
    score = lambda y, t: model.score_fn(p)(y, sde.marginal(t)[1])            # noqa: E731
    exact = host(likelihood.ode_log_prob(score, likelihood.exact_trace(model, p, sde), sde, x, 30))[0]
    hut = host(likelihood.ode_log_prob(score, likelihood.hutchinson_trace(model, p, sde, backend.rng(2), 16),
                                       sde, x, 30))
    se = hut.std(0, ddof=1) / 4
    assert np.all(np.abs(hut.mean(0) - exact) < 5 * se + 1e-9) and se.mean() > 0
    assert likelihood.bits_per_dim(np.array([0.0]), 784)[0] == pytest.approx(8.0)


# ---------------------------------------------------------------- npscore train
def test_train_refuses_what_cannot_work(tmp_path, capsys):
    code = cli.main(["train", "--data", "swiss-roll", "--loss", "esm", "--out", str(tmp_path)])
    assert code == 2 and "--loss esm needs the data's true score" in capsys.readouterr().err
    code = cli.main(["train", "--loss", "dsm", "--sampler", "reverse-sde", "--out", str(tmp_path)])
    assert code == 2 and "--sampler reverse-sde cannot run a model trained with --loss dsm" in capsys.readouterr().err


@pytest.mark.parametrize("loss", ["ism", "sde-vp"])
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
    if loss == "sde-vp":
        text = likelihood.report(str(out / "checkpoint.npz"), n=50, n_steps=20, n_probes=2, progress=False)
        assert "exact" in text and "hutchinson" in text and "NLL" in text
    else:
        with pytest.raises(ValueError, match="has no noise levels"):
            likelihood.report(str(out / "checkpoint.npz"), n=50, progress=False)


@pytest.mark.filterwarnings("error::RuntimeWarning")      # a diverging sampler is reported, not warned of
def test_a_three_mode_mixture_from_a_file_is_sampled_right(tmp_path):
    """`npscore train --data FILE.npy --arch mlp` (the notes' MLP, the fastest model) on a
    3-component anisotropic mixture: every sampler that starts from noise gets the mode fractions within 0.03 and the
    energy distance within 3 times the floor's mean (the full defaults: examples/own_data.py)."""
    mix = three_modes()
    np.save(tmp_path / "mixture.npy", host(mix.sample(20000, backend.rng(0))))
    m = lowdim.run(str(tmp_path / "out"), RunConfig(str(tmp_path / "mixture.npy"), "ncsn", NOTES_MLP, steps=10000),
                   n_samples=2000, floor_draws=10, progress=False, log=lambda *a: None)
    with np.load(tmp_path / "out" / "samples.npz") as f:
        samples = {k: f[k] for k in f.files}
    fresh = mix.sample(2000, backend.rng(9))
    floor = m["energy_floor"]["mean"]
    assert "non-finite" in m["samplers"]["langevin"]["error"]       # diverges here (examples/README.md), said so
    for name in ("annealed_langevin", "reverse_sde", "predictor_corrector", "probability_flow"):
        x = dev(samples[name])
        fractions = np.array(lowdim.metrics.mode_fractions(mix, x))
        assert np.abs(fractions - THREE["w"]).max() <= 0.03, (name, fractions)
        assert lowdim.metrics.energy_distance(x, fresh) <= 3 * floor, name
