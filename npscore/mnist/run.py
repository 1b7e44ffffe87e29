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
#: settings of ``npscore mnist --preset`` (flags given on the command line win); :func:`train`'s
#: defaults are the ``cpu`` preset
PRESETS = {"cpu": {"hidden": 512, "steps": 25000, "batch_size": 128, "samples": 1000, "sigma_features": 16,
                   "depth": 5, "bound": 4.0, "window": 5, "gate_steps": 3000, "gate_input": "denoised",
                   "checkpoint_every": 1000},
           "gpu": {"hidden": 1024, "steps": 37500, "batch_size": 256, "samples": 5000, "sigma_features": 16,
                   "depth": 5, "bound": 4.0, "window": 5, "gate_steps": 5000, "gate_input": "denoised",
                   "checkpoint_every": 2500}}
CPU = PRESETS["cpu"]
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


def train(out, x, steps=CPU["steps"], batch_size=CPU["batch_size"], hidden=CPU["hidden"], lr=1e-3, seed=0,
          checkpoint_every=CPU["checkpoint_every"], resume=False, force=False, sigma_max=None,
          sigma_features=CPU["sigma_features"], depth=CPU["depth"], bound=CPU["bound"], window=CPU["window"],
          gate_steps=CPU["gate_steps"], gate_input=CPU["gate_input"], progress=True, log=print):
    """Train on ``x : (N, 784)``, checkpointing to ``out/checkpoint.npz``.

    An existing checkpoint is continued with ``resume``, replaced with
    ``force``, and otherwise refused (a repeated command never overwrites a
    run). ``sigma_max`` overrides the largest noise level (default: the
    largest distance between training images); ``sigma_features`` is the
    number of Fourier features of ``log sigma`` the network sees
    (:func:`npscore.nn.conditional.sigma_embedding`); ``depth`` the number of
    hidden layers of width ``hidden``; ``bound`` the bound ``B`` of the
    residual, ``window`` the size of the local gate's neighbourhoods
    (:class:`npscore.mnist.model.GatedScore`; 0: unbounded, no gate), which
    is trained alone for ``gate_steps`` steps after the ``steps`` of the rest
    and reads ``gate_input`` (``x`` or the first pass's denoised image)
    (the checkpoint then holds the whole model and is not resumed).

    Returns
    -------
    model, ema_params, losses, seconds, config
    """
    for name, v in (("steps (--steps)", steps), ("batch_size (--batch-size)", batch_size),
                    ("checkpoint_every (--checkpoint-every)", checkpoint_every), ("gate_steps (--gate-steps)", gate_steps)):
        checks.integer(v, name)
    lr = checks.positive(lr, "lr (--lr)")
    check_start(out, steps, resume, force)
    path = checkpoint_path(out)
    base = data_base(x)
    sigmas = noise_levels(x, sigma_max)
    model = make_model(hidden, base, scale_input=True, sigma_features=sigma_features, depth=depth, bound=bound)
    gated = make_model(hidden, base, scale_input=True, sigma_features=sigma_features, depth=depth, bound=bound,
                       window=window, gate_input=gate_input)
    opt = Adam(lr=lr)
    config = {"hidden": hidden, "depth": depth, "gated": True, "scale_input": True,
              "sigma_features": model.sigma_features, "residual_bound": model.bound,
              "gate_window": gated.window, "gate_steps": gate_steps if window else 0, "gate_trained": False,
              "gate_input": gated.gate_input,
              "continuous": True,
              "activation": ACTIVATION,
              "sigmas": list(sigmas), "seed": seed, "batch_size": batch_size, "lr": lr,
              "checkpoint_every": checkpoint_every, "base": base.to_lists()}
    log(f"noise levels: {len(sigmas)}, geometric from {sigmas[0]:.4g} to {sigmas[-1]:.4g} "
        f"(ratio {sigmas[0] / sigmas[1]:.4f}); training draws sigma log-uniformly between them")
    params, state, losses, start = model.init(seed, "float32"), None, [], 0
    if resume:
        params, state, losses, saved = io.load_checkpoint(path, model)
        for key in RESUME_KEYS:
            if saved.get(key) != config[key]:
                raise ValueError(f"--resume: {path} was trained with {key}={saved.get(key)!r}; "
                                 f"this run asks for {config[key]!r}")
        start = state["step"]
        log(f"resuming from step {start} of {path}")
    N, lo, hi = x.shape[0], sigmas[-1], sigmas[0]

    def loss(net, frozen=None):
        """DSM of ``net``; with ``frozen`` (the MLP's params), of its head's params alone."""
        def value_and_grads(p, rng):
            idx = rng.integers(N, (batch_size,))
            sigma = lo * (hi / lo) ** rng.uniform((batch_size,), dtype=x.dtype)      # log-uniform
            eps = rng.normal((batch_size, 784), x.dtype)
            return weighted_dsm(net, p if frozen is None else frozen + p, x[idx], sigma, eps, sigma ** 2,
                                check=False, head_only=frozen is not None)
        return value_and_grads

    t = time.time()
    if start < steps:
        _, state, losses = fit(loss(model), params, opt, steps, seed, state=state, start_step=start, losses=losses,
                               segment=checkpoint_every, checkpoint=path, config=config, ema=0.999,
                               progress=progress, desc="mnist dsm")
    if not window:
        return model, state["ema"], losses, time.time() - t, config
    frozen = state["ema"]
    phi, _, losses = fit(loss(gated, frozen), gated.head_init(seed, "float32"), Adam(lr=lr), steps + gate_steps,
                         seed, start_step=steps, losses=losses, segment=math.gcd(steps, gate_steps),
                         progress=progress, desc="local gate")
    params = frozen + phi
    config = {**config, "gate_trained": True}
    io.save_checkpoint(path, params, {"step": steps + gate_steps, "ema": params}, losses, config)
    return gated, params, losses, time.time() - t, config


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
