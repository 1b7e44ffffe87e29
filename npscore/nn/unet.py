"""A convolutional U-Net score model for images, from the primitives of :mod:`npscore.nn.conv`.

.. math:: s_\\theta(x, \\sigma) = -\\frac{x}{\\sigma^2 + \\sigma_d^2}
          + \\frac{\\sigma_d}{\\sqrt{\\sigma^2 + \\sigma_d^2}}
            \\frac{\\mathrm{UNet}_\\theta(c(\\sigma) x, \\gamma(\\sigma))}{\\sigma},
          \\qquad c(\\sigma) = 1 / \\sqrt{\\sigma^2 + \\sigma_d^2}

Karras et al. 2022's preconditioning (EDM) written as a score, with ``sigma_d`` (:data:`SIGMA_DATA`)
the data's scale: the first term is the exact score of ``N(0, sigma_d^2 I)`` noised to sigma, so the
network learns only what the data adds to a Gaussian, with inputs and targets of unit scale at every
level (the target of ``UNet`` is ``-eps`` scaled by ``sqrt(sigma^2 + sigma_d^2) / sigma_d``, less the
Gaussian's part). At large sigma the denoiser ``x + sigma^2 s`` is then near the Gaussian's, ``x sigma_d^2 /
(sigma^2 + sigma_d^2)``, from the first step, where a bare ``UNet / sigma`` must learn to reproduce its own
input through the whole network. ``gamma(sigma)`` is the library's embedding of ``log sigma``
(:func:`npscore.nn.conditional.sigma_embedding`), mapped by one dense layer and the activation to ``e``
(width ``4 c_1``).

The network on a ``side x side`` image (``x : (B, side^2)``, one channel), channels
``(c_1, c_2, c_3)``, every convolution 3 x 3 with zero padding:

====================  =====================================================================
``enc1``              block(1 -> c_1) at side; its output is the first skip
``enc2``              2 x 2 average pooling, block(c_1 -> c_2) at side / 2; the second skip
``mid``               pooling, block(c_2 -> c_3) at side / 4
``dec2``              nearest upsampling, [., skip 2], block(c_3 + c_2 -> c_2)
``dec1``              upsampling, [., skip 1], block(c_2 + c_1 -> c_1)
``out``               a 3 x 3 convolution c_1 -> 1, zero at initialisation
====================  =====================================================================

A block is two convolutions, each followed by group normalisation and the activation, with the
embedding added to the first convolution's output through the block's own dense layer:

.. math:: h_1 = a(\\mathrm{GN}(\\mathrm{conv}_1(h) + e W_e + b_e)), \\qquad
          \\mathrm{block}(h) = a(\\mathrm{GN}(\\mathrm{conv}_2(h_1)))

Params are a list of pairs (as every npscore model's): the embedding's ``(W, b)``, then per block
``conv_1 (W, b)``, ``(W_e, b_e)``, ``GN_1 (gamma, beta)``, ``conv_2 (W, b)``, ``GN_2 (gamma, beta)``,
then ``out (W, b)``. The passes run through the blocks in order and back, each step one primitive.
Its Jacobian trace is not written out (``exact_trace = False``): the likelihood uses Hutchinson's
estimate, which needs :meth:`ScoreModel.vjp_x` only.
"""
from .. import backend, checks
from . import activations
from .conditional import sigma_embedding
from .conv import (avg_pool, avg_pool_vjp, conv2d, conv2d_vjp_input, conv2d_vjp_params, group_norm,
                   group_norm_vjp, pixel_sum, split_channels, upsample, upsample_vjp)
from .mlp import check_inputs
from .score_model import ScoreModel

#: params per block: conv_1, embedding projection, GN_1, conv_2, GN_2
PER_BLOCK = 5
#: ``sigma_d``, the data's scale in the preconditioning (EDM's 0.5; MNIST's pixels have std 0.31)
SIGMA_DATA = 0.5
BLOCKS = ("enc1", "enc2", "mid", "dec2", "dec1")


def groups_for(channels, groups):
    """The largest number of groups up to ``groups`` that divides ``channels``."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


class UNet(ScoreModel):
    """``s(x, sigma)`` above, a :class:`npscore.nn.score_model.ScoreModel`.

    Parameters
    ----------
    side : int
        Images are ``side x side`` (a multiple of 4), ``x : (B, side^2)``.
    channels : (c_1, c_2, c_3)
    groups : int
        Group normalisation's groups (fewer where they do not divide a block's channels).
    sigma_features : int
        Fourier features of ``log sigma`` in ``gamma(sigma)``.
    activation : str
        An activation of :mod:`npscore.nn.activations`.
    """

    exact_trace = False
    cond_dim = 0

    def __init__(self, side=28, channels=(32, 64, 64), groups=8, sigma_features=16, activation="swish"):
        self.side = checks.integer(side, "side")
        if side % 4:
            raise ValueError(f"side must be a multiple of 4 (two 2 x 2 poolings); got {side}")
        if len(channels) != 3:
            raise ValueError(f"channels must be three widths (c_1, c_2, c_3); got {channels!r}")
        self.channels = tuple(checks.integer(c, "channels[i]") for c in channels)
        self.groups = checks.integer(groups, "groups")
        self.sigma_features = checks.integer(sigma_features, "sigma_features", 0)
        self.activation, self.act = activation, activations.get(activation)
        self.in_dim = self.out_dim = side * side
        c1, c2, c3 = self.channels
        self.embed = 4 * c1
        self.block_io = {"enc1": (1, c1), "enc2": (c1, c2), "mid": (c2, c3), "dec2": (c3 + c2, c2),
                         "dec1": (c2 + c1, c1)}

    @property
    def sample_batch(self):
        """The most images one sampling pass sees: 1000 on CuPy (im2col of 1000 images of 28 x 28
        pixels with 128 channels is 3.6 GB in float32), 64 on NumPy, where a pass whose arrays stay
        small is faster per image than one over hundreds (``benchmarks/README.md``)."""
        return 1000 if backend.name() == "cupy" else 64

    def __repr__(self):
        return (f"UNet(side={self.side}, channels={self.channels}, groups={self.groups}, "
                f"sigma_features={self.sigma_features}, activation={self.activation!r})")

    def shapes(self):
        """``[(shape, shape), ...]``: the embedding, five pairs per block, the output convolution."""
        out = [((1 + 2 * self.sigma_features, self.embed), (self.embed,))]
        for name in BLOCKS:
            cin, cout = self.block_io[name]
            out += [((9 * cin, cout), (cout,)), ((self.embed, cout), (cout,)), ((cout,), (cout,)),
                    ((9 * cout, cout), (cout,)), ((cout,), (cout,))]
        return out + [((9 * self.channels[0], 1), (1,))]

    def init(self, seed, dtype="float64"):
        """Weights ``N(0, 1 / fan_in)``, biases 0, GN's ``gamma = 1, beta = 0``, the output convolution 0
        (so ``s = 0`` at the start)."""
        dtype, rng, xp = backend.check_dtype(dtype), backend.rng(seed), backend.xp()
        params = []
        for i, (ws, bs) in enumerate(self.shapes()):
            if len(ws) == 1:                                                    # GN: (gamma, beta)
                params.append((xp.ones(ws, dtype=dtype), xp.zeros(bs, dtype=dtype)))
            elif i == len(self.shapes()) - 1:
                params.append((xp.zeros(ws, dtype=dtype), xp.zeros(bs, dtype=dtype)))
            else:
                params.append((rng.normal(ws, dtype) / float(ws[0]) ** 0.5, xp.zeros(bs, dtype=dtype)))
        return params

    def flops_per_image(self):
        """Floating-point operations of one image's forward pass in its matrix products (2 per
        multiply-add of every convolution and dense layer; the elementwise work is not counted)."""
        sides = {"enc1": self.side, "enc2": self.side // 2, "mid": self.side // 4, "dec2": self.side // 2,
                 "dec1": self.side}
        total = 2 * (1 + 2 * self.sigma_features) * self.embed
        for name in BLOCKS:
            cin, cout = self.block_io[name]
            total += 2 * sides[name] ** 2 * 9 * (cin + cout) * cout + 2 * self.embed * cout
        return total + 2 * self.side ** 2 * 9 * self.channels[0]

    def check(self, params, x, sigma):
        """``params`` must fit :meth:`shapes`, ``x`` be ``(B, side^2)``."""
        check_inputs(self, params, x)

    def input_scale(self, sigma):
        """``c(sigma) = 1 / sqrt(sigma^2 + sigma_d^2) : (B, 1)``."""
        return (1.0 / backend.xp().sqrt(sigma * sigma + SIGMA_DATA ** 2))[:, None]

    def output_scale(self, sigma):
        """``sigma_d / (sigma sqrt(sigma^2 + sigma_d^2)) : (B, 1)``, the factor of the network's output."""
        return SIGMA_DATA * self.input_scale(sigma) / sigma[:, None]

    def skip(self, sigma):
        """``-1 / (sigma^2 + sigma_d^2) : (B, 1)``, the Gaussian's score per unit of x."""
        return (-1.0 / (sigma * sigma + SIGMA_DATA ** 2))[:, None]

    def _block(self, name, params):
        i = 1 + PER_BLOCK * BLOCKS.index(name)
        return params[i:i + PER_BLOCK]

    # ------------------------------------------------------------ a block
    def _block_forward(self, p, h, e, order):
        (W1, b1), (We, be), (g1, c1), (W2, b2), (g2, c2) = p
        groups = groups_for(W1.shape[1], self.groups)
        z1, cols1 = conv2d(h, W1, b1)
        z1 += (e @ We + be)[:, None, None, :]
        y1, gn1 = group_norm(z1, g1, c1, groups)
        h1, *d1 = self.act(y1, order)
        z2, cols2 = conv2d(h1, W2, b2)
        y2, gn2 = group_norm(z2, g2, c2, groups)
        out, *d2 = self.act(y2, order)
        return out, (cols1, gn1, d1, cols2, gn2, d2, h.shape[-1], groups)

    def _block_vjp(self, p, cache, e, g, param_grads, input_grad=True):
        """``(grads, dL/dh, dL/de)`` for ``g = dL/d block(h)`` (``dL/dh`` None without ``input_grad``)."""
        (W1, _), (We, _), (g1, _), (W2, _), (g2, _) = p
        cols1, gn1, d1, cols2, gn2, d2, cin, groups = cache
        gz2, dg2, dc2 = group_norm_vjp(gn2, g2, g * d2[0], groups)
        gh1 = conv2d_vjp_input(W2, gz2, W2.shape[0] // 9)
        gz1, dg1, dc1 = group_norm_vjp(gn1, g1, gh1 * d1[0], groups)
        gproj = pixel_sum(gz1)                                                  # (B, c_out): the added e W_e + b_e
        grads = None
        if param_grads:
            grads = [conv2d_vjp_params(cols1, gz1), (e.T @ gproj, gproj.sum(axis=0)), (dg1, dc1),
                     conv2d_vjp_params(cols2, gz2), (dg2, dc2)]
        return grads, conv2d_vjp_input(W1, gz1, cin) if input_grad else None, gproj @ We.T

    # ------------------------------------------------------------ the network
    def _forward(self, params, x, sigma, order=1):
        xp, n = backend.xp(), self.side
        (We, be), (Wo, bo) = params[0], params[-1]
        ze = sigma_embedding(sigma, self.sigma_features) @ We + be
        e, *de = self.act(ze, order)
        h0 = (self.input_scale(sigma) * x).reshape(-1, n, n, 1)
        caches = {}

        def block(name, h):
            out, caches[name] = self._block_forward(self._block(name, params), h, e, order)
            return out
        s1 = block("enc1", h0)
        s2 = block("enc2", avg_pool(s1))
        m = block("mid", avg_pool(s2))
        d2 = block("dec2", xp.concatenate([upsample(m), s2], axis=-1))
        d1 = block("dec1", xp.concatenate([upsample(d2), s1], axis=-1))
        o, cols_out = conv2d(d1, Wo, bo)
        s = self.skip(sigma) * x + self.output_scale(sigma) * o.reshape(x.shape)
        return s, (sigma, e, de, caches, cols_out)

    def _backward(self, params, cache, g, param_grads=True, input_grad=True):
        """``(dL/dtheta or None, dL/dh0 or None)`` for ``g = dL/ds`` (a training step needs no ``dL/dh0``:
        skipping it saves the first block's input convolution)."""
        sigma, e, de, caches, cols_out = cache
        n, (c1, c2, _) = self.side, self.channels
        Wo = params[-1][0]
        go = (self.output_scale(sigma) * g).reshape(-1, n, n, 1)
        grads, ge = {}, 0.0

        def back(name, gout, input_grad=True):
            nonlocal ge
            grads[name], gin, g_e = self._block_vjp(self._block(name, params), caches[name], e, gout, param_grads,
                                                    input_grad)
            ge = ge + g_e
            return gin
        gd1 = conv2d_vjp_input(Wo, go, c1)
        gup2, gs1 = split_channels(back("dec1", gd1), (c2, c1))
        gup1, gs2 = split_channels(back("dec2", upsample_vjp(gup2)), (self.channels[2], c2))
        gs2 = gs2 + avg_pool_vjp(back("mid", upsample_vjp(gup1)))
        gs1 = gs1 + avg_pool_vjp(back("enc2", gs2))
        gh0 = back("enc1", gs1, input_grad)
        if not param_grads:
            return None, gh0
        gze = ge * de[0]
        gamma = sigma_embedding(sigma, self.sigma_features)
        out = [(gamma.T @ gze, gze.sum(axis=0))]
        for name in BLOCKS:
            out += grads[name]
        return out + [conv2d_vjp_params(cols_out, go)], gh0

    def backward(self, params, cache, g, head_only=False):
        """``dL/dtheta`` of ``L = sum(g * s)`` from a :meth:`forward` cache (``head_only`` is the
        gated MLP's; a U-Net has no head)."""
        if head_only:
            raise ValueError("head_only: the U-Net has no head of its own to train alone")
        return self._backward(params, cache, g, input_grad=False)[0]

    def _vjp(self, params, x, cache, g, param_grads):
        """``(g^T ds/dtheta or None, g^T ds/dx)``: ``dL/dx = c(sigma) dL/dh0 - g / (sigma^2 + sigma_d^2)``."""
        grads, gh0 = self._backward(params, cache, g, param_grads)
        sigma = cache[0]
        return grads, self.input_scale(sigma) * gh0.reshape(x.shape) + self.skip(sigma) * g
