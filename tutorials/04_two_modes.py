# %% [markdown]
# # 4. The worked example: NCSN on two modes
#
# *First report, section 8: the data (Figure 2), training with DSM over a schedule (Table 1, Figures 3-4),
# annealed Langevin dynamics with trajectories (Figure 5).*
#
# This is `npscore demo`, called as a function: the same data, model, schedule and sampler settings, one
# implementation (`npscore/demo.py`). The notes do not specify their `ScoreModel2D`; npscore's choice is a
# two-hidden-layer softplus MLP, trained as a noise-conditional score $S_\theta(\mathbf{x}, \sigma)$ with
# multi-level DSM on $\sigma \in \{0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01\}$. It samples with the notes'
# update (line 276) at a step that depends on the level,
#
# $$\mathbf{x}_{t+1} = \mathbf{x}_t + \alpha_i S_\theta(\mathbf{x}_t, \sigma_i) + \sqrt{2\alpha_i}\, \mathbf{z},
#   \qquad \alpha_i = \epsilon\, \sigma_i^2 / \sigma_L^2,$$
#
# $T = 100$ steps per level, largest $\sigma$ first. This is Song and Ermon's (2019) Algorithm 1 with its step
# written differently: theirs is $\mathbf{x} + \frac{a_i}{2} S + \sqrt{a_i}\,\mathbf{z}$ with
# $a_i = \epsilon' \sigma_i^2/\sigma_L^2$, so $\alpha_i = a_i / 2$ and npscore's $\epsilon$ is half of their
# $\epsilon'$ (checked below, draw for draw). After the last level the sampler takes one more step that is
# not in Algorithm 1: Tweedie's denoiser $\mathbf{x} + \sigma_L^2 S_\theta(\mathbf{x}, \sigma_L)$, the
# posterior mean of the clean point (as in NCSNv2), which removes the last level's noise.
#
# **Conventions.** `losses.ncsn` weights level $i$ by $\lambda(\sigma_i) = \sigma_i^2$ and the model divides
# its output by $\sigma$; neither is in the notes. Both keep every level's loss of order one, so that no
# level dominates the gradient (`proofs/ncsn_weighting.py` checks that the weighting leaves each level's
# minimiser unchanged). The notes' $\mathbf{z}$ and the code's `noise` are both $N(0, I)$ here.

# %%
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import backend, demo, lowdim, losses
from npscore.metrics import mode_fractions
from npscore.sampling import annealed_langevin

backend.use("numpy")
T.where(demo.run)
T.where(losses.ncsn)
T.where(annealed_langevin)

# %% [markdown]
# ## Train, exactly as `npscore demo` does
#
# The demo writes its checkpoint, metrics and figures to a folder; the tutorial reads the model back from it.

# %%
out = os.path.join(tempfile.mkdtemp(), "demo")
metrics = demo.run(out, steps=T.pick(10000, 600), n_samples=T.pick(2000, 300), progress=False,
                   log=lambda *a: None)
fitted, data = lowdim.load_fitted(os.path.join(out, "checkpoint.npz"))
model, params, sigmas = fitted.model, fitted.params, fitted.schedule.sigmas
print("noise schedule:", sigmas)
print(f"trained {metrics['steps']} steps in {metrics['seconds']['train']:.0f} s; final loss {metrics['final_loss']:.3f}")

# %% [markdown]
# ## Table 1: the learned field at high and low noise
#
# At $\sigma = 0.75$ the field is a rough global guide, pointing in towards the data; at $\sigma = 0.01$ it
# points straight into the nearest mode. The exact fields of the noised mixture $p_\sigma$ are drawn beside.

# %%
g = np.linspace(-3, 3, 19)
G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
fig, axes = plt.subplots(2, 2, figsize=(9, 9))
for row, s in zip(axes, (0.75, 0.01)):
    for ax, field, who in ((row[0], model.apply(params, G, s), "learned"), (row[1], data.noised(s).score(G), "exact")):
        u = field / np.linalg.norm(field, axis=1, keepdims=True)        # unit arrows: the direction is the point
        ax.quiver(G[:, 0], G[:, 1], u[:, 0], u[:, 1], angles="xy", scale=25)
        ax.scatter(*np.asarray(data.means).T, c="r", s=30)
        ax.set(title=f"{who} score, sigma = {s}", aspect="equal")
T.show(fig)

far = G[np.linalg.norm(G, axis=1) > 2.5]
inward = ((model.apply(params, far, 0.75) * -far).sum(1) > 0).mean()
T.claim("sigma = 0.75: the field points inward far from the data", inward > 0.95, f"{inward:.0%} of the points")
near = data.sample(2000, backend.rng(5))
to_mode = data.means[data.component(near)] - near
s_low = model.apply(params, near, 0.01)
cos = (s_low * to_mode).sum(1) / np.linalg.norm(s_low, axis=1) / np.linalg.norm(to_mode, axis=1)
T.claim("sigma = 0.01: the field points into the nearest mode", np.median(cos) > 0.9,
        f"median cosine {np.median(cos):.3f} over data points")

# %% [markdown]
# ## Figure 5: annealed Langevin with trajectories
#
# From Gaussian starts of scale $\sigma_1$, as the demo samples. Eight chains are drawn, each in its own
# colour: a cross where it starts, a dot where it stands at the end of each noise level (every 100th step;
# within a level a chain jitters on the scale $\sqrt{2\alpha_i}$), a ring at its final sample. The samples
# land in the modes in the data's proportions (1/5, 4/5).

# %%
rng = backend.rng(1)
n = T.pick(2000, 200)
x0 = sigmas[0] * rng.normal((n, 2))
x, path = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=fitted.schedule.step_scale,
                            n_steps_each=fitted.config.n_steps_each, record_every=fitted.config.n_steps_each)
path = np.stack([np.asarray(p) for p in path])          # (levels + 2, n, 2): the start, each level's end, denoised
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
axes[0].scatter(*np.asarray(data.sample(n, rng)).T, s=2, c="tab:blue", alpha=0.15, label="data")
axes[0].scatter(*np.asarray(x).T, s=2, c="0.6", alpha=0.2, label="samples")
chains = np.argsort(np.asarray(x0)[:, 0])[np.linspace(0, n - 1, 8).astype(int)]      # starts spread left to right
for k, c in zip(chains, plt.cm.tab10(np.arange(8))):
    axes[0].plot(path[:, k, 0], path[:, k, 1], c=c, lw=1.2, marker=".", ms=5)
    axes[0].plot(*path[0, k], "x", c=c, ms=8)
    axes[0].plot(*path[-1, k], "o", mfc="none", c=c, ms=10, mew=2)
axes[0].set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title=f"eight chains, {len(sigmas)} levels x 100 steps")
axes[0].legend(loc="upper left", markerscale=4)
dist = np.linalg.norm(path[:, :, None, :] - np.asarray(data.means)[None, None], axis=-1).min(-1)   # to the nearer mode
for k, c in zip(chains, plt.cm.tab10(np.arange(8))):
    axes[1].plot(range(len(path)), dist[:, k], c=c, marker=".")
axes[1].set(yscale="log", xticks=range(len(path)), xlabel="after level",
            xticklabels=["start"] + [f"{s:g}" for s in sigmas] + ["denoised"], ylabel="distance to the nearer mode",
            title="the same chains, level by level")
axes[1].tick_params(axis="x", labelsize=8, rotation=45)
T.show(fig)
fr = mode_fractions(data, x)
T.claim("the samples carry the modes' weights (0.2, 0.8)", abs(fr[0] - 0.2) < T.pick(0.03, 0.1),
        f"fractions {np.round(fr, 3)}")

# %% [markdown]
# **Algorithm 1, step for step.** Written literally, with $a_i = \epsilon' \sigma_i^2 / \sigma_L^2$,
# $\epsilon' = 2\epsilon$ and the same normal draws, Algorithm 1 lands where `annealed_langevin` does (without
# its final denoising step).

# %%
x_a = np.asarray(x0[:50])
draws = backend.rng(7)
for s in sigmas:
    a_i = 2 * fitted.schedule.step_scale * s ** 2 / sigmas[-1] ** 2
    for _ in range(fitted.config.n_steps_each):
        x_a = x_a + a_i / 2 * model.apply(params, x_a, s) + np.sqrt(a_i) * draws.normal(x_a.shape)
x_code = annealed_langevin(model.score_fn(params), x0[:50], sigmas, backend.rng(7), denoise=False,
                           step_scale=fitted.schedule.step_scale, n_steps_each=fitted.config.n_steps_each)
T.claim("annealed_langevin with step_scale epsilon is Algorithm 1 with 2 epsilon",
        np.abs(np.asarray(x_code) - x_a).max() < 1e-9, f"largest difference {np.abs(np.asarray(x_code) - x_a).max():.1e}")

# %% [markdown]
# ### Longer chains test the learned score
#
# The notes' Figure 5 ran about 50,000 Langevin iterations; the demo runs $7 \times 100$. Longer chains are
# not simply better. With the exact score of $p_\sigma$, ten times the steps per level keeps the weights: the
# sampler is sound at these step sizes. With the learned score they can move: a chain that runs long enough
# at one level to cross between the modes settles on the weights of the *learned field's* equilibrium at that
# level, and those are only as right as the learned field between the modes. Running each level alone from exact draws of $p_\sigma$
# shows which level it is.

# %%
n_long, T_long = T.pick(1000, 200), T.pick(1000, 100)
exact = lambda x, s: data.noised(s).score(x)
rows = {}
for who, score in (("exact", exact), ("learned", model.score_fn(params))):
    x_long = annealed_langevin(score, sigmas[0] * rng.normal((n_long, 2)), sigmas, rng,
                               step_scale=fitted.schedule.step_scale, n_steps_each=T_long)
    rows[who] = mode_fractions(data, x_long)[0]
    print(f"{who:7s} score, T = {T_long}: light-mode fraction {rows[who]:.3f}   (T = 100, learned: {fr[0]:.3f})")
T.claim(f"exact score: T = {T_long} keeps the weight 0.2", abs(rows["exact"] - 0.2) < T.pick(0.035, 0.07),
        f"{rows['exact']:.3f}")

per_level = []
for s in sigmas:                                   # each level alone, from p_sigma itself
    a = fitted.schedule.step_scale * s ** 2 / sigmas[-1] ** 2
    x = data.noised(s).sample(n_long, rng)
    for _ in range(T_long):
        x = x + a * model.apply(params, x, s) + np.sqrt(2 * a) * rng.normal(x.shape)
    per_level.append(mode_fractions(data, x)[0])
    print(f"sigma = {s:5.3f}: {T_long} learned-score steps from p_sigma leave light-mode fraction {per_level[-1]:.3f}")
worst = int(np.argmax(np.abs(np.array(per_level) - 0.2)))
if not T.QUICK:                                    # a property of the fully trained model
    T.claim("the learned score's long chains drift at a middle level, not at the smallest",
            abs(per_level[worst] - 0.2) > 0.05 and abs(per_level[-1] - 0.2) < 0.03,
            f"sigma = {sigmas[worst]}: {per_level[worst]:.3f}; sigma = {sigmas[-1]}: {per_level[-1]:.3f}")

# %% [markdown]
# So the demo's $T = 100$ is not an under-run Figure 5: at these step sizes it moves each chain locally within
# a level, and the weights are set by where the chains stand when the modes separate. Run longer and the
# weights become those of the learned field's own Langevin equilibrium at the level where the chains still
# cross (a field that is not a gradient need not be the score of any density, but its chain still settles
# somewhere), and DSM has fitted that field least well in the sparse region between the modes. The sampler is checked against the exact score
# in `examples/langevin_weights.py` and `proofs/langevin_stationary.py`.

# %% [markdown]
# ## Slips in the notes (first report, section 8)
#
# > - **Lines 257-259 (Table 1):** the high- and low-noise fields are cited as Figures 2 and 3; they are Figures
# >   3 and 4 (Figure 2 is the data).
# > - **Line 276:** the update has one step size $\alpha$ for every level. Algorithm 1 scales it as $\sigma_i^2$,
# >   and the difference is the whole of annealing: with one $\alpha$ (the smallest level's) the chains barely
# >   move at the large levels and keep the proportions of their starts. The cell below measures it with the
# >   exact score.
# > - **Line 286:** "around 50,000 iterations" for a schedule of seven levels is not tied to $T$ or $\alpha$;
# >   the demo's 700 steps reach the weights above, and the section above shows what much longer chains do.

# %%
x_fixed = sigmas[0] * rng.normal((n_long, 2))
alpha = fitted.schedule.step_scale                                     # the smallest level's step, at every level
for s in sigmas:
    for _ in range(100):
        x_fixed = x_fixed + alpha * exact(x_fixed, s) + np.sqrt(2 * alpha) * rng.normal(x_fixed.shape)
light_fixed = mode_fractions(data, x_fixed)[0]
print(f"exact score, one alpha = {alpha:g} for every level: light-mode fraction {light_fixed:.3f} (data 0.2)")
T.claim("with the notes' single alpha the chains keep their starts' proportions, not the data's",
        abs(light_fixed - 0.2) > 0.15, f"{light_fixed:.3f}")

# %% [markdown]
# ## Exercise
#
# The final denoising step returns the posterior mean $\mathbb{E}[\mathbf{x}_0 \mid \mathbf{x}]$, not a draw.
# For a mode $N(\mu, s^2 I)$ and exact draws of $p_{\sigma_L}$, predict the variance per coordinate of the
# denoised points, for $s^2 = 0.0625$ and $\sigma_L = 0.01$, then for $\sigma_L = 0.1$. Check it with
# `data.noised(s).sample` and `data.noised(s).score`.
#
# <details><summary>Answer</summary>
#
# Near one mode $\nabla \log p_\sigma(\mathbf{x}) = -(\mathbf{x} - \mu)/(s^2 + \sigma^2)$, so the denoised point is
# $\mu + \frac{s^2}{s^2 + \sigma^2}(\mathbf{x} - \mu)$ and its variance $\frac{s^4}{s^2 + \sigma^2}$: 0.06240
# for $\sigma_L = 0.01$ (the data's is 0.0625; the step costs almost nothing) and 0.05682 for $\sigma_L = 0.1$,
# 9% too narrow. The posterior mean is under-dispersed by the posterior variance $s^2\sigma^2/(s^2 + \sigma^2)$,
# which is why the last level must be small.
#
# </details>
#
# %% [markdown]
# The demo's own figures and `metrics.json` (precision, recall and energy distance against held-out data)
# are in the folder above; `npscore demo` writes them to `demo_out/`. Next: [5. The role of ISM](05_role_of_ism.ipynb).
