"""Samplers on Gaussian targets with known answers, and the demo's smoke run."""
import json
import os

import numpy as np
import pytest

from conftest import dev, host
from npscore import backend
from npscore.densities import Gaussian, two_modes
from npscore.sampling import (annealed_langevin, langevin, predictor_corrector, probability_flow,
                              reverse_sde)
from npscore.sde import VESDE, VPSDE

MU = np.array([1.0, -2.0])
COV = np.array([[0.5, 0.2], [0.2, 0.3]])
N = 20000


def _moments_ok(x, mean, cov, mtol, ctol):
    x = host(x)
    assert np.allclose(x.mean(0), mean, atol=mtol), x.mean(0)
    assert np.allclose(np.cov(x.T), cov, atol=ctol), np.cov(x.T)


def test_langevin_reaches_the_gaussian():
    g = Gaussian(dev(MU), dev(COV))
    r = backend.rng(0)
    x = langevin(g.score, r.normal((N, 2)), 0.01, 1500, r)
    # standard error of the mean ~ 0.005; ULA's O(step) variance bias ~ 0.005
    _moments_ok(x, MU, COV, 0.03, 0.03)


def test_annealed_langevin_with_exact_noised_scores():
    g = Gaussian(dev(MU), dev(COV))
    sigmas = [1.0, 0.5, 0.2, 0.1]
    r = backend.rng(1)
    x, traj = annealed_langevin(lambda y, s: g.noised(s).score(y), r.uniform((N, 2), -4, 4), sigmas,
                                2e-3, 200, r, record_every=50)
    _moments_ok(x, MU, COV, 0.03, 0.03)
    assert traj.shape == (4 * 200 // 50 + 2, N, 2)


def _gaussian_sde_score(sde):
    """Exact score of p_t for Gaussian data: N(m mu, m^2 Sigma + sigma_t^2 I)."""
    def score(x, t):
        m, s = (host(a) for a in sde.marginal(t))
        t0 = float(host(t)[0])
        assert np.allclose(host(t), t0)
        cov = m[0] ** 2 * COV + s[0] ** 2 * np.eye(2)
        return dev(-(host(x) - m[0] * MU) @ np.linalg.inv(cov))
    return score


@pytest.mark.parametrize("sampler", ["reverse_sde", "predictor_corrector", "probability_flow"])
def test_reverse_vp_sde_returns_the_gaussian(sampler):
    sde = VPSDE()
    score = _gaussian_sde_score(sde)
    r = backend.rng(2)
    x1 = sde.prior_sample((N, 2), r)
    if sampler == "reverse_sde":
        x = reverse_sde(score, sde, x1, 500, r)
    elif sampler == "predictor_corrector":
        x = predictor_corrector(score, sde, x1, 300, r, snr=0.05)
    else:
        x = probability_flow(score, sde, x1, 300)
    _moments_ok(x, MU, COV, 0.04, 0.04)


def test_ve_marginal_and_prior():
    sde = VESDE(0.01, 5.0)
    m, s = sde.marginal(dev(np.array([0.0, 1.0])))
    assert np.allclose(host(m), 1.0) and np.allclose(host(s), [0.01, 5.0])
    vp = VPSDE()
    m, s = vp.marginal(dev(np.array([0.5])))
    assert np.allclose(host(m) ** 2 + host(s) ** 2, 1.0)


def test_plain_langevin_gets_weights_wrong_and_annealed_gets_them_right():
    d = two_modes((0.2, 0.8))
    r = backend.rng(3)
    x0 = r.uniform((4000, 2), -3, 3)
    plain = host(d.component(langevin(d.score, x0, 0.01, 300, r))).mean()
    sig = [0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01]
    ann = host(d.component(annealed_langevin(lambda y, s: d.noised(s).score(y), x0, sig, 2e-5, 100, r))).mean()
    assert abs(plain - 0.8) > 0.15          # starts split the mass evenly: ~0.5
    assert abs(ann - 0.8) < 0.03            # 4000 samples: standard error 0.006


def test_sampler_bad_input():
    g = Gaussian(dev(MU), dev(COV))
    r = backend.rng(0)
    x = dev(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="step"):
        langevin(g.score, x, -0.1, 10, r)
    with pytest.raises(ValueError, match="n_steps"):
        langevin(g.score, x, 0.1, 0, r)
    with pytest.raises(ValueError, match="strictly decreasing"):
        annealed_langevin(lambda y, s: g.score(y), x, [0.1, 0.5], 1e-3, 10, r)
    with pytest.raises(ValueError, match="x0"):
        langevin(g.score, dev(np.zeros(3)), 0.1, 10, r)
    with pytest.raises(ValueError, match="t_eps"):
        reverse_sde(lambda y, t: y, VPSDE(), x, 10, r, t_eps=0.0)


def test_demo_smoke(tmp_path):
    from npscore import demo
    m = demo.run(str(tmp_path), steps=300, n_samples=500, sampler_steps=20, progress=False,
                 log=lambda *a: None)
    files = sorted(os.listdir(tmp_path))
    assert files == ["1_data_density.png", "2_score_fields.png", "3_annealed_langevin.png",
                     "4_samplers.png", "5_loss.png", "metrics.json"]
    saved = json.load(open(tmp_path / "metrics.json"))
    assert set(saved["samplers"]) == {"annealed Langevin", "plain Langevin", "plain Langevin, exact", "reverse SDE",
                                      "predictor-corrector", "probability flow"}
    assert saved["energy_distance_floor"] > 0
    for r in m["samplers"].values():
        assert abs(sum(r["mode_fractions"]) - 1) < 1e-9 and np.isfinite(r["energy_distance"])
    assert m["score_mse"]["0.75"]["relative"] < 0.5   # even 300 steps learn the coarse field
