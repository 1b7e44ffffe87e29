"""How to read classifier-FID: the numbers it gives to known images.

The MNIST quality numbers (:mod:`npscore.mnist.classifier`) are a Frechet distance
in a small classifier's penultimate features. To read a model's figure, this
prints the same figure for 1000 training images (against MNIST test), for
those images degraded in known ways (blurred, noised with and without
clipping to [0, 1], salted with white pixels, averaged in pairs) and for the
Gaussian fit (the baseline of every MNIST table) as drawn and clipped to [0, 1].

Run: python benchmarks/mnist_metric.py [--data DIR] [--classifier FILE]
(trains and saves the classifier if FILE does not exist; writes
results/mnist_metric.json)
"""
import argparse
import os

import numpy as np

from npscore import backend
from npscore.io import atomic_write_json
from npscore.mnist import classifier
from npscore.mnist.base import gaussian_fit_samples
from npscore.commands.mnist_config import mnist_folder
from npscore.mnist.idx import load_mnist

HERE = os.path.dirname(os.path.abspath(__file__))


def blur(x, width):
    """Separable Gaussian blur of ``x : (n, 784)`` with a ``width``-pixel standard deviation."""
    k = np.exp(-0.5 * (np.arange(-3, 4) / width) ** 2)
    k /= k.sum()
    img = x.reshape(-1, 28, 28)
    for axis in (1, 2):
        img = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), axis, img)
    return img.reshape(-1, 784)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="MNIST folder (else $NPSCORE_MNIST_DIR)")
    ap.add_argument("--classifier", default=os.path.join(HERE, "results", "classifier.npz"))
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    x, y = load_mnist(mnist_folder(args.data), "train")
    xt, _ = load_mnist(mnist_folder(args.data), "test")
    clf = classifier.load_or_train(args.classifier, x, y)
    ref = classifier.feature_stats(clf, xt)
    r = np.random.default_rng(0)
    s = backend.to_numpy(x)[r.permutation(x.shape[0])[: args.n]].astype("float64")
    gauss = backend.to_numpy(gaussian_fit_samples(x, args.n, backend.rng(0, 11)))
    noisy = s + 0.1 * r.standard_normal(s.shape)
    salt = s.copy()
    salt[r.random(s.shape) < 0.02] = 1.0
    cases = {"MNIST train": s, "blurred, 0.7 px": blur(s, 0.7), "blurred, 1 px": blur(s, 1.0),
             "blurred, 1.5 px": blur(s, 1.5), "+ N(0, 0.1^2) noise": noisy,
             "+ N(0, 0.1^2) noise, clipped": np.clip(noisy, 0, 1), "2% pixels set to 1": salt,
             "pairs averaged": (s[:-1] + s[1:]) / 2, "Gaussian fit": gauss,
             "Gaussian fit, clipped": np.clip(gauss, 0, 1)}
    out = {}
    print(f"{str(args.n) + ' images':<32}{'classifier-FID':>15}  min class")
    for name, imgs in cases.items():
        m = classifier.evaluate(clf, backend.asarray(imgs.astype("float32")), ref)
        out[name] = {"classifier_fid": m["classifier_fid"], "min_class_fraction": min(m["label_fractions"])}
        print(f"{name:<32}{m['classifier_fid']:15.1f}  {min(m['label_fractions']):.3f}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    atomic_write_json(os.path.join(HERE, "results", "mnist_metric.json"), out)


if __name__ == "__main__":
    main()
