"""The argument checks of :mod:`npscore.checks`, each with its whole message."""
import math

import numpy as np
import pytest

from conftest import dev
from npscore import checks


def _says(kind, message, call, *args):
    with pytest.raises(kind) as info:
        call(*args)
    assert str(info.value) == message


def test_numbers_take_python_and_numpy_scalars():
    for value in (0.5, np.float32(0.5), np.float64(0.5), np.array(0.5)):
        assert checks.positive(value, "s") == 0.5 and type(checks.positive(value, "s")) is float
        assert checks.non_negative(value, "s") == 0.5
        assert checks.in_interval(value, "s", 0.0, 1.0) == 0.5
    for value in (3, np.int64(3), np.uint8(3), np.array(3)):
        assert checks.integer(value, "n") == 3 and type(checks.integer(value, "n")) is int
    assert checks.positive(2, "s") == 2.0


def test_numbers_refuse_arrays_strings_and_bools_by_name():
    _says(TypeError, "s must be a positive finite number; got array([1., 2.])", checks.positive,
          np.array([1.0, 2.0]), "s")
    _says(TypeError, "s must be a positive finite number; got True", checks.positive, True, "s")
    _says(TypeError, "b must be a finite number >= 0; got 'a'", checks.non_negative, "a", "b")
    _says(TypeError, "p must be a number in [0, 1); got 'a'", checks.in_interval, "a", "p", 0, 1)
    _says(TypeError, "n must be an int >= 1; got 2.0", checks.integer, 2.0, "n")
    _says(TypeError, "n must be an int >= 0; got array([1, 2])", checks.integer, np.array([1, 2]), "n", 0)

    class Typed:                                     # a dtype but no ndim: not a scalar
        dtype = np.dtype("float64")

        def __repr__(self):
            return "Typed()"
    _says(TypeError, "s must be a positive finite number; got Typed()", checks.positive, Typed(), "s")


def test_number_bounds():
    _says(ValueError, "s must be a positive finite number; got 0.0", checks.positive, 0.0, "s")
    _says(ValueError, "s must be a positive finite number; got inf", checks.positive, math.inf, "s")
    assert checks.non_negative(0.0, "b") == 0.0
    _says(ValueError, "b must be a finite number >= 0; got -1e-12", checks.non_negative, -1e-12, "b")
    _says(ValueError, "b must be a finite number >= 0; got inf", checks.non_negative, math.inf, "b")
    _says(ValueError, "n must be an int >= 2; got 1", checks.integer, 1, "n", 2)


@pytest.mark.parametrize("closed, inside, outside, brackets", [
    ("left", (0.0, 0.5), (1.0, -0.1), "[0, 1)"),
    ("neither", (0.5, 1e-9), (0.0, 1.0), "(0, 1)"),
    ("right", (1.0, 0.5), (0.0, 1.5), "(0, 1]"),
])
def test_in_interval_closes_the_side_it_names(closed, inside, outside, brackets):
    for v in inside:
        assert checks.in_interval(v, "p", 0, 1, closed) == v
    for v in outside:
        _says(ValueError, f"p must be a number in {brackets}; got {v!r}", checks.in_interval, v, "p", 0, 1, closed)


def test_one_of_lists_the_choices():
    assert checks.one_of("b", "kind", ("a", "b")) == "b"
    _says(ValueError, "kind must be one of 'a', 'b'; got 'c'", checks.one_of, "c", "kind", ("a", "b"))


def test_arrays_are_named_when_not_float_finite_or_of_their_shape():
    good = dev(np.zeros((2, 3)))
    assert checks.shape(good, (2, 3), "g") is good and checks.batch(good, 3, "x0") is good
    _says(TypeError, "g must be a float32 or float64 array; got int64", checks.shape,
          dev(np.zeros((2, 3), dtype=np.int64)), (2, 3), "g")
    _says(TypeError, "g must be a float32 or float64 array; got list", checks.float_array, [1.0], "g")
    _says(ValueError, "g must have shape (3, 2); got (2, 3)", checks.shape, good, (3, 2), "g")
    _says(ValueError, "g must be finite; got an array with NaN or inf", checks.shape,
          dev(np.array([[np.nan, 0.0]])), (1, 2), "g")
    _says(ValueError, "x0 must have shape (B, 4); got (2, 3)", checks.batch, good, 4, "x0")
    _says(ValueError, "x0 must have shape (B, D); got (3,)", checks.batch, dev(np.zeros(3)), None, "x0")
    _says(ValueError, "x must have shape (B, D); got (3,)", checks.batch, dev(np.zeros(3)), None)
    _says(ValueError, "x0 must hold at least one example; got shape (0, 3)", checks.batch,
          dev(np.zeros((0, 3))), None, "x0")
    _says(ValueError, "x0 must be finite; got an array with NaN or inf", checks.batch,
          dev(np.array([[np.inf]])), None, "x0")
    _says(ValueError, "a must be finite; got an array with NaN or inf; why", checks.finite,
          dev(np.array([np.nan])), "a", "; why")


def test_finite_float_turns_integers_into_float64_and_keeps_float32():
    assert checks.finite_float(np.arange(3), "a").dtype == np.float64
    assert checks.finite_float(np.zeros(2, np.float32), "a").dtype == np.float32
    _says(ValueError, "a must be finite; got an array with NaN or inf", checks.finite_float, [1.0, math.nan], "a")


def test_sigmas_are_a_decreasing_host_list_of_positive_finite_levels():
    assert checks.sigmas(np.array([[1.0, 0.5]])) == [1.0, 0.5]
    assert checks.sigmas(dev(np.array([2.0]))) == [2.0]
    _says(ValueError, "levels must hold at least one noise level; got []", checks.sigmas, [], "levels")
    _says(ValueError, "sigmas must hold positive finite values; got [1.0, 0.0]", checks.sigmas, [1.0, 0.0])
    _says(ValueError, "sigmas must hold positive finite values; got [inf, 1.0]", checks.sigmas, [math.inf, 1.0])
    _says(ValueError, "sigmas must be strictly decreasing (largest first); got [1.0, 1.0]", checks.sigmas,
          [1.0, 1.0])


def test_drawn_uses_what_is_given_else_draws_with_the_rng():
    assert checks.drawn(lambda: "drawn", "given", None, "eps") == "given"
    assert checks.drawn(lambda: "drawn", None, object(), "eps") == "drawn"
    _says(ValueError, "eps must be given, or rng= to draw it; got neither", checks.drawn, lambda: 0, None, None, "eps")


def test_finite_loss_says_why_the_loss_is_not_finite():
    params = [(dev(np.ones((2, 2))), dev(np.zeros(2)))]
    value = dev(np.array(1.5))
    assert checks.finite_loss(value, params, "sigma = 0.1") is value
    _says(ValueError, "the loss is inf with finite params and data: it overflowed at sigma = 0.1; use a larger "
          "sigma, float64, or smaller inputs", checks.finite_loss, dev(np.array(np.inf)), params, "sigma = 0.1")
    damaged = [(dev(np.ones((2, 2))), dev(np.array([0.0, np.nan])))]
    _says(ValueError, "params (array 1) must be finite; got an array with NaN or inf; the model diverged or was "
          "loaded damaged", checks.finite_loss, dev(np.array(np.nan)), damaged, "sigma = 0.1")
