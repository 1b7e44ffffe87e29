"""Forward SDEs of score-based generative models: VE, VP and sub-VP.

An SDE ``dx = f(x, t) dt + g(t) dW`` on t in [0, 1] is given by its drift
``f``, its diffusion ``g``, its Gaussian transition ``p_0t(x_t | x_0) =
N(m_t x_0, sigma_t^2 I)`` (:meth:`marginal` returns ``(m_t, sigma_t)``) and
its prior ``p_1``. The reverse-time SDE (Anderson 1982; second report,
section 3.2) is ``dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dW_bar``,
and the probability-flow ODE with the same marginals is
``dx/dt = f(x, t) - 1/2 g(t)^2 grad log p_t(x)``: :meth:`SDE.reverse_drift`
holds both, with the one factor 1/2 as its switch. (The second report writes
the reverse SDE with the 1/2, which is the ODE's drift: with it the reverse
SDE samples the wrong law, as ``proofs/reverse_sde.py`` shows.) Samplers live in
:mod:`npscore.sampling`, the continuous-time DSM loss in :mod:`npscore.losses`,
the likelihood in :mod:`npscore.likelihood`. Times ``t`` are ``(B,)`` arrays; every score is
``score(x, sigma)``, read at ``sigma_t`` (:meth:`SDE.sigma_of`).
"""
import abc
import math

from . import backend, checks
from .densities import Gaussian


def _t(t):
    xp = backend.xp()
    t = xp.asarray(t, dtype=getattr(t, "dtype", "float64"))
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"t must lie in [0, 1]; got values from {float(t.min())} to {float(t.max())}")
    return t


class SDE(abc.ABC):
    """The contract of a forward SDE (score_sde's ``sde_lib.SDE``). A new SDE implements the
    abstract methods below; :meth:`reverse_drift`, the prior's :meth:`prior_log_prob` and
    :meth:`prior_sample` follow from them, and :meth:`corrector_alpha` is 1 unless the SDE says
    otherwise. Times ``t`` are ``(B,)`` arrays in [0, 1]."""

    @abc.abstractmethod
    def drift(self, x, t):
        """``f(x, t) : (B, D)``."""

    @abc.abstractmethod
    def diffusion(self, t):
        """``g(t) : (B,)``."""

    @abc.abstractmethod
    def marginal(self, t):
        """``(m_t, sigma_t)``, each ``(B,)``: ``p_0t(x_t | x_0) = N(m_t x_0, sigma_t^2 I)``."""

    @abc.abstractmethod
    def time_of(self, sigma):
        """The inverse of ``sigma_t``: the time ``t : (B,)`` at which the marginal std is ``sigma``
        (an exact score written in t reads its time from a model's input), clipped to [0, 1]
        against rounding."""

    def sigma_of(self, t):
        """The noise level ``sigma_t`` a score model ``s(x, sigma)`` is fed at time ``t``: the one
        place where the SDE samplers and the likelihood turn a time into a noise level."""
        return self.marginal(t)[1]

    def transition(self, t):
        """``(m, s)`` as floats at the scalar time ``t``: ``x_t = m x_0 + s eps`` exactly (the
        law of p_t for a known p_0; :func:`npscore.densities.score_under`)."""
        m, s = self.marginal(backend.xp().asarray([float(t)]))
        return float(backend.to_numpy(m)[0]), float(backend.to_numpy(s)[0])

    @abc.abstractmethod
    def prior_std(self):
        """``s`` of the prior ``p_1 = N(0, s^2 I)``."""

    @abc.abstractmethod
    def prior_fit(self, x):
        """The Gaussian the SDE samplers start from, given the training rows ``x``
        (:class:`npscore.densities.Gaussian`)."""

    @abc.abstractmethod
    def div_drift(self, t, D):
        """``div_x f(x, t) : (B,)`` in D dimensions (the likelihood's ODE needs it)."""

    def reverse_drift(self, score, probability_flow=False):
        r"""The drift of the reverse-time process, ``(x, t) -> (B, D)``:

        .. math:: f(x, t) - c\, g(t)^2 s(x, t), \qquad c = 1 \text{ (reverse SDE) or } \tfrac12
                  \text{ (probability-flow ODE)}

        for ``score(x, sigma)`` read at ``sigma_t`` (:meth:`sigma_of`); time runs from 1 down, so a step
        of length dt moves ``x - drift dt`` (second report, section 3.2; Song et al. 2021, eq. 6 and 13)."""
        c = 0.5 if probability_flow else 1.0

        def drift(x, t):
            return self.drift(x, t) - c * self.diffusion(t)[:, None] ** 2 * score(x, self.sigma_of(t))
        return drift

    def prior_log_prob(self, x):
        """``log p_1(x) : (B,)`` of the prior ``N(0, s^2 I)``, ``s`` :meth:`prior_std`."""
        s2, D = self.prior_std() ** 2, x.shape[1]
        return -0.5 * (x * x).sum(axis=1) / s2 - 0.5 * D * math.log(2 * math.pi * s2)

    def prior_sample(self, shape, rng, dtype="float64"):
        """Draws of the prior ``N(0, s^2 I)``."""
        return self.prior_std() * rng.normal(shape, dtype)

    def corrector_alpha(self, t, n_steps):
        """The factor ``alpha_i`` of the Langevin corrector's step (Song et al. 2021,
        Algorithm 5): 1, except for the VP SDE."""
        return backend.xp().ones_like(t)


class VPSDE(SDE):
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
        return backend.xp().exp(self._log_alpha(t))

    def drift(self, x, t):
        """``f(x, t) = -1/2 beta(t) x : (B, D)``."""
        return -0.5 * self.beta(t)[:, None] * x

    def diffusion(self, t):
        """``g(t) = sqrt(beta(t)) : (B,)``."""
        return backend.xp().sqrt(self.beta(t))

    def _log_alpha(self, t):
        """``log alpha_t = -int_0^t beta(s) ds``."""
        return -(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t)

    def marginal(self, t):
        """``(m_t, sigma_t) = (sqrt(alpha_t), sqrt(1 - alpha_t))``, each ``(B,)``; ``1 - alpha_t``
        as ``-expm1(log alpha_t)`` from the exponent itself, exact for small t."""
        xp = backend.xp()
        y = self._log_alpha(_t(t))
        return xp.sqrt(xp.exp(y)), xp.sqrt(-xp.expm1(y))

    def _time_of_log_alpha(self, log_alpha):
        """The root ``t >= 0`` of ``beta_min t + (beta_max - beta_min) t^2 / 2 = -log alpha_t``."""
        xp, a = backend.xp(), self.beta_max - self.beta_min
        return (xp.sqrt(self.beta_min ** 2 - 2.0 * a * log_alpha) - self.beta_min) / a

    def time_of(self, sigma):
        """``t`` with ``sqrt(1 - alpha_t) = sigma``: ``log alpha_t = log(1 - sigma^2)``."""
        return backend.xp().clip(self._time_of_log_alpha(backend.xp().log1p(-sigma * sigma)), 0.0, 1.0)

    def prior_std(self):
        """The prior ``p_1 = N(0, I)`` (``alpha_1`` is about 0)."""
        return 1.0

    def prior_fit(self, x):
        """The Gaussian the SDE samplers start from: the prior, ``N(0, I)`` (``x`` unused)."""
        xp = backend.xp()
        return Gaussian(xp.zeros(x.shape[1]), xp.eye(x.shape[1]))

    def div_drift(self, t, D):
        """``div f(x, t) = -D beta(t) / 2 : (B,)``."""
        return -0.5 * D * self.beta(t)

    def corrector_alpha(self, t, n_steps):
        """``alpha_i = 1 - beta_i`` of the N-step discretisation, ``beta_i = (beta_min + i / (N - 1)
        (beta_max - beta_min)) / N`` at ``i = floor(t (N - 1))`` (score_sde's ``LangevinCorrector``);
        positive only for ``N > beta_max``."""
        N = checks.integer(n_steps, "n_steps")
        if N < self.beta_max:
            raise ValueError(f"n_steps must be at least beta_max = {self.beta_max} for the VP corrector "
                             f"(its alpha_i = 1 - beta_i / N must be positive); got {N}")
        i = backend.xp().floor(t * (N - 1))
        return 1.0 - (self.beta_min + i / max(N - 1, 1) * (self.beta_max - self.beta_min)) / N


class SubVPSDE(VPSDE):
    """Sub-variance preserving SDE (Song et al. 2021, eq. 29): the VP SDE's drift, a diffusion damped
    near t = 0,

    .. math::

        dx = -\\tfrac12 \\beta(t) x\\, dt + \\sqrt{\\beta(t) (1 - e^{-2 \\int_0^t \\beta(s) ds})}\\, dW,

    so ``x_t = sqrt(alpha_t) x_0 + (1 - alpha_t) eps``: the mean of the VP SDE, and a standard
    deviation ``1 - alpha_t`` at most the VP SDE's ``sqrt(1 - alpha_t)`` (hence "sub"). Its
    likelihoods were the best of that paper's. The prior is ``N(0, I)``; the corrector's step is
    the VP SDE's.
    """

    def diffusion(self, t):
        """``g(t) = sqrt(beta(t) (1 - alpha_t^2))``, ``1 - alpha_t^2`` as ``-expm1(2 log alpha_t)``."""
        xp = backend.xp()
        return xp.sqrt(self.beta(t) * -xp.expm1(2.0 * self._log_alpha(t)))

    def marginal(self, t):
        """``(m_t, sigma_t) = (sqrt(alpha_t), 1 - alpha_t)``, each ``(B,)`` (score_sde's ``std``)."""
        xp = backend.xp()
        y = self._log_alpha(_t(t))
        return xp.sqrt(xp.exp(y)), -xp.expm1(y)

    def time_of(self, sigma):
        """``t`` with ``1 - alpha_t = sigma``: ``log alpha_t = log(1 - sigma)``."""
        return backend.xp().clip(self._time_of_log_alpha(backend.xp().log1p(-sigma)), 0.0, 1.0)


class VESDE(SDE):
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

    def time_of(self, sigma):
        """``t = log(sigma / sigma_min) / log(sigma_max / sigma_min)``, the inverse of :meth:`sigma`."""
        xp = backend.xp()
        return xp.clip(xp.log(sigma / self.sigma_min) / self._log_ratio, 0.0, 1.0)

    def transition(self, t):
        """``(1, sqrt(sigma(t)^2 - sigma_min^2))``: the noise the SDE adds from t = 0, less than the
        ``sigma(t)`` that :meth:`marginal` reports."""
        return 1.0, math.sqrt(max(float(backend.to_numpy(self.sigma(float(t)))) ** 2 - self.sigma_min ** 2, 0.0))

    def prior_std(self):
        """The prior ``N(0, sigma_max^2 I)``."""
        return self.sigma_max

    def prior_fit(self, x):
        """The Gaussian the SDE samplers start from: ``N(mean x, Cov x + sigma_max^2 I)``, the first
        two moments of p_1 (the prior ``N(0, sigma_max^2 I)`` misses the data's mean and spread,
        which the deterministic probability flow carries into its samples)."""
        return Gaussian.fit(x, self.sigma_max ** 2)

    def div_drift(self, t, D):
        """``div f = 0 : (B,)``."""
        return backend.xp().zeros_like(t)


#: the SDEs by name, each built from a run's noise levels (largest first; only the VE SDE uses them)
SDES = {
    "ve": lambda sigmas: VESDE(min(sigmas), max(sigmas)),
    "vp": lambda sigmas: VPSDE(),
    "subvp": lambda sigmas: SubVPSDE(),
}
