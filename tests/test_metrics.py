"""The metrics against closed forms, the gradient checker users run, and the EMA of fit."""
import math

import numpy as np
import pytest

from conftest import dev, host
from npscore.optim import Adam
from npscore import backend, metrics
from npscore.densities import GaussianMixture
from npscore.metrics import energy_distance, energy_floor, frechet_distance, mode_fractions


def _mean_abs_normal(m, s):
    """E|Z| for Z ~ N(m, s^2)."""
    return s * math.sqrt(2 / math.pi) * math.exp(-m * m / (2 * s * s)) + m * (1 - 2 * 0.5 * math.erfc(m / (s * math.sqrt(2))))


@pytest.mark.parametrize("a, s1, b, s2", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 1.0, 1.0), (0.5, 0.5, -0.5, 2.0)])
def test_energy_distance_of_two_gaussians(a, s1, b, s2):
    rng = np.random.default_rng(0)
    n = 6000
    x, y = rng.normal(a, s1, (n, 1)), rng.normal(b, s2, (n, 1))
    exact = (2 * _mean_abs_normal(a - b, math.hypot(s1, s2)) - 2 * s1 / math.sqrt(math.pi)
             - 2 * s2 / math.sqrt(math.pi))
    assert energy_distance(dev(x), dev(y)) == pytest.approx(exact, abs=0.05)


def test_energy_floor_is_the_spread_of_data_against_data():
    mix = GaussianMixture(dev(np.array([0.5, 0.5])), dev(np.array([[-2.0, 0.0], [2.0, 0.0]])), 0.3)
    mean, std = energy_floor(mix.sample, 500, backend.rng(0), draws=10)
    assert 0 < mean < 0.05 and std > 0
    fr = mode_fractions(mix, mix.sample(4000, backend.rng(1)))
    assert abs(fr[0] - 0.5) < 0.03 and sum(fr) == pytest.approx(1.0)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.2, 2.0, 4), rng.uniform(0.2, 2.0, 4)
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    exact = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()   # commuting covariances
    assert frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(exact, rel=1e-10)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))                        # rotating both changes nothing
    assert frechet_distance(q @ m1, q @ np.diag(a) @ q.T, q @ m2, q @ np.diag(b) @ q.T) == pytest.approx(exact, rel=1e-8)
    assert frechet_distance(m1, np.diag(a), m1, np.diag(a)) == pytest.approx(0.0, abs=1e-10)


def test_frechet_distance_of_rank_deficient_covariances_is_finite():
    u = np.array([1.0, 2.0, -1.0]) / 6 ** 0.5
    s = np.outer(u, u) * 3.0                                  # rank 1: eigh may return -1e-17
    d = frechet_distance(np.zeros(3), s, np.zeros(3), 4.0 / 3.0 * s)
    assert np.isfinite(d) and d == pytest.approx((3 ** 0.5 - 2.0) ** 2, abs=1e-7)


def test_score_mse_against_its_definition():
    x = dev(np.array([[1.0, 0.0], [0.0, 2.0]]))
    mse, scale = __import__("npscore").metrics.score_mse(lambda y: 2 * y, lambda y: y, x)
    assert mse == pytest.approx(2.5) and scale == pytest.approx(2.5)   # mean ||y||^2 = (1 + 4) / 2


def test_energy_floor_draws_and_mode_fractions_of_unequal_weights():
    calls = []

    def sample(n, rng):
        calls.append(n)
        return rng.normal((n, 1))
    mean, std = energy_floor(sample, 50, backend.rng(0))
    assert len(calls) == 40 and set(calls) == {50}                 # 20 draws of two samples by default
    assert energy_floor(sample, 50, backend.rng(0), draws=1)[1] == 0.0
    with pytest.raises(ValueError, match="draws must be an int >= 1; got 0"):
        energy_floor(sample, 50, backend.rng(0), draws=0)
    mix = GaussianMixture(dev(np.array([0.2, 0.8])), dev(np.array([[-3.0], [3.0]])), 0.1)
    fr = mode_fractions(mix, mix.sample(5000, backend.rng(1)))
    assert abs(fr[0] - 0.2) < 0.02 and abs(fr[1] - 0.8) < 0.02


def test_energy_floor_is_the_mean_and_sample_std_of_its_draws():
    sample = lambda n, rng: rng.normal((n, 2))                           # noqa: E731
    for draws in (2, 3):
        mean, std = energy_floor(sample, 40, backend.rng(5), draws=draws)
        rng = backend.rng(5)
        vals = np.array([energy_distance(sample(40, rng), sample(40, rng)) for _ in range(draws)])
        assert mean == pytest.approx(vals.mean(), rel=1e-12) and std == pytest.approx(vals.std(ddof=1), rel=1e-12)


def test_energy_distance_exactly_and_its_argument_checks():
    x, y = dev(np.array([[0.0], [1.0]])), dev(np.array([[0.0], [3.0], [5.0]]))
    assert energy_distance(x, y) == pytest.approx(2 * 15 / 6 - 2 / 4 - 20 / 9, abs=1e-14)   # V-statistic by hand
    with pytest.raises(ValueError, match=r"y must have shape \(B, 1\); got \(2, 2\)"):
        energy_distance(x, dev(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="x must be finite"):
        energy_distance(dev(np.array([[np.nan]])), y)
    with pytest.raises(ValueError, match="y must be finite"):
        energy_distance(x, dev(np.array([[np.inf]])))
    y = dev(np.array([[0.0], [3.0]]))
    with pytest.raises(ValueError, match="lr must be a positive finite number; got -1"):
        Adam(lr=-1)


# ---------------------------------------------------------------- k-NN precision and recall
@pytest.mark.parametrize("name", ["swiss-roll", "rings", "eight-gaussians"])
def test_precision_sees_blur_recall_sees_collapse_and_data_sits_at_the_floor(name):
    """The known cases: the data against fresh data is at the floor (about 0.99); the data
    blurred by noise of 0.3 has low precision; a copy collapsed onto one half has low recall.
    The energy distance of the blurred copy stays within a few floors: it hardly sees blur."""
    from npscore import toys
    draw = lambda n, r: toys.load(name, n, int(r.integers(2 ** 31, (1,))[0]))[0]    # noqa: E731
    data, fresh = toys.load(name, 2000, 1)[0], toys.load(name, 2000, 2)[0]
    floor = metrics.precision_recall_floor(draw, 2000, backend.rng(3), k=5, draws=3)
    assert min(floor) > 0.97
    p, r = metrics.precision_recall(fresh, data, 5)
    assert abs(p - floor[0]) < 0.02 and abs(r - floor[1]) < 0.02
    blurred = fresh + 0.3 * backend.rng(4).normal(fresh.shape, fresh.dtype)
    p, r = metrics.precision_recall(blurred, data, 5)
    assert p < 0.9 and r > 0.95, (p, r)
    half = host(fresh)[host(fresh)[:, 0] > 0]
    collapsed = dev(half[np.random.default_rng(0).integers(len(half), size=2000)])
    p, r = metrics.precision_recall(collapsed, data, 5)
    assert r < 0.7 and p > 0.95, (p, r)
    scattered = fresh + 100.0 * backend.rng(5).normal(fresh.shape, fresh.dtype)    # samples that ran away:
    p, r = metrics.precision_recall(scattered, data, 5)
    assert p < 0.05 and r > 0.9, (p, r)                      # precision sees it; recall, alone, does not


def test_precision_recall_checks_its_arguments():
    x = dev(np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"^k must be below the number of samples and of data points, 10; got 10$"):
        metrics.precision_recall(x, x, 10)
    with pytest.raises(ValueError, match=r"^data must have shape \(B, 2\)"):
        metrics.precision_recall(x, dev(np.zeros((10, 3))))
    bad = dev(np.array([[np.nan, 0.0]] * 10))
    with pytest.raises(ValueError, match=r"^samples must be finite; got an array with NaN or inf$"):
        metrics.precision_recall(bad, x, 2)
    assert metrics.precision_recall(x + 1.0, x, 2) == (0.0, 0.0)       # two point masses apart
