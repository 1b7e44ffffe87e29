"""First-order optimisers over a params tree (a list of ``(W, b)`` pairs).

Each optimiser is two steps: ``state = opt.init(params)`` and
``params, state = opt.update(params, grads, state)``; ``ema=(average, r)``
also moves a running average of the params (:func:`ema_update`) after the
step, which on CuPy Adam does in the same kernel (:mod:`npscore.fused`). The state is a dict of
params-shaped trees and a step count, so a checkpoint can save it and a
resumed run continues with the same numbers. ``update`` works in place on
``params`` and the state's trees (on MNIST they are 2.7 million numbers
each, and fresh arrays every step cost as much as the step's maths), and
returns them.
"""
import math

from . import backend, checks, fused
from .tree import tree_leaves, zeros_like

_WORK = {}


def workspace(like):
    """A scratch array of ``like``'s shape and dtype, the same one on every call: the in-place updates
    write their temporaries there instead of allocating one per step (``like`` itself is never it)."""
    key = (backend.name(), like.shape, like.dtype.str)
    if key not in _WORK:
        _WORK[key] = backend.xp().empty_like(like)
    return _WORK[key]


def ema_leaf(a, p, r):
    """``a <- r a + (1 - r) theta`` for one leaf, in place, the temporary in the shared workspace."""
    w = workspace(p)
    a *= r
    backend.xp().multiply(p, 1.0 - r, out=w)
    a += w                                               # a <- r a + (1 - r) theta


def ema_update(average, params, r):
    """:func:`ema_leaf` for every leaf."""
    for a, p in zip(tree_leaves(average), tree_leaves(params)):
        ema_leaf(a, p, r)


def adam_leaf(p, g, m, v, b1, b2, step, floor, ema=None):
    """Adam's step on one leaf in place (:class:`Adam`, its bias corrections folded into ``step`` and
    ``floor``), then with ``ema = (a, r)`` :func:`ema_leaf`; :func:`npscore.fused.adam` is the same as
    one CuPy kernel."""
    xp, w = backend.xp(), workspace(p)
    m *= b1
    xp.multiply(g, 1.0 - b1, out=w)
    m += w                                               # m <- b1 m + (1 - b1) g
    v *= b2
    xp.multiply(g, g, out=w)
    w *= 1.0 - b2
    v += w                                               # v <- b2 v + (1 - b2) g^2
    xp.sqrt(v, out=w)
    w += floor
    xp.divide(m, w, out=w)
    w *= step
    p -= w                                               # theta <- theta - step m / (sqrt(v) + floor)
    if ema is not None:
        ema_leaf(ema[0], p, ema[1])


class SGD:
    """Gradient descent with momentum.

    .. math:: m \\leftarrow \\mu m + g, \\qquad \\theta \\leftarrow \\theta - \\eta m

    (plain gradient descent when ``mu = 0``).

    Parameters
    ----------
    lr : float
        The step eta.
    momentum : float
        mu, in [0, 1).
    """

    def __init__(self, lr=1e-2, momentum=0.0):
        self.lr = checks.positive(lr, "lr")
        self.momentum = checks.in_interval(momentum, "momentum", 0.0, 1.0)

    def init(self, params):
        """``{"step": 0, "m": zeros}``."""
        return {"step": 0, "m": zeros_like(params)}

    def update(self, params, grads, state, ema=None):
        """One step, in place, then ``ema = (average, r)``'s :func:`ema_update`; returns ``(params, state)``."""
        for p, g, m in zip(tree_leaves(params), tree_leaves(grads), tree_leaves(state["m"])):
            m *= self.momentum
            m += g                                       # m <- mu m + g
            p -= self.lr * m                             # theta <- theta - lr m
        state["step"] += 1
        if ema is not None:
            ema_update(ema[0], params, ema[1])
        return params, state


class Adam:
    """Adam (Kingma and Ba, 2015).

    .. math::

        m \\leftarrow \\beta_1 m + (1 - \\beta_1) g, \\qquad
        v \\leftarrow \\beta_2 v + (1 - \\beta_2) g^2, \\qquad
        \\theta \\leftarrow \\theta - \\eta \\frac{\\hat m}{\\sqrt{\\hat v} + \\epsilon}

    with ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``.

    Parameters
    ----------
    lr : float
        eta.
    b1, b2 : float
        Decay rates in [0, 1).
    eps : float
        The denominator's floor.
    """

    def __init__(self, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.lr = checks.positive(lr, "lr")
        self.b1 = checks.in_interval(b1, "b1", 0.0, 1.0)
        self.b2 = checks.in_interval(b2, "b2", 0.0, 1.0)
        self.eps = checks.positive(eps, "eps")

    def init(self, params):
        """``{"step": 0, "m": zeros, "v": zeros}``."""
        return {"step": 0, "m": zeros_like(params), "v": zeros_like(params)}

    def update(self, params, grads, state, ema=None):
        """One step, in place, then ``ema = (average, r)``'s :func:`ema_update`; returns ``(params, state)``.
        Leaf by leaf (:func:`adam_leaf`), on CuPy one kernel a leaf (:func:`npscore.fused.adam`)."""
        t = state["step"] + 1
        b1, b2 = self.b1, self.b2
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        # lr m_hat / (sqrt(v_hat) + eps) = (lr sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))
        step, floor = self.lr * math.sqrt(c2) / c1, self.eps * math.sqrt(c2)
        leaf_step = fused.adam if fused.enabled() else adam_leaf
        leaves = tree_leaves(params)
        averages = tree_leaves(ema[0]) if ema is not None else [None] * len(leaves)
        for p, g, m, v, a in zip(leaves, tree_leaves(grads), tree_leaves(state["m"]), tree_leaves(state["v"]),
                                 averages):
            leaf_step(p, g, m, v, b1, b2, step, floor, None if a is None else (a, ema[1]))
        state["step"] = t
        return params, state
