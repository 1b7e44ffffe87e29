"""npscore against PyTorch on the CPU, process against process.

One step = loss value + parameter gradients, float32, softplus MLP D-H-H-D,
noise drawn inside the step: DSM (sigma = 0.1), SSM and SSM-VR (one
Gaussian projection; PyTorch by a double backward), and npscore's exact ISM.
Workloads: toy2d (D = 2, H = 128, B = 1024) and mnist (D = 784, H = 512, B = 128).

Each side runs in its own process (one library's thread pools and allocator
change the other's timings), the sides alternate for ``--rounds`` rounds, and
the best of each side's medians is reported, with the process's system time
and peak RSS. Sides: ``npscore`` as a library user's script runs it (nothing
tuned), ``npscore+tuned`` after ``backend.tune_allocator()`` (what the
``npscore`` command does), and ``torch`` (not a dependency: install it, or
point ``--torch-path`` at a folder holding it).

Run: python benchmarks/torch_compare.py [--rounds 3] [--repeats 20] [--torch-path DIR]
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


def _median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def npscore_side(repeats, tuned):
    from npscore import MLP, backend, losses
    if tuned:
        backend.tune_allocator()
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
    return out


def torch_side(repeats):
    import torch
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
    out["version"] = torch.__version__
    return out


def child(side, repeats):
    res = torch_side(repeats) if side == "torch" else npscore_side(repeats, side == "npscore+tuned")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    res["sys_s"], res["user_s"], res["peak_rss_mb"] = ru.ru_stime, ru.ru_utime, ru.ru_maxrss / 1024
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", choices=("npscore", "npscore+tuned", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--torch-path", default=None, help="a folder to put on sys.path for torch")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "compare_cpu.json"))
    args = ap.parse_args()
    if args.side:
        if args.torch_path:
            sys.path.insert(0, args.torch_path)
        return child(args.side, args.repeats)
    sides = ["npscore", "npscore+tuned", "torch"]
    runs = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in sides:
            cmd = [sys.executable, __file__, "--side", side, "--repeats", str(args.repeats)]
            cmd += ["--torch-path", args.torch_path] if args.torch_path else []
            p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
            if p.returncode:
                print(f"{side}: failed ({p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode})")
                continue
            runs[side].append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1} of {args.rounds} done", flush=True)
    best = {s: {w: {k: min(run[w][k] for run in rs) for k in rs[0][w]} for w in WORKLOADS}
            for s, rs in runs.items() if rs}
    print(f"\n{'workload':<8} {'loss':<7}" + "".join(f"{s + ' ms':>17}" for s in best) + f"{'tuned / torch':>15}")
    for w in WORKLOADS:
        for k in LOSSES:
            cells = "".join(f"{1e3 * best[s][w][k]:17.2f}" if k in best[s][w] else f"{'-':>17}" for s in best)
            ratio = (f"{best['npscore+tuned'][w][k] / best['torch'][w][k]:15.2f}"
                     if "torch" in best and k in best["torch"][w] else "")
            print(f"{w:<8} {k:<7}{cells}{ratio}")
    for s, rs in runs.items():
        if rs:
            print(f"{s}: system time {min(r['sys_s'] for r in rs):.2f} s of {min(r['user_s'] for r in rs):.2f} s user, "
                  f"peak RSS {min(r['peak_rss_mb'] for r in rs):.0f} MB")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"best_median_s": best, "runs": runs, "date": time.strftime("%Y-%m-%d")}, f, indent=2)


if __name__ == "__main__":
    main()
