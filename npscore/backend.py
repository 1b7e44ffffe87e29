"""The array backend: NumPy on the CPU (default) or CuPy on the GPU.

This is the only module in npscore that imports ``numpy`` or ``cupy`` by name.
Every other module asks for the active array module once, at the top of a
function, and writes its maths against it::

    from npscore import backend
    xp = backend.xp()

The backend is chosen by :func:`use` or, when first needed, by the
environment variable ``NPSCORE_BACKEND`` (``numpy``, the default, or
``cupy``); a bad value is an error at that point, not at import. CuPy is
imported lazily, so ``import npscore`` never needs a GPU. The first time
the NumPy backend is chosen, npscore tunes the process's allocator
(:func:`tune_allocator`) unless ``NPSCORE_TUNE_ALLOCATOR=0``. Host arrays (for plotting, saving,
reading files) are made with :func:`to_numpy` and the host module
:data:`host`; device arrays with :func:`asarray`.
"""
import os

import numpy

#: The host array module (NumPy), for I/O, plotting and anything that must
#: live in main memory whatever the backend.
host = numpy

BACKENDS = ("numpy", "cupy")
FLOAT_DTYPES = ("float32", "float64")

_active = {}
_allocator = {}       # "tuned": whether the first use of the NumPy backend tuned the allocator


def _load_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            "backend 'cupy' was requested but CuPy is not installed: install it with "
            "`pip install 'npscore[cuda12]'` (CUDA 12) or `pip install 'npscore[cuda13]'` "
            "(CUDA 13), or use the 'numpy' backend"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise RuntimeError(
            f"backend 'cupy' was requested but no usable CUDA GPU was found ({exc}); "
            "use the 'numpy' backend on this machine"
        ) from None
    if n < 1:
        raise RuntimeError(
            "backend 'cupy' was requested but no CUDA GPU is visible; "
            "use the 'numpy' backend on this machine"
        )
    return cupy


def use(name):
    """Make ``name`` ('numpy' or 'cupy') the active backend and return its array module."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    key = name.strip().lower()
    if key not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    module = numpy if key == "numpy" else _load_cupy()
    if key == "numpy" and "tuned" not in _allocator:
        _allocator["tuned"] = env_flag("NPSCORE_TUNE_ALLOCATOR") and tune_allocator()
    _active["name"], _active["xp"] = key, module
    _active["fused"] = key == "cupy" and env_flag("NPSCORE_FUSED")
    return module


def fused():
    """Whether the fused CuPy kernels run (:mod:`npscore.fused`): on the CuPy backend unless
    ``NPSCORE_FUSED=0``, read once, when the backend is chosen (:func:`use`)."""
    return _get()["fused"]


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def env_flag(var, default=True):
    """The switch the environment variable ``var`` sets (``1``/``0``, ``true``/``false``, ``yes``/``no``,
    ``on``/``off``; ``default`` when unset or empty), or a ValueError naming it."""
    value = os.environ.get(var, "").strip().lower()
    if not value:
        return default
    if value not in _FLAGS:
        raise ValueError(f"{var} must be 1 or 0 (true/false, yes/no, on/off); got {os.environ[var]!r}")
    return _FLAGS[value]


def from_environment():
    """The backend ``NPSCORE_BACKEND`` names (``"numpy"`` when unset), unchecked."""
    return os.environ.get("NPSCORE_BACKEND") or "numpy"


def _get():
    if not _active:
        env = from_environment()
        if env.strip().lower() not in BACKENDS:
            raise ValueError(f"NPSCORE_BACKEND must be one of {', '.join(BACKENDS)}; got {env!r}")
        use(env)
    return _active


def xp():
    """The active array module (``numpy`` or ``cupy``)."""
    return _get()["xp"]


def name():
    """The active backend's name."""
    return _get()["name"]


def is_host():
    """True when arrays of the active backend live in main memory (NumPy)."""
    return name() == "numpy"


def asarray(a, dtype=None):
    """``a`` (host array, list or scalar) as an array of the active backend."""
    return xp().asarray(a, dtype=dtype)


def to_numpy(a):
    """``a`` (array of either backend, or anything array-like) as a host NumPy array."""
    if hasattr(a, "get") and not isinstance(a, numpy.ndarray):
        return a.get()
    return numpy.asarray(a)


def to_float(a):
    """A 0-d array of either backend as a Python float."""
    return float(to_numpy(a))


def check_dtype(dtype, argname="dtype"):
    """``dtype`` as a NumPy dtype, or a TypeError unless it is float32 or float64."""
    try:
        dt = numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"{argname} must be one of {FLOAT_DTYPES}; got {dtype!r}") from None
    if dt.name not in FLOAT_DTYPES:
        raise TypeError(f"{argname} must be one of {FLOAT_DTYPES}; got {dt.name}")
    return dt


def is_float_array(a):
    """True for an array (either backend) whose dtype is float32 or float64."""
    return hasattr(a, "dtype") and numpy.dtype(a.dtype).name in FLOAT_DTYPES


class Generator:
    """A seeded random generator on the active backend.

    Wraps ``xp.random.default_rng(seed)`` and exposes the few draws npscore
    needs with one signature on both backends. Same seed, same backend, same
    numbers.
    """

    def __init__(self, seed, stream=0):
        for arg, val in (("seed", seed), ("stream", stream)):
            if isinstance(val, bool) or not isinstance(val, (int, numpy.integer)) or val < 0:
                raise ValueError(f"{arg} must be a non-negative int; got {val!r}")
        self.seed, self.stream = int(seed), int(stream)
        self.xp = xp()
        # one integer seed per (seed, stream), so both backends accept it
        self._rng = self.xp.random.default_rng(self.seed * 1_000_003 + self.stream)

    def normal(self, shape, dtype="float64"):
        """Standard normal draws of ``shape``."""
        return self._rng.standard_normal(size=tuple(shape), dtype=check_dtype(dtype))

    def uniform(self, shape, low=0.0, high=1.0, dtype="float64"):
        """Uniform draws on [low, high) of ``shape``."""
        u = self._rng.random(size=tuple(shape), dtype=check_dtype(dtype))
        return low + (high - low) * u

    def integers(self, high, shape):
        """Integers uniform on {0, ..., high - 1} of ``shape``."""
        return self._rng.integers(0, int(high), size=tuple(shape))

    def rademacher(self, shape, dtype="float64"):
        """Independent signs +-1 of ``shape``."""
        return 2.0 * self.integers(2, shape).astype(check_dtype(dtype)) - 1.0


def rng(seed, stream=0):
    """A :class:`Generator` on the active backend seeded with ``(seed, stream)``.

    ``stream`` gives independent, reproducible sub-streams (training re-seeds
    with ``stream = step`` at checkpoint boundaries so that a resumed run
    draws exactly what an uninterrupted one would).
    """
    return Generator(seed, stream)


def synchronize():
    """Wait for queued GPU work (a no-op on NumPy); call before reading a timer."""
    if name() == "cupy":
        xp().cuda.Device().synchronize()


def quiet():
    """A context in which NumPy does not warn of overflow or invalid values, for work whose
    non-finite result is checked and reported anyway (a sampler's guard); CuPy never warns."""
    import contextlib
    return numpy.errstate(over="ignore", invalid="ignore") if is_host() else contextlib.nullcontext()


def tune_allocator(mmap_threshold=64 << 20, trim_threshold=256 << 20):
    """Keep freed buffers of up to ``mmap_threshold`` bytes inside the process.

    glibc's malloc hands large freed blocks back to the OS and every training
    step then pays page faults for its temporaries afresh; ``mallopt`` with
    these thresholds makes it reuse them (what ``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_TRIM_THRESHOLD_`` do from the environment). :func:`use` calls it
    the first time the NumPy backend is chosen, unless the environment sets
    ``NPSCORE_TUNE_ALLOCATOR=0``; the cost is that up to ``trim_threshold``
    bytes of freed memory stay with the process instead of going back to the OS.

    Returns
    -------
    bool
        True where it took effect (glibc), False elsewhere (nothing changed).
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3                 # glibc's <malloc.h>
        return (libc.mallopt(m_mmap_threshold, int(mmap_threshold)) == 1
                and libc.mallopt(m_trim_threshold, int(trim_threshold)) == 1)
    except (OSError, AttributeError, TypeError):
        return False
