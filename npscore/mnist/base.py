"""The densities fitted to the MNIST training images, pixel by pixel and as a whole.

:class:`FactorizedMixture` is the per-pixel base of the MNIST score model
(:mod:`npscore.mnist.model`): a product over pixels of 1-D Gaussian mixtures,
whose exact noised score gives blank and saturated pixels their exact pull at
every sigma. :func:`gaussian_fit_samples` draws from the full-covariance
Gaussian fit, the baseline every MNIST number is read against.
"""
import math

from .. import backend, checks, fused
from ..densities import Gaussian

#: Gaussians of the base between the atoms at 0 and 1
BINS = 3


def data_base(x):
    """The MNIST base of ``x : (N, 784)``: per pixel, the mass at exactly 0, at
    exactly 1, and a Gaussian for the values in each of :data:`BINS` equal
    parts of (0, 1) (:meth:`FactorizedMixture.fit_atoms`), in ``x``'s dtype."""
    b = FactorizedMixture.fit_atoms(x, atoms=(0.0, 1.0), bins=BINS)
    return FactorizedMixture(*(a.astype(x.dtype) for a in (b.weights, b.means, b.variances)))


def gaussian_fit_samples(x, n, rng):
    """``(n, D)`` draws of ``N(mean, cov)`` fitted to ``x : (N, D)`` (full covariance, 1e-4 jitter)."""
    return Gaussian.fit(x, 1e-4).sample(n, rng).astype(x.dtype)


class FactorizedMixture:
    """A product of independent 1-D Gaussian mixtures, one per dimension.

    .. math:: p(x) = prod_d sum_k w_dk N(x_d; mu_dk, v_dk)

    ``weights, means, variances : (D, K)``; a variance may be 0 (a point mass),
    which is fine once noised. :meth:`noised_score` gives the exact score of
    p convolved with N(0, sigma^2 I) for a per-example ``sigma : (B,)``:

    .. math:: s_d(x) = sum_k r_dk(x) (-(x_d - mu_dk) / (v_dk + sigma^2))

    Parameters
    ----------
    weights, means, variances : (D, K) arrays
        Rows of ``weights`` positive and summing to 1; variances >= 0.
    """

    def __init__(self, weights, means, variances):
        xp = backend.xp()
        self.weights = checks.finite_float(weights, "weights")
        self.means = checks.finite_float(means, "means").astype(self.weights.dtype)
        self.variances = checks.finite_float(variances, "variances").astype(self.weights.dtype)
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
        """``(r, a, var, s)``: per component k, ``(B, D)`` arrays, the responsibilities r_k of the
        noised density, the slopes a_k = -(x - mu_k) / var_k and var_k = v_k + sigma^2; and the
        noised score ``s = sum_k r_k a_k`` (:meth:`components`, then :meth:`mix`).

        ``offsets``: ``K - 1`` arrays ``(B, D)`` added to the log-weights of
        components ``0 .. K-2`` (the last one's offset is 0), i.e. the weights
        ``w_dk exp(u_dk)``, renormalised: the gated model's context-dependent
        reweighting (:class:`npscore.mnist.model.GatedScore`).
        """
        logs, a, var = self.components(x, sigma)
        r, s = self.mix(logs, a, offsets)
        return r, a, var, s

    def components(self, x, sigma):
        """``(l, a, var)``: per component k, ``(B, D)`` arrays, the log-terms
        ``l_k = log w_k - log(var_k) / 2 - (x - mu_k)^2 / (2 var_k)`` of the noised density,
        the slopes ``a_k`` and ``var_k``: the part of :meth:`terms` that does not depend on
        the offsets. (A loop over the few components: NumPy reduces a short last axis slowly.)
        On CuPy, one kernel of the same formulas (:func:`npscore.fused.components`)."""
        xp = backend.xp()
        s2 = (sigma * sigma)[:, None]
        logw = xp.log(self.weights.astype(x.dtype))
        if fused.enabled() and s2.dtype == x.dtype:                      # (the kernel takes one dtype)
            return fused.components(x, s2, logw, self.means.astype(x.dtype), self.variances.astype(x.dtype))
        logs, slopes, variances = [], [], []
        for k in range(self.weights.shape[1]):
            var = self.variances[:, k].astype(x.dtype) + s2
            d = x - self.means[:, k].astype(x.dtype)
            logs.append(logw[:, k] - 0.5 * xp.log(var) - 0.5 * d * d / var)
            slopes.append(-d / var)
            variances.append(var)
        return logs, slopes, variances

    def mix(self, logs, a, offsets=None):
        """``(r, s)``: ``r_k = softmax_k(l_k + u_k)`` (``u_{K-1} = 0``) and ``s = sum_k r_k a_k``,
        for the ``l = logs, a`` of :meth:`components` and the ``offsets`` ``u`` of :meth:`terms`.
        Responsibilities below ``exp(0.7 log tiny)`` of the largest are raised to it (1e-27 in
        float32), which keeps them out of the slow subnormal range. On CuPy, one kernel of the same
        formulas (:func:`npscore.fused.mix`)."""
        xp, K = backend.xp(), self.weights.shape[1]
        if offsets is not None and len(offsets) != K - 1:
            raise ValueError(f"offsets must hold K - 1 = {K - 1} arrays; got {len(offsets)}")
        dtype = xp.result_type(logs[0], offsets[0]) if offsets else logs[0].dtype      # the logits'
        floor = 0.7 * math.log(float(xp.finfo(dtype).tiny))
        if fused.enabled() and len({t.dtype for t in [*logs, *a, *(offsets or [])]}) == 1:
            return fused.mix(logs, a, offsets, floor)
        logits = [lk if offsets is None or k == K - 1 else lk + offsets[k] for k, lk in enumerate(logs)]
        top = logits[0]
        for lk in logits[1:]:
            top = xp.maximum(top, lk)
        e = [xp.exp(xp.maximum(lk - top, floor)) for lk in logits]
        total = sum(e)
        r = [ek / total for ek in e]
        return r, sum(rk * ak for rk, ak in zip(r, a))

    def noised_score(self, x, sigma, offsets=None):
        """``(B, D)``: the score of this density noised to ``sigma : (B,)`` (all > 0),
        ``s_d = sum_k r_dk a_dk`` (with ``offsets``: of the reweighted density, see :meth:`terms`)."""
        return self.terms(x, sigma, offsets)[3]

    def noised_score_dx(self, x, sigma, offsets=None):
        """``(B, D)``: the diagonal of d(noised score)/dx (off-diagonal terms are 0;
        with ``offsets``, holding them fixed).

        ``d s_d / d x_d = sum_k r_k (-1 / var_k) + sum_k r_k a_k^2 - (sum_k r_k a_k)^2``
        with ``a_k = -(x_d - mu_k) / var_k``.
        """
        return self.score_dx(*self.terms(x, sigma, offsets))

    @staticmethod
    def score_dx(r, a, var, s):
        """:meth:`noised_score_dx` from the ``(r, a, var, s)`` of :meth:`terms`."""
        return sum(rk * (ak * ak - 1.0 / vk) for rk, ak, vk in zip(r, a, var)) - s * s

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
        checks.integer(bins, "bins")
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
        """``{"weights", "means", "variances"}`` as nested lists (for a JSON config)."""
        return {k: backend.to_numpy(getattr(self, k)).tolist() for k in ("weights", "means", "variances")}

    @classmethod
    def from_lists(cls, d, dtype="float32"):
        """The inverse of :meth:`to_lists`."""
        return cls(*(backend.asarray(d[k], dtype=dtype) for k in ("weights", "means", "variances")))
