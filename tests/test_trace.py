"""npscore.nn.trace: the exact Jacobian trace (bilinear and tangent forms) against autograd and finite
differences."""
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st

from conftest import mlp_setup, dev, host, rel_err
from npscore import MLP, reference
from npscore.tree import tree_leaves
from strategies import activations, architectures, batch_sizes, seeds

TOL = 1e-10


@given(architectures(square=True), activations, batch_sizes, seeds, st.integers(0, 1))
def test_jacobian_and_trace_match_autograd(sizes, act, B, seed, cond_dim):
    model, p, hp, x, c, rng = mlp_setup(sizes, act, B, seed, cond_dim)
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
    model, p, hp, x, c, rng = mlp_setup(sizes, act, B, seed)
    w = rng.standard_normal(B)
    _, tr, g = model.trace_and_vjp(p, dev(x), dev(w))
    assert rel_err(tr, reference.trace_jacobian(hp, x, act)) < TOL
    rg = grad(lambda q: (w * reference.divergence(q, x, act)).sum())(hp)
    assert rel_err(tree_leaves(g), tree_leaves(rg)) < TOL


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
