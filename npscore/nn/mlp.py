"""The MLP score model S(x; theta), every pass a plain loop over the primitives.

``h_0 = [x, c]``, ``z_l = h_l W_l + b_l``, ``h_{l+1} = a(z_l)``, and the last
layer is linear: ``s(x) = z_{L-1}`` (first report, section 4). The passes:

* forward: values, and the slopes ``a'(z_l)`` (and ``a''``) the others need;
* backward (VJP): ``g = dL/ds`` to ``dL/dtheta`` and ``dL/dz_0``;
* forward mode (JVP): tangents ``dz_l = (dz_l/dx) v`` from a seed ``dz_0``;
* backward through forward mode: the gradient of anything built from
  ``(ds/dx) v`` (sliced score matching, the Jacobian trace), with ``a''``.

:mod:`npscore.reference` holds the same network in ``autograd.numpy``; the
tests pin every pass here to it.
"""
from collections import namedtuple

from .. import backend, checks
from . import activations, trace
from .layers import (activation_jvp, activation_tangent_vjp, activation_vjp, affine, affine_jvp,
                     affine_tangent_vjp, affine_vjp_input, affine_vjp_params)

#: ``h[l]`` the input of layer l; ``d[l]`` the derivatives ``(a'(z_l), a''(z_l))`` asked for
Values = namedtuple("Values", "h d")
#: ``dz[l]`` the tangents of ``z_l``; ``dh[l - 1]`` those of ``h_l`` (l >= 1)
Tangents = namedtuple("Tangents", "dz dh")


class MLP:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : list of int
        Widths, input first, e.g. ``[2, 128, 128, 2]``.
    activation : str
        ``softplus`` (default), ``tanh``, ``elu`` or ``swish``.
    cond_dim : int
        Width of a conditioning input ``c : (B, cond_dim)`` joined to ``x`` at
        the first layer (``W_0 : (sizes[0] + cond_dim, sizes[1])``).
        Derivatives "with respect to x" use ``W_0[:sizes[0]]``.
    """

    #: the score-model capabilities (:mod:`npscore.nn.score_model`): s(x) alone, with the exact trace
    conditional, exact_trace = False, True

    def __init__(self, sizes, activation="softplus", cond_dim=0):
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"sizes must be a list of at least 2 widths; got {sizes!r}")
        for s in sizes:
            checks.integer(s, "sizes[i]")
        self.sizes, self.activation = list(sizes), activation
        self.act = activations.get(activation)
        self.cond_dim = checks.integer(cond_dim, "cond_dim", 0)
        self.in_dim, self.out_dim = sizes[0], sizes[-1]

    def __repr__(self):
        return f"MLP({self.sizes}, activation={self.activation!r}, cond_dim={self.cond_dim})"

    def shapes(self):
        """The expected ``[(W.shape, b.shape), ...]``."""
        fan_in = [self.sizes[0] + self.cond_dim] + self.sizes[1:-1]
        return [((i, o), (o,)) for i, o in zip(fan_in, self.sizes[1:])]

    def init(self, seed, dtype="float64"):
        """Params ``[(W, b), ...]``: ``W ~ N(0, 1 / fan_in)``, ``b = 0`` (LeCun normal)."""
        dtype, rng = backend.check_dtype(dtype), backend.rng(seed)
        return [(rng.normal(ws, dtype) / float(ws[0]) ** 0.5, backend.xp().zeros(bs, dtype=dtype))
                for ws, bs in self.shapes()]

    def check(self, params, x, c=None):
        """Check ``params`` against :meth:`shapes` and ``x : (B, D)``, ``c : (B, cond_dim)``."""
        check_inputs(self, params, x, c)

    # ------------------------------------------------------------ the loops
    def _forward(self, params, x, c=None, order=1):
        """``(s, Values)``; ``order`` derivatives of each activation are kept."""
        h = x if c is None else backend.xp().concatenate([x, c], axis=1)
        values = Values([h], [])
        for W, b in params[:-1]:
            h, *d = self.act(affine(h, W, b), order)
            values.h.append(h)
            values.d.append(d)
        W, b = params[-1]
        return affine(h, W, b), values

    def _backward(self, params, values, g, param_grads=True):
        """``(dL/dtheta, dL/dz_0)`` for ``g = dL/ds``; without ``param_grads``, ``(None, dL/dz_0)``."""
        grads = [None] * len(params)
        for l in range(len(params) - 1, 0, -1):
            if param_grads:
                grads[l] = affine_vjp_params(values.h[l], g)
            g = activation_vjp(values.d[l - 1][0], affine_vjp_input(params[l][0], g))
        if not param_grads:
            return None, g
        grads[0] = affine_vjp_params(values.h[0], g)
        return grads, g

    def _push(self, params, values, dz0):
        """Tangents of every layer from ``dz_0 : (B, K, H_1)``; ``dz[-1] = (ds/dx) v``."""
        tangents = Tangents([dz0], [])
        for l in range(1, len(params)):
            tangents.dh.append(activation_jvp(values.d[l - 1][0], tangents.dz[-1]))
            tangents.dz.append(affine_jvp(tangents.dh[-1], params[l][0]))
        return tangents

    def _backward_dual(self, params, values, tangents, g, G):
        """``(dL/dtheta, dL/dz_0, dL/d(dz_0))`` for ``g = dL/ds``, ``G = dL/d((ds/dx) v)``."""
        grads = [None] * len(params)
        for l in range(len(params) - 1, 0, -1):
            W = params[l][0]
            gW, gb = affine_vjp_params(values.h[l], g)
            gWt, Gh = affine_tangent_vjp(tangents.dh[l - 1], W, G)
            grads[l] = (gW + gWt, gb)
            d1, d2 = values.d[l - 1]
            gz_t, G = activation_tangent_vjp(d1, d2, tangents.dz[l - 1], Gh)
            g = activation_vjp(d1, affine_vjp_input(W, g)) + gz_t
        grads[0] = affine_vjp_params(values.h[0], g)
        return grads, g, G

    def _out_tangent(self, tangents):
        """``(ds/dx) v`` from :meth:`_push`'s tangents."""
        return tangents.dz[-1]

    def _seed(self, params, values, v):
        """``dz_0 = v W_0[:D]`` for x-space tangents ``v : (B, K, D)``."""
        return affine_jvp(v, params[0][0][: self.in_dim])

    def _seed_vjp(self, params, values, v, G0, grads):
        """Add to ``grads`` the seed's own share, ``dL/dW_0[:D] += sum v^T G0`` for ``G0 = dL/d(dz_0)``."""
        grads[0][0][: self.in_dim] += affine_tangent_vjp(v, params[0][0][: self.in_dim], G0)[0]

    def _input_vjp(self, params, values, gz0):
        """dL/dx from ``gz0 = dL/dz_0``: ``gz0 W_0[:D]^T``."""
        return affine_vjp_input(params[0][0][: self.in_dim], gz0)

    def _trace(self, params, x, c=None, method=None):
        """``(s, tr(ds/dx))``, unchecked (:func:`npscore.nn.trace.trace`)."""
        return trace.trace(self, params, x, c, method)

    def _trace_and_vjp(self, params, x, c, w, g=None, method=None):
        """``(s, tr, grads)``, unchecked (:func:`npscore.nn.trace.trace_and_vjp`)."""
        return trace.trace_and_vjp(self, params, x, c, w, g, method)

    # ------------------------------------------------------------ public passes
    def forward(self, params, x, c=None):
        """``(s(x), cache)``; :meth:`backward` takes the cache."""
        self.check(params, x, c)
        return self._forward(params, x, c)

    def backward(self, params, cache, g):
        """``dL/dtheta`` of ``L = sum(g * s)``, from a :meth:`forward` cache."""
        return self._backward(params, cache, g)[0]

    def forward_tangents(self, params, x, v, c=None):
        """``(s(x), (ds/dx) v, cache)`` for tangents ``v : (B, K, D)``."""
        self.check(params, x, c)
        if getattr(v, "ndim", None) != 3:
            raise ValueError(f"v must have shape (B, K, D); got {getattr(v, 'shape', v)!r}")
        checks.shape(v, (x.shape[0], v.shape[1], self.in_dim), "v")
        out, values = self._forward(params, x, c, order=2)
        tangents = self._push(params, values, self._seed(params, values, v))
        return out, self._out_tangent(tangents), (values, tangents, v)

    def backward_tangents(self, params, cache, g, G):
        """``dL/dtheta`` of ``L = sum(g * s) + sum(G * (ds/dx) v)`` from a
        :meth:`forward_tangents` cache."""
        values, tangents, v = cache
        grads, _, G0 = self._backward_dual(params, values, tangents, g, G)
        self._seed_vjp(params, values, v, G0, grads)
        return grads

    def apply(self, params, x, c=None):
        """The network output ``s(x) : (B, D_out)``."""
        self.check(params, x, c)
        return self._forward(params, x, c, order=0)[0]

    def fn(self, params):
        """The callable ``x -> s(x)`` that plain Langevin takes (params checked once, here; a non-finite
        iterate is the sampler's to report, not an argument error)."""
        self.check(params, backend.xp().zeros((1, self.in_dim), dtype=params[0][0].dtype),
                   backend.xp().zeros((1, self.cond_dim), dtype=params[0][0].dtype) if self.cond_dim else None)
        return lambda x: self._forward(params, x, None, 0)[0]

    def vjp(self, params, x, g, c=None):
        """``(g^T ds/dtheta, g^T ds/dx)``: params-shaped (summed over B), and ``(B, D)``."""
        self.check(params, x, c)
        checks.shape(g, (x.shape[0], self.out_dim), "g")
        values = self._forward(params, x, c)[1]
        grads, gz0 = self._backward(params, values, g)
        return grads, self._input_vjp(params, values, gz0)

    def jvp(self, params, x, v, c=None):
        """``(s(x), (ds/dx) v)`` for ``v : (B, D)``, or ``(B, K, D)`` (K tangents each)."""
        single = getattr(v, "ndim", None) == 2
        out, Jv, _ = self.forward_tangents(params, x, v[:, None, :] if single else v, c)
        return out, (Jv[:, 0, :] if single else Jv)

    def jacobian(self, params, x, c=None):
        """The full Jacobian ``ds/dx : (B, D_out, D)`` (for checks and small D)."""
        xp = backend.xp()
        eye = xp.broadcast_to(xp.eye(self.in_dim, dtype=x.dtype), (x.shape[0], self.in_dim, self.in_dim))
        return self.jvp(params, x, xp.ascontiguousarray(eye), c)[1].transpose(0, 2, 1)

    def trace_jacobian(self, params, x, c=None, method=None):
        """Exact ``tr(ds/dx)`` per example, ``(B,)`` (:mod:`npscore.nn.trace`)."""
        self.check(params, x, c)
        return self._trace(params, x, c, method)[1]

    def trace_and_vjp(self, params, x, w, g=None, c=None, method=None):
        """``(s, tr, grads)``, grads of ``sum_b w_b tr(ds/dx)(x_b) + sum(g * s)``
        (:func:`npscore.nn.trace.trace_and_vjp`)."""
        self.check(params, x, c)
        checks.shape(w, (x.shape[0],), "w")
        return self._trace_and_vjp(params, x, c, w, g, method)


def check_inputs(model, params, x, c=None):
    """``params`` must fit ``model.shapes()``, ``x`` be ``(B, D)`` and ``c`` ``(B, cond_dim)`` (or None)."""
    expected = model.shapes()
    if not isinstance(params, (list, tuple)) or len(params) != len(expected):
        raise ValueError(f"params must be a list of {len(expected)} (W, b) pairs for {model}; got {params!r:.60}")
    for i, (layer, shapes) in enumerate(zip(params, expected)):
        got = tuple(tuple(getattr(a, "shape", ())) for a in layer)
        if got != shapes:
            raise ValueError(f"params[{i}] must be (W, b) of shapes {shapes} for {model}; got {got}")
        if not all(backend.is_float_array(a) for a in layer) or layer[0].dtype != layer[1].dtype:
            raise TypeError(f"params[{i}] must be float32 or float64 arrays of one dtype; "
                            f"got {[getattr(a, 'dtype', type(a).__name__) for a in layer]}")
    checks.batch(x, model.in_dim, "x")
    if model.cond_dim and c is None:
        raise ValueError(f"c must be an array of shape (B, {model.cond_dim}) for {model}; got None")
    if c is not None:
        if not model.cond_dim:
            raise ValueError(f"c must be None for {model}, which has cond_dim=0; got an array")
        checks.shape(c, (x.shape[0], model.cond_dim), "c")
