"""Exact log-likelihoods through the probability-flow ODE (Song et al. 2021, appendix D).

The probability-flow ODE ``dx/dt = f~(x, t) = f(x, t) - 1/2 g(t)^2 s(x, t)``
carries p_t to p_t; along its paths the instantaneous change of variables
(Chen et al. 2018) gives ``d log p_t(x_t) / dt = -div f~(x_t, t)``, so

.. math:: \\log p_{t_0}(x) = \\log p_1(x_1) + \\int_{t_0}^1 \\operatorname{div} \\tilde f(x_t, t)\\, dt,
          \\qquad \\operatorname{div} \\tilde f = \\operatorname{div} f - \\tfrac12 g^2 \\operatorname{tr}(\\partial s / \\partial x)

with ``x_{t_0} = x``, integrated here by Heun's method on the pair (x, log p)
(second order, fixed steps). ``div f`` is 0 for the VE SDE and
``-D beta(t) / 2`` for the VP SDE. The trace of the score's Jacobian is
npscore's exact one (:meth:`npscore.nn.NoiseConditionalMLP.trace_jacobian`)
or Hutchinson's estimate ``v^T (ds/dx) v`` with Rademacher ``v``, several
probes integrated along the same path, whose spread gives its standard error.
Theorem 1 of the first report: the mean of ``-log p_theta`` over held-out
data minus the data's entropy estimates KL(p || p_theta).
"""
import math

from . import backend, checks


def exact_trace(model, params):
    """``(x, sigma) -> tr(ds/dx) : (1, B)`` for a noise-conditional model with an exact trace."""
    return lambda x, sigma: model.trace_jacobian(params, x, sigma)[None]


def hutchinson_trace(model, params, rng, n_probes=4):
    """``(x, sigma) -> v^T (ds/dx) v : (M, B)`` for M Rademacher probes ``v`` drawn at each call
    (one forward pass and a reverse pass per probe: the model's ``vjp_x``)."""
    n_probes = checks.integer(n_probes, "n_probes")
    xp = backend.xp()

    def trace(x, sigma):
        probes = [rng.rademacher(x.shape, x.dtype) for _ in range(n_probes)]
        gxs = model.vjp_x(params, x, sigma, probes)
        return xp.stack([(gx * v).sum(axis=1) for gx, v in zip(gxs, probes)])
    return trace


def ode_log_prob(score, trace, sde, x, n_steps=200, t_min=1e-3, prior=None, progress=False):
    """``log p_{t_min}(x)`` through the probability-flow ODE.

    Parameters
    ----------
    score : callable
        ``score(x, sigma) : (B, D)`` with ``sigma : (B,)``, read at ``sigma_t`` (:meth:`npscore.sde.SDE.sigma_of`).
    trace : callable
        ``trace(x, sigma) : (M, B)``: ``tr(d score / dx)``, exact (M = 1) or M estimates.
    sde : VESDE or VPSDE
    x : (B, D)
    n_steps : int
        Heun steps from ``t_min`` to 1.
    prior : callable, optional
        ``log p_1``; default the SDE's prior (:meth:`npscore.sde.SDE.prior_log_prob`).

    Returns
    -------
    (M, B) array
        One log-density per trace estimate (M = 1 for the exact trace).
    """
    from tqdm.auto import tqdm
    checks.batch(x, None, "x")
    n_steps = checks.integer(n_steps, "n_steps")
    t_min = checks.in_interval(t_min, "t_min", 0.0, 1.0, "neither")
    xp = backend.xp()
    B, D = x.shape
    dt = (1.0 - t_min) / n_steps

    velocity = sde.reverse_drift(score, probability_flow=True)

    def rates(y, t):
        tt = xp.full((B,), t, dtype=y.dtype)
        return velocity(y, tt), sde.div_drift(tt, D)[None] - 0.5 * sde.diffusion(tt)[None] ** 2 * trace(y, sde.sigma_of(tt))

    integral = 0.0
    for k in tqdm(range(n_steps), desc="likelihood ODE", disable=not progress, mininterval=0.5):
        t0 = t_min + k * dt
        v0, d0 = rates(x, t0)
        guess = x + dt * v0
        v1, d1 = rates(guess, min(t_min + (k + 1) * dt, 1.0))
        x = x + 0.5 * dt * (v0 + v1)                     # Heun on (x, log p)
        integral = integral + 0.5 * dt * (d0 + d1)
    checks.finite(x, "the ODE's end point", "; the score is not finite along the path")
    end = prior(x) if prior is not None else sde.prior_log_prob(x)
    return end[None] + integral


def bits_per_dim(log_prob, D, bins=256):
    """``-(log p(x) - D log bins) / (D log 2)``: bits per dimension of data
    dequantised to ``(pixel + u) / bins`` in [0, 1] (the density per unit of the
    integer pixel scale is ``p(x) / bins^D``)."""
    return -(log_prob - D * math.log(bins)) / (D * math.log(2.0))


def noise_floor_bits(sigma, bins=256):
    """``log2 bins + log2(sqrt(2 pi) sigma)``: the bits per dimension below which no density noised by
    ``N(0, sigma^2)`` can score data dequantised into ``bins`` levels of [0, 1] (its density per pixel
    is at most the noise's peak, ``1 / (sqrt(2 pi) sigma)``)."""
    return math.log2(bins) + math.log2(math.sqrt(2 * math.pi) * sigma)
