"""The noise-conditional objectives: NCSN's multi-level denoising score
matching, its continuous-time form for an SDE, and their common weighted core.

The model is a :class:`npscore.nn.NoiseConditionalMLP` ``s(x, sigma)``;
arguments and returns as in :mod:`npscore.losses`, which re-exports these
beside the other objectives.
"""
from . import backend, checks


def ncsn(model, params, x, sigmas, rng=None, noise=None, labels=None, check=True):
    """Multi-level denoising score matching of NCSN (Song and Ermon 2019).

    .. math:: L = E_{i, x, \\epsilon}\\, \\sigma_i^2\\, \\tfrac12 \\| s_\\theta(x + \\sigma_i\\epsilon, \\sigma_i) + \\epsilon / \\sigma_i \\|^2

    with ``lambda(sigma) = sigma^2`` and the level ``i`` drawn uniformly per example. Neither the
    weighting nor a model that divides its output by sigma is in the notes (section 8 (b) writes the loss
    unweighted): the target ``-eps / sigma`` has norm of order ``sqrt(D) / sigma``, so ``sigma^2``
    makes every level's term of order one and no level dominates the gradient; each level's
    minimiser is unchanged (``proofs/ncsn_weighting.py``).

    Parameters
    ----------
    sigmas : sequence of float
        Strictly decreasing.
    rng : Generator, optional
        Draws ``labels`` and ``noise``.
    labels : (B,) ints, optional
        Each example's level.
    noise : (B, D), optional

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    First report, section 8 (b).
    """
    xp = backend.xp()
    levels = checks.sigmas(sigmas) if check else sigmas
    B = x.shape[0]
    labels = xp.asarray(checks.drawn(lambda: rng.integers(len(levels), (B,)), labels, rng, "labels"))
    if check:
        checks.batch(x, model.in_dim, "x")
        if labels.shape != (B,) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be ints of shape ({B},); got {labels.dtype} {tuple(labels.shape)}")
        if int(labels.min()) < 0 or int(labels.max()) >= len(levels):
            raise ValueError(f"labels must index sigmas, 0 .. {len(levels) - 1}; got {labels!r:.60}")
    eps = checks.drawn(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    sigma = xp.asarray(levels, dtype=x.dtype)[labels]       # (B,)
    return weighted_dsm(model, params, x, sigma, eps, sigma ** 2, check=check)


def sde_dsm(model, params, x, sde, rng=None, t=None, noise=None, t_min=1e-5, weight=None, check=True):
    """Continuous-time weighted denoising score matching for an SDE.

    .. math:: L = E_{t \\sim U(t_{min}, 1)} E_{x_0, x_t}\\, \\lambda(t)\\, \\tfrac12 \\| s_\\theta(x_t, \\sigma_t) - \\nabla \\log p_{0t}(x_t | x_0) \\|^2

    with ``x_t = m_t x_0 + sigma_t eps`` from ``sde.marginal`` (so
    ``grad log p_0t = -eps / sigma_t``) and ``lambda(t) = sigma_t^2``.

    Parameters
    ----------
    sde : VPSDE or VESDE
    rng : Generator, optional
        Draws ``t`` and ``noise``.
    t : (B,), optional
        Times in (0, 1].
    noise : (B, D), optional
    t_min : float
        The smallest time drawn, in (0, 1).
    weight : callable, optional
        ``lambda(t) : (B,)``, in place of ``sigma_t^2``.

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    Second report, sections 3.1-3.3; Song et al. 2021.
    """
    B = x.shape[0]
    if check:
        t_min = checks.in_interval(t_min, "t_min", 0.0, 1.0, "neither")
    t = checks.drawn(lambda: rng.uniform((B,), t_min, 1.0, x.dtype), t, rng, "t")
    if check:
        checks.shape(t, (B,), "t")
        if not bool(((t > 0) & (t <= 1)).all()):
            raise ValueError(f"t must lie in (0, 1]; got values from {float(t.min())} to {float(t.max())}")
    eps = checks.drawn(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    m, std = sde.marginal(t)
    lam = std ** 2 if weight is None else weight(t)
    if check:
        checks.shape(lam, (B,), "weight(t)")
    return weighted_dsm(model, params, m[:, None] * x, std, eps, lam, check=check)


def weighted_dsm(model, params, x, sigma, eps, weight, check=True, head_only=False):
    """``mean_b weight_b 1/2 ||s(x_b + sigma_b eps_b, sigma_b) + eps_b / sigma_b||^2``.

    The common core of :func:`ncsn` and :func:`sde_dsm`: ``sigma, weight : (B,)``.
    ``head_only``: the gradient of the head's own params only, the MLP held
    fixed (:meth:`npscore.nn.NoiseConditionalMLP.backward`).
    """
    B = x.shape[0]
    if check:
        checks.shape(eps, x.shape, "noise")
        s, cache = model.forward(params, x + sigma[:, None] * eps, sigma)
    else:
        s, cache = model._forward(params, x + sigma[:, None] * eps, sigma, order=0 if head_only else 1)
    r = s + eps / sigma[:, None]
    value = 0.5 * (weight * (r * r).sum(axis=1)).mean()
    if check:
        checks.finite_loss(value, params, f"sigma down to {float(sigma.min())} in {x.dtype}")
    return value, model.backward(params, cache, weight[:, None] * r / B, head_only=head_only)
