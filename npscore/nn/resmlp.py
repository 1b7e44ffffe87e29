r"""A residual MLP on Fourier features of its input: a score model that can learn thin structure.

.. math::

    h_0 = [u, \gamma(u), c], \qquad \gamma(u) = [\sin 2\pi u B, \cos 2\pi u B], \\
    h_1 = a(h_0 W_{in} + b_{in}), \qquad
    h_{k+1} = h_k + a(h_k W_{k,1} + b_{k,1}) W_{k,2} + b_{k,2} \ (k = 1 \dots K), \\
    s(u) = h_{K+1} W_{out} + b_{out}

for an input ``u : (B, D)`` and a conditioning input ``c`` (the noise level's
embedding, :mod:`npscore.nn.conditional`). ``B : (D, F)`` is fixed, not
trained: :func:`frequencies` draws it from ``N(0, scale^2)`` with a fixed
seed (random Fourier features, Tancik et al. 2020), so the config's ``F``
and ``scale`` rebuild it. A score that varies on a length ``l`` needs
features of frequency about ``1 / l``, which an MLP on raw coordinates,
biased towards smooth functions, is slow to build (the spectral bias); the
residual blocks keep depth from hurting training (He et al. 2016).

Every pass is a loop over the primitives of :mod:`npscore.nn.layers`
(``fourier``, ``affine``, the activation, ``residual``) with the same
contracts as :class:`npscore.nn.MLP`, whose public passes it inherits. The
exact trace pushes the D tangents ``e_i`` through the network and contracts
the last hidden tangent with ``W_out`` (``tr = sum_i (dh_{K+1} e_i) W_out[:, i]``),
so the ``(B, D, D)`` Jacobian is never formed; the chain rule through
``gamma`` is the seed ``d gamma = [cos p, -sin p] (2 pi e_i B)``.
"""
from collections import namedtuple

from .. import backend, checks
from .layers import (activation_jvp, activation_tangent_vjp, activation_vjp, affine, affine_jvp,
                     affine_tangent_vjp, affine_vjp_input, affine_vjp_params, fourier, fourier_jvp,
                     fourier_vjp, residual, residual_jvp, residual_tangent_vjp, residual_vjp)
from .mlp import MLP

#: ``h0`` the input row ``[u, gamma(u), c]``, ``sc`` gamma's (sin, cos), ``d_in`` the first
#: activation's derivatives, ``h[k]`` block k's input, ``blocks[k]`` its cache, ``last`` the readout's input
ResValues = namedtuple("ResValues", "h0 sc d_in h blocks last")
#: ``dz_in`` the first pre-activation's tangents, ``dh[k]`` block k's input tangents,
#: ``blocks[k]`` its inner tangents, ``last`` the readout input's, ``out`` ``(ds/du) v``
ResTangents = namedtuple("ResTangents", "dz_in dh blocks last out")

#: the seed of the frequency matrix B (a fixed draw, so a config rebuilds it)
FREQUENCY_SEED = 20190321


def frequencies(D, F, scale, dtype="float64"):
    """``B : (D, F)``, entries ``N(0, scale^2)`` from a fixed seed (the same B for the same D, F, scale),
    drawn in float64 and then cast, so that a float32 model and its float64 copy share B."""
    return (scale * backend.rng(FREQUENCY_SEED, D).normal((D, F), "float64")).astype(dtype) if F else None


class ResidualMLP(MLP):
    """``D -> H -> K residual blocks of width H -> D_out`` on ``[u, gamma(u), c]``.

    Parameters
    ----------
    in_dim, out_dim : int
    hidden : int
        H, the width of every block.
    n_blocks : int
        K >= 0 residual blocks.
    activation : str
        As :class:`npscore.nn.MLP`.
    cond_dim : int
        Width of the conditioning input ``c``.
    fourier_features : int
        F, the frequencies of ``gamma`` (0: no Fourier features, ``h_0 = [u, c]``).
    fourier_scale : float
        The standard deviation of B's entries, in cycles per unit of ``u``.
    """

    def __init__(self, in_dim, out_dim, hidden=128, n_blocks=3, activation="swish", cond_dim=0,
                 fourier_features=0, fourier_scale=1.0):
        checks.integer(in_dim, "in_dim")
        super().__init__([in_dim] + [hidden] * (n_blocks + 1) + [out_dim], activation, cond_dim)
        self.hidden = checks.integer(hidden, "hidden")
        self.n_blocks = checks.integer(n_blocks, "n_blocks", 0)
        self.n_fourier = checks.integer(fourier_features, "fourier_features", 0)
        self.fourier_scale = checks.positive(fourier_scale, "fourier_scale")
        self.emb_dim = in_dim + 2 * self.n_fourier         # the x-dependent part of h_0

    def __repr__(self):
        return (f"ResidualMLP({self.in_dim} -> {self.hidden} x {self.n_blocks} blocks -> {self.out_dim}, "
                f"activation={self.activation!r}, cond_dim={self.cond_dim}, fourier_features={self.n_fourier}, "
                f"fourier_scale={self.fourier_scale})")

    def shapes(self):
        """``[(W_in, b_in), (W_11, b_11), (W_12, b_12), ..., (W_out, b_out)]`` shapes."""
        H = self.hidden
        block = [((H, H), (H,)), ((H, H), (H,))]
        return [((self.emb_dim + self.cond_dim, H), (H,))] + block * self.n_blocks + [((H, self.out_dim),
                                                                                         (self.out_dim,))]

    def init(self, seed, dtype="float64"):
        """LeCun normal as :meth:`MLP.init`, with each block's second layer scaled by
        ``1 / sqrt(K)`` so that the residual stream's variance stays O(1) with depth."""
        params = super().init(seed, dtype)
        for k in range(self.n_blocks):
            W, b = params[2 + 2 * k]
            params[2 + 2 * k] = (W / float(max(self.n_blocks, 1)) ** 0.5, b)
        return params

    def _B(self, dtype):
        return frequencies(self.in_dim, self.n_fourier, self.fourier_scale, dtype)

    def _blocks(self, params):
        """``[(W1, b1, W2, b2), ...]``, one per block."""
        return [params[1 + 2 * k] + params[2 + 2 * k] for k in range(self.n_blocks)]

    # ------------------------------------------------------------ the loops
    def _forward(self, params, x, c=None, order=1):
        xp = backend.xp()
        parts, sc = [x], None
        if self.n_fourier:
            gamma, sc = fourier(x, self._B(x.dtype))
            parts.append(gamma)
        h0 = xp.concatenate(parts + ([] if c is None else [c]), axis=1)
        h, *d_in = self.act(affine(h0, *params[0]), order)
        hs, caches = [], []
        for W1, b1, W2, b2 in self._blocks(params):
            hs.append(h)
            h, cache = residual(h, W1, b1, W2, b2, self.act, order)
            caches.append(cache)
        return affine(h, *params[-1]), ResValues(h0, sc, d_in, hs, caches, h)

    def _backward(self, params, values, g, param_grads=True):
        """``(dL/dtheta, dL/dz_in)`` for ``g = dL/ds`` (without ``param_grads``, ``(None, dL/dz_in)``)."""
        grads = [None] * len(params)
        W_out = params[-1][0]
        if param_grads:
            grads[-1] = affine_vjp_params(values.last, g)
        g = affine_vjp_input(W_out, g)
        blocks = self._blocks(params)
        for k in range(self.n_blocks - 1, -1, -1):
            W1, _, W2, _ = blocks[k]
            (gW1, gb1, gW2, gb2), g = residual_vjp(values.h[k], values.blocks[k], W1, W2, g)
            grads[1 + 2 * k], grads[2 + 2 * k] = (gW1, gb1), (gW2, gb2)
        g = activation_vjp(values.d_in[0], g)
        if not param_grads:
            return None, g
        grads[0] = affine_vjp_params(values.h0, g)
        return grads, g

    def _seed(self, params, values, v):
        """``dz_in = [v, d gamma] W_in[:D + 2F]`` for x-space tangents ``v : (B, K, D)``."""
        return affine_jvp(self._seed_rows(values, v), params[0][0][: self.emb_dim])

    def _seed_rows(self, values, v):
        """``dh_0``'s x-dependent part, ``[v, d gamma(u) v] : (B, K, D + 2F)``."""
        if not self.n_fourier:
            return v
        return backend.xp().concatenate([v, fourier_jvp(values.sc, self._B(v.dtype), v)], axis=2)

    def _seed_vjp(self, params, values, v, G0, grads):
        """``dL/dW_in[:D + 2F] += sum dh_0^T G0`` for ``G0 = dL/d(dz_in)``."""
        grads[0][0][: self.emb_dim] += affine_tangent_vjp(self._seed_rows(values, v),
                                                          params[0][0][: self.emb_dim], G0)[0]

    def _input_vjp(self, params, values, gz0):
        """dL/du from ``gz0 = dL/dz_in``: the rows of ``u`` and, through ``gamma``, of its features."""
        gh0 = affine_vjp_input(params[0][0][: self.emb_dim], gz0)
        gx = gh0[:, : self.in_dim]
        if self.n_fourier:
            gx = gx + fourier_vjp(values.sc, self._B(gz0.dtype), gh0[:, self.in_dim:])
        return gx

    def _push(self, params, values, dz_in, readout=True):
        """Tangents of every layer from ``dz_in : (B, K, H)``; ``out = (ds/du) v`` when ``readout``."""
        dh = activation_jvp(values.d_in[0], dz_in)
        dhs, inner = [], []
        for k, (W1, _, W2, _) in enumerate(self._blocks(params)):
            dhs.append(dh)
            dh, t = residual_jvp(values.blocks[k], W1, W2, dh)
            inner.append(t)
        out = affine_jvp(dh, params[-1][0]) if readout else None
        return ResTangents(dz_in, dhs, inner, dh, out)

    def _backward_dual(self, params, values, tangents, g, G, G_last=None):
        """``(dL/dtheta, dL/dz_in, dL/d(dz_in))`` for ``g = dL/ds`` and ``G = dL/d((ds/du) v)``
        (or ``G_last = dL/d(dh_{K+1})`` given directly, ``G`` None)."""
        grads = [None] * len(params)
        W_out = params[-1][0]
        gW, gb = affine_vjp_params(values.last, g)
        if G is not None:
            gWt, G_last = affine_tangent_vjp(tangents.last, W_out, G)
            gW = gW + gWt
        grads[-1] = (gW, gb)
        g, G = affine_vjp_input(W_out, g), G_last
        blocks = self._blocks(params)
        for k in range(self.n_blocks - 1, -1, -1):
            W1, _, W2, _ = blocks[k]
            (gW1, gb1, gW2, gb2), g, G = residual_tangent_vjp(values.h[k], values.blocks[k], W1, W2,
                                                              tangents.dh[k], tangents.blocks[k], g, G)
            grads[1 + 2 * k], grads[2 + 2 * k] = (gW1, gb1), (gW2, gb2)
        d1, d2 = values.d_in
        gz_t, G = activation_tangent_vjp(d1, d2, tangents.dz_in, G)
        g = activation_vjp(d1, g) + gz_t
        grads[0] = affine_vjp_params(values.h0, g)
        return grads, g, G

    def _out_tangent(self, tangents):
        return tangents.out

    # ------------------------------------------------------------ the exact trace
    def _trace_pass(self, params, x, c, order):
        xp = backend.xp()
        if self.in_dim != self.out_dim:
            raise ValueError(f"model must have a square Jacobian for its trace; {self} maps "
                             f"{self.in_dim} -> {self.out_dim}")
        out, values = self._forward(params, x, c, order)
        eye = xp.ascontiguousarray(xp.broadcast_to(xp.eye(self.in_dim, dtype=x.dtype),
                                                   (x.shape[0], self.in_dim, self.in_dim)))
        return out, values, eye, self._push(params, values, self._seed(params, values, eye), readout=False)

    def _trace(self, params, x, c=None, method=None):
        """``(s, tr(ds/du))``: ``tr = sum_i (dh_{K+1} e_i) . W_out[:, i]``, unchecked."""
        out, _, _, tangents = self._trace_pass(params, x, c, order=1)
        return out, backend.xp().einsum("bkh,hk->b", tangents.last, params[-1][0])

    def _trace_and_vjp(self, params, x, c, w, g=None, method=None):
        """``(s, tr, grads)``: grads of ``sum_b w_b tr_b + sum(g * s)`` (``g`` an array, a callable
        of the output, or None)."""
        xp = backend.xp()
        out, values, eye, tangents = self._trace_pass(params, x, c, order=2)
        W_out = params[-1][0]
        g = xp.zeros_like(out) if g is None else (g(out) if callable(g) else g)
        G_last = w[:, None, None] * W_out.T[None, :, :]            # d/d(dh_{K+1}) of w_b dh_bk. W_out[:, k]
        grads, _, G0 = self._backward_dual(params, values, tangents, g, None, G_last)
        grads[-1][0][...] += xp.einsum("bkh,b->hk", tangents.last, w)   # the contraction's own W_out
        self._seed_vjp(params, values, eye, G0, grads)
        return out, xp.einsum("bkh,hk->b", tangents.last, W_out), grads
