"""Noise schedules from the data (npscore/schedules.py)."""
import math

import numpy as np
import pytest

from conftest import dev
from npscore import schedules



def test_ratio_solves_technique_2_and_is_capped_in_low_dimension():
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))                    # noqa: E731
    for D in (100, 784, 3072):
        g, c = schedules.level_ratio(D), math.sqrt(2 * D)
        assert phi(c * (g - 1) + 3 * g) - phi(c * (g - 1) - 3 * g) == pytest.approx(0.5, abs=1e-9)
    assert schedules.level_ratio(2) == schedules.MAX_RATIO
    assert 1.03 < schedules.level_ratio(3072) < 1.045                                # NCSNv2's CIFAR-10: ~1.04


def test_sigma_max_min_and_step_scale():
    x = dev(np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))
    assert schedules.largest_level(x) == pytest.approx(5.0)
    assert schedules.smallest_level(x) == pytest.approx(0.5 * np.median([1.0, 2.0 ** 0.5 * 2.5, 1.0, 2.0]) / 2 ** 0.5,
                                                   rel=0.3)
    g, T, sl = 1.1, 5, 0.01
    eps = schedules.step_scale(g, T, sl)
    f = lambda a: (1 - a) ** (2 * T) * (g * g - 2 / (2 - a)) + 2 / (2 - a)   # noqa: E731
    a = eps / sl ** 2
    assert all(abs(f(a) - 1) <= abs(f(b) - 1) for b in (a * 0.9, a * 1.1))
    s = schedules.from_data(dev(np.random.default_rng(0).standard_normal((300, 2))), sigma_max=2.0, sigma_min=0.01)
    assert s.sigmas[0] == 2.0 and s.sigmas[-1] == pytest.approx(0.01) and s.ratio <= schedules.MAX_RATIO
    with pytest.raises(ValueError, match="sigma_min must be below"):
        schedules.from_data(dev(np.ones((3, 2)) * np.arange(3)[:, None]), sigma_max=0.1, sigma_min=0.5)


def test_repeated_integer_and_far_off_data_get_a_schedule_and_one_point_is_named():
    rng = np.random.default_rng(0)
    grid = np.round(3 * rng.standard_normal((600, 2)))               # integer data, many repeats
    s = schedules.from_data(grid)
    assert s.sigma_min == pytest.approx(0.5 / math.sqrt(2)) and s.sigma_max > 10
    far = 1e8 + rng.standard_normal((500, 2))
    assert 4 < schedules.from_data(far).sigma_max < 10                # not 0: the rows are centred first
    with pytest.raises(ValueError, match=r"^x must hold at least 2 distinct points for a noise schedule"):
        schedules.from_data(np.ones((10, 2)))
