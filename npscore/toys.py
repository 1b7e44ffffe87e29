"""Low-dimensional data sets: the notes' two modes, the usual 2-D sets of the
score-matching and flow literature, and the user's own file.

Each built-in set is generated on the active backend from a seed by
:func:`load`; the two Gaussian mixtures also return their density, so the
true score, the exact noised score and the mode fractions are known. A file
is ``.npy`` (an ``(N, D)`` float array) or ``.csv`` (N rows of D numbers,
an optional header line), read by :mod:`npscore.datafile`.
"""
import math

from . import backend, checks, datafile
from .densities import GaussianMixture, two_modes


def _mixture(make):
    """A generator drawing from the Gaussian mixture ``make(dtype)``, which it also returns."""
    def draw(n, rng, dtype):
        mix = make(dtype)
        return mix.sample(n, rng), mix
    return draw


def eight_gaussians(dtype="float64"):
    """Eight isotropic Gaussians (std 0.2) evenly on the circle of radius 2."""
    angles = [2 * math.pi * k / 8 for k in range(8)]
    means = backend.asarray([[2 * math.cos(a), 2 * math.sin(a)] for a in angles], dtype=dtype)
    return GaussianMixture(backend.asarray([1 / 8] * 8, dtype=dtype), means, backend.asarray([0.04] * 8, dtype=dtype))


def _swiss_roll(n, rng, dtype):
    xp = backend.xp()
    t = 1.5 * math.pi * (1 + 2 * rng.uniform((n,), dtype=dtype))
    x = xp.stack([t * xp.cos(t), t * xp.sin(t)], axis=1) / 5.0
    return x + 0.05 * rng.normal((n, 2), dtype), None


def _moons(n, rng, dtype):
    xp = backend.xp()
    upper = rng.uniform((n,), dtype=dtype) < 0.5
    t = math.pi * rng.uniform((n,), dtype=dtype)
    x = xp.where(upper[:, None], xp.stack([xp.cos(t), xp.sin(t)], 1),
                 xp.stack([1 - xp.cos(t), 0.5 - xp.sin(t)], 1))
    return (x - backend.asarray([0.5, 0.25], dtype=dtype)) * 1.5 + 0.05 * rng.normal((n, 2), dtype), None


def _checkerboard(n, rng, dtype):
    xp = backend.xp()
    x1 = 4 * rng.uniform((n,), dtype=dtype) - 2
    x2 = 2 * rng.uniform((n,), dtype=dtype) - 2 + 2 * (xp.floor(x1) % 2)
    return xp.stack([x1, x2], 1), None


def _pinwheel(n, rng, dtype, arms=5):
    xp = backend.xp()
    k = rng.integers(arms, (n,)).astype(dtype)
    r = 0.3 + 0.05 * rng.normal((n,), dtype) + 1.7 * rng.uniform((n,), dtype=dtype)
    a = 2 * math.pi * k / arms + 0.25 * rng.normal((n,), dtype) + 0.6 * r
    return xp.stack([r * xp.cos(a), r * xp.sin(a)], 1), None


def _rings(n, rng, dtype, radii=(0.5, 1.0, 1.5, 2.0)):
    xp = backend.xp()
    r = backend.asarray(radii, dtype=dtype)[rng.integers(len(radii), (n,))]
    a = 2 * math.pi * rng.uniform((n,), dtype=dtype)
    return xp.stack([r * xp.cos(a), r * xp.sin(a)], 1) + 0.05 * rng.normal((n, 2), dtype), None


#: name -> generator ``(n, rng, dtype) -> (x, mixture or None)``
DATASETS = {"two-modes": _mixture(lambda dtype: two_modes((0.2, 0.8), dtype)),
            "two-modes-equal": _mixture(lambda dtype: two_modes((0.5, 0.5), dtype)),
            "eight-gaussians": _mixture(lambda dtype: eight_gaussians(dtype)), "swiss-roll": _swiss_roll,
            "moons": _moons, "checkerboard": _checkerboard, "pinwheel": _pinwheel, "rings": _rings}


#: the fewest rows a file may hold: a fifth is held out for the metrics (k-NN needs more than k points)
MIN_ROWS = 50


def read_file(path, dtype="float64", log=None):
    """:func:`npscore.datafile.read_file`, naming the built-in sets where ``path`` does not exist."""
    try:
        return datafile.read_file(path, dtype, log)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc} (--data takes a built-in name, one of {', '.join(DATASETS)}, or a "
                                ".npy / .csv file of shape (N, D))") from None


def load(data, n, seed=0, dtype="float64", log=None):
    """``(x, mixture)``: ``n`` draws of a built-in set (and its density when it is a
    Gaussian mixture, else None), or the rows of a file (``n`` ignored; mixture None)."""
    if data in DATASETS:
        return DATASETS[data](checks.integer(n, "n"), backend.rng(seed, 1), dtype)
    return read_file(data, dtype, log), None


def standardization(x, data="--data"):
    """``(mean, scale)``: the mean row and the RMS distance to it (one scale for every coordinate,
    so that shapes are kept), for ``x`` read in float64; an error naming the data when all rows are one point."""
    xp = backend.xp()
    mean = x.mean(axis=0)
    scale = float(xp.sqrt(((x - mean) ** 2).sum(axis=1).mean()))
    if not scale > 0 or scale < 1e-12 * max(float(xp.abs(mean).max()), 1e-300):
        raise ValueError(f"{data}: all {x.shape[0]} rows are the same point; a score needs data with spread")
    return [float(v) for v in backend.to_numpy(mean)], scale
