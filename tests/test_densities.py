"""Closed-form scores of Gaussians and mixtures against autograd's grad of log_prob."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, rel_err
from npscore import backend, reference
from npscore.densities import Gaussian, GaussianMixture, two_modes
from strategies import random_base, seeds, spd_matrices

TOL = 1e-10


@st.composite
def gaussians(draw):
    D = draw(st.integers(1, 4))
    mean = np.random.default_rng(draw(seeds)).standard_normal(D)
    return mean, draw(spd_matrices(D))


@st.composite
def mixtures(draw):
    D = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(seeds))
    w = rng.uniform(0.2, 1.0, K)
    return w / w.sum(), 2 * rng.standard_normal((K, D)), np.stack([draw(spd_matrices(D)) for _ in range(K)])


@given(gaussians(), seeds)
def test_gaussian_score_and_log_prob(g, seed):
    mean, cov = g
    x = np.random.default_rng(seed).standard_normal((5, len(mean)))
    d = Gaussian(dev(mean), dev(cov))
    assert rel_err(d.log_prob(dev(x)), reference.gaussian_log_prob(x, mean, cov)) < TOL
    auto = reference.score_of(lambda y: reference.gaussian_log_prob(y, mean, cov))(x)
    assert rel_err(d.score(dev(x)), auto) < TOL
    assert rel_err(d.score(dev(x)), -(x - mean) @ np.linalg.inv(cov)) < TOL   # -Sigma^{-1}(x - mu)


@given(mixtures(), seeds, st.floats(0.0, 2.0))
def test_mixture_score_log_prob_and_noised(m, seed, sigma):
    w, means, covs = m
    x = np.random.default_rng(seed).standard_normal((5, means.shape[1]))
    d = GaussianMixture(dev(w), dev(means), dev(covs)).noised(sigma)
    covs_s = covs + sigma ** 2 * np.eye(means.shape[1])
    lp = lambda y: reference.mixture_log_prob(y, w, means, covs_s)   # noqa: E731
    assert rel_err(d.log_prob(dev(x)), lp(x)) < TOL
    assert rel_err(d.score(dev(x)), reference.score_of(lp)(x)) < TOL


def test_noised_density_is_the_convolution():
    """Samples of p plus sigma-noise have the noised density's moments."""
    d = two_modes((0.2, 0.8))
    r = backend.rng(0)
    y = host(d.sample(200000, r) + 0.5 * r.normal((200000, 2)))
    z = host(d.noised(0.5).sample(200000, r))
    assert np.allclose(y.mean(0), z.mean(0), atol=0.02)
    assert np.allclose(np.cov(y.T), np.cov(z.T), atol=0.03)


def test_mixture_samples_have_the_weights():
    d = two_modes((0.2, 0.8))
    comp = host(d.component(d.sample(100000, backend.rng(3))))
    assert abs(comp.mean() - 0.8) < 0.01             # 5 standard errors is 0.006


def test_bad_densities():
    with pytest.raises(ValueError, match="positive definite"):
        Gaussian(dev(np.zeros(2)), dev(np.array([[1.0, 0.0], [0.0, -1.0]])))
    with pytest.raises(ValueError, match="symmetric"):
        Gaussian(dev(np.zeros(2)), dev(np.array([[1.0, 0.5], [0.0, 1.0]])))
    with pytest.raises(ValueError, match="cov must have shape"):
        Gaussian(dev(np.zeros(2)), dev(np.eye(3)))
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture(dev(np.array([0.5, 0.6])), dev(np.zeros((2, 2))), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        two_modes().noised(-1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        two_modes().score(dev(np.zeros((3, 3))))


@given(seeds, st.integers(1, 4))
def test_factorized_mixture_noised_score_and_its_derivative(seed, D):
    from npscore.densities import FactorizedMixture
    rng = np.random.default_rng(seed)
    w, mu, v = random_base(rng, D)
    x, sigma = rng.standard_normal((4, D)), rng.uniform(0.05, 1.0, 4)
    d = FactorizedMixture(dev(w), dev(mu), dev(v))
    lp = lambda y: reference.factorized_mixture_log_prob(y, sigma, w, mu, v)   # noqa: E731
    assert rel_err(d.noised_score(dev(x), dev(sigma)), reference.score_of(lambda y: lp(y).sum())(x)) < TOL
    second = reference.score_of(lambda y: (reference.score_of(lambda z: lp(z).sum())(y)).sum())(x)
    assert rel_err(d.noised_score_dx(dev(x), dev(sigma)), second) < 1e-9


@given(seeds, st.integers(1, 4))
def test_factorized_mixture_offsets_reweight_the_components(seed, D):
    """Offsets u (one per component but the last) give the noised score of the
    mixture with weights w exp(u), renormalised; zero offsets change nothing."""
    from npscore.densities import FactorizedMixture
    rng = np.random.default_rng(seed)
    w, mu, v = random_base(rng, D)
    x, sigma = rng.standard_normal((1, D)), rng.uniform(0.05, 1.0, 1)
    u = rng.normal(0.0, 2.0, (D, 2))
    d = FactorizedMixture(dev(w), dev(mu), dev(v))
    w2 = w * np.exp(np.concatenate([u, np.zeros((D, 1))], axis=1))
    d2 = FactorizedMixture(dev(w2 / w2.sum(1, keepdims=True)), dev(mu), dev(v))
    offsets = [dev(u[None, :, k]) for k in range(2)]
    assert rel_err(d.noised_score(dev(x), dev(sigma), offsets), d2.noised_score(dev(x), dev(sigma))) < 1e-12
    assert rel_err(d.noised_score_dx(dev(x), dev(sigma), offsets), d2.noised_score_dx(dev(x), dev(sigma))) < 1e-12
    zero = [dev(np.zeros((1, D)))] * 2
    assert rel_err(d.noised_score(dev(x), dev(sigma), zero), d.noised_score(dev(x), dev(sigma))) < 1e-15
    with pytest.raises(ValueError, match="offsets must hold K - 1 = 2 arrays"):
        d.noised_score(dev(x), dev(sigma), zero[:1])


def test_factorized_mixture_sample_has_its_weights_and_moments():
    from npscore.densities import FactorizedMixture
    w = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    mu = np.array([[0.0, 1.0, 0.5], [0.0, 1.0, -2.0]])
    v = np.array([[0.0, 0.0, 0.04], [0.0, 0.0, 1.0]])
    s = host(FactorizedMixture(dev(w), dev(mu), dev(v)).sample(40000, backend.rng(0, 1)))
    assert s.shape == (40000, 2)
    assert abs((s[:, 0] == 0.0).mean() - 0.5) < 0.01 and abs((s[:, 0] == 1.0).mean() - 0.2) < 0.01
    rest = s[:, 1][(s[:, 1] != 0.0) & (s[:, 1] != 1.0)]
    assert abs(rest.size / 40000 - 0.8) < 0.01
    assert abs(rest.mean() + 2.0) < 0.03 and abs(rest.var() - 1.0) < 0.05


def test_fit_atoms_finds_the_atoms():
    from npscore.densities import FactorizedMixture
    x = np.zeros((1000, 2))
    x[:300, 0] = 1.0
    x[300:600, 0] = np.linspace(0.1, 0.9, 300)
    d = FactorizedMixture.fit_atoms(dev(x))
    w = host(d.weights)
    assert np.allclose(w[0], [0.4, 0.3, 0.3], atol=1e-3)
    assert w[1, 0] > 0.99                               # dimension 1 is always 0
    assert abs(host(d.means)[0, 2] - 0.5) < 1e-9


def test_fit_atoms_with_bins_fits_a_gaussian_per_interval():
    from npscore.densities import FactorizedMixture
    x = np.zeros((1000, 2))
    x[:200, 0] = 1.0
    x[200:500, 0] = 0.2                                  # all in the first third
    x[500:600, 0] = np.linspace(0.7, 0.9, 100)          # the last third; the middle one is empty
    d = FactorizedMixture.fit_atoms(dev(x), bins=3)
    w, m, v = host(d.weights), host(d.means), host(d.variances)
    assert w.shape == (2, 5)
    assert np.allclose(w[0], [0.4, 0.2, 0.3, 0.0, 0.1], atol=1e-5)
    assert np.allclose(m[0, 2:], [0.2, 0.5, 0.8])       # the empty middle third: its centre
    assert v[0, 2] == 1e-4 and abs(v[0, 3] - (1 / 3) ** 2 / 12) < 1e-12   # floored; uniform over the third
    assert abs(v[0, 4] - np.var(np.linspace(0.7, 0.9, 100), ddof=1)) < 1e-12
    with pytest.raises(ValueError, match="bins must be an int >= 1"):
        FactorizedMixture.fit_atoms(dev(x), bins=0)
