"""Every objective on low-dimensional data: train, sample with every sampler, measure, draw.

``npscore train --data NAME|FILE --loss LOSS``: the data (:mod:`npscore.toys`),
the noise schedule from the data (:mod:`npscore.schedules`), one model
trained with one objective for a fixed number of steps, then each sampler
that the model can drive:

==========================  ===================================  ==================================
losses                      model                                samplers
==========================  ===================================  ==================================
esm, ism, ssm, ssm-vr, dsm  ``MLP`` s(x) (dsm at sigma_L)        langevin
ncsn, sde-ve                ``NoiseConditionalMLP`` s(x, sigma)  every one (VE SDE over the schedule)
sde-vp                      ``NoiseConditionalMLP`` s(x, sigma)  langevin and the SDE samplers (VP)
==========================  ===================================  ==================================

The SDE samplers start from the Gaussian with p_1's mean and covariance
(:func:`prior_gaussian`). ``esm`` needs the true score, so only the Gaussian-mixture sets take it.
Metrics: the energy distance of each sampler's output to held-out data
beside the floor (the mean and spread of data against data, 20 draws), the
mode fractions where the data is a mixture, and the score error where the
exact score is known; figures and ``metrics.json`` go to ``out``.
"""
import os
import time

from . import backend, checks, io, losses, metrics, schedules
from .densities import Gaussian
from .nn import MLP, NoiseConditionalMLP
from .optim import Adam
from .sampling import SAMPLERS, run as run_sampler, sde_score
from .sde import VESDE, VPSDE
from .toys import DATASETS, load
from .training import fit

LOSSES = ("esm", "ism", "ssm", "ssm-vr", "dsm", "ncsn", "sde-ve", "sde-vp")
CONDITIONAL = ("ncsn", "sde-ve", "sde-vp")
#: the corrector's signal-to-noise ratio here (score_sde's 0.16, set for CIFAR-10, over-disperses
#: 2-D samples to 3-5 times the energy floor; 0.03 stays within it)
SNR = 0.03
#: the working precision of ``npscore train``
DTYPE = "float32"


def samplers_for(loss):
    """The registry names a model trained with ``loss`` can drive."""
    if loss not in CONDITIONAL:
        return ["langevin"]
    if loss == "sde-vp":
        return ["langevin", "reverse-sde", "predictor-corrector", "probability-flow"]
    return list(SAMPLERS)


def check_args(data, loss, sampler, mixture_known):
    """The combination is refused, with the reason, before any work."""
    checks.one_of(loss, "--loss", LOSSES)
    if loss == "esm" and not mixture_known:
        raise ValueError(f"--loss esm needs the data's true score, known only for the Gaussian-mixture sets "
                         f"(two-modes, eight-gaussians); {data!r} has none: use ism, ssm, ssm-vr or dsm")
    for name in ([] if sampler == "all" else [sampler] if isinstance(sampler, str) else sampler):
        if name not in samplers_for(loss):
            raise ValueError(f"--sampler {name} cannot run a model trained with --loss {loss}; "
                             f"it runs: {', '.join(samplers_for(loss))}")


def _loss_fn(loss, model, x, batch, schedule, sde, mixture):
    N = x.shape[0]
    sigmas = schedule.sigmas

    def fn(p, rng):
        xb = x[rng.integers(N, (batch,))]
        if loss == "esm":
            return losses.esm(model, p, xb, mixture.score, check=False)
        if loss == "ism":
            return losses.ism(model, p, xb, check=False)
        if loss in ("ssm", "ssm-vr"):
            return losses.ssm(model, p, xb, 1, rng=rng, variance_reduction=loss == "ssm-vr", check=False)
        if loss == "dsm":
            return losses.dsm(model, p, xb, sigmas[-1], rng=rng, check=False)
        if loss == "ncsn":
            return losses.ncsn(model, p, xb, sigmas, rng=rng, check=False)
        return losses.sde_dsm(model, p, xb, sde, rng=rng, check=False)
    return fn


def _langevin_start(x, n, rng):
    """Plain Langevin's ``n`` starts, uniform over the data's box, and its step, small against the data."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    return lo + (hi - lo) * rng.uniform((n, x.shape[1]), dtype=x.dtype), 0.02 * float(x.std(axis=0).mean()) ** 2


def _sample_all(names, model, params, loss, schedule, sde, x, n, seed, n_steps_each, progress=False):
    """Each sampler's ``(n, D)`` output, from the prior (SDE samplers and annealed
    Langevin) or from uniform starts over the data's box (plain Langevin)."""
    rng = backend.rng(seed, 10 ** 6)
    box, step = _langevin_start(x, n, rng)
    out = {"trajectories": None}
    for name in names:
        t = time.time()
        try:
            with backend.quiet():                      # a divergence is raised by the guard and reported
                out[name] = (_one_sampler(name, model, params, loss, schedule, sde, x, n, rng, box, step,
                                          n_steps_each, out, progress), time.time() - t)
                backend.synchronize()
        except FloatingPointError as exc:              # one sampler diverging is a result, not a crash
            out[name] = (None, time.time() - t, str(exc))
    return out


def _one_sampler(name, model, params, loss, schedule, sde, x, n, rng, box, step, n_steps_each, out, progress):
    """One sampler's ``(n, D)`` output (annealed Langevin also leaves its paths in ``out``)."""
    if name == "langevin":
        if loss in CONDITIONAL:
            t_min = backend.xp().asarray([1e-3])
            smallest = schedule.sigmas[-1] if loss != "sde-vp" else float(sde.marginal(t_min)[1][0])
            score = lambda y, s=smallest, f=model.score_fn(params): f(y, s)          # noqa: E731
        else:
            score = lambda y, p=params: model.apply(p, y)                             # noqa: E731
        return run_sampler(name, score, box, rng, step=step, n_steps=1000, progress=progress)
    if name == "annealed-langevin":
        x1 = schedule.sigmas[0] * rng.normal((n, x.shape[1]), x.dtype)
        x_out, out["trajectories"] = run_sampler(name, model.score_fn(params), x1, rng, sigmas=schedule.sigmas,
                                                 step_scale=schedule.step_scale, n_steps_each=n_steps_each,
                                                 record_every=n_steps_each, progress=progress)
        return x_out
    options = {"snr": SNR, "progress": progress} if name == "predictor-corrector" else {"progress": progress}
    return run_sampler(name, sde_score(model, params, sde), prior_sample(sde, x, n, rng), rng, sde=sde, **options)


def prior_gaussian(sde, x):
    """The Gaussian with the first two moments of p_1, the data pushed to t = 1:
    ``N(mean x, Cov x + sigma_max^2 I)`` for the VE SDE (its own prior
    ``N(0, sigma_max^2 I)`` misses the data's mean and spread, which the
    deterministic probability flow carries into its samples), ``N(0, I)`` for VP."""
    xp = backend.xp()
    if isinstance(sde, VPSDE):
        return Gaussian(xp.zeros(x.shape[1]), xp.eye(x.shape[1]))
    return Gaussian.fit(x, sde.sigma_max ** 2)


def prior_sample(sde, x, n, rng):
    """``(n, D)`` starts for the SDE samplers from :func:`prior_gaussian`."""
    return prior_gaussian(sde, x).sample(n, rng).astype(x.dtype)


def split(data, n_train, n_held_out, seed):
    """``(x, held_out, mixture)``: fresh draws of a built-in set, or a file's rows with a fifth held out."""
    x, mixture = load(data, n_train, seed, DTYPE)
    if data in DATASETS:
        return x, load(data, n_held_out, seed + 1, DTYPE)[0], mixture
    perm = backend.asarray(backend.host.random.default_rng(seed).permutation(x.shape[0]))
    return x[perm[x.shape[0] // 5:]], x[perm[: x.shape[0] // 5]], None


def schedule_for(x, n_steps_each, sigma_max=None, sigma_min=None, sigmas=None, step_scale=None):
    """The schedule of :func:`npscore.schedules.from_data`, or the given ``sigmas``."""
    if sigmas is None:
        return schedules.from_data(x, n_steps_each, sigma_max, sigma_min)
    levels = checks.sigmas(sigmas)
    eps = step_scale or schedules.step_scale(levels[0] / levels[1], n_steps_each, levels[-1])
    return schedules.Schedule(tuple(levels), eps, levels[0], levels[-1], levels[0] / levels[1])


def _floor(data, x, n, seed, draws):
    if data in DATASETS:
        return metrics.energy_floor(lambda m, r: load(data, m, int(r.integers(2 ** 31, (1,))[0]))[0], n,
                                    backend.rng(seed, 7), draws)
    return metrics.energy_floor(lambda m, r: x[r.integers(x.shape[0], (m,))], min(n, x.shape[0]),
                                backend.rng(seed, 7), draws)


def _exact_rows(mixture, model, params, loss, schedule, x, n, seed):
    """Plain Langevin with the exact score (the sampler's own limit), and the learned
    score's relative error against the exact noised score at a few levels."""
    rng = backend.rng(seed, 11)
    box, step = _langevin_start(x, n, rng)
    exact = run_sampler("langevin", mixture.score, box, rng, step=step, n_steps=1000)
    errors = {}
    if loss in CONDITIONAL and loss != "sde-vp":
        score = model.score_fn(params)
        for s in schedule.sigmas[:: max(1, len(schedule.sigmas) // 6)] + (schedule.sigmas[-1],):
            p_s = mixture.noised(s)
            mse, scale = metrics.score_mse(lambda y, s=s: score(y, s), p_s.score, p_s.sample(2000, rng))
            errors[f"{s:.4g}"] = mse / scale
    return exact, errors


def _measure(samples, held_out, mixture):
    rows = {}
    for name, (xs, secs, *error) in samples.items():
        if xs is None:
            rows[name] = {"error": error[0], "seconds": secs}
            continue
        rows[name] = {"energy_distance": metrics.energy_distance(xs, held_out), "seconds": secs}
        if mixture is not None:
            rows[name]["mode_fractions"] = metrics.mode_fractions(mixture, xs)
    return rows


def run(out, data="two-modes", loss="ncsn", sampler="all", steps=10000, batch=512, hidden=128, lr=1e-3,
        seed=0, n_samples=2000, n_train=20000, sigma_max=None, sigma_min=None, n_steps_each=100,
        sigmas=None, step_scale=None, floor_draws=20, progress=True, log=print):
    """Train ``loss`` on ``data``, sample, measure, draw; returns the metrics (also ``metrics.json``).

    The schedule comes from the data unless ``sigmas`` (and ``step_scale``) are given.
    """
    t0 = time.time()
    io.writable_folder(out, "--out")
    io.clean_stale(out)
    x, held_out, mixture = split(data, n_train, n_samples, seed)
    check_args(data, loss, sampler, mixture is not None)
    schedule = schedule_for(x, n_steps_each, sigma_max, sigma_min, sigmas, step_scale)
    log(f"schedule: {len(schedule.sigmas)} levels from sigma_1 = {schedule.sigma_max:.4g} to sigma_L = "
        f"{schedule.sigma_min:.4g} (ratio {schedule.ratio:.4f}), annealed Langevin step scale "
        f"{schedule.step_scale:.3g} for T = {n_steps_each}")
    sde = VPSDE() if loss == "sde-vp" else VESDE(schedule.sigma_min, schedule.sigma_max)
    sizes = [x.shape[1], hidden, hidden, x.shape[1]]
    model = NoiseConditionalMLP(sizes, scale_input=True) if loss in CONDITIONAL else MLP(sizes)
    _, state, curve = fit(_loss_fn(loss, model, x, batch, schedule, sde, mixture), model.init(seed, DTYPE),
                          Adam(lr=lr), steps, seed, ema=0.999, progress=progress,
                          desc=f"{loss} on {os.path.basename(str(data))}")
    params, t_train = state["ema"], time.time() - t0
    names = samplers_for(loss) if sampler == "all" else [sampler] if isinstance(sampler, str) else list(sampler)
    samples = _sample_all(names, model, params, loss, schedule, sde, x, n_samples, seed, n_steps_each, progress)
    paths = samples.pop("trajectories")
    result = {"data": str(data), "loss": loss, "steps": steps, "seed": seed, "backend": backend.name(),
              "n_samples": n_samples, "schedule": {"sigmas": list(schedule.sigmas), "step_scale": schedule.step_scale,
                                                   "ratio": schedule.ratio, "n_steps_each": n_steps_each},
              "final_loss": sum(curve[-100:]) / len(curve[-100:]), "seconds": {"train": t_train}}
    mean, std = _floor(data, x, n_samples, seed, floor_draws)
    result["energy_floor"] = {"mean": mean, "std": std, "draws": floor_draws}
    if mixture is not None:
        exact, errors = _exact_rows(mixture, model, params, loss, schedule, x, n_samples, seed)
        samples["langevin, exact score"] = (exact, 0.0)
        result["true_weights"] = [float(w) for w in backend.to_numpy(mixture.weights)]
        result.update({"score_error_relative": errors} if errors else {})
    result["samplers"] = _measure(samples, held_out, mixture)
    samples = {k: v for k, v in samples.items() if v[0] is not None}
    io.atomic_savez(os.path.join(out, "samples.npz"), {k.replace("-", "_"): backend.to_numpy(v[0])
                                                       for k, v in samples.items()})
    io.save_checkpoint(os.path.join(out, "checkpoint.npz"), params, state, curve,
                       {"data": str(data), "loss": loss, "hidden": hidden, "sigma_max": schedule.sigma_max,
                        "sigma_min": schedule.sigma_min, "conditional": loss in CONDITIONAL,
                        "sigmas": list(schedule.sigmas), "step_scale": schedule.step_scale,
                        "n_steps_each": n_steps_each, "seed": seed, "n_train": n_train})
    if x.shape[1] == 2:
        from . import plotting
        plotting.lowdim_figures(out, model, params, loss, schedule, x, mixture, samples, curve, paths)
    result["seconds"]["total"] = time.time() - t0
    io.atomic_write_json(os.path.join(out, "metrics.json"), result)
    summary(result, log)
    return result


def resample(checkpoint, seed, n=2000, sampler="all"):
    """Sample a model saved by :func:`run` again with another ``seed``.

    Returns
    -------
    dict
        sampler name -> ``(n, D)`` samples (None where the sampler diverged).
    """
    config = io.read_json_array(checkpoint, io.read_npz(checkpoint, ("config",), "an npscore train checkpoint"))
    x, _ = load(config["data"], config.get("n_train", 20000), config.get("seed", 0), DTYPE)
    sizes = [x.shape[1], config["hidden"], config["hidden"], x.shape[1]]
    loss = config["loss"]
    model = NoiseConditionalMLP(sizes, scale_input=True) if loss in CONDITIONAL else MLP(sizes)
    params = io.load_checkpoint(checkpoint, model)[0]
    schedule = schedules.Schedule(tuple(config["sigmas"]), config["step_scale"], config["sigma_max"],
                                  config["sigma_min"], config["sigmas"][0] / config["sigmas"][1])
    sde = VPSDE() if loss == "sde-vp" else VESDE(schedule.sigma_min, schedule.sigma_max)
    names = samplers_for(loss) if sampler == "all" else [sampler]
    out = _sample_all(names, model, params, loss, schedule, sde, x, n, seed, config["n_steps_each"])
    out.pop("trajectories")
    return {k: v[0] for k, v in out.items()}


def summary(m, log=print):
    """Print the table of :func:`run`'s metrics."""
    fl = m["energy_floor"]
    log(f"{m['data']}: --loss {m['loss']}, {m['steps']} steps, backend {m['backend']}, final loss {m['final_loss']:.4g}")
    log(f"  {'sampler':<22}{'energy distance':>16}{'x floor':>9}  mode fractions")
    for name, r in m["samplers"].items():
        if "error" in r:
            log(f"  {name:<22}{'diverged':>16}  ({r['error'].split(';')[0]})")
            continue
        fr = ", ".join(f"{v:.3f}" for v in r.get("mode_fractions", []))
        log(f"  {name:<22}{r['energy_distance']:16.4f}{r['energy_distance'] / fl['mean']:9.1f}  {fr}")
    if "true_weights" in m:
        log(f"  {'true weights':<47}{', '.join(f'{w:.3f}' for w in m['true_weights'])}")
    if "score_error_relative" in m:
        log("  score error vs the exact noised score, relative: " +
            ", ".join(f"{s}: {v:.3f}" for s, v in m["score_error_relative"].items()))
    log(f"  floor (data vs data, {fl['draws']} draws): {fl['mean']:.4f} +- {fl['std']:.4f}; "
        f"train {m['seconds']['train']:.1f}s")
