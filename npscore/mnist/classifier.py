"""A small hand-written MNIST classifier and the sample-quality numbers it gives.

No downloads: the classifier is an :class:`npscore.nn.MLP` (784-256-256-10,
ELU) trained here on MNIST train with softmax cross-entropy and saved as
``.npz``. On generated images it gives:

* the label histogram and the mean top-class probability;
* an Inception-score analogue ``exp(E_x KL(p(y|x) || p(y)))`` (10 at best);
* classifier-FID: the Frechet distance (:func:`npscore.metrics.frechet_distance`)
  of the penultimate (256-d) features against MNIST test.
"""
import os

from .. import backend, io
from ..linalg import softmax
from ..metrics import frechet_distance
from ..nn import MLP
from ..optim import Adam
from ..training import fit
from ..tree import tree_leaves, tree_unflatten

SIZES = [784, 256, 256, 10]


class Classifier:
    """``p(y | x)`` for MNIST images ``x : (B, 784)`` in [0, 1].

    Parameters
    ----------
    params : list of (W, b)
        Of ``MLP(SIZES, "elu")``.
    """

    def __init__(self, params):
        self.model = MLP(SIZES, "elu")
        self.model.check(params, backend.xp().zeros((1, 784), dtype=params[0][0].dtype))
        self.params = params

    def _batches(self, x, fn, size=2000):
        return backend.xp().concatenate([fn(x[i:i + size]) for i in range(0, x.shape[0], size)])

    def probs(self, x):
        """``p(y | x) : (B, 10)``."""
        return self._batches(x, lambda b: softmax(self.model._forward(self.params, b, order=0)[0]))

    def features(self, x):
        """The penultimate activations ``(B, 256)``."""
        return self._batches(x, lambda b: self.model._forward(self.params, b, order=0)[1].h[-1])

    def accuracy(self, x, labels):
        """The fraction of ``x`` classified as ``labels`` (host ints)."""
        pred = backend.to_numpy(self.probs(x).argmax(axis=1))
        return float((pred == backend.host.asarray(labels)).mean())

    def save(self, path):
        """Write the params to ``path`` (``.npz``), atomically."""
        io.atomic_savez(path, {f"param_{i}": backend.to_numpy(a) for i, a in enumerate(tree_leaves(self.params))})

    @classmethod
    def load(cls, path):
        """The classifier saved at ``path`` by :meth:`save`."""
        n = 2 * (len(SIZES) - 1)
        what = "an npscore MNIST classifier (.npz)"
        data = io.read_npz(path, [f"param_{i}" for i in range(n)], what)
        if "config" in data:
            raise ValueError(f"{path}: a score model's checkpoint, not {what}; name a classifier with --classifier, "
                             "or leave it out to train one in --out (the checkpoint is left as it is)")
        params = tree_unflatten([backend.asarray(data[f"param_{i}"]) for i in range(n)])
        try:
            return cls(params)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not {what} ({exc}); name another file with --classifier, or leave it out "
                             "to train one in --out") from None


def cross_entropy(model, params, x, labels):
    """``(mean_b -log softmax(f(x_b))_{y_b}, grads)``, with ``dL/dlogits = (softmax - onehot) / B``."""
    xp = backend.xp()
    logits, cache = model._forward(params, x)
    p = softmax(logits)
    B = x.shape[0]
    idx = xp.arange(B)
    value = -xp.log(xp.maximum(p[idx, labels], 1e-30)).mean()
    g = p.copy()
    g[idx, labels] -= 1.0
    return value, model.backward(params, cache, g / B)


def train_classifier(x, labels, steps=3000, batch=128, seed=0, progress=True):
    """The classifier trained on ``x : (N, 784)`` and ``labels : (N,)`` host ints."""
    model = MLP(SIZES, "elu")
    y = backend.xp().asarray(labels)
    N = x.shape[0]

    def loss(p, rng):
        idx = rng.integers(N, (batch,))
        return cross_entropy(model, p, x[idx], y[idx])

    params, _, _ = fit(loss, model.init(seed, x.dtype), Adam(lr=1e-3), steps, seed, progress=progress,
                       desc="classifier")
    return Classifier(params)


def load_or_train(path, x_train, y_train, steps=3000, progress=True, log=print):
    """The classifier at ``path``, or a new one trained on the given images and saved there first."""
    if os.path.exists(path):
        return Classifier.load(path)
    clf = train_classifier(x_train, y_train, steps=steps, progress=progress)
    clf.save(path)
    log(f"classifier trained and saved to {path}")
    return clf


def feature_stats(clf, x):
    """Mean ``(256,)`` and covariance ``(256, 256)`` of the features of ``x`` (host float64)."""
    np = backend.host
    f = backend.to_numpy(clf.features(x)).astype("float64")
    return f.mean(0), np.cov(f.T)


def evaluate(clf, samples, reference_stats):
    """Label histogram, mean top-class probability, IS analogue and classifier-FID of ``samples``.

    Returns
    -------
    dict
        ``label_fractions``, ``mean_top_prob``, ``inception_score``, ``classifier_fid``.
    """
    np = backend.host
    p = backend.to_numpy(clf.probs(samples)).astype("float64")
    py = p.mean(0)
    kl = (p * (np.log(np.maximum(p, 1e-30)) - np.log(np.maximum(py, 1e-30)))).sum(1)
    hist = np.bincount(p.argmax(1), minlength=10) / p.shape[0]
    mu, s = feature_stats(clf, samples)
    return {"label_fractions": [float(v) for v in hist],
            "mean_top_prob": float(p.max(1).mean()),
            "inception_score": float(np.exp(kl.mean())),
            "classifier_fid": frechet_distance(mu, s, *reference_stats)}
