"""The user's data file (npscore/datafile.py): each fault named by its true cause, no NumPy warning."""
import os
import re
import warnings

import numpy as np
import pytest

from conftest import host
from npscore import datafile, toys


def _reads(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # a warning reaching the user fails the test
        return host(toys.read_file(str(path)))


@pytest.mark.parametrize("make, says", [
    (lambda p: p.mkdir(), "is a folder, not a file"),
    (lambda p: os.mkfifo(p), "is a FIFO (a pipe), not a file"),
    (lambda p: p.write_text(""), "is empty (no rows of numbers)"),
    (lambda p: p.write_text("\n\n  \n"), "is empty (no rows of numbers)"),
])
def test_what_is_not_a_file_of_rows_is_named(tmp_path, make, says):
    path = tmp_path / "data.csv"
    make(path)
    with pytest.raises(ValueError, match=f"data.csv: {re.escape(says)}"):
        _reads(path)


def test_a_device_is_named_as_one():
    with pytest.raises(ValueError, match="/dev/zero: is a device, not a file"):
        toys.read_file("/dev/zero")


def test_a_csv_saved_as_npy_is_named_and_no_unsafe_advice_is_given(tmp_path):
    np.savetxt(tmp_path / "x.npy", np.ones((5, 2)), delimiter=",")
    with pytest.raises(ValueError) as err:
        _reads(tmp_path / "x.npy")
    said = str(err.value)
    assert "is not a .npy file" in said and "a CSV? name it .csv" in said and "unsafe" not in said
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError) as err:
        _reads(tmp_path / "obj.npy")
    assert "holds Python objects" in str(err.value) and "unsafe" not in str(err.value)


def test_an_excel_csv_with_a_byte_order_mark_keeps_its_first_row(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 2))
    text = "\n".join(f"{a},{b}" for a, b in x) + "\r\n"
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert np.allclose(_reads(tmp_path / "excel.csv"), x)
    (tmp_path / "head.csv").write_bytes(b"\xef\xbb\xbfu,v\r\n" + text.encode())
    assert np.allclose(_reads(tmp_path / "head.csv"), x)


def test_magnitudes_beyond_what_float64_squares_are_refused_naming_the_column(tmp_path):
    x = np.random.default_rng(0).standard_normal((200, 3))
    x[:60, 2] = 1e300
    np.save(tmp_path / "huge.npy", x)
    with pytest.raises(ValueError, match=r"huge.npy: column 2 holds 1e\+300 \(row 0\): beyond 1e\+150"):
        _reads(tmp_path / "huge.npy")


def test_an_absurd_outlier_is_refused_naming_its_column_and_row(tmp_path):
    x = np.random.default_rng(0).standard_normal((200, 2))
    x[17, 1] = 1e30
    np.save(tmp_path / "outlier.npy", x)
    with pytest.raises(ValueError, match=r"column 1 ranges over 1e\+30 .* an outlier \(1e\+30 in row 17\)"):
        _reads(tmp_path / "outlier.npy")
    x[17, 1] = 50.0                                          # a far point, but data: kept
    np.save(tmp_path / "far.npy", x)
    assert _reads(tmp_path / "far.npy")[17, 1] == 50.0
    shifted = 1e8 + 3 * np.random.default_rng(1).standard_normal((100, 2))   # far from 0, not spread: fine
    np.save(tmp_path / "shifted.npy", shifted)
    assert np.array_equal(_reads(tmp_path / "shifted.npy"), shifted)


def test_values_up_to_the_largest_allowed_keep_squared_distances_finite():
    x = np.full((10 ** 5, 2), datafile.MAX_MAGNITUDE)
    assert np.isfinite(((x - (-x)) ** 2).sum())
