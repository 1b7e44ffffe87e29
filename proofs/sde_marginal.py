"""Continuous-time DSM learns the marginal score (second report, sections 3.1-3.3).

Claim: for a forward SDE with Gaussian transitions ``x_t = m_t x_0 + sigma_t eps``,
the minimiser of ``losses.sde_dsm`` at each t is the score of the marginal
p_t, and with lambda(t) = sigma_t^2 the optimal loss is

    1/2 sum_j m_t^2 lambda_j / (m_t^2 lambda_j + sigma_t^2)

for Gaussian data N(mu, Sigma) (eigenvalues lambda_j), where p_t =
N(m_t mu, m_t^2 Sigma + sigma_t^2 I). Checked for the VE and the VP SDE at
several t, with the noise-conditional linear model (any affine score at one
sigma_t), its argmin solved exactly from npscore's gradients, against the
marginal written out here from the SDE's formulas (not ``sde.marginal``).
Broken, the fit is compared with the score of the data density p_0 instead.
"""
import math

import numpy as np

from npscore import backend, losses
from npscore.densities import Gaussian
from npscore.sde import VESDE, VPSDE
from proofs import _linear
from proofs._report import Report, h


def closed_marginal(kind, t):
    """``(m_t, sigma_t)`` from the SDE's definition."""
    if kind == "VP":                                   # beta(t) = 0.1 + 19.9 t
        alpha = math.exp(-(0.1 * t + 0.5 * 19.9 * t * t))
        return math.sqrt(alpha), math.sqrt(1.0 - alpha)
    return 1.0, 0.01 * (3.0 / 0.01) ** t               # VE: sigma_min 0.01, sigma_max 3


def main(break_claim=False, n=20000):
    r = Report("sde_dsm learns the marginal score", "argmin of the continuous-time DSM at t = the score of p_t.")
    mu, S = np.array([1.0, -0.5]), np.array([[0.8, 0.3], [0.3, 0.6]])
    lam = np.linalg.eigvalsh(S)
    x = Gaussian(backend.asarray(mu), backend.asarray(S)).sample(n, backend.rng(30))
    eps = backend.rng(31).normal(x.shape)
    model = _linear.conditional_model(2)
    template = model.init(0)
    rows, ok_fit, ok_val = [], True, True
    for kind, sde in (("VE", VESDE(0.01, 3.0)), ("VP", VPSDE(0.1, 20.0))):
        for t in (0.1, 0.3, 0.6, 1.0):
            ts = backend.xp().full((n,), t)

            def loss(p):
                return losses.sde_dsm(model, p, x, sde, t=ts, noise=eps)
            params = _linear.argmin(lambda p: loss(p)[1], template)
            m, std = closed_marginal(kind, t)
            W, b = (h(a) for a in params[0])
            A, c = W[:2] / std, (math.log(std) * W[2] + b) / std   # s = x A + c
            C = S if break_claim else m * m * S + std * std * np.eye(2)
            P = np.linalg.inv(C)
            target_c = (m * mu if not break_claim else mu) @ P
            err = max(np.abs(A + P).max() / np.abs(P).max(), np.abs(c - target_c).max() / (1 + np.abs(target_c).max()))
            value = float(h(loss(params)[0]))
            closed = 0.5 * float((m * m * lam / (m * m * lam + std * std)).sum())
            s = h(model.apply(params, backend.asarray(m * h(x) + std * h(eps)), std))
            se = (0.5 * ((std * s + h(eps)) ** 2).sum(1)).std() / np.sqrt(n)
            ok_fit &= err * std < 0.02                         # the target eps / sigma_t has std 1 / sigma_t
            ok_val &= abs(value - closed) < 4 * se
            rows.append([kind, t, m, std, float(err), value, closed, float(se)])
    r.table(["SDE", "t", "m_t", "sigma_t", "fit error", "loss", "closed form", "std err"], rows, fmt="{:>12}")
    r.check("at every t the argmin is the marginal score of p_t (relative error < 0.02 / sigma_t)", ok_fit)
    r.check("with lambda = sigma_t^2 the optimal loss matches the closed form within 4 SE", ok_val)
    return r.done("continuous-time DSM recovers the score of each marginal of the forward SDE, VE and VP.")


if __name__ == "__main__":
    raise SystemExit(main())
