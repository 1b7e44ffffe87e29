"""What every tutorial shares: the QUICK switch, a claim that raises when it fails, where a function lives,
and showing a figure in a notebook (closing it in a script).

``NPSCORE_QUICK=1`` runs a tutorial at small settings (the test suite does); its checks then use
tolerances sized to the smaller sample.
"""
import inspect
import os
import sys
import warnings

import matplotlib.pyplot as plt

QUICK = os.environ.get("NPSCORE_QUICK") == "1"
warnings.filterwarnings("ignore", message="IProgress not found")      # tqdm in a notebook without ipywidgets
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # the checkout, for where()


def pick(full, quick):
    """``quick`` under NPSCORE_QUICK=1, else ``full``."""
    return quick if QUICK else full


def claim(what, ok, detail=""):
    """Print the claim with its evidence; raise AssertionError if it does not hold."""
    print(f"[{'holds' if ok else 'FAILS'}] {what}" + (f"  ({detail})" if detail else ""))
    if not ok:
        raise AssertionError(f"{what}: {detail}")


def where(fn):
    """``path:line`` of ``fn``'s definition in this checkout, and its docstring's first line."""
    fn = inspect.unwrap(fn)
    path = os.path.relpath(inspect.getsourcefile(fn), ROOT)
    line = inspect.getsourcelines(fn)[1]
    doc = (inspect.getdoc(fn) or "").splitlines()
    print(f"{fn.__qualname__}: {path}, line {line}" + (f": {doc[0]}" if doc else ""))


def show(fig):
    """The figure inline in a notebook (whatever backend a library call has switched to); closed, not
    drawn, when run as a script."""
    if "ipykernel" in sys.modules:
        from IPython.display import display
        display(fig)
    plt.close(fig)
