# %% [markdown]
# # 8. MNIST: the notes' running example, $\mathbf{x} \in \mathbb{R}^{784}$
#
# *First report, sections 1-2 (MNIST as the data whose $Z(\theta)$ no one can compute) and the second report's
# section 3 (a score model of noisy images, sampled by the reverse SDE).*
#
# The same pieces as tutorials 3, 4 and 7, at $D = 784$: DSM over a continuum of noise levels, then the
# reverse-time VE SDE from $N(0, \sigma_1^2 I)$. The model (`npscore/mnist/model.py`, design note
# `docs/mnist-design.md`) is an MLP on $[\mathbf{x} / \sqrt{1 + \sigma^2}, \gamma(\sigma)]$ with Fourier features
# $\gamma$ of $\log \sigma$, whose output adds to the exact score of a per-pixel density fitted to the
# training set; it is trained with $\lambda(\sigma) = \sigma^2$ and $\sigma$ drawn log-uniformly.
#
# This notebook trains a small version for a few minutes on the CPU. The documented run is
# `npscore mnist --data ../shared/data/mnist` (the `cpu` preset: 25,000 steps, about 16 minutes on 2 cores),
# and `--preset gpu --backend cupy` on a GPU; its results are in the README. Set `NPSCORE_BACKEND=cupy` to run
# this notebook on a GPU: nothing else changes.
#
# **Conventions.** Pixels are in $[0, 1]$; the samples are clipped to $[0, 1]$ only to be shown and scored.
#
# **The data.** MNIST is not shipped with npscore and nothing here downloads it. Put the four IDX files
# (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
# gzipped or not, from any MNIST mirror) in a folder and set `NPSCORE_MNIST_DIR` to it; without it the notebook
# looks in `../shared/data/mnist` beside the checkout, and names the folder it needs if there is none.
#
# > **Slips in the notes (first report, sections 1-3).**
# > - Line 27 puts the images in $\mathcal{X} \subset \mathbb{R}^{784}$ with pixels in $[0, 1]$, so
# >   $\mathcal{X} = [0, 1]^{784}$; line 55 then says "the space $\mathcal{X}$ is $\mathbb{R}^{784}$". The
# >   difference matters here: a density on the cube has a boundary, the reverse SDE's samples leave the cube
# >   (the cell below counts how many pixels), and the bits/dim below needs the images dequantised onto a
# >   continuum first.
# > - Line 49 writes $Z(\theta) = \int p(\mathbf{x}; \theta)\,d\mathbf{x}$, which is 1; it is
# >   $\int q(\mathbf{x}; \theta)\,d\mathbf{x}$ (tutorial 1 shows the number).

# %%
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt

import _tutorial as T
from npscore import backend
from npscore.mnist import classifier, run

backend.use(os.environ.get("NPSCORE_BACKEND", "numpy"))   # on NumPy it also tunes the allocator (faster steps)
T.where(run.train)
T.where(run.sample)

folder_mnist = os.environ.get("NPSCORE_MNIST_DIR") or os.path.join(T.ROOT, "..", "shared", "data", "mnist")
data = run.load_data(folder_mnist)
if T.QUICK:                                       # the quick run (the test suite's) trains on a subset
    data = {**data, "x_train": data["x_train"][:5000], "y_train": data["y_train"][:5000]}
print(f"MNIST: {data['x_train'].shape[0]} training and {data['x_test'].shape[0]} test images of "
      f"{data['x_train'].shape[1]} pixels")

# %% [markdown]
# ## Train
#
# `run.train` takes the `cpu` preset and overrides what is given: here fewer steps and a narrower network.

# %%
out = os.path.join(tempfile.mkdtemp(), "mnist")
steps = T.pick(4000, 40)
model, params, losses, seconds, config = run.train(out, data["x_train"], steps=steps,
                                                   hidden=T.pick(512, 32), depth=T.pick(5, 2),
                                                   gate_steps=T.pick(1000, 20), force=True, progress=False,
                                                   log=print)
print(f"trained {steps} steps, then the local gate alone for {len(losses) - steps}, in {seconds:.0f} s; "
      f"mean loss of the last 100 steps {float(np.mean(losses[-100:])):.3f}")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(np.convolve(losses, np.ones(50) / 50, mode="valid") if len(losses) > 50 else losses)
ax.axvline(steps, c="grey", lw=0.8, ls="--")
ax.text(steps, ax.get_ylim()[1], " local gate alone", va="top", fontsize=8, color="grey")
ax.set(xlabel="step", ylabel="DSM loss (running mean)", yscale="log")
T.show(fig)

# %% [markdown]
# ## Sample with the reverse-time SDE

# %%
n = T.pick(500, 50)
raw = run.sample(model, params, config["sigmas"], n, seed=0)
images = backend.to_numpy(backend.xp().clip(raw, 0.0, 1.0))
outside = float(np.mean((backend.to_numpy(raw) < 0) | (backend.to_numpy(raw) > 1)))
print(f"{100 * outside:.1f}% of the sampled pixels lie outside [0, 1] before clipping")
fig, axes = plt.subplots(8, 8, figsize=(6, 6))
for ax, im in zip(axes.ravel(), images):
    ax.imshow(im.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
T.show(fig)

# %% [markdown]
# ## Scored by a classifier, beside a known-bad baseline
#
# A small classifier trained on MNIST (`npscore/mnist/classifier.py`) gives the Frechet distance between its
# features of the samples and of MNIST test (classifier-FID; lower is better). A number is only worth reading
# if it sees failure, so the table puts beside the samples the floor (as many test images, scored against the
# test set) and a known-bad case: draws of a Gaussian fitted to the training images, which has the right mean
# and covariance and looks like smoke.
#
# **FID depends on n.** A Frechet distance estimated from $n$ samples is biased upward by a term of order
# $1/n$ (the feature covariances are estimated), so a floor at $n = 500$ (this notebook) is higher than the
# README's at $n = 1000$, and both are higher than at 5000. Compare a model only with a floor at its own $n$;
# the checks below do.

# %%
clf = classifier.train_classifier(data["x_train"], data["y_train"], steps=T.pick(3000, 100), progress=False)
rows = run.evaluate_samples(clf, raw, data["x_test"], data["x_train"])
for name in ("model", "mnist_test (floor)", "gaussian_fit clipped"):
    r = rows[name]
    print(f"{name:22s} classifier-FID {r['classifier_fid']:8.2f}   IS analogue {r['inception_score']:.2f}   "
          f"speckle {r['speckle']:.4f}")
fid = {k: v["classifier_fid"] for k, v in rows.items()}
T.claim("the metric tells MNIST from a Gaussian with MNIST's moments, by an order of magnitude",
        fid["mnist_test (floor)"] < T.pick(0.1, 1.0) * fid["gaussian_fit clipped"],
        f"floor {fid['mnist_test (floor)']:.2f}, Gaussian {fid['gaussian_fit clipped']:.2f}")
if not T.QUICK:                                   # a property of the trained model, not of the quick run
    T.claim("the model's samples score within twice the floor at the same n",
            fid["model"] < 2 * fid["mnist_test (floor)"],
            f"model {fid['model']:.2f}, floor {fid['mnist_test (floor)']:.2f} at n = {n}")
speckle = {k: v["speckle"] for k, v in rows.items()}
T.claim("the speckle the grid shows is measured: the short run's samples have many times the test images' "
        "isolated lit pixels", speckle["model"] > 5 * speckle["mnist_test (floor)"],
        f"model {speckle['model']:.4f}, MNIST test {speckle['mnist_test (floor)']:.4f}")

# %% [markdown]
# The classifier-FID puts this short run near its floor but does not say what is wrong with its samples; the
# speckle does: isolated lit pixels, which the grid above shows around the strokes. The `cpu` preset's full
# run (25000 steps, the README's MNIST section) reaches classifier-FID 10.8 at $n = 1000$, where MNIST test
# scores 5.6 at the same $n$, and speckle many times the test images'.
#
# **The local gate.** The loss curve above has a second part, marked "local gate alone": after the MLP,
# `run.train` trains one more term for `gate_steps` steps with everything else frozen. The MLP's head mixes, per
# pixel, the components of a per-pixel base density (blank, saturated, in between); the MLP sets the mixing
# weights from the whole image. The local gate adds to those weights a $5 \times 5$ convolution of the noisy
# image whose kernel is a function of $\sigma$: whether a lit pixel is ink or noise is mostly a question about
# its neighbours, which a convolution asks once for all 784 pixels and an MLP must learn pixel by pixel
# (`npscore/mnist/model.py` has the equation; `docs/mnist-design.md` the measurements that led to it). The
# U-Net below asks that question in every layer.

# %% [markdown]
# ## The same objective with a convolutional U-Net
#
# The MLP above sees the image as 784 unrelated numbers; whether a lit pixel belongs to a stroke is a question
# about its neighbours, which an MLP must learn once per pixel and a convolution asks once for all of them.
# `npscore.nn.unet.UNet` (`npscore mnist --preset unet-cpu` or `unet-gpu`) is built from the convolutional
# primitives of `npscore/nn/conv.py`, each with its VJP written out and pinned to autograd like the MLP's. It
# keeps the same contract (`npscore/nn/score_model.py`), so the same `run.train`, the same DSM over a continuum
# of sigma and the same reverse SDE drive it: only the model changes. Its smallest noise level is 0.002 here,
# below the dequantisation width 1/256, so that its bits/dim can go below the MLP's floor.

# %%
unet_out = os.path.join(tempfile.mkdtemp(), "unet")
unet_steps = T.pick(600, 30)
unet, unet_params, unet_losses, unet_seconds, unet_config = run.train(
    unet_out, data["x_train"], run.PRESETS["unet-cpu"], steps=unet_steps, channels=T.pick((16, 32, 32), (4, 8, 8)),
    checkpoint_every=T.pick(300, 10), progress=False, log=print)
print(f"{unet!r}: {sum(a.size for layer in unet_params for a in layer)} parameters, {unet_steps} steps in "
      f"{unet_seconds:.0f} s; mean loss of the last 100 steps {float(np.mean(unet_losses[-100:])):.3f}")
unet_raw = run.sample(unet, unet_params, unet_config["sigmas"], n, seed=0, sde_steps=T.pick(200, 30))
unet_images = backend.to_numpy(backend.xp().clip(unet_raw, 0.0, 1.0))
fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for k in range(8):
    for row, ims in enumerate((images, unet_images)):
        axes[row, k].imshow(ims[k].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[row, k].axis("off")
axes[0, 0].set_title("MLP", fontsize=8, loc="left")
axes[1, 0].set_title("U-Net", fontsize=8, loc="left")
T.show(fig)

# %% [markdown]
# Side by side on the same classifier, and in bits per dimension through the probability-flow ODE (Hutchinson's
# trace for both: neither gated MLP nor U-Net has its exact trace written out). A model noised to sigma cannot
# score below $8 + \log_2(\sqrt{2\pi}\,\sigma)$ bits/dim on data dequantised into 256 levels, the peak of the
# noise's own density per pixel, so each figure is printed beside the floor its smallest noise level implies.

# %%
from npscore.commands.likelihood_report import report          # noqa: E402

unet_rows = run.evaluate_samples(clf, unet_raw, data["x_test"], data["x_train"])
for name, r in (("MLP", rows["model"]), ("U-Net", unet_rows["model"]), ("MNIST test", rows["mnist_test (floor)"])):
    print(f"{name:12s} classifier-FID {r['classifier_fid']:8.2f}   speckle {r['speckle']:.4f}   "
          f"smallest class {min(r['label_fractions']):.3f}")
bits = {}
for name, folder in (("MLP", out), ("U-Net", unet_out)):
    text = report(os.path.join(folder, "checkpoint.npz"), data=folder_mnist, n=T.pick(20, 4),
                  n_steps=T.pick(100, 10), n_probes=1, progress=False)
    print(name, text.split("\n", 1)[1])
    line = text.splitlines()[-1]
    bits[name] = (float(line.split("bits/dim")[1].split()[0]), float(line.rsplit("below", 1)[1].strip(" )")))
for name, (value, floor) in bits.items():
    T.claim(f"the {name}'s bits/dim is above the floor its smallest noise level puts under any model",
            value > floor, f"{value:.2f} > {floor:.2f}")
if not T.QUICK:                                   # properties of the trained models, not of the quick run
    T.claim("the U-Net's samples have fewer isolated lit pixels than the MLP's",
            unet_rows["model"]["speckle"] < rows["model"]["speckle"],
            f"U-Net {unet_rows['model']['speckle']:.4f}, MLP {rows['model']['speckle']:.4f}")

# %% [markdown]
# What the convolution buys shows first in the speckle: a pixel lit by noise with no lit neighbour is exactly
# what a 3 x 3 kernel sees at once. What it costs shows on the CPU: a step of this small U-Net takes longer
# than the MLP's (`benchmarks/unet_torch.py` puts it beside PyTorch's), so in the CPU budget the MLP stays the
# default and the U-Net is the GPU's model (`npscore mnist --preset unet-gpu --backend cupy`,
# `bash benchmarks/gpu_unet.sh`).

# %% [markdown]
# ### Exercise
#
# The bits/dim floors printed above, 2.69 for the MLP ($\sigma_{\min} = 0.01$) and 0.37 for the U-Net
# ($\sigma_{\min} = 0.002$), come from one line. Derive $8 + \log_2(\sqrt{2\pi}\,\sigma)$: the data are
# dequantised to $[0, 1]$ from 256 levels, and the model scores $p_\sigma = p * N(0, \sigma^2 I)$. Then predict
# the floor at $\sigma = 1/256$, the dequantisation width itself.
#
# <details><summary>Answer</summary>
#
# A convolution with $N(0, \sigma^2)$ can nowhere exceed the kernel's peak: $p_\sigma(x) = \int p(y)
# N(x - y; 0, \sigma^2)\,dy \le \max N = 1/(\sqrt{2\pi}\sigma)$ per pixel, so $-\log_2 p_\sigma \ge
# \log_2(\sqrt{2\pi}\,\sigma)$ bits per pixel on $[0, 1]$. Bits/dim are reported on the 256-level scale,
# which adds $\log_2 256 = 8$ per pixel. At $\sigma = 1/256$ the floor is $8 + \log_2(\sqrt{2\pi}/256) =
# \log_2 \sqrt{2\pi} \approx 1.33$: a model noised to the dequantisation width cannot beat 1.33 bits/dim
# whatever it learns, which is why the U-Net's smallest level sits below it. Check it:
# `8 + np.log2(np.sqrt(2 * np.pi) / 256)`.
#
# </details>
#
# `npscore mnist` writes the same table to `metrics.json` with more samples, and its README section gives the
# documented runs' figures. This is the last tutorial; the README's "Read along with the notes" lists them all.
