"""SSM and SSM-VR equal ISM in expectation; the SM estimator of a Gaussian is its MLE.

1. (Second report, section 2; Song et al. 2019.) For a fixed MLP score model,
   the mean of ``losses.ssm`` over many independent projections (Gaussian and
   Rademacher, with and without variance reduction) equals ``losses.ism``
   (exact trace) on the same data, within 4 standard errors of the projection
   average. The claim needs ``E[v v^T] = I``; broken, the projections are
   scaled by 1.2 and the averages miss ISM by far more than their standard error.
2. (Hyvarinen 2005, section 2.3.) For the Gaussian (linear score) family the
   argmin of ``losses.ism`` is the MLE: the sample mean and the inverse of the
   biased sample covariance. :func:`proofs._linear.sm_equals_mle` solves the
   ISM argmin exactly from npscore's gradients; here on samples of random
   full-covariance Gaussians in D = 1, 2, 5 and 10 (tolerance 1e-8: only
   rounding separates them). Broken, ISM loses its trace term.

Run it on data of your own: ``sm_equals_mle(x)`` for any ``x : (N, D)``.
"""
import numpy as np

from npscore import MLP, backend, losses
from npscore.densities import two_modes
from proofs._linear import sm_equals_mle
from proofs._report import Report, h


def main(break_claim=False, n_rep=400):
    r = Report("SSM = ISM in expectation; SM = MLE for a Gaussian",
               "E_v[SSM] = E_v[SSM-VR] = ISM, and argmin ISM over Gaussians = (sample mean, inverse sample covariance).")
    model = MLP([2, 16, 16, 2], "swish")
    params = model.init(4)
    x = two_modes().sample(256, backend.rng(5))
    ism = float(h(losses.ism(model, params, x)[0]))
    scale = 1.2 if break_claim else 1.0                 # E[v v^T] = scale^2 I
    rows, ok = [], True
    for kind in ("gaussian", "rademacher"):
        for vr in (False, True):
            vals = []
            for k in range(n_rep):
                g = backend.rng(100, k)
                v = scale * (g.normal((1, 256, 2)) if kind == "gaussian" else g.rademacher((1, 256, 2)))
                vals.append(float(h(losses.ssm(model, params, x, v=v, variance_reduction=vr)[0])))
            vals = np.array(vals)
            se = vals.std() / np.sqrt(n_rep)
            rows.append([kind + (" VR" if vr else ""), float(vals.mean()), ism, float(se)])
            ok &= abs(vals.mean() - ism) < 4 * se
    r.table(["projections", "mean SSM", "ISM", "std err"], rows, fmt="{:>15}")
    r.check(f"the {n_rep}-projection average of each SSM variant is within 4 SE of ISM", ok)

    gen = np.random.default_rng(6)
    rows, gaps = [], []
    for D in (1, 2, 5, 10):
        q, _ = np.linalg.qr(gen.standard_normal((D, D)))
        cov = (q * gen.uniform(0.3, 3.0, D)) @ q.T
        xg = gen.multivariate_normal(gen.standard_normal(D), cov, size=3000)
        (m_sm, P_sm), (m_mle, P_mle), gap = sm_equals_mle(xg, drop_trace=break_claim)
        gaps.append(gap)
        rows.append([D, float(P_sm[0, 0]), float(P_mle[0, 0]), float(m_sm[0]), float(m_mle[0]), gap])
    r.table(["D", "P_11 (SM)", "P_11 (MLE)", "m_1 (SM)", "m_1 (MLE)", "max gap"], rows)
    r.check("argmin of npscore's ism = (sample mean, inverse biased sample covariance) in every D",
            max(gaps) < 1e-8, f"max gap {max(gaps):.1e}")
    return r.done("sliced SM averages to ISM, and SM fits a Gaussian exactly as maximum likelihood does.")


if __name__ == "__main__":
    raise SystemExit(main())
