"""npscore.losses: every loss value and gradient against its autograd definition, float64; draws, precision
and checks."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, host_params, rel_err, with_biases
from npscore import MLP, NoiseConditionalMLP, backend, losses, reference
from npscore.tree import tree_leaves
from strategies import activations, architectures, batch_sizes, seeds

TOL = 1e-10


def _setup(sizes, act, B, seed):
    model = MLP(sizes, act)
    p = with_biases(model.init(seed, "float64"), seed)
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
    """Each error names its argument first, in the checks' one wording."""
    model = MLP([2, 4, 4, 2])
    p = model.init(0)
    x = dev(np.zeros((3, 2)))
    r = backend.rng(0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="^sigma must be"):
            losses.dsm(model, p, x, bad, rng=r)
    with pytest.raises(TypeError, match="^sigma must be"):
        losses.dsm(model, p, x, "big", rng=r)
    with pytest.raises(ValueError, match=r"^noise must have shape \(3, 2\)"):
        losses.dsm(model, p, x, 0.1, noise=dev(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="^noise must be given, or rng= to draw it"):
        losses.dsm(model, p, x, 0.1)
    with pytest.raises(ValueError, match="^n_projections must be"):
        losses.ssm(model, p, x, 0, rng=r)
    with pytest.raises(ValueError, match=r"^v must have shape \(1, 3, 2\)"):
        losses.ssm(model, p, x, v=dev(np.zeros((1, 3, 3))))
    with pytest.raises(ValueError, match=r"^v must have shape \(1, 3, 2\)"):      # one projection, (M, B, D)
        losses.ssm(model, p, x, v=dev(np.zeros((3, 2))))
    with pytest.raises(TypeError, match="^v must be"):                                 # not an array
        losses.ssm(model, p, x, v=[[[0.0, 0.0]] * 3])
    with pytest.raises(ValueError, match="^v must be given"):
        losses.ssm(model, p, x)
    with pytest.raises(ValueError, match="^kind must be one of 'gaussian', 'rademacher'; got 'uniform'$"):
        losses.ssm(model, p, x, rng=r, kind="uniform")
    with pytest.raises(ValueError, match=r"^true_score\(x\) must have shape"):
        losses.esm(model, p, x, lambda y: y[:, :1])


def _float32_setup():
    nc = NoiseConditionalMLP([2, 6, 2])
    return nc, nc.init(0, "float32"), backend.rng(1).normal((8, 2), "float32")


@pytest.mark.parametrize("name", ["dsm", "ncsn", "sde_dsm", "ssm-gaussian", "ssm-rademacher"])
def test_drawn_inputs_are_the_documented_draws_in_the_data_dtype(name):
    """``rng=`` draws exactly what could be passed explicitly, in x's dtype (float32 stays float32)."""
    from npscore.sde import VESDE
    nc, q, x = _float32_setup()
    mlp = MLP([2, 6, 2])
    p = mlp.init(0, "float32")
    sde, sigmas = VESDE(0.01, 3.0), [1.0, 0.3, 0.1]
    calls = {
        "dsm": (lambda **k: losses.dsm(mlp, p, x, 0.5, **k), lambda r: {"noise": r.normal(x.shape, x.dtype)}),
        "ncsn": (lambda **k: losses.ncsn(nc, q, x, sigmas, **k),
                 lambda r: {"labels": r.integers(3, (8,)), "noise": r.normal(x.shape, x.dtype)}),
        "sde_dsm": (lambda **k: losses.sde_dsm(nc, q, x, sde, **k),
                    lambda r: {"t": r.uniform((8,), 1e-5, 1.0, x.dtype), "noise": r.normal(x.shape, x.dtype)}),
        "ssm-gaussian": (lambda **k: losses.ssm(mlp, p, x, 2, **k), lambda r: {"v": r.normal((2, 8, 2), x.dtype)}),
        "ssm-rademacher": (lambda **k: losses.ssm(mlp, p, x, 2, kind="rademacher", **k),
                           lambda r: {"v": r.rademacher((2, 8, 2), x.dtype)}),
    }
    call, draws = calls[name]
    value, grads = call(rng=backend.rng(7))
    explicit = call(**draws(backend.rng(7)))
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in tree_leaves(grads))
    assert float(value) == float(explicit[0])
    assert rel_err(tree_leaves(grads), tree_leaves(explicit[1])) == 0.0


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_the_check_flag_skips_checks_only():
    """``check=False`` gives the same numbers and skips the checks; the default checks."""
    nc, q, x = _float32_setup()
    sigma = backend.rng(2).uniform((8,), 0.1, 1.0, x.dtype)
    eps = backend.rng(3).normal(x.shape, x.dtype)
    a, b = (losses.weighted_dsm(nc, q, x, sigma, eps, sigma ** 2, check=c) for c in (True, False))
    assert float(a[0]) == float(b[0]) and rel_err(tree_leaves(a[1]), tree_leaves(b[1])) == 0.0
    with pytest.raises(ValueError, match="^noise must have shape"):
        losses.weighted_dsm(nc, q, x, sigma, eps[:, :1], sigma ** 2)
    # levels so small that the float32 loss overflows: raised with check, returned as inf without
    tiny, labels = [1e-30, 1e-31], backend.xp().asarray(np.zeros(8, dtype=int))
    with pytest.raises(ValueError, match=r"overflowed at sigma down to 1\.0+\d*e-30 in float32; "):
        losses.ncsn(nc, q, x, tiny, noise=eps, labels=labels)
    assert not np.isfinite(float(losses.ncsn(nc, q, x, tiny, noise=eps, labels=labels, check=False)[0]))
    unsorted = [0.1, 0.5]                                 # not checked with check=False
    assert np.isfinite(float(losses.ncsn(nc, q, x, unsorted, noise=eps, labels=labels, check=False)[0]))
    from npscore.sde import VESDE
    sde, t = VESDE(1e-30, 1e-29), backend.xp().full((8,), 1e-3, dtype=x.dtype)
    with pytest.raises(ValueError, match="overflowed at sigma down to"):
        losses.sde_dsm(nc, q, x, sde, t=t, noise=eps)
    assert not np.isfinite(float(losses.sde_dsm(nc, q, x, sde, t=t, noise=eps, check=False)[0]))


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
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
    big = dev(np.full((3, 2), 1e200))                      # finite data whose score overflows
    tail = "; use a larger sigma, float64, or smaller inputs$"
    for what, call in (("sigma = 1e-300 in float64", lambda: losses.dsm(model, p, x, 1e-300, rng=backend.rng(0))),
                       ("the explicit score", lambda: losses.esm(model, p, big, lambda y: y)),
                       ("the trace", lambda: losses.ism(model, p, big)),
                       ("the projections", lambda: losses.ssm(model, p, big, rng=backend.rng(0)))):
        with pytest.raises(ValueError, match=f"^the loss is inf with finite params and data: it overflowed at {what}{tail}"):
            call()
    nc = NoiseConditionalMLP([2, 4, 2])
    q = nc.init(0)
    q[0][1][0] = np.nan
    with pytest.raises(ValueError, match=r"^params \(array 1\) must be finite; got an array with NaN or inf; "
                                         "the model diverged or was loaded damaged$"):
        losses.ncsn(nc, q, x, [1.0, 0.1], rng=backend.rng(0))
    with pytest.raises(ValueError, match="x must be finite"):
        losses.dsm(model, p, dev(np.array([[np.nan, 0.0]])), 0.1, rng=backend.rng(0))


def test_defaults_are_one_gaussian_projection_without_variance_reduction():
    model = MLP([2, 8, 8, 2])
    p = model.init(0)
    x = backend.rng(1).normal((16, 2))
    v = backend.rng(5).normal((1, 16, 2))
    assert float(losses.ssm(model, p, x, rng=backend.rng(5))[0]) == float(losses.ssm(model, p, x, v=v)[0])
    plain = float(losses.ssm(model, p, x, v=v, variance_reduction=False)[0])
    assert float(losses.ssm(model, p, x, v=v)[0]) == plain != float(losses.ssm(model, p, x, v=v, variance_reduction=True)[0])
