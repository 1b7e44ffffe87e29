"""npscore.nn.conv: each primitive's forward, VJP (input and parameters) and JVP against autograd
(npscore.reference_unet) in float64, to a relative 1e-10, on small shapes."""
import numpy as np
import pytest
from autograd import grad, make_jvp

from conftest import dev, host, rel_err
from npscore import reference_unet as ref
from npscore.nn import conv

TOL = 1e-10


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("k, shape, cout", [(3, (2, 6, 6, 3), 4), (1, (1, 4, 4, 2), 3), (5, (2, 5, 7, 1), 2)])
def test_conv2d_forward_vjp_and_jvp_match_autograd(k, shape, cout):
    h, W, b = _data(shape, 0), _data((k * k * shape[-1], cout), 1), _data((cout,), 2)
    g, dh = _data(shape[:-1] + (cout,), 3), _data(shape, 4)
    z, cols = conv.conv2d(dev(h), dev(W), dev(b))
    assert rel_err(z, ref.conv2d(h, W, b)) < TOL
    loss = lambda h, W, b: np.sum(ref.conv2d(h, W, b) * g)                 # noqa: E731
    dW, db = conv.conv2d_vjp_params(cols, dev(g))
    assert rel_err(dW, grad(loss, 1)(h, W, b)) < TOL and rel_err(db, grad(loss, 2)(h, W, b)) < TOL
    assert rel_err(conv.conv2d_vjp_input(dev(W), dev(g), shape[-1]), grad(loss, 0)(h, W, b)) < TOL
    assert rel_err(conv.conv2d_jvp(dev(dh), dev(W)), make_jvp(lambda h: ref.conv2d(h, W, b))(h)(dh)[1]) < TOL


def test_im2col_and_col2im_are_adjoint():
    h, c = _data((2, 5, 5, 3), 0), _data((2, 5, 5, 27), 1)
    lhs = float((host(conv.im2col(dev(h), 3)) * c).sum())
    rhs = float((h * host(conv.col2im(dev(c), 3, 3))).sum())
    assert abs(lhs - rhs) < 1e-12 * abs(lhs)


def test_pooling_and_upsampling_and_their_adjoints_match_autograd():
    h, g = _data((2, 4, 6, 3), 0), _data((2, 2, 3, 3), 1)
    assert rel_err(conv.avg_pool(dev(h)), ref.avg_pool(h)) < TOL
    assert rel_err(conv.avg_pool_vjp(dev(g)), grad(lambda h: np.sum(ref.avg_pool(h) * g))(h)) < TOL
    u, gu = _data((2, 2, 3, 3), 2), _data((2, 4, 6, 3), 3)
    assert rel_err(conv.upsample(dev(u)), ref.upsample(u)) < TOL
    assert rel_err(conv.upsample_vjp(dev(gu)), grad(lambda u: np.sum(ref.upsample(u) * gu))(u)) < TOL


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm_forward_vjp_and_jvp_match_autograd(groups):
    h = 3.0 + 2.0 * _data((2, 3, 3, 4), 0)
    gamma, beta, g, dh = _data((4,), 1), _data((4,), 2), _data((2, 3, 3, 4), 3), _data((2, 3, 3, 4), 4)
    y, cache = conv.group_norm(dev(h), dev(gamma), dev(beta), groups)
    assert rel_err(y, ref.group_norm(h, gamma, beta, groups)) < TOL
    loss = lambda h, gamma, beta: np.sum(ref.group_norm(h, gamma, beta, groups) * g)     # noqa: E731
    gh, dgamma, dbeta = conv.group_norm_vjp(cache, dev(gamma), dev(g), groups)
    assert rel_err(gh, grad(loss, 0)(h, gamma, beta)) < TOL
    assert rel_err(dgamma, grad(loss, 1)(h, gamma, beta)) < TOL and rel_err(dbeta, grad(loss, 2)(h, gamma, beta)) < TOL
    jvp = make_jvp(lambda h: ref.group_norm(h, gamma, beta, groups))(h)(dh)[1]
    assert rel_err(conv.group_norm_jvp(cache, dev(gamma), dev(dh), groups), jvp) < TOL


def test_split_channels_is_the_adjoint_of_concatenation():
    g = _data((2, 3, 3, 5), 0)
    a, b = conv.split_channels(dev(g), (2, 3))
    assert np.array_equal(np.concatenate([host(a), host(b)], axis=-1), g)


def test_a_kernel_that_does_not_fit_the_channels_is_named():
    with pytest.raises(ValueError, match="the kernel has 10 rows; a k x k convolution of 3 channels needs k"):
        conv.conv2d(dev(np.zeros((1, 3, 3, 3))), dev(np.zeros((10, 2))), dev(np.zeros(2)))


def test_shapes_the_primitives_cannot_take_are_named():
    with pytest.raises(ValueError, match="avg_pool works on 2 x 2 blocks: .* got 5 x 6"):
        conv.avg_pool(dev(np.zeros((1, 5, 6, 2))))
    with pytest.raises(ValueError, match="upsample_vjp works on 2 x 2 blocks: .* got 4 x 3"):
        conv.upsample_vjp(dev(np.zeros((1, 4, 3, 2))))
    with pytest.raises(ValueError, match="groups must divide the 6 channels; got 4"):
        conv.group_norm(dev(np.zeros((1, 2, 2, 6))), dev(np.ones(6)), dev(np.zeros(6)), 4)
