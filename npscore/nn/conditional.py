"""The noise-conditional score model S(x, sigma) of NCSN.

.. math:: s_\\theta(x, \\sigma) = \\mathrm{MLP}_\\theta([x, \\gamma(\\sigma)]) / \\sigma

The network sees the noise level through ``gamma(sigma) = log sigma``, or,
with ``sigma_features = F``, through ``log sigma`` and its Fourier features

.. math:: \\gamma(\\sigma) = [\\ell, \\sin(\\omega_1 \\ell), \\dots, \\sin(\\omega_F \\ell),
          \\cos(\\omega_1 \\ell), \\dots, \\cos(\\omega_F \\ell)], \\quad \\ell = \\log\\sigma,
          \\ \\omega_k = k \\pi / 4

(the time embedding of score_sde and DDPM, here fixed frequencies on the
log scale), so that every first-layer unit gets its own smooth function of
sigma as a bias. ``gamma`` does not depend on ``x`` or the params, so every
pass below is unchanged. The output is divided
by sigma (NCSN / score_sde practice), so it learns the unit-scale target
``-eps`` at every level while the true score of ``p_sigma`` grows like
``1 / sigma`` (first report, section 8 (b)). With ``scale_input=True`` it
sees ``c(sigma) x`` with ``c(sigma) = 1 / sqrt(1 + sigma^2)`` instead of
``x`` (as EDM's ``c_in``), so inputs stay of unit scale when sigma is large.

The step from the MLP's output ``o`` to the score is the *head*,
``s = head(phi, x, sigma, o)``; a subclass with another head (the MNIST model,
:mod:`npscore.mnist.model`) overrides :meth:`head`, :meth:`head_vjp`,
:meth:`head_dx` and :meth:`head_shapes` and keeps every pass. The head's own
params ``phi`` (none here) follow the MLP's layers in the params list,
``params = [(W_1, b_1), ..., (W_L, b_L)] + phi``.
"""
from .. import backend, checks
from .mlp import MLP, check_inputs
from .resmlp import ResidualMLP
from .score_model import ScoreModel


def sigma_embedding(sigma, n_features=0):
    """``gamma(sigma) : (B, 1 + 2 F)`` above, for ``sigma : (B,)``."""
    xp = backend.xp()
    ell = xp.log(sigma)[:, None]
    if not n_features:
        return ell
    omega = (xp.pi / 4) * xp.arange(1, n_features + 1, dtype=sigma.dtype)
    return xp.concatenate([ell, xp.sin(omega * ell), xp.cos(omega * ell)], axis=1)


class NoiseConditionalMLP(ScoreModel):
    """``s(x, sigma) = MLP([x, gamma(sigma)]) / sigma``, a :class:`npscore.nn.score_model.ScoreModel`
    with the exact trace.

    Parameters
    ----------
    sizes : list of int
        ``[D, H, ..., D]``; the MLP gets ``1 + 2 sigma_features`` extra inputs, ``gamma(sigma)``.
    activation : str
        As :class:`npscore.nn.MLP`.
    out_width : int, optional
        Outputs of the inner MLP (default ``sizes[-1]``), for a subclass's head.
    scale_input : bool
        Feed ``x / sqrt(1 + sigma^2)`` to the MLP.
    sigma_features : int
        ``F``, the Fourier features of ``log sigma`` in ``gamma``.
    n_blocks : int, optional
        With it, the inner network is a :class:`npscore.nn.ResidualMLP` of width ``sizes[1]`` and
        ``n_blocks`` residual blocks on Fourier features of its input (``fourier_features``,
        ``fourier_scale``); without it, the MLP of ``sizes``.
    """

    exact_trace = True

    def __init__(self, sizes, activation="softplus", out_width=None, scale_input=False, sigma_features=0,
                 n_blocks=None, fourier_features=0, fourier_scale=1.0):
        self.scale_input, self.n_blocks = bool(scale_input), n_blocks
        self.sigma_features = checks.integer(sigma_features, "sigma_features", 0)
        self.sizes, self.activation = list(sizes), activation
        self.in_dim, self.out_dim = sizes[0], sizes[-1]
        cond_dim = 1 + 2 * self.sigma_features
        if n_blocks is None:
            self.mlp = MLP(list(sizes[:-1]) + [out_width or sizes[-1]], activation, cond_dim=cond_dim)
        else:
            self.mlp = ResidualMLP(sizes[0], out_width or sizes[-1], sizes[1], n_blocks, activation, cond_dim,
                                   fourier_features, fourier_scale)
        self.cond_dim, self.n_layers = self.mlp.cond_dim, len(self.mlp.shapes())

    def __repr__(self):
        inner = f", inner={self.mlp!r}" if self.n_blocks is not None else ""
        return f"{type(self).__name__}({self.sizes}, activation={self.activation!r}{inner})"

    def init(self, seed, dtype="float64"):
        """Params of the inner MLP (see :meth:`npscore.nn.MLP.init`), then the head's."""
        return self.mlp.init(seed, dtype) + self.head_init(seed, dtype)

    def shapes(self):
        """``[(W.shape, b.shape), ...]``: the inner MLP's, then the head's."""
        return self.mlp.shapes() + self.head_shapes()

    # ------------------------------------------------------------ the head
    def head_shapes(self):
        """The head's own ``[(W.shape, b.shape), ...]`` (none here)."""
        return []

    def head_init(self, seed, dtype):
        """The head's own params (none here)."""
        return []

    def head(self, phi, x, sigma, out):
        """``(s, aux)``: the score from the MLP output ``out``; ``aux`` is what the VJPs reuse."""
        return out / sigma[:, None], None

    def head_vjp(self, phi, sigma, aux, g, need_out=True):
        """``(dL/d out, dL/d phi)`` for ``g = dL/ds``: d(out / sigma)/d(out) = 1 / sigma.
        Without ``need_out`` a head may return ``None`` for ``dL/d out``."""
        return g / sigma[:, None], []

    def head_dx(self, phi, x, sigma, out, aux, g):
        """``g^T ds/dx`` at fixed ``out`` (the head's own x-dependence; none here)."""
        return 0.0

    # ------------------------------------------------------------ passes
    def condition(self, sigma):
        """``gamma(sigma) : (B, 1 + 2 F)``, the MLP's conditioning input."""
        return sigma_embedding(sigma, self.sigma_features)

    def input_scale(self, sigma):
        """``c(sigma) : (B, 1)``, ``1 / sqrt(1 + sigma^2)`` with ``scale_input``, else 1."""
        return (1.0 / backend.xp().sqrt(1.0 + sigma * sigma))[:, None] if self.scale_input else 1.0

    def check(self, params, x, sigma):
        """``params`` must fit :meth:`shapes`, ``x`` be ``(B, D)``."""
        check_inputs(self, params, x, self.condition(sigma))

    def _forward(self, params, x, sigma, order=1):
        c, n = self.input_scale(sigma), self.n_layers
        out, values = self.mlp._forward(params[:n], c * x, self.condition(sigma), order)
        s, aux = self.head(params[n:], x, sigma, out)
        return s, (values, sigma, out, aux)

    def backward(self, params, cache, g, head_only=False):
        """``dL/dtheta`` of ``L = sum(g * s)`` from a :meth:`forward` cache; with ``head_only``,
        of the head's own params only (no pass through the MLP)."""
        if head_only:
            _, sigma, _, aux = cache
            return self.head_vjp(params[self.n_layers:], sigma, aux, g, need_out=False)[1]
        return self._backward(params, cache, g)[0]

    def _backward(self, params, cache, g, param_grads=True):
        """``(dL/dtheta, dL/dz_0)``: the MLP's grads and the head's, and the MLP's first
        pre-activation's; without ``param_grads``, ``(None, dL/dz_0)``."""
        values, sigma, _, aux = cache
        n = self.n_layers
        g_out, g_phi = self.head_vjp(params[n:], sigma, aux, g)
        grads, gz0 = self.mlp._backward(params[:n], values, g_out, param_grads)
        return (grads + g_phi if param_grads else None), gz0

    def _vjp(self, params, x, cache, g, param_grads):
        """``(g^T ds/dtheta or None, g^T ds/dx)`` from a :meth:`forward` cache: through the MLP,
        plus the head's own x-term."""
        checks.shape(g, x.shape, "g")
        _, sigma, out, aux = cache
        grads, gz0 = self._backward(params, cache, g, param_grads)
        gx = self.input_scale(sigma) * self.mlp._input_vjp(params[:self.n_layers], cache[0], gz0) \
            + self.head_dx(params[self.n_layers:], x, sigma, out, aux, g)
        return grads, gx

    def trace_jacobian(self, params, x, sigma):
        """Exact ``tr(ds/dx) : (B,)`` = ``c(sigma) / sigma * tr(d MLP / dh)`` at ``h = c(sigma) x``
        (:mod:`npscore.nn.trace`; the probability-flow likelihood needs it)."""
        sigma = self.sigma_array(x, sigma)
        self.check(params, x, sigma)
        c = self.input_scale(sigma)
        tr = self.mlp._trace(params[:self.n_layers], c * x, self.condition(sigma))[1]   # checked above
        return (c[:, 0] if self.scale_input else 1.0) * tr / sigma
