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
