"""The reverse-time SDE and the probability-flow ODE turn the prior back into the data
(second report, section 3.2; Anderson 1982; Song et al. 2021).

For the forward SDE ``dx = f dt + g dW`` with marginals p_t, the reverse-time SDE

.. math:: dx = [f(x, t) - g(t)^2 \\nabla \\log p_t(x)]\\, dt + g(t)\\, d\\bar W

run from p_1 down to t = 0 has the marginals p_t again, and so has the ODE
``dx/dt = f - 1/2 g^2 grad log p_t`` (the probability flow). Checked with the
*exact* score of p_t for the two-mode mixture (first report, section 8), under
the VE and the VP SDE, starting from exact draws of p_1, so that only the
discretisation and Monte Carlo separate the output from the data:

1. ``npscore.sampling.reverse_sde`` and ``probability_flow`` return the mixture
   at t_min: the mean, the covariance and the weight of each mode within
   5 standard errors (plus 0.01 for the time discretisation); a mode's weight is read as
   the share of points whose most probable component it is, beside the same share of exact draws.
2. The probability flow stopped at t = 0.5 has p_0.5's moments (the ODE keeps
   every marginal, not only the last).

Broken: the reverse SDE runs with the second report's drift
``f - 1/2 g^2 grad log p_t`` (the ODE's drift, with the SDE's noise); its
output is too wide and the moment checks fail.

The exact marginals: under VE ``p_t = p_0 * N(0, (sigma(t)^2 - sigma_min^2) I)``
(the SDE adds the variance ``sigma(t)^2 - sigma(0)^2``); under VP each
component ``N(mu, S)`` becomes ``N(m_t mu, m_t^2 S + s_t^2 I)``.
"""
import numpy as np

from npscore import backend
from npscore.densities import score_under, two_modes
from npscore.sampling import probability_flow, reverse_sde
from npscore.sde import VESDE, VPSDE
from proofs._report import Report, h


class NotesReverseSDE:
    """An SDE whose reverse drift has the second report's 1/2 in the SDE (the break)."""

    def __init__(self, sde):
        self.sde = sde

    def __getattr__(self, name):
        return getattr(self.sde, name)

    def reverse_drift(self, score, probability_flow=False):
        return self.sde.reverse_drift(score, probability_flow=True)


def marginal(data, sde, t):
    """The exact p_t of the mixture ``data`` under ``sde`` at the scalar time ``t``."""
    m, s = sde.transition(t)
    return data.noised(s, m)


def _compare(r, what, x, target, slack=0.01):
    """Mean, covariance and mode weights of ``x`` against the mixture ``target``, within 5 SE + slack."""
    xs = h(x)
    n = xs.shape[0]
    ref = h(target.sample(200000, backend.rng(9)))
    mean_se = ref.std(0) / np.sqrt(n)
    cov_x, cov_r = np.cov(xs.T), np.cov(ref.T)
    cov_se = np.sqrt((np.outer(ref.var(0), ref.var(0)) + cov_r ** 2) / n)
    # each mode's share, by the most probable component, against the same rule on exact draws
    # (at t = 0.5 the VP modes overlap, and the rule's shares are not the weights)
    w_x, w = (np.array([np.mean(h(target.component(backend.asarray(a))) == k) for k in range(target.n_components)])
              for a in (xs, ref))
    w_se = np.sqrt(w * (1 - w) / n)
    ok_m = np.all(np.abs(xs.mean(0) - ref.mean(0)) < 5 * mean_se + slack)
    ok_c = np.all(np.abs(cov_x - cov_r) < 5 * cov_se + slack)
    ok_w = np.all(np.abs(w_x - w) < 5 * w_se + slack)
    r.table(["", "mean", "cov 00", "cov 01", "cov 11", "weight 1"],
            [["samples", float(xs.mean()), float(cov_x[0, 0]), float(cov_x[0, 1]), float(cov_x[1, 1]), float(w_x[0])],
             ["exact", float(ref.mean()), float(cov_r[0, 0]), float(cov_r[0, 1]), float(cov_r[1, 1]), float(w[0])]])
    r.check(f"{what}: mean, covariance and mode weights within 5 SE (+ {slack})", ok_m and ok_c and ok_w,
            f"max cov gap {np.abs(cov_x - cov_r).max():.4f}, weight gap {np.abs(w_x - w).max():.4f}")


def main(break_claim=False, n=4000):
    r = Report("The reverse-time SDE recovers the data",
               "With the exact score, reverse SDE and probability flow carry p_1 back to p_0 (VE and VP).")
    data = two_modes((0.3, 0.7))
    for label, sde in (("VE", VESDE(0.01, 5.0)), ("VP", VPSDE())):
        start = marginal(data, sde, 1.0).sample(n, backend.rng(1))
        score = score_under(data, sde)
        target = marginal(data, sde, 1e-3)
        run_sde = NotesReverseSDE(sde) if break_claim else sde
        _compare(r, f"{label} reverse SDE (1000 steps)", reverse_sde(score, run_sde, start, backend.rng(2)), target)
        _compare(r, f"{label} probability flow (500 Heun steps)", probability_flow(score, sde, start), target)
        half = probability_flow(score, sde, start, n_steps=250, t_min=0.5)
        _compare(r, f"{label} probability flow stopped at t = 0.5 has p_0.5", half, marginal(data, sde, 0.5))
    return r.done("the reverse-time SDE with g^2 (not the notes' 1/2 g^2) and the probability-flow ODE "
                  "recover the mixture, and the ODE keeps the intermediate marginal.")


if __name__ == "__main__":
    import sys
    sys.exit(main("--break-claim" in sys.argv))
