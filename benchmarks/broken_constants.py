"""Break one library constant at a time and see the proofs and the tests fail.

Each case edits one line of a fresh copy of the repository (in a temporary
folder), then runs ``python -m proofs`` and a fast pytest subset there, and
reports whether each caught it (a non-zero exit). Every row must read
"caught" in both columns.

Run: python benchmarks/broken_constants.py   (about 2 minutes a case on 2 cores)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [
    ("ncsn weights by sigma, not sigma^2", "npscore/losses.py",
     "sigma, eps, sigma ** 2, check=check)", "sigma, eps, sigma, check=check)"),
    ("sde_dsm weights by std, not std^2", "npscore/losses.py",
     "lam = std ** 2 if weight is None", "lam = std if weight is None"),
    ("softplus'' off by 1.5x", "npscore/nn/activations.py",
     "out += (s * (1.0 - s),)", "out += (1.5 * s * (1.0 - s),)"),
    ("swish' wrong (1.1 z sigma')", "npscore/nn/activations.py",
     "out += (s + z * ds,)", "out += (s + 1.1 * z * ds,)"),
    ("noised mixture adds sigma I, not sigma^2 I", "npscore/densities.py",
     "self.covs + sigma ** 2 * eye", "self.covs + sigma * eye"),
]
TESTS = ["tests/test_nn.py", "tests/test_losses.py", "tests/test_densities.py", "tests/test_sampling.py",
         "tests/test_proofs.py", "-x", "-q", "-p", "no:cacheprovider", "-k", "not demo_smoke"]


def run(cmd, cwd):
    t = time.time()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": cwd})
    return r.returncode, time.time() - t


def main():
    print(f"{'case':<46}{'python -m proofs':>18}{'pytest':>10}")
    failures = 0
    for name, path, old, new in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "repo")
            shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "mutants", "*_out", "__pycache__"))
            text = open(os.path.join(copy, path)).read()
            assert old in text, f"{path} no longer holds {old!r}"
            with open(os.path.join(copy, path), "w") as f:
                f.write(text.replace(old, new, 1))
            proofs, _ = run([sys.executable, "-m", "proofs"], copy)
            tests, _ = run([sys.executable, "-m", "pytest", *TESTS], copy)
        verdict = lambda code: "caught" if code else "MISSED"   # noqa: E731
        failures += (proofs == 0) + (tests == 0)
        print(f"{name:<46}{verdict(proofs):>18}{verdict(tests):>10}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
