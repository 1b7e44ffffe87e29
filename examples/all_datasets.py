"""One model per built-in 2-D data set: `npscore train --loss ncsn` with the defaults but
`--steps` shorter, sampled with the reverse SDE; the data over the samples as one figure grid.

Run: python examples/all_datasets.py [--quick] [--steps N] [--out all_datasets_out]
"""
import argparse
import os

from npscore import backend, lowdim, plotting
from npscore.toys import DATASETS

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
ap.add_argument("--steps", type=int, default=4000)
ap.add_argument("--out", default="all_datasets_out")
args = ap.parse_args()
names = [n for n in DATASETS if n != "two-modes-equal"]
if args.quick:
    names, args.steps = names[:2], 100
rows = []
for name in names:
    m = lowdim.run(os.path.join(args.out, name), name, "ncsn", "reverse-sde", args.steps, n_samples=2000,
                   floor_draws=5, progress=False, log=lambda *a: None)
    with backend.host.load(os.path.join(args.out, name, "samples.npz")) as f:
        samples = f["reverse_sde"]
    data = lowdim.split(name, 2000, 10, 0)[0]
    ratio = m["samplers"]["reverse-sde"]["energy_distance"] / m["energy_floor"]["mean"]
    rows.append((name, data, samples, ratio))
    print(f"{name:<16} energy distance {m['samplers']['reverse-sde']['energy_distance']:.4f} "
          f"= {ratio:.1f} x the floor {m['energy_floor']['mean']:.4f}")
plotting.dataset_grid(os.path.join(args.out, "datasets.png"), rows)
print(f"figure: {os.path.join(args.out, 'datasets.png')}")
