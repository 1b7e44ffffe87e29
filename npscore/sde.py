"""Forward SDEs of score-based generative models: VE and VP.

An SDE ``dx = f(x, t) dt + g(t) dW`` on t in [0, 1] is given by its drift
``f``, its diffusion ``g``, its Gaussian transition ``p_0t(x_t | x_0) =
N(m_t x_0, sigma_t^2 I)`` (:meth:`marginal` returns ``(m_t, sigma_t)``) and
its prior ``p_1``. The reverse-time SDE (Anderson 1982; second report,
section 3.2) is ``dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dW_bar``.
Samplers live in :mod:`npscore.sampling`, the continuous-time DSM loss in
:mod:`npscore.losses`. Times ``t`` are ``(B,)`` arrays.
"""
import math

from . import backend, checks


def _t(t):
    xp = backend.xp()
    t = xp.asarray(t, dtype=getattr(t, "dtype", "float64"))
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"t must lie in [0, 1]; got values from {float(t.min())} to {float(t.max())}")
    return t


class VPSDE:
    """Variance preserving SDE (DDPM in continuous time; Song et al. 2021).

    .. math::

        dx = -\\tfrac12 \\beta(t) x\\, dt + \\sqrt{\\beta(t)}\\, dW, \\qquad
        \\beta(t) = \\beta_{min} + t (\\beta_{max} - \\beta_{min}),

    so ``x_t = sqrt(alpha_t) x_0 + sqrt(1 - alpha_t) eps`` with
    ``alpha_t = exp(-int_0^t beta)``: the second report's forward diffusion
    (section 3.1).

    Parameters
    ----------
    beta_min, beta_max : float
        ``0 < beta_min < beta_max``.
    """

    def __init__(self, beta_min=0.1, beta_max=20.0):
        self.beta_min = checks.positive(beta_min, "beta_min")
        self.beta_max = checks.positive(beta_max, "beta_max")
        if not self.beta_min < self.beta_max:
            raise ValueError(f"beta_max must exceed beta_min = {beta_min}; got {beta_max!r}")

    def beta(self, t):
        """``beta(t) = beta_min + t (beta_max - beta_min)``."""
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def alpha(self, t):
        """``alpha_t = exp(-int_0^t beta(s) ds) = exp(-beta_min t - (beta_max - beta_min) t^2 / 2)``."""
        return backend.xp().exp(-(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t))

    def drift(self, x, t):
        """``f(x, t) = -1/2 beta(t) x : (B, D)``."""
        return -0.5 * self.beta(t)[:, None] * x

    def diffusion(self, t):
        """``g(t) = sqrt(beta(t)) : (B,)``."""
        return backend.xp().sqrt(self.beta(t))

    def marginal(self, t):
        """``(m_t, sigma_t) = (sqrt(alpha_t), sqrt(1 - alpha_t))``, each ``(B,)``."""
        xp = backend.xp()
        a = self.alpha(_t(t))
        return xp.sqrt(a), xp.sqrt(-xp.expm1(xp.log(a)))

    def prior_sample(self, shape, rng, dtype="float64"):
        """Draws of the prior ``p_1 = N(0, I)`` (``alpha_1`` is about 0)."""
        return rng.normal(shape, dtype)


class VESDE:
    """Variance exploding SDE (NCSN in continuous time; Song et al. 2021).

    .. math::

        dx = \\sqrt{d\\sigma^2(t)/dt}\\, dW, \\qquad
        \\sigma(t) = \\sigma_{min} (\\sigma_{max} / \\sigma_{min})^t,

    so ``x_t = x_0 + sigma(t) eps`` (``m_t = 1``).

    Parameters
    ----------
    sigma_min, sigma_max : float
        ``0 < sigma_min < sigma_max``.
    """

    def __init__(self, sigma_min=0.01, sigma_max=3.0):
        self.sigma_min = checks.positive(sigma_min, "sigma_min")
        self.sigma_max = checks.positive(sigma_max, "sigma_max")
        if not self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma_max must exceed sigma_min = {sigma_min}; got {sigma_max!r}")
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t):
        """``sigma(t) = sigma_min (sigma_max / sigma_min)^t``."""
        return self.sigma_min * backend.xp().exp(t * self._log_ratio)

    def drift(self, x, t):
        """``f = 0``."""
        return backend.xp().zeros_like(x)

    def diffusion(self, t):
        """``g(t) = sqrt(d sigma^2 / dt) = sigma(t) sqrt(2 log(sigma_max / sigma_min))``."""
        return self.sigma(t) * math.sqrt(2.0 * self._log_ratio)

    def marginal(self, t):
        """``(m_t, sigma_t) = (1, sigma(t))``, each ``(B,)``. (The transition's std
        is ``sqrt(sigma(t)^2 - sigma_min^2)``; as in score_sde, ``sigma(t)`` is used.)"""
        t = _t(t)
        return backend.xp().ones_like(t), self.sigma(t)

    def prior_sample(self, shape, rng, dtype="float64"):
        """Draws of the prior ``N(0, sigma_max^2 I)``."""
        return self.sigma_max * rng.normal(shape, dtype)
