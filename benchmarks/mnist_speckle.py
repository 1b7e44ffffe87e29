"""Where the speckle of an MNIST checkpoint's samples comes from.

Speckle is the fraction of lit pixels (> 0.5) with no lit neighbour
(:func:`npscore.mnist.run.speckle`, :func:`npscore.mnist.run.isolated`).
This script runs the default sampler of
``npscore sample`` (reverse-time VE SDE, 1000 steps, seed 0) on ``--n``
chains, keeping every 10th state, and reports

1. the isolated pixels themselves: their values, their brightest
   neighbour's, and how far (in pixels, max-norm) the nearest other lit
   pixel lies; and the level at which each final lit pixel was decided: the smallest sigma
   on the path below which the denoiser ``D(x, sigma) = x + sigma^2 s(x, sigma)``
   (Tweedie's posterior mean) stays on the pixel's final side of 0.5, for the
   isolated pixels and for the others;
2. the denoiser on noised images: each row adds ``sigma z`` to the clipped
   samples and to as many MNIST test images, and counts the background
   pixels (<= 0.5 before the noise) that the denoiser lights (> 0.5), and the
   lit pixels it keeps lit. On test images a background pixel lit is a wrong
   decision of the model (MNIST test itself has almost no speckle), the
   mechanism that puts isolated pixels into the samples when it happens
   on the sampler's path;
3. the sampler's last stretch on real digits: the reverse SDE run from MNIST
   test images noised to each of ``STARTS`` down to sigma_L (as many steps
   per unit of log sigma as the sampler takes), and the speckle it leaves.
   What it leaves is made below that sigma, whatever the samples above it.

``--without-gate`` runs the same checkpoint with its local gate removed
(the MLP and base as trained), which is the model before the gate's own
training steps.

Run: python benchmarks/mnist_speckle.py CHECKPOINT [--data DIR] [--n 300] [--without-gate]
"""
import argparse
import math

import numpy as np

from npscore import backend
from npscore.mnist import run
from npscore.commands.mnist_config import mnist_folder
from npscore.mnist.idx import load_mnist
from npscore.mnist.model import GatedScore
from npscore.sampling import run as run_sampler
from npscore.sde import VESDE

LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5)
STARTS = (0.1, 0.2, 0.4, 0.8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default=None, help="MNIST folder (else $NPSCORE_MNIST_DIR)")
    ap.add_argument("--n", type=int, default=300, help="chains (the first n of npscore sample's draws)")
    ap.add_argument("--without-gate", action="store_true", help="drop the checkpoint's local gate")
    args = ap.parse_args()
    model, params, config = run.load_model(args.checkpoint)
    if args.without_gate:
        model = GatedScore(model.sizes, model.activation, model.base, model.gated, model.scale_input,
                           model.sigma_features, model.bound)
        params = params[:model.n_layers]
    sig, score = config["sigmas"], model.score_fn(params)

    def denoise(x, sigma):
        return x + sigma * sigma * backend.to_numpy(score(backend.asarray(x), sigma))

    rng = backend.rng(0, 7)                                    # as run.sample
    x1 = sig[0] * rng.normal((args.n, 784), "float32")
    sde = VESDE(sig[-1], sig[0])
    x, path = run_sampler("reverse-sde", model.score_fn(params), x1, rng, sde=sde, n_steps=1000,
                          record_every=10)
    x, path = np.clip(backend.to_numpy(x), 0, 1), backend.to_numpy(path)
    sigmas = sig[-1] * (sig[0] / sig[-1]) ** np.linspace(1.0, 1e-3, 1001)[::10]
    iso, lit = run.isolated(x)
    print(f"{args.n} reverse-SDE samples: speckle {run.speckle(x):.4f}, "
          f"{iso.sum()} isolated pixels, in {(iso.sum(1) > 0).mean():.0%} of the images")

    q = (0.1, 0.5, 0.9)
    def around(a, r, reduce):                                  # over the pixels at max-norm distance 1..r
        return reduce(run.neighbours(a, r), axis=0).reshape(len(x), -1)[iso]
    reach = [around(x > 0.5, r, np.any) for r in range(2, 6)]  # isolated: none at distance 1
    far = 2 + np.argmax(np.stack(reach + [np.ones_like(reach[0])]), axis=0)
    print("isolated pixels: value, quantiles 10/50/90% " + " ".join(f"{v:.2f}" for v in np.quantile(x[iso], q))
          + "; brightest neighbour " + " ".join(f"{v:.2f}" for v in np.quantile(around(x, 1, np.max), q))
          + "; nearest lit pixel at distance 2/3/4/5/more: " + "/".join(str((far == d).sum()) for d in range(2, 7)))

    steps = [k for k in range(len(sigmas)) if sigmas[k] < 2.0][::2]
    final = x > 0.5
    decided = np.full(x.shape, np.nan)                         # smallest sigma before which the side changed
    for k in steps:                                            # sigma falling
        side = denoise(path[k], float(sigmas[k])) > 0.5
        decided = np.where(np.isnan(decided) | (side != final), sigmas[k], decided)
    others = lit & ~iso
    print("level deciding a lit pixel, quantiles 10/50/90%: isolated "
          + " ".join(f"{v:.3f}" for v in np.quantile(decided[iso], q)) + "; others "
          + " ".join(f"{v:.3f}" for v in np.quantile(decided[others], q)))

    test = backend.to_numpy(load_mnist(mnist_folder(args.data), "test")[0])[: args.n]
    z = np.random.default_rng(1).standard_normal((2,) + x.shape).astype("float32")
    print(f"{'sigma':>6}{'samples: bg lit':>17}{'lit kept':>10}{'isolated kept':>15}"
          f"{'test: bg lit':>14}{'lit kept':>10}")
    for sigma in LEVELS:
        row = f"{sigma:6.2f}"
        for images, zi, cols in ((x, z[0], (17, 10, 15)), (test, z[1], (14, 10))):
            on = images > 0.5
            d = denoise(images + sigma * zi, sigma) > 0.5
            row += f"{d[~on].mean():{cols[0]}.5f}{d[on].mean():{cols[1]}.3f}"
            if len(cols) == 3:
                row += f"{d[iso].mean():{cols[2]}.3f}"
        print(row)

    print(f"MNIST test speckle {run.speckle(test):.5f}; the reverse SDE from test images noised to sigma:")
    for s0 in STARTS:
        part = VESDE(sig[-1], s0)
        n_steps = round(1000 * math.log(s0 / sig[-1]) / math.log(sig[0] / sig[-1]))
        rng = backend.rng(0, 7)
        y = run_sampler("reverse-sde", model.score_fn(params), backend.asarray(test) + s0 * rng.normal(
            test.shape, "float32"), rng, sde=part, n_steps=n_steps)
        y = np.clip(backend.to_numpy(y), 0, 1)
        print(f"{s0:6.2f}  {n_steps:4d} steps: speckle {run.speckle(y):.5f}, "
              f"in {(run.isolated(y)[0].sum(1) > 0).mean():.1%} of the images")


if __name__ == "__main__":
    main()
