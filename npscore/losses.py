"""The score-matching objectives, side by side, each with its parameter gradient.

Every function takes ``model`` (an :class:`npscore.nn.MLP`, or a
:class:`npscore.nn.NoiseConditionalMLP` for ``ncsn`` and ``sde_dsm``), its
``params`` (a list of ``(W, b)``) and data ``x : (B, D)``, and returns
``(value, grads)``: ``value`` a 0-d array of the active backend
(``float(value)`` reads it), ``grads`` shaped like ``params``. Random draws
come from ``rng=`` or are passed themselves (``noise=``, ``v=``, ...). The
gradients are derived by hand through the model's passes (:mod:`npscore.nn`);
the autograd definitions in :mod:`npscore.reference` pin them in the tests.

Batch means over ``x : (B, D)``, with ``s = s_theta``:

=============  ===============================================================
``esm``        1/2 ||s(x) - grad log p(x)||^2
``ism``        tr(ds/dx) + 1/2 ||s(x)||^2
``ssm``        v^T (ds/dx) v + 1/2 (v^T s)^2          (mean over projections too)
``ssm`` (VR)   v^T (ds/dx) v + 1/2 ||s||^2
``dsm``        1/2 ||s(x + sigma eps) + eps / sigma||^2
``ncsn``       sigma_i^2 1/2 ||s(x + sigma_i eps, sigma_i) + eps / sigma_i||^2
``sde_dsm``    lambda(t) 1/2 ||s(m_t x + sigma_t eps, sigma_t) + eps / sigma_t||^2
=============  ===============================================================

The notes state some of these at other scales: the first report's L_ESM
and L_ISM (Definition 1) and L_DSM (section 7) are twice ``esm``, ``ism`` and
``dsm``; the second report's L_SM (section 2.2) is ``ism``. A constant factor
changes no argmin. ESM = ISM + 1/2 E||grad log p||^2 (Hyvarinen 2005) and
DSM = ESM(p_sigma) + C (Vincent 2011); ``proofs/`` checks both.

Each loss checks its arguments and, should its value come out non-finite,
says why, unless called with ``check=False`` (the training loop's inner
steps, whose one check of the loss value covers it).
"""
from . import backend, checks
from .ncsn_losses import ncsn, sde_dsm, weighted_dsm

__all__ = ["esm", "ism", "ssm", "dsm", "ncsn", "sde_dsm", "weighted_dsm"]


# ---------------------------------------------------------------- explicit SM
def esm(model, params, x, true_score, check=True):
    """Explicit score matching, for a density whose score is known.

    .. math:: L = E_x \\tfrac12 \\| s_\\theta(x) - \\nabla_x \\log p(x) \\|^2

    Parameters
    ----------
    true_score : callable, (B, D) -> (B, D)

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    First report, Definition 1 (its L_ESM is twice this).
    """
    target = true_score(x)
    if check:
        model.check(params, x)
        checks.shape(target, (x.shape[0], model.out_dim), "true_score(x)")
    s, cache = model._forward(params, x)
    r = s - target
    value = 0.5 * (r * r).sum(axis=1).mean()
    if check:
        checks.finite_loss(value, params, "the explicit score")
    return value, model.backward(params, cache, r / x.shape[0])   # d/ds = (s - target) / B


# ---------------------------------------------------------------- implicit SM
def ism(model, params, x, check=True):
    """Implicit (Hyvarinen) score matching with the exact Jacobian trace.

    .. math:: L = E_x [ \\operatorname{tr}(\\partial s_\\theta / \\partial x) + \\tfrac12 \\|s_\\theta(x)\\|^2 ]

    The trace and its gradient are exact and never form the ``(B, D, D)``
    Jacobian (:mod:`npscore.nn.trace`).

    Parameters
    ----------

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    First report, Definition 1 (its L_ISM is twice this); second report,
    section 2.2 (its L_SM is this).
    """
    if check:
        model.check(params, x)
    B = x.shape[0]
    w = backend.xp().full((B,), 1.0 / B, dtype=x.dtype)
    # one pass: d/ds of mean 1/2 ||s||^2 is s / B, d/dtr of mean tr is 1 / B
    s, tr, grads = model.trace_and_vjp(params, x, w, g=lambda out: out / B)
    value = (tr + 0.5 * (s * s).sum(axis=1)).mean()
    if check:
        checks.finite_loss(value, params, "the trace")
    return value, grads


# ---------------------------------------------------------------- sliced SM
def ssm(model, params, x, n_projections=1, rng=None, v=None, kind="gaussian",
        variance_reduction=False, check=True):
    """Sliced score matching (Song, Garg, Shi, Ermon 2019).

    .. math:: L = E_{x, v} [ v^T \\tfrac{\\partial s_\\theta}{\\partial x} v + \\tfrac12 (v^T s_\\theta(x))^2 ]

    or, with ``variance_reduction=True`` (SSM-VR), ``+ 1/2 ||s_theta(x)||^2``
    in place of the second term (its expectation when ``E[v v^T] = I``).

    Parameters
    ----------
    n_projections : int
        M, the projections per example (when ``v`` is drawn).
    rng : Generator, optional
        Draws ``v`` as ``kind``: ``"gaussian"`` or ``"rademacher"``.
    v : (M, B, D), optional
        The projections themselves.
    The mean runs over projections and batch.

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    Second report, section 2.
    """
    xp = backend.xp()
    if check:
        model.check(params, x)
        checks.integer(n_projections, "n_projections")
        checks.one_of(kind, "kind", ("gaussian", "rademacher"))
    B, D = x.shape
    draw = lambda: (rng.normal if kind == "gaussian" else rng.rademacher)((n_projections, B, D), x.dtype)  # noqa: E731
    v = checks.drawn(draw, v, rng, "v")
    if check:
        checks.shape(v, (v.shape[0] if getattr(v, "ndim", 0) == 3 else n_projections, B, D), "v")
    V = xp.ascontiguousarray(v.transpose(1, 0, 2))          # (B, M, D)
    N = V.shape[1] * B
    s, Jv, cache = model.forward_tangents(params, x, V)     # Jv = (ds/dx) v : (B, M, D)
    vJv = (V * Jv).sum(axis=2)                              # (B, M)
    if variance_reduction:
        value = vJv.mean() + 0.5 * (s * s).sum(axis=1).mean()
        g = s / B                                           # d/ds 1/2 ||s||^2, mean over B
    else:
        vs = (V * s[:, None, :]).sum(axis=2)                # (B, M) = v^T s
        value = vJv.mean() + 0.5 * (vs * vs).mean()
        g = (vs[:, :, None] * V).sum(axis=1) / N            # d/ds 1/2 (v^T s)^2 = (v^T s) v
    if check:
        checks.finite_loss(value, params, "the projections")
    return value, model.backward_tangents(params, cache, g, V / N)   # d/d(Jv) of v^T Jv = v


# ---------------------------------------------------------------- denoising SM
def dsm(model, params, x, sigma, rng=None, noise=None, check=True):
    """Denoising score matching at one noise level (Vincent 2011).

    .. math:: L = E_{x, \\epsilon} \\tfrac12 \\| s_\\theta(x + \\sigma\\epsilon) + \\epsilon / \\sigma \\|^2

    with ``eps ~ N(0, I)``: the target ``-(x~ - x) / sigma^2 = -eps / sigma`` is
    the score of the Gaussian kernel ``p(x~ | x) = N(x, sigma^2 I)``.

    Here ``x`` is the *clean* point (the notes' x_0) and ``x~`` the noisy one (the notes' x);
    the notes' eps ~ N(0, sigma^2 I) is ``sigma * noise`` (tutorials/03 shows both).

    Parameters
    ----------
    sigma : float
    rng : Generator, optional
        Draws ``noise``.
    noise : (B, D), optional
        eps itself.

    Returns
    -------
    (value, grads) : 0-d array, list of (W, b)

    First report, sections 6-7 (its L_DSM is twice this).
    """
    if check:
        model.check(params, x)
        sigma = checks.positive(sigma, "sigma")
    eps = checks.drawn(lambda: rng.normal(x.shape, x.dtype), noise, rng, "noise")
    if check:
        checks.shape(eps, x.shape, "noise")
    s, cache = model._forward(params, x + sigma * eps)
    r = s + eps / sigma
    value = 0.5 * (r * r).sum(axis=1).mean()
    if check:
        checks.finite_loss(value, params, f"sigma = {sigma} in {x.dtype}")
    return value, model.backward(params, cache, r / x.shape[0])
