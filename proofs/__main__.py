"""Run every proof, print a summary, exit non-zero if any claim failed."""
import importlib
import sys
import time

from proofs import PROOFS


def main():
    results = []
    for name in PROOFS:
        t = time.time()
        code = importlib.import_module(f"proofs.{name}").main()
        results.append((name, code, time.time() - t))
    print("\n== summary ==")
    for name, code, secs in results:
        print(f"  {'PASS' if code == 0 else 'FAIL'}  {name:<12} {secs:5.1f}s")
    failed = [n for n, c, _ in results if c]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


sys.exit(main())
