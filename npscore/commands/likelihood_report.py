"""``npscore likelihood``: the held-out log-likelihood of a checkpoint of ``npscore train`` or
``npscore mnist``, through the probability-flow ODE of :mod:`npscore.likelihood`, as text.

Everything fitted comes from the checkpoint (the prior, the standardisation, the noise levels);
the rows scored are the held-out part of the recorded data, MNIST's test split (dequantised), or
the rows of ``--data``. Theorem 1 of the first report: on mixture data the held-out NLL minus the
data's entropy estimates KL(p || p_theta).
"""
import math
import time

from .. import backend, io
from ..likelihood import bits_per_dim, exact_trace, hutchinson_trace, noise_floor_bits, ode_log_prob
from ..mnist.idx import load_mnist
from ..sde import VESDE
from ..io import kind_of
from .config import CONDITIONAL
from .lowdim import read_config
from .lowdim_data import scoring_rows
from .mnist_config import mnist_folder
from .mnist_train import load_model


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
    config = io.read_json_array(checkpoint, io.read_npz(checkpoint, ("config",), "an npscore checkpoint"))
    if kind_of(config) == "npscore mnist":
        model, params, config = load_model(checkpoint)
        x = load_mnist(mnist_folder(data), "test", dtype="float64", dequantize=True, rng=rng)[0][:n]
        params = [(W.astype("float64"), b.astype("float64")) for W, b in params]
        return model, params, VESDE(config["sigmas"][-1], config["sigmas"][0]), x, None, None, ""
    config = read_config(checkpoint)
    if not config.conditional:
        raise ValueError(f"{checkpoint}: a model trained with --loss {config.loss} has no noise levels; "
                         f"the likelihood needs one of --loss {', '.join(CONDITIONAL)}")
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
    (a model without an exact trace, such as the gated MNIST model or the U-Net: Hutchinson's estimate only)."""
    rng = backend.rng(seed, 3)
    model, params, sde, x, mixture, prior, note = _held_out(checkpoint, data, n, rng)
    mnist = prior is None
    score = model.score_fn(params)
    kinds = ["exact", "hutchinson"] if trace == "both" else [trace]
    if not model.exact_trace:
        if trace == "exact":
            raise ValueError(f"trace (--trace) exact: {checkpoint} holds a {type(model).__name__}, whose "
                             "Jacobian trace is not written out; give --trace hutchinson")
        kinds = ["hutchinson"]
    results = []
    for kind in kinds:
        tr = exact_trace(model, params) if kind == "exact" else hutchinson_trace(model, params, rng, n_probes)
        t = time.time()
        values = ode_log_prob(score, tr, sde, x, n_steps, prior=prior, progress=progress)
        backend.synchronize()
        results.append((values, time.time() - t))
    truth = None if mixture is None else mixture.log_prob(x)
    asked = "" if x.shape[0] == n else f" (of the {n} asked: the held-out part has no more)"
    lines = [f"{checkpoint}: {x.shape[0]} {note or 'held-out points'}{asked}, D = {x.shape[1]}, probability-flow "
             f"ODE ({n_steps} Heun steps from t = 1e-3), backend {backend.name()}; prior and standardisation "
             "from the checkpoint" + ("" if model.exact_trace else
                                      f"; Hutchinson's estimate only (a {type(model).__name__} has no exact trace)")]
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
