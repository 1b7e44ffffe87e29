"""The Gaussian score family as an npscore model, and the exact argmin of a quadratic loss.

``MLP([D, D])`` is linear, ``s(x) = x W + b``: the score of N(m, P^{-1}) when
``W = -P``, ``b = m P``. ``NoiseConditionalMLP([D, D])`` is
``s(x, sigma) = ([x, log sigma] W + b) / sigma``: at one sigma, any affine map.
Every score-matching loss of such a model is a quadratic in its params, so
:func:`argmin` finds the minimiser exactly from npscore's own gradients.
"""
import numpy as np

from npscore import MLP, NoiseConditionalMLP, backend


def model(D):
    return MLP([D, D])


def conditional_model(D):
    return NoiseConditionalMLP([D, D])


def params_of(m, P):
    """Fresh linear-score params of N(m, P^{-1})."""
    return [(backend.asarray(-np.array(P, dtype="float64")), backend.asarray(np.array(m, dtype="float64") @ P))]


def gaussian_of(params):
    """(m, P) from linear-score params (P symmetrised)."""
    W, b = (np.asarray(backend.to_numpy(a), dtype="float64") for a in params[0])
    W = W[: W.shape[1]]
    P = -0.5 * (W + W.T)
    return np.linalg.lstsq(P, b, rcond=None)[0], P           # P may be singular where a claim is broken


def _flat(params):
    return np.concatenate([np.ravel(backend.to_numpy(a)) for a in params[0]]).astype("float64")


def _unflat(theta, template):
    W, b = template[0]
    nW = W.size
    return [(backend.asarray(theta[:nW].reshape(W.shape)), backend.asarray(theta[nW:].reshape(b.shape)))]


def argmin(grad, template):
    """The stationary point of a quadratic loss, from ``grad(params) -> grads`` (npscore's).

    The gradient of a quadratic is affine, ``g(theta) = H theta + g0``; its
    columns come from unit params, and ``theta* = -H^{-1} g0`` (least squares
    where the loss is flat along a direction, as the unused log-sigma row).
    """
    n = _flat(template).size
    g0 = _flat(grad(_unflat(np.zeros(n), template)))
    H = np.stack([_flat(grad(_unflat(np.eye(n)[k], template))) - g0 for k in range(n)], axis=1)
    return _unflat(np.linalg.lstsq(H, -g0, rcond=None)[0], template)


def sm_equals_mle(x, drop_trace=False):
    """Score matching's fit of a Gaussian to ``x : (N, D)`` beside the maximum-likelihood fit.

    The argmin of ``losses.ism`` over the linear score family (solved
    exactly from npscore's gradients), against the MLE: the sample mean and
    the inverse of the biased sample covariance (Hyvarinen 2005, section 2.3).
    ``drop_trace`` removes ISM's trace term (the claim then fails).

    Returns
    -------
    (m_sm, P_sm), (m_mle, P_mle), gap : the largest absolute difference
    """
    from npscore import losses
    x = np.asarray(x, dtype="float64")
    D = x.shape[1]
    lin, xd = model(D), backend.asarray(x)

    def grad(p):
        g = losses.ism(lin, p, xd)[1]
        if drop_trace:                                 # minus the gradient of mean tr(ds/dx) = tr W
            g[0][0][:] -= backend.asarray(np.eye(D))
        return g
    m_sm, P_sm = gaussian_of(argmin(grad, params_of(np.zeros(D), np.eye(D))))
    m_mle, P_mle = x.mean(0), np.linalg.inv(np.atleast_2d(np.cov(x.T, bias=True)))
    return (m_sm, P_sm), (m_mle, P_mle), float(max(np.abs(m_sm - m_mle).max(), np.abs(P_sm - P_mle).max()))
