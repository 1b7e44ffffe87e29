"""Every objective on low-dimensional data: train, sample with every sampler, measure, draw.

``npscore train --data NAME|FILE --loss LOSS``: the data (:mod:`npscore.toys`),
the noise schedule from the data (:mod:`npscore.schedules`), one model
trained with one objective for a fixed number of steps, then each sampler
that the model can drive:

==========================  ===================================  ==================================
losses                      model                                samplers
==========================  ===================================  ==================================
esm, ism, ssm, ssm-vr, dsm  s(x) (dsm at sigma_L)                langevin
ncsn, sde-ve                s(x, sigma)                          every one (VE SDE over the schedule)
sde-vp                      s(x, sigma)                          langevin and the SDE samplers (VP)
==========================  ===================================  ==================================

The model is :class:`npscore.config.ModelConfig`'s (by default the residual MLP on Fourier features;
``--arch mlp`` the notes' MLP). ``esm`` needs the true score, so only the Gaussian-mixture sets take
it. The run folder is :class:`npscore.runfolder.RunFolder`'s; sampling and the metrics are
:mod:`npscore.lowdim_eval`'s; figures and ``metrics.json`` go to ``out``.
"""
import os
import time
from collections import namedtuple

from .. import backend, checks, io, plotting
from .config import DTYPE, LOSSES, RunConfig
from .lowdim_eval import _metrics, _sample_all, samplers_for, summary
from ..objectives import OBJECTIVES, Context
from ..optim import Adam
from ..toys import DATASETS
from ..plotting import LOWDIM_FIGURES as FIGURES
from .runfolder import RunFolder, pause_point
from ..training import fit
from .lowdim_data import (LEVEL_RANGE, check_levels, data_scale, schedule_for, scoring_rows, split,  # noqa: F401
                          unstandardize, _schedule_of)

#: the trained model a sampler drives: its config, schedule, SDE and the training data
Fitted = namedtuple("Fitted", "config model params schedule sde x")


def check_args(data, loss, sampler, mixture_known):
    """The combination is refused, with the reason, before any work."""
    checks.one_of(loss, "--loss", LOSSES)
    if OBJECTIVES[loss].needs_true_score and not mixture_known:
        raise ValueError(f"--loss {loss} needs the data's true score, known only for the Gaussian-mixture sets "
                         f"(two-modes, eight-gaussians); {data!r} has none: use ism, ssm, ssm-vr or dsm")
    for name in ([] if sampler == "all" else [sampler] if isinstance(sampler, str) else sampler):
        if name not in samplers_for(loss):
            raise ValueError(f"--sampler {name} cannot run a model trained with --loss {loss}; "
                             f"it runs: {', '.join(samplers_for(loss))}")


def _loss_fn(loss, model, x, batch, schedule, sde, mixture):
    """``(params, rng) -> (value, grads)``: the objective's step on a batch drawn with ``rng``."""
    N, step = x.shape[0], OBJECTIVES[loss].step
    context = Context(schedule.sigmas, sde, None if mixture is None else mixture.score)

    def fn(p, rng):
        return step(model, p, x[rng.integers(N, (batch,))], rng, context)
    return fn


#: ``npscore train``'s files: the resumable checkpoint while training, the final set after
TRAINING = "training.npz"
RUN_FILES = ("checkpoint.npz", TRAINING, "metrics.json", "samples.npz")


def fit_config(config, x, mixture=None, sigma_max=None, sigma_min=None, progress=True, checkpoint=None,
               resume=False):
    """Train ``config`` on ``x``: returns the :class:`Fitted` model (the config now holding its
    schedule), the optimiser state and the loss curve. With ``checkpoint`` the run is saved there every
    :data:`SEGMENT` steps; with ``resume`` it continues from there, drawing what the uninterrupted run
    would have drawn."""
    check_levels(x, sigma_max, sigma_min)
    schedule = schedule_for(x, config.n_steps_each, sigma_max, sigma_min, config.sigmas, config.step_scale or None)
    config = config.replace(sigmas=tuple(schedule.sigmas), step_scale=schedule.step_scale)
    model, sde = config.build_model(x.shape[1]), config.build_sde()
    prior = sde.prior_fit(x.astype("float64"))
    config = config.replace(prior=(tuple(backend.to_numpy(prior.mean).tolist()),
                                   tuple(map(tuple, backend.to_numpy(prior.cov).tolist()))))
    params, state, losses = model.init(config.seed, DTYPE), None, []
    if resume:
        params, state, losses = _resumed(checkpoint, model, config)
    if state is None or state["step"] < config.steps:
        hint = _divergence_hint(config, x, sigma_max)
        _, state, losses = fit(_loss_fn(config.loss, model, x, config.batch, schedule, sde, mixture), params,
                               Adam(lr=config.lr), config.steps, config.seed, state=state,
                               start_step=0 if state is None else state["step"], losses=losses, segment=SEGMENT,
                               checkpoint=checkpoint, config=config.to_dict(), ema=0.999, progress=progress,
                               desc=f"{config.loss} on {os.path.basename(str(config.data))}", hint=hint)
    return Fitted(config, model, state["ema"], schedule, sde, x), state, losses


#: steps between the draws' re-seeds and the checkpoints of :func:`fit_config`
SEGMENT = 100
#: the flag that sets each field of a run's record, where it is not the field's own name
RESUME_NAMES = {"data": "--data", "loss": "--loss", "batch": "--batch", "lr": "--lr", "seed": "--seed",
                "n_steps_each": "--steps-each", "sigmas": "the noise levels", "step_scale": "step scale",
                "standardize": "standardize", "n_train": "n_train"}


def _resumed(path, model, config):
    """``(params, state, losses)`` of the training checkpoint at ``path``, which must be of ``config``."""
    if not os.path.exists(path):
        done = os.path.exists(os.path.join(os.path.dirname(path), "checkpoint.npz"))
        raise ValueError(f"--resume: {os.path.dirname(path) or '.'} holds " + (
            "a finished run; pass --force to replace it" if done else "no run to resume; leave out --resume"))
    saved = RunConfig.from_json(io.read_json_array(path, io.read_npz(path, ("config",), "an npscore train checkpoint")),
                                path)
    theirs, ours = saved.to_dict(), config.to_dict()
    if theirs["data_sha256"] != ours["data_sha256"]:
        raise ValueError(f"--resume: {config.data} has changed since {path} began training on it (its content "
                         "differs); restore the file, or pass --force to train afresh on the data as it is now")
    for key in ours:
        if key in ("steps", "prior", "standardization"):
            continue
        for name, a, b in ([(f"--{k}", theirs[key][k], v) for k, v in ours[key].items()] if key == "model"
                           else [(RESUME_NAMES.get(key, key), theirs[key], ours[key])]):
            if a != b:
                raise ValueError(f"--resume: {path} was trained with {name.replace('_', '-')} {a}; this command "
                                 f"asks for {b} (give the run's own flags, or --force to start over)")
    params, state, losses, _ = io.load_checkpoint(path, model)
    if state["step"] > config.steps:
        raise ValueError(f"--steps must be at least the {state['step']} steps {path} has done; got {config.steps}")
    return params, state, losses


def _divergence_hint(config, x, sigma_max):
    """The likely cause of a divergence, from the flags (for :func:`npscore.training.fit`'s message)."""
    scale = data_scale(x)
    if sigma_max is not None and sigma_max > 1e3 * scale:
        return f"--sigma-max {sigma_max:g} is far above the data's scale {scale:.3g}: lower it"
    if config.lr > 1e-2:
        return f"--lr {config.lr:g} is large (the default is {RunConfig().lr:g}): lower it"
    return "lower the learning rate (--lr)"


def run(out, config=None, sampler="all", n_samples=2000, sigma_max=None, sigma_min=None, floor_draws=20,
        resume=False, force=False, progress=True, log=print, command="npscore train", **settings):
    """Train ``config`` (a :class:`npscore.config.RunConfig`, or one made from ``settings``), sample,
    measure, draw; returns the metrics (also ``metrics.json``).

    ``out`` is locked while the run lives and refused when it holds another run unless ``resume``
    (continue its ``training.npz``) or ``force`` (replace it); the final files are published as one
    set, and no file the run did not write is touched (:class:`npscore.runfolder.RunFolder`). The schedule comes from the data unless ``config.sigmas``
    (and ``step_scale``) are given.
    """
    t0 = time.time()
    config = config or RunConfig(**settings)
    if config.data not in DATASETS:
        config = config.replace(data=os.path.abspath(config.data))
        if os.path.isfile(config.data):
            config = config.replace(data_sha256=io.sha256(config.data))
    with RunFolder(out, RUN_FILES + FIGURES, resume, force, command=command) as folder:
        x, held_out, mixture, shift = split(config.data, config.n_train, n_samples, config.seed,
                                            config.standardize, log)
        check_args(config.data, config.loss, sampler, mixture is not None)
        folder.claim(TRAINING)
        fitted, state, curve = fit_config(config.replace(standardization=shift), x, mixture, sigma_max, sigma_min,
                                          progress, folder.path(TRAINING), resume)
        _log_schedule(fitted, log)
        t_train = time.time() - t0
        names = samplers_for(config.loss) if sampler == "all" else [sampler] if isinstance(sampler, str) else list(sampler)
        pause_point("sampling")
        samples, paths = _sample_all(names, fitted, n_samples, config.seed, progress)
        result = _metrics(fitted, held_out, mixture, samples, curve, n_samples, floor_draws, t_train)
        written = []
        folder.publish(lambda d: written.extend(_write(d, fitted, state, curve, mixture, samples, paths, result, t0)))
    summary(result, log)
    log(f"{', '.join(written)} written to {out}/")
    return result


def _log_schedule(fitted, log):
    s = fitted.schedule
    log(f"schedule: {len(s.sigmas)} levels from sigma_1 = {s.sigma_max:.4g} to sigma_L = {s.sigma_min:.4g} "
        f"(ratio {s.ratio:.4f}), annealed Langevin step scale {s.step_scale:.3g} for T = {fitted.config.n_steps_each}")


def _write(folder, fitted, state, curve, mixture, samples, paths, result, t0):
    """The final set into ``folder``; returns the names written. Samples in the data's units."""
    config, x = fitted.config, fitted.x
    samples = {k: v for k, v in samples.items() if v[0] is not None}
    io.atomic_savez(os.path.join(folder, "samples.npz"), {k.replace("-", "_"): backend.to_numpy(unstandardize(config, v[0]))
                                                          for k, v in samples.items()})
    io.save_checkpoint(os.path.join(folder, "checkpoint.npz"), fitted.params, state, curve, config.to_dict())
    names = ["samples.npz", "checkpoint.npz"]
    if x.shape[1] == 2:
        plotting.lowdim_figures(folder, fitted.model, fitted.params, config.loss, fitted.schedule, x, mixture,
                                samples, curve, paths)
        names.insert(0, "figures")
    result["seconds"]["total"] = time.time() - t0
    io.atomic_write_json(os.path.join(folder, "metrics.json"), result)
    return names + ["metrics.json"]


def load_fitted(checkpoint, dtype=None):
    """``(Fitted, mixture)`` of a checkpoint written by :func:`run`: the model, its params (in
    ``dtype``, default as saved), schedule, SDE and prior from the record, and the training rows
    read again from the recorded data (checked against the recorded digest)."""
    config = read_config(checkpoint)
    source = config.data
    if source not in DATASETS and not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file (the data path recorded in {checkpoint})")
    if config.data_sha256 is not None and io.sha256(source) != config.data_sha256:
        raise ValueError(f"{source} has changed since {checkpoint} was trained on it (its content differs); "
                         "the model's own numbers are in its record: pass the rows to score as --data")
    x, _, mixture, _ = split(source, config.n_train, 1, config.seed, False, shift=config.standardization)
    model = config.build_model(x.shape[1])
    params = io.load_checkpoint(checkpoint, model, dtype=dtype)[0]
    return Fitted(config, model, params, _schedule_of(config), config.build_sde(), x), mixture


def read_config(checkpoint):
    """The :class:`npscore.config.RunConfig` a checkpoint of :func:`run` records."""
    return RunConfig.from_json(io.read_json_array(checkpoint, io.read_npz(checkpoint, ("config",),
                                                                          "an npscore train checkpoint")),
                               checkpoint)


def resample(checkpoint, seed, n=2000, sampler="all"):
    """Sample a model saved by :func:`run` again with another ``seed``.

    Returns
    -------
    dict
        sampler name -> ``(n, D)`` samples (None where the sampler diverged).
    """
    fitted = load_fitted(checkpoint)[0]
    names = samplers_for(fitted.config.loss) if sampler == "all" else [sampler]
    return {k: None if v[0] is None else unstandardize(fitted.config, v[0])
            for k, v in _sample_all(names, fitted, n, seed)[0].items()}


