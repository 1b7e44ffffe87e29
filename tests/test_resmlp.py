"""The residual MLP on Fourier features (npscore/nn/resmlp.py) and its primitives
(npscore/nn/layers.py: fourier, residual) against autograd, to 1e-10 in float64,
the exact trace through gamma(x) included, and the losses that use every pass."""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_jvp

from conftest import dev, host, rel_err as rel
from npscore import losses, reference
from npscore.nn import NoiseConditionalMLP, ResidualMLP
from npscore.nn.activations import get as activation
from npscore.nn.layers import (fourier, fourier_jvp, fourier_tangent_vjp, fourier_vjp, residual, residual_jvp,
                               residual_tangent_vjp, residual_vjp)
from npscore.nn.resmlp import frequencies

CASES = [(3, 7, 2, 4, 2, "swish"), (2, 6, 0, 3, 0, "softplus"), (4, 5, 3, 0, 1, "tanh")]


def _model(D, H, K, F, C, act, seed=0):
    model = ResidualMLP(D, D, H, K, act, C, F, 0.7)
    rng = np.random.default_rng(seed)
    params = [(dev(host(W) + 0.2 * rng.standard_normal(W.shape)), dev(host(b) + 0.1 * rng.standard_normal(b.shape)))
              for W, b in model.init(seed)]
    B = None if not F else host(frequencies(D, F, 0.7))
    ref = lambda p, x, c=None: reference.residual_mlp(p, x, act, c, B)          # noqa: E731
    x, c = rng.standard_normal((5, D)), (rng.standard_normal((5, C)) if C else None)
    return model, params, ref, x, c, rng


def _flat(tree):
    return [a for layer in tree for a in layer]


def _hp(params):
    return [(host(W), host(b)) for W, b in params]


def test_fourier_rules_match_autograd():
    rng = np.random.default_rng(1)
    u, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    du, g, G = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 10)), rng.standard_normal((4, 2, 10))
    f = lambda u_: anp.concatenate([anp.sin(2 * anp.pi * anp.dot(u_, B)), anp.cos(2 * anp.pi * anp.dot(u_, B))], 1)  # noqa: E731
    gamma, sc = fourier(dev(u), dev(B))
    assert rel(gamma, f(u)) < 1e-14
    assert rel(fourier_vjp(sc, dev(B), dev(g)), grad(lambda u_: anp.sum(g * f(u_)))(u)) < 1e-12
    tang = np.stack([make_jvp(f)(u)(du[:, k])[1] for k in range(2)], axis=1)
    assert rel(fourier_jvp(sc, dev(B), dev(du)), tang) < 1e-12

    def L(u_, du_):
        return sum(anp.sum(G[:, k] * make_jvp(f)(u_)(du_[:, k])[1]) for k in range(2))
    gu, gdu = fourier_tangent_vjp(sc, dev(B), dev(du), dev(G))
    assert rel(gu, grad(L, 0)(u, du)) < 1e-12 and rel(gdu, grad(L, 1)(u, du)) < 1e-12


def test_residual_rules_match_autograd():
    rng = np.random.default_rng(2)
    h, dh = rng.standard_normal((4, 6)), rng.standard_normal((4, 3, 6))
    W1, b1, W2, b2 = (rng.standard_normal(s) for s in [(6, 6), (6,), (6, 6), (6,)])
    g, G = rng.standard_normal((4, 6)), rng.standard_normal((4, 3, 6))
    a = reference.ACTIVATIONS["swish"]
    f = lambda h_, W1, b1, W2, b2: h_ + anp.dot(a(anp.dot(h_, W1) + b1), W2) + b2      # noqa: E731
    out, cache = residual(dev(h), *map(dev, (W1, b1, W2, b2)), activation("swish"), order=2)
    assert rel(out, f(h, W1, b1, W2, b2)) < 1e-14
    grads, gh = residual_vjp(dev(h), cache, dev(W1), dev(W2), dev(g))
    want = grad(lambda *args: anp.sum(g * f(*args)), argnum=(0, 1, 2, 3, 4))(h, W1, b1, W2, b2)
    assert rel(gh, want[0]) < 1e-12 and rel(list(grads), list(want[1:])) < 1e-12
    dout, tangents = residual_jvp(cache, dev(W1), dev(W2), dev(dh))
    jv = lambda h_, dh_, *w: make_jvp(lambda y: f(y, *w))(h_)(dh_)[1]                # noqa: E731
    assert rel(dout, np.stack([jv(h, dh[:, k], W1, b1, W2, b2) for k in range(3)], axis=1)) < 1e-12

    def L(h_, dh_, *w):
        return anp.sum(g * f(h_, *w)) + sum(anp.sum(G[:, k] * jv(h_, dh_[:, k], *w)) for k in range(3))
    grads, gh, gdh = residual_tangent_vjp(dev(h), cache, dev(W1), dev(W2), dev(dh), tangents, dev(g), dev(G))
    want = grad(L, argnum=(0, 1, 2, 3, 4, 5))(h, dh, W1, b1, W2, b2)
    assert rel(gh, want[0]) < 1e-12 and rel(gdh, want[1]) < 1e-12 and rel(list(grads), list(want[2:])) < 1e-12


@pytest.mark.parametrize("D, H, K, F, C, act", CASES)
def test_apply_vjp_jvp_and_tangent_vjp_match_autograd(D, H, K, F, C, act):
    model, p, ref, x, c, rng = _model(D, H, K, F, C, act)
    hp, dc = _hp(p), (None if c is None else dev(c))
    g, v = rng.standard_normal((5, D)), rng.standard_normal((5, D))
    assert rel(model.apply(p, dev(x), dc), ref(hp, x, c)) < 1e-12
    gp, gx = model.vjp(p, dev(x), dev(g), dc)
    rp, rx = reference.vjp(hp, x, g, c=c, net=ref)
    assert rel(_flat(gp), _flat(rp)) < 1e-10 and rel(gx, rx) < 1e-10
    assert rel(model.jvp(p, dev(x), dev(v), dc)[1], reference.jvp(hp, x, v, c=c, net=ref)[1]) < 1e-10
    V, G = rng.standard_normal((5, 2, D)), rng.standard_normal((5, 2, D))
    _, _, cache = model.forward_tangents(p, dev(x), dev(V), dc)

    def L(p_):
        return anp.sum(g * ref(p_, x, c)) + sum(anp.sum(G[:, k] * reference.jvp(p_, x, V[:, k], c=c, net=ref)[1])
                                                for k in range(2))
    assert rel(_flat(model.backward_tangents(p, cache, dev(g), dev(G))), _flat(grad(L)(hp))) < 1e-10


@pytest.mark.parametrize("D, H, K, F, C, act", CASES)
def test_exact_trace_and_its_gradient_through_gamma_match_autograd(D, H, K, F, C, act):
    model, p, ref, x, c, rng = _model(D, H, K, F, C, act, seed=3)
    hp, dc = _hp(p), (None if c is None else dev(c))
    w, g = rng.standard_normal(5), rng.standard_normal((5, D))
    assert rel(model.trace_jacobian(p, dev(x), dc), reference.trace_jacobian(hp, x, c=c, net=ref)) < 1e-10
    _, tr, grads = model.trace_and_vjp(p, dev(x), dev(w), dev(g), c=dc)
    want = grad(lambda p_: anp.sum(w * reference.divergence(p_, x, c=c, net=ref)) + anp.sum(g * ref(p_, x, c)))(hp)
    assert rel(_flat(grads), _flat(want)) < 1e-10
    assert rel(tr, reference.trace_jacobian(hp, x, c=c, net=ref)) < 1e-10


def test_ism_and_ssm_through_the_residual_mlp_match_autograd():
    model, p, ref, x, _, rng = _model(2, 8, 2, 3, 0, "swish", seed=4)
    hp = _hp(p)
    value, grads = losses.ism(model, p, dev(x))
    rv, rg = reference.ism(hp, x, net=ref)
    assert rel(value, rv) < 1e-12 and rel(_flat(grads), _flat(rg)) < 1e-10
    v = rng.standard_normal((1, 5, 2))
    for vr in (False, True):
        value, grads = losses.ssm(model, p, dev(x), 1, v=dev(v), variance_reduction=vr)
        rv, rg = reference.ssm(hp, x, v, variance_reduction=vr, net=ref)
        assert rel(value, rv) < 1e-12 and rel(_flat(grads), _flat(rg)) < 1e-10


def test_noise_conditional_residual_model_matches_reference_and_its_ncsn_loss():
    model = NoiseConditionalMLP([2, 8, 2], "swish", scale_input=True, sigma_features=2, n_blocks=2,
                                fourier_features=3, fourier_scale=0.7)
    rng = np.random.default_rng(5)
    p = [(dev(host(W) + 0.2 * rng.standard_normal(W.shape)), b) for W, b in model.init(0)]
    hp, B = _hp(p), host(frequencies(2, 3, 0.7))
    net = lambda p_, x_, c=None: reference.residual_mlp(p_, x_, "swish", c, B)        # noqa: E731
    x, sigma, noise = rng.standard_normal((6, 2)), np.exp(rng.uniform(-3, 1, 6)), rng.standard_normal((6, 2))
    want = reference.noise_conditional(hp, x, sigma, "swish", scale_input=True, sigma_features=2, net=net)
    assert rel(model.apply(p, dev(x), dev(sigma)), want) < 1e-12
    h = 1e-6
    fd = sum((host(model.apply(p, dev(x + h * e), dev(sigma))) - host(model.apply(p, dev(x - h * e), dev(sigma))))[:, i]
             / (2 * h) for i, e in enumerate(np.eye(2)))
    assert np.allclose(host(model.trace_jacobian(p, dev(x), dev(sigma))), fd, rtol=1e-6)
    levels = [2.0, 0.5, 0.1]
    labels = np.array([0, 1, 2, 0, 1, 2])
    value, grads = losses.ncsn(model, p, dev(x), levels, noise=dev(noise), labels=dev(labels))
    rv, rg = reference.ncsn(hp, x, np.array(levels)[labels], noise, "swish", scale_input=True, sigma_features=2,
                            net=net)
    assert rel(value, rv) < 1e-12 and rel(_flat(grads), _flat(rg)) < 1e-10
    assert "ResidualMLP(2 -> 8 x 2 blocks -> 2" in repr(model)


def test_frequencies_are_fixed_by_d_f_and_scale_and_the_arguments_are_checked():
    assert np.array_equal(host(frequencies(2, 4, 1.0)), host(frequencies(2, 4, 1.0)))
    assert np.allclose(host(frequencies(2, 4, 3.0)), 3.0 * host(frequencies(2, 4, 1.0)), rtol=1e-15)
    assert frequencies(2, 0, 1.0) is None
    assert np.array_equal(host(frequencies(2, 4, 1.0, "float32")), host(frequencies(2, 4, 1.0)).astype("float32"))
    model = ResidualMLP(2, 2, 8, 1, fourier_features=4)
    p32, x = model.init(0, "float32"), dev(np.random.default_rng(0).standard_normal((3, 2)))
    p64 = [(W.astype("float64"), b.astype("float64")) for W, b in p32]
    assert rel(model.apply(p32, x.astype("float32")), model.apply(p64, x)) < 1e-5   # one B for both precisions
    with pytest.raises(ValueError, match=r"^n_blocks must be an int >= 0; got -1$"):
        ResidualMLP(2, 2, 8, -1)
    with pytest.raises(ValueError, match=r"^fourier_scale must be a positive finite number; got 0.0$"):
        ResidualMLP(2, 2, 8, 1, fourier_features=2, fourier_scale=0.0)
    model = ResidualMLP(2, 3, 8, 1)
    with pytest.raises(ValueError, match=r"^model must have a square Jacobian"):
        model.trace_jacobian(model.init(0), dev(np.zeros((1, 2))))
