"""The role of exact ISM (first report, section 8, "My Question 1"), measured.

At one fixed parameter point of a toy model trained with exact ISM on the
two-mode mixture, for a fixed data batch: the variance of each estimator's
parameter gradient over repeated draws (projections v for SSM / SSM-VR, noise
eps for DSM; exact ISM has none), relative to the squared norm of its mean,
beside the cost of one step; and the bias DSM carries at each sigma, since
its minimiser is the score of p_sigma, not of p:
E_p ||grad log p_sigma - grad log p||^2 / E_p ||grad log p||^2 (exact, the
mixture is known).

Run: python benchmarks/variance.py [--quick]   (writes variance.json, variance.png)
"""
import argparse
import json
import os
import time

import numpy as np

from npscore import MLP, backend, losses
from npscore.metrics import dsm_bias, gradient_noise
from npscore.densities import two_modes
from npscore.optim import Adam

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    draws = 50 if args.quick else 200
    data = two_modes((0.3, 0.7))
    model = MLP([2, 128, 128, 2])
    params = model.init(0)
    opt = Adam(lr=1e-3)
    state = opt.init(params)
    for k in range(300 if args.quick else 2000):
        params, state = opt.update(params, losses.ism(model, params, data.sample(256, backend.rng(1, k)))[1], state)
    x = data.sample(256, backend.rng(2))
    rows = []

    def record(name, draw, sigma=None):
        rel, _, per_step, var = gradient_noise(draw, draws)
        rows.append({"estimator": name, "sigma": sigma, "seconds_per_step": per_step,
                     "grad_variance": var, "relative_variance": rel})

    record("ism (exact)", lambda k: losses.ism(model, params, x))
    record("ssm", lambda k: losses.ssm(model, params, x, 1, rng=backend.rng(3, k)))
    record("ssm-vr", lambda k: losses.ssm(model, params, x, 1, rng=backend.rng(3, k), variance_reduction=True))
    for sigma in (0.5, 0.1, 0.05, 0.01):
        record("dsm", lambda k: losses.dsm(model, params, x, sigma, rng=backend.rng(4, k)), sigma)
    levels = (0.5, 0.25, 0.1, 0.05, 0.01)
    bias = [{"sigma": s, "relative_bias": b} for s, b in zip(levels, dsm_bias(data, levels))]

    print(f"gradient variance over {draws} draws at a fixed point (B = 256, MLP 2-128-128-2, float64)")
    print(f"{'estimator':<12} {'sigma':>6} {'ms/step':>8} {'tr Cov':>12} {'tr Cov/|mean|^2':>16}")
    for r in rows:
        s = "" if r["sigma"] is None else f"{r['sigma']:g}"
        print(f"{r['estimator']:<12} {s:>6} {r['seconds_per_step'] * 1e3:8.2f} {r['grad_variance']:12.4g} "
              f"{r['relative_variance']:16.4g}")
    print("DSM bias: E||grad log p_sigma - grad log p||^2 / E||grad log p||^2 on data")
    for b in bias:
        print(f"  sigma {b['sigma']:<5g} {b['relative_bias']:.4g}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "variance.json"), "w") as f:
        json.dump({"rows": rows, "dsm_bias": bias, "draws": draws, "date": time.strftime("%Y-%m-%d")}, f, indent=2)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r["estimator"] + ("" if r["sigma"] is None else f"\nsigma={r['sigma']:g}") for r in rows]
    a.bar(names, [max(r["relative_variance"], 1e-12) for r in rows])
    a.set_yscale("log")
    a.set_ylabel("tr Cov(grad) / |E grad|^2")
    a.set_title("gradient noise from the estimator's own draws")
    a.tick_params(axis="x", labelsize=7)
    b.loglog([x["sigma"] for x in bias], [x["relative_bias"] for x in bias], "o-")
    b.set_xlabel("sigma")
    b.set_ylabel("relative bias of DSM's target score")
    b.set_title("DSM's bias: it fits p_sigma, not p")
    fig.savefig(os.path.join(args.out, "variance.png"), dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
