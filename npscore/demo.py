"""The notes' worked example (first report, section 8): two modes in 2-D.

1. Data: the two-mode mixture of :func:`npscore.densities.two_modes`, with
   weights (1/5, 4/5) by default (equal weights with ``weights=(0.5, 0.5)``).
2. A noise-conditional score ``s(x, sigma)`` trained with multi-level DSM
   (:func:`npscore.losses.ncsn`) on the notes' schedule
   sigma in {0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01}.
3. Annealed Langevin from uniform noise with grey trajectories; for
   comparison plain Langevin (with the learned score at the smallest sigma,
   and with the exact data score: on unequal weights it keeps the mass where
   it started, about half in each mode), and
   the reverse VP-SDE, predictor-corrector and probability-flow samplers
   with a second model trained by continuous-time DSM
   (:func:`npscore.losses.sde_dsm`).
4. Metrics: per-sigma score error against the exact noised score, mode
   fractions against the true weights, and the energy distance to fresh
   data beside the data-vs-data floor.
"""
import os
import time

from . import backend, checks, plotting
from .densities import two_modes
from .losses import ncsn, sde_dsm
from .metrics import energy_distance, mode_fractions, score_mse
from .io import atomic_write_json
from .nn import NoiseConditionalMLP
from .optim import Adam
from .sampling import run as run_sampler, sde_score
from .sde import VPSDE
from .training import fit

SIGMAS = (0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01)


def run(out="demo_out", seed=0, steps=10000, weights=(0.2, 0.8), n_samples=2000, batch=512,
        hidden=128, lr=1e-3, sampler_steps=100, dtype="float32", progress=True, figures=True,
        log=print):
    """Train, sample, measure and draw; returns the metrics dict (also ``metrics.json``)."""
    checks.integer(steps, "steps (--steps)")
    checks.integer(n_samples, "n_samples (--samples)")
    t_start = time.time()
    data = two_modes(weights, dtype=dtype)
    model = NoiseConditionalMLP([2, hidden, hidden, 2], "softplus")
    opt = Adam(lr=lr)

    # ---- train s(x, sigma) with multi-level DSM, and s(x, t) for the VP SDE
    def ncsn_loss(p, rng):
        return ncsn(model, p, data.sample(batch, rng), SIGMAS, rng=rng, check=False)

    _, state, losses = fit(ncsn_loss, model.init(seed, dtype), opt, steps, seed, ema=0.999,
                           progress=progress, desc="ncsn (multi-level DSM)")
    params = state["ema"]
    sde = VPSDE()

    def sde_loss(p, rng):
        return sde_dsm(model, p, data.sample(batch, rng), sde, rng=rng, check=False)

    _, state, sde_losses = fit(sde_loss, model.init(seed + 1, dtype), Adam(lr=lr), steps, seed + 1,
                               ema=0.999, progress=progress, desc="VP SDE (continuous DSM)")
    sde_params = state["ema"]
    t_train = time.time() - t_start

    # ---- sample
    rng = backend.rng(seed, 10**6)
    score = model.score_fn(params)
    x0 = rng.uniform((n_samples, 2), -3.0, 3.0, dtype)
    annealed, traj = run_sampler("annealed-langevin", score, x0, rng, sigmas=SIGMAS, step_scale=2e-5,
                                 n_steps_each=sampler_steps, record_every=10)
    # plain Langevin, same starts and total steps: with the learned score at the
    # smallest sigma, and with the exact data score (the sampler's own failure)
    plain = run_sampler("langevin", lambda x: score(x, SIGMAS[-1]), x0, rng, n_steps=7 * sampler_steps)
    plain_exact = run_sampler("langevin", data.score, x0, rng, n_steps=7 * sampler_steps)
    vp_score = sde_score(model, sde_params, sde)
    prior = sde.prior_sample((n_samples, 2), rng, dtype)
    samples = {
        "annealed Langevin": annealed,
        "plain Langevin": plain,
        "plain Langevin, exact": plain_exact,
        "reverse SDE": run_sampler("reverse-sde", vp_score, prior, rng, sde=sde, n_steps=2 * sampler_steps),
        "predictor-corrector": run_sampler("predictor-corrector", vp_score, prior, rng, sde=sde,
                                           n_steps=sampler_steps),
        "probability flow": run_sampler("probability-flow", vp_score, prior, rng, sde=sde, n_steps=sampler_steps),
    }
    t_sample = time.time() - t_start - t_train

    # ---- metrics
    fresh, fresh2 = data.sample(n_samples, rng), data.sample(n_samples, rng)
    floor = energy_distance(fresh, fresh2)
    metrics = {"weights": list(weights), "sigmas": list(SIGMAS), "steps": steps, "seed": seed,
               "n_samples": n_samples, "backend": backend.name(),
               "energy_distance_floor": floor, "samplers": {}, "score_mse": {}}
    for name, x in samples.items():
        metrics["samplers"][name] = {"mode_fractions": mode_fractions(data, x),
                                     "energy_distance": energy_distance(x, fresh)}
    for sigma in SIGMAS:
        p_sigma = data.noised(sigma)
        pts = p_sigma.sample(2000, rng)
        mse, scale = score_mse(lambda y: score(y, sigma), p_sigma.score, pts)
        metrics["score_mse"][str(sigma)] = {"mse": mse, "relative": mse / scale}
    metrics["final_loss"] = {"ncsn": float(sum(losses[-100:]) / len(losses[-100:])),
                             "sde_dsm": float(sum(sde_losses[-100:]) / len(sde_losses[-100:]))}
    metrics["seconds"] = {"train": t_train, "sample": t_sample}

    os.makedirs(out, exist_ok=True)
    atomic_write_json(os.path.join(out, "metrics.json"), metrics)
    if figures:
        _figures(out, data, score, samples, traj, fresh, losses, sde_losses)
    metrics["seconds"]["total"] = time.time() - t_start
    _summary(metrics, log)
    return metrics


def _figures(out, data, score, samples, traj, fresh, losses, sde_losses):
    f = lambda name: os.path.join(out, name)          # noqa: E731
    plotting.density(f("1_data_density.png"), data.log_prob)
    plotting.score_fields(f("2_score_fields.png"), [
        (f"sigma = {s}: learned (blue) over exact (grey)", lambda x, s=s: score(x, s),
         data.noised(s).score) for s in (SIGMAS[0], SIGMAS[-1])])
    plotting.trajectories(f("3_annealed_langevin.png"), samples["annealed Langevin"], traj, fresh)
    plotting.sample_panels(f("4_samplers.png"), [("data", fresh)] + list(samples.items()))
    plotting.loss_curves(f("5_loss.png"), {"ncsn": losses, "VP sde_dsm": sde_losses})


def _summary(m, log):
    log(f"two-mode demo: weights {m['weights']}, {m['steps']} steps, backend {m['backend']}")
    log("  sampler               mode fractions      energy distance")
    for name, r in m["samplers"].items():
        fr = ", ".join(f"{v:.3f}" for v in r["mode_fractions"])
        log(f"  {name:<21} [{fr}]  {r['energy_distance']:.4f}")
    log(f"  true weights          [{', '.join(f'{w:.3f}' for w in m['weights'])}]  "
        f"floor (data vs data) {m['energy_distance_floor']:.4f}")
    log("  score error vs exact noised score, relative: " +
        ", ".join(f"{s}: {r['relative']:.3f}" for s, r in m["score_mse"].items()))
    log(f"  time: train {m['seconds']['train']:.1f}s, sample {m['seconds']['sample']:.1f}s")
