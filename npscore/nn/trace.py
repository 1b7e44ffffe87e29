r"""The exact Jacobian trace ``tr(ds/dx)`` of an MLP, and its parameter gradient.

Implicit score matching needs ``tr(ds/dx)`` per example (first report,
Definition 1; second report, section 2.2) and its gradient in theta. Both
forms below are exact and never form the ``(B, D, D)`` Jacobian.

Layers are numbered from 1 here, as in the maths (``W_1`` the first weight); :mod:`npscore.nn.mlp`
numbers them from 0 (``params[0]`` is ``W_1``).

**Bilinear form** (two hidden layers). With ``D_l = diag a'(z_l)`` the
Jacobian is ``J = W_3^T D_2 W_2^T D_1 W_1^T`` (``W_1`` restricted to the x
rows), and the cyclic property of the trace gives

.. math::

    \operatorname{tr} J = \operatorname{tr}(D_1 P^T D_2 W_2^T)
                   = d_1^T (W_2 \circ P^T) d_2, \qquad P = W_3 W_1,

with ``P : (H_2, H_1)`` computed once per step: O(B H^2 + D H^2). Its
gradient runs back through ``d_l = a'(z_l)``, hence ``a''``.

**Tangent form** (any depth). Push the identity as tangents and read the
diagonal: in x-space (``D <= H_1``) ``tr J = sum_i (J e_i)_i`` with the seed
``dz_1 = e_i W_1``; in z1-space (``D > H_1``) ``tr J = sum_k w_k^T (ds/dz_1)
e_k`` with ``w_k`` the k-th column of ``W_1``, ``min(D, H_1)`` tangents either
way. Its gradient is the network's backward pass through the tangents.
"""
from .. import backend
from .layers import activation_vjp, affine_vjp_input, affine_vjp_params


def method_for(model):
    """``"bilinear"`` for two hidden layers, else ``"tangents"``; the Jacobian must be square."""
    if model.in_dim != model.out_dim:
        raise ValueError(f"model must have a square Jacobian for its trace; {model} maps "
                         f"{model.in_dim} -> {model.out_dim}")
    return "bilinear" if len(model.sizes) == 4 else "tangents"


def _method(model, method):
    default = method_for(model)
    method = method or default
    if method not in ("bilinear", "tangents"):
        raise ValueError(f"method must be 'bilinear' or 'tangents'; got {method!r}")
    if method == "bilinear" and default != "bilinear":
        raise ValueError(f"method must be 'tangents' for {model}: 'bilinear' needs exactly two hidden layers")
    return method


def _bilinear_parts(model, params):
    """``P = W_3 W_1`` and ``K = W_2 * P^T``."""
    (W1, _), (W2, _), (W3, _) = params
    P = W3 @ W1[: model.in_dim]                           # (H2, H1)
    return P, W2 * P.T                                   # (H1, H2)


def trace(model, params, x, c=None, method=None):
    """``(s, tr)``: the output and ``tr(ds/dx) : (B,)`` (unchecked; see :meth:`MLP.trace_jacobian`)."""
    if _method(model, method) == "bilinear":
        out, values = model._forward(params, x, c)
        (d1,), (d2,) = values.d
        return out, ((d1 @ _bilinear_parts(model, params)[1]) * d2).sum(axis=1)   # d1^T K d2
    out, values, tangents, W1x, space = _tangent_pass(model, params, x, c, order=1)
    return out, _tangent_trace(tangents.dz[-1], W1x, space)


def trace_and_vjp(model, params, x, c, w, g=None, method=None):
    """``(s, tr, grads)``: grads of ``sum_b w_b tr_b + sum(g * s)``.

    Parameters
    ----------
    w : array (B,)
        Weight of each example's trace.
    g : array (B, D), callable or None
        The output's cotangent, or ``g(s)`` when it depends on the output.

    Returns
    -------
    s : (B, D)
    tr : (B,)
    grads : list of (W, b)
    """
    if _method(model, method) == "bilinear":
        return _bilinear_vjp(model, params, x, c, w, g)
    xp = backend.xp()
    out, values, tangents, W1x, space = _tangent_pass(model, params, x, c, order=2)
    g = xp.zeros_like(out) if g is None else (g(out) if callable(g) else g)
    T = tangents.dz[-1]
    if space == "x":                                     # d tr / d(J e_i)_j = delta_ij
        G = xp.zeros_like(T)
        idx = xp.arange(T.shape[1])
        G[:, idx, idx] = w[:, None]
    else:                                                # d/dT of sum_kd T_bkd W1x_dk
        G = w[:, None, None] * W1x.T[None, :, :]
    grads, _, G0 = model._backward_dual(params, values, tangents, g, G)
    if space == "x":                                     # the seed dz_1 = e_i W_1 for every b
        grads[0][0][: model.in_dim] += G0.sum(axis=0)
    else:                                                # the contraction's own W_1
        grads[0][0][: model.in_dim] += xp.einsum("bkd,b->dk", T, w)
    return out, _tangent_trace(T, W1x, space), grads


def _tangent_pass(model, params, x, c, order):
    xp = backend.xp()
    out, values = model._forward(params, x, c, order)
    W1x = params[0][0][: model.in_dim]
    B, (D, H1) = x.shape[0], W1x.shape
    space = "x" if D <= H1 else "z1"
    seed = W1x if space == "x" else xp.eye(H1, dtype=x.dtype)
    dz0 = xp.ascontiguousarray(xp.broadcast_to(seed, (B,) + seed.shape))
    return out, values, model._push(params, values, dz0), W1x, space


def _tangent_trace(T, W1x, space):
    xp = backend.xp()
    return xp.einsum("bii->b", T) if space == "x" else xp.einsum("bkd,dk->b", T, W1x)


def _bilinear_vjp(model, params, x, c, w, g):
    xp = backend.xp()
    out, values = model._forward(params, x, c, order=2)
    (d1, dd1), (d2, dd2) = values.d
    (W1, _), (W2, _), (W3, _) = params
    W1x = W1[: model.in_dim]
    P, K = _bilinear_parts(model, params)
    g = xp.zeros_like(out) if g is None else (g(out) if callable(g) else g)
    g_K = (w[:, None] * d1).T @ d2                        # d/dK of sum_b w d1^T K d2
    g_P = (g_K * W2).T                                   # K = W2 * P^T
    gW3, gb3 = affine_vjp_params(values.h[2], g)         # s = h2 W3 + b3
    gW3 = gW3 + g_P @ W1x.T                              # P = W3 W1x
    # z2: through h2 = a(z2) (the value) and d2 = a'(z2) (the trace's d/dd2 = w d1 K)
    g_z2 = activation_vjp(d2, affine_vjp_input(W3, g)) + dd2 * (w[:, None] * (d1 @ K))
    gW2, gb2 = affine_vjp_params(values.h[1], g_z2)
    gW2 = gW2 + g_K * P.T
    # z1: through h1 = a(z1) and d1 = a'(z1) (d/dd1 = w K d2)
    g_z1 = activation_vjp(d1, affine_vjp_input(W2, g_z2)) + dd1 * (w[:, None] * (d2 @ K.T))
    gW1, gb1 = affine_vjp_params(values.h[0], g_z1)
    gW1[: model.in_dim] += W3.T @ g_P
    tr = ((d1 @ K) * d2).sum(axis=1)
    return out, tr, [(gW1, gb1), (gW2, gb2), (gW3, gb3)]
