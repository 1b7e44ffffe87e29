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

from .. import backend, checks, io, plotting, schedules
from .config import DTYPE, LOSSES, RunConfig
from .lowdim_eval import _metrics, _sample_all, samplers_for, summary
from ..objectives import OBJECTIVES, Context
from ..optim import Adam
from ..toys import DATASETS, MIN_ROWS, load, read_file, standardization
from ..plotting import LOWDIM_FIGURES as FIGURES
from .runfolder import RunFolder, pause_point
from ..training import fit

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


def split(data, n_train, n_held_out, seed, standardize=True, log=None, shift=None):
    """``(x, held_out, mixture, standardization)``: fresh draws of a built-in set, or a file's rows
    with a fifth held out (at most ``n_held_out`` of them kept for the metrics, so that their cost does
    not grow with the file), standardised on the training rows when ``standardize``
    (:func:`npscore.toys.standardization`; else None), or by the given ``shift = (mean, scale)``."""
    if data in DATASETS:
        x, mixture = load(data, n_train, seed, DTYPE)
        return x, load(data, n_held_out, seed + 1, DTYPE)[0], mixture, None
    rows = read_file(data, "float64", log)
    if rows.shape[0] < MIN_ROWS:
        raise ValueError(f"--data {data}: holds {rows.shape[0]} rows; npscore train needs at least {MIN_ROWS} "
                         "(a fifth is held out for the metrics)")
    perm = backend.asarray(backend.host.random.default_rng(seed).permutation(rows.shape[0]))
    x, held = rows[perm[rows.shape[0] // 5:]], rows[perm[: rows.shape[0] // 5]][:n_held_out]
    if shift is None and standardize:
        shift = standardization(x, f"--data {data}")
    if shift is not None:
        mean = backend.asarray(shift[0])
        x, held = (x - mean) / shift[1], (held - mean) / shift[1]
    return x.astype(DTYPE), held.astype(DTYPE), None, shift


def schedule_for(x, n_steps_each, sigma_max=None, sigma_min=None, sigmas=None, step_scale=None):
    """The schedule of :func:`npscore.schedules.from_data`, or the given ``sigmas``."""
    if not sigmas:
        return schedules.from_data(x, n_steps_each, sigma_max, sigma_min)
    levels = checks.sigmas(sigmas)
    eps = step_scale or schedules.step_scale(levels[0] / levels[1], n_steps_each, levels[-1])
    return schedules.Schedule(tuple(levels), eps, levels[0], levels[-1], levels[0] / levels[1])


def _schedule_of(config):
    """The :class:`npscore.schedules.Schedule` a config records."""
    levels = tuple(config.sigmas)
    return schedules.Schedule(levels, config.step_scale, levels[0], levels[-1], levels[0] / levels[1])


#: ``npscore train``'s files: the resumable checkpoint while training, the final set after
TRAINING = "training.npz"
RUN_FILES = ("checkpoint.npz", TRAINING, "metrics.json", "samples.npz")


def fit_config(config, x, mixture=None, sigma_max=None, sigma_min=None, progress=True, checkpoint=None,
               resume=False):
    """Train ``config`` on ``x``: returns the :class:`Fitted` model (the config now holding its
    schedule), the optimiser state and the loss curve. With ``checkpoint`` the run is saved there every
    :data:`SEGMENT` steps; with ``resume`` it continues from there, drawing what the uninterrupted run
    would have drawn."""
    _check_levels(x, sigma_max, sigma_min)
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


#: the noise levels a run accepts, relative to the data's scale: float32 resolves about 1e-7 of it, and
#: a prior far wider than the data leaves every level but the last few unused
LEVEL_RANGE = (1e-5, 1e6)


def _scale(x):
    """The RMS distance of the rows of ``x`` to their mean."""
    return float(backend.xp().sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean()))


def _check_levels(x, sigma_max, sigma_min):
    """``--sigma-max`` and ``--sigma-min`` within :data:`LEVEL_RANGE` of the data's scale, before any work."""
    scale, (low, high) = _scale(x), LEVEL_RANGE
    if sigma_max is not None and sigma_max > high * scale:
        raise ValueError(f"--sigma-max {sigma_max:g} is far above the data's scale {scale:.3g} (more than {high:g} "
                         f"times it: the prior would hide the data); lower it, or leave it out to take it from the data")
    if sigma_min is not None and sigma_min < low * scale:
        raise ValueError(f"--sigma-min {sigma_min:g} is below what float32 resolves of data of scale {scale:.3g} "
                         f"(the score, about 1/sigma_min, would overflow); raise it to at least {low * scale:.3g}, "
                         "or leave it out to take it from the data")


def _divergence_hint(config, x, sigma_max):
    """The likely cause of a divergence, from the flags (for :func:`npscore.training.fit`'s message)."""
    scale = _scale(x)
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


def unstandardize(config, x):
    """Samples of the standardised model back in the data's units (as they are without a standardization)."""
    if config.standardization is None:
        return x
    mean, scale = config.standardization
    return x * scale + backend.asarray(mean, dtype=x.dtype)


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


def scoring_rows(config, checkpoint, data=None, n=1000):
    """``(x, mixture, note)``: at most ``n`` rows for ``npscore likelihood`` to score, in the run's
    standardised units: the held-out part of the recorded data, or (``data``) draws of a built-in
    set or every row of a file; ``note`` says which. Nothing is fitted to them."""
    checks.integer(n, "n")
    source, note = data or config.data, "held-out points" if data is None else f"rows of {data}"
    if source in DATASETS:
        x, mixture = load(source, n, config.seed + 1, "float64")
    elif not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file (" + ("--data" if data else
                                f"the data path recorded in {checkpoint}; --data names the rows to score") + ")")
    elif data is None:
        if config.data_sha256 is not None and io.sha256(source) != config.data_sha256:
            note = "held-out points of the file as it is now (it has changed since training)"
        x, mixture = split(source, config.n_train, n, config.seed, False, shift=config.standardization)[1], None
    else:
        x, mixture = read_file(source, "float64")[:n], None
    D = len(config.prior[0]) if config.prior is not None else x.shape[1]
    if x.shape[1] != D:
        raise ValueError(f"--data {source}: has D = {x.shape[1]} columns; the model in {checkpoint} was trained "
                         f"on D = {D}")
    if data is not None and source not in DATASETS and config.standardization is not None:
        x = (x - backend.asarray(config.standardization[0])) / config.standardization[1]
    if x.shape[0] < 2:
        raise ValueError(f"--n: {source} gives {x.shape[0]} point(s) to score; the NLL's standard error needs "
                         "at least 2")
    return x.astype("float64"), mixture, note


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


