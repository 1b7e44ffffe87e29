"""MNIST from IDX files (gzipped or raw), read and validated by hand.

The IDX format (LeCun et al.): two zero bytes, a type code (0x08 = unsigned
byte), the number of dimensions n, then n big-endian uint32 sizes, then the
data. The four MNIST files are ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte`` (each optionally ``.gz``). Nothing is downloaded:
pass the folder holding them (the commands read ``NPSCORE_MNIST_DIR`` when none is given).
"""
import gzip
import os
import zlib

from .. import backend, checks

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MAGIC = {"images": 2051, "labels": 2049}


def read_idx(path, expect_magic=None):
    """The array in IDX file ``path`` (gzip detected by its header).

    Parameters
    ----------
    path : str
    expect_magic : int, optional
        2051 for images, 2049 for labels.

    Returns
    -------
    host uint8 array of the dimensions the header gives
    """
    np = backend.host
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file {path!r} does not exist")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc}); replace the file with "
                             "a good copy of MNIST") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (header bytes {raw[:4].hex()}; "
                         "expected 0000 08 then the number of dimensions)")
    if expect_magic is not None and magic != expect_magic:
        raise ValueError(f"{path}: IDX magic number {magic}, expected {expect_magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    n = 1
    for d in dims:
        n *= d
    if len(raw) - header != n:
        raise ValueError(f"{path}: dimensions {dims} need {n} data bytes, file has {len(raw) - header} "
                         "(truncated or wrong file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def mnist_dir(directory):
    """The MNIST folder ``directory``, checked to exist."""
    where = ("Put the four MNIST files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz) in one folder "
             "and pass it (npscore mnist: --data DIR, or set NPSCORE_MNIST_DIR)")
    if not directory:
        raise FileNotFoundError(f"directory: no MNIST folder given. {where}")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"MNIST folder {directory!r} does not exist. {where}")
    return directory


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{stem}(.gz) is missing from MNIST folder {directory!r}")


def load_mnist(directory, split="train", dtype="float32", dequantize=False, rng=None):
    """One split of MNIST.

    Parameters
    ----------
    directory : str, optional
        The folder of the four files.
    split : {"train", "test"}
    dtype : str
    dequantize : bool
        Images ``(pixel + u) / 256`` with ``u ~ U(0, 1)`` drawn from ``rng``
        (uniform dequantisation) instead of ``pixel / 255``.

    Returns
    -------
    images : (N, 784) in [0, 1], on the active backend
    labels : (N,) host ints
    """
    checks.one_of(split, "split", tuple(FILES))
    directory = mnist_dir(directory)
    img_path, lab_path = (_find(directory, stem) for stem in FILES[split])
    images = read_idx(img_path, MAGIC["images"])
    labels = read_idx(lab_path, MAGIC["labels"])
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{img_path}: images must be N x 28 x 28; got {list(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{lab_path}: {labels.shape} labels for {images.shape[0]} images")
    if labels.max(initial=0) > 9:
        raise ValueError(f"{lab_path}: labels must be digits 0-9; found {int(labels.max())}")
    dtype = backend.check_dtype(dtype)
    x = backend.asarray(images.reshape(images.shape[0], 784)).astype(dtype)
    if dequantize:
        if rng is None:
            raise ValueError("dequantize=True needs rng=")
        x = (x + rng.uniform(x.shape, dtype=dtype)) / 256.0
    else:
        x = x / 255.0
    return x, labels.astype("int64")
