"""First-order optimisers over the params structure (a list of ``(W, b)`` pairs).

Each optimiser is a pair of pure steps: ``state = opt.init(params)`` and
``params, state = opt.update(params, grads, state)``. The state is a dict of
params-shaped trees and a step count, so a checkpoint can save it and a resumed
run continues with exactly the same numbers.
"""
from . import backend
from .nn import tree_map, zeros_like


def _check_lr(lr):
    if not isinstance(lr, (int, float)) or not lr > 0 or lr != lr or lr == float("inf"):
        raise ValueError(f"lr must be a positive finite number; got {lr!r}")


class SGD:
    """Gradient descent with optional momentum.

    ``m <- mu m + g``;  ``theta <- theta - lr m``  (plain SGD when mu = 0).
    """

    def __init__(self, lr=1e-2, momentum=0.0):
        _check_lr(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum!r}")
        self.lr, self.momentum = float(lr), float(momentum)

    def init(self, params):
        return {"step": 0, "m": zeros_like(params)}

    def update(self, params, grads, state):
        m = tree_map(lambda m_, g: self.momentum * m_ + g, state["m"], grads)
        params = tree_map(lambda p, m_: p - self.lr * m_, params, m)
        return params, {**state, "step": state["step"] + 1, "m": m}


class Adam:
    """Adam (Kingma and Ba, 2015), written out.

    ``m <- b1 m + (1 - b1) g``;  ``v <- b2 v + (1 - b2) g^2``;
    ``theta <- theta - lr m_hat / (sqrt(v_hat) + eps)`` with the bias
    corrections ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``.
    """

    def __init__(self, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        _check_lr(lr)
        for name, val in (("b1", b1), ("b2", b2)):
            if not 0.0 <= val < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {val!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive; got {eps!r}")
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)

    def init(self, params):
        return {"step": 0, "m": zeros_like(params), "v": zeros_like(params)}

    def update(self, params, grads, state):
        xp = backend.xp()
        t = state["step"] + 1
        b1, b2 = self.b1, self.b2
        m = tree_map(lambda m_, g: b1 * m_ + (1.0 - b1) * g, state["m"], grads)
        v = tree_map(lambda v_, g: b2 * v_ + (1.0 - b2) * g * g, state["v"], grads)
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        params = tree_map(
            lambda p, m_, v_: p - self.lr * (m_ / c1) / (xp.sqrt(v_ / c2) + self.eps), params, m, v)
        return params, {**state, "step": t, "m": m, "v": v}
