"""Every figure npscore draws (matplotlib, PNG written atomically).

Figures are ``matplotlib.figure.Figure`` objects drawn by the Agg canvas, never through pyplot, so
that importing npscore leaves the caller's backend (a notebook's inline one, a desktop window) as it is.
"""
from matplotlib.figure import Figure

from . import backend
from .io import atomic_write


def _subplots(*args, figsize, **kw):
    """``(fig, axes)`` as ``pyplot.subplots`` gives them, on a figure pyplot does not manage."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kw)


def save(fig, path, dpi=110):
    """Write ``fig`` to ``path`` as PNG, atomically, and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
    return path


def _grid(lim, n):
    np = backend.host
    g = np.linspace(-lim, lim, n)
    X, Y = np.meshgrid(g, g)
    return X, Y, np.stack([X.ravel(), Y.ravel()], axis=1)


def density(path, log_prob, lim=3.0, title="data density p_0(x)"):
    """``exp(log_prob)`` over the square ``[-lim, lim]^2`` as filled contours."""
    np = backend.host
    X, Y, pts = _grid(lim, 200)
    Z = np.exp(backend.to_numpy(log_prob(backend.asarray(pts))).reshape(X.shape))
    fig, ax = _subplots(figsize=(4.6, 4))
    im = ax.contourf(X, Y, Z, levels=30, cmap="viridis")
    fig.colorbar(im, ax=ax)
    ax.set_title(title)
    ax.set_aspect("equal")
    return save(fig, path)


def score_fields(path, fields, lim=3.0, n=21):
    """``fields``: list of ``(title, learned(x), exact(x) or None)``; arrows of both, the
    relative error shaded where the exact field is known."""
    np = backend.host
    X, Y, pts = _grid(lim, n)
    fig, axes = _subplots(1, len(fields), figsize=(5 * len(fields), 4.6))
    axes = np.atleast_1d(axes)
    for ax, (title, learned, exact) in zip(axes, fields):
        s = backend.to_numpy(learned(backend.asarray(pts)))
        unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)  # noqa: E731
        if exact is not None:
            e = backend.to_numpy(exact(backend.asarray(pts)))
            err = np.linalg.norm(s - e, axis=1) / np.maximum(np.linalg.norm(e, axis=1), 1e-12)
            im = ax.pcolormesh(X, Y, np.clip(err, 0, 1).reshape(X.shape), cmap="Reds", vmin=0, vmax=1,
                               shading="auto")
            fig.colorbar(im, ax=ax, label="relative error (clipped at 1)")
            ue = unit(e)
            ax.quiver(pts[:, 0], pts[:, 1], ue[:, 0], ue[:, 1], color="0.55", width=0.006, label="exact")
        us = unit(s)
        ax.quiver(pts[:, 0], pts[:, 1], us[:, 0], us[:, 1], color="C0", width=0.003, label="learned")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", fontsize=7)
    return save(fig, path)


def trajectories(path, samples, traj, data=None, n_paths=10, lim=3.0, title="annealed Langevin"):
    """Samples over grey trajectories (start: x), as the first report's Figure 5."""
    np = backend.host
    x, t = backend.to_numpy(samples), backend.to_numpy(traj)
    fig, ax = _subplots(figsize=(4.6, 4.6))
    for i in np.linspace(0, t.shape[1] - 1, n_paths).astype(int):
        ax.plot(t[:, i, 0], t[:, i, 1], color="0.55", lw=0.5, alpha=0.6, zorder=1)
        ax.plot(t[0, i, 0], t[0, i, 1], "x", color="0.3", ms=4, zorder=3)
    if data is not None:
        d = backend.to_numpy(data)
        ax.scatter(d[:, 0], d[:, 1], s=2, c="C1", alpha=0.3, label="data", zorder=2)
    ax.scatter(x[:, 0], x[:, 1], s=2, c="C0", alpha=0.6, label="samples", zorder=2)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7, markerscale=4)
    return save(fig, path)


def sample_panels(path, panels, lim=3.0):
    """``panels``: list of ``(title, samples)`` side by side."""
    fig, axes = _subplots(1, len(panels), figsize=(3.4 * len(panels), 3.5), sharey=True, squeeze=False)
    for ax, (title, s) in zip(axes[0], panels):
        s = backend.to_numpy(s)
        ax.scatter(s[:, 0], s[:, 1], s=1.5, alpha=0.4)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
    return save(fig, path)


def loss_curves(path, curves):
    """``curves``: dict name -> list of per-step losses."""
    np = backend.host
    fig, ax = _subplots(figsize=(6, 3.6))
    for name, losses in curves.items():
        v = np.asarray(losses)
        k = max(1, len(v) // 100)
        smooth = np.convolve(v, np.ones(k) / k, mode="valid")
        ax.plot(v, alpha=0.25)
        ax.plot(np.arange(len(smooth)) + k - 1, smooth, label=name, color=ax.lines[-1].get_color())
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if min(min(c) for c in curves.values()) > 0 else "symlog")
    ax.legend()
    return save(fig, path)


def image_grid(path, images, nrow=10, title=None):
    """``images : (N, 784)`` in [0, 1], drawn as a grid of 28 x 28 digits."""
    np = backend.host
    x = np.clip(backend.to_numpy(images), 0, 1).reshape(-1, 28, 28)
    n = x.shape[0]
    ncol = -(-n // nrow)
    canvas = np.ones((ncol * 30, nrow * 30))
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[r * 30 + 1:r * 30 + 29, c * 30 + 1:c * 30 + 29] = x[i]
    fig, ax = _subplots(figsize=(nrow * 0.6, ncol * 0.6))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)


#: the files :func:`lowdim_figures` may write
LOWDIM_FIGURES = ("samples.png", "score_field.png", "loss.png", "density.png", "annealed_langevin.png")


def lowdim_figures(out, model, params, loss, schedule, x, mixture, samples, curve, paths=None):
    """The figures of ``npscore train`` on 2-D data: the data density (where known), data
    beside every sampler's output, annealed Langevin's paths, the learned score field
    (over the exact one where it is known), the loss curve."""
    np = backend.host
    import os
    lim = 1.15 * float(np.abs(backend.to_numpy(x)).max())
    f = lambda name: os.path.join(out, name)          # noqa: E731
    sample_panels(f("samples.png"), [("data", x[:2000])] + [(k, v[0]) for k, v in samples.items()], lim=lim)
    if model.conditional:
        score = model.score_fn(params)
        levels = (schedule.sigmas[0], schedule.sigmas[-1])      # high and low noise, as Table 1 of the notes
        fields = [(f"sigma = {s:.3g}: learned (blue)" + (" over exact (grey)" if mixture is not None else ""),
                   lambda y, s=s: score(y, s), None if mixture is None else mixture.noised(s).score) for s in levels]
    else:
        fields = [("learned score (blue)" + (" over exact (grey)" if mixture is not None else ""),
                   lambda y: model.apply(params, y), None if mixture is None else mixture.score)]
    score_fields(f("score_field.png"), fields, lim=lim)
    loss_curves(f("loss.png"), {loss: curve})
    if mixture is not None:
        density(f("density.png"), mixture.log_prob, lim=lim)
    if paths is not None and "annealed-langevin" in samples:         # (a diverged sampler has no samples)
        trajectories(f("annealed_langevin.png"), samples["annealed-langevin"][0], paths, x[:2000], lim=lim)


def dataset_grid(path, rows):
    """``rows``: ``(name, data, samples, label)``; data above samples (titled ``label``), one column each."""
    np = backend.host
    fig, axes = _subplots(2, len(rows), figsize=(2.3 * len(rows), 4.8), squeeze=False)
    for j, (name, data, samples, label) in enumerate(rows):
        d = backend.to_numpy(data)
        lim = 1.15 * float(np.abs(d).max())
        for i, (pts, title) in enumerate(((d, name), (backend.to_numpy(samples), label))):
            ax = axes[i, j]
            ax.scatter(pts[:, 0], pts[:, 1], s=0.8, alpha=0.4, color="C1" if i == 0 else "C0")
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
    return save(fig, path)
