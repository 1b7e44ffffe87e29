"""npscore.sampling's SDE samplers (reverse SDE, predictor-corrector, probability flow) on Gaussian
targets with known answers, and each written out as published."""
import numpy as np
import pytest

from conftest import dev, host, moments_ok
from npscore import backend
from npscore.sampling import predictor_corrector, probability_flow, reverse_sde, run
from npscore.sde import VESDE, VPSDE

MU = np.array([1.0, -2.0])
COV = np.array([[0.5, 0.2], [0.2, 0.3]])
N = 20000


def _gaussian_sde_score(sde):
    """Exact score of p_t for Gaussian data: N(m mu, m^2 Sigma + sigma_t^2 I)."""
    def score(x, sigma):
        t = sde.time_of(sigma)
        m, s = (host(a) for a in sde.marginal(t))
        assert np.allclose(host(t), float(host(t)[0]))
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
        x = reverse_sde(score, sde, x1, r, n_steps=500)
    elif sampler == "predictor_corrector":
        x = predictor_corrector(score, sde, x1, r, n_steps=300, snr=0.05)
    else:
        x = probability_flow(score, sde, x1, n_steps=300)
    moments_ok(x, MU, COV, 0.04, 0.04)


@pytest.mark.parametrize("name", ["reverse-sde", "predictor-corrector", "probability-flow"])
def test_the_sde_samplers_feed_the_model_the_marginal_std(name):
    """A model's ``score_fn`` drives the SDE samplers as it is, read at ``sigma_t`` of the SDE."""
    from npscore import NoiseConditionalMLP
    model, sde, seen = NoiseConditionalMLP([2, 8, 2]), VESDE(0.01, 3.0), []
    p = model.init(0)

    def score(x, sigma):
        seen.append(host(sigma))
        return model.score_fn(p)(x, sigma)
    run(name, score, backend.rng(1).normal((4, 2)), backend.rng(2), sde=sde, n_steps=5)
    levels = 0.01 * 300.0 ** np.linspace(1.0, 1e-3, 6)            # sigma(t) on the sampler's grid
    assert np.allclose(seen[0], levels[0]) and len(seen) >= 5
    assert all(np.allclose(s, s[0]) and np.isclose(levels, s[0], rtol=1e-12).any() for s in seen)


# ---------------------------------------------------------------- the other samplers, step by step
def _pull_s(x, sigma):
    """A noise-conditional score with a known form, ``-(x - 1) / (1 + sigma)``."""
    return -(x - 1.0) / (1.0 + sigma[:, None])


def _pull_t(sde, x, t):
    """``_pull_s`` at the SDE's published input: the marginal std at t (score_sde's ``std``)."""
    return _pull_s(x, sde.marginal(t)[1])


def _published_alpha(sde, t, N):
    """Song et al. 2021, Algorithm 5 as score_sde codes it: alpha_i = 1 - beta_i for VP, with
    ``beta_i = linspace(beta_min / N, beta_max / N, N)[int(t (N - 1))]``; 1 for VE."""
    if not isinstance(sde, VPSDE):
        return 1.0
    return 1.0 - np.linspace(sde.beta_min / N, sde.beta_max / N, N)[int(t * (N - 1))]


def _pc_written_out(sde, x, rng, n, n_corrector, snr=0.16, t_min=1e-3):
    xp = backend.xp()
    ts, dt, out = np.linspace(1.0, t_min, n + 1), (1.0 - t_min) / n, [x]
    for i in range(n):
        t = xp.full((x.shape[0],), ts[i], dtype=x.dtype)
        for _ in range(n_corrector):
            s, z = _pull_t(sde, x, t), rng.normal(x.shape, x.dtype)
            step = 2.0 * float(_published_alpha(sde, float(ts[i]), n)) * (
                snr * float(xp.linalg.norm(z, axis=1).mean() / xp.linalg.norm(s, axis=1).mean())) ** 2
            x = x + step * s + (2.0 * step) ** 0.5 * z
        g = sde.diffusion(t)[:, None]
        mean = x - (sde.drift(x, t) - g ** 2 * _pull_t(sde, x, t)) * dt
        x = mean if i == n - 1 else mean + g * dt ** 0.5 * rng.normal(x.shape, x.dtype)
        out.append(x)
    return out


def _heun_written_out(sde, x, n, t_min=1e-3):
    xp = backend.xp()
    ts, dt, out = np.linspace(1.0, t_min, n + 1), (1.0 - t_min) / n, [x]
    v = lambda y, t: sde.drift(y, t) - 0.5 * sde.diffusion(t)[:, None] ** 2 * _pull_t(sde, y, t)   # noqa: E731
    for i in range(n):
        t0, t1 = (xp.full((x.shape[0],), s, dtype=x.dtype) for s in ts[i:i + 2])
        k0 = v(x, t0)
        x = x - 0.5 * dt * (k0 + v(x - dt * k0, t1))
        out.append(x)
    return out


@pytest.mark.parametrize("name", ["reverse-sde", "predictor-corrector", "probability-flow"])
@pytest.mark.parametrize("sde", [VPSDE(), VESDE(0.01, 3.0)], ids=["VP", "VE"])
def test_sde_samplers_are_their_updates_written_out(name, sde):
    x1 = backend.rng(1).normal((5, 2), "float32")
    if name == "probability-flow":
        want = _heun_written_out(sde, x1, 30)
    else:
        want = _pc_written_out(sde, x1, backend.rng(3), 30, 1 if name == "predictor-corrector" else 0)
    got, traj = run(name, _pull_s, x1, backend.rng(3), sde=sde, n_steps=30, record_every=3)
    assert got.dtype == np.float32 and traj.dtype == np.float32
    assert np.allclose(host(got), host(want[-1]), rtol=1e-5, atol=1e-5)
    assert np.allclose(host(traj), host(backend.xp().stack(want[::3])), rtol=1e-5, atol=1e-5)


def test_the_vp_corrector_step_carries_alpha_i():
    """The VP corrector's step is 2 alpha_i (r ||z|| / ||s||)^2 (Algorithm 5): leaving alpha_i out
    moves the samples by far more than rounding."""
    sde, x1 = VPSDE(), backend.rng(1).normal((5, 2), "float64")
    got = run("predictor-corrector", _pull_s, x1, backend.rng(3), sde=sde, n_steps=30)
    want = _pc_written_out(sde, x1, backend.rng(3), 30, 1)[-1]
    assert np.allclose(host(got), host(want), rtol=1e-12, atol=1e-12)
    alpha = sde.corrector_alpha(backend.xp().asarray([1.0, 0.5, 0.0]), 30)
    assert np.allclose(host(alpha), [_published_alpha(sde, t, 30) for t in (1.0, 0.5, 0.0)], rtol=0, atol=1e-15)
    assert host(alpha)[0] < 0.4                           # far from 1: the old step was off by 1 / alpha_i
    with pytest.raises(ValueError, match=r"^n_steps must be at least beta_max = 20.0 for the VP corrector"):
        run("predictor-corrector", _pull_s, x1, backend.rng(3), sde=sde, n_steps=19)
