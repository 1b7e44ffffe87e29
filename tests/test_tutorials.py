"""tutorials/: every source runs at small settings with its claims holding, and every committed
notebook is its source's, executed (same cells, outputs present, built at full settings)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import MNIST, needs_mnist

jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
SOURCES = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
NEEDS_DATA = {"08_mnist.py": needs_mnist}


def _param(path):
    marks = [NEEDS_DATA[path.name]] if path.name in NEEDS_DATA else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_one_tutorial_per_section_of_the_notes():
    assert [p.name[:2] for p in SOURCES] == [f"{k:02d}" for k in range(1, 9)]


@pytest.mark.parametrize("source", [_param(p) for p in SOURCES])
def test_tutorial_runs_and_its_claims_hold(source):
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "NPSCORE_QUICK": "1", "MPLBACKEND": "Agg", "PYTHONPATH": path,
           "NPSCORE_MNIST_DIR": str(MNIST or "")}
    r = subprocess.run([sys.executable, str(source)], cwd=TUTORIALS, capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "[holds]" in r.stdout and "[FAILS]" not in r.stdout


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_is_its_source_executed(source):
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} missing: run python tutorials/build.py {source.name[:2]}"
    nb = json.loads(notebook.read_text())
    want = jupytext.read(source)
    text = lambda cell: cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])  # noqa: E731
    assert [(c.cell_type, c.source) for c in want.cells] == [(c["cell_type"], text(c)) for c in nb["cells"]], \
        f"{notebook.name} was not built from the current {source.name}: run python tutorials/build.py"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "every code cell executed"
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "figures inline"
    assert any("[holds]" in "".join(o.get("text", "")) for o in outputs)
    assert nb["metadata"]["npscore"]["quick"] is False, "the committed notebook is the full run"


def test_the_readme_leads_through_every_tutorial_in_order():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Read along with the notes", 1)[1].split("\n## ", 1)[0]
    linked = [line.split("(tutorials/", 1)[1].split(")", 1)[0] for line in section.splitlines()
              if "](tutorials/" in line]
    assert linked == [p.with_suffix(".ipynb").name for p in SOURCES]
