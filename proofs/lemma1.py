"""Lemma 1 (first report, section 5): f - g = K a.e.  <=>  grad f = grad g a.e.

1. log p (a two-mode mixture, ``npscore.densities``) and log q = log p + c,
   with q built independently as a mixture whose weights are scaled by e^c and
   differentiated by autograd: the gradients agree and the difference is the
   constant c on random points.
2. A pair whose gradients differ (one mean moved): the difference of the log
   densities is not constant.
3. Normalisation: an unnormalised q = Z p has the score of p, and
   log q - log p = log Z exactly, which is why a score model never sees Z.
"""
import numpy as np

from npscore import backend, reference
from npscore.densities import two_modes
from proofs._report import Report, h


def main(break_claim=False):
    r = Report("Lemma 1", "Two functions differ by a constant iff their gradients agree.")
    p = two_modes((0.3, 0.7))
    w, means, covs = h(p.weights), h(p.means), h(p.covs)
    c = 1.7
    log_q = lambda x: reference.mixture_log_prob(x, w * np.exp(c), means, covs)   # noqa: E731
    x = np.random.default_rng(0).uniform(-3, 3, size=(500, 2))
    diff = log_q(x) - h(p.log_prob(backend.asarray(x)))
    grad_gap = np.abs(reference.score_of(log_q)(x) - h(p.score(backend.asarray(x)))).max()
    r.table(["point", "log q - log p"], [[i, float(diff[i])] for i in range(0, 500, 125)])
    r.check("grad log q = grad log p at 500 random points", grad_gap < 1e-10, f"max gap {grad_gap:.1e}")
    r.check("log q - log p is the constant c = 1.7", np.abs(diff - c).max() < 1e-10,
            f"spread {diff.max() - diff.min():.1e}")

    moved = means.copy()
    moved[0] += np.array([0.0, 0.5]) if not break_claim else 0.0
    log_m = lambda x: reference.mixture_log_prob(x, w, moved, covs)   # noqa: E731
    d2 = log_m(x) - h(p.log_prob(backend.asarray(x)))
    g2 = np.abs(reference.score_of(log_m)(x) - h(p.score(backend.asarray(x)))).max()
    r.check("a pair with different gradients ...", g2 > 1e-3, f"max gradient gap {g2:.3f}")
    r.check("... is not a constant apart", d2.std() > 1e-3, f"std of the difference {d2.std():.3f}")

    Z = 12.5
    log_unnorm = lambda x: np.log(Z) + reference.mixture_log_prob(x, w, means, covs)   # noqa: E731
    d3 = log_unnorm(x) - h(p.log_prob(backend.asarray(x)))
    g3 = np.abs(reference.score_of(log_unnorm)(x) - h(p.score(backend.asarray(x)))).max()
    r.check("unnormalised q = Z p has the same score", g3 < 1e-10, f"max gap {g3:.1e}")
    r.check("and log q - log p = log Z exactly", np.abs(d3 - np.log(Z)).max() < 1e-10,
            f"log Z = {np.log(Z):.6f}")
    return r.done("equal gradients <=> a constant difference; the score ignores the normaliser Z.")


if __name__ == "__main__":
    raise SystemExit(main())
