"""The primitives of a convolutional network, each with its forward, VJP and JVP written once.

Images are channels-last, ``h : (B, H, W, C)``. Each rule is a line or two beside the maths it
implements; every one but group normalisation is linear in ``h``, so its JVP is the rule itself
applied to the tangent (without the bias), and its VJP is its adjoint.

* :func:`conv2d`: a ``k x k`` convolution with zero ("same") padding, as im2col and one matrix
  product, ``z[b, i, j] = sum_{u, v, c} h[b, i + u - r, j + v - r, c] W[(u k + v) C + c] + bias``
  with ``r = k // 2`` and ``W : (k^2 C, C_out)`` (:func:`im2col` lays out the patches in that order).
* :func:`avg_pool`: 2 x 2 average pooling, ``z[b, i, j] = 1/4 sum_{u, v < 2} h[b, 2i + u, 2j + v]``.
* :func:`upsample`: nearest-neighbour upsampling by 2, ``z[b, i, j] = h[b, i // 2, j // 2]``.
* :func:`group_norm`: ``y = gamma (h - mu_g) / sqrt(var_g + eps) + beta`` with the mean and the
  (biased) variance of each example's group of channels over all pixels (Wu and He 2018).
* Channel concatenation for the skips is ``xp.concatenate(axis=-1)``; its VJP is the split,
  :func:`split_channels`.
"""
from .. import backend

#: the constant added to a group's variance (PyTorch's default)
GN_EPS = 1e-5


# ---------------------------------------------------------------- convolution: z = im2col(h) W + b
def im2col(h, k):
    """``(B, H, W, k^2 C)``: each pixel's ``k x k`` neighbourhood, zero outside the image, in the
    order ``(u, v, c)`` (offset ``(u - r, v - r)``, ``r = k // 2``): one strided view of the padded
    image, copied once."""
    xp, (B, H, W, C), r = backend.xp(), h.shape, k // 2
    padded = xp.pad(h, ((0, 0), (r, r), (r, r), (0, 0))) if r else h
    sB, sH, sW, sC = padded.strides
    view = xp.lib.stride_tricks.as_strided(padded, (B, H, W, k, k, C), (sB, sH, sW, sH, sW, sC))
    return xp.ascontiguousarray(view).reshape(B, H, W, k * k * C)


def col2im(g, k, C):
    """The adjoint of :func:`im2col`: each pixel sums the cotangents of the neighbourhoods it lies in."""
    xp, (B, H, W, _), r = backend.xp(), g.shape, k // 2
    g = g.reshape(B, H, W, k * k, C)
    out = xp.zeros((B, H + 2 * r, W + 2 * r, C), dtype=g.dtype)
    for n in range(k * k):
        u, v = divmod(n, k)
        out[:, u:u + H, v:v + W, :] += g[:, :, :, n, :]
    return out[:, r:r + H, r:r + W, :]


def flipped(Wk, C):
    """The kernel of the convolution's adjoint: ``W'[(u, v, o), c] = W[(k-1-u, k-1-v, c), o]`` (turned
    half a turn, input and output channels swapped), so that ``col2im(g W^T) = im2col(g) W'``."""
    k = _kernel(Wk, C)
    return Wk.reshape(k, k, C, -1)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, C)


def conv2d(h, Wk, b):
    """``(z, cols)``: ``z = im2col(h) W + b : (B, H, W, C_out)`` for ``W : (k^2 C, C_out)``, and the
    patches the VJP of ``W`` reuses."""
    k = _kernel(Wk, h.shape[-1])
    cols = im2col(h, k)
    z = cols.reshape(-1, cols.shape[-1]) @ Wk
    z += b
    return z.reshape(h.shape[:-1] + (Wk.shape[1],)), cols


def conv2d_vjp_params(cols, g):
    """``(dL/dW, dL/db)`` for ``g = dL/dz``: ``im2col(h)^T g`` and ``sum g`` over batch and pixels."""
    return cols.reshape(-1, cols.shape[-1]).T @ g.reshape(-1, g.shape[-1]), channel_sum(g)


def conv2d_vjp_input(Wk, g, C):
    """dL/dh = col2im(g W^T) for ``g = dL/dz`` (the convolution's adjoint), computed as the convolution
    of ``g`` with :func:`flipped` ``W`` (zero padding makes the two equal)."""
    cols = im2col(g, _kernel(Wk, C))
    return (cols.reshape(-1, cols.shape[-1]) @ flipped(Wk, C)).reshape(g.shape[:-1] + (C,))


def conv2d_jvp(dh, Wk):
    """dz = im2col(dh) W: the convolution is linear in h (the bias is constant)."""
    cols = im2col(dh, _kernel(Wk, dh.shape[-1]))
    return (cols.reshape(-1, cols.shape[-1]) @ Wk).reshape(dh.shape[:-1] + (Wk.shape[1],))


def _kernel(Wk, C):
    k = int(round((Wk.shape[0] // C) ** 0.5))
    if k * k * C != Wk.shape[0]:
        raise ValueError(f"the kernel has {Wk.shape[0]} rows; a k x k convolution of {C} channels needs k^2 {C}")
    return k


# ---------------------------------------------------------------- sums over pixels
def pixel_sum(a):
    """``(B, C)``: ``sum_{i, j} a[b, i, j, c]``, as the product ``1^T a_b`` (a BLAS call; NumPy's strided
    reduction over a short last axis is several times slower)."""
    B, H, W, C = a.shape
    return (backend.xp().ones((1, H * W), dtype=a.dtype) @ a.reshape(B, H * W, C)).reshape(B, C)


def channel_sum(a):
    """``(C,)``: ``sum_{b, i, j} a[b, i, j, c]``, as the product ``1^T a`` (as :func:`pixel_sum`)."""
    C = a.shape[-1]
    return backend.xp().ones(a.size // C, dtype=a.dtype) @ a.reshape(-1, C)


# ---------------------------------------------------------------- 2 x 2 average pooling and nearest upsampling
def _even(h, name):
    B, H, W, C = h.shape
    if H % 2 or W % 2:
        raise ValueError(f"{name} works on 2 x 2 blocks: the image must be even in height and width; got {H} x {W}")
    return B, H, W, C


def avg_pool(h):
    """``z = 1/4 sum of each 2 x 2 block : (B, H/2, W/2, C)`` (H, W even); linear, so its JVP is itself."""
    B, H, W, C = _even(h, "avg_pool")
    return h.reshape(B, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4))


def avg_pool_vjp(g):
    """dL/dh = g / 4 spread over each 2 x 2 block (the adjoint of :func:`avg_pool`: ``upsample(g) / 4``)."""
    return upsample(0.25 * g)


def upsample(h):
    """``z[i, j] = h[i // 2, j // 2] : (B, 2H, 2W, C)``; linear, so its JVP is itself."""
    B, H, W, C = h.shape
    return backend.xp().broadcast_to(h[:, :, None, :, None, :], (B, H, 2, W, 2, C)).reshape(B, 2 * H, 2 * W, C)


def upsample_vjp(g):
    """dL/dh = the sum of each 2 x 2 block of ``g`` (the adjoint of :func:`upsample`: ``4 avg_pool(g)``)."""
    B, H, W, C = _even(g, "upsample_vjp")
    return g.reshape(B, H // 2, 2, W // 2, 2, C).sum(axis=(2, 4))


# ---------------------------------------------------------------- channel concatenation (the skips)
def split_channels(g, widths):
    """The VJP of ``concatenate([h_1, ..., h_n], axis=-1)``: ``g`` cut into the inputs' channels."""
    out, start = [], 0
    for w in widths:
        out.append(g[..., start:start + w])
        start += w
    return out


# ---------------------------------------------------------------- group normalisation
def _group_mean(a, groups):
    """``(B, 1, 1, C)``: the mean of ``a : (B, H, W, C)`` over each example's pixels and the channels of
    each group, repeated for the group's channels (sums over pixels first: contiguous, fast)."""
    B, H, W, C = a.shape
    per_group = pixel_sum(a).reshape(B, groups, C // groups).mean(axis=2) / (H * W)
    return backend.xp().repeat(per_group, C // groups, axis=1).reshape(B, 1, 1, C)


def group_norm(h, gamma, beta, groups):
    """``(y, (xhat, inv))``: ``y = gamma xhat + beta``, ``xhat = (h - mu) inv``, ``inv = 1 / sqrt(var + eps)``,
    mean and variance over each example's group of ``C / groups`` channels and all its pixels."""
    if groups < 1 or h.shape[-1] % groups:
        raise ValueError(f"groups must divide the {h.shape[-1]} channels; got {groups}")
    c = h - _group_mean(h, groups)
    inv = 1.0 / backend.xp().sqrt(_group_mean(c * c, groups) + GN_EPS)
    xhat = c * inv
    return xhat * gamma + beta, (xhat, inv)


def _centred(d, xhat, inv, groups):
    """``inv (d - mean_g d - xhat mean_g(d xhat))``: the derivative of ``xhat`` applied to ``d``, with
    group means over a group's channels and pixels (dxhat/dh is symmetric, so this is the VJP and the JVP)."""
    return inv * (d - _group_mean(d, groups) - xhat * _group_mean(d * xhat, groups))


def group_norm_vjp(cache, gamma, g, groups):
    """``(dL/dh, dL/dgamma, dL/dbeta)`` for ``g = dL/dy``: ``dL/dh = inv (g gamma - mean(g gamma)
    - xhat mean(g gamma xhat))``, ``dL/dgamma = sum g xhat``, ``dL/dbeta = sum g`` (over batch and pixels)."""
    xhat, inv = cache
    return _centred(g * gamma, xhat, inv, groups), channel_sum(g * xhat), channel_sum(g)


def group_norm_jvp(cache, gamma, dh, groups):
    """dy = gamma inv (dh - mean(dh) - xhat mean(dh xhat)), for a tangent ``dh`` of ``h``'s shape."""
    xhat, inv = cache
    return gamma * _centred(dh, xhat, inv, groups)
