"""The MNIST score model: a noise-conditional MLP whose head is gated by a per-pixel base.

.. math::

    s_d(x, \\sigma) = e_d / \\sigma + \\sum_k r_{dk} a_{dk}, \\qquad
    r_d = \\operatorname{softmax}_k(\\log w_{dk} + \\log N(x_d; \\mu_{dk}, v_{dk} + \\sigma^2) + u_{dk})

An MLP on ``[x, log sigma]`` outputs ``e`` (a residual, scaled by 1/sigma as
in NCSN) and ``u = (u_0 .. u_{K-2})`` (shifts of the log-weights of the base's
components; the last one's is 0), and ``a_dk = -(x_d - mu_dk) / (v_dk +
sigma^2)`` is the slope of component k of the per-pixel base
(:class:`npscore.mnist.base.FactorizedMixture`) noised to sigma. With
``u = 0`` the second term is the base's exact noised score. The denoiser
``x + sigma^2 s`` is then the base's per-pixel posterior mean, with
responsibilities that depend on the whole image: whether a pixel is blank,
saturated or in between is decided by context and carries the component's
exact ``1 / sigma^2`` pull, which the ``e`` term alone cannot produce.
``gated=False`` keeps ``u = 0`` (``s = e / sigma + s_base``).

With ``bound = B`` the residual is ``e = B tanh(o / B)`` for the MLP's
output ``o``, so ``|e_d / sigma| <= B / sigma`` while the base's pull grows
like ``|x_d| / sigma^2``: far from the data (``|x_d - mu_dk| > B sigma``) the
score restores every pixel, whatever the MLP extrapolates there. Unbounded,
an MLP can learn a residual that grows with ``|x_d|`` faster than the pull
and make the reverse-time dynamics run away.
"""
from .. import backend, checks
from ..nn import NoiseConditionalMLP

ACTIVATION = "swish"


class GatedScore(NoiseConditionalMLP):
    """The gated score ``s(x, sigma)`` above.

    Parameters
    ----------
    sizes : list of int
        ``[D, H, ..., D]``; the inner MLP has ``K D`` outputs when gated.
    activation : str
    base : FactorizedMixture
        Of dimension D, with K components.
    gated : bool
    scale_input, sigma_features
        As :class:`npscore.nn.NoiseConditionalMLP`.
    bound : float
        ``B > 0`` bounds the residual, ``e = B tanh(o / B)`` for the MLP's
        output ``o``; 0 leaves it unbounded (``e = o``).
    """

    def __init__(self, sizes, activation, base, gated=True, scale_input=False, sigma_features=0, bound=0.0):
        if getattr(base, "dim", None) != sizes[0] or sizes[-1] != sizes[0]:
            raise ValueError(f"base must be a FactorizedMixture of dimension sizes[0] = sizes[-1] = {sizes[0]}; "
                             f"got {base!r} for sizes {sizes}")
        self.base, self.gated = base, bool(gated)
        self.bound = checks.non_negative(bound, "bound")
        self.K = base.weights.shape[1] if gated else 1
        super().__init__(sizes, activation, out_width=sizes[-1] * self.K, scale_input=scale_input,
                         sigma_features=sigma_features)

    def __repr__(self):
        return (f"GatedScore({self.sizes}, activation={self.activation!r}, gated={self.gated}, "
                f"scale_input={self.scale_input}, sigma_features={self.sigma_features}, bound={self.bound})")

    def _offsets(self, out):
        """``[u_0 .. u_{K-2}]`` from the MLP's ``(B, K D)`` output (none when not gated)."""
        D = self.out_dim
        return [out[:, D * (k + 1):D * (k + 2)] for k in range(self.K - 1)] if self.gated else None

    def head(self, x, sigma, out):
        """``e / sigma + sum_k r_k a_k``; aux ``(r, a, s_base, u, tanh(o / B))``."""
        o = out[:, :self.out_dim]
        t = backend.xp().tanh(o / self.bound) if self.bound else None
        e = self.bound * t if self.bound else o
        u = self._offsets(out)
        r, a, _ = self.base.terms(x, sigma, u)
        sb = sum(rk * ak for rk, ak in zip(r, a))
        return e / sigma[:, None] + sb, (r, a, sb, u, t)

    def head_vjp(self, sigma, aux, g):
        """``[g (de/do) / sigma, g r_k (a_k - s_base), ...]``, since ``d s_base / d u_k = r_k (a_k - s_base)``
        and ``de/do = 1 - tanh^2(o / B)`` (1 when unbounded)."""
        r, a, sb, _, t = aux
        gs = g / sigma[:, None] if t is None else g * (1.0 - t * t) / sigma[:, None]
        if not self.gated:
            return gs
        return backend.xp().concatenate([gs] + [g * r[k] * (a[k] - sb) for k in range(self.K - 1)], axis=1)

    def trace_jacobian(self, params, x, sigma):
        """Not written out for the gated head: use Hutchinson's estimate
        (:func:`npscore.likelihood.hutchinson_trace`), which needs only :meth:`vjp`."""
        raise ValueError("the exact trace is not available for GatedScore; use the Hutchinson estimate")

    def head_dx(self, x, sigma, out, aux, g):
        """``g * d s_base / dx`` (diagonal) at fixed ``u``."""
        return g * self.base.noised_score_dx(x, sigma, aux[3])


def make_model(hidden, base, gated=True, scale_input=False, sigma_features=0, depth=2, bound=0.0):
    """``GatedScore([784] + [H] * depth + [784], "swish", base, gated, scale_input, sigma_features, bound)``."""
    hidden = checks.integer(hidden, "hidden (--hidden)")
    depth = checks.integer(depth, "depth (--depth)")
    return GatedScore([784] + [hidden] * depth + [784], ACTIVATION, base, gated, scale_input, sigma_features,
                      bound)
