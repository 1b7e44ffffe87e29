"""npscore.ncsn_losses: NCSN's multi-level DSM and the SDE's weighted DSM against their autograd
definitions, their draws and their checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host_params, rel_err, with_biases
from npscore import NoiseConditionalMLP, backend, losses, reference
from npscore.tree import tree_leaves
from strategies import BASES, activations, batch_sizes, noise_conditional, random_base, seeds

TOL = 1e-10


def _same(result, ref):
    (v, g), (rv, rg) = result, ref
    assert rel_err(v, rv) < TOL
    assert rel_err(tree_leaves(g), tree_leaves(rg)) < TOL


@given(activations, batch_sizes, seeds, st.integers(1, 5), st.sampled_from(BASES), st.booleans(), st.integers(0, 2),
       st.sampled_from([0.0, 1.0]))
def test_ncsn(act, B, seed, L, kind, scale_input, F, bound):
    rng = np.random.default_rng(seed)
    bound = bound if kind != "none" else 0.0
    model, base = noise_conditional([3, 7, 5, 3], act, rng, kind, dev, scale_input, F, bound)
    p = with_biases(model.init(seed, "float64"), seed)
    x = rng.standard_normal((B, 3))
    sigmas = np.geomspace(1.0, 0.01, L) if L > 1 else np.array([0.3])
    labels = rng.integers(0, L, size=B)
    eps = rng.standard_normal(x.shape)
    _same(losses.ncsn(model, p, dev(x), sigmas, noise=dev(eps), labels=dev(labels)),
          reference.ncsn(host_params(p), x, sigmas[labels], eps, act, base, kind == "gated", scale_input, F,
                         bound))


def test_bad_input_of_the_multi_level_losses():
    from npscore.sde import VESDE
    nc = NoiseConditionalMLP([2, 4, 2])
    q = nc.init(0)
    x, z, r = dev(np.zeros((3, 2))), dev(np.zeros((3, 2))), backend.rng(0)
    for sig in ([0.1, 0.5], [1.0, 1.0], [1.0, -0.1], []):
        with pytest.raises(ValueError, match="^sigmas must"):
            losses.ncsn(nc, q, x, sig, rng=r)
    with pytest.raises(ValueError, match=r"^labels must index sigmas, 0 \.\. 1; got"):
        losses.ncsn(nc, q, x, [1.0, 0.1], noise=z, labels=dev(np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=r"^labels must be ints of shape \(3,\); got float64 \(3,\)"):
        losses.ncsn(nc, q, x, [1.0, 0.1], noise=z, labels=dev(np.array([0.0, 1.0, 1.0])))
    with pytest.raises(ValueError, match=r"^labels must be ints of shape \(3,\); got int64 \(2,\)"):
        losses.ncsn(nc, q, x, [1.0, 0.1], noise=z, labels=dev(np.array([0, 1])))
    with pytest.raises(ValueError, match="^labels must be given"):
        losses.ncsn(nc, q, x, [1.0, 0.1], noise=z)
    with pytest.raises(ValueError, match="^noise must be given"):
        losses.ncsn(nc, q, x, [1.0, 0.1], labels=dev(np.array([0, 1, 1])))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 2\)"):
        losses.ncsn(nc, q, dev(np.zeros((3, 3))), [1.0, 0.1], rng=r)
    sde = VESDE(0.01, 3.0)
    t_ok = dev(np.array([0.5, 1.0, 0.2]))                    # t = 1 belongs to (0, 1]
    assert np.isfinite(float(losses.sde_dsm(nc, q, x, sde, t=t_ok, noise=z)[0]))
    for bad, shown in (([0.0, 0.5, 0.5], "0.0 to 0.5"), ([-0.5, 0.5, 0.5], "-0.5 to 0.5"),
                       ([0.5, 1.5, 0.5], "0.5 to 1.5")):
        with pytest.raises(ValueError, match=rf"^t must lie in \(0, 1\]; got values from {shown}$"):
            losses.sde_dsm(nc, q, x, sde, t=dev(np.array(bad)), noise=z)
    with pytest.raises(ValueError, match=r"^t must have shape \(3,\)"):
        losses.sde_dsm(nc, q, x, sde, t=dev(np.array([0.5, 0.5])), noise=z)
    with pytest.raises(ValueError, match="^t must be given"):
        losses.sde_dsm(nc, q, x, sde, noise=z)
    with pytest.raises(ValueError, match="^noise must be given"):
        losses.sde_dsm(nc, q, x, sde, t=t_ok)
    with pytest.raises(ValueError, match=r"^t_min must be a number in \(0.0, 1.0\)"):
        losses.sde_dsm(nc, q, x, sde, rng=r, t_min=0.0)
    with pytest.raises(ValueError, match=r"^weight\(t\) must have shape \(3,\)"):
        losses.sde_dsm(nc, q, x, sde, t=t_ok, noise=z, weight=lambda t: t[:2])
    with pytest.raises(ValueError, match=r"^noise must have shape \(3, 2\)"):
        losses.weighted_dsm(nc, q, x, t_ok, dev(np.zeros((3, 3))), t_ok)


@given(activations, batch_sizes, seeds, st.sampled_from(["vp", "ve"]))
def test_sde_dsm(act, B, seed, kind):
    from npscore.sde import VESDE, VPSDE
    sde = VPSDE() if kind == "vp" else VESDE(0.01, 3.0)
    model = NoiseConditionalMLP([2, 6, 6, 2], act)
    p = with_biases(model.init(seed, "float64"), seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, 2))
    t = rng.uniform(1e-3, 1.0, B)
    z = rng.standard_normal(x.shape)
    if kind == "vp":                    # the closed forms, not npscore's own sde.marginal
        alpha = np.exp(-(0.1 * t + 0.5 * (20.0 - 0.1) * t ** 2))
        m, std = np.sqrt(alpha), np.sqrt(1.0 - alpha)
    else:
        m, std = np.ones_like(t), 0.01 * (3.0 / 0.01) ** t
    _same(losses.sde_dsm(model, p, dev(x), sde, t=dev(t), noise=dev(z)),
          reference.sde_dsm(host_params(p), x, m, std, z, std ** 2, act))


def test_sde_dsm_draws_and_weight():
    """The rng path draws t in (t_min, 1) and the noise; weight= replaces sigma_t^2."""
    from npscore.sde import VESDE
    sde = VESDE(0.01, 3.0)
    model = NoiseConditionalMLP([2, 6, 6, 2])
    p = model.init(0)
    x = backend.rng(1).normal((64, 2))
    a = losses.sde_dsm(model, p, x, sde, rng=backend.rng(2))[0]
    rng = backend.rng(2)                                    # the same draws, passed explicitly
    t = rng.uniform((64,), 1e-5, 1.0, x.dtype)
    z = rng.normal(x.shape, x.dtype)
    assert float(a) == float(losses.sde_dsm(model, p, x, sde, t=t, noise=z)[0])
    ones = losses.sde_dsm(model, p, x, sde, t=t, noise=z, weight=lambda tt: backend.xp().ones_like(tt))[0]
    std = sde.marginal(t)[1]
    s = model.apply(p, x + std[:, None] * z, std)
    assert float(ones) == pytest.approx(float((0.5 * ((s + z / std[:, None]) ** 2).sum(1)).mean()), rel=1e-12)
    with pytest.raises(ValueError, match="t_min"):
        losses.sde_dsm(model, p, x, sde, rng=backend.rng(2), t_min=1.0)


@given(activations, batch_sizes, seeds, st.integers(1, 4), st.sampled_from([1, 3]), st.sampled_from(["x", "denoised"]))
def test_ncsn_with_the_local_gate(act, B, seed, L, window, gate_input):
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    rng = np.random.default_rng(seed)
    base = random_base(rng, 9)
    model = GatedScore([9, 5, 9], act, FactorizedMixture(*map(dev, base)), True, True, 1, 1.0, window, gate_input)
    p = [(W + dev(0.3 * rng.standard_normal(W.shape)), dev(0.5 * rng.standard_normal(b.shape)))
         for W, b in model.init(seed, "float64")]
    x, eps = rng.standard_normal((B, 9)), rng.standard_normal((B, 9))
    sigmas = np.geomspace(1.0, 0.01, L) if L > 1 else np.array([0.3])
    labels = rng.integers(0, L, size=B)
    _same(losses.ncsn(model, p, dev(x), sigmas, noise=dev(eps), labels=dev(labels)),
          reference.ncsn(host_params(p), x, sigmas[labels], eps, act, base, True, True, 1, 1.0, window,
                         gate_input))
    # the head's params alone, the MLP held fixed: the tail of the full gradient, without the MLP's pass
    sigma = dev(sigmas[labels])
    v, g = losses.weighted_dsm(model, p, dev(x), sigma, dev(eps), sigma ** 2)
    hv, hg = losses.weighted_dsm(model, p, dev(x), sigma, dev(eps), sigma ** 2, check=False, head_only=True)
    assert rel_err(hv, v) < TOL and len(hg) == 1 and rel_err(tree_leaves(hg), tree_leaves(g[2:])) < TOL
