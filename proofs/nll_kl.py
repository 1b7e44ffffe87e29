"""Theorem 1 (first report, section 5): argmin NLL = argmin KL.

Claim: NLL(theta) - KL(p || p_theta) = E_p[-log p] = H(p), the same for every
theta, so the two objectives have one argmin. Checked exactly (no sampling)
on a discrete family and on a 2-D Gaussian family, where both sides have
closed forms; the Gaussian entropy comes from ``npscore.densities``.
The claim needs p_theta normalised: broken, the NLL is computed from the
unnormalised density (the normaliser Z(theta) dropped, as a score model
would), and NLL - KL = H(p) - log Z(theta) then varies with theta.
"""
import numpy as np

from npscore import backend
from npscore.densities import Gaussian
from proofs._report import Report

TOL = 1e-10   # exact arithmetic: only rounding separates the two sides


def gaussian_nll(mu0, S0, m, S, normalised=True):
    """E_{N(mu0, S0)}[-log N(x; m, S)], exactly (without log Z when not ``normalised``)."""
    P = np.linalg.inv(S)
    d = mu0 - m
    log_z = np.log(np.linalg.det(2 * np.pi * S)) if normalised else 0.0
    return 0.5 * (np.trace(P @ S0) + d @ P @ d + log_z)


def gaussian_kl(mu0, S0, m, S):
    """KL(N(mu0, S0) || N(m, S)), the textbook closed form."""
    P = np.linalg.inv(S)
    d = m - mu0
    k = len(mu0)
    return 0.5 * (np.trace(P @ S0) + d @ P @ d - k + np.log(np.linalg.det(S) / np.linalg.det(S0)))


def main(break_claim=False):
    r = Report("Theorem 1: argmin NLL = argmin KL",
               "NLL(theta) - KL(p||p_theta) equals the entropy H(p) for every theta.")
    # discrete: p on 4 points, p_theta a softmax family along a 1-D slice
    p = np.array([0.1, 0.2, 0.3, 0.4])
    Hp = -(p * np.log(p)).sum()
    thetas = np.linspace(-2, 2, 41)
    logits = lambda t: np.array([0.0, 1.0, 1.5, 2.0]) * t          # noqa: E731
    rows, diffs, nll, kl = [], [], [], []
    for t in thetas:
        q = np.exp(logits(t)) / np.exp(logits(t)).sum()
        q_nll = np.exp(logits(t)) if break_claim else q        # broken: Z(theta) dropped
        nll.append(-(p * np.log(q_nll)).sum())
        kl.append((p * np.log(p / q)).sum())
        diffs.append(nll[-1] - kl[-1])
    for i in range(0, 41, 10):
        rows.append([float(thetas[i]), float(nll[i]), float(kl[i]), float(diffs[i])])
    r.table(["theta", "NLL", "KL", "NLL - KL"], rows)
    r.check("discrete: NLL - KL = H(p) on the whole grid",
            np.max(np.abs(np.array(diffs) - Hp)) < TOL, f"H(p) = {Hp:.6f}")
    r.check("discrete: same argmin on the grid", np.argmin(nll) == np.argmin(kl),
            f"theta* = {thetas[np.argmin(nll)]:.2f}")

    # Gaussian: p = N(mu0, S0), p_theta = N(m, s^2 S0) over a grid of (m_1, s)
    mu0, S0 = np.array([0.5, -1.0]), np.array([[1.0, 0.6], [0.6, 2.0]])
    H = Gaussian(backend.asarray(mu0), backend.asarray(S0)).entropy()
    grid = [(a, s) for a in np.linspace(-1, 2, 13) for s in np.linspace(0.5, 2, 7)]
    vals = [(gaussian_nll(mu0, S0, np.array([a, -1.0]), s * s * S0, normalised=not break_claim),
             gaussian_kl(mu0, S0, np.array([a, -1.0]), s * s * S0)) for a, s in grid]
    d = np.array([a - b for a, b in vals])
    r.table(["m_1", "s", "NLL", "KL", "NLL - KL"],
            [[float(grid[i][0]), float(grid[i][1]), float(vals[i][0]), float(vals[i][1]), float(d[i])]
             for i in range(0, len(grid), 15)])
    r.check("Gaussian: NLL - KL = H(p) (npscore's entropy) for all 91 theta",
            np.max(np.abs(d - H)) < TOL, f"H(p) = {H:.6f}, max deviation {np.max(np.abs(d - H)):.1e}")
    i_nll, i_kl = np.argmin([v[0] for v in vals]), np.argmin([v[1] for v in vals])
    r.check("Gaussian: same argmin", i_nll == i_kl, f"theta* = (m_1, s) = {grid[i_nll]}")
    return r.done("NLL and KL differ by the constant H(p), so minimising either gives the same theta.")


if __name__ == "__main__":
    raise SystemExit(main())
