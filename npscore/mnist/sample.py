"""Sampling the MNIST score model: the reverse-time VE SDE over the training range of noise levels
(the default), another SDE sampler, or annealed Langevin over the geometric levels of
:func:`npscore.schedules.from_data` (ratio from the dimension, step scale :data:`STEP_FRACTION` of
Song and Ermon 2020's technique 4), each from the prior ``N(0, sigma_1^2 I)``.
"""
from .. import backend, checks, schedules
from ..sampling import SAMPLERS as REGISTRY, run as run_sampler
from ..sde import VESDE

#: the samplers that run on this noise-conditional model: those of :data:`npscore.sampling.SAMPLERS`
#: that take the noise levels or an SDE (plain Langevin has no sigma to give it), the default first
SAMPLERS = tuple(sorted((k for k, s in REGISTRY.items() if s.needs), key=lambda k: k != "reverse-sde"))
#: steps of the SDE samplers
SDE_STEPS = 1000
#: annealed Langevin's default step scale, as a fraction of technique 4's (``docs/mnist-design.md``)
STEP_FRACTION = 0.5


def sample(model, params, sigmas, n, seed, sampler="reverse-sde", n_steps_each=10, step_scale=None,
           progress=False, sde_steps=SDE_STEPS):
    """``n`` images as the sampler leaves them (clip to [0, 1] to show them), from the prior
    ``N(0, sigma_1^2 I)``.

    ``annealed-langevin`` runs ``n_steps_each`` steps at each of ``sigmas``
    with :func:`langevin_step`; the SDE samplers
    run ``sde_steps`` steps on the VE SDE from ``sigmas[-1]`` to ``sigmas[0]`` (the
    predictor-corrector half as many, each with a corrector step). A model whose passes must
    see at most ``model.sample_batch`` images at once (its memory, or its speed) samples them in chunks,
    chunk ``k`` drawing from its own stream.
    """
    checks.one_of(sampler, "sampler", SAMPLERS)
    sigmas = checks.sigmas(sigmas)
    sde_steps = checks.integer(sde_steps, "sde_steps")
    rng = backend.rng(seed, 7)
    x1 = sigmas[0] * rng.normal((n, 784), "float32")
    chunk = model.sample_batch or n
    if chunk >= n:
        return _run(model, params, sigmas, sampler, x1, rng, n_steps_each, step_scale, progress, sde_steps)
    parts = [_run(model, params, sigmas, sampler, x1[k:k + chunk], backend.rng(seed, 1000 + k // chunk),
                  n_steps_each, step_scale, progress, sde_steps) for k in range(0, n, chunk)]
    return backend.xp().concatenate(parts, axis=0)


def _run(model, params, sigmas, sampler, x1, rng, n_steps_each, step_scale, progress, sde_steps):
    if REGISTRY[sampler].needs == "sigmas":
        return run_sampler(sampler, model.score_fn(params), x1, rng, sigmas=sigmas, n_steps_each=n_steps_each,
                           step_scale=langevin_step(sigmas, n_steps_each, step_scale), progress=progress)
    sde = VESDE(sigmas[-1], sigmas[0])
    return run_sampler(sampler, model.score_fn(params), x1, rng, sde=sde, progress=progress,
                       n_steps=sde_steps // (2 if sampler == "predictor-corrector" else 1))


def langevin_step(sigmas, n_steps_each, step_scale=None):
    """Annealed Langevin's step scale: ``step_scale`` if given, else :data:`STEP_FRACTION` of
    technique 4's for the levels ``sigmas`` (largest first) and ``n_steps_each``."""
    return step_scale or STEP_FRACTION * schedules.step_scale(sigmas[0] / sigmas[1], n_steps_each, sigmas[-1])
