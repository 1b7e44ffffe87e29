"""Every loss value and gradient against its autograd definition, float64."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, host_params, rel_err
from npscore import MLP, NoiseConditionalMLP, backend, losses, reference
from npscore.tree import tree_leaves
from strategies import BASES, activations, architectures, batch_sizes, noise_conditional, seeds

TOL = 1e-10


def _setup(sizes, act, B, seed):
    model = MLP(sizes, act)
    p = model.init(seed, "float64")
    rng = np.random.default_rng(seed)
    return model, p, host_params(p), rng.standard_normal((B, sizes[0])), rng


def _same(result, ref):
    (v, g), (rv, rg) = result, ref
    assert rel_err(v, rv) < TOL
    assert rel_err(tree_leaves(g), tree_leaves(rg)) < TOL


@given(architectures(square=True), activations, batch_sizes, seeds)
def test_esm(sizes, act, B, seed):
    model, p, hp, x, rng = _setup(sizes, act, B, seed)
    A = rng.standard_normal((sizes[0], sizes[0]))
    true_score = lambda y: -y @ dev(A)                        # noqa: E731
    _same(losses.esm(model, p, dev(x), true_score), reference.esm(hp, x, -x @ A, act))


@given(architectures(square=True), activations, batch_sizes, seeds)
def test_ism(sizes, act, B, seed):
    model, p, hp, x, rng = _setup(sizes, act, B, seed)
    _same(losses.ism(model, p, dev(x)), reference.ism(hp, x, act))


@given(architectures(square=True), activations, batch_sizes, seeds, st.integers(1, 3),
       st.sampled_from(["gaussian", "rademacher"]), st.booleans())
def test_ssm(sizes, act, B, seed, M, kind, vr):
    model, p, hp, x, rng = _setup(sizes, act, B, seed)
    v = rng.standard_normal((M, B, sizes[0]))
    if kind == "rademacher":
        v = np.sign(v)
    _same(losses.ssm(model, p, dev(x), v=dev(v), variance_reduction=vr),
          reference.ssm(hp, x, v, act, variance_reduction=vr))


@given(architectures(square=True), activations, batch_sizes, seeds, st.floats(0.01, 3.0))
def test_dsm(sizes, act, B, seed, sigma):
    model, p, hp, x, rng = _setup(sizes, act, B, seed)
    eps = rng.standard_normal(x.shape)
    _same(losses.dsm(model, p, dev(x), sigma, noise=dev(eps)), reference.dsm(hp, x, sigma, eps, act))


@given(activations, batch_sizes, seeds, st.integers(1, 5), st.sampled_from(BASES), st.booleans())
def test_ncsn(act, B, seed, L, kind, scale_input):
    rng = np.random.default_rng(seed)
    model, base = noise_conditional([3, 7, 5, 3], act, rng, kind, dev, scale_input)
    p = model.init(seed, "float64")
    x = rng.standard_normal((B, 3))
    sigmas = np.geomspace(1.0, 0.01, L) if L > 1 else np.array([0.3])
    labels = rng.integers(0, L, size=B)
    eps = rng.standard_normal(x.shape)
    _same(losses.ncsn(model, p, dev(x), sigmas, noise=dev(eps), labels=dev(labels)),
          reference.ncsn(host_params(p), x, sigmas[labels], eps, act, base, kind == "gated", scale_input))


def test_rademacher_average_over_all_sign_vectors_is_the_exact_trace():
    """For D <= 4, mean over all 2^D sign vectors v of v^T J v = tr J exactly."""
    for D in (1, 2, 3, 4):
        model = MLP([D, 6, 5, D], "swish")
        p = model.init(D)
        x = dev(np.random.default_rng(D).standard_normal((3, D)))
        signs = np.array(list(itertools.product([-1.0, 1.0], repeat=D)))   # (2^D, D)
        V = dev(np.repeat(signs[None], 3, axis=0))                          # (B, 2^D, D)
        _, JV = model.jvp(p, x, V)
        vJv = host((V * JV).sum(axis=2)).mean(axis=1)
        assert np.allclose(vJv, host(model.trace_jacobian(p, x)), rtol=1e-12, atol=1e-12)


def test_draws_from_rng_are_reproducible():
    model = MLP([2, 8, 8, 2])
    p = model.init(0)
    x = backend.rng(1).normal((16, 2))
    a = losses.ssm(model, p, x, 2, rng=backend.rng(5))[0]
    b = losses.ssm(model, p, x, 2, rng=backend.rng(5))[0]
    c = losses.ssm(model, p, x, 2, rng=backend.rng(6))[0]
    assert float(a) == float(b) and float(a) != float(c)
    assert float(losses.dsm(model, p, x, 0.1, rng=backend.rng(5))[0]) == \
        float(losses.dsm(model, p, x, 0.1, rng=backend.rng(5))[0])


def test_float32_losses_track_float64():
    model = MLP([4, 16, 16, 4])
    p64 = model.init(0, "float64")
    p32 = [(W.astype("float32"), b.astype("float32")) for W, b in p64]
    x = backend.rng(1).normal((32, 4))
    v64, g64 = losses.ism(model, p64, x)
    v32, g32 = losses.ism(model, p32, x.astype("float32"))
    assert g32[0][0].dtype == np.float32
    assert rel_err(v32, v64) < 1e-4 and rel_err(tree_leaves(g32), tree_leaves(g64)) < 1e-3


# ---------------------------------------------------------------- bad input
def test_bad_input():
    model = MLP([2, 4, 4, 2])
    p = model.init(0)
    x = dev(np.zeros((3, 2)))
    r = backend.rng(0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            losses.dsm(model, p, x, bad, rng=r)
    with pytest.raises(TypeError, match="sigma"):
        losses.dsm(model, p, x, "big", rng=r)
    with pytest.raises(ValueError, match="noise must have shape"):
        losses.dsm(model, p, x, 0.1, noise=dev(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="noise must be given, or rng="):
        losses.dsm(model, p, x, 0.1)
    with pytest.raises(ValueError, match="n_projections"):
        losses.ssm(model, p, x, 0, rng=r)
    with pytest.raises(ValueError, match="v must have shape"):
        losses.ssm(model, p, x, v=dev(np.zeros((1, 3, 3))))
    with pytest.raises(ValueError, match="kind"):
        losses.ssm(model, p, x, rng=r, kind="uniform")
    with pytest.raises(ValueError, match=r"true_score\(x\) must have shape"):
        losses.esm(model, p, x, lambda y: y[:, :1])
    nc = NoiseConditionalMLP([2, 4, 2])
    q = nc.init(0)
    for sig in ([0.1, 0.5], [1.0, 1.0], [1.0, -0.1], []):
        with pytest.raises(ValueError, match="sigmas"):
            losses.ncsn(nc, q, x, sig, rng=r)
    with pytest.raises(ValueError, match="labels must index"):
        losses.ncsn(nc, q, x, [1.0, 0.1], noise=dev(np.zeros((3, 2))), labels=dev(np.array([0, 1, 2])))


@given(activations, batch_sizes, seeds, st.sampled_from(["vp", "ve"]))
def test_sde_dsm(act, B, seed, kind):
    from npscore.sde import VESDE, VPSDE
    sde = VPSDE() if kind == "vp" else VESDE(0.01, 3.0)
    model = NoiseConditionalMLP([2, 6, 6, 2], act)
    p = model.init(seed, "float64")
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


def test_a_non_finite_loss_says_why():
    model = MLP([2, 4, 4, 2])
    x = dev(np.ones((3, 2)))
    p = model.init(0)
    bad = [(W.copy(), b.copy()) for W, b in p]
    bad[1][0][0, 0] = np.nan
    for call in (lambda q: losses.dsm(model, q, x, 0.1, rng=backend.rng(0)),
                 lambda q: losses.ism(model, q, x),
                 lambda q: losses.ssm(model, q, x, rng=backend.rng(0))):
        with pytest.raises(ValueError, match=r"params \(array 2\) must be finite"):
            call(bad)
    with pytest.raises(ValueError, match="overflowed at sigma = 1e-300"):
        losses.dsm(model, p, x, 1e-300, rng=backend.rng(0))
    with pytest.raises(ValueError, match="x must be finite"):
        losses.dsm(model, p, dev(np.array([[np.nan, 0.0]])), 0.1, rng=backend.rng(0))


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


def test_defaults_are_one_gaussian_projection_without_variance_reduction():
    model = MLP([2, 8, 8, 2])
    p = model.init(0)
    x = backend.rng(1).normal((16, 2))
    v = backend.rng(5).normal((1, 16, 2))
    assert float(losses.ssm(model, p, x, rng=backend.rng(5))[0]) == float(losses.ssm(model, p, x, v=v)[0])
