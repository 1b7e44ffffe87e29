"""Benchmark: one training step (value + grads) of each objective, float32.

Workloads: toy2d (D=2, H=128, B=1024) and mnist (D=784, H=512, B=128), softplus
MLP D-H-H-D. For dsm, ssm (1 projection), ssm-vr, exact ism (fast) and exact
ism (autograd reference, toy2d only): median seconds per step after warm-up,
achieved GFLOP/s (counted below), and the backend's matmul GFLOP/s for scale.
Then a sweep of step time against D for ism / ssm / dsm, plotted.

Each run is one process of npscore alone, as a library user runs it (the
NumPy backend tunes the allocator on first use; ``NPSCORE_TUNE_ALLOCATOR=0``
in the environment leaves it alone).

Run: python benchmarks/losses.py [--backend cupy] [--quick] [--out benchmarks/results]
"""
import argparse
import json
import os
import time

import numpy as np

from npscore import MLP, backend, losses, reference


def flops(kind, D, H, B):
    """Multiply-adds x 2 of the matmuls each step does (elementwise work not counted)."""
    fwd = 2 * B * (D * H + H * H + H * D)
    if kind == "dsm":
        return 3 * fwd                                      # forward + backward (2x)
    if kind in ("ssm", "ssm-vr"):
        return 6 * fwd                                      # value + tangent, forward and backward
    if kind.startswith("ism"):
        return 3 * fwd + 2 * B * H * H * 3 + 2 * D * H * H * 3   # + trace forms, P = W3 W1 and its grads
    raise ValueError(kind)


def step_fn(kind, model, params, x, rng):
    if kind == "dsm":
        return lambda: losses.dsm(model, params, x, 0.1, rng=rng, check=False)
    if kind == "ssm":
        return lambda: losses.ssm(model, params, x, 1, rng=rng, check=False)
    if kind == "ssm-vr":
        return lambda: losses.ssm(model, params, x, 1, rng=rng, variance_reduction=True, check=False)
    if kind == "ism":
        return lambda: losses.ism(model, params, x, check=False)
    if kind == "ism-autograd":
        return lambda: reference.ism([(backend.to_numpy(W), backend.to_numpy(b)) for W, b in params],
                                     backend.to_numpy(x), model.activation)
    raise ValueError(kind)


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    backend.synchronize()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        v, g = fn()
        backend.to_float(v)
        backend.synchronize()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def matmul_gflops(n=1024, dtype="float32"):
    r = backend.rng(0)
    a, b = r.normal((n, n), dtype), r.normal((n, n), dtype)
    t = time_it(lambda: ((a @ b).sum(), None), 5)
    return 2 * n ** 3 / t / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    backend.use(args.backend)
    reps = 3 if args.quick else 10
    res = {"backend": backend.name(), "date": time.strftime("%Y-%m-%d"), "matmul_gflops": matmul_gflops(),
           "workloads": {}, "sweep": {}}
    print(f"backend {backend.name()}: matmul {res['matmul_gflops']:.1f} GFLOP/s (1024^2 float32)")
    print(f"{'workload':<8} {'loss':<13} {'s/step':>10} {'GFLOP/s':>9} {'x dsm':>7}")
    for name, (D, H, B) in {"toy2d": (2, 128, 1024), "mnist": (784, 512, 128)}.items():
        model = MLP([D, H, H, D])
        params = [(W.astype("float32"), b.astype("float32")) for W, b in model.init(0)]
        x = backend.rng(1).normal((B, D), "float32")
        kinds = ["dsm", "ssm", "ssm-vr", "ism"] + (["ism-autograd"] if name == "toy2d" and backend.is_host() else [])
        out = {}
        for kind in kinds:
            t = time_it(step_fn(kind, model, params, x, backend.rng(2)), 1 if kind == "ism-autograd" else reps,
                        warmup=0 if kind == "ism-autograd" else 2)
            out[kind] = {"seconds": t, "gflops": flops(kind, D, H, B) / t / 1e9}
        for kind, r in out.items():
            print(f"{name:<8} {kind:<13} {r['seconds']:10.5f} {r['gflops']:9.2f} "
                  f"{r['seconds'] / out['dsm']['seconds']:7.2f}")
        res["workloads"][name] = out
    dims = [2, 16, 64, 256, 784] if not args.quick else [2, 64, 784]
    for kind in ("dsm", "ssm", "ism"):
        res["sweep"][kind] = []
        for D in dims:
            model = MLP([D, 256, 256, D])
            params = [(W.astype("float32"), b.astype("float32")) for W, b in model.init(0)]
            x = backend.rng(1).normal((128, D), "float32")
            res["sweep"][kind].append(time_it(step_fn(kind, model, params, x, backend.rng(2)), reps))
    res["sweep"]["D"] = dims
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"losses_{backend.name()}.json"), "w") as f:
        json.dump(res, f, indent=2)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for kind in ("dsm", "ssm", "ism"):
        ax.plot(dims, np.array(res["sweep"][kind]) * 1e3, "o-", label=kind)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("D (H = 256, B = 128, float32)")
    ax.set_ylabel("ms per step")
    ax.set_title(f"step time against D ({backend.name()})")
    ax.legend()
    fig.savefig(os.path.join(args.out, f"sweep_{backend.name()}.png"), dpi=100,
                bbox_inches="tight")
    print("sweep (ms/step) D =", dims)
    for kind in ("dsm", "ssm", "ism"):
        print(f"  {kind:<4}", " ".join(f"{t * 1e3:8.2f}" for t in res["sweep"][kind]))


if __name__ == "__main__":
    main()
