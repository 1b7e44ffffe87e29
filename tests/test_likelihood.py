"""Log-likelihoods through the probability-flow ODE (npscore/likelihood.py) against exact log-densities."""
import numpy as np
import pytest

from conftest import dev, host
from npscore import backend, likelihood
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
