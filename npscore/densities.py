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
from .nn import check_batch


def _as_float(a, argname):
    a = backend.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype("float64")
    if not bool(backend.xp().isfinite(a).all()):
        raise ValueError(f"{argname} contains NaN or inf")
    return a


def _factor(cov, argname):
    """Cholesky factor, precision and log-determinant of an SPD ``cov : (D, D)``."""
    xp = backend.xp()
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{argname} must be a square (D, D) matrix; got shape {tuple(cov.shape)}")
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
        self.mean = _as_float(mean, "mean")
        if self.mean.ndim != 1:
            raise ValueError(f"mean must have shape (D,); got {tuple(self.mean.shape)}")
        self.cov = _as_float(cov, "cov").astype(self.mean.dtype)
        self.dim = self.mean.shape[0]
        if self.cov.shape != (self.dim, self.dim):
            raise ValueError(f"cov must have shape ({self.dim}, {self.dim}); got {tuple(self.cov.shape)}")
        try:
            self.chol, self.precision, self.logdet = _factor(self.cov, "cov")
        except Exception as exc:
            if isinstance(exc, ValueError) and "cov" in str(exc):
                raise
            raise ValueError("cov must be positive definite") from None

    def log_prob(self, x):
        check_batch(x, self.dim)
        r = x - self.mean
        maha = ((r @ self.precision) * r).sum(axis=1)
        return -0.5 * (maha + self.logdet + self.dim * math.log(2 * math.pi))

    def score(self, x):
        check_batch(x, self.dim)
        return -(x - self.mean) @ self.precision      # Sigma^{-1} is symmetric

    def sample(self, n, rng):
        z = rng.normal((int(n), self.dim), self.mean.dtype)
        return self.mean + z @ self.chol.T

    def noised(self, sigma):
        """N(mean, cov + sigma^2 I): this density convolved with N(0, sigma^2 I)."""
        sigma = _check_noise(sigma)
        xp = backend.xp()
        return Gaussian(self.mean, self.cov + sigma ** 2 * xp.eye(self.dim, dtype=self.cov.dtype))

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
        self.means = _as_float(means, "means")
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape (K, D); got {tuple(self.means.shape)}")
        K, D = self.means.shape
        self.weights = _as_float(weights, "weights").astype(self.means.dtype)
        if self.weights.shape != (K,):
            raise ValueError(f"weights must have shape ({K},); got {tuple(self.weights.shape)}")
        if not bool((self.weights > 0).all()) or abs(float(self.weights.sum()) - 1.0) > 1e-8:
            raise ValueError("weights must be positive and sum to 1")
        covs = _as_float(covs, "covs").astype(self.means.dtype)
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
        lj = self._log_joint(x)
        m = lj.max(axis=1, keepdims=True)
        return (m + backend.xp().log(backend.xp().exp(lj - m).sum(axis=1, keepdims=True)))[:, 0]

    def responsibilities(self, x):
        """``r_k(x) : (B, K)``, the posterior probability of each component."""
        lj = self._log_joint(x)
        e = backend.xp().exp(lj - lj.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def component(self, x):
        """The most probable component of each point, ``(B,)`` ints."""
        return self.responsibilities(x).argmax(axis=1)

    def score(self, x):
        r = self.responsibilities(x)
        return sum(r[:, k:k + 1] * c.score(x) for k, c in enumerate(self.components))

    def sample(self, n, rng):
        xp = backend.xp()
        n = int(n)
        u = rng.uniform((n,), dtype=self.means.dtype)
        k = xp.searchsorted(xp.cumsum(self.weights)[:-1], u, side="right")
        z = rng.normal((n, self.dim), self.means.dtype)
        chols = xp.stack([c.chol for c in self.components])
        return self.means[k] + xp.einsum("nij,nj->ni", chols[k], z)

    def noised(self, sigma):
        """The mixture convolved with N(0, sigma^2 I): each cov gains sigma^2 I."""
        sigma = _check_noise(sigma)
        eye = backend.xp().eye(self.dim, dtype=self.covs.dtype)
        return GaussianMixture(self.weights, self.means, self.covs + sigma ** 2 * eye)


def _check_noise(sigma):
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise TypeError(f"sigma must be a number; got {sigma!r}") from None
    if not s >= 0 or s == float("inf"):
        raise ValueError(f"sigma must be non-negative and finite; got {sigma!r}")
    return s


def two_modes(weights=(0.5, 0.5), dtype="float64"):
    """The notes' two-mode 2-D mixture (first report, section 8).

    Means (-1, -1) and (1, 1), isotropic std 0.25. ``weights=(0.2, 0.8)`` gives
    the unequal case on which plain Langevin gets the mode weights wrong.
    """
    dtype = backend.check_dtype(dtype)
    means = backend.asarray([[-1.0, -1.0], [1.0, 1.0]], dtype=dtype)
    return GaussianMixture(backend.asarray(weights, dtype=dtype), means,
                           backend.asarray([0.0625, 0.0625], dtype=dtype))


class FactorizedMixture:
    """A product of independent 1-D Gaussian mixtures, one per dimension.

    .. math:: p(x) = prod_d sum_k w_dk N(x_d; mu_dk, v_dk)

    ``weights, means, variances : (D, K)``; a variance may be 0 (a point mass),
    which is fine once noised. :meth:`noised_score` gives the exact score of
    p convolved with N(0, sigma^2 I) for a per-example ``sigma : (B,)``:

    .. math:: s_d(x) = sum_k r_dk(x) (-(x_d - mu_dk) / (v_dk + sigma^2))

    Used as the base of a noise-conditional score model
    (:class:`npscore.nn.NoiseConditionalMLP`): fitted to MNIST's pixels (an
    atom at 0, an atom at 1 and a Gaussian between), it gives the blank and
    saturated pixels their exact score at every sigma.
    """

    def __init__(self, weights, means, variances):
        xp = backend.xp()
        self.weights = _as_float(weights, "weights")
        self.means = _as_float(means, "means").astype(self.weights.dtype)
        self.variances = _as_float(variances, "variances").astype(self.weights.dtype)
        if self.weights.ndim != 2 or self.means.shape != self.weights.shape or \
                self.variances.shape != self.weights.shape:
            raise ValueError("weights, means and variances must share one (D, K) shape; got "
                             f"{tuple(self.weights.shape)}, {tuple(self.means.shape)}, {tuple(self.variances.shape)}")
        if not bool((self.weights > 0).all()) or not bool(xp.allclose(self.weights.sum(1), 1.0)):
            raise ValueError("weights must be positive and each row must sum to 1")
        if not bool((self.variances >= 0).all()):
            raise ValueError("variances must be >= 0")
        self.dim = self.weights.shape[0]

    def terms(self, x, sigma, offsets=None):
        """Per component k, ``(B, D)`` arrays: the responsibilities r_k of the noised
        density, the slopes a_k = -(x - mu_k) / var_k and var_k = v_k + sigma^2.

        ``offsets``: ``K - 1`` arrays ``(B, D)`` added to the log-weights of
        components ``0 .. K-2`` (the last one's offset is 0), i.e. the weights
        ``w_dk exp(u_dk)``, renormalised: a gated model's context-dependent
        reweighting (:class:`npscore.nn.NoiseConditionalMLP`, ``gated=True``).
        Responsibilities below ``exp(0.7 log tiny)`` of the largest are raised to
        it (1e-27 in float32): subnormal floats made a float32 MNIST step 2x slower.
        (A loop over the few components: NumPy reduces a short last axis slowly.)
        """
        xp = backend.xp()
        K = self.weights.shape[1]
        if offsets is not None and len(offsets) != K - 1:
            raise ValueError(f"offsets must hold K - 1 = {K - 1} arrays; got {len(offsets)}")
        s2 = (sigma * sigma)[:, None]
        logw = xp.log(self.weights.astype(x.dtype))
        logits, slopes, variances = [], [], []
        for k in range(K):
            var = self.variances[:, k].astype(x.dtype) + s2
            d = x - self.means[:, k].astype(x.dtype)
            lk = logw[:, k] - 0.5 * xp.log(var) - 0.5 * d * d / var
            logits.append(lk if offsets is None or k == K - 1 else lk + offsets[k])
            slopes.append(-d / var)
            variances.append(var)
        top = logits[0]
        for lk in logits[1:]:
            top = xp.maximum(top, lk)
        floor = 0.7 * math.log(float(xp.finfo(x.dtype).tiny))
        e = [xp.exp(xp.maximum(lk - top, floor)) for lk in logits]
        total = sum(e)
        return [ek / total for ek in e], slopes, variances

    def noised_score(self, x, sigma, offsets=None):
        """``(B, D)``: the score of this density noised to ``sigma : (B,)`` (all > 0),
        ``s_d = sum_k r_dk a_dk`` (with ``offsets``: of the reweighted density, see :meth:`terms`)."""
        r, a, _ = self.terms(x, sigma, offsets)
        return sum(rk * ak for rk, ak in zip(r, a))

    def noised_score_dx(self, x, sigma, offsets=None):
        """``(B, D)``: the diagonal of d(noised score)/dx (off-diagonal terms are 0;
        with ``offsets``, holding them fixed).

        ``d s_d / d x_d = sum_k r_k (-1 / var_k) + sum_k r_k a_k^2 - (sum_k r_k a_k)^2``
        with ``a_k = -(x_d - mu_k) / var_k``.
        """
        r, a, var = self.terms(x, sigma, offsets)
        m = sum(rk * ak for rk, ak in zip(r, a))
        return sum(rk * (ak * ak - 1.0 / vk) for rk, ak, vk in zip(r, a, var)) - m * m

    def sample(self, n, rng, dtype="float64"):
        """``(n, D)`` draws: per dimension a component k with probability w_dk, then
        N(mu_dk, v_dk) (exactly mu_dk for an atom)."""
        xp = backend.xp()
        u = rng.uniform((n, self.dim), dtype=dtype)
        k = (u[:, :, None] > xp.cumsum(self.weights, axis=1)[None, :, :-1].astype(dtype)).sum(axis=2)
        d = xp.arange(self.dim)[None, :]
        std = xp.sqrt(self.variances[d, k]).astype(dtype)
        return self.means[d, k].astype(dtype) + std * rng.normal((n, self.dim), dtype)

    @classmethod
    def fit_atoms(cls, x, atoms=(0.0, 1.0), bins=1, floor=1e-4, weight_floor=1e-6):
        """Per dimension: the mass exactly at each atom (variance 0) and, for the
        remaining values, one Gaussian (mean, variance >= ``floor``) per each of
        ``bins`` equal-width intervals of [min(atoms), max(atoms)]; weights
        floored at ``weight_floor``. An empty interval gets its centre and the
        variance of a uniform over it. Components: the atoms, then the bins."""
        xp = backend.xp()
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be an int >= 1; got {bins!r}")
        x = x.astype("float64")
        parts_w, parts_m, parts_v = [], [], []
        rest = xp.ones(x.shape, dtype=bool)
        for a in atoms:
            hit = x == a
            rest &= ~hit
            parts_w.append(hit.mean(axis=0))
            parts_m.append(xp.full((x.shape[1],), a))
            parts_v.append(xp.zeros((x.shape[1],)))
        lo, hi = (min(atoms), max(atoms)) if len(atoms) > 1 else (0.0, 1.0)
        width = (hi - lo) / bins
        j = xp.clip(xp.floor((x - lo) / width), 0, bins - 1)
        for b in range(bins):
            inb = rest & (j == b)
            n = inb.sum(axis=0)
            centre = lo + (b + 0.5) * width
            mean = xp.where(n > 0, (x * inb).sum(axis=0) / xp.maximum(n, 1), centre)
            var = xp.where(n > 1, (((x - mean) * inb) ** 2).sum(axis=0) / xp.maximum(n - 1, 1),
                           width ** 2 / 12 if bins > 1 else 0.1)
            parts_w.append(n / x.shape[0])
            parts_m.append(mean)
            parts_v.append(xp.maximum(var, floor))
        w = xp.maximum(xp.stack(parts_w, axis=1), weight_floor)
        return cls(w / w.sum(axis=1, keepdims=True), xp.stack(parts_m, axis=1), xp.stack(parts_v, axis=1))

    def to_lists(self):
        return {k: backend.to_numpy(getattr(self, k)).tolist() for k in ("weights", "means", "variances")}

    @classmethod
    def from_lists(cls, d, dtype="float32"):
        return cls(*(backend.asarray(d[k], dtype=dtype) for k in ("weights", "means", "variances")))
