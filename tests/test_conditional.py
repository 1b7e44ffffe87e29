"""npscore.nn.conditional: the noise-conditional score s(x, sigma) against its autograd definition, its
trace, its sigma embedding and its checks."""
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, host_params, rel_err, with_biases
from npscore import reference
from npscore.tree import tree_leaves
from strategies import BASES, activations, batch_sizes, noise_conditional, seeds

TOL = 1e-10


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
