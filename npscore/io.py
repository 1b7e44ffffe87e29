"""Files: atomic writes, ``.npz`` checkpoints, and reading them back safely.

Every file npscore writes goes to a temporary file in the target folder
(named ``.npscore-tmp-*``) and is renamed into place, so a reader never sees
a half-written file; the temporary file is removed on any error, and
:func:`clean_stale` removes those a killed run left behind. Files are made
readable by others (mode 0644, less the umask). ``.npz`` files are read with
``allow_pickle=False``, and every way a file can be damaged (missing,
empty, truncated, bit-flipped, not an archive, a key missing, bad JSON) is
a ``ValueError`` (``FileNotFoundError`` when missing) of one line naming the
file, what was expected and what to do.
"""
import json
import math
import os
import tempfile
import tokenize
import zipfile
import zlib

from . import backend
from .tree import tree_leaves, tree_unflatten

TMP_PREFIX = ".npscore-tmp-"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call ``write(tmp_path)``, then rename ``tmp_path`` to ``path`` (same folder).

    Parameters
    ----------
    path : str
        The final file.
    write : callable
        Writes the whole file to the path it is given.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_savez(path, arrays):
    """``numpy.savez`` of ``arrays`` (a dict of host arrays) to ``path``, atomically."""
    def write(tmp):
        with open(tmp, "wb") as f:
            backend.host.savez(f, **arrays)
    atomic_write(path, write)


def atomic_write_json(path, obj):
    """``obj`` as indented JSON at ``path``, atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
    atomic_write(path, write)


def clean_stale(folder):
    """Remove the temporary files a killed run left in ``folder``; returns their names."""
    if not os.path.isdir(folder):
        return []
    stale = [n for n in os.listdir(folder) if n.startswith(TMP_PREFIX)]
    for n in stale:
        os.unlink(os.path.join(folder, n))
    return stale


def writable_folder(folder, name="--out"):
    """Create ``folder`` if needed and prove it writable with a probe file, before any work."""
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} {folder!r} is not a writable folder ({exc.strerror or exc}); "
                         "choose another folder") from None
    return folder


def pause_point(stage):
    """A test hook: with ``NPSCORE_PAUSE_AT=stage`` the process writes ``$NPSCORE_PAUSE_FILE`` and
    sleeps there, so that a test can signal it at a moment it names rather than at a time."""
    if os.environ.get("NPSCORE_PAUSE_AT") == stage:
        import time
        with open(os.environ["NPSCORE_PAUSE_FILE"], "w") as f:
            f.write(stage)
        while True:
            time.sleep(60)


def sha256(path):
    """The SHA-256 digest of the file at ``path``, in hex."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- reading
def read_npz(path, keys=(), what="an npscore .npz file"):
    """All arrays of ``path`` as a host dict, checked to hold ``keys``.

    Raises ``FileNotFoundError`` when missing and a one-line ``ValueError``
    for any damage.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        kind = "an empty file" if not magic else "not a .npz archive (it does not start as a zip file)"
        raise ValueError(f"{path}: {kind}; expected {what}")
    try:
        with backend.host.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError, SyntaxError,
            tokenize.TokenError) as exc:                    # a damaged .npy header fails to parse
        detail = str(exc).splitlines()[0][:80] if str(exc) else ""
        raise ValueError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {detail}); "
                         f"expected {what}: the file is damaged, write it again") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path}: {what} must hold {', '.join(missing)}; they are missing "
                         "(a file from another program or an older npscore)")
    return arrays


def read_json_array(path, arrays, key="config"):
    """The JSON document stored as the string array ``arrays[key]``."""
    try:
        return json.loads(str(arrays[key]))
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{path}: its {key!r} entry is not valid JSON ({exc}); the file is damaged") from None


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path, params, state, losses, config):
    """Write params, optimiser state, loss history and ``config`` to ``path``, atomically.

    Parameters
    ----------
    params : list of (W, b)
    state : dict
        The optimiser state (``step``, and the trees ``m``, ``v``, ``ema`` it has).
    losses : list of float
    config : dict
        JSON-serialisable settings of the run.
    """
    np = backend.host
    arrays = {f"param_{i}": backend.to_numpy(a) for i, a in enumerate(tree_leaves(params))}
    for key in ("m", "v", "ema"):
        if key in state:
            arrays.update({f"opt_{key}_{i}": backend.to_numpy(a) for i, a in enumerate(tree_leaves(state[key]))})
    arrays["opt_step"] = np.asarray(state["step"])
    arrays["losses"] = np.asarray(losses, dtype="float64")
    arrays["config"] = np.asarray(json.dumps(config))
    atomic_savez(path, arrays)
    pause_point(f"checkpoint-{int(state['step'])}")


def load_checkpoint(path, model, dtype=None):
    """``(params, state, losses, config)`` from a checkpoint, checked against ``model``.

    Parameters
    ----------
    path : str
    model : object with ``shapes()``
        The network the checkpoint must fit (``[(W.shape, b.shape), ...]``).
    dtype : str, optional
        Cast the arrays to this dtype.

    Returns
    -------
    params : list of (W, b)
    state : dict
        ``step`` and the trees ``m``, ``v``, ``ema`` saved.
    losses : list of float
    config : dict
    """
    what = "an npscore checkpoint"
    data = read_npz(path, ("opt_step", "losses", "config", "param_0"), what)
    config = read_json_array(path, data)
    shapes = [s for layer in model.shapes() for s in layer]

    def tree(prefix):
        leaves = []
        for i, expected in enumerate(shapes):
            a = data.get(f"{prefix}_{i}")
            if a is None or tuple(a.shape) != tuple(expected):
                got = "missing" if a is None else f"of shape {a.shape}"
                raise ValueError(f"{path}: array {prefix}_{i} is {got}; {model} needs {expected} "
                                 "(a checkpoint of another model: pass the settings it was trained with)")
            if a.dtype.kind == "f" and not backend.host.isfinite(a).all():
                raise ValueError(f"{path}: array {prefix}_{i} holds NaN or inf; the file was edited or damaged "
                                 "(or saved from a diverged run): train again")
            leaves.append(backend.asarray(a, dtype=dtype))
        return tree_unflatten(leaves)

    n = sum(k.startswith("param_") for k in data)
    if n != len(shapes):
        raise ValueError(f"{path}: holds {n} parameter arrays; {model} needs {len(shapes)} "
                         "(a checkpoint of another model)")
    params = tree("param")
    state = {"step": int(data["opt_step"])}
    for key in ("m", "v", "ema"):
        if f"opt_{key}_0" in data:
            state[key] = tree(f"opt_{key}")
    return params, state, [float(v) for v in data["losses"]], config


# ---------------------------------------------------------------- checkpoint records
def kind_of(record):
    """The command whose checkpoint holds the config ``record`` (a dict): ``"npscore train"`` or
    ``"npscore mnist"``; records from before the ``kind`` field are told apart by the MNIST base."""
    return record.get("kind") or ("npscore mnist" if "base" in record else "npscore train")


def check_levels(sigmas, where):
    """Noise levels read from a record: positive, finite, each smaller than the one before."""
    levels = list(sigmas)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in levels) or \
            any(a <= b for a, b in zip(levels, levels[1:])):
        raise ValueError(f"{where}: its noise levels must be positive, finite and decreasing; got "
                         f"{levels[:4]}{' ...' if len(levels) > 4 else ''} (the file was edited or damaged: "
                         "train again)")
