"""The forward SDEs (npscore/sde.py): marginals, priors, the reverse drift's 1/2 switch, arguments."""
import math

import numpy as np
import pytest

from conftest import dev, host
from npscore import backend
from npscore.densities import Gaussian
from npscore.sde import SubVPSDE, VESDE, VPSDE


def test_the_vp_std_is_exact_at_small_t():
    """sigma_t = sqrt(1 - alpha_t) from the exponent itself: at t = 1e-5 it agrees with the
    series to 1e-15 (rounding alpha_t first cost 2.4e-11)."""
    sde, t = VPSDE(), 1e-5
    y = sde.beta_min * t + 0.5 * (sde.beta_max - sde.beta_min) * t * t
    exact = math.sqrt(y - y * y / 2 + y ** 3 / 6)
    got = float(host(sde.marginal(backend.xp().asarray([t]))[1])[0])
    assert abs(got / exact - 1) < 1e-15
    old = math.sqrt(-math.expm1(math.log(math.exp(-y))))
    assert abs(old / exact - 1) > 1e-12                  # the rounding this avoids


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(0.01, 3.0)], ids=["VP", "VE"])
def test_reverse_drift_is_f_minus_c_g2_score(sde):
    x = backend.rng(0).normal((4, 3), "float64")
    t = backend.xp().asarray([0.2, 0.4, 0.6, 0.9])
    score = lambda y, sigma: -2.0 * y * (sigma == sde.sigma_of(t))[:, None]   # noqa: E731
    g2 = host(sde.diffusion(t)) ** 2
    f = host(sde.drift(x, t))
    assert np.allclose(host(sde.reverse_drift(score)(x, t)), f + 2.0 * g2[:, None] * host(x), rtol=1e-14)
    assert np.allclose(host(sde.reverse_drift(score, probability_flow=True)(x, t)), f + g2[:, None] * host(x),
                       rtol=1e-14)


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(0.01, 3.0)], ids=["VP", "VE"])
def test_div_drift_and_prior_log_prob_are_their_closed_forms(sde):
    D, t = 3, backend.xp().asarray([0.1, 0.7])
    x = backend.rng(1).normal((2, D), "float64")
    h = 1e-6
    fd = sum((host(sde.drift(x + h * e, t)) - host(sde.drift(x - h * e, t)))[:, i] / (2 * h)
             for i, e in enumerate(dev(np.eye(D))))
    assert np.allclose(host(sde.div_drift(t, D)), fd, atol=1e-8)
    s = sde.prior_std()
    prior = Gaussian(backend.xp().zeros(D), s ** 2 * backend.xp().eye(D))
    assert np.allclose(host(sde.prior_log_prob(x)), host(prior.log_prob(x)), rtol=1e-13)
    assert host(sde.prior_sample((20000, D), backend.rng(2))).std() == pytest.approx(s, rel=0.02)


def test_prior_fit_matches_the_data_for_ve_and_is_the_prior_for_vp():
    x = 3.0 + 0.5 * backend.rng(3).normal((5000, 2), "float64")
    ve = VESDE(0.01, 2.0).prior_fit(x)
    assert np.allclose(host(ve.mean), 3.0, atol=0.05) and np.allclose(host(ve.cov), np.eye(2) * 4.25, atol=0.05)
    vp = VPSDE().prior_fit(x)
    assert np.array_equal(host(vp.mean), np.zeros(2)) and np.array_equal(host(vp.cov), np.eye(2))



def test_sde_marginals_and_priors_against_their_closed_forms():
    t = np.array([0.0, 0.3, 0.7, 1.0])
    sde = VESDE(0.01, 5.0)
    m, s = sde.marginal(dev(t))
    assert np.allclose(host(m), 1.0) and np.allclose(host(s), 0.01 * 500.0 ** t, rtol=1e-12)
    vp = VPSDE(0.2, 15.0)
    alpha = np.exp(-(0.2 * t + 0.5 * 14.8 * t ** 2))           # exp(-int_0^t beta)
    assert np.allclose(host(vp.alpha(dev(t))), alpha, rtol=1e-12)
    m, s = vp.marginal(dev(t))
    assert np.allclose(host(m), np.sqrt(alpha), rtol=1e-12) and np.allclose(host(s), np.sqrt(1 - alpha), rtol=1e-12)
    assert np.allclose(host(vp.drift(dev(np.ones((4, 2))), dev(t))), -0.5 * (0.2 + 14.8 * t)[:, None])
    assert np.allclose(host(sde.diffusion(dev(t))) ** 2,                # g^2 = d sigma^2 / dt
                       2 * np.log(500.0) * (0.01 * 500.0 ** t) ** 2, rtol=1e-12)
    for s_, std in ((vp, 1.0), (sde, 5.0)):
        x = host(s_.prior_sample((40000, 2), backend.rng(4)))
        assert abs(x.mean()) < 0.02 * std and abs(x.std() - std) < 0.02 * std


def test_sde_arguments_and_prior_dtypes():
    for make, says in ((lambda: VPSDE(beta_min=0.0), "beta_min must be a positive finite number; got 0.0"),
                       (lambda: VPSDE(1.0, 0.5), "beta_max must exceed beta_min = 1.0; got 0.5"),
                       (lambda: VPSDE(1.0, 1.0), "beta_max must exceed beta_min"),
                       (lambda: VESDE(0.5, 0.5), "sigma_max must exceed sigma_min"),
                       (lambda: VPSDE(beta_max=-1.0), "beta_max must be a positive finite number"),
                       (lambda: VESDE(sigma_min=-1.0), "sigma_min must be a positive finite number"),
                       (lambda: VESDE(0.5, 0.1), "sigma_max must exceed sigma_min = 0.5; got 0.1"),
                       (lambda: VESDE(sigma_max=float("inf")), "sigma_max must be a positive finite number")):
        with pytest.raises(ValueError, match=says):
            make()
    for sde in (VPSDE(), VESDE()):
        assert sde.prior_sample((3, 2), backend.rng(0), "float32").dtype == np.float32
        assert sde.prior_sample((3, 2), backend.rng(0)).dtype == np.float64
    assert (VPSDE().beta_min, VPSDE().beta_max, VESDE().sigma_min, VESDE().sigma_max) == (0.1, 20.0, 0.01, 3.0)


def test_sde_times_keep_their_dtype_and_take_lists():
    for sde in (VPSDE(), VESDE()):
        m, s = sde.marginal(dev(np.array([0.2, 0.9], dtype=np.float32)))
        assert m.dtype == np.float32 and s.dtype == np.float32
        m, s = sde.marginal([0.2, 0.9])
        assert s.dtype == np.float64 and s.shape == (2,)


def test_sde_times_outside_0_1_are_refused():
    for sde in (VPSDE(), VESDE()):
        with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]; got values from 0.5 to 1.5"):
            sde.marginal([0.5, 1.5])
        with pytest.raises(ValueError, match=r"got values from -0.1 to 0.3"):
            sde.marginal(np.array([-0.1, 0.3]))


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE(0.01, 3.0)], ids=["VP", "subVP", "VE"])
def test_the_marginal_solves_the_sdes_moment_equations(sde):
    """For dx = -1/2 beta x dt + g dW (VE: f = 0) the transition's mean coefficient and variance obey
    dm/dt = m * div f / D and d(sigma^2)/dt = 2 sigma^2 div f / D + g^2: a wrong g(t) or marginal fails."""
    t, h = np.linspace(0.05, 0.95, 7), 1e-6
    m, s = (host(a) for a in sde.marginal(dev(t)))
    mp, sp = (host(a) for a in sde.marginal(dev(t + h)))
    mm, sm = (host(a) for a in sde.marginal(dev(t - h)))
    rate = host(sde.div_drift(dev(t), 1))                         # -beta / 2 (VP, sub-VP) or 0 (VE)
    g2 = host(sde.diffusion(dev(t))) ** 2
    assert np.allclose((mp - mm) / (2 * h), rate * m, rtol=1e-6, atol=1e-8)
    assert np.allclose((sp ** 2 - sm ** 2) / (2 * h), 2 * rate * s ** 2 + g2, rtol=1e-5)


def test_the_sub_vp_sde_is_below_the_vp_sde_and_shares_its_mean_and_prior():
    t = dev(np.linspace(0.01, 1.0, 9))
    (m_sub, s_sub), (m_vp, s_vp) = SubVPSDE().marginal(t), VPSDE().marginal(t)
    assert np.array_equal(host(m_sub), host(m_vp)) and (host(s_sub) <= host(s_vp)).all()
    assert SubVPSDE().prior_std() == 1.0 and abs(float(host(s_sub)[-1]) - 1.0) < 1e-4
    from npscore.sde import SDE
    with pytest.raises(TypeError, match="abstract"):           # the contract: an SDE without its maths
        type("Half", (SDE,), {"drift": lambda self, x, t: x})()


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE(0.01, 3.0)], ids=["VP", "subVP", "VE"])
def test_time_of_inverts_the_marginal_std(sde):
    """``time_of(sigma_t) = t`` over [0, 1] (the exact scores of the proofs read t back from sigma)."""
    t = backend.xp().asarray([1e-3, 0.1, 0.37, 0.8, 1.0])
    assert np.allclose(host(sde.time_of(sde.sigma_of(t))), host(t), rtol=1e-9, atol=1e-12)
    assert np.array_equal(host(sde.sigma_of(t)), host(sde.marginal(t)[1]))
