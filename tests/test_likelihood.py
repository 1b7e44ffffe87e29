"""Log-likelihoods through the probability-flow ODE (npscore/likelihood.py) against exact log-densities."""
import numpy as np
import pytest

from conftest import dev, host
from npscore import backend, likelihood
from npscore.commands import likelihood_report
from npscore.densities import GaussianMixture
from npscore.sde import VESDE, VPSDE
from test_lowdim import three_modes



@pytest.mark.parametrize("kind", ["VE", "VP"])
def test_ode_log_density_matches_the_mixture_to_the_integrators_error(kind):
    mix = three_modes()
    x = mix.sample(400, backend.rng(0))
    sde = VESDE(0.01, 20.0) if kind == "VE" else VPSDE()

    def marginal(t):
        """p_t of the mixture: N(m mu_k, m^2 Sigma_k + s^2 I) per component."""
        m, s = (float(host(a)[0]) for a in sde.marginal(t))
        return GaussianMixture(mix.weights, m * mix.means, m * m * mix.covs + s * s * dev(np.eye(2)))

    score = lambda y, s: marginal(sde.time_of(s)).score(y)                   # noqa: E731
    trace = lambda y, s: marginal(sde.time_of(s)).score_divergence(y)[None]  # noqa: E731
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
    score = model.score_fn(p)
    exact = host(likelihood.ode_log_prob(score, likelihood.exact_trace(model, p), sde, x, 30))[0]
    hut = host(likelihood.ode_log_prob(score, likelihood.hutchinson_trace(model, p, backend.rng(2), 16),
                                       sde, x, 30))
    se = hut.std(0, ddof=1) / 4
    assert np.all(np.abs(hut.mean(0) - exact) < 5 * se + 1e-9) and se.mean() > 0
    assert likelihood.bits_per_dim(np.array([0.0]), 784)[0] == pytest.approx(8.0)


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory):
    """A tiny ncsn run on N(0, I) rows of a file: the folder and its checkpoint."""
    from npscore.commands import cli
    tmp = tmp_path_factory.mktemp("gauss")
    np.save(tmp / "g.npy", np.random.default_rng(0).standard_normal((400, 2)))
    assert cli.main(["train", "--data", str(tmp / "g.npy"), "--out", str(tmp / "out"), "--steps", "200",
                     "--samples", "100", "--hidden", "16", "--blocks", "1", "--sampler", "reverse-sde",
                     "--no-progress"]) == 0
    return tmp, str(tmp / "out" / "checkpoint.npz")


def _nll(text, kind="exact"):
    line = next(l for l in text.splitlines() if l.strip().startswith(kind))
    return float(line.split("NLL")[1].split()[0])


def test_far_data_scores_far_worse_under_the_runs_own_prior(gaussian_run):
    """The prior comes from the checkpoint: rows far from the training data are scored by the model,
    not by a Gaussian refitted to them (which would give them a moderate NLL)."""
    tmp, ckpt = gaussian_run
    np.save(tmp / "far.npy", np.random.default_rng(1).uniform(-1000, 1000, (200, 2)))
    near = _nll(likelihood_report.report(ckpt, n=100, n_steps=20, trace="exact", progress=False))
    text = likelihood_report.report(ckpt, data=str(tmp / "far.npy"), n=100, n_steps=20, trace="exact", progress=False)
    far = _nll(text)
    assert "100 rows of" in text and "prior and standardisation from the checkpoint" in text
    assert near < 10 and far > 1e4                      # a refitted prior gave about 55 nats here


def test_an_edited_data_file_changes_nothing_but_the_rows_scored(gaussian_run):
    """Scoring the same rows gives the same NLL whether the recorded file is as trained or edited:
    nothing of the run is refitted to it."""
    tmp, ckpt = gaussian_run
    path = tmp / "g.npy"
    original = np.load(path)
    held = original[np.random.default_rng(0).permutation(400)[:80]]     # the run's held-out fifth (seed 0)
    np.save(tmp / "held.npy", held)
    before = likelihood_report.report(ckpt, n=100, n_steps=20, trace="exact", progress=False)
    given = likelihood_report.report(ckpt, data=str(tmp / "held.npy"), n=100, n_steps=20, trace="exact", progress=False)
    assert _nll(before) == pytest.approx(_nll(given), rel=1e-12)
    try:
        np.save(path, 3.0 * original)                                   # the file edited after training
        after = likelihood_report.report(ckpt, n=100, n_steps=20, trace="exact", progress=False)
        assert "held-out points of the file as it is now (it has changed since training)" in after
        scaled = 3.0 * held
        np.save(tmp / "held3.npy", scaled)
        given3 = likelihood_report.report(ckpt, data=str(tmp / "held3.npy"), n=100, n_steps=20, trace="exact",
                                   progress=False)
        assert _nll(after) == pytest.approx(_nll(given3), rel=1e-12) and _nll(after) > _nll(before) + 1
    finally:
        np.save(path, original)
