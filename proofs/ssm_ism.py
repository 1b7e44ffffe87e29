"""SSM and SSM-VR equal ISM in expectation; the SM estimator of a Gaussian is its MLE.

1. (Second report, section 2; Song et al. 2019.) For a fixed MLP score model,
   the mean of ``losses.ssm`` over many independent projections (Gaussian and
   Rademacher, with and without variance reduction) equals ``losses.ism``
   (exact trace) on the same data, within 4 standard errors of the projection
   average.
2. (Hyvarinen 2005, section 2.3 example.) For the Gaussian (linear score)
   family, ISM(W, b) = tr W + 1/2 mean ||x W + b||^2 is minimised at
   W = -C^{-1}, b = x_bar C^{-1}, C the biased sample covariance: the MLE.
   Minimising ``losses.ism`` numerically with Adam (``npscore.optim``) lands
   there (tolerance 1e-3, the optimiser's).
"""
import numpy as np

from npscore import MLP, backend, losses
from npscore.densities import two_modes
from npscore.optim import Adam
from proofs import _linear
from proofs._report import Report, h


def main(break_claim=False, n_rep=400):
    r = Report("SSM = ISM in expectation; SM = MLE for a Gaussian",
               "E_v[SSM] = E_v[SSM-VR] = ISM, and argmin ISM over Gaussians = (sample mean, inverse sample covariance).")
    model = MLP([2, 16, 16, 2], "swish")
    params = model.init(4)
    x = two_modes().sample(256, backend.rng(5))
    ism = float(h(losses.ism(model, params, x)[0])) + (0.3 if break_claim else 0.0)
    rows, ok = [], True
    for kind in ("gaussian", "rademacher"):
        for vr in (False, True):
            vals = np.array([float(h(losses.ssm(model, params, x, 1, rng=backend.rng(100, k), kind=kind,
                                                variance_reduction=vr)[0])) for k in range(n_rep)])
            se = vals.std() / np.sqrt(n_rep)
            rows.append([kind + (" VR" if vr else ""), float(vals.mean()), ism, float(se)])
            ok &= abs(vals.mean() - ism) < 4 * se
    r.table(["projections", "mean SSM", "ISM", "std err"], rows, fmt="{:>15}")
    r.check(f"the {n_rep}-projection average of each SSM variant is within 4 SE of ISM", ok)

    gen = np.random.default_rng(6)
    xg = gen.multivariate_normal([1.0, 2.0], [[2.0, 0.5], [0.5, 1.0]], size=2000)
    C = np.cov(xg.T, bias=True)
    P_mle, m_mle = np.linalg.inv(C), xg.mean(0)
    lin = _linear.model(2)
    p = [(backend.asarray(-np.eye(2)), backend.asarray(np.zeros(2)))]
    opt = Adam(lr=0.02)
    state = opt.init(p)
    xd = backend.asarray(xg)
    for _ in range(3000):
        p, state = opt.update(p, losses.ism(lin, p, xd)[1], state)
    m_sm, P_sm = _linear.gaussian_of(p)
    W = h(p[0][0])
    r.table(["", "m_1", "m_2", "P_11", "P_12", "P_22"], [
        ["MLE", *map(float, m_mle), float(P_mle[0, 0]), float(P_mle[0, 1]), float(P_mle[1, 1])],
        ["argmin ISM", *map(float, m_sm), float(P_sm[0, 0]), float(P_sm[0, 1]), float(P_sm[1, 1])]])
    C_used = np.cov(xg.T, bias=not break_claim)      # broken: the unbiased covariance is not the argmin
    p_an = [(backend.asarray(-np.linalg.inv(C_used)), backend.asarray(m_mle @ np.linalg.inv(C_used)))]
    g_an = max(float(np.abs(h(a)).max()) for a in losses.ism(lin, p_an, xd)[1][0])
    r.check("the analytic point W = -C^-1, b = x_bar C^-1 is stationary for npscore's ism", g_an < 1e-8,
            f"max |grad| {g_an:.1e}")
    gap = max(np.abs(m_sm - m_mle).max(), np.abs(P_sm - P_mle).max(), np.abs(W + P_mle).max())
    r.check("numerical argmin of npscore's ism = (sample mean, inverse sample covariance)", gap < 1e-3,
            f"max gap {gap:.1e}")
    return r.done("sliced objectives estimate ISM without bias, and score matching recovers the "
                  "Gaussian MLE exactly.")


if __name__ == "__main__":
    raise SystemExit(main())
