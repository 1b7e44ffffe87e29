"""MNIST end to end: load, train, sample, show the grid, compute the metrics.

Run: python examples/mnist.py [--quick]      (MNIST from $NPSCORE_MNIST_DIR or ../shared/data/mnist)
"""
import os
import sys

from npscore import backend

backend.use("numpy")            # "cupy" on a GPU: nothing else changes
backend.tune_allocator()        # reuse freed buffers (glibc): faster steps

from npscore import plotting                          # noqa: E402
from npscore.mnist import classifier, run             # noqa: E402

quick = "--quick" in sys.argv
here = os.path.dirname(os.path.abspath(__file__))
folder = os.environ.get("NPSCORE_MNIST_DIR") or os.path.join(here, "..", "..", "shared", "data", "mnist")
out = "mnist_example_out"

# 1. the data: 60k training images (and 10k test) as rows of 784 pixels in [0, 1]
data = run.load_data(folder)
print(f"MNIST train: {data['x_train'].shape[0]} images of {data['x_train'].shape[1]} pixels")

# 2. train s(x, sigma) with DSM over sigma log-uniform from the largest image distance to 0.01, Adam, EMA;
#    then the local gate alone on the EMA of the rest
model, params, losses, seconds, config = run.train(out, data["x_train"], steps=200 if quick else 25000,
                                                   hidden=64 if quick else 512, gate_steps=50 if quick else 3000,
                                                   force=True)
print(f"trained {len(losses)} steps in {seconds:.0f}s, final loss {sum(losses[-100:]) / 100:.2f}")

# 3. sample with the reverse-time VE SDE from N(0, sigma_1^2 I) (sampler="annealed-langevin": NCSN's)
samples = backend.xp().clip(run.sample(model, params, config["sigmas"], 100, seed=0), 0.0, 1.0)
plotting.image_grid(os.path.join(out, "grid.png"), samples)
print(f"sample grid: {os.path.join(out, 'grid.png')}")

# 4. the numbers: a hand-written classifier's view of the samples, beside MNIST test
clf = classifier.train_classifier(data["x_train"], data["y_train"], steps=300 if quick else 3000)
ref = classifier.feature_stats(clf, data["x_test"])
for name, imgs in (("samples", samples), ("MNIST test", data["x_test"][:100])):
    m = classifier.evaluate(clf, imgs, ref)
    print(f"{name:<11} classifier-FID {m['classifier_fid']:8.2f}  IS analogue {m['inception_score']:.2f}  "
          f"speckle {run.speckle(imgs):.4f}")
