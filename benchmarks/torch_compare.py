"""npscore against PyTorch on the CPU, process against process.

One step = loss value + parameter gradients, float32, softplus MLP D-H-H-D,
noise drawn inside the step: DSM (sigma = 0.1), SSM and SSM-VR (one
Gaussian projection; PyTorch by a double backward), and npscore's exact ISM.
Workloads: toy2d (D = 2, H = 128, B = 1024) and mnist (D = 784, H = 512, B = 128).

Each side runs in its own process (one library's thread pools and allocator
change the other's timings), the sides alternate for ``--rounds`` rounds, and
the best of each side's medians is reported, with the process's system time
and peak RSS. Sides: ``npscore`` as a library user's script runs it (the NumPy
backend tunes glibc's allocator on first use), ``npscore-untuned`` with
``NPSCORE_TUNE_ALLOCATOR=0`` (the allocator left alone, to show what the
tuning is worth), and ``torch``: the PyTorch a CPU user installs (``pip
install torch`` resolves to the ``+cpu`` build here; not a dependency:
install it, or point ``--torch-path`` at a folder holding it), on
``--threads`` threads, as NumPy's OpenBLAS runs on the machine's cores.

The ``act`` column is the step's activation calls (value and derivatives), replayed alone
on the same pre-activations: what the elementwise maths costs beside the GEMMs.

The ``gemm`` column is the BLAS limit of npscore's own code: the matrix
products one step performs, with the same operands (shapes, dtypes and
transposed views), timed alone. They are recorded by wrapping the affine
primitives of :mod:`npscore.nn.layers` that :mod:`npscore.nn.mlp` calls; ISM's
bilinear trace multiplies outside them, so its row has none.

Run: python benchmarks/torch_compare.py [--rounds 3] [--repeats 20] [--threads 2] [--torch-path DIR]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {"toy2d": (2, 128, 1024), "mnist": (784, 512, 128)}
LOSSES = ("dsm", "ssm", "ssm-vr", "ism")
SIDES = ("npscore", "npscore-untuned", "torch")


def _median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def _gemms_of(step):
    """The ``(a, b)`` operand pairs of every matrix product ``step()`` makes through the affine
    primitives (the arrays themselves, so that a replay multiplies the same layouts)."""
    from npscore.nn import layers, mlp
    pairs, saved = [], {}

    def recording(name, operands):
        original = getattr(layers, name)

        def wrapped(*args):
            pairs.extend(operands(*args))
            return original(*args)
        return wrapped
    rows = layers._rows
    spec = {"affine": lambda h, W, b: [(h, W)],
            "affine_vjp_params": lambda h, g: [(h.T, g)],
            "affine_vjp_input": lambda W, g: [(g, W.T)],
            "affine_jvp": lambda dh, W: [(rows(dh), W)],
            "affine_tangent_vjp": lambda dh, W, G: [(rows(dh).T, rows(G)), (rows(G), W.T)]}
    for name, operands in spec.items():
        saved[name] = getattr(mlp, name)
        setattr(mlp, name, recording(name, operands))
    try:
        step()
    finally:
        for name, fn in saved.items():
            setattr(mlp, name, fn)
    return pairs


def _activations_of(model, step):
    """The ``(z, order)`` of every activation call ``step()`` makes through ``model.act``."""
    calls, act = [], model.act

    def recording(z, order=0):
        calls.append((z.copy(), order))
        return act(z, order)
    model.act = recording
    try:
        step()
    finally:
        model.act = act
    return calls


def npscore_side(repeats, gemms):
    from npscore import MLP, backend, losses
    out = {}
    for name, (D, H, B) in WORKLOADS.items():
        model = MLP([D, H, H, D])
        p = model.init(0, "float32")
        x = backend.rng(1).normal((B, D), "float32")
        rng = backend.rng(2)
        steps = {"dsm": lambda: losses.dsm(model, p, x, 0.1, rng=rng, check=False),
                 "ssm": lambda: losses.ssm(model, p, x, 1, rng=rng, check=False),
                 "ssm-vr": lambda: losses.ssm(model, p, x, 1, rng=rng, variance_reduction=True, check=False),
                 "ism": lambda: losses.ism(model, p, x, check=False)}
        out[name] = {k: _median_time(f, repeats) for k, f in steps.items()}
        if gemms:                                   # the BLAS limit: the step's products alone
            for k in ("dsm", "ssm", "ssm-vr"):
                pairs = _gemms_of(steps[k])
                out[name][k + " gemm"] = _median_time(lambda: [a @ b for a, b in pairs], repeats)
                out[name][k + " gemm count"] = len(pairs)
                calls = _activations_of(model, steps[k])
                out[name][k + " act"] = _median_time(lambda: [model.act(z, o) for z, o in calls], repeats)
    return out


def torch_side(repeats, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def mlp(D, H):
        return torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.Softplus(), torch.nn.Linear(H, H),
                                   torch.nn.Softplus(), torch.nn.Linear(H, D))

    def dsm(net, x, sigma=0.1):
        eps = torch.randn_like(x)
        loss = 0.5 * ((net(x + sigma * eps) + eps / sigma) ** 2).sum(1).mean()
        return torch.autograd.grad(loss, list(net.parameters()))

    def ssm(net, x, vr=False):
        x = x.clone().requires_grad_(True)
        v = torch.randn_like(x)
        s = net(x)
        gv = torch.autograd.grad((v * s).sum(), x, create_graph=True)[0]      # (ds/dx)^T v per example
        second = 0.5 * (s ** 2).sum(1) if vr else 0.5 * ((v * s).sum(1)) ** 2
        return torch.autograd.grad(((gv * v).sum(1) + second).mean(), list(net.parameters()))

    out = {}
    for name, (D, H, B) in WORKLOADS.items():
        net, x = mlp(D, H), torch.randn(B, D)
        out[name] = {"dsm": _median_time(lambda: dsm(net, x), repeats),
                     "ssm": _median_time(lambda: ssm(net, x), repeats),
                     "ssm-vr": _median_time(lambda: ssm(net, x, True), repeats)}
    out["version"], out["threads"] = torch.__version__, torch.get_num_threads()
    return out


def child(side, repeats, threads):
    res = torch_side(repeats, threads) if side == "torch" else npscore_side(repeats, side == "npscore")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    res["sys_s"], res["user_s"], res["peak_rss_mb"] = ru.ru_stime, ru.ru_utime, ru.ru_maxrss / 1024
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's intra-op threads")
    ap.add_argument("--torch-path", default=None, help="a folder to put on sys.path for torch")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "compare_cpu.json"))
    args = ap.parse_args()
    if args.side:
        if args.torch_path:
            sys.path.insert(0, args.torch_path)
        return child(args.side, args.repeats, args.threads)
    sides = SIDES
    runs = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in sides:
            cmd = [sys.executable, __file__, "--side", side, "--repeats", str(args.repeats), "--threads",
                   str(args.threads)]
            cmd += ["--torch-path", args.torch_path] if args.torch_path else []
            env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE),
                   "NPSCORE_TUNE_ALLOCATOR": "0" if side == "npscore-untuned" else "1"}
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode:
                print(f"{side}: failed ({p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode})")
                continue
            runs[side].append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1} of {args.rounds} done", flush=True)
    best = {s: {w: {k: min(run[w][k] for run in rs) for k in rs[0][w]} for w in WORKLOADS}
            for s, rs in runs.items() if rs}
    cols = ["npscore", "npscore-untuned", "gemm", "act", "torch"]
    print(f"\n{'workload':<8} {'loss':<7}" + "".join(f"{c + ' ms':>19}" for c in cols)
          + f"{'/ torch':>9}{'/ gemm':>8}{'untuned /':>11}")
    for w in WORKLOADS:
        for k in LOSSES:
            value = {"npscore": best.get("npscore", {}).get(w, {}).get(k),
                     "npscore-untuned": best.get("npscore-untuned", {}).get(w, {}).get(k),
                     "gemm": best.get("npscore", {}).get(w, {}).get(k + " gemm"),
                     "act": best.get("npscore", {}).get(w, {}).get(k + " act"),
                     "torch": best.get("torch", {}).get(w, {}).get(k)}
            cells = "".join(f"{1e3 * value[c]:19.2f}" if value[c] else f"{'-':>19}" for c in cols)
            ours = value["npscore"]
            ratios = "".join(f"{ours / value[c]:{width}.2f}" if value[c] and ours else f"{'-':>{width}}"
                             for c, width in (("torch", 9), ("gemm", 8)))
            ratios += f"{value['npscore-untuned'] / ours:11.2f}" if value["npscore-untuned"] and ours else f"{'-':>11}"
            print(f"{w:<8} {k:<7}{cells}{ratios}")
    if "torch" in best:
        print(f"torch {runs['torch'][0]['version']} on {runs['torch'][0]['threads']} threads")
    for s, rs in runs.items():
        if rs:
            print(f"{s}: system time {min(r['sys_s'] for r in rs):.2f} s of {min(r['user_s'] for r in rs):.2f} s user, "
                  f"peak RSS {min(r['peak_rss_mb'] for r in rs):.0f} MB")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"best_median_s": best, "runs": runs, "date": time.strftime("%Y-%m-%d")}, f, indent=2)


if __name__ == "__main__":
    main()
