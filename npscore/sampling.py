"""Samplers driven by a score, and the registry of their names and defaults.

Every sampler takes a ``score`` callable and a start ``x0 : (B, D)`` and
returns the final ``x : (B, D)`` and, when ``record_every = k > 0``, also the
trajectory ``(n_records, B, D)`` (the start, then every k-th step). Random
draws come from ``rng`` (:func:`npscore.backend.rng`). Every ``check_every``
steps and at the end the iterate is checked: a non-finite sample is an error
naming the sampler, the step and the noise level, never a silent NaN.
``progress=True`` shows a progress bar.

=======================  =====================  ====================================
name                     takes                  notes
=======================  =====================  ====================================
``langevin``             ``score(x)``           first report, section 8 (c)
``annealed-langevin``    ``score(x, sigma)``,   NCSN, Song and Ermon 2019
                         the levels
``reverse-sde``          ``score(x, sigma)``,   second report, section 3.2
                         an SDE
``predictor-corrector``  ``score(x, sigma)``,   Song et al. 2021
                         an SDE
``probability-flow``     ``score(x, sigma)``,   Song et al. 2021
                         an SDE
=======================  =====================  ====================================

A noise-conditional model's ``model.score_fn(params)`` drives all but the first; the SDE
samplers feed it ``sigma_t`` (:meth:`npscore.sde.SDE.sigma_of`).
"""
import inspect
import math
from collections import namedtuple

from . import backend, checks


def _start(x0, record_every, check_every):
    checks.integer(record_every, "record_every", 0)
    checks.integer(check_every, "check_every", 0)
    checks.batch(x0, None, "x0")
    return x0, ([x0] if record_every else None)


def _guard(x, sampler, step, where, check_every, last=False):
    """Raise when ``x`` has turned non-finite (checked every ``check_every`` steps and at the end)."""
    if (last or (check_every and step % check_every == 0)) and not bool(backend.xp().isfinite(x).all()):
        raise FloatingPointError(
            f"{sampler}: the samples became non-finite by step {step} ({where}); the score returned "
            "NaN or inf there, or the step is too large for it")
    return x


def _bar(steps, name, progress):
    """``steps``, with a progress bar when ``progress``."""
    if not progress:
        return steps
    from tqdm.auto import tqdm
    return tqdm(steps, desc=name, mininterval=0.5, dynamic_ncols=True)


def _finish(x, traj):
    return x if traj is None else (x, backend.xp().stack(traj))


def langevin(score, x0, rng, step=2e-3, n_steps=700, record_every=0, check_every=100, progress=False):
    """Unadjusted Langevin dynamics.

    .. math:: x \\leftarrow x + \\alpha s(x) + \\sqrt{2\\alpha} z, \\qquad z \\sim N(0, I)

    Parameters
    ----------
    score : callable, (B, D) -> (B, D)
    x0 : (B, D)
        The start.
    rng : Generator
    step : float
        alpha.
    n_steps : int

    Returns
    -------
    x : (B, D), and the trajectory when ``record_every > 0``

    First report, section 8 (c).
    """
    step, n_steps = checks.positive(step, "step"), checks.integer(n_steps, "n_steps")
    x, traj = _start(x0, record_every, check_every)
    noise = math.sqrt(2.0 * step)
    for i in _bar(range(1, n_steps + 1), "langevin", progress):
        x = x + step * score(x) + noise * rng.normal(x.shape, x.dtype)
        _guard(x, "langevin", i, f"step size {step}", check_every, i == n_steps)
        if traj is not None and i % record_every == 0:
            traj.append(x)
    return _finish(x, traj)


def annealed_langevin(score, x0, sigmas, rng, step_scale=2e-5, n_steps_each=100, denoise=True,
                      record_every=0, bounds=None, check_every=100, progress=False):
    """Annealed Langevin dynamics of NCSN (Song and Ermon 2019, Algorithm 1).

    For each ``sigma_i``, largest first, ``n_steps_each`` Langevin steps with
    ``alpha_i = step_scale * sigma_i^2 / sigma_L^2``:

    .. math:: x \\leftarrow x + \\alpha_i s(x, \\sigma_i) + \\sqrt{2\\alpha_i} z

    the notes' update (first report, section 8 (c)) with the notes' fixed alpha
    made level-dependent. Algorithm 1 writes the same step as
    ``x + (a_i / 2) s + sqrt(a_i) z`` with ``a_i = epsilon sigma_i^2 / sigma_L^2``: the
    code's ``alpha_i`` is half of Algorithm 1's ``a_i``, so its ``step_scale`` is
    half of Algorithm 1's epsilon (``step_scale = 2e-5`` is their 4e-5).

    Then, with ``denoise``, one step ``x + sigma_L^2 s(x, sigma_L)`` (Tweedie's
    posterior mean at sigma_L). It is not part of Algorithm 1; NCSNv2 (Song and
    Ermon 2020) and Jolicoeur-Martineau et al. (2021) add it to remove the
    last level's noise.

    Parameters
    ----------
    score : callable, ``score(x, sigma)`` with a scalar sigma
    x0 : (B, D)
    sigmas : sequence of float
        Strictly decreasing.
    rng : Generator
    step_scale : float
        Half of Algorithm 1's epsilon (above).
    n_steps_each : int
        T of Algorithm 1.
    bounds : (lo, hi), optional
        Clip every iterate into this box (a guard for learned scores that
        extrapolate badly far from the data).

    Returns
    -------
    x : (B, D), and the trajectory when ``record_every > 0``

    First report, section 8 (c).
    """
    levels = checks.sigmas(sigmas)
    step_scale = checks.positive(step_scale, "step_scale")
    n_steps_each = checks.integer(n_steps_each, "n_steps_each")
    if bounds is not None and not (len(bounds) == 2 and float(bounds[0]) < float(bounds[1])):
        raise ValueError(f"bounds must be (lo, hi) with lo < hi; got {bounds!r}")
    xp = backend.xp()
    x, traj = _start(x0, record_every, check_every)
    i, total = 0, len(levels) * n_steps_each
    for sigma in _bar(levels, "annealed-langevin", progress):
        alpha = step_scale * sigma ** 2 / levels[-1] ** 2
        noise = math.sqrt(2.0 * alpha)
        for _ in range(n_steps_each):
            x = x + alpha * score(x, sigma) + noise * rng.normal(x.shape, x.dtype)
            if bounds is not None:
                x = xp.clip(x, bounds[0], bounds[1])
            i += 1
            _guard(x, "annealed-langevin", i, f"sigma = {sigma:.4g}", check_every, i == total)
            if traj is not None and i % record_every == 0:
                traj.append(x)
    if denoise:
        x = _guard(x + levels[-1] ** 2 * score(x, levels[-1]), "annealed-langevin", i + 1,
                   f"the denoising step at sigma = {levels[-1]:.4g}", check_every, True)
        if traj is not None:
            traj.append(x)
    return _finish(x, traj)


def _times(x, n_steps, t_min):
    t_min = checks.in_interval(t_min, "t_min", 0.0, 1.0, "neither")
    return backend.xp().linspace(1.0, t_min, n_steps + 1, dtype=x.dtype), (1.0 - t_min) / n_steps


def reverse_sde(score, sde, x1, rng, n_steps=1000, t_min=1e-3, record_every=0, check_every=100, progress=False):
    """Euler-Maruyama on the reverse-time SDE, from t = 1 down to ``t_min``.

    .. math:: x \\leftarrow x - [f(x, t) - g(t)^2 s(x, t)]\\, \\Delta t + g(t) \\sqrt{\\Delta t}\\, z

    The last step adds no noise (it returns the mean, as score_sde does); this
    is :func:`predictor_corrector` with no corrector steps.

    Parameters
    ----------
    score : callable, ``score(x, sigma)`` with ``sigma : (B,)``, read at ``sigma_t``
        (:meth:`npscore.sde.SDE.sigma_of`; as :func:`npscore.losses.sde_dsm` trains it)
    sde : VPSDE or VESDE
    x1 : (B, D)
        A draw from the prior (``sde.prior_sample``).
    rng : Generator
    n_steps : int
    t_min : float

    Returns
    -------
    x : (B, D), and the trajectory when ``record_every > 0``

    Second report, section 3.2 (which writes ``1/2 g^2`` here: that is the probability-flow ODE's
    drift, and with the SDE's noise it samples too wide a law, ``proofs/reverse_sde.py``); Song et al. 2021.
    """
    return predictor_corrector(score, sde, x1, rng, n_steps, n_corrector=0, t_min=t_min,
                               record_every=record_every, check_every=check_every, progress=progress)


def predictor_corrector(score, sde, x1, rng, n_steps=500, snr=0.16, n_corrector=1, t_min=1e-3,
                        record_every=0, check_every=100, progress=False):
    r"""Predictor-corrector sampling (Song et al. 2021, Algorithms 2, 4 and 5).

    Each step: ``n_corrector`` Langevin corrector steps at time t,

    .. math:: \epsilon = 2 \alpha_i (r \|z\| / \|s\|)^2, \qquad
              x \leftarrow x + \epsilon s(x, t) + \sqrt{2 \epsilon}\, z

    (``r`` the ``snr``, batch-mean norms, ``alpha_i`` from :meth:`npscore.sde.SDE.corrector_alpha`:
    1 for VE), then one reverse-SDE Euler-Maruyama predictor step (the last one
    without noise). Parameters and returns as :func:`reverse_sde`, with ``snr``
    and ``n_corrector``.
    """
    n_steps, snr = checks.integer(n_steps, "n_steps"), checks.positive(snr, "snr")
    n_corrector = checks.integer(n_corrector, "n_corrector", 0)
    x, traj = _start(x1, record_every, check_every)
    xp = backend.xp()
    ts, dt = _times(x, n_steps, t_min)
    name = "reverse-sde" if n_corrector == 0 else "predictor-corrector"
    drift = sde.reverse_drift(score)
    for i in _bar(range(n_steps), name, progress):
        t = xp.full((x.shape[0],), ts[i], dtype=x.dtype)
        for _ in range(n_corrector):
            s = score(x, sde.sigma_of(t))
            z = rng.normal(x.shape, x.dtype)
            # batch-mean norms, as score_sde: per-example ratios blow up where ||s|| ~ 0
            ratio = xp.linalg.norm(z, axis=1).mean() / xp.maximum(xp.linalg.norm(s, axis=1).mean(), 1e-12)
            step = (2.0 * (snr * ratio) ** 2 * sde.corrector_alpha(t, n_steps))[:, None]
            x = x + step * s + xp.sqrt(2.0 * step) * z
        mean = x - drift(x, t) * dt
        g = sde.diffusion(t)[:, None]
        x = mean if i == n_steps - 1 else mean + g * math.sqrt(dt) * rng.normal(x.shape, x.dtype)
        _guard(x, name, i + 1, f"t = {float(ts[i]):.4g}", check_every, i == n_steps - 1)
        if traj is not None and (i + 1) % record_every == 0:
            traj.append(x)
    return _finish(x, traj)


def probability_flow(score, sde, x1, rng=None, n_steps=500, t_min=1e-3, record_every=0, check_every=100,
                     progress=False):
    """The probability-flow ODE, integrated with Heun's method (fixed steps).

    .. math:: \\frac{dx}{dt} = f(x, t) - \\tfrac12 g(t)^2 s(x, t)

    from t = 1 to ``t_min``; deterministic given ``x1`` (``rng`` is unused and
    taken only so that every SDE sampler has one signature). Parameters and
    returns as :func:`reverse_sde`.
    """
    n_steps = checks.integer(n_steps, "n_steps")
    x, traj = _start(x1, record_every, check_every)
    xp = backend.xp()
    ts, dt = _times(x, n_steps, t_min)
    velocity = sde.reverse_drift(score, probability_flow=True)

    for i in _bar(range(n_steps), "probability-flow", progress):
        t0 = xp.full((x.shape[0],), ts[i], dtype=x.dtype)
        t1 = xp.full((x.shape[0],), ts[i + 1], dtype=x.dtype)
        k0 = velocity(x, t0)
        x = x - 0.5 * dt * (k0 + velocity(x - dt * k0, t1))    # time runs backwards
        _guard(x, "probability-flow", i + 1, f"t = {float(ts[i]):.4g}", check_every, i == n_steps - 1)
        if traj is not None and (i + 1) % record_every == 0:
            traj.append(x)
    return _finish(x, traj)


# ---------------------------------------------------------------- the registry
#: ``fn``, and what it needs beside the score: nothing, the noise levels or an SDE; its defaults are
#: the keyword defaults of ``fn``'s signature
Sampler = namedtuple("Sampler", "fn needs")

SAMPLERS = {
    "langevin": Sampler(langevin, None),
    "annealed-langevin": Sampler(annealed_langevin, "sigmas"),
    "reverse-sde": Sampler(reverse_sde, "sde"),
    "predictor-corrector": Sampler(predictor_corrector, "sde"),
    "probability-flow": Sampler(probability_flow, "sde"),
}


def defaults(name):
    """The settings of the sampler registered as ``name`` and their defaults, read from its signature
    (their one home)."""
    spec = SAMPLERS[checks.one_of(name, "sampler", tuple(SAMPLERS))]
    return {k: p.default for k, p in inspect.signature(spec.fn).parameters.items()
            if p.default is not inspect.Parameter.empty and k not in ("rng", "record_every", "check_every", "progress")}


def run(name, score, x0, rng, sigmas=None, sde=None, **options):
    """Run the sampler registered as ``name`` with its defaults (:func:`defaults`), overridden by ``options``.

    ``score`` is ``score(x)`` for Langevin, else ``score(x, sigma)``; ``sigmas`` is needed by annealed
    Langevin, ``sde`` by the SDE samplers.
    """
    spec = SAMPLERS[checks.one_of(name, "sampler", tuple(SAMPLERS))]
    given = {"sigmas": sigmas, "sde": sde}
    if spec.needs is None:
        return spec.fn(score, x0, rng, **options)
    if given[spec.needs] is None:
        raise ValueError(f"{spec.needs} must be given for sampler {name!r}; got None")
    if spec.needs == "sigmas":
        return spec.fn(score, x0, sigmas, rng, **options)
    return spec.fn(score, sde, x0, rng, **options)
