"""Run every proof, print a summary, exit non-zero if any claim failed.

``python -m proofs [--figures DIR] [--break-claim] [NAME ...]``: ``--figures``
also draws the proofs' figures into DIR; ``--break-claim`` runs each proof with
its claim broken (each must then fail).
"""
import argparse
import importlib
import inspect
import os
import sys
import time

from proofs import PROOFS


def main():
    ap = argparse.ArgumentParser(prog="python -m proofs", description="Run the notes' equivalences as numerical checks.")
    ap.add_argument("names", nargs="*", choices=PROOFS + [[]], default=[], help="proofs to run (default: all)")
    ap.add_argument("--figures", default=None, help="folder to draw the figures into (default: none)")
    ap.add_argument("--break-claim", action="store_true", help="break each proof's claim: each must fail")
    args = ap.parse_args()
    results = []
    for name in args.names or PROOFS:
        t = time.time()
        proof = importlib.import_module(f"proofs.{name}").main
        kwargs = {"break_claim": args.break_claim}
        if args.figures and "figure" in inspect.signature(proof).parameters:
            os.makedirs(args.figures, exist_ok=True)
            kwargs["figure"] = os.path.join(args.figures, f"{name}.png")
        results.append((name, proof(**kwargs), time.time() - t))
    print("\n== summary ==")
    for name, code, secs in results:
        print(f"  {'PASS' if code == 0 else 'FAIL'}  {name:<20} {secs:5.1f}s")
    failed = [n for n, c, _ in results if c]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


sys.exit(main())
