"""The score-matching objectives, side by side, each with its parameter gradient.

Every function returns ``(value, grads)``: ``value`` a 0-d array of the active
backend (``float(value)`` reads it), ``grads`` shaped like ``params`` (a list of
``(W, b)`` pairs). Gradients are derived by hand through the model's
backward, forward-mode and trace passes (:mod:`npscore.nn`); the autograd
definitions in :mod:`npscore.reference` pin them in the tests.

Conventions (batch means over ``x : (B, D)``, ``s = model.apply(params, x)``):

=============  ===============================================================
``esm``        mean  1/2 ||s(x) - grad log p(x)||^2
``ism``        mean  tr(ds/dx) + 1/2 ||s(x)||^2
``ssm``        mean  v^T (ds/dx) v + 1/2 (v^T s)^2      (over projections too)
``ssm`` (VR)   mean  v^T (ds/dx) v + 1/2 ||s||^2
``dsm``        mean  1/2 ||s(x + sigma eps) + eps / sigma||^2
``ncsn``       mean  sigma_i^2 1/2 ||s(x + sigma_i eps, sigma_i) + eps / sigma_i||^2
``sde_dsm``    mean  lambda(t) 1/2 ||s(x_t, t) + eps / sigma_t||^2
=============  ===============================================================

The notes state some of these at other scales: the first report's L_ESM
(Definition 1) is twice ``esm``, its L_ISM is twice ``ism``
(``||S||^2 + 2 div S``), and its L_DSM (section 7) is twice ``dsm``; the second
report's L_SM (section 2.2) is exactly ``ism``. A constant factor changes
no argmin. ESM = ISM + C with C = 1/2 E||grad log p||^2 (Hyvarinen 2005),
and DSM = ESM(p_sigma) + C (Vincent 2011); ``proofs/`` checks both.
"""
from . import backend, reference
from .nn import check_batch, check_shape


# ---------------------------------------------------------------- argument checks
def check_sigma(sigma, argname="sigma"):
    """``sigma`` as a positive finite Python float."""
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise TypeError(f"{argname} must be a positive number; got {sigma!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{argname} must be positive and finite; got {sigma!r}")
    return value


def check_sigmas(sigmas, argname="sigmas"):
    """``sigmas`` as a host list of positive floats, strictly decreasing."""
    values = [float(s) for s in backend.to_numpy(sigmas).reshape(-1)]
    if len(values) < 1:
        raise ValueError(f"{argname} must hold at least one noise level")
    for s in values:
        if not s > 0 or s == float("inf"):
            raise ValueError(f"{argname} must hold positive finite values; got {values}")
    if any(b >= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{argname} must be strictly decreasing (largest first); got {values}")
    return values


def _need(draw, given, rng, argname):
    if given is not None:
        return given
    if rng is None:
        raise ValueError(f"pass either rng= or {argname}= (the draws themselves)")
    return draw()


# ---------------------------------------------------------------- explicit SM
def esm(model, params, x, true_score):
    """Explicit score matching, for a density whose score is known.

    .. math:: L = E_x 1/2 ||s_theta(x) - grad_x log p(x)||^2

    Parameters: ``x : (B, D)``; ``true_score`` a callable ``(B, D) -> (B, D)``.
    First report, Definition 1 (its L_ESM is twice this).
    """
    check_batch(x, model.in_dim)
    target = true_score(x)
    check_shape(target, (x.shape[0], model.out_dim), "true_score(x)")
    s, cache = model.forward(params, x)
    r = s - target
    value = 0.5 * (r * r).sum(axis=1).mean()
    return value, model.backward(params, cache, r / x.shape[0])   # d/ds = (s - target) / B


# ---------------------------------------------------------------- implicit SM
def ism(model, params, x, trace="fast"):
    """Implicit (Hyvarinen) score matching with the exact Jacobian trace.

    .. math:: L = E_x [ tr(d s_theta / dx) + 1/2 ||s_theta(x)||^2 ]

    ``trace="fast"``: the hand-derived trace and its gradient
    (:meth:`npscore.nn.MLP.trace_and_vjp`, never forming the (B, D, D)
    Jacobian). ``trace="autograd"``: the same through autograd from
    :func:`npscore.reference.ism` (NumPy backend only, D reverse passes).
    First report, Definition 1 (its L_ISM is twice this); second report,
    section 2.2 (its L_SM is this).
    """
    check_batch(x, model.in_dim)
    if trace == "autograd":
        if not backend.is_host():
            raise ValueError("trace='autograd' needs the numpy backend: autograd does not trace "
                             "CuPy arrays; use trace='fast'")
        return reference.ism(params, x, model.activation)
    if trace != "fast":
        raise ValueError(f"trace must be 'fast' or 'autograd'; got {trace!r}")
    xp = backend.xp()
    B = x.shape[0]
    w = xp.full((B,), 1.0 / B, dtype=x.dtype)
    # one pass: d/ds of mean 1/2 ||s||^2 is s / B, d/dtr of mean tr is 1 / B
    s, tr, grads = model.trace_and_vjp(params, x, w, g=lambda out: out / B)
    value = (tr + 0.5 * (s * s).sum(axis=1)).mean()
    return value, grads


# ---------------------------------------------------------------- sliced SM
def ssm(model, params, x, n_projections=1, rng=None, v=None, kind="gaussian",
        variance_reduction=False):
    """Sliced score matching (Song, Garg, Shi, Ermon 2019).

    .. math:: L = E_{x, v} [ v^T (d s_theta / dx) v + 1/2 (v^T s_theta(x))^2 ]

    or, with ``variance_reduction=True`` (SSM-VR), ``+ 1/2 ||s_theta(x)||^2``
    in place of the second term (its expectation when E[v v^T] = I).

    Parameters: ``x : (B, D)``; ``v : (n_projections, B, D)`` or drawn from
    ``rng`` as ``kind`` = "gaussian" or "rademacher". The mean runs over
    projections and batch. Second report, section 2.
    """
    xp = backend.xp()
    check_batch(x, model.in_dim)
    if isinstance(n_projections, bool) or not isinstance(n_projections, int) or n_projections < 1:
        raise ValueError(f"n_projections must be an int >= 1; got {n_projections!r}")
    if kind not in ("gaussian", "rademacher"):
        raise ValueError(f"kind must be 'gaussian' or 'rademacher'; got {kind!r}")
    B, D = x.shape
    shape = (n_projections, B, D)
    draw = lambda: (rng.normal if kind == "gaussian" else rng.rademacher)(shape, x.dtype)  # noqa: E731
    v = _need(draw, v, rng, "v")
    if getattr(v, "ndim", None) == 3:
        n_projections = v.shape[0]
    check_shape(v, (n_projections, B, D), "v")
    V = xp.ascontiguousarray(v.transpose(1, 0, 2))          # (B, M, D)
    s, cache = model.forward(params, x, v=V)
    Jv = cache[2][-1]                                       # (B, M, D) = (ds/dx) v
    N = n_projections * B
    vJv = (V * Jv).sum(axis=2)                              # (B, M)
    if variance_reduction:
        value = vJv.mean() + 0.5 * (s * s).sum(axis=1).mean()
        g = s / B                                           # d/ds 1/2 ||s||^2, mean over B
    else:
        vs = (V * s[:, None, :]).sum(axis=2)                # (B, M) = v^T s
        value = vJv.mean() + 0.5 * (vs * vs).mean()
        g = (vs[:, :, None] * V).sum(axis=1) / N            # d/ds 1/2 (v^T s)^2 = (v^T s) v
    return value, model.backward(params, cache, g, V / N)   # d/d(Jv) of v^T Jv = v


# ---------------------------------------------------------------- denoising SM
def dsm(model, params, x, sigma, rng=None, noise=None):
    """Denoising score matching at one noise level (Vincent 2011).

    .. math:: L = E_{x, eps} 1/2 || s_theta(x + sigma eps) + eps / sigma ||^2

    with ``eps ~ N(0, I)``: the target ``-(x~ - x) / sigma^2 = -eps / sigma`` is
    the score of the Gaussian kernel p(x~ | x) = N(x, sigma^2 I).
    ``noise : (B, D)`` is eps (or drawn from ``rng``). First report, sections
    6-7 (its L_DSM is twice this).
    """
    check_batch(x, model.in_dim)
    sigma = check_sigma(sigma)
    eps = _need(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    check_shape(eps, x.shape, "noise")
    s, cache = model.forward(params, x + sigma * eps)
    r = s + eps / sigma
    value = 0.5 * (r * r).sum(axis=1).mean()
    return value, model.backward(params, cache, r / x.shape[0])


def ncsn(model, params, x, sigmas, rng=None, noise=None, labels=None):
    """Multi-level denoising score matching of NCSN (Song and Ermon 2019).

    .. math:: L = E_{i, x, eps} lambda(sigma_i) 1/2 || s_theta(x + sigma_i eps, sigma_i) + eps / sigma_i ||^2

    with ``lambda(sigma) = sigma^2``, the level ``i`` drawn uniformly per
    example (``labels : (B,)`` ints, or from ``rng``), the model conditioned on
    sigma (:class:`npscore.nn.NoiseConditionalMLP`). ``sigmas`` strictly
    decreasing. First report, section 8 (b).
    """
    xp = backend.xp()
    check_batch(x, model.in_dim)
    levels = check_sigmas(sigmas)
    B = x.shape[0]
    labels = _need(lambda: rng.integers(len(levels), (B,)), labels, rng, "labels")
    labels = xp.asarray(labels)
    if labels.shape != (B,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be ints of shape ({B},); got {labels.dtype} {tuple(labels.shape)}")
    if B and (int(labels.min()) < 0 or int(labels.max()) >= len(levels)):
        raise ValueError(f"labels must index sigmas, 0 .. {len(levels) - 1}")
    eps = _need(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    check_shape(eps, x.shape, "noise")
    sigma = xp.asarray(levels, dtype=x.dtype)[labels]       # (B,)
    return _weighted_dsm(model, params, x, sigma, eps, sigma ** 2)


def sde_dsm(model, params, x, sde, rng=None, t=None, noise=None, eps=1e-5, weight=None):
    """Continuous-time weighted denoising score matching for an SDE.

    .. math:: L = E_{t ~ U(eps, 1)} E_{x_0, x_t} lambda(t) 1/2 || s_theta(x_t, t) - grad log p_0t(x_t | x_0) ||^2

    with ``x_t = m(t) x_0 + sigma_t eps`` from ``sde.marginal`` (so
    ``grad log p_0t = -eps / sigma_t``) and ``lambda(t) = sigma_t^2`` by
    default (``weight``, a callable of ``t``, overrides it). The model is
    conditioned on ``sigma_t`` (:class:`npscore.nn.NoiseConditionalMLP`).
    Second report, sections 3.1-3.3; Song et al. 2021.
    """
    xp = backend.xp()
    check_batch(x, model.in_dim)
    B = x.shape[0]
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1); got {eps!r}")
    t = _need(lambda: rng.uniform((B,), eps, 1.0, x.dtype), t, rng, "t")
    check_shape(t, (B,), "t")
    if not bool(xp.all((t > 0) & (t <= 1))):
        raise ValueError("t must lie in (0, 1]")
    z = _need(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    check_shape(z, x.shape, "noise")
    m, std = sde.marginal(t)
    lam = std ** 2 if weight is None else weight(t)
    check_shape(lam, (B,), "weight(t)")
    return _weighted_dsm(model, params, x, std, z, lam, mean_coef=m)


def _weighted_dsm(model, params, x, sigma, eps, lam, mean_coef=None):
    """``mean_b lam_b 1/2 ||s(m_b x_b + sigma_b eps_b, sigma_b) + eps_b / sigma_b||^2``."""
    B = x.shape[0]
    xt = x if mean_coef is None else mean_coef[:, None] * x
    s, cache = model.forward(params, xt + sigma[:, None] * eps, sigma)
    r = s + eps / sigma[:, None]
    per = (r * r).sum(axis=1)
    value = 0.5 * (lam * per).mean()
    return value, model.backward(params, cache, lam[:, None] * r / B)
