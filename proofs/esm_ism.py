"""ESM = ISM + C (first report, section 5, equation (3); Hyvarinen 2005).

Claim: L_ESM(theta) - L_ISM(theta) = C, the same for every theta (integration by
parts moves the unknown score off the model), so the two have the same gradient
in theta too. With npscore's ``esm`` and ``ism``, which are the second report's
scaling (section 2.2: ``1/2 E||s - grad log p||^2`` and ``E[tr J + 1/2 ||s||^2]``),
C = 1/2 E_p ||grad log p||^2. Under the first report's Definition 1 (no 1/2 in
either loss) both losses double and C = E_p ||grad log p||^2 (tutorials/02 shows both).

1. Exact: Gaussian data N(mu, Sigma) and the Gaussian (linear) score model, where
   both expectations are closed-form quadratics; C = 1/2 tr(Sigma^{-1}).
2. Monte Carlo: MLP score models with every activation on two-mode mixture
   data, ``npscore.losses.esm`` and ``losses.ism`` (exact trace) on the same
   samples. For each theta, ESM - ISM - C_hat is the mean of a zero-mean term
   and must be within 4 standard errors of 0 (two-sided p ~ 6e-5).
3. The gradients: over 40 batches, the projections of grad ESM - grad ISM on
   three random directions must average to 0 within 4.5 standard errors. This
   is what training uses, and it runs through the activations' a' and a''.
4. What the identity is made of, exactly: the trace ISM uses is the divergence
   of the very function s (central differences of ``model.apply``, relative
   1e-6), and ISM's gradient is the derivative of ISM's value (central
   differences along random directions in theta, relative 1e-6).

Broken, ISM loses its trace term (the part integration by parts creates).
"""
import numpy as np

from npscore import MLP, backend, losses
from npscore.densities import two_modes
from npscore.nn import ACTIVATIONS
from proofs._report import Report, h


def exact_esm_ism(W, b, mu, S, trace=True):
    """Closed-form E||s - s_p||^2 / 2 and E[tr W + ||s||^2 / 2] for s = x W + b."""
    P = np.linalg.inv(S)
    M2 = S + np.outer(mu, mu)                         # E[x^T x]
    A, c = W + P, b - mu @ P                          # s - s_p = x A + c
    esm = 0.5 * (np.trace(A.T @ M2 @ A) + 2 * mu @ A @ c + c @ c)
    ism = np.trace(W) * trace + 0.5 * (np.trace(W.T @ M2 @ W) + 2 * mu @ W @ b + b @ b)
    return esm, ism


def _flat(grads):
    return np.concatenate([np.ravel(h(a)) for layer in grads for a in layer])


def _ism(model, params, x, break_claim):
    """losses.ism, or (broken) losses.ism without its trace term."""
    value, grads = losses.ism(model, params, x)
    if not break_claim:
        return value, grads
    B = x.shape[0]
    w = backend.xp().full((B,), 1.0 / B, dtype=x.dtype)
    _, tr, gtr = model.trace_and_vjp(params, x, w)
    return value - tr.mean(), [(gW - tW, gb - tb) for (gW, gb), (tW, tb) in zip(grads, gtr)]


def main(break_claim=False, n=4000):
    r = Report("ESM = ISM + C", "esm(theta) - ism(theta) is one constant C = 1/2 E||grad log p||^2 "
               "(the second report's scaling; E||grad log p||^2 under Definition 1).")
    mu, S = np.array([1.0, -0.5]), np.array([[1.5, 0.4], [0.4, 0.7]])
    C = 0.5 * np.trace(np.linalg.inv(S))
    rng = np.random.default_rng(0)
    rows, devs = [], []
    for k in range(6):
        W, b = rng.standard_normal((2, 2)), rng.standard_normal(2)
        e, i = exact_esm_ism(W, b, mu, S, trace=not break_claim)
        rows.append([k, float(e), float(i), float(e - i)])
        devs.append(abs(e - i - C))
    r.table(["theta #", "ESM", "ISM", "ESM - ISM"], rows)
    r.check("exact (Gaussian): ESM - ISM = 1/2 tr(Sigma^-1) for 6 random theta",
            max(devs) < 1e-10, f"C = {C:.6f}, max deviation {max(devs):.1e}")

    data = two_modes((0.3, 0.7))
    x = data.sample(n, backend.rng(1))
    sp = data.score(x)
    C_hat = 0.5 * h((sp * sp).sum(1)).mean()
    rows, ok, gok = [], True, True
    for act in ACTIVATIONS:
        model = MLP([2, 32, 32, 2], act)
        for k in range(2):
            params = model.init(10 + k)
            params = [(3.0 * W, b) for W, b in params] if k else params
            esm, ism = h(losses.esm(model, params, x, data.score)[0]), h(_ism(model, params, x, break_claim)[0])
            s = model.apply(params, x)
            term = -h((s * sp).sum(1) + model.trace_jacobian(params, x))   # per-sample zero-mean part
            se = term.std() / np.sqrt(n)
            dev = float(esm - ism - C_hat)
            ok &= abs(dev) < 4 * se
            # gradients: batch means of u . (grad ESM - grad ISM) for three random directions u
            diffs = np.array([_flat(losses.esm(model, params, xb, data.score)[1])
                              - _flat(_ism(model, params, xb, break_claim)[1]) for xb in np.split(x, 40)])
            U = np.random.default_rng(k).standard_normal((diffs.shape[1], 3))
            proj = diffs @ U
            z = np.abs(proj.mean(0)) / (proj.std(0, ddof=1) / np.sqrt(len(proj)))
            gok &= bool(z.max() < 4.5)
            rows.append([act, k, float(esm - ism), dev, float(se), float(z.max())])
    r.table(["activation", "theta #", "ESM - ISM", "dev from C", "std err", "grad |z|"], rows)
    r.check("Monte Carlo (MLP, mixture): ESM - ISM - C_hat within 4 SE of 0 for every theta", ok,
            f"C_hat = {C_hat:.4f} from the same {n} samples")
    r.check("grad ESM - grad ISM averages to 0 (projections within 4.5 SE) for every theta", gok)

    rows, worst = [], 0.0
    xs = x[:64]
    for act in ACTIVATIONS:
        model = MLP([2, 32, 32, 2], act)
        params = model.init(3)
        e = 1e-5
        div = sum((h(model.apply(params, xs + e * backend.asarray(np.eye(2)[i]))) -
                   h(model.apply(params, xs - e * backend.asarray(np.eye(2)[i]))))[:, i] / (2 * e) for i in range(2))
        tr_err = np.abs(h(model.trace_jacobian(params, xs)) - div).max() / np.abs(div).max()
        grads = _ism(model, params, xs, break_claim)[1]
        g_err = 0.0
        for k in range(3):
            u = [(backend.rng(50 + k, 2 * i).normal(W.shape), backend.rng(50 + k, 2 * i + 1).normal(b.shape))
                 for i, (W, b) in enumerate(params)]
            shift = lambda t: [(W + t * dW, b + t * db) for (W, b), (dW, db) in zip(params, u)]   # noqa: E731
            fd = (float(h(_ism(model, shift(e), xs, break_claim)[0])) -
                  float(h(_ism(model, shift(-e), xs, break_claim)[0]))) / (2 * e)
            an = float(sum((h(gW) * h(dW)).sum() + (h(gb) * h(db)).sum() for (gW, gb), (dW, db) in zip(grads, u)))
            g_err = max(g_err, abs(an - fd) / max(abs(fd), 1e-3))
        worst = max(worst, tr_err, g_err)
        rows.append([act, float(tr_err), float(g_err)])
    r.table(["activation", "trace vs divergence", "grad vs d(ISM)"], rows, fmt="{:>20}")
    r.check("the trace is the divergence of s, and ISM's gradient its derivative (relative 1e-6)",
            worst < 1e-6, f"worst {worst:.1e}")
    return r.done("ESM - ISM does not depend on theta, nor does its gradient: both have the same argmin.")


if __name__ == "__main__":
    raise SystemExit(main())
