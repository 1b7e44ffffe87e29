"""The training loop: progress bar, divergence guard, EMA, checkpoints, exact resume.

:func:`fit` runs ``params, state = opt.update(params, *loss_fn(params, rng))``
for ``n_steps``, with a progress bar showing the loss. The draws of step
``k`` come from a generator re-seeded with ``(seed, k)`` every ``segment``
steps, and checkpoints fall on those boundaries, so a run resumed from a
checkpoint draws what the uninterrupted run would have drawn and ends with
the same numbers (same seed, same backend).
"""
import math

from . import backend, checks
from .io import save_checkpoint
from .tree import tree_map

#: a loss this many times its level (running median or first loss, at least 1) stops training
BLOW_UP = 1e4
#: steps in that running median
WINDOW = 200


def _guard(values, history, step, hint="lower the learning rate or check the data", saved=None):
    """Raise when a loss is non-finite or has blown up against the running median; the message gives
    ``hint`` and, where one was written (``saved``, a step), the checkpoint."""
    where = f"; the last checkpoint, {saved[0]}, is from step {saved[1]}" if saved else ""
    for i, v in enumerate(values):
        at = step - len(values) + 2 + i
        if not math.isfinite(v):
            raise RuntimeError(f"training stopped at step {at}: the loss became {v}; {hint}{where}")
    recent = sorted(history[-WINDOW:])
    if len(history) >= 50:
        # the running median, or the first loss, and never below 1 (losses near or below 0: ISM, SSM)
        level = max(min(abs(recent[len(recent) // 2]), abs(history[0])), 1.0)
        worst = max(values, key=abs)
        if abs(worst) > BLOW_UP * level:
            raise RuntimeError(f"training stopped near step {step + 1}: the loss {worst:.3g} is over "
                               f"{BLOW_UP:.0e} times its level {level:.3g} (the median of the last "
                               f"{len(recent)} steps or the first loss, at least 1): it diverged; {hint}{where}")


def fit(loss_fn, params, opt, n_steps, seed, *, state=None, start_step=0, losses=None,
        segment=100, checkpoint=None, config=None, ema=0.0, progress=True, desc="train",
        hint="lower the learning rate or check the data"):
    """Minimise ``loss_fn(params, rng) -> (value, grads)`` with ``opt``.

    With ``ema = r > 0`` the state also keeps an exponential moving average
    of the params (NCSN and score_sde sample from it),

    .. math:: \\bar\\theta \\leftarrow r_k \\bar\\theta + (1 - r_k) \\theta, \\qquad r_k = \\min(r, (1 + k) / (10 + k)).

    Parameters
    ----------
    loss_fn : callable
        ``(params, rng) -> (value, grads)``.
    params : list of (W, b)
        Updated in place.
    opt : SGD or Adam
    n_steps : int
        The step to stop at (a resumed run counts from ``start_step``).
    seed : int
    state : dict, optional
        The optimiser state to continue from.
    segment : int
        Steps between re-seeds and checkpoints.
    checkpoint : str, optional
        Save params, state, losses and ``config`` there every ``segment`` steps.
    hint : str
        What a divergence message advises.

    Returns
    -------
    params : list of (W, b)
    state : dict
        With ``state["ema"]`` when ``ema > 0``.
    losses : list of float
        One per step, host floats.

    Raises
    ------
    RuntimeError
        When the loss turns non-finite or grows past ``BLOW_UP`` times its
        running median; the last checkpoint is then from before.
    """
    n_steps = checks.integer(n_steps, "n_steps")
    segment = checks.integer(segment, "segment")
    ema = checks.in_interval(ema, "ema", 0.0, 1.0)
    if start_step % segment:
        raise ValueError(f"start_step must be a multiple of segment {segment}; got {start_step}")
    if start_step >= n_steps:
        raise ValueError(f"n_steps must exceed the {start_step} steps already done; got {n_steps}")
    from tqdm.auto import tqdm

    state = opt.init(params) if state is None else state
    if ema and "ema" not in state:
        state["ema"] = tree_map(lambda p: p.copy(), params)
    losses = [] if losses is None else list(losses)
    bar = tqdm(range(start_step, n_steps), desc=desc, initial=start_step, total=n_steps,
               disable=not progress, dynamic_ncols=True, mininterval=0.5)
    pending, rng = [], None
    saved = (checkpoint, start_step) if checkpoint and start_step else None
    for step in bar:
        if step % segment == 0:
            rng = backend.rng(seed, step)
        value, grads = loss_fn(params, rng)
        pending.append(value)
        average = (state["ema"], min(ema, (1.0 + step) / (10.0 + step))) if ema else None   # warm-up, as TF's
        params, state = opt.update(params, grads, state, ema=average)
        boundary = (step + 1) % segment == 0 or step + 1 == n_steps
        if boundary or len(pending) >= 25:
            values = [backend.to_float(v) for v in pending]   # one device sync per chunk
            pending = []
            _guard(values, losses, step, hint, saved)
            losses.extend(values)
            bar.set_postfix(loss=f"{values[-1]:.4g}")
        if checkpoint and boundary:
            save_checkpoint(checkpoint, params, state, losses, config or {})
            saved = (checkpoint, step + 1)
    bar.close()
    return params, state, losses
