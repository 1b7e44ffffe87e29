"""Argument checks, one wording: ``"{name} must be ...; got {value!r}"``.

Every public entry point of npscore checks its arguments here, once, before
any work; inner loops (training steps, sampler steps) call unchecked
internals. A bad value is a ``TypeError`` (wrong kind of thing) or a
``ValueError`` (right kind, wrong value) naming the argument, as the caller
knows it (``--samples`` on the command line, ``x0`` in the library).
"""
import math

from . import backend
from .tree import tree_leaves


def _number(value, name, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_scalar(value):
        raise TypeError(f"{name} must be {what}; got {value!r}")
    return float(value)


def _is_scalar(value):
    return hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iuf"


def integer(value, name, minimum=1):
    """``value`` as an int, which must be ``>= minimum``.

    Returns
    -------
    int
    """
    if isinstance(value, bool) or not (isinstance(value, int) or
                                       (_is_scalar(value) and value.dtype.kind in "iu")):
        raise TypeError(f"{name} must be an int >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def positive(value, name):
    """``value`` as a positive finite float.

    Returns
    -------
    float
    """
    v = _number(value, name, "a positive finite number")
    if not 0.0 < v < math.inf:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return v


def non_negative(value, name):
    """``value`` as a finite float ``>= 0``."""
    v = _number(value, name, "a finite number >= 0")
    if not 0.0 <= v < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def in_interval(value, name, low, high, closed="left"):
    """``value`` as a float in ``[low, high)`` (``closed="left"``), ``(low, high)``
    (``"neither"``) or ``(low, high]`` (``"right"``)."""
    brackets = {"left": "[)", "neither": "()", "right": "(]"}[closed]
    what = f"a number in {brackets[0]}{low}, {high}{brackets[1]}"
    v = _number(value, name, what)
    ok_low = v >= low if closed == "left" else v > low
    ok_high = v <= high if closed == "right" else v < high
    if not (ok_low and ok_high):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return v


def one_of(value, name, choices):
    """``value``, which must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def float_array(a, name):
    """``a`` must be a float32 or float64 array of the active backend."""
    if not backend.is_float_array(a):
        raise TypeError(f"{name} must be a float32 or float64 array; got "
                        f"{getattr(a, 'dtype', type(a).__name__)}")
    return a


def finite_float(a, name):
    """``a`` as a finite float array of the active backend (an integer array becomes float64)."""
    a = backend.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype("float64")
    return finite(a, name)


def finite(a, name, why=""):
    """``a`` must hold no NaN or inf (one host sync)."""
    if not bool(backend.xp().isfinite(a).all()):
        raise ValueError(f"{name} must be finite; got an array with NaN or inf{why}")
    return a


def batch(x, width, name="x"):
    """``x`` must be a finite float array of shape ``(B, width)`` with ``B >= 1``."""
    float_array(x, name)
    if x.ndim != 2 or (width is not None and x.shape[1] != width):
        raise ValueError(f"{name} must have shape (B, {width if width is not None else 'D'}); "
                         f"got {tuple(x.shape)}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one example; got shape {tuple(x.shape)}")
    return finite(x, name)


def shape(a, expected, name):
    """``a`` must be a finite float array of exactly ``expected`` shape."""
    float_array(a, name)
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}; got {tuple(a.shape)}")
    return finite(a, name)


def sigmas(values, name="sigmas"):
    """``values`` as a host list of positive finite floats, strictly decreasing."""
    out = [float(s) for s in backend.to_numpy(values).reshape(-1)]
    if not out:
        raise ValueError(f"{name} must hold at least one noise level; got {out}")
    if any(not 0.0 < s < math.inf for s in out):
        raise ValueError(f"{name} must hold positive finite values; got {out}")
    if any(b >= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name} must be strictly decreasing (largest first); got {out}")
    return out


def drawn(draw, given, rng, name):
    """``given``, or ``draw()`` when it is None and an ``rng`` was passed to draw it with."""
    if given is not None:
        return given
    if rng is None:
        raise ValueError(f"{name} must be given, or rng= to draw it; got neither")
    return draw()


def finite_loss(value, params, what):
    """``value``; raise, saying why, when the loss is not finite (damaged params, or an overflow at ``what``)."""
    if bool(backend.xp().isfinite(value)):
        return value
    for i, a in enumerate(tree_leaves(params)):
        finite(a, f"params (array {i})", "; the model diverged or was loaded damaged")
    raise ValueError(f"the loss is {float(value)} with finite params and data: it overflowed at {what}; "
                     "use a larger sigma, float64, or smaller inputs")
