"""Sampling and measuring a model that :mod:`npscore.lowdim` trained: every sampler the model can
drive, and each one's k-NN precision and recall, energy distance, mode fractions, the floors of
those (data against data), the score error and the held-out NLL; the printed table."""
import math
import time

from .. import backend, likelihood, metrics
from ..densities import NoisedEmpirical
from ..objectives import OBJECTIVES
from ..sampling import run as run_sampler
from ..toys import DATASETS, load


#: the corrector's signal-to-noise ratio here, in place of score_sde's 0.16 (set for CIFAR-10),
#: which over-disperses 2-D samples (``benchmarks/README.md``)
SNR = 0.03


def samplers_for(loss):
    """The sampler names a model trained with ``loss`` can drive (:data:`npscore.objectives.OBJECTIVES`)."""
    return list(OBJECTIVES[loss].samplers)


def _langevin_start(x, n, rng):
    """Plain Langevin's ``n`` starts, uniform over the data's box, and its step, small against the data."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    return lo + (hi - lo) * rng.uniform((n, x.shape[1]), dtype=x.dtype), 0.02 * float(x.std(axis=0).mean()) ** 2


def _sample_all(names, fitted, n, seed, progress=False):
    """``(samples, trajectories)``: each sampler's ``(n, D)`` output (or ``(None, seconds, error)``
    where it diverged), from the prior (SDE samplers, annealed Langevin) or from uniform starts
    over the data's box (plain Langevin); annealed Langevin's paths."""
    rng = backend.rng(seed, 10 ** 6)
    box, step = _langevin_start(fitted.x, n, rng)
    out, paths = {}, None
    for name in names:
        t = time.time()
        try:
            with backend.quiet():                      # a divergence is raised by the guard and reported
                xs = _one_sampler(name, fitted, n, rng, box, step, progress)
                backend.synchronize()
        except FloatingPointError as exc:              # one sampler diverging is a result, not a crash
            out[name] = (None, time.time() - t, str(exc))
            continue
        if name == "annealed-langevin":
            xs, paths = xs
        far = _ran_away(xs, fitted.x)
        out[name] = (xs, time.time() - t) if far is None else (None, time.time() - t, far)
    return out, paths


#: a sample set reaching farther from the data's mean than this many times the data's own reach ran away
RUNAWAY = 1e3


def _ran_away(xs, x):
    """Why the finite samples ``xs`` are a divergence all the same (None if they are not): far beyond
    the data, where every k-NN ball of the samples is huge and recall would read 1."""
    xp = backend.xp()
    centre = x.mean(axis=0)
    reach = backend.to_float(xp.abs(x - centre).max())
    dist = xp.abs(xs - centre).max(axis=1)
    n_far = int(backend.to_float((dist > RUNAWAY * reach).sum()))
    if n_far:
        return (f"{n_far} of {xs.shape[0]} samples ran away: up to {backend.to_float(dist.max()):.3g} from the "
                f"data's mean, whose points lie within {reach:.3g}")
    return None


def _one_sampler(name, fitted, n, rng, box, step, progress):
    """One sampler's ``(n, D)`` output (annealed Langevin's with its recorded paths)."""
    config, model, params, schedule, sde, x = fitted
    if name == "langevin":
        if config.conditional:
            t_min = backend.xp().asarray([1e-3])
            ve = OBJECTIVES[config.loss].sde == "ve"
            smallest = schedule.sigmas[-1] if ve else float(sde.marginal(t_min)[1][0])
            score = lambda y, s=smallest, f=model.score_fn(params): f(y, s)          # noqa: E731
        else:
            score = model.fn(params)
        return run_sampler(name, score, box, rng, step=step, n_steps=1000, progress=progress)
    if name == "annealed-langevin":
        x1 = schedule.sigmas[0] * rng.normal((n, x.shape[1]), x.dtype)
        return run_sampler(name, model.score_fn(params), x1, rng, sigmas=schedule.sigmas,
                           step_scale=schedule.step_scale, n_steps_each=config.n_steps_each,
                           record_every=config.n_steps_each, progress=progress)
    options = {"snr": SNR, "progress": progress} if name == "predictor-corrector" else {"progress": progress}
    return run_sampler(name, model.score_fn(params), prior_sample(config, x, n, rng), rng, sde=sde,
                       **options)


def prior_sample(config, x, n, rng):
    """``(n, D)`` starts for the SDE samplers from the run's recorded prior
    (:meth:`npscore.config.RunConfig.prior_density`), in ``x``'s dtype."""
    return config.prior_density().sample(n, rng).astype(x.dtype)


def _draws(data, x):
    """``sample(m, rng)``: fresh draws of a built-in set, or draws with replacement from a file's rows."""
    if data in DATASETS:
        return lambda m, r: load(data, m, int(r.integers(2 ** 31, (1,))[0]), x.dtype.name)[0]
    return lambda m, r: x[r.integers(x.shape[0], (m,))]


def _floors(data, x, n, seed, draws):
    """The energy distance's and the precision / recall's floors: data against data."""
    sample, n = _draws(data, x), min(n, x.shape[0]) if data not in DATASETS else n
    mean, std = metrics.energy_floor(sample, n, backend.rng(seed, 7), draws)
    precision, recall = metrics.precision_recall_floor(sample, n, backend.rng(seed, 8), K_NEIGHBOURS,
                                                       min(draws, 5))
    return {"energy": {"mean": mean, "std": std, "draws": draws},
            "precision_recall": {"precision": precision, "recall": recall, "k": K_NEIGHBOURS, "draws": min(draws, 5)}}


#: k of the k-nearest-neighbour precision and recall
K_NEIGHBOURS = 5


#: the noise level of the reported score error
SCORE_ERROR_SIGMA = 0.1


def _score_errors(fitted, mixture, n, seed):
    """The learned score's error relative to the exact noised score: of the mixture where the data
    is one, else of the training set's empirical law, at sigma = 0.1 (and, for mixtures, at a few
    levels of the schedule). ``{}`` for a model without noise levels."""
    config, model, params, schedule, sde, x = fitted
    if not (config.conditional and OBJECTIVES[config.loss].sde == "ve"):
        return {}
    rng, score = backend.rng(seed, 11), model.score_fn(params)
    levels = (SCORE_ERROR_SIGMA,)
    if mixture is not None:
        levels += schedule.sigmas[:: max(1, len(schedule.sigmas) // 6)] + (schedule.sigmas[-1],)
    errors = {}
    for s in sorted(set(levels), reverse=True):
        p_s = mixture.noised(s) if mixture is not None else NoisedEmpirical(x[:5000], s)
        y = p_s.sample(2000, rng).astype(x.dtype)
        mse, scale = metrics.score_mse(lambda y, s=s: score(y, s), p_s.score, y)
        errors[f"{s:.4g}"] = mse / scale
    return errors


def _held_out_nll(fitted, held_out, n=500, n_steps=100):
    """Mean held-out NLL (nats) through the probability-flow ODE with the exact trace, for a model
    the ODE can drive; None otherwise."""
    config, model, params, _, sde, x = fitted
    if not config.conditional:
        return None
    p64 = [tuple(a.astype("float64") for a in layer) for layer in params]
    y = held_out[:n].astype("float64")
    lp = likelihood.ode_log_prob(model.score_fn(p64), likelihood.exact_trace(model, p64), sde, y,
                                 n_steps, prior=config.prior_density().log_prob)
    return -backend.to_float(lp.mean())


def _measure(samples, held_out, mixture):
    rows = {}
    for name, (xs, secs, *error) in samples.items():
        if xs is None:
            rows[name] = {"error": error[0], "seconds": secs}
            continue
        precision, recall = metrics.precision_recall(xs, held_out, K_NEIGHBOURS)
        rows[name] = {"precision": precision, "recall": recall,
                      "energy_distance": metrics.energy_distance(xs, held_out), "seconds": secs}
        if mixture is not None:
            rows[name]["mode_fractions"] = metrics.mode_fractions(mixture, xs)
    return rows


def _metrics(fitted, held_out, mixture, samples, curve, n_samples, floor_draws, t_train):
    """``metrics.json``'s content (``samples`` gains the exact-score Langevin row for a mixture)."""
    config, schedule, x = fitted.config, fitted.schedule, fitted.x
    result = {"data": str(config.data), "loss": config.loss, "steps": config.steps, "seed": config.seed, "lr": config.lr,
              "backend": backend.name(), "n_samples": n_samples, "held_out_points": int(held_out.shape[0]),
              "model": config.to_dict()["model"], "standardization": config.to_dict()["standardization"],
              "schedule": {"sigmas": list(schedule.sigmas), "step_scale": schedule.step_scale,
                           "ratio": schedule.ratio, "n_steps_each": config.n_steps_each},
              "final_loss": sum(curve[-100:]) / len(curve[-100:]), "seconds": {"train": t_train}}
    floors = _floors(config.data, x, n_samples, config.seed, floor_draws)
    result["energy_floor"], result["precision_recall_floor"] = floors["energy"], floors["precision_recall"]
    if mixture is not None:
        rng = backend.rng(config.seed, 11)
        box, step = _langevin_start(x, n_samples, rng)
        samples["langevin, exact score"] = (run_sampler("langevin", mixture.score, box, rng, step=step,
                                                        n_steps=1000), 0.0)
        result["true_weights"] = [float(w) for w in backend.to_numpy(mixture.weights)]
    errors = _score_errors(fitted, mixture, n_samples, config.seed)
    result.update({"score_error_relative": errors} if errors else {})
    nll = _held_out_nll(fitted, held_out)
    if nll is not None:                                  # in the data's units: + D log(scale)
        shift = config.standardization
        result["held_out_nll"] = nll + (x.shape[1] * math.log(shift[1]) if shift else 0.0)
    result["samplers"] = _measure(samples, held_out, mixture)
    return result


def summary(m, log=print):
    """Print the table of :func:`run`'s metrics."""
    fl, pr = m["energy_floor"], m["precision_recall_floor"]
    log(f"{m['data']}: --loss {m['loss']}, {m['steps']} steps, backend {m['backend']}, final loss {m['final_loss']:.4g}")
    log(f"  {'sampler':<22}{'precision':>10}{'recall':>8}{'energy distance':>17}{'x floor':>9}  mode fractions")
    for name, r in m["samplers"].items():
        if "error" in r:
            log(f"  {name:<22}{'diverged':>10}  ({r['error'].split(';')[0]})")
            continue
        fr = ", ".join(f"{v:.3f}" for v in r.get("mode_fractions", []))
        log(f"  {name:<22}{r['precision']:10.3f}{r['recall']:8.3f}{r['energy_distance']:17.4f}"
            f"{r['energy_distance'] / fl['mean']:9.1f}  {fr}")
    log(f"  {'floor (data vs data)':<22}{pr['precision']:10.3f}{pr['recall']:8.3f}{fl['mean']:17.4f}"
        f"  (k = {pr['k']}; energy {fl['draws']} draws, +- {fl['std']:.4f})")
    if "true_weights" in m:
        log(f"  {'true weights':<66}{', '.join(f'{w:.3f}' for w in m['true_weights'])}")
    if "score_error_relative" in m:
        log("  score error vs the exact noised score, relative: " +
            ", ".join(f"{s}: {v:.3f}" for s, v in m["score_error_relative"].items()))
    diverged = [name for name, r in m["samplers"].items() if "error" in r]
    if diverged:
        log(f"  {', '.join(diverged)} diverged: " + divergence_advice(m.get("lr"), m["steps"]))
    nll = f"held-out NLL {m['held_out_nll']:.4f} nats (probability-flow ODE, exact trace); " if "held_out_nll" in m else ""
    log(f"  {nll}train {m['seconds']['train']:.1f}s")


def divergence_advice(lr, steps, default_lr=1e-3):
    """What to change when a sampler diverged: the learning rate where it is above the default, else
    the training's length."""
    if lr is not None and lr > default_lr:
        return (f"the score was trained with --lr {lr:g}, above the default {default_lr:g}, and is unreliable "
                "far from the data; lower --lr")
    return f"the score is unreliable where the sampler went; train longer (--steps, now {steps}) or use another sampler"
