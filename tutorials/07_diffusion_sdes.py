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
# **A slip in the notes.** Section 3.2 (line 57) writes the reverse SDE with $-\frac12 g_t^2 \nabla \log p_t$. That
# is the probability-flow ODE's drift; with the SDE's noise $g\, d\bar{\mathbf{W}}$ it samples the wrong law. The
# code (`npscore.sde.SDE.reverse_drift`) uses $g^2$ for the SDE and $\frac12 g^2$ for the ODE; below, both are
# run, with the exact score and with one trained by section 3.3's weighted DSM.
#
# **Conventions.** The notes' $\alpha_t$ is `VPSDE.alpha(t)`; `sde.marginal(t)` returns
# $(m_t, \sigma_t) = (\sqrt{\alpha_t}, \sqrt{1 - \alpha_t})$. The notes' $f_\theta$ is the SDE's drift $f$, which has
# no parameters. Time runs from 1 (the prior) down to a small $t_{min}$, not to 0, where the score blows up.

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import backend, likelihood
from npscore.densities import GaussianMixture, score_under, two_modes
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
# $t = 1$ the data is all but forgotten, $\alpha_1 = e^{-10.05}$. The means test the drift; the variances test
# $g(t)$, so beside the SDE runs a known-bad twin whose noise is $0.9\, g(t)$, which the variance check must
# catch (its means are the same).

# %%
sde = VPSDE()
data = two_modes((0.3, 0.7))
n = T.pick(20000, 4000)
rng = backend.rng(1)
x = data.sample(n, rng)
x_bad = x.copy()
ts = np.linspace(0, 1, 1001)
snapshots = {}
for k in range(1000):
    t, dt = np.full(n, ts[k]), ts[k + 1] - ts[k]
    z = rng.normal(x.shape)
    x = x + sde.drift(x, t) * dt + sde.diffusion(t)[:, None] * np.sqrt(dt) * z
    x_bad = x_bad + sde.drift(x_bad, t) * dt + 0.9 * sde.diffusion(t)[:, None] * np.sqrt(dt) * z
    if k + 1 in (100, 300, 1000):
        snapshots[ts[k + 1]] = (x.copy(), x_bad.copy())
print(f"alpha_1 = {float(sde.alpha(np.ones(1))[0]):.2e}")
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (t, (xt, xt_bad)) in zip(axes, snapshots.items()):
    exact = marginal(data, sde, t)
    ref = exact.sample(n, backend.rng(2))
    ax.scatter(*ref[:2000].T, s=1, c="tab:blue", alpha=0.3, label="exact p_t")
    ax.scatter(*xt[:2000].T, s=1, c="tab:orange", alpha=0.3, label="simulated")
    ax.set(title=f"t = {t:.1f}", xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    w_, mu_, cov_ = (backend.to_numpy(a) for a in (exact.weights, exact.means, exact.covs))
    mean_t = w_ @ mu_
    var_t = np.einsum("k,kii->i", w_, cov_) + w_ @ mu_ ** 2 - mean_t ** 2     # the marginal's, in closed form
    se_mean, se_var = np.sqrt(var_t / n), var_t * np.sqrt(2 / (n - 1))     # (a bimodal law has lighter tails)
    var, var_bad = xt.var(0, ddof=1), xt_bad.var(0, ddof=1)
    T.claim(f"t = {t:.1f}: the simulated mean and variance are the marginal's",
            np.all(np.abs(xt.mean(0) - mean_t) < 5 * se_mean) and np.all(np.abs(var - var_t) < 5 * se_var),
            f"means {np.round(xt.mean(0), 3)} against {np.round(mean_t, 3)}, variances {np.round(var, 4)} "
            f"against {np.round(var_t, 4)}")
T.claim("the variance check sees a wrong g: with 0.9 g(t) the variance at t = 1 is off by many standard errors",
        np.all(np.abs(var_bad - var_t) > 5 * se_var), f"{np.round(var_bad, 4)} against {np.round(var_t, 4)}")
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
    score = score_under(gauss, sde)
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
score = score_under(data, sde)
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
    lp = likelihood.ode_log_prob(score_under(gauss, sde), trace, sde, xq, n_steps=n_steps, t_min=1e-3,
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
# Section 3.3's loss, $\mathbb{E}_t\, \lambda(t)\, \|s_\theta(\mathbf{x}_t, t) - \nabla \log p(\mathbf{x}_t |
# \mathbf{x}_0)\|^2$ with $t \sim U(t_{min}, 1)$, is `ncsn_losses.sde_dsm`. The notes leave $\lambda$ open; the code
# takes $\lambda(t) = \sigma_t^2$ (Song et al. 2021), which makes every $t$'s term of order one, and the factor
# 1/2 of the second report's scaling. The model is the one `npscore train --loss sde-vp` builds
# (`RunConfig.build_model`: a residual MLP of $(\mathbf{x}, \sigma_t)$), trained here by `training.fit` on fresh
# draws of the mixture, then sampled from the VP prior by the reverse SDE and the probability flow, and, for
# contrast, by the notes' drift on the same learned score.

# %%
from npscore import ncsn_losses, training  # noqa: E402
from npscore.commands.config import RunConfig  # noqa: E402
from npscore.metrics import mode_fractions  # noqa: E402
from npscore.optim import Adam  # noqa: E402

T.where(ncsn_losses.sde_dsm)
net = RunConfig(loss="sde-vp").build_model(2)
steps = T.pick(6000, 200)
net_params, state, curve = training.fit(
    lambda p, r: ncsn_losses.sde_dsm(net, p, data.sample(512, r), sde, rng=r), net.init(0), Adam(lr=1e-3),
    steps, seed=0, ema=0.999, progress=False)
print(f"{steps} steps of sde_dsm; mean loss of the last 200 {np.mean(curve[-200:]):.3f}")
learned = net.score_fn(state["ema"])
start = sde.prior_sample((T.pick(4000, 500), 2), backend.rng(9))
trained = {"reverse SDE, g^2": reverse_sde(learned, sde, start, backend.rng(10), n_steps=T.pick(1000, 100)),
           "probability flow": probability_flow(learned, sde, start, n_steps=T.pick(500, 100)),
           "reverse SDE, the notes' 1/2 g^2": reverse_sde(notes_drift(learned), sde, start, backend.rng(10),
                                                          n_steps=T.pick(1000, 100))}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
axes[0].plot(np.convolve(curve, np.ones(100) / 100, mode="valid"))
axes[0].set(xlabel="step", ylabel="sde_dsm (running mean)", title="training")
for ax, (label, xs) in zip(axes[1:], trained.items()):
    ax.scatter(*ref.T, s=1, c="tab:blue", alpha=0.3)
    ax.scatter(*xs.T, s=1, c="tab:orange", alpha=0.3)
    ax.set(title=label, xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
fig.suptitle("the learned score: blue the data, orange the samples")
T.show(fig)
for label, xs in trained.items():
    print(f"{label:32s}: light-mode fraction {mode_fractions(data, xs)[0]:.3f} (data 0.300), median distance to "
          f"the nearest mean {width(xs):.3f} (data {ref_spread:.3f})")
if not T.QUICK:                                   # properties of the trained model, not of the quick run
    good = list(trained)[:2]
    T.claim("trained by weighted DSM, the reverse SDE and the probability flow recover the weights and widths",
            all(abs(mode_fractions(data, trained[k])[0] - 0.3) < 0.04 for k in good)
            and all(abs(width(trained[k]) - ref_spread) < 0.15 * ref_spread for k in good),
            ", ".join(f"{k}: {mode_fractions(data, trained[k])[0]:.3f}, {width(trained[k]):.3f}" for k in good))
    T.claim("and the notes' 1/2 g^2 on the same learned score widens the modes",
            width(trained["reverse SDE, the notes' 1/2 g^2"]) > 1.2 * ref_spread,
            f"{width(trained[list(trained)[2]]):.3f} against {ref_spread:.3f}")

# %% [markdown]
# ## Slips in the notes (second report, section 3)
#
# > - **Line 57:** the reverse SDE has $-\frac12 g_t^2 \nabla \log p_t$; Anderson's reverse SDE has $-g_t^2
# >   \nabla \log p_t$, and $\frac12 g_t^2$ belongs to the probability-flow ODE, which has no noise term. Measured
# >   above with the exact score (the variance comes out too wide) and with the learned one.
# > - **Line 57:** the drift is written $f_\theta(x, t)$, but it is the forward SDE's $f$: nothing in it is learned.
# > - **Line 49:** the forward process is given only by its marginal, at "time steps" up to $T$; the SDE whose
# >   marginal it is, $dx = -\frac12 \beta(t) x\, dt + \sqrt{\beta(t)}\, dW$ with $\alpha_t = e^{-\int_0^t \beta}$,
# >   is what the reverse SDE of line 57 needs for $f$ and $g$.
# > - **Line 67:** $\epsilon \sim N(0, I)$ is drawn in the expectation but appears nowhere in the loss: the target
# >   $\nabla \log p(x_t | x_0) = -\epsilon / \sqrt{1 - \alpha_t}$ is where it belongs; and $\lambda(t)$ is left
# >   unspecified.

# %% [markdown]
# ## Exercise
#
# For the VP SDE with $\beta(t) = \beta_{min} + t(\beta_{max} - \beta_{min})$ (`VPSDE()`: 0.1 and 20), predict
# $\alpha_t$ at $t = 0.5$, and the variance at $t = 0.5$ of the marginal when the data are $N(0, s^2)$ with
# $s^2 = 0.0625$. Check with `sde.alpha` and `marginal(GaussianMixture(...), sde, 0.5)`.
#
# <details><summary>Answer</summary>
#
# $\int_0^t \beta = \beta_{min} t + \frac12 (\beta_{max} - \beta_{min}) t^2 = 0.05 + 2.4875 = 2.5375$, so
# $\alpha_{0.5} = e^{-2.5375} = 0.0791$. The marginal is $N(0, \alpha_t s^2 + 1 - \alpha_t) = N(0, 0.9259)$:
# half-way in time the data's own variance is already under 1% of the total, and $\alpha_1 = e^{-10.05}$.
#
# </details>
#
# Next: [8. MNIST](08_mnist.ipynb).
