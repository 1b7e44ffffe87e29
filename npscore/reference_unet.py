"""The readable definition of the U-Net (:mod:`npscore.nn.unet`) and its primitives in
``autograd.numpy``, differentiated by HIPS autograd: the oracle the hand-written passes of
:mod:`npscore.nn.conv` and :class:`npscore.nn.unet.UNet` are pinned to (float64, 1e-10).

Images are channels-last ``(B, H, W, C)``; a convolution is written as the sum over its ``k x k``
offsets of shifted copies of the zero-padded image times the kernel's slice, not as im2col.
"""
import autograd.numpy as anp

from .nn.unet import BLOCKS, PER_BLOCK, SIGMA_DATA, groups_for
from .reference import ACTIVATIONS

GN_EPS = 1e-5


def conv2d(h, W, b):
    """``z[b, i, j] = sum_{u, v, c} h[b, i + u - r, j + v - r, c] W[(u k + v) C + c] + bias``."""
    B, H, Wd, C = h.shape
    k = int(round((W.shape[0] // C) ** 0.5))
    r = k // 2
    padded = anp.pad(h, ((0, 0), (r, r), (r, r), (0, 0)), "constant")
    out = 0.0
    for u in range(k):
        for v in range(k):
            piece = W[(u * k + v) * C:(u * k + v + 1) * C]
            out = out + anp.einsum("bijc,co->bijo", padded[:, u:u + H, v:v + Wd, :], piece)
    return out + b


def avg_pool(h):
    B, H, W, C = h.shape
    return anp.mean(anp.reshape(h, (B, H // 2, 2, W // 2, 2, C)), axis=(2, 4))


def upsample(h):
    return anp.repeat(anp.repeat(h, 2, axis=1), 2, axis=2)


def group_norm(h, gamma, beta, groups):
    B, H, W, C = h.shape
    hg = anp.reshape(h, (B, H * W, groups, C // groups))
    mu = anp.mean(hg, axis=(1, 3), keepdims=True)
    var = anp.mean((hg - mu) ** 2, axis=(1, 3), keepdims=True)
    return anp.reshape((hg - mu) / anp.sqrt(var + GN_EPS), h.shape) * gamma + beta


def sigma_embedding(sigma, n_features):
    ell = anp.log(sigma)[:, None]
    if not n_features:
        return ell
    omega = (anp.pi / 4) * anp.arange(1, n_features + 1)
    return anp.concatenate([ell, anp.sin(omega * ell), anp.cos(omega * ell)], axis=1)


def unet(params, x, sigma, side, channels, groups, sigma_features, activation="swish"):
    """``s(x, sigma) = -x / (sigma^2 + sigma_d^2) + sigma_d UNet(x / sqrt(sigma^2 + sigma_d^2), gamma(sigma))
    / (sigma sqrt(sigma^2 + sigma_d^2))`` of :mod:`npscore.nn.unet`."""
    a = ACTIVATIONS[activation]
    e = a(anp.dot(sigma_embedding(sigma, sigma_features), params[0][0]) + params[0][1])

    def block(name, h):
        (W1, b1), (We, be), (g1, c1), (W2, b2), (g2, c2) = params[1 + PER_BLOCK * BLOCKS.index(name):][:PER_BLOCK]
        G = groups_for(W1.shape[1], groups)
        h1 = a(group_norm(conv2d(h, W1, b1) + (anp.dot(e, We) + be)[:, None, None, :], g1, c1, G))
        return a(group_norm(conv2d(h1, W2, b2), g2, c2, G))
    scale = anp.sqrt(sigma ** 2 + SIGMA_DATA ** 2)[:, None]
    h0 = anp.reshape(x / scale, (-1, side, side, 1))
    s1 = block("enc1", h0)
    s2 = block("enc2", avg_pool(s1))
    m = block("mid", avg_pool(s2))
    d2 = block("dec2", anp.concatenate([upsample(m), s2], axis=-1))
    d1 = block("dec1", anp.concatenate([upsample(d2), s1], axis=-1))
    out = anp.reshape(conv2d(d1, *params[-1]), x.shape)
    return -x / scale ** 2 + SIGMA_DATA / scale * out / sigma[:, None]
