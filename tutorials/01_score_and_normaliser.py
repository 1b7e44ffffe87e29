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
# differ by a constant, on a connected domain), with the slips of these sections and an exercise at the end.

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
# Take the notes' two-mode mixture (section 8) as $p$, and write $q$ the way a model would: the mixture's
# exponentials without any normalising factor,
# $q(\mathbf{x}) = \sum_k w_k \exp(-\tfrac12 (\mathbf{x} - \mu_k)^\top \Sigma_k^{-1} (\mathbf{x} - \mu_k))$.
# Its $Z = \int q$ is computed here by quadrature, the one step that is intractable in $\mathbb{R}^{784}$.
# `reference.score_of` differentiates $\log q$ with autograd; `GaussianMixture.score` is the closed form of the
# *normalised* $p$, $\sum_k r_k(\mathbf{x}) (-\Sigma_k^{-1}(\mathbf{x} - \mu_k))$, through the
# responsibilities $r_k$. The check runs where the mixing matters: points drawn from $p$, and points on the
# segment between the two modes, where both $r_k$ are far from 0 and 1.

# %%
import autograd.numpy as anp  # noqa: E402

data = two_modes((0.2, 0.8))
T.where(reference.score_of)
T.where(type(data).score)

w, mu, cov = (backend.to_numpy(a) for a in (data.weights, data.means, data.covs))
prec = np.linalg.inv(cov)


def log_p(x):
    return reference.mixture_log_prob(x, w, mu, cov)


def log_q(x):
    """The mixture's exponentials, weighted, with no (2 pi)^(-d/2) |Sigma_k|^(-1/2): an unnormalised density."""
    d = x[:, None, :] - mu[None]
    quad = anp.einsum("bki,kij,bkj->bk", d, prec, d)
    return anp.log(anp.sum(w * anp.exp(-0.5 * quad), axis=1))


g1 = np.linspace(-4, 4, 801)
cell = (g1[1] - g1[0]) ** 2
G = np.stack(np.meshgrid(g1, g1), -1).reshape(-1, 2)
Z = np.exp(log_q(G)).sum() * cell
print(f"Z = integral of q = {Z:.6f}; the closed form (2 pi)^(d/2) |Sigma|^(1/2) = "
      f"{2 * np.pi * np.sqrt(np.linalg.det(cov[0])):.6f}; integral of p = {np.exp(log_p(G)).sum() * cell:.6f}")

between = mu[0] + np.linspace(0.466, 0.512, 47)[:, None] * (mu[1] - mu[0])          # the segment between the modes
r = backend.to_numpy(data.responsibilities(between))
x = np.concatenate([backend.to_numpy(data.sample(500, backend.rng(0))), between])
s_q, s_exact = reference.score_of(log_q)(x), backend.to_numpy(data.score(x))
mixed = int(((r > 0.05) & (r < 0.95)).all(1).sum())
T.claim("the score of the unnormalised q is the normalised mixture's closed form, mixing included",
        np.abs(s_q - s_exact).max() < 1e-10 * np.abs(s_exact).max() and mixed > len(between) // 2,
        f"max difference {np.abs(s_q - s_exact).max():.1e}; {mixed} of the {len(between)} points between the "
        "modes have both responsibilities in (0.05, 0.95)")
T.claim("q is not normalised (Z is not 1) while p is", abs(Z - 1) > 0.5 and
        abs(np.exp(log_p(G)).sum() * cell - 1) < 1e-6, f"Z = {Z:.4f}")

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
# ## Lemma 1: equal gradients, a constant difference, on a connected domain
#
# $f - g = K \iff \nabla f = \nabla g$, for $f, g$ **continuously differentiable on a connected open set**.
# The proof integrates $\nabla h$ along a path from $\mathbf{a}$ to $\mathbf{b}$, and both conditions are used
# there: the fundamental theorem of calculus needs $h \in C^1$ along the path, and a path must exist inside
# the domain. (With "a.e." in place of "everywhere" and no smoothness the statement is false: a step
# function has gradient 0 a.e. and is not constant.) Here $f = \log q$ and $g = \log p$: integrating the
# score along a path gives $\log p(\mathbf{b}) - \log p(\mathbf{a})$, whichever of $p$ or $q$ it came from.

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
# **Where the condition bites.** Where the data live on two separated pieces, "equal scores where the data
# are" does not give one constant. Compare $p$ (weights 0.2, 0.8) with $p'$ (weights 0.5, 0.5): on draws from
# $p$ their scores agree to many digits, yet $\log p - \log p'$ is $\log(0.2/0.5)$ at one mode and
# $\log(0.8/0.5)$ at the other. A score model fitted where the data are cannot see the modes' weights:
# tutorial 4 shows what that does to Langevin sampling.

# %%
other = two_modes((0.5, 0.5))
xs_p = data.sample(2000, backend.rng(1))
near = backend.to_numpy(data.responsibilities(xs_p)).max(1) > 0.999            # the points at either mode
gap = np.abs(backend.to_numpy(data.score(xs_p) - other.score(xs_p)))[near].max()
diff = backend.to_numpy(data.log_prob(data.means) - other.log_prob(data.means))
print(f"largest score difference on {int(near.sum())} of 2000 draws of p: {gap:.1e}; "
      f"log p - log p' at the two modes: {diff[0]:.4f}, {diff[1]:.4f} (log 0.4 = {np.log(0.4):.4f}, "
      f"log 1.6 = {np.log(1.6):.4f})")
T.claim("scores equal where the data are, log-densities apart by two different constants",
        gap < 1e-3 and abs(diff[0] - np.log(0.4)) < 1e-3 and abs(diff[1] - np.log(1.6)) < 1e-3,
        f"score gap {gap:.1e}, constants {diff[0]:.3f} and {diff[1]:.3f}")

# %% [markdown]
# ## Slips in the notes (first report, sections 2-5)
#
# > - **Line 49:** $Z(\theta) = \int p(\mathbf{x}; \theta)\,d\mathbf{x}$. That integral is 1 for any
# >   $\theta$; the normaliser is $\int q(\mathbf{x}; \theta)\,d\mathbf{x}$ (above: $\int q$ and $\int p$,
# >   by quadrature).
# > - **Line 59:** $\nabla_\theta \text{NLL} = \mathbb{E}[\nabla_\theta \log q - \nabla_\theta \log Z]$ has
# >   lost the minus sign of $\text{NLL} = -\mathbb{E} \log p(\mathbf{x}; \theta)$: it is the gradient of the
# >   log-likelihood, which gradient *descent* would climb the wrong way (the cell below measures it).
# > - **Line 101:** "$\operatorname{argmin} D_{KL} = -\operatorname{argmin}\,\mathbb{E} \log p(\mathbf{x};
# >   \theta)$": an argmin cannot be negated; it is $\operatorname{argmax}_\theta \mathbb{E} \log
# >   p(\mathbf{x}; \theta)$, as line 41 has it. (Also "NNL" for NLL, lines 89, 101, 171.)
# > - **Lines 105-115:** Definition 2 is stated on $\mathbb{R}$ and used on $\mathbb{R}^n$, and Lemma 1 drops
# >   the conditions its proof uses ($C^1$, a connected domain; above). The proof's "$K - K = 0$ a.e.
# >   $\forall \mathbf{a}, \mathbf{b}$" mixes "almost every" and "every".

# %%
theta = np.array([0.3, 0.2])
nll = lambda th: -reference.gaussian_log_prob(xs, th, C).mean()          # noqa: E731  the NLL of the family above
fd = np.array([(nll(theta + h) - nll(theta - h)) / 2e-5 for h in 1e-5 * np.eye(2)])
notes = (P @ (xs - theta).T).mean(1)          # E[grad_theta log q]; grad_theta log Z = 0 for this family
print(f"grad NLL by finite differences {np.round(fd, 4)}; the notes' line 59 {np.round(notes, 4)}")
T.claim("line 59's expression is minus the gradient of the NLL", np.allclose(fd, -notes, rtol=1e-4, atol=1e-6),
        f"{fd.round(4)} = -{notes.round(4)}")

# %% [markdown]
# ## Exercise
#
# Between the modes the responsibilities trade places. For weights $w_1, w_2$, equal covariances
# $s^2 I$ and means $\mu_1, \mu_2$ a distance $d$ apart, at which point
# $\mathbf{x} = \mu_1 + t(\mu_2 - \mu_1)$ of the segment is $r_1 = r_2$? Predict $t$ for the notes'
# mixture ($w = (0.2, 0.8)$, $s^2 = 0.0625$, $d^2 = 8$), then find it with `data.responsibilities`.
#
# <details><summary>Answer</summary>
#
# $r_1 = r_2$ where $\log w_1 - t^2 d^2 / 2s^2 = \log w_2 - (1 - t)^2 d^2 / 2s^2$, that is
# $t = \tfrac12 - s^2 \log(w_2 / w_1) / d^2 = 0.5 - 0.0625 \log 4 / 8 \approx 0.4892$: a hair towards the
# lighter mode, because the modes are far apart compared with their width. In code:
# `t = np.linspace(0, 1, 100001); r = data.responsibilities(mu[0] + t[:, None] * (mu[1] - mu[0]));
# t[np.argmin(abs(r[:, 0] - r[:, 1]))]`.
#
# </details>
#
# `python -m proofs nll_kl lemma1` runs the same claims at length, each with a broken case that must
# fail. Next: [2. ESM and ISM](02_esm_and_ism.ipynb).
