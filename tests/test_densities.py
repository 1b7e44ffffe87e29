"""Closed-form scores of Gaussians and mixtures against autograd's grad of log_prob."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, rel_err
from npscore import backend, reference
from npscore.densities import Gaussian, GaussianMixture, score_under, two_modes
from strategies import seeds, spd_matrices

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
    """Every check names its argument first."""
    z2, e2 = dev(np.zeros(2)), dev(np.eye(2))
    cases = [
        (lambda: Gaussian(z2, dev(np.array([[1.0, 0.0], [0.0, -1.0]]))), "^cov must be positive definite$"),
        (lambda: Gaussian(z2, dev(np.array([[1.0, 0.5], [0.0, 1.0]]))), "^cov must be symmetric$"),
        (lambda: Gaussian(z2, dev(np.eye(3))), r"^cov must have shape \(2, 2\); got \(3, 3\)$"),
        (lambda: Gaussian(dev(np.zeros((1, 2))), e2), r"^mean must have shape \(D,\); got \(1, 2\)$"),
        (lambda: Gaussian(dev(np.array([np.nan, 0.0])), e2), "^mean must be finite"),
        (lambda: GaussianMixture(dev(np.array([0.5, 0.6])), dev(np.zeros((2, 2))), 1.0),
         "^weights must be positive and sum to 1$"),
        (lambda: GaussianMixture(dev(np.array([1.0])), dev(np.zeros((2, 2))), 1.0),
         r"^weights must have shape \(2,\); got \(1,\)$"),
        (lambda: GaussianMixture(dev(np.array([np.nan, 0.5])), dev(np.zeros((2, 2))), 1.0), "^weights must be finite"),
        (lambda: GaussianMixture(dev(np.array([1.0])), dev(np.zeros(2)), 1.0),
         r"^means must have shape \(K, D\); got \(2,\)$"),
        (lambda: GaussianMixture(dev(np.array([1.0])), dev(np.array([[np.inf, 0.0]])), 1.0), "^means must be finite"),
        (lambda: GaussianMixture(dev(np.array([1.0])), dev(np.zeros((1, 2))), dev(np.ones((1, 3, 3)))),
         r"^covs must have shape \(1, 2, 2\), \(1,\) or be a scalar; got \(1, 3, 3\)$"),
        (lambda: GaussianMixture(dev(np.array([0.5, 0.5])), dev(np.zeros((2, 2))), dev(np.ones((2, 2)))),
         r"^covs must have shape \(2, 2, 2\), \(2,\) or be a scalar; got \(2, 2\)$"),
        (lambda: GaussianMixture(dev(np.array([1.0])), dev(np.zeros((1, 2))), dev(np.array([np.nan]))),
         "^covs must be finite"),
        (lambda: GaussianMixture(dev(np.array([0.0, 1.0])), dev(np.zeros((2, 2))), 1.0),
         "^weights must be positive and sum to 1$"),
        (lambda: Gaussian(z2, dev(np.array([[np.nan, 0.0], [0.0, 1.0]]))), "^cov must be finite"),
        (lambda: two_modes().score(dev(np.zeros((3, 3)))), r"^x must have shape \(B, 2\)"),
    ]
    g = Gaussian(z2, e2)
    for method in (g.score, g.log_prob, two_modes().log_prob):
        cases.append((lambda m=method: m(dev(np.zeros((3, 3)))), r"^x must have shape \(B, 2\)"))
    for call, says in cases:
        with pytest.raises(ValueError, match=says):
            call()


def test_noised_adds_sigma_squared_to_every_covariance():
    g = Gaussian(dev(np.array([1.0, 0.0])), dev(np.array([[1.0, 0.2], [0.2, 0.5]])))
    assert np.allclose(host(g.noised(0.3).cov), host(g.cov) + 0.09 * np.eye(2), rtol=0, atol=1e-15)
    m = two_modes((0.3, 0.7))
    assert np.allclose(host(m.noised(0.5).covs), host(m.covs) + 0.25 * np.eye(2), rtol=0, atol=1e-15)


def test_three_component_mixture_samples_with_its_weights_means_and_covariances():
    w = np.array([0.2, 0.5, 0.3])
    means = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, -1.0]])
    covs = np.array([[[0.5, 0.1], [0.1, 0.3]], [[0.2, 0.0], [0.0, 0.8]], [[0.4, -0.2], [-0.2, 0.4]]])
    mix = GaussianMixture(dev(w), dev(means), dev(covs))
    x = mix.sample(60000, backend.rng(3))
    k = host(mix.component(x))
    xh = host(x)
    for j in range(3):
        assert abs((k == j).mean() - w[j]) < 0.01
        assert np.allclose(xh[k == j].mean(0), means[j], atol=0.03)
        assert np.allclose(np.cov(xh[k == j].T), covs[j], atol=0.03)
    assert mix.sample(5, backend.rng(0)).dtype == np.float64
    m32 = GaussianMixture(dev(w.astype("float32")), dev(means.astype("float32")), dev(covs.astype("float32")))
    assert m32.sample(5, backend.rng(0)).dtype == np.float32


def test_gaussian_fit_is_the_sample_mean_and_unbiased_covariance_plus_jitter():
    x = np.random.default_rng(4).standard_normal((50, 3))
    g = Gaussian.fit(dev(x), jitter=0.25)
    assert np.allclose(host(g.mean), x.mean(0)) and np.allclose(host(g.cov), np.cov(x.T) + 0.25 * np.eye(3))
    assert np.allclose(host(Gaussian.fit(dev(x)).cov), np.cov(x.T), rtol=1e-12, atol=0)     # default: no jitter


def test_entropy_is_half_log_det_of_2_pi_e_sigma():
    cov = np.array([[2.0, 0.3], [0.3, 0.5]])
    g = Gaussian(dev(np.array([1.0, -2.0])), dev(cov))
    assert g.entropy() == pytest.approx(0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov)), rel=1e-12)
    x = g.sample(200000, backend.rng(0))
    assert g.entropy() == pytest.approx(-float(host(g.log_prob(x)).mean()), abs=0.01)       # -E log p


def test_sample_is_the_mean_plus_the_cholesky_factor_times_the_draws():
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    g = Gaussian(dev(np.array([3.0, -1.0])), dev(cov))
    z = host(backend.rng(4).normal((6, 2)))
    assert np.allclose(host(g.sample(6, backend.rng(4))), np.array([3.0, -1.0]) + z @ np.linalg.cholesky(cov).T)


def test_float32_densities_stay_float32():
    f = "float32"
    g = Gaussian(dev(np.zeros(2, f)), dev(np.eye(2, dtype=f)))
    x = g.sample(4, backend.rng(0))
    mix = two_modes(dtype=f)
    for a in (x, g.noised(0.5).cov, g.score_divergence(x), mix.noised(0.5).covs, mix.means, mix.weights,
              mix.covs, mix.sample(4, backend.rng(0)), g.chol, g.precision, g.score(x), g.log_prob(x)):
        assert a.dtype == np.float32
    g64 = Gaussian(dev(np.zeros(2)), dev(np.eye(2)))
    assert g64.score_divergence(x).dtype == np.float32                 # in the dtype of x


def test_two_modes_is_the_notes_mixture():
    mix = two_modes((0.2, 0.8))
    assert np.array_equal(host(mix.means), [[-1.0, -1.0], [1.0, 1.0]])
    assert np.array_equal(host(mix.weights), [0.2, 0.8])
    assert np.allclose(host(mix.covs), 0.0625 * np.eye(2)[None])


def test_far_points_keep_finite_log_densities_and_responsibilities():
    """The log-sum-exp is taken per point: one far point must not underflow the others."""
    mix = two_modes()
    x = dev(np.array([[-1.0, -1.0], [60.0, 60.0]]))              # log p about -1 and about -6e4
    lp = host(mix.log_prob(x))
    r = host(mix.responsibilities(x))
    d2 = ((np.array([[60.0, 60.0]]) - np.array([[1.0, 1.0]])) ** 2).sum()
    assert lp[1] == pytest.approx(np.log(0.5) - np.log(2 * np.pi * 0.0625) - d2 / (2 * 0.0625), rel=1e-12)
    assert np.isfinite(lp[0]) and np.allclose(r, [[1.0, 0.0], [0.0, 1.0]])


def test_density_errors_name_their_argument():
    g = Gaussian(dev(np.zeros(2)), dev(np.eye(2)))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, D\)"):
        Gaussian.fit(dev(np.zeros(3)))
    with pytest.raises(ValueError, match="^n must be"):
        g.sample(0, backend.rng(0))
    for density in (g, two_modes()):
        with pytest.raises(ValueError, match="^sigma must be"):
            density.noised(-1.0)


def test_noised_empirical_score_is_autograds_and_its_draws_have_its_spread():
    from npscore import reference
    from npscore.densities import NoisedEmpirical
    rng = np.random.default_rng(0)
    pts, y, s = rng.standard_normal((7, 2)), rng.standard_normal((5, 2)), 0.4
    law = NoisedEmpirical(dev(pts), s)
    want = reference.score_of(lambda x: reference.mixture_log_prob(x, np.full(7, 1 / 7), pts,
                                                                   [s * s * np.eye(2)] * 7))(y)
    assert np.allclose(host(law.score(dev(y), chunk=2)), want, rtol=1e-10, atol=1e-12)
    draws = host(law.sample(40000, backend.rng(1)))
    assert abs(draws.var(0).mean() - (pts.var(0).mean() + s * s)) < 0.05
    with pytest.raises(ValueError, match=r"^sigma must be a positive finite number; got 0$"):
        NoisedEmpirical(dev(pts), 0)


@pytest.mark.parametrize("name", ["vp", "subvp", "ve"])
def test_score_under_an_sde_is_autograds_score_of_the_noised_mixture(name):
    """score_under(data, sde)(x, sigma_t) is grad log of the law of m_t x_0 + s_t eps, with (m_t, s_t)
    written out here from each SDE's formulas (VE: the transition's sqrt(sigma(t)^2 - sigma_min^2))."""
    from npscore.sde import SDES
    sde = SDES[name]([3.0, 0.01])
    data = two_modes((0.3, 0.7))
    w, mu, cov = (backend.to_numpy(a) for a in (data.weights, data.means, data.covs))
    x = host(data.sample(50, backend.rng(0))) * 1.5
    for t in (0.05, 0.4, 0.9):
        log_a = -(0.1 * t + 0.5 * (20.0 - 0.1) * t * t)
        m, s = {"vp": (np.exp(log_a / 2), np.sqrt(1 - np.exp(log_a))),
                "subvp": (np.exp(log_a / 2), 1 - np.exp(log_a)),
                "ve": (1.0, np.sqrt((0.01 * 300.0 ** t) ** 2 - 0.01 ** 2))}[name]
        want = reference.score_of(lambda y: reference.mixture_log_prob(y, w, m * mu, m * m * cov + s * s * np.eye(2)))(x)
        sigma = sde.sigma_of(dev(np.full(50, t)))
        got = host(score_under(data, sde)(dev(x), sigma))
        assert rel_err(got, want) < 1e-8, (name, t)
