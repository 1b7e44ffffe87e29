"""Fake MNIST folders (IDX files the tests write) and a small training run on them."""
import gzip

import numpy as np
import pytest

from npscore.mnist import run, train as mtrain
from npscore.mnist.idx import load_mnist


def write_idx(path, array, magic_type=0x08, gz=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, magic_type, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = head + array.tobytes()
    raw = raw[: len(raw) - truncate] if truncate else raw
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if gz else raw)


def fake_mnist(folder, n_train=64, n_test=32, seed=0, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sfx = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, 28, 28)), gz=gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n), gz=gz)
    return folder


def train_small(out, data, steps=10, **kw):
    x = load_mnist(str(data), "train")[0]
    kw = {"batch": 4, "hidden": 8, "checkpoint_every": 10, "gate_steps": 5, "progress": False,
          "log": lambda *a: None, **kw}
    return run.train(str(out), x, steps=steps, **kw)


def interrupted_before_the_gate(monkeypatch, *args, **kw):
    """A run stopped as the local gate's training starts: its checkpoint is the rest's, at ``steps``."""
    fit = mtrain.fit

    def stop_at_the_gate(*a, **k):
        if k.get("desc") == "local gate":
            raise KeyboardInterrupt
        return fit(*a, **k)
    monkeypatch.setattr(mtrain, "fit", stop_at_the_gate)
    with pytest.raises(KeyboardInterrupt):
        train_small(*args, **kw)
    monkeypatch.setattr(mtrain, "fit", fit)
