"""The primitives of the MLPs, each with its forward, VJP and JVP written once: affine layers,
activations, Fourier features, the residual block, and image patches (those of the convolutional
network are :mod:`npscore.nn.conv`).

A network is affine layers ``z = h W + b`` (``W : (fan_in, fan_out)``)
alternating with elementwise activations ``h = a(z)``. Values ``h : (B, n)``
carry a batch; tangents ``dh : (B, K, n)`` carry K directions per example
(forward mode, ``dh = (dh/dx) v``).

Each rule below is one line or two with the maths it implements. The
``*_tangent_vjp`` rules run backwards through a forward-mode push, which is
how the parameter gradient of anything built from ``(ds/dx) v`` (sliced
score matching, the Jacobian trace) is found: a tangent ``dz = dh W`` is
linear in W, and ``dh = a'(z) dz`` depends on z through ``a'`` (hence a'').

Last, :func:`patches` gathers each pixel's neighbourhood of an image batch
(the input of a per-pixel network, :class:`npscore.mnist.model.GatedScore`'s
local gate), with its adjoint.
"""
import math

from .. import backend


def _rows(a):
    """``(B, K, n) -> (B K, n)``: one matmul for all tangents."""
    return a.reshape(-1, a.shape[-1])


# ---------------------------------------------------------------- affine: z = h W + b
def affine(h, W, b):
    """z = h W + b."""
    z = h @ W
    z += b                                               # z = h W + b, without a second array
    return z


def affine_vjp_params(h, g):
    """``(dL/dW, dL/db)`` for ``g = dL/dz``: ``h^T g`` and ``sum_B g``."""
    return h.T @ g, g.sum(axis=0)


def affine_vjp_input(W, g):
    """dL/dh = g W^T for ``g = dL/dz``."""
    return g @ W.T


def affine_jvp(dh, W):
    """dz = dh W (b is constant), for tangents ``dh : (B, K, n)``."""
    return (_rows(dh) @ W).reshape(dh.shape[:-1] + (W.shape[1],))


def affine_tangent_vjp(dh, W, G):
    """``(dL/dW, dL/d(dh))`` for ``G = dL/d(dz)`` through dz = dh W:
    ``sum_{B,K} dh^T G`` and ``G W^T``."""
    return _rows(dh).T @ _rows(G), affine_jvp(G, W.T)


# ---------------------------------------------------------------- activation: h = a(z)
def activation_vjp(d1, g):
    """dL/dz = g a'(z), with ``d1 = a'(z)``."""
    return g * d1


def activation_jvp(d1, dz):
    """dh = a'(z) dz, for tangents ``dz : (B, K, n)``."""
    return d1[:, None, :] * dz


def activation_tangent_vjp(d1, d2, dz, G):
    """``(dL/dz, dL/d(dz))`` for ``G = dL/d(dh)`` through dh = a'(z) dz:
    ``a''(z) sum_K G dz`` and ``a'(z) G``."""
    return d2 * (G * dz).sum(axis=1), d1[:, None, :] * G


def patches(h, side, window):
    """im2col: ``(B, side^2)`` images to ``(B, window^2, side^2)``, channel
    ``n = i window + j`` holding each pixel's neighbour at offset ``(i - r, j - r)``,
    ``r = window // 2`` (zero outside the image). Linear in ``h``;
    :func:`patches_vjp` is its adjoint."""
    xp, B, r = backend.xp(), h.shape[0], window // 2
    padded = xp.pad(h.reshape(B, side, side), ((0, 0), (r, r), (r, r)))
    return xp.stack([padded[:, i:i + side, j:j + side] for i in range(window) for j in range(window)],
                    axis=1).reshape(B, window * window, side * side)


def patches_vjp(g, side, window):
    """dL/dh for ``g = dL/d patches(h)``: each pixel sums the cotangents of the windows it lies in."""
    xp, r = backend.xp(), window // 2
    g = g.reshape(g.shape[0], window * window, side, side)
    out = xp.zeros((g.shape[0], side + 2 * r, side + 2 * r), dtype=g.dtype)
    for n in range(window * window):
        i, j = divmod(n, window)
        out[:, i:i + side, j:j + side] += g[:, n]
    return out[:, r:r + side, r:r + side].reshape(g.shape[0], side * side)


# ---------------------------------------------------------------- Fourier features: gamma(u) = [sin 2 pi u B, cos 2 pi u B]
def fourier(u, B):
    """``(gamma, (s, c))``: ``gamma(u) = [sin(2 pi u B), cos(2 pi u B)] : (batch, 2F)`` for a fixed
    ``B : (D, F)`` (Tancik et al. 2020), with ``s, c`` the sine and cosine the other rules reuse."""
    xp = backend.xp()
    phase = (2.0 * math.pi) * (u @ B)
    s, c = xp.sin(phase), xp.cos(phase)
    return xp.concatenate([s, c], axis=1), (s, c)


def fourier_vjp(sc, B, g):
    """dL/du for ``g = dL/d gamma``: with ``p = 2 pi u B``, ``d sin p = cos p dp`` and
    ``d cos p = -sin p dp``, so ``dL/du = 2 pi (g_s cos p - g_c sin p) B^T``."""
    s, c = sc
    F = s.shape[-1]
    return (2.0 * math.pi) * ((g[..., :F] * c - g[..., F:] * s) @ B.T)


def fourier_jvp(sc, B, du):
    """``d gamma = [cos p dp, -sin p dp]`` with ``dp = 2 pi du B``, for tangents ``du : (batch, K, D)``."""
    xp = backend.xp()
    s, c = sc
    dp = (2.0 * math.pi) * affine_jvp(du, B)
    return xp.concatenate([c[:, None, :] * dp, -s[:, None, :] * dp], axis=2)


def fourier_tangent_vjp(sc, B, du, G):
    """``(dL/du, dL/d(du))`` for ``G = dL/d(d gamma)`` through ``d gamma = [cos p dp, -sin p dp]``:
    ``dL/d(du) = 2 pi (G_s cos p - G_c sin p) B^T`` per tangent, and, through p's place in
    ``cos p`` and ``sin p``, ``dL/du = 2 pi sum_K (-G_s sin p - G_c cos p) dp B^T``."""
    s, c = sc
    F = s.shape[-1]
    dp = (2.0 * math.pi) * affine_jvp(du, B)
    Gs, Gc = G[..., :F], G[..., F:]
    g_p = -(Gs * s[:, None, :] + Gc * c[:, None, :]) * dp           # (batch, K, F)
    g_du = (2.0 * math.pi) * affine_jvp(Gs * c[:, None, :] - Gc * s[:, None, :], B.T)
    return (2.0 * math.pi) * (g_p.sum(axis=1) @ B.T), g_du


# ---------------------------------------------------------------- residual block: h' = h + a(h W1 + b1) W2 + b2
def residual(h, W1, b1, W2, b2, act, order=1):
    """``(h', (a, d))``: ``h' = h + a(z) W2 + b2`` with ``z = h W1 + b1``; ``a = a(z)`` and its
    derivatives ``d = (a'(z), a''(z))[:order]`` are what the other rules take."""
    a, *d = act(affine(h, W1, b1), order)
    return h + affine(a, W2, b2), (a, d)


def residual_vjp(h, cache, W1, W2, g):
    """``((dW1, db1, dW2, db2), dL/dh)`` for ``g = dL/dh'``:
    ``dL/dz = a'(z) (g W2^T)`` and ``dL/dh = g + dL/dz W1^T`` (the skip adds g)."""
    a, (d1, *_) = cache
    gW2, gb2 = affine_vjp_params(a, g)
    gz = activation_vjp(d1, affine_vjp_input(W2, g))
    gW1, gb1 = affine_vjp_params(h, gz)
    return (gW1, gb1, gW2, gb2), g + affine_vjp_input(W1, gz)


def residual_jvp(cache, W1, W2, dh):
    """``(dh', (dz, da))``: ``dh' = dh + (a'(z) dz) W2`` with ``dz = dh W1``, for ``dh : (batch, K, n)``."""
    d1 = cache[1][0]
    dz = affine_jvp(dh, W1)
    da = activation_jvp(d1, dz)
    return dh + affine_jvp(da, W2), (dz, da)


def residual_tangent_vjp(h, cache, W1, W2, dh, tangents, g, G):
    """``((dW1, db1, dW2, db2), dL/dh, dL/d(dh))`` of ``L(h', dh')`` for ``g = dL/dh'`` and
    ``G = dL/d(dh')``: the value path of :func:`residual_vjp` plus the tangent path,
    ``dW2 += sum da^T G``, ``dW1 += sum dh^T G_z`` and ``dL/dz += a''(z) sum_K G_a dz``."""
    a, (d1, d2) = cache
    dz, da = tangents
    gW2, gb2 = affine_vjp_params(a, g)
    gW2t, Ga = affine_tangent_vjp(da, W2, G)
    gz_t, Gz = activation_tangent_vjp(d1, d2, dz, Ga)
    gz = activation_vjp(d1, affine_vjp_input(W2, g)) + gz_t
    gW1, gb1 = affine_vjp_params(h, gz)
    gW1t, Gh = affine_tangent_vjp(dh, W1, Gz)
    return (gW1 + gW1t, gb1, gW2 + gW2t, gb2), g + affine_vjp_input(W1, gz), G + Gh
