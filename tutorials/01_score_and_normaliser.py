# %% [markdown]
# # 1. The score and the normaliser
#
# *First report, sections 1-4, Theorem 1, Definition 2 and Lemma 1.*
#
# A model density is usually known only up to its normaliser,
# $p(\mathbf{x}; \theta) = q(\mathbf{x}; \theta) / Z(\theta)$, and $Z(\theta) = \int q$ is intractable in
# $\mathbb{R}^{784}$. The score
#
# $$S(\mathbf{x}; \theta) := \nabla_{\mathbf{x}} \log p(\mathbf{x}; \theta)
#   = \nabla_{\mathbf{x}} \log q(\mathbf{x}; \theta) - \underbrace{\nabla_{\mathbf{x}} \log Z(\theta)}_{=\,0}$$
#
# does not see $Z$. This tutorial checks that numerically, then Theorem 1 (the NLL and the KL divergence
# differ by the data's entropy, a constant in $\theta$) and Lemma 1 (two functions with the same gradient
# differ by a constant).

# %%
import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import backend, reference
from npscore.densities import two_modes

backend.use("numpy")

# %% [markdown]
# ## The score ignores $Z$
#
# Take the notes' two-mode mixture (section 8) as $p$, and an unnormalised $q = Z p$ with an arbitrary
# $Z = e^{7}$. `reference.score_of` differentiates a log-density with autograd; `GaussianMixture.score`
# is the closed form $\sum_k r_k(\mathbf{x}) (-\Sigma_k^{-1}(\mathbf{x} - \mu_k))$.

# %%
data = two_modes((0.2, 0.8))
T.where(reference.score_of)
T.where(type(data).score)

w, mu, cov = (backend.to_numpy(a) for a in (data.weights, data.means, data.covs))


def log_p(x):
    return reference.mixture_log_prob(x, w, mu, cov)


def log_q(x):
    return log_p(x) + 7.0            # log q = log p + log Z


x = data.sample(500, backend.rng(0))
s_p, s_q, s_exact = reference.score_of(log_p)(x), reference.score_of(log_q)(x), data.score(x)
T.claim("grad log q = grad log p: the normaliser drops out", np.abs(s_q - s_p).max() < 1e-12,
        f"max difference {np.abs(s_q - s_p).max():.1e}")
T.claim("autograd's score is the mixture's closed form", np.abs(s_p - s_exact).max() < 1e-10,
        f"max difference {np.abs(s_p - s_exact).max():.1e}")

# %% [markdown]
# The score field points up the density: towards the nearer mode, and harder the farther a point is.

# %%
g = np.linspace(-3, 3, 21)
X, Y = np.meshgrid(g, g)
grid = np.stack([X.ravel(), Y.ravel()], 1)
S = data.score(grid)
fine = np.linspace(-3, 3, 200)
FX, FY = np.meshgrid(fine, fine)
dens = np.exp(backend.to_numpy(data.log_prob(np.stack([FX.ravel(), FY.ravel()], 1)))).reshape(FX.shape)
fig, ax = plt.subplots(figsize=(5, 5))
ax.contourf(FX, FY, dens, 20, cmap="Blues")
ax.quiver(grid[:, 0], grid[:, 1], S[:, 0], S[:, 1], color="k", angles="xy")
ax.set(title=r"$p_0$ and its score $\nabla_x \log p_0$", aspect="equal")
T.show(fig)

# %% [markdown]
# ## Theorem 1: argmin NLL = argmin KL
#
# $D_{KL}(p \| p_\theta) = \mathbb{E}_p \log p - \mathbb{E}_p \log p_\theta = \text{NLL}(\theta) - H(p)$, so
# the two differ by the entropy $H(p)$ for every $\theta$. With $p = N(\mu, \Sigma)$ and the Gaussian
# family $p_\theta = N(\theta, \Sigma)$, the KL is $\frac12 (\theta - \mu)^\top \Sigma^{-1} (\theta - \mu)$
# in closed form; the NLL is estimated on samples.

# %%
rng = np.random.default_rng(0)
m, C = np.array([1.0, -0.5]), np.array([[1.0, 0.3], [0.3, 0.5]])
xs = rng.multivariate_normal(m, C, size=T.pick(200000, 20000))
P = np.linalg.inv(C)
H = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * C))
gaps = []
for theta in rng.standard_normal((5, 2)):
    nll = -reference.gaussian_log_prob(xs, theta, C).mean()
    kl = 0.5 * (theta - m) @ P @ (theta - m)
    gaps.append(nll - kl)
print("NLL - KL for five theta:", np.round(gaps, 4), f" H(p) = {H:.4f}")
T.claim("NLL(theta) - KL(p || p_theta) is the entropy H(p), the same for every theta",
        np.ptp(gaps) < T.pick(0.01, 0.03) and abs(np.mean(gaps) - H) < T.pick(0.01, 0.03))

# %% [markdown]
# ## Lemma 1: equal gradients, a constant difference
#
# $f - g = K$ a.e. $\iff \nabla f = \nabla g$ a.e. The proof integrates $\nabla h$ along a path. Here
# $f = \log q$ and $g = \log p$: integrating the *score* along a path from $\mathbf{a}$ to $\mathbf{b}$
# gives $\log p(\mathbf{b}) - \log p(\mathbf{a})$, whichever of $p$ or $q$ it came from, so a score pins a
# log-density down to one constant, and a normalised density down to nothing at all (Theorem 2's step).

# %%
a, b = np.array([-2.0, 1.5]), np.array([1.0, -1.0])
ts = np.linspace(0.0, 1.0, 2001)
path = a + ts[:, None] * (b - a) + np.sin(np.pi * ts)[:, None] * np.array([0.0, 1.0])   # a curved path
dpath = np.gradient(path, ts, axis=0)
integrand = (reference.score_of(log_q)(path) * dpath).sum(1)
line_integral = ((integrand[1:] + integrand[:-1]) / 2 * np.diff(ts)).sum()
exact = float(log_p(b[None])[0] - log_p(a[None])[0])
T.claim("the line integral of the score is log p(b) - log p(a)", abs(line_integral - exact) < 1e-5 * abs(exact),
        f"{line_integral:.6f} vs {exact:.6f}, 2001 trapezoids")

# %% [markdown]
# `python -m proofs nll_kl lemma1` runs the same two claims at length, each with a broken case that must
# fail. Next: [2. ESM and ISM](02_esm_and_ism.ipynb).
