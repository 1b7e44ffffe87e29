"""The hand-written MLP passes against autograd (npscore.reference), float64."""
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, host_params, rel_err, with_biases
from npscore import MLP, backend, reference
from npscore.nn import ACTIVATIONS
from npscore.tree import tree_leaves
from strategies import BASES, activations, architectures, batch_sizes, noise_conditional, random_base, seeds

TOL = 1e-10


def _setup(sizes, act, B, seed, cond_dim=0):
    model = MLP(sizes, act, cond_dim=cond_dim)
    params = with_biases(model.init(seed, "float64"), seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, sizes[0]))
    c = rng.standard_normal((B, cond_dim)) if cond_dim else None
    return model, params, host_params(params), x, c, rng


@given(activations, st.floats(-30, 30))
def test_activation_derivatives_match_autograd(name, z):
    d1, d2 = reference.activation_derivatives(name)
    zz = np.array([z, 0.3 * z, -z + 0.1])
    for order in range(3):                      # each order gives the same values as the others
        out = ACTIVATIONS[name](dev(zz), order)
        assert len(out) == order + 1
        assert rel_err(out[0], reference.ACTIVATIONS[name](zz)) < TOL
    f, a1, a2 = ACTIVATIONS[name](dev(zz), 2)
    assert rel_err(a1, d1(zz)) < TOL
    ref2 = d2(zz)
    if np.max(np.abs(ref2)) > 1e-200:
        assert np.max(np.abs(host(a2) - ref2)) <= TOL * np.max(np.abs(ref2)) + 1e-300


@given(architectures(), activations, batch_sizes, seeds, st.integers(0, 2))
def test_apply_and_vjp_match_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = _setup(sizes, act, B, seed, cond_dim)
    g = rng.standard_normal((B, sizes[-1]))
    assert rel_err(model.apply(p, dev(x), dev(c)), reference.mlp(hp, x, act, c)) < TOL
    gp, gx = model.vjp(p, dev(x), dev(g), dev(c))
    rgp, rgx = reference.vjp(hp, x, g, act, c)
    assert rel_err(tree_leaves(gp), tree_leaves(rgp)) < TOL
    assert rel_err(gx, rgx) < TOL


@given(architectures(), activations, batch_sizes, seeds, st.integers(0, 2))
def test_jvp_matches_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = _setup(sizes, act, B, seed, cond_dim)
    v = rng.standard_normal(x.shape)
    out, Jv = model.jvp(p, dev(x), dev(v), dev(c))
    rout, rJv = reference.jvp(hp, x, v, act, c)
    assert rel_err(out, rout) < TOL
    assert rel_err(Jv, rJv) < TOL
    # many tangents at once: stacking single-tangent results
    V = rng.standard_normal((x.shape[0], 3, x.shape[1]))
    _, JV = model.jvp(p, dev(x), dev(V), dev(c))
    for k in range(3):
        assert rel_err(host(JV)[:, k], reference.jvp(hp, x, V[:, k], act, c)[1]) < TOL


@given(architectures(square=True), activations, batch_sizes, seeds, st.integers(0, 1))
def test_jacobian_and_trace_match_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = _setup(sizes, act, B, seed, cond_dim)
    J = reference.jacobian_per_example(hp, x, act, c)
    assert rel_err(model.jacobian(p, dev(x), dev(c)), J) < TOL
    tr = np.trace(J, axis1=1, axis2=2)
    methods = ["tangents"] + (["bilinear"] if len(sizes) == 4 else [])
    w = rng.standard_normal(B)
    rg = grad(lambda q: (w * reference.divergence(q, x, act, c)).sum())(hp)
    for method in methods:
        assert rel_err(model.trace_jacobian(p, dev(x), dev(c), method=method), tr) < TOL
        _, _, g = model.trace_and_vjp(p, dev(x), dev(w), c=dev(c), method=method)
        assert rel_err(tree_leaves(g), tree_leaves(rg)) < TOL


@given(st.integers(5, 9), st.integers(1, 4), activations, batch_sizes, seeds)
def test_trace_in_z1_space_when_input_is_wider_than_first_layer(D, H, act, B, seed):
    sizes = [D, H, H + 1, H, D]                       # 3 hidden layers, D > H1: z1-space tangents
    model, p, hp, x, c, rng = _setup(sizes, act, B, seed)
    w = rng.standard_normal(B)
    _, tr, g = model.trace_and_vjp(p, dev(x), dev(w))
    assert rel_err(tr, reference.trace_jacobian(hp, x, act)) < TOL
    rg = grad(lambda q: (w * reference.divergence(q, x, act)).sum())(hp)
    assert rel_err(tree_leaves(g), tree_leaves(rg)) < TOL


@given(activations, batch_sizes, seeds, st.sampled_from(BASES), st.booleans(), st.integers(0, 3),
       st.sampled_from([0.0, 0.5, 2.0]))
def test_noise_conditional_model_matches_reference(act, B, seed, kind, scale_input, F, bound):
    rng = np.random.default_rng(seed)
    bound = bound if kind != "none" else 0.0            # the bound is the gated model's
    model, base = noise_conditional([3, 6, 6, 3], act, rng, kind, dev, scale_input, F, bound)
    p = with_biases(model.init(seed, "float64"), seed)
    x = rng.standard_normal((B, 3))
    sigma = rng.uniform(0.05, 2.0, size=B)
    g = rng.standard_normal((B, 3))
    hp = host_params(p)
    ref = lambda q, y: reference.noise_conditional(q, y, sigma, act, base, kind == "gated", scale_input, F,  # noqa
                                                   bound)
    assert rel_err(model.apply(p, dev(x), dev(sigma)), ref(hp, x)) < TOL
    gp, gx = model.vjp(p, dev(x), dev(sigma), dev(g))
    rg, rgx = grad(lambda q, y: (g * ref(q, y)).sum(), argnum=(0, 1))(hp, x)
    assert rel_err(tree_leaves(gp), tree_leaves(rg)) < TOL
    assert rel_err(gx, rgx) < TOL
    gxs = model.vjp_x(p, dev(x), dev(sigma), [dev(g), dev(-2.0 * g)])      # one forward, two probes
    assert len(gxs) == 2 and rel_err(gxs[0], rgx) < TOL and rel_err(gxs[1], -2.0 * rgx) < TOL


def test_gated_model_needs_a_matching_base():
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    base = FactorizedMixture(*map(dev, random_base(np.random.default_rng(0), 3)))
    with pytest.raises(ValueError, match="base must be a FactorizedMixture of dimension sizes"):
        GatedScore([4, 5, 4], "softplus", base, gated=True)
    model = GatedScore([3, 5, 3], "softplus", base, gated=True)
    assert [tuple(W.shape) for W, _ in model.init(0)] == [(4, 5), (5, 9)]   # [x, log sigma]; K = 3 outputs per dim


def test_init_is_seeded_and_has_documented_shapes():
    m = MLP([2, 128, 128, 2])
    a, b = m.init(3), m.init(3)
    assert [tuple(W.shape) for W, _ in a] == [(2, 128), (128, 128), (128, 2)]
    assert all(np.array_equal(host(u), host(v)) for u, v in zip(tree_leaves(a), tree_leaves(b)))
    assert a[0][0].dtype == np.float64 and m.init(0, "float32")[0][0].dtype == np.float32
    assert MLP([2, 4, 2], cond_dim=3).init(0)[0][0].shape == (5, 4)
    r = backend.rng(3)                                        # LeCun normal: W ~ N(0, 1 / fan_in), b = 0
    for (W, bias), (n_in, n_out) in zip(a, [(2, 128), (128, 128), (128, 2)]):
        assert np.allclose(host(W), host(r.normal((n_in, n_out))) / np.sqrt(n_in), rtol=1e-15, atol=0)
        assert not host(bias).any()
    with pytest.raises(ValueError, match="^cond_dim must be an int >= 0; got -1$"):
        MLP([2, 4, 2], cond_dim=-1)


# ---------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    m = MLP([3, 4, 3])
    p = m.init(0)
    with pytest.raises(ValueError, match=r"^sizes\[i\] must be an int >= 1; got 0$"):
        MLP([2, 0, 2])
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\); got \(2, 4\)"):
        m.apply(p, dev(np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\); got \(3,\)"):
        m.apply(p, dev(np.zeros(3)))
    with pytest.raises(ValueError, match="x must be finite"):
        m.apply(p, dev(np.array([[0.0, np.nan, 1.0]])))
    with pytest.raises(ValueError, match="x must be finite"):
        m.apply(p, dev(np.array([[0.0, np.inf, 1.0]])))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array"):
        m.apply(p, dev(np.zeros((2, 3), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"params\[1\] must be \(W, b\) of shapes \(\(4, 3\), \(3,\)\)"):
        MLP([3, 4, 3]).apply(MLP([3, 4, 5]).init(0), dev(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="params must be a list of 2"):
        m.apply(p[:1], dev(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([3, 4, 3], activation="relu")
    with pytest.raises(TypeError, match="dtype"):
        m.init(0, dtype="int32")
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])
    with pytest.raises(ValueError, match=r"c must be an array of shape \(B, 1\)"):
        MLP([3, 4, 3], cond_dim=1).apply(MLP([3, 4, 3], cond_dim=1).init(0), dev(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="v must have shape"):
        m.jvp(p, dev(np.zeros((2, 3))), dev(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="square Jacobian"):
        MLP([3, 4, 2]).trace_jacobian(MLP([3, 4, 2]).init(0), dev(np.zeros((1, 3))))


# ---------------------------------------------------------------- the methods' contracts
def test_forward_is_apply_with_a_cache_and_checks_its_input():
    model = MLP([3, 5, 5, 3], cond_dim=1)
    p = model.init(0)
    x, c = dev(np.random.default_rng(1).standard_normal((4, 3))), dev(np.ones((4, 1)))
    out, cache = model.forward(p, x, c)
    assert np.array_equal(host(out), host(model.apply(p, x, c)))
    g = dev(np.random.default_rng(2).standard_normal((4, 3)))
    assert rel_err(tree_leaves(model.backward(p, cache, g)), tree_leaves(model.vjp(p, x, g, c)[0])) < TOL
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 3\)"):
        model.forward(p, dev(np.zeros((4, 2))), c)


def test_tangent_methods_name_a_badly_shaped_v():
    model = MLP([2, 4, 4, 2])
    p = model.init(0)
    x = dev(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^v must have shape \(B, K, D\); got \(3, 2\)$"):
        model.forward_tangents(p, x, dev(np.zeros((3, 2))))
    for call in (model.forward_tangents, model.jvp):               # not an array: its repr is shown
        with pytest.raises(ValueError, match=r"^v must have shape \(B, K, D\); got \[\[0.0, 0.0\]\]$"):
            call(p, x, [[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"^g must have shape \(3, 2\)"):
        model.vjp(p, x, dev(np.zeros((3, 1))))
    with pytest.raises(ValueError, match=r"^w must have shape \(3,\)"):
        model.trace_and_vjp(p, x, dev(np.zeros(2)))
    with pytest.raises(ValueError, match="^method must be 'bilinear' or 'tangents'; got 'nope'"):
        model.trace_and_vjp(p, x, dev(np.zeros(3)), method="nope")


@pytest.mark.parametrize("method", ["bilinear", "tangents"])
def test_trace_and_vjp_takes_g_as_an_array_or_a_function_and_a_condition(method):
    model = MLP([3, 6, 6, 3], cond_dim=2)
    p = model.init(0)
    rng = np.random.default_rng(3)
    x, c, w = dev(rng.standard_normal((4, 3))), dev(rng.standard_normal((4, 2))), dev(rng.standard_normal(4))
    g = dev(rng.standard_normal((4, 3)))
    a = model.trace_and_vjp(p, x, w, g, c, method=method)
    b = model.trace_and_vjp(p, x, w, lambda s: g, c, method=method)
    ref = model.trace_and_vjp(p, x, w, g, c, method="tangents")
    for r in (b, ref):
        assert rel_err(host(a[1]), host(r[1])) < TOL and rel_err(tree_leaves(a[2]), tree_leaves(r[2])) < TOL
    assert rel_err(host(a[1]), host(model.trace_jacobian(p, x, c))) < TOL


def test_float32_jacobian_stays_float32():
    model = MLP([2, 4, 2])
    x = dev(np.zeros((3, 2), dtype="float32"))
    assert model.jacobian(model.init(0, "float32"), x).dtype == np.float32


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_an_activation_gives_only_its_value_by_default(name):
    z = dev(np.array([-1.0, 0.5]))
    out = ACTIVATIONS[name](z)
    assert len(out) == 1 and np.array_equal(host(out[0]), host(ACTIVATIONS[name](z, 2)[0]))


def test_elu_derivatives_at_the_kink_are_the_left_ones():
    f, d1, d2 = (host(a) for a in ACTIVATIONS["elu"](dev(np.array([0.0])), 2))
    assert (f[0], d1[0], d2[0]) == (0.0, 1.0, 1.0)


@pytest.mark.parametrize("scale_input,F", [(False, 0), (True, 0), (True, 2)])
def test_noise_conditional_trace_jacobian_is_the_finite_difference_trace(scale_input, F):
    from npscore import NoiseConditionalMLP
    model = NoiseConditionalMLP([2, 8, 8, 2], scale_input=scale_input, sigma_features=F)
    p = model.init(0, "float64")
    x = dev(np.random.default_rng(4).standard_normal((3, 2)))
    sigma, h = 0.7, 1e-5
    fd = sum((host(model.apply(p, x + h * e, sigma)) - host(model.apply(p, x - h * e, sigma)))[:, i] / (2 * h)
             for i, e in enumerate(dev(np.eye(2))))
    assert np.allclose(host(model.trace_jacobian(p, x, sigma)), fd, rtol=1e-6, atol=1e-8)
    assert np.array_equal(host(model.score_fn(p)(x, sigma)), host(model.apply(p, x, sigma)))
    assert repr(model) == "NoiseConditionalMLP([2, 8, 8, 2], activation='softplus')"


def test_noise_conditional_vjp_names_g_and_score_fn_keeps_float32():
    from npscore import NoiseConditionalMLP
    model = NoiseConditionalMLP([2, 8, 2])
    p = model.init(0, "float32")
    x = dev(np.ones((3, 2), dtype="float32"))
    with pytest.raises(ValueError, match=r"^g must have shape \(3, 2\)"):
        model.vjp(p, x, 0.5, dev(np.ones((3, 1), dtype="float32")))
    with pytest.raises(ValueError, match=r"^g must have shape \(3, 2\)"):
        model.vjp_x(p, x, 0.5, [x, dev(np.ones((3, 1), dtype="float32"))])
    s = model.score_fn(p)(x, 0.5)
    assert s.dtype == np.float32 and np.allclose(host(s), host(model.apply(p, x, 0.5)), rtol=1e-6)


@pytest.mark.parametrize("sizes", [[2, 6, 6, 2], [5, 3, 3, 5]], ids=["x space", "z1 space"])
def test_float32_traces_stay_float32(sizes):
    model = MLP(sizes)
    p = model.init(0, "float32")
    x = dev(np.random.default_rng(0).standard_normal((4, sizes[0])).astype("float32"))
    s, tr, grads = model.trace_and_vjp(p, x, dev(np.ones(4, dtype="float32")), method="tangents")
    assert tr.dtype == np.float32 and all(g.dtype == np.float32 for g in tree_leaves(grads))


def test_bilinear_needs_exactly_two_hidden_layers():
    model = MLP([2, 4, 2])
    with pytest.raises(ValueError, match=r"^method must be 'tangents' for MLP\(\[2, 4, 2\].*\): 'bilinear' needs "
                                         "exactly two hidden layers$"):
        model.trace_jacobian(model.init(0), dev(np.zeros((1, 2))), method="bilinear")


def test_params_condition_and_sigma_checks_say_what_was_wrong():
    from types import SimpleNamespace
    from npscore import NoiseConditionalMLP
    m = MLP([2, 3, 2])
    p = m.init(0)
    x = dev(np.zeros((1, 2)))
    name = r"MLP\(\[2, 3, 2\], activation='softplus', cond_dim=0\)"
    cases = [
        (lambda: m.apply([([[1.0] * 3] * 2, [0.0] * 3), p[1]], x), ValueError,
         rf"^params\[0\] must be \(W, b\) of shapes \(\(2, 3\), \(3,\)\) for {name}; got \(\(\), \(\)\)$"),
        (lambda: m.apply([(p[0][0].astype("float32"), p[0][1]), p[1]], x), TypeError,
         r"^params\[0\] must be float32 or float64 arrays of one dtype; got \[dtype\('float32'\), dtype\('float64'\)\]$"),
        (lambda: m.apply([(SimpleNamespace(shape=(2, 3)), p[0][1]), p[1]], x), TypeError,
         r"^params\[0\] must be float32 or float64 arrays of one dtype; got \['SimpleNamespace', dtype\('float64'\)\]$"),
        (lambda: m.apply(p, x, dev(np.zeros((1, 1)))), ValueError,
         rf"^c must be None for {name}, which has cond_dim=0; got an array$"),
        (lambda: MLP([2, 3, 2], cond_dim=1).apply(MLP([2, 3, 2], cond_dim=1).init(0), x, dev(np.zeros((1, 2)))),
         ValueError, r"^c must have shape \(1, 1\); got \(1, 2\)$"),
    ]
    n = NoiseConditionalMLP([2, 4, 2])
    q, x3 = n.init(0), dev(np.zeros((3, 2)))
    cases += [
        (lambda: n.apply(q, x3, 0.0), ValueError, "^sigma must be a positive finite number; got 0.0$"),
        (lambda: n.apply(q, x3, dev(np.array([0.5, 0.0, 0.2]))), ValueError,
         "^sigma must be positive; got values down to 0.0$"),
        (lambda: n.apply(q, x3, dev(np.array([0.5, 0.5]))), ValueError, r"^sigma must have shape \(3,\); got \(2,\)$"),
    ]
    for call, kind, says in cases:
        with pytest.raises(kind, match=says):
            call()
    x32 = dev(np.zeros((3, 2), dtype="float32"))
    assert n.sigma_array(x32, dev(np.array([0.5, 0.4, 0.2]))).dtype == np.float32     # float64 sigmas cast


def test_sigma_embedding_is_log_sigma_and_its_fourier_features():
    from npscore import NoiseConditionalMLP
    from npscore.nn.conditional import sigma_embedding
    sigma = np.array([0.1, 1.0, 7.0])
    ell = np.log(sigma)[:, None]
    k = np.arange(1, 4) * np.pi / 4
    want = np.concatenate([ell, np.sin(k * ell), np.cos(k * ell)], axis=1)
    assert np.allclose(host(sigma_embedding(dev(sigma), 3)), want, rtol=1e-12)
    assert np.allclose(host(sigma_embedding(dev(sigma))), ell, rtol=1e-12)
    with pytest.raises(ValueError, match="^sigma_features must be an int >= 0; got -1$"):
        NoiseConditionalMLP([2, 4, 2], sigma_features=-1)


@pytest.mark.parametrize("bound", [0.0, 1.0])
def test_a_bounded_residual_leaves_far_pixels_restored(bound):
    """With e = B tanh(o / B), |e / sigma| <= B / sigma, and the base's pull -(x - mu) / (v + sigma^2)
    wins far from the data: every pixel at -50 is pushed back up, however large the MLP's output."""
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    rng = np.random.default_rng(0)
    base = FactorizedMixture(*map(dev, random_base(rng, 4)))
    model = GatedScore([4, 6, 4], "softplus", base, gated=True, bound=bound)
    p = [(100 * W, 100 * b) for W, b in with_biases(model.init(0, "float64"), 0)]
    s = host(model.apply(p, dev(np.full((8, 4), -50.0) + rng.standard_normal((8, 4))), 2.0))
    assert (s > 0).all() if bound else (s < 0).any()


def _perturbed(params, seed):
    """``params`` with every array moved by N(0, 0.3^2): the local gate starts at 0."""
    rng = np.random.default_rng(seed + 2000)
    return [(W + dev(0.3 * rng.standard_normal(W.shape)), b + dev(0.3 * rng.standard_normal(b.shape)))
            for W, b in params]


@given(activations, batch_sizes, seeds, st.sampled_from([(4, 1), (9, 3), (16, 3), (16, 5)]), st.booleans(),
       st.integers(0, 2), st.sampled_from([0.0, 2.0]), st.sampled_from(["x", "denoised"]))
def test_local_gate_matches_reference(act, B, seed, D_window, scale_input, F, bound, gate_input):
    """The gated model with its local gate (reading c(sigma) x or the first pass's x_hat): s,
    g^T ds/dtheta and g^T ds/dx against autograd's, whose neighbourhoods are shift matrices (the
    hand-written ones pad and slice)."""
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    D, window = D_window
    rng = np.random.default_rng(seed)
    base = random_base(rng, D)
    model = GatedScore([D, 6, D], act, FactorizedMixture(*map(dev, base)), True, scale_input, F, bound,
                       window=window, gate_input=gate_input)
    p = _perturbed(model.init(seed, "float64"), seed)
    x, g = rng.standard_normal((B, D)), rng.standard_normal((B, D))
    sigma = rng.uniform(0.05, 2.0, size=B)
    hp = host_params(p)
    ref = lambda q, y: reference.noise_conditional(q, y, sigma, act, base, True, scale_input, F, bound,  # noqa
                                                   window, gate_input)
    assert rel_err(model.apply(p, dev(x), dev(sigma)), ref(hp, x)) < TOL
    gp, gx = model.vjp(p, dev(x), dev(sigma), dev(g))
    rg, rgx = grad(lambda q, y: (g * ref(q, y)).sum(), argnum=(0, 1))(hp, x)
    assert len(gp) == len(rg) == 3 and rel_err(tree_leaves(gp), tree_leaves(rg)) < TOL
    assert rel_err(gx, rgx) < TOL
    gxs = model.vjp_x(p, dev(x), dev(sigma), [dev(g), dev(-2.0 * g)])      # one forward, two probes
    assert len(gxs) == 2 and rel_err(gxs[0], rgx) < TOL and rel_err(gxs[1], -2.0 * rgx) < TOL


def test_local_gate_starts_as_the_model_without_it_and_checks_its_window():
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    rng = np.random.default_rng(0)
    base = FactorizedMixture(*map(dev, random_base(rng, 9)))
    with_gate = GatedScore([9, 5, 9], "swish", base, window=3, sigma_features=1)
    without = GatedScore([9, 5, 9], "swish", base, sigma_features=1)
    p = with_gate.init(0, "float64")
    assert [tuple(a.shape) for a in p[2]] == [(3, 9, 2), (3, 2)]   # J = 1 + 2F features, 3 x 3 window, K - 1 = 2
    x = dev(rng.standard_normal((3, 9)))
    assert np.array_equal(host(with_gate.apply(p, x, 0.3)), host(without.apply(p[:2], x, 0.3)))
    with pytest.raises(ValueError, match="params must be a list of 3"):
        with_gate.apply(p[:2], x, 0.3)
    for sizes, window, gated in (([9, 5, 9], 2, True), ([9, 5, 9], 3, False)):
        with pytest.raises(ValueError, match=r"window \(--window\) must be 0 or odd"):
            GatedScore(sizes, "swish", base, gated=gated, window=window)
    base8 = FactorizedMixture(*map(dev, random_base(rng, 8)))
    with pytest.raises(ValueError, match="square image; .* D=8"):
        GatedScore([8, 5, 8], "swish", base8, window=3)


@given(seeds, st.sampled_from([(9, 3), (16, 3), (16, 5), (25, 1)]))
def test_patches_is_the_adjoint_of_patches_vjp(seed, D_window):
    """<patches(h), g> = <h, patches_vjp(g)>, and each row holds the pixel's neighbours (0 outside)."""
    from npscore.nn.layers import patches, patches_vjp
    D, window = D_window
    side, r = int(D ** 0.5), window // 2
    rng = np.random.default_rng(seed)
    h, g = rng.standard_normal((2, D)), rng.standard_normal((2, window * window, D))
    P = host(patches(dev(h), side, window))
    assert abs((P * g).sum() - (h * host(patches_vjp(dev(g), side, window))).sum()) < 1e-10 * np.abs(g).sum()
    img = h.reshape(2, side, side)
    for b, y, xx in ((0, 0, 0), (1, side - 1, side // 2), (1, side // 2, side - 1)):
        expected = [img[b, y + i, xx + j] if 0 <= y + i < side and 0 <= xx + j < side else 0.0
                    for i in range(-r, r + 1) for j in range(-r, r + 1)]
        assert np.array_equal(P[b, :, y * side + xx], expected)
