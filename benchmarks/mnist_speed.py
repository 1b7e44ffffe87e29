"""MNIST training speed of a documented preset, checkouts side by side in one sitting.

Each measurement is a process of its own (``PYTHONPATH`` = the checkout) that trains the
``--preset``'s model (``cpu`` by default; without its local gate, whose steps come after) for
``--steps`` steps on real MNIST, after ``backend.tune_allocator()`` (which the checkouts since
2026-12-03 call themselves), on ``--backend``, and reports steps per second of the training loop
alone (``npscore.mnist.run.train``'s seconds). The checkouts alternate for ``--rounds`` rounds;
the best round of each is printed.

Run: python benchmarks/mnist_speed.py CHECKOUT[:VAR=VALUE] ... [--steps 300] [--rounds 2]
         [--backend cupy --preset gpu]
     (a checkout: a folder holding ``npscore/``, e.g. ``git worktree add /tmp/old COMMIT``; after a
     colon, an environment setting for its processes, e.g. ``.:NPSCORE_FUSED=0``)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, tempfile
from npscore import backend
backend.use(sys.argv[3])
backend.tune_allocator()
from npscore.commands.mnist_config import MNIST_PRESETS
from npscore.mnist import run
x = backend.asarray(run.load_data(sys.argv[1], test=False)["x_train"])
steps = int(sys.argv[2])
out = tempfile.mkdtemp()
seconds = run.train(out, x, MNIST_PRESETS[sys.argv[4]], steps=steps, window=0, checkpoint_every=steps,
                    progress=False, log=lambda *a: None)[3]
print(json.dumps({"steps_per_s": steps / seconds}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--data", default=os.environ.get("NPSCORE_MNIST_DIR")
                    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist"))
    args = ap.parse_args()
    best = {c: 0.0 for c in args.checkouts}
    for r in range(args.rounds):
        for c in args.checkouts:
            folder, _, setting = c.partition(":")
            env = {**os.environ, "PYTHONPATH": os.path.abspath(folder)}
            if setting:
                env.update([setting.split("=", 1)])
            p = subprocess.run([sys.executable, "-c", CHILD, args.data, str(args.steps), args.backend, args.preset],
                               capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
            if p.returncode:
                sys.exit(f"{c}: {p.stderr.strip().splitlines()[-1]}")
            rate = json.loads(p.stdout.strip().splitlines()[-1])["steps_per_s"]
            best[c] = max(best[c], rate)
            print(f"round {r + 1}: {c}: {rate:.1f} steps/s", flush=True)
    for c, rate in best.items():
        print(f"{c:<40} best {rate:6.1f} steps/s")


if __name__ == "__main__":
    main()
