"""Hypothesis strategies shared by the property tests."""
import numpy as np
from hypothesis import strategies as st

ACTIVATION_NAMES = ["softplus", "tanh", "elu", "swish"]
activations = st.sampled_from(ACTIVATION_NAMES)
batch_sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def architectures(draw, square=False, min_hidden=1, max_hidden=3, max_width=9):
    """``sizes`` lists: input, 1-3 hidden layers, output (= input when square)."""
    d_in = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, max_width), min_size=min_hidden, max_size=max_hidden))
    d_out = d_in if square else draw(st.integers(1, 6))
    return [d_in] + hidden + [d_out]


@st.composite
def spd_matrices(draw, dim):
    """Well-conditioned symmetric positive definite matrices (eigenvalues in [0.3, 3])."""
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eig = rng.uniform(0.3, 3.0, size=dim)
    return (q * eig) @ q.T


def random_base(rng, D, K=3):
    """Host ``(weights, means, variances)`` of a FactorizedMixture; component 0 is a
    point mass (variance 0), as MNIST's blank pixels."""
    w = rng.uniform(0.2, 1.0, (D, K))
    v = rng.uniform(0.0, 1.0, (D, K))
    v[:, 0] = 0.0
    return w / w.sum(1, keepdims=True), rng.standard_normal((D, K)), v


BASES = ("none", "base", "gated")


def noise_conditional(sizes, act, rng, kind, to_device, scale_input=False, sigma_features=0, bound=0.0):
    """``(model, host base or None)``: a NoiseConditionalMLP without a base, with a
    random base, or gated by one (``kind`` one of :data:`BASES`)."""
    from npscore import NoiseConditionalMLP
    from npscore.mnist.base import FactorizedMixture
    from npscore.mnist.model import GatedScore
    if kind == "none":
        return NoiseConditionalMLP(sizes, act, scale_input=scale_input, sigma_features=sigma_features), None
    base = random_base(rng, sizes[0])
    return GatedScore(sizes, act, FactorizedMixture(*map(to_device, base)), kind == "gated", scale_input,
                      sigma_features, bound), base
