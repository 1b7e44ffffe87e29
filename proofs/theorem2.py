"""Theorem 2 (first report, section 5): argmin KL = argmin ESM for an accurate model.

1. Well specified: 2-D Gaussian data, the Gaussian family with free mean and
   full precision (the linear score model ``MLP([2, 2])``). The KL/NLL argmin is
   the sample mean and inverse sample covariance; the ESM argmin (solved
   exactly from ``npscore.losses.esm``'s gradients) is the same point up to
   Monte Carlo error (tolerance 0.05 in each parameter with 50k samples, many standard errors).
2. Well specified mixture: two components with free means +-a (1, 1); NLL and
   ESM (``losses.esm`` on the family's score) over a grid of a: same argmin.
3. Counterexample (misspecified): a mixture family with the right means, a
   free weight w and the wrong component variance (0.5 I), fitted to (0.2, 0.8)
   data: KL and ESM pick different weights.
   The assumption of the theorem matters. Broken, the assumption is turned
   round: the mixture of part 2 gets the wrong variance (misspecified, so its
   argmins part), and the family of part 3 the right one (so they meet). (A Gaussian family would not do:
   for it the ESM and KL argmins coincide for any data, since
   E[x s_p(x)^T] = -I and E[s_p] = 0; Hyvarinen 2005.)
"""
import numpy as np

from npscore import backend, losses
from npscore.densities import GaussianMixture, two_modes
from proofs import _linear
from proofs._report import Report, h


def main(break_claim=False, n=50000):
    r = Report("Theorem 2: argmin KL = argmin ESM (accurate model)",
               "For a well-specified family both objectives pick the true parameter; not otherwise.")
    mu, S = np.array([1.0, -1.0]), np.array([[1.0, -0.4], [-0.4, 0.6]])
    x = np.random.default_rng(0).multivariate_normal(mu, S, size=n)
    P = np.linalg.inv(S)
    m_kl, P_kl = x.mean(0), np.linalg.inv(np.cov(x.T, bias=True))
    lin, xd = _linear.model(2), backend.asarray(x)
    true_score = lambda y: -(y - backend.asarray(mu)) @ backend.asarray(P)      # noqa: E731
    params = _linear.argmin(lambda p: losses.esm(lin, p, xd, true_score)[1], _linear.params_of(np.zeros(2), np.eye(2)))
    grads = losses.esm(lin, params, xd, true_score)[1]
    m_esm, P_esm = _linear.gaussian_of(params)
    r.table(["", "m_1", "m_2", "P_11", "P_12", "P_22"], [
        ["truth", *map(float, mu), float(P[0, 0]), float(P[0, 1]), float(P[1, 1])],
        ["argmin KL", *map(float, m_kl), float(P_kl[0, 0]), float(P_kl[0, 1]), float(P_kl[1, 1])],
        ["argmin ESM", *map(float, m_esm), float(P_esm[0, 0]), float(P_esm[0, 1]), float(P_esm[1, 1])]])
    r.check("the ESM fit is a stationary point of npscore's esm",
            max(float(np.abs(h(g)).max()) for g in grads[0]) < 1e-8)
    gap = max(np.abs(m_kl - m_esm).max(), np.abs(P_kl - P_esm).max())
    r.check("Gaussian family: argmin KL = argmin ESM (within 0.05)", gap < 0.05, f"max gap {gap:.4f}")

    data = two_modes((0.3, 0.7))
    xs = data.sample(20000, backend.rng(1))
    grid = np.linspace(0.6, 1.4, 41)
    nll, esm = [], []
    for a in grid:
        fam = GaussianMixture(data.weights, backend.asarray([[-a, -a], [a, a]]), 0.5 if break_claim else data.covs)
        nll.append(-h(fam.log_prob(xs)).mean())
        esm.append(float(h(_esm_of_family(fam, data, xs))))
    i, j = int(np.argmin(nll)), int(np.argmin(esm))
    r.table(["a", "NLL", "ESM"], [[float(grid[k]), float(nll[k]), float(esm[k])] for k in range(0, 41, 8)])
    r.check("mixture with free means: same argmin on the grid (truth a = 1)", i == j and abs(grid[i] - 1) < 0.03,
            f"NLL: a = {grid[i]:.2f}, ESM: a = {grid[j]:.2f}")

    # counterexample: the mixture family with the right means, a free weight w
    # and the wrong component variance (0.5 I, truth 0.0625 I), on (0.2, 0.8) data
    data = two_modes((0.2, 0.8))
    xs = data.sample(20000, backend.rng(3))
    grid = np.linspace(0.05, 0.95, 181)
    nll, esm = [], []
    for a in grid:
        fam = GaussianMixture(backend.asarray([a, 1 - a]), data.means, data.covs if break_claim else 0.5)
        nll.append(-h(fam.log_prob(xs)).mean())
        esm.append(float(h(_esm_of_family(fam, data, xs))))
    a_kl, a_esm = float(grid[int(np.argmin(nll))]), float(grid[int(np.argmin(esm))])
    r.table(["objective", "argmin w"], [["KL / NLL", a_kl], ["ESM", a_esm]])
    r.check("misspecified family: the argmins differ (the theorem's assumption matters)",
            abs(a_kl - a_esm) > 0.05, f"KL w = {a_kl:.3f}, ESM w = {a_esm:.3f}, true w = 0.2")
    return r.done("well specified: KL and ESM share their minimiser; misspecified: they need not.")


def _esm_of_family(fam, data, xs):
    """ESM of a fixed-parameter density family member: mean 1/2 ||score_fam - score_data||^2."""
    d = fam.score(xs) - data.score(xs)
    return 0.5 * (d * d).sum(1).mean()


if __name__ == "__main__":
    raise SystemExit(main())
