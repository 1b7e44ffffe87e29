"""npscore.mnist.model: the gated score and its local gate against autograd, the bounded residual, and the
patches primitive's adjoint."""
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, host_params, rel_err, with_biases
from npscore import reference
from npscore.tree import tree_leaves
from strategies import activations, batch_sizes, random_base, seeds

TOL = 1e-10


def test_gated_model_needs_a_matching_base():
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    base = FactorizedMixture(*map(dev, random_base(np.random.default_rng(0), 3)))
    with pytest.raises(ValueError, match="base must be a FactorizedMixture of dimension sizes"):
        GatedScore([4, 5, 4], "softplus", base, gated=True)
    model = GatedScore([3, 5, 3], "softplus", base, gated=True)
    assert [tuple(W.shape) for W, _ in model.init(0)] == [(4, 5), (5, 9)]   # [x, log sigma]; K = 3 outputs per dim


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
        with pytest.raises(ValueError, match=r"window must be 0 or odd"):
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
