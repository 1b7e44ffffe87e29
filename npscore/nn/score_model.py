"""The contract of a noise-conditional score model ``s_theta(x, sigma)``.

Every loss, sampler and likelihood of npscore that takes a noise-conditional model uses it through
these passes alone, with one argument order, ``(params, x, sigma, ...)``:

===========================  ==========================================================================
``init(seed, dtype)``        the params, a list of array pairs (:meth:`shapes` gives their shapes)
``forward(params, x, s)``    ``(s(x, sigma), cache)``, checked; ``_forward`` unchecked, with ``order``
``backward(params, c, g)``   ``g^T ds/dtheta`` from a cache (``L = sum(g * s)``)
``apply(params, x, s)``      ``s(x, sigma) : (B, D)``
``vjp(params, x, s, g)``     ``(g^T ds/dtheta, g^T ds/dx)``
``vjp_x(params, x, s, gs)``  ``[g^T ds/dx for g in gs]`` (Hutchinson's trace estimate)
``score_fn(params)``         the callable ``score(x, sigma)`` every sampler takes
``trace_jacobian``           exact ``tr(ds/dx) : (B,)``, where ``exact_trace`` is True
===========================  ==========================================================================

``sigma`` is a number or a ``(B,)`` array, positive. What a model can do is declared as
attributes, never found out by calling a method that raises: ``conditional`` (True: it takes
sigma), ``exact_trace`` (True: it has :meth:`trace_jacobian`) and ``sample_batch`` (the most
examples one sampling pass should see, where memory or speed bounds it). A model implements
:meth:`shapes`, :meth:`init`, :meth:`_forward`, :meth:`backward` and :meth:`_vjp`; the rest
is written here once.
"""
import abc

from .. import backend, checks


class ScoreModel(abc.ABC):
    """``s_theta(x, sigma) : (B, D) -> (B, D)``; see the module's docstring for the contract."""

    conditional = True
    exact_trace = False
    in_dim = out_dim = None
    #: the most examples one pass may see at once (its memory), or None for any number
    sample_batch = None

    @abc.abstractmethod
    def shapes(self):
        """The params' shapes, ``[(shape, shape), ...]``."""

    @abc.abstractmethod
    def init(self, seed, dtype="float64"):
        """Fresh params of :meth:`shapes`."""

    @abc.abstractmethod
    def check(self, params, x, sigma):
        """Raise unless ``params`` fit :meth:`shapes` and ``x`` is ``(B, in_dim)``."""

    @abc.abstractmethod
    def _forward(self, params, x, sigma, order=1):
        """``(s, cache)`` for a ``(B,)`` sigma, unchecked; ``order`` 0 keeps no derivatives."""

    @abc.abstractmethod
    def backward(self, params, cache, g):
        """``dL/dtheta`` of ``L = sum(g * s)`` from a :meth:`forward` cache."""

    @abc.abstractmethod
    def _vjp(self, params, x, cache, g, param_grads):
        """``(g^T ds/dtheta or None, g^T ds/dx)`` from a :meth:`forward` cache."""

    # ------------------------------------------------------------ written once
    def sigma_array(self, x, sigma, check=True):
        """``sigma`` (a number or ``(B,)``) as a ``(B,)`` array of ``x``'s dtype, checked positive."""
        xp = backend.xp()
        if check and not hasattr(sigma, "shape"):
            checks.positive(sigma, "sigma")
        s = xp.asarray(sigma, dtype=x.dtype)
        s = xp.full((x.shape[0],), s, dtype=x.dtype) if s.ndim == 0 else s
        if check:
            checks.shape(s, (x.shape[0],), "sigma")
            if not bool((s > 0).all()):
                raise ValueError(f"sigma must be positive; got values down to {float(s.min())!r}")
        return s

    def forward(self, params, x, sigma):
        """``(s(x, sigma), cache)``, checked; :meth:`backward` takes the cache."""
        sigma = self.sigma_array(x, sigma)
        self.check(params, x, sigma)
        return self._forward(params, x, sigma)

    def apply(self, params, x, sigma):
        """``s(x, sigma) : (B, D)``."""
        return self.forward(params, x, sigma)[0]

    def vjp(self, params, x, sigma, g):
        """``(g^T ds/dtheta, g^T ds/dx)``."""
        checks.shape(g, x.shape, "g")
        return self._vjp(params, x, self.forward(params, x, sigma)[1], g, True)

    def vjp_x(self, params, x, sigma, gs):
        """``[g^T ds/dx for g in gs]``: one forward pass and, per ``g``, a reverse pass that forms
        no parameter gradients (what Hutchinson's trace estimate needs)."""
        cache = self.forward(params, x, sigma)[1]
        for g in gs:
            checks.shape(g, x.shape, "g")
        return [self._vjp(params, x, cache, g, False)[1] for g in gs]

    def score_fn(self, params):
        """The callable ``score(x, sigma)`` the samplers take (params checked once, here)."""
        xp, dtype = backend.xp(), params[0][0].dtype
        self.check(params, xp.zeros((1, self.in_dim), dtype=dtype), xp.ones(1, dtype=dtype))
        return lambda x, sigma: self._forward(params, x, self.sigma_array(x, sigma, check=False), 0)[0]
