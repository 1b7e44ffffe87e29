"""Two formulas several modules share, written once.

* :func:`squared_distances`: ``||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j``, one matrix
  product, clipped at 0 (the expansion can dip below it by rounding). Array methods only, so host
  arrays stay on the host whatever the backend.
* :func:`softmax`: ``exp(z - max z) / sum exp(z - max z)`` along the last axis, on the active
  backend (the shift keeps ``exp`` from overflowing and leaves the result as it is).
"""
from . import backend


def squared_distances(a, b):
    """``(N, M)`` squared Euclidean distances between the rows of ``a : (N, D)`` and ``b : (M, D)``."""
    return ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T).clip(0.0, None)


def softmax(z):
    """``softmax(z)`` along the last axis of ``z : (B, K)``."""
    e = backend.xp().exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
