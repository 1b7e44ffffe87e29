# %% [markdown]
# # 7. Diffusion: the forward SDE, the reverse-time SDE, the probability flow
#
# *Second report, section 3: the forward diffusion (3.1), the reverse process driven by the score (3.2),
# training by weighted DSM (3.3); Song et al. 2021.*
#
# The forward VP SDE $d\mathbf{x} = -\frac12 \beta(t) \mathbf{x}\, dt + \sqrt{\beta(t)}\, d\mathbf{W}$ has the
# marginal of section 3.1, $\mathbf{x}_t = \sqrt{\alpha_t}\, \mathbf{x}_0 + \sqrt{1 - \alpha_t}\, \boldsymbol{\epsilon}$,
# with $\alpha_t = \exp(-\int_0^t \beta)$. Run backwards in time, the process
#
# $$d\mathbf{x} = [f(\mathbf{x}, t) - g(t)^2 \nabla_{\mathbf{x}} \log p_t(\mathbf{x})]\, dt + g(t)\, d\bar{\mathbf{W}}$$
#
# has the same marginals (Anderson 1982), and so has the ODE
# $d\mathbf{x}/dt = f - \frac12 g^2 \nabla \log p_t$ (the probability flow).
#
# **A slip in the notes.** Section 3.2 writes the reverse SDE with $-\frac12 g_t^2 \nabla \log p_t$. That is the
# probability-flow ODE's drift; with the SDE's noise $g\, d\bar{\mathbf{W}}$ it samples the wrong law. The code
# (`npscore.sde.SDE.reverse_drift`) uses $g^2$ for the SDE and $\frac12 g^2$ for the ODE; below, both are run.
#
# **Conventions.** The notes' $\alpha_t$ is `VPSDE.alpha(t)`; `sde.marginal(t)` returns
# $(m_t, \sigma_t) = (\sqrt{\alpha_t}, \sqrt{1 - \alpha_t})$. The notes' $f_\theta$ is the SDE's drift $f$, which has
# no parameters. Time runs from 1 (the prior) down to a small $t_{min}$, not to 0, where the score blows up.

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import backend, likelihood
from npscore.densities import GaussianMixture, two_modes
from npscore.sampling import probability_flow, reverse_sde
from npscore.sde import VPSDE, SDE

backend.use("numpy")
T.where(SDE.reverse_drift)
T.where(reverse_sde)
T.where(probability_flow)


def marginal(data, sde, t):
    """The exact p_t of ``data`` under ``sde`` at the time ``t``: the law of ``m_t x_0 + s_t eps``."""
    m, s = sde.transition(t)
    return data.noised(s, m)


def notes_drift(score):
    """The notes' reverse SDE, ``f - 1/2 g^2 s``: the code's ``f - g^2 s`` run on half the score."""
    return lambda x, sigma: 0.5 * score(x, sigma)


# %% [markdown]
# ## 3.1 The forward diffusion
#
# Euler-Maruyama on the forward SDE from draws of the two-mode mixture, against the closed-form marginal: at
# $t = 1$ the data is all but forgotten, $\alpha_1 = e^{-10.05}$.

# %%
sde = VPSDE()
data = two_modes((0.3, 0.7))
n = T.pick(20000, 4000)
rng = backend.rng(1)
x = data.sample(n, rng)
ts = np.linspace(0, 1, 1001)
snapshots = {}
for k in range(1000):
    t = np.full(n, ts[k])
    x = x + sde.drift(x, t) * (ts[k + 1] - ts[k]) + sde.diffusion(t)[:, None] * np.sqrt(ts[k + 1] - ts[k]) * rng.normal(x.shape)
    if k + 1 in (100, 300, 1000):
        snapshots[ts[k + 1]] = x.copy()
print(f"alpha_1 = {float(sde.alpha(np.ones(1))[0]):.2e}")
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (t, xt) in zip(axes, snapshots.items()):
    exact = marginal(data, sde, t)
    ref = exact.sample(n, backend.rng(2))
    ax.scatter(*ref[:2000].T, s=1, c="tab:blue", alpha=0.3, label="exact p_t")
    ax.scatter(*xt[:2000].T, s=1, c="tab:orange", alpha=0.3, label="simulated")
    ax.set(title=f"t = {t:.1f}", xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    se = ref.std(0) / np.sqrt(n)
    T.claim(f"t = {t:.1f}: the simulated mean is the marginal's", np.all(np.abs(xt.mean(0) - ref.mean(0)) < 5 * se * np.sqrt(2)),
            f"{np.round(xt.mean(0), 3)} against {np.round(ref.mean(0), 3)}")
axes[0].legend(loc="upper left", markerscale=8)
T.show(fig)

# %% [markdown]
# ## 3.2 The reverse-time SDE, and the notes' factor 1/2
#
# With the *exact* score of $p_t$, so that only the sampler is on trial: start from draws of $p_1$ and run
# `reverse_sde` (drift $f - g^2 s$) and the same sampler with the notes' drift $f - \frac12 g^2 s$. On a 2-D
# Gaussian $N(\boldsymbol{\mu}, 0.1^2 I)$ the sample variance says at once which is right.

# %%
gauss = GaussianMixture(np.ones(1), np.array([[1.0, -0.5]]), np.array([0.01]))
n_g = T.pick(4000, 2000)
start = marginal(gauss, sde, 1.0).sample(n_g, backend.rng(3))
for label, half in (("g^2 (the code)", False), ("1/2 g^2 (the notes)", True)):
    score = sde.exact_score(gauss)
    out = reverse_sde(notes_drift(score) if half else score, sde, start, backend.rng(4), n_steps=T.pick(1000, 500))
    var = out.var(0, ddof=1).mean()
    print(f"reverse SDE with {label:20s}: sample variance {var:.5f}   (data 0.01000, its SE {0.01 * np.sqrt(1 / n_g):.5f})")
    if label.startswith("g^2"):
        T.claim("with g^2 the reverse SDE returns the data's variance", abs(var - 0.01) < 5 * 0.01 * np.sqrt(1 / n_g) + 2e-4)
    else:
        T.claim("with the notes' 1/2 g^2 it does not", var > 0.01 * (1 + 20 * np.sqrt(1 / n_g)), f"{var / 0.01:.2f} times too wide")

# %% [markdown]
# The same on the two modes, beside the probability-flow ODE (deterministic, Heun steps): both carry $p_1$ back
# to the mixture, and the notes' version blurs it. `proofs/reverse_sde.py` checks the moments and the modes'
# weights for the VE and the VP SDE (`python -m proofs`; its `--break-claim` runs the notes' drift and fails).

# %%
start = marginal(data, sde, 1.0).sample(T.pick(4000, 1000), backend.rng(5))
score = sde.exact_score(data)
outs = {"reverse SDE, g^2": reverse_sde(score, sde, start, backend.rng(6), n_steps=T.pick(1000, 300)),
        "probability flow": probability_flow(score, sde, start, n_steps=T.pick(500, 200)),
        "reverse SDE, the notes' 1/2 g^2": reverse_sde(notes_drift(score), sde, start, backend.rng(6),
                                                       n_steps=T.pick(1000, 300))}
ref = data.sample(len(start), backend.rng(7))
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (label, xs) in zip(axes, outs.items()):
    ax.scatter(*ref.T, s=1, c="tab:blue", alpha=0.3)
    ax.scatter(*xs.T, s=1, c="tab:orange", alpha=0.3)
    ax.set(title=label, xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
fig.suptitle("blue: the data; orange: samples from the exact score")
T.show(fig)


def width(xs):
    """The median distance from a point to its nearest mode's mean: how sharp the modes are."""
    return float(np.median(np.linalg.norm(xs[:, None] - data.means[None], axis=2).min(axis=1)))


spread = {k: width(xs) for k, xs in outs.items()}
ref_spread = width(ref)
for k, v in spread.items():
    print(f"{k:32s}: median distance to the nearest mean {v:.3f}   (data {ref_spread:.3f})")
T.claim("the code's samplers keep the modes' width; the notes' SDE widens them",
        all(abs(spread[k] - ref_spread) < 0.1 * ref_spread for k in list(outs)[:2])
        and spread["reverse SDE, the notes' 1/2 g^2"] > 1.2 * ref_spread)

# %% [markdown]
# ## Exact log-likelihood through the probability flow
#
# Along the ODE's paths $d \log p_t(\mathbf{x}_t)/dt = -\operatorname{div} \tilde f$ (Chen et al. 2018), with
# $\operatorname{div} \tilde f = \operatorname{div} f - \frac12 g^2 \operatorname{tr}(\partial s / \partial \mathbf{x})$, so integrating
# from $t_{min}$ to 1 gives $\log p_{t_{min}}(\mathbf{x})$ from the prior's density at the end point.
# `likelihood.ode_log_prob` does this; for a trained model the trace is npscore's exact one (tutorial 2),
# which is what `npscore likelihood` reports. With the exact score of the noised Gaussian and its trace
# (`GaussianMixture.score_divergence`: $-D / (m_t^2 s_0^2 + \sigma_t^2)$ here), the answer can be checked
# against the closed form.

# %%
T.where(likelihood.ode_log_prob)
xq = gauss.sample(T.pick(500, 100), backend.rng(8))
truth = marginal(gauss, sde, 1e-3).log_prob(xq)                  # log p_{t_min}, closed form
trace = lambda x, s: marginal(gauss, sde, float(sde.time_of(s[:1])[0])).score_divergence(x)[None]   # noqa: E731
errors = {}
for n_steps in T.pick((100, 200, 400, 800), (100, 200)):
    lp = likelihood.ode_log_prob(sde.exact_score(gauss), trace, sde, xq, n_steps=n_steps, t_min=1e-3,
                                 prior=marginal(gauss, sde, 1.0).log_prob)[0]
    errors[n_steps] = np.abs(lp - truth).max()
    print(f"{n_steps:4d} Heun steps: mean log p {lp.mean():.4f} (closed form {truth.mean():.4f}), "
          f"largest error {errors[n_steps]:.1e} nats")
steps = sorted(errors)
T.claim("the ODE's log-likelihood converges to the exact log p_{t_min} at second order",
        all(errors[a] / errors[b] > 3 for a, b in zip(steps, steps[1:])) and errors[steps[-1]] < 0.03,
        f"errors {', '.join(f'{errors[k]:.1e}' for k in steps)}")

# %% [markdown]
# ## 3.3 Training: weighted DSM over t
#
# A model $s_\theta(\mathbf{x}, \sigma_t)$ is trained with section 3.3's loss, $\lambda(t) = \sigma_t^2$ (the
# weighting of Song et al. 2021, which keeps every $t$'s term of order one; the notes leave $\lambda$ open),
# by `npscore train --loss sde-vp` (or `sde-ve`): `ncsn_losses.sde_dsm`. Then every sampler above runs on
# the learned score in place of the exact one; `examples/all_datasets.py --loss sde-vp` does so on every
# built-in data set.

# %%
from npscore import ncsn_losses  # noqa: E402
T.where(ncsn_losses.sde_dsm)

# %% [markdown]
# Next: [8. MNIST](08_mnist.ipynb).
