"""DSM = ESM(p_sigma) + C (first report, sections 6-7; Vincent 2011).

Claim: L_DSM(theta) = L_ESM(theta; p_sigma) + C(sigma), where p_sigma is the data
density convolved with N(0, sigma^2 I): the difference does not depend on theta.

1. With the exact noised mixture score (``GaussianMixture.noised``) and common
   random numbers, DSM(theta) - ESM_sigma(theta) - C_hat is the mean of a
   zero-mean term; it must be within 4 standard errors of 0 for every theta
   (20k samples).
2. The argmin of DSM tends to the argmin of ESM as sigma -> 0: for Gaussian data
   and the linear (Gaussian) score model, the argmin of ``losses.dsm`` (solved
   exactly from its gradients) is the score of ``Gaussian.noised(sigma)`` =
   N(mu, Sigma + sigma^2 I); its precision approaches Sigma^{-1} like sigma^2.

Broken, DSM is compared with the ESM of the un-noised density p.
"""
import numpy as np

from npscore import MLP, backend, losses
from npscore.densities import Gaussian, two_modes
from proofs import _linear
from proofs._report import Report, h


def main(break_claim=False, n=20000):
    r = Report("DSM = ESM(p_sigma) + C",
               "L_DSM(theta) - L_ESM(theta; p_sigma) is a constant in theta.")
    data = two_modes((0.3, 0.7))
    rng = backend.rng(2)
    x = data.sample(n, rng)
    eps = rng.normal(x.shape)
    model = MLP([2, 32, 32, 2], "softplus")
    for sigma in (0.5, 0.1):
        p_s = data if break_claim else data.noised(sigma)
        xt = x + sigma * eps
        target = h(-eps / sigma)
        st = h(p_s.score(xt))
        C_hat = 0.5 * ((target ** 2).sum(1) - (st ** 2).sum(1)).mean()
        rows, ok = [], True
        for k in range(4):
            params = model.init(20 + k)
            dsm = h(losses.dsm(model, params, x, sigma, noise=eps)[0])
            esm = h(losses.esm(model, params, xt, p_s.score)[0])
            s = h(model.apply(params, xt))
            term = (s * (st - target)).sum(1)          # zero mean: E[-eps/sigma | x~] = score of p_sigma
            se = term.std() / np.sqrt(n)
            dev = float(dsm - esm - C_hat)
            rows.append([k, float(dsm), float(esm), float(dsm - esm), dev, float(se)])
            ok &= abs(dev) < 4 * se
        r.table(["theta #", "DSM", "ESM_sigma", "DSM - ESM", "dev from C", "std err"], rows)
        r.check(f"sigma = {sigma}: DSM - ESM_sigma - C_hat within 4 SE of 0 for every theta", ok,
                f"C_hat = {C_hat:.4f}")

    # argmin of DSM -> argmin of ESM as sigma -> 0 (Gaussian data, linear score model)
    mu, S = np.array([0.5, 0.0]), np.array([[1.0, 0.3], [0.3, 0.5]])
    gauss = Gaussian(backend.asarray(mu), backend.asarray(S))
    P_true = np.linalg.inv(S)
    xg = gauss.sample(400000, backend.rng(3))
    rows, errs = [], []
    lin = _linear.model(2)
    for sigma in (0.8, 0.4, 0.2, 0.1):
        e = backend.rng(4, int(100 * sigma)).normal(xg.shape)
        params = _linear.argmin(lambda p: losses.dsm(lin, p, xg, sigma, noise=e)[1],
                                _linear.params_of(np.zeros(2), np.eye(2)))
        m_fit, P_fit = _linear.gaussian_of(params)
        P_noised = h(gauss.noised(sigma).precision)
        err = np.linalg.norm(P_fit - P_true)
        errs.append(err)
        rows.append([sigma, float(err), float(np.linalg.norm(P_fit - P_noised))])
    r.table(["sigma", "|P_dsm - P_esm|", "|P_dsm - P_sig|"], rows, fmt="{:>17}")
    r.check("the DSM argmin approaches the ESM argmin (Sigma^-1) as sigma decreases",
            all(a > b for a, b in zip(errs, errs[1:])) and errs[-1] < 0.1 * errs[0],
            "each sigma closer; at sigma = 0.1 within 10% of the sigma = 0.8 gap")
    r.check("the DSM argmin is the score of npscore's noised density, N(mu, Sigma + sigma^2 I), within "
            "Monte Carlo error (|P_dsm - P_sig| < 0.05, 400k samples)", max(row[2] for row in rows) < 0.05)
    return r.done("DSM and ESM of the noised density differ by a constant, and DSM's minimiser "
                  "approaches the data score as sigma -> 0.")


if __name__ == "__main__":
    raise SystemExit(main())
