"""The built-in data sets and the file reader (npscore/toys.py)."""
import numpy as np
import pytest

from conftest import dev, host
from npscore import toys


@pytest.mark.parametrize("name", sorted(toys.DATASETS))
def test_every_builtin_set_is_seeded_and_finite(name):
    a, mix = toys.load(name, 500, seed=3)
    b, _ = toys.load(name, 500, seed=3)
    c, _ = toys.load(name, 500, seed=4)
    assert a.shape == (500, 2) and np.isfinite(host(a)).all()
    assert np.array_equal(host(a), host(b)) and not np.array_equal(host(a), host(c))
    assert (mix is not None) == (name in ("two-modes", "two-modes-equal", "eight-gaussians"))


def test_files_npy_and_csv(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 3))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b,c", comments="")
    for f in ("x.npy", "x.csv"):
        assert np.allclose(host(toys.load(str(tmp_path / f), 0)[0]), x)
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    with pytest.raises(ValueError, match="bad.csv: not readable as"):
        toys.read_file(str(tmp_path / "bad.csv"))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        toys.read_file(str(tmp_path / "nan.npy"))
    with pytest.raises(FileNotFoundError, match="--data takes a built-in name"):
        toys.load(str(tmp_path / "missing.npy"), 10)


def test_csv_headers_index_columns_and_a_nan_first_row_are_read_as_they_are(tmp_path):
    x = np.random.default_rng(1).standard_normal((6, 2))
    said = []
    (tmp_path / "plain.csv").write_text("\n".join(f"{a},{b}" for a, b in x) + "\n")
    assert np.allclose(host(toys.read_file(str(tmp_path / "plain.csv"), log=said.append)), x)
    assert said[-1].endswith("plain.csv: read 6 rows of 2 columns")
    (tmp_path / "named.csv").write_text("u,v\n" + "\n".join(f"{a},{b}" for a, b in x) + "\n")
    assert np.allclose(host(toys.read_file(str(tmp_path / "named.csv"), log=said.append)), x)
    assert said[-1].endswith("read 6 rows of 2 columns; skipped a header row")
    pandas = ",u,v\n" + "\n".join(f"{i},{a},{b}" for i, (a, b) in enumerate(x)) + "\n"     # DataFrame.to_csv
    (tmp_path / "pandas.csv").write_text(pandas)
    assert np.allclose(host(toys.read_file(str(tmp_path / "pandas.csv"), log=said.append)), x)
    assert said[-1].endswith("read 6 rows of 2 columns; skipped a header row; dropped an index column")
    (tmp_path / "e.csv").write_text("1e-3,2E5\n3,4\n")                 # exponents are numbers, not a header
    assert host(toys.read_file(str(tmp_path / "e.csv"))).shape == (2, 2)
    (tmp_path / "nan.csv").write_text("nan,1.0\n" + "\n".join(f"{a},{b}" for a, b in x) + "\n")
    with pytest.raises(ValueError, match=r"nan.csv: holds NaN or inf in 1 row\(s\), the first row 0; remove"):
        toys.read_file(str(tmp_path / "nan.csv"))


def test_a_long_reader_error_is_cut_at_a_word():
    import os
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "words.csv")
    with open(path, "w") as f:
        f.write("1,2\n" + "3," + "word " * 60 + "\n")
    with pytest.raises(ValueError) as err:
        toys.read_file(path)
    detail = str(err.value).split("(", 1)[1]
    assert detail.endswith("[...])") and " wor[" not in detail


def test_standardization_is_the_mean_row_and_the_rms_radius_and_refuses_one_point():
    x = dev(np.array([[1e8, 2.0], [1e8 + 2.0, 2.0], [1e8, 4.0], [1e8 + 2.0, 4.0]]))
    mean, scale = toys.standardization(x)
    assert mean == [1e8 + 1.0, 3.0] and scale == pytest.approx(2 ** 0.5, rel=1e-12)
    with pytest.raises(ValueError, match=r"^--data: all 3 rows are the same point; a score needs data with spread$"):
        toys.standardization(dev(np.full((3, 2), 7.0)))
