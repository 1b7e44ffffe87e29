# %% [markdown]
# # 3. Denoising score matching
#
# *First report, sections 6 and 7 (Vincent 2011).*
#
# Corrupt a clean point $\mathbf{x}_0 \sim p_0$ by a known kernel $p(\mathbf{x} | \mathbf{x}_0)$. The noisy
# points have the marginal $p_\sigma(\mathbf{x}) = \int p(\mathbf{x} | \mathbf{x}_0) p_0(\mathbf{x}_0)\, d\mathbf{x}_0$, and
#
# $$L_{DSM}(\theta) = \mathbb{E}_{\mathbf{x}_0} \mathbb{E}_{\mathbf{x} | \mathbf{x}_0}
#   \|S_\sigma(\mathbf{x}; \theta) - \nabla_{\mathbf{x}} \log p(\mathbf{x} | \mathbf{x}_0)\|^2
#   = L_{ESM}(p_\sigma) + C,$$
#
# with $C$ free of $\theta$: the target $\nabla_{\mathbf{x}} \log p(\mathbf{x} | \mathbf{x}_0)$ is known, so no
# trace is needed. For the Gaussian kernel (section 7) it is $-(\mathbf{x} - \mathbf{x}_0)/\sigma^2 = -\varepsilon/\sigma^2$.
#
# **Conventions.** The notes call the *noisy* point $\mathbf{x}$ and the clean one $\mathbf{x}_0$, and draw
# $\varepsilon \sim N(0, \sigma^2 I)$. `losses.dsm(model, params, x, sigma, noise=z)` takes the *clean* batch as
# `x`, draws `z` $\sim N(0, I)$, so its noisy point is `x + sigma z` and its target `-z / sigma`; and it carries a
# factor 1/2: the notes' $L_{DSM}$ is twice `dsm`.

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import MLP, backend, losses
from npscore.densities import two_modes
from npscore.optim import Adam

backend.use("numpy")
T.where(losses.dsm)

# %% [markdown]
# ## The target in both noise conventions
#
# The same draw written both ways: $\varepsilon = \sigma z$. The notes' loss on $(\mathbf{x}_0 + \varepsilon,
# -\varepsilon/\sigma^2)$ is the code's on `(x + sigma z, -z / sigma)`, times two.

# %%
data = two_modes((0.3, 0.7))
model = MLP([2, 32, 32, 2], "softplus")
params = model.init(0)
sigma, n = 0.3, T.pick(20000, 4000)
x0 = data.sample(n, backend.rng(1))
z = backend.rng(2).normal(x0.shape)
eps = sigma * z                                                   # the notes' eps ~ N(0, sigma^2 I)
S = model.apply(params, x0 + eps)
L_notes = ((S - (-eps / sigma ** 2)) ** 2).sum(1).mean()          # section 7's L_DSM, as written
code = float(losses.dsm(model, params, x0, sigma, noise=z)[0])
T.claim("the notes' L_DSM = 2 losses.dsm on the same draws", abs(L_notes - 2 * code) < 1e-12 * L_notes,
        f"{L_notes:.6f} = 2 x {code:.6f}")

# %% [markdown]
# ## DSM = ESM on $p_\sigma$, plus a constant
#
# The noised mixture is known in closed form (`GaussianMixture.noised`: each covariance gains $\sigma^2 I$),
# so ESM against $\nabla \log p_\sigma$ can be computed on the very same noisy points. Their difference is
# $\frac12 \mathbb{E}\|z/\sigma\|^2 - \frac12 \mathbb{E}\|\nabla \log p_\sigma\|^2$ plus the mean of
# $s \cdot (z/\sigma + \nabla \log p_\sigma(\tilde{\mathbf{x}}))$, whose expectation is 0; four of its
# standard errors are allowed.

# %%
noisy = data.noised(sigma)
xt = x0 + sigma * z
C_hat = 0.5 * ((z / sigma) ** 2).sum(1).mean() - 0.5 * (noisy.score(xt) ** 2).sum(1).mean()
print(f"{'theta':>6} {'dsm':>10} {'esm(p_s)':>10} {'difference':>11} {'std err':>9}")
ok = True
for k in range(4):
    p = [((1 + k) * W, b) for W, b in model.init(20 + k)]
    d = float(losses.dsm(model, p, x0, sigma, noise=z)[0])
    e = float(losses.esm(model, p, xt, noisy.score)[0])
    se = ((model.apply(p, xt) * (z / sigma + noisy.score(xt))).sum(1)).std() / np.sqrt(n)
    print(f"{k:>6} {d:10.4f} {e:10.4f} {d - e:11.4f} {se:9.4f}")
    ok &= abs(d - e - C_hat) < 4 * se
print(f"C_hat = {C_hat:.4f}")
T.claim("dsm - esm(p_sigma) is the same constant for every theta", ok)

# %% [markdown]
# ## What DSM learns: the score of $p_\sigma$, not of $p_0$
#
# Trained by `dsm` at $\sigma = 0.3$ alone, the model's field matches $\nabla \log p_\sigma$. That is why one
# level cannot sample $p_0$ sharply, and why the worked example (tutorial 4) trains a whole schedule.

# %%
net = MLP([2, 64, 64, 2], "softplus")
params, opt = net.init(0), Adam(lr=3e-3)
state = opt.init(params)
for k in range(T.pick(3000, 300)):
    rng = backend.rng(3, k)
    params, state = opt.update(params, losses.dsm(net, params, data.sample(512, rng), sigma, rng=rng)[1], state)
probe = noisy.sample(4000, backend.rng(4))
err_s = ((net.apply(params, probe) - noisy.score(probe)) ** 2).sum(1).mean() / (noisy.score(probe) ** 2).sum(1).mean()
err_0 = ((net.apply(params, probe) - data.score(probe)) ** 2).sum(1).mean() / (data.score(probe) ** 2).sum(1).mean()
g = np.linspace(-2.5, 2.5, 17)
G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
for ax, field, title in ((axes[0], net.apply(params, G), "learned by dsm at sigma = 0.3"),
                         (axes[1], noisy.score(G), r"exact $\nabla \log p_\sigma$, sigma = 0.3")):
    ax.quiver(G[:, 0], G[:, 1], field[:, 0], field[:, 1], angles="xy")
    ax.set(title=title, aspect="equal")
T.show(fig)
T.claim("the DSM model is close to grad log p_sigma", err_s < T.pick(0.05, 0.15), f"relative error {err_s:.3f}")
T.claim("and far from grad log p_0", err_0 > 3 * err_s, f"relative error against p_0's score {err_0:.3f}")

# %% [markdown]
# ## Slips in the notes (first report, sections 6-7)
#
# > - **Line 191:** the step from $L_{ESM}(p_\sigma)$ to $L_{DSM}$ is credited to "the Hyvarinen Score Matching
# >   theorem". Hyvarinen (2005) gave the integration by parts of tutorial 2; the denoising identity is
# >   Vincent's (2011, "A connection between score matching and denoising autoencoders").
# > - **Line 197:** "$\operatorname{argmin} L_{DSM} = \operatorname{argmin} L_{ESM}$" leaves out which density
# >   ESM is taken against. It is $p_\sigma$, not $p_0$: above, the DSM-trained model's error against
# >   $\nabla \log p_\sigma$ is a fraction of its error against $\nabla \log p_0$.
# > - **Line 247:** $L_{DSM} \propto \ldots$ hides the weighting across levels that section 8 needs as soon as
# >   several $\sigma$ are trained together (tutorial 4's $\lambda(\sigma_i) = \sigma_i^2$).

# %% [markdown]
# ## Exercise
#
# Take $p_0 = N(0, s^2 I_D)$. Predict the smallest value `losses.dsm` can reach at noise level $\sigma$ (the
# constant $C$ above, with ESM at 0), then check it by passing the exact score as a model: the noised data are
# $N(0, (s^2 + \sigma^2) I)$.
#
# <details><summary>Answer</summary>
#
# At the minimiser $s^* = \nabla \log p_\sigma = -\tilde{\mathbf{x}}/(s^2 + \sigma^2)$, `dsm` $= \frac12
# \mathbb{E}\|z/\sigma\|^2 - \frac12 \mathbb{E}\|\nabla \log p_\sigma\|^2 = \frac{D}{2\sigma^2} -
# \frac{D}{2(s^2 + \sigma^2)}$ (the cross term's expectation is $-\mathbb{E}\|\nabla \log p_\sigma\|^2$ by
# Tweedie). It is positive: no model reaches 0, and it grows like $D / 2\sigma^2$ as $\sigma \to 0$, which is
# why `ncsn` weights level $i$ by $\sigma_i^2$. With $D = 2$, $s = 1$, $\sigma = 0.3$: $11.11 - 0.92 = 10.19$.
#
# </details>
#
# %% [markdown]
# `python -m proofs dsm_esm tweedie` checks the identity exactly on Gaussians and the minimiser
# $\mathbb{E}[-z/\sigma \mid \tilde{\mathbf{x}}] = \nabla \log p_\sigma$ (Tweedie). Next:
# [4. The worked example](04_two_modes.ipynb).
