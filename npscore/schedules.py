"""Noise schedules derived from the data (Song and Ermon 2020, "Improved techniques
for training score-based generative models").

* Technique 1: the largest noise level ``sigma_1`` is about the largest
  pairwise distance in the training data, so that annealed Langevin (and the
  reverse SDE) can move mass between any two modes.
* Technique 2: the levels are geometric with a ratio ``gamma`` for which the
  shells of two neighbouring noise levels overlap enough:

  .. math:: \\Phi(\\sqrt{2D}(\\gamma - 1) + 3\\gamma) - \\Phi(\\sqrt{2D}(\\gamma - 1) - 3\\gamma) \\approx \\tfrac12

  (in low dimension the two shells always overlap more than that, and the
  ratio is capped at :data:`MAX_RATIO`).
* The smallest level ``sigma_L`` is small against the data's nearest-neighbour
  scale: half the median nearest-neighbour distance per coordinate,
  ``0.5 median_i min_j ||x_i - x_j|| / sqrt(D)``.
* Technique 4: with T Langevin steps per level, the step scale
  ``epsilon = a sigma_L^2`` (``alpha_i = epsilon sigma_i^2 / sigma_L^2``) makes

  .. math:: (1 - a)^{2T} \\left(\\gamma^2 - \\frac{2}{2 - a}\\right) + \\frac{2}{2 - a}

  as close to 1 as it can be.

The code names the notes' ``sigma_1``, ``sigma_L`` and ``gamma`` ``sigma_max``, ``sigma_min`` and ``ratio``
(the VE SDE's names too): :func:`largest_level`, :func:`smallest_level` and :func:`level_ratio`
derive them.
"""
import math
from collections import namedtuple

from . import backend, checks
from .linalg import squared_distances

#: the largest ratio of neighbouring levels (used where technique 2 allows any)
MAX_RATIO = 1.5

Schedule = namedtuple("Schedule", "sigmas step_scale sigma_max sigma_min ratio")


def _subsample(x, n, seed=0):
    """Up to ``n`` distinct rows of ``x``, centred (distances from ``|a|^2 + |b|^2 - 2 a.b`` lose
    everything to cancellation far from the origin), in float64; repeated rows count once."""
    np = backend.host
    x = np.unique(backend.to_numpy(x).astype("float64"), axis=0)
    if x.shape[0] < 2:
        raise ValueError("x must hold at least 2 distinct points for a noise schedule; all its rows are one point")
    if x.shape[0] > n:
        x = x[np.random.default_rng(seed).choice(x.shape[0], n, replace=False)]
    return x - x.mean(axis=0)


def _distances(x):
    return backend.host.sqrt(squared_distances(x, x))


def largest_level(x, n=2000):
    """Technique 1: the largest pairwise distance among (up to ``n`` of) the rows of ``x``."""
    return float(_distances(_subsample(x, n)).max())


def smallest_level(x, n=2000):
    """Half the median nearest-neighbour distance per coordinate, among up to ``n`` distinct rows of ``x``
    (repeated points, as in rounded or integer data, would make it 0)."""
    np = backend.host
    d = _distances(_subsample(x, n))
    np.fill_diagonal(d, np.inf)
    return float(0.5 * np.median(d.min(axis=1)) / math.sqrt(x.shape[1]))


def _phi(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def level_ratio(D):
    """Technique 2: the geometric ratio gamma for dimension ``D`` (at most :data:`MAX_RATIO`)."""
    c = math.sqrt(2.0 * checks.integer(D, "D"))

    def overlap(g):
        return _phi(c * (g - 1) + 3 * g) - _phi(c * (g - 1) - 3 * g)

    if overlap(MAX_RATIO) >= 0.5:
        return MAX_RATIO
    lo, hi = 1.0, MAX_RATIO                               # overlap(1) > 0.5 > overlap(hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if overlap(mid) > 0.5 else (lo, mid)
    return 0.5 * (lo + hi)


def step_scale(ratio, n_steps_each, sigma_min):
    """Technique 4: ``epsilon = a sigma_L^2`` with ``a`` on a fine grid making the
    expression above closest to 1."""
    T = checks.integer(n_steps_each, "n_steps_each")

    def f(a):
        return (1.0 - a) ** (2 * T) * (ratio ** 2 - 2.0 / (2.0 - a)) + 2.0 / (2.0 - a)

    grid = [10 ** (-6 + 6 * k / 4000) for k in range(4000)]  # a in [1e-6, 1)
    a = min(grid, key=lambda a: abs(f(a) - 1.0))
    return a * sigma_min ** 2


def geometric(sigma_max, sigma_min, ratio):
    """Levels ``sigma_max, sigma_max / ratio, ...`` down to ``sigma_min`` (the notes' ``sigma_1 > ... >
    sigma_L``: an exact geometric sequence with at least the given ratio's density), largest first."""
    n = max(2, 1 + math.ceil(math.log(sigma_max / sigma_min) / math.log(ratio)))
    return tuple(sigma_max * (sigma_min / sigma_max) ** (i / (n - 1)) for i in range(n))


def from_data(x, n_steps_each=100, sigma_max=None, sigma_min=None, ratio=None):
    """The schedule for data ``x : (N, D)``; any of its parts may be given instead (else
    :func:`largest_level`, :func:`smallest_level`, :func:`level_ratio`).

    Returns
    -------
    Schedule
        ``sigmas`` (largest first), ``step_scale`` (annealed Langevin's epsilon),
        ``sigma_max``, ``sigma_min`` and ``ratio``.
    """
    checks.batch(x, None, "x")
    s1 = checks.positive(sigma_max, "sigma_max") if sigma_max is not None else largest_level(x)
    sl = checks.positive(sigma_min, "sigma_min") if sigma_min is not None else smallest_level(x)
    if not sl < s1:
        raise ValueError(f"sigma_min must be below sigma_max = {s1:.4g}; got {sl:.4g}")
    g = checks.in_interval(ratio, "ratio", 1.0, math.inf, "neither") if ratio is not None else level_ratio(x.shape[1])
    sigmas = geometric(s1, sl, g)
    return Schedule(sigmas, step_scale(sigmas[0] / sigmas[1], n_steps_each, sl), s1, sl, sigmas[0] / sigmas[1])
