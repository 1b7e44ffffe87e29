"""The notes' worked example (first report, section 8): ``npscore train`` with the notes' settings.

The two-mode mixture with weights (1/5, 4/5) (equal weights with
``weights=(0.5, 0.5)``), the notes' two-hidden-layer softplus MLP (:data:`npscore.config.NOTES_MLP`) as a
noise-conditional score, trained with multi-level
DSM (:func:`npscore.losses.ncsn`) on the notes' schedule sigma in
{0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01}, annealed Langevin with step scale
2e-5 and T = 100 steps per level, beside plain Langevin with the learned
score at the smallest sigma and with the exact score (which keeps the mass
where its uniform starts put it). Everything else is :func:`npscore.lowdim.run`:
figures, metrics, the floor. (``npscore train`` runs the SDE samplers too, on
a schedule derived from the data: the notes' sigma_1 = 0.75 is too small a
prior for them.)
"""
from . import lowdim
from .config import DEMO_STEPS as STEPS, NOTES_MLP, RunConfig

NOTES_SIGMAS = (0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01)


def run(out="demo_out", seed=0, steps=STEPS, weights=(0.2, 0.8), n_samples=2000, progress=True, log=print,
        force=False):
    """The demo; returns the metrics (also ``out/metrics.json``); a run already in ``out`` is refused
    unless ``force`` (then replaced when the new set is published)."""
    data = "two-modes-equal" if tuple(weights) == (0.5, 0.5) else "two-modes"
    if tuple(weights) not in ((0.5, 0.5), (0.2, 0.8)):
        raise ValueError(f"weights must be (0.2, 0.8) or (0.5, 0.5); got {weights!r}")
    config = RunConfig(data, "ncsn", NOTES_MLP, steps, seed=seed, sigmas=NOTES_SIGMAS, step_scale=2e-5,
                       n_steps_each=100)
    return lowdim.run(out, config, ["annealed-langevin", "langevin"], n_samples=n_samples, force=force,
                      progress=progress, log=log, command="npscore demo")
