"""Gradient checks a user can run on a model of their own.

:func:`check_mlp` compares every hand-written pass of an :class:`npscore.nn.MLP`
(output, backward pass, forward-mode pass, Jacobian trace and its gradient)
with the autograd definitions of :mod:`npscore.reference`, on host float64
copies, in the spirit of ``autograd.test_util.check_grads``.
"""
from . import backend, reference
from .nn import MLP
from .tree import tree_leaves


def relative_error(a, b):
    """``max |a - b| / max |b|`` over all entries.

    Parameters
    ----------
    a, b : array, or list of arrays
        Of either backend; lists are compared as one concatenated vector.

    Returns
    -------
    float
    """
    np = backend.host
    if isinstance(a, (list, tuple)):
        a = np.concatenate([np.ravel(backend.to_numpy(t)) for t in a])
        b = np.concatenate([np.ravel(backend.to_numpy(t)) for t in b])
    a, b = backend.to_numpy(a), backend.to_numpy(b)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a - b))) / scale


def check_mlp(model, params, x, c=None, seed=0):
    """Relative errors of the hand-written passes of ``model`` against autograd.

    Parameters
    ----------
    model : MLP
    params : list of (W, b)
    x : (B, D)
    c : (B, cond_dim), optional
    seed : int
        Seeds the random cotangents and tangents.

    Returns
    -------
    dict
        ``apply``, ``vjp_params``, ``vjp_x``, ``jvp``, and for a square
        network ``trace`` and ``trace_grad``: each a relative error (float64).
    """
    np = backend.host
    to64 = lambda a: None if a is None else backend.to_numpy(a).astype("float64")   # noqa: E731
    dev = lambda a: None if a is None else backend.asarray(a)                       # noqa: E731
    hp, hx, hc = [(to64(W), to64(b)) for W, b in params], to64(x), to64(c)
    dp = [(dev(W), dev(b)) for W, b in hp]
    rng = np.random.default_rng(seed)
    g, v = rng.standard_normal((hx.shape[0], model.out_dim)), rng.standard_normal(hx.shape)
    act = model.activation
    out = {"apply": relative_error(model.apply(dp, dev(hx), dev(hc)), reference.mlp(hp, hx, act, hc))}
    gp, gx = model.vjp(dp, dev(hx), dev(g), dev(hc))
    rgp, rgx = reference.vjp(hp, hx, g, act, hc)
    out["vjp_params"] = relative_error(tree_leaves(gp), tree_leaves(rgp))
    out["vjp_x"] = relative_error(gx, rgx)
    out["jvp"] = relative_error(model.jvp(dp, dev(hx), dev(v), dev(hc))[1], reference.jvp(hp, hx, v, act, hc)[1])
    if model.in_dim == model.out_dim:
        from autograd import grad
        w = rng.standard_normal(hx.shape[0])
        _, tr, gt = model.trace_and_vjp(dp, dev(hx), dev(w), c=dev(hc))
        out["trace"] = relative_error(tr, reference.trace_jacobian(hp, hx, act, hc))
        rgt = grad(lambda p: (w * reference.divergence(p, hx, act, hc)).sum())(hp)
        out["trace_grad"] = relative_error(tree_leaves(gt), tree_leaves(rgt))
    return out


#: float64 copies of the parameters the check holds at its peak (measured: 13-14), and the rest
COPIES, OVERHEAD = 16, 150 * 2 ** 20


def memory_needed(sizes, batch):
    """Bytes :func:`demo_check` needs at its peak, about: :data:`COPIES` float64 copies of the
    parameters and of the activations, and the interpreter's :data:`OVERHEAD`."""
    n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    return COPIES * 8 * (n_params + batch * sum(sizes)) + OVERHEAD


def memory_available():
    """Bytes the system can give now (``MemAvailable`` of ``/proc/meminfo``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def demo_check(sizes=(3, 16, 16, 3), activation="softplus", batch=8, seed=0):
    """:func:`check_mlp` on a fresh float64 ``MLP(sizes, activation)``; returns its errors. Refused,
    before any allocation, where it would need more memory than the system has."""
    need, have = memory_needed(sizes, batch), memory_available()
    if have is not None and need > have:
        raise ValueError(f"sizes {','.join(map(str, sizes))}: the check needs about {need / 2 ** 30:.1f} GiB "
                         f"({COPIES} float64 copies of the MLP's parameters), and {have / 2 ** 30:.1f} GiB is "
                         "available; choose smaller widths")
    model = MLP(list(sizes), activation)
    params = model.init(seed, "float64")
    x = backend.rng(seed + 1).normal((batch, sizes[0]), "float64")
    return check_mlp(model, params, x, seed=seed)
