"""A small table printer and pass/fail record shared by the proofs."""
import sys

import numpy as np

from npscore import backend


class Report:
    """Collects comparisons, prints them as a table, exits non-zero on a failure."""

    def __init__(self, title, claim):
        self.title, self.claim, self.rows, self.failed = title, claim, [], []
        print(f"\n== {title} ==\n{claim}\n")

    def table(self, header, rows, fmt="{:>14}"):
        print("  " + "".join(fmt.format(h) for h in header))
        for r in rows:
            print("  " + "".join(fmt.format(f"{v:.6g}" if isinstance(v, float) else str(v)) for v in r))
        print()

    def check(self, what, ok, detail=""):
        ok = bool(ok)
        print(f"  [{'ok' if ok else 'FAIL'}] {what}" + (f"  ({detail})" if detail else ""))
        if not ok:
            self.failed.append(what)
        return ok

    def done(self, shown):
        if self.failed:
            print(f"\nFAILED: {len(self.failed)} check(s): " + "; ".join(self.failed))
        else:
            print(f"\nShown: {shown}")
        return 0 if not self.failed else 1


def h(a):
    """Host float64 copy."""
    return np.asarray(backend.to_numpy(a), dtype="float64")


def exit_with(code):
    sys.exit(code)
