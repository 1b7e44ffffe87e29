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

With ``window = W`` the offsets get a local term, a ``W x W`` convolution
of ``c(sigma) x`` with ``K - 1`` output channels whose kernel is a function
of sigma (the *local gate*):

.. math:: u_{dk} = o_{dk} + \\sum_w A_{wk}(\\sigma)\\, [P_d(c(\\sigma) x)]_w + a_k(\\sigma),
          \\qquad A(\\sigma) = \\sum_j \\gamma_j(\\sigma) A_j, \\quad a(\\sigma) = \\sum_j \\gamma_j(\\sigma) a_j

(``P_d`` gathers the window around pixel d, zero outside the image;
``gamma`` is the MLP's sigma embedding). Whether a pixel that noise has lit
belongs to a stroke is mostly a local question (are its neighbours lit?),
asked of each of the 784 pixels: an MLP must spend hidden units on every
pixel to answer it, a convolution answers it once, and how much a
neighbour's value says depends on sigma. ``A_j, a_j`` start at zero, so
training starts from the gated model without the gate.

With ``gate_input = "denoised"`` the gate reads, instead of ``c(sigma) x``,
the first pass's denoised image ``x_hat = x + sigma^2 s_0(x, sigma)``, where
``s_0`` is the score above without the local term: a pixel's neighbours as
the model already believes them to be, not as the noise left them.
"""
from collections import namedtuple

from .. import backend, checks
from ..nn.conditional import NoiseConditionalMLP
from ..nn.layers import patches, patches_vjp

ACTIVATION = "swish"
#: what the local gate may read: ``c(sigma) x`` or the first pass's denoised image
GATE_INPUTS = ("x", "denoised")


#: what :meth:`GatedScore.head` keeps for its VJPs: the base's terms ``r, a, s_base`` (second pass),
#: ``t = tanh(o / B)`` (None when unbounded), the gate's ``(P, gamma, A(sigma))``, the first pass's
#: ``(r, s_base)`` when the gate reads ``x_hat`` (its slopes are ``a``), and ``var``
HeadAux = namedtuple("HeadAux", "r a sb t gate first var")


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
    window : int
        Odd ``W > 0`` adds the local gate over ``W x W`` neighbourhoods (needs
        ``gated``, ``K >= 2`` and a square image, ``D = side^2``); 0: none.
    gate_input : {"x", "denoised"}
        What the local gate reads: ``c(sigma) x`` or the first pass's ``x_hat``.
    """

    exact_trace = False                 # the gated head's trace is not written out: Hutchinson's estimate

    def __init__(self, sizes, activation, base, gated=True, scale_input=False, sigma_features=0, bound=0.0,
                 window=0, gate_input="x"):
        if getattr(base, "dim", None) != sizes[0] or sizes[-1] != sizes[0]:
            raise ValueError(f"base must be a FactorizedMixture of dimension sizes[0] = sizes[-1] = {sizes[0]}; "
                             f"got {base!r} for sizes {sizes}")
        self.base, self.gated = base, bool(gated)
        self.bound = checks.non_negative(bound, "bound")
        self.K = base.weights.shape[1] if gated else 1
        self.window = checks.integer(window, "window", 0)
        self.gate_input = checks.one_of(gate_input, "gate_input", GATE_INPUTS)
        self.side = int(round(sizes[0] ** 0.5))
        if self.window and (self.window % 2 == 0 or self.K < 2 or self.side ** 2 != sizes[0]):
            raise ValueError(f"window must be 0 or odd, with a gated base of K >= 2 components on a "
                             f"square image; got window={self.window}, gated={self.gated}, K={self.K}, "
                             f"D={sizes[0]}")
        super().__init__(sizes, activation, out_width=sizes[-1] * self.K, scale_input=scale_input,
                         sigma_features=sigma_features)

    def __repr__(self):
        return (f"GatedScore({self.sizes}, activation={self.activation!r}, gated={self.gated}, "
                f"scale_input={self.scale_input}, sigma_features={self.sigma_features}, bound={self.bound}, "
                f"window={self.window}, gate_input={self.gate_input!r})")

    def head_shapes(self):
        """The local gate's ``[(A_j, a_j)]``: ``((J, W^2, K - 1), (J, K - 1))``, ``J = 1 + 2F`` (none without it)."""
        J, k = self.cond_dim, self.K - 1
        return [((J, self.window ** 2, k), (J, k))] if self.window else []

    def head_init(self, seed, dtype):
        """The local gate's params, zero."""
        xp, dtype = backend.xp(), backend.check_dtype(dtype)
        return [tuple(xp.zeros(shape, dtype=dtype) for shape in layer) for layer in self.head_shapes()]

    def _offsets(self, out):
        """``[u_0 .. u_{K-2}]`` from the MLP's ``(B, K D)`` output (none when not gated)."""
        D = self.out_dim
        return [out[:, D * (k + 1):D * (k + 2)] for k in range(self.K - 1)] if self.gated else None

    def _gate(self, phi, h, sigma):
        """``(v : (B, K - 1, D), (P, gamma, A(sigma)))``: the local gate's term of ``u`` for the image ``h`` it reads."""
        (A, a), = phi
        gamma = self.condition(sigma)
        P = patches(h, self.side, self.window)
        kernel = (gamma @ A.reshape(A.shape[0], -1)).reshape((h.shape[0],) + A.shape[1:])
        return kernel.transpose(0, 2, 1) @ P + (gamma @ a)[:, :, None], (P, gamma, kernel)

    def head(self, phi, x, sigma, out):
        """``e / sigma + sum_k r_k a_k``, and its :class:`HeadAux`."""
        o = out[:, :self.out_dim]
        t = backend.xp().tanh(o / self.bound) if self.bound else None
        e = self.bound * t if self.bound else o
        u, gate, first = self._offsets(out), None, None
        logs, a, var = self.base.components(x, sigma)  # the same for every u
        if self.window:
            h = self.input_scale(sigma) * x
            if self.gate_input == "denoised":           # x_hat = x + sigma^2 (e / sigma + s_base(x; u))
                first = self.base.mix(logs, a, u)
                h = x + sigma[:, None] * e + (sigma ** 2)[:, None] * first[1]
            v, gate = self._gate(phi, h, sigma)
            u = [uk + v[:, k] for k, uk in enumerate(u)]
        r, sb = self.base.mix(logs, a, u)
        return e / sigma[:, None] + sb, HeadAux(r, a, sb, t, gate, first, var)

    def _offset_cotangents(self, r, a, sb, g):
        """``[g r_k (a_k - s_base)]_k``, since ``d s_base / d u_k = r_k (a_k - s_base)``."""
        return [g * r[k] * (a[k] - sb) for k in range(self.K - 1)]

    def _read_cotangent(self, aux, gv):
        """``g_h = P^T (g_v A(sigma)^T)``: the cotangent of the image the gate read, for the
        stacked offsets' cotangents ``g_v : (B, K - 1, D)``."""
        return patches_vjp(aux.gate[2] @ gv, self.side, self.window)

    def head_vjp(self, phi, sigma, aux, g, need_out=True):
        """``[g (de/do) / sigma, g r_k (a_k - s_base), ...]`` with ``de/do = 1 - tanh^2(o / B)``
        (1 when unbounded), and the local gate's ``dL/dA_j = gamma_j P^T g_u``, ``dL/da_j = gamma_j sum_d g_u``.
        When the gate reads ``x_hat``, its cotangent ``g_h`` adds ``sigma g_h`` to ``e``'s and
        ``sigma^2 g_h r0_k (a0_k - s0_base)`` to ``u_k``'s (the first pass's terms)."""
        xp, t = backend.xp(), aux.t
        ge = g / sigma[:, None]
        if not self.gated:
            return (ge if t is None else ge * (1.0 - t * t)), []
        gu, phi_grads = self._offset_cotangents(aux.r, aux.a, aux.sb, g), []
        if self.window:
            gv = xp.stack(gu, axis=1)
            P, gamma, _ = aux.gate
            gA = gamma.T @ (P @ gv.transpose(0, 2, 1)).reshape(g.shape[0], -1)
            phi_grads = [(gA.reshape(phi[0][0].shape), gamma.T @ gv.sum(axis=2))]
            if not need_out:
                return None, phi_grads
            if aux.first is not None:
                gh = self._read_cotangent(aux, gv)
                ge = ge + sigma[:, None] * gh
                r0, sb0 = aux.first
                g0 = self._offset_cotangents(r0, aux.a, sb0, (sigma ** 2)[:, None] * gh)
                gu = [gk + gd for gk, gd in zip(gu, g0)]
        ge = ge if t is None else ge * (1.0 - t * t)
        return xp.concatenate([ge] + gu, axis=1), phi_grads

    def head_dx(self, phi, x, sigma, out, aux, g):
        """``g * d s_base / dx`` (diagonal) at fixed ``u``, plus the path through the local gate,
        ``c(sigma) g_h`` or, reading ``x_hat``, ``g_h (1 + sigma^2 d s0_base / dx)``."""
        gx = g * self.base.score_dx(aux.r, aux.a, aux.var, aux.sb)
        if not self.window:
            return gx
        gu = self._offset_cotangents(aux.r, aux.a, aux.sb, g)
        gh = self._read_cotangent(aux, backend.xp().stack(gu, axis=1))
        if aux.first is None:
            return gx + self.input_scale(sigma) * gh
        r0, sb0 = aux.first
        return gx + gh * (1.0 + (sigma ** 2)[:, None] * self.base.score_dx(r0, aux.a, aux.var, sb0))


def make_model(hidden, base, gated=True, scale_input=False, sigma_features=0, depth=2, bound=0.0, window=0,
               gate_input="x"):
    """``GatedScore([784] + [H] * depth + [784], "swish", base, gated, scale_input, sigma_features, bound,
    window, gate_input)``."""
    hidden = checks.integer(hidden, "hidden")
    depth = checks.integer(depth, "depth")
    return GatedScore([784] + [hidden] * depth + [784], ACTIVATION, base, gated, scale_input, sigma_features,
                      bound, window, gate_input)
