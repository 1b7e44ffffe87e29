# %% [markdown]
# # 6. Sliced score matching
#
# *Second report, section 2.2 and its reference [2] (Song, Garg, Shi, Ermon 2019).*
#
# The second report's objective is $L_{SM} = \mathbb{E}_p[\operatorname{tr}(\nabla_{\mathbf{x}} s_\theta) + \frac12
# \|s_\theta\|^2]$. Sliced score matching replaces the trace by a random projection: for any $\mathbf{v}$ with
# $\mathbb{E}[\mathbf{v}\mathbf{v}^\top] = I$,
#
# $$\mathbb{E}_{\mathbf{v}}[\mathbf{v}^\top J \mathbf{v}] = \operatorname{tr}(J \,\mathbb{E}[\mathbf{v}\mathbf{v}^\top]) = \operatorname{tr} J,$$
#
# and $\mathbf{v}^\top J \mathbf{v}$ needs one forward-mode (Jacobian-vector) pass, whatever the dimension.
# `losses.ssm` is
# $L_{SSM} = \mathbb{E}_{\mathbf{x}, \mathbf{v}}[\mathbf{v}^\top J \mathbf{v} + \frac12 (\mathbf{v}^\top s_\theta)^2]$,
# and SSM-VR replaces the second term by its expectation $\frac12 \|s_\theta\|^2$ (Gaussian $\mathbf{v}$).
# Both have the expectation $L_{SM}$, so the same minimiser.
#
# **Convention.** $\mathbf{v}$ is drawn $N(0, I)$ (`kind="gaussian"`) or uniformly from $\{-1, 1\}^D$
# (`kind="rademacher"`); both have $\mathbb{E}[\mathbf{v}\mathbf{v}^\top] = I$.

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import MLP, backend, losses
from npscore.densities import two_modes
from npscore.optim import Adam

backend.use("numpy")
T.where(losses.ssm)
T.where(MLP.jvp)

# %% [markdown]
# ## $\mathbb{E}_\mathbf{v}[\mathbf{v}^\top J \mathbf{v}] = \operatorname{tr} J$
#
# One example, a model at random $\theta$ in $D = 5$, many projections: the running mean of
# $\mathbf{v}^\top J \mathbf{v}$ (each from one `jvp`) settles on the exact trace.

# %%
D, M = 5, T.pick(20000, 4000)
model = MLP([D, 32, 32, D], "softplus")
params = model.init(1)
x1 = backend.rng(2).normal((1, D))
exact = float(model.trace_jacobian(params, x1)[0])
fig, ax = plt.subplots(figsize=(7, 3.5))
for kind in ("gaussian", "rademacher"):
    rng = backend.rng(3)
    v = rng.normal((M, D)) if kind == "gaussian" else rng.rademacher((M, D))
    Jv = model.jvp(params, np.repeat(x1, M, 0), v)[1]            # (M, D): J v for each projection
    vJv = (v * Jv).sum(1)
    se = vJv.std() / np.sqrt(M)
    ax.plot(np.cumsum(vJv) / np.arange(1, M + 1), label=f"{kind}: sd of one draw {vJv.std():.2f}")
    T.claim(f"{kind} v: the mean of v^T J v is tr J", abs(vJv.mean() - exact) < 4 * se,
            f"{vJv.mean():.4f} +- {se:.4f} against {exact:.4f}")
ax.axhline(exact, c="k", lw=0.8, label="exact tr J")
ax.set(xscale="log", xlabel="projections", ylabel="running mean of v^T J v")
ax.legend()
T.show(fig)

# %% [markdown]
# Rademacher projections have the smaller variance for the trace alone: $\operatorname{Var}(\mathbf{v}^\top J \mathbf{v})$
# is $2\|J_{sym}\|_F^2$ for Gaussian $\mathbf{v}$ and that minus $2 \sum_i J_{ii}^2$ for Rademacher.

# %% [markdown]
# ## SSM and SSM-VR have ISM's expectation
#
# On one batch of the two-mode mixture: `ssm` averaged over many projection draws against `ism` (the second
# report's $L_{SM}$ with the exact trace).

# %%
data = two_modes((0.3, 0.7))
model = MLP([2, 64, 64, 2], "softplus")
params = model.init(0)
x = data.sample(256, backend.rng(4))
ism = float(losses.ism(model, params, x)[0])
draws = T.pick(400, 60)
for vr in (False, True):
    vals = np.array([float(losses.ssm(model, params, x, 1, rng=backend.rng(5, k), variance_reduction=vr)[0])
                     for k in range(draws)])
    se = vals.std() / np.sqrt(draws)
    name = "ssm-vr" if vr else "ssm"
    print(f"{name:7s} mean {vals.mean():.5f} +- {se:.5f}   (one draw's sd {vals.std():.4f});  ism {ism:.5f}")
    T.claim(f"E[{name}] = ism", abs(vals.mean() - ism) < 4 * se)

# %% [markdown]
# ## Training with each
#
# The same model, data stream and optimiser, trained with `ism`, `ssm` and `ssm-vr` (one projection per
# example); the explicit loss `esm` on held-out points, which needs the true score and so is only for watching,
# falls under all three.

# %%
steps = T.pick(2000, 150)
held_out = data.sample(4000, backend.rng(6))
curves = {}
for name in ("ism", "ssm", "ssm-vr"):
    params, opt = model.init(0), Adam(lr=1e-3)
    state, curve = opt.init(params), []
    for k in range(steps):
        xb = data.sample(256, backend.rng(7, k))
        if name == "ism":
            g = losses.ism(model, params, xb)[1]
        else:
            g = losses.ssm(model, params, xb, 1, rng=backend.rng(8, k), variance_reduction=name == "ssm-vr")[1]
        params, state = opt.update(params, g, state)
        if k % 50 == 0 or k == steps - 1:
            curve.append((k, float(losses.esm(model, params, held_out, data.score)[0])))
    curves[name] = np.array(curve)
    print(f"{name:7s}: esm {curve[0][1]:.3f} -> {curve[-1][1]:.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5))
for name, c in curves.items():
    ax.plot(c[:, 0], c[:, 1], label=name)
ax.set(yscale="log", xlabel="step", ylabel="held-out esm", title="training with the exact trace or a projection")
ax.legend()
T.show(fig)
first = curves["ism"][0, 1]
T.claim("every objective drives the explicit loss down by well over an order of magnitude",
        all(c[-1, 1] < T.pick(0.03, 0.5) * first for c in curves.values()),
        ", ".join(f"{n} {first / c[-1, 1]:.0f}x" for n, c in curves.items()))
T.claim("SSM-VR ends within a factor 1.5 of exact ISM", curves["ssm-vr"][-1, 1] < 1.5 * curves["ism"][-1, 1],
        f"{curves['ssm-vr'][-1, 1]:.3f} against {curves['ism'][-1, 1]:.3f}")

# %% [markdown]
# ## Slips in the notes (second report, section 2.2 and its references)
#
# > - **Line 80 (reference [2]):** sliced score matching is cited and never defined, nor used in the text; its
# >   objective is the one above, $\mathbb{E}_{\mathbf{v}}[\mathbf{v}^\top \nabla_x s_\theta \mathbf{v} +
# >   \frac12 (\mathbf{v}^\top s_\theta)^2]$, or with $\frac12 \|s_\theta\|^2$ for SSM-VR.
# > - **Line 33:** "the original Hyvarinen score matching loss" is the explicit form; what Hyvarinen (2005)
# >   proposed is its implicit form (line 39), the one that can be computed.
# > - **Lines 35-39:** the two forms are joined by "=" where they differ by a constant (tutorial 2 measures it).

# %% [markdown]
# ## Exercise
#
# For a fixed symmetric $J$, predict the variance of $\mathbf{v}^\top J \mathbf{v}$ for Gaussian $\mathbf{v}$ and
# for Rademacher $\mathbf{v}$, then check both with `np.random` on
# `J = np.array([[2.0, 1.0], [1.0, -1.0]])`. Which one should SSM draw?
#
# <details><summary>Answer</summary>
#
# Gaussian: $\operatorname{Var} = 2\|J\|_F^2$. Rademacher: $\operatorname{Var} = 2(\|J\|_F^2 - \sum_i J_{ii}^2)$, since
# $v_i^2 = 1$ removes the diagonal's contribution. For this $J$: 14 and 4. Rademacher is never worse, and exact
# when $J$ is diagonal; `losses.ssm(..., kind="rademacher")` draws it.
#
# </details>

# %% [markdown]
# The tangent pass that SSM uses is `forward_tangents` in `npscore/nn/mlp.py`, and its parameter gradient is
# `backward_tangents`: the VJP of the JVP, written once per primitive in `npscore/nn/layers.py`.
# Next: [7. Diffusion SDEs](07_diffusion_sdes.ipynb).
