"""Forward SDEs of score-based generative models: VE and VP.

An SDE ``dx = f(x, t) dt + g(t) dW`` on t in [0, 1] is described by its drift
``f``, its diffusion ``g``, its Gaussian transition ``p_0t(x_t | x_0) =
N(m(t) x_0, sigma_t^2 I)`` (:meth:`marginal` returns ``(m(t), sigma_t)``) and
its prior ``p_1``. The reverse-time SDE (Anderson 1982; second report,
section 3.2) is ``dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dW_bar``.
Samplers live in :mod:`npscore.sampling`; the continuous-time DSM loss in
:mod:`npscore.losses`.
"""
import math

from . import backend


def _t(t, dtype="float64"):
    xp = backend.xp()
    t = xp.asarray(t, dtype=dtype)
    if not bool(xp.all((t >= 0) & (t <= 1))):
        raise ValueError("t must lie in [0, 1]")
    return t


class VPSDE:
    """Variance preserving SDE (DDPM in continuous time; Song et al. 2021).

    .. math:: dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,
              beta(t) = beta_min + t (beta_max - beta_min)

    so ``x_t = sqrt(alpha_t) x_0 + sqrt(1 - alpha_t) eps`` with
    ``alpha_t = exp(-int_0^t beta)``: the second report's forward diffusion
    (section 3.1).
    """

    def __init__(self, beta_min=0.1, beta_max=20.0):
        if not 0 < beta_min < beta_max:
            raise ValueError(f"need 0 < beta_min < beta_max; got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def alpha(self, t):
        """``alpha_t = exp(-int_0^t beta(s) ds)``."""
        xp = backend.xp()
        return xp.exp(-(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t))

    def drift(self, x, t):
        return -0.5 * self.beta(t)[:, None] * x

    def diffusion(self, t):
        return backend.xp().sqrt(self.beta(t))

    def marginal(self, t):
        """``(m(t), sigma_t) = (sqrt(alpha_t), sqrt(1 - alpha_t))``."""
        xp = backend.xp()
        a = self.alpha(_t(t, getattr(t, "dtype", "float64")))
        return xp.sqrt(a), xp.sqrt(-xp.expm1(xp.log(a)))

    def prior_sample(self, shape, rng, dtype="float64"):
        return rng.normal(shape, dtype)


class VESDE:
    """Variance exploding SDE (NCSN in continuous time; Song et al. 2021).

    .. math:: dx = sqrt(d sigma^2(t) / dt) dW,
              sigma(t) = sigma_min (sigma_max / sigma_min)^t

    so ``x_t = x_0 + sigma(t) eps`` (m = 1).
    """

    def __init__(self, sigma_min=0.01, sigma_max=3.0):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max; got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t):
        return self.sigma_min * backend.xp().exp(t * self._log_ratio)

    def drift(self, x, t):
        return backend.xp().zeros_like(x)

    def diffusion(self, t):
        return self.sigma(t) * math.sqrt(2.0 * self._log_ratio)

    def marginal(self, t):
        t = _t(t, getattr(t, "dtype", "float64"))
        return backend.xp().ones_like(t), self.sigma(t)

    def prior_sample(self, shape, rng, dtype="float64"):
        return self.sigma_max * rng.normal(shape, dtype)
