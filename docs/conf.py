"""Sphinx configuration of npscore's site: ``python docs/build.py`` (``sphinx-build -W -c docs . docs/_build/html``).

The site's source is the repository itself (its pages are the files the repository already has:
``docs/``, the notebooks of ``tutorials/``, the README files of ``examples/`` and ``benchmarks/``),
so that nothing is copied and every relative link works as it does on disk.

The tutorials are the executed notebooks of ``tutorials/`` (shown as they are, never re-executed
here), the results pages are the repository's own README files (included, not copied), the API
reference is generated from the docstrings, and MathJax is served from the build itself
(``sphinx-mathjax-offline``), so that no page fetches anything from the network.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import npscore  # noqa: E402

project = "npscore"
author = "the npscore developers"
release = version = npscore.__version__
copyright = "2026, the npscore developers"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "docs/index"
include_patterns = ["docs/**", "tutorials/*.ipynb", "README.md", "examples/README.md", "benchmarks/README.md"]
exclude_patterns = ["docs/_build", "**/.ipynb_checkpoints", "**/__pycache__"]

# the notebooks are read as they were executed (`python tutorials/build.py`)
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

#: the modules of the API reference, by layer (docs/design/architecture.md); one page each, written
#: to docs/api/ when the build starts (:func:`setup`; the pages are generated, never edited)
API = {
    "Arrays and files": "backend tree checks io fused linalg",
    "Networks": "nn nn.activations nn.layers nn.conv nn.mlp nn.resmlp nn.trace nn.score_model nn.conditional nn.unet",
    "Maths": "densities sde schedules losses ncsn_losses objectives sampling likelihood metrics optim training "
             "toys datafile plotting",
    "The autograd oracle": "reference reference_unet gradcheck",
    "MNIST": "mnist mnist.idx mnist.base mnist.model mnist.classifier mnist.metrics mnist.sample",
    "Commands": "commands commands.config commands.mnist_config commands.runfolder commands.lowdim commands.lowdim_data "
                "commands.lowdim_eval commands.demo commands.mnist_train commands.mnist commands.likelihood_report "
                "commands.cli_args commands.cli",
}


def _write_api_pages():
    """docs/api.rst (the index, by layer) and docs/api/npscore.MODULE.rst (one automodule each)."""
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "api"), exist_ok=True)
    index = ["API reference", "=============", "",
             "One page per module, generated from the docstrings: each states the equation it implements "
             "and the section of the notes it cites. The layers are those of :doc:`design/architecture`.", ""]
    for title, names in API.items():
        index += [title, "-" * len(title), "", ".. toctree::", "   :maxdepth: 1", ""]
        for name in names.split():
            full = f"npscore.{name}"
            index.append(f"   api/{full}")
            page = f"{full}\n{'=' * len(full)}\n\n.. automodule:: {full}\n"
            path = os.path.join(here, "api", f"{full}.rst")
            if not os.path.exists(path) or open(path).read() != page:
                with open(path, "w") as f:
                    f.write(page)
        index.append("")
    text = "\n".join(index)
    path = os.path.join(here, "api.rst")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource",
                           "ignore-module-all": True}
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

html_theme = os.environ.get("NPSCORE_DOCS_THEME", "sphinx_book_theme")
html_title = f"npscore {version}"
html_static_path = []
html_theme_options = {"show_toc_level": 2} if html_theme == "sphinx_book_theme" else {}
html_last_updated_fmt = None
html_show_sourcelink = False


def setup(app):
    """Write the API pages, and load MathJax on every page: the sidebar's titles carry formulas even
    where the page has none."""
    _write_api_pages()
    app.set_html_assets_policy("always")
