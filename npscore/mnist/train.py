"""Training the MNIST score model (:mod:`npscore.mnist.model`) and reading it back.

:func:`train`: the model on the training images with denoising score matching over noise levels
drawn log-uniformly from ``[sigma_L, sigma_1]`` (weight ``sigma^2``,
:func:`npscore.losses.weighted_dsm`), ``sigma_1`` the largest distance between training images and
``sigma_L = 0.01`` (:mod:`npscore.schedules`), Adam, an EMA of the params; checkpoints every
``checkpoint_every`` steps, exact resume. Then, with a local gate, the same loss trains the gate
alone for ``gate_steps`` more steps on the EMA of the rest, held fixed. :func:`load_model` rebuilds
the model of a checkpoint through :class:`npscore.config.MnistConfig`.
"""
import math
import os
import time

from .. import io, schedules
from ..config import MNIST_PRESETS, MnistConfig, kind_of
from ..losses import weighted_dsm
from ..optim import Adam
from ..training import fit
from .base import FactorizedMixture, data_base
from .model import make_model

#: the smallest noise level (pixels live in [0, 1])
SIGMA_MIN = 0.01
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
    config = (config or MNIST_PRESETS["cpu"]).replace(**settings)
    check_start(out, config.steps, resume, force)
    path, base = checkpoint_path(out), data_base(x)
    sigmas = noise_levels(x, config.sigma_max)
    model, gated = config.build_model(base, window=0), config.build_model(base)
    record = config.to_record(sigmas, base)
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
    """``(model, ema_params, record)`` from a checkpoint written by :func:`train`, rebuilt through
    :meth:`npscore.config.MnistConfig.from_record` (a record from before the gate, without
    ``"gated"``: the model ``e / sigma + s_base`` it describes)."""
    record = io.read_json_array(path, io.read_npz(path, ("config",), "an npscore MNIST checkpoint"))
    if kind_of(record) != "npscore mnist" or not {"hidden", "base", "sigmas"} <= set(record):
        raise ValueError(f"{path}: not an npscore MNIST checkpoint (its config is of {kind_of(record)}); "
                         "npscore likelihood reads either kind")
    base = FactorizedMixture.from_lists(record["base"])
    if "gated" not in record:
        model = make_model(int(record["hidden"]), base, gated=False)
    else:
        window = int(record["gate_window"]) if record.get("gate_trained", True) else 0
        model = MnistConfig.from_record(record, path).build_model(base, window=window)
    params, state, _, _ = io.load_checkpoint(path, model)
    return model, state.get("ema", params), record
