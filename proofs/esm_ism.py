"""ESM = ISM + C (first report, section 5, equation (3); Hyvarinen 2005).

Claim: L_ESM(theta) - L_ISM(theta) = C = 1/2 E_p ||grad log p||^2, the same for
every theta (integration by parts moves the unknown score off the model).

1. Exact: Gaussian data N(mu, Sigma) and the Gaussian (linear) score model, where
   both expectations are closed-form quadratics; C = 1/2 tr(Sigma^{-1}).
2. Monte Carlo: an MLP score model on two-mode mixture data, ``npscore.losses.esm``
   and ``losses.ism`` (exact trace) on the same samples (common random numbers);
   for each theta, ESM - ISM - C_hat is the mean of a zero-mean term, so it must
   be within 4 standard errors of 0 (tolerance stated: 4 SE, two-sided p ~ 6e-5).
"""
import numpy as np

from npscore import MLP, backend, losses
from npscore.densities import two_modes
from proofs._report import Report, h


def exact_esm_ism(W, b, mu, S):
    """Closed-form E||s - s_p||^2 / 2 and E[tr W + ||s||^2 / 2] for s = x W + b."""
    P = np.linalg.inv(S)
    M2 = S + np.outer(mu, mu)                         # E[x^T x]
    A, c = W + P, b - mu @ P                          # s - s_p = x A + c
    esm = 0.5 * (np.trace(A.T @ M2 @ A) + 2 * mu @ A @ c + c @ c)
    ism = np.trace(W) + 0.5 * (np.trace(W.T @ M2 @ W) + 2 * mu @ W @ b + b @ b)
    return esm, ism


def main(break_claim=False, n=4000):
    r = Report("ESM = ISM + C", "L_ESM(theta) - L_ISM(theta) is one constant C = 1/2 E||grad log p||^2.")
    mu, S = np.array([1.0, -0.5]), np.array([[1.5, 0.4], [0.4, 0.7]])
    C = 0.5 * np.trace(np.linalg.inv(S))
    rng = np.random.default_rng(0)
    rows, devs = [], []
    for k in range(6):
        W, b = rng.standard_normal((2, 2)), rng.standard_normal(2)
        e, i = exact_esm_ism(W, b, mu, S)
        rows.append([k, float(e), float(i), float(e - i)])
        devs.append(abs(e - i - C))
    r.table(["theta #", "ESM", "ISM", "ESM - ISM"], rows)
    r.check("exact (Gaussian): ESM - ISM = 1/2 tr(Sigma^-1) for 6 random theta",
            max(devs) < 1e-10, f"C = {C:.6f}, max deviation {max(devs):.1e}")

    data = two_modes((0.3, 0.7))
    x = data.sample(n, backend.rng(1))
    sp = data.score(x)
    C_hat = 0.5 * h((sp * sp).sum(1)).mean()
    model = MLP([2, 32, 32, 2], "tanh")
    rows, ok = [], True
    for k in range(5):
        params = model.init(10 + k)
        params = [(3.0 * W, b) for W, b in params] if k % 2 else params
        esm = h(losses.esm(model, params, x, data.score)[0])
        ism = h(losses.ism(model, params, x)[0])
        s = model.apply(params, x)
        term = -h((s * sp).sum(1) + model.trace_jacobian(params, x))   # per-sample zero-mean part
        se = term.std() / np.sqrt(n)
        dev = float(esm - ism - C_hat) + (0.5 if break_claim else 0.0)
        rows.append([k, float(esm), float(ism), float(esm - ism), dev, float(se)])
        ok &= abs(dev) < 4 * se
    r.table(["theta #", "ESM", "ISM", "ESM - ISM", "dev from C", "std err"], rows)
    r.check("Monte Carlo (MLP, mixture): ESM - ISM - C_hat within 4 SE of 0 for every theta", ok,
            f"C_hat = {C_hat:.4f} from the same {n} samples")
    return r.done("the difference ESM - ISM does not depend on theta, so both have the same argmin.")


if __name__ == "__main__":
    raise SystemExit(main())
