"""The data of an ``npscore train`` run: its rows split and standardised, its noise schedule, the noise
levels a run accepts, and the rows ``npscore likelihood`` scores. Everything fitted to the data
(the standardisation, the schedule) is computed here once and read back from the run's record.
"""
import os

from .. import backend, checks, io, schedules
from ..toys import DATASETS, MIN_ROWS, load, read_file, standardization
from .config import DTYPE


def split(data, n_train, n_held_out, seed, standardize=True, log=None, shift=None):
    """``(x, held_out, mixture, standardization)``: fresh draws of a built-in set, or a file's rows
    with a fifth held out (at most ``n_held_out`` of them kept for the metrics, so that their cost does
    not grow with the file), standardised on the training rows when ``standardize``
    (:func:`npscore.toys.standardization`; else None), or by the given ``shift = (mean, scale)``."""
    if data in DATASETS:
        x, mixture = load(data, n_train, seed, DTYPE)
        return x, load(data, n_held_out, seed + 1, DTYPE)[0], mixture, None
    rows = read_file(data, "float64", log)
    if rows.shape[0] < MIN_ROWS:
        raise ValueError(f"--data {data}: holds {rows.shape[0]} rows; npscore train needs at least {MIN_ROWS} "
                         "(a fifth is held out for the metrics)")
    perm = backend.asarray(backend.host.random.default_rng(seed).permutation(rows.shape[0]))
    x, held = rows[perm[rows.shape[0] // 5:]], rows[perm[: rows.shape[0] // 5]][:n_held_out]
    if shift is None and standardize:
        shift = standardization(x, f"--data {data}")
    if shift is not None:
        mean = backend.asarray(shift[0])
        x, held = (x - mean) / shift[1], (held - mean) / shift[1]
    return x.astype(DTYPE), held.astype(DTYPE), None, shift


def schedule_for(x, n_steps_each, sigma_max=None, sigma_min=None, sigmas=None, step_scale=None):
    """The schedule of :func:`npscore.schedules.from_data`, or the given ``sigmas``."""
    if not sigmas:
        return schedules.from_data(x, n_steps_each, sigma_max, sigma_min)
    levels = checks.sigmas(sigmas)
    eps = step_scale or schedules.step_scale(levels[0] / levels[1], n_steps_each, levels[-1])
    return schedules.Schedule(tuple(levels), eps, levels[0], levels[-1], levels[0] / levels[1])


def _schedule_of(config):
    """The :class:`npscore.schedules.Schedule` a config records."""
    levels = tuple(config.sigmas)
    return schedules.Schedule(levels, config.step_scale, levels[0], levels[-1], levels[0] / levels[1])


#: the noise levels a run accepts, relative to the data's scale: float32 resolves about 1e-7 of it, and
#: a prior far wider than the data leaves every level but the last few unused
LEVEL_RANGE = (1e-5, 1e6)


def data_scale(x):
    """The RMS distance of the rows of ``x`` to their mean."""
    return float(backend.xp().sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean()))


def check_levels(x, sigma_max, sigma_min):
    """``--sigma-max`` and ``--sigma-min`` within :data:`LEVEL_RANGE` of the data's scale, before any work."""
    scale, (low, high) = data_scale(x), LEVEL_RANGE
    if sigma_max is not None and sigma_max > high * scale:
        raise ValueError(f"--sigma-max {sigma_max:g} is far above the data's scale {scale:.3g} (more than {high:g} "
                         f"times it: the prior would hide the data); lower it, or leave it out to take it from the data")
    if sigma_min is not None and sigma_min < low * scale:
        raise ValueError(f"--sigma-min {sigma_min:g} is below what float32 resolves of data of scale {scale:.3g} "
                         f"(the score, about 1/sigma_min, would overflow); raise it to at least {low * scale:.3g}, "
                         "or leave it out to take it from the data")


def unstandardize(config, x):
    """Samples of the standardised model back in the data's units (as they are without a standardization)."""
    if config.standardization is None:
        return x
    mean, scale = config.standardization
    return x * scale + backend.asarray(mean, dtype=x.dtype)


def scoring_rows(config, checkpoint, data=None, n=1000):
    """``(x, mixture, note)``: at most ``n`` rows for ``npscore likelihood`` to score, in the run's
    standardised units: the held-out part of the recorded data, or (``data``) draws of a built-in
    set or every row of a file; ``note`` says which. Nothing is fitted to them."""
    checks.integer(n, "n")
    source, note = data or config.data, "held-out points" if data is None else f"rows of {data}"
    if source in DATASETS:
        x, mixture = load(source, n, config.seed + 1, "float64")
    elif not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file (" + ("--data" if data else
                                f"the data path recorded in {checkpoint}; --data names the rows to score") + ")")
    elif data is None:
        if config.data_sha256 is not None and io.sha256(source) != config.data_sha256:
            note = "held-out points of the file as it is now (it has changed since training)"
        x, mixture = split(source, config.n_train, n, config.seed, False, shift=config.standardization)[1], None
    else:
        x, mixture = read_file(source, "float64")[:n], None
    D = len(config.prior[0]) if config.prior is not None else x.shape[1]
    if x.shape[1] != D:
        raise ValueError(f"--data {source}: has D = {x.shape[1]} columns; the model in {checkpoint} was trained "
                         f"on D = {D}")
    if data is not None and source not in DATASETS and config.standardization is not None:
        x = (x - backend.asarray(config.standardization[0])) / config.standardization[1]
    if x.shape[0] < 2:
        raise ValueError(f"--n: {source} gives {x.shape[0]} point(s) to score; the NLL's standard error needs "
                         "at least 2")
    return x.astype("float64"), mixture, note
