"""MNIST with a noise-conditional MLP score model (first report, section 1).

The model (:class:`npscore.nn.NoiseConditionalMLP` with ``gated=True``)::

    s_d(x, sigma) = e_d(x, sigma) / sigma + sum_k r_dk a_dk,
    r_d = softmax_k(log w_dk + log N(x_d; mu_dk, v_dk + sigma^2) + u_dk(x, sigma))

an MLP 784 -> H -> H -> 5 x 784 on ``[x, log sigma]`` gives ``e`` (a residual
with the 1/sigma output scaling of NCSN / score_sde) and ``u`` (log-weight
shifts of components 0-3, the last one's 0) of a per-pixel density fitted to
the training set, K = 5 components: an atom at 0, an atom at 1 and a
Gaussian for the values in each third of (0, 1) (:func:`data_base`), with
``a_dk`` the slope ``-(x_d - mu_dk) / (v_dk + sigma^2)`` of component k
noised to sigma. With ``u = 0`` that is the exact noised score of the
per-pixel density; the MLP decides from the whole image which component each
pixel belongs to, and the decision carries the exact 1/sigma^2 pull towards
it, which an MLP output scaled by 1/sigma cannot produce (examples/README.md,
"MNIST", for the measurements behind each choice).
Trained with the ``ncsn`` multi-level DSM loss on sigma geometric from 1.0
to 0.01 over 10 levels, lambda(sigma) = sigma^2, Adam, an EMA of the params
for sampling. Sampling is annealed Langevin with NCSN's defaults (T = 100
steps per level, eps = 2e-5, final denoising step; ``--eps`` changes the
step scale), or the reverse-time VE SDE over the same sigma range
(``--sampler reverse-sde``, the documented configuration: with annealed
Langevin many chains of this model fade to blank images). Everything runs
on the active backend: ``--backend cupy`` changes nothing else.
"""
import json
import os
import time

from . import backend, classifier, plotting
from .data import load_mnist
from .densities import FactorizedMixture
from .losses import ncsn
from .nn import NoiseConditionalMLP
from .optim import Adam
from .sampling import annealed_langevin, reverse_sde, sde_score
from .sde import VESDE
from .training import atomic_savez, atomic_write_json, fit, load_checkpoint

SIGMAS = tuple(float(1.0 * (0.01 / 1.0) ** (i / 9)) for i in range(10))
BINS = 3          # Gaussians of the base between the atoms (examples/README.md: 3 beat 1)
SAMPLERS = ("langevin", "reverse-sde")
SDE_STEPS = 1000  # reverse-sde steps: as many score evaluations as annealed Langevin's 10 x 100
ACTIVATION = "swish"


def make_model(hidden, base, gated=True):
    """The score model; ``base`` the per-pixel :class:`FactorizedMixture` of the
    training set (:func:`data_base`); ``gated=False``: the earlier model
    ``MLP / sigma + s_base`` (checkpoints from before the gate)."""
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden (--hidden) must be a positive int; got {hidden!r}")
    return NoiseConditionalMLP([784, hidden, hidden, 784], ACTIVATION, base=base, gated=gated)


def data_base(x):
    """Per pixel: the mass at exactly 0, at exactly 1, and a Gaussian for the
    values in each of :data:`BINS` equal thirds of (0, 1)
    (:meth:`FactorizedMixture.fit_atoms`): the density whose responsibilities
    the gated model shifts (see :class:`npscore.nn.NoiseConditionalMLP`)."""
    b = FactorizedMixture.fit_atoms(x, atoms=(0.0, 1.0), bins=BINS)
    return FactorizedMixture(*(a.astype(x.dtype) for a in (b.weights, b.means, b.variances)))


def train(out, data_dir=None, steps=25000, batch_size=128, hidden=512, lr=1e-3, seed=0,
          checkpoint_every=1000, resume=False, progress=True, log=print):
    """Train and checkpoint to ``out/checkpoint.npz``; returns ``(model, ema_params, losses, seconds)``."""
    for name, v in (("steps (--steps)", steps), ("batch_size (--batch-size)", batch_size),
                    ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1; got {v!r}")
    x, _ = load_mnist(data_dir, "train")
    base = data_base(x)
    model = make_model(hidden, base)
    opt = Adam(lr=lr)
    config = {"hidden": hidden, "gated": True, "activation": ACTIVATION, "sigmas": list(SIGMAS), "seed": seed,
              "batch_size": batch_size, "lr": lr, "checkpoint_every": checkpoint_every,
              "base": base.to_lists()}
    path = os.path.join(out, "checkpoint.npz")
    params, state, losses, start = model.init(seed, "float32"), None, [], 0
    if resume:
        params, state, losses, saved = load_checkpoint(path, model.mlp, opt)
        for key in ("hidden", "gated", "seed", "batch_size", "lr", "checkpoint_every"):
            if saved.get(key) != config[key]:
                raise ValueError(f"--resume: checkpoint {path} was trained with {key}={saved.get(key)!r}, "
                                 f"this run asks for {config[key]!r}")
        start = state["step"]
        log(f"resuming from step {start} of {path}")
    N = x.shape[0]

    def loss(p, rng):
        idx = rng.integers(N, (batch_size,))
        return ncsn(model, p, x[idx], SIGMAS, rng=rng)

    t = time.time()
    _, state, losses = fit(loss, params, opt, steps, seed, state=state, start_step=start, losses=losses,
                           segment=checkpoint_every, checkpoint=path, config=config, ema=0.999,
                           progress=progress, desc="mnist ncsn")
    return model, state["ema"], losses, time.time() - t


def load_model(path):
    """``(model, ema_params, config)`` from a checkpoint written by :func:`train`."""
    np = backend.host
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    with np.load(path, allow_pickle=False) as data:
        if "config" not in data.files:
            raise ValueError(f"{path!r} is not an npscore MNIST checkpoint (no config)")
        config = json.loads(str(data["config"]))
    base = FactorizedMixture.from_lists(config["base"]) if "base" in config else None
    model = make_model(int(config["hidden"]), base, bool(config.get("gated", False)))
    params, state, _, _ = load_checkpoint(path, model.mlp, Adam())
    return model, state.get("ema", params), config


def sample(model, params, n, seed, n_steps_each=100, eps=2e-5, clip=True, sampler="langevin", x_train=None):
    """``n`` images, clipped to [0, 1] (``clip=False``: as the sampler leaves them).

    ``sampler="langevin"``: annealed Langevin from U(0, 1) noise (NCSN), T =
    ``n_steps_each`` per level, step scale ``eps``; iterates are kept in the
    box [-1, 2] (pixels live in [0, 1]): a rare chain where the learned score
    extrapolates badly cannot run away to inf.

    ``sampler="reverse-sde"``: Euler-Maruyama on the reverse-time VE SDE
    (Song et al. 2021; :func:`npscore.sampling.reverse_sde`) with sigma(t)
    geometric over the same range, SIGMAS[-1] to SIGMAS[0], in
    :data:`SDE_STEPS` steps; the model is conditioned on sigma(t) between its
    training levels. It starts from p_{sigma_1} approximated by the Gaussian
    fit of ``x_train`` plus N(0, sigma_1^2): at sigma_1 = 1 the noised data is
    far from N(0, sigma_1^2), and a start from the per-pixel base did worse
    (examples/README.md).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler (--sampler) must be one of {SAMPLERS}; got {sampler!r}")
    rng = backend.rng(seed, 7)
    if sampler == "langevin":
        x0 = rng.uniform((n, 784), dtype="float32")
        x = annealed_langevin(model.score_fn(params), x0, SIGMAS, eps, n_steps_each, rng, bounds=(-1.0, 2.0))
    else:
        if x_train is None:
            raise ValueError("sampler 'reverse-sde' starts from the Gaussian fit of the training images: "
                             "pass x_train")
        sde = VESDE(SIGMAS[-1], SIGMAS[0])
        x1 = classifier.gaussian_fit_samples(x_train, n, rng) + SIGMAS[0] * rng.normal((n, 784), x_train.dtype)
        x = reverse_sde(sde_score(model, params, sde), sde, x1, SDE_STEPS, rng)
    return backend.xp().clip(x, 0.0, 1.0) if clip else x


def sample_and_evaluate(model, params, out, data_dir=None, n=1000, seed=0, n_steps_each=100,
                        classifier_path=None, progress=True, log=print, extra=None, eps=2e-5,
                        sampler="langevin"):
    """Sample, save ``samples.npz`` and ``samples.png``, compute and print the metrics.

    Rows: the model's images clipped to [0, 1] (as saved and shown) and as
    the sampler left them; MNIST test (the floor); the Gaussian fit's samples
    as drawn (the issue's baseline) and clipped to [0, 1] (the model's
    footing). Clipping matters: zero-mean pixel noise mostly cancels in the
    classifier's first layer, clipped it does not (see examples/README.md).
    """
    xp = backend.xp()
    xtr, _ = load_mnist(data_dir, "train")
    t = time.time()
    raw = sample(model, params, n, seed, n_steps_each, eps, clip=False, sampler=sampler, x_train=xtr)
    x = xp.clip(raw, 0.0, 1.0)
    backend.synchronize()
    t_sample = time.time() - t
    os.makedirs(out, exist_ok=True)
    atomic_savez(os.path.join(out, "samples.npz"), {"images": backend.to_numpy(x)})
    plotting.image_grid(os.path.join(out, "samples.png"), x[:100], title=f"npscore: gated NCSN MLP, {'annealed Langevin' if sampler == 'langevin' else 'reverse SDE'}")
    clf = classifier.load_or_train(classifier_path or os.path.join(out, "classifier.npz"), data_dir,
                                   progress=progress, log=log)
    xt, yt = load_mnist(data_dir, "test")
    ref = classifier.feature_stats(clf, xt)
    rng = backend.rng(seed, 11)
    perm = backend.host.random.default_rng(seed).permutation(xt.shape[0])[:n]
    gauss = classifier.gaussian_fit_samples(xtr, n, rng)
    metrics = {"model": classifier.evaluate(clf, x, ref),
               "model unclipped": classifier.evaluate(clf, raw, ref),
               "mnist_test (floor)": classifier.evaluate(clf, xt[backend.asarray(perm)], ref),
               "gaussian_fit (baseline)": classifier.evaluate(clf, gauss, ref),
               "gaussian_fit clipped": classifier.evaluate(clf, xp.clip(gauss, 0.0, 1.0), ref),
               "classifier_test_accuracy": clf.accuracy(xt, yt), "n_samples": n,
               "sample_seconds": t_sample, "backend": backend.name(), "sampler": sampler, "eps": eps, "n_steps_each": n_steps_each}
    metrics.update(extra or {})
    atomic_write_json(os.path.join(out, "metrics.json"), metrics)
    log(f"{'':<24}{'classifier-FID':>15}{'IS analogue':>13}{'top prob':>10}  min class fraction")
    for key in ("model", "model unclipped", "mnist_test (floor)", "gaussian_fit (baseline)",
                "gaussian_fit clipped"):
        m = metrics[key]
        log(f"{key:<24}{m['classifier_fid']:15.2f}{m['inception_score']:13.2f}{m['mean_top_prob']:10.3f}"
            f"  {min(m['label_fractions']):.3f}")
    log("model label fractions: " + " ".join(f"{v:.3f}" for v in metrics["model"]["label_fractions"]))
    log(f"sampling {n} images took {t_sample:.1f}s; grid: {os.path.join(out, 'samples.png')}")
    return metrics
