"""Sample-quality metrics: energy distance and its floor, k-nearest-neighbour
precision and recall, mode fractions, score error, and the Frechet distance of
two Gaussians (classifier-FID's core); the bias of DSM against a known score and the noise of a
stochastic gradient (first report, section 8, "My Question 1")."""
import time

from . import backend, checks
from .linalg import squared_distances
from .tree import tree_leaves


def _mean_pairwise_distance(x, y, chunk=2048):
    xp = backend.xp()
    total = 0.0
    for i in range(0, x.shape[0], chunk):
        a = x[i:i + chunk]
        total += backend.to_float(xp.sqrt(squared_distances(a, y)).sum())
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x, y):
    """The squared energy distance of Szekely and Rizzo (a V-statistic).

    .. math:: E = 2 E\\|X - Y\\| - E\\|X - X'\\| - E\\|Y - Y'\\|

    It is zero only when the two laws agree; read it against
    :func:`energy_floor`, the same statistic between draws of the data itself.

    Parameters
    ----------
    x : (N, D)
    y : (M, D)

    Returns
    -------
    float
    """
    checks.batch(x, None, "x")
    checks.batch(y, x.shape[1], "y")
    x, y = x.astype("float64"), y.astype("float64")
    return 2.0 * _mean_pairwise_distance(x, y) - _mean_pairwise_distance(x, x) - _mean_pairwise_distance(y, y)


def energy_floor(sample, n, rng, draws=20):
    """Mean and standard deviation of :func:`energy_distance` between independent
    pairs of ``n`` draws of ``sample(n, rng)``: what a perfect sampler scores.

    Returns
    -------
    (float, float)
    """
    np = backend.host
    vals = np.array([energy_distance(sample(n, rng), sample(n, rng)) for _ in range(checks.integer(draws, "draws"))])
    return float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0


def _knn_radii(x, k, chunk=2048):
    """Each row's squared distance to its k-th nearest other row of ``x``."""
    xp = backend.xp()
    out = []
    for i in range(0, x.shape[0], chunk):
        d2 = squared_distances(x[i:i + chunk], x)
        out.append(xp.partition(d2, k, axis=1)[:, k])       # index 0 is the row itself (distance 0)
    return xp.concatenate(out)


def _covered(y, x, radii, chunk=2048):
    """The fraction of rows of ``y`` inside the ball ``||y - x_i||^2 <= radii_i`` of some row of ``x``."""
    inside = 0
    for i in range(0, y.shape[0], chunk):
        inside += int((squared_distances(y[i:i + chunk], x) <= radii[None, :]).any(axis=1).sum())
    return inside / y.shape[0]


def precision_recall(samples, data, k=5):
    """k-nearest-neighbour precision and recall (Kynkaanniemi et al. 2019).

    The data's manifold is the union of the balls around each data point of
    radius its distance to its k-th nearest other data point; precision is the
    fraction of samples inside it. Recall is the reverse: the fraction of data
    points inside the samples' manifold. A blurred model spills outside the
    data (low precision); a collapsed one misses part of it (low recall).
    Read both against their floor, data against data (:func:`precision_recall_floor`),
    and recall only beside precision: samples scattered far beyond the data have
    huge k-NN balls, which cover every data point (precision near 0, recall near 1).

    Parameters
    ----------
    samples : (N, D)
    data : (M, D)
    k : int
        ``1 <= k < min(N, M)``.

    Returns
    -------
    (float, float)
        ``(precision, recall)``, each in [0, 1].
    """
    checks.batch(samples, None, "samples")
    checks.batch(data, samples.shape[1], "data")
    k = checks.integer(k, "k")
    if k >= min(samples.shape[0], data.shape[0]):
        raise ValueError(f"k must be below the number of samples and of data points, "
                         f"{min(samples.shape[0], data.shape[0])}; got {k}")
    x, y = samples.astype("float64"), data.astype("float64")
    return _covered(x, y, _knn_radii(y, k)), _covered(y, x, _knn_radii(x, k))


def precision_recall_floor(sample, n, rng, k=5, draws=5):
    """Mean precision and recall of independent pairs of ``n`` draws of ``sample(n, rng)``:
    what a perfect sampler scores.

    Returns
    -------
    (float, float)
    """
    vals = [precision_recall(sample(n, rng), sample(n, rng), k) for _ in range(checks.integer(draws, "draws"))]
    return sum(v[0] for v in vals) / len(vals), sum(v[1] for v in vals) / len(vals)


def mode_fractions(mixture, x):
    """The fraction of the rows of ``x`` whose most probable component is k, for each k.

    Returns
    -------
    list of float
    """
    xp = backend.xp()
    comp = mixture.component(x)
    return [backend.to_float(xp.mean(comp == k)) for k in range(mixture.n_components)]


def score_mse(score, exact_score, x):
    """``(mean ||s(x) - s*(x)||^2, mean ||s*(x)||^2)`` over the rows of ``x``."""
    s, t = score(x), exact_score(x)
    return backend.to_float(((s - t) ** 2).sum(1).mean()), backend.to_float((t * t).sum(1).mean())


def frechet_distance(mu1, s1, mu2, s2):
    """The Frechet (2-Wasserstein) distance squared of N(mu1, S1) and N(mu2, S2).

    .. math:: \\|\\mu_1 - \\mu_2\\|^2 + \\operatorname{tr}(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})

    Parameters
    ----------
    mu1, mu2 : (D,) host arrays
    s1, s2 : (D, D) host arrays, symmetric positive semi-definite

    Returns
    -------
    float
    """
    np = backend.host

    def sqrtm_psd(a):
        w, v = np.linalg.eigh((a + a.T) / 2)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r1 = sqrtm_psd(s1)
    cross = sqrtm_psd(r1 @ s2 @ r1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def _flat(grads):
    """A gradient tree as one host vector."""
    return backend.host.concatenate([backend.to_numpy(g).ravel() for g in tree_leaves(grads)])


def gradient_noise(draw, draws):
    """The spread of a stochastic gradient over repeated draws of its noise (projections, eps).

    For ``draw(k) -> (value, grads)`` over ``k < draws``: the relative variance
    ``tr Cov(g) / |E g|^2``, the largest difference from the first draw's gradient (0 for an
    estimator with no noise, such as exact ISM), seconds per call, and ``tr Cov(g)``."""
    t = time.perf_counter()
    gs = backend.host.stack([_flat(draw(k)[1]) for k in range(draws)])
    seconds = (time.perf_counter() - t) / draws
    mean = gs.mean(0)
    var = gs.var(0, ddof=1).sum()
    return float(var / (mean @ mean)), float(abs(gs - gs[0]).max()), seconds, float(var)


def dsm_bias(data, sigmas, n=20000, seed=5):
    """``E_p ||grad log p_sigma - grad log p||^2 / E_p ||grad log p||^2`` for each sigma: exact for a
    known density, since DSM's minimiser is the score of p_sigma, not of p."""
    xs = data.sample(n, backend.rng(seed))
    ref = data.score(xs)
    scale = float(backend.to_numpy((ref * ref).sum(1).mean()))
    out = []
    for sigma in sigmas:
        d = data.noised(sigma).score(xs) - ref
        out.append(float(backend.to_numpy((d * d).sum(1).mean())) / scale)
    return out
