"""Training the MNIST score model (:mod:`npscore.mnist.model`) and reading it back.

:func:`train`: the model on the training images with denoising score matching over noise levels
drawn log-uniformly from ``[sigma_L, sigma_1]`` (weight ``sigma^2``,
:func:`npscore.losses.weighted_dsm`), ``sigma_1`` the largest distance between training images and
``sigma_L = 0.01`` (:mod:`npscore.schedules`), Adam, an EMA of the params; checkpoints every
``checkpoint_every`` steps, exact resume. Then, with a local gate, the same loss trains the gate
alone for ``gate_steps`` more steps on the EMA of the rest, held fixed. :func:`load_model` rebuilds
the model of a checkpoint through :class:`npscore.commands.mnist_config.MnistConfig`.
"""
import math
import os
import shutil
import time

from .. import backend, io, schedules
from ..losses import weighted_dsm
from ..mnist.base import FactorizedMixture, data_base
from ..mnist.model import make_model
from ..optim import Adam
from ..training import fit
from ..io import check_levels, kind_of
from .mnist_config import MNIST_PRESETS, MNIST_SIGMA_MIN, MnistConfig
from .runfolder import RunFolder

#: the smallest noise level (pixels live in [0, 1]; its one home is :data:`npscore.commands.mnist_config.MNIST_SIGMA_MIN`)
SIGMA_MIN = MNIST_SIGMA_MIN
#: settings a resumed run must share with its checkpoint
RESUME_KEYS = ("arch", "channels", "hidden", "depth", "gated", "sigma_features", "residual_bound", "gate_window", "gate_steps",
               "seed", "batch", "lr", "checkpoint_every", "sigmas")


#: ``npscore mnist``'s files: the resumable checkpoint while training, the model once trained, its samples
TRAINING = "training.npz"
CHECKPOINT = "checkpoint.npz"
SAMPLE_FILES = ("samples.npz", "samples.png", "metrics.json")
RUN_FILES = (CHECKPOINT, TRAINING) + SAMPLE_FILES
#: what a later publish of the same folder keeps: the trained model and the classifier it cached
KEEP = (CHECKPOINT, "classifier.npz")


def checkpoint_path(out):
    """``out/checkpoint.npz``: the trained model."""
    return os.path.join(out, CHECKPOINT)


def check_start(folder, config, resume=False):
    """What a run of ``config`` in ``folder`` (a :class:`npscore.runfolder.RunFolder`) starts from,
    refusing before any work a ``resume`` with nothing to continue or other settings:
    ``"fresh"``, ``"training"`` (continue ``training.npz``) or ``"trained"`` (a trained model
    whose sampling was cut off: sample it)."""
    if not resume:
        return "fresh"
    steps, stage = config.steps, check_settings(folder, config)
    path, model = folder.path(TRAINING), folder.path(CHECKPOINT)
    if os.path.exists(path):
        data = io.read_npz(path, ("opt_step", "config"), "an npscore MNIST training checkpoint")
        done = int(data["opt_step"])
        if steps < done:
            raise ValueError(f"--steps must be at least the {done} steps {path} has done to resume it; got {steps}")
        return "training"
    if stage == "trained" and os.path.exists(model):
        return "trained"
    if stage == "complete":
        raise ValueError(f"--resume: {folder.out} holds a finished run; pass --force to train afresh, or draw more "
                         f"samples with npscore sample --checkpoint {model} --out ANOTHER_FOLDER")
    raise FileNotFoundError(f"--resume: {folder.out} holds no run to resume; leave out --resume to start one")


def check_settings(folder, config):
    """The stage of the run in ``folder``, whose checkpoint must record ``config``'s settings."""
    stage = folder.previous["stage"] if folder.previous else None
    trained, path = stage == "trained", folder.path(CHECKPOINT if stage == "trained" else TRAINING)
    if os.path.exists(path):
        settings = config.settings()
        _same_run(path, {**settings, "data_sha256": None}, (("steps",) if trained else ()) + RESUME_KEYS[:-1])
    return stage


def noise_levels(x, sigma_max=None, sigma_min=SIGMA_MIN):
    """The geometric levels of :func:`npscore.schedules.from_data` for ``x``, largest first."""
    return schedules.from_data(x, sigma_max=sigma_max, sigma_min=sigma_min).sigmas


def train(out, x, config=None, resume=False, force=False, progress=True, log=print, folder=None, **settings):
    """Train on ``x : (N, 784)`` with ``config`` (a :class:`npscore.commands.mnist_config.MnistConfig`, default the
    ``cpu`` preset, any field overridden by ``settings``) in the run folder ``out``
    (:class:`npscore.runfolder.RunFolder`; the caller's open ``folder`` where given): checkpoints to
    ``out/training.npz`` while training, the trained model published as ``out/checkpoint.npz``.

    A run in ``out`` is continued with ``resume`` (its training, or, once trained, nothing: the
    model is returned for sampling), replaced with ``force`` when the new model is published, and
    otherwise refused. ``config.sigma_max`` overrides the largest noise level (default: the
    largest distance between training images). With a local gate (``config.window``), the gate is
    trained alone for ``gate_steps`` steps after the ``steps`` of the rest.

    Returns
    -------
    model, ema_params, losses, seconds, record (the checkpoint's config dict)
    """
    config = (config or MNIST_PRESETS["cpu"]).replace(**settings)
    if folder is None:
        with RunFolder(out, RUN_FILES, resume, force, command="npscore mnist") as folder:
            return train(out, x, config, resume, force, progress, log, folder)
    start_from = check_start(folder, config, resume)
    path, base = folder.path(TRAINING), data_base(x)
    sigmas = noise_levels(x, config.sigma_max, config.sigma_min)
    model, gated = config.build_model(base, window=0), config.build_model(base)
    record = {**config.to_record(sigmas, base), "data_sha256": _digest(x)}
    if start_from == "trained":
        _same_run(folder.path(CHECKPOINT), record, ("steps",) + RESUME_KEYS)
        log(f"resuming: {folder.path(CHECKPOINT)} is trained; sampling it")
        model, params, saved = load_model(folder.path(CHECKPOINT))
        return model, params, io.load_checkpoint(folder.path(CHECKPOINT), model)[2], 0.0, saved
    log(f"noise levels: {len(sigmas)}, geometric from {sigmas[0]:.4g} to {sigmas[-1]:.4g} "
        f"(ratio {sigmas[0] / sigmas[1]:.4f}); training draws sigma log-uniformly between them")
    params, state, losses, start = model.init(config.seed, "float32"), None, [], 0
    if start_from == "training":
        params, state, losses = _resumed(path, model, record, log)
        start = state["step"]
    folder.claim(TRAINING)
    loss = _dsm(x, sigmas, config.batch)
    t = time.time()
    if start < config.steps:
        _, state, losses = fit(loss(model), params, Adam(lr=config.lr), config.steps, config.seed, state=state,
                               start_step=start, losses=losses, segment=config.checkpoint_every, checkpoint=path,
                               config=record, ema=0.999, progress=progress, desc="mnist dsm",
                               hint="lower the learning rate (--lr) or check the data")
    if not config.window:
        params, net, final = state["ema"], model, None
    else:
        frozen, steps = state["ema"], config.steps
        phi, _, losses = fit(loss(gated, frozen), gated.head_init(config.seed, "float32"), Adam(lr=config.lr),
                             steps + config.gate_steps, config.seed, start_step=steps, losses=losses,
                             segment=math.gcd(steps, config.gate_steps), progress=progress, desc="local gate")
        params, net, record = frozen + phi, gated, {**record, "gate_trained": True}
        final = (params, {"step": steps + config.gate_steps, "ema": params}, losses, record)
    folder.publish(lambda d: _write_model(d, path, final), stage="trained", keep=KEEP[1:])
    return net, params, losses, time.time() - t, record


def _write_model(folder, training, final):
    """The trained model as ``folder/checkpoint.npz``: the training checkpoint as it is, or ``final``
    (params, state, losses, record) where the gate was trained after it."""
    if final is None:
        shutil.copyfile(training, os.path.join(folder, CHECKPOINT))
    else:
        io.save_checkpoint(os.path.join(folder, CHECKPOINT), *final)


def _resumed(path, model, record, log):
    """``(params, state, losses)`` of the checkpoint at ``path``, which must share :data:`RESUME_KEYS`."""
    _same_run(path, record, RESUME_KEYS)
    params, state, losses, _ = io.load_checkpoint(path, model)
    log(f"resuming from step {state['step']} of {path}")
    return params, state, losses


def _same_run(path, record, keys):
    """Refuse a resume whose settings or data differ from the record of the checkpoint at ``path``."""
    saved = io.read_json_array(path, io.read_npz(path, ("config",), "an npscore MNIST checkpoint"))
    if record["data_sha256"] and saved.get("data_sha256", record["data_sha256"]) != record["data_sha256"]:
        raise ValueError(f"--resume: the training images differ from those {path} was trained on (--data); "
                         "give the same data, or pass --force to train afresh")
    for key in keys:
        if key in saved and saved[key] != record[key]:
            flag = {"residual_bound": "bound", "gate_window": "window", "sigmas": "sigma_max"}.get(key, key)
            raise ValueError(f"--resume: {path} was trained with {key}={saved[key]!r}; this run asks for "
                             f"{record[key]!r} (--{flag.replace('_', '-')}: give the run's own, or --force "
                             "to train afresh)")


def _digest(x):
    """The SHA-256 of the training images' bytes, in hex."""
    import hashlib
    return hashlib.sha256(backend.to_numpy(x).tobytes()).hexdigest()


def _dsm(x, sigmas, batch):
    """``loss(net, frozen=None)``: the DSM step of ``net`` with sigma log-uniform over ``sigmas``' range;
    with ``frozen`` (the MLP's params), of its head's params alone."""
    N, lo, hi = x.shape[0], sigmas[-1], sigmas[0]

    def loss(net, frozen=None):
        def value_and_grads(p, rng):
            idx = rng.integers(N, (batch,))
            sigma = lo * (hi / lo) ** rng.uniform((batch,), dtype=x.dtype)      # log-uniform
            eps = rng.normal((batch, 784), x.dtype)
            return weighted_dsm(net, p if frozen is None else frozen + p, x[idx], sigma, eps, sigma ** 2,
                                check=False, head_only=frozen is not None)
        return value_and_grads
    return loss


def load_model(path):
    """``(model, ema_params, record)`` from a checkpoint written by :func:`train`, rebuilt through
    :meth:`npscore.commands.mnist_config.MnistConfig.from_record` (a record from before the gate, without
    ``"gated"``: the model ``e / sigma + s_base`` it describes)."""
    record = io.read_json_array(path, io.read_npz(path, ("config",), "an npscore MNIST checkpoint"))
    if kind_of(record) != "npscore mnist" or not {"hidden", "base", "sigmas"} <= set(record):
        raise ValueError(f"{path}: not an npscore MNIST checkpoint (its config is of {kind_of(record)}); "
                         "npscore likelihood reads either kind")
    check_levels(record["sigmas"], path)
    base = FactorizedMixture.from_lists(record["base"])
    if "gated" not in record:
        model = make_model(int(record["hidden"]), base, gated=False)
    else:
        window = int(record["gate_window"]) if record.get("gate_trained", True) else 0
        model = MnistConfig.from_record(record, path).build_model(base, window=window)
    params, state, _, _ = io.load_checkpoint(path, model)
    return model, state.get("ema", params), record
