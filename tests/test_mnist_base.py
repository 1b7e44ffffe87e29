"""The MNIST base densities: the per-pixel mixture's noised score, sampling and fitting."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, rel_err
from npscore import backend, reference
from npscore.mnist.base import FactorizedMixture
from strategies import random_base, seeds

TOL = 1e-10


@given(seeds, st.integers(1, 4))
def test_factorized_mixture_noised_score_and_its_derivative(seed, D):
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
    x = np.zeros((1000, 2))
    x[:300, 0] = 1.0
    x[300:600, 0] = np.linspace(0.1, 0.9, 300)
    d = FactorizedMixture.fit_atoms(dev(x))
    w = host(d.weights)
    assert np.allclose(w[0], [0.4, 0.3, 0.3], atol=1e-3)
    assert w[1, 0] > 0.99                               # dimension 1 is always 0
    assert abs(host(d.means)[0, 2] - 0.5) < 1e-9


def test_fit_atoms_with_bins_fits_a_gaussian_per_interval():
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
