"""MNIST end to end: train the gated score model, sample it, score the samples.

1. :func:`train`: the model of :mod:`npscore.mnist.model` on the training
   images with denoising score matching over noise levels drawn log-uniformly
   from ``[sigma_L, sigma_1]`` (weight ``sigma^2``, :func:`npscore.losses.weighted_dsm`),
   ``sigma_1`` the largest distance between training images and ``sigma_L =
   0.01`` (:mod:`npscore.schedules`), Adam, an EMA of the params;
   checkpoints every ``checkpoint_every`` steps, exact resume. Then, with a
   local gate, the same loss trains the gate alone for ``gate_steps`` more
   steps on the EMA of the rest, held fixed.
2. :func:`sample`: the reverse-time VE SDE over the same range (the
   default), another SDE sampler, or annealed Langevin over the geometric
   levels of :func:`npscore.schedules.from_data` (ratio from the dimension,
   step scale :data:`STEP_FRACTION` of Song and Ermon 2020's technique 4), each from the prior
   ``N(0, sigma_1^2 I)``.
3. :func:`evaluate_samples`: classifier-FID, the IS analogue, the label
   histogram and the speckle of the samples, beside MNIST test and the
   Gaussian fit (:mod:`npscore.mnist.classifier`).

Everything runs on the active backend: ``--backend cupy`` changes nothing else.
"""
import math
import os
import time

from .. import backend, checks, io, schedules
from ..config import MNIST_PRESETS
from ..losses import weighted_dsm
from ..optim import Adam
from ..sampling import run as run_sampler, sde_score
from ..sde import VESDE
from ..training import fit
from . import classifier
from .base import FactorizedMixture, data_base, gaussian_fit_samples
from .idx import load_mnist
from .model import ACTIVATION, make_model

#: the samplers that run on this model (names of :data:`npscore.sampling.SAMPLERS`)
SAMPLERS = ("reverse-sde", "annealed-langevin", "predictor-corrector", "probability-flow")
#: steps of the SDE samplers
SDE_STEPS = 1000
#: annealed Langevin's default step scale, as a fraction of technique 4's (``docs/mnist-design.md``)
STEP_FRACTION = 0.5
#: the smallest noise level (pixels live in [0, 1])
SIGMA_MIN = 0.01
#: the presets of ``npscore mnist --preset`` (their one home: :data:`npscore.config.MNIST_PRESETS`)
PRESETS = MNIST_PRESETS
#: settings a resumed run must share with its checkpoint
RESUME_KEYS = ("hidden", "depth", "gated", "sigma_features", "residual_bound", "gate_window", "gate_steps",
               "seed", "batch_size", "lr", "checkpoint_every", "sigmas")


def checkpoint_path(out):
    """``out/checkpoint.npz``."""
    return os.path.join(out, "checkpoint.npz")


def check_start(out, steps, resume=False, force=False):
    """Refuse, before any work, a run that would overwrite a checkpoint or resume to nowhere."""
    path = checkpoint_path(out)
    if os.path.exists(path) and not (resume or force):
        raise ValueError(f"{path} exists: pass --resume to continue that run, or --force to start over")
    if resume:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no checkpoint to --resume; leave out --resume to start a run")
        data = io.read_npz(path, ("opt_step", "config"), "an npscore MNIST checkpoint")
        done, config = int(data["opt_step"]), io.read_json_array(path, data)
        if config.get("gate_trained"):
            raise ValueError(f"{path}: its local gate is trained on the finished model, which cannot be "
                             "resumed; pass --force to start over")
        if steps < done or (steps == done and not config.get("gate_window")):
            raise ValueError(f"--steps must exceed the {done} steps {path} has done to resume it; got {steps}")


def noise_levels(x, sigma_max=None, sigma_min=SIGMA_MIN):
    """The geometric levels of :func:`npscore.schedules.from_data` for ``x``, largest first."""
    return schedules.from_data(x, sigma_1=sigma_max, sigma_l=sigma_min).sigmas


def train(out, x, config=None, resume=False, force=False, progress=True, log=print, **settings):
    """Train on ``x : (N, 784)`` with ``config`` (a :class:`npscore.config.MnistConfig`, default the
    ``cpu`` preset, any field overridden by ``settings``), checkpointing to ``out/checkpoint.npz``.

    An existing checkpoint is continued with ``resume``, replaced with
    ``force``, and otherwise refused (a repeated command never overwrites a
    run). ``config.sigma_max`` overrides the largest noise level (default: the
    largest distance between training images). With a local gate
    (``config.window``), the gate is trained alone for ``gate_steps`` steps
    after the ``steps`` of the rest (the checkpoint then holds the whole model
    and is not resumed).

    Returns
    -------
    model, ema_params, losses, seconds, record (the checkpoint's config dict)
    """
    config = (config or PRESETS["cpu"]).replace(**settings)
    check_start(out, config.steps, resume, force)
    path, base = checkpoint_path(out), data_base(x)
    sigmas = noise_levels(x, config.sigma_max)
    model, gated = config.build_model(base, window=0), config.build_model(base)
    record = _record(config, model, gated, sigmas, base)
    log(f"noise levels: {len(sigmas)}, geometric from {sigmas[0]:.4g} to {sigmas[-1]:.4g} "
        f"(ratio {sigmas[0] / sigmas[1]:.4f}); training draws sigma log-uniformly between them")
    params, state, losses, start = model.init(config.seed, "float32"), None, [], 0
    if resume:
        params, state, losses = _resumed(path, model, record, log)
        start = state["step"]
    loss = _dsm(x, sigmas, config.batch_size)
    t = time.time()
    if start < config.steps:
        _, state, losses = fit(loss(model), params, Adam(lr=config.lr), config.steps, config.seed, state=state,
                               start_step=start, losses=losses, segment=config.checkpoint_every, checkpoint=path,
                               config=record, ema=0.999, progress=progress, desc="mnist dsm")
    if not config.window:
        return model, state["ema"], losses, time.time() - t, record
    frozen, steps = state["ema"], config.steps
    phi, _, losses = fit(loss(gated, frozen), gated.head_init(config.seed, "float32"), Adam(lr=config.lr),
                         steps + config.gate_steps, config.seed, start_step=steps, losses=losses,
                         segment=math.gcd(steps, config.gate_steps), progress=progress, desc="local gate")
    params, record = frozen + phi, {**record, "gate_trained": True}
    io.save_checkpoint(path, params, {"step": steps + config.gate_steps, "ema": params}, losses, record)
    return gated, params, losses, time.time() - t, record


def _record(config, model, gated, sigmas, base):
    """The config dict a checkpoint stores (what :func:`load_model` rebuilds the model from)."""
    return {"hidden": config.hidden, "depth": config.depth, "gated": True, "scale_input": True,
            "sigma_features": model.sigma_features, "residual_bound": model.bound,
            "gate_window": gated.window, "gate_steps": config.gate_steps if config.window else 0,
            "gate_trained": False, "gate_input": gated.gate_input, "continuous": True, "activation": ACTIVATION,
            "sigmas": list(sigmas), "seed": config.seed, "batch_size": config.batch_size, "lr": config.lr,
            "checkpoint_every": config.checkpoint_every, "base": base.to_lists()}


def _resumed(path, model, record, log):
    """``(params, state, losses)`` of the checkpoint at ``path``, which must share :data:`RESUME_KEYS`."""
    params, state, losses, saved = io.load_checkpoint(path, model)
    for key in RESUME_KEYS:
        if saved.get(key) != record[key]:
            raise ValueError(f"--resume: {path} was trained with {key}={saved.get(key)!r}; "
                             f"this run asks for {record[key]!r}")
    log(f"resuming from step {state['step']} of {path}")
    return params, state, losses


def _dsm(x, sigmas, batch_size):
    """``loss(net, frozen=None)``: the DSM step of ``net`` with sigma log-uniform over ``sigmas``' range;
    with ``frozen`` (the MLP's params), of its head's params alone."""
    N, lo, hi = x.shape[0], sigmas[-1], sigmas[0]

    def loss(net, frozen=None):
        def value_and_grads(p, rng):
            idx = rng.integers(N, (batch_size,))
            sigma = lo * (hi / lo) ** rng.uniform((batch_size,), dtype=x.dtype)      # log-uniform
            eps = rng.normal((batch_size, 784), x.dtype)
            return weighted_dsm(net, p if frozen is None else frozen + p, x[idx], sigma, eps, sigma ** 2,
                                check=False, head_only=frozen is not None)
        return value_and_grads
    return loss


def load_model(path):
    """``(model, ema_params, config)`` from a checkpoint written by :func:`train`."""
    data = io.read_npz(path, ("config",), "an npscore MNIST checkpoint")
    config = io.read_json_array(path, data)
    if not {"hidden", "base", "sigmas"} <= set(config):
        raise ValueError(f"{path}: not an npscore MNIST checkpoint (its config has no hidden / base / sigmas)")
    model = make_model(int(config["hidden"]), FactorizedMixture.from_lists(config["base"]),
                       bool(config.get("gated", False)), bool(config.get("scale_input", False)),
                       int(config.get("sigma_features", 0)), int(config.get("depth", 2)),
                       float(config.get("residual_bound", 0.0)),
                       int(config.get("gate_window", 0)) if config.get("gate_trained", True) else 0,
                       config.get("gate_input", "x"))
    params, state, _, _ = io.load_checkpoint(path, model)
    return model, state.get("ema", params), config


def sample(model, params, sigmas, n, seed, sampler="reverse-sde", n_steps_each=10, step_scale=None,
           progress=False):
    """``n`` images as the sampler leaves them (clip to [0, 1] to show them), from the prior
    ``N(0, sigma_1^2 I)``.

    ``annealed-langevin`` runs ``n_steps_each`` steps at each of ``sigmas``
    with :func:`langevin_step`; the SDE samplers
    run :data:`SDE_STEPS` steps on the VE SDE from ``sigmas[-1]`` to ``sigmas[0]``.
    """
    checks.one_of(sampler, "sampler (--sampler)", SAMPLERS)
    sigmas = checks.sigmas(sigmas)
    rng = backend.rng(seed, 7)
    x1 = sigmas[0] * rng.normal((n, 784), "float32")
    if sampler == "annealed-langevin":
        return run_sampler(sampler, model.score_fn(params), x1, rng, sigmas=sigmas, n_steps_each=n_steps_each,
                           step_scale=langevin_step(sigmas, n_steps_each, step_scale), progress=progress)
    sde = VESDE(sigmas[-1], sigmas[0])
    return run_sampler(sampler, sde_score(model, params, sde), x1, rng, sde=sde, progress=progress,
                       n_steps=SDE_STEPS // (2 if sampler == "predictor-corrector" else 1))


def langevin_step(sigmas, n_steps_each, step_scale=None):
    """Annealed Langevin's step scale: ``step_scale`` if given, else :data:`STEP_FRACTION` of
    technique 4's for the levels ``sigmas`` (largest first) and ``n_steps_each``."""
    return step_scale or STEP_FRACTION * schedules.step_scale(sigmas[0] / sigmas[1], n_steps_each, sigmas[-1])


def neighbours(images, r=1):
    """``((2r + 1)^2 - 1, n, 28, 28)``: host ``images`` shifted by each offset ``(di, dj) != 0`` with
    ``|di|, |dj| <= r``: at pixel ``(i, j)`` the pixel ``(i + di, j + dj)`` (0 outside the image)."""
    padded = backend.host.pad(images.reshape(-1, 28, 28), ((0, 0), (r, r), (r, r)))
    return backend.host.stack([padded[:, r + di:28 + r + di, r + dj:28 + r + dj]
                               for di in range(-r, r + 1) for dj in range(-r, r + 1) if (di, dj) != (0, 0)])


def isolated(images, lit=0.5):
    """``(isolated, lit)``: host boolean ``(n, 784)`` masks of the lit pixels (``> lit``) and of
    those none of whose 8 neighbours is lit."""
    x = backend.to_numpy(images).reshape(-1, 784) > lit
    return x & ~neighbours(x).any(0).reshape(len(x), -1), x


def speckle(images, lit=0.5):
    """The fraction of lit pixels (``> lit``) none of whose 8 neighbours is lit: isolated bright
    pixels."""
    iso, on = isolated(images, lit)
    return float(iso.sum() / max(int(on.sum()), 1))


def blank(images, level=0.06):
    """The fraction of images whose mean pixel is below ``level``."""
    return float((backend.to_numpy(images).reshape(images.shape[0], -1).mean(1) < level).mean())


def evaluate_samples(clf, raw, x_test, x_train, seed=0):
    """The metrics of the samples ``raw`` (clipped to [0, 1]) beside MNIST test and the Gaussian fit.

    Returns
    -------
    dict
        Rows ``model``, ``model unclipped``, ``mnist_test (floor)``,
        ``gaussian_fit (baseline)``, ``gaussian_fit clipped``: each the
        classifier's metrics (:func:`classifier.evaluate`) and ``speckle``.
    """
    xp = backend.xp()
    n = raw.shape[0]
    ref = classifier.feature_stats(clf, x_test)
    perm = backend.host.random.default_rng(seed).permutation(x_test.shape[0])[:n]
    gauss = gaussian_fit_samples(x_train, n, backend.rng(seed, 11))
    rows = {"model": xp.clip(raw, 0.0, 1.0), "model unclipped": raw,
            "mnist_test (floor)": x_test[backend.asarray(perm)],
            "gaussian_fit (baseline)": gauss, "gaussian_fit clipped": xp.clip(gauss, 0.0, 1.0)}
    return {key: {**classifier.evaluate(clf, x, ref), "speckle": speckle(x), "blank": blank(xp.clip(x, 0.0, 1.0))}
            for key, x in rows.items()}


def load_data(data_dir=None, test=True):
    """``{"x_train", "y_train", "x_test", "y_test"}`` (the test split only with ``test``),
    every file checked before any work."""
    data = dict(zip(("x_train", "y_train"), load_mnist(data_dir, "train")))
    if test:
        data.update(zip(("x_test", "y_test"), load_mnist(data_dir, "test")))
    return data


def get_classifier(path, data, progress=True, log=print):
    """The classifier at ``path`` (checked now), or one trained on ``data`` and saved there first."""
    return classifier.load_or_train(path, data["x_train"], data["y_train"], progress=progress, log=log)


def sample_and_evaluate(model, params, sigmas, out, data, clf, n=1000, seed=0, sampler="reverse-sde",
                        n_steps_each=10, step_scale=None, log=print, extra=None, progress=False):
    """Sample ``n`` images, save ``samples.npz`` and ``samples.png``, write and print ``metrics.json``."""
    from .. import plotting
    t = time.time()
    raw = sample(model, params, sigmas, n, seed, sampler, n_steps_each, step_scale, progress)
    backend.synchronize()
    seconds = time.time() - t
    x = backend.xp().clip(raw, 0.0, 1.0)
    io.atomic_savez(os.path.join(out, "samples.npz"), {"images": backend.to_numpy(x)})
    plotting.image_grid(os.path.join(out, "samples.png"), x[:100], title=f"npscore: gated NCSN MLP, {sampler}")
    metrics = evaluate_samples(clf, raw, data["x_test"], data["x_train"], seed)
    metrics.update({"classifier_test_accuracy": clf.accuracy(data["x_test"], data["y_test"]), "n_samples": n,
                    "sample_seconds": seconds, "backend": backend.name(), "sampler": sampler,
                    "step_scale": langevin_step(sigmas, n_steps_each, step_scale) if sampler == "annealed-langevin"
                    else None, "n_steps_each": n_steps_each, "n_levels": len(sigmas),
                    **(extra or {})})
    io.atomic_write_json(os.path.join(out, "metrics.json"), metrics)
    log(f"{'':<24}{'classifier-FID':>15}{'IS analogue':>13}{'top prob':>10}{'speckle':>9}{'blank':>7}  min class")
    for key in ("model", "model unclipped", "mnist_test (floor)", "gaussian_fit (baseline)", "gaussian_fit clipped"):
        m = metrics[key]
        log(f"{key:<24}{m['classifier_fid']:15.2f}{m['inception_score']:13.2f}{m['mean_top_prob']:10.3f}"
            f"{m['speckle']:9.4f}{m['blank']:7.3f}  {min(m['label_fractions']):.3f}")
    log("model label fractions: " + " ".join(f"{v:.3f}" for v in metrics["model"]["label_fractions"]))
    log(f"sampling {n} images took {seconds:.1f}s; grid: {os.path.join(out, 'samples.png')}")
    return metrics
