"""Your own data, with the defaults: a 3-component anisotropic 2-D mixture saved as .npy,
`npscore train --data mixture.npy`, then every sampler again on more seeds.

The mixture is known here (not to npscore, which only sees the file), so the
mode fractions of each sampler's output can be read against its weights.

Run: python examples/own_data.py [--quick]
"""
import subprocess
import sys

import numpy as np

from npscore import backend, lowdim, metrics
from npscore.densities import GaussianMixture

quick = "--quick" in sys.argv
weights = np.array([0.25, 0.35, 0.4])
means = np.array([[-3.5, 0.0], [3.5, 0.5], [0.0, 5.5]])                 # modes about 7 units apart
covs = np.array([[[0.6, 0.4], [0.4, 0.5]], [[0.3, -0.2], [-0.2, 0.8]], [[1.0, 0.0], [0.0, 0.15]]])
mix = GaussianMixture(backend.asarray(weights), backend.asarray(means), backend.asarray(covs))
np.save("mixture.npy", backend.to_numpy(mix.sample(20000, backend.rng(0))))

# 1. the command a user runs (the defaults: 10000 steps, schedule from the data)
steps, n = ("300", 500) if quick else ("10000", 2000)
subprocess.run([sys.executable, "-m", "npscore", "train", "--data", "mixture.npy", "--out", "own_data_out",
                "--steps", steps, "--samples", str(n), "--force", "--no-progress"], check=True)

# 2. the same model, three more sampling seeds, against fresh data and the floor
fresh = mix.sample(n, backend.rng(1))
floor = metrics.energy_floor(mix.sample, n, backend.rng(2), 5 if quick else 20)[0]
print(f"\ntrue weights {weights}; floor (mean of data-vs-data draws) {floor:.4f}")
print(f"{'sampler':<22}{'seed':>5}  mode fractions        energy distance / floor")
for seed in (1,) if quick else (1, 2, 3):
    for name, x in lowdim.resample("own_data_out/checkpoint.npz", seed, n).items():
        if x is None or name == "langevin":
            continue
        fr = metrics.mode_fractions(mix, x)
        ratio = metrics.energy_distance(x, fresh) / floor
        ok = max(abs(f - w) for f, w in zip(fr, weights)) <= 0.03 and ratio <= 3
        print(f"{name:<22}{seed:>5}  {', '.join(f'{f:.3f}' for f in fr)}   {ratio:6.2f}  {'ok' if ok else 'MISS'}")
