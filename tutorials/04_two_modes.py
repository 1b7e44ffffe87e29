# %% [markdown]
# # 4. The worked example: NCSN on two modes
#
# *First report, section 8: the data (Figure 2), training with DSM over a schedule (Table 1, Figures 3-4),
# annealed Langevin dynamics with trajectories (Figure 5).*
#
# This is `npscore demo`, called as a function: the same data, model, schedule and sampler settings, one
# implementation (`npscore/demo.py`). It trains the notes' two-hidden-layer softplus MLP as a
# noise-conditional score $S_\theta(\mathbf{x}, \sigma)$ with multi-level DSM on
# $\sigma \in \{0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01\}$, then samples with
#
# $$\mathbf{x}_{t+1} = \mathbf{x}_t + \alpha_i S_\theta(\mathbf{x}_t, \sigma_i) + \sqrt{2\alpha_i}\, \mathbf{z},
#   \qquad \alpha_i = \epsilon\, \sigma_i^2 / \sigma_L^2,$$
#
# $T = 100$ steps per level, largest $\sigma$ first (Song and Ermon 2019, Algorithm 1).
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
# From Gaussian starts of scale $\sigma_1$, as the demo samples. Each grey line joins one chain's start to
# where it stands at the end of each noise level (every 100th step; within a level a chain jitters on the
# scale $\sqrt{2\alpha_i}$); the final samples land in the modes in the data's proportions (1/5, 4/5).

# %%
rng = backend.rng(1)
n = T.pick(2000, 200)
x0 = sigmas[0] * rng.normal((n, 2))
x, path = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=fitted.schedule.step_scale,
                            n_steps_each=fitted.config.n_steps_each, record_every=fitted.config.n_steps_each)
path = np.stack([np.asarray(x0)] + [np.asarray(p) for p in path])          # (levels + 1, n, 2)
fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(*np.asarray(data.sample(n, rng)).T, s=2, c="tab:blue", alpha=0.3, label="data")
for k in range(10):
    ax.plot(path[:, k, 0], path[:, k, 1], c="grey", lw=0.8, marker=".", ms=4)
ax.scatter(*np.asarray(x).T, s=2, c="tab:orange", label="samples")
ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title=f"annealed Langevin, {len(sigmas)} x 100 steps")
ax.legend(loc="upper left")
T.show(fig)
fr = mode_fractions(data, x)
T.claim("the samples carry the modes' weights (0.2, 0.8)", abs(fr[0] - 0.2) < T.pick(0.03, 0.1),
        f"fractions {np.round(fr, 3)}")

# %% [markdown]
# ### Longer chains test the learned score
#
# The notes' Figure 5 ran about 50,000 Langevin iterations; the demo runs $7 \times 100$. Longer chains are
# not simply better. With the exact score of $p_\sigma$, ten times the steps per level keeps the weights: the
# sampler is sound at these step sizes. With the learned score they can move: a chain that runs long enough
# at one level to cross between the modes settles on the *model's* weights at that level, and those are only
# as right as the learned field between the modes. Running each level alone from exact draws of $p_\sigma$
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
# weights become those of the learned $p_\sigma$ at the level where the chains still cross, which DSM has
# fitted least well in the sparse region between the modes. The sampler is checked against the exact score
# in `examples/langevin_weights.py` and `proofs/langevin_stationary.py`.

# %% [markdown]
# The demo's own figures and `metrics.json` (precision, recall and energy distance against held-out data)
# are in the folder above; `npscore demo` writes them to `demo_out/`. Next: [5. The role of ISM](05_role_of_ism.ipynb).
