"""Execute every tutorial source and write its notebook beside it, outputs and figures inline.

Run: python tutorials/build.py [NAME ...]   (default: every ``NN_*.py`` here; ``NPSCORE_QUICK=1`` for the
     small settings). Needs the ``docs`` extra: ``pip install -e ".[docs]"``.

Each notebook is written atomically, only after all its cells ran without error.
"""
import glob
import os
import sys
import time

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def sources(names=()):
    """The tutorial sources, in the notes' order (``names``: file names or their numbers)."""
    every = sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]_*.py")))
    if not names:
        return every
    chosen = [p for p in every if any(os.path.basename(p).startswith(n) for n in names)]
    if not chosen:
        raise SystemExit(f"no tutorial matches {' '.join(names)}; they are: "
                         + ", ".join(os.path.basename(p) for p in every))
    return chosen


def build(source, timeout=1800):
    """Run ``source`` as a notebook (working directory tutorials/) and write ``<name>.ipynb``."""
    from npscore import io
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["npscore"] = {"quick": os.environ.get("NPSCORE_QUICK") == "1"}   # committed ones: False
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    target = os.path.splitext(source)[0] + ".ipynb"
    io.atomic_write(target, lambda tmp: nbformat.write(nb, tmp))
    return target


def main(argv):
    for source in sources(argv):
        t = time.time()
        print(f"{os.path.basename(source)} ... ", end="", flush=True)
        print(f"{os.path.basename(build(source))} in {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
