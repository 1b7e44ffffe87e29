"""The IDX reader: on files the tests write, and on the real MNIST when present."""
import gzip

import numpy as np
import pytest

from conftest import MNIST, host, needs_mnist
from npscore import backend
from npscore.mnist.idx import load_mnist, mnist_dir, read_idx
from mnist_fakes import fake_mnist, write_idx


@pytest.mark.parametrize("gz", [True, False])
def test_reader_round_trip(tmp_path, gz):
    fake_mnist(tmp_path, gz=gz)
    x, y = load_mnist(str(tmp_path), "train")
    raw = read_idx(str(tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))))
    assert x.shape == (64, 784) and y.shape == (64,)
    assert np.allclose(host(x), raw.reshape(64, 784) / 255.0)
    xd, _ = load_mnist(str(tmp_path), "test", dequantize=True, rng=backend.rng(0))
    raw_t = read_idx(str(tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else "")))).reshape(32, 784)
    d = host(xd) * 256 - raw_t
    assert d.min() > -1e-3 and d.max() < 1 + 1e-3 and d.std() > 0.2     # uniform dequantisation


def test_reader_errors_name_the_file(tmp_path):
    fake_mnist(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    write_idx(bad / "x.idx", np.zeros((3, 4)), truncate=5)
    with pytest.raises(ValueError, match=r"x.idx: dimensions \[3, 4\] need 12 data bytes, file has 7"):
        read_idx(str(bad / "x.idx"))
    (bad / "text.idx").write_text("hello, not an IDX file")
    with pytest.raises(ValueError, match="text.idx: not an unsigned-byte IDX file"):
        read_idx(str(bad / "text.idx"))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        read_idx(str(tmp_path / "train-labels-idx1-ubyte.gz"), 2051)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(str(bad / "missing.idx"))
    (bad / "trunc.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(100))[:20])
    with pytest.raises(ValueError, match="trunc.gz: corrupt or truncated gzip"):
        read_idx(str(bad / "trunc.gz"))
    # wrong image size: 27 x 27 images under the right name
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    write_idx(wrong / "train-images-idx3-ubyte.gz", np.zeros((4, 27, 27)))
    write_idx(wrong / "train-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(ValueError, match=r"images must be N x 28 x 28; got \[4, 27, 27\]"):
        load_mnist(str(wrong), "train")


def test_missing_directory_says_where_files_go(tmp_path, monkeypatch):
    monkeypatch.delenv("NPSCORE_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="^directory: no MNIST folder given.*train-images-idx3-ubyte.*--data"):
        mnist_dir(None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist_dir(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte\\(.gz\\) is missing"):
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"")
        load_mnist(str(tmp_path), "test")
    monkeypatch.setenv("NPSCORE_MNIST_DIR", str(fake_mnist(tmp_path / "env")))
    from npscore.commands.mnist import load_data
    assert load_data(None, test=False)["x_train"].shape == (64, 784)          # the commands read the variable


@needs_mnist
def test_real_mnist_counts():
    x, y = load_mnist(str(MNIST), "test")
    assert x.shape == (10000, 784) and 0 <= float(host(x).min()) and float(host(x).max()) == 1.0
    assert list(np.bincount(y)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
