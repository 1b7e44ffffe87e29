# %% [markdown]
# # 2. Explicit and implicit score matching
#
# *First report, Definition 1, section 5 (equations (2) and (3)), Theorem 2; second report, section 2.2.*
#
# Definition 1 of the first report:
#
# $$L_{ESM} = \mathbb{E}_{p} \|S(\mathbf{x}; \theta) - \nabla_{\mathbf{x}} \log p(\mathbf{x})\|^2, \qquad
#   L_{ISM} = \mathbb{E}_{p} \left(\|S(\mathbf{x}; \theta)\|^2 + 2 \nabla_{\mathbf{x}} \cdot S(\mathbf{x}; \theta)\right).$$
#
# Integration by parts moves the unknown $\nabla \log p$ off the model (Hyvarinen 2005):
# $L_{ESM} = L_{ISM} + \mathbb{E}_p \|\nabla \log p\|^2$, a constant in $\theta$, so both have one argmin.
#
# **Convention.** npscore's `losses.esm` and `losses.ism` are the second report's scaling (section 2.2),
# half of Definition 1's:
# `esm` $= \frac12 \mathbb{E}\|s - \nabla \log p\|^2$ and `ism` $= \mathbb{E}[\operatorname{tr}(\partial s / \partial x)
# + \frac12 \|s\|^2]$. Their difference is $\frac12 \mathbb{E}\|\nabla \log p\|^2$; Definition 1's is twice that.
# Both are shown below.

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import MLP, backend, losses, reference
from npscore.densities import two_modes
from npscore.optim import Adam

backend.use("numpy")
T.where(losses.esm)
T.where(losses.ism)

# %% [markdown]
# ## The constant, for several $\theta$
#
# On $n$ samples of the two-mode mixture, for MLP score models at random $\theta$: `esm - ism` against
# $\hat C = \frac12 \overline{\|\nabla \log p\|^2}$. The two differ by the mean of
# $-(s \cdot \nabla \log p + \operatorname{tr} J)$, whose expectation is 0 (that is the integration by parts),
# so the check allows four of its standard errors.

# %%
data = two_modes((0.3, 0.7))
n = T.pick(20000, 4000)
x = data.sample(n, backend.rng(1))
sp = data.score(x)
C_half = 0.5 * (sp * sp).sum(1).mean()
model = MLP([2, 32, 32, 2], "softplus")


def esm_ism(params):
    """esm, ism, and the standard error of their difference's zero-mean part, on the samples x."""
    esm, ism = float(losses.esm(model, params, x, data.score)[0]), float(losses.ism(model, params, x)[0])
    zero_mean = -((model.apply(params, x) * sp).sum(1) + model.trace_jacobian(params, x))
    return esm, ism, zero_mean.std() / np.sqrt(n)


rows = [(k, *esm_ism([((1 + k) * W, b) for W, b in model.init(10 + k)])) for k in range(4)]   # W scaled 1x-4x
print(f"{'theta':>6} {'esm':>10} {'ism':>10} {'esm - ism':>10} {'std err':>9}")
for k, e, i, se in rows:
    print(f"{k:>6} {e:10.4f} {i:10.4f} {e - i:10.4f} {se:9.4f}")
print(f"C_hat = 1/2 mean ||grad log p||^2 = {C_half:.4f}")
T.claim("esm - ism = 1/2 E||grad log p||^2 for every theta (second report's scaling)",
        all(abs(e - i - C_half) < 4 * se for _, e, i, se in rows))

# %% [markdown]
# ### The first report's scaling
#
# Definition 1 written out as the first report has it, from the model's outputs and autograd's trace
# (`reference.trace_jacobian`), not from `losses`: $L_{ESM} = \overline{\|s - \nabla \log p\|^2}$ and
# $L_{ISM} = \overline{\|s\|^2 + 2 \operatorname{tr} J}$. Their gap is $\mathbb{E}\|\nabla \log p\|^2$,
# twice the second report's: the factor 1/2 of section 2.2 scales the constant too.

# %%
gaps1 = []
for k in range(4):
    p_k = [((1 + k) * W, b) for W, b in model.init(10 + k)]
    s_k = model.apply(p_k, x)
    L_esm1 = ((s_k - sp) ** 2).sum(1).mean()
    L_ism1 = ((s_k ** 2).sum(1) + 2 * reference.trace_jacobian(p_k, x, "softplus")).mean()
    gaps1.append(L_esm1 - L_ism1)
se1 = 2 * max(se for *_, se in rows)
print("Definition 1: L_ESM - L_ISM =", np.round(gaps1, 4), f"  E||grad log p||^2 = {2 * C_half:.4f}")
T.claim("under Definition 1 the constant is E||grad log p||^2, not half of it",
        all(abs(g - 2 * C_half) < 4 * se1 for g in gaps1) and all(abs(g - C_half) > 4 * se1 for g in gaps1),
        f"gaps {np.round(gaps1, 3)}, E||grad log p||^2 {2 * C_half:.3f}, half of it {C_half:.3f}")

# %% [markdown]
# ### The boundary condition the integration by parts needs
#
# $\mathbb{E}_p[s \cdot \nabla \log p] = -\mathbb{E}_p[\operatorname{tr} J]$ holds only when
# $p(\mathbf{x}) s(\mathbf{x}) \to 0$ at the edge of the data's support. Data uniform on $[0, 1]$ break it:
# there $\nabla \log p = 0$ inside, and for $s_\theta(x) = \theta x$ the second report's
# $L_{SM} = \frac12 \mathbb{E}(s - 0)^2 = \theta^2 / 6$ while its ISM form is
# $\mathbb{E}[\theta + \frac12 \theta^2 x^2] = \theta + \theta^2 / 6$: the gap $-\theta$ moves with
# $\theta$ (it is the boundary term $[p\,s]_0^1 = \theta$), and the two argmins are 0 and $-3$.

# %%
u = np.random.default_rng(3).uniform(0.0, 1.0, T.pick(200000, 20000))
thetas = np.linspace(-5, 2, 701)
sm = 0.5 * thetas ** 2 * (u ** 2).mean()                    # 1/2 mean (theta u - 0)^2
ism_form = thetas + 0.5 * thetas ** 2 * (u ** 2).mean()     # mean(theta + 1/2 (theta u)^2)
print(f"argmin L_SM = {thetas[sm.argmin()]:.2f}, argmin of its ISM form = {thetas[ism_form.argmin()]:.2f}")
T.claim("without the boundary condition the ISM form has another argmin (0 against -3)",
        abs(thetas[sm.argmin()]) < 0.02 and abs(thetas[ism_form.argmin()] + 3) < 0.1,
        f"{thetas[sm.argmin()]:.2f} and {thetas[ism_form.argmin()]:.2f}")

# %% [markdown]
# ## The exact trace $\operatorname{tr}(\partial s / \partial x)$
#
# `ism` needs the divergence $\nabla_x \cdot s = \operatorname{tr} J$. npscore computes it exactly by pushing
# the $D$ unit tangents forward through the network (`nn/trace.py`), never forming the $B \times D \times D$
# Jacobian. Checked against autograd's full Jacobian and against central differences of `model.apply`.

# %%
T.where(model.trace_jacobian)
params = model.init(3)
xs = x[:64]
tr = model.trace_jacobian(params, xs)
tr_autograd = reference.trace_jacobian(params, xs, "softplus")
e = 1e-5
tr_fd = sum((model.apply(params, xs + e * np.eye(2)[i]) - model.apply(params, xs - e * np.eye(2)[i]))[:, i]
            / (2 * e) for i in range(2))
T.claim("exact trace = autograd's tr J", np.abs(tr - tr_autograd).max() < 1e-12,
        f"max difference {np.abs(tr - tr_autograd).max():.1e}")
T.claim("exact trace = central differences", np.abs(tr - tr_fd).max() < 1e-7 * np.abs(tr).max(),
        f"max difference {np.abs(tr - tr_fd).max():.1e}")

# %% [markdown]
# ## Theorem 2: argmin KL = argmin ESM, for a family that contains $p$
#
# Theorem 2 assumes the family holds $p$ itself ($p = p_{\theta^*}$ a.e.). Take $p = N(m, \Sigma)$ and the
# family $N(\theta, \Sigma)$: $D_{KL} = \frac12 (\theta - m)^\top \Sigma^{-1} (\theta - m)$ in closed form, and
# the score-matching loss in its ISM form on samples (it never sees $p$'s score). Both are least at $m$.
#
# Without the assumption the two argmins part. Fit $p_\theta(x) \propto e^{-\theta x^4}$ to $N(0, 1)$ data:
# the NLL, $\theta\,\mathbb{E}x^4 + \log \int e^{-\theta x^4} dx$, is least at $\theta = 1 / (4\,\mathbb{E}x^4)
# = 1/12$; the second report's $L_{SM}$ with $s_\theta = -4\theta x^3$ is
# $\mathbb{E}[-12\theta x^2 + 8\theta^2 x^6]$, least at $\theta = 12 / (16 \cdot 15) = 1/20$.

# %%
rng2 = np.random.default_rng(4)
m2, C2 = np.array([0.5, -1.0]), np.array([[0.6, 0.2], [0.2, 0.3]])
P2 = np.linalg.inv(C2)
x2 = rng2.multivariate_normal(m2, C2, T.pick(20000, 4000))
grid2 = m2 + np.stack(np.meshgrid(*[np.linspace(-0.2, 0.2, 81)] * 2), -1).reshape(-1, 2)
kl = 0.5 * np.einsum("bi,ij,bj->b", grid2 - m2, P2, grid2 - m2)
# ISM's sample mean, -tr P + 1/2 mean ||P (x - theta)||^2, expanded in the sample's moments: one pass over x2
Px, P2sq = x2 @ P2, P2 @ P2
ism_g = (-np.trace(P2) + 0.5 * ((Px ** 2).sum(1).mean() - 2 * grid2 @ (P2 @ Px.mean(0))
                                + np.einsum("bi,ij,bj->b", grid2, P2sq, grid2)))
print(f"Gaussian family: argmin KL {grid2[kl.argmin()]}, argmin ISM {grid2[ism_g.argmin()].round(3)}, m = {m2}")
T.claim("in a family that contains p, KL and score matching have one minimiser, m",
        np.abs(grid2[ism_g.argmin()] - m2).max() < 4 * np.sqrt(np.diag(C2).max() / len(x2)) + 0.005)

x1 = rng2.standard_normal(T.pick(400000, 40000))
ths = np.linspace(0.01, 0.2, 1901)
xq = np.linspace(-8, 8, 16001)
m2, m4, m6 = ((x1 ** k).mean() for k in (2, 4, 6))                  # both losses are linear in these moments
nll4 = ths * m4 + np.log(np.exp(-np.outer(ths, xq ** 4)).sum(1) * (xq[1] - xq[0]))
sm4 = -12 * ths * m2 + 8 * ths ** 2 * m6
print(f"exp(-theta x^4) family: argmin NLL {ths[nll4.argmin()]:.4f} (1/12 = {1 / 12:.4f}), "
      f"argmin L_SM {ths[sm4.argmin()]:.4f} (1/20 = {1 / 20:.4f})")
T.claim("outside Theorem 2's assumption the minimisers differ, as computed",
        abs(ths[nll4.argmin()] - 1 / 12) < T.pick(0.002, 0.005) and abs(ths[sm4.argmin()] - 1 / 20) < T.pick(0.002, 0.005),
        f"{ths[nll4.argmin()]:.4f} and {ths[sm4.argmin()]:.4f}")

# %% [markdown]
# ## Equation (3) in action: minimising ISM minimises ESM
#
# Train the model with `ism` alone (the data's score is never used), and read `esm` along the way. ESM falls
# as ISM does, and their gap stays at the constant: the argmin of the tractable loss is the argmin of the
# one that needs the unknown score. (The MLP's family need not contain $p$, so this is equation (3), which
# holds for any family, not Theorem 2.)

# %%
params, opt = model.init(0), Adam(lr=3e-3)
state = opt.init(params)
curve = []
for k in range(T.pick(1500, 300) + 1):
    if k % 50 == 0:
        curve.append((k, *esm_ism(params)))
    batch = data.sample(256, backend.rng(2, k))
    params, state = opt.update(params, losses.ism(model, params, batch)[1], state)
steps, esm_c, ism_c, se_c = map(np.array, zip(*curve))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(steps, esm_c, label="esm (needs grad log p)")
ax.plot(steps, ism_c + C_half, "--", label="ism + C_hat (trained)")
ax.set(xlabel="Adam step on ism", ylabel="loss", title="ISM training drives ESM down")
ax.legend()
T.show(fig)
T.claim("ESM falls under ISM training", esm_c[-1] < 0.2 * esm_c[0], f"{esm_c[0]:.3f} -> {esm_c[-1]:.3f}")
z = np.abs(esm_c - ism_c - C_half) / se_c
T.claim("and esm - ism stays at C_hat throughout (within 4 standard errors)", z.max() < 4, f"largest |z| {z.max():.2f}")

# %% [markdown]
# ## Slips in the notes (first report, sections 4-5; second report, section 2.2)
#
# > - **Second report, lines 35-39:** $L_{SM}$ is written as $\frac12 \mathbb{E}\|s_\theta - s_{data}\|^2$
# >   and then "rewritten" as $\mathbb{E}[\operatorname{tr} \nabla_x s_\theta + \frac12 \|s_\theta\|^2]$,
# >   with "=" between them. They differ by the constant $\frac12 \mathbb{E}\|s_{data}\|^2$ (measured above),
# >   and the step needs $p_{data}\, s_\theta \to 0$ at the edge of the support (above: without it the
# >   argmin moves from 0 to $-3$).
# > - **First report, line 171:** "argmin NLL = argmin $L_{ISM}$" is concluded after showing only equations
# >   (1) and (2); (3) is cited, not shown (the training run above measures it).
# > - **First report, line 173:** the gradient term $\nabla_\theta S$ is called trivial, but $L_{ISM}$'s
# >   $\theta$-gradient differentiates $\operatorname{tr}(\nabla_{\mathbf{x}} S)$, a second derivative whose
# >   exact cost grows with $D$ (tutorial 5 times it).
# > - **First report, line 177:** the trace is called "the Hessian trace". It is the trace of the Jacobian of
# >   $S$, a Hessian only when $S$ is the gradient of something; a network's output need not be.

# %% [markdown]
# ## Exercise
#
# For $p = N(0, \sigma^2 I_D)$, predict $L_{ESM} - L_{ISM}$ under Definition 1 and under the second report's
# scaling, then check it with `losses.esm`, `losses.ism` and `npscore.densities.Gaussian`.
#
# <details><summary>Answer</summary>
#
# $\nabla \log p = -\mathbf{x}/\sigma^2$, so $\mathbb{E}\|\nabla \log p\|^2 = \mathbb{E}\|\mathbf{x}\|^2 /
# \sigma^4 = D / \sigma^2$ under Definition 1, and $D / (2\sigma^2)$ for `esm - ism`, whatever the model. With
# $D = 2$ and $\sigma = 0.5$: 8 and 4, up to the sampling error of the estimate.
#
# </details>
#
# %% [markdown]
# `python -m proofs esm_ism theorem2` checks the identity in closed form on Gaussians and for every
# activation, with its broken case. Next: [3. Denoising score matching](03_denoising_score_matching.ipynb).
