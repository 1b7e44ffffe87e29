"""One model per built-in data set with `npscore train`'s defaults: each sampler's k-NN precision
and recall beside their floor, the held-out NLL, the score error at sigma = 0.1, the seconds; and
the data over the reverse SDE's samples as one figure. The table is examples/README.md's.

Run: python examples/all_datasets.py [--loss ncsn|sde-ve|sde-vp|esm|ism|ssm|ssm-vr|dsm] [--quick]
     [--out all_datasets_out] [--table-only]   (--table-only: tabulate the runs already in --out)
"""
import argparse
import json
import os

from npscore import backend, lowdim, plotting
from npscore.config import RunConfig
from npscore.toys import DATASETS

ap = argparse.ArgumentParser()
ap.add_argument("--loss", default="ncsn")
ap.add_argument("--quick", action="store_true", help="two sets, 100 steps")
ap.add_argument("--out", default="all_datasets_out")
ap.add_argument("--table-only", action="store_true")
args = ap.parse_args()
names = [n for n in DATASETS if n != "two-modes-equal"]
steps = {} if not args.quick else {"steps": 100}
if args.quick:
    names = names[:2]
samplers = [s for s in lowdim.samplers_for(args.loss) if s != "langevin"] or ["langevin"]
head = " | ".join(f"{s} P / R" for s in samplers)
print(f"| set | {head} | floor P / R | NLL (nats) | score error at 0.1 | seconds |")
print("|" + " --- |" * (len(samplers) + 5))
rows = []
for name in names:
    out = os.path.join(args.out, name)
    if args.table_only:
        m = json.load(open(os.path.join(out, "metrics.json")))
    else:
        m = lowdim.run(out, RunConfig(name, args.loss, **steps), n_samples=2000, floor_draws=5, force=True, progress=False,
                       log=lambda *a: None)
    cells = []
    for s in samplers:
        r = m["samplers"][s]
        cells.append("diverged" if "error" in r else f"{r['precision']:.3f} / {r['recall']:.3f}")
    fl = m["precision_recall_floor"]
    nll = f"{m['held_out_nll']:.3f}" if "held_out_nll" in m else "-"
    err = m.get("score_error_relative", {}).get("0.1")
    print(f"| {name} | {' | '.join(cells)} | {fl['precision']:.3f} / {fl['recall']:.3f} | {nll} | "
          f"{'-' if err is None else f'{err:.3f}'} | {m['seconds']['total']:.0f} |")
    shown = "reverse-sde" if "reverse-sde" in samplers else samplers[0]
    with backend.host.load(os.path.join(out, "samples.npz")) as f:
        key = shown.replace("-", "_")
        samples = f[key] if key in f.files else None
    if samples is not None:
        r = m["samplers"][shown]
        rows.append((name, lowdim.split(name, 2000, 10, 0)[0], samples,
                     f"{shown}: P {r['precision']:.2f}, R {r['recall']:.2f}"))
if rows:
    plotting.dataset_grid(os.path.join(args.out, "datasets.png"), rows)
    print(f"figure: {os.path.join(args.out, 'datasets.png')}")
