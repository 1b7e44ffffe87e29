"""npscore.mnist.metrics: the speckle and the neighbourhoods it reads."""

import numpy as np
import pytest

from npscore import backend
from npscore.mnist import metrics as mmetrics, run


def test_speckle_counts_lit_pixels_without_lit_neighbours():
    img = np.zeros((2, 28, 28))
    img[0, 5, 5] = 1.0                               # isolated
    img[0, 10, 10:13] = 1.0                          # a stroke of three
    img[1, 0, 0] = img[1, 27, 27] = 0.9             # two isolated, in corners
    assert run.speckle(backend.asarray(img.reshape(2, 784))) == pytest.approx(3 / 6)
    assert run.speckle(backend.asarray(np.zeros((1, 784)))) == 0.0


def test_neighbours_shifts_each_image_by_every_offset_but_zero():
    img = np.zeros((2, 784))
    img[1, 5 * 28 + 5] = 1.0
    win = mmetrics.neighbours(img, 2)
    offsets = [(di, dj) for di in range(-2, 3) for dj in range(-2, 3) if (di, dj) != (0, 0)]
    assert win.shape == (24, 2, 28, 28) and not win[:, 0].any()
    for w, (di, dj) in enumerate(offsets):                # at (i, j) the pixel (i + di, j + dj)
        assert win[w, 1, 5 - di, 5 - dj] == 1.0 and win[w, 1].sum() == 1.0
    corner = np.zeros((1, 784))
    corner[0, 0] = 1.0                                    # seen only from (1, 0), (0, 1), (1, 1): no wrapping
    assert mmetrics.neighbours(corner, 1).sum() == 3.0
