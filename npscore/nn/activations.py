"""Activations, each with its first and second derivative beside its formula.

ISM's trace gradient needs a'' (first report, Definition 1; second report,
section 2.2), so every activation carries f, f' and f''. They are smooth:
ReLU's a'' = 0 would silently drop a term of that gradient. Each rule
computes what it is asked for from one exponential, so a forward pass that
also needs a' (every training step) pays for one ``exp``, not three.

Here sigma(z) = 1 / (1 + e^-z) is the logistic function, not a noise level.

On CuPy each rule runs as one fused kernel of the same formulas
(:mod:`npscore.fused`); ``rule.reference`` is the NumPy definition below.
"""
import functools

from .. import backend, checks, fused


def _fusable(rule):
    """``rule``, run on CuPy as :func:`npscore.fused.activation` of the same name; ``.reference`` is ``rule``."""
    @functools.wraps(rule)
    def run(z, order=0):
        if fused.enabled() and fused.has_activation(rule.__name__):
            return fused.activation(rule.__name__, z, order)
        return rule(z, order)                           # NumPy, or CuPy without a kernel for this rule
    run.reference = rule
    return run


def _logistic_numerator(e, z):
    """1 where z >= 0, else ``e = exp(-|z|)``: the numerator of sigma(z) = (1 or e) / (1 + e) (no
    overflow). As ``max(e, [z >= 0])``, since 0 < e <= 1: the same numbers as a ``where``, without
    its branch per element."""
    return backend.xp().maximum(e, z >= 0)


@_fusable
def softplus(z, order=0):
    """a = log(1 + e^z),  a' = sigma(z),  a'' = sigma(z) (1 - sigma(z)).

    Parameters
    ----------
    z : array
        Pre-activations.
    order : {0, 1, 2}
        How many derivatives to return besides the value.

    Returns
    -------
    tuple of arrays
        ``(a,)``, ``(a, a')`` or ``(a, a', a'')``, each shaped like ``z``.
    """
    xp = backend.xp()
    e = xp.abs(z)
    xp.negative(e, out=e)
    xp.exp(e, out=e)                                     # e = exp(-|z|), one array for the three
    one_e = 1.0 + e
    # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), overflow-free; log(1 + e) rather than log1p(e), the faster
    # in NumPy, at an absolute cost below 1e-16 (e <= 1)
    a = xp.log(one_e)
    a += xp.maximum(z, 0.0)
    out = (a,)
    if order >= 1:
        s = _logistic_numerator(e, z)
        s /= one_e                                       # sigma(z) = (1 or e) / (1 + e)
        out += (s,)
    if order >= 2:
        d2 = 1.0 - s
        d2 *= s                                          # sigma (1 - sigma)
        out += (d2,)
    return out


@_fusable
def tanh(z, order=0):
    """a = tanh z,  a' = sech^2 z,  a'' = -2 a a'.

    From one ``e = exp(-2|z|)``: ``tanh|z| = (1 - e) / (1 + e)`` and
    ``sech^2 z = 4 e / (1 + e)^2`` (no cancellation, unlike ``1 - tanh^2``).
    """
    xp = backend.xp()
    e = xp.exp(-2.0 * xp.abs(z))
    t = xp.sign(z) * (1.0 - e) / (1.0 + e)
    out = (t,)
    if order >= 1:
        d1 = 4.0 * e / (1.0 + e) ** 2
        out += (d1,)
    if order >= 2:
        out += (-2.0 * t * d1,)
    return out


@_fusable
def elu(z, order=0):
    """a = z (z > 0) or e^z - 1,  a' = 1 or e^z,  a'' = 0 or e^z."""
    xp = backend.xp()
    e = xp.exp(xp.minimum(z, 0.0))                      # e^z below 0, exactly 1 above
    a = e - 1.0
    a += xp.maximum(z, 0.0)                             # z above 0 (e - 1 = 0 there), e^z - 1 below
    out = (a,)
    if order >= 1:
        out += (e,)                                     # 1 above 0, e^z below
    if order >= 2:
        out += (e - (z > 0),)                           # 0 above 0, e^z below
    return out


@_fusable
def swish(z, order=0):
    """a = z sigma(z),  a' = sigma + z sigma',  a'' = sigma' (2 + z (1 - 2 sigma)),
    with sigma' = sigma (1 - sigma)."""
    xp = backend.xp()
    e = xp.abs(z)
    xp.negative(e, out=e)
    xp.exp(e, out=e)                                     # e = exp(-|z|)
    s = _logistic_numerator(e, z)
    e += 1.0
    s /= e                                               # sigma(z) = (1 or e) / (1 + e)
    out = (z * s,)
    if order >= 1:
        ds = 1.0 - s
        ds *= s                                          # sigma' = sigma (1 - sigma)
        d1 = z * ds
        d1 += s                                          # a' = sigma + z sigma'
        out += (d1,)
    if order >= 2:
        d2 = s * -2.0
        d2 += 1.0
        d2 *= z
        d2 += 2.0
        d2 *= ds                                         # a'' = sigma' (2 + z (1 - 2 sigma))
        out += (d2,)
    return out


#: name -> rule ``f(z, order) -> (a, a', a'')[:order + 1]``
ACTIVATIONS = {"softplus": softplus, "tanh": tanh, "elu": elu, "swish": swish}


def get(name):
    """The activation rule registered as ``name``."""
    return ACTIVATIONS[checks.one_of(name, "activation", tuple(ACTIVATIONS))]
