"""The two primitives of the MLP, each with its forward, VJP and JVP written once.

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
from .. import backend


def _rows(a):
    """``(B, K, n) -> (B K, n)``: one matmul for all tangents."""
    return a.reshape(-1, a.shape[-1])


# ---------------------------------------------------------------- affine: z = h W + b
def affine(h, W, b):
    """z = h W + b."""
    return h @ W + b


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
