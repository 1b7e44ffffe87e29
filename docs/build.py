"""Build npscore's site into docs/_build/html and check it as a reader's browser sees it.

Run: python docs/build.py [--no-check]      (needs the ``docs`` extra: ``pip install -e ".[docs]"``)
Open: docs/_build/html/docs/index.html      (from disk; no page fetches anything from the network)

The notebooks are shown as executed (``python tutorials/build.py``), never re-executed here. Sphinx
runs with ``-W``: a warning (a broken link, a malformed docstring) fails the build. Then, unless
``--no-check``, ``docs/check_site.py`` opens the pages in headless Chromium.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "_build", "html")


def main(argv):
    cmd = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html", "-c", HERE, ROOT, OUT]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    print(f"site: {os.path.join(OUT, 'docs', 'index.html')}", flush=True)
    if "--no-check" not in argv:
        subprocess.run([sys.executable, os.path.join(HERE, "check_site.py"), OUT], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
