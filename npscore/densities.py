"""Closed-form densities whose score is known exactly: Gaussian and Gaussian mixture.

Each has ``log_prob(x)``, ``score(x) = grad_x log p(x)``, ``sample(n, rng)`` and
``noised(sigma)``: the density convolved with N(0, sigma^2 I), exact for both
(a Gaussian stays Gaussian with covariance ``Sigma + sigma^2 I``; a mixture
stays a mixture of such components). So the ESM of the noised density is
computable exactly and DSM can be compared with it (first report, sections
6-7). Arrays live on the active backend; ``x : (B, D)``.
"""
import math

from . import backend
from . import checks
from .linalg import softmax, squared_distances


def _factor(cov, argname):
    """Cholesky factor, precision and log-determinant of an SPD ``cov : (D, D)`` (its shape checked by the caller)."""
    xp = backend.xp()
    if not bool(xp.allclose(cov, cov.T)):
        raise ValueError(f"{argname} must be symmetric")
    L = xp.linalg.cholesky(cov)
    if not bool(xp.isfinite(L).all()):
        raise ValueError(f"{argname} must be positive definite")
    eye = xp.eye(cov.shape[0], dtype=cov.dtype)
    Linv = xp.linalg.solve(L, eye)
    return L, Linv.T @ Linv, 2.0 * xp.log(xp.diagonal(L)).sum()


class Gaussian:
    """N(mean, cov) in D dimensions.

    .. math:: log p(x) = -1/2 (x - mu)^T Sigma^{-1} (x - mu) - 1/2 log det(2 pi Sigma),
              grad_x log p(x) = -Sigma^{-1} (x - mu)

    Parameters: ``mean : (D,)``, ``cov : (D, D)`` symmetric positive definite.
    """

    def __init__(self, mean, cov):
        self.mean = checks.finite_float(mean, "mean")
        if self.mean.ndim != 1:
            raise ValueError(f"mean must have shape (D,); got {tuple(self.mean.shape)}")
        self.cov = checks.finite_float(cov, "cov").astype(self.mean.dtype)
        self.dim = self.mean.shape[0]
        if self.cov.shape != (self.dim, self.dim):
            raise ValueError(f"cov must have shape ({self.dim}, {self.dim}); got {tuple(self.cov.shape)}")
        try:
            self.chol, self.precision, self.logdet = _factor(self.cov, "cov")
        except Exception as exc:
            if isinstance(exc, ValueError) and "cov" in str(exc):
                raise
            raise ValueError("cov must be positive definite") from None

    @classmethod
    def fit(cls, x, jitter=0.0):
        """The maximum-likelihood Gaussian of ``x : (N, D)`` in float64 (the unbiased
        covariance), with ``jitter`` added to the diagonal of the covariance."""
        xp = backend.xp()
        x64 = checks.batch(x, None, "x").astype("float64")
        mu = x64.mean(axis=0)
        c = x64 - mu
        return cls(mu, c.T @ c / (x.shape[0] - 1) + jitter * xp.eye(x.shape[1]))

    def log_prob(self, x):
        """``log p(x) : (B,)`` for ``x : (B, D)``."""
        checks.batch(x, self.dim, "x")
        r = x - self.mean
        maha = ((r @ self.precision) * r).sum(axis=1)
        return -0.5 * (maha + self.logdet + self.dim * math.log(2 * math.pi))

    def score(self, x):
        """``grad_x log p(x) = -Sigma^{-1} (x - mu) : (B, D)``."""
        checks.batch(x, self.dim, "x")
        return -(x - self.mean) @ self.precision      # Sigma^{-1} is symmetric

    def score_divergence(self, x):
        """``tr(d score / dx) = -tr(Sigma^{-1}) : (B,)``."""
        return backend.xp().full((x.shape[0],), -backend.xp().trace(self.precision), dtype=x.dtype)

    def sample(self, n, rng):
        """``(n, D)`` draws ``mu + L z`` with ``Sigma = L L^T``, ``z ~ N(0, I)``."""
        z = rng.normal((checks.integer(n, "n"), self.dim), self.mean.dtype)
        return self.mean + z @ self.chol.T

    def noised(self, sigma, scale=1.0):
        """``N(scale mean, scale^2 cov + sigma^2 I)``, the law of ``scale x + sigma eps``: with
        ``scale = 1`` this density convolved with N(0, sigma^2 I)."""
        sigma = checks.non_negative(sigma, "sigma")
        xp = backend.xp()
        return Gaussian(scale * self.mean, scale * scale * self.cov + sigma ** 2 * xp.eye(self.dim, dtype=self.cov.dtype))

    def entropy(self):
        """Differential entropy 1/2 log det(2 pi e Sigma)."""
        return 0.5 * (backend.to_float(self.logdet) + self.dim * (1.0 + math.log(2 * math.pi)))


class GaussianMixture:
    """sum_k w_k N(mean_k, cov_k).

    .. math:: grad_x log p(x) = sum_k r_k(x) (-Sigma_k^{-1} (x - mu_k)),
              r_k(x) = w_k N_k(x) / sum_j w_j N_j(x)

    Parameters: ``weights : (K,)`` positive, summing to 1; ``means : (K, D)``;
    ``covs : (K, D, D)``, or ``(K,)`` / a scalar for isotropic components.
    """

    def __init__(self, weights, means, covs):
        xp = backend.xp()
        self.means = checks.finite_float(means, "means")
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape (K, D); got {tuple(self.means.shape)}")
        K, D = self.means.shape
        self.weights = checks.finite_float(weights, "weights").astype(self.means.dtype)
        if self.weights.shape != (K,):
            raise ValueError(f"weights must have shape ({K},); got {tuple(self.weights.shape)}")
        if not bool((self.weights > 0).all()) or abs(float(self.weights.sum()) - 1.0) > 1e-8:
            raise ValueError("weights must be positive and sum to 1")
        covs = checks.finite_float(covs, "covs").astype(self.means.dtype)
        if covs.ndim <= 1:
            covs = xp.broadcast_to(covs.reshape(-1, 1, 1), (K, 1, 1)) * xp.eye(D, dtype=covs.dtype)
        if covs.shape != (K, D, D):
            raise ValueError(f"covs must have shape ({K}, {D}, {D}), ({K},) or be a scalar; "
                             f"got {tuple(covs.shape)}")
        self.components = [Gaussian(self.means[k], covs[k]) for k in range(K)]
        self.covs = xp.stack([c.cov for c in self.components])
        self.dim, self.n_components = D, K

    def _log_joint(self, x):
        """``log w_k + log N_k(x)`` : (B, K)."""
        xp = backend.xp()
        return xp.stack([c.log_prob(x) for c in self.components], axis=1) + xp.log(self.weights)

    def log_prob(self, x):
        """``log sum_k w_k N_k(x) : (B,)``, by log-sum-exp."""
        lj = self._log_joint(x)
        m = lj.max(axis=1, keepdims=True)
        return (m + backend.xp().log(backend.xp().exp(lj - m).sum(axis=1, keepdims=True)))[:, 0]

    def responsibilities(self, x):
        """``r_k(x) : (B, K)``, the posterior probability of each component."""
        return softmax(self._log_joint(x))

    def component(self, x):
        """The most probable component of each point, ``(B,)`` ints."""
        return self.responsibilities(x).argmax(axis=1)

    def score(self, x):
        """``sum_k r_k(x) (-Sigma_k^{-1} (x - mu_k)) : (B, D)``."""
        r = self.responsibilities(x)
        return sum(r[:, k:k + 1] * c.score(x) for k, c in enumerate(self.components))

    def score_divergence(self, x):
        r"""``tr(d score / dx) : (B,)``: with ``s_k = -Sigma_k^{-1} (x - mu_k)`` and ``s = sum_k r_k s_k``,

        .. math:: \sum_k r_k (-\operatorname{tr} \Sigma_k^{-1} + \|s_k\|^2) - \|s\|^2.
        """
        r = self.responsibilities(x)
        terms = [c.score(x) for c in self.components]
        s = sum(r[:, k:k + 1] * sk for k, sk in enumerate(terms))
        return sum(r[:, k] * (c.score_divergence(x) + (sk * sk).sum(1))
                   for k, (c, sk) in enumerate(zip(self.components, terms))) - (s * s).sum(1)

    def sample(self, n, rng):
        """``(n, D)`` draws: a component k with probability w_k, then N(mu_k, Sigma_k)."""
        xp = backend.xp()
        n = checks.integer(n, "n")
        u = rng.uniform((n,), dtype=self.means.dtype)
        k = xp.searchsorted(xp.cumsum(self.weights)[:-1], u, side="right")
        z = rng.normal((n, self.dim), self.means.dtype)
        chols = xp.stack([c.chol for c in self.components])
        return self.means[k] + xp.einsum("nij,nj->ni", chols[k], z)

    def noised(self, sigma, scale=1.0):
        """The law of ``scale x + sigma eps`` for x from the mixture, ``eps ~ N(0, I)``: each component
        ``N(mu, Sigma)`` becomes ``N(scale mu, scale^2 Sigma + sigma^2 I)`` (an SDE's marginal p_t
        with ``(scale, sigma) = (m_t, sigma_t)``)."""
        sigma = checks.non_negative(sigma, "sigma")
        eye = backend.xp().eye(self.dim, dtype=self.covs.dtype)
        return GaussianMixture(self.weights, scale * self.means, scale * scale * self.covs + sigma ** 2 * eye)


def score_under(data, sde):
    """``score(x, sigma)`` of the exact p_t of ``data`` under ``sde``, at ``t = sde.time_of(sigma)``: the
    law of ``m x_0 + s eps`` for ``x_0 ~ data``, ``(m, s) = sde.transition(t)`` (``data.noised(s, m)``, exact
    for a :class:`Gaussian` or :class:`GaussianMixture`). The oracle the samplers and the likelihood are
    checked against; one sigma per call, as every sampler passes."""
    cache = {}

    def score(x, sigma):
        t = float(backend.to_numpy(sde.time_of(sigma[:1]))[0])
        if t not in cache:
            cache.clear()
            cache[t] = data.noised(*sde.transition(t)[::-1])
        return cache[t].score(x)
    return score


def two_modes(weights=(0.5, 0.5), dtype="float64"):
    """The notes' two-mode 2-D mixture (first report, section 8).

    Means (-1, -1) and (1, 1), isotropic std 0.25. ``weights=(0.2, 0.8)`` gives
    the unequal case on which plain Langevin gets the mode weights wrong.
    """
    dtype = backend.check_dtype(dtype)
    means = backend.asarray([[-1.0, -1.0], [1.0, 1.0]], dtype=dtype)
    return GaussianMixture(backend.asarray(weights, dtype=dtype), means,
                           backend.asarray([0.0625, 0.0625], dtype=dtype))


class NoisedEmpirical:
    """The empirical law of ``points`` convolved with ``N(0, sigma^2 I)``:
    ``p_sigma(y) = 1/N sum_i N(y; x_i, sigma^2 I)``, with the score

    .. math:: \\nabla \\log p_\\sigma(y) = \\sum_i r_i(y) (x_i - y) / \\sigma^2, \\qquad
              r_i \\propto \\exp(-\\|y - x_i\\|^2 / 2\\sigma^2),

    the score that denoising score matching on the training set targets at sigma
    (first report, section 7).

    Parameters
    ----------
    points : (N, D)
    sigma : float
    """

    def __init__(self, points, sigma):
        checks.batch(points, None, "points")
        self.points, self.sigma = points.astype("float64"), checks.positive(sigma, "sigma")

    def score(self, y, chunk=1024):
        """``grad log p_sigma(y) : (B, D)``."""
        xp, x, s2 = backend.xp(), self.points, self.sigma ** 2
        out = []
        for i in range(0, y.shape[0], chunk):
            yb = y[i:i + chunk].astype("float64")
            r = softmax(-0.5 * squared_distances(yb, x) / s2)
            out.append((r @ x - yb) / s2)
        return xp.concatenate(out).astype(y.dtype)

    def sample(self, n, rng):
        """``n`` draws: a uniformly chosen point plus ``sigma`` times standard noise."""
        idx = rng.integers(self.points.shape[0], (n,))
        return self.points[idx] + self.sigma * rng.normal((n, self.points.shape[1]), "float64")
