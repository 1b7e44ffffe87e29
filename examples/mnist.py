"""MNIST end to end: load, train, sample, show the grid, compute the metrics.

Run: python examples/mnist.py [--quick]      (MNIST from ../shared/data/mnist or $NPSCORE_MNIST_DIR)
"""
import os
import sys

from npscore import backend

backend.use("numpy")            # "cupy" on a GPU: nothing else changes

from npscore import classifier, mnist, plotting     # noqa: E402
from npscore.data import load_mnist                  # noqa: E402

quick = "--quick" in sys.argv
here = os.path.dirname(os.path.abspath(__file__))
data = os.environ.get("NPSCORE_MNIST_DIR") or os.path.join(here, "..", "..", "shared", "data", "mnist")
out = "mnist_example_out"

# 1. the data: 60k training images as rows of 784 pixels in [0, 1]
x, labels = load_mnist(data, "train")
print(f"MNIST train: {x.shape[0]} images of {x.shape[1]} pixels")

# 2. train s(x, sigma) with multi-level DSM (10 sigmas from 1 to 0.01), Adam, EMA
model, params, losses, seconds = mnist.train(out, data, steps=200 if quick else 25000,
                                             hidden=64 if quick else 512)
print(f"trained {len(losses)} steps in {seconds:.0f}s, final loss {sum(losses[-100:]) / 100:.2f}")

# 3. the reverse-time VE SDE over the same sigmas (1000 steps), from the Gaussian fit of the
#    training images plus N(0, 1); mnist.sample(..., sampler="langevin") is NCSN's annealed
#    Langevin, with which many chains of this model fade to blank images (examples/README.md)
samples = mnist.sample(model, params, 100, seed=0, sampler="reverse-sde", x_train=x)
plotting.image_grid(os.path.join(out, "grid.png"), samples)
print(f"sample grid: {os.path.join(out, 'grid.png')}")

# 4. the numbers: a hand-written classifier's view of the samples, beside MNIST test
clf = classifier.load_or_train(os.path.join(out, "classifier.npz"), data, steps=300 if quick else 3000)
xt, _ = load_mnist(data, "test")
ref = classifier.feature_stats(clf, xt)
for name, imgs in (("samples", samples), ("MNIST test", xt[:100])):
    m = classifier.evaluate(clf, imgs, ref)
    print(f"{name:<11} classifier-FID {m['classifier_fid']:8.2f}  IS analogue {m['inception_score']:.2f}")
