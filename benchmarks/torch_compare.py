"""The same DSM and SSM steps in PyTorch (CPU), for scale against benchmarks/losses.py.

Not a dependency of npscore: install torch yourself to run it. Same workloads,
float32, softplus MLP D-H-H-D, value + parameter gradients per step; SSM's
v^T (ds/dx) v via a double backward (torch.autograd.grad with create_graph).

Run: python benchmarks/torch_compare.py
"""
import json
import os
import time

import torch


def mlp(D, H):
    return torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.Softplus(), torch.nn.Linear(H, H),
                               torch.nn.Softplus(), torch.nn.Linear(H, D))


def dsm_step(net, x, sigma=0.1):
    eps = torch.randn_like(x)
    s = net(x + sigma * eps)
    loss = 0.5 * ((s + eps / sigma) ** 2).sum(1).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return loss, grads


def ssm_step(net, x, vr=False):
    x = x.clone().requires_grad_(True)
    v = torch.randn_like(x)
    s = net(x)
    vs = (v * s).sum()
    gv = torch.autograd.grad(vs, x, create_graph=True)[0]        # (ds/dx)^T v, per example
    vjv = (gv * v).sum(1)
    second = 0.5 * (s ** 2).sum(1) if vr else 0.5 * ((v * s).sum(1)) ** 2
    loss = (vjv + second).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return loss, grads


def time_it(fn, repeats=10, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def main():
    torch.manual_seed(0)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "workloads": {}}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, (D, H, B) in {"toy2d": (2, 128, 1024), "mnist": (784, 512, 128)}.items():
        net = mlp(D, H)
        x = torch.randn(B, D)
        out = {"dsm": time_it(lambda: dsm_step(net, x)), "ssm": time_it(lambda: ssm_step(net, x)),
               "ssm-vr": time_it(lambda: ssm_step(net, x, True))}
        for k, t in out.items():
            print(f"{name:<8} {k:<8} {t:.5f} s/step")
        res["workloads"][name] = out
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "torch_cpu.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
