"""The training loop: progress bar, non-finite guard, atomic checkpoints, exact resume.

:func:`fit` runs ``params, state = opt.update(params, *loss_fn(params, rng))``
for ``n_steps``, showing a progress bar with the loss. The random draws of
step ``k`` come from a generator re-seeded with ``(seed, k)`` every
``segment`` steps, and checkpoints fall on those boundaries, so a run resumed
from a checkpoint draws exactly what the uninterrupted run would have drawn
and ends with the same numbers (same seed, same backend).

Checkpoints are ``.npz`` files written to a temporary file and renamed into
place (never half-written) and read with ``allow_pickle=False``.
"""
import json
import math
import os
import tempfile

from . import backend
from .nn import tree_leaves, tree_map


def fit(loss_fn, params, opt, n_steps, seed, *, state=None, start_step=0, losses=None,
        segment=100, checkpoint=None, config=None, ema=0.0, progress=True, desc="train"):
    """Minimise ``loss_fn(params, rng) -> (value, grads)`` with ``opt``.

    Returns ``(params, state, losses)`` with ``losses`` a host list of floats,
    one per step. Raises ``RuntimeError`` as soon as the loss is non-finite.
    With ``ema = r > 0`` the optimiser state also keeps an exponential moving
    average of the params, ``ema <- r ema + (1 - r) params`` with
    ``r = min(ema, (1 + k) / (10 + k))`` at step k (as NCSN and score_sde
    sample from), in ``state["ema"]``.
    With ``checkpoint`` (a path), saves params, optimiser state, losses and
    ``config`` every ``segment`` steps and at the end.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps (--steps) must be an int >= 1; got {n_steps!r}")
    if isinstance(segment, bool) or not isinstance(segment, int) or segment < 1:
        raise ValueError(f"segment must be an int >= 1; got {segment!r}")
    if start_step % segment:
        raise ValueError(f"start_step {start_step} is not a multiple of segment {segment}")
    from tqdm.auto import tqdm

    if not 0.0 <= ema < 1.0:
        raise ValueError(f"ema must be in [0, 1); got {ema!r}")
    state = opt.init(params) if state is None else state
    if ema and "ema" not in state:
        state["ema"] = params
    losses = [] if losses is None else list(losses)
    bar = tqdm(range(start_step, n_steps), desc=desc, initial=start_step, total=n_steps,
               disable=not progress, dynamic_ncols=True, mininterval=0.5)
    pending = []
    rng = None
    for step in bar:
        if step % segment == 0:
            rng = backend.rng(seed, step)
        value, grads = loss_fn(params, rng)
        pending.append(value)
        averaged = state.get("ema")
        params, state = opt.update(params, grads, state)
        if ema:
            r = min(ema, (1.0 + step) / (10.0 + step))      # warm-up, as TF's num_updates
            state["ema"] = tree_map(lambda a, p: r * a + (1.0 - r) * p, averaged, params)
        last = step + 1 == n_steps
        if (step + 1) % segment == 0 or last or len(pending) >= 25:
            values = [backend.to_float(v) for v in pending]   # one device sync per chunk
            pending = []
            bad = [v for v in values if not math.isfinite(v)]
            if bad:
                raise RuntimeError(
                    f"training stopped: the loss became non-finite ({bad[0]}) near step {step + 1}; "
                    "lower the learning rate or check the data")
            losses.extend(values)
            bar.set_postfix(loss=f"{values[-1]:.4g}")
        if checkpoint and ((step + 1) % segment == 0 or last):
            save_checkpoint(checkpoint, params, state, losses, config or {})
    bar.close()
    return params, state, losses


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path, params, state, losses, config):
    """Write params, optimiser state, loss history and config to ``path`` atomically."""
    np = backend.host
    arrays = {f"param_{i}": backend.to_numpy(a) for i, a in enumerate(tree_leaves(params))}
    for key in ("m", "v", "ema"):
        if key in state:
            arrays.update({f"opt_{key}_{i}": backend.to_numpy(a) for i, a in enumerate(tree_leaves(state[key]))})
    arrays["opt_step"] = np.asarray(state["step"])
    arrays["losses"] = np.asarray(losses, dtype="float64")
    arrays["config"] = np.asarray(json.dumps(config))
    atomic_savez(path, arrays)


def atomic_savez(path, arrays):
    """``np.savez`` to a temporary file in the same folder, then rename into place."""
    def write(tmp):
        with open(tmp, "wb") as f:
            backend.host.savez(f, **arrays)
    atomic_write(path, write)


def atomic_write_json(path, obj):
    """``obj`` as indented JSON at ``path``, written atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
    atomic_write(path, write)


def atomic_write(path, write):
    """Call ``write(tmp_path)`` then rename ``tmp_path`` to ``path`` (same folder)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, model, opt=None, dtype=None):
    """``(params, state, losses, config)`` from ``path``, checked against ``model``.

    A checkpoint of another architecture is a ``ValueError`` naming the
    mismatched array.
    """
    np = backend.host
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"checkpoint {path!r} is not a readable .npz file ({exc})") from None
    with data:
        shapes = [s for layer in model.shapes() for s in layer]
        n = len([k for k in data.files if k.startswith("param_")])
        if n != len(shapes):
            raise ValueError(f"checkpoint {path!r} holds {n} parameter arrays; {model} needs {len(shapes)}")

        def tree(prefix):
            leaves = []
            for i, shape in enumerate(shapes):
                a = data[f"{prefix}_{i}"]
                if tuple(a.shape) != tuple(shape):
                    raise ValueError(f"checkpoint {path!r}: array {prefix}_{i} has shape {a.shape}; "
                                     f"{model} expects {shape}")
                leaves.append(backend.asarray(a, dtype=dtype))
            return [(leaves[2 * i], leaves[2 * i + 1]) for i in range(len(leaves) // 2)]

        params = tree("param")
        state = None
        if opt is not None:
            state = {"step": int(data["opt_step"])}
            for key in ("m", "v", "ema"):
                if f"opt_{key}_0" in data.files:
                    state[key] = tree(f"opt_{key}")
        return params, state, [float(v) for v in data["losses"]], json.loads(str(data["config"]))
