"""Exact log-likelihoods through the probability-flow ODE (Song et al. 2021, appendix D).

The probability-flow ODE ``dx/dt = f~(x, t) = f(x, t) - 1/2 g(t)^2 s(x, t)``
carries p_t to p_t; along its paths the instantaneous change of variables
(Chen et al. 2018) gives ``d log p_t(x_t) / dt = -div f~(x_t, t)``, so

.. math:: \\log p_{t_0}(x) = \\log p_1(x_1) + \\int_{t_0}^1 \\operatorname{div} \\tilde f(x_t, t)\\, dt,
          \\qquad \\operatorname{div} \\tilde f = \\operatorname{div} f - \\tfrac12 g^2 \\operatorname{tr}(\\partial s / \\partial x)

with ``x_{t_0} = x``, integrated here by Heun's method on the pair (x, log p)
(second order, fixed steps). ``div f`` is 0 for the VE SDE and
``-D beta(t) / 2`` for the VP SDE. The trace of the score's Jacobian is
npscore's exact one (:meth:`npscore.nn.NoiseConditionalMLP.trace_jacobian`)
or Hutchinson's estimate ``v^T (ds/dx) v`` with Rademacher ``v``, several
probes integrated along the same path, whose spread gives its standard error.
Theorem 1 of the first report: the mean of ``-log p_theta`` over held-out
data minus the data's entropy estimates KL(p || p_theta).
"""
import math

from . import backend, checks
from .config import kind_of


def exact_trace(model, params, sde):
    """``(x, t) -> tr(ds/dx) : (1, B)`` for a noise-conditional model on ``sde``'s ``sigma_t``."""
    return lambda x, t: model.trace_jacobian(params, x, sde.marginal(t)[1])[None]


def hutchinson_trace(model, params, sde, rng, n_probes=4):
    """``(x, t) -> v^T (ds/dx) v : (M, B)`` for M Rademacher probes ``v`` drawn at each call
    (one forward pass and a reverse pass per probe: the model's ``vjp_x``)."""
    n_probes = checks.integer(n_probes, "n_probes")
    xp = backend.xp()

    def trace(x, t):
        probes = [rng.rademacher(x.shape, x.dtype) for _ in range(n_probes)]
        gxs = model.vjp_x(params, x, sde.marginal(t)[1], probes)
        return xp.stack([(gx * v).sum(axis=1) for gx, v in zip(gxs, probes)])
    return trace


def ode_log_prob(score, trace, sde, x, n_steps=200, t_min=1e-3, prior=None, progress=False):
    """``log p_{t_min}(x)`` through the probability-flow ODE.

    Parameters
    ----------
    score : callable
        ``score(x, t) : (B, D)`` with ``t : (B,)``.
    trace : callable
        ``trace(x, t) : (M, B)``: ``tr(d score / dx)``, exact (M = 1) or M estimates.
    sde : VESDE or VPSDE
    x : (B, D)
    n_steps : int
        Heun steps from ``t_min`` to 1.
    prior : callable, optional
        ``log p_1``; default the SDE's prior (:meth:`npscore.sde.SDE.prior_log_prob`).

    Returns
    -------
    (M, B) array
        One log-density per trace estimate (M = 1 for the exact trace).
    """
    from tqdm.auto import tqdm
    checks.batch(x, None, "x")
    n_steps = checks.integer(n_steps, "n_steps")
    t_min = checks.in_interval(t_min, "t_min", 0.0, 1.0, "neither")
    xp = backend.xp()
    B, D = x.shape
    dt = (1.0 - t_min) / n_steps

    velocity = sde.reverse_drift(score, probability_flow=True)

    def rates(y, t):
        tt = xp.full((B,), t, dtype=y.dtype)
        return velocity(y, tt), sde.div_drift(tt, D)[None] - 0.5 * sde.diffusion(tt)[None] ** 2 * trace(y, tt)

    integral = 0.0
    for k in tqdm(range(n_steps), desc="likelihood ODE", disable=not progress, mininterval=0.5):
        t0 = t_min + k * dt
        v0, d0 = rates(x, t0)
        guess = x + dt * v0
        v1, d1 = rates(guess, min(t_min + (k + 1) * dt, 1.0))
        x = x + 0.5 * dt * (v0 + v1)                     # Heun on (x, log p)
        integral = integral + 0.5 * dt * (d0 + d1)
    checks.finite(x, "the ODE's end point", "; the score is not finite along the path")
    end = prior(x) if prior is not None else sde.prior_log_prob(x)
    return end[None] + integral


def bits_per_dim(log_prob, D, bins=256):
    """``-(log p(x) - D log bins) / (D log 2)``: bits per dimension of data
    dequantised to ``(pixel + u) / bins`` in [0, 1] (the density per unit of the
    integer pixel scale is ``p(x) / bins^D``)."""
    return -(log_prob - D * math.log(bins)) / (D * math.log(2.0))


def noise_floor_bits(sigma, bins=256):
    """``log2 bins + log2(sqrt(2 pi) sigma)``: the bits per dimension below which no density noised by
    ``N(0, sigma^2)`` can score data dequantised into ``bins`` levels of [0, 1] (its density per pixel
    is at most the noise's peak, ``1 / (sqrt(2 pi) sigma)``)."""
    return math.log2(bins) + math.log2(math.sqrt(2 * math.pi) * sigma)


def _nll_rows(lp, names, log_p_true=None):
    """Mean NLL, its standard error over points, and Hutchinson's (over probes) per estimate."""
    np = backend.host
    rows = {}
    for name, (values, seconds) in zip(names, lp):
        v = backend.to_numpy(values)                     # (M, B)
        per_point = v.mean(0)
        row = {"nll": float(-per_point.mean()), "se_points": float(per_point.std(ddof=1) / np.sqrt(v.shape[1])),
               "seconds": seconds}
        if v.shape[0] > 1:
            row["se_hutchinson"] = float(np.sqrt((v.var(0, ddof=1) / v.shape[0]).sum()) / v.shape[1])
        if log_p_true is not None:
            d = backend.to_numpy(log_p_true) - per_point
            row["kl"], row["se_kl"] = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.shape[0]))
        rows[name] = row
    return rows


def _held_out(checkpoint, data, n, rng):
    """``(model, params, sde, x, mixture, prior, note)`` for a checkpoint of ``npscore train`` or
    ``npscore mnist``: float64 params, ``n`` points to score (MNIST test, dequantised; the held-out
    part of the recorded data; or the rows of ``data``), the data's mixture or None, the
    log-density at t = 1 (None: the SDE's prior) from the run's record, and a note on the rows."""
    from . import io
    from .sde import VESDE
    config = io.read_json_array(checkpoint, io.read_npz(checkpoint, ("config",), "an npscore checkpoint"))
    if kind_of(config) == "npscore mnist":
        from .mnist import run
        from .mnist.idx import load_mnist
        model, params, config = run.load_model(checkpoint)
        x = load_mnist(data, "test", dtype="float64", dequantize=True, rng=rng)[0][:n]
        params = [(W.astype("float64"), b.astype("float64")) for W, b in params]
        return model, params, VESDE(config["sigmas"][-1], config["sigmas"][0]), x, None, None, ""
    from .lowdim import read_config, scoring_rows
    config = read_config(checkpoint)
    if not config.conditional:
        raise ValueError(f"{checkpoint}: a model trained with --loss {config.loss} has no noise levels; "
                         "the likelihood needs --loss ncsn, sde-ve or sde-vp")
    x, mixture, note = scoring_rows(config, checkpoint, data, n)
    model = config.build_model(x.shape[1])
    params = io.load_checkpoint(checkpoint, model, dtype="float64")[0]
    prior = config.prior_density(checkpoint).log_prob     # the run's own, never refitted to the rows scored
    if config.standardization is not None:               # log p(x) = log p_z((x - mean) / scale) - D log scale
        offset = x.shape[1] * math.log(config.standardization[1])
        prior = lambda y, p=prior: p(y) - offset          # noqa: E731
    return model, params, config.build_sde(), x, mixture, prior, note


def report(checkpoint, data=None, n=1000, n_steps=200, trace="both", n_probes=4, seed=0, progress=True):
    """Held-out log-likelihood of a checkpoint of ``npscore train`` or ``npscore mnist``, as text
    (the gated MNIST model has no exact trace: Hutchinson's estimate only)."""
    import time
    rng = backend.rng(seed, 3)
    model, params, sde, x, mixture, prior, note = _held_out(checkpoint, data, n, rng)
    mnist = prior is None
    score = model.score_fn(params)
    sde_s = lambda y, t: score(y, sde.marginal(t)[1])      # noqa: E731
    if not model.exact_trace:
        kinds = ["hutchinson"]
    else:
        kinds = ["exact", "hutchinson"] if trace == "both" else [trace]
    results = []
    for kind in kinds:
        tr = exact_trace(model, params, sde) if kind == "exact" else hutchinson_trace(model, params, sde, rng, n_probes)
        t = time.time()
        values = ode_log_prob(sde_s, tr, sde, x, n_steps, prior=prior, progress=progress)
        backend.synchronize()
        results.append((values, time.time() - t))
    truth = None if mixture is None else mixture.log_prob(x)
    asked = "" if x.shape[0] == n else f" (of the {n} asked: the held-out part has no more)"
    lines = [f"{checkpoint}: {x.shape[0]} {note or 'held-out points'}{asked}, D = {x.shape[1]}, probability-flow "
             f"ODE ({n_steps} Heun steps from t = 1e-3), backend {backend.name()}; prior and standardisation "
             "from the checkpoint"]
    for kind, r in _nll_rows(results, kinds, truth).items():
        extra = f", Hutchinson SE {r['se_hutchinson']:.4f} ({n_probes} probes)" if "se_hutchinson" in r else ""
        lines.append(f"  {kind:<11} NLL {r['nll']:.4f} nats +- {r['se_points']:.4f} (points){extra}; {r['seconds']:.1f}s")
        if mnist:
            bpd = backend.to_numpy(bits_per_dim(backend.xp().asarray(results[0][0]).mean(0), x.shape[1]))
            floor = noise_floor_bits(float(backend.to_numpy(sde.marginal(backend.xp().asarray([1e-3]))[1])[0]))
            lines.append(f"  {'':<11} bits/dim {bpd.mean():.4f} +- {bpd.std(ddof=1) / bpd.size ** 0.5:.4f} "
                         "(uniform dequantisation (pixel + u) / 256, log p of the model noised to sigma(t = 1e-3); "
                         f"no model noised so can score below {floor:.2f})")
        if "kl" in r:
            lines.append(f"  {'':<11} true entropy {-float(backend.to_numpy(truth).mean()):.4f} nats; "
                         f"NLL - entropy = KL(p || p_theta) estimate {r['kl']:.4f} +- {r['se_kl']:.4f}")
    return "\n".join(lines)
