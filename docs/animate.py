"""The samplers as processes in time, as GIFs made from trained checkpoints.

* ``annealed_langevin.gif``: annealed Langevin's chains on a 2-D set, level after level, with the
  current sigma in the title (first report, section 8 (c); Song and Ermon 2019, Algorithm 1);
* ``reverse_sde_vs_flow.gif``: the reverse-time SDE beside the probability-flow ODE from the same
  prior draws, t running from 1 to 0 (second report, section 3.2);
* ``mnist_denoising.gif``: a grid of MNIST images carried from the prior to the data by the
  reverse SDE (with ``--mnist CHECKPOINT`` of ``npscore mnist``).

Run: python docs/animate.py [--train CHECKPOINT] [--mnist CHECKPOINT] [--out docs/animations]
(``--train`` takes a checkpoint of ``npscore train --loss ncsn`` or ``sde-ve`` on 2-D data; without
it a small one is trained on ``two-modes`` first, about half a minute on 2 cores.)
"""
import argparse
import os
import tempfile

import matplotlib
matplotlib.use("Agg")
from matplotlib import animation                                           # noqa: E402
from matplotlib.figure import Figure                                       # noqa: E402

from npscore import backend                                                # noqa: E402
from npscore.commands import lowdim, mnist as mnist_run                    # noqa: E402
from npscore.objectives import OBJECTIVES                                  # noqa: E402
from npscore.sampling import annealed_langevin, predictor_corrector, probability_flow  # noqa: E402
from npscore.sde import VESDE                                              # noqa: E402

FPS = 8


def _save(fig, update, frames, path):
    """Write the frames of ``update(k)`` as a looping GIF at ``path``."""
    anim = animation.FuncAnimation(fig, update, frames=frames, interval=1000 // FPS)
    anim.save(path, writer=animation.PillowWriter(fps=FPS))
    print(f"{path}: {frames} frames, {os.path.getsize(path) / 1024:.0f} kB")


def _two_d(checkpoint, out, n=400, seed=0):
    fitted = lowdim.load_fitted(checkpoint)[0]
    config, model, params, schedule, sde, x = fitted
    if not (config.conditional and OBJECTIVES[config.loss].sde == "ve"):
        raise SystemExit(f"--train: {checkpoint} was trained with --loss {config.loss}; the animations need a "
                         "noise-conditional model on the VE SDE (--loss ncsn or sde-ve)")
    host = lambda a: backend.to_numpy(lowdim.unstandardize(config, a))        # noqa: E731
    data, lim = host(x[:2000]), 1.15 * float(abs(host(x)).max())
    rng = backend.rng(seed, 5)
    start = schedule.sigmas[0] * rng.normal((n, x.shape[1]), x.dtype)
    _, path = annealed_langevin(model.score_fn(params), start, schedule.sigmas, rng, step_scale=schedule.step_scale,
                                n_steps_each=config.n_steps_each, record_every=config.n_steps_each // 4)
    path = host(path.reshape(-1, x.shape[1])).reshape(path.shape)
    per_level = 4
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()

    def level(k):
        ax.clear()
        ax.scatter(data[:, 0], data[:, 1], s=1, c="0.85")
        ax.scatter(path[k][:, 0], path[k][:, 1], s=3, c="C0")
        i = min(max(k - 1, 0) // per_level, len(schedule.sigmas) - 1)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[],
               title=f"annealed Langevin: sigma = {schedule.sigmas[i]:.3g} (level {i + 1} of {len(schedule.sigmas)})")
        ax.title.set_fontsize(8)
    _save(fig, level, path.shape[0], os.path.join(out, "annealed_langevin.gif"))

    ve = sde
    score, x1 = model.score_fn(params), config.prior_density().sample(n, rng).astype(x.dtype)
    _, sde_path = predictor_corrector(score, ve, x1, rng, n_steps=400, n_corrector=0, record_every=10)
    _, ode_path = probability_flow(score, ve, x1, n_steps=400, record_every=10)
    paths = [host(p.reshape(-1, x.shape[1])).reshape(p.shape) for p in (sde_path, ode_path)]
    fig = Figure(figsize=(7, 3.6))
    axes = fig.subplots(1, 2)
    ts = [1.0 - k / 40 * (1.0 - 1e-3) for k in range(paths[0].shape[0])]

    def flow(k):
        for ax, p, name in zip(axes, paths, ("reverse-time SDE", "probability-flow ODE")):
            ax.clear()
            ax.scatter(data[:, 0], data[:, 1], s=1, c="0.85")
            ax.scatter(p[k][:, 0], p[k][:, 1], s=3, c="C1" if "SDE" in name else "C2")
            ax.set(xlim=(-3 * lim, 3 * lim) if k < 8 else (-lim, lim), ylim=(-3 * lim, 3 * lim) if k < 8 else (-lim, lim),
                   xticks=[], yticks=[], title=f"{name}, t = {ts[min(k, len(ts) - 1)]:.2f}")
            ax.title.set_fontsize(8)
    _save(fig, flow, paths[0].shape[0], os.path.join(out, "reverse_sde_vs_flow.gif"))


def _mnist(checkpoint, out, n=16, seed=0):
    model, params, record = mnist_run.load_model(checkpoint)
    sigmas = record["sigmas"]
    sde = VESDE(sigmas[-1], sigmas[0])
    rng = backend.rng(seed, 7)
    x1 = sigmas[0] * rng.normal((n, 784), "float32")
    _, path = predictor_corrector(model.score_fn(params), sde, x1, rng, n_steps=400, n_corrector=0,
                                  record_every=20)
    frames = backend.to_numpy(backend.xp().clip(path, 0.0, 1.0))
    fig = Figure(figsize=(4, 4.2))
    axes = fig.subplots(4, 4)
    fig.subplots_adjust(0.02, 0.02, 0.98, 0.9, 0.05, 0.05)

    def grid(k):
        for ax, im in zip(axes.ravel(), frames[k]):
            ax.clear()
            ax.imshow(im.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
        fig.suptitle(f"reverse SDE from N(0, {sigmas[0]:.0f}^2 I): step {20 * k} of 400", fontsize=8)
    _save(fig, grid, frames.shape[0], os.path.join(out, "mnist_denoising.gif"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default=None, help="a checkpoint of npscore train (ncsn or sde-ve, 2-D data)")
    ap.add_argument("--mnist", default=None, help="a checkpoint of npscore mnist")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "animations"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    checkpoint = a.train
    if checkpoint is None:
        folder = os.path.join(tempfile.mkdtemp(), "two_modes")
        lowdim.run(folder, data="two-modes", loss="ncsn", steps=3000, sampler=["annealed-langevin"], n_samples=500,
                   progress=False, log=lambda *args: None)
        checkpoint = os.path.join(folder, "checkpoint.npz")
    _two_d(checkpoint, a.out)
    if a.mnist:
        _mnist(a.mnist, a.out)


if __name__ == "__main__":
    main()
