"""A small hand-written MNIST classifier and the sample-quality numbers it gives.

No downloads: the classifier is an :class:`npscore.nn.MLP` (784-256-256-10,
ELU) trained here on MNIST train with softmax cross-entropy and saved as
``.npz``. On generated images it gives:

* the label histogram and the mean top-class probability;
* an Inception-score analogue ``exp(E_x KL(p(y|x) || p(y)))`` (10 at best);
* a Frechet distance in the classifier's penultimate (256-d) features
  against MNIST test ("classifier-FID"):
  ``||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})``.
"""
import os

from . import backend
from .nn import MLP
from .optim import Adam
from .training import atomic_savez, fit

SIZES = [784, 256, 256, 10]


def _softmax(z):
    xp = backend.xp()
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Classifier:
    """``p(y | x)`` for MNIST images ``x : (B, 784)`` in [0, 1]."""

    def __init__(self, params):
        self.model = MLP(SIZES, "elu")
        self.model.check_params(params)
        self.params = params

    def _batches(self, x, fn, size=2000):
        xp = backend.xp()
        return xp.concatenate([fn(x[i:i + size]) for i in range(0, x.shape[0], size)])

    def probs(self, x):
        return self._batches(x, lambda b: _softmax(self.model.apply(self.params, b)))

    def features(self, x):
        """Penultimate activations ``(B, 256)``."""
        return self._batches(x, lambda b: self.model.forward(self.params, b)[1][0][-1])

    def accuracy(self, x, labels):
        pred = backend.to_numpy(self.probs(x).argmax(axis=1))
        return float((pred == backend.host.asarray(labels)).mean())

    def save(self, path):
        atomic_savez(path, {f"param_{i}": backend.to_numpy(a)
                            for i, a in enumerate(a for layer in self.params for a in layer)})

    @classmethod
    def load(cls, path):
        np = backend.host
        with np.load(path, allow_pickle=False) as data:
            leaves = [backend.asarray(data[f"param_{i}"]) for i in range(2 * (len(SIZES) - 1))]
        return cls([(leaves[2 * i], leaves[2 * i + 1]) for i in range(len(SIZES) - 1)])


def cross_entropy(model, params, x, labels):
    """``(mean -log softmax(f(x))_y, grads)``; ``d/dlogits = (softmax - onehot) / B``."""
    xp = backend.xp()
    logits, cache = model.forward(params, x)
    p = _softmax(logits)
    B = x.shape[0]
    idx = xp.arange(B)
    value = -xp.log(xp.maximum(p[idx, labels], 1e-30)).mean()
    g = p.copy()
    g[idx, labels] -= 1.0
    return value, model.backward(params, cache, g / B)


def train_classifier(x, labels, steps=3000, batch=128, seed=0, progress=True):
    """Train the classifier on ``x : (N, 784)``, ``labels : (N,)`` host ints."""
    xp = backend.xp()
    model = MLP(SIZES, "elu")
    y = xp.asarray(labels)
    N = x.shape[0]

    def loss(p, rng):
        idx = rng.integers(N, (batch,))
        return cross_entropy(model, p, x[idx], y[idx])

    params, _, _ = fit(loss, model.init(seed, x.dtype), Adam(lr=1e-3), steps, seed, progress=progress,
                       desc="classifier")
    return Classifier(params)


def load_or_train(path, data_dir=None, steps=3000, progress=True, log=print):
    """The classifier saved at ``path``, or a new one trained on MNIST train and saved there."""
    from .data import load_mnist
    if os.path.exists(path):
        return Classifier.load(path)
    x, y = load_mnist(data_dir, "train")
    clf = train_classifier(x, y, steps=steps, progress=progress)
    xt, yt = load_mnist(data_dir, "test")
    log(f"classifier test accuracy {clf.accuracy(xt, yt):.4f}; saved to {path}")
    clf.save(path)
    return clf


# ---------------------------------------------------------------- the numbers
def frechet_distance(mu1, s1, mu2, s2):
    """Frechet distance of two Gaussians (host float64), via symmetric square roots."""
    np = backend.host

    def sqrtm_psd(a):
        w, v = np.linalg.eigh((a + a.T) / 2)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r1 = sqrtm_psd(s1)
    cross = sqrtm_psd(r1 @ s2 @ r1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def feature_stats(clf, x):
    np = backend.host
    f = backend.to_numpy(clf.features(x)).astype("float64")
    return f.mean(0), np.cov(f.T)


def evaluate(clf, samples, reference_stats):
    """Label histogram, mean top-class probability, IS analogue and classifier-FID of ``samples``."""
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


def gaussian_fit_samples(x, n, rng):
    """``n`` samples of N(mean, cov) fitted to ``x : (N, 784)`` (full covariance; 1e-4 jitter)."""
    xp = backend.xp()
    x64 = x.astype("float64")
    mu = x64.mean(axis=0)
    c = x64 - mu
    cov = c.T @ c / (x.shape[0] - 1) + 1e-4 * xp.eye(x.shape[1])
    L = xp.linalg.cholesky(cov)
    return (mu + rng.normal((n, x.shape[1])) @ L.T).astype(x.dtype)
