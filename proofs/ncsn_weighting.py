"""NCSN's weighted objective (first report, section 8 (b); second report, section 3.3).

Claim: the minimiser of the multi-level loss ``losses.ncsn`` is the noised
score at every level, and the weight lambda(sigma) = sigma^2 makes each
level's loss at the optimum O(1), independent of sigma, where the unweighted
loss grows like 1 / sigma^2 (Song and Ermon 2019).

For Gaussian data N(mu, Sigma) and the noise-conditional linear model
``NoiseConditionalMLP([D, D])`` (at one sigma, any affine score), everything
is closed form: the noised score is -(Sigma + sigma^2 I)^{-1} (x - mu), and
at the optimum

    sigma^2 * 1/2 E||s*(x~) + eps / sigma||^2 = 1/2 sum_j lambda_j / (lambda_j + sigma^2)  (<= D / 2)

with lambda_j the eigenvalues of Sigma. For each level, the argmin of
``losses.ncsn`` (all examples at that level, solved exactly from npscore's
gradients) is compared with ``Gaussian.noised(sigma)``, and its loss with the
closed form (within 4 standard errors), and every level's optimal loss is at
most D / 2 (+ 4 SE). Broken, the weight is sigma instead
of sigma^2: the optimal level losses then grow like 1 / sigma.
"""
import numpy as np

from npscore import backend, losses
from npscore.densities import Gaussian
from proofs import _linear
from proofs._report import Report, h

SIGMAS = (3.0, 1.0, 0.3, 0.1, 0.03, 0.01)


def main(break_claim=False, n=20000):
    r = Report("NCSN's weighting", "argmin of the multi-level loss = the noised score at every level; "
               "lambda(sigma) = sigma^2 makes each level's optimal loss O(1).")
    mu, S = np.array([0.5, -1.0]), np.array([[1.0, 0.4], [0.4, 0.5]])
    lam = np.linalg.eigvalsh(S)
    data = Gaussian(backend.asarray(mu), backend.asarray(S))
    x = data.sample(n, backend.rng(20))
    eps = backend.rng(21).normal(x.shape)
    model = _linear.conditional_model(2)
    template = model.init(0)
    rows, ok_fit, ok_val, ok_bound = [], True, True, True
    for i, sigma in enumerate(SIGMAS):
        labels = backend.xp().full((n,), i)

        def loss(p):
            return losses.ncsn(model, p, x, SIGMAS, noise=eps, labels=labels)
        params = _linear.argmin(lambda p: loss(p)[1], template)
        W, b = (h(a) for a in params[0])
        P_fit = -W[:2] / sigma                                   # s = (x W_x + b) / sigma
        P_true = h(data.noised(sigma).precision)
        fit_err = np.abs(P_fit - P_true).max() / np.abs(P_true).max()
        value = float(h(loss(params)[0]))
        weighted = value / sigma if break_claim else value      # lambda = sigma^2, or (broken) sigma
        closed = 0.5 * float((lam / (lam + sigma ** 2)).sum())
        s = h(model.apply(params, x + sigma * eps, sigma))
        per = 0.5 * sigma ** 2 * ((s + h(eps) / sigma) ** 2).sum(1)
        se = per.std() / np.sqrt(n)
        ok_fit &= fit_err * sigma < 0.01                          # DSM's target has std 1 / sigma
        ok_val &= abs(value - closed) < 4 * se + 1e-12
        ok_bound &= weighted <= 1.0 + 4 * se                      # D / 2 = 1
        rows.append([sigma, float(fit_err), weighted, closed, float(se), value / sigma ** 2])
    r.table(["sigma", "|P - P_sigma|", "weighted loss", "closed form", "std err", "unweighted"], rows)
    r.check("at every level the argmin is the noised score (relative error < 0.01 / sigma: DSM's "
            "target has std 1 / sigma, 20k samples)", ok_fit)
    r.check("each level's optimal loss matches 1/2 sum lambda_j / (lambda_j + sigma^2) within 4 SE", ok_val)
    r.check("with lambda = sigma^2 every level's optimal loss is O(1): at most D / 2 = 1 "
            f"(the unweighted loss grows {rows[-1][5] / rows[0][5]:.0f}x from sigma = 3 to 0.01)", ok_bound)
    return r.done("the multi-level loss learns the noised score at each level, and sigma^2 puts the levels "
                  "on one scale.")


if __name__ == "__main__":
    raise SystemExit(main())
