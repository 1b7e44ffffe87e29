"""Where an MNIST score model stands, noise level by noise level.

For a checkpoint written by ``npscore train mnist``, on MNIST test images
with fixed noise, the ``ncsn`` loss at each sigma_i (first report, section 8 (b)):

    L_i = 1/2 E || sigma_i s(x + sigma_i z, sigma_i) + z ||^2

for the model, for its base alone (the exact noised score of the fitted
per-pixel density, the MLP's residual set to zero), and for the kernel
denoiser of the training set, ``s(x~) = (E[x | x~] - x~) / sigma^2`` with
E[x | x~] the posterior mean over the 60000 training images: the optimum
for a model that memorises them, printed with the median effective number
of training images in that posterior.

Run: python benchmarks/mnist_levels.py CHECKPOINT [--data DIR] [--n 1000]
"""
import argparse

import numpy as np

from npscore import backend
from npscore.mnist import run
from npscore.commands.mnist_config import mnist_folder
from npscore.mnist.idx import load_mnist
from npscore.losses import ncsn


def kernel_denoiser_loss(x_train, x, z, sigma):
    """The loss of the training set's posterior mean, and the median effective sample size."""
    xn = x + sigma * z
    d = (xn * xn).sum(1)[:, None] - 2 * xn @ x_train.T + (x_train * x_train).sum(1)[None]
    logw = -d / (2 * sigma * sigma)
    w = np.exp(logw - logw.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    err = w @ x_train - x
    return 0.5 * float((err * err).sum(1).mean()) / sigma ** 2, float(np.median(1.0 / (w * w).sum(1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default=None, help="MNIST folder (else $NPSCORE_MNIST_DIR)")
    ap.add_argument("--n", type=int, default=1000, help="test images")
    args = ap.parse_args()
    model, params, config = run.load_model(args.checkpoint)
    sigmas = tuple(config["sigmas"])
    xt, _ = load_mnist(mnist_folder(args.data), "test")
    x_train = backend.to_numpy(load_mnist(mnist_folder(args.data), "train")[0]).astype("float64")
    x = xt[: args.n]
    z = backend.rng(0, 3).normal(x.shape, x.dtype)
    xh, zh = backend.to_numpy(x).astype("float64"), backend.to_numpy(z).astype("float64")
    xp = backend.xp()
    print(f"{'sigma':>7}{'model':>10}{'base only':>11}{'kernel (memorising)':>21}{'ESS':>7}")
    for i, sigma in enumerate(sigmas):
        labels = xp.full((args.n,), i, dtype="int64")
        value = backend.to_float(ncsn(model, params, x, sigmas, labels=labels, noise=z)[0])
        s = xp.full((args.n,), sigma, dtype=x.dtype)
        r = sigma * model.base.noised_score(x + sigma * z, s) + z
        base = 0.5 * backend.to_float((r * r).sum(axis=1).mean())
        kernel, ess = kernel_denoiser_loss(x_train, xh, zh, sigma)
        print(f"{sigma:7.3f}{value:10.2f}{base:11.2f}{kernel:21.2f}{ess:7.1f}")


if __name__ == "__main__":
    main()
