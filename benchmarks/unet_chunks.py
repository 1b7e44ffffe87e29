"""The U-Net's sampling pass on the CPU: seconds per 1000 images, by how many images one pass sees.

One pass = ``score(x, sigma)`` of :meth:`npscore.nn.score_model.ScoreModel.score_fn` (no derivatives
kept), float32, 28 x 28 images, the ``--channels`` U-Net, over 1000 images cut into chunks of each
size; the sizes alternate for ``--rounds`` rounds and the best of each size's medians is printed.
:attr:`npscore.nn.unet.UNet.sample_batch` is the size the samplers use.

Run: python benchmarks/unet_chunks.py [--channels 16,32,32] [--chunks 1000,250,64,32] [--rounds 3]
"""
import argparse

import numpy as np

from npscore import backend
from npscore.nn import unet
from torch_compare import _median_time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", default="16,32,32")
    ap.add_argument("--chunks", default="1000,250,64,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    backend.use("numpy")
    model = unet.UNet(28, tuple(int(c) for c in a.channels.split(",")), 8, 16)
    score = model.score_fn(model.init(0, "float32"))
    rng = np.random.default_rng(0)
    x, sigma = rng.standard_normal((1000, 784)).astype("float32"), np.full(1000, 0.5, "float32")
    best = {}
    for _ in range(a.rounds):
        for chunk in (int(c) for c in a.chunks.split(",")):
            t = _median_time(lambda: [score(x[k:k + chunk], sigma[k:k + chunk]) for k in range(0, 1000, chunk)],
                             a.repeats, warmup=1)
            best[chunk] = min(best.get(chunk, t), t)
    print(f"U-Net {a.channels}, float32, NumPy; best of {a.rounds} medians of {a.repeats} passes over 1000 images "
          f"(the samplers' chunk: {model.sample_batch})")
    print(f"  {'chunk':>6}{'s / 1000 images':>17}")
    for chunk, t in best.items():
        print(f"  {chunk:>6}{t:17.2f}")


if __name__ == "__main__":
    main()
