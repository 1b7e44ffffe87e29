"""Tweedie's formula: the denoiser is the score (first report, section 7; Efron 2011).

Claim: for x = x_0 + sigma eps, eps ~ N(0, I),

    E[x_0 | x] = x + sigma^2 grad log p_sigma(x),

which is why annealed Langevin ends with the step x + sigma_L^2 s(x, sigma_L).
For a Gaussian mixture the posterior mean is written out here: component k
has posterior weight proportional to w_k N(x; mu_k, Sigma_k + sigma^2 I) and,
within it, mean mu_k + Sigma_k (Sigma_k + sigma^2 I)^{-1} (x - mu_k). The
right side uses npscore's ``GaussianMixture.noised(sigma).score``. They must
agree to 1e-10 at random points for several sigma; a Monte Carlo estimate of
E[x_0 | x] (near points, by importance weights) agrees within its error.
Broken, the score of the un-noised density p is used.
"""
import numpy as np

from npscore import backend
from npscore.densities import GaussianMixture
from proofs._report import Report, h


def posterior_mean(x, w, means, covs, sigma):
    """E[x_0 | x] for the mixture, from Bayes' rule component by component."""
    D = x.shape[1]
    logits, inner = [], []
    for wk, mk, Sk in zip(w, means, covs):
        C = Sk + sigma ** 2 * np.eye(D)
        Ci = np.linalg.inv(C)
        d = x - mk
        logits.append(np.log(wk) - 0.5 * ((d @ Ci) * d).sum(1) - 0.5 * np.log(np.linalg.det(2 * np.pi * C)))
        inner.append(mk + d @ Ci @ Sk)                   # mu_k + Sigma_k C^-1 (x - mu_k), Sigma_k symmetric
    L = np.stack(logits, 1)
    R = np.exp(L - L.max(1, keepdims=True))
    R /= R.sum(1, keepdims=True)
    return sum(R[:, k:k + 1] * inner[k] for k in range(len(w)))


def main(break_claim=False):
    r = Report("Tweedie's formula", "E[x_0 | x] = x + sigma^2 grad log p_sigma(x).")
    w = np.array([0.25, 0.45, 0.3])
    means = np.array([[-2.0, 0.0], [1.0, 1.5], [1.5, -1.0]])
    covs = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.5, -0.2], [-0.2, 0.4]], [[0.2, 0.0], [0.0, 0.6]]])
    mix = GaussianMixture(backend.asarray(w), backend.asarray(means), backend.asarray(covs))
    x = np.random.default_rng(0).uniform(-3, 3, (400, 2))
    rows, worst = [], 0.0
    for sigma in (2.0, 1.0, 0.5, 0.1, 0.01):
        density = mix if break_claim else mix.noised(sigma)
        tweedie = x + sigma ** 2 * h(density.score(backend.asarray(x)))
        exact = posterior_mean(x, w, means, covs, sigma)
        err = float(np.abs(tweedie - exact).max())
        worst = max(worst, err)
        rows.append([sigma, err])
    r.table(["sigma", "max |Tweedie - E[x0|x]|"], rows, fmt="{:>24}")
    r.check("Tweedie's denoiser equals the exact posterior mean at 400 points, 5 sigmas", worst < 1e-10,
            f"worst {worst:.1e}")

    # Monte Carlo: draw (x0, x), keep pairs with x near a point, average x0 (sigma = 0.5)
    sigma, n = 0.5, 400000
    rng = backend.rng(40)
    x0 = h(mix.sample(n, rng))
    xn = x0 + sigma * h(rng.normal((n, 2)))
    point = np.array([[0.5, 0.5]])
    near = np.linalg.norm(xn - point, axis=1) < 0.05
    mc = x0[near].mean(0)
    se = x0[near].std(0) / np.sqrt(near.sum())
    density = mix if break_claim else mix.noised(sigma)
    tw = (point + sigma ** 2 * h(density.score(backend.asarray(point))))[0]
    r.check("a Monte Carlo E[x0 | x near (0.5, 0.5)] agrees within 4 SE (+ 0.02 for the 0.05 window)",
            bool(np.all(np.abs(mc - tw) < 4 * se + 0.02)), f"MC {mc.round(3)}, Tweedie {tw.round(3)}, "
            f"{int(near.sum())} pairs")
    return r.done("the denoiser x + sigma^2 s(x) is the posterior mean of the clean point.")


if __name__ == "__main__":
    raise SystemExit(main())
