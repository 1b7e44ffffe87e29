"""All objectives, one argmin (first report, section 5: NLL = KL = ESM = ISM).

One well-specified family, the 2-D Gaussian with free mean and precision (the
linear score model ``MLP([2, 2])``), fitted to 20k samples of N(mu, Sigma) by
NLL (closed form: the MLE), ESM, ISM (exact), SSM-VR and DSM (sigma = 0.1,
ten noise draws per sample),
the last four as the exact argmins of npscore's own losses (solved from their
gradients: each is a quadratic in the linear model's params). A table of the
fitted (mean, precision) and their distance to the truth; every distance must
be under 0.1 (Monte Carlo error of 20k samples is ~0.01; DSM carries an extra
O(sigma^2) bias and sigma-inflated variance). With ``--figures DIR`` the
figure ``DIR/argmins.png`` draws each objective along the slice
W = -lambda Sigma^{-1} (lambda in [0.5, 1.5]), shifted by its value at
lambda = 1: the score objectives lie on top of each other, NLL has its own
shape, and all are minimised at lambda = 1.

Broken, ESM is given the score of another Gaussian (covariance 2 Sigma)
instead of the data's.
"""
import numpy as np

from npscore import backend, losses, plotting
from npscore.densities import Gaussian
from proofs import _linear
from proofs._report import Report, h



def main(break_claim=False, figure=None, n=20000):
    """``figure``: a path to draw the objectives along a slice of theta (``--figures DIR``)."""
    r = Report("All objectives, one argmin",
               "NLL, ESM, ISM, SSM-VR and DSM (small sigma) fit the same Gaussian.")
    mu, S = np.array([0.5, -0.5]), np.array([[1.0, 0.5], [0.5, 1.5]])
    P = np.linalg.inv(S)
    truth = Gaussian(backend.asarray(mu), backend.asarray(S))
    # the claim assumes ESM is given the data's score; broken, it gets another Gaussian's
    told = Gaussian(backend.asarray(mu), backend.asarray(2 * S)) if break_claim else truth
    x = truth.sample(n, backend.rng(7))
    xh = h(x)
    lin = _linear.model(2)
    start = _linear.params_of(np.zeros(2), np.eye(2))
    sigma, reps = 0.1, 10                             # 10 noise draws per point tame DSM's variance
    xr = backend.asarray(np.repeat(xh, reps, axis=0))
    eps = backend.rng(9).normal(xr.shape)
    v = backend.rng(8).normal((4, n, 2))
    grads = {"ESM": lambda p: losses.esm(lin, p, x, told.score)[1],
             "ISM (exact)": lambda p: losses.ism(lin, p, x)[1],
             "SSM-VR": lambda p: losses.ssm(lin, p, x, v=v, variance_reduction=True)[1],
             f"DSM (sigma={sigma})": lambda p: losses.dsm(lin, p, xr, sigma, noise=eps)[1]}
    fits = {"NLL (MLE)": (xh.mean(0), np.linalg.inv(np.cov(xh.T, bias=True)))}
    fits.update({name: _linear.gaussian_of(_linear.argmin(g, start)) for name, g in grads.items()})
    rows, ok = [], True
    for name, (m, Pf) in fits.items():
        dist = float(np.sqrt(np.sum((m - mu) ** 2) + np.sum((Pf - P) ** 2)))
        rows.append([name, *map(float, m), float(Pf[0, 0]), float(Pf[0, 1]), float(Pf[1, 1]), dist])
        ok &= dist < 0.1
    rows.append(["truth", *map(float, mu), float(P[0, 0]), float(P[0, 1]), float(P[1, 1]), 0.0])
    r.table(["objective", "m_1", "m_2", "P_11", "P_12", "P_22", "dist"], rows, fmt="{:>17}")
    r.check("every objective's argmin is within 0.1 of the truth", ok)

    lams = np.linspace(0.5, 1.5, 41)
    curves = {k: [] for k in ("NLL", "ESM", "ISM", "SSM-VR", "DSM")}
    v = backend.rng(10).normal((4, n, 2))
    for lam in lams:
        p = _linear.params_of(mu, lam * P)
        curves["NLL"].append(-float(h(Gaussian(backend.asarray(mu), backend.asarray(S / lam)).log_prob(x)).mean()))
        curves["ESM"].append(float(h(losses.esm(lin, p, x, told.score)[0])))
        curves["ISM"].append(float(h(losses.ism(lin, p, x)[0])))
        curves["SSM-VR"].append(float(h(losses.ssm(lin, p, x, v=v, variance_reduction=True)[0])))
        curves["DSM"].append(float(h(losses.dsm(lin, p, xr, sigma, noise=eps)[0])))
    i1 = int(np.argmin(np.abs(lams - 1.0)))
    argmins = {k: float(lams[int(np.argmin(c))]) for k, c in curves.items()}
    print("  argmin lambda along the slice: " + ", ".join(f"{k} {a:.3f}" for k, a in argmins.items()))
    r.check("every objective is minimised at lambda = 1 on the slice (grid step 0.025)",
            all(abs(a - 1.0) <= 0.05 for a in argmins.values()))
    if figure:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, c in curves.items():
            c = np.asarray(c) - c[i1]
            ax.plot(lams, c, label=k, lw=3 if k == "ESM" else 1.5, ls="--" if k == "NLL" else "-")
        ax.axvline(1.0, color="0.5", lw=0.8)
        ax.set_xlabel("lambda  (W = -lambda Sigma^-1)")
        ax.set_ylabel("objective - value at lambda = 1")
        ax.set_title("objectives along a slice of theta, shifted by their constants")
        ax.legend()
        plotting.save(fig, figure)
        print(f"  figure: {figure}")
    return r.done("NLL, ESM, ISM, SSM-VR and DSM all pick the true Gaussian.")


if __name__ == "__main__":
    raise SystemExit(main())
