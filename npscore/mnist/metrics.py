"""What the MNIST samples are scored by: classifier-FID, the IS analogue and the label histogram
(:mod:`npscore.mnist.classifier`), the speckle (isolated lit pixels) and the blank images, beside
MNIST test (the floor) and a Gaussian fitted to the training images (a known-bad baseline).
"""
from .. import backend
from . import classifier
from .base import gaussian_fit_samples


def neighbours(images, r=1):
    """``((2r + 1)^2 - 1, n, 28, 28)``: host ``images`` shifted by each offset ``(di, dj) != 0`` with
    ``|di|, |dj| <= r``: at pixel ``(i, j)`` the pixel ``(i + di, j + dj)`` (0 outside the image)."""
    padded = backend.host.pad(images.reshape(-1, 28, 28), ((0, 0), (r, r), (r, r)))
    return backend.host.stack([padded[:, r + di:28 + r + di, r + dj:28 + r + dj]
                               for di in range(-r, r + 1) for dj in range(-r, r + 1) if (di, dj) != (0, 0)])


def isolated(images, lit=0.5):
    """``(isolated, lit)``: host boolean ``(n, 784)`` masks of the lit pixels (``> lit``) and of
    those none of whose 8 neighbours is lit."""
    x = backend.to_numpy(images).reshape(-1, 784) > lit
    return x & ~neighbours(x).any(0).reshape(len(x), -1), x


def speckle(images, lit=0.5):
    """The fraction of lit pixels (``> lit``) none of whose 8 neighbours is lit: isolated bright
    pixels."""
    iso, on = isolated(images, lit)
    return float(iso.sum() / max(int(on.sum()), 1))


def blank(images, level=0.06):
    """The fraction of images whose mean pixel is below ``level``."""
    return float((backend.to_numpy(images).reshape(images.shape[0], -1).mean(1) < level).mean())


def evaluate_samples(clf, raw, x_test, x_train, seed=0):
    """The metrics of the samples ``raw`` (clipped to [0, 1]) beside MNIST test and the Gaussian fit.

    Returns
    -------
    dict
        Rows ``model``, ``model unclipped``, ``mnist_test (floor)``,
        ``gaussian_fit (baseline)``, ``gaussian_fit clipped``: each the
        classifier's metrics (:func:`classifier.evaluate`) and ``speckle``.
    """
    xp = backend.xp()
    n = raw.shape[0]
    ref = classifier.feature_stats(clf, x_test)
    perm = backend.host.random.default_rng(seed).permutation(x_test.shape[0])[:n]
    gauss = gaussian_fit_samples(x_train, n, backend.rng(seed, 11))
    rows = {"model": xp.clip(raw, 0.0, 1.0), "model unclipped": raw,
            "mnist_test (floor)": x_test[backend.asarray(perm)],
            "gaussian_fit (baseline)": gauss, "gaussian_fit clipped": xp.clip(gauss, 0.0, 1.0)}
    return {key: {**classifier.evaluate(clf, x, ref), "speckle": speckle(x), "blank": blank(xp.clip(x, 0.0, 1.0))}
            for key, x in rows.items()}
