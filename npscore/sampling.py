"""Samplers driven by a score: Langevin, annealed Langevin, and the SDE samplers.

Every sampler takes a ``score`` callable, returns the final ``x : (B, D)`` and,
when ``record_every = k > 0``, also the trajectory ``(n_records, B, D)`` (the
start, then every k-th step). Randomness comes from ``rng``
(:func:`npscore.backend.rng`); all arrays stay on the active backend.

* :func:`langevin` and :func:`annealed_langevin` take ``score(x)`` and
  ``score(x, sigma)`` (first report, section 8 (c); Song and Ermon 2019).
* :func:`reverse_sde`, :func:`predictor_corrector` and :func:`probability_flow`
  take ``score(x, t)`` with ``t : (B,)`` and an SDE from :mod:`npscore.sde`
  (second report, section 3.2; Song et al. 2021). :func:`sde_score` turns a
  noise-conditional model into such a callable.
"""
import math

from . import backend
from .losses import check_sigmas
from .nn import check_batch


def _check_steps(n, argname):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{argname} must be an int >= 1; got {n!r}")


def _check_positive(v, argname):
    if not isinstance(v, (int, float)) or not v > 0 or v == float("inf"):
        raise ValueError(f"{argname} must be a positive finite number; got {v!r}")
    return float(v)


def _start(x0, record_every):
    if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 0:
        raise ValueError(f"record_every must be an int >= 0; got {record_every!r}")
    check_batch(x0, x0.shape[1] if getattr(x0, "ndim", 0) == 2 else -1, "x0")
    return x0, ([x0] if record_every else None)


def _finish(x, traj):
    return x if traj is None else (x, backend.xp().stack(traj))


def langevin(score, x0, step, n_steps, rng, record_every=0):
    """Unadjusted Langevin dynamics.

    .. math:: x <- x + alpha s(x) + sqrt(2 alpha) z,   z ~ N(0, I)

    ``step`` is alpha. First report, section 8 (c).
    """
    step = _check_positive(step, "step")
    _check_steps(n_steps, "n_steps")
    x, traj = _start(x0, record_every)
    noise = math.sqrt(2.0 * step)
    for i in range(1, n_steps + 1):
        x = x + step * score(x) + noise * rng.normal(x.shape, x.dtype)
        if traj is not None and i % record_every == 0:
            traj.append(x)
    return _finish(x, traj)


def annealed_langevin(score, x0, sigmas, eps, n_steps_each, rng, denoise=True, record_every=0,
                      bounds=None):
    """Annealed Langevin dynamics of NCSN (Song and Ermon 2019, Algorithm 1).

    For each ``sigma_i`` from the largest to the smallest, ``n_steps_each``
    Langevin steps with ``alpha_i = eps sigma_i^2 / sigma_L^2``:

    .. math:: x <- x + alpha_i s(x, sigma_i) + sqrt(2 alpha_i) z

    then, if ``denoise``, one last step ``x + sigma_L^2 s(x, sigma_L)`` (Tweedie's
    denoiser, as in NCSNv2). ``score(x, sigma)`` takes a scalar sigma.
    ``bounds = (lo, hi)`` clips every iterate into a box: a guard for learned
    scores that extrapolate badly far from the data, where a rare chain
    could otherwise run away (MNIST uses a wide box around [0, 1]).
    """
    levels = check_sigmas(sigmas)
    if bounds is not None and not (len(bounds) == 2 and float(bounds[0]) < float(bounds[1])):
        raise ValueError(f"bounds must be (lo, hi) with lo < hi; got {bounds!r}")
    xp = backend.xp()
    eps = _check_positive(eps, "eps")
    _check_steps(n_steps_each, "n_steps_each")
    x, traj = _start(x0, record_every)
    i = 0
    for sigma in levels:
        alpha = eps * sigma ** 2 / levels[-1] ** 2
        noise = math.sqrt(2.0 * alpha)
        for _ in range(n_steps_each):
            x = x + alpha * score(x, sigma) + noise * rng.normal(x.shape, x.dtype)
            if bounds is not None:
                x = xp.clip(x, bounds[0], bounds[1])
            i += 1
            if traj is not None and i % record_every == 0:
                traj.append(x)
    if denoise:
        x = x + levels[-1] ** 2 * score(x, levels[-1])
        if traj is not None:
            traj.append(x)
    return _finish(x, traj)


def sde_score(model, params, sde):
    """``score(x, t) = model.apply(params, x, sigma_t)`` for a model conditioned
    on the marginal std ``sigma_t`` of ``sde`` (as trained by ``losses.sde_dsm``)."""
    return lambda x, t: model.apply(params, x, sde.marginal(t)[1])


def _times(x, n_steps, t_eps):
    xp = backend.xp()
    if not 0 < t_eps < 1:
        raise ValueError(f"t_eps must be in (0, 1); got {t_eps!r}")
    return xp.linspace(1.0, t_eps, n_steps + 1, dtype=x.dtype), (1.0 - t_eps) / n_steps


def reverse_sde(score, sde, x1, n_steps, rng, t_eps=1e-3, record_every=0):
    """Euler-Maruyama on the reverse-time SDE, from t = 1 down to ``t_eps``.

    .. math:: x <- x - [f(x, t) - g(t)^2 s(x, t)] dt + g(t) sqrt(dt) z

    ``x1`` is a draw from the prior (``sde.prior_sample``); the last step adds
    no noise (it returns the mean, as score_sde does). This is
    :func:`predictor_corrector` with no corrector steps.
    """
    return predictor_corrector(score, sde, x1, n_steps, rng, n_corrector=0, t_eps=t_eps,
                               record_every=record_every)


def predictor_corrector(score, sde, x1, n_steps, rng, snr=0.16, n_corrector=1, t_eps=1e-3,
                        record_every=0):
    """Predictor-corrector sampling (Song et al. 2021, Algorithm 1-2).

    Each step: ``n_corrector`` Langevin corrector steps at time t with step
    size ``2 (snr ||z|| / ||s||)^2`` (batch-mean norms), then one reverse-SDE
    Euler-Maruyama predictor step (the last one without noise).
    """
    _check_steps(n_steps, "n_steps")
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be an int >= 0; got {n_corrector!r}")
    snr = _check_positive(snr, "snr")
    x, traj = _start(x1, record_every)
    xp = backend.xp()
    ts, dt = _times(x, n_steps, t_eps)
    for i in range(n_steps):
        t = xp.full((x.shape[0],), ts[i], dtype=x.dtype)
        for _ in range(n_corrector):
            s = score(x, t)
            z = rng.normal(x.shape, x.dtype)
            # step from the batch-mean norms, as in score_sde (per-example ratios blow up
            # where ||s|| is near zero)
            ratio = xp.linalg.norm(z, axis=1).mean() / xp.maximum(xp.linalg.norm(s, axis=1).mean(), 1e-12)
            step = 2.0 * (snr * ratio) ** 2
            x = x + step * s + xp.sqrt(2.0 * step) * z
        g = sde.diffusion(t)[:, None]
        mean = x - (sde.drift(x, t) - g ** 2 * score(x, t)) * dt
        x = mean if i == n_steps - 1 else mean + g * math.sqrt(dt) * rng.normal(x.shape, x.dtype)
        if traj is not None and (i + 1) % record_every == 0:
            traj.append(x)
    return _finish(x, traj)


def probability_flow(score, sde, x1, n_steps, t_eps=1e-3, record_every=0):
    """The probability-flow ODE, integrated with Heun's method (fixed steps).

    .. math:: dx/dt = f(x, t) - 1/2 g(t)^2 s(x, t)

    from t = 1 to ``t_eps``; deterministic given ``x1``.
    """
    _check_steps(n_steps, "n_steps")
    x, traj = _start(x1, record_every)
    xp = backend.xp()
    ts, dt = _times(x, n_steps, t_eps)

    def velocity(y, t):
        return sde.drift(y, t) - 0.5 * sde.diffusion(t)[:, None] ** 2 * score(y, t)

    for i in range(n_steps):
        t0 = xp.full((x.shape[0],), ts[i], dtype=x.dtype)
        t1 = xp.full((x.shape[0],), ts[i + 1], dtype=x.dtype)
        k0 = velocity(x, t0)
        guess = x - dt * k0
        x = x - 0.5 * dt * (k0 + velocity(guess, t1))     # time runs backwards
        if traj is not None and (i + 1) % record_every == 0:
            traj.append(x)
    return _finish(x, traj)
