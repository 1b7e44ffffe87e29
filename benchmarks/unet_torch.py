"""The U-Net's training step: npscore against PyTorch's CPU build on the same architecture, process
against process.

One step = the weighted DSM loss of :func:`npscore.losses.weighted_dsm` (sigma log-uniform, weight
sigma^2) and its parameter gradients, float32, batch ``--batch`` of 28 x 28 images, the U-Net of
:mod:`npscore.nn.unet` with ``--channels`` (3 x 3 convolutions, GroupNorm, swish, 2 x 2 average
pooling, nearest upsampling, skips by concatenation, the sigma embedding added in each block, EDM's
preconditioning). The
PyTorch side is the same network in ``torch.nn`` (NCHW, ``Conv2d(padding=1)``), as a CPU user runs
it (``pip install torch`` resolves to the ``+cpu`` build here; not a dependency: install it, or
point ``--torch-python`` at an interpreter that has it), on ``--threads`` threads.

Each side runs in its own process, the sides alternate for ``--rounds`` rounds, and the best of each
side's medians is reported. Beside npscore's step: the step's matrix products replayed alone with
the same shapes (``gemm``) and its im2col copies replayed alone (``im2col``), the split of where the
time goes.

Run: python benchmarks/unet_torch.py [--rounds 3] [--repeats 10] [--channels 16,32,32] [--batch 128]
         [--torch-python PATH]
"""
import argparse
import json
import subprocess
import sys

from torch_compare import _median_time as _median       # the same timing as the MLP's comparison


def _npscore(channels, batch, repeats):
    import numpy as np
    from npscore import backend, losses
    from npscore.nn import conv, unet
    backend.use("numpy")
    model = unet.UNet(28, channels, 8, 16)
    params = model.init(0, "float32")
    data = np.random.default_rng(0)
    x = backend.asarray(data.uniform(0, 1, (batch, 784)).astype("float32"))
    sigma = (0.01 * 2000.0 ** data.uniform(0, 1, batch)).astype("float32")
    eps = data.standard_normal((batch, 784)).astype("float32")

    def step():
        return losses.weighted_dsm(model, params, x, sigma, eps, sigma ** 2, check=False)
    out = {"step": _median(step, repeats)}
    # record the step's im2col inputs and matrix products (shapes and layouts), then replay each alone
    calls, gemms, saved = [], [], (conv.im2col, unet.conv2d, unet.conv2d_vjp_params, unet.conv2d_vjp_input)

    def im2col(h, k):
        calls.append((h.copy(), k))
        return saved[0](h, k)

    def conv2d(h, Wk, b):
        gemms.append(((h.shape[0] * h.shape[1] * h.shape[2], Wk.shape[0]), Wk.shape, False))
        return saved[1](h, Wk, b)

    def vjp_params(cols, g):
        gemms.append(((cols.size // cols.shape[-1], cols.shape[-1]), (g.size // g.shape[-1], g.shape[-1]), True))
        return saved[2](cols, g)

    def vjp_input(Wk, g, C):
        gemms.append(((g.size // g.shape[-1], Wk.shape[0] // C * g.shape[-1]), (Wk.shape[0] // C * g.shape[-1], C),
                      False))
        return saved[3](Wk, g, C)
    conv.im2col, unet.conv2d, unet.conv2d_vjp_params, unet.conv2d_vjp_input = im2col, conv2d, vjp_params, vjp_input
    step()
    conv.im2col, unet.conv2d, unet.conv2d_vjp_params, unet.conv2d_vjp_input = saved
    pairs = [((np.ones(a, "float32").T if t else np.ones(a, "float32")), np.ones(b, "float32")) for a, b, t in gemms]
    out["im2col"] = _median(lambda: [saved[0](h, k) for h, k in calls], repeats)
    out["gemm"] = _median(lambda: [a @ b for a, b in pairs], repeats)
    out["params"] = int(sum(a.size for layer in params for a in layer))
    return out


def _torch(channels, batch, repeats, threads):
    import math
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c1, c2, c3 = channels
    E, F = 4 * c1, 16

    def gn(c):
        return nn.GroupNorm(max(g for g in range(1, min(8, c) + 1) if c % g == 0), c)

    class Block(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.c1, self.e, self.n1 = nn.Conv2d(cin, cout, 3, padding=1), nn.Linear(E, cout), gn(cout)
            self.c2, self.n2 = nn.Conv2d(cout, cout, 3, padding=1), gn(cout)

        def forward(self, h, e):
            h = nn.functional.silu(self.n1(self.c1(h) + self.e(e)[:, :, None, None]))
            return nn.functional.silu(self.n2(self.c2(h)))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(1 + 2 * F, E)
            self.enc1, self.enc2, self.mid = Block(1, c1), Block(c1, c2), Block(c2, c3)
            self.dec2, self.dec1 = Block(c3 + c2, c2), Block(c2 + c1, c1)
            self.out = nn.Conv2d(c1, 1, 3, padding=1)

        def forward(self, x, sigma):
            ell = torch.log(sigma)[:, None]
            omega = (math.pi / 4) * torch.arange(1, F + 1, dtype=x.dtype)
            e = nn.functional.silu(self.embed(torch.cat([ell, torch.sin(omega * ell), torch.cos(omega * ell)], 1)))
            c = 1.0 / torch.sqrt(sigma ** 2 + 0.25)[:, None]                  # EDM's c_in, sigma_d = 0.5
            h = (c * x).reshape(-1, 1, 28, 28)
            s1 = self.enc1(h, e)
            s2 = self.enc2(nn.functional.avg_pool2d(s1, 2), e)
            m = self.mid(nn.functional.avg_pool2d(s2, 2), e)
            d2 = self.dec2(torch.cat([nn.functional.interpolate(m, scale_factor=2), s2], 1), e)
            d1 = self.dec1(torch.cat([nn.functional.interpolate(d2, scale_factor=2), s1], 1), e)
            return -c * c * x + 0.5 * c * self.out(d1).reshape(x.shape) / sigma[:, None]

    net = UNet()
    x = torch.rand(batch, 784)
    sigma = 0.01 * 2000.0 ** torch.rand(batch)
    eps = torch.randn(batch, 784)

    def step():
        net.zero_grad(set_to_none=True)
        r = net(x + sigma[:, None] * eps, sigma) + eps / sigma[:, None]
        loss = 0.5 * (sigma ** 2 * (r * r).sum(1)).mean()
        loss.backward()
    return {"step": _median(step, repeats), "params": sum(p.numel() for p in net.parameters()),
            "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels", default="16,32,32")
    ap.add_argument("--torch-python", default=sys.executable)
    ap.add_argument("--worker", choices=("npscore", "torch"))
    a = ap.parse_args()
    channels = tuple(int(c) for c in a.channels.split(","))
    if a.worker:
        out = _npscore(channels, a.batch, a.repeats) if a.worker == "npscore" else \
            _torch(channels, a.batch, a.repeats, a.threads)
        print(json.dumps(out))
        return
    best = {}
    for r in range(a.rounds):
        for side, python in (("npscore", sys.executable), ("torch", a.torch_python)):
            cmd = [python, __file__, "--worker", side, "--repeats", str(a.repeats), "--batch", str(a.batch),
                   "--channels", a.channels, "--threads", str(a.threads)]
            got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            print(f"round {r + 1} {side}: {json.dumps(got)}", flush=True)
            for k, v in got.items():
                if isinstance(v, float):
                    best.setdefault(side, {})[k] = min(best.get(side, {}).get(k, v), v)
                else:
                    best.setdefault(side, {})[k] = v
    n, t = best["npscore"], best["torch"]
    print(f"U-Net {channels}, batch {a.batch}, float32, {a.threads} threads; best of {a.rounds} medians "
          f"of {a.repeats} steps")
    print(f"  {'side':<10}{'params':>9}{'step s':>9}{'x torch':>9}{'gemm s':>9}{'im2col s':>10}")
    print(f"  {'npscore':<10}{n['params']:>9}{n['step']:9.3f}{n['step'] / t['step']:9.2f}{n['gemm']:9.3f}"
          f"{n['im2col']:10.3f}")
    print(f"  {'torch':<10}{t['params']:>9}{t['step']:9.3f}{1.0:9.2f}   ({t['torch']})")


if __name__ == "__main__":
    main()
