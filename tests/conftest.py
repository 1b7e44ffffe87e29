"""Test setup: the backend comes from NPSCORE_BACKEND (numpy by default).

Run the whole suite on the GPU with ``NPSCORE_BACKEND=cupy python -m pytest``;
tests marked ``gpu`` need CuPy and a CUDA GPU and skip cleanly without one.
Hypothesis profiles: ``ci`` (the default: 25 derandomized examples per
property, fast) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``: 500 random
examples per property).
"""
import os
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

from npscore import backend  # noqa: E402
from npscore.gradcheck import relative_error  # noqa: E402

settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=500, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = pathlib.Path(__file__).resolve().parents[1]


def arrays(path):
    """Every array of the ``.npz`` at ``path``, read whole."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def mnist_dir():
    """The real MNIST folder: ``$NPSCORE_MNIST_DIR``, else ``../shared/data/mnist``; None if neither."""
    for candidate in (os.environ.get("NPSCORE_MNIST_DIR"), ROOT.parent / "shared" / "data" / "mnist"):
        if candidate and pathlib.Path(candidate, "train-images-idx3-ubyte.gz").exists():
            return pathlib.Path(candidate)
    return None


MNIST = mnist_dir()
needs_mnist = pytest.mark.skipif(
    MNIST is None, reason="real MNIST not found: set NPSCORE_MNIST_DIR to the folder of its four IDX files "
                          "(or put them in ../shared/data/mnist)")


def cupy_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if cupy_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_backend():
    name = backend.name()
    yield
    backend.use(name)


def dev(a):
    """Host array -> active backend."""
    return None if a is None else backend.asarray(a)


def host(a):
    return backend.to_numpy(a)


def dev_params(params):
    return [(dev(W), dev(b)) for W, b in params]


def host_params(params):
    return [(host(W), host(b)) for W, b in params]


def with_biases(params, seed):
    """``params`` with biases drawn from N(0, 0.5^2): ``init`` sets them to 0, which would hide their sign."""
    rng = np.random.default_rng(seed + 1000)
    return [(W, dev(0.5 * rng.standard_normal(b.shape)).astype(b.dtype)) for W, b in params]


rel_err = relative_error     # max |a - b| / max |b| over arrays or lists of arrays


def mlp_setup(sizes, act, B, seed, cond_dim=0):
    """``(model, params, host params, x, c, rng)``: an MLP with nonzero biases and its inputs, float64."""
    from npscore import MLP
    model = MLP(sizes, act, cond_dim=cond_dim)
    params = with_biases(model.init(seed, "float64"), seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, sizes[0]))
    c = rng.standard_normal((B, cond_dim)) if cond_dim else None
    return model, params, host_params(params), x, c, rng


def moments_ok(x, mean, cov, mtol, ctol):
    """Assert that the rows of ``x`` have this mean and covariance, within absolute tolerances."""
    x = host(x)
    assert np.allclose(x.mean(0), mean, atol=mtol), x.mean(0)
    assert np.allclose(np.cov(x.T), cov, atol=ctol), np.cov(x.T)
