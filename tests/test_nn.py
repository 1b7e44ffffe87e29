"""npscore.nn.mlp: the hand-written MLP passes against autograd (npscore.reference), float64, and the
checks of their inputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import mlp_setup, dev, host, rel_err
from npscore import MLP, backend, reference
from npscore.tree import tree_leaves
from strategies import activations, architectures, batch_sizes, seeds

TOL = 1e-10


@given(architectures(), activations, batch_sizes, seeds, st.integers(0, 2))
def test_apply_and_vjp_match_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = mlp_setup(sizes, act, B, seed, cond_dim)
    g = rng.standard_normal((B, sizes[-1]))
    assert rel_err(model.apply(p, dev(x), dev(c)), reference.mlp(hp, x, act, c)) < TOL
    gp, gx = model.vjp(p, dev(x), dev(g), dev(c))
    rgp, rgx = reference.vjp(hp, x, g, act, c)
    assert rel_err(tree_leaves(gp), tree_leaves(rgp)) < TOL
    assert rel_err(gx, rgx) < TOL


@given(architectures(), activations, batch_sizes, seeds, st.integers(0, 2))
def test_jvp_matches_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = mlp_setup(sizes, act, B, seed, cond_dim)
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


def test_fn_checks_the_params_once_and_leaves_non_finite_iterates_to_the_sampler():
    model = MLP([2, 4, 2])
    p = model.init(0)
    x = dev(np.array([[np.nan, 0.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="x must be finite"):
        model.apply(p, x)
    out = host(model.fn(p)(x))
    assert np.isnan(out[0]).all() and np.allclose(out[1], host(model.apply(p, x[1:]))[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"params\[0\] must be"):
        model.fn([(p[0][0][:1], p[0][1]), p[1]])
