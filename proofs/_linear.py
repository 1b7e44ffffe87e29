"""The Gaussian score family as an npscore model: ``MLP([D, D])`` is linear,
``s(x) = x W + b``, which is the score of N(m, P^{-1}) when W = -P, b = m P."""
import numpy as np

from npscore import MLP, backend


def model(D):
    return MLP([D, D])


def params_of(m, P):
    return [(backend.asarray(-P), backend.asarray(m @ P))]


def gaussian_of(params):
    """(m, P) from linear-score params (P symmetrised)."""
    W, b = (np.asarray(backend.to_numpy(a), dtype="float64") for a in params[0])
    P = -0.5 * (W + W.T)
    return np.linalg.solve(P, b), P   # m P = b, P symmetric
