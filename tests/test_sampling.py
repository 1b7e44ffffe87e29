"""npscore.sampling: Langevin and annealed Langevin on targets with known answers and written out, the
registry, and the checks every sampler shares."""
import re

import numpy as np
import pytest

from conftest import dev, host, moments_ok
from npscore import backend
from npscore.densities import Gaussian, two_modes
from npscore.sampling import (SAMPLERS, annealed_langevin, langevin, predictor_corrector, probability_flow,
                              reverse_sde, run)
from npscore.sde import VESDE, VPSDE

MU = np.array([1.0, -2.0])
COV = np.array([[0.5, 0.2], [0.2, 0.3]])
N = 20000


def test_langevin_reaches_the_gaussian():
    g = Gaussian(dev(MU), dev(COV))
    r = backend.rng(0)
    x = langevin(g.score, r.normal((N, 2)), r, step=0.01, n_steps=1500)
    # standard error of the mean ~ 0.005; ULA's O(step) variance bias ~ 0.005
    moments_ok(x, MU, COV, 0.03, 0.03)


def test_annealed_langevin_with_exact_noised_scores():
    g = Gaussian(dev(MU), dev(COV))
    sigmas = [1.0, 0.5, 0.2, 0.1]
    r = backend.rng(1)
    x, traj = annealed_langevin(lambda y, s: g.noised(s).score(y), r.uniform((N, 2), -4, 4), sigmas, r,
                                step_scale=2e-3, n_steps_each=200, record_every=50)
    moments_ok(x, MU, COV, 0.03, 0.03)
    assert traj.shape == (4 * 200 // 50 + 2, N, 2)


def test_plain_langevin_gets_weights_wrong_and_annealed_gets_them_right():
    d = two_modes((0.2, 0.8))
    r = backend.rng(3)
    x0 = r.uniform((4000, 2), -3, 3)
    plain = host(d.component(langevin(d.score, x0, r, step=0.01, n_steps=300))).mean()
    sig = [0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01]
    ann = host(d.component(annealed_langevin(lambda y, s: d.noised(s).score(y), x0, sig, r))).mean()
    assert abs(plain - 0.8) > 0.15          # starts split the mass evenly: ~0.5
    assert abs(ann - 0.8) < 0.03            # 4000 samples: standard error 0.006


def test_sampler_bad_input():
    g = Gaussian(dev(MU), dev(COV))
    r = backend.rng(0)
    x = dev(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="step must be a positive finite number; got -0.1"):
        langevin(g.score, x, r, step=-0.1)
    with pytest.raises(ValueError, match="n_steps must be an int >= 1; got 0"):
        langevin(g.score, x, r, n_steps=0)
    with pytest.raises(ValueError, match="strictly decreasing"):
        annealed_langevin(lambda y, s: g.score(y), x, [0.1, 0.5], r)
    with pytest.raises(ValueError, match="x0"):
        langevin(g.score, dev(np.zeros(3)), r)
    for t_min in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=rf"^t_min must be a number in \(0.0, 1.0\); got {t_min}$"):
            reverse_sde(lambda y, t: y, VPSDE(), x, r, n_steps=10, t_min=t_min)
    with pytest.raises(ValueError, match="sampler must be one of"):
        run("ddpm", g.score, x, r)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_score_that_turns_nan_is_named(name):
    """Each sampler stops with the sampler, the step and the noise level, not NaN samples."""
    calls = []

    def score(x, *_):
        calls.append(1)
        return x * (np.nan if len(calls) > 30 else -1.0)
    x0 = dev(np.ones((4, 2)))
    with pytest.raises(FloatingPointError, match=rf"{name}: the samples became non-finite by step \d+ \((sigma|t|step)"):
        run(name, score, x0, backend.rng(0), sigmas=[1.0, 0.5], sde=VPSDE(), check_every=5)


# ---------------------------------------------------------------- annealed Langevin, step by step
LEVELS = [1.0, 0.6, 0.3]


def _pull(x, sigma):
    """A score with a known form, ``-(x - 1) / (1 + sigma^2)``."""
    return -(x - 1.0) / (1.0 + sigma ** 2)


def _algorithm_1(x, rng, eps, T, bounds=None):
    """Algorithm 1 of Song and Ermon 2019 written out, then the denoising step; every iterate."""
    out = [x]
    for sigma in LEVELS:
        alpha = eps * sigma ** 2 / LEVELS[-1] ** 2
        for _ in range(T):
            x = x + alpha * _pull(x, sigma) + (2 * alpha) ** 0.5 * rng.normal(x.shape, x.dtype)
            if bounds:
                x = backend.xp().clip(x, *bounds)
            out.append(x)
    return out + [x + LEVELS[-1] ** 2 * _pull(x, LEVELS[-1])]


@pytest.mark.parametrize("bounds", [None, (-0.2, 1.5)])
def test_annealed_langevin_is_algorithm_1_then_one_denoising_step(bounds):
    x0 = backend.rng(1).normal((5, 2), "float32")
    want = _algorithm_1(x0, backend.rng(3), 0.05, 2, bounds)
    x, traj = annealed_langevin(_pull, x0, LEVELS, backend.rng(3), step_scale=0.05, n_steps_each=2,
                                record_every=2, bounds=bounds)
    assert x.dtype == np.float32 and traj.dtype == np.float32
    assert np.allclose(host(x), host(want[-1]), rtol=1e-6, atol=1e-6)
    assert np.allclose(host(traj), host(backend.xp().stack(want[0:-1:2] + want[-1:])), rtol=1e-6, atol=1e-6)
    if bounds:
        assert float(traj[1:-1].min()) == np.float32(bounds[0]) and float(traj[1:-1].max()) == np.float32(bounds[1])
    plain = annealed_langevin(_pull, x0, LEVELS, backend.rng(3), step_scale=0.05, n_steps_each=2, denoise=False,
                              bounds=bounds)
    assert np.allclose(host(plain), host(want[-2]), rtol=1e-6, atol=1e-6)


def test_annealed_langevin_defaults(capsys):
    x0 = backend.rng(1).normal((3, 2))
    a = annealed_langevin(_pull, x0, [1.0, 0.5], backend.rng(2))
    b = annealed_langevin(_pull, x0, [1.0, 0.5], backend.rng(2), step_scale=2e-5, n_steps_each=100, denoise=True)
    assert np.array_equal(host(a), host(b))
    assert capsys.readouterr().err == ""                                     # no progress bar unless asked
    annealed_langevin(_pull, x0, [1.0, 0.5], backend.rng(2), n_steps_each=1, progress=True)
    assert re.match(r"\r?annealed-langevin: ", capsys.readouterr().err)


def _nan_after(calls):
    """``_pull`` for ``calls`` calls, NaN from then on."""
    count = [0]

    def score(x, sigma):
        count[0] += 1
        return _pull(x, sigma) * (np.nan if count[0] > calls else 1.0)
    return score


@pytest.mark.parametrize("calls, kwargs, says", [
    (0, {"n_steps_each": 100}, "by step 100 (sigma = 1)"),                  # check_every = 100 by default
    (0, {"n_steps_each": 2, "check_every": 1000, "denoise": False}, "by step 6 (sigma = 0.3)"),   # the last step
    (6, {"n_steps_each": 2, "check_every": 1000}, "by step 7 (the denoising step at sigma = 0.3)"),
])
def test_annealed_langevin_names_where_it_turned_non_finite(calls, kwargs, says):
    x0 = backend.rng(1).normal((3, 2))
    with pytest.raises(FloatingPointError, match="^annealed-langevin: the samples became non-finite " + re.escape(says)
                       + "; the score returned NaN or inf there, or the step is too large for it$"):
        annealed_langevin(_nan_after(calls), x0, LEVELS, backend.rng(2), **kwargs)


def test_annealed_langevin_bad_input():
    x0 = backend.rng(1).normal((3, 2))
    for bounds in ((1.0, 0.0), (0.5, 0.5), (0.0, 1.0, 2.0)):
        with pytest.raises(ValueError, match=r"^bounds must be \(lo, hi\) with lo < hi; got"):
            annealed_langevin(_pull, x0, LEVELS, backend.rng(2), bounds=bounds)
    with pytest.raises(ValueError, match="^step_scale must be"):
        annealed_langevin(_pull, x0, LEVELS, backend.rng(2), step_scale=0.0)
    with pytest.raises(ValueError, match="^n_steps_each must be"):
        annealed_langevin(_pull, x0, LEVELS, backend.rng(2), n_steps_each=0)


# ---------------------------------------------------------------- the other samplers, step by step
def _pull_s(x, sigma):
    """A noise-conditional score with a known form, ``-(x - 1) / (1 + sigma)`` for ``sigma : (B,)``."""
    return -(x - 1.0) / (1.0 + sigma[:, None])


def test_langevin_is_its_update_written_out():
    x0 = backend.rng(1).normal((5, 2), "float32")
    rng, x, want = backend.rng(3), x0, [x0]
    for _ in range(4):
        x = x + 0.1 * _pull(x, 0.0) + 0.2 ** 0.5 * rng.normal(x.shape, x.dtype)
        want.append(x)
    got, traj = langevin(lambda y: _pull(y, 0.0), x0, backend.rng(3), step=0.1, n_steps=4, record_every=2)
    assert got.dtype == np.float32 and np.allclose(host(got), host(want[-1]), rtol=1e-6, atol=1e-6)
    assert np.allclose(host(traj), host(backend.xp().stack(want[::2])), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["langevin", "reverse-sde", "predictor-corrector", "probability-flow"])
def test_a_non_finite_sample_is_caught_at_the_default_interval_and_at_the_end(name):
    x0 = dev(np.ones((3, 2)))
    nan = lambda y, *_: y * np.nan                                           # noqa: E731
    where = r"step size 0.002" if name == "langevin" else r"t = "
    with pytest.raises(FloatingPointError, match=rf"^{name}: the samples became non-finite by step 100 \({where}"):
        run(name, nan, x0, backend.rng(0), sde=VPSDE(), n_steps=250)
    with pytest.raises(FloatingPointError, match=rf"^{name}: the samples became non-finite by step 3 \({where}"):
        run(name, nan, x0, backend.rng(0), sde=VESDE(), n_steps=3, check_every=1000)
    with pytest.raises(FloatingPointError, match=rf"^{name}: the samples became non-finite by step 250 \({where}"):
        run(name, nan, x0, backend.rng(0), sde=VPSDE(), n_steps=250, check_every=1000)


@pytest.mark.parametrize("name", ["langevin", "reverse-sde", "predictor-corrector", "probability-flow"])
def test_the_record_and_check_intervals_are_checked_and_zero_means_never(name):
    """``record_every`` and ``check_every`` must be ints >= 0, named when wrong; with
    ``check_every = 0`` only the last step is checked; ``x0`` must be a batch."""
    x0 = dev(np.ones((3, 2)))
    nan = lambda y, *_: y * np.nan                                           # noqa: E731
    for arg in ("record_every", "check_every"):
        with pytest.raises(ValueError, match=rf"^{arg} must be an int >= 0; got -1$"):
            run(name, nan, x0, backend.rng(0), sde=VESDE(), n_steps=3, **{arg: -1})
    with pytest.raises(FloatingPointError, match=rf"^{name}: the samples became non-finite by step 250 "):
        run(name, nan, x0, backend.rng(0), sde=VPSDE(), n_steps=250, check_every=0)
    with pytest.raises(ValueError, match=r"^x0 must have shape \(B, D\)"):
        run(name, nan, dev(np.ones(3)), backend.rng(0), sde=VESDE(), n_steps=3)


def test_run_dispatches_on_the_score_kind_and_needs_an_sde():
    x0 = backend.rng(1).normal((3, 2))
    assert np.array_equal(host(run("langevin", lambda y: -y, x0, backend.rng(2), n_steps=3)),
                          host(langevin(lambda y: -y, x0, backend.rng(2), n_steps=3)))
    with pytest.raises(ValueError, match="^sde must be given for sampler 'reverse-sde'; got None$"):
        run("reverse-sde", _pull_s, x0, backend.rng(2))
    with pytest.raises(ValueError, match=r"^snr must be a positive"):
        predictor_corrector(_pull_s, VPSDE(), x0, backend.rng(2), snr=0.0)
    with pytest.raises(ValueError, match=r"^n_corrector must be an int >= 0"):
        predictor_corrector(_pull_s, VPSDE(), x0, backend.rng(2), n_corrector=-1)
    with pytest.raises(ValueError, match=r"^n_steps must be an int >= 1"):
        probability_flow(_pull_s, VPSDE(), x0, n_steps=0)
    with pytest.raises(ValueError, match=r"^n_steps must be an int >= 1"):
        predictor_corrector(_pull_s, VPSDE(), x0, backend.rng(2), n_steps=0)


def test_the_registry_reads_each_samplers_defaults_from_its_signature():
    from npscore.sampling import defaults
    assert defaults("langevin") == {"step": 2e-3, "n_steps": 700}
    assert defaults("annealed-langevin") == {"step_scale": 2e-5, "n_steps_each": 100, "denoise": True, "bounds": None}
    assert defaults("reverse-sde") == {"n_steps": 1000, "t_min": 1e-3}
    assert defaults("predictor-corrector") == {"n_steps": 500, "snr": 0.16, "n_corrector": 1, "t_min": 1e-3}
    assert defaults("probability-flow") == {"n_steps": 500, "t_min": 1e-3}
    with pytest.raises(ValueError, match=r"^sampler must be one of"):
        defaults("euler")


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_each_sampler_defaults_to_its_registered_settings_without_a_bar(name, capsys):
    """Called bare, a sampler is ``run`` with the registry's defaults, and shows no progress bar."""
    spec = SAMPLERS[name]
    x0, sde = backend.rng(1).normal((2, 2)), VPSDE()
    score = {None: lambda y: -y, "sigmas": _pull, "sde": _pull_s}[spec.needs]
    lead = {None: (), "sigmas": ([1.0, 0.5],), "sde": (sde,)}[spec.needs]
    order = (x0, *lead) if spec.needs == "sigmas" else (*lead, x0)
    bare = spec.fn(score, *order, backend.rng(2))
    assert np.array_equal(host(bare), host(run(name, score, x0, backend.rng(2), sigmas=[1.0, 0.5], sde=sde)))
    assert capsys.readouterr().err == ""
    run(name, score, x0, backend.rng(2), sigmas=[1.0, 0.5], sde=sde, progress=True,
        **({"n_steps_each": 1} if name == "annealed-langevin" else {"n_steps": 20}))
    assert re.match(rf"\r?{name}: ", capsys.readouterr().err)
