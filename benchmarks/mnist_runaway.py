"""Where the reverse-time SDE on an MNIST checkpoint runs away, if it does.

Runs the sampler of ``npscore sample`` (Euler-Maruyama on the VE SDE, 1000
steps, the same seed and prior draws) on ``--n`` chains until one chain's norm
exceeds 3 times the median, then prints that chain's norms and, a few steps
earlier, the largest-magnitude eigenvalue lambda of the score's Jacobian
ds/dx there (power iteration on central differences), against a neighbouring
chain and the Euler stability bound 2 / (g^2 dt). The noised data score has
lambda sigma^2 near -1 (restoring); lambda > 0 is a direction the model pushes
away from the data, along which the reverse SDE grows like exp(int g^2 lambda dt).

Run: python benchmarks/mnist_runaway.py CHECKPOINT [--n 1000]
"""
import argparse

import numpy as np

from npscore import backend
from npscore.mnist import run
from npscore.sde import VESDE


def top_eigenvalue(score, x, sigma, iters=40, h=1e-2):
    """``(lambda, v)``: power iteration on ``v -> (s(x + h v) - s(x - h v)) / 2h``."""
    v = np.random.default_rng(0).standard_normal((1, x.size))
    v /= np.linalg.norm(v)
    x = x[None].astype("float64")
    lam = 0.0
    for _ in range(iters):
        Jv = backend.to_numpy((score(backend.asarray(x + h * v), sigma) - score(backend.asarray(x - h * v), sigma)))
        Jv = Jv / (2 * h)
        lam, v = float((v * Jv).sum()), Jv / np.linalg.norm(Jv)
    return lam, v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--n", type=int, default=1000, help="chains (the first n of npscore sample's)")
    args = ap.parse_args()
    model, params, config = run.load_model(args.checkpoint)
    sig = config["sigmas"]
    rng = backend.rng(0, 7)                                   # as run.sample
    x = sig[0] * rng.normal((1000, 784), "float32")[: args.n]
    sde, score = VESDE(sig[-1], sig[0]), model.score_fn(params)
    ts, dt = np.linspace(1.0, 1e-3, 1001), (1 - 1e-3) / 1000
    hist, norms, k = [], [], None
    for i in range(1000):
        t = backend.asarray(np.full((args.n,), ts[i], dtype="float32"))
        sigma, g = sde.sigma(t), sde.diffusion(t)[:, None]
        hist.append(backend.to_numpy(x))
        x = x + g ** 2 * score(x, sigma) * dt + g * np.sqrt(dt) * rng.normal(x.shape, "float32")
        nrm = np.linalg.norm(backend.to_numpy(x), axis=1)
        norms.append(nrm)
        bad = ~np.isfinite(nrm) | (nrm > 3 * np.median(nrm))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            print(f"step {i + 1} (t = {ts[i]:.3f}, sigma = {float(sigma[0]):.3f}): {int(bad.sum())} chain(s) "
                  f"past 3 times the median norm; the first is chain {k}")
            break
    if k is None:
        print(f"no chain ran away: the median norm at the end is {np.median(norms[-1]):.2f}")
        return
    N = np.array(norms)
    print(f"chain {k}'s norm over the last 12 steps: {np.round(N[-12:, k], 1)}; median {np.median(N[-1]):.1f}")
    for back in (40, 20, 10, 5):
        j = len(hist) - back
        tj = np.array([ts[j]])
        s, g2dt = float(sde.sigma(tj)[0]), float(sde.diffusion(tj)[0]) ** 2 * dt
        lam, v = top_eigenvalue(score, hist[j][k], s)
        lam_n, _ = top_eigenvalue(score, hist[j][(k + 1) % args.n], s)
        print(f"{back:>2} steps before, sigma {s:.3f}: lambda at chain {k} {lam:.4g} "
              f"(lambda sigma^2 {lam * s * s:.3g}); at chain {(k + 1) % args.n} {lam_n:.4g}; bound 2 / (g^2 dt) {2 / g2dt:.4g}")
    where = np.abs(v[0]) > 0.1
    print(f"the direction lives on {int(where.sum())} pixels (|v_d| > 0.1), whose values are "
          f"{np.round(hist[-5][k][where], 1)}")


if __name__ == "__main__":
    main()
