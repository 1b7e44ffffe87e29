"""Sample-quality metrics: energy distance, mode fractions, score error.

(The MNIST classifier metrics are in :mod:`npscore.classifier`.)
"""
from . import backend
from .nn import check_batch


def _mean_pairwise_distance(x, y, chunk=2048):
    xp = backend.xp()
    total = 0.0
    for i in range(0, x.shape[0], chunk):
        a = x[i:i + chunk]
        d2 = (a * a).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * a @ y.T
        total += backend.to_float(xp.sqrt(xp.maximum(d2, 0.0)).sum())
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x, y):
    """The (squared) energy distance of Szekely and Rizzo.

    .. math:: E = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||

    (V-statistic: the self-distance terms include the zero diagonal.) It is
    zero only when the two laws agree; compare with the same statistic between
    two fresh data sets of the same size (the floor).
    """
    check_batch(x, x.shape[1] if getattr(x, "ndim", 0) == 2 else -1, "x")
    check_batch(y, x.shape[1], "y")
    x, y = x.astype("float64"), y.astype("float64")
    return 2.0 * _mean_pairwise_distance(x, y) - _mean_pairwise_distance(x, x) - _mean_pairwise_distance(y, y)


def mode_fractions(mixture, x):
    """Fraction of the points of ``x`` whose most probable component is k, for each k."""
    xp = backend.xp()
    comp = mixture.component(x)
    return [backend.to_float(xp.mean(comp == k)) for k in range(mixture.n_components)]


def score_mse(score, exact_score, x):
    """``(mean ||s(x) - s*(x)||^2, mean ||s*(x)||^2)`` over the rows of ``x``."""
    s, t = score(x), exact_score(x)
    return backend.to_float(((s - t) ** 2).sum(1).mean()), backend.to_float((t * t).sum(1).mean())
