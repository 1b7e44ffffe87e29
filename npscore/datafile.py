"""The user's own data file: ``.npy`` (an ``(N, D)`` array of numbers) or ``.csv`` (N rows of D
numbers, an optional header line, UTF-8 with or without a byte-order mark), read with a diagnosis.

Each way a file can be wrong is named by its true cause, in one line naming the file: missing, a
folder, a FIFO or device rather than a file, empty, a CSV or other text saved as ``.npy``, pickled
Python objects, NaN or inf, and magnitudes npscore cannot compute with (a value beyond
:data:`MAX_MAGNITUDE`, whose square overflows float64, or a column whose range is absurd beside
its bulk: an outlier :data:`MAX_SPREAD` times the spread of its middle half, which would crush
every other row into one point once the data is standardised). NumPy's warnings never reach the
user.
"""
import os
import stat
import textwrap
import warnings

from . import backend

#: the largest magnitude a value may have: squared distances must stay finite in float64
MAX_MAGNITUDE = 1e150
#: the largest ratio of a column's range to the spread of its middle half (its interquartile range)
MAX_SPREAD = 1e6
NPY_MAGIC = b"\x93NUMPY"


class Diagnosis(ValueError):
    """A file's true fault, worded for the user (the reader adds the path)."""


def _kind(path):
    """Why ``path`` is not a regular file, or None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (a pipe), not a file: save the data to a .npy or .csv file first"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None


def _read_npy(path):
    np = backend.host
    with open(path, "rb") as f:
        head = f.read(64)
    if not head.startswith(NPY_MAGIC):
        text = all(32 <= b < 127 or b in (9, 10, 13) for b in head.lstrip(b"\xef\xbb\xbf"))
        raise Diagnosis("is not a .npy file (it does not start with NumPy's header" + (
            "; its first bytes are text: a CSV? name it .csv)" if text else ")"))
    try:
        return np.load(path, allow_pickle=False), []
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise Diagnosis("holds Python objects (a pickled object array), not numbers; save the numbers "
                             "as a float array: numpy.save(path, numpy.asarray(x, dtype=float))") from None
        raise


def _number(field):
    try:
        float(field)
        return True
    except ValueError:
        return False


def _read_csv(path):
    """``(x, notes)``: the numbers of a ``.csv`` file and what was done to read them. A first line
    is a header when one of its fields is not a number; a first column that the header leaves
    unnamed (or names ``index`` / ``Unnamed: 0``) and that counts 0, 1, 2, ... is an index, dropped.
    A UTF-8 byte-order mark (as Excel writes) is not part of the first field."""
    np = backend.host
    with open(path, encoding="utf-8-sig") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines:
        raise Diagnosis("is empty (no rows of numbers)")
    first = lines[0].strip().split(",")
    header = not all(_number(v) for v in first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = np.loadtxt(lines[int(header):], delimiter=",", ndmin=2)
    notes = ["skipped a header row"] if header else []
    if header and first[0].strip().strip('"') in ("", "index", "Unnamed: 0") and x.shape[1] > 1 \
            and np.array_equal(x[:, 0], np.arange(x.shape[0])):
        x, notes = x[:, 1:], notes + ["dropped an index column"]
    return x, notes


def _check_magnitudes(x):
    """Raise naming the column whose values npscore cannot compute with (see the module's docstring)."""
    np = backend.host
    big = np.abs(x) > MAX_MAGNITUDE
    if big.any():
        row, col = (int(i[0]) for i in np.nonzero(big))
        raise ValueError(f"column {col} holds {x[row, col]:.3g} (row {row}): beyond {MAX_MAGNITUDE:g}, squared "
                         "distances overflow float64; rescale the column or remove the row")
    q1, q3 = np.percentile(x, [25, 75], axis=0)
    for col in range(x.shape[1]):
        spread, lo, hi = q3[col] - q1[col], x[:, col].min(), x[:, col].max()
        if spread > 0 and hi - lo > MAX_SPREAD * spread:
            row = int(np.argmax(np.abs(x[:, col] - np.median(x[:, col]))))
            raise ValueError(f"column {col} ranges over {hi - lo:.3g} while its middle half spans {spread:.3g}: "
                             f"an outlier ({x[row, col]:.3g} in row {row}) would crush every other row into one "
                             "point once the data is standardised; remove it or rescale the column")


def read_file(path, dtype="float64", log=None):
    """``(N, D)`` data from a ``.npy`` or ``.csv`` file, checked; ``log`` is told what was read."""
    np = backend.host
    why = _kind(path)
    if why == "no such file":
        raise FileNotFoundError(f"{path}: no such file")
    if why is not None:
        raise ValueError(f"{path}: {why}; --data takes a .npy or .csv file of shape (N, D)")
    try:
        if path.endswith(".npy"):
            x, notes = _read_npy(path)
        elif path.endswith(".csv"):
            x, notes = _read_csv(path)
        else:
            raise ValueError("the file must end in .npy or .csv")
    except Diagnosis as exc:
        raise ValueError(f"{path}: {exc}") from None
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        detail = textwrap.shorten(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)
        if isinstance(exc, UnicodeDecodeError):
            detail = "it is not UTF-8 text: a binary file named .csv?"
        raise ValueError(f"{path}: not readable as (N, D) numbers ({detail})") from None
    if x.ndim != 2 or x.shape[0] < 2 or x.dtype.kind not in "iuf":
        raise ValueError(f"{path}: must hold an (N, D) array of numbers with N >= 2; got "
                         f"{x.dtype} of shape {x.shape}")
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ValueError(f"{path}: holds NaN or inf in {rows.size} row(s), the first row {int(rows[0])}; "
                         "remove those rows")
    try:
        _check_magnitudes(x.astype("float64"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if log is not None:
        log(f"{path}: read {x.shape[0]} rows of {x.shape[1]} columns" + "".join(f"; {n}" for n in notes))
    return backend.asarray(x.astype(dtype))
