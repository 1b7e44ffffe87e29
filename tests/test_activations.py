"""npscore.nn.activations: each activation's first and second derivative against autograd, and its
defaults."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import dev, host, rel_err
from npscore import reference
from npscore.nn import ACTIVATIONS
from strategies import activations

TOL = 1e-10


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


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_an_activation_gives_only_its_value_by_default(name):
    z = dev(np.array([-1.0, 0.5]))
    out = ACTIVATIONS[name](z)
    assert len(out) == 1 and np.array_equal(host(out[0]), host(ACTIVATIONS[name](z, 2)[0]))


def test_elu_derivatives_at_the_kink_are_the_left_ones():
    f, d1, d2 = (host(a) for a in ACTIVATIONS["elu"](dev(np.array([0.0])), 2))
    assert (f[0], d1[0], d2[0]) == (0.0, 1.0, 1.0)
